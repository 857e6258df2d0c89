"""The street committee's map of open needs: every need not yet resolved or answered as a point
at its household, coloured by where it stands in the queue (overdue, to assign, returned, in
hand), over the committee's cells. Tooltips carry the need's id, category, state, unit and due
date — text escaped by :func:`maps.layers.point_features` — and no personal data."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from grid import model
from maps.layers import add_legend, add_title, base_map, feature_collection, finish, group, point_features, points_layer
from maps.styled import StyledGeoJson

__all__ = ["needs_map", "BUCKET_COLOURS", "ESCALATED_COLOUR"]

#: Colour per queue bucket (grid.needs.QUEUE_BUCKETS).
BUCKET_COLOURS: dict[str, str] = {"overdue": "#d7301f", "raised": "#fd8d3c", "returned": "#807dba",
                                  "in_hand": "#2b8cbe"}
#: The ring around an escalated need.
ESCALATED_COLOUR = "#67000d"
_BUCKET_TEXT = {"overdue": "超期未办结", "raised": "待分拨", "returned": "已退回，待改派", "in_hand": "处置中（未超期）"}


def _tip(r: pd.Series, units: dict[str, str]) -> str:
    parts = [str(r["need_id"]), model.label(str(r["category"])), model.label(str(r["status"]))]
    unit = r["unit_code"]
    if isinstance(unit, str):
        parts.append(units.get(unit, unit))
    due = r["due_at"]
    if due is not None and not pd.isna(due):
        parts.append(f"期限 {pd.Timestamp(due):%Y-%m-%d}")
    if bool(r["overdue"]):
        parts.append(f"超期 {int(r['days_overdue'])} 天")
    if r["escalated_at"] is not None and not pd.isna(r["escalated_at"]):
        parts.append("已升级")
    return " · ".join(parts)


def needs_map(cells: gpd.GeoDataFrame, queue: pd.DataFrame, *, units: dict[str, str] | None = None,
              basemap: str = "none", tianditu_key: str = "") -> folium.Map:
    """The map of open needs.

    ``cells`` are the committee's cells (WGS84); ``queue`` is :func:`grid.needs.queue` (its
    ``bucket``, ``lon``, ``lat``, ``overdue`` ...); ``units`` names the unit codes
    (:func:`grid.needs.unit_names`).
    """
    units = units or {}
    bounds = [float(v) for v in cells.total_bounds] if len(cells) else [118.0, 24.4, 118.2, 24.6]
    m = base_map(bounds, basemap=basemap, tianditu_key=tianditu_key)
    fg = group(f"网格（{len(cells)}）")
    StyledGeoJson(feature_collection(cells, ["cell_id", "name"]),
                   style_function=lambda f: {"color": "#2b2b2b", "weight": 1, "fillColor": "#fdfdf5",
                                             "fillOpacity": 0.35},
                   tooltip=folium.GeoJsonTooltip(fields=["name", "cell_id"], aliases=["网格", "编码"])).add_to(fg)
    fg.add_to(m)
    shown = queue[queue["lon"].notna() & queue["lat"].notna()]
    counts = shown["bucket"].value_counts()
    for bucket, colour in BUCKET_COLOURS.items():
        part = shown[shown["bucket"] == bucket]
        layer = group(f"{_BUCKET_TEXT[bucket]}（{len(part)}）")
        if len(part):
            esc = part["escalated_at"].notna().to_numpy()
            fc = point_features(part["lat"], part["lon"], {
                "kind": ["need"] * len(part), "need_id": part["need_id"].astype(str).to_numpy(),
                "bucket": [bucket] * len(part), "fill": [colour] * len(part),
                "ring": np.where(esc, ESCALATED_COLOUR, "#ffffff"), "w": np.where(esc, 2.5, 1.0),
                "tip": [_tip(r, units) for _, r in part.iterrows()]})
            points_layer(fc, folium.CircleMarker(radius=6, color="#ffffff", weight=1, fill=True, fill_opacity=0.9),
                         style=lambda f: {"fillColor": f["properties"]["fill"], "color": f["properties"]["ring"],
                                          "weight": f["properties"]["w"]},
                         tooltip="tip").add_to(layer)
        layer.add_to(m)
    overdue = int(counts.get("overdue", 0))
    add_title(m, f"未办结诉求 {len(shown)} 条：超期 {overdue} 条，待分拨 {int(counts.get('raised', 0))} 条，"
                 f"退回 {int(counts.get('returned', 0))} 条")
    add_legend(m, [
        ("诉求", [(BUCKET_COLOURS[b], "dot", _BUCKET_TEXT[b]) for b in BUCKET_COLOURS]
         + [(ESCALATED_COLOUR, "ring", "已升级至街道")]),
        ("其他", [("#2b2b2b", "box", "网格边界")]),
    ])
    return finish(m)
