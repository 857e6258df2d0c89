"""Validators of :mod:`grid.validators` over whole columns: the common case in numpy and pyarrow.compute.

An import of a million households checks a million ID numbers, phone numbers, names,
addresses and coordinates; one Python call per value costs tens of seconds. Each function
here settles, for a whole column at once, the values already in their normal form -- an
18-character ID number of ASCII digits (and ``X``/``x``), a mobile number of 11 ASCII
digits, a landline written ``0592-1234567``, a text with nothing to trim and no control
character, a coordinate written as a plain decimal -- and returns a mask of the rows it
settled with their normalised values. Every other value (blank, a number from a spreadsheet, full-width digits, spaces,
an old 15-digit ID, an extension, and every value that is refused) is left to the
per-row validator, so every reason given is the per-row validator's own, word for word.

A value the fast path accepts is exactly one the per-row validator accepts, with the same
normalised value (``tests/test_validators_columns.py`` checks both on every case of the
validator tests and on generated values).

Examples
--------
>>> mask, values = id_number_column(["11010519491231002x", "110105194912310021", " 11010519491231002X", 7])
>>> mask.tolist(), values[0]
([True, False, False, False], '11010519491231002X')
>>> phone_column(["13800138000", "0592-1234567", "138 0013 8000"])[0].tolist()
[True, True, False]
>>> vals, reasons = id_numbers(["11010519491231002x", "110105194912310021"])
>>> vals, reasons[1][1]
(['11010519491231002X', None], 'wrong check digit: expected X, found 1 (a digit may be mistyped)')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from grid import validators

__all__ = ["blank_cell", "blank_column", "id_number_column", "phone_column",
           "text_column", "coordinate_column", "id_numbers", "phones",
           "may_hold_control", "text_column_of", "TextColumn", "COLUMN_CHECKS"]

Reason = tuple[str, str]

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = np.frombuffer(b"10X98765432", dtype=np.uint8)
_PROVINCE = np.zeros(100, dtype=bool)
for _code in validators._ID_PROVINCES:  # the same table as the per-row validator
    _PROVINCE[int(_code)] = True
_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)

# RE2 (pyarrow): \d is ASCII 0-9 only, unlike Python's.
_ID_SHAPE = r"^[0-9]{17}[0-9Xx]$"
_MOBILE_SHAPE = r"^1[3-9][0-9]{9}$"
_LANDLINE_SHAPE = r"^(010|02[0-9]|0[3-9][0-9][0-9])-[1-9][0-9]{6,7}$"
# A letter or digit at both ends (nothing to trim), no control character or bidirectional override inside.
_TEXT_SHAPE = (r"(?s)^[\pL\pN]([^\x00-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]*[\pL\pN])?$")
_DECIMAL_SHAPE = r"^-?[0-9]{1,3}(\.[0-9]{1,15})?$"


# The characters find_control refuses (grid.validators._CONTROL_ONE_LINE / _MULTI_LINE), in RE2.
_CONTROL_ONE_LINE = r"[\x00-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]"
_CONTROL_MULTI_LINE = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]"


class TextColumn(list):  # type: ignore[type-arg]
    """A column's values as a list, with the Arrow strings they were read as.

    A CSV is read into Arrow strings; handing those to the column checks spares converting a
    million Python strings back to Arrow once per check. ``arrow`` holds the same texts, null
    where a value is not a text.
    """

    arrow: pa.Array

    def __init__(self, values: Sequence[object], arrow: pa.Array) -> None:
        super().__init__(values)
        self.arrow = arrow


def text_column_of(series: Any) -> list[Any]:
    """``series.tolist()``, as a :class:`TextColumn` when the series holds Arrow strings.

    >>> import pandas as pd
    >>> col = text_column_of(pd.Series(["张三", None], dtype="str"))
    >>> type(col).__name__, col.arrow.to_pylist()
    ('TextColumn', ['张三', None])
    """
    values = series.tolist()
    dtype = getattr(series, "dtype", None)
    if getattr(dtype, "storage", None) == "pyarrow" and str(getattr(dtype, "name", "")) in ("str", "string"):
        arrow = pa.array(series.array)
        if isinstance(arrow, pa.ChunkedArray):
            arrow = arrow.combine_chunks()
        if arrow.type != pa.string():
            arrow = arrow.cast(pa.string())
        return TextColumn(values, arrow)
    return values


def _strings(values: Sequence[object]) -> pa.Array:
    """The column as a pyarrow string array: texts as they are, anything else null."""
    if isinstance(values, TextColumn):
        return values.arrow
    return pa.array([v if type(v) is str else None for v in values], type=pa.string())


# Python's whitespace (what str.strip() takes off), in RE2: a text is blank when it holds nothing else.
_BLANK_SHAPE = "^[" + "".join(f"\\x{{{c:x}}}" for c in range(0x110000) if chr(c).isspace()) + "]*$"


def blank_cell(v: Any) -> bool:
    """Whether an importer takes a cell as empty: None, NaN, NaT, or a text of whitespace only.

    >>> [blank_cell(v) for v in (None, float("nan"), " \\u3000", "0", 0)]
    [True, True, True, False, False]
    """
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if v is pd.NaT:
        return True
    return isinstance(v, str) and v.strip() == ""


def blank_column(values: Sequence[object]) -> np.ndarray:
    """:func:`blank_cell` of every value, as a boolean mask (one RE2 scan for a :class:`TextColumn`).

    >>> import pandas as pd
    >>> blank_column(text_column_of(pd.Series(["张三", None, " \\u3000 ", ""], dtype="str"))).tolist()
    [False, True, True, True]
    >>> blank_column([None, 0, "x", float("nan")]).tolist()
    [True, False, False, True]
    """
    if isinstance(values, TextColumn):
        hit = pc.match_substring_regex(values.arrow, _BLANK_SHAPE)
        return np.asarray(hit.fill_null(True), dtype=bool)
    return np.fromiter((blank_cell(v) for v in values), dtype=bool, count=len(values))


def may_hold_control(values: Sequence[object], *, multiline: bool = False) -> bool:
    r""":func:`grid.validators.may_hold_control` for a whole column, in one RE2 scan.

    >>> may_hold_control(["张三", "李四", 12]), may_hold_control(["张三", "李\u202e四"])
    (False, True)
    >>> may_hold_control(["第一行\n第二行"]), may_hold_control(["第一行\n第二行"], multiline=True)
    (True, False)
    """
    if len(values) == 0:
        return False
    hit = pc.any(pc.match_substring_regex(_strings(values), _CONTROL_MULTI_LINE if multiline else _CONTROL_ONE_LINE))
    return bool(hit.as_py())


def _matches(arr: pa.Array, pattern: str) -> np.ndarray:
    hit = pc.match_substring_regex(arr, pattern)
    return np.asarray(hit.fill_null(False), dtype=bool)


def _fixed_width(arr: pa.Array, width: int) -> np.ndarray:
    """Bytes of an array of strings that are all ``width`` ASCII bytes long, as an ``(n, width)`` uint8 matrix."""
    if len(arr) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    _, offsets, data = arr.buffers()
    assert offsets is not None and data is not None
    start = int(np.frombuffer(offsets, dtype=np.int32, count=1, offset=arr.offset * 4)[0])
    return np.frombuffer(data, dtype=np.uint8, count=len(arr) * width, offset=start).reshape(len(arr), width)


def _placed(n: int, rows: np.ndarray, values: np.ndarray) -> list[Any]:
    """A list of ``n`` values, None but at ``rows``, which hold ``values`` (Python objects) in order."""
    out = np.full(n, None, dtype=object)
    out[rows] = values
    return list(out.tolist())


def _kept(values: Sequence[object], settled: np.ndarray) -> list[Any]:
    """``values`` where ``settled``, None elsewhere."""
    if not settled.any():
        return [None] * len(values)
    return _placed(len(values), np.flatnonzero(settled), np.fromiter(values, dtype=object, count=len(values))[settled])


def id_number_column(values: Sequence[object], *, today: date | None = None) -> tuple[np.ndarray, list[Any]]:
    """The rows :func:`grid.validators.id_number` would accept as written, settled for the whole column.

    Returns ``(settled, normalised)``: a boolean mask, and the 18-character ID number (upper-case
    ``X``) where ``settled`` (None elsewhere). Settled are texts of exactly 17 ASCII digits and a
    digit or ``X``/``x`` whose province code is known, whose birth date exists, is not before 1900
    and not after ``today`` (default: today), and whose check digit is right. Other rows are for
    the per-row validator (:func:`id_numbers` does both).
    """
    n = len(values)
    arr = _strings(values)
    shaped = _matches(arr, _ID_SHAPE)
    out: list[Any] = [None] * n
    rows = np.flatnonzero(shaped)
    if len(rows) == 0:
        return shaped, out
    cand = pc.utf8_upper(arr.filter(pa.array(shaped)))
    m = _fixed_width(cand, 18).astype(np.int64)
    d = m[:, :17] - 48
    check_ok = _CHECK_CHARS[(d * _WEIGHTS).sum(axis=1) % 11] == m[:, 17]
    province_ok = _PROVINCE[d[:, 0] * 10 + d[:, 1]]
    year = d[:, 6] * 1000 + d[:, 7] * 100 + d[:, 8] * 10 + d[:, 9]
    month = d[:, 10] * 10 + d[:, 11]
    day = d[:, 12] * 10 + d[:, 13]
    month_ok = (month >= 1) & (month <= 12)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = _DAYS[np.where(month_ok, month, 0)] + ((month == 2) & leap)
    t = today or date.today()
    stamp = year * 10_000 + month * 100 + day
    date_ok = month_ok & (day >= 1) & (day <= days) & (year >= 1900) & (stamp <= t.year * 10_000 + t.month * 100 + t.day)
    ok = check_ok & province_ok & date_ok
    settled = np.zeros(n, dtype=bool)
    settled[rows[ok]] = True
    return settled, _placed(n, rows[ok], cand.filter(pa.array(ok)).to_numpy(zero_copy_only=False))


def phone_column(values: Sequence[object]) -> tuple[np.ndarray, list[Any]]:
    """The rows :func:`grid.validators.phone` would accept unchanged, settled for the whole column.

    Settled are texts already in the normal form: a mobile number of 11 ASCII digits
    (``1[3-9]...``), or a landline ``AREA-LOCAL`` (area 010, 02x or a 4-digit 0[3-9]xx;
    local 7-8 digits not starting with 0). Their normalised value is the text itself.
    """
    arr = _strings(values)
    settled = _matches(arr, _MOBILE_SHAPE) | _matches(arr, _LANDLINE_SHAPE)
    return settled, _kept(values, settled)


def text_column(values: Sequence[object], max_len: int = 500) -> tuple[np.ndarray, list[Any]]:
    """The rows of a text field (:func:`grid.validators.nonempty_text` behind the control-character
    check) that would come back unchanged, settled for the whole column.

    Settled are texts at most ``max_len`` characters long that begin and end with a letter or a
    digit (so there is nothing to trim, and no apostrophe put before a formula) and hold no
    control character or bidirectional override (:func:`grid.validators.find_control`).
    """
    arr = _strings(values)
    settled = _matches(arr, _TEXT_SHAPE) & np.asarray(pc.fill_null(pc.less_equal(pc.utf8_length(arr), max_len),
                                                                   False), dtype=bool)
    return settled, _kept(values, settled)


def coordinate_column(values: Sequence[object]) -> tuple[np.ndarray, list[Any]]:
    """The rows of a longitude or latitude written as a plain decimal (``118.0812345``, ``-24.5``),
    settled for the whole column as the float the per-row parser reads from them."""
    arr = _strings(values)
    settled = _matches(arr, _DECIMAL_SHAPE)
    numbers = pc.cast(arr.filter(pa.array(settled)), pa.float64()).to_numpy(zero_copy_only=False)
    return settled, _placed(len(values), np.flatnonzero(settled), numbers.astype(object))


def _with_rows(settle: Callable[[Sequence[object]], tuple[np.ndarray, list[Any]]],
               one: Callable[[object], validators.Check[Any]], values: Sequence[object]
               ) -> tuple[list[Any], dict[int, Reason]]:
    settled, out = settle(values)
    reasons: dict[int, Reason] = {}
    for i in np.flatnonzero(~settled).tolist():
        c = one(values[i])
        if c.reason is not None:
            reasons[i] = c.reason
        else:
            out[i] = c.value
    return out, reasons


def id_numbers(values: Sequence[object], *, today: date | None = None) -> tuple[list[Any], dict[int, Reason]]:
    """:func:`grid.validators.id_number` of every value: ``(values, {row: reason})``, refused rows None."""
    return _with_rows(lambda v: id_number_column(v, today=today),
                      lambda v: validators.id_number(v, today=today), values)


def phones(values: Sequence[object]) -> tuple[list[Any], dict[int, Reason]]:
    """:func:`grid.validators.phone` of every value: ``(values, {row: reason})``, refused rows None."""
    return _with_rows(phone_column, validators.phone, values)


#: The importers' field parsers (``Field.parse``) that have a column version, settling the common rows.
COLUMN_CHECKS: dict[str, Callable[[Sequence[object]], tuple[np.ndarray, list[Any]]]] = {
    "id_number": id_number_column,
    "phone": phone_column,
    "text": text_column,
    "lon": coordinate_column,
    "lat": coordinate_column,
}
