"""覆盖总览 — the coverage overview: KPI cards, the coverage map, a table by community.

Coverage is measured by walking along the streets where the district has a street network
(the default) or by the straight line (a sidebar choice); the KPI cards give both figures
and the difference in plain words."""

from __future__ import annotations

from datetime import date

import pandas as pd
import shapely
import streamlit as st

import ui
import ui_map
from grid import access, model
from grid.coverage import CELL_MEASURES
from grid.export import download
from grid.network import DISTANCES, MAX_LEG_M, STATUS_LABELS, default_distance
from ui import basemap_setting, cached_overview, db_path, get_store

store = get_store()
actor = ui.require_page("overview")
# Roles without household rows (leaders, inspectors) see households only as counts per cell or larger area.
counts_only = not access.allowed(actor, "view_households")
st.title("覆盖总览 · Coverage overview")
network = ui.shared_network(store)

with st.sidebar:
    st.header("分析设置 · Settings")
    if network is not None:
        distance = st.radio("距离 Distance", list(DISTANCES), index=list(DISTANCES).index(default_distance(network)),
                            format_func=lambda d: f"{DISTANCES[d][0]} · {DISTANCES[d][1]}", horizontal=True,
                            key="distance", help="步行距离：沿可步行道路（GB 50180 生活圈）；直线距离：站点服务半径圆")
    else:
        distance = "straight"
        st.caption("未导入道路网，按直线距离统计 · no street network: straight-line distance")
    station_type = st.selectbox(
        "站点类型 Station type", list(model.STATION_TYPES),
        format_func=lambda t: f"{model.label(t)} · {model.label(t, 'en')}",
    )
    default_r = model.STATION_TYPES[station_type].radius_m
    custom = st.toggle("自定义服务半径 Custom radius", value=False,
                       help=f"默认按 GB 50180 生活圈：{model.label(station_type)} {default_r:.0f} 米")
    radius = float(st.slider("服务半径（米）Radius (m)", 100, 2000, int(default_r), step=50)) if custom else None
    measure = st.selectbox("网格着色 Cell colour", list(CELL_MEASURES),
                           format_func=lambda k: f"{CELL_MEASURES[k][0]} · {CELL_MEASURES[k][1]}")
    visit_days = int(st.number_input("走访期限（天）Visit within (days)", 7, 365, ui.OVERVIEW_DEFAULTS["visit_days"],
                                     step=7))
    warden_target = int(st.number_input("网格员目标户数 Households per warden", 50, 3000,
                                        ui.OVERVIEW_DEFAULTS["warden_target"], step=50))
    as_of = st.date_input("统计日期 As of", value=date.today())
    all_types = st.checkbox("显示全部站点类型 Show all station types", value=False)

ov = cached_overview(str(db_path()), store.generation, actor.cache_key, actor.scope, station_type, radius,
                     warden_target, visit_days, as_of, distance)
k = ov.kpis
label = model.label(station_type)
walking = distance == "walk"
#: What "out of reach" means under the chosen ruler.
reach = "步行可达范围" if walking else "服务半径"
c = st.columns(4)
c[0].metric("住户 Households", f"{k['households']:,}")
c[1].metric("困难户 Vulnerable", f"{k['vulnerable']:,}",
            help="至少有一个困难类别的住户 · households with at least one hardship category")
c[2].metric("网格 Cells", f"{k['cells']:,}", help="无网格员的网格数 · cells without a warden")
c[2].caption(f"其中无网格员 {k['cells_without_warden']:,} 个 · without a warden")
c[3].metric(f"{label} Stations", f"{k['stations_of_type']:,}", help=f"全部站点 {k['stations']:,}")
c = st.columns(4)
share = k["outside"] / k["households"] if k["households"] else 0.0
c[0].metric(f"{label}{reach}外住户", f"{k['outside']:,}",
            help=f"占全部住户 {share:.1%}（按{DISTANCES[distance][0]}）")
c[1].metric("其中困难户 Vulnerable out of reach", f"{k['vulnerable_outside']:,}")
c[2].metric("巡逻覆盖面积 Patrolled area", f"{k['patrol_fraction']:.1%}")
c[3].metric(f"超过 {visit_days} 天未走访的困难户", f"{k['overdue']:,}",
            help=f"其中从未走访 {k['never_visited']:,} 户 · never visited")
if "covered_walk" in k:  # the district has a street network: both rulers, side by side
    c = st.columns(4)
    c[0].metric("按直线半径覆盖 Covered (straight line)", f"{k['covered_straight']:,}")
    c[1].metric("按步行距离覆盖 Covered (walking)", f"{k['covered_walk']:,}")
    c[2].metric("直线高估 Overstated", f"{k['overstated']:,}",
                help=f"按直线在服务半径内、步行走不到的住户；其中困难户 {k['overstated_vulnerable']:,} 户")
    c[3].metric("不在路网上 Off the network", f"{k['off_network']:,}",
                help=f"距可步行道路超过 {MAX_LEG_M:.0f} 米的住户：不计算步行距离，不计入步行覆盖"
                     " · farther than 300 m from every walkable road: never counted as covered on foot")
    st.info(ui.md("{}：{}", label, k["coverage_sentence"]))

if ov.cells.empty:
    st.info("您的范围内没有网格，没有可显示的住户。 · There are no cells in your scope: nothing to show.")
    st.stop()
basemap, tianditu_key = basemap_setting()
# The map is rendered once per data generation, scope and settings and shared by every session
# (the administrator's default view is rendered in the background as soon as the store opens).
payload = ui.overview_map_payload(store.path, store.generation, ov, scope_key=actor.scope.key,
                                  counts_only=counts_only, visit_days=visit_days, warden_target=warden_target,
                                  as_of=as_of, measure=measure, basemap=basemap, tianditu_key=tianditu_key,
                                  all_types=all_types, network=network)
# The component redraws only when the map's script changes; the radius is also in the key so a
# title-only change (default radii -> the same radius set by hand) redraws too.
ui_map.draw_map(payload, height=620, key=f"overview_map:{radius}:{distance}")

st.subheader(f"按社区：{label}{reach}外住户（{DISTANCES[distance][0]}）· Out of reach, by community")
table = ov.by_community.assign(type=ov.by_community["type"].map(model.label)).rename(columns={
    "community_code": "社区代码", "community_name": "社区", "type": "站点类型", "households": "住户",
    "vulnerable": "困难户", "outside": f"{reach}外住户", "vulnerable_outside": f"{reach}外困难户",
    "share_outside": f"{reach}外占比",
})
table.insert(3, "距离方式", DISTANCES[distance][0])
st.dataframe(table, hide_index=True, width="stretch",
             column_config={f"{reach}外占比": st.column_config.ProgressColumn(format="%.2f", min_value=0, max_value=1)})
# Downloads are made (and audited) by the library only when asked for.
st.download_button("下载 CSV · Download CSV",
                   lambda: download(store, actor, "coverage_by_community", table, ".csv",
                                    detail=f"{station_type}:{distance}"),
                   file_name=f"coverage_{station_type}_{distance}_{as_of}.csv", mime="text/csv", on_click="ignore",
                   key="coverage_download")
if counts_only or not access.allowed(actor, "download", "gap_list"):
    st.stop()

st.subheader(f"{label}{reach}外住户名单（{DISTANCES[distance][0]}）· Households out of reach ({len(ov.gaps):,})")


def gap_list() -> pd.DataFrame:
    """The list as downloaded: the distance mode and, with a street network, each one's walking distance."""
    out = ov.gaps[["hh_id", "cell_id", "community_code", "vulnerable", "lon", "lat"]].rename(columns={
        "hh_id": "户编号", "cell_id": "所属网格", "community_code": "社区代码", "vulnerable": "困难户"})
    out.insert(4, "距离方式", DISTANCES[distance][0])
    if "walk_m" in ov.gaps:  # either mode: how far each one walks to the nearest station of the type
        out.insert(5, f"步行至最近{label}（米）", ov.gaps["walk_m"].round(1).to_numpy())
        status = pd.Series(ov.gaps["walk_status"].to_numpy(), dtype=object)
        out.insert(6, "步行距离状态", status.map({k: v[0] for k, v in STATUS_LABELS.items()}).to_numpy())
    return out.assign(geometry=shapely.points(out.pop("lon"), out.pop("lat")))


fmt = st.radio("格式 Format", [".xlsx", ".csv", ".geojson"], horizontal=True, key="gap_fmt")
gcj = st.checkbox("高德坐标（GCJ-02）· coordinates for Amap", key="gap_gcj")
st.download_button(
    "下载名单 · Download the list",
    lambda: download(store, actor, "gap_list", gap_list(), fmt, detail=f"{station_type}:{distance}",
                     geometry="geometry", crs="gcj02" if gcj else "wgs84", sheet=f"{reach}外住户"),
    file_name=f"gaps_{station_type}_{distance}_{as_of}{fmt}", key="gap_download", on_click="ignore")
