"""Planning maps: proposed station sites with their catchments, E2SFCA per cell, and a
proposal of redrawn cells. Every map has a title saying what it counts and a legend."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
from markupsafe import Markup

from grid import model
from grid.network import Network
from maps.layers import (
    STATION_COLOURS,
    add_legend,
    add_title,
    admin_layer,
    base_map,
    cells_layer,
    feature_collection,
    finish,
    group,
    point_features,
    points_layer,
    stations_layer,
)
from maps.styled import StyledGeoJson
from maps.walking import catchment_features, catchment_layer

__all__ = ["PROPOSAL_COLOUR", "siting_map", "access_map", "regrid_map", "KEPT_COLOUR", "NEW_COLOURS"]

#: Proposed sites: one colour, apart from every station type's.
PROPOSAL_COLOUR = "#d6004c"
KEPT_COLOUR = "#bdbdbd"
NEW_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f"]


def _bounds(cells: gpd.GeoDataFrame, extra: pd.DataFrame | None = None) -> list[float]:
    box = [float(b) for b in cells.total_bounds] if len(cells) else [118.0, 24.4, 118.2, 24.6]
    if extra is not None and len(extra):
        box = [min(box[0], float(extra["lon"].min())), min(box[1], float(extra["lat"].min())),
               max(box[2], float(extra["lon"].max())), max(box[3], float(extra["lat"].max()))]
    return box


def siting_map(cells: gpd.GeoDataFrame, admin: gpd.GeoDataFrame, stations: pd.DataFrame, proposals: pd.DataFrame,
               station_type: str, radius: float, *, distance: str = "straight", network: Network | None = None,
               title: str = "") -> folium.Map:
    """Existing stations of the type (dots and reach), the proposed sites (numbered by rank) and
    their catchments (circles, or the streets within walking reach)."""
    m = base_map(_bounds(cells, proposals))
    if len(admin):
        admin_layer(admin).add_to(m)
    StyledGeoJson(feature_collection(cells, ["name"]), name="网格",
                   style_function=lambda f: {"color": "#9e9e9e", "weight": 0.6, "fillOpacity": 0.0}).add_to(m)
    sub = stations[stations["type"] == station_type]
    walk = distance == "walk" and network is not None
    for fg in stations_layer(sub, radius=radius, types=[station_type], circles=not walk):
        fg.add_to(m)
    if network is not None and walk and len(sub):
        catchment_layer(network, sub, station_type, radius).add_to(m)
    label = model.label(station_type)
    fg = group(f"拟建{label}（{len(proposals)}）")
    if len(proposals):
        tips = [Markup("第 {} 个拟建{}：{}<br>{}").format(int(r), label, str(n), str(s))
                for r, n, s in zip(proposals["rank"], proposals["name"], proposals["sentence"], strict=True)]
        if walk and network is not None:
            p_st = pd.DataFrame({"station_id": proposals["candidate_id"].astype(str), "name": proposals["name"],
                                 "type": station_type, "x_m": proposals["x_m"], "y_m": proposals["y_m"],
                                 "radius_m": radius})
            fc = catchment_features(network, p_st, station_type, radius)
            if fc["features"]:
                StyledGeoJson(fc, style_function=lambda f: {"color": PROPOSAL_COLOUR, "weight": 3.5, "opacity": 0.8},
                               tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False)).add_to(fg)
        else:
            areas = point_features(proposals["lat"], proposals["lon"], {"kind": ["proposed_area"] * len(proposals)})
            points_layer(areas, folium.Circle(radius=float(radius), color=PROPOSAL_COLOUR, weight=2, dash_array="6 4",
                                              fill=True, fill_opacity=0.08)).add_to(fg)
        dots = point_features(proposals["lat"], proposals["lon"], {"kind": ["proposed"] * len(proposals), "tip": tips})
        points_layer(dots, folium.CircleMarker(radius=8, color="#ffffff", weight=2, fill=True,
                                               fill_color=PROPOSAL_COLOUR, fill_opacity=1.0), tooltip="tip").add_to(fg)
        for r, la, lo in zip(proposals["rank"], proposals["lat"], proposals["lon"], strict=True):
            folium.Marker([float(la), float(lo)], icon=folium.DivIcon(
                html=f"<div style='font-size:10px;color:#fff;font-weight:700;margin:-7px 0 0 -3px'>{int(r)}</div>"),
            ).add_to(fg)
    fg.add_to(m)
    how = "步行" if walk else "直线"
    add_title(m, title or f"拟建{label}：{len(proposals)} 处（{how} {radius:.0f} m）")
    add_legend(m, [("站点", [(STATION_COLOURS.get(station_type, "#555555"), "dot", f"现有{label}"),
                           (PROPOSAL_COLOUR, "dot", f"拟建{label}（数字为排序）"),
                           (PROPOSAL_COLOUR, "dash", f"拟建站点{how} {radius:.0f} m 服务范围")]),
                   ("其他", [("#9e9e9e", "box", "网格")])])
    return finish(m)


def access_map(cells: gpd.GeoDataFrame, access: pd.DataFrame, station_type: str, title: str = "") -> folium.Map:
    """Cells coloured by E2SFCA (``per_100``: stations per 100 vulnerable households, distance-weighted)."""
    label = model.label(station_type)
    g = cells.merge(access[["cell_id", "per_100", "vulnerable", "rank"]], on="cell_id", how="left")
    m = base_map(_bounds(g))
    fg, legend = cells_layer(g, "per_100", f"每百名困难户可及{label}")
    fg.add_to(m)
    add_title(m, title or f"{label}可及性（E2SFCA，5/10/15 分钟生活圈加权）：每百名困难户")
    add_legend(m, [(f"每百名困难户可及{label}（颜色越浅越短缺）", [(c, "box", t) for c, t in legend])])
    return finish(m)


def regrid_map(proposal: gpd.GeoDataFrame, community: gpd.GeoDataFrame, title: str = "") -> folium.Map:
    """The proposal: kept cells grey, new cells coloured, each with its households on hover (WGS84 frames)."""
    g = proposal.copy()
    g["_fill"] = [KEPT_COLOUR if s == "kept" else NEW_COLOURS[i % len(NEW_COLOURS)]
                  for i, s in enumerate(g["status"])]
    g["_status"] = g["status"].map({"kept": "保留", "new": "新划"})
    m = base_map(_bounds(g))
    if len(community):
        StyledGeoJson(feature_collection(community, ["name"]), name="社区边界",
                       style_function=lambda f: {"color": "#000000", "weight": 2.5, "fillOpacity": 0.0}).add_to(m)
    fg = group(f"网格重划方案（{len(g)} 格）")
    StyledGeoJson(feature_collection(g, ["cell_id", "name", "households", "_status", "_fill"]),
                   style_function=lambda f: {"fillColor": f["properties"]["_fill"], "color": "#333333", "weight": 1,
                                             "fillOpacity": 0.55},
                   tooltip=folium.GeoJsonTooltip(fields=["name", "cell_id", "households", "_status"],
                                                 aliases=["网格", "编码", "住户", "状态"])).add_to(fg)
    fg.add_to(m)
    n_new = int((g["status"] == "new").sum())
    add_title(m, title or f"网格重划方案：保留 {len(g) - n_new} 格，新划 {n_new} 格")
    add_legend(m, [("网格", [(KEPT_COLOUR, "box", "保留的网格（户数已在范围内）"),
                           (NEW_COLOURS[0], "box", "新划的网格（颜色区分）"), ("#000000", "box", "社区边界")])])
    return finish(m)
