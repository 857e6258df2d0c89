"""Walking layers: each station's walking catchment (the street stretches within
its radius along the network) and the households the straight line counts as
covered but walking does not.

Catchments are one GeoJSON layer per station type, one MultiLineString per
station (the stretches for which it is the nearest station), merged and
simplified in metres before they are sent, so the browser gets polylines, not
thousands of segments. Every text that reaches a tooltip is escaped here, on
the server: folium's ``GeoJsonTooltip`` inserts its fields as raw HTML.
"""

from __future__ import annotations

import html
import json
from typing import Any

import folium
import numpy as np
import pandas as pd
import shapely

from grid import model
from grid.network import Network, catchment_segments
from maps.layers import STATION_COLOURS, group, point_features, points_layer
from maps.styled import StyledGeoJson

__all__ = ["OVERSTATED_COLOUR", "catchment_features", "catchment_layer", "overstated_layer", "walking_legend"]

#: Households covered by the straight line only: a warning colour apart from the gaps' red.
OVERSTATED_COLOUR = "#ff7f00"


def _to_wgs84(net: Network, geoms: np.ndarray) -> np.ndarray:
    if net.crs is None or not len(geoms):
        return geoms
    import pyproj

    tr = pyproj.Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)

    def conv(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, conv), dtype=object)  # every vertex of every line at once


def catchment_features(net: Network, stations: pd.DataFrame, station_type: str, radius: float | None = None,
                       tolerance_m: float = 5.0) -> dict[str, Any]:
    """The walking catchments of a station type as a GeoJSON FeatureCollection (WGS84).

    One feature per station that reaches anything: ``kind`` ``catchment``,
    ``station_id``, and ``tip`` (the station's name, escaped, and its radius).
    Built with vectorised shapely calls (one array of lines, one multi-line per station).
    """
    seg = catchment_segments(net, stations, station_type, radius)
    seg = seg[((seg["x0"] != seg["x1"]) | (seg["y0"] != seg["y1"])).to_numpy()]
    feats: list[dict[str, Any]] = []
    if not len(seg):
        return {"type": "FeatureCollection", "features": feats}
    codes, ids = pd.factorize(seg["station_id"].astype(str), sort=True)
    xy = seg[["x0", "y0", "x1", "y1"]].to_numpy(dtype=float)
    lines = shapely.linestrings(xy.reshape(-1, 2, 2))
    order = np.argsort(codes, kind="stable")
    multis = shapely.multilinestrings(lines[order], indices=codes[order])
    geoms = shapely.simplify(shapely.line_merge(multis), tolerance_m)
    wgs = _to_wgs84(net, np.asarray(geoms, dtype=object))
    wgs = shapely.transform(wgs, lambda c: np.round(c, 5))  # 1e-5° ≈ 1 m: as fine as the lines are drawn
    names = stations.assign(station_id=stations["station_id"].astype(str)).set_index("station_id")
    name_of = names["name"] if "name" in names else pd.Series(dtype=object)
    radii = names["radius_m"]
    label = html.escape(model.label(station_type))
    for sid, geo in zip(ids, shapely.to_geojson(wgs), strict=True):
        r = float(radius) if radius is not None else float(radii.get(sid, np.nan))
        name = html.escape(str(name_of.get(sid, sid)))
        feats.append({"type": "Feature", "properties": {"kind": "catchment", "station_id": html.escape(str(sid)),
                                                         "tip": f"{name}<br>{label} · 步行 {r:.0f} m 可达"},
                      "geometry": json.loads(geo)})
    return {"type": "FeatureCollection", "features": feats}


def catchment_layer(net: Network, stations: pd.DataFrame, station_type: str,
                    radius: float | None = None) -> folium.FeatureGroup:
    """A layer of the walking catchments of one station type (its colour, station name on hover)."""
    fc = catchment_features(net, stations, station_type, radius)
    colour = STATION_COLOURS.get(station_type, "#555555")
    fg = group(f"步行可达范围：{model.label(station_type)}（{len(fc['features'])}）")
    if fc["features"]:
        StyledGeoJson(fc, style_function=lambda f, c=colour: {"color": c, "weight": 3, "opacity": 0.75},
                       tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False)).add_to(fg)
    return fg


def overstated_layer(households: pd.DataFrame, label: str, max_points: int = 2000,
                     bin_m: float = 150.0) -> folium.FeatureGroup:
    """Households inside the straight-line radius but beyond walking reach.

    ``households`` carries ``lon, lat`` (and ``x_m, y_m, vulnerable`` for
    aggregation): up to ``max_points`` drawn one by one (``kind``
    ``overstated``), more as ``bin_m`` squares sized by their count
    (``overstated_bin``).
    """
    fg = group(f"直线覆盖、步行不可达：{label}（{len(households):,}）")
    if not len(households):
        return fg
    style = folium.CircleMarker(radius=4, color=OVERSTATED_COLOUR, weight=2, fill=True, fill_color="#ffffff",
                                fill_opacity=0.9)
    if len(households) <= max_points:
        fc = point_features(households["lat"], households["lon"], {"kind": ["overstated"] * len(households)})
        points_layer(fc, style).add_to(fg)
        return fg
    agg = pd.DataFrame({"bx": np.floor(households["x_m"].to_numpy() / bin_m).astype(np.int64),
                        "by": np.floor(households["y_m"].to_numpy() / bin_m).astype(np.int64),
                        "lon": households["lon"].to_numpy(), "lat": households["lat"].to_numpy(),
                        "vul": households["vulnerable"].to_numpy(dtype=int) if "vulnerable" in households else 0})
    agg = agg.groupby(["bx", "by"]).agg(n=("lon", "size"), vul=("vul", "sum"), lon=("lon", "mean"),
                                        lat=("lat", "mean")).reset_index()
    n = agg["n"].to_numpy()
    r = np.round((3 + 6 * np.sqrt(n / max(int(n.max()), 1))) * 2) / 2
    # Numbers only in each square (the words once, in the tooltip's labels): a million households
    # give thousands of squares, and every Chinese character costs six bytes in the map's JSON.
    fc = point_features(agg["lat"], agg["lon"], {"kind": ["overstated_bin"] * len(agg), "n": n,
                                                 "vul": agg["vul"].to_numpy(), "r": r}, ndigits=5)
    StyledGeoJson(fc, marker=style, style_function=lambda f: {"radius": f["properties"]["r"]},
                   tooltip=folium.GeoJsonTooltip(fields=["n", "vul"],
                                                 aliases=["直线覆盖、步行不可达（户）", "其中困难户"])).add_to(fg)
    return fg


def walking_legend(station_type: str, radius: float | None = None) -> list[tuple[str, str, str]]:
    """Legend entries of the walking layers: ``(colour, shape, text)`` for :func:`maps.layers.add_legend`."""
    how = f"{radius:.0f} m" if radius is not None else "服务半径"
    label = model.label(station_type)
    return [(STATION_COLOURS.get(station_type, "#555555"), "dash", f"{label}步行 {how} 内可达的街道"),
            (OVERSTATED_COLOUR, "ring", f"按直线在{label}服务半径内、步行不可达的住户")]
