"""The 情况通报 as an office issues it: its drafted prose against SQL written here, and its three
files — the Word draft holds the sections in order and keeps headings with what follows, the PDF
prints the headline figures whole (no number broken across lines) and, as rendered by poppler,
never splits a table row across pages nor leaves a heading at the foot of a page.

The bulletin read is the district's for 1–14 November 2026 with the 2026 winter campaign: the
demo holds the same fortnight of 2025 (同比), the fortnight before (环比) and the 2025 campaign
(上一活动), so every comparison has data; a period before the demo's first record has none.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grid.bulletin_pdf import Placed, write_pdf
from grid.bulletin_text import SECTION_TITLES, compose
from grid.campaigns import cli_audit
from grid.reports import Bulletin, bulletin_data, bulletin_document, bulletin_docx, bulletin_xlsx
from grid.store import Store
from tests.actors import EVERYTHING
from tests.browsing import CJK_FONT
from tests.sysdeps import ensure_packages

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
SINCE, UNTIL, CAMPAIGN = date(2026, 11, 1), date(2026, 11, 14), "C2026W"


def _poppler() -> tuple[str | None, str | None]:
    """pdftotext and pdftoppm; poppler-utils and the CJK font are installed when missing (tests/sysdeps.py)."""
    ensure_packages({"poppler-utils": "pdftoppm", "fonts-noto-cjk": CJK_FONT}, "the bulletin's PDF tests")
    return shutil.which("pdftotext"), shutil.which("pdftoppm")


PDFTOTEXT, PDFTOPPM = _poppler()
MM = 25.4 / 72  # one PDF point in mm

_IN_UNIT = ("(SELECT h.hh_id FROM households h JOIN cells c ON c.cell_id = h.cell_id WHERE c.community_code IN"
            " (SELECT code FROM admin_units WHERE level = 'community' AND (code = $u OR parent_code = $u"
            "  OR parent_code IN (SELECT code FROM admin_units WHERE parent_code = $u))))")


def _district(store: Store) -> str:
    return str(store.scalar("SELECT code FROM admin_units WHERE level = 'district'"))


def _sql_figures(store: Store, unit: str, since: date, until: date) -> dict[str, Any]:
    """The headline figures of a unit and period, written here from the tables."""
    p = {"u": unit, "a": datetime.combine(since, datetime.min.time()),
         "z": datetime.combine(until + timedelta(days=1), datetime.min.time())}
    q = store.scalar
    return {
        "households": q(f"SELECT count(*) FROM households WHERE status = 'active' AND hh_id IN {_IN_UNIT}", {"u": unit}),
        "vulnerable": q(f"SELECT count(*) FROM households WHERE status = 'active' AND len(categories) > 0"
                        f" AND hh_id IN {_IN_UNIT}", {"u": unit}),
        "households_visited": q(f"SELECT count(DISTINCT hh_id) FROM visits WHERE hh_id IN {_IN_UNIT}"
                                " AND visited_at >= $a AND visited_at < $z", p),
        "vulnerable_visited": q("SELECT count(*) FROM households WHERE status = 'active' AND len(categories) > 0"
                                f" AND hh_id IN (SELECT hh_id FROM visits WHERE hh_id IN {_IN_UNIT}"
                                " AND visited_at >= $a AND visited_at < $z)", p),
        "households_helped": q(f"SELECT count(DISTINCT hh_id) FROM assistance WHERE hh_id IN {_IN_UNIT}"
                               " AND given_at >= $a AND given_at < $z", p),
        "total_yuan": float(q(f"SELECT coalesce(sum(amount_yuan + goods_value_yuan), 0) FROM assistance"
                              f" WHERE hh_id IN {_IN_UNIT} AND given_at >= $a AND given_at < $z", p)),
        "needs_raised": q(f"SELECT count(*) FROM needs WHERE hh_id IN {_IN_UNIT} AND raised_at >= $a"
                          " AND raised_at < $z", p),
        "needs_resolved": q(f"SELECT count(*) FROM needs WHERE hh_id IN {_IN_UNIT} AND raised_at >= $a"
                            " AND raised_at < $z AND resolved_at < $z", p),
    }


@pytest.fixture(scope="module")
def bulletin(store: Store) -> Bulletin:
    return bulletin_data(store, _district(store), SINCE, UNTIL, CAMPAIGN, report_date=date(2026, 11, 20),
                         scope=EVERYTHING)


@pytest.fixture(scope="module")
def files(bulletin: Bulletin, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The three files, written once; the PDF with what its writer placed where."""
    out = tmp_path_factory.mktemp("bulletin")
    doc = bulletin_document(bulletin)
    missing, placed = write_pdf(doc, out / "b.pdf")
    return {"doc": doc, "pdf": out / "b.pdf", "placed": placed, "missing": missing,
            "docx": bulletin_docx(bulletin, out / "b.docx"), "xlsx": bulletin_xlsx(bulletin, out / "b.xlsx")}


def _yuan(v: float) -> str:
    return f"{int(v + 0.5):,}"


# --------------------------------------------------------------------------- the figures and the prose
def test_headline_and_comparisons_equal_sql(store: Store, bulletin: Bulletin) -> None:
    unit = _district(store)
    want = _sql_figures(store, unit, SINCE, UNTIL)
    for key, value in want.items():
        assert bulletin.headline[key] == pytest.approx(value), key
    kinds = {c.kind: c for c in bulletin.comparisons}
    assert set(kinds) == {"yoy", "mom", "campaign"}
    yoy, mom = kinds["yoy"], kinds["mom"]
    assert (yoy.since, yoy.until) == (date(2025, 11, 1), date(2025, 11, 14))
    assert (mom.since, mom.until) == (date(2026, 10, 18), date(2026, 10, 31))
    for c in (yoy, mom):
        assert c.figures is not None
        sql = _sql_figures(store, unit, c.since, c.until)
        for key in ("households_visited", "households_helped", "total_yuan", "needs_raised", "needs_resolved"):
            assert c.figures[key] == pytest.approx(sql[key]), (c.kind, key)
    prev = kinds["campaign"]
    assert prev.campaign_name == store.scalar("SELECT name FROM campaigns WHERE campaign_id = 'C2025W'")
    doc = cli_audit(store, "C2025W", area=unit, scope=EVERYTHING)
    assert prev.figures is not None
    assert prev.figures["omissions"] == len(doc["omissions"]) and prev.figures["duplicates"] == len(doc["duplicates"])

    text = "".join(p.text for p in compose(bulletin).body if hasattr(p, "text"))
    h = want
    assert f"在册住户{h['households']:,}户，其中困难住户{h['vulnerable']:,}户" in text
    assert f"走访住户{h['households_visited']:,}户" in text
    diff = h["households_visited"] - _sql_figures(store, unit, yoy.since, yoy.until)["households_visited"]
    assert f"与上年同期（2025年11月1日至2025年11月14日）相比，走访住户{'增加' if diff > 0 else '减少'}{abs(diff):,}户" \
        in text
    assert f"上一期活动“{prev.campaign_name}”" in text
    assert f"合计{_yuan(h['total_yuan'])}元" in text
    rate = h["needs_resolved"] / h["needs_raised"]
    assert f"办结率{rate * 100:.1f}%" in text
    assert not re.search(r"not_helped|not_visited|two_units|same_unit_twice|dibao_|party_service", text)


def test_a_period_without_earlier_data_says_so(store: Store) -> None:
    b = bulletin_data(store, _district(store), date(2025, 11, 1), date(2025, 11, 30), scope=EVERYTHING)
    assert [c.kind for c in b.comparisons] == ["yoy", "mom"]
    assert all(c.figures is None for c in b.comparisons)  # the demo starts on 1 November 2025
    text = "".join(p.text for p in compose(b).body if hasattr(p, "text"))
    assert "上年同期（2024年11月1日至2024年11月30日）：系统中没有本单位该时段的走访、救助和诉求记录，不作比较" in text
    assert "未选择走访活动，未开展遗漏、重复核查" in text


def test_ranking_names_the_best_and_the_weakest(store: Store, bulletin: Bulletin) -> None:
    streets = store.query("SELECT code, name FROM admin_units WHERE level = 'street' ORDER BY code")
    cover = {}
    for code in streets["code"]:
        f = _sql_figures(store, code, SINCE, UNTIL)
        cover[code] = f["vulnerable_visited"] / f["vulnerable"]
    r = bulletin.ranking
    assert bulletin.ranking_level == "street" and list(r["rank"]) == list(range(1, len(streets) + 1))
    assert list(r["code"]) == sorted(cover, key=lambda c: (-cover[c], c))
    assert list(r["coverage"]) == pytest.approx([cover[c] for c in r["code"]])
    names = dict(zip(streets["code"], streets["name"], strict=True))
    best, worst = r["code"].iloc[0], r["code"].iloc[-1]
    text = "".join(p.text for p in compose(bulletin).body if hasattr(p, "text"))
    assert f"{names[best]}最高，为{cover[best] * 100:.1f}%" in text
    assert f"{names[worst]}最低，为{cover[worst] * 100:.1f}%" in text


def test_problems_are_counted_as_sql_counts_them(store: Store, bulletin: Bulletin) -> None:
    unit = _district(store)
    end = datetime.combine(UNTIL + timedelta(days=1), datetime.min.time()) - timedelta(microseconds=1)
    as_of = min(end, datetime.now())
    overdue = store.scalar(f"SELECT count(*) FROM needs WHERE hh_id IN {_IN_UNIT} AND raised_at <= $t"
                           " AND (resolved_at IS NULL OR resolved_at > $t) AND due_at < $t", {"u": unit, "t": as_of})
    no_warden = store.scalar("SELECT count(*) FROM cells WHERE warden_id IS NULL OR trim(warden_id) = ''")
    audit = cli_audit(store, CAMPAIGN, area=unit, scope=EVERYTHING)
    f = _sql_figures(store, unit, SINCE, UNTIL)
    p = bulletin.problems
    assert overdue > 0 and no_warden > 0  # the test means something
    assert p["overdue_needs"] == overdue
    assert p["cells_without_warden"] == no_warden
    assert p["omissions"] == len(audit["omissions"]) and p["duplicates"] == len(audit["duplicates"])
    assert p["unvisited_vulnerable"] == f["vulnerable"] - f["vulnerable_visited"]
    by = bulletin.problems_by_community
    assert int(by["overdue_needs"].sum()) == overdue and int(by["cells_without_warden"].sum()) == no_warden
    doc = compose(bulletin)
    body = [getattr(x, "text", "") for x in doc.body]
    problems = body[body.index(SECTION_TITLES[3]) + 1: body.index(SECTION_TITLES[4])]
    actions = body[body.index(SECTION_TITLES[4]) + 1:]
    for n, word in ((overdue, "超期未办结诉求"), (no_warden, "未配备网格员"), (len(audit["omissions"]), "遗漏")):
        assert any(word in t and f"{n:,}" in t for t in problems), word
    # each problem found has its action, with the same count
    assert any(f"对{overdue:,}件超期诉求" in t for t in actions)
    assert any(f"为{no_warden:,}个无网格员网格" in t for t in actions)


# --------------------------------------------------------------------------- the Word draft
def test_the_docx_holds_the_sections_in_order(bulletin: Bulletin, files: dict[str, Any]) -> None:
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn

    d = docx.Document(str(files["docx"]))
    heads = [p.text for p in d.paragraphs if p.style is not None and p.style.name == "Heading 1"]
    order = [next(i for i, h in enumerate(heads) if key in h)
             for key in ("总体情况", "比较", "排名", "存在问题", "下步工作", "附件")]
    assert order == sorted(order) and len(set(order)) == 6
    assert all(p.style.paragraph_format.keep_with_next for p in d.paragraphs
               if p.style is not None and p.style.name == "Heading 1")
    text = "\n".join(p.text for p in d.paragraphs)
    assert bulletin.title.replace("\n", "") in text.replace("\n", "")
    h = bulletin.headline
    assert f"走访住户{h['households_visited']:,}户" in text and f"合计{_yuan(h['total_yuan'])}元" in text
    assert len(d.inline_shapes) == 2  # the map and the chart
    # every table row keeps together; the header repeats on each page
    for t in d.tables:
        rows = t._tbl.findall(qn("w:tr"))
        assert all(r.find(f"{qn('w:trPr')}/{qn('w:cantSplit')}") is not None for r in rows)
        assert rows[0].find(f"{qn('w:trPr')}/{qn('w:tblHeader')}") is not None
    assert any(s.orientation == WD_ORIENT.LANDSCAPE for s in d.sections)  # the wide annexes
    assert d.sections[0].page_width.mm == pytest.approx(210, abs=0.5)
    assert d.sections[0].top_margin.mm == pytest.approx(37, abs=0.5)


def test_hostile_names_reach_the_docx_as_text(bulletin: Bulletin, tmp_path: Path) -> None:
    import docx

    evil = "=HYPERLINK(\"http://x\")\x00\x1b<w:t>社区"
    names = bulletin.by_community["community_name"].tolist()
    names[0] = evil
    b = dataclasses.replace(bulletin, by_community=bulletin.by_community.assign(community_name=names),
                            reporting_unit="<b>街道</b>&办")
    d = docx.Document(str(bulletin_docx(b, tmp_path / "h.docx")))
    cells = [c.text for t in d.tables for r in t.rows for c in r.cells]
    assert "=HYPERLINK(\"http://x\")<w:t>社区" in cells
    assert "<b>街道</b>&办" in "\n".join(p.text for p in d.paragraphs)


# --------------------------------------------------------------------------- the PDF
def _pdftotext(path: Path, *args: str) -> str:
    assert PDFTOTEXT, "pdftotext (poppler-utils) is needed: apt-get install poppler-utils"
    return subprocess.run([PDFTOTEXT, "-enc", "UTF-8", *args, str(path), "-"], capture_output=True, check=True,
                          timeout=120).stdout.decode("utf-8")


def _words(path: Path) -> list[tuple[int, float, float, float, float, str]]:
    """``(page, x0, y0, x1, y1, text)`` of every word poppler finds, in mm from the page's top left."""
    out = []
    page = 0
    for line in _pdftotext(path, "-bbox").splitlines():
        if "<page " in line:
            page += 1
        m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>', line)
        if m:
            x0, y0, x1, y1 = (float(m.group(i)) * MM for i in range(1, 5))
            out.append((page, x0, y0, x1, y1, m.group(5).replace("&amp;", "&").replace("&lt;", "<")
                        .replace("&gt;", ">").replace("&quot;", '"')))
    return out


def test_the_pdf_prints_the_headline_figures_whole(store: Store, bulletin: Bulletin, files: dict[str, Any]) -> None:
    assert files["missing"] == []
    data = files["pdf"].read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/FontFile") >= 2  # the fonts are embedded
    text = _pdftotext(files["pdf"])
    lines = text.splitlines()
    flat = re.sub(r"\s+", "", text)
    h = _sql_figures(store, _district(store), SINCE, UNTIL)
    figures = [f"{h['households']:,}", f"{h['households_visited']:,}", _yuan(h["total_yuan"]),
               f"{h['vulnerable_visited'] / h['vulnerable'] * 100:.1f}%",
               f"{h['needs_resolved'] / h['needs_raised'] * 100:.1f}%"]
    for fig in figures:  # each figure whole on one line (a number broken across lines fails here)
        assert any(fig in line for line in lines), fig
    assert f"在册住户{h['households']:,}户" in flat
    assert f"合计{_yuan(h['total_yuan'])}元" in flat
    assert f"办结率{h['needs_resolved'] / h['needs_raised'] * 100:.1f}%" in flat
    assert "—1—" in flat and "附件1" in flat
    assert not re.search(r"not_helped|not_visited|two_units|dibao_|\d\.0/0", flat)


def _check_layout(pdf: Path, placed: list[Placed], headings: set[str]) -> list[str]:
    """What is wrong with a PDF's layout, from poppler's words and the writer's placements:
    a table row that runs past its page's body or whose cells poppler finds elsewhere (split
    across pages), or a heading as the last text of a page."""
    problems = []
    words = _words(pdf)
    by_page: dict[int, list[tuple[float, float, str]]] = {}
    for page, _, y0, _, y1, t in words:
        by_page.setdefault(page, []).append((y0, y1, t))
    for r in (p for p in placed if p.kind == "row"):
        if r.bottom > r.page_height - r.bottom_margin + 0.5 or r.top < 10:
            problems.append(f"row {r.text!r} runs past the body of page {r.page} ({r.top:.1f}–{r.bottom:.1f} mm)")
            continue
        for cell in r.cells:  # the cells printed on one line ("" for a wrapped one)
            if not cell or " " in cell or "\u3000" in cell:
                continue
            if not any(w[2] == cell and r.top - 0.5 <= w[0] and w[1] <= r.bottom + 0.5 for w in by_page.get(r.page, [])):
                problems.append(f"cell {cell!r} of row {r.text!r} is not on page {r.page} within its row")
    for page, ws in by_page.items():
        body = [w for w in ws if not re.fullmatch(r"—|\d+", w[2])]  # leave out the page number
        if not body:
            continue
        last_top = max(w[0] for w in body)
        last_line = "".join(w[2] for w in sorted((w for w in body if abs(w[0] - last_top) < 1.0), key=lambda w: w[0]))
        if last_line.replace("\u3000", "") in headings:
            problems.append(f"page {page} ends with the heading {last_line!r}")
    return problems


def test_no_table_row_is_split_and_no_heading_is_stranded(files: dict[str, Any]) -> None:
    placed: list[Placed] = files["placed"]
    doc = files["doc"]
    headings = {*SECTION_TITLES, *(t.caption for a in doc.annexes for t in a.tables)}
    rows = [p for p in placed if p.kind == "row"]
    assert len(rows) > 100 and len({p.page for p in rows}) > 3  # tables run over several pages
    assert _check_layout(files["pdf"], placed, headings) == []
    # the writer's own account agrees: whatever follows a heading or caption is on its page
    for a, b in zip(placed, placed[1:], strict=False):
        if a.kind in ("heading", "caption") and b.kind != "annex":
            assert b.page == a.page, (a.text, b.text)
    # a table that goes on to the next page repeats its header there
    for a, b in zip(rows, rows[1:], strict=False):
        if b.page != a.page:
            before = [p for p in placed if p.page == b.page and p.top < b.top]
            assert any(p.kind == "header" for p in before), b.text


def test_the_layout_check_can_fail(bulletin: Bulletin, files: dict[str, Any], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows let run past the page foot, and a heading forced to a page's last line, are caught."""
    from grid import bulletin_pdf

    doc = files["doc"]
    headings = {*SECTION_TITLES, *(t.caption for a in doc.annexes for t in a.tables)}
    monkeypatch.setattr(bulletin_pdf._Writer, "bottom", property(lambda self: self.pdf.h + 60))
    _, placed = write_pdf(doc, tmp_path / "bad.pdf")
    assert any("runs past the body" in p for p in _check_layout(tmp_path / "bad.pdf", placed, headings))

    monkeypatch.undo()
    real = bulletin_pdf._Writer.heading

    def stranded(self: Any, text: str, after: float) -> None:
        if text == SECTION_TITLES[3]:
            self.pdf.set_y(self.bottom - 10)  # the heading on the last line, its text on the next page
            real(self, text, 0.0)
        else:
            real(self, text, after)

    monkeypatch.setattr(bulletin_pdf._Writer, "heading", stranded)
    _, placed = write_pdf(doc, tmp_path / "bad2.pdf")
    assert any("ends with the heading" in p for p in _check_layout(tmp_path / "bad2.pdf", placed, headings))


def test_the_pages_render_and_are_saved(files: dict[str, Any], tmp_path: Path) -> None:
    """pdftoppm renders every page; the first two are kept as artifacts/bulletin_page1.png and _page2.png.
    On page 1 the red masthead (情况通报) and the red rule are drawn; every table row's bottom rule is
    drawn on the page the writer put the row on."""
    from PIL import Image

    assert PDFTOPPM, "pdftoppm (poppler-utils) is needed: apt-get install poppler-utils"
    dpi = 50
    subprocess.run([PDFTOPPM, "-r", str(dpi), "-png", str(files["pdf"]), str(tmp_path / "p")], check=True,
                   timeout=300)
    pages = sorted(tmp_path.glob("p-*.png"))
    placed: list[Placed] = files["placed"]
    assert len(pages) == max(p.page for p in placed)
    ARTIFACTS.mkdir(exist_ok=True)
    for i in (1, 2):
        subprocess.run([PDFTOPPM, "-r", "110", "-png", "-f", str(i), "-l", str(i), "-singlefile", str(files["pdf"]),
                        str(ARTIFACTS / f"bulletin_page{i}")], check=True, timeout=120)
        assert (ARTIFACTS / f"bulletin_page{i}.png").stat().st_size > 10_000
    first = np.asarray(Image.open(pages[0]).convert("RGB")).astype(int)
    red = int(((first[..., 0] > 150) & (first[..., 1] < 80) & (first[..., 2] < 80)).sum())
    assert red > 200
    px_per_mm = dpi / 25.4
    images = [np.asarray(Image.open(p).convert("L")) for p in pages]
    for r in (p for p in placed if p.kind == "row"):
        img = images[r.page - 1]
        y = round(r.bottom * px_per_mm)
        dark = max(int((img[yy] < 160).sum()) for yy in (y - 1, y, y + 1) if 0 <= yy < img.shape[0])
        assert dark > img.shape[1] * 0.3, f"no rule under row {r.text!r} on page {r.page}"


def test_the_workbook_carries_the_prose_and_the_figures(bulletin: Bulletin, files: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(files["xlsx"])
    prose = [c.value for c in wb["通报正文"]["A"] if c.value]
    assert prose[3:4] == [SECTION_TITLES[0]] and SECTION_TITLES[4] in prose
    ws = wb["总体情况"]
    rows = {r[0]: (r[1], ws.cell(i, 2).number_format) for i, r in enumerate(ws.iter_rows(values_only=True), 1)
            if r[0] and r[1] is not None}
    assert rows["在册住户（户）"] == (bulletin.headline["households"], "#,##0")
    assert rows["救助合计（元）"][0] == pytest.approx(bulletin.headline["total_yuan"])
    flat = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert not any(v in ("not_helped", "not_visited", "two_units", "same_unit_twice") for v in flat)
    ranks = wb["排名"]
    assert ranks.page_setup.orientation == "landscape"
