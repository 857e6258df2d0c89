"""Leader maps of assistance (救助慰问): a choropleth of one measure per unit
(cell, community, street or H3 hexagon) and the Gi* hot-spot map.

Small-count protection: a unit with fewer than ``k`` households is drawn in a
neutral "<k" class and none of its figures is put into the map (its tooltip
shows "<k"); the colour classes are computed from the shown units only, with
distinct printed bounds (:func:`maps.classes.classify`).

Every unit is named on hover: the cell, community or street name, and for a
hexagon the community its centre lies in ("某某社区一带") when the communities are
given. Names are escaped like every text that reaches the map.
"""

from __future__ import annotations

from collections.abc import Iterable

import folium
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from grid.hotspots import CLASSES
from maps.classes import classify
from maps.layers import (
    add_legend,
    add_title,
    base_map,
    class_colour,
    class_legend,
    feature_collection,
    finish,
    group,
)
from maps.styled import StyledGeoJson

__all__ = [
    "UNIT_COLUMNS",
    "SUPPRESSED_COLOUR",
    "HOTSPOT_COLOURS",
    "h3_polygons",
    "assistance_map",
    "hotspot_map",
]

#: Unit id columns understood by the maps, in order of preference.
UNIT_COLUMNS: tuple[str, ...] = ("cell_id", "community_code", "street_code", "h3_cell")
#: The neutral colour of units whose figures are hidden (fewer than k households).
SUPPRESSED_COLOUR = "#bdbdbd"
NO_DATA = "#f0f0f0"
#: Gi* class -> fill colour: reds for hot spots, blues for cold spots.
HOTSPOT_COLOURS: dict[str, str] = {
    "hot_99": "#b2182b",
    "hot_95": "#ef8a62",
    "hot_90": "#fddbc7",
    "cold_99": "#2166ac",
    "cold_95": "#67a9cf",
    "cold_90": "#d1e5f0",
    "not_significant": "#f7f7f7",
    "no_neighbours": "#d9d9d9",
}


def h3_polygons(ids: Iterable[str]) -> list[shapely.Polygon]:
    """Hexagon polygons (lon/lat) of H3 cell ids."""
    polys = []
    for i in ids:
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(i)]
        polys.append(shapely.Polygon(ring))
    return polys


def _unit_col(frame: pd.DataFrame) -> str:
    for c in UNIT_COLUMNS:
        if c in frame.columns:
            return c
    raise ValueError(f"the units need one of the columns {UNIT_COLUMNS}")


def _fmt(v: float, share: bool) -> str:
    if not np.isfinite(v):
        return "—"
    if share:
        return f"{v * 100:.1f}%"
    return f"{v:,.2f}" if v != int(v) else f"{v:,.0f}"


def _bounds(gdf: gpd.GeoDataFrame) -> list[float]:
    return [float(b) for b in gdf.total_bounds]


def place_names(units: gpd.GeoDataFrame, places: gpd.GeoDataFrame) -> pd.Series:
    """For each unit, the name of the place (``name`` + polygon, e.g. the communities) holding its
    centre, with "一带" (around), or "" where none does; the lowest-sorting name wins on an edge.

    >>> sq = lambda x: shapely.box(x, 0, x + 1, 1)
    >>> places = gpd.GeoDataFrame({"name": ["甲社区", "乙社区"]}, geometry=[sq(0), sq(1)])
    >>> place_names(gpd.GeoDataFrame(geometry=[sq(0.2).buffer(-0.4), sq(5)]), places).tolist()
    ['甲社区一带', '']
    """
    out = pd.Series([""] * len(units), index=units.index, dtype=object)
    if not len(units) or not len(places):
        return out
    centres = shapely.point_on_surface(units.geometry.to_numpy())
    tree = shapely.STRtree(places.geometry.to_numpy())
    hit_u, hit_p = tree.query(centres, predicate="intersects")
    names = places["name"].astype(str).to_numpy()
    found: dict[int, str] = {}
    for u, p in zip(hit_u, hit_p, strict=True):
        n = names[p]
        if int(u) not in found or n < found[int(u)]:
            found[int(u)] = n
    for u, n in found.items():
        out.iloc[u] = f"{n}一带"
    return out


def assistance_map(units_gdf: gpd.GeoDataFrame, measure: str, label: str, share: bool = False,
                   k: int = 5, unit_label: str = "单元", places: gpd.GeoDataFrame | None = None) -> folium.Map:
    """A choropleth of ``measure`` over units, with small-count protection.

    Parameters
    ----------
    units_gdf : GeoDataFrame
        One row per unit (WGS84): a unit id column (``cell_id``,
        ``community_code``, ``street_code`` or ``h3_cell``; for H3 the geometry
        may be missing and is built from the ids), ``households``, ``measure``
        and optionally ``name``.
    measure, label : str
        The column to colour by and what it counts (for the title, legend and tooltips).
    share : bool
        The measure is a fraction (fixed fifths, shown as percentages).
    k : int
        Units with fewer than ``k`` households are drawn as "<k" without figures.
    unit_label : str
        What a unit is called (网格, 社区, 街道, 六边形), for the title.
    places : GeoDataFrame, optional
        ``name`` + polygons (the communities): a unit without a name is named after the
        place holding its centre (:func:`place_names`), so a hexagon reads "某某社区一带".
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    col = _unit_col(units_gdf)
    gdf = units_gdf.copy()
    if col == "h3_cell" and ("geometry" not in gdf.columns or gdf.geometry.isna().all()):
        gdf = gpd.GeoDataFrame(gdf.drop(columns=["geometry"], errors="ignore"),
                               geometry=h3_polygons(gdf[col]), crs="EPSG:4326")
    gdf = gdf[gdf[col].notna() & gdf.geometry.notna()].reset_index(drop=True)
    if not len(gdf):
        raise ValueError("the map has nothing to show: no unit with a geometry")
    hh = pd.to_numeric(gdf["households"], errors="coerce").fillna(0).to_numpy(dtype=float)
    small = hh < k
    values = pd.to_numeric(gdf[measure], errors="coerce").to_numpy(dtype=float)
    shown = values[~small]
    classes = classify(shown, share=share)

    def colour(v: float) -> str:
        return NO_DATA if not np.isfinite(v) else class_colour(classes, v)

    hidden = f"<{k}"
    if "name" in gdf.columns:
        names = gdf["name"].astype(object).where(gdf["name"].notna(), "")
    else:
        names = pd.Series([""] * len(gdf), index=gdf.index, dtype=object)
    if places is not None:
        missing = names.astype(str).str.len() == 0
        if missing.any():
            names = names.where(~missing, place_names(gdf[missing], places))
    names = names.where(names.astype(str).str.len() > 0, gdf[col].astype(str))
    props = pd.DataFrame({
        "unit": gdf[col].astype(str).to_numpy(),
        "name": names.astype(str).to_numpy(),
        # Hidden units carry no figure at all: only their id, name and "<k".
        "households": [hidden if s else f"{int(n):,}" for s, n in zip(small, hh, strict=True)],
        "value": [hidden if s else _fmt(v, share) for s, v in zip(small, values, strict=True)],
        "_fill": [SUPPRESSED_COLOUR if s else colour(v) for s, v in zip(small, values, strict=True)],
    })
    fc_frame = gpd.GeoDataFrame(props, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    m = base_map(_bounds(fc_frame))
    fg = group(f"{unit_label}：{label}")
    StyledGeoJson(
        feature_collection(fc_frame, ["unit", "name", "households", "value", "_fill"]),
        style_function=lambda f: {"fillColor": f["properties"]["_fill"], "color": "#636363",
                                  "weight": 0.7, "fillOpacity": 0.78},
        highlight_function=lambda f: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=["name", "unit", "households", "value"],
                                      aliases=[unit_label, "编码", "住户", label]),
    ).add_to(fg)
    fg.add_to(m)
    entries = [(c, "box", text) for c, text in class_legend(classes)] if np.isfinite(shown).any() else []
    if np.isnan(shown).any():
        entries.append((NO_DATA, "box", "无数据 / no data"))
    if small.any():
        entries.append((SUPPRESSED_COLOUR, "box", f"{hidden}：住户少于 {k} 户，不显示数字 · fewer than {k} households"))
    add_legend(m, [(label, entries)])
    add_title(m, f"救助分布：{label}（按{unit_label}；住户少于 {k} 户的{unit_label}显示“{hidden}”）")
    return finish(m)


def hotspot_map(cells_gdf: gpd.GeoDataFrame, gi_frame: pd.DataFrame, label: str = "",
                k: int | None = None) -> folium.Map:
    """The Gi* hot-spot map: cells in red (hot) or blue (cold) shades by class.

    Parameters
    ----------
    cells_gdf : GeoDataFrame
        Cells (WGS84) with ``cell_id`` and optionally ``name`` and ``households``.
    gi_frame : DataFrame
        ``cell_id, class`` from :func:`grid.hotspots.gi_star`. Only the class
        goes into the map, never a value, z-score or p-value.
    label : str
        The measure tested, for the title.
    k : int, optional
        With ``households`` in ``cells_gdf``: cells with fewer than ``k``
        households are drawn as "<k" without a class.
    """
    gdf = cells_gdf[cells_gdf.geometry.notna()].reset_index(drop=True)
    if not len(gdf):
        raise ValueError("the map has nothing to show: no cell")
    cls = gdf["cell_id"].map(gi_frame.set_index("cell_id")["class"]).astype(object)
    small = np.zeros(len(gdf), dtype=bool)
    if k is not None and "households" in gdf.columns:
        small = (pd.to_numeric(gdf["households"], errors="coerce").fillna(0) < k).to_numpy()
    hidden = f"<{k}"
    fills, texts = [], []
    for s, c in zip(small, cls, strict=True):
        if s:
            fills.append(SUPPRESSED_COLOUR)
            texts.append(hidden)
        elif isinstance(c, str) and c in CLASSES:
            fills.append(HOTSPOT_COLOURS[c])
            texts.append(CLASSES[c][0])
        else:
            fills.append(NO_DATA)
            texts.append("无数据 no data")
    props = gpd.GeoDataFrame({
        "cell_id": gdf["cell_id"].astype(str).to_numpy(),
        "name": (gdf["name"] if "name" in gdf.columns else gdf["cell_id"]).astype(str).to_numpy(),
        "class": texts, "_fill": fills,
    }, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    m = base_map(_bounds(props))
    fg = group(f"热点分析：{label}")
    StyledGeoJson(
        feature_collection(props, ["cell_id", "name", "class", "_fill"]),
        style_function=lambda f: {"fillColor": f["properties"]["_fill"], "color": "#636363",
                                  "weight": 0.7, "fillOpacity": 0.8},
        highlight_function=lambda f: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=["name", "cell_id", "class"], aliases=["网格", "编码", "类别"]),
    ).add_to(fg)
    fg.add_to(m)
    # The classes this map has, each with its count of cells (the 90 % classes appear only at FDR 10 %).
    shown_cls = pd.Series([c for s, c in zip(small, cls, strict=True) if not s and isinstance(c, str)], dtype=object)
    counts = shown_cls.value_counts()
    entries = [(HOTSPOT_COLOURS[c], "box", f"{zh}：{int(counts[c])} 个网格 · {en}")
               for c, (zh, en) in CLASSES.items() if c in counts.index]
    if NO_DATA in fills:
        entries.append((NO_DATA, "box", "无数据（无住户或指标无定义）· no data"))
    if small.any():
        entries.append((SUPPRESSED_COLOUR, "box", f"{hidden}：住户少于 {k} 户 · fewer than {k} households"))
    add_legend(m, [("Getis-Ord Gi* 热点/冷点", entries)])
    add_title(m, f"热点与冷点（Gi*）：{label}" if label else "热点与冷点（Gi*）")
    return finish(m)
