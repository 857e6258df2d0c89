"""Field validators: ID numbers, phones, categories, dates, amounts, counts, text."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from grid.errors import Problem, ValidationError
from grid.model import HARDSHIP
from grid.validators import (
    EARLIEST_RECORD,
    Check,
    ambiguous_terms,
    amount,
    categories,
    category_answer,
    check_characters,
    china_today,
    date_value,
    datetime_value,
    find_control,
    id_number,
    is_blank,
    nonempty_text,
    phone,
    positive_int,
    record_time,
    visible,
)

TODAY = date(2026, 1, 5)


def _iso7064_mod11_2(body: str) -> str:
    """Check character by the recursive ISO 7064 MOD 11-2 procedure (not the weight table)."""
    p = 0
    for ch in body:
        p = ((p + int(ch)) * 2) % 11
    c = (12 - p) % 11
    return "X" if c == 10 else str(c)


def _synthetic_id(rng: random.Random) -> str:
    region = rng.choice(["110105", "350203", "440305", "510104", "650102", "310115"])
    born = date(1920, 1, 1) + timedelta(days=rng.randrange(0, 105 * 365))
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + _iso7064_mod11_2(body)


#: A synthetic Xiamen (Siming district) ID; its check digit is verified in test_reference_check_digits.
XIAMEN_ID = "350203198001010013"


def _reason_en(check: Check[object]) -> str:
    assert not check.ok and check.value is None and check.reason is not None
    return check.reason[1]


# ---------------------------------------------------------------------------
# ID numbers
# ---------------------------------------------------------------------------


def test_reference_check_digits() -> None:
    # The example of GB 11643-1999, and the synthetic one used below.
    assert _iso7064_mod11_2("11010519491231002") == "X"
    assert _iso7064_mod11_2(XIAMEN_ID[:17]) == XIAMEN_ID[17]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        ("  11010519491231002X\u3000", "11010519491231002X"),
        ("110105 19491231 002X", "11010519491231002X"),
        ("'11010519491231002X", "11010519491231002X"),  # Excel's text marker
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),  # full-width
        ("110105491231002", "11010519491231002X"),  # 15-digit upgrade
        (110105491231002, "11010519491231002X"),  # 15 digits survive a number exactly
        (110105491231002.0, "11010519491231002X"),
        ("110105491231002.0", "11010519491231002X"),
        (XIAMEN_ID, XIAMEN_ID),
        (XIAMEN_ID.lower(), XIAMEN_ID),
    ],
)
def test_id_number_accepts(raw: object, expected: str) -> None:
    assert id_number(raw, today=TODAY) == Check(expected, None)


def test_id_number_accepts_synthetic_ids_and_refuses_every_wrong_check_digit() -> None:
    rng = random.Random(20260105)
    for _ in range(300):
        idn = _synthetic_id(rng)
        assert id_number(idn, today=TODAY).value == idn
        assert id_number(idn.lower(), today=TODAY).value == idn
        for wrong in "0123456789X":
            if wrong != idn[-1]:
                assert "check digit" in _reason_en(id_number(idn[:17] + wrong, today=TODAY))


def test_id_number_upgrades_15_digit_ids() -> None:
    rng = random.Random(7)
    for _ in range(200):
        full = _synthetic_id(rng)
        if full[6:8] != "19":
            continue
        old = full[:6] + full[8:17]
        assert len(old) == 15
        assert id_number(old, today=TODAY).value == full


def test_id_number_accepts_an_intact_integer() -> None:
    # A pandas int64 column keeps all 18 digits when no ID ends in X.
    rng = random.Random(3)
    idn = next(i for i in (_synthetic_id(rng) for _ in range(100)) if not i.endswith("X"))
    assert id_number(int(idn), today=TODAY).value == idn
    assert id_number(np.int64(idn), today=TODAY).value == idn


EXCEL_ZH = "身份证号被表格软件存成了数字，后几位已丢失，请将该列设为文本后重新导出"


@pytest.mark.parametrize(
    "raw",
    [
        "1.10105194912310e+17",
        "1.10105194912310E+17",
        "1.1010519491231E17",
        "110105194912310000.0",
        "110105194912310000",  # the digits Excel kept, copied as text
        110105194912310000,  # what pandas makes of that Excel cell
        1.10105194912310e17,
        float(110105194912310020),
        np.float64(3.50203198001010e17),
        "3.50203198001010e+17",
    ],
)
def test_id_number_refuses_numbers_that_lost_digits(raw: object) -> None:
    check = id_number(raw, today=TODAY)
    assert check.value is None and check.reason is not None
    zh, en = check.reason
    if isinstance(raw, str) and raw.isdigit():
        # Text that may also be a typo: both explanations are given.
        assert "校验位不对" in zh and "存成了数字" in zh and "后几位已丢失" in zh and "设为文本" in zh
        assert "check digit" in en
    else:
        assert zh == EXCEL_ZH
    assert "as a number" in en and "lost" in en and "format the column as text" in en


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491231002", "has 17"),
        ("1101051949123100211", "has 19"),
        ("1101051949123", "has 13"),
        ("11010519491231OO2X", "only digits"),
        ("11010519491231-02X", "only digits"),
        ("X1010519491231002X", "only digits"),
        ("11010519491231X021", "only digits"),
        ("11010549123100X", "15-digit"),
        ("000105194912310021", "province"),
        ("990105194912310021", "province"),
        ("110105194902300020", "does not exist"),  # 1949-02-30
        ("110105194913010020", "does not exist"),
        ("440524188001010014", "before 1900"),  # correct check digit, born 1880
        ("110105202601060017", "future"),  # born the day after TODAY
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        (float("nan"), "empty"),
        (True, "not an ID"),
        (1.5, "not an ID"),
        (["11010519491231002X"], "not an ID"),
    ],
)
def test_id_number_refuses(raw: object, why: str) -> None:
    assert why in _reason_en(id_number(raw, today=TODAY))


def test_id_number_future_is_relative_to_today() -> None:
    body = "11010520260106001"
    idn = body + _iso7064_mod11_2(body)
    assert "future" in _reason_en(id_number(idn, today=TODAY))
    assert id_number(idn, today=date(2026, 1, 6)).value == idn


# ---------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 13800138000", "13800138000"),
        ("+86-138-0013-8000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("86 13800138000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("19912345678", "19912345678"),
        ("１３８００１３８０００", "13800138000"),
        (13800138000, "13800138000"),  # an int column keeps every digit
        (np.int64(13800138000), "13800138000"),
        ("0592-1234567", "0592-1234567"),
        ("(0592)1234567", "0592-1234567"),
        ("（0592）1234567", "0592-1234567"),
        ("0592 1234567", "0592-1234567"),
        ("05921234567", "0592-1234567"),
        ("010 12345678", "010-12345678"),
        ("010-12345678", "010-12345678"),
        ("01012345678", "010-12345678"),
        ("021-87654321", "021-87654321"),
        ("0755-8765432", "0755-8765432"),
        ("+86 592 1234567", "0592-1234567"),
        ("+86-10-12345678", "010-12345678"),
        ("0592-1234567转8001", "0592-1234567转8001"),
        ("0592-1234567 转 8001", "0592-1234567转8001"),
        ("0592-1234567 分机 8001", "0592-1234567转8001"),
        ("0592-1234567 ext. 8001", "0592-1234567转8001"),
        ("0592-1234567x8001", "0592-1234567转8001"),
        ("0592-1234567-8001", "0592-1234567转8001"),
        ("(0592)1234567-8001", "0592-1234567转8001"),
    ],
)
def test_phone_accepts(raw: object, expected: str) -> None:
    assert phone(raw) == Check(expected, None)


@pytest.mark.parametrize(
    "raw",
    ["1.38e+10", "1.3800138E10", "13800138000.0", "5921234567.0", 13800138000.0, np.float64(13800138000), 5921234567],
)
def test_phone_refuses_spreadsheet_numbers(raw: object) -> None:
    reason = _reason_en(phone(raw))
    assert "stored the phone number as a number" in reason and "text" in reason


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("1234567", "11 digits"),
        ("1380013800", "11 digits"),
        ("138001380001", "11 digits"),
        ("12345678901", "11 digits"),  # 12x is not a mobile prefix
        ("8765432", "no area code"),
        ("87654321", "no area code"),
        ("0592-123456", "not a valid phone"),
        ("0592-123456789", "not a valid phone"),
        ("0000-1234567", "not a valid phone"),
        ("23800138000", "not a valid phone"),
        ("13800138000转8001", "extension"),
        ("abc", "characters"),
        ("138OO138000", "characters"),
        ("", "empty"),
        (None, "empty"),
        (float("nan"), "empty"),
        (True, "not a phone"),
    ],
)
def test_phone_refuses(raw: object, why: str) -> None:
    assert why in _reason_en(phone(raw))


# ---------------------------------------------------------------------------
# Hardship categories
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("城市低保", "dibao_urban"), ("城镇低保", "dibao_urban"), ("城市低保户", "dibao_urban"),
        ("农村低保", "dibao_rural"), ("农村低保户", "dibao_rural"),
        ("分散五保", "wubao_home"), ("五保分散供养", "wubao_home"),
        ("五保集中", "wubao_central"), ("集中五保", "wubao_central"), ("五保集中供养", "wubao_central"),
        ("特困", "tekun"), ("特困供养", "tekun"), ("特困人员", "tekun"),
        ("残疾人", "disabled"), ("残疾", "disabled"),
        ("孤寡老人", "elderly_alone"), ("独居老人", "elderly_alone"), ("孤寡/独居老人", "elderly_alone"),
        ("空巢", "empty_nest"), ("空巢老人", "empty_nest"),
        ("大病", "serious_illness"), ("因病致贫", "serious_illness"), ("大病/因病致贫", "serious_illness"),
        ("困难党员", "party_hardship"), ("优抚", "veteran_family"), ("优抚对象", "veteran_family"),
        ("零就业", "zero_employment"), ("零就业家庭", "zero_employment"),
        ("4050", "laid_off_4050"), ("4050人员", "laid_off_4050"),
        ("拆迁", "relocated"), ("拆迁户", "relocated"), ("失地", "landless_farmer"), ("失地农民", "landless_farmer"),
        ("农民工", "migrant_family"), ("农民工家庭", "migrant_family"),
        ("DIBAO_URBAN", "dibao_urban"), ("Urban Minimum Living Guarantee", "dibao_urban"),
        ("five guarantees, in a home", "wubao_central"), ("laid-off older worker (40/50)", "laid_off_4050"),
    ],
)
def test_categories_synonyms(word: str, code: str) -> None:
    assert categories(word) == Check([code], None)


@pytest.mark.parametrize("code", list(HARDSHIP))
def test_categories_every_code_and_label(code: str) -> None:
    term = HARDSHIP[code]
    for text in (code, term.zh, term.en, f" {term.zh} "):
        assert categories(text).value == [code], text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("城市低保、残疾人，空巢;4050|拆迁/失地 农民工；特困",
         ["dibao_urban", "tekun", "disabled", "empty_nest", "laid_off_4050", "relocated", "landless_farmer",
          "migrant_family"]),
        ("残疾 城镇低保 残疾人", ["dibao_urban", "disabled"]),  # unique, vocabulary order
        ("分散五保、农村低保，孤寡/独居老人", ["dibao_rural", "wubao_home", "elderly_alone"]),
        ("城市低保；农村低保", ["dibao_urban", "dibao_rural"]),
        ("urban minimum living guarantee, five guarantees, in a home", ["dibao_urban", "wubao_central"]),
        (["城市低保", "残疾"], ["dibao_urban", "disabled"]),
        (("tekun",), ["tekun"]),
        (np.array(["disabled", "tekun"]), ["tekun", "disabled"]),
        (["城市低保、空巢", None, ""], ["dibao_urban", "empty_nest"]),
        ("[dibao_urban, disabled]", ["dibao_urban", "disabled"]),
        ("['城市低保', '残疾']", ["dibao_urban", "disabled"]),
        ("城市低保,,城市低保", ["dibao_urban"]),
        ("", []),
        ("  ", []),
        (None, []),
        (float("nan"), []),
        ([], []),
    ],
)
def test_categories_lists(raw: object, expected: list[str]) -> None:
    assert categories(raw) == Check(expected, None)


@pytest.mark.parametrize(("word", "choices"), [
    ("低保", ("dibao_urban", "dibao_rural")), ("低保户", ("dibao_urban", "dibao_rural")),
    ("最低生活保障", ("dibao_urban", "dibao_rural")), ("DIBAO", ("dibao_urban", "dibao_rural")),
    ("五保", ("wubao_central", "wubao_home")), ("五保户", ("wubao_central", "wubao_home")),
])
def test_categories_ambiguous_words_are_asked_never_guessed(word: str, choices: tuple[str, ...]) -> None:
    # 低保 alone may be urban or rural, 五保 in a home or at home: refused, naming both meanings.
    check = categories(f"{word}、残疾")
    assert check.value is None and check.reason is not None
    zh, en = check.reason
    assert f"「{word}」" in zh and all(HARDSHIP[c].zh in zh for c in choices)
    assert repr(word) in en and all(c in en for c in choices)
    # Told what the word means in this file, it is read so; any other meaning is refused.
    for code in choices:
        assert categories(f"{word}、残疾", resolve={word: code}).value == [code, "disabled"]
        assert category_answer(word, HARDSHIP[code].zh).value == code
        assert category_answer(word, code).value == code
    assert category_answer(word, "特困").value is None
    assert category_answer("残疾", "disabled").value is None  # not an ambiguous word at all


def test_ambiguous_terms_lists_each_word_once_as_written() -> None:
    found = ambiguous_terms(["低保、残疾", "城市低保", None, "五保户；低保", "低保", ["低保户"], "农村低保"])
    assert found == {"低保": ("dibao_urban", "dibao_rural"), "五保户": ("wubao_central", "wubao_home"),
                     "低保户": ("dibao_urban", "dibao_rural")}
    assert ambiguous_terms(["城市低保、残疾", "分散五保", ""]) == {}


def test_categories_name_every_unknown_term() -> None:
    check = categories("低保、低保边缘户，XYZ 残疾、XYZ")
    assert check.value is None and check.reason is not None
    zh, en = check.reason
    assert "「低保边缘户」" in zh and "「XYZ」" in zh and zh.count("XYZ") == 1
    assert "'低保边缘户'" in en and "'XYZ'" in en
    assert "城市低保" in zh and "dibao_urban" in en  # lists the accepted values
    assert "category:" in _reason_en(categories("xyz")) and "categories:" in en
    assert "should be text" in _reason_en(categories(5))


# ---------------------------------------------------------------------------
# Dates and times
# ---------------------------------------------------------------------------

JAN5 = date(2026, 1, 5)


@pytest.mark.parametrize(
    "raw",
    [
        "2026-01-05", "2026-1-5", "2026/1/5", "2026/01/05", "2026.01.05", "2026年1月5日", "2026 年 1 月 5 日",
        "2026年01月05日", "20260105", "２０２６－０１－０５", "2026-01-05 00:00:00", "2026-01-05T14:30:00",
        JAN5, datetime(2026, 1, 5, 14, 30), pd.Timestamp("2026-01-05"), np.datetime64("2026-01-05"),
        46027, 46027.0, "46027", "46027.0", 46027.99, np.int64(46027),
    ],
)
def test_date_value_accepts(raw: object) -> None:
    assert date_value(raw) == Check(JAN5, None)


@pytest.mark.parametrize(
    ("serial", "expected"),
    # Well-known Excel serials (1900 date system).
    [(36526, date(2000, 1, 1)), (43831, date(2020, 1, 1)), (45658, date(2025, 1, 1)), (20000, date(1954, 10, 3))],
)
def test_date_value_excel_serials(serial: int, expected: date) -> None:
    assert date_value(serial).value == expected
    assert date_value(str(serial)).value == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("2026-02-30", "no such date: 2026-02-30"),
        ("2025-02-29", "no such date"),
        ("2026-13-01", "no such date"),
        ("2026年2月30日", "no such date"),
        ("2026-01-00", "no such date"),
        ("1/5/2026", "cannot read"),
        ("26/1/5", "cannot read"),
        ("next Monday", "cannot read"),
        ("2026-01-05 25:00", "no such time"),
        (19999, "serials only between"),
        (80001, "serials only between"),
        ("5", "serials only between"),
        (float("inf"), "serials only between"),
        ("", "empty"),
        (None, "empty"),
        (pd.NaT, "empty"),
        (float("nan"), "empty"),
        (True, "not a date"),
        ([2026, 1, 5], "not a date"),
    ],
)
def test_date_value_refuses(raw: object, why: str) -> None:
    assert why in _reason_en(date_value(raw))


def test_date_value_accepts_leap_day() -> None:
    assert date_value("2024-02-29").value == date(2024, 2, 29)


def test_date_value_bounds() -> None:
    assert "before 2000-01-01" in _reason_en(date_value("1999-12-31", earliest=EARLIEST_RECORD))
    assert date_value("2000-01-01", earliest=EARLIEST_RECORD).value == date(2000, 1, 1)
    assert "after 2026-01-05" in _reason_en(date_value("2026-01-06", latest=JAN5))
    assert date_value("2026-01-05 23:59", latest=JAN5).value == JAN5
    assert date_value(datetime(2026, 1, 5, 12), latest=datetime(2026, 1, 5, 9)).value == JAN5  # dates compare by day


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-05 08:30", datetime(2026, 1, 5, 8, 30)),
        ("2026-01-05T08:30:15", datetime(2026, 1, 5, 8, 30, 15)),
        ("2026/1/5 8:30", datetime(2026, 1, 5, 8, 30)),
        ("2026年1月5日 8时30分", datetime(2026, 1, 5, 8, 30)),
        ("2026年1月5日8点30分15秒", datetime(2026, 1, 5, 8, 30, 15)),
        ("2026-01-05T08:30:00.250", datetime(2026, 1, 5, 8, 30, 0, 250000)),
        ("2026-01-05", datetime(2026, 1, 5)),
        ("2026-01-05T00:30:00Z", datetime(2026, 1, 5, 8, 30)),  # to UTC+8
        ("2026-01-05T08:30:00+08:00", datetime(2026, 1, 5, 8, 30)),
        ("2026-01-05 09:30+0900", datetime(2026, 1, 5, 8, 30)),
        (pd.Timestamp("2026-01-05 00:30", tz="UTC"), datetime(2026, 1, 5, 8, 30)),
        (datetime(2026, 1, 5, 0, 30, tzinfo=UTC), datetime(2026, 1, 5, 8, 30)),
        (pd.Timestamp("2026-01-05 08:30"), datetime(2026, 1, 5, 8, 30)),
        (JAN5, datetime(2026, 1, 5)),
        (46027.5, datetime(2026, 1, 5, 12)),
        (46027.354166666664, datetime(2026, 1, 5, 8, 30)),  # 8:30 as Excel stores it
        ("46027.25", datetime(2026, 1, 5, 6)),
    ],
)
def test_datetime_value_accepts(raw: object, expected: datetime) -> None:
    check = datetime_value(raw)
    assert check == Check(expected, None)
    assert check.value is not None and check.value.tzinfo is None


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("2026-01-05 24:00", "no such time"),
        ("2026-01-05 08:61", "no such time"),
        ("2026-01-05 08:30:60", "no such time of day: 08:30:60"),
        ("2026-02-30 08:00", "no such date"),
        ("08:30", "cannot read"),
        ("", "empty"),
    ],
)
def test_datetime_value_refuses(raw: object, why: str) -> None:
    assert why in _reason_en(datetime_value(raw))


def test_datetime_value_bounds() -> None:
    assert datetime_value("2026-01-05 23:59", latest=JAN5).ok  # a date bound includes the whole day
    assert "is after 2026-01-05" in _reason_en(datetime_value("2026-01-06 00:00", latest=JAN5))
    assert "is after" in _reason_en(datetime_value("2026-01-05 10:00", latest=datetime(2026, 1, 5, 9)))
    assert "is before 2000-01-01" in _reason_en(datetime_value("1999-12-31 23:59", earliest=EARLIEST_RECORD))


# ---------------------------------------------------------------------------
# Amounts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234.50", "1234.50"), ("¥500", "500.00"), ("￥500", "500.00"), ("500元", "500.00"), ("500.00", "500.00"),
        ("500", "500.00"), (" 500 ", "500.00"), ("¥ 1,234", "1234.00"), ("人民币500元", "500.00"), ("RMB 500", "500.00"),
        ("0", "0.00"), ("0.5", "0.50"), (".5", "0.50"), ("+20", "20.00"), ("12,345,678.9", "12345678.90"),
        ("500.000", "500.00"), (500, "500.00"), (500.0, "500.00"), (99.99, "99.99"), (np.float64(0.01), "0.01"),
        (Decimal("12.5"), "12.50"), (12.300000000000001, "12.30"), ("9999999999.99", "9999999999.99"),
        ("１２３．４５元", "123.45"),
    ],
)
def test_amount_accepts(raw: object, expected: str) -> None:
    check = amount(raw)
    assert check == Check(Decimal(expected), None)
    assert check.value is not None and str(check.value) == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("-500", "negative"), ("-¥500", "negative"), ("¥-500", "negative"), ("(500)", "negative"), (-1.0, "negative"),
        (-1, "negative"), (Decimal("-0.01"), "negative"),
        ("1.005", "two decimals"), (1.005, "two decimals"), (Decimal("0.001"), "two decimals"),
        ("1,23", "not a valid amount"), ("12,34.5", "not a valid amount"), ("五百", "not a valid amount"),
        ("abc", "not a valid amount"), ("1e3", "not a valid amount"), ("1.5万", "not a valid amount"),
        ("NaN", "not a valid amount"), ("inf", "not a valid amount"), (float("inf"), "not a valid amount"),
        (float("nan"), "empty"), (None, "empty"), ("", "empty"),
        ("10000000000", "too large"), (1e20, "too large"),
        (True, "not an amount"), ([500], "not an amount"),
    ],
)
def test_amount_refuses(raw: object, why: str) -> None:
    assert why in _reason_en(amount(raw))


def test_amount_maximum() -> None:
    assert amount("1000", maximum=1000).value == Decimal("1000.00")
    assert "too large" in _reason_en(amount("1000.01", maximum=1000))


# ---------------------------------------------------------------------------
# Whole numbers and text
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3", 3), ("3.0", 3), (3.0, 3), (3, 3), (" 3 ", 3), ("３", 3), ("3人", 3), ("3口", 3), (np.int64(4), 4),
        (np.float32(2.0), 2), (Decimal("5"), 5), ("50", 50),
        ("一", 1), ("两", 2), ("三", 3), ("三口", 3), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23),
    ],
)
def test_positive_int_accepts(raw: object, expected: int) -> None:
    assert positive_int(raw, 1, 50) == Check(expected, None)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (3.5, "whole number"), ("3.5", "whole number"), (Decimal("3.5"), "whole number"), ("abc", "whole number"),
        ("一百", "whole number"), ("1e3", "whole number"), (True, "whole number"), (float("inf"), "whole number"),
        (0, "at least 1"), ("0", "at least 1"), ("零", "at least 1"), ("-2", "at least 1"),
        (51, "at most 50"), ("九十九", "at most 50"),
        ("", "empty"), (None, "empty"), (float("nan"), "empty"),
    ],
)
def test_positive_int_refuses(raw: object, why: str) -> None:
    assert why in _reason_en(positive_int(raw, 1, 50))


def test_positive_int_bounds_are_parameters() -> None:
    assert positive_int("0", low=0).value == 0
    assert positive_int("1000").value == 1000  # no upper bound by default


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("  张三  ", "张三"), ("\u3000李四\u200b", "李四"), ("思明区 中山路 1 号", "思明区 中山路 1 号"), (12, "12"), ("x" * 20, "x" * 20)],
)
def test_nonempty_text_accepts(raw: object, expected: str) -> None:
    assert nonempty_text(raw, 20) == Check(expected, None)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"), ("   ", "empty"), ("\u3000", "empty"), (None, "empty"), (float("nan"), "empty"),
        ("x" * 21, "too long: 21 characters, at most 20"), (12.0, "as a number"), (True, "not text"), (["a"], "not text"),
    ],
)
def test_nonempty_text_refuses(raw: object, why: str) -> None:
    assert why in _reason_en(nonempty_text(raw, 20))


# ---------------------------------------------------------------------------
# Check, is_blank, and the bilingual contract
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [None, float("nan"), np.nan, pd.NA, pd.NaT, np.datetime64("NaT"), "", "  ", "\u3000", "\u200b"]
)
def test_is_blank(value: object) -> None:
    assert is_blank(value)


@pytest.mark.parametrize("value", [0, 0.0, "0", "x", [], np.array([]), False, date(2026, 1, 1)])
def test_is_not_blank(value: object) -> None:
    assert not is_blank(value)


def test_check_problem_feeds_validation_error() -> None:
    raw = "1.10105194912310e+17"
    check = id_number(raw)
    problem = check.problem("households.xlsx", 3, "id_number", raw)
    assert problem == Problem("households.xlsx", 3, "id_number", raw, EXCEL_ZH, check.reason[1])  # type: ignore[index]
    err = ValidationError([problem, phone(None).problem("households.xlsx", 4, "phone", None)])
    assert "第3行" in str(err) and "[id_number]" in str(err) and "电话号码为空" in str(err)
    assert Check(3).ok and not Check(None, ("x", "y")).ok


VALIDATORS = [id_number, phone, date_value, datetime_value, amount, positive_int, nonempty_text]


@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("raw", ["%%%", "", 1e300, True])
def test_refusals_are_bilingual_and_never_carry_a_value(validator, raw) -> None:  # type: ignore[no-untyped-def]
    check = validator(raw)
    if check.ok:
        assert check.value is not None
        return
    zh, en = check.reason
    assert check.value is None

    def cjk(text: str) -> int:
        return sum("\u4e00" <= ch <= "\u9fff" for ch in text)

    assert cjk(zh) > cjk(en) and cjk(zh) >= 2, zh  # Chinese ...
    assert en[0].isascii() and en[0].islower(), en  # ... and English (which may quote 2026年1月5日)


# ---------------------------------------------------------------------------
# Control characters and bidirectional overrides
# ---------------------------------------------------------------------------

#: The bidirectional embeddings, overrides and isolates (Unicode's "Trojan Source" set).
BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def _forbidden(ch: str, multiline: bool) -> bool:
    """The oracle: Unicode's control category Cc (C0, DEL, C1) and the bidi set; tab and LF in multi-line text."""
    import unicodedata

    if multiline and ch in "\t\n":
        return False
    return unicodedata.category(ch) == "Cc" or ch in BIDI


@pytest.mark.parametrize("multiline", [False, True])
def test_every_code_point_of_the_bmp_is_judged_as_unicode_classifies_it(multiline) -> None:
    wrong = []
    for c in range(0x10000):
        if 0xD800 <= c <= 0xDFFF:
            continue  # surrogates are not characters
        ch = chr(c)
        text = f"张{ch}三"
        check = check_characters(text, multiline=multiline)
        if check.ok == _forbidden(ch, multiline):
            wrong.append(f"U+{c:04X}")
        elif not check.ok:
            assert find_control(text, multiline=multiline) == (2, f"U+{c:04X}")
            assert f"U+{c:04X}" in check.reason[0] and f"U+{c:04X}" in check.reason[1]  # type: ignore[index]
            assert ch not in check.reason[0] + check.reason[1]  # type: ignore[index]  # never the raw character
    assert not wrong, wrong[:20]


@pytest.mark.parametrize(("text", "position", "code"), [
    ("王\x00五", 2, "U+0000"),
    ("admin\u202egnp.exe", 6, "U+202E"),
    ("\u2066中山路1号\u2069", 1, "U+2066"),
    ("响铃\x07", 3, "U+0007"),
    ("删除\x7f", 3, "U+007F"),
    ("C1\x85控制", 3, "U+0085"),
    ("第一行\n第二行", 4, "U+000A"),
    ("姓\t名", 2, "U+0009"),
    ("回车\r", None, None),  # a trailing CR is a blank every field trims
    ("孤立\r回车", 3, "U+000D"),
    ("  \t 前后空白\n", None, None),
])
def test_one_line_fields_refuse_controls_with_their_position(text, position, code) -> None:
    hit = find_control(text)
    assert hit == (None if position is None else (position, code))
    assert check_characters(text).ok is (position is None)


def test_multi_line_fields_allow_tab_and_line_breaks_only() -> None:
    ok = check_characters("第一行\r\n第二行\n\t缩进", multiline=True)
    assert ok.value == "第一行\n第二行\n\t缩进"  # CR LF becomes LF
    assert check_characters("第一行\n\u202e第二行", multiline=True).reason[1] == (  # type: ignore[index]
        "holds a forbidden bidirectional control character U+202E (character 5); remove it and try again")
    assert find_control("甲\r乙", multiline=True) == (2, "U+000D")  # a lone CR is not a line break
    assert find_control("甲\x00\n乙", multiline=True) == (2, "U+0000")
    assert "只能写一行" in check_characters("a\nb").reason[0]  # type: ignore[index]


def test_visible_shows_code_points_never_the_characters() -> None:
    raw = "甲\x00乙\u202e丙\n丁\t"
    shown = visible(raw)
    assert shown == "甲[U+0000]乙[U+202E]丙[U+000A]丁[U+0009]"
    assert all(not _forbidden(ch, False) for ch in shown)
    assert visible("普通文字 plain") == "普通文字 plain"


# ---------------------------------------------------------------------------
# Record times: not after today (China Standard Time)
# ---------------------------------------------------------------------------

def test_china_today_is_utc_plus_8_whatever_the_server_zone() -> None:
    assert china_today(datetime(2026, 1, 5, 15, 59, 59, tzinfo=UTC)) == date(2026, 1, 5)
    assert china_today(datetime(2026, 1, 5, 16, 0, tzinfo=UTC)) == date(2026, 1, 6)
    assert china_today(datetime(2026, 1, 5, 23, 0)) == date(2026, 1, 5)  # naive: already China time
    beijing = datetime.now(UTC) + timedelta(hours=8)
    assert china_today() in (beijing.date(), (beijing + timedelta(seconds=5)).date())


@pytest.mark.parametrize(("raw", "ok"), [
    ("2026-01-05 23:59:59", True),       # later today: accepted
    ("2026-01-05", True),
    (datetime(2026, 1, 4, 8, 0), True),
    ("2026-01-06 00:00", False),         # tomorrow
    ("2099-01-01", False),
    ("2026-01-06T07:59+08:00", False),
    ("2026-01-05T23:59Z", False),        # 07:59 on the 6th in Beijing
    ("2026-01-05T15:59Z", True),         # 23:59 on the 5th in Beijing
    ("1999-12-31", False),
    (str(EARLIEST_RECORD), True),
])
def test_record_times_run_from_2000_to_the_end_of_today(raw, ok) -> None:
    check = record_time(raw, today=TODAY)
    assert check.ok is ok, check.reason
    if not ok and "1999" not in str(raw):
        assert "在未来" in check.reason[0] and "in the future" in check.reason[1]  # type: ignore[index]
