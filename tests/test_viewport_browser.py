"""Points beyond maps.plan.POINTS_MAX are drawn where the map looks, in headless Chromium.

A street's plan holds tens of thousands of stops and its audit as many omissions. At the
street's zoom the map draws none of them one by one (the plan's routes, the audit's counts
per cell), and a note says how many are in view; zoomed in, it draws exactly the points inside
the view padded by a tenth of its size on each side (Leaflet's ``pad(0.1)``), worked out
here from the view's bounds, with their tooltips escaped. Switching the layer off takes its
points and its note away.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from markupsafe import Markup

from maps.offline import standalone_html
from maps.plan import POINTS_MAX, audit_map, plan_map
from tests.browsing import module_browser

#: About 2.5 km x 2.2 km of a town, lon/lat.
WEST, SOUTH, EAST, NORTH = 118.060, 24.480, 118.085, 24.500
HOSTILE = '<img src=x onerror="window.__pwned=1">'

_MARKERS_JS = """(name) => {
  const out = [];
  window[name].eachLayer(l => {
    if (l instanceof L.CircleMarker && l.feature) {
      const tip = l.getTooltip();
      const content = tip ? tip.getContent() : null;
      out.push([JSON.parse(JSON.stringify(l.feature.properties)),
                typeof content === 'string' ? content : (content === null ? null : 'not text')]);
    }
  });
  const note = document.querySelector('.wg-viewport-note');
  return {markers: out, note: note ? note.textContent : null};
}"""

_BOUNDS_JS = "(name) => { const b = window[name].getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }"


browser = pytest.fixture(scope="module", name="browser")(module_browser)


def _cells(n: int = 5) -> gpd.GeoDataFrame:
    step = (EAST - WEST) / n
    return gpd.GeoDataFrame({"cell_id": [f"c{k}" for k in range(n)], "name": [f"第{k}网格" for k in range(n)]},
                            geometry=[shapely.box(WEST + k * step, SOUTH, WEST + (k + 1) * step, NORTH)
                                      for k in range(n)], crs="EPSG:4326")


def _grid_points(n: int) -> pd.DataFrame:
    """``n`` points on a regular lattice over the town, with the cell each falls in."""
    side = int(n ** 0.5) + 1
    rows = []
    for k in range(n):
        lon = WEST + 0.0005 + (k % side) * (EAST - WEST - 0.001) / side
        lat = SOUTH + 0.0005 + (k // side) * (NORTH - SOUTH - 0.001) / side
        rows.append({"hh_id": f"H{k:05d}", "lon": round(lon, 6), "lat": round(lat, 6),
                     "cell_id": f"c{min(int((lon - WEST) / ((EAST - WEST) / 5)), 4)}"})
    return pd.DataFrame(rows)


def _open(browser: Any, m: Any) -> tuple[Any, Any, str]:
    ctx = browser.new_context(viewport={"width": 1000, "height": 700})
    page = ctx.new_page()
    page.set_content(standalone_html(m, embed_fonts=False))
    name = m.get_name()
    page.wait_for_function(f"() => window['{name}'] && window['{name}'].getSize().x > 0")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_timeout(300)
    return ctx, page, name


def _inside(points: pd.DataFrame, box: list[float], pad: float = 0.0) -> set[str]:
    w, s, e, n = box
    dx, dy = (e - w) * pad, (n - s) * pad
    sel = points[(points["lon"] >= w - dx) & (points["lon"] <= e + dx) & (points["lat"] >= s - dy)
                 & (points["lat"] <= n + dy)]
    return set(sel["hh_id"])


def _zoom_in(page: Any, name: str, lat: float, lon: float, zoom: int) -> None:
    page.evaluate(f"() => {{ window['{name}'].setView([{lat}, {lon}], {zoom}, {{animate: false}}); }}")
    page.wait_for_timeout(100)


def _plan(n_visitors: int, per: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    pts = _grid_points(n_visitors * per)
    items = pts.assign(visitor_id=[f"V{k // per:03d}" for k in range(len(pts))],
                       seq=[k % per + 1 for k in range(len(pts))],
                       label=[f"{HOSTILE}路{k}号" for k in range(len(pts))])
    starts = pd.DataFrame({"visitor_id": [f"V{v:03d}" for v in range(n_visitors)],
                           "name": [f"走访人{v}" for v in range(n_visitors)],
                           "lat": SOUTH + 0.001, "lon": WEST + 0.001})
    return items, starts


def test_a_street_plan_draws_its_stops_only_where_the_map_looks(browser) -> None:
    items, starts = _plan(60, 50)
    assert len(items) > POINTS_MAX
    ctx, page, name = _open(browser, plan_map(_cells(), items, starts, "计划"))
    try:
        got = page.evaluate(_MARKERS_JS, name)
        box = page.evaluate(_BOUNDS_JS, name)
        # At the street's zoom: no stop one by one (the starts are), and the note counts those in view.
        assert not [p for p, _ in got["markers"] if p.get("kind") == "stop"]
        assert sum(p.get("kind") == "start" for p, _ in got["markers"]) == len(starts)
        assert got["note"] and f"视野内 {len(_inside(items, box)):,} 个" in got["note"], got["note"]
        # Zoomed in: exactly the stops inside the padded view, each with its escaped tooltip.
        _zoom_in(page, name, 24.49, 118.0725, 18)
        got = page.evaluate(_MARKERS_JS, name)
        box = page.evaluate(_BOUNDS_JS, name)
        drawn = {p["hh_id"]: tip for p, tip in got["markers"] if p.get("kind") == "stop"}
        want = _inside(items, box, pad=0.1)
        assert 0 < len(_inside(items, box)) <= POINTS_MAX and set(drawn) == want
        assert got["note"] is None
        row = items.set_index("hh_id").loc[sorted(want)[0]]
        name_of = dict(zip(starts["visitor_id"], starts["name"], strict=True))
        assert drawn[sorted(want)[0]] == Markup.escape(f"{name_of[row['visitor_id']]} 第{row['seq']}站：{row['label']}")
        page.evaluate(f"() => {{ const m = window['{name}']; m.eachLayer(l => {{"
                      " if (l.getTooltip && l.getTooltip() && l.feature && l.feature.properties.kind === 'stop')"
                      " { l.openTooltip(); } }); }")
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.__pwned === undefined && !document.querySelector('.leaflet-tooltip img')")
        # The layer switched off takes its stops away; on again, they are back.
        assert page.evaluate(f"() => {{ const m = window['{name}']; m.eachLayer(l => {{"
                             " if (l instanceof L.FeatureGroup && !(l instanceof L.GeoJSON) && l.getLayers().some("
                             "   x => x instanceof L.LayerGroup && !(x instanceof L.FeatureGroup))) { window.__stops = l; }"
                             " }); return !!window.__stops; }")
        page.evaluate(f"() => {{ window['{name}'].removeLayer(window.__stops); }}")
        off = page.evaluate(_MARKERS_JS, name)
        assert not [p for p, _ in off["markers"] if p.get("kind") == "stop"] and off["note"] is None
        page.evaluate(f"() => {{ window['{name}'].addLayer(window.__stops); }}")
        again = {p["hh_id"] for p, _ in page.evaluate(_MARKERS_JS, name)["markers"] if p.get("kind") == "stop"}
        assert again == want
    finally:
        ctx.close()


def test_a_small_plan_draws_every_stop_at_once(browser) -> None:
    items, starts = _plan(20, 10)
    ctx, page, name = _open(browser, plan_map(_cells(), items, starts, "计划"))
    try:
        got = page.evaluate(_MARKERS_JS, name)
        assert {p["hh_id"] for p, _ in got["markers"] if p.get("kind") == "stop"} == set(items["hh_id"])
        assert got["note"] is None
    finally:
        ctx.close()


def test_a_street_audit_counts_omissions_per_cell_and_draws_them_one_by_one_zoomed_in(browser) -> None:
    pts = _grid_points(POINTS_MAX + 500)
    # Every household not visited; every third also not helped (two rows, one household).
    om = pd.concat([pts.assign(reason="未走访"), pts.iloc[::3].assign(reason="未救助")], ignore_index=True)
    cells = _cells()
    ctx, page, name = _open(browser, audit_map(cells, om, om.iloc[0:0], "核查"))
    try:
        got = page.evaluate(_MARKERS_JS, name)
        per_cell = [(p, tip) for p, tip in got["markers"] if p.get("kind") == "omission_cell"]
        assert not [p for p, _ in got["markers"] if p.get("kind") == "omission"]
        want = pts.groupby("cell_id").size()
        assert {p["cell"]: p["n"] for p, _ in per_cell} == want.to_dict()
        helped = pts.iloc[::3].groupby("cell_id").size()
        for p, _ in per_cell:  # the layer's tooltip shows each feature's tip
            k, tip = p["cell"], p["tip"]
            label = cells.set_index("cell_id").loc[k, "name"]
            assert tip == f"{label}：遗漏 {want[k]:,} 户（未走访 {want[k]:,} · 未救助 {helped.get(k, 0):,}）"
        assert got["note"] and "遗漏住户" in got["note"]
        _zoom_in(page, name, 24.49, 118.0725, 18)
        got = page.evaluate(_MARKERS_JS, name)
        box = page.evaluate(_BOUNDS_JS, name)
        drawn = {p["hh_id"]: tip for p, tip in got["markers"] if p.get("kind") == "omission"}
        assert set(drawn) == _inside(pts, box, pad=0.1) and drawn
        assert not [p for p, _ in got["markers"] if p.get("kind") == "omission_cell"]  # counts or households
        third = set(pts["hh_id"].iloc[::3])
        for hh, tip in drawn.items():
            assert tip == f"{hh} · 未走访" + ("、未救助" if hh in third else "")
    finally:
        ctx.close()
