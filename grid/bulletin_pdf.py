"""The bulletin as an A4 PDF laid out after GB/T 9704-2012 (党政机关公文格式).

The page: A4, text area 156 × 225 mm (top 37 mm, left 28 mm, right 26 mm, bottom 35 mm); the body
in 16 pt (三号) Noto Serif CJK standing in for 仿宋, 28 characters and about 22 lines a page;
the title in 22 pt (二号) Noto Serif CJK Bold for 小标宋, centred and broken only between
words; level-one headings in Noto Sans CJK Bold for 黑体; page numbers "— n —" in 14 pt, right
on odd pages and left on even ones. Annexes start on a new page headed 附件n, wide ones on
landscape pages. The fonts are embedded as subsets.

Line breaking is the writer's own (fpdf2 breaks Chinese anywhere): a run of digits, Latin
letters and their separators (``557,970``, ``85.3%``, ``2026年``'s digits) is never split, a
closing mark (，。、）”%) never starts a line and an opening one never ends it; full lines are
justified by a little letter-spacing.

Nothing is stranded: a heading is kept with the two lines after it (or with its table's caption,
header and first row, or with its figure), a paragraph never leaves its first line alone at a
page foot, and a table row is never split: a row that does not fit starts the next page, under a
repeated header. :func:`write_pdf` returns what it placed where (:class:`Placed`), which the tests
compare with the rendered pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grid.bulletin_text import Annex, Document, Figure, Paragraph, Table, balanced_lines, break_lines, tokens
from grid.files import replace_atomically
from grid.pdfdoc import cjk_document, embed_face, find_face

__all__ = ["Placed", "write_pdf"]

# GB/T 9704-2012 page (mm)
_TOP, _LEFT, _RIGHT, _BOTTOM = 37.0, 28.0, 26.0, 35.0
_L_TOP, _L_SIDE, _L_BOTTOM = 20.0, 20.0, 24.0  # landscape annexes
_BODY_PT, _BODY_LH = 16.0, 10.0
_TABLE_PT = 10.5
_RED = (200, 16, 16)

@dataclass
class Placed:
    """One thing placed on a page: ``kind`` (``title``, ``heading``, ``line``, ``caption``, ``header``,
    ``row``, ``figure``, ``figure_caption``, ``annex``), the page (1-based), its top and bottom (mm from the page's top),
    and its text (cells joined by ``|`` for rows; ``cells`` holds each cell's text where it printed
    on one line, ``""`` where it wrapped)."""

    kind: str
    page: int
    top: float
    bottom: float
    text: str
    page_height: float = 297.0
    bottom_margin: float = _BOTTOM
    cells: list[str] = field(default_factory=list)


class _Writer:
    def __init__(self, doc: Document, font_path: str | Path | None) -> None:
        self.doc = doc
        serif = find_face("Noto Serif CJK SC") if font_path is None else None
        # The body face is the document's "cjk" font (whose glyphs :meth:`CjkDocument.missing` checks).
        self.cjk = cjk_document(doc.title, serif[0] if serif else font_path, margin=_LEFT, footer=self._footer,
                                first_page=False)
        self.pdf = self.cjk.pdf
        self.placed: list[Placed] = []
        self.faces = {"body": "cjk", "title": "cjk", "head": "cjk"}
        if font_path is None:
            for key, family in (("title", "Noto Serif CJK SC Bold"), ("head", "Noto Sans CJK SC Bold")):
                face = find_face(family, serif[0] if serif else None)
                if face is not None:
                    embed_face(self.pdf, key, face[0], face[1])
                    self.faces[key] = key
            self.pdf.set_fallback_fonts(["cjk"])
        self.landscape = False

    # ------------------------------------------------------------------ pages
    def _footer(self, pdf: Any) -> None:
        n = pdf.page_no()
        pdf.set_font(self.faces["body"], size=14)
        text = f"— {n} —"
        w = pdf.get_string_width(text)
        em = 14 * 0.3528
        if self.landscape:
            pdf.set_xy((pdf.w - w) / 2, pdf.h - _L_BOTTOM + 8)
        else:
            x = pdf.w - _RIGHT - em - w if n % 2 else _LEFT + em
            pdf.set_xy(x, pdf.h - _BOTTOM + 7)
        pdf.cell(w, 6, text)

    def page(self, landscape: bool = False) -> None:
        pdf = self.pdf
        self.landscape = landscape
        if landscape:
            pdf.set_margins(_L_SIDE, _L_TOP, _L_SIDE)
            pdf.set_auto_page_break(False, margin=_L_BOTTOM)
            pdf.add_page(orientation="L")
        else:
            pdf.set_margins(_LEFT, _TOP, _RIGHT)
            pdf.set_auto_page_break(False, margin=_BOTTOM)
            pdf.add_page(orientation="P")
        pdf.set_y(pdf.t_margin)

    @property
    def bottom(self) -> float:
        return self.pdf.h - self.pdf.b_margin

    @property
    def width(self) -> float:
        return self.pdf.w - self.pdf.l_margin - self.pdf.r_margin

    def need(self, h: float) -> None:
        """Start a new page unless ``h`` mm fit on this one."""
        if self.pdf.y + h > self.bottom + 0.01:
            self.page(self.landscape)

    def mark(self, kind: str, top: float, text: str, cells: list[str] | None = None) -> None:
        self.placed.append(Placed(kind, self.pdf.page_no(), top, self.pdf.y, text, self.pdf.h, self.pdf.b_margin,
                                  cells or []))

    # ------------------------------------------------------------------ text
    def measure(self, face: str, size: float) -> Any:
        self.pdf.set_font(self.faces[face], size=size)
        return self.pdf.get_string_width

    def text_line(self, line: str, *, face: str, size: float, lh: float, x: float, w: float, align: str = "L",
                  justify: bool = False) -> None:
        pdf = self.pdf
        pdf.set_font(self.faces[face], size=size)
        natural = pdf.get_string_width(line)
        spacing = 0.0
        if justify and len(line) > 1 and natural < w:
            spacing = min((w - natural) / len(line), size * 0.3528 * 0.06)
        pdf.set_char_spacing(spacing)
        pdf.set_xy(x, pdf.y)
        pdf.cell(w, lh, self.cjk.text(line), align=align)
        pdf.set_char_spacing(0)
        pdf.set_y(pdf.y + lh)

    def paragraph(self, text: str, *, face: str = "body", size: float = _BODY_PT, lh: float = _BODY_LH,
                  indent: int = 2, align: str = "L", kind: str = "line", keep: float = 0.0) -> None:
        lines = break_lines("\u3000" * indent + text, self.width, self.measure(face, size))
        self.need(min(len(lines), 2) * lh + keep)  # never a first line alone at the foot
        for i, line in enumerate(lines):
            self.need(lh)
            top = self.pdf.y
            self.text_line(line, face=face, size=size, lh=lh, x=self.pdf.l_margin, w=self.width, align=align,
                           justify=align == "L" and i < len(lines) - 1)
            self.mark(kind, top, line)

    # ------------------------------------------------------------------ the front page
    def front(self) -> None:
        pdf, doc = self.pdf, self.doc
        self.page()
        pdf.set_text_color(*_RED)
        pdf.set_font(self.faces["title"], size=36)
        top = pdf.y
        pdf.set_char_spacing(4)
        pdf.cell(self.width, 16, self.cjk.text("情况通报"), align="C")
        pdf.set_char_spacing(0)
        pdf.set_y(pdf.y + 20)
        self.mark("title", top, "情况通报")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(self.faces["body"], size=14)
        top = pdf.y
        pdf.set_x(pdf.l_margin)
        pdf.cell(self.width / 2, 8, self.cjk.text(doc.organ), align="L")
        pdf.cell(self.width / 2, 8, self.cjk.text(doc.date), align="R")
        pdf.set_y(pdf.y + 9)
        self.mark("line", top, f"{doc.organ} {doc.date}")
        pdf.set_draw_color(*_RED)
        pdf.set_line_width(0.8)
        pdf.line(pdf.l_margin, pdf.y, pdf.w - pdf.r_margin, pdf.y)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_line_width(0.2)
        pdf.set_y(pdf.y + 8)
        for line in self.title_lines(doc.title_parts or [doc.title], 22):
            top = pdf.y
            self.text_line(line, face="title", size=22, lh=12, x=pdf.l_margin, w=self.width, align="C")
            self.mark("title", top, line)
        pdf.set_y(pdf.y + 2)
        top = pdf.y
        self.text_line(doc.scope_line, face="body", size=12, lh=7, x=pdf.l_margin, w=self.width, align="C")
        self.mark("line", top, doc.scope_line)
        pdf.set_y(pdf.y + 5)

    def title_lines(self, parts: list[str], size: float) -> list[str]:
        return balanced_lines(parts, self.width, self.measure("title", size))

    # ------------------------------------------------------------------ blocks
    def heading(self, text: str, after: float) -> None:
        lh = _BODY_LH
        self.need(lh + after)
        top = self.pdf.y
        self.text_line("\u3000\u3000" + text, face="head", size=_BODY_PT, lh=lh, x=self.pdf.l_margin,
                       w=self.width)
        self.mark("heading", top, text)

    def figure(self, f: Figure) -> None:
        pdf = self.pdf
        w = min(self.width * 0.92, 140.0)
        h = w * f.height_ratio
        if h > 120:
            h, w = 120.0, 120.0 / f.height_ratio
        cap_h = 8.0
        self.need(h + cap_h + 3)
        top = pdf.y
        import io

        pdf.image(io.BytesIO(f.png), x=pdf.l_margin + (self.width - w) / 2, y=pdf.y + 1, w=w, h=h)
        pdf.set_y(pdf.y + h + 2)
        self.mark("figure", top, f.caption)
        top = pdf.y
        self.text_line(f.caption, face="body", size=12, lh=cap_h, x=pdf.l_margin, w=self.width, align="C")
        self.mark("figure_caption", top, f.caption)
        pdf.set_y(pdf.y + 2)

    def _widths(self, t: Table, size: float, pad: float) -> list[float] | None:
        measure_b = self.measure("head", size)
        header_full = [measure_b(lab) for lab in t.labels]
        header_min = [max(max(measure_b(x) for x in tokens(lab)) * 2, measure_b(lab) / 2) for lab in t.labels]
        measure = self.measure("body", size)
        rows = t.text_rows()
        numeric = t.numeric()
        desired, minimum = [], []
        for j in range(len(t.labels)):
            content = max([measure(r[j]) for r in rows] or [0.0])
            if numeric[j] or content <= measure("八个汉字八个汉字"):
                lo = content  # figures and short names never wrap
            else:
                longest = max([measure(tok) for r in rows for tok in tokens(r[j])] or [0.0])
                lo = max(longest, measure("八个汉字八个汉字"))
            # the header may take two lines before a cell's text has to wrap
            two = max(measure_b(x) for x in balanced_lines(tokens(t.labels[j]), header_full[j] / 2 + 0.01, measure_b))
            desired.append(max(content, two) + 2 * pad + 0.5)
            minimum.append(max(lo, header_min[j]) + 2 * pad + 0.5)
        w = self.width
        if sum(desired) <= w:
            extra = (w - sum(desired)) / len(desired)
            return [d + extra for d in desired]
        if sum(minimum) <= w:
            slack = sum(desired) - sum(minimum)
            return [m + (d - m) * (w - sum(minimum)) / slack for d, m in zip(desired, minimum, strict=True)]
        return None

    def table(self, t: Table) -> None:
        pdf = self.pdf
        pad, vpad = 1.2, 0.9
        size = _TABLE_PT
        widths = self._widths(t, size, pad)
        while widths is None and size > 7.5:
            size -= 0.5
            widths = self._widths(t, size, pad)
        if widths is None:  # still too wide: the minimum widths, shrunk to the page
            m = self._widths_min(t, size, pad)
            widths = [x * self.width / sum(m) for x in m]
        lh = size * 0.3528 * 1.45
        numeric = t.numeric()
        # headers broken into even lines (never one character left alone on the last)
        head_lines = [balanced_lines(tokens(lab), w - 2 * pad, self.measure("head", size)) for lab, w in
                      zip(t.labels, widths, strict=True)]
        head_h = max(len(x) for x in head_lines) * lh + 2 * vpad
        rows = t.text_rows()
        measure = self.measure("body", size)
        row_lines = [[break_lines(c, w - 2 * pad, measure) for c, w in zip(r, widths, strict=True)] for r in rows]
        row_h = [max(len(x) for x in cells) * lh + 2 * vpad for cells in row_lines]
        cap_h = 9.0
        self.need(cap_h + head_h + (row_h[0] if row_h else lh))  # caption, header and a first row together
        top = pdf.y
        self.text_line(t.caption, face="head", size=12, lh=cap_h, x=pdf.l_margin, w=self.width, align="C")
        self.mark("caption", top, t.caption)

        def draw(lines_by_cell: list[list[str]], h: float, face: str, fill: bool, kind: str,
                 texts: list[str]) -> None:
            top = pdf.y
            x = pdf.l_margin
            for j, (lines, w) in enumerate(zip(lines_by_cell, widths, strict=True)):
                if fill:
                    pdf.set_fill_color(232, 236, 242)
                pdf.rect(x, top, w, h, style="DF" if fill else "D")
                pdf.set_y(top + vpad + (h - 2 * vpad - len(lines) * lh) / 2)
                align = "C" if face == "head" else ("R" if numeric[j] else "L")
                for line in lines:
                    self.text_line(line, face=face, size=size, lh=lh, x=x + pad, w=w - 2 * pad, align=align)
                x += w
            pdf.set_y(top + h)
            self.mark(kind, top, "|".join(texts), [x[0] if len(x) == 1 else "" for x in lines_by_cell])

        pdf.set_draw_color(60, 60, 60)
        pdf.set_line_width(0.2)
        draw(head_lines, head_h, "head", True, "header", t.labels)
        if not rows:
            self.need(lh + 2 * vpad)
            draw([["（无）"]] + [[""] for _ in widths[1:]], lh + 2 * vpad, "body", False, "row", ["（无）"])
        for r, cells, h in zip(rows, row_lines, row_h, strict=True):
            if pdf.y + h > self.bottom + 0.01:  # never split a row: it starts the next page, under the header
                self.page(self.landscape)
                draw(head_lines, head_h, "head", True, "header", t.labels)
            draw(cells, h, "body", False, "row", r)
        if t.note:
            pdf.set_y(pdf.y + 1.5)
            for line in break_lines("注：" + t.note, self.width, self.measure("body", 10)):
                self.need(5.5)
                top = pdf.y
                self.text_line(line, face="body", size=10, lh=5.5, x=pdf.l_margin, w=self.width)
                self.mark("line", top, line)
        pdf.set_y(pdf.y + 5)

    def _widths_min(self, t: Table, size: float, pad: float) -> list[float]:
        measure = self.measure("body", size)
        return [max([measure(r[j]) for r in t.text_rows()] + [measure("四个汉字")]) + 2 * pad
                for j in range(len(t.labels))]

    def annex(self, i: int, a: Annex) -> None:
        self.page(a.landscape)
        top = self.pdf.y
        self.text_line(f"附件{i}", face="head", size=_BODY_PT, lh=_BODY_LH, x=self.pdf.l_margin, w=self.width)
        self.mark("annex", top, f"附件{i}")
        self.pdf.set_y(self.pdf.y + 3)
        for line in self.title_lines(a.title_parts or [a.title], 18):
            top = self.pdf.y
            self.text_line(line, face="title", size=18, lh=10, x=self.pdf.l_margin, w=self.width, align="C")
            self.mark("title", top, line)
        self.pdf.set_y(self.pdf.y + 4)
        for t in a.tables:
            self.table(t)

    # ------------------------------------------------------------------ the whole
    def write(self) -> None:
        doc = self.doc
        self.front()
        blocks = doc.body
        for k, block in enumerate(blocks):
            nxt = blocks[k + 1] if k + 1 < len(blocks) else None
            if isinstance(block, Paragraph) and block.level:
                after = 2 * _BODY_LH
                if isinstance(nxt, Figure):
                    after = min(self.width * 0.92, 140.0) * nxt.height_ratio + 12
                self.heading(block.text, after)
            elif isinstance(block, Paragraph):
                self.paragraph(block.text)
            elif isinstance(block, Figure):
                self.figure(block)
            elif isinstance(block, Table):
                self.table(block)
        if doc.annexes:  # 附件说明: after the body, before the signature; items hang under the first
            self.pdf.set_y(self.pdf.y + _BODY_LH / 2)
            em = _BODY_PT * 0.3528
            measure = self.measure("body", _BODY_PT)
            for i, a in enumerate(doc.annexes, 1):
                number = f"{i}. "
                hang = 5 * em + measure(number)
                lines = break_lines(a.title, self.width - hang, measure)
                self.need(min(len(lines), 2) * _BODY_LH)
                for k, line in enumerate(lines):
                    self.need(_BODY_LH)
                    top = self.pdf.y
                    lead = "\u3000\u3000附件：" if i == 1 else ""
                    if k == 0:
                        for text, x, w in ((lead, self.pdf.l_margin, 5 * em),
                                           (number, self.pdf.l_margin + 5 * em, measure(number))):
                            self.text_line(text, face="body", size=_BODY_PT, lh=_BODY_LH, x=x, w=w)
                            self.pdf.set_y(top)
                    self.text_line(line, face="body", size=_BODY_PT, lh=_BODY_LH, x=self.pdf.l_margin + hang,
                                   w=self.width - hang)
                    self.mark("annex_list", top, (lead + number if k == 0 else "") + line)
        self.pdf.set_y(self.pdf.y + _BODY_LH)
        self.need(2 * _BODY_LH)
        for text in (doc.organ, doc.date):  # 发文机关署名 and 成文日期, four characters in from the right
            top = self.pdf.y
            em = _BODY_PT * 0.3528
            self.text_line(text, face="body", size=_BODY_PT, lh=_BODY_LH, x=self.pdf.l_margin,
                           w=self.width - 4 * em, align="R")
            self.mark("line", top, text)
        for i, a in enumerate(doc.annexes, 1):
            self.annex(i, a)


def write_pdf(doc: Document, path: str | Path, font_path: str | Path | None = None) -> tuple[list[str], list[Placed]]:
    """Write ``doc`` as a PDF at ``path`` (whole or not at all).

    Returns the characters the fonts lack (printed as blanks) and what was placed where.
    """
    w = _Writer(doc, font_path)
    w.write()
    replace_atomically(path, lambda tmp: w.pdf.output(str(tmp)))
    return w.cjk.missing(), w.placed
