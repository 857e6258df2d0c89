"""The grid warden's map: their own cells with every household as a point
(coloured by whether a visit is due), stations with their service circles — or,
measured by walking, the street stretches within each station's walking reach —
and patrol areas. Only ever given the warden's own households."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement, Template
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
    stations_layer,
)
from maps.styled import StyledGeoJson
from maps.walking import catchment_layer, walking_legend

__all__ = ["warden_map", "reach_text", "building_size", "DUE_COLOUR", "OK_COLOUR", "OTHER_COLOUR", "CELL_COLOUR"]

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
               radius: float | None = None, buildings: pd.DataFrame | None = None) -> folium.Map:
    """Map of a warden's cells, made to be read and tapped on a phone.

    ``households`` carries ``hh_id, cell_id, address, lon, lat, target, days_since`` (from
    :func:`grid.visits.due_visits`) and a display ``label``; ``cells`` the warden's cells (WGS84);
    ``stations`` all stations (those near the cells are drawn). ``buildings`` is
    :func:`grid.buildings.group_buildings` of the households (computed here when not given).

    The warden's own cells are drawn clearly (a firm outline, almost no fill) and each building
    is ONE marker: a circle with its number of households, coloured by its worst status (a
    target household overdue, a target visited in time, no target), whose popup lists its
    households (escaped). Everything else is on demand, off by default in the layer control:
    stations (with ``station_type``, that type's service circles, or, with a ``network``, the
    street stretches within walking reach instead), and patrol areas. Households carrying
    ``reach_m, reach_covered, reach_tier, reach_status`` (:func:`grid.coverage.household_reach`)
    say in the popup how far the nearest station of the type is.
    """
    from grid.buildings import group_buildings

    bounds = cells.total_bounds
    m = base_map(bounds, basemap=basemap, tianditu_key=tianditu_key)
    fg = group(f"我的网格（{len(cells)}）")
    StyledGeoJson(feature_collection(cells, ["cell_id", "name"]),
                   style_function=lambda f: {"color": CELL_COLOUR, "weight": 3, "fillColor": "#ffffff",
                                             "fillOpacity": 0.35, "opacity": 1.0},
                   tooltip=folium.GeoJsonTooltip(fields=["name", "cell_id"], aliases=["网格", "编码"])).add_to(fg)
    fg.add_to(m)
    on_demand: list[folium.FeatureGroup] = [patrol_layer(patrols)]
    minx, miny, maxx, maxy = bounds
    pad = 0.01
    near = stations[(stations["lon"].between(minx - pad, maxx + pad)) & (stations["lat"].between(miny - pad, maxy + pad))]
    walking = network is not None and station_type is not None
    if station_type is None:
        on_demand += stations_layer(near)
    else:
        own = near[near["type"] == station_type]
        on_demand += stations_layer(own, radius, [station_type], circles=not walking)
        on_demand += stations_layer(near[near["type"] != station_type], circles=False)
    if walking:
        assert network is not None and station_type is not None
        on_demand.append(catchment_layer(network, near, station_type, radius))
    for layer in on_demand:  # off until asked for in the layer control: the cells and buildings stay legible
        layer.show = False
        layer.add_to(m)
    target = households["target"].to_numpy(dtype=bool)
    due = target & overdue(households["days_since"], visit_days)
    n_due = int(due.sum())
    if buildings is None:
        buildings = group_buildings(households, due)
    hh = group(f"楼栋（{len(buildings)} 栋，{len(households)} 户）")
    _buildings_layer(hh, buildings, households, due, station_type, "walk" if walking else "straight")
    hh.add_to(m)
    title = f"我的网格：{len(households)} 户，其中 {n_due} 户困难户超过 {visit_days} 天未走访"
    if station_type is not None and "reach_covered" in households:
        ruler = "步行距离" if walking else "直线半径"
        title += (f" ｜ 按{ruler}在{model.label(station_type)}服务范围内 "
                  f"{int(households['reach_covered'].astype(bool).sum())} 户")
    add_title(m, title)
    phone = MacroElement()  # on a phone the page's counts above the map say it: the title would hide buildings
    phone._template = _PHONE_TITLE
    m.get_root().add_child(phone)
    shown = [t for t in model.STATION_TYPES if (near["type"] == t).any()]
    add_legend(m, [
        ("楼栋（数字为户数，点开看各户）", [(DUE_COLOUR, "dot", f"有困难户超过 {visit_days} 天未走访"),
                              (OK_COLOUR, "dot", "困难户均已按时走访"), (OTHER_COLOUR, "dot", "无困难户")]),
        *([("步行距离（图层中打开）", walking_legend(station_type, radius)[:1])] if walking and station_type else []),
        ("站点（图层中打开）", [(STATION_COLOURS[t], "dot", model.label(t)) for t in shown]),
        ("其他", [(PATROL_COLOUR, "dash", "巡逻区域（图层中打开）"), (CELL_COLOUR, "box", "我的网格")]),
    ])
    return finish(m)


#: The warden's own cells: a firm dark outline.
CELL_COLOUR = "#1b3a5c"
_STATUS_COLOUR = {"due": DUE_COLOUR, "visited": OK_COLOUR, "other": OTHER_COLOUR}
_STATUS_TEXT = {"due": "待走访", "visited": "已走访", "other": "非困难户"}
#: Every building marker answers a tap on 44 × 44 px (a fingertip), whatever the circle drawn in it.
TAP_PX = 44


def building_size(n: int) -> int:
    """A building circle's diameter in pixels: bigger for bigger buildings, never above the tap area.

    >>> [building_size(n) for n in (1, 10, 100, 1000)]
    [28, 32, 38, 44]
    """
    return 28 if n < 5 else 32 if n < 20 else 38 if n < 200 else TAP_PX


def _buildings_layer(fg: folium.FeatureGroup, buildings: pd.DataFrame, households: pd.DataFrame,
                     due: np.ndarray, station_type: str | None, distance: str) -> None:
    """One marker per building: its count in a circle of its status's colour, its households in the popup."""
    by_id = households.assign(_due=due).set_index(households["hh_id"].astype(str))
    reach = dict(zip(households["hh_id"].astype(str), _reach_words(households, station_type, distance), strict=True))
    for b in buildings.itertuples(index=False):
        colour = _STATUS_COLOUR[str(b.status)]
        size = building_size(int(b.n))
        rows = []
        for h in list(b.hh_ids):
            r = by_id.loc[h]
            state = "due" if bool(r["_due"]) else "visited" if bool(r["target"]) else "other"
            room = str(r["address"])[len(str(b.door)):].strip() or str(r["address"])
            rows.append(Markup('<li data-hh="{}" data-status="{}"><b style="color:{}">{}</b> {} · {}'
                               '<br><small>{}</small></li>').format(
                h, state, _STATUS_COLOUR[state], _STATUS_TEXT[state], room, str(r.get("head_name") or ""), reach[h]))
        body = Markup("").join(rows)
        popup = Markup('<div class="wg-bldg-pop" data-building="{}"><b>{}</b><br>{} 户，其中 {} 户待走访'
                       '<ol style="padding-left:18px;margin:4px 0;max-height:220px;overflow-y:auto">{}</ol>'
                       '<small>在地图下方的列表中点一户，打开户卡</small></div>').format(
            str(b.building), str(b.door), int(b.n), int(b.n_due), body)
        icon = folium.DivIcon(
            html=str(Markup('<div class="wg-bldg" data-status="{}" data-n="{}" data-building="{}" style="width:{}px;'
                            'height:{}px;display:flex;align-items:center;justify-content:center">'
                            '<span style="width:{}px;height:{}px;border-radius:50%;background:{};color:#fff;'
                            'font:700 13px/{}px sans-serif;text-align:center;border:2px solid #fff;'
                            'box-shadow:0 1px 3px rgba(0,0,0,.5)">{}</span></div>').format(
                str(b.status), int(b.n), str(b.building), TAP_PX, TAP_PX, size - 4, size - 4, colour, size - 4,
                int(b.n))),
            icon_size=(TAP_PX, TAP_PX), icon_anchor=(TAP_PX // 2, TAP_PX // 2), class_name="wg-bldg-icon")
        marker = folium.Marker([round(float(b.lat), 6), round(float(b.lon), 6)], icon=icon)
        marker.add_child(_popup(str(popup)))
        marker.add_to(fg)


_PHONE_TITLE = Template("""{% macro header(this, kwargs) %}<style>@media (max-width: 520px) {
 .wg-title { display: none; } .leaflet-popup-content { margin: 8px 10px; font-size: 13px; } }</style>
{% endmacro %}""")

_POPUP = Template("""{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.bindPopup({{ this.html|tojson }}, {maxWidth: 250, autoPanPaddingTopLeft: [48, 10], autoPanPaddingBottomRight: [10, 10]});
{% endmacro %}""")


def _popup(html_text: str) -> MacroElement:
    """A popup bound by Leaflet itself: folium's ``Popup`` builds its content with jQuery, which these
    maps do not load. The HTML (escaped where it quotes data) travels as a JSON string."""
    el = MacroElement()
    el._template = _POPUP
    el.html = html_text  # type: ignore[attr-defined]
    return el


def _reach_words(households: pd.DataFrame, station_type: str | None, distance: str) -> list[str]:
    """How far each household's nearest station of the type is (:func:`reach_text`), or "" when not known."""
    if station_type is None or "reach_m" not in households:
        return [""] * len(households)
    return [reach_text(station_type, distance, float(d), bool(c), int(t), str(s)) for d, c, t, s in zip(
        households["reach_m"].to_numpy(dtype=float), households["reach_covered"], households["reach_tier"],
        households["reach_status"], strict=True)]
