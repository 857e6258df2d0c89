"""The overview map: cells coloured by a coverage measure, stations with their
service circles, households out of reach, patrol areas, admin boundaries; a
title that says what is counted and a legend for every layer."""

from __future__ import annotations

import folium

from grid import model
from grid.coverage import CELL_MEASURES, Overview
from grid.network import Network
from maps.layers import (
    GAP_COLOUR,
    PATROL_COLOUR,
    STATION_COLOURS,
    add_legend,
    add_title,
    admin_layer,
    base_map,
    cells_layer,
    finish,
    gaps_by_cell_layer,
    gaps_layer,
    patrol_layer,
    stations_layer,
)
from maps.walking import catchment_layer, overstated_layer, walking_legend

__all__ = ["overview_map"]


def overview_map(ov: Overview, measure: str = "share_outside", basemap: str = "none",
                 tianditu_key: str = "", all_station_types: bool = False,
                 counts_only: bool = False, network: Network | None = None) -> folium.Map:
    """Build the overview map from an :class:`~grid.coverage.Overview`.

    Parameters
    ----------
    measure : str
        A key of :data:`grid.coverage.CELL_MEASURES` for the cell colours.
    all_station_types : bool
        Draw every station type (default: only the type whose gaps are shown).
    counts_only : bool
        Draw households out of reach only as counts per cell (for leaders: no
        household's position is in the map).
    network : Network, optional
        With an overview measured by walking (``ov.distance == "walk"``), draw
        each station's walking catchment instead of its circle, and the
        households the straight line counts as covered but walking does not
        (not with ``counts_only``: their number is in the title instead).
    """
    if measure not in CELL_MEASURES:
        raise ValueError(f"unknown measure {measure!r}; one of {sorted(CELL_MEASURES)}")
    zh, _en, share = CELL_MEASURES[measure]
    tlabel = model.label(ov.station_type)
    rad = f"{ov.radius:.0f} m" if ov.radius is not None else "各站点默认服务半径"
    bounds = ov.admin.total_bounds if len(ov.admin) else ov.cells.total_bounds
    m = base_map(bounds, basemap=basemap, tianditu_key=tianditu_key)
    walking = ov.distance == "walk" and network is not None
    if measure in ("share_outside", "vulnerable_outside"):
        zh = f"{zh.replace('服务半径外', '步行可达范围外') if walking else zh}（{tlabel}）"
    cl, cell_legend = cells_layer(ov.cells, measure, zh, share=share)
    cl.add_to(m)
    patrol_layer(ov.patrols).add_to(m)
    types = None if all_station_types else [ov.station_type]
    for fg in stations_layer(ov.stations, ov.radius, types, circles=not walking):
        fg.add_to(m)
    if walking:
        assert network is not None
        catchment_layer(network, ov.stations, ov.station_type, ov.radius).add_to(m)
        if ov.comparison is not None and not counts_only:
            overstated_layer(ov.comparison.overstated_households, tlabel).add_to(m)
    if counts_only:
        gaps_by_cell_layer(ov.cells, tlabel).add_to(m)
    else:
        gaps_layer(ov.gaps, tlabel).add_to(m)
    admin_layer(ov.admin).add_to(m)
    k = ov.kpis
    if walking:
        over = f"（直线高估 {k['overstated']:,} 户）" if "overstated" in k else ""
        add_title(m, f"{tlabel}步行距离（{rad}）外住户 {k['outside']:,} 户，其中困难户 "
                     f"{k['vulnerable_outside']:,} 户{over} ｜ 网格着色：{zh}")
    else:
        add_title(m, f"{tlabel}服务半径（{rad}）外住户 {k['outside']:,} 户，其中困难户 "
                     f"{k['vulnerable_outside']:,} 户 ｜ 网格着色：{zh}")
    shown = types or [t for t in model.STATION_TYPES if (ov.stations["type"] == t).any()]
    add_legend(m, [
        (f"网格：{zh}", [(c, "box", t) for c, t in cell_legend]),
        *([("步行距离", walking_legend(ov.station_type, ov.radius)[: 1 if counts_only else 2])] if walking else []),
        ("站点" if walking else "站点与服务半径", [(STATION_COLOURS[t], "dot", model.label(t)) for t in shown]),
        ("其他", [
            (GAP_COLOUR, "dot", f"{tlabel}{'步行可达范围' if walking else '服务半径'}外住户（"
             + ("按网格汇总户数" if counts_only else "多时按 150 m 方格汇总") + "）"),
            (PATROL_COLOUR, "dash", "巡逻区域"),
            ("#444444", "ring", "街道/社区边界"),
        ]),
    ])
    return finish(m)
