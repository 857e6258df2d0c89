"""The bulletin (情况通报) as an Excel workbook set up for A4 printing: :func:`write_xlsx`.

The workbook holds the figures as numbers (so an office can sum and chart them) under Chinese
headers (:data:`grid.reports.COLUMN_LABELS`), and the drafted prose of
:mod:`grid.bulletin_text` on its first sheet.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from grid.bulletin_text import Paragraph, compose
from grid.reports import COLUMN_LABELS, HEADLINE_LABELS, PROBLEM_LABELS, Bulletin, period_words
from grid.sheetsafe import save_workbook

__all__ = ["write_xlsx"]


def _date_words(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _meta_line(b: Bulletin) -> str:
    return f"填报单位：{b.reporting_unit}　　填报日期：{_date_words(b.report_date)}"


def _headline_rows(b: Bulletin) -> list[tuple[str, str, Any]]:
    """``(key, label, value)`` of the headline in print order."""
    return [(k, lab, b.headline[k]) for k, lab in HEADLINE_LABELS.items() if k in b.headline]


def _sections(b: Bulletin) -> list[tuple[str, pd.DataFrame]]:
    """The tables of the 问题清单 sheet / section."""
    out: list[tuple[str, pd.DataFrame]] = [("走访缺口最大的社区（按未走访困难户数）", b.gaps)]
    if len(b.service):
        how = "按步行距离" if b.distance == "walk" else "按直线半径"
        out.append((f"服务站点覆盖（{how}计）", b.service.drop(columns="type")))
    if b.campaign is not None:
        out.append((f"活动“{b.campaign['name']}”遗漏清单", b.omissions[
            [c for c in ("hh_id", "community_name", "zh") if c in b.omissions.columns]]))
        out.append((f"活动“{b.campaign['name']}”重复救助清单", b.duplicates[
            [c for c in ("hh_id", "community_name", "programme", "zh", "aid_ids", "value_yuan", "excess_yuan")
             if c in b.duplicates.columns]]))
    return out


# --------------------------------------------------------------------------- xlsx
def write_xlsx(b: Bulletin, path: str | Path) -> Path:
    """Write the bulletin as an Excel workbook set up for A4 printing.

    Sheets 通报正文 (the prose of :func:`grid.bulletin_text.compose`, one paragraph a row),
    总体情况 (headline and aid by programme), 排名, 按街道, 按社区 and 问题清单 (the gaps'
    counts, largest gaps, station coverage, the campaign's omissions and duplicates). Each sheet
    has the title, a 填报单位/填报日期 row and the period above its table; prints A4 (landscape
    for sheets more than eight columns wide), fitted to one page wide, with those rows and the
    table header repeated on every page and "第 X 页 / 共 N 页" in the footer. Headers are
    Chinese, reasons are words (never codes), counts carry thousands separators, money two
    decimals; text is formula-safe (:func:`grid.sheetsafe.save_workbook`).

    Parameters
    ----------
    b : Bulletin
    path : str or Path
        The ``.xlsx`` file; written to a temporary name and renamed.

    Returns
    -------
    Path
        ``path``.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    head_fill = PatternFill("solid", fgColor="DDEBF7")

    def header(ws: Worksheet, ncols: int) -> None:
        ncols = max(ncols, 2)
        ws.append([b.title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
        ws.cell(1, 1).font = Font(bold=True, size=16)
        ws.cell(1, 1).alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.row_dimensions[1].height = 42
        ws.append([_meta_line(b)])
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncols)
        ws.append([f"统计期间：{period_words(b.since, b.until)}　统计范围：{b.unit_name}（{b.unit_code}）"])
        ws.merge_cells(start_row=3, start_column=1, end_row=3, end_column=ncols)
        ws.print_title_rows = "1:4"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE if ncols > 8 else ws.ORIENTATION_PORTRAIT
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
        ws.page_margins.left = ws.page_margins.right = 0.5
        ws.oddFooter.center.text = "第 &P 页 / 共 &N 页"
        ws.evenFooter.center.text = "第 &P 页 / 共 &N 页"
        ws.freeze_panes = "A5"

    def table(ws: Worksheet, frame: pd.DataFrame, *, caption: str | None = None) -> None:
        if caption is not None:
            ws.append([caption])
            ws.cell(ws.max_row, 1).font = Font(bold=True)
        ws.append([COLUMN_LABELS.get(str(c), str(c)) for c in frame.columns])
        first = ws.max_row
        for cell in ws[first]:
            cell.font = Font(bold=True)
            cell.fill = head_fill
            cell.border = border
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for rec in frame.itertuples(index=False):
            values: list[Any] = []
            for c, v in zip(frame.columns, rec, strict=True):
                if v is None or (isinstance(v, float) and pd.isna(v)):
                    values.append(None)
                elif isinstance(v, (list, tuple)):
                    values.append("、".join(map(str, v)))
                elif hasattr(v, "item") and not isinstance(v, str):
                    values.append(v.item())
                else:
                    values.append(str(v) if str(c).endswith(("_code", "_id")) else v)
            ws.append(values)
            for j, c in enumerate(frame.columns):
                cell = ws.cell(ws.max_row, j + 1)
                cell.border = border
                if c in ("coverage", "resolution_rate", "target_coverage", "service_coverage"):
                    cell.number_format = "0.0%"
                elif str(c).endswith("_yuan"):
                    cell.number_format = "#,##0.00"
                elif str(c).endswith(("_code", "_id")):
                    cell.number_format = "@"
                elif isinstance(values[j], int):
                    cell.number_format = "#,##0"
        ws.append([])

    def widths(ws: Worksheet, ncols: int) -> None:
        for j in range(1, max(ncols, 2) + 1):
            ws.column_dimensions[get_column_letter(j)].width = 14

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "通报正文"
    header(ws, 1)
    ws.column_dimensions["A"].width = 100
    ws.column_dimensions["B"].width = 4
    for block in compose(b).body:
        if isinstance(block, Paragraph):
            ws.append([block.text if block.level else "\u3000\u3000" + block.text])
            cell = ws.cell(ws.max_row, 1)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if block.level:
                cell.font = Font(bold=True, size=12)
            else:
                ws.row_dimensions[ws.max_row].height = 15 * (len(block.text) // 48 + 1)

    ws = wb.create_sheet("总体情况")
    header(ws, 6)
    ws.append(["指标", "数值"])
    for cell in ws[ws.max_row]:
        cell.font, cell.fill, cell.border = Font(bold=True), head_fill, border
    for key, label, value in _headline_rows(b):
        ws.append([label, value])
        cell = ws.cell(ws.max_row, 2)
        if key in ("coverage", "resolution_rate", "target_coverage", "service_coverage"):
            cell.number_format = "0.0%"
        elif key.endswith("_yuan"):
            cell.number_format = "#,##0.00"
        elif isinstance(value, int):
            cell.number_format = "#,##0"
        for c in ws[ws.max_row]:
            c.border = border
    ws.append([])
    table(ws, b.programmes, caption="按项目救助情况")
    widths(ws, 6)
    ws.column_dimensions["A"].width = 24

    ws = wb.create_sheet("排名")
    header(ws, max(len(b.ranking.columns), 2))
    table(ws, b.ranking.drop(columns=["code"]) if len(b.ranking) else b.ranking,
          caption=f"按困难户走访覆盖率排名（{'街道' if b.ranking_level == 'street' else '社区'}）"
          if b.ranking_level else "统计范围内只有一个社区，不作排名")
    widths(ws, len(b.ranking.columns))

    for name, frame in (("按街道", b.by_street), ("按社区", b.by_community)):
        ws = wb.create_sheet(name)
        header(ws, len(frame.columns))
        table(ws, frame)
        widths(ws, len(frame.columns))

    ws = wb.create_sheet("问题清单")
    ncols = max(len(f.columns) for _, f in _sections(b))
    header(ws, ncols)
    counts = pd.DataFrame([(PROBLEM_LABELS[k], b.problems.get(k)) for k in PROBLEM_LABELS],
                          columns=["问题", "数量"])
    table(ws, counts, caption="存在问题（数量）")
    table(ws, b.problems_by_community, caption="各社区存在问题统计")
    for caption, frame in _sections(b):
        table(ws, frame, caption=caption)
    widths(ws, ncols)

    return save_workbook(wb, path)


