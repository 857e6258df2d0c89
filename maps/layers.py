"""Folium layers built from analysis frames: cells coloured by a measure,
stations with their service circles, gap households (aggregated when many),
patrol areas and admin boundaries; plus a legend and a title on every map.

No tiles are needed: the default basemap is a plain background with the
district's boundaries. No branca colormaps are used (they pull d3 from a CDN);
colours and legends are plain HTML/CSS.

Text is escaped on the server. folium's ``GeoJsonTooltip`` and ``GeoJsonPopup``,
a marker's tooltip and Leaflet's layer control insert their text as HTML, so
every string property of :func:`feature_collection` and :func:`point_features`
is HTML-escaped, every layer name goes through :func:`group`, and titles and
legends escape their text. Markup that a layer means (a ``<br>`` in a station's
tooltip) is built with :class:`markupsafe.Markup`, whose ``format`` escapes what
it is given, and passes through unchanged.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement, Template
from markupsafe import Markup

from grid import model
from maps.classes import Classes, classify
from maps.offline import localize
from maps.styled import StyledGeoJson

__all__ = [
    "GAP_COLOUR",
    "STATION_COLOURS",
    "SEQUENTIAL",
    "BASEMAPS",
    "base_map",
    "admin_layer",
    "cells_layer",
    "stations_layer",
    "gaps_layer",
    "gaps_by_cell_layer",
    "patrol_layer",
    "add_legend",
    "add_title",
    "class_breaks",
    "class_colours",
    "class_colour",
    "class_legend",
    "feature_collection",
    "point_features",
    "safe",
    "group",
    "points_layer",
    "count_radii",
    "finish",
]

#: The one warning colour for gaps (households out of reach).
GAP_COLOUR = "#d7301f"
#: Sequential blues for choropleths (red is kept for gaps).
SEQUENTIAL = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"]
NO_DATA = "#d9d9d9"
#: One colour per station type.
STATION_COLOURS = {
    "party_service": "#c51b7d",
    "clinic": "#1a9850",
    "day_care": "#fdae61",
    "police": "#2c7bb6",
    "charity_store": "#984ea3",
    "service_hall": "#8c510a",
    "health_center": "#01665e",
    "elderly_home": "#f46d43",
}
PATROL_COLOUR = "#35978f"
BACKGROUND = "#f3f1ea"

#: Basemaps: ``none`` works offline; the others need tiles from the network.
BASEMAPS: dict[str, dict[str, str]] = {
    "none": {"zh": "无底图（离线）", "en": "none (offline)"},
    "osm": {"zh": "OpenStreetMap", "en": "OpenStreetMap",
            "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "attr": "© OpenStreetMap contributors"},
    "tianditu": {"zh": "天地图（需密钥）", "en": "Tianditu (needs a key)",
                 "url": "https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                        "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                        "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
                 "attr": "天地图 © 国家地理信息公共服务平台"},
}


def _round_coords(geom: Any, ndigits: int = 5) -> Any:
    return shapely.transform(geom, lambda c: np.round(c, ndigits))


def safe(value: Any) -> Any:
    """A property value as it may reach a map's HTML: text escaped, :class:`~markupsafe.Markup` kept.

    Examples
    --------
    >>> safe('<img src=x onerror="alert(1)">'), safe(Markup("a<br>b")), safe(3)
    ('&lt;img src=x onerror=&#34;alert(1)&#34;&gt;', Markup('a<br>b'), 3)
    """
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return str(Markup.escape(value))
    return value


def group(name: str, show: bool = True) -> folium.FeatureGroup:
    """A layer, its name escaped (Leaflet's layer control shows names as HTML)."""
    return folium.FeatureGroup(name=html.escape(str(name)), show=show)


def feature_collection(gdf: gpd.GeoDataFrame, props: Sequence[str], ndigits: int = 5) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of ``gdf``'s geometries with ``props`` as properties, text escaped (:func:`safe`).

    >>> g = gpd.GeoDataFrame({"name": ["<b>x</b>"]}, geometry=[shapely.Point(1, 2)])
    >>> feature_collection(g, ["name"])["features"][0]["properties"]
    {'name': '&lt;b&gt;x&lt;/b&gt;'}
    """
    feats = []
    geoms = gdf.geometry.to_numpy()
    records = gdf[list(props)].to_dict(orient="records")
    for geom, rec in zip(geoms, records, strict=False):
        clean = {k: (None if isinstance(v, float) and np.isnan(v) else safe(v)) for k, v in rec.items()}
        feats.append({"type": "Feature", "properties": clean,
                      "geometry": json.loads(shapely.to_geojson(_round_coords(geom, ndigits)))})
    return {"type": "FeatureCollection", "features": feats}


def _refit(bounds: list[list[float]]) -> MacroElement:
    """Fit the map to ``bounds`` again whenever its size changes, until the user moves it.

    A map drawn while hidden (a Streamlit tab not yet opened renders its st_folium iframe
    with no size) is fitted at 0 x 0 pixels: Leaflet then sits at zoom 0, the whole world
    with the area as one dot. A map drawn while its frame is still growing (a tab sliding
    open) is fitted at a fraction of its final width, and then shows several times the
    area. A ResizeObserver on the map's container tells Leaflet the new size
    (``invalidateSize``) and fits the bounds again; once the user has pressed, touched,
    scrolled or typed on the map, it keeps where they moved it.
    """
    el = MacroElement()
    el._template = Template(
        "{% macro script(this, kwargs) %}(function (map, bounds) {"
        " var box = map.getContainer(); map._wgTouched = false;"
        " ['mousedown', 'pointerdown', 'touchstart', 'wheel', 'keydown'].forEach(function (e) {"
        "   box.addEventListener(e, function () { map._wgTouched = true; }, {passive: true, capture: true}); });"
        " var had = map.getSize(); var fit = function () {"
        "   map.invalidateSize(false); var now = map.getSize();"
        "   if (now.x > 0 && now.y > 0 && (!map._wgTouched || had.x === 0 || had.y === 0"
        "       || map.getZoom() === 0) && (now.x !== had.x || now.y !== had.y"
        "       || map.getZoom() === 0)) {"
        "     map.fitBounds(bounds); }"
        "   had = now; };"
        " if (window.ResizeObserver) { new ResizeObserver(fit).observe(box); }"
        " window.addEventListener('resize', fit);"
        " setTimeout(fit, 0);"
        "})({{ this._parent.get_name() }}, " + json.dumps(bounds) + ");{% endmacro %}"
    )
    return el


def base_map(bounds: Sequence[float], basemap: str = "none", tianditu_key: str = "",
             height: str = "100%") -> folium.Map:
    """An empty map fitted to ``bounds`` (minx, miny, maxx, maxy in lon/lat).

    The default basemap is none: a plain background that needs no network.
    """
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    if not all(np.isfinite([minx, miny, maxx, maxy])):
        raise ValueError("the map has nothing to show: its bounds are empty")
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], tiles=None, zoom_start=13,
                   control_scale=False, prefer_canvas=True, height=height)
    # Only Leaflet itself: these maps use no jQuery, Bootstrap or awesome-markers icons, and every
    # script less is one request less before the map draws (st_folium loads them one by one).
    m.default_js = [(name, url) for name, url in m.default_js if name == "leaflet"]
    m.default_css = [(name, url) for name, url in m.default_css if name == "leaflet_css"]
    scale = MacroElement()
    scale._template = Template(
        "{% macro script(this, kwargs) %}L.control.scale({imperial: false, metric: true})"
        ".addTo({{ this._parent.get_name() }});{% endmacro %}"
    )
    m.add_child(scale)
    if basemap != "none":
        spec = BASEMAPS.get(basemap)
        if spec is None:
            raise ValueError(f"unknown basemap {basemap!r}; one of {sorted(BASEMAPS)}")
        url = spec["url"].replace("{key}", tianditu_key)
        folium.TileLayer(tiles=url, attr=spec["attr"], name=spec["zh"], control=False).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    m.add_child(_refit([[miny, minx], [maxy, maxx]]))
    css = Template(
        "{% macro header(this, kwargs) %}<style>body,.leaflet-container{font-family:'Noto Sans CJK SC',"
        "'Microsoft YaHei','PingFang SC',sans-serif}.leaflet-container{background:" + BACKGROUND + "}</style>"
        "{% endmacro %}"
    )
    style = MacroElement()
    style._template = css
    m.get_root().add_child(style)
    return m


def admin_layer(units: gpd.GeoDataFrame, name: str = "行政边界 boundaries") -> folium.FeatureGroup:
    """Outlines of admin units (``code, name, level`` + geometry), labelled on hover."""
    fg = group(name)
    weights = {"district": 3.0, "street": 2.0, "community": 1.0}
    for level in ("community", "street", "district"):
        sub = units[units["level"] == level]
        if not len(sub):
            continue
        StyledGeoJson(
            feature_collection(sub, ["code", "name", "level"]),
            style_function=lambda f, w=weights[level]: {
                "color": "#444444", "weight": w, "fill": False, "opacity": 0.9},
            tooltip=folium.GeoJsonTooltip(fields=["name", "code"], aliases=["名称", "代码"]),
            name=level,
        ).add_to(fg)
    return fg


def class_breaks(values: np.ndarray, k: int = 5, share: bool = False) -> list[float]:
    """Upper bounds of at most ``k`` classes (:func:`maps.classes.classify`): fixed fifths for
    shares, distinct quantiles as the legend prints them otherwise."""
    return list(classify(values, k=k, share=share).uppers)


def class_colours(classes: Classes) -> list[str]:
    """The fill colour of each class: the darkest of :data:`SEQUENTIAL` when there are fewer than five."""
    n = len(classes)
    return SEQUENTIAL[-n:] if 0 < n < len(SEQUENTIAL) else list(SEQUENTIAL)


def class_legend(classes: Classes) -> list[tuple[str, str]]:
    """``(colour, label)`` of each class, lowest first."""
    return list(zip(class_colours(classes), classes.labels(), strict=False))


def class_colour(classes: Classes, value: float | None) -> str:
    """The fill colour of ``value`` (:data:`NO_DATA` when missing)."""
    i = classes.index(value)
    return NO_DATA if i is None else class_colours(classes)[i]


def _fmt(v: float, share: bool) -> str:
    return f"{v * 100:.0f}%" if share else (f"{v:.2f}" if abs(v) < 10 and v != int(v) else f"{v:,.0f}")


def cells_layer(cells: gpd.GeoDataFrame, measure: str, label: str, share: bool = False,
                name: str | None = None) -> tuple[folium.FeatureGroup, list[tuple[str, str]]]:
    """Cells filled by the class of ``measure``; returns the layer and its legend entries.

    ``cells`` carries ``cell_id, name`` and the measure columns (see
    :data:`grid.coverage.CELL_MEASURES`).
    """
    values = cells[measure].to_numpy(dtype=float)
    classes = classify(values, share=share)
    legend = class_legend(classes)
    if np.isnan(values).any():
        legend.append((NO_DATA, "无数据 / no data"))
    cols = ["cell_id", "name", "households", "vulnerable", measure]
    cols = list(dict.fromkeys(c for c in cols if c in cells.columns))
    gdf = cells.copy()
    gdf["_fill"] = [class_colour(classes, v) for v in values]
    gdf["_value"] = [("—" if not np.isfinite(v) else _fmt(v, share)) for v in values]
    fc = feature_collection(gdf, cols + ["_fill", "_value"])
    fg = group(name or f"网格：{label}")
    StyledGeoJson(
        fc,
        style_function=lambda f: {"fillColor": f["properties"]["_fill"], "color": "#636363",
                                  "weight": 0.6, "fillOpacity": 0.75},
        highlight_function=lambda f: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=[c for c in ("name", "cell_id", "households", "vulnerable") if c in cols] + ["_value"],
            aliases=[a for c, a in (("name", "网格"), ("cell_id", "编码"), ("households", "住户"),
                                    ("vulnerable", "困难户")) if c in cols] + [label],
        ),
    ).add_to(fg)
    return fg, legend


def point_features(lat: Any, lon: Any, props: dict[str, Any] | None = None, ndigits: int = 6) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of points from coordinate arrays and property columns.

    Thousands of points travel as one GeoJSON layer (one folium element), not one
    element each: that keeps the page's script small and quick to build and to send.
    Text properties are escaped (:func:`safe`).

    >>> fc = point_features([24.5], [118.1], {"kind": ["gap"]})
    >>> fc["features"][0]["geometry"], fc["features"][0]["properties"]
    ({'type': 'Point', 'coordinates': [118.1, 24.5]}, {'kind': 'gap'})
    """
    la = np.round(np.asarray(lat, dtype=float), ndigits).tolist()
    lo = np.round(np.asarray(lon, dtype=float), ndigits).tolist()
    cols = {k: (v.tolist() if hasattr(v, "tolist") else list(v)) for k, v in (props or {}).items()}
    feats = []
    for i, (y, x) in enumerate(zip(la, lo, strict=True)):
        feats.append({"type": "Feature", "id": i, "properties": {k: safe(v[i]) for k, v in cols.items()},
                      "geometry": {"type": "Point", "coordinates": [x, y]}})
    return {"type": "FeatureCollection", "features": feats}


def points_layer(fc: dict[str, Any], marker: folium.Circle | folium.CircleMarker, *,
                 style: Any = None, tooltip: str | None = None) -> folium.GeoJson:
    """One GeoJSON layer drawing every point of ``fc`` with ``marker``'s options.

    ``style`` (a function of the feature, as folium's ``style_function``) may set
    per-point options such as ``radius`` or ``fillColor``; ``tooltip`` names a
    property shown on hover (escaped by :func:`point_features`; Markup kept).
    """
    kwargs: dict[str, Any] = {"marker": marker}
    if style is not None:
        kwargs["style_function"] = style
    if tooltip is not None:
        kwargs["tooltip"] = folium.GeoJsonTooltip(fields=[tooltip], labels=False)
    return StyledGeoJson(fc, **kwargs)


def stations_layer(stations: pd.DataFrame, radius: float | None = None,
                   types: Sequence[str] | None = None, circles: bool = True) -> list[folium.FeatureGroup]:
    """One layer per station type: a dot and the service circle (``radius`` or each ``radius_m``).

    Circles and dots are two GeoJSON layers per type (features of ``kind``
    ``service_area`` and ``station``). ``circles=False`` draws the dots only
    (walking mode draws catchments instead: :mod:`maps.walking`).
    """
    groups = []
    for t in types or [t for t in model.STATION_TYPES if (stations["type"] == t).any()]:
        sub = stations[stations["type"] == t]
        colour = STATION_COLOURS.get(t, "#555555")
        fg = group(f"站点：{model.label(t)}（{len(sub)}）")
        if len(sub):
            rad = (np.full(len(sub), float(radius)) if radius is not None
                   else sub["radius_m"].to_numpy(dtype=float))
            tips = [Markup("{}<br>{} · 服务半径 {} m").format(str(n), model.label(t), f"{r:.0f}")
                    for n, r in zip(sub["name"], rad, strict=True)]
            if circles:
                areas = point_features(sub["lat"], sub["lon"], {"kind": ["service_area"] * len(sub), "r": rad})
                points_layer(areas, folium.Circle(radius=float(rad[0]), color=colour, weight=1, fill=True,
                                                  fill_opacity=0.06, opacity=0.6),
                             style=lambda f: {"radius": f["properties"]["r"]}).add_to(fg)
            dots = point_features(sub["lat"], sub["lon"], {"kind": ["station"] * len(sub), "tip": tips})
            points_layer(dots, folium.CircleMarker(radius=5, color="#ffffff", weight=1.5, fill=True,
                                                   fill_color=colour, fill_opacity=1.0),
                         tooltip="tip").add_to(fg)
        groups.append(fg)
    return groups


def count_radii(n: np.ndarray, top: int, base: float, span: float) -> np.ndarray:
    """Circle radii (pixels) for counts ``n``: ``base`` plus ``span`` times the square root of the share
    of ``top``, so a circle's area grows with its count; in half pixels (few distinct styles).

    >>> count_radii(np.array([0, 25, 100]), 100, 3, 9).tolist()
    [3.0, 7.5, 12.0]
    """
    return np.round((base + span * np.sqrt(n / max(top, 1))) * 2) / 2


def gaps_layer(gaps: pd.DataFrame, label: str, max_points: int = 2000,
               bin_m: float = 150.0) -> folium.FeatureGroup:
    """Households out of reach, in the warning colour.

    Up to ``max_points`` are drawn one by one; more are aggregated into
    ``bin_m``-metre squares drawn as circles sized by their count. ``gaps``
    carries ``lon, lat, x_m, y_m`` (and ``vulnerable``). One GeoJSON layer of
    features of ``kind`` ``gap`` (one household) or ``gap_bin`` (``n`` households).
    """
    fg = group(f"盲区住户：{label}（{len(gaps):,}）")
    if not len(gaps):
        return fg
    if len(gaps) <= max_points:
        fc = point_features(gaps["lat"], gaps["lon"], {"kind": ["gap"] * len(gaps)})
        points_layer(fc, folium.CircleMarker(radius=2.5, color=GAP_COLOUR, weight=0, fill=True,
                                             fill_color=GAP_COLOUR, fill_opacity=0.8)).add_to(fg)
        return fg
    bx = np.floor(gaps["x_m"].to_numpy() / bin_m).astype(np.int64)
    by = np.floor(gaps["y_m"].to_numpy() / bin_m).astype(np.int64)
    agg = pd.DataFrame({"bx": bx, "by": by, "lon": gaps["lon"].to_numpy(), "lat": gaps["lat"].to_numpy(),
                        "vul": gaps["vulnerable"].to_numpy(dtype=int) if "vulnerable" in gaps else 0})
    agg = agg.groupby(["bx", "by"]).agg(n=("lon", "size"), vul=("vul", "sum"), lon=("lon", "mean"),
                                        lat=("lat", "mean")).reset_index()
    n = agg["n"].to_numpy()
    # Numbers only in each square, the words once in the tooltip's labels (a Chinese character costs
    # six bytes in the map's JSON, and a million households make thousands of squares).
    fc = point_features(agg["lat"], agg["lon"], {
        "kind": ["gap_bin"] * len(agg), "n": n, "r": count_radii(n, int(n.max()), 2.5, 6), "vul": agg["vul"].to_numpy()},
        ndigits=5)
    StyledGeoJson(fc, marker=folium.CircleMarker(radius=2.5, color=GAP_COLOUR, weight=0, fill=True,
                                                  fill_color=GAP_COLOUR, fill_opacity=0.6),
                   style_function=lambda f: {"radius": f["properties"]["r"]},
                   tooltip=folium.GeoJsonTooltip(fields=["n", "vul"], aliases=["户数", "其中困难户"])).add_to(fg)
    return fg


def gaps_by_cell_layer(cells: gpd.GeoDataFrame, label: str) -> folium.FeatureGroup:
    """Households out of reach as one circle per cell (count only): what leaders see.

    ``cells`` carries ``outside`` and ``vulnerable_outside`` per cell (WGS84).
    Features of ``kind`` ``gap_cell`` with the count ``n``.
    """
    total = int(cells["outside"].sum()) if len(cells) else 0
    fg = group(f"盲区住户（按网格汇总）：{label}（{total:,}）")
    if not len(cells):
        return fg
    some = cells[cells["outside"] > 0]
    if not len(some):
        return fg
    pts = some.geometry.representative_point()
    n = some["outside"].to_numpy(dtype=int)
    vul = some["vulnerable_outside"].to_numpy(dtype=int)
    fc = point_features(pts.y, pts.x, {
        "kind": ["gap_cell"] * len(some), "n": n, "r": count_radii(n, int(n.max()), 3, 9),
        "tip": [f"{a} 户（困难户 {b}）" for a, b in zip(n, vul, strict=True)]})
    points_layer(fc, folium.CircleMarker(radius=3, color=GAP_COLOUR, weight=0, fill=True, fill_color=GAP_COLOUR,
                                         fill_opacity=0.6),
                 style=lambda f: {"radius": f["properties"]["r"]}, tooltip="tip").add_to(fg)
    return fg


def patrol_layer(patrols: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """Patrol areas as hatched-looking outlines, team on hover."""
    fg = group(f"巡逻区域（{len(patrols)}）")
    if len(patrols):
        StyledGeoJson(
            feature_collection(patrols, ["area_id", "team", "kind"]),
            style_function=lambda f: {"color": PATROL_COLOUR, "weight": 2, "dashArray": "6 4",
                                      "fillColor": PATROL_COLOUR, "fillOpacity": 0.12},
            tooltip=folium.GeoJsonTooltip(fields=["team"], aliases=["巡逻队"]),
        ).add_to(fg)
    return fg


_LEGEND = Template("""
{% macro html(this, kwargs) %}
<details class="wg-legend" open style="position:absolute;z-index:9999;bottom:28px;right:10px;background:#fff;
 padding:6px 10px;border:1px solid #999;border-radius:4px;font-size:12px;line-height:1.5;
 max-width:260px;max-height:70%;overflow:auto;box-shadow:0 1px 4px rgba(0,0,0,.2)">
<summary style="cursor:pointer;font-weight:600">图例 Legend</summary>
{{ this.body }}
</details>
<style>@media (max-width: 520px) { .wg-legend { font-size: 10px; max-width: 170px; }
 .wg-title { font-size: 12px !important; max-width: 60% !important; } }</style>
{% endmacro %}
{% macro script(this, kwargs) %}
/* On a phone the legend starts folded, so it does not cover the map. */
(function () {
  if (window.innerWidth >= 520) { return; }
  document.querySelectorAll("details.wg-legend").forEach(function (el) { el.removeAttribute("open"); });
})();
{% endmacro %}
""")

_TITLE = Template("""
{% macro html(this, kwargs) %}
<div class="wg-title" style="position:absolute;z-index:9999;top:10px;left:50%;transform:translateX(-50%);
 background:rgba(255,255,255,.92);padding:4px 12px;border:1px solid #999;border-radius:4px;
 font-size:14px;font-weight:600;max-width:70%;text-align:center;pointer-events:none">{{ this.text }}</div>
{% endmacro %}
""")


def add_legend(m: folium.Map, sections: Sequence[tuple[str, Sequence[tuple[str, str, str]]]]) -> None:
    """Add a legend: sections of ``(title, [(colour, shape, text)])``, shape ``box|dot|ring|dash``."""
    parts = []
    for title, entries in sections:
        parts.append(f"<div style='font-weight:600;margin-top:4px'>{html.escape(title)}</div>")
        for colour, shape, text in entries:
            if shape == "dot":
                sw = f"border-radius:50%;background:{colour};width:10px;height:10px"
            elif shape == "ring":
                sw = f"border-radius:50%;border:2px solid {colour};width:12px;height:12px"
            elif shape == "dash":
                sw = f"border:2px dashed {colour};width:14px;height:10px"
            else:
                sw = f"background:{colour};width:14px;height:10px;border:1px solid #777"
            parts.append(f"<div><span style='display:inline-block;vertical-align:middle;{sw}'></span> "
                         f"{html.escape(text)}</div>")
    el = MacroElement()
    el._template = _LEGEND
    el.body = "".join(parts)  # type: ignore[attr-defined]
    m.add_child(el)


def add_title(m: folium.Map, text: str) -> None:
    """Add a title saying what the map counts."""
    el = MacroElement()
    el._template = _TITLE
    el.text = html.escape(text)  # type: ignore[attr-defined]
    m.add_child(el)


def finish(m: folium.Map) -> folium.Map:
    """Add the layer control and point every script at the app's own copies."""
    folium.LayerControl(collapsed=True).add_to(m)
    return localize(m)
