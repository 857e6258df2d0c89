"""The bulletin as a Word document (.docx, python-docx): the draft an office edits before issuing it.

The same :class:`~grid.bulletin_text.Document` as the PDF, in the layout of GB/T 9704-2012: A4 with
the standard's margins (top 37 mm, bottom 35 mm, left 28 mm, right 26 mm); the body in 三号 (16 pt)
at a fixed 28.95 pt line pitch (22 lines a page), first lines indented two characters; the title in
二号 (22 pt), broken only between words; headings of level one in the style 标题 1 (Word's
``Heading 1``, so the navigation pane lists them). Fonts: Noto Serif CJK SC stands in for 仿宋 and
小标宋, Noto Sans CJK SC for 黑体 — an office that has 仿宋_GB2312 and 方正小标宋简体 changes the
styles ``Normal``, ``Title`` and ``Heading 1`` once. Page numbers "— n —" in 四号: right on odd pages,
left on even ones. Headings, captions, figures and table headers are kept with what follows
(keep-with-next); a table row never breaks across pages (cantSplit) and the header row repeats on
every page. Annexes start on a new section, wide ones landscape.

Every text reaching the file is stripped of characters XML cannot hold (control characters from a
hostile file would otherwise make Word refuse the document); python-docx escapes the rest.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from grid.bulletin_text import Annex, Document, Figure, Paragraph, Table, balanced_lines
from grid.files import replace_atomically

__all__ = ["write_docx", "clean"]

SERIF = "Noto Serif CJK SC"
SANS = "Noto Sans CJK SC"
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text: object) -> str:
    """``text`` without the characters an XML document cannot hold.

    >>> clean("张\\x00三\\x1b")
    '张三'
    """
    return _XML_BAD.sub("", str(text))


def _fonts(run_or_style: Any, name: str, size: float | None = None, bold: bool | None = None,
           color: tuple[int, int, int] | None = None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    font = run_or_style.font
    font.name = name
    rpr = run_or_style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    if color is not None:
        font.color.rgb = RGBColor(*color)


def _page(section: Any, landscape: bool) -> None:
    from docx.enum.section import WD_ORIENT
    from docx.shared import Mm

    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Mm(297), Mm(210)
        section.top_margin, section.bottom_margin = Mm(20), Mm(24)
        section.left_margin = section.right_margin = Mm(20)
    else:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(22) if not landscape else Mm(10)


def _page_number(paragraph: Any) -> None:
    """``— PAGE —`` as a field Word updates."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def run(text: str) -> None:
        r = paragraph.add_run(text)
        _fonts(r, SERIF, 14)

    run("— ")
    r = paragraph.add_run()
    _fonts(r, SERIF, 14)
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        if kind is not None:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        elif text == " PAGE ":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        else:
            el = OxmlElement("w:t")
            el.text = text
        r._r.append(el)
    run(" —")


def _bottom_rule(paragraph: Any, color: str = "C81010", size: int = 18) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    ppr = paragraph._p.get_or_add_pPr()
    bdr = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", str(size)), ("w:space", "4"), ("w:color", color)):
        bottom.set(qn(k), v)
    bdr.append(bottom)
    ppr.append(bdr)


def _row_props(row: Any, *, header: bool) -> None:
    from docx.oxml import OxmlElement

    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:cantSplit"))
    if header:
        trpr.append(OxmlElement("w:tblHeader"))


class _Writer:
    def __init__(self, doc: Document) -> None:
        import docx
        from docx.enum.text import WD_LINE_SPACING
        from docx.shared import Pt

        self.doc = doc
        self.d = docx.Document()
        self.d.core_properties.title = clean(doc.title)
        self.d.core_properties.author = clean(doc.organ)
        self.d.settings.odd_and_even_pages_header_footer = True
        styles = self.d.styles
        normal = styles["Normal"]
        _fonts(normal, SERIF, 16)
        pf = normal.paragraph_format
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(28.95)
        pf.space_before = pf.space_after = Pt(0)
        pf.widow_control = True
        h1 = styles["Heading 1"]
        _fonts(h1, SANS, 16, bold=False, color=(0, 0, 0))
        h1.paragraph_format.first_line_indent = Pt(32)
        h1.paragraph_format.space_before = h1.paragraph_format.space_after = Pt(0)
        h1.paragraph_format.keep_with_next = True
        h1.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        h1.paragraph_format.line_spacing = Pt(28.95)
        title = styles["Title"]
        _fonts(title, SERIF, 22, bold=True, color=(0, 0, 0))
        title.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        title.paragraph_format.line_spacing = Pt(36)
        title.paragraph_format.space_after = Pt(12)
        title.paragraph_format.keep_with_next = True
        section = self.d.sections[0]
        _page(section, False)
        self._footers(section)

    def _footers(self, section: Any) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Pt

        for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
                              (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
            footer.is_linked_to_previous = False
            p = footer.paragraphs[0]
            p.alignment = align
            p.paragraph_format.first_line_indent = Pt(0)
            if align == WD_ALIGN_PARAGRAPH.RIGHT:
                p.paragraph_format.right_indent = Pt(14)
            else:
                p.paragraph_format.left_indent = Pt(14)
            _page_number(p)

    # ------------------------------------------------------------------ blocks
    def para(self, text: str, *, indent: bool = True, align: Any = None, size: float | None = None,
             font: str | None = None, keep: bool = False, style: str | None = None) -> Any:
        from docx.shared import Pt

        p = self.d.add_paragraph(style=style)
        if indent:
            p.paragraph_format.first_line_indent = Pt(32)
        if align is not None:
            p.alignment = align
        if keep:
            p.paragraph_format.keep_with_next = True
        r = p.add_run(clean(text))
        if size is not None or font is not None:
            _fonts(r, font or SERIF, size)
        return p

    def front(self) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
        from docx.shared import Mm, Pt

        doc = self.doc
        p = self.d.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.line_spacing = Pt(60)
        r = p.add_run("情况通报")
        _fonts(r, SERIF, 36, bold=True, color=(200, 16, 16))
        p = self.d.add_paragraph()
        p.paragraph_format.tab_stops.add_tab_stop(Mm(156), WD_TAB_ALIGNMENT.RIGHT)
        r = p.add_run(f"{clean(doc.organ)}\t{clean(doc.date)}")
        _fonts(r, SERIF, 14)
        _bottom_rule(p)
        self.d.add_paragraph()
        lines = balanced_lines([clean(x) for x in (doc.title_parts or [doc.title])], 156.0, _title_measure)
        t = self.d.add_paragraph(style="Title")
        t.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for i, line in enumerate(lines):
            run = t.add_run(line)
            _fonts(run, SERIF, 22, bold=True, color=(0, 0, 0))
            if i < len(lines) - 1:
                run.add_break()
        self.para(doc.scope_line, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER, size=12)

    def heading(self, text: str) -> None:
        p = self.d.add_paragraph(style="Heading 1")
        r = p.add_run(clean(text))
        _fonts(r, SANS, 16, bold=False, color=(0, 0, 0))

    def figure(self, f: Figure) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
        from docx.shared import Mm

        w = 140.0
        if w * f.height_ratio > 120:
            w = 120.0 / f.height_ratio
        p = self.d.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        p.paragraph_format.keep_with_next = True
        p.add_run().add_picture(io.BytesIO(f.png), width=Mm(w))
        self.para(f.caption, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER, size=12)

    def table(self, t: Table, width_mm: float) -> None:
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
        from docx.shared import Mm, Pt

        cap = self.para(t.caption, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER, size=12, font=SANS, keep=True)
        cap.paragraph_format.space_before = Pt(6)
        rows = t.text_rows() or [["（无）"] + [""] * (len(t.labels) - 1)]
        table = self.d.add_table(rows=1 + len(rows), cols=len(t.labels))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        numeric = t.numeric()
        # columns share the width by the length of their longest text (figures never wrap)
        need = [max([_title_measure(c) for c in [lab[:6]] + [r[j] for r in rows]]) + 3
                for j, lab in enumerate(t.labels)]
        widths = [width_mm * n / sum(need) for n in need]

        def fill(cell: Any, text: str, *, head: bool, right: bool, keep: bool) -> None:
            p = cell.paragraphs[0]
            p.paragraph_format.first_line_indent = Pt(0)
            p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
            p.paragraph_format.keep_with_next = keep
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER if head else (
                WD_ALIGN_PARAGRAPH.RIGHT if right else WD_ALIGN_PARAGRAPH.LEFT)
            r = p.add_run(clean(text))
            _fonts(r, SANS if head else SERIF, 10.5, bold=False)

        for j, lab in enumerate(t.labels):
            fill(table.rows[0].cells[j], lab, head=True, right=False, keep=True)
        _row_props(table.rows[0], header=True)
        for i, r in enumerate(rows, start=1):
            row = table.rows[i]
            _row_props(row, header=False)
            for j, text in enumerate(r):
                fill(row.cells[j], text, head=False, right=numeric[j], keep=i == 1)
        for j, w in enumerate(widths):
            for row in table.rows:
                row.cells[j].width = Mm(w)
        if t.note:
            p = self.para("注：" + t.note, indent=False, size=10.5)
            p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE

    def annex(self, i: int, a: Annex) -> None:
        from docx.enum.section import WD_SECTION
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        section = self.d.add_section(WD_SECTION.NEW_PAGE)
        _page(section, a.landscape)
        p = self.d.add_paragraph(style="Heading 1")
        p.paragraph_format.first_line_indent = 0
        _fonts(p.add_run(f"附件{i}"), SANS, 16, bold=False, color=(0, 0, 0))
        t = self.d.add_paragraph(style="Title")
        t.alignment = WD_ALIGN_PARAGRAPH.CENTER
        width = 257.0 if a.landscape else 156.0
        lines = balanced_lines([clean(x) for x in (a.title_parts or [a.title])], width,
                               lambda x: _title_measure(x, 18))
        for k, line in enumerate(lines):
            run = t.add_run(line)
            _fonts(run, SERIF, 18, bold=True, color=(0, 0, 0))
            if k < len(lines) - 1:
                run.add_break()
        for table in a.tables:
            self.table(table, width)

    def write(self) -> Any:
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Pt

        doc = self.doc
        self.front()
        for block in doc.body:
            if isinstance(block, Paragraph) and block.level:
                self.heading(block.text)
            elif isinstance(block, Paragraph):
                self.para(block.text)
            elif isinstance(block, Figure):
                self.figure(block)
            elif isinstance(block, Table):
                self.table(block, 156.0)
        if doc.annexes:
            self.d.add_paragraph()
            for i, a in enumerate(doc.annexes, 1):
                p = self.para(f"{'附件：' if i == 1 else ''}{i}. {a.title}", indent=True)
                if i > 1:
                    p.paragraph_format.first_line_indent = Pt(32 + 48)
        self.d.add_paragraph()
        for text in (doc.organ, doc.date):
            p = self.para(text, indent=False, align=WD_ALIGN_PARAGRAPH.RIGHT)
            p.paragraph_format.right_indent = Pt(64)
        for i, a in enumerate(doc.annexes, 1):
            self.annex(i, a)
        return self.d


def _title_measure(s: str, size: float = 22) -> float:
    """Width in mm of ``s`` at ``size`` pt, counting CJK characters as one em and others as half."""
    em = size * 0.3528
    return sum(em if ord(c) > 0x2E7F else em * 0.55 for c in s)


def write_docx(doc: Document, path: str | Path) -> Path:
    """Write ``doc`` as a .docx at ``path`` (whole or not at all); returns the path."""
    d = _Writer(doc).write()
    return replace_atomically(path, lambda tmp: d.save(str(tmp)))
