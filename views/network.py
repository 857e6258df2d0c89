"""服务网络规划 — where new stations would reach the most people in need (MCLP / LSCP),
where service is scarce for the need (E2SFCA), and how to redraw a community's cells to a
workable size. For the street committee and leaders. Composition only: grid.network_plan,
grid.siting, grid.e2sfca, grid.regrid, maps.siting."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

import ui
import ui_charts
from grid import model
from grid.coverage import load_admin_units, load_cells
from grid.errors import WarmGridError
from grid.export import download
from grid.network import DISTANCES
from grid.network_plan import (
    PlanningInputs,
    access_for,
    candidates_for,
    communities_in_scope,
    planning_inputs,
    proposal_export_frame,
    regrid_export_frame,
    regrid_for,
)
from grid.siting import CANDIDATE_SOURCES, WEIGHTS, lscp, read_candidates, site
from maps.siting import access_map, regrid_map, siting_map

#: What each demand weight counts, as the form shows it.
DEMAND_LABELS = {"vulnerable": "困难户 · vulnerable households", "households": "全部住户 · all households",
                 "mixed": "困难户计 3 倍 · vulnerable count 3 times"}
#: The covered figure's words, by demand weight.
COVERED_LABELS = {"vulnerable": "覆盖困难户", "households": "覆盖住户", "mixed": "覆盖需求（加权）"}

store = ui.get_store()
actor = ui.require_page("network")
st.title("服务网络规划 · Network planning")
if not actor.scope:
    st.info("您没有可规划的范围 · You have no area in your scope.")
    st.stop()
network = ui.shared_network(store)


@st.cache_resource(show_spinner="正在读取规划数据 · reading the planning data…", max_entries=4)
def _inputs(path: str, generation: int, scope_key: str, distance: str, _actor: Any) -> PlanningInputs:
    return planning_inputs(store, _actor, distance=distance, network=network)


with st.sidebar:
    st.header("规划设置 · Settings")
    if network is not None:
        distance = st.radio("距离 Distance", list(DISTANCES), format_func=lambda d: f"{DISTANCES[d][0]} · {DISTANCES[d][1]}",
                            horizontal=True, key="plan_distance")
    else:
        distance = "straight"
        st.caption("未导入道路网，按直线距离计算 · no street network: straight-line distance")
    station_type = st.selectbox("站点类型 Station type", list(model.STATION_TYPES),
                                index=list(model.STATION_TYPES).index("clinic"),
                                format_func=lambda t: f"{model.label(t)} · {model.label(t, 'en')}", key="plan_type")
label = model.label(station_type)
try:
    inputs = _inputs(str(ui.db_path()), store.generation, actor.cache_key, distance, actor)
except WarmGridError as exc:
    ui.error(exc)
    st.stop()
cells_wgs = load_cells(store)
cells_wgs = cells_wgs[cells_wgs["cell_id"].isin(set(inputs.households["cell_id"].dropna()))].reset_index(drop=True)

tab_site, tab_access, tab_regrid = st.tabs(["新站点选址 Siting", "服务可及性 Accessibility", "网格重划 Redraw cells"])

with tab_site:
    st.caption(f"在保留现有{label}的前提下，从候选点中选出新站点，使服务范围内新增覆盖的需求最多（最大覆盖模型，精确求解）。"
               " · New stations chosen among candidates to cover the most unserved need (MCLP, solved exactly).")
    with st.form("siting"):
        c = st.columns(4)
        k = int(c[0].number_input("新增站点数 New stations", 1, 30, 2))
        radius = float(c[1].number_input("服务半径（米）Radius (m)", 50, 3000, int(model.STATION_TYPES[station_type].radius_m),
                                         step=50))
        weight = c[2].selectbox("需求 Demand", list(WEIGHTS), format_func=lambda w: DEMAND_LABELS[w])
        source = c[3].selectbox("候选点 Candidates", ["buildings", "lattice", "file"],
                                format_func=lambda s: CANDIDATE_SOURCES[s][0])
        upload = st.file_uploader("候选点文件（候选点编号、经度、纬度；可含名称、容量）· candidates file",
                                  type=["csv", "xlsx", "xls", "geojson", "json", "gpkg", "parquet", "zip"])
        crs = st.selectbox("文件坐标系 File coordinates", ["wgs84", "cgcs2000", "gcj02", "bd09"],
                           format_func=lambda x: {"wgs84": "WGS84 / GPS", "cgcs2000": "CGCS2000 / 天地图",
                                                  "gcj02": "GCJ-02 / 高德、腾讯", "bd09": "BD-09 / 百度"}[x])
        c2 = st.columns(3)
        capacitated = c2[0].checkbox("考虑站点容量 Capacitated", value=False)
        capacity = float(c2[1].number_input("每站容量（户）· Households per station", 1, 100000, 200))
        want_curve = c2[2].checkbox("逐个求最优（1…K 个）Exact curve 1..K", value=False)
        go = st.form_submit_button("求解 Solve", type="primary")
    if go:
        try:
            if source == "file":
                if upload is None:
                    raise WarmGridError("请先上传候选点文件", "upload a candidates file first")
                cands = read_candidates(upload.name, crs=crs, metric_crs=inputs.metric_crs, extent=inputs.extent,
                                        data=upload.getvalue())
            else:
                cands = candidates_for(store, actor, inputs, generate=source)
            with st.spinner("正在求解 · solving…"):
                res = site(inputs.households, inputs.stations, cands, station_type, k=k, radius=radius,
                           distance=inputs.distance, network=inputs.network, weight=weight,
                           capacity=capacity if capacitated else None, curve=want_curve)
                cover = lscp(inputs.households, inputs.stations, cands, station_type, radius=radius,
                             distance=inputs.distance, network=inputs.network)
            st.session_state["siting_result"] = (station_type, inputs.distance, res, cover)
        except WarmGridError as exc:
            ui.error(exc)
    got = st.session_state.get("siting_result")
    if got and got[0] == station_type and got[1] == inputs.distance:
        _t, _d, res, cover = got
        w = res.what_if
        st.caption(ui.md("候选点：{} · 距离：{} · 求解：{}，{}，最优性差距 {}", res.candidates.label,
                         DISTANCES[res.distance][0], res.solution.solver,
                         {"optimal": "已证明最优", "feasible": "时间内未证明最优"}.get(res.solution.status,
                                                                                res.solution.status),
                         f"{res.solution.gap:.2%}"))
        c = st.columns(4)
        c[0].metric(f"{COVERED_LABELS[res.weight]} · Covered", f"{res.covered_after:,.0f}",
                    delta=f"+{res.covered_after - res.covered_before:,.0f}")
        c[1].metric(f"{label}服务范围外住户 · Households out of reach", f"{w['outside_after']:,}",
                    delta=f"{w['outside_after'] - w['outside_before']:,}", delta_color="inverse")
        c[2].metric("其中困难户 · Vulnerable out of reach", f"{w['vulnerable_outside_after']:,}",
                    delta=f"{w['vulnerable_outside_after'] - w['vulnerable_outside_before']:,}", delta_color="inverse")
        c[3].metric("全覆盖困难户最少需新建 · LSCP", f"{cover['stations']:,} 个",
                    help=f"另有 {cover['not_coverable']:,} 名困难户任何候选点都覆盖不到 · not coverable by any candidate")
        for sentence in res.proposals["sentence"]:
            st.markdown(ui.md("- {}", sentence))
        if res.curve:
            curve = pd.DataFrame(res.curve).rename(columns={"k": "新增站点数", "covered": "覆盖需求"})
            ui_charts.line_chart(curve, x="新增站点数", y=["覆盖需求"], x_label="新增站点数", y_label="覆盖需求")
        shown = res.proposals.rename(columns={"rank": "排序", "candidate_id": "候选点编号", "name": "名称", "lon": "经度",
                                              "lat": "纬度", "gain": "新增覆盖需求", "gain_households": "新增覆盖住户",
                                              "gain_vulnerable": "新增覆盖困难户", "sentence": "说明",
                                              "served": "实际服务", "capacity": "容量"}).drop(columns=["x_m", "y_m"])
        st.dataframe(shown, hide_index=True, width="stretch")
        admin = load_admin_units(store)
        m = siting_map(cells_wgs, admin[admin["level"] != "district"], inputs.stations, res.proposals, station_type,
                       res.radius_m, distance=res.distance, network=inputs.network)
        st_folium(m, height=560, key=f"siting_map:{station_type}:{res.distance}", returned_objects=[])
        fmt = st.radio("格式 Format", [".xlsx", ".csv", ".geojson"], horizontal=True, key="site_fmt")

        def _proposal_file() -> pd.DataFrame:
            import shapely

            f = proposal_export_frame(res)
            return f.assign(geometry=shapely.points(f.pop("经度"), f.pop("纬度")))

        st.download_button("下载拟建站点（可作为站点导入）· Download the proposed sites",
                           lambda: download(store, actor, "network_plan", _proposal_file(), fmt,
                                            detail=f"site:{station_type}:{res.distance}", geometry="geometry"),
                           file_name=f"proposed_{station_type}{fmt}", key="site_download", on_click="ignore")

with tab_access:
    st.caption(f"E2SFCA：每个{label}的供给（容量，未知时每站计 1）按 5/10/15 分钟生活圈（300/500/1000 米，权重 1.00/0.68/0.22）"
               "分给范围内的困难户，再按距离加权汇总到每户；网格取其困难户的平均值。数值越小越短缺。")
    supply = st.radio("供给口径 Supply", ["capacity", "count"], horizontal=True,
                      format_func=lambda s: {"capacity": "按容量 capacity", "count": "每站计 1 · one per station"}[s])
    if st.button("计算可及性 · Compute", key="access_go"):
        st.session_state["access_result"] = (station_type, inputs.distance, supply, access_for(inputs, station_type,
                                                                                      supply=supply))
    got_a = st.session_state.get("access_result")
    if got_a and got_a[:3] == (station_type, inputs.distance, supply):
        table = got_a[3]
        names = cells_wgs.set_index("cell_id")["name"]
        shown_a = table.assign(name=table["cell_id"].map(names)).rename(columns={
            "rank": "短缺排名", "cell_id": "网格编码", "name": "网格", "community_code": "社区代码", "households": "住户",
            "vulnerable": "困难户", "access": "每名困难户可及供给", "per_100": "每百名困难户可及供给",
            "reachable": "15 分钟内有站点的困难户"})
        st.dataframe(shown_a[["短缺排名", "网格", "网格编码", "社区代码", "住户", "困难户", "每百名困难户可及供给",
                              "15 分钟内有站点的困难户"]], hide_index=True, width="stretch")
        st_folium(access_map(cells_wgs, table, station_type), height=520, key=f"access_map:{station_type}",
                  returned_objects=[])
        st.download_button("下载 CSV · Download CSV",
                           lambda: download(store, actor, "network_plan", shown_a, ".csv",
                                            detail=f"e2sfca:{station_type}:{inputs.distance}"),
                           file_name=f"e2sfca_{station_type}.csv", key="access_download", on_click="ignore")

with tab_regrid:
    comms = communities_in_scope(store, actor.scope)
    if not len(comms):
        st.info("范围内没有社区 · no community in your scope")
    else:
        with st.form("regrid"):
            c = st.columns(4)
            comm_labels = dict(zip(comms["code"], comms["label"], strict=True))
            community = str(c[0].selectbox("社区 Community", list(comms["code"]),
                                           format_func=lambda code: str(comm_labels.get(code, code))))
            lo = int(c[1].number_input("每格最少户数 Min", 1, 5000, 300, step=10))
            hi = int(c[2].number_input("每格最多户数 Max", 1, 5000, 500, step=10))
            redraw_all = c[3].checkbox("全部重划 Redraw all cells", value=False,
                                       help="默认保留户数已在范围内的网格 · by default cells within bounds are kept")
            go_r = st.form_submit_button("生成方案 Propose", type="primary")
        if go_r:
            try:
                st.session_state["regrid_result"] = regrid_for(store, actor, community, min_hh=lo, max_hh=hi,
                                                        keep_in_bounds=not redraw_all)
            except WarmGridError as exc:
                ui.error(exc)
        res_r: Any = st.session_state.get("regrid_result")
        if res_r is not None:
            b, a = res_r.before, res_r.after
            stats = pd.DataFrame({
                "指标": ["网格数", "每格平均户数", "最少户数", "最多户数", "极差", "超出范围的网格", "网格员最大负担（户）"],
                "现状": [b["cells"], round(b["mean"], 1), b["min"], b["max"], b["spread"], b["out_of_bounds"],
                       b.get("warden_load_max", 0)],
                "方案": [a["cells"], round(a["mean"], 1), a["min"], a["max"], a["spread"], a["out_of_bounds"],
                       a.get("warden_load_max", 0)]})
            st.dataframe(stats, hide_index=True)
            chk = res_r.check
            st.caption(ui.md("边界检查：缝隙 {} 平方米，重叠 {} 平方米，超出社区 {} 平方米 — {}", f"{chk['gap_m2']:.2f}",
                             f"{chk['overlap_m2']:.2f}", f"{chk['outside_m2']:.2f}",
                             "与社区边界完全吻合" if chk["exact"] else "未完全吻合"))
            for note in res_r.notes:
                st.warning(ui.md("{}", note))
            from grid.crs import WGS84

            prop = res_r.cells.to_crs(WGS84)
            cells_tab = pd.DataFrame(prop.drop(columns="geometry")).rename(columns={
                "cell_id": "网格编码", "name": "网格名称", "status": "状态", "households": "户数",
                "warden_id": "建议网格员", "from_cells": "来自原网格", "community_code": "社区代码"})
            cells_tab["状态"] = cells_tab["状态"].map({"kept": "保留", "new": "新划"})
            st.dataframe(cells_tab, hide_index=True, width="stretch")
            admin = load_admin_units(store)
            st_folium(regrid_map(prop, admin[admin["code"] == res_r.community_code]), height=520,
                      key=f"regrid_map:{res_r.community_code}", returned_objects=[])
            rfmt = st.radio("格式 Format", [".geojson", ".gpkg"], horizontal=True, key="regrid_fmt")
            st.download_button("下载方案（网格导入格式）· Download the proposal as a cell file",
                               lambda: download(store, actor, "network_plan", regrid_export_frame(res_r), rfmt,
                                                detail=f"regrid:{res_r.community_code}", geometry="geometry"),
                               file_name=f"regrid_{res_r.community_code}{rfmt}", key="regrid_download",
                               on_click="ignore")
