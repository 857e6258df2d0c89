"""救助分布 — the leaders' assistance page: a choropleth switchable by measure and
level, the Gi* hot-spot map, the Lorenz curve with the Gini, a monthly trend, and
drill-down street -> community -> cell. Every figure can be downloaded as the CSV
of the data behind it, after small-count protection (units with fewer than k
households show "<k"); each download writes an audit row. Only aggregates reach
the browser: never a household row."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

import ui
import ui_assistance
import ui_charts
import ui_map
from grid import access, labels
from grid.assistance import (
    MEASURE_COLUMNS,
    gini,
    gini_sentence,
    lorenz,
    monthly,
    suppress_small,
)
from grid.campaigns import list_campaigns
from grid.coverage import load_admin_units, load_cells
from grid.errors import WarmGridError
from grid.export import download
from grid.hotspots import CLASSES
from maps.assistance import assistance_map, hotspot_map
from ui import db_path, get_store

#: Measure -> (Chinese label, is a share).
MEASURE_LABELS: dict[str, tuple[str, bool]] = {
    "households": ("住户数", False),
    "people": ("人口", False),
    "vulnerable": ("困难户数", False),
    "households_helped": ("受助户数", False),
    "cash_yuan": ("现金救助（元）", False),
    "goods_yuan": ("物资折价（元）", False),
    "total_yuan": ("救助总额（元）", False),
    "per_household": ("户均救助（元）", False),
    "per_vulnerable": ("困难户户均救助（元）", False),
    "per_person": ("人均救助（元）", False),
    "share_of_aid": ("救助金额占比", True),
    "share_of_vulnerable": ("困难户占比", True),
    "ratio": ("救助占比 / 困难户占比", False),
}
assert set(MEASURE_LABELS) == set(MEASURE_COLUMNS)
LEVELS: dict[str, str] = {"street": "街道", "community": "社区", "cell": "网格",
                          "h3:7": "六边形 H3-7", "h3:8": "六边形 H3-8", "h3:9": "六边形 H3-9"}
ALL = "（全部 all）"
LEVELS_EN: dict[str, str] = {"street": "street", "community": "community", "cell": "cell", "h3:7": "H3 hexagon (7)",
                             "h3:8": "H3 hexagon (8)", "h3:9": "H3 hexagon (9)"}


# The households, their aid, the measures and Gi* are computed once per data generation and shared by
# every session (ui_assistance); the page's first view is started when a leader signs in.
@st.cache_data(show_spinner=False, max_entries=16)
def _monthly(path: str, generation: int, campaign: str | None, area: str, _aid: pd.DataFrame) -> pd.DataFrame:
    return monthly(_aid)


@st.cache_data(show_spinner=False, max_entries=8)
def _geometry(path: str, generation: int, _store: Any) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    return load_cells(_store), load_cells(_store, metric=True), load_admin_units(_store)


def _download(frame: pd.DataFrame, what: str, key: str, title: str) -> None:
    """A CSV download of ``frame`` (already protected) with Chinese headers, made and audited by the library
    when clicked; ``title`` says on the button what the figures are."""
    st.download_button(ui.md("下载数据 CSV · Download：{}", title),
                       lambda: download(store, actor, "assistance", labels.labelled(frame), ".csv", detail=what),
                       file_name=f"{what}.csv", mime="text/csv", key=key, on_click="ignore")


store = get_store()
actor = ui.require_page("leader")
st.title("救助分布 · Assistance")
with st.expander("情况通报（Word / PDF / Excel）· Situation bulletin"):
    ui.bulletin_downloads(store, actor, key="leader")

path = str(db_path())
campaigns = list_campaigns(store).sort_values("campaign_id")
camp_names = dict(zip(campaigns["campaign_id"], campaigns["name"], strict=True))
cells_wgs, cells_m, admin = _geometry(path, store.generation, store)
cells_wgs = access.filter_households(cells_wgs, actor.scope)
streets = admin[admin["level"] == "street"]
communities = admin[admin["level"] == "community"]
scope_communities = set(cells_wgs["community_code"].dropna())
scope_streets = set(communities.loc[communities["code"].isin(scope_communities), "parent_code"].dropna())

with st.sidebar:
    st.header("救助分布设置 · Settings")
    level = st.selectbox("统计单元 Level", list(LEVELS), index=2, format_func=LEVELS.__getitem__, key="leader_level")
    measure = st.selectbox("指标 Measure", list(MEASURE_COLUMNS), index=list(MEASURE_COLUMNS).index("per_vulnerable"),
                           format_func=lambda c: labels.bilingual(c), key="leader_measure")
    campaign = st.selectbox("走访活动 Campaign", [ALL, *camp_names],
                            format_func=lambda c: c if c == ALL else f"{camp_names[c]}（{c}）", key="leader_campaign")
    k = int(st.number_input("小数保护 k：少于 k 户不显示数字 · Hide units with fewer than k households",
                            min_value=1, max_value=1000, value=5, step=1, key="leader_k"))
    seed = int(st.number_input("热点分析随机种子 Hot-spot seed", min_value=0, max_value=2**31 - 1, value=0,
                               step=1, key="leader_seed"))
    st.subheader("下钻 Drill-down")
    street_opts = streets[streets["code"].isin(scope_streets)]
    street_name = dict(zip(street_opts["code"], street_opts["name"], strict=True))
    street = st.selectbox("街道 Street", [ALL, *street_name], key="leader_street",
                          format_func=lambda c: c if c == ALL else f"{street_name[c]}（{c}）")
    comm_opts = communities[communities["code"].isin(scope_communities)]
    if street != ALL:
        comm_opts = comm_opts[comm_opts["parent_code"] == street]
    comm_name = dict(zip(comm_opts["code"], comm_opts["name"], strict=True))
    community = st.selectbox("社区 Community", [ALL, *comm_name], key="leader_community",
                             format_func=lambda c: c if c == ALL else f"{comm_name[c]}（{c}）")

# The area chosen: the scope's cells, narrowed by the drill-down.
area = cells_wgs
if street != ALL:
    area = area[area["community_code"].isin(set(comm_name))]
if community != ALL:
    area = area[area["community_code"] == community]
area_cells = set(area["cell_id"])
area_key = ui_assistance.area_key(area_cells)
area_set = frozenset(area_cells)
if not area_cells:
    st.info("您的范围内没有网格，没有可显示的数字。 · There are no cells in your scope: nothing to show.")
    st.stop()

camp_key = None if campaign == ALL else campaign
with st.spinner("正在读取救助记录 · reading assistance…"):
    households, aid = ui_assistance.area_inputs(store, camp_key, area_set)
m_label, share = MEASURE_LABELS[measure]
where = " / ".join(x for x in (street_name.get(street, ""), comm_name.get(community, "")) if x) or "全部范围"
st.caption(ui.md("范围 Area：{} · {} 个网格 · 活动 Campaign：{} · 住户少于 {k} 户的单元显示“<{k}” · "
                 "units with fewer than {k} households show \"<{k}\"", where, len(area_cells),
                 camp_names.get(campaign, "全部"), k=k))

# --------------------------------------------------------------------------- choropleth
st.subheader(ui.md("{}（按{}）· {} by {}", m_label, LEVELS[level], labels.column(measure, "en"), LEVELS_EN[level]))
try:
    with st.spinner("正在计算指标 · computing the measures…"):
        by_unit = ui_assistance.unit_measures(store, camp_key, area_set, level)
except WarmGridError as exc:
    ui.show_error(exc)
    raise  # unreachable: show_error stops the page
unit_col = by_unit.columns[0]
by_unit = by_unit[by_unit[unit_col].notna()].reset_index(drop=True)
if level == "cell":
    names = dict(zip(area["cell_id"], area["name"], strict=True))
    shapes = area[["cell_id", "geometry"]]
elif level in ("community", "street"):
    units = communities if level == "community" else streets
    names = dict(zip(units["code"], units["name"], strict=True))
    shapes = units[["code", "geometry"]].rename(columns={"code": unit_col})
else:
    names, shapes = {}, None
units_gdf = by_unit.assign(name=by_unit[unit_col].map(names))
if shapes is not None:
    units_gdf = gpd.GeoDataFrame(units_gdf.merge(shapes, on=unit_col, how="inner"), geometry="geometry",
                                 crs="EPSG:4326")
else:
    units_gdf = gpd.GeoDataFrame(units_gdf, geometry=[None] * len(units_gdf), crs="EPSG:4326")
if units_gdf.empty:
    st.info("所选范围内没有住户。 · No household in the area.")
    st.stop()
# Each map is rendered once per input and shared (ui_map): a rerun that leaves it as it was sends the
# browser the same component, which it does not draw again (a change of level keeps the hot-spot map).
fmap = ui_map.cached_payload(
    ("leader_map", path, store.generation, camp_key, area_key, level, measure, k),
    lambda: assistance_map(units_gdf, measure, m_label, share=share, k=k, unit_label=LEVELS[level].split(" ")[0],
                           places=communities[["name", "geometry"]]))
ui_map.draw_map(fmap, height=560, key="leader_map")
unit_table = suppress_small(by_unit.assign(name=by_unit[unit_col].map(names))[[unit_col, "name", *MEASURE_COLUMNS]],
                            k=k)
_download(unit_table, f"assistance_{level.replace(':', '')}_{measure}", "dl_map", f"{m_label}（按{LEVELS[level]}）")

# --------------------------------------------------------------------------- hot spots
st.subheader(f"热点与冷点（Gi*，每网格{m_label}）· Hot spots")
by_cell = by_unit if level == "cell" else ui_assistance.unit_measures(store, camp_key, area_set, "cell")
by_cell = by_cell[by_cell["cell_id"].notna()]
gi: pd.DataFrame | None = None
try:
    with st.spinner("正在做热点分析（999 次置换）· finding hot spots…"):
        _vals, gi = ui_assistance.hotspots(store, camp_key, area_set, measure, seed,
                                          cells_m[cells_m["cell_id"].isin(area_set)])
except WarmGridError as exc:
    st.info(ui.md("无法做热点分析：{} · No hot-spot analysis: {}", exc.zh, exc.en))
if gi is not None:
    hh_per_cell = by_cell.set_index("cell_id")["households"]
    hcells = area.assign(households=area["cell_id"].map(hh_per_cell).fillna(0))
    hot_map = ui_map.cached_payload(("leader_hotspots", path, store.generation, camp_key, area_key, measure, seed, k),
                                    lambda: hotspot_map(hcells, gi, m_label, k=k))
    ui_map.draw_map(hot_map, height=520, key="leader_hotspots")
    counts = gi["class"].value_counts()
    st.caption(ui.md("{}（999 次置换，FDR 5%）", " · ".join(f"{CLASSES[c][0]} {int(counts[c])}"
                                                          for c in CLASSES if c in counts)))
    cell_names = dict(zip(area["cell_id"], area["name"], strict=True))
    gi_table = gi.assign(households=gi["cell_id"].map(hh_per_cell), name=gi["cell_id"].map(cell_names))
    gi_table = gi_table[["cell_id", "name", "households", "value", "z", "p_sim", "p_norm", "q", "class"]]
    gi_table = suppress_small(gi_table, k=k, cols=["households", "value", "z", "p_sim", "p_norm", "q", "class"])
    _download(gi_table.assign(**{"class": gi_table["class"].map(lambda c: CLASSES[c][0] if c in CLASSES else c)}),
              f"hotspots_{measure}", "dl_hotspots", f"热点与冷点（{m_label}）")

# --------------------------------------------------------------------------- Lorenz
st.subheader(f"洛伦兹曲线（按{LEVELS[level]}的{m_label}）· Lorenz curve")
shown_units = by_unit[(by_unit["households"] >= k)]
lvals = shown_units[measure].astype(float)
lvals = lvals[np.isfinite(lvals) & (lvals >= 0)]
curve = lorenz(lvals.to_numpy())
g = gini(lvals.to_numpy())
curve = curve.assign(equality=curve["cum_share_units"])
gini_col, gini_text = st.columns([1, 3])
gini_col.metric("基尼系数 Gini", "—" if not np.isfinite(g) else f"{g:.2f}",
                help=f"{len(lvals)} 个单元（住户少于 {k} 户的单元不计入）· units with fewer than {k} households left out")
gini_text.markdown(ui.esc(gini_sentence(g, len(lvals), LEVELS[level].split(" ")[0], m_label)))
ui_charts.line_chart(curve.rename(columns={"cum_share_value": "洛伦兹 Lorenz", "equality": "完全平均 equality"}),
                     x="cum_share_units", y=["洛伦兹 Lorenz", "完全平均 equality"],
                     x_label="单元累计占比 cumulative share of units", y_label=f"{m_label}累计占比")
_download(curve.assign(gini=g), f"lorenz_{level.replace(':', '')}_{measure}", "dl_lorenz", "洛伦兹曲线与基尼系数")

# --------------------------------------------------------------------------- trend
st.subheader("月度趋势 · Monthly trend")
trend = _monthly(path, store.generation, camp_key, area_key, aid)
if trend.empty:
    st.info("所选范围内没有救助记录。 · No aid in the area.")
else:
    # A month in which fewer than k households were helped shows "<k" instead of its figures.
    small = (trend["households_helped"] > 0) & (trend["households_helped"] < k)
    trend_out = trend.astype({c: object for c in trend.columns if c != "month"})
    trend_out.loc[small, [c for c in trend.columns if c != "month"]] = f"<{k}"
    chart = trend[["month", "total_yuan", "cash_yuan", "goods_yuan"]].copy()
    chart.loc[small, ["total_yuan", "cash_yuan", "goods_yuan"]] = np.nan
    ui_charts.line_chart(chart.rename(columns={"total_yuan": "总额", "cash_yuan": "现金", "goods_yuan": "物资"}),
                         x="month", y=["总额", "现金", "物资"], x_label="月份 month", y_label="元 yuan")
    _download(trend_out, "monthly", "dl_trend", "月度趋势")
