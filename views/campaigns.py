"""走访活动 — the street committee's campaign page: create a campaign, audit it
(全覆盖、不遗漏、不重复), make and adjust a visit plan, print the visit sheets and
watch progress. Composition only: grid.campaigns, grid.planning, maps.plan; the audit, the plan
and their maps computed once per data generation (ui_campaigns)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

import ui
import ui_campaigns
import ui_map
from grid import labels, model
from grid.campaigns import Audit, create_campaign, list_campaigns, plannable_areas
from grid.errors import WarmGridError
from grid.planning import (
    START_SOURCES,
    list_plans,
    make_plan,
    move_household,
    save_plan,
    suggest_bounds,
    visit_sheets_bytes,
)

store = ui.get_store()
actor = ui.require_page("campaigns")
st.title("走访活动 · Campaigns")
if not actor.scope:
    st.info("您没有可管理的范围 · You have no area in your scope.")
    st.stop()

# Areas this actor may plan: the streets and communities of its cells.
areas = plannable_areas(store, actor.scope)
area_names = dict(zip(areas["code"], areas["label"], strict=True))
campaigns = list_campaigns(store)
camp_names = dict(zip(campaigns["campaign_id"], campaigns["name"], strict=True))

tab_new, tab_audit, tab_plan, tab_bulletin = st.tabs(["新建活动 New", "核查 Audit", "走访计划 Plan",
                                                      "情况通报 Bulletin"])

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
        try:
            made = create_campaign(store, actor, campaign_id=cid, name=name, unit_code=unit, starts_on=starts,
                                   ends_on=ends, targets=targets, budget_yuan=budget or None)
            st.session_state["campaign_made"] = made
            ui.notify(f"已创建活动 · Campaign created: {name}（{made}）")
            st.rerun()
        except WarmGridError as exc:
            ui.error(exc)
if st.session_state.get("campaign_made"):
    tab_new.success(ui.md("已创建活动 · created {}", st.session_state["campaign_made"]))

if campaigns.empty:
    st.stop()
pick = st.sidebar.selectbox("活动 Campaign", list(campaigns["campaign_id"]), format_func=lambda c: camp_names[c])
area = st.sidebar.selectbox("范围 Area", list(area_names), format_func=lambda c: area_names[c])

community_names = dict(zip(areas["code"], areas["name"], strict=True))


def labelled_by_community(frame: pd.DataFrame) -> pd.DataFrame:
    """The audit's counts by community: names with their codes, Chinese headers."""
    return labels.labelled(frame, names={"community_code": community_names, "street_code": community_names},
                           headers={"community_code": "社区", "street_code": "街道"})


au: Audit | None
with tab_audit:
    try:
        view = ui_campaigns.audit_view(store, actor, pick, area)
        au = view.audit
    except WarmGridError as exc:
        ui.error(exc)
        au = None
    if au is not None:
        t = au.totals
        c = st.columns(4)
        c[0].metric("对象户 Targets", f"{int(t['targets']):,}")
        c[1].metric("已走访 Visited", f"{int(t['visited']):,}", help=f"{t['visit_rate']:.1%}")
        c[2].metric("已救助 Helped", f"{int(t['helped']):,}", help=f"{t['help_rate']:.1%}")
        c[3].metric("重复 Duplicates", f"{int(t['duplicate_households']):,}")
        if len(view.data.targets):
            om, du = view.omissions, view.duplicates
            title = f"{camp_names[pick]}：遗漏 {om['hh_id'].nunique()} 户，重复 {du['hh_id'].nunique()} 户"
            ui_map.draw_map(ui_campaigns.audit_map_payload(store, actor, view, pick, area, title), height=460,
                            key="audit_map")
        st.subheader("遗漏 Omissions")
        st.dataframe(au.omissions[["hh_id", "zh", "cell_id"]].rename(
            columns={"hh_id": "户编号", "zh": "原因", "cell_id": "网格"}), hide_index=True, width="stretch")
        st.subheader("重复 Duplicates")
        st.dataframe(au.duplicates[["hh_id", "programme", "zh", "aid_ids", "units"]].rename(
            columns={"hh_id": "户编号", "programme": "项目", "zh": "说明", "aid_ids": "记录", "units": "发放单位"}),
            hide_index=True, width="stretch")
        st.subheader("按社区 By community")
        st.dataframe(labelled_by_community(au.by_community), hide_index=True, width="stretch")

with tab_bulletin:
    ui.bulletin_downloads(store, actor, key="campaigns", campaign=pick)

with tab_plan:
    try:
        n_targets, candidates = ui_campaigns.plan_inputs(store, actor, pick, area)
    except WarmGridError as exc:
        ui.show_error(exc)
        raise  # unreachable: show_error stops the page
    who = dict(zip(candidates["visitor_id"], [
        f"{r.name or r.visitor_id} · {model.label(str(r.role)) if r.role else '—'} · "
        f"从{START_SOURCES.get(str(r.start_source), '—')}出发" for r in candidates.itertuples(index=False)], strict=True))
    # A street offers hundreds of visitors: all of them by default, picked one by one only on request
    # (a list showing 358 chosen names took the browser most of a second to draw on every visit).
    everyone = st.toggle(f"走访人 Visitors：全部 {len(who):,} 名候选人 · all {len(who):,} candidates", value=True,
                         key=f"plan_everyone:{pick}:{area}",
                         help="本区域的干部、党员和网格员；路线从每人自己的位置出发（没有位置的，从所属党群服务站出发）。"
                              "关闭后可逐一选择 · switch off to choose them one by one")
    chosen = list(who) if everyone else st.multiselect(
        "走访人 Visitors", list(who), default=list(who), format_func=who.__getitem__,
        key=f"plan_visitors:{pick}:{area}")
    s_lo, s_hi = suggest_bounds(n_targets, len(chosen))
    st.caption(f"目标户 {n_targets:,} 户，走访人 {len(chosen):,} 名：建议每人 {s_lo:,}–{s_hi:,} 户"
               f" · {n_targets:,} households, {len(chosen):,} visitors: {s_lo:,}–{s_hi:,} each suggested")
    c1, c2, c3 = st.columns(3)
    bounds_key = f"{pick}:{area}:{len(chosen)}:{n_targets}"  # new suggestions when the numbers change
    lo = int(c1.number_input("每人至少 Min per visitor", 0, 5000, s_lo, key=f"plan_min:{bounds_key}"))
    hi = int(c2.number_input("每人至多 Max per visitor", 1, 5000, s_hi, key=f"plan_max:{bounds_key}"))
    day = c3.date_input("计划日期 Planning date", value=date.today())
    saved = list_plans(store, pick, area)
    if st.button("生成计划 Make a plan", type="primary", disabled=not chosen):
        try:
            with st.spinner("正在分配住户并规划路线 · assigning households and routing…"):
                plan = make_plan(store, actor, pick, area, visitors=list(chosen), min_per=lo, max_per=hi,
                                 planning_date=day)
                pid = save_plan(store, actor, plan)
            st.session_state["plan_made"] = pid
            ui.notify(f"已保存走访计划 · Plan saved: {pid}")
            st.rerun()
        except WarmGridError as exc:
            ui.error(exc)
    if st.session_state.get("plan_made"):
        st.success(ui.md("已保存计划 · saved plan {}", st.session_state["plan_made"]))
    if saved.empty:
        st.info("尚无计划 · No plan yet.")
        st.stop()
    pid = st.selectbox("计划 Plan", list(saved["plan_id"]), key="plan_pick")
    pv = ui_campaigns.plan_view(store, actor, pid)
    plan = pv.plan
    if not pv.in_scope:
        ui.show_error(WarmGridError("此计划不在您的范围内。", "this plan is outside your scope."))
    prog = pv.progress
    st.caption(ui.md("{} 名走访人，{} 户，总路程 {} km", len(plan.visitors), len(plan.items),
                     f"{plan.total_m / 1000:.1f}"))
    st.dataframe(labels.labelled(prog.assign(share=prog["share"].map(lambda v: "—" if pd.isna(v) else f"{v:.0%}")),
                                 headers={"name": "走访人"}), hide_index=True, width="stretch")
    items = pv.items
    ui_map.draw_map(ui_campaigns.plan_map_payload(store, actor, pv, pid), height=520, key="plan_map")
    visitor_names = {v: f"{n or v}（{v}）" for v, n in zip(plan.visitors["visitor_id"], plan.visitors["name"],
                                                          strict=True)}
    # Move a household: first whose stops, then one of theirs (a street's plan has 26,721 households:
    # one list of them all took the browser 0.6 s to draw on every visit), then to whom.
    st.subheader("调整 Move a household")
    visitor_ids = list(plan.visitors["visitor_id"])
    c0, c1, c2 = st.columns(3)
    frm = c0.selectbox("原走访人 From visitor", visitor_ids, format_func=visitor_names.__getitem__,
                       key=f"move_from:{pid}")
    theirs = items[items["visitor_id"] == frm].sort_values("seq")
    addresses = dict(zip(theirs["hh_id"], theirs["address"].astype(str), strict=True))
    hh = c1.selectbox(f"住户 Household（{len(theirs):,} 户）", list(theirs["hh_id"]),
                      format_func=lambda h: f"{h} · {addresses.get(h, '')}", key=f"move_hh:{pid}:{frm}")
    to = c2.selectbox("改由 To visitor", [v for v in visitor_ids if v != frm], format_func=visitor_names.__getitem__,
                      key=f"move_to:{pid}")
    if st.button("调整 Move", disabled=hh is None or to is None, key=f"move:{pid}"):
        try:
            move_household(store, actor, pid, hh, to)
            ui.notify(f"已调整 · Moved: {hh} → {visitor_names[to]}")
            st.rerun()
        except WarmGridError as exc:
            ui.error(exc)

    st.download_button("下载走访单（A4）· Visit sheets", lambda: visit_sheets_bytes(store, actor, plan),
                       file_name=f"走访单_{pid}.xlsx", on_click="ignore", key="sheets_download")
    st.dataframe(labels.labelled(pd.DataFrame(plan.items[["visitor_id", "seq", "hh_id", "address", "leg_m"]]),
                                 names={"visitor_id": dict(zip(plan.visitors["visitor_id"], plan.visitors["name"]
                                                               .fillna(plan.visitors["visitor_id"]), strict=True))},
                                 headers={"visitor_id": "走访人"}),
                 hide_index=True, width="stretch")
