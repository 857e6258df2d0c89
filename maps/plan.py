"""Campaign maps: each visitor's walking route in its own colour, and the
campaign's omissions and duplicates household by household."""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import pandas as pd

from maps.layers import (
    GAP_COLOUR,
    add_legend,
    add_title,
    base_map,
    count_radii,
    feature_collection,
    finish,
    group,
    point_features,
    points_layer,
    safe,
)
from maps.styled import StyledGeoJson
from maps.viewport import DEFAULT_LIMIT, ViewportPoints

__all__ = ["ROUTE_COLOURS", "plan_map", "audit_map"]

#: A qualitative palette (Tableau 10 + 10), cycled when there are more visitors.
ROUTE_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f",
                 "#bab0ac", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                 "#17becf", "#aec7e8", "#ffbb78", "#98df8a"]
DUPLICATE_COLOUR = "#6a3d9a"
#: Up to this many visitors each has a layer of its own (one switch each in the layer control); a
#: plan with more draws every route, stop and start in three layers: a street's 361 visitors as
#: 1,100 layers took the browser about 3 s to draw at 1,000,000 households (``bench/app.py``), and
#: no one reads a layer control with 361 switches.
ROUTE_GROUPS_MAX = 12
#: Up to this many stops (or omissions) are one GeoJSON layer drawn at once; more are drawn only where
#: the map looks, once the view holds at most this many (:class:`maps.viewport.ViewportPoints`): a
#: street's 26,721 planned households took Chromium 0.9 s to draw on every visit of the campaign page.
POINTS_MAX = DEFAULT_LIMIT


def _area(m: folium.Map, cells: gpd.GeoDataFrame) -> None:
    StyledGeoJson(feature_collection(cells, ["cell_id", "name"]), name="网格",
                   style_function=lambda f: {"color": "#777777", "weight": 0.8, "fillColor": "#ffffff",
                                             "fillOpacity": 0.3},
                   tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["网格"])).add_to(m)


def _planned_bounds(cells: gpd.GeoDataFrame, items: pd.DataFrame, starts: pd.DataFrame) -> list[float]:
    """The lon/lat box of the area's cells, the planned households and the visitors' starts."""
    lon = pd.concat([pd.to_numeric(items.get("lon", pd.Series(dtype=float)), errors="coerce"),
                     pd.to_numeric(starts.get("lon", pd.Series(dtype=float)), errors="coerce")]).dropna()
    lat = pd.concat([pd.to_numeric(items.get("lat", pd.Series(dtype=float)), errors="coerce"),
                     pd.to_numeric(starts.get("lat", pd.Series(dtype=float)), errors="coerce")]).dropna()
    box = [float(b) for b in cells.total_bounds] if len(cells) else [float("inf"), float("inf"), -float("inf"),
                                                                      -float("inf")]
    if len(lon) and len(lat):
        box = [min(box[0], float(lon.min())), min(box[1], float(lat.min())), max(box[2], float(lon.max())),
               max(box[3], float(lat.max()))]
    return box


def plan_map(cells: gpd.GeoDataFrame, items: pd.DataFrame, starts: pd.DataFrame, title: str) -> folium.Map:
    """Routes of a plan.

    ``items``: ``visitor_id, seq, hh_id, lon, lat, label``; ``starts``: ``visitor_id, name, lon, lat``.
    The map fits the planned area: ``cells`` (the plan's area), its households and the routes' starts.
    """
    m = base_map(_planned_bounds(cells, items, starts))
    _area(m, cells)
    if items["visitor_id"].nunique() > ROUTE_GROUPS_MAX:
        entries = _routes_together(m, items, starts)
    else:
        entries = _routes_apart(m, items, starts)
    shown = entries[:12] + ([("#ffffff", "box", f"……另有 {len(entries) - 12} 名走访人")] if len(entries) > 12 else [])
    add_title(m, title)
    add_legend(m, [("走访人与路线（黑框为出发点）", shown), ("其他", [("#777777", "box", "网格")])])
    return finish(m)


#: A visitor on the map: colour, name, stops in walking order, the start (lat, lon) if known.
_Visitor = tuple[str, str, pd.DataFrame, "list[float] | None"]


def _visitors(items: pd.DataFrame, starts: pd.DataFrame) -> list[_Visitor]:
    """The plan's visitors in id order, each with its colour, name, stops and start."""
    out: list[_Visitor] = []
    for k, (vid, sub) in enumerate(items.sort_values(["visitor_id", "seq"]).groupby("visitor_id", sort=True)):
        st = starts[starts["visitor_id"] == vid]
        name = str(st["name"].iloc[0]) if len(st) and "name" in st else str(vid)
        start = [float(st["lat"].iloc[0]), float(st["lon"].iloc[0])] if len(st) else None
        out.append((ROUTE_COLOURS[k % len(ROUTE_COLOURS)], name, sub, start))
    return out


def _path(sub: pd.DataFrame, start: list[float] | None) -> list[list[float]]:
    """``[lat, lon]`` of the route: the start (if known), then the stops in walking order."""
    return ([start] if start else []) + sub[["lat", "lon"]].astype(float).values.tolist()


def _stop_tips(name: str, sub: pd.DataFrame) -> list[str]:
    return [f"{name} 第{int(q)}站：{lb}" for q, lb in zip(sub["seq"], sub["label"], strict=True)]


def _routes_together(m: folium.Map, items: pd.DataFrame, starts: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Every route, stop and start in three GeoJSON layers under one switch, coloured per visitor."""
    routes: list[dict[str, object]] = []
    stops: list[pd.DataFrame] = []
    begin: list[tuple[float, float, str, str]] = []
    entries = []
    for colour, name, sub, start in _visitors(items, starts):
        line = _path(sub, start)
        if len(line) >= 2:
            routes.append({"type": "Feature", "properties": {"colour": colour, "tip": safe(f"{name}（{len(sub)} 户）")},
                           "geometry": {"type": "LineString",
                                        "coordinates": [[round(x, 6), round(y, 6)] for y, x in line]}})
        stops.append(pd.DataFrame({"lat": sub["lat"].astype(float).to_numpy(),
                                   "lon": sub["lon"].astype(float).to_numpy(),
                                   "hh_id": sub["hh_id"].astype(str).to_numpy(), "colour": colour,
                                   "tip": _stop_tips(name, sub)}))
        if start:
            begin.append((start[0], start[1], colour, f"{name} 出发点"))
        entries.append((colour, "dot", f"{name}（{len(sub)} 户）"))
    fg = group(f"走访路线（{len(entries)} 名走访人，{len(items)} 户）")
    StyledGeoJson({"type": "FeatureCollection", "features": routes},
                   style_function=lambda f: {"color": f["properties"]["colour"], "weight": 3, "opacity": 0.85},
                   tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False)).add_to(fg)
    every = pd.concat(stops, ignore_index=True)
    if len(every) > POINTS_MAX:
        ViewportPoints(every["lat"], every["lon"], tips=every["tip"].tolist(), fills=every["colour"].tolist(),
                       props={"kind": "stop", "hh_id": every["hh_id"].tolist()},
                       note="走访点 Stops").add_to(fg)
    else:
        points_layer(point_features(every["lat"], every["lon"], {
            "kind": ["stop"] * len(every), "hh_id": every["hh_id"].to_numpy(), "colour": every["colour"].to_numpy(),
            "tip": every["tip"].to_numpy()}),
            folium.CircleMarker(radius=4, color="#ffffff", weight=1, fill=True, fill_opacity=1),
            style=lambda f: {"fillColor": f["properties"]["colour"]}, tooltip="tip").add_to(fg)
    if begin:
        points_layer(point_features([b[0] for b in begin], [b[1] for b in begin], {
            "kind": ["start"] * len(begin), "colour": [b[2] for b in begin], "tip": [b[3] for b in begin]}),
            folium.CircleMarker(radius=6, color="#000000", weight=2, fill=True, fill_opacity=1),
            style=lambda f: {"fillColor": f["properties"]["colour"]}, tooltip="tip").add_to(fg)
    fg.add_to(m)
    return entries


def _routes_apart(m: folium.Map, items: pd.DataFrame, starts: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Each visitor's route, start and stops in a layer of its own."""
    entries = []
    visitors = _visitors(items, starts)
    # each layer draws its stops where the map looks once the plan has more than POINTS_MAX
    limit = max(100, POINTS_MAX // max(len(visitors), 1)) if len(items) > POINTS_MAX else None
    for colour, name, sub, start in visitors:
        fg = group(f"{name}（{len(sub)} 户）")
        path = _path(sub, start)
        folium.PolyLine(path, color=colour, weight=3, opacity=0.85).add_to(fg)
        if start:
            folium.CircleMarker(start, radius=6, color="#000000", weight=2, fill=True, fill_color=colour,
                                fill_opacity=1, tooltip=f"{html.escape(name)} 出发点").add_to(fg)
        if limit is not None:
            ViewportPoints(sub["lat"], sub["lon"], tips=_stop_tips(name, sub), fills=[colour] * len(sub),
                           props={"kind": "stop", "hh_id": sub["hh_id"].astype(str).tolist()},
                           limit=limit, note=f"{name} 走访点 Stops").add_to(fg)
        else:
            stops = point_features(sub["lat"], sub["lon"], {
                "kind": ["stop"] * len(sub), "hh_id": sub["hh_id"].astype(str).to_numpy(),
                "tip": _stop_tips(name, sub)})
            points_layer(stops, folium.CircleMarker(radius=4, color="#ffffff", weight=1, fill=True,
                                                    fill_color=colour, fill_opacity=1), tooltip="tip").add_to(fg)
        fg.add_to(m)
        entries.append((colour, "dot", f"{name}（{len(sub)} 户）"))
    return entries


def audit_map(cells: gpd.GeoDataFrame, omissions: pd.DataFrame, duplicates: pd.DataFrame, title: str) -> folium.Map:
    """Omissions (warning colour) and duplicates of a campaign; frames carry ``hh_id, lon, lat, reason``
    (and ``cell_id``), one row per household and reason.

    Up to :data:`POINTS_MAX` households of a kind are drawn one by one. More are counted per cell
    (a circle at their mean position, sized by the count, the reasons in its tooltip), and drawn
    one by one where the map looks once the view holds at most :data:`POINTS_MAX`.
    """
    m = base_map(cells.total_bounds)
    _area(m, cells)
    names = dict(zip(cells["cell_id"], cells["name"], strict=False)) if "name" in cells else {}
    counted = []  # the kinds drawn per cell at the area's zoom
    for frame, colour, label in ((omissions, GAP_COLOUR, "遗漏"), (duplicates, DUPLICATE_COLOUR, "重复")):
        kind = "omission" if label == "遗漏" else "duplicate"
        fg = group(f"{label}（{frame['hh_id'].nunique() if len(frame) else 0} 户）")
        one = _one_per_household(frame)
        marker = {"radius": 5, "color": "#ffffff", "weight": 1, "fillOpacity": 0.95}
        if len(one) > POINTS_MAX and "cell_id" in one:
            counted.append(label)
            ViewportPoints(one["lat"], one["lon"], tips=[f"{h} · {r}" for h, r in zip(one["hh_id"], one["reason"],
                                                                                      strict=True)],
                           fills=[colour] * len(one), props={"kind": kind,
                                                              "hh_id": one["hh_id"].astype(str).tolist()},
                           note=f"{label}住户 households", style=marker,
                           instead=_per_cell(frame, one, names, colour, kind, label)).add_to(fg)
        elif len(one):  # one GeoJSON layer: a campaign may have thousands of omissions
            fc = point_features(one["lat"], one["lon"], {
                "kind": [kind] * len(one), "hh_id": one["hh_id"].astype(str).to_numpy(),
                "tip": [f"{h} · {r}" for h, r in zip(one["hh_id"], one["reason"], strict=True)]})
            points_layer(fc, folium.CircleMarker(radius=5, color="#ffffff", weight=1, fill=True, fill_color=colour,
                                                 fill_opacity=0.95), tooltip="tip").add_to(fg)
        fg.add_to(m)
    add_title(m, title)
    results = [(GAP_COLOUR, "dot", "遗漏：未走访或未救助"), (DUPLICATE_COLOUR, "dot", "重复：同一项目救助两次")]
    if counted:
        results.append(("#ffffff", "dot", f"{'、'.join(counted)}多于 {POINTS_MAX:,} 户：每网格一圈（大小示户数），放大后逐户显示"))
    add_legend(m, [("核查结果", results), ("其他", [("#777777", "box", "网格")])])
    return finish(m)


def _one_per_household(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per household (the first row's position and cell), its reasons joined with 、 in order."""
    if not len(frame):
        return frame
    reasons = frame.groupby("hh_id", sort=False)["reason"].agg(lambda r: "、".join(dict.fromkeys(map(str, r))))
    one = frame.drop_duplicates("hh_id").copy()
    one["reason"] = one["hh_id"].map(reasons)
    return one


def _per_cell(frame: pd.DataFrame, one: pd.DataFrame, names: dict[str, str], colour: str, kind: str,
              label: str) -> folium.GeoJson:
    """A circle per cell at the mean position of its households in ``one``, sized by their count;
    the tooltip names the cell, the count and each reason's count (``frame``'s rows)."""
    agg = one.groupby("cell_id", sort=True).agg(n=("hh_id", "size"), lat=("lat", "mean"), lon=("lon", "mean"))
    order = list(dict.fromkeys(frame["reason"].astype(str)))  # the audit's order of reasons
    by_reason = frame.drop_duplicates(["hh_id", "reason"]).groupby(["cell_id", "reason"]).size().to_dict()
    tips = []
    for cell, n in agg["n"].items():
        parts = " · ".join(f"{r} {by_reason[(cell, r)]:,}" for r in order if (cell, r) in by_reason)
        tips.append(f"{names.get(cell, cell)}：{label} {n:,} 户" + (f"（{parts}）" if parts else ""))
    n = agg["n"].to_numpy()
    fc = point_features(agg["lat"], agg["lon"], {"kind": [f"{kind}_cell"] * len(agg), "cell": agg.index.astype(str),
                                                 "n": n, "r": count_radii(n, int(n.max()), 2.5, 6), "tip": tips}, ndigits=5)
    return points_layer(fc, folium.CircleMarker(radius=3, color="#ffffff", weight=1, fill=True, fill_color=colour,
                                                fill_opacity=0.75),
                        style=lambda f: {"radius": f["properties"]["r"]}, tooltip="tip")
