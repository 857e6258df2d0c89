"""The plan map draws every visitor's route, start and stops: each visitor in a layer of its own up to
maps.plan.ROUTE_GROUPS_MAX visitors, all of them in three layers beyond (a street's hundreds of visitors),
with the same routes, colours, stops and starts either way (read back from the folium layers)."""

from __future__ import annotations

from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import pytest
import shapely

from maps.plan import ROUTE_COLOURS, ROUTE_GROUPS_MAX, plan_map


def _plan(n_visitors: int, stops: int = 3) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    items = pd.DataFrame([{"visitor_id": f"V{v:03d}", "seq": q + 1, "hh_id": f"H{v:03d}{q}",
                           "lat": 24.45 + v * 1e-4, "lon": 118.08 + q * 1e-4, "label": f"地址<{v}-{q}>"}
                          for v in range(n_visitors) for q in range(stops)])
    starts = pd.DataFrame([{"visitor_id": f"V{v:03d}", "name": f"走访人{v}", "lat": 24.449 + v * 1e-4, "lon": 118.079}
                           for v in range(n_visitors) if v != 1])  # the second has no known start
    cells = gpd.GeoDataFrame({"cell_id": ["c"], "name": ["网格"]},
                             geometry=[shapely.box(118.07, 24.44, 118.1, 24.5)], crs="EPSG:4326")
    return cells, items, starts


def _layers(m: folium.Map) -> list[Any]:
    out, todo = [], [m]
    while todo:
        el = todo.pop()
        out.append(el)
        todo.extend(el._children.values())
    return out


def _drawn(m: folium.Map) -> dict[str, Any]:
    """Routes (colour -> [lat, lon] path), stops (hh_id) and starts (tooltip text), from whichever layers drew them."""
    routes: dict[str, list[list[float]]] = {}
    stops: list[str] = []
    starts: list[str] = []
    for el in _layers(m):
        if isinstance(el, folium.PolyLine):
            routes[el.options["color"]] = [list(p) for p in el.locations]
        elif isinstance(el, folium.CircleMarker) and el.options.get("color") == "#000000" and el.location:
            starts.append(next(str(c.text) for c in el._children.values() if isinstance(c, folium.Tooltip)))
        elif isinstance(el, folium.GeoJson) and isinstance(el.data, dict):
            for f in el.data.get("features", []):
                p, g = f["properties"], f["geometry"]
                if g["type"] == "LineString":
                    routes[p["colour"]] = [[y, x] for x, y in g["coordinates"]]
                elif p.get("kind") == "stop":
                    stops.append(p["hh_id"])
                elif p.get("kind") == "start":
                    starts.append(p["tip"])
    return {"routes": routes, "stops": sorted(stops), "starts": sorted(starts)}


@pytest.mark.parametrize("n", [ROUTE_GROUPS_MAX, ROUTE_GROUPS_MAX + 1, 25])
def test_every_route_stop_and_start_is_drawn(n: int) -> None:
    cells, items, starts = _plan(n)
    got = _drawn(plan_map(cells, items, starts, "计划"))
    assert got["stops"] == sorted(items["hh_id"])
    assert got["starts"] == sorted(f"走访人{v} 出发点" for v in range(n) if v != 1)
    want = {}
    for k in range(n):  # the k-th visitor by id: its colour, its start (if known), then its stops in order
        sub = items[items["visitor_id"] == f"V{k:03d}"].sort_values("seq")
        start = [] if k == 1 else [[24.449 + k * 1e-4, 118.079]]
        want.setdefault(ROUTE_COLOURS[k % len(ROUTE_COLOURS)], start + sub[["lat", "lon"]].values.tolist())
    assert set(got["routes"]) == set(want)
    for colour, path in want.items():
        if n <= len(ROUTE_COLOURS):  # beyond, colours repeat and the last visitor of a colour is what is read
            assert sum(got["routes"][colour], []) == pytest.approx(sum(path, []), abs=1e-6)


def test_many_visitors_are_three_layers_under_one_switch_few_have_one_each() -> None:
    few = plan_map(*_plan(ROUTE_GROUPS_MAX), "计划")
    many = plan_map(*_plan(ROUTE_GROUPS_MAX + 1), "计划")
    groups = lambda m: [el for el in _layers(m) if isinstance(el, folium.FeatureGroup)]  # noqa: E731
    assert len(groups(few)) == ROUTE_GROUPS_MAX
    assert len(groups(many)) == 1
    assert sum(isinstance(el, folium.GeoJson) for el in _layers(many)) == 1 + 3  # the cells, routes, stops, starts


def test_a_few_visitors_with_many_stops_draw_them_where_the_map_looks_each_in_its_own_layer() -> None:
    from maps.plan import POINTS_MAX
    from maps.viewport import ViewportPoints

    n = ROUTE_GROUPS_MAX - 2
    cells, items, starts = _plan(n, stops=POINTS_MAX // n + 1)  # more than POINTS_MAX in all
    m = plan_map(cells, items, starts, "计划")
    groups = [el for el in m._children.values() if isinstance(el, folium.FeatureGroup)]  # in visitor id order
    assert len(groups) == n
    for k, fg in enumerate(groups):
        pts = [el for el in fg._children.values() if isinstance(el, ViewportPoints)]
        assert len(pts) == 1, fg.layer_name
        sub = items[items["visitor_id"] == f"V{k:03d}"].sort_values("seq")
        # the visitor's own stops, in walking order, in its colour, at most POINTS_MAX / n drawn at once
        assert pts[0].data["props"]["hh_id"] == sub["hh_id"].tolist()
        assert pts[0].data["colours"] == [ROUTE_COLOURS[k % len(ROUTE_COLOURS)]]
        assert pts[0].limit == POINTS_MAX // n
        name = f"走访人{k}" if k != 1 else "V001"  # the second has no known start, so no name: its id
        assert pts[0].data["tip"][0] == f"{name} 第1站：地址&lt;{k}-0&gt;"
