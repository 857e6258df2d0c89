"""The bulletin (情况通报): its numbers against direct SQL, and its Excel and PDF files."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from grid.campaigns import cli_audit
from grid.errors import WarmGridError
from grid.pdfdoc import find_cjk_font
from grid.reports import Bulletin, bulletin_data, bulletin_pdf, bulletin_xlsx
from grid.store import Store
from tests.actors import EVERYTHING
from tests.browsing import CJK_FONT
from tests.sysdeps import ensure_packages

SINCE, UNTIL = date(2025, 12, 1), date(2026, 2, 28)
RARE = "𠮷"  # U+20BB7, CJK extension B: in names, often missing from fonts


# --------------------------------------------------------------------------- optional test dependencies
@pytest.fixture(scope="session")
def cjk_font() -> tuple[Path, int]:
    """The CJK font; fonts-noto-cjk is installed when missing (tests/sysdeps.py), else the test fails clearly."""
    try:
        return find_cjk_font()
    except WarmGridError:
        problem = ensure_packages({"fonts-noto-cjk": CJK_FONT}, "the PDF tests")
        if problem:
            pytest.fail(problem)
        return find_cjk_font()


@pytest.fixture(scope="session")
def pdftotext() -> str | None:
    """``pdftotext``; poppler-utils is installed when missing (tests/sysdeps.py), else None."""
    ensure_packages({"poppler-utils": "pdftotext"}, "the PDF tests")
    return shutil.which("pdftotext")


# --------------------------------------------------------------------------- direct SQL
_IN_UNIT = ("(SELECT h.hh_id FROM households h JOIN cells c ON c.cell_id = h.cell_id WHERE c.community_code IN"
            " (SELECT code FROM admin_units WHERE level = 'community' AND (code = $u OR parent_code = $u"
            "  OR parent_code IN (SELECT code FROM admin_units WHERE parent_code = $u))))")
_PERIOD = "{col} >= $since::DATE AND {col} < ($until::DATE + INTERVAL 1 DAY)"


def _direct(store: Store, unit: str) -> dict[str, Any]:
    p = {"u": unit, "since": SINCE, "until": UNTIL}
    visits = _PERIOD.format(col="visited_at")
    out: dict[str, Any] = {
        "visits": store.scalar(f"SELECT count(*) FROM visits WHERE hh_id IN {_IN_UNIT} AND {visits}", p),
        "households_visited": store.scalar(
            f"SELECT count(DISTINCT hh_id) FROM visits WHERE hh_id IN {_IN_UNIT} AND {visits}", p),
        "people_visited": store.scalar(
            "SELECT coalesce(sum(size), 0) FROM households WHERE hh_id IN"
            f" (SELECT hh_id FROM visits WHERE hh_id IN {_IN_UNIT} AND {visits})", p),
        "households": store.scalar(f"SELECT count(*) FROM households WHERE status = 'active'"
                                   f" AND hh_id IN {_IN_UNIT}", {"u": unit}),
        "vulnerable": store.scalar(f"SELECT count(*) FROM households WHERE status = 'active'"
                                   f" AND len(categories) > 0 AND hh_id IN {_IN_UNIT}", {"u": unit}),
        "vulnerable_visited": store.scalar(
            "SELECT count(*) FROM households WHERE status = 'active' AND len(categories) > 0"
            f" AND hh_id IN (SELECT hh_id FROM visits WHERE hh_id IN {_IN_UNIT} AND {visits})", p),
        "needs_raised": store.scalar(
            f"SELECT count(*) FROM needs WHERE hh_id IN {_IN_UNIT} AND {_PERIOD.format(col='raised_at')}", p),
        "needs_resolved": store.scalar(
            f"SELECT count(*) FROM needs WHERE hh_id IN {_IN_UNIT} AND {_PERIOD.format(col='raised_at')}"
            f" AND status IN ('resolved', 'answered', 'closed') AND {_PERIOD.format(col='resolved_at')}", p),
    }
    money = store.query(
        "SELECT programme, sum(amount_yuan)::DOUBLE AS cash, sum(goods_value_yuan)::DOUBLE AS goods,"
        " count(DISTINCT hh_id) AS helped"
        f" FROM assistance WHERE hh_id IN {_IN_UNIT} AND {_PERIOD.format(col='given_at')} GROUP BY programme", p)
    out["cash_yuan"] = round(float(money["cash"].sum()), 2)
    out["goods_yuan"] = round(float(money["goods"].sum()), 2)
    out["households_helped"] = store.scalar(
        f"SELECT count(DISTINCT hh_id) FROM assistance WHERE hh_id IN {_IN_UNIT}"
        f" AND {_PERIOD.format(col='given_at')}", p)
    out["_programmes"] = {r.programme: (round(r.cash, 2), round(r.goods, 2), r.helped)
                          for r in money.itertuples()}
    return {k: (int(v) if k not in ("cash_yuan", "goods_yuan", "_programmes") else v) for k, v in out.items()}


def _street(store: Store) -> str:
    return str(store.scalar("SELECT min(code) FROM admin_units WHERE level = 'street'"))


def _district(store: Store) -> str:
    return str(store.scalar("SELECT code FROM admin_units WHERE level = 'district'"))


@pytest.fixture(scope="module")
def bulletin(store: Store) -> Bulletin:
    return bulletin_data(store, _district(store), SINCE, UNTIL, report_date=date(2026, 3, 5), scope=EVERYTHING)


# --------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("level", ["district", "street"])
def test_headline_equals_direct_sql(store: Store, level: str) -> None:
    unit = _district(store) if level == "district" else _street(store)
    b = bulletin_data(store, unit, SINCE, UNTIL, scope=EVERYTHING)
    want = _direct(store, unit)
    assert want["visits"] > 0 and want["needs_raised"] > 0 and want["cash_yuan"] > 0  # the test means something
    for key, value in want.items():
        if key.startswith("_"):
            continue
        assert b.headline[key] == pytest.approx(value), key
    assert b.headline["total_yuan"] == pytest.approx(want["cash_yuan"] + want["goods_yuan"])
    assert b.headline["resolution_rate"] == pytest.approx(want["needs_resolved"] / want["needs_raised"])
    assert b.headline["coverage"] == pytest.approx(want["vulnerable_visited"] / want["vulnerable"])
    got = {r.programme: (r.cash_yuan, r.goods_yuan, r.households_helped) for r in b.programmes.itertuples()}
    assert got.keys() == want["_programmes"].keys()
    for prog, (cash, goods, helped) in want["_programmes"].items():
        assert got[prog][0] == pytest.approx(cash) and got[prog][1] == pytest.approx(goods)
        assert got[prog][2] == helped


def test_tables_add_up_to_headline(store: Store, bulletin: Bulletin) -> None:
    b = bulletin
    assert len(b.by_street) == store.scalar("SELECT count(*) FROM admin_units WHERE level = 'street'")
    assert len(b.by_community) == store.scalar("SELECT count(*) FROM admin_units WHERE level = 'community'")
    for key in ("visits", "households_visited", "people_visited", "households", "vulnerable",
                "vulnerable_visited", "households_helped", "needs_raised", "needs_resolved"):
        assert int(b.by_street[key].sum()) == b.headline[key], key
        assert int(b.by_community[key].sum()) == b.headline[key], key
    for key in ("cash_yuan", "goods_yuan", "total_yuan"):
        assert float(b.by_street[key].sum()) == pytest.approx(b.headline[key]), key
    assert float(b.programmes["total_yuan"].sum()) == pytest.approx(b.headline["total_yuan"])
    # a street's bulletin equals its row of the district's table
    street = _street(store)
    s = bulletin_data(store, street, SINCE, UNTIL, scope=EVERYTHING)
    row = b.by_street.set_index("street_code").loc[street]
    for key in ("visits", "households_visited", "needs_raised", "needs_resolved", "cash_yuan"):
        assert s.headline[key] == pytest.approx(row[key]), key


def test_gaps_rank_by_unvisited_vulnerable(bulletin: Bulletin) -> None:
    g = bulletin.gaps
    assert not g.empty
    assert list(g["unvisited_vulnerable"]) == sorted(g["unvisited_vulnerable"], reverse=True)
    assert (g["unvisited_vulnerable"] == g["vulnerable"] - g["vulnerable_visited"]).all()


def test_campaign_omissions_and_duplicates(store: Store) -> None:
    cid = str(store.scalar("SELECT min(campaign_id) FROM campaigns"))
    unit = _district(store)
    b = bulletin_data(store, unit, SINCE, UNTIL, cid, scope=EVERYTHING)
    doc = cli_audit(store, cid, area=unit, scope=EVERYTHING)
    assert b.campaign is not None and b.campaign["campaign_id"] == cid
    assert b.headline["targets"] == doc["targets"]
    assert b.headline["omissions"] == len(doc["omissions"]) == len(b.omissions) > 0
    assert b.headline["duplicates"] == len(doc["duplicates"]) == len(b.duplicates) > 0
    assert b.campaign["name"] in b.title


def test_bad_input(store: Store) -> None:
    with pytest.raises(WarmGridError):
        bulletin_data(store, "999999999999", SINCE, UNTIL, scope=EVERYTHING)
    with pytest.raises(WarmGridError):
        bulletin_data(store, _district(store), UNTIL, SINCE, scope=EVERYTHING)
    with pytest.raises(WarmGridError, match="fonts-noto-cjk"):
        find_cjk_font(["/nonexistent/font.ttc"])


# --------------------------------------------------------------------------- files
def test_xlsx_print_settings(bulletin: Bulletin, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = bulletin_xlsx(bulletin, tmp_path / "b.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["通报正文", "总体情况", "排名", "按街道", "按社区", "问题清单"]
    for ws in wb.worksheets:
        assert str(ws.page_setup.paperSize) == "9"
        # more than eight columns print landscape (the 18 columns by community never squeezed onto portrait)
        assert ws.page_setup.orientation == ("landscape" if ws.max_column > 8 else "portrait"), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert str(ws.page_setup.fitToWidth) == "1"
        assert ws.oddFooter.center.text == "第 &P 页 / 共 &N 页"
        assert ws.print_title_rows == "$1:$4"
        assert ws["A1"].value == bulletin.title and "走访慰问工作的情况通报" in ws["A1"].value
        assert "填报单位：" in ws["A2"].value and "填报日期：2026年3月5日" in ws["A2"].value
    ws = wb["按街道"]
    head = [c.value for c in ws[4]]
    visits = [r[head.index("走访次数（次）")] for r in ws.iter_rows(min_row=5, values_only=True) if r[0]]
    assert sum(visits) == bulletin.headline["visits"]


def _pdf_text_fallback(data: bytes) -> str:
    """Text of an fpdf2 PDF without poppler: its 2-byte glyph codes mapped through the ToUnicode CMaps."""
    streams = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        raw = m.group(1)
        try:
            streams.append(zlib.decompress(raw))
        except zlib.error:
            streams.append(raw)
    cmap: dict[bytes, str] = {}
    for s in streams:
        for code, uni in re.findall(rb"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]+)>", s):
            cmap[bytes.fromhex(code.decode())] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    text = []
    for s in streams:
        for lit in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", s, re.S):
            raw = re.sub(rb"\\([nrtbf()\\])", lambda m: {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b",
                                                         b"f": b"\f"}.get(m.group(1), m.group(1)), lit)
            text.append("".join(cmap.get(raw[i:i + 2], "?") for i in range(0, len(raw) - 1, 2)))
    return "\n".join(text)


def test_pdf_embeds_font_and_shows_rare_characters(
    bulletin: Bulletin, cjk_font: tuple[Path, int], pdftotext: str | None, tmp_path: Path
) -> None:
    from fontTools.ttLib import TTCollection, TTFont

    font, index = cjk_font
    face = TTCollection(str(font)).fonts[index] if font.suffix.lower() == ".ttc" else TTFont(str(font))
    assert 0x20BB7 in face.getBestCmap(), f"{font} has no glyph for {RARE} (U+20BB7)"

    names = bulletin.by_community["community_name"].tolist()
    names[0] = f"{RARE}祥社区"
    b = dataclasses.replace(bulletin, reporting_unit=f"{RARE}家街道办事处",
                            by_community=bulletin.by_community.assign(community_name=names))
    path = tmp_path / "b.pdf"
    missing = bulletin_pdf(b, path)
    assert missing == []
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    assert b"/FontFile" in data
    assert b"<D842DFB7>" in data.upper() or b"D842DFB7" in zlib_all(data)  # 𠮷 in the ToUnicode map
    if pdftotext is not None:
        text = subprocess.run([pdftotext, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True,
                              timeout=60).stdout.decode("utf-8")
    else:
        text = _pdf_text_fallback(data)
    flat = re.sub(r"\s+", "", text)
    assert "走访慰问工作的情况通报" in flat
    assert f"{RARE}家街道办事处" in flat
    assert f"{RARE}祥社区" in flat
    assert "—1—" in flat  # GB/T 9704 page numbers


def zlib_all(data: bytes) -> bytes:
    """Every Flate stream of a PDF, decompressed and joined (upper-cased)."""
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    return b"\n".join(out).upper()
