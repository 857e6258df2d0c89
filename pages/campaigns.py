"""走访活动 — the street committee's campaign page: create a campaign, audit it
(全覆盖、不遗漏、不重复), make and adjust a visit plan, print the visit sheets and
watch progress. Composition only: grid.campaigns, grid.planning, maps.plan."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

import ui
from grid import access, model
from grid.campaigns import Audit, audit_campaign, campaign_frames
from grid.coverage import load_cells
from grid.errors import WarmGridError
from grid.planning import load_plan, make_plan, move_household, plan_progress, save_plan, visit_sheets_xlsx
from maps.plan import audit_map, plan_map

store = ui.get_store()
user = ui.require_page("campaigns")
cells = ui.allowed_cells(store, user)
st.title("走访活动 · Campaigns")
if not cells:
    st.info("您没有可管理的范围 · You have no area in your scope.")
    st.stop()


def _error(exc: WarmGridError) -> None:
    st.error(f"{exc.zh}\n\n{exc.en}")


# Areas this user may plan: the streets and communities of their cells.
areas = store.query(
    "SELECT DISTINCT a.code, a.name, a.level FROM admin_units a JOIN cells c"
    " ON a.code = c.community_code OR a.code = (SELECT parent_code FROM admin_units WHERE code = c.community_code)"
    " WHERE c.cell_id IN (SELECT unnest(?::TEXT[])) ORDER BY a.level DESC, a.code", [sorted(cells)])
area_names = dict(zip(areas["code"], areas["name"] + "（" + areas["level"].map(model.label) + "）", strict=True))
campaigns = store.query("SELECT campaign_id, name, starts_on, ends_on FROM campaigns ORDER BY starts_on DESC")

tab_new, tab_audit, tab_plan = st.tabs(["新建活动 New", "核查 Audit", "走访计划 Plan"])

with tab_new, st.form("new_campaign"):
    cid = st.text_input("活动编号 Id", value=f"C{date.today():%Y%m%d}")
    name = st.text_input("活动名称 Name", value=f"{date.today().year}年春节送温暖")
    c1, c2 = st.columns(2)
    starts = c1.date_input("开始 Starts", value=date.today())
    ends = c2.date_input("结束 Ends", value=date.today() + timedelta(days=120))
    unit = st.selectbox("组织单位 Unit", list(area_names), format_func=lambda c: area_names[c])
    targets = st.multiselect("对象类别 Target categories", list(model.HARDSHIP), format_func=model.label,
                             default=list(model.FIVE_MUST_VISIT))
    budget = st.number_input("预算（元）Budget (yuan)", min_value=0.0, value=0.0, step=1000.0)
    if st.form_submit_button("创建 Create", type="primary"):
        if not cid.strip() or not name.strip() or ends < starts or not targets:
            st.error("请填写编号、名称、对象类别，结束日期不早于开始日期。"
                     " Fill in id, name and targets; the end may not precede the start.")
        elif cid in set(campaigns["campaign_id"]):
            st.error(f"活动编号 {cid} 已存在 · campaign id {cid} exists")
        else:
            with store.transaction() as cur:
                cur.execute("INSERT INTO campaigns VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [cid.strip(), name.strip(), unit, starts, ends, targets, budget or None])
                access.audit(cur, user, "create", object=f"campaign:{cid}", row_count=1)
            st.success(f"已创建 · created {cid}")
            st.rerun()

if campaigns.empty:
    st.stop()
pick = st.sidebar.selectbox("活动 Campaign", list(campaigns["campaign_id"]),
                            format_func=lambda c: campaigns.set_index("campaign_id").loc[c, "name"])
area = st.sidebar.selectbox("范围 Area", list(area_names), format_func=lambda c: area_names[c])
cell_gdf = load_cells(store)
cell_gdf = cell_gdf[cell_gdf["cell_id"].isin(cells)]

au: Audit | None
with tab_audit:
    try:
        data = campaign_frames(store, pick, area)
        au = audit_campaign(data.targets, data.visits, data.assistance)
    except WarmGridError as exc:
        _error(exc)
        au = None
    if au is not None:
        t = au.totals
        c = st.columns(4)
        c[0].metric("对象户 Targets", f"{int(t['targets']):,}")
        c[1].metric("已走访 Visited", f"{int(t['visited']):,}", help=f"{t['visit_rate']:.1%}")
        c[2].metric("已救助 Helped", f"{int(t['helped']):,}", help=f"{t['help_rate']:.1%}")
        c[3].metric("重复 Duplicates", f"{int(t['duplicate_households']):,}")
        pos = store.query("SELECT hh_id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM households"
                          " WHERE hh_id IN (SELECT unnest(?::TEXT[]))", [sorted(data.targets["hh_id"])]).set_index("hh_id")
        if len(pos):
            om = au.omissions.join(pos, on="hh_id").assign(reason=lambda d: d["zh"])
            du = au.duplicates.join(pos, on="hh_id").assign(reason=lambda d: d["zh"])
            m = audit_map(cell_gdf, om, du, f"{campaigns.set_index('campaign_id').loc[pick, 'name']}：遗漏 "
                          f"{om['hh_id'].nunique()} 户，重复 {du['hh_id'].nunique()} 户")
            st_folium(m, height=460, use_container_width=True, returned_objects=[], key="audit_map")
        st.subheader("遗漏 Omissions")
        st.dataframe(au.omissions[["hh_id", "zh", "cell_id"]].rename(
            columns={"hh_id": "户编号", "zh": "原因", "cell_id": "网格"}), hide_index=True, width="stretch")
        st.subheader("重复 Duplicates")
        st.dataframe(au.duplicates[["hh_id", "programme", "zh", "aid_ids", "units"]].rename(
            columns={"hh_id": "户编号", "programme": "项目", "zh": "说明", "aid_ids": "记录", "units": "发放单位"}),
            hide_index=True, width="stretch")
        st.subheader("按社区 By community")
        st.dataframe(au.by_community, hide_index=True, width="stretch")

with tab_plan:
    c1, c2, c3 = st.columns(3)
    lo = int(c1.number_input("每人至少 Min per visitor", 0, 500, 10, key="plan_min"))
    hi = int(c2.number_input("每人至多 Max per visitor", 1, 1000, 40, key="plan_max"))
    day = c3.date_input("计划日期 Planning date", value=date.today())
    saved = store.query("SELECT plan_id, created_at, total_m FROM plans WHERE campaign_id = ? AND area_code = ?"
                        " ORDER BY created_at DESC", [pick, area])
    if st.button("生成计划 Make a plan", type="primary"):
        try:
            with st.spinner("正在分配住户并规划路线 · assigning households and routing…"):
                plan = make_plan(store, pick, area, min_per=lo or None, max_per=hi, planning_date=day)
                pid = save_plan(store, plan, created_by=user.username)
            st.success(f"已保存计划 · saved plan {pid}")
            st.rerun()
        except WarmGridError as exc:
            _error(exc)
    if saved.empty:
        st.info("尚无计划 · No plan yet.")
        st.stop()
    pid = st.selectbox("计划 Plan", list(saved["plan_id"]), key="plan_pick")
    plan = load_plan(store, pid)
    prog = plan_progress(store, pid)
    st.caption(f"{len(plan.visitors)} 名走访人，{len(plan.items)} 户，总路程 {plan.total_m / 1000:.1f} km")
    st.dataframe(prog, hide_index=True, width="stretch")
    items = plan.items.copy()
    lonlat = store.query("SELECT hh_id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM households"
                         " WHERE hh_id IN (SELECT unnest(?::TEXT[]))", [sorted(items["hh_id"])])
    items = items.merge(lonlat, on="hh_id")
    items["label"] = items["address"]
    m = plan_map(cell_gdf, items, plan.visitors, f"{plan.campaign_name} · {plan.area_name}：{len(plan.visitors)} 条路线")
    st_folium(m, height=520, use_container_width=True, returned_objects=[], key="plan_map")
    with st.form("move"):
        c1, c2 = st.columns(2)
        hh = c1.selectbox("住户 Household", list(items["hh_id"]))
        to = c2.selectbox("改由 To visitor", list(plan.visitors["visitor_id"]))
        if st.form_submit_button("调整 Move"):
            try:
                move_household(store, pid, hh, to, by=user.username)
                st.rerun()
            except WarmGridError as exc:
                _error(exc)

    def _sheets() -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sheets.xlsx"
            visit_sheets_xlsx(plan, path, mask=lambda df: access.mask_households(df, user, cells))
            return path.read_bytes()

    if st.download_button("下载走访单（A4）· Visit sheets", _sheets, file_name=f"走访单_{pid}.xlsx"):
        access.audit(store, user, "export", object=f"visit_sheets:{pid}", row_count=len(plan.items))
    st.dataframe(pd.DataFrame(plan.items[["visitor_id", "seq", "hh_id", "address", "leg_m"]]), hide_index=True,
                 width="stretch")
