"""Every page for every role in a real browser (headless Chromium driven by Playwright):
the maps draw (Leaflet's own count of cell polygons and station circles), the figures
shown are the library's, no request leaves the machine, and a warden's browser never
receives another cell's household. A screenshot of each page for each role is saved
under ``artifacts/screenshots/`` (``docs/screenshot.png`` in the README is one of them).

Chromium comes from Debian (``/usr/bin/chromium``). When it or ``fonts-noto-cjk`` is missing,
the tests install them with apt-get if they run as root (unless ``WARMGRID_NO_INSTALL`` is
set); otherwise they fail and say what to install.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

import ui
from grid import access, coverage, labels, model, users
from grid.assistance import gini, gini_sentence, load_assistance_inputs, measures
from grid.campaigns import audit_campaign, campaign_frames
from grid.demo import DEMO_ACCOUNTS
from grid.network import load_network
from grid.planning import make_plan, save_plan
from grid.store import Store, open_store
from maps.layers import GAP_COLOUR, STATION_COLOURS
from maps.walking import catchment_features
from maps.warden import DUE_COLOUR, OK_COLOUR, OTHER_COLOUR, reach_text
from tests.actors import EVERYTHING, OP, Scope
from tests.browsing import HEADINGS, app_server, chromium, ensure_chromium, open_session
from tests.labelcheck import raw_on_screen

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "screenshots"
MARK_ID, MARK_NAME, MARK_ADDR = "H9999999", "泄露标记户", "标记路999号"
#: Pages with maps: how many st_folium maps each draws once it is open.
MAPS = {"overview": 1, "my_cells": 1, "campaigns": 1, "leader": 2, "data": 0, "audit": 0, "needs_queue": 1,
        "needs_work": 0, "applications": 0, "budgets": 0, "network": 0}
#: The order the roles are visited: the admin first, so the warden meets caches it warmed.
ROLES = ("admin", "committee", "community", "leader", "inspector", "warden")
#: Each role's menu, as the access policy gives it.
ROLE_PAGES = {role: access.pages_for(access.Actor(role, role, access.Scope.of_cells({"c"}))) for role in ROLES}
CASES = [(role, page) for role in ROLES for page in ROLE_PAGES[role]]


def test_every_role_and_page_is_browsed() -> None:
    assert set(HEADINGS) == set(ui.PAGES) == set(MAPS)
    assert set(ROLES) == set(access.GRANTS) == set(DEMO_ACCOUNTS)
    assert {p for pages in ROLE_PAGES.values() for p in pages} == set(ui.PAGES)


@dataclass
class Seen:
    """What the browser showed and received on one page."""

    text: str
    metrics: dict[str, str]
    maps: list[dict[str, Any]]
    foreign: list[str]
    payload: bytes
    errors: int
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def browser_db(district_file, tmp_path_factory) -> Path:
    """A copy of the small district with a marker household in a cell the demo warden does not hold."""
    path = tmp_path_factory.mktemp("browser") / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    with open_store(path) as s:
        warden_cells = s.scalar("SELECT scope FROM users WHERE username = 'warden'")
        cell, lon, lat = s.query(
            "SELECT cell_id, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM cells"
            " WHERE NOT list_contains(?, cell_id) ORDER BY cell_id LIMIT 1", [warden_cells]).iloc[0]
        with s.transaction() as cur:
            cur.execute("INSERT INTO households (hh_id, geom, address, size, categories, head_name, phone)"
                        " VALUES (?, ST_Point(?, ?), ?, 2, ['dibao_urban'], ?, '13912345678')",
                        [MARK_ID, float(lon), float(lat), MARK_ADDR, MARK_NAME])
        s.refresh_derived()
        # A saved plan in the committee's street, so the plan tab shows its tables.
        street = str(s.scalar("SELECT scope[1] FROM users WHERE username = 'committee'"))
        save_plan(s, OP, make_plan(s, OP, "C2026W", street))
    return path


@pytest.fixture(scope="module")
def seen(browser_db) -> Iterator[Callable[[str, str], Seen]]:
    """``seen(role, page)``: sign in as the role once, open each of its pages from the menu,
    and remember what the browser showed (screenshots saved on the way)."""
    problem = ensure_chromium()
    if problem:
        pytest.fail(problem)
    results: dict[tuple[str, str], Seen] = {}
    with app_server(browser_db) as server, chromium() as browser:

        def visit(role: str) -> None:
            name, password = DEMO_ACCOUNTS[role]
            width = 390 if role == "warden" else 1280
            with open_session(browser, server.url, width=width, height=900, keep_payloads=True) as s:
                s.sign_in(name, password)
                for i, page in enumerate(ROLE_PAGES[role]):
                    start = len(s.ws_payloads)  # the first page's frames may arrive while signing in: keep them
                    if i == 0:  # signing in lands on the role's first page
                        s.page.locator("h1", has_text=HEADINGS[page]).first.wait_for(timeout=60_000)
                        s.wait_idle()
                    else:
                        s.open_page(access.PAGES[page], HEADINGS[page])
                    extra: dict[str, Any] = {}
                    if page == "campaigns":  # the audit map lives in the second tab
                        s.page.get_by_role("tab", name="核查 Audit").click()
                        extra["tab"] = "audit"
                    maps = s.wait_maps(MAPS[page], min_cells=1, timeout=60) if MAPS[page] else []
                    # What the user sees: a map in a tab not open (the campaign page's plan map) has no size.
                    maps = [m for m in maps if m["size"][0] > 0]
                    s.page.wait_for_timeout(400)  # let the canvas paint before the screenshot
                    s.screenshot(ARTIFACTS / f"{role}_{page}.png")
                    extra["labels"] = [s.visible_labels()]
                    if page == "leader":  # the Lorenz curve and the monthly trend, drawn by Vega in the page
                        s.page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
                                       ).nth(1).wait_for(timeout=30_000)
                        extra["charts"] = s.page.evaluate("""() => Array.from(document.querySelectorAll(
                            '[data-testid="stVegaLiteChart"]')).map(el => el.getBoundingClientRect().height)""")
                    if page == "campaigns":  # the plan's tables live in the third tab
                        s.page.get_by_role("tab", name="走访计划 Plan").click()
                        s.page.get_by_text("走访人 Visitors").first.wait_for(timeout=30_000)
                        s.wait_idle()
                        extra["labels"].append(s.visible_labels())
                        s.page.get_by_role("tab", name="核查 Audit").click()
                    if page == "my_cells":  # the tabs are lazy: open each, so its data reaches the browser too
                        texts = []
                        for tab, shows in (("户卡 Card", "选择住户 Household"),
                                           ("记日志 Log", "走访情况 What you found"),
                                           ("诉求 Needs", "我的住户的诉求")):
                            s.page.get_by_role("tab", name=tab).click()
                            s.page.get_by_text(shows).first.wait_for(timeout=30_000)
                            s.wait_idle()
                            texts.append(s.text())
                            extra["labels"].append(s.visible_labels())
                        extra["tabs_text"] = "\n".join(texts)
                    if page == "overview":  # measured by walking by default; the straight line on request
                        extra["walk_metrics"] = s.metrics()
                        s.page.locator('[data-testid="stSidebar"]').get_by_text("直线距离 · straight line").click()
                        extra["straight_map"] = s.wait_maps(1, title="服务半径（", timeout=60)[0]
                        s.wait_idle()
                        extra["straight_metrics"] = s.metrics()
                        s.page.wait_for_timeout(400)
                        s.screenshot(ARTIFACTS / f"{role}_{page}_straight.png")
                    if (role, page) == ("admin", "overview"):  # a radius set by hand redraws the map
                        s.page.locator('[data-testid="stSidebar"]').get_by_text("自定义服务半径 Custom radius").click()
                        extra["custom_radius"] = s.wait_maps(1, title="（300 m）", timeout=60)[0]
                        s.wait_idle()
                    results[(role, page)] = Seen(
                        text=s.text(), metrics=extra.pop("walk_metrics", None) or s.metrics(), maps=maps, foreign=s.foreign_requests(),
                        payload=b"".join(s.ws_payloads[0 if i == 0 else start:]),
                        errors=len(s.page.query_selector_all('[data-testid="stException"]')), extra=extra)
                results[(role, "_all")] = Seen("", {}, [], s.foreign_requests(), b"".join(s.ws_payloads), 0)

        def get(role: str, page: str) -> Seen:
            if (role, page) not in results:
                visit(role)
            return results[(role, page)]

        yield get


def _store_copy(browser_db: Path, tmp_path: Path) -> Store:
    path = tmp_path / "lib.duckdb"
    shutil.copyfile(browser_db, path)
    return open_store(path, read_only=True)


@pytest.fixture(scope="module")
def library(browser_db, tmp_path_factory) -> Iterator[Store]:
    s = _store_copy(browser_db, tmp_path_factory.mktemp("lib"))
    yield s
    s.close()


def _scope(store: Store, role: str) -> frozenset[str]:
    """The cells the role's demo account may see (every cell for the administrator)."""
    user = users.get_user(store, DEMO_ACCOUNTS[role][0])
    assert user is not None
    scope = access.actor_for(store, user).scope
    return frozenset(scope.cell_list(store.query("SELECT cell_id FROM cells")["cell_id"]))


def _same_points(got: list[tuple[float, float]], lat: Any, lon: Any) -> bool:
    """The browser's points are the library's, one for one: the maps send coordinates rounded to 1e-6°,
    so the multiset of the library's rounded coordinates must be exactly what the browser has."""
    want = np.round(np.column_stack([np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)]), 6)
    return sorted(map(tuple, np.asarray(got, dtype=float).reshape(-1, 2).tolist())) == sorted(map(tuple, want.tolist()))


def _n(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.parametrize(("role", "page"), CASES, ids=[f"{r}-{p}" for r, p in CASES])
def test_page_draws_offline(seen, role: str, page: str) -> None:
    s = seen(role, page)
    assert HEADINGS[page] in s.text
    assert s.errors == 0, f"{role}/{page} shows an exception"
    assert s.foreign == [], f"{role}/{page} requested {s.foreign[:5]}"
    assert len(s.maps) == MAPS[page]
    for m in s.maps:
        assert m["legends"] == 1 and m["title"], "every map has a legend and a title"
        assert m["size"][0] > 200 and m["size"][1] > 200, "the map has a size on the page"
    assert (ARTIFACTS / f"{role}_{page}.png").stat().st_size > 10_000


def test_no_role_ever_requests_another_host(seen) -> None:
    for role in ROLES:
        seen(role, ROLE_PAGES[role][0])
        assert seen(role, "_all").foreign == []


def _check_gaps(m: dict[str, Any], ov: coverage.Overview, role: str) -> None:
    """The map's households out of reach are the library's (per cell, as counts, for leaders and inspectors)."""
    kinds = [mk[3].get("kind") for mk in m["markers"]]
    if role in ("leader", "inspector"):  # counts per cell only: one circle per cell with any gap
        per_cell = [mk for mk in m["markers"] if mk[3].get("kind") == "gap_cell"]
        assert set(kinds) == {"station", "gap_cell"}
        assert all(mk[4] == mk[3]["r"] for mk in per_cell), "each circle sized by its own count"
        assert len(per_cell) == int((ov.cells["outside"] > 0).sum())
        assert sum(mk[3]["n"] for mk in per_cell) == ov.kpis["outside"]
    elif len(ov.gaps) <= 2000:  # each household drawn
        gap_marks = [mk for mk in m["markers"] if mk[3].get("kind") == "gap"]
        assert all(mk[2] == GAP_COLOUR for mk in gap_marks)
        assert _same_points([(a, b) for a, b, *_ in gap_marks], ov.gaps["lat"], ov.gaps["lon"])
    else:  # more than 2,000: counted in 150 m squares, every household in one square
        bins = [mk for mk in m["markers"] if mk[3].get("kind") == "gap_bin"]
        assert "gap" not in kinds and 0 < len(bins) < len(ov.gaps)
        assert sum(mk[3]["n"] for mk in bins) == len(ov.gaps)
        assert all(mk[4] == mk[3]["r"] for mk in bins), "each square's circle sized by its own count"


@pytest.mark.parametrize("role", [r for r in ROLES if "overview" in ROLE_PAGES[r]])
def test_overview_map_and_figures_are_the_librarys(seen, library, role: str) -> None:
    """By default the overview measures by walking: its cards are the library's walking figures, the map
    draws each station's walking catchment and no circle, and (for roles that see households) exactly the
    households the straight line overstates. Switched to 直线距离, the straight figures and the circles."""
    s = seen(role, "overview")
    cells = _scope(library, role)
    ov = coverage.overview(library, "party_service", scope=Scope.of_cells(cells), distance="walk")
    k = ov.kpis
    # Each cell is filled with its own class's colour (a style per feature, not one for all).
    m0 = s.maps[0]
    styles = m0["cell_styles"]
    assert len(styles) == len(m0["cells"]) > 0
    assert all(fill == own and stroke == "#636363" and weight == 0.6 for fill, stroke, weight, own in styles)
    assert len({fill for fill, *_ in styles}) >= 2 or len(styles) == 1
    assert _n(s.metrics["住户 Households"]) == k["households"]
    assert _n(s.metrics["困难户 Vulnerable"]) == k["vulnerable"]
    assert _n(s.metrics["网格 Cells"]) == k["cells"]
    assert _n(s.metrics["党群服务站步行可达范围外住户"]) == k["outside"]
    assert _n(s.metrics["其中困难户 Vulnerable out of reach"]) == k["vulnerable_outside"]
    assert _n(s.metrics["按直线半径覆盖 Covered (straight line)"]) == k["covered_straight"]
    assert _n(s.metrics["按步行距离覆盖 Covered (walking)"]) == k["covered_walk"]
    assert _n(s.metrics["直线高估 Overstated"]) == k["overstated"] > 0
    assert _n(s.metrics["不在路网上 Off the network"]) == k["off_network"]
    assert k["coverage_sentence"] in s.text
    (m,) = s.maps
    assert "步行距离" in m["title"] and f"直线高估 {k['overstated']:,} 户" in m["title"]
    assert sorted(m["cells"]) == sorted(ov.cells["cell_id"]) and len(m["cells"]) == len(cells)
    of_type = ov.stations[ov.stations["type"] == "party_service"]
    assert m["circles"] == [], "walking draws catchments, not circles"
    catchments = [ln for ln in m["lines"] if ln[0].get("kind") == "catchment"]
    want = catchment_features(library_network(library), ov.stations, "party_service")["features"]
    assert len(catchments) == len(want) > 0
    assert sorted(ln[0]["station_id"] for ln in catchments) == sorted(f["properties"]["station_id"] for f in want)
    assert {ln[3] for ln in catchments} == {STATION_COLOURS["party_service"]}
    kinds = [mk[3].get("kind") for mk in m["markers"]]
    assert kinds.count("station") == len(of_type)
    over = [mk for mk in m["markers"] if mk[3].get("kind") in ("overstated", "overstated_bin")]
    assert ov.comparison is not None
    if role in ("leader", "inspector"):  # counts only: no household's position, in either mode
        assert over == []
    else:
        oh = ov.comparison.overstated_households
        assert len(oh) == k["overstated"] <= 2000, "the small district draws each overstated household"
        assert all(mk[2] == "#ffffff" and mk[3]["kind"] == "overstated" for mk in over)
        assert len(over) == len(oh), (len(over), len(oh))
        assert _same_points([(a, b) for a, b, *_ in over], oh["lat"], oh["lon"])
    _check_gaps(m, ov, role)

    # 直线距离: the straight figures, one circle per station of the type, no catchment.
    straight = coverage.overview(library, "party_service", scope=Scope.of_cells(cells), distance="straight")
    sm, sk = s.extra["straight_metrics"], straight.kpis
    assert _n(sm["党群服务站服务半径外住户"]) == sk["outside"] == k["households"] - k["covered_straight"]
    assert _n(sm["其中困难户 Vulnerable out of reach"]) == sk["vulnerable_outside"]
    assert _n(sm["按步行距离覆盖 Covered (walking)"]) == k["covered_walk"], "both figures in either mode"
    m2 = s.extra["straight_map"]
    assert "服务半径（" in m2["title"] and "步行" not in m2["title"]
    assert [ln for ln in m2["lines"] if ln[0].get("kind") == "catchment"] == []
    assert len(m2["circles"]) == len(of_type)
    assert {c[3]["kind"] for c in m2["circles"]} == {"service_area"}
    assert {r for _, _, r, _ in m2["circles"]} == {model.STATION_TYPES["party_service"].radius_m}
    assert _same_points([(a, b) for a, b, *_ in m2["circles"]], of_type["lat"], of_type["lon"])
    assert not [mk for mk in m2["markers"] if mk[3].get("kind") in ("overstated", "overstated_bin")]
    _check_gaps(m2, straight, role)


_NETWORKS: dict[int, Any] = {}


def library_network(store: Store) -> Any:
    """The library's walking network of ``store`` (built once per test module)."""
    if id(store) not in _NETWORKS:
        _NETWORKS[id(store)] = load_network(store)
    return _NETWORKS[id(store)]


def test_warden_map_measures_by_walking(seen, library) -> None:
    """The warden's map draws the walking catchments of nearby stations (no circles for the chosen type)
    and each household's walk to the nearest one, as the library measures it."""
    s = seen("warden", "my_cells")
    (m,) = s.maps
    assert m["circles"] == []
    # The walking reach is on demand: listed in the layer control, off until asked for.
    assert [shown for name, shown in m["overlays"] if name.startswith("步行可达范围")] == [False]
    cells = _scope(library, "warden")
    hh = coverage.load_households(library)
    mine = hh[hh["cell_id"].isin(cells)].reset_index(drop=True)
    reach = coverage.household_reach(mine, coverage.load_stations(library), "party_service", distance="walk",
                                     network=library_network(library))
    assert f"按步行距离在党群服务站服务范围内 {int(reach['covered'].sum())} 户" in m["title"]
    # Each household's line in its building's list says how far it walks, as the library measures it.
    tips = {h: html.unescape(t) for pin in m["pins"]
            for h, t in re.findall(r'<li data-hh="(H\d+)".*?<small>(.*?)</small></li>', pin[3])}
    for r in reach.itertuples(index=False):
        words = reach_text("party_service", "walk", float(r.distance_m), bool(r.covered), int(r.tier), str(r.status))
        assert tips[r.hh_id] == words, r.hh_id


def test_a_radius_set_by_hand_redraws_the_map(seen) -> None:
    # st_folium redraws only when its key or script changes: the same circles with a new title did not.
    m = seen("admin", "overview").extra["custom_radius"]
    assert "（300 m）" in m["title"] and {r for _, _, r, _ in m["circles"]} == {300.0}


def test_warden_sees_own_cells_households_only(seen, library) -> None:
    s = seen("warden", "my_cells")
    cells = _scope(library, "warden")
    assert cells and MARK_ID
    hh = library.query("SELECT hh_id, address, cell_id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM households")
    mine = hh[hh["cell_id"].isin(cells)]
    others = hh[~hh["cell_id"].isin(cells)]
    (m,) = s.maps
    assert sorted(m["cells"]) == sorted(cells)
    # One marker per building; its list holds each of the warden's households once, none of another cell's.
    homes = m["pins"]
    assert {c for pin in homes for c in (DUE_COLOUR, OK_COLOUR, OTHER_COLOUR) if c in pin[2]} <= {
        DUE_COLOUR, OK_COLOUR, OTHER_COLOUR}
    listed = [h for pin in homes for h in re.findall(r'data-hh="(H\d+)"', pin[3])]
    assert len(listed) == len(mine) and set(listed) == set(mine["hh_id"])
    polys = library.query("SELECT ST_AsWKB(ST_Union_Agg(geom)) AS g FROM cells WHERE list_contains(?, cell_id)",
                          [sorted(cells)])
    area = shapely.from_wkb(bytes(polys["g"].iloc[0]))
    inside = shapely.covers(shapely.buffer(area, 1e-6), shapely.points([b for _, b, *_ in homes],
                                                                        [a for a, *_ in homes]))
    assert bool(np.all(inside))
    assert _n(s.metrics["住户"]) == len(mine)
    # Everything the browser received (every websocket frame, all pages): own households, none of another cell's.
    data = b"".join(seen("warden", p).payload for p in ROLE_PAGES["warden"]) + seen("warden", "_all").payload
    ids = {x.decode() for x in re.findall(rb"H\d{7}", data)}
    assert ids & set(mine["hh_id"]), "the warden's own households reach the browser (the check is not vacuous)"
    assert not ids & set(others["hh_id"])
    for marker in (MARK_ID, MARK_NAME, MARK_ADDR, "13912345678"):
        assert marker.encode() not in data
    assert "走访情况" in s.extra["tabs_text"], "the visit form's tab was opened"


def test_committee_never_receives_another_streets_household(seen, library) -> None:
    cells = _scope(library, "committee")
    data = b"".join(seen("committee", p).payload for p in ROLE_PAGES["committee"])
    others = library.query("SELECT hh_id FROM households WHERE NOT list_contains(?, cell_id)", [sorted(cells)])
    ids = {x.decode() for x in re.findall(rb"H\d{7}", data)}
    assert len(others) and not ids & set(others["hh_id"])
    # The marker household sits outside the warden's cells; when it is also outside the committee's street
    # its address never reaches the committee (inside, it is the committee's own: the plan tab lists it).
    if MARK_ID in set(others["hh_id"]):
        assert MARK_ADDR.encode() not in data


def test_leaders_receive_no_household(seen) -> None:
    for role in ("leader", "inspector"):
        data = b"".join(seen(role, p).payload for p in ROLE_PAGES[role])
        assert re.findall(rb"H\d{7}", data) == [], f"{role} received household ids"
        assert MARK_ADDR.encode() not in data


@pytest.mark.parametrize("role", [r for r in ROLES if "campaigns" in ROLE_PAGES[r]])
def test_campaign_audit_figures_are_the_librarys(seen, library, role: str) -> None:
    s = seen(role, "campaigns")
    cells = _scope(library, role)
    first = library.scalar("SELECT campaign_id FROM campaigns ORDER BY starts_on DESC LIMIT 1")
    area = library.scalar(
        "SELECT code FROM (SELECT DISTINCT a.code, a.level FROM admin_units a JOIN cells c ON a.code = c.community_code"
        " OR a.code = (SELECT parent_code FROM admin_units WHERE code = c.community_code)"
        " WHERE list_contains(?, c.cell_id)) ORDER BY level DESC, code LIMIT 1", [sorted(cells)])
    data = campaign_frames(library, first, area, scope=EVERYTHING)
    t = audit_campaign(data.targets, data.visits, data.assistance).totals
    assert _n(s.metrics["对象户 Targets"]) == int(t["targets"])
    assert _n(s.metrics["已走访 Visited"]) == int(t["visited"])
    assert _n(s.metrics["已救助 Helped"]) == int(t["helped"])
    assert _n(s.metrics["重复 Duplicates"]) == int(t["duplicate_households"])
    (m,) = s.maps
    assert sorted(m["cells"]) == sorted(cells)


@pytest.mark.parametrize("role", [r for r in ROLES if "leader" in ROLE_PAGES[r]])
def test_assistance_maps_and_gini_are_the_librarys(seen, library, role: str) -> None:
    s = seen(role, "leader")
    cells = _scope(library, role)
    households, aid = load_assistance_inputs(library)
    households = households[households["cell_id"].isin(cells)]
    aid = aid[aid["hh_id"].isin(set(households["hh_id"]))]
    by_cell = measures(households, aid, "cell")
    by_cell = by_cell[by_cell["cell_id"].notna()]
    choropleth, hot = s.maps
    assert sorted(choropleth["units"]) == sorted(by_cell["cell_id"])
    assert set(hot["cells"]) <= set(cells) and len(hot["cells"]) == len(cells)
    v = by_cell.loc[by_cell["households"] >= 5, "per_vulnerable"].astype(float)
    g = gini(v[np.isfinite(v) & (v >= 0)].to_numpy())
    assert s.metrics["基尼系数 Gini"] == f"{g:.2f}"
    # Beside it, the sentence that says what the figure means and whether it is high.
    assert gini_sentence(g, len(v[np.isfinite(v) & (v >= 0)]), "网格", "困难户户均救助（元）") in s.text
    # The Lorenz curve and the monthly trend are drawn, each with a height on the page.
    assert len(s.extra["charts"]) == 2 and all(h > 100 for h in s.extra["charts"]), s.extra["charts"]


@pytest.mark.parametrize(("role", "page"), CASES, ids=[f"{r}-{p}" for r, p in CASES])
def test_no_raw_name_on_screen(seen, library, role: str, page: str) -> None:
    """Every label, table header and code a user reads is in words (issue 14 §3.1): no column name of the
    store or of an analysis frame (grid.labels), no code of a vocabulary, no snake_case identifier."""
    s = seen(role, page)
    raw, codes = labels.raw_names(library), labels.code_values()
    views = s.extra["labels"]
    assert views and any(v["labels"] for v in views)
    if page in ("audit", "campaigns", "overview"):  # pages whose tables must have been read
        assert any(t["headers"] for v in views for t in v["tables"]), f"{role}/{page}: no table header read"
    found = [p for v in views for p in raw_on_screen(v, raw, codes)]
    assert found == [], f"{role}/{page} shows raw names: {found[:20]}"
