"""The grid warden's map: their own cells with every household as a point
(coloured by whether a visit is due), stations with their service circles and
patrol areas. Only ever given the warden's own households."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from grid import model
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

__all__ = ["warden_map", "DUE_COLOUR", "OK_COLOUR", "OTHER_COLOUR"]

DUE_COLOUR = GAP_COLOUR
OK_COLOUR = "#00a6ca"  # cyan: no station type uses it (clinics are green)
OTHER_COLOUR = "#969696"


def warden_map(cells: gpd.GeoDataFrame, households: pd.DataFrame, stations: pd.DataFrame,
               patrols: gpd.GeoDataFrame, *, visit_days: int = 90, basemap: str = "none",
               tianditu_key: str = "") -> folium.Map:
    """Map of a warden's cells.

    ``households`` carries ``hh_id, lon, lat, target, days_since`` (from
    :func:`grid.visits.due_visits`) and a display ``label``; ``cells`` the
    warden's cells (WGS84); ``stations`` all stations (those near the cells are drawn).
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
    for layer in stations_layer(near):
        layer.add_to(m)
    hh = group(f"住户（{len(households)}）")
    target = households["target"].to_numpy(dtype=bool)
    due = target & overdue(households["days_since"], visit_days)
    n_due = int(due.sum())
    colour = np.where(due, DUE_COLOUR, np.where(target, OK_COLOUR, OTHER_COLOUR))
    fc = point_features(households["lat"], households["lon"], {
        "kind": ["household"] * len(households), "hh_id": households["hh_id"].astype(str).to_numpy(),
        "fill": colour, "r": np.where(target, 5.0, 3.0),
        "tip": [str(x) for x in households["label"]]})
    points_layer(fc, folium.CircleMarker(radius=3, color="#ffffff", weight=1, fill=True, fill_opacity=0.9),
                 style=lambda f: {"radius": f["properties"]["r"], "fillColor": f["properties"]["fill"]},
                 tooltip="tip").add_to(hh)
    hh.add_to(m)
    add_title(m, f"我的网格：{len(households)} 户，其中 {n_due} 户困难户超过 {visit_days} 天未走访")
    shown = [t for t in model.STATION_TYPES if (near["type"] == t).any()]
    add_legend(m, [
        ("住户", [(DUE_COLOUR, "dot", f"困难户，超过 {visit_days} 天未走访"), (OK_COLOUR, "dot", "困难户，已按时走访"),
                (OTHER_COLOUR, "dot", "其他住户")]),
        ("站点与服务半径", [(STATION_COLOURS[t], "dot", model.label(t)) for t in shown]),
        ("其他", [(PATROL_COLOUR, "dash", "巡逻区域"), ("#2b2b2b", "box", "网格边界")]),
    ])
    return finish(m)
