"""The column versions of the ID-number and phone validators (grid.validators_columns) agree with the per-row ones.

Agreement means: for every value, the same normalised value when accepted and the same
reason, word for word in both languages, when refused. Checked on every case of the
per-row validators' own tests (read from their parametrize lists, so a case added there
is checked here too), on synthetic ID numbers, and on generated values built to sit on
the edges (dates that do not exist, 29 February, future births, wrong check digits,
spaces, dashes, area codes). A whole import gives the same problems and values with the
column path as with the per-row path alone.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grid import ingest, validators_columns
from grid.validators import id_number, phone
from grid.validators_columns import id_number_column, id_numbers, phone_column, phones
from tests import test_validators as tv

TODAY = tv.TODAY


def _cases(*tests: Any) -> list[Any]:
    """The first argument of every parametrized case of ``tests``."""
    out = []
    for t in tests:
        for mark in getattr(t, "pytestmark", []):
            if mark.name == "parametrize":
                for case in mark.args[1]:
                    values = case.values if hasattr(case, "values") else case
                    out.append(values[0] if isinstance(values, tuple) else values)
    assert out, "no parametrized cases found"
    return out


ID_CASES = _cases(tv.test_id_number_accepts, tv.test_id_number_refuses_numbers_that_lost_digits,
                  tv.test_id_number_refuses)
PHONE_CASES = _cases(tv.test_phone_accepts, tv.test_phone_refuses_spreadsheet_numbers, tv.test_phone_refuses)


def _agree_ids(values: list[Any], today: date = TODAY) -> None:
    got, reasons = id_numbers(values, today=today)
    for i, v in enumerate(values):
        one = id_number(v, today=today)
        assert (got[i], reasons.get(i)) == (one.value, one.reason), f"row {i}: {v!r}"


def _agree_phones(values: list[Any]) -> None:
    got, reasons = phones(values)
    for i, v in enumerate(values):
        one = phone(v)
        assert (got[i], reasons.get(i)) == (one.value, one.reason), f"row {i}: {v!r}"


def test_every_case_of_the_id_number_tests_agrees() -> None:
    assert len(ID_CASES) >= 40
    _agree_ids(ID_CASES)


def test_every_case_of_the_phone_tests_agrees() -> None:
    assert len(PHONE_CASES) >= 50
    _agree_phones(PHONE_CASES)


def test_synthetic_ids_and_every_wrong_check_digit_agree() -> None:
    rng = random.Random(20261201)
    values: list[Any] = []
    for _ in range(300):
        idn = tv._synthetic_id(rng)
        values += [idn, idn.lower(), *(idn[:17] + c for c in "0123456789X" if c != idn[-1])]
    _agree_ids(values)


def test_the_column_path_settles_the_plain_values_and_only_those() -> None:
    """What makes it fast: ID numbers and phones as typed normally never reach the per-row validator."""
    rng = random.Random(5)
    ids = [tv._synthetic_id(rng) for _ in range(200)]
    settled, values = id_number_column(ids + [ids[0].lower(), " " + ids[1], ids[2][:17] + "Y"], today=TODAY)
    assert settled.tolist() == [True] * 201 + [False, False]
    assert values[:201] == ids + [ids[0]]
    plain = ["13800138000", "19912345678", "0592-1234567", "010-12345678", "021-87654321"]
    settled, values = phone_column(plain + ["138 0013 8000", "05921234567", "13800138000.0", "0592-0234567"])
    assert settled.tolist() == [True] * 5 + [False] * 4
    assert values[:5] == plain


def _iso(body: str) -> str:
    return body + tv._iso7064_mod11_2(body)


def near_id(rng: random.Random) -> Any:
    """An ID number on the edges: any province code, dates around month ends, leap days and today."""
    year = rng.choice([1899, 1900, 1999, 2000, 2024, 2025, 2026, 2027, 2100, rng.randint(1890, 2030)])
    body = f"{rng.randint(0, 99):02d}0203{year:04d}{rng.randint(0, 13):02d}{rng.randint(0, 32):02d}{rng.randint(0, 999):03d}"
    idn = _iso(body)
    form = rng.choice(["as is", "as is", "lower", "wrong check", "with space", "15 digits", "int", "cut", "extra"])
    if form == "lower":
        return idn.lower()
    if form == "wrong check":
        return body + rng.choice("0123456789Xx")
    if form == "with space":
        return idn[:6] + " " + idn[6:]
    if form == "15 digits":
        return idn[:6] + idn[8:17]
    if form == "int":
        return int(idn[:17] + ("0" if idn[17] == "X" else idn[17]))
    if form == "cut":
        return idn[: rng.randint(0, 17)]
    if form == "extra":
        return idn + rng.choice("0123456789")
    return idn


def near_phone(rng: random.Random) -> Any:
    """A mobile or a landline, well or badly formed."""
    def digits(lo: int, hi: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(lo, hi)))

    kind = rng.choice(["mobile", "landline", "free"])
    if kind == "mobile":
        return rng.choice(["1", "1", "+86", "86", "0086 ", "1 "]) + digits(9, 11)
    if kind == "landline":
        area = rng.choice(["010", "020", "021", "029", "0592", "0755", "0201", "0000", "592", ""])
        return (area + rng.choice(["-", "-", " ", "", ")", "--"]) + digits(5, 9)
                + rng.choice(["", "", "转8001", "-8001", " ext 12"]))
    return "".join(rng.choice("0123456789-+() x转#.e") for _ in range(rng.randint(0, 18)))


def test_generated_id_numbers_agree() -> None:
    rng = random.Random(20261201)
    _agree_ids([near_id(rng) for _ in range(2_500)], TODAY)
    _agree_ids([near_id(rng) for _ in range(500)], date(2027, 6, 30))


def test_generated_phones_agree() -> None:
    rng = random.Random(8)
    _agree_phones([near_phone(rng) for _ in range(2_500)])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text("0123456789Xx '-１", max_size=20), min_size=1, max_size=20),
       st.dates(date(2020, 1, 1), date(2030, 12, 31)))
def test_any_text_of_id_characters_agrees(values: list[Any], today: date) -> None:
    _agree_ids(values, today)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text("0123456789-+() x转#.e", max_size=16), min_size=1, max_size=20))
def test_any_text_of_phone_characters_agrees(values: list[Any]) -> None:
    _agree_phones(values)


def test_an_import_gives_the_same_problems_and_values_with_and_without_the_column_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(9)
    good = [tv._synthetic_id(rng) for _ in range(30)]
    ids = good[:20] + ["110105194912310021", "１１０１０５１９４９１２３１００２Ｘ", "110105491231002", "",
                       "990105194912310021", good[20].lower(), "1.10105194912310e+17", "110105202701060017",
                       " " + good[21], "abc"]
    tel = ["13800138000", "0592-1234567", "138 0013 8000", "12345678901", "", "8765432", "0592-1234567转8001",
           "13800138000.0", "+86 13800138000", "abc"] * 3
    rows = [{"户编号": f"H{i:03d}", "户主姓名": f"户主{i}", "身份证号": ids[i], "联系电话": tel[i], "地址": "中山路1号",
             "人口数": "2", "类别": "", "经度": "118.08", "纬度": "24.48"} for i in range(30)]
    path = tmp_path / "hh.csv"
    path.write_text("\n".join([",".join(rows[0])] + [",".join(r.values()) for r in rows]) + "\n", encoding="utf-8")

    def run() -> tuple[list[tuple[Any, ...]], dict[str, list[Any]]]:
        prepared = ingest.validate(ingest.read_source(path), "households")
        problems = [(p.where, p.row, p.field, p.value, p.zh, p.en) for p in prepared.problems]
        return problems, {c: prepared.frame[c].tolist() for c in ("id_number", "phone")}

    with_columns = run()
    monkeypatch.setattr(ingest, "COLUMN_CHECKS", {})
    assert validators_columns.COLUMN_CHECKS  # the module's own table is untouched
    assert run() == with_columns
    problems, values = with_columns
    # Rows as the spreadsheet numbers them (data from row 2): the wrong check digit (22), the 15-digit form of
    # row 23's full-width number, the same person (24), an unknown province (26), digits lost to a float (28),
    # a future birth (29) and letters (31); the blank (25) is allowed, the lower-case x and the space are fixed.
    assert {p[1] for p in problems if p[2] == "身份证号"} == {22, 24, 26, 28, 29, 31}
    assert "23" in next(p[5] for p in problems if p[1] == 24)
    assert values["id_number"][:20] == good[:20]
    assert values["phone"][:3] == ["13800138000", "0592-1234567", "13800138000"]


def test_synthetic_dates_are_checked_against_the_calendar() -> None:
    """Every day of four years (two leap years, 1900 not one) and the days that do not exist."""
    values = []
    day = date(1899, 12, 25)
    while day < date(1901, 1, 5):
        values.append(_iso(f"350203{day:%Y%m%d}001"))
        day += timedelta(days=1)
    for y in (2000, 2023, 2024, 2100):
        for m in range(0, 14):
            for d in (0, 28, 29, 30, 31, 32):
                values.append(_iso(f"350203{y:04d}{m:02d}{d:02d}001"))
    _agree_ids(values, date(2026, 12, 1))


def _field(kind: str, name: str) -> Any:
    return next(f for f in ingest._kind(kind).fields if f.name == name)


def _settled_agree(column: Any, kind: str, name: str, values: list[Any]) -> int:
    """Every row the column path settles gets what the importer's own per-row parser (behind the
    control-character check) gives it; returns how many were settled."""
    f = _field(kind, name)
    per_row = ingest._checked(f, ingest._parser(ingest._kind(kind), f))
    settled, got = column(values)
    for i in settled.nonzero()[0].tolist():
        assert per_row(values[i]) == (got[i], None), f"row {i}: {values[i]!r}"
    return int(settled.sum())


TEXTS = ["张三", "  张三", "张三\u3000", "'=1+1", "'张三", "H0001", "中山路1号", "a\u202eb", "a\u200b", "\u200ba",
         "第一行\n第二行", "a\tb", "x" * 500, "x" * 501, "1", "", " ", "王\x00五", "Ⅻ", "李四 ", "😀", "a😀b", "١٢٣"]


def test_text_values_settled_by_the_column_path_agree_with_the_importer() -> None:
    assert _settled_agree(validators_columns.text_column, "households", "address", TEXTS) == 8
    assert _settled_agree(validators_columns.text_column, "households", "head_name", TEXTS) == 8


@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(max_size=12) | st.text("张三 \u3000'\t\n\u200b\u202ea1=", max_size=8), min_size=1, max_size=30))
def test_generated_texts_agree(values: list[Any]) -> None:
    _settled_agree(validators_columns.text_column, "households", "address", values)


def test_generated_coordinates_agree() -> None:
    rng = random.Random(3)
    values: list[Any] = []
    for _ in range(2_000):
        x = rng.uniform(-180, 180)
        values += [repr(x), f"{x:.{rng.randint(0, 16)}f}", "".join(rng.choice("0123456789.-e° ") for _ in range(6))]
    assert _settled_agree(validators_columns.coordinate_column, "households", "lon", values) > 3_000
    _settled_agree(validators_columns.coordinate_column, "households", "lat", values)


def test_plain_coordinates_are_settled() -> None:
    values = ["118.0812345", "-24.5", "24", "118.081234567890123", "118.0812345678901234", "1e5", " 118.1", "118.",
              "abc"]
    assert _settled_agree(validators_columns.coordinate_column, "households", "lon", values) == 4


# ------------------------------------------------------------------ the control-character screen
SCREEN_CHARS = st.sampled_from(["a", "张", " ", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\x85", "\x9f", "\xa0",
                                "\u202a", "\u202e", "\u2066", "\u2069", "\u206a", "\u3000", "\ufeff"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.lists(SCREEN_CHARS, max_size=6).map("".join), st.none(), st.integers(0, 9)),
                max_size=8), st.booleans())
def test_the_column_screen_for_control_characters_agrees_with_the_per_row_screen(values: list[Any],
                                                                                 multiline: bool) -> None:
    """Over a list and over Arrow strings read from a CSV (a TextColumn), the one RE2 scan answers
    what grid.validators.may_hold_control answers."""
    import pandas as pd

    from grid import validators

    want = validators.may_hold_control(values, multiline=multiline)
    assert validators_columns.may_hold_control(values, multiline=multiline) == want
    texts = [v if isinstance(v, str) else None for v in values]
    col = validators_columns.text_column_of(pd.Series(texts, dtype="str"))
    assert isinstance(col, validators_columns.TextColumn) or not texts
    assert validators_columns.may_hold_control(col, multiline=multiline) == \
        validators.may_hold_control(texts, multiline=multiline)


def test_a_text_column_gives_the_checks_the_same_answers_as_its_list() -> None:
    import pandas as pd

    texts = ["11010519491231002x", "13800138000", " 张三", "张三", None, "118.0812345", "0592-1234567"]
    col = validators_columns.text_column_of(pd.Series(texts, dtype="str"))
    assert isinstance(col, validators_columns.TextColumn)
    plain = [t if t is not None else float("nan") for t in texts]
    for check in validators_columns.COLUMN_CHECKS.values():
        a, b = check(col), check(plain)
        assert a[0].tolist() == b[0].tolist() and a[1] == b[1]


# Every character Python's str.strip() takes off, and some it does not (zero-width, no-break space is one it does).
BLANK_CHARS = st.sampled_from([chr(c) for c in range(0x110000) if chr(c).isspace()]
                              + ["a", "张", "0", "\u200b", "\ufeff", "\x00", "'"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.lists(BLANK_CHARS, max_size=4).map("".join), st.none(), st.just(float("nan")),
                          st.integers(0, 9)), max_size=10))
def test_the_blank_screen_agrees_with_the_per_cell_rule(values: list[Any]) -> None:
    """A cell is blank when it is None, NaN or a text that str.strip() empties: one RE2 scan over Arrow
    strings and the per-cell rule over a list answer the same for every cell."""
    import pandas as pd

    def by_hand(v: Any) -> bool:
        return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())

    want = [by_hand(v) for v in values]
    assert validators_columns.blank_column(values).tolist() == want
    assert [validators_columns.blank_cell(v) for v in values] == want
    texts = [v if isinstance(v, str) else None for v in values]
    col = validators_columns.text_column_of(pd.Series(texts, dtype="str"))
    assert validators_columns.blank_column(col).tolist() == [by_hand(v) for v in texts]


def test_every_whitespace_character_alone_is_blank_and_next_to_a_letter_is_not() -> None:
    import pandas as pd

    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    texts = spaces + [s + "a" for s in spaces] + ["\u200b", "\ufeff"]
    col = validators_columns.text_column_of(pd.Series(texts, dtype="str"))
    assert validators_columns.blank_column(col).tolist() == [True] * len(spaces) + [False] * (len(spaces) + 2)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "A", "1"]), st.integers(1, 3)), max_size=12),
       st.randoms(use_true_random=False))
def test_repeats_are_what_a_dict_of_first_rows_gives(values: list[Any], rnd: random.Random) -> None:
    import numpy as np

    usable = [rnd.random() < 0.8 for _ in values]
    first: dict[Any, int] = {}
    later, earlier = [], []
    for i, v in enumerate(values):
        if v is None or not usable[i]:
            continue
        j = first.setdefault(v, i)
        if j != i:
            later.append(i)
            earlier.append(j)
    got_firsts, got_later, got_earlier = ingest._repeats(values, np.array(usable, dtype=bool))
    assert got_firsts.tolist() == list(first.values())
    assert got_later.tolist() == later and got_earlier.tolist() == earlier


PARSE_TEXTS = ["2", "２", " 3 ", "0", "-1", "2.0", "abc", "低保", "低保户,特困", "特困人员；残疾", "在册", "退出",
               "迁出", "张三", "=1+1", "'=1+1", "H001", "１１８.０８", "118.08", "1e3", "\u202e", "x" * 600, "户主"]


@pytest.mark.parametrize("field", [f.name for f in ingest.KINDS["households"].fields])
def test_parsing_each_distinct_text_once_is_parsing_every_row(field: str) -> None:
    """The importer parses a text column once per distinct text: every row gets the value and the
    reason one call per row gives, for every field of a household."""
    import numpy as np
    import pandas as pd

    spec = ingest.KINDS["households"]
    parse = ingest._parser(spec, spec.field(field))
    rng = random.Random(field)
    texts = [rng.choice(PARSE_TEXTS) for _ in range(200)]
    col = validators_columns.text_column_of(pd.Series(texts, dtype="str"))
    assert isinstance(col, validators_columns.TextColumn)
    for raw in (col, list(texts)):
        vals: list[Any] = [None] * len(texts)
        refused: dict[int, Any] = {}

        def refuse(i: int, v: Any, why: tuple[str, str], refused: dict[int, Any] = refused) -> None:
            refused[i] = (v, why)

        todo = np.arange(0, len(texts), 2)  # the rows a column check left, here every other one
        ingest._parse_rows(raw, todo, parse, vals, refuse)
        for i, t in enumerate(texts):
            if i % 2:
                assert vals[i] is None and i not in refused
                continue
            val, why = parse(t)
            assert (vals[i], refused.get(i)) == ((None, (t, why)) if why is not None else (val, None)), t


def test_an_import_gives_the_same_problems_and_values_over_arrow_strings_as_over_lists(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole columns (Arrow strings: the blank screen, one parse per distinct text, the repeats of keys
    and ID numbers) give what the row-by-row path over plain lists gives, problem for problem."""
    rng = random.Random(11)
    good = [tv._synthetic_id(rng) for _ in range(12)]
    rows = []
    for i in range(40):
        rows.append({"户编号": rng.choice([f"H{i:03d}", f"H{i:03d}", "H001", "", " "]),
                     "户主姓名": rng.choice([f"户主{i % 7}", "", "\u3000", "张三", "张 三", "李四"]),
                     "身份证号": rng.choice(good + ["", "110105194912310021"]),
                     "联系电话": rng.choice(["13800138000", "", "abc"]),
                     "地址": rng.choice(["中山路1号", "", "=HYPERLINK()", " 中山路2号 "]),
                     "人口数": rng.choice(["2", "", "0", "２", "x"]),
                     "类别": rng.choice(["", "低保", "特困,残疾", "什么"]),
                     "状态": rng.choice(["", "在册", "迁出", "??"]),
                     "经度": "118.08", "纬度": "24.48"})
    path = tmp_path / "hh.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)

    def run() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[str, list[Any]]]:
        prepared = ingest.validate(ingest.read_source(path), "households")
        problems = [(p.where, p.row, p.field, p.value, p.zh, p.en) for p in prepared.problems]
        notes = [(p.where, p.row, p.field, p.value, p.zh, p.en) for p in prepared.notes]
        cols = [c for c in prepared.frame.columns if c != "_wkb"]
        return problems, notes, {c: prepared.frame[c].tolist() for c in cols}

    over_arrow = run()
    monkeypatch.setattr(validators_columns, "text_column_of", lambda series: series.tolist())
    over_lists = run()
    assert over_lists == over_arrow
    problems = over_arrow[0]
    fields = {p[2] for p in problems}
    assert {"户编号", "户主姓名", "身份证号", "人口数"} <= fields, fields  # the file holds each kind of problem
    assert any("编号重复" in p[4] for p in problems) and any(p[4] == "户主姓名为空" for p in problems)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False,
                                                                                     allow_infinity=False)),
                max_size=20))
def test_points_are_written_as_shapely_writes_them(xy: list[tuple[float, float]]) -> None:
    import numpy as np
    import shapely

    lon = np.array([p[0] for p in xy], dtype=float)
    lat = np.array([p[1] for p in xy], dtype=float)
    assert ingest._point_wkb(lon, lat) == list(shapely.to_wkb(shapely.points(lon, lat), byte_order=1))
    assert [(g.x, g.y) for g in shapely.from_wkb(ingest._point_wkb(lon, lat))] == xy
