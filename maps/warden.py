"""The grid warden's map: their own cells with every household as a point
(coloured by whether a visit is due), stations with their service circles — or,
measured by walking, the street stretches within each station's walking reach —
and patrol areas. Only ever given the warden's own households."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from markupsafe import Markup

from grid import model
from grid.network import MAX_LEG_M, Network
from grid.visits import overdue
from maps.layers import (
    GAP_COLOUR,
    PATROL_COLOUR,
    STATION_COLOURS,
    add_legend,
    add_title,
    base_map,
    feature_collection,
    finish,
    group,
    patrol_layer,
    point_features,
    points_layer,
    stations_layer,
)
from maps.walking import catchment_layer, walking_legend

__all__ = ["warden_map", "reach_text", "DUE_COLOUR", "OK_COLOUR", "OTHER_COLOUR"]

DUE_COLOUR = GAP_COLOUR
OK_COLOUR = "#00a6ca"  # cyan: no station type uses it (clinics are green)
OTHER_COLOUR = "#969696"


def reach_text(station_type: str, distance: str, distance_m: float, covered: bool, tier: int, status: str) -> str:
    """How far a household is from the nearest station of a type, in words (for a tooltip or a table).

    >>> reach_text("clinic", "walk", 420.4, False, 10, "reached")
    '步行至最近卫生室 420 m（10 分钟生活圈，服务范围外）'
    >>> reach_text("clinic", "straight", 250.0, True, 0, "reached")
    '直线距最近卫生室 250 m（服务半径内）'
    """
    label = model.label(station_type)
    if status == "off_network":
        return f"不在路网上（距可步行道路超过 {MAX_LEG_M:.0f} m），未计算步行距离"
    if status == "unreachable" or not np.isfinite(distance_m):
        return f"路网上走不到{label}" if distance == "walk" else f"没有{label}"
    if distance == "walk":
        circle = f"{tier} 分钟生活圈" if tier else "超出 15 分钟生活圈"
        return f"步行至最近{label} {distance_m:,.0f} m（{circle}，服务范围{'内' if covered else '外'}）"
    return f"直线距最近{label} {distance_m:,.0f} m（服务半径{'内' if covered else '外'}）"


def warden_map(cells: gpd.GeoDataFrame, households: pd.DataFrame, stations: pd.DataFrame,
               patrols: gpd.GeoDataFrame, *, visit_days: int = 90, basemap: str = "none",
               tianditu_key: str = "", station_type: str | None = None, network: Network | None = None,
               radius: float | None = None) -> folium.Map:
    """Map of a warden's cells.

    ``households`` carries ``hh_id, lon, lat, target, days_since`` (from
    :func:`grid.visits.due_visits`) and a display ``label``; ``cells`` the
    warden's cells (WGS84); ``stations`` all stations (those near the cells are drawn).

    With ``station_type``, only that type's service areas are drawn: with a
    ``network`` (walking), the street stretches within walking reach of its
    stations near the cells instead of circles (``radius`` overrides each
    station's own). Households carrying ``reach_m, reach_covered, reach_tier,
    reach_status`` (:func:`grid.coverage.household_reach`) say in their
    tooltip how far the nearest station of the type is.
    """
    bounds = cells.total_bounds
    m = base_map(bounds, basemap=basemap, tianditu_key=tianditu_key)
    fg = group(f"我的网格（{len(cells)}）")
    folium.GeoJson(feature_collection(cells, ["cell_id", "name"]),
                   style_function=lambda f: {"color": "#2b2b2b", "weight": 2, "fillColor": "#fdfdf5",
                                             "fillOpacity": 0.5},
                   tooltip=folium.GeoJsonTooltip(fields=["name", "cell_id"], aliases=["网格", "编码"])).add_to(fg)
    fg.add_to(m)
    patrol_layer(patrols).add_to(m)
    minx, miny, maxx, maxy = bounds
    pad = 0.01
    near = stations[(stations["lon"].between(minx - pad, maxx + pad)) & (stations["lat"].between(miny - pad, maxy + pad))]
    walking = network is not None and station_type is not None
    if station_type is None:
        layers = stations_layer(near)
    else:
        own = near[near["type"] == station_type]
        layers = stations_layer(own, radius, [station_type], circles=not walking)
        layers += stations_layer(near[near["type"] != station_type], circles=False)
    for layer in layers:
        layer.add_to(m)
    if walking:
        assert network is not None and station_type is not None
        catchment_layer(network, near, station_type, radius).add_to(m)
    hh = group(f"住户（{len(households)}）")
    target = households["target"].to_numpy(dtype=bool)
    due = target & overdue(households["days_since"], visit_days)
    n_due = int(due.sum())
    colour = np.where(due, DUE_COLOUR, np.where(target, OK_COLOUR, OTHER_COLOUR))
    fc = point_features(households["lat"], households["lon"], {
        "kind": ["household"] * len(households), "hh_id": households["hh_id"].astype(str).to_numpy(),
        "fill": colour, "r": np.where(target, 5.0, 3.0),
        "tip": _tips(households, station_type, "walk" if walking else "straight")})
    points_layer(fc, folium.CircleMarker(radius=3, color="#ffffff", weight=1, fill=True, fill_opacity=0.9),
                 style=lambda f: {"radius": f["properties"]["r"], "fillColor": f["properties"]["fill"]},
                 tooltip="tip").add_to(hh)
    hh.add_to(m)
    title = f"我的网格：{len(households)} 户，其中 {n_due} 户困难户超过 {visit_days} 天未走访"
    if station_type is not None and "reach_covered" in households:
        ruler = "步行距离" if walking else "直线半径"
        title += (f" ｜ 按{ruler}在{model.label(station_type)}服务范围内 "
                  f"{int(households['reach_covered'].astype(bool).sum())} 户")
    add_title(m, title)
    shown = [t for t in model.STATION_TYPES if (near["type"] == t).any()]
    add_legend(m, [
        ("住户", [(DUE_COLOUR, "dot", f"困难户，超过 {visit_days} 天未走访"), (OK_COLOUR, "dot", "困难户，已按时走访"),
                (OTHER_COLOUR, "dot", "其他住户")]),
        *([("步行距离", walking_legend(station_type, radius)[:1])] if walking and station_type else []),
        ("站点" if walking else "站点与服务半径", [(STATION_COLOURS[t], "dot", model.label(t)) for t in shown]),
        ("其他", [(PATROL_COLOUR, "dash", "巡逻区域"), ("#2b2b2b", "box", "网格边界")]),
    ])
    return finish(m)


def _tips(households: pd.DataFrame, station_type: str | None, distance: str) -> list[str | Markup]:
    """Each household's label (escaped), and how far its nearest station of the type is, when known."""
    labels = [str(x) for x in households["label"]]
    if station_type is None or "reach_m" not in households:
        return list(labels)
    words = [reach_text(station_type, distance, float(d), bool(c), int(t), str(s)) for d, c, t, s in zip(
        households["reach_m"].to_numpy(dtype=float), households["reach_covered"], households["reach_tier"],
        households["reach_status"], strict=True)]
    return [Markup("{}<br>{}").format(a, b) for a, b in zip(labels, words, strict=True)]
