"""Field validators used by the importers: pure functions, no I/O.

Each validator takes one raw cell — text as typed, or whatever a spreadsheet
reader produced (int, float, :class:`~datetime.datetime`, pandas
``Timestamp``, ``None``/NaN) — and returns a :class:`Check`:

- accepted: ``check.value`` is the normalised value and ``check.reason`` is None;
- refused: ``check.value`` is None and ``check.reason`` is a ``(zh, en)`` pair.

A :class:`Check` never carries both. Importers collect the refusals with
:meth:`Check.problem` and raise one :class:`~grid.errors.ValidationError`.

Blank cells (None, NaN, NaT, empty or whitespace-only text) are refused as
empty by every validator except :func:`categories` (no category is valid);
for an optional field, test :func:`is_blank` first.

**Numbers from spreadsheets.** Excel keeps 15 significant digits, so an
18-digit ID number typed into a numeric cell loses its last digits
(``1.10105194912310E+17``, ``110105194912310000``) and a landline loses the
leading 0 of its area code. :func:`id_number` and :func:`phone` therefore
refuse floats and float-looking text (scientific notation, a trailing
``.0``) with a reason telling the user to format the column as text; the one
exception is an old 15-digit ID number, which a float holds exactly. Integers
are accepted only when nothing was lost (e.g. a pandas ``int64`` column of
mobile numbers).

Examples
--------
>>> id_number("11010519491231002x").value
'11010519491231002X'
>>> id_number("1.10105194912310e+17").reason[1]
'the spreadsheet stored the ID number as a number and its last digits were lost; format the column as text and export again'
>>> phone("(0592)1234567").value
'0592-1234567'
>>> categories("城市低保、残疾人").value
['dibao_urban', 'disabled']
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from grid.errors import Problem
from grid.model import HARDSHIP

__all__ = [
    "Check",
    "EARLIEST_RECORD",
    "EXCEL_SERIAL_RANGE",
    "is_blank",
    "id_number",
    "phone",
    "categories",
    "AMBIGUOUS_CATEGORIES",
    "ambiguous_terms",
    "category_answer",
    "date_value",
    "datetime_value",
    "amount",
    "positive_int",
    "nonempty_text",
    "find_control",
    "may_hold_control",
    "check_characters",
    "visible",
    "china_today",
    "china_now",
    "record_time",
]

T = TypeVar("T")

#: Earliest date of a visit, need or aid record (the schema refuses older ones).
EARLIEST_RECORD = date(2000, 1, 1)

#: Numbers (or numeric text) in this range are read as Excel date serials:
#: 20000 is 1954-10-03 and 80000 is 2119-01-11. Serials count days from
#: 1899-12-30 (Excel's 1900 date system; correct from 1900-03-01 on).
EXCEL_SERIAL_RANGE: tuple[int, int] = (20_000, 80_000)

_EXCEL_EPOCH = datetime(1899, 12, 30)
_CHINA_TZ = timezone(timedelta(hours=8))

Reason = tuple[str, str]


@dataclass(frozen=True)
class Check(Generic[T]):
    """What a validator made of one value: the normalised value, or why not.

    Attributes
    ----------
    value : T or None
        The normalised value when accepted, else None.
    reason : (str, str) or None
        Why the value was refused, in Chinese and English; None when accepted.

    Examples
    --------
    >>> c = positive_int("3")
    >>> c.ok, c.value
    (True, 3)
    >>> positive_int("0").problem("households.csv", 2, "size", "0").zh
    '应不小于 1，这里是 0'
    """

    value: T | None = None
    reason: Reason | None = None

    @property
    def ok(self) -> bool:
        """True if the value was accepted."""
        return self.reason is None

    def problem(self, where: str, row: int | None, field: str, raw: object) -> Problem:
        """Return the :class:`~grid.errors.Problem` describing a refusal.

        ``raw`` is the value as read, shown to the user.
        """
        zh, en = self.reason if self.reason is not None else ("", "")
        return Problem(where, row, field, "" if is_blank(raw) else str(raw), zh, en)


def _ok(value: T) -> Check[T]:
    return Check(value, None)


def _no(zh: str, en: str) -> Check[Any]:
    return Check(None, (zh, en))


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
# A number as a spreadsheet writes a float: 1.38e+10, 110105194912310000.0
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:\.\d*)?e[+-]?\d+", re.IGNORECASE)
_TRAILING_DOT_ZERO = re.compile(r"(\d+)\.0+")


def is_blank(value: object) -> bool:
    """Return whether a cell is empty: None, NaN, NaT, pandas NA, or blank text.

    >>> [is_blank(v) for v in (None, float("nan"), " \\u3000", "0", 0)]
    [True, True, True, False, False]
    """
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip().strip(_ZERO_WIDTH).strip()
    if isinstance(value, list | tuple | set | frozenset | dict | np.ndarray):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _clean(text: str) -> str:
    """NFKC (full-width digits and punctuation to ASCII), trimmed, zero-width characters removed."""
    s = unicodedata.normalize("NFKC", text)
    for ch in _ZERO_WIDTH:
        s = s.replace(ch, "")
    return s.strip()


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_float(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral | bool | np.bool_)


# ---------------------------------------------------------------------------
# ID numbers (GB 11643-1999)
# ---------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
# First two digits: provinces (GB/T 2260), Taiwan 71, Hong Kong 81, Macao 82,
# residence permits of Taiwan residents 83, foreigners' permanent residence 91.
_ID_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83 91".split()
)

_ID_EXCEL: Reason = (
    "身份证号被表格软件存成了数字，后几位已丢失，请将该列设为文本后重新导出",
    "the spreadsheet stored the ID number as a number and its last digits were lost; "
    "format the column as text and export again",
)


def _id_check_char(body17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character of 17 digits."""
    return _ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


def id_number(value: object, *, today: date | None = None) -> Check[str]:
    """Validate a Chinese resident ID number (GB 11643-1999).

    Parameters
    ----------
    value : str or int
        18 characters (17 digits and a check digit or ``X``; ``x`` is
        accepted), or an old 15-digit number, which is upgraded to 18 digits
        (``19`` inserted before the 6-digit birth date, check digit added).
        Spaces and a leading apostrophe (Excel's text marker) are ignored.
    today : date, optional
        Birth dates after this day are refused (default: today).

    Returns
    -------
    Check[str]
        The 18-character ID number with an upper-case ``X``. Refused, with a
        specific reason, for: a number that a spreadsheet stored as a float
        (digits lost), non-digits, a wrong length, an unknown province code, a
        birth date that does not exist, is before 1900 or in the future, and a
        wrong check digit.

    Examples
    --------
    >>> id_number("110105491231002").value
    '11010519491231002X'
    >>> id_number("110105194912310021").reason[1]
    'wrong check digit: expected X, found 1 (a digit may be mistyped)'
    """
    if is_blank(value):
        return _no("身份证号为空", "the ID number is empty")
    from_number = False
    if _is_int(value):
        s = str(int(value))  # type: ignore[call-overload]
        from_number = True
    elif _is_float(value):
        f = float(value)  # type: ignore[arg-type]
        if not math.isfinite(f) or f != int(f):
            return _no(f"不是身份证号：{value}", f"not an ID number: {value}")
        if f >= 1e15:  # 16 digits or more cannot survive a float
            return Check(None, _ID_EXCEL)
        s, from_number = str(int(f)), True
    elif isinstance(value, str):
        s = re.sub(r"\s+", "", _clean(value)).lstrip("'")
        if _SCIENTIFIC.fullmatch(s):
            return Check(None, _ID_EXCEL)
        m = _TRAILING_DOT_ZERO.fullmatch(s)
        if m is not None:
            if len(m.group(1)) >= 16:
                return Check(None, _ID_EXCEL)
            s = m.group(1)
    else:
        return _no(f"身份证号格式不对：{value!r}", f"not an ID number: {value!r}")

    s = s.upper()
    n = len(s)
    if not re.fullmatch(r"\d+X?", s):
        return _no("身份证号只能包含数字（最后一位可以是 X）", "an ID number has only digits (the last may be X)")
    if from_number and n >= 16 and float(int(s)) == int(s) and not (n == 18 and _id_check_char(s[:17]) == s[17]):
        # An integer a float could hold exactly, and not a valid ID: it went through a float.
        return Check(None, _ID_EXCEL)
    if n == 15:
        if s.endswith("X"):
            return _no("旧版 15 位身份证号只能包含数字", "an old 15-digit ID number has only digits")
        body = s[:6] + "19" + s[6:]
        s = body + _id_check_char(body)
    elif n != 18:
        return _no(
            f"身份证号应为 18 位（旧版 15 位），这里是 {n} 位",
            f"an ID number has 18 digits (15 for old ones); this one has {n}",
        )
    elif "X" in s[:17]:
        return _no("身份证号只能包含数字（最后一位可以是 X）", "an ID number has only digits (the last may be X)")

    if s[:2] not in _ID_PROVINCES:
        return _no(
            f"身份证号前两位 {s[:2]} 不是有效的省级行政区划代码",
            f"the first two digits {s[:2]} are not a valid province code",
        )
    birth = s[6:14]
    try:
        born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    except ValueError:
        return _no(f"身份证号中的出生日期 {birth} 不存在", f"the birth date {birth} in the ID number does not exist")
    if born < date(1900, 1, 1):
        return _no(f"身份证号中的出生日期 {birth} 早于 1900 年", f"the birth date {birth} in the ID number is before 1900")
    if born > (today or date.today()):
        return _no(f"身份证号中的出生日期 {birth} 在未来", f"the birth date {birth} in the ID number is in the future")
    expected = _id_check_char(s[:17])
    if s[17] != expected:
        if n == 18 and s.endswith("000"):
            return _no(
                "身份证号校验位不对，且末三位是 000：很可能被表格软件存成了数字，后几位已丢失，请将该列设为文本后重新导出",
                "wrong check digit, and the number ends in 000: the spreadsheet probably stored the ID number "
                "as a number and its last digits were lost; format the column as text and export again",
            )
        return _no(
            f"身份证号校验位不对：应为 {expected}，实为 {s[17]}（可能有数字录错）",
            f"wrong check digit: expected {expected}, found {s[17]} (a digit may be mistyped)",
        )
    return _ok(s)


# ---------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------

_PHONE_EXCEL: Reason = (
    "电话号码被表格软件存成了数字，可能已丢失数字或区号前的 0，请将该列设为文本后重新导出",
    "the spreadsheet stored the phone number as a number, which can lose digits or the leading 0 "
    "of the area code; format the column as text and export again",
)
_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area codes: 010 (Beijing) and 02x are 3 digits, all others 4; local numbers have 7-8 digits.
_LANDLINE = re.compile(r"(010|02\d|0[3-9]\d\d)([1-9]\d{6,7})")
_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?|x|#)\s*(\d{1,6})$", re.IGNORECASE)


def _landline(digits: str, ext: str | None) -> str | None:
    m = _LANDLINE.fullmatch(digits)
    if m is None:
        return None
    return f"{m.group(1)}-{m.group(2)}" + (f"转{ext}" if ext else "")


def phone(value: object) -> Check[str]:
    """Validate a mainland mobile or landline number.

    Parameters
    ----------
    value : str or int
        A mobile number (11 digits, ``1[3-9]...``, optionally prefixed by
        ``+86``, ``0086`` or ``86``) or a landline with its area code
        (``0592-1234567``, ``(0592)1234567``, ``010 12345678``,
        ``+86 592 1234567``), optionally with an extension (``转8001``,
        ``ext 8001``, ``-8001``). Spaces, dashes and brackets are ignored.

    Returns
    -------
    Check[str]
        A mobile as 11 digits; a landline as ``0592-1234567`` (extension as
        ``0592-1234567转8001``). Refused: floats and float-looking text
        (``1.38e+10``, ``13800138000.0``), a landline without its area code,
        and anything else that is not a number of these forms.

    Examples
    --------
    >>> [phone(v).value for v in ("+86 138-0013-8000", "010 12345678", "0592-1234567 转 8001")]
    ['13800138000', '010-12345678', '0592-1234567转8001']
    """
    if is_blank(value):
        return _no("电话号码为空", "the phone number is empty")
    numeric = False
    if _is_int(value):
        s, numeric = str(int(value)), True  # type: ignore[call-overload]
    elif _is_float(value):
        return Check(None, _PHONE_EXCEL)
    elif isinstance(value, str):
        s = _clean(value).lstrip("'").strip()
        if _SCIENTIFIC.fullmatch(s) or _TRAILING_DOT_ZERO.fullmatch(s):
            return Check(None, _PHONE_EXCEL)
    else:
        return _no(f"不是电话号码：{value!r}", f"not a phone number: {value!r}")

    ext: str | None = None
    m = _EXTENSION.search(s)
    if m is not None:
        ext, s = m.group(1), s[: m.start()]
    intl = re.match(r"(?:\+|00)\s*86[\s\-]*", s)
    if intl is not None:
        s = s[intl.end():]
    groups = [g for g in re.split(r"[\s\-()./]+", s) if g]
    if not groups or not all(g.isdigit() for g in groups):
        return _no(f"电话号码含有非法字符：{value}", f"the phone number has characters that do not belong: {value}")
    digits = "".join(groups)
    if intl is None and len(digits) == 13 and digits.startswith("861"):
        digits = digits[2:]  # 86 without +

    if _MOBILE.fullmatch(digits):
        if ext:
            return _no("手机号不能带分机号", "a mobile number cannot have an extension")
        return _ok(digits)
    if intl is not None and not digits.startswith("0"):
        digits = "0" + digits
    normal = _landline(digits, ext)
    if normal is None and ext is None and len(groups) >= 3 and len(groups[-1]) <= 6:
        normal = _landline("".join(groups[:-1]), groups[-1])  # 0592-1234567-8001
    if normal is not None:
        return _ok(normal)
    if numeric and _landline("0" + digits, None) is not None:
        return Check(None, _PHONE_EXCEL)
    if re.fullmatch(r"[2-9]\d{6,7}", digits):
        return _no(
            f"固定电话缺少区号：{value}（如 0592-1234567）",
            f"the landline has no area code: {value} (write it as 0592-1234567)",
        )
    if digits.startswith("1"):
        return _no(
            f"手机号应为 11 位、以 13–19 开头：{value}",
            f"a mobile number has 11 digits starting with 13-19: {value}",
        )
    return _no(
        f"不是有效的电话号码：{value}（手机 11 位，固话如 0592-1234567）",
        f"not a valid phone number: {value} (mobile: 11 digits; landline: e.g. 0592-1234567)",
    )


# ---------------------------------------------------------------------------
# Hardship categories
# ---------------------------------------------------------------------------

_SEPARATORS = r"\s,，、;；/|"
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "dibao_urban": ("城市低保户", "城镇低保", "城镇低保户", "城市最低生活保障"),
    "dibao_rural": ("农村低保户", "农村最低生活保障"),
    "tekun": ("特困", "特困户", "特困人员", "特困供养人员", "tekun"),
    "wubao_central": ("五保集中", "集中五保", "集中供养五保", "五保集中供养户", "五保户集中供养", "五保集中供养"),
    "wubao_home": ("分散五保", "五保分散", "分散供养五保", "五保分散供养户", "五保户分散供养", "五保分散供养"),
    "disabled": ("残疾人", "残疾户", "残疾家庭", "残障", "残障人士"),
    "elderly_alone": ("孤寡", "孤寡老人", "独居", "独居老人", "孤老"),
    "empty_nest": ("空巢", "空巢家庭"),
    "serious_illness": ("大病", "因病致贫", "大病户", "因病致贫户"),
    "party_hardship": ("困难党员户",),
    "veteran_family": ("优抚", "优抚家庭", "优抚户"),
    "zero_employment": ("零就业", "零就业户"),
    "laid_off_4050": ("4050", "4050人员", "4050 人员"),
    "relocated": ("拆迁", "拆迁家庭"),
    "landless_farmer": ("失地", "失地户"),
    "migrant_family": ("农民工", "农民工家庭"),
}


#: Words that name more than one category. The importer never guesses which is meant: a row holding one is
#: refused until the user says what the word means in this file (``resolve`` of :func:`categories`).
AMBIGUOUS_CATEGORIES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("低保", "低保户", "低保对象", "低保家庭", "最低生活保障", "dibao"), ("dibao_urban", "dibao_rural")),
    **dict.fromkeys(("五保", "五保户", "五保对象", "五保供养", "wubao"), ("wubao_central", "wubao_home")),
}


def _category_key(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


_AMBIGUOUS: dict[str, tuple[str, ...]] = {_category_key(w): c for w, c in AMBIGUOUS_CATEGORIES.items()}


_CATEGORY_WORDS: dict[str, str] = {}
for _code, _term in HARDSHIP.items():
    for _word in (_code, _term.zh, _term.en, *_SYNONYMS.get(_code, ())):
        _CATEGORY_WORDS[_category_key(_word)] = _code
# Labels that contain a separator ("孤寡/独居老人", "five guarantees, in a home") are
# replaced by their code before the text is split, longest first.
_PHRASES = sorted((w for w in _CATEGORY_WORDS if re.search(f"[{_SEPARATORS}()]", w)), key=len, reverse=True)
_PHRASE_RE = re.compile(
    f"(?<![^{_SEPARATORS}])(?:{'|'.join(re.escape(p) for p in _PHRASES)})(?![^{_SEPARATORS}])", re.IGNORECASE
)
_TOKEN_STRIP = "[](){}'\"“”‘’「」『』【】《》<>"


def _category_terms(value: object) -> list[str]:
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        out: list[str] = []
        for item in value:
            if not is_blank(item):
                out.extend(_category_terms(item))
        return out
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(value)))
    text = _PHRASE_RE.sub(lambda m: f" {_CATEGORY_WORDS[_category_key(m.group(0))]} ", text)
    terms = (t.strip(_TOKEN_STRIP) for t in re.split(f"[{_SEPARATORS}]+", text))
    return [t for t in terms if t]


def _choices_zh(codes: tuple[str, ...]) -> str:
    return " 或 ".join(HARDSHIP[c].zh for c in codes)


def _choices_en(codes: tuple[str, ...]) -> str:
    return " or ".join(f"{c} ({HARDSHIP[c].zh})" for c in codes)


def categories(value: object, resolve: Mapping[str, str] | None = None) -> Check[list[str]]:
    """Read hardship categories (困难类别) from codes, labels or common names.

    Parameters
    ----------
    value : str or list of str
        Codes of :data:`grid.model.HARDSHIP`, their Chinese or English labels,
        or common names: 城镇低保, 农村低保户, 分散五保, 五保集中, 特困, 残疾人,
        孤寡老人/独居老人, 空巢, 大病/因病致贫, 困难党员, 优抚, 零就业, 4050, 拆迁,
        失地, 农民工. Text is split on ``，,、;；/|`` and whitespace. A blank
        value means no category.
    resolve : mapping, optional
        What the ambiguous words of :data:`AMBIGUOUS_CATEGORIES` (低保, 五保, ...)
        mean in this file: ``{"低保": "dibao_urban"}``. A word not given here is
        refused, never guessed (低保 may be urban or rural; 五保 in a home or at home).

    Returns
    -------
    Check[list[str]]
        The codes, each once, in vocabulary order. Refused if any term is
        unknown or ambiguous and not resolved; the reason names every such term
        (and nothing is returned, so a typo never silently drops a category).

    Examples
    --------
    >>> categories("分散五保、农村低保，孤寡/独居老人").value
    ['dibao_rural', 'wubao_home', 'elderly_alone']
    >>> categories(["disabled", "低保边缘户"]).reason[0].split("。")[0]
    '无法识别的困难类别：「低保边缘户」'
    >>> categories("低保、残疾").reason[1]
    "ambiguous hardship category '低保': it may mean dibao_urban (城市低保) or dibao_rural (农村低保); say which one this file means"
    >>> categories("低保、残疾", resolve={"低保": "dibao_urban"}).value
    ['dibao_urban', 'disabled']
    """
    if is_blank(value):
        return _ok([])
    if not isinstance(value, str | list | tuple | set | frozenset | np.ndarray):
        return _no(f"困难类别格式不对：{value!r}", f"hardship categories should be text: {value!r}")
    answers = {_category_key(k): v for k, v in (resolve or {}).items()}
    found: set[str] = set()
    unknown: list[str] = []
    unclear: list[str] = []
    for term in _category_terms(value):
        key = _category_key(term)
        code = _CATEGORY_WORDS.get(key)
        if code is None and key in _AMBIGUOUS:
            code = answers.get(key)
            if code is None:
                if term not in unclear:
                    unclear.append(term)
                continue
        if code is None:
            if term not in unknown:
                unknown.append(term)
        else:
            found.add(code)
    if unknown:
        zh_list = "、".join(f"「{t}」" for t in unknown)
        en_list = ", ".join(repr(t) for t in unknown)
        plural = "y" if len(unknown) == 1 else "ies"
        return _no(
            f"无法识别的困难类别：{zh_list}。可用：{'、'.join(t.zh for t in HARDSHIP.values())}（或其英文代码）",
            f"unknown hardship categor{plural}: {en_list}; accepted: {', '.join(HARDSHIP)} "
            "(or their Chinese labels)",
        )
    if unclear:
        zh = "；".join(f"「{t}」可指{_choices_zh(_AMBIGUOUS[_category_key(t)])}" for t in unclear)
        en = "; ".join(f"{t!r}: it may mean {_choices_en(_AMBIGUOUS[_category_key(t)])}" for t in unclear)
        plural = "y" if len(unclear) == 1 else "ies"
        return _no(f"困难类别有歧义：{zh}。请确认本文件中它指哪一类",
                   f"ambiguous hardship categor{plural} {en}; say which one this file means")
    return _ok([code for code in HARDSHIP if code in found])


def ambiguous_terms(values: Iterable[object]) -> dict[str, tuple[str, ...]]:
    """The ambiguous category words (:data:`AMBIGUOUS_CATEGORIES`) found in ``values``, as first written,
    with the codes each may mean, in the order found.

    Each distinct value is read once, so a million-row column costs its distinct values.

    >>> ambiguous_terms(["低保、残疾", "五保户", "城市低保", "低保"])
    {'低保': ('dibao_urban', 'dibao_rural'), '五保户': ('wubao_central', 'wubao_home')}
    """
    out: dict[str, tuple[str, ...]] = {}
    keys: set[str] = set()
    seen: set[object] = set()
    for v in values:
        if is_blank(v):
            continue
        mark: object = v if isinstance(v, str) else repr(v)
        if mark in seen:
            continue
        seen.add(mark)
        if not isinstance(v, str | list | tuple | set | frozenset | np.ndarray):
            continue
        for term in _category_terms(v):
            key = _category_key(term)
            if key in _AMBIGUOUS and key not in _CATEGORY_WORDS and key not in keys:
                keys.add(key)
                out[term] = _AMBIGUOUS[key]
    return out


def category_answer(term: str, answer: str) -> Check[str]:
    """Read what the user says an ambiguous word means: one of its choices, as a code or a label.

    >>> category_answer("低保", "农村低保").value
    'dibao_rural'
    >>> category_answer("低保", "特困").reason[1]
    "'特困' is not a meaning of '低保'; choose dibao_urban (城市低保) or dibao_rural (农村低保)"
    """
    choices = _AMBIGUOUS.get(_category_key(term))
    if choices is None:
        return _no(f"「{term}」不是有歧义的困难类别（有歧义的：{'、'.join(AMBIGUOUS_CATEGORIES)}）",
                   f"{term!r} is not an ambiguous category (those are: {', '.join(AMBIGUOUS_CATEGORIES)})")
    code = _CATEGORY_WORDS.get(_category_key(answer))
    if code not in choices:
        return _no(f"「{answer}」不是「{term}」的可选含义；请选{_choices_zh(choices)}",
                   f"{answer!r} is not a meaning of {term!r}; choose {_choices_en(choices)}")
    return _ok(str(code))


# ---------------------------------------------------------------------------
# Dates and times
# ---------------------------------------------------------------------------

_DATE_TEXT = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*T?\s*(\d{1,2})\s*[:时点]\s*(\d{1,2})(?:\s*分(?:\s*(\d{1,2})\s*秒)?|\s*:\s*(\d{1,2}(?:\.\d+)?))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)


def _serial(f: float) -> datetime | Reason:
    low, high = EXCEL_SERIAL_RANGE
    if not (math.isfinite(f) and low <= f <= high):
        return (
            f"无法识别的日期：{f:g}（数字只在 {low}–{high} 之间时按 Excel 日期序号读取）",
            f"not a date: {f:g} (numbers are read as Excel date serials only between {low} and {high})",
        )
    return _EXCEL_EPOCH + timedelta(seconds=round(f * 86400))


def _naive_local(dt: datetime) -> datetime:
    """Aware datetimes become naive China Standard Time (UTC+8), as the database stores them."""
    if dt.tzinfo is not None and dt.utcoffset() is not None:
        return dt.astimezone(_CHINA_TZ).replace(tzinfo=None)
    return dt.replace(tzinfo=None)


def _when(value: object, what_zh: str, what_en: str) -> datetime | Reason:
    """Parse a date or date-time cell into a naive datetime, or say why not."""
    if is_blank(value):
        return (f"{what_zh}为空", f"the {what_en} is empty")
    if isinstance(value, bool | np.bool_):
        return (f"不是{what_zh}：{value}", f"not a {what_en}: {value}")
    if isinstance(value, datetime):  # also pandas Timestamp
        return _naive_local(pd.Timestamp(value).to_pydatetime())
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, np.datetime64):
        return _naive_local(pd.Timestamp(value).to_pydatetime())
    if _is_int(value) or _is_float(value):
        return _serial(float(value))  # type: ignore[arg-type]
    if not isinstance(value, str):
        return (f"不是{what_zh}：{value!r}", f"not a {what_en}: {value!r}")
    s = _clean(value)
    if re.fullmatch(r"\d{8}", s):  # 20260105
        s = f"{s[:4]}-{s[4:6]}-{s[6:]}"
    elif re.fullmatch(r"\d{1,6}(?:\.\d+)?", s):
        return _serial(float(s))
    m = _DATE_TEXT.fullmatch(s)
    if m is None:
        try:
            return _naive_local(datetime.fromisoformat(s))
        except ValueError:
            return (
                f"无法识别的{what_zh}：{value}（可写作 2026-01-05、2026/1/5、2026年1月5日）",
                f"cannot read the {what_en}: {value} (write e.g. 2026-01-05, 2026/1/5 or 2026年1月5日)",
            )
    y, mo, d, hh, mi, sec_zh, sec_colon, tz = m.groups()
    sec = sec_zh or sec_colon
    try:
        day = date(int(y), int(mo), int(d))
    except ValueError:
        return (f"日期不存在：{y}-{int(mo):02d}-{int(d):02d}", f"no such date: {y}-{int(mo):02d}-{int(d):02d}")
    if hh is None:
        return datetime.combine(day, time())
    seconds = float(sec) if sec else 0.0
    try:
        dt = datetime.combine(day, time(int(hh), int(mi))) + timedelta(seconds=seconds)
        if seconds >= 60:
            raise ValueError
    except ValueError:
        shown = f"{hh}:{mi}" + (f":{sec}" if sec else "")
        return (f"时间不存在：{shown}", f"no such time of day: {shown}")
    if tz:
        offset = tz.upper().replace(":", "")
        zone = UTC if offset == "Z" else timezone(
            (1 if offset[0] == "+" else -1) * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        )
        dt = _naive_local(dt.replace(tzinfo=zone))
    return dt


def _as_datetime(bound: date, end_of_day: bool) -> datetime:
    if isinstance(bound, datetime):
        return _naive_local(bound)
    return datetime.combine(bound, time.max if end_of_day else time.min)


def _out_of_bounds(shown: str, when: datetime, earliest: date | None, latest: date | None) -> Reason | None:
    if earliest is not None and when < _as_datetime(earliest, end_of_day=False):
        return (f"{shown} 早于 {earliest}", f"{shown} is before {earliest}")
    if latest is not None and when > _as_datetime(latest, end_of_day=True):
        return (f"{shown} 晚于 {latest}", f"{shown} is after {latest}")
    return None


def date_value(value: object, earliest: date | None = None, latest: date | None = None) -> Check[date]:
    """Read a date.

    Parameters
    ----------
    value : str, date, datetime, pandas.Timestamp or number
        ISO text (``2026-01-05``), ``2026/1/5``, ``2026.01.05``,
        ``2026年1月5日``, ``20260105``; date, datetime or pandas Timestamp
        objects; Excel date serials, as numbers or numeric text, within
        :data:`EXCEL_SERIAL_RANGE`. A time of day, if given, is dropped.
    earliest, latest : date, optional
        Refuse dates before ``earliest`` or after ``latest`` (e.g.
        ``earliest=EARLIEST_RECORD, latest=date.today()``).

    Returns
    -------
    Check[date]
        Refused for dates that do not exist (``2026-02-30``), unreadable text,
        numbers outside the serial range, and dates out of bounds.

    Examples
    --------
    >>> [date_value(v).value for v in ("2026年1月5日", "2026/1/5", 46027)]
    [datetime.date(2026, 1, 5), datetime.date(2026, 1, 5), datetime.date(2026, 1, 5)]
    >>> date_value("2026-02-30").reason[1]
    'no such date: 2026-02-30'
    """
    when = _when(value, "日期", "date")
    if isinstance(when, tuple):
        return Check(None, when)
    day = when.date()
    lo = earliest.date() if isinstance(earliest, datetime) else earliest
    hi = latest.date() if isinstance(latest, datetime) else latest
    bad = _out_of_bounds(str(day), datetime.combine(day, time()), lo, hi)
    if bad is not None:
        return _no(f"日期 {bad[0]}", f"the date {bad[1]}")
    return _ok(day)


def datetime_value(value: object, earliest: date | None = None, latest: date | None = None) -> Check[datetime]:
    """Read a date and time of day (naive, China Standard Time).

    Accepts what :func:`date_value` accepts (a date alone means midnight),
    plus a time of day: ``2026-01-05 08:30``, ``2026-01-05T08:30:15``,
    ``2026年1月5日 8时30分``; Excel serials keep their fraction of a day
    (rounded to the second). Text or datetimes with a time zone are converted
    to UTC+8 and returned naive, as the database stores them.

    ``earliest`` and ``latest`` may be dates (``latest`` then includes that
    whole day) or datetimes.

    >>> datetime_value("2026/1/5 8:30").value
    datetime.datetime(2026, 1, 5, 8, 30)
    >>> datetime_value(46027.5).value
    datetime.datetime(2026, 1, 5, 12, 0)
    """
    when = _when(value, "时间", "date-time")
    if isinstance(when, tuple):
        return Check(None, when)
    bad = _out_of_bounds(str(when), when, earliest, latest)
    if bad is not None:
        return _no(f"时间 {bad[0]}", f"the time {bad[1]}")
    return _ok(when)


def china_today(now: datetime | None = None) -> date:
    """Today's date in China Standard Time (UTC+8), whatever the server's time zone.

    ``now`` (default: the current time) may be aware (converted to UTC+8) or
    naive (taken as China Standard Time, as the database stores times).

    >>> china_today(datetime(2026, 1, 5, 20, 0, tzinfo=UTC))
    datetime.date(2026, 1, 6)
    """
    if now is None:
        return datetime.now(_CHINA_TZ).date()
    return _naive_local(now).date()


def china_now(now: datetime | None = None) -> datetime:
    """The time in China Standard Time (UTC+8), naive, as the database stores times.

    ``now`` (default: the current time) may be aware (converted) or naive (taken as China time).

    >>> china_now(datetime(2026, 1, 5, 20, 0, tzinfo=UTC))
    datetime.datetime(2026, 1, 6, 4, 0)
    """
    if now is None:
        return datetime.now(_CHINA_TZ).replace(tzinfo=None)
    return _naive_local(now)


def record_time(value: object, *, today: date | None = None) -> Check[datetime]:
    """The time of a visit, a need (raised or resolved) or an assistance record.

    **The rule** (the same for the visit form and for every import): readable by
    :func:`datetime_value`, not before :data:`EARLIEST_RECORD`, and not after
    the end of today in China Standard Time (``today``, default
    :func:`china_today`). A time later today is accepted (a visit logged in
    the morning for the afternoon); tomorrow is refused. Today is China's
    whatever the server's clock zone, so a server on UTC does not refuse a
    morning's visits in Beijing before 08:00 UTC.

    >>> record_time("2026-01-05 23:59", today=date(2026, 1, 5)).ok
    True
    >>> record_time("2026-01-06 00:00", today=date(2026, 1, 5)).reason[1]
    'the time is in the future: 2026-01-06 00:00:00 is after today (2026-01-05, China Standard Time)'
    """
    check = datetime_value(value, EARLIEST_RECORD)
    if check.value is None:
        return check
    day = today if today is not None else china_today()
    if check.value.date() > day:
        return _no(f"时间在未来：{check.value} 晚于今天（{day}，北京时间）",
                   f"the time is in the future: {check.value} is after today ({day}, China Standard Time)")
    return check


# ---------------------------------------------------------------------------
# Control characters
# ---------------------------------------------------------------------------

# Refused in every text field: C0 controls, DEL, C1 controls, and the
# bidirectional embeddings, overrides and isolates that make text display in
# another order than it is stored ("Trojan Source"). Multi-line fields allow
# tab and line feed (and CR LF, read as a line feed).
_BIDI = "\u202a-\u202e\u2066-\u2069"
_CONTROL_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_CONTROL_MULTI_LINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
_BIDI_RE = re.compile(f"[{_BIDI}]")
# Leading and trailing blanks are trimmed by every field, so a stray tab or
# line break there is no reason to refuse a one-line field.
_TRIMMED = " \t\r\n\u3000"


def find_control(text: str, *, multiline: bool = False) -> tuple[int, str] | None:
    r"""The first character ``text`` must not hold: ``(position, "U+202E")``, or None.

    Refused everywhere: C0 control characters (U+0000–U+001F), DEL and C1
    controls (U+007F–U+009F), and the bidirectional embeddings, overrides and
    isolates U+202A–U+202E and U+2066–U+2069. With ``multiline`` (a visit's
    situation, a need's description), tab, line feed and CR LF are allowed;
    in one-line fields (names, addresses, ids) they are refused, except as
    leading or trailing blanks, which every field trims. ``position`` counts
    characters from 1.

    Examples
    --------
    >>> find_control("张三\u202e")
    (3, 'U+202E')
    >>> find_control("第一行\r\n第二行\t完", multiline=True) is None
    True
    >>> find_control("第一行\n第二行")
    (4, 'U+000A')
    >>> find_control("  中山路1号\n") is None
    True
    """
    core = text.strip(_TRIMMED)
    if not core:
        return None
    if multiline:
        core = core.replace("\r\n", "\n\n")  # same length: positions stay right
        m = _CONTROL_MULTI_LINE.search(core)
    else:
        m = _CONTROL_ONE_LINE.search(core)
    if m is None:
        return None
    lead = len(text) - len(text.lstrip(_TRIMMED))
    return lead + m.start() + 1, f"U+{ord(m.group()):04X}"


def may_hold_control(texts: Iterable[object], *, multiline: bool = False) -> bool:
    """A fast screen of a whole column: False when no text in ``texts`` holds a refused character.

    True means "check value by value" (it is also True for texts whose only
    tab or line break is a trimmed leading or trailing blank, which
    :func:`find_control` accepts). Non-text values are skipped. The texts are
    searched in chunks joined by spaces, so a clean million-row column costs
    one regular-expression scan instead of a million.

    >>> may_hold_control(["张三", "李四", 12]), may_hold_control(["张三", "李\u202e四"])
    (False, True)
    """
    pattern = _CONTROL_MULTI_LINE if multiline else _CONTROL_ONE_LINE
    chunk: list[str] = []
    for t in texts:
        if isinstance(t, str):
            chunk.append(t)
            if len(chunk) >= 100_000:
                if pattern.search(" ".join(chunk)):
                    return True
                chunk.clear()
    return bool(chunk) and pattern.search(" ".join(chunk)) is not None


def check_characters(value: str, *, multiline: bool = False) -> Check[str]:
    r"""Refuse text that holds a control character or a bidirectional override.

    The one check every text field goes through (see :func:`find_control` for
    what is refused). Accepted text comes back unchanged, except that a
    multi-line field's CR LF line ends become LF. The reason names the
    character as a code point (``U+202E``), never the raw character.

    Examples
    --------
    >>> check_characters("王\x00五").reason[1]
    'holds a forbidden control character U+0000 (character 2); remove it and try again'
    >>> check_characters("a\r\nb", multiline=True).value
    'a\nb'
    """
    hit = find_control(value, multiline=multiline)
    if hit is None:
        return _ok(value.replace("\r\n", "\n") if multiline else value)
    pos, code = hit
    char = chr(int(code[2:], 16))
    if _BIDI_RE.fullmatch(char):
        what_zh, what_en = "文字方向控制符", "bidirectional control character"
    elif char in "\t\n\r":
        what_zh, what_en = "换行符或制表符（此字段只能写一行）", "line break or tab (this field is one line)"
    else:
        what_zh, what_en = "控制字符", "control character"
    return _no(f"含有不允许的{what_zh} {code}（第 {pos} 个字符），请删除后重试",
               f"holds a forbidden {what_en} {code} (character {pos}); remove it and try again")


def visible(text: str) -> str:
    r"""``text`` with every control character and bidirectional override shown as ``[U+XXXX]``.

    For messages: the characters :func:`find_control` refuses are never shown raw.

    >>> visible("张三\u202e\n")
    '张三[U+202E][U+000A]'
    """
    return _CONTROL_ONE_LINE.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


# ---------------------------------------------------------------------------
# Amounts, counts, text
# ---------------------------------------------------------------------------

_CENT = Decimal("0.01")
_AMOUNT_LIMIT = Decimal("10000000000")  # DECIMAL(12, 2) holds less than this
_AMOUNT_TEXT = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+")


def amount(value: object, maximum: Decimal | int | None = None) -> Check[Decimal]:
    """Read a sum of money in yuan (元): non-negative, at most two decimals.

    Parameters
    ----------
    value : str, int, float or Decimal
        ``500``, ``500.00``, ``1,234.50``, ``¥500``, ``￥500``, ``500元``,
        ``RMB 500``.
    maximum : Decimal or int, optional
        Refuse larger amounts. Amounts of 10 billion yuan or more are always
        refused (the database column is ``DECIMAL(12, 2)``).

    Returns
    -------
    Check[Decimal]
        The amount with two decimals. Refused: negatives, NaN, infinity,
        more than two decimals (``1.005``), text that is not a plain amount
        (``1,23``, ``五百``, ``1e3``). A float within floating-point noise of
        a whole cent (``12.300000000000001``, as spreadsheets compute) is
        taken as that cent.

    Examples
    --------
    >>> [str(amount(v).value) for v in ("1,234.5", "¥500", "500元", 80)]
    ['1234.50', '500.00', '500.00', '80.00']
    >>> amount("-5").reason[1]
    'an amount cannot be negative: -5'
    """
    if is_blank(value):
        return _no("金额为空", "the amount is empty")
    if isinstance(value, bool | np.bool_):
        return _no(f"不是金额：{value}", f"not an amount: {value}")
    if isinstance(value, Decimal):
        d = value
    elif _is_int(value):
        d = Decimal(int(value))  # type: ignore[call-overload]
    elif _is_float(value):
        f = float(value)  # type: ignore[arg-type]
        if not math.isfinite(f):
            return _no(f"不是有效金额：{value}", f"not a valid amount: {value}")
        d = Decimal(repr(f))
        if abs(f) < 1e12 and abs(f * 100 - round(f * 100)) < 1e-6:
            d = Decimal(round(f * 100)) / 100  # 12.300000000000001 (float noise) is 12.30
    elif isinstance(value, str):
        s = _clean(value)
        s = re.sub(r"^(?:[¥￥]|rmb|cny|人民币)\s*", "", s, flags=re.IGNORECASE)
        s = re.sub(r"\s*(?:元|圆|rmb|cny)$", "", s, flags=re.IGNORECASE)
        if re.fullmatch(r"[-−]\s*[¥￥]?\s*[\d.,]+|\(\s*[\d.,]+\s*\)", s):
            return _no(f"金额不能为负：{value}", f"an amount cannot be negative: {value}")
        s = s.lstrip("+")
        if not _AMOUNT_TEXT.fullmatch(s):
            return _no(
                f"不是有效金额：{value}（应写作 500、500.00、1,234.50 或 ¥500）",
                f"not a valid amount: {value} (write e.g. 500, 500.00, 1,234.50 or ¥500)",
            )
        d = Decimal(s.replace(",", ""))
    else:
        return _no(f"不是金额：{value!r}", f"not an amount: {value!r}")
    if not d.is_finite():
        return _no(f"不是有效金额：{value}", f"not a valid amount: {value}")
    if d < 0:
        return _no(f"金额不能为负：{value}", f"an amount cannot be negative: {value}")
    try:
        cents = d.quantize(_CENT)
    except InvalidOperation:
        return _no(f"金额过大：{value}", f"the amount is too large: {value}")
    if cents != d:
        return _no(f"金额最多两位小数：{value}", f"an amount has at most two decimals: {value}")
    limit = _AMOUNT_LIMIT if maximum is None else min(_AMOUNT_LIMIT, Decimal(maximum))
    if cents >= _AMOUNT_LIMIT or cents > limit:
        return _no(f"金额过大：{value}（上限 {limit}）", f"the amount is too large: {value} (limit {limit})")
    return _ok(abs(cents))  # abs: no "-0.00"


_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _zh_int(s: str) -> int | None:
    """Chinese numerals from 零 to 九十九 (一, 十, 十二, 二十, 二十三, 两), else None."""
    if len(s) == 1 and s in _ZH_DIGITS:
        return _ZH_DIGITS[s]
    m = re.fullmatch(r"([一二两三四五六七八九]?)十([一二三四五六七八九]?)", s)
    if m is None:
        return None
    tens = _ZH_DIGITS[m.group(1)] if m.group(1) else 1
    return tens * 10 + (_ZH_DIGITS[m.group(2)] if m.group(2) else 0)


def positive_int(value: object, low: int = 1, high: int | None = None) -> Check[int]:
    """Read a whole number within ``[low, high]`` (household size and the like).

    Accepts ``3``, ``"3"``, ``"3.0"``, ``3.0``, ``"3人"``/``"3口"`` and the
    Chinese numerals 零 to 九十九 (``"三"``, ``"十二"``, ``"两"``). Refuses
    fractions (``3.5``), other text and numbers out of range.

    >>> [positive_int(v).value for v in ("3", 3.0, "三口", "十二")]
    [3, 3, 3, 12]
    >>> positive_int(3.5).reason[1]
    'not a whole number: 3.5'
    """
    if is_blank(value):
        return _no("数值为空", "the number is empty")
    n: int | None = None
    if isinstance(value, bool | np.bool_):
        n = None
    elif isinstance(value, Decimal):
        n = int(value) if value.is_finite() and value == value.to_integral_value() else None
    elif _is_int(value):
        n = int(value)  # type: ignore[call-overload]
    elif _is_float(value):
        f = float(value)  # type: ignore[arg-type]
        n = int(f) if math.isfinite(f) and f == int(f) else None
    elif isinstance(value, str):
        s = _clean(value)
        s = re.sub(r"\s*[人口个名位户]$", "", s)
        m = re.fullmatch(r"([+-]?\d+)(?:\.0*)?", s)
        n = int(m.group(1)) if m is not None else _zh_int(s)
    if n is None:
        return _no(f"不是整数：{value}", f"not a whole number: {value}")
    if n < low:
        return _no(f"应不小于 {low}，这里是 {n}", f"must be at least {low}; this is {n}")
    if high is not None and n > high:
        return _no(f"应不大于 {high}，这里是 {n}", f"must be at most {high}; this is {n}")
    return _ok(n)


def nonempty_text(value: object, max_len: int = 200) -> Check[str]:
    """Read a required text field: trimmed, not empty, at most ``max_len`` characters.

    Integers are accepted as their digits (a house number typed as a number);
    floats are refused (a spreadsheet turned the text into a number).

    >>> nonempty_text("  思明区 中山路 1 号\\u3000").value
    '思明区 中山路 1 号'
    >>> nonempty_text("  ").reason[1]
    'the text is empty'
    """
    if is_blank(value):
        return _no("内容为空", "the text is empty")
    if isinstance(value, str):
        s = value.strip().strip(_ZERO_WIDTH).strip()
    elif _is_int(value):
        s = str(int(value))  # type: ignore[call-overload]
    elif _is_float(value):
        return _no(
            f"表格中存成了数字（{value}），请将该列设为文本",
            f"the spreadsheet stored this as a number ({value}); format the column as text",
        )
    else:
        return _no(f"不是文本：{value!r}", f"not text: {value!r}")
    if len(s) > max_len:
        return _no(f"内容过长：{len(s)} 个字符，最多 {max_len} 个", f"too long: {len(s)} characters, at most {max_len}")
    return _ok(s)
