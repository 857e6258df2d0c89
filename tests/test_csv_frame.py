"""Reading a CSV's text (grid.sources.csv_frame): Arrow's parser reads what it can, and
whatever it reads is exactly what pandas reads (``dtype=str, keep_default_na=False``);
what pandas would read otherwise, or refuse, goes to pandas itself.

The oracle is pandas' own reader on the same text; hypothesis draws texts from the
characters that make CSV hard (separators, quotes, line breaks of three kinds, spaces,
NUL, Chinese, a BOM) and from whole tables with hostile values."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hs

from grid import sources


def _pandas(text: str) -> pd.DataFrame | type[BaseException]:
    """What the product read before Arrow: pandas on the UTF-8 bytes, or the kind of error."""
    try:
        return pd.read_csv(io.BytesIO(text.encode("utf-8")), encoding="utf-8", dtype=str,
                           keep_default_na=False, skipinitialspace=False)
    except Exception as exc:  # the kind of error is what must not change
        return type(exc)


def _ours(text: str) -> pd.DataFrame | type[BaseException]:
    try:
        return sources.csv_frame(text)
    except Exception as exc:
        return type(exc)


def _same(a: Any, b: Any) -> None:
    if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame):
        assert list(a.columns) == list(b.columns)
        assert a.shape == b.shape
        assert a.astype(object).where(a.notna(), None).values.tolist() == \
            b.astype(object).where(b.notna(), None).values.tolist()
        assert [str(t) for t in a.dtypes] == [str(t) for t in b.dtypes]
    else:
        assert a == b


HARD = hs.sampled_from([",", '"', "\n", "\r", "\r\n", " ", "\t", "\x00", "a", "b", "1", "中", "户",
                        "\ufeff", "=", "#", "'", "\\", ";"])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.tuples(hs.sampled_from(["", "a,b,c\n", "户编号,户主姓名\r\n", "a,b\r"]),
                 hs.lists(HARD, max_size=40).map("".join)).map("".join))
@example('a,b\n"x"y,1\n')           # text after a closing quote
@example('a,b\n1,2,3\n')            # a long row: pandas takes the first column as the index
@example('a,b\n1\n')                # a short row: pandas fills the rest with empty values
@example('a,a\n1,2\n')              # repeated names: pandas renames the second a.1
@example(',b\n1,2\n')               # an empty name: pandas calls it Unnamed: 0
@example('a,b\n"1\n2",3\n')         # a line break inside quotes
@example('a,b\r1,2\r')              # old Mac line ends
@example('a,b\n\r,,1\n')            # a carriage return that ends no line
@example('a,b\n\n1,2\n\n')          # blank lines
@example('a\n\n')                   # a header and blank lines only
@example('')                        # nothing at all
@example('a,b\n1, 2\n')             # a space after the separator is kept
@example('a,b\n"",""\n')            # quoted empty values
def test_any_text_reads_as_pandas_reads_it(text: str) -> None:
    _same(_ours(text), _pandas(text))


ROW_VALUE = hs.lists(hs.sampled_from(list('ab中 ,"\n\r=+-@\t\'') + ["\x00", "户主"]), max_size=6).map("".join)


@settings(max_examples=200, deadline=None)
@given(hs.lists(hs.lists(ROW_VALUE, min_size=3, max_size=3), min_size=0, max_size=12),
       hs.booleans())
def test_tables_written_by_a_spreadsheet_read_back_as_written(rows: list[list[str]], crlf: bool) -> None:
    """A table written by a CSV writer (quoting where needed) reads back identically to pandas'."""
    import csv

    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(["户编号", "户主姓名", "地址"])
    w.writerows(rows)
    text = buf.getvalue()
    _same(_ours(text), _pandas(text))


def test_arrow_reads_the_ordinary_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ordinary household file is read by Arrow, not handed to pandas (the fast path is taken)."""
    calls: list[int] = []
    real = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: calls.append(1) or real(*a, **k))
    text = "户编号,户主姓名,身份证号,经度\nH1,张三,110101194001010014,118.09\nH2,\"李, 四\",,118.1\n"
    frame = sources.csv_frame(text)
    assert calls == []
    assert frame.values.tolist() == [["H1", "张三", "110101194001010014", "118.09"],
                                     ["H2", "李, 四", "", "118.1"]]


def test_a_short_row_goes_to_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: calls.append(1) or real(*a, **k))
    frame = sources.csv_frame("a,b\n1\n")
    assert calls == [1]
    assert frame.values.tolist() == [["1", ""]]  # pandas fills a short row with empty values
