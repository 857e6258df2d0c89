"""The public notice list (公示名单) of a community and programme: the sheet pinned on the
community's notice board while applications for assistance are on notice.

It lists the applications of the community and programme that are on notice (or, with
``as_of``, whose notice runs on that day): 序号, the application's number (what an objection
names), the head of household's name **masked** (张*; :func:`grid.masking.mask_name`: a public
sheet shows no more, whoever prints it), the community, the household's hardship categories,
the programme, the amount and the dates of the notice; above the table what was done (applied,
checked by the community, reviewed by the street) and the notice's dates, below it the total
and where to object (the contact line set at the notice step, or one given here), the issuing
street and community and the date.

:func:`notice_list` gathers it; :func:`notice_xlsx` and :func:`notice_pdf` write an A4 workbook
(formula-safe, :mod:`grid.sheetsafe`) and an A4 PDF with an embedded CJK font
(:func:`grid.pdfdoc.cjk_document`); :func:`notice_file` and :func:`notice_bytes` are what
users reach: the access policy (``download`` of ``notice_list``, over the community's cells)
and one ``export`` audit row.

Examples
--------
>>> from datetime import date
>>> _period(date(2026, 11, 10), date(2026, 11, 16))
'2026年11月10日至2026年11月16日（7天）'
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from grid import audit, model
from grid.access import Actor, Scope, cells_in_scope, ensure
from grid.errors import AccessDenied, WarmGridError
from grid.files import replace_atomically
from grid.masking import mask_name
from grid.pdfdoc import cjk_document
from grid.sheetsafe import save_workbook
from grid.store import Store
from grid.validators import china_today

__all__ = ["NoticeList", "COLUMNS", "notice_list", "notice_xlsx", "notice_pdf", "notice_file", "notice_bytes"]

#: The table's columns: key -> header.
COLUMNS: dict[str, str] = {
    "no": "序号",
    "app_id": "申请编号",
    "name": "户主姓名",
    "community": "所在社区",
    "categories": "困难类别",
    "programme": "救助项目",
    "amount_yuan": "救助金额（元）",
    "period": "公示期",
}


@dataclass
class NoticeList:
    """Everything printed on a notice list; the names in :attr:`rows` are masked already.

    Attributes
    ----------
    title : str
        ``<community>“<programme>”救助对象公示``.
    intro : str
        What was done and the notice's dates.
    rows : DataFrame
        The columns of :data:`COLUMNS`, one row per application.
    total_yuan : float
    contact : str
        Where to object.
    issuer : str
        The street and the community's residents' committee.
    issued_on : date
    starts_on, ends_on : date
        The first and last day of the notice (of all its rows).
    """

    community_code: str
    community_name: str
    street_name: str
    programme: str
    programme_name: str
    title: str
    intro: str
    rows: pd.DataFrame
    total_yuan: float
    contact: str
    issuer: str
    issued_on: date
    starts_on: date
    ends_on: date


def _day(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _period(start: date, end: date) -> str:
    return f"{_day(start)}至{_day(end)}（{(end - start).days + 1}天）"


_SQL = """
SELECT a.app_id, h.head_name, h.categories, a.amount_yuan::DOUBLE AS amount_yuan, a.notice_starts_on,
       a.notice_ends_on, a.notice_contact
FROM applications a JOIN households h USING (hh_id)
WHERE a.unit_code = ? AND a.programme = ? AND a.status = 'on_notice'
  AND (?::DATE IS NULL OR (a.notice_starts_on <= ?::DATE AND a.notice_ends_on >= ?::DATE))
ORDER BY a.notice_starts_on, a.app_id
"""


def notice_list(store: Store, scope: Scope, community_code: str, programme: str, *, as_of: date | None = None,
                contact: str | None = None, issued_on: date | None = None) -> NoticeList:
    """The notice list of a community and programme (see the module's description).

    Parameters
    ----------
    store : Store
    scope : Scope
        The caller's: every cell of the community must lie in it.
    community_code : str
        A 12-digit community code.
    programme : str
        A programme's code.
    as_of : date, optional
        Only applications whose notice runs on this day (default: every one on notice).
    contact : str, optional
        Where to object; by default the line set when the applications were posted.
    issued_on : date, optional
        The sheet's date (default today, China time).

    Raises
    ------
    WarmGridError
        An unknown community or programme, or no application on notice.
    AccessDenied
        A community outside ``scope``.
    """
    unit = store.query("SELECT u.name, u.level, s.name AS street FROM admin_units u"
                       " LEFT JOIN admin_units s ON s.code = u.parent_code WHERE u.code = ?", [community_code])
    if unit.empty or unit["level"].iloc[0] != "community":
        raise WarmGridError(f"{community_code} 不是已知的社区代码", f"{community_code} is not a known community code")
    name = str(unit["name"].iloc[0])
    street = "" if pd.isna(unit["street"].iloc[0]) else str(unit["street"].iloc[0])
    cells = cells_in_scope(store, [community_code])
    if not cells or not scope.covers(Scope.of_cells(cells)):
        raise AccessDenied("download", "notice_list", f"社区 {name}（{community_code}）不在您的范围内。",
                           f"the community {name} ({community_code}) is outside your scope.")
    prog = store.query("SELECT name FROM programmes WHERE code = ?", [programme])
    if prog.empty:
        raise WarmGridError(f"没有这个救助项目：{programme}", f"no such programme: {programme}")
    pname = str(prog["name"].iloc[0])
    got = store.query(_SQL, [community_code, programme, as_of, as_of, as_of])
    if got.empty:
        raise WarmGridError(f"{name}目前没有公示中的“{pname}”申请，无需张贴公示名单。",
                            f"{community_code} has no application for {programme} on notice: there is nothing to post.")
    starts = [pd.Timestamp(d).date() for d in got["notice_starts_on"]]
    ends = [pd.Timestamp(d).date() for d in got["notice_ends_on"]]
    rows = pd.DataFrame({
        "no": range(1, len(got) + 1),
        "app_id": got["app_id"].astype(str),
        "name": [mask_name(None if pd.isna(n) else str(n)) or "—" for n in got["head_name"]],
        "community": name,
        "categories": ["、".join(model.label(str(c)) for c in (v if v is not None else [])) or "—"
                       for v in got["categories"]],
        "programme": pname,
        "amount_yuan": got["amount_yuan"].astype(float).round(2),
        "period": [_period(s, e) for s, e in zip(starts, ends, strict=True)],
    })
    lines = [str(c) for c in dict.fromkeys(got["notice_contact"].dropna())]
    line = contact.strip() if contact and contact.strip() else ("；".join(lines) if lines else
                                                              f"如有异议，请于公示期内向{name}居委会反映。")
    first, last = min(starts), max(ends)
    intro = (f"根据“{pname}”救助工作程序，经本人（或网格员代为）申请、{name}初审、{street or '街道'}审核，"
             f"拟对下列 {len(rows)} 户给予救助，现予公示。公示期：{_period(first, last)}。")
    return NoticeList(community_code=community_code, community_name=name, street_name=street, programme=programme,
                      programme_name=pname, title=f"{name}“{pname}”救助对象公示", intro=intro, rows=rows,
                      total_yuan=round(float(rows["amount_yuan"].sum()), 2), contact=line,
                      issuer="　".join(x for x in (street, f"{name}居民委员会") if x), issued_on=issued_on or
                      china_today(), starts_on=first, ends_on=last)


def _texts(n: NoticeList) -> list[list[str]]:
    """The table as printed text: header, rows, total."""
    out = [[COLUMNS[c] for c in COLUMNS]]
    for rec in n.rows.itertuples(index=False):
        out.append([str(rec.no), str(rec.app_id), str(rec.name), str(rec.community), str(rec.categories),
                    str(rec.programme), f"{float(rec.amount_yuan):,.2f}", str(rec.period)])
    out.append(["合计", f"{len(n.rows)} 户", "", "", "", "", f"{n.total_yuan:,.2f}", ""])
    return out


def notice_xlsx(n: NoticeList, path: str | Path) -> Path:
    """Write the notice list as an A4 Excel sheet (title, text, table, total, where to object,
    issuer and date; fitted to one page wide; formula-safe)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "公示名单"
    ncols = len(COLUMNS)

    def line(text: str, *, size: int = 11, bold: bool = False, height: float | None = None,
             align: str = "left") -> None:
        ws.append([text])
        r = ws.max_row
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncols)
        ws.cell(r, 1).font = Font(bold=bold, size=size)
        ws.cell(r, 1).alignment = Alignment(horizontal=align, vertical="center", wrap_text=True)
        if height is not None:
            ws.row_dimensions[r].height = height

    line(n.title, size=18, bold=True, height=40, align="center")
    line(n.intro, height=48)
    texts = _texts(n)
    ws.append(texts[0])
    head = ws.max_row
    for cell in ws[head]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.border = border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for rec in n.rows.itertuples(index=False):
        ws.append([int(rec.no), str(rec.app_id), str(rec.name), str(rec.community), str(rec.categories),
                   str(rec.programme), float(rec.amount_yuan), str(rec.period)])
        for j, cell in enumerate(ws[ws.max_row], start=1):
            cell.border = border
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            if j == 7:
                cell.number_format = "#,##0.00"
            elif j == 2:
                cell.number_format = "@"
    ws.append(["合计", f"{len(n.rows)} 户", None, None, None, None, n.total_yuan, None])
    for j, cell in enumerate(ws[ws.max_row], start=1):
        cell.border = border
        cell.font = Font(bold=True)
        if j == 7:
            cell.number_format = "#,##0.00"
    ws.append([])
    line(f"监督方式：{n.contact}", height=36)
    line(f"{n.issuer}　{_day(n.issued_on)}", align="right")
    for j, width in enumerate((6, 18, 10, 12, 18, 12, 12, 30), start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.print_title_rows = f"{head}:{head}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_PORTRAIT
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页 / 共 &N 页"
    return save_workbook(wb, path)


def notice_pdf(n: NoticeList, path: str | Path, font_path: str | Path | None = None) -> list[str]:
    """Write the notice list as an A4 PDF with an embedded (subset) CJK font; return the
    characters the font lacks (printed as blanks)."""
    from fpdf import FontFace
    from fpdf.enums import WrapMode

    doc = cjk_document(n.title, font_path, margin=15)
    pdf, text = doc.pdf, doc.text
    pdf.set_font("cjk", size=20)
    pdf.multi_cell(0, 12, text(n.title), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("cjk", size=11)
    pdf.multi_cell(0, 7, text(n.intro), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("cjk", size=9)
    widths = (9, 28, 16, 20, 26, 20, 23, 38)
    with pdf.table(headings_style=FontFace(emphasis="", fill_color=(221, 235, 247)), wrapmode=WrapMode.CHAR,
                   text_align="CENTER", line_height=5.5, col_widths=widths) as t:
        for values in _texts(n):
            row = t.row()
            for v in values:
                row.cell(text(v))
    pdf.ln(4)
    pdf.set_font("cjk", size=11)
    pdf.multi_cell(0, 7, text(f"监督方式：{n.contact}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.multi_cell(0, 7, text(n.issuer), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 7, text(_day(n.issued_on)), align="R", new_x="LMARGIN", new_y="NEXT")
    replace_atomically(path, lambda tmp: pdf.output(str(tmp)))
    return doc.missing()


def notice_file(store: Store, actor: Actor, community_code: str, programme: str, path: str | Path, *,
                contact: str | None = None, as_of: date | None = None) -> list[str]:
    """Write the notice list to ``path`` (``.pdf`` or ``.xlsx``) for ``actor``, with its audit row.

    The actor must be allowed to download the ``notice_list``, over every cell of the community.
    Returns the characters the PDF's font lacks (none for a workbook).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in (".xlsx", ".pdf"):
        raise WarmGridError(f"公示名单只能导出为 .pdf 或 .xlsx：{path}", f"the notice list is written as .pdf or .xlsx: {path}")
    ensure(actor, "download", "notice_list", log=store)
    n = notice_list(store, actor.scope, community_code, programme, as_of=as_of, contact=contact)
    missing: list[str] = []
    if suffix == ".pdf":
        missing = notice_pdf(n, path)
    else:
        notice_xlsx(n, path)
    audit.record(store, actor, "export", object=f"notice_list:{community_code}:{programme}{suffix}",
                 row_count=len(n.rows), scope=[community_code])
    return missing


def notice_bytes(store: Store, actor: Actor, community_code: str, programme: str, suffix: str = ".pdf", *,
                 contact: str | None = None, as_of: date | None = None) -> bytes:
    """:func:`notice_file` into memory, for a download button (pass it as a callable)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"notice{suffix}"
        notice_file(store, actor, community_code, programme, out, contact=contact, as_of=as_of)
        return out.read_bytes()

