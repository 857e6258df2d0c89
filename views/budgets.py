"""预算与核查 — budgets against what is under review, approved and given, applications by state,
and the diversion checks (截留、挪用): red flags household by household for those who may see
household rows (the street committee, the administrator), counts by kind and community for
leaders and inspectors. Composition only: grid.budgets, grid.applications."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from grid import access, labels, model
from grid.applications import status_counts
from grid.budgets import REASONS, budget_units, budgets_for, flag_counts, load_programmes, red_flags_for, set_budget
from grid.campaigns import list_campaigns
from grid.errors import WarmGridError
from grid.export import download

#: Budget table headers.
BUDGET_HEADERS = {"unit_name": "单位", "programme_name": "项目", "campaign_id": "活动", "budget_yuan": "预算（元）",
                  "pending_yuan": "审批中（元）", "approved_yuan": "已批待发（元）", "allocated_yuan": "已批准（元）",
                  "given_yuan": "已发放（元）", "direct_yuan": "其中未经申请（元）", "remaining_yuan": "剩余可用（元）",
                  "given_share": "发放占预算", "overrun": "超支", "households_given": "受助户数"}
ALL = "（全部 all）"
#: Short names of the red flags' kinds (the metrics' labels).
FLAG_LABELS = {"not_active": "已不在册", "no_application": "未经审批", "above_standard": "超过标准",
               "shared_receiver": "同一领款人", "budget_overrun": "超出预算"}
assert set(FLAG_LABELS) == set(REASONS)

store = ui.get_store()
actor = ui.require_page("budgets")
st.title("预算与核查 · Budgets & checks")
done = st.session_state.pop("budget_done", None)
if done:
    st.success(ui.md("{}", done))
if not actor.scope:
    st.info("您的范围内没有网格 · There are no cells in your scope.")
    st.stop()

campaigns = list_campaigns(store)
camp_names = dict(zip(campaigns["campaign_id"], campaigns["name"], strict=True))
pick = st.selectbox("走访活动 Campaign", [ALL, *camp_names], key="b_campaign",
                    format_func=lambda c: c if c == ALL else f"{camp_names[c]}（{c}）")
campaign = None if pick == ALL else pick

# --------------------------------------------------------------------------- budgets
st.subheader("预算执行 · Budgets")
budgets = budgets_for(store, actor.scope, campaign)
if budgets.empty:
    st.info("您的范围内没有设定预算 · No budget is set in your scope.")
else:
    c = st.columns(4)
    c[0].metric("预算合计（元）Budget", f"{budgets['budget_yuan'].sum():,.0f}")
    c[1].metric("已批准（元）Approved", f"{budgets['allocated_yuan'].sum():,.0f}")
    c[2].metric("已发放（元）Given", f"{budgets['given_yuan'].sum():,.0f}")
    c[3].metric("超支预算 Over budget", f"{int(budgets['overrun'].sum()):,}")
    st.caption("同一笔发放计入其社区及以上各级单位的预算；合计栏因此可能重复计算。 · A gift counts against every unit "
               "above it, so the sums may count it more than once.")
    shown = budgets.assign(campaign_id=budgets["campaign_id"].fillna("常年"),
                           overrun=budgets["overrun"].map({True: "是", False: ""}))
    st.dataframe(shown[list(BUDGET_HEADERS)].rename(columns=BUDGET_HEADERS), hide_index=True, width="stretch",
                 column_config={"发放占预算": st.column_config.NumberColumn(format="percent")})
    if access.allowed(actor, "download", "budgets"):
        st.download_button("下载预算执行 CSV · Download", lambda: download(store, actor, "budgets", labels.labelled(budgets, headers=BUDGET_HEADERS), ".csv",
                                                                     detail=campaign or "all"),
                           file_name="budgets.csv", mime="text/csv", on_click="ignore", key="dl_budgets")

# --------------------------------------------------------------------------- applications by state
st.subheader("申请办理情况 · Applications by state")
counts = status_counts(store, actor.scope, campaign_id=campaign)
if counts.empty:
    st.info("没有申请 · No application.")
else:
    pivot = counts.assign(state=counts["status"].map(model.label), name=counts["programme_name"].fillna(
        counts["programme"])).pivot_table(index="name", columns="state", values="applications", aggfunc="sum",
                                          fill_value=0)
    pivot = pivot[[model.label(s) for s in model.APPLICATION_STATUSES if model.label(s) in pivot.columns]]
    st.dataframe(pivot.rename_axis("项目"), width="stretch")

# --------------------------------------------------------------------------- red flags
st.subheader("核查疑点 · Red flags")
st.caption("发放时已不在册、未经审批发放、超过标准、同一领款人领取多户、超出预算：逐笔列出，供核实。 · Given to a household no "
           "longer registered, without an approved application, above the standard, to one receiver for several "
           "households, beyond the budget.")
flags = red_flags_for(store, actor.scope, campaign)
by_kind = flags["reason"].value_counts()
cols = st.columns(len(REASONS))
for col, (code, label) in zip(cols, FLAG_LABELS.items(), strict=True):
    col.metric(label, f"{int(by_kind.get(code, 0)):,}", help=ui.esc(REASONS[code][0]))
if access.allowed(actor, "view_households"):
    listed = flags.assign(kind=flags["reason"].map(lambda r: REASONS[r][0]),
                          given=pd.to_datetime(flags["given_at"]).dt.strftime("%Y-%m-%d"))
    st.dataframe(listed[["hh_id", "kind", "zh", "programme", "value_yuan", "given", "aid_id", "app_id",
                         "community_code"]].rename(columns={
                             "hh_id": "户编号", "kind": "疑点", "zh": "说明", "programme": "项目", "value_yuan": "金额（元）",
                             "given": "发放日期", "aid_id": "救助记录", "app_id": "申请编号", "community_code": "社区代码"}),
                 hide_index=True, width="stretch")
    if access.allowed(actor, "download", "red_flags"):
        st.download_button("下载疑点清单 CSV · Download", lambda: download(store, actor, "red_flags", labels.labelled(
                               flags, headers={"reason": "疑点代码", "zh": "说明", "value_yuan": "金额（元）"}), ".csv",
                                                                     detail=campaign or "all"),
                           file_name="red_flags.csv", mime="text/csv", on_click="ignore", key="dl_flags")
else:  # leaders and inspectors: counts by community, no household
    summary = flag_counts(flags, "community_code")
    st.dataframe(summary.rename(columns={"community_code": "社区代码", "reason": "疑点代码", "zh": "疑点",
                                         "records": "笔数", "households": "户数"}), hide_index=True, width="stretch")

# --------------------------------------------------------------------------- setting a budget
if access.allowed(actor, "manage_budgets"):
    st.subheader("设定预算 · Set a budget")
    areas = budget_units(store, actor.scope)
    units = dict(zip(areas["code"], areas["label"], strict=True))
    programmes = load_programmes(store)
    prog_names = dict(zip(programmes["code"], programmes["name"], strict=True))
    if units and prog_names:
        with st.form("set_budget"):
            c1, c2, c3 = st.columns(3)
            unit = c1.selectbox("单位 Unit", list(units), format_func=units.__getitem__, key="sb_unit")
            prog = c2.selectbox("项目 Programme", list(prog_names), format_func=prog_names.__getitem__, key="sb_prog")
            camp = c3.selectbox("活动 Campaign", ["", *camp_names], key="sb_camp",
                                format_func=lambda c: "常年（不属于活动）" if not c else camp_names[c])
            money = st.number_input("预算（元）Budget (yuan)", min_value=0.0, step=1000.0, key="sb_amount")
            if st.form_submit_button("保存预算 Save", type="primary"):
                try:
                    set_budget(store, actor, unit_code=unit, programme=prog, amount_yuan=money, campaign_id=camp or None)
                    st.session_state["budget_done"] = f"已设定预算 · budget set: {units[unit]} {prog_names[prog]} {money:,.2f}"
                    st.rerun()
                except WarmGridError as exc:
                    ui.error(exc)
