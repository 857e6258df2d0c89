"""The small map of one household address to review: its candidates from the address register, and
the point chosen so far (a candidate or a click on the map).

Every text — the address as the roll writes it, the candidates' standard addresses and codes — is
escaped before it reaches the map (:func:`maps.layers.point_features`, :func:`maps.layers.add_title`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium

from maps.layers import add_legend, add_title, base_map, finish, group, point_features, points_layer

__all__ = ["review_map", "CANDIDATE_COLOURS", "CHOSEN_COLOUR"]

#: Candidates in rank order (best first).
CANDIDATE_COLOURS = ("#08519c", "#3182bd", "#6baed6", "#9ecae1", "#c6dbef")
#: The point chosen so far.
CHOSEN_COLOUR = "#d7301f"
_PAD = 0.0015  # degrees (about 150 m) around what the map shows


def review_map(address: str, candidates: Sequence[dict[str, Any]], *, chosen: tuple[float, float] | None = None,
               fallback: Sequence[float] = (118.0, 24.4, 118.2, 24.6), basemap: str = "none",
               tianditu_key: str = "") -> folium.Map:
    """The candidates (``addr_id``, ``address``, ``lon``, ``lat``, ``score``) of one address, numbered by
    rank, and ``chosen`` (lon, lat) as a red ring; ``fallback`` (the district's bounds) frames a map
    without any point.

    >>> m = review_map("<b>中山路1号</b>", [{"addr_id": "A1", "address": "中山路1号", "lon": 118.1, "lat": 24.5,
    ...                                     "score": 80.0}])
    >>> "<b>中山路1号</b>" in m.get_root().render()
    False
    """
    placed = [c for c in candidates if c.get("lon") is not None and c.get("lat") is not None]
    xs = [float(c["lon"]) for c in placed] + ([chosen[0]] if chosen else [])
    ys = [float(c["lat"]) for c in placed] + ([chosen[1]] if chosen else [])
    bounds = ([min(xs) - _PAD, min(ys) - _PAD, max(xs) + _PAD, max(ys) + _PAD] if xs else [float(b) for b in fallback])
    m = base_map(bounds, basemap=basemap, tianditu_key=tianditu_key)
    layer = group(f"候选地址（{len(placed)}）")
    if placed:
        fc = point_features([c["lat"] for c in placed], [c["lon"] for c in placed], {
            "kind": ["candidate"] * len(placed),
            "fill": [CANDIDATE_COLOURS[min(k, len(CANDIDATE_COLOURS) - 1)] for k in range(len(placed))],
            "tip": [f"候选{k + 1}：{c['address']}（{c['addr_id']}），得分 {float(c['score']):.0f}"
                    for k, c in enumerate(placed)]})
        points_layer(fc, folium.CircleMarker(radius=8, color="#ffffff", weight=1.5, fill=True, fill_opacity=0.95),
                     style=lambda f: {"fillColor": f["properties"]["fill"]}, tooltip="tip").add_to(layer)
    layer.add_to(m)
    if chosen is not None:
        mine = group("已选定的位置")
        fc = point_features([chosen[1]], [chosen[0]], {"kind": ["chosen"], "tip": ["已选定的位置"]})
        points_layer(fc, folium.CircleMarker(radius=11, color=CHOSEN_COLOUR, weight=3, fill=False),
                     tooltip="tip").add_to(mine)
        mine.add_to(m)
    add_title(m, f"待确认：{address}")
    add_legend(m, [("候选地址（按得分）", [(CANDIDATE_COLOURS[0], "dot", "候选1（得分最高）"),
                                       (CANDIDATE_COLOURS[2], "dot", "其他候选")]),
                   ("选定", [(CHOSEN_COLOUR, "ring", "已选定的位置（也可点击地图放置）")])])
    return finish(m)
