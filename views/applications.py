"""救助申请 — assistance by application (逐级申请报批): the queue by state, each application's
steps (check, review, public notice, objections, approval, giving, rejection with a reason),
applying for a household, and the public notice list (公示名单) to print.

Who sees what is the access policy's (grid.access): a warden applies for the households of
their cells and records objections; the street committee checks, reviews, posts the notice,
settles objections and gives; the district office (admin) approves. Every step is the
library's (grid.applications), one transaction with its event and audit row; the page only
composes. A confirmation is kept across the rerun that follows each step.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

import ui
from grid import access, model
from grid import applications as A
from grid.budgets import load_programmes
from grid.campaigns import list_campaigns
from grid.errors import WarmGridError
from grid.notice import notice_bytes, notice_list
from grid.validators import china_today

#: The page's tabs (the notice list only for those who may print it).
TABS = ["待办 Queue", "申请 Apply", "公示名单 Notice list"]
TABS_NO_NOTICE = TABS[:2]
#: Column headers of the queue.
HEADERS = {"app_id": "申请编号", "hh_id": "户编号", "head_name": "户主", "community_name": "社区",
           "programme_name": "项目", "amount_yuan": "金额（元）", "status_label": "状态", "applied": "申请日期",
           "notice": "公示期", "open_objections": "待核实异议"}
#: The button of each step's form.
BUTTONS = {"check": "社区初审通过 Checked", "review": "街道审核通过 Reviewed", "notice": "张榜公示 Post the notice",
           "approve": "批准 Approve", "give": "发放并登记签收 Give", "reject": "驳回 Reject",
           "object": "登记异议 Record the objection"}
BUTTONS_NOTICE, BUTTONS_GIVE, BUTTONS_OBJECT, BUTTONS_REJECT = (BUTTONS[k] for k in ("notice", "give", "object",
                                                                                    "reject"))
ALL = "（全部 all）"

store = ui.get_store()
actor = ui.require_page("applications")
st.title("救助申请 · Applications")
done = st.session_state.pop("app_done", None)
if done:
    st.success(ui.md("{} · {}", done[0], done[1]))
if not actor.scope:
    st.info("您没有可办理的范围 · You have no area in your scope.")
    st.stop()


def _finish(zh: str, en: str) -> None:
    """Keep the confirmation for the next run, and rerun (the queue then shows the new state)."""
    st.session_state["app_done"] = (zh, en)
    st.rerun()


programmes = load_programmes(store)
prog_names = dict(zip(programmes["code"], programmes["name"], strict=True))
today = china_today()
may_notice_list = access.allowed(actor, "download", "notice_list")
if may_notice_list:
    opened = st.tabs(TABS, key="app_tab", on_change="rerun")
else:
    opened = st.tabs(TABS_NO_NOTICE, key="app_tab", on_change="rerun")
tab_queue, tab_apply = opened[0], opened[1]

# --------------------------------------------------------------------------- the queue
if tab_queue.open:
    with tab_queue:
        c1, c2 = st.columns(2)
        prog = c1.selectbox("项目 Programme", [ALL, *prog_names], key="q_prog",
                            format_func=lambda p: p if p == ALL else prog_names[p])
        everything = A.list_applications(store, actor, programme=None if prog == ALL else prog)
        counts = everything["status"].value_counts()
        states = list(model.APPLICATION_STATUSES)
        state = c2.selectbox("状态 State", [ALL, *states], key="q_state",
                             format_func=lambda s: s if s == ALL else
                             f"{model.label(s)}（{int(counts.get(s, 0))}）")
        cols = st.columns(len(states))
        for col, s in zip(cols, states, strict=True):
            col.metric(model.label(s), f"{int(counts.get(s, 0)):,}")
        shown = everything if state == ALL else everything[everything["status"] == state]
        table = shown.assign(
            status_label=shown["status"].map(model.label),
            applied=pd.to_datetime(shown["applied_at"]).dt.strftime("%Y-%m-%d"),
            notice=[f"{a}—{b}" if a is not None else "" for a, b in
                    zip(shown["notice_starts_on"], shown["notice_ends_on"], strict=True)],
        )[list(HEADERS)].rename(columns=HEADERS)
        st.dataframe(table, hide_index=True, width="stretch", height=300)

        # -- many at once: the forward step of the chosen state ----------------------------------
        forward = {"applied": "check", "community_checked": "review", "street_reviewed": "notice",
                   "on_notice": "approve"}.get(state)
        if forward is not None and len(shown):
            step = A.step_of(forward, state)
            if step is not None and access.allowed(actor, step.action):
                with st.expander(ui.md("批量{} · Batch: {}", step.zh, step.en)):
                    with st.form(f"batch_{forward}"):
                        picked = st.multiselect("申请 Applications", list(shown["app_id"]), key=f"batch_pick_{forward}")
                        note = st.text_input("意见 Note", key=f"batch_note_{forward}")
                        button_label = BUTTONS[forward]
                        go = st.form_submit_button(button_label, type="primary")
                    if go:
                        try:
                            if forward == "notice":
                                A.notice(store, actor, picked, note=note or None)
                            else:
                                getattr(A, forward)(store, actor, picked, note=note or None)
                            _finish(f"已{step.zh} {len(picked)} 份申请", f"{step.en}: {len(picked)} application(s)")
                        except WarmGridError as exc:
                            ui.error(exc)

        # -- one application -----------------------------------------------------------------------
        if shown.empty:
            st.info("没有这一状态的申请 · No application in this state.")
            st.stop()
        labels = {r.app_id: f"{r.app_id} · {model.label(r.status)} · {r.hh_id} {r.head_name or ''}"
                  for r in shown.itertuples(index=False)}
        pick = st.selectbox("办理申请 Application", list(labels), format_func=labels.__getitem__, key="q_pick")
        try:
            detail = A.application_detail(store, actor, pick)
        except WarmGridError as exc:
            ui.show_error(exc)
            raise  # unreachable
        a = detail["application"]
        st.subheader(ui.md("{} · {}", a["app_id"], model.label(a["status"])))
        st.markdown(ui.md("**{}** · {} · {} · {}", a["head_name"] or "", a["hh_id"], a["community_name"] or "",
                          "、".join(model.label(c) for c in a["categories"]) or "无困难类别"))
        st.markdown(ui.md("项目 {} · 活动 {} · 金额 {} 元 · 申请理由：{}", a["programme_name"] or a["programme"],
                          a["campaign_id"] or "—", f"{float(a['amount_yuan']):,.2f}", a["reason"]))
        if a["notice_starts_on"] is not None:
            st.markdown(ui.md("公示期 {} 至 {} · 异议受理：{}", a["notice_starts_on"], a["notice_ends_on"],
                              a["notice_contact"] or "—"))
        if a["rejected_reason"]:
            st.warning(ui.md("未通过原因 · Rejected: {}", a["rejected_reason"]))
        if a["receipt_ref"]:
            st.markdown(ui.md("签收凭证 Receipt：{}", a["receipt_ref"]))
        events = detail["events"].assign(
            step=lambda d: d["step"].map(lambda s: model.APPLICATION_STEPS[s].zh if s in model.APPLICATION_STEPS
                                         else s),
            to_status=lambda d: d["to_status"].map(model.label))
        st.caption("办理经过 Steps")
        st.dataframe(events.rename(columns={"seq": "步", "at": "时间", "by_user": "办理人", "step": "环节",
                                            "to_status": "结果状态", "note": "意见"}).drop(columns=["from_status"]),
                     hide_index=True, width="stretch")
        objections = detail["objections"]
        if len(objections):
            st.caption("公示异议 Objections")
            st.dataframe(objections.assign(status=objections["status"].map(
                lambda s: model.OBJECTION_STATUSES[s].zh if s in model.OBJECTION_STATUSES else s)).rename(columns={
                    "objection_id": "异议编号", "raised_at": "登记时间", "recorded_by": "登记人", "objector": "异议人",
                    "content": "内容", "status": "核实结果", "settled_at": "核实时间", "settled_by": "核实人",
                    "settlement": "核实情况"}), hide_index=True, width="stretch")

        steps = {s.name for s in detail["steps"]}
        app_id = str(a["app_id"])
        if not steps:
            st.caption("您在这一环节没有可办理的操作 · Nothing for you to do at this step.")
        for name in ("check", "review", "approve"):
            if name in steps:
                step = A.step_of(name, a["status"])
                assert step is not None
                with st.form(f"{name}_{app_id}"):
                    st.markdown(ui.md("**{}** · {}", step.zh, step.en))
                    if name == "approve" and a["notice_ends_on"] is not None and today <= a["notice_ends_on"]:
                        st.caption(ui.md("公示期至 {}，期满后方可审批 · The notice runs until then.", a["notice_ends_on"]))
                    note = st.text_area("意见 Note", key=f"note_{name}_{app_id}")
                    button_label = BUTTONS[name]
                    if st.form_submit_button(button_label, type="primary"):
                        try:
                            getattr(A, name)(store, actor, app_id, note=note or None)
                            _finish(f"{app_id} 已{step.zh}", f"{app_id}: {step.en} done")
                        except WarmGridError as exc:
                            ui.error(exc)
        if "notice" in steps:
            with st.form(f"notice_{app_id}"):
                st.markdown("**张榜公示** · Public notice")
                c1, c2 = st.columns(2)
                days = int(c1.number_input("公示天数 Days", 1, 60, 7, key=f"days_{app_id}"))
                start = c2.date_input("开始日期 From", value=today, min_value=today - timedelta(days=30),
                                      max_value=today + timedelta(days=30), key=f"start_{app_id}")
                line = st.text_input("异议受理方式（留空：向社区居委会或街道办事处反映）Where to object", key=f"contact_{app_id}")
                note = st.text_input("意见 Note", key=f"note_notice_{app_id}")
                if st.form_submit_button(BUTTONS_NOTICE, type="primary"):
                    try:
                        A.notice(store, actor, app_id, days=days, starts_on=start, contact=line or None,
                                 note=note or None)
                        _finish(f"{app_id} 已张榜公示 {days} 天", f"{app_id} on public notice for {days} days")
                    except WarmGridError as exc:
                        ui.error(exc)
        if "give" in steps:
            with st.form(f"give_{app_id}"):
                st.markdown("**发放** · Give, with the receipt")
                ref = st.text_input("签收凭证号 Receipt reference", key=f"ref_{app_id}")
                c1, c2, c3 = st.columns(3)
                who = c1.text_input("领款人 Receiver", key=f"who_{app_id}")
                tel = c2.text_input("领款人电话 Phone", key=f"tel_{app_id}")
                acct = c3.text_input("收款账号 Account", key=f"acct_{app_id}")
                unit = st.text_input("发放单位 Giver", key=f"unit_{app_id}")
                if st.form_submit_button(BUTTONS_GIVE, type="primary"):
                    try:
                        aid = A.give(store, actor, app_id, receipt_ref=ref, receiver_name=who or None,
                                     receiver_phone=tel or None, receiver_account=acct or None, giver_unit=unit or None)
                        _finish(f"{app_id} 已发放，救助记录 {aid}", f"{app_id} given: assistance record {aid}")
                    except WarmGridError as exc:
                        ui.error(exc)
        if "object" in steps:
            with st.form(f"object_{app_id}"):
                st.markdown("**登记公示异议** · Record an objection")
                what = st.text_area("异议内容 Objection", key=f"objection_{app_id}")
                by = st.text_input("异议人（可匿名）Objector", key=f"objector_{app_id}", value="匿名")
                if st.form_submit_button(BUTTONS_OBJECT):
                    try:
                        oid = A.object_to(store, actor, app_id, content=what, objector=by or None)
                        _finish(f"已登记异议 {oid}，核实前不能审批", f"objection {oid} recorded; no approval until settled")
                    except WarmGridError as exc:
                        ui.error(exc)
        open_objections = objections[objections["status"] == "open"] if len(objections) else objections
        if ("settle" in steps or "uphold" in steps) and len(open_objections):
            with st.form(f"settle_{app_id}"):
                st.markdown("**核实异议** · Settle an objection")
                oid = st.selectbox("异议 Objection", list(open_objections["objection_id"]), key=f"oid_{app_id}")
                outcome = st.radio("核实结果 Finding", ["dismissed", "upheld"], horizontal=True, key=f"outcome_{app_id}",
                                   format_func=lambda o: "不成立（继续公示）" if o == "dismissed" else "成立（驳回申请）")
                found = st.text_area("核实情况 What was found", key=f"found_{app_id}")
                if st.form_submit_button("提交核实结果 Settle", type="primary"):
                    try:
                        A.settle(store, actor, oid, upheld=outcome == "upheld", note=found)
                        _finish(f"异议 {oid} 已核实：{'成立，申请已驳回' if outcome == 'upheld' else '不成立'}",
                                f"objection {oid} {outcome}")
                    except WarmGridError as exc:
                        ui.error(exc)
        if "reject" in steps:
            with st.form(f"reject_{app_id}"):
                st.markdown("**驳回** · Reject, with a reason")
                why = st.text_area("驳回原因（必填）Reason (required)", key=f"why_{app_id}")
                if st.form_submit_button(BUTTONS_REJECT):
                    try:
                        A.reject(store, actor, app_id, reason=why)
                        _finish(f"{app_id} 已驳回", f"{app_id} rejected")
                    except WarmGridError as exc:
                        ui.error(exc)

# --------------------------------------------------------------------------- apply
if tab_apply.open:
    with tab_apply:
        if not access.allowed(actor, "apply_assistance"):
            st.info("您的角色不能提交申请 · Your role does not apply for households.")
            st.stop()
        if programmes.empty:
            st.info("尚未设定救助项目 · No programme is defined yet.")
            st.stop()
        if "app_form_key" not in st.session_state:
            st.session_state["app_form_key"] = A.new_form_key()
        code = st.selectbox("救助项目 Programme", list(prog_names), format_func=prog_names.__getitem__, key="ap_prog")
        info = programmes.set_index("code").loc[code]
        std = info["standard_yuan"]
        targets = list(info["target_categories"])
        st.caption(ui.md("标准 {} · 对象 {} · {}", "不限" if pd.isna(std) else f"{float(std):,.2f} 元",
                         "、".join(model.label(c) for c in targets) or "所有住户",
                         "须经申请审批" if bool(info["needs_approval"]) else "无须审批"))
        homes = A.applicant_households(store, actor, code)
        if homes.empty:
            st.info("您的范围内没有符合此项目条件的住户 · No eligible household in your scope.")
            st.stop()
        names = {r.hh_id: f"{r.hh_id} · {r.head_name or ''} · {r.address}" for r in homes.itertuples(index=False)}
        campaigns = list_campaigns(store)
        camp_names = dict(zip(campaigns["campaign_id"], campaigns["name"], strict=True))
        with st.form("apply_form"):
            who = st.selectbox("住户 Household", list(names), format_func=names.__getitem__, key="ap_hh")
            camp = st.selectbox("活动 Campaign", ["", *camp_names], key="ap_camp",
                                format_func=lambda c: "不属于活动（常年救助）" if not c else camp_names[c])
            money = st.number_input("申请金额（元）Amount (yuan)", min_value=0.0, step=100.0, key="ap_amount",
                                    value=0.0 if pd.isna(std) else float(std))
            items = st.text_input("物资（如有）Goods, if any", key="ap_items")
            why = st.text_area("申请理由 Reason", key="ap_reason")
            sent = st.form_submit_button("提交申请 Apply", type="primary")
        if sent:
            try:
                made = A.apply(store, actor, hh_id=who, programme=code, amount_yuan=money, reason=why,
                               campaign_id=camp or None, items=items or None,
                               idempotency_key=st.session_state["app_form_key"])
                st.session_state["app_form_key"] = A.new_form_key()
                _finish(f"已提交申请 {made}，待社区初审", f"application {made} made; the community checks it next")
            except WarmGridError as exc:
                ui.error(exc)

# --------------------------------------------------------------------------- the notice list
if may_notice_list and opened[2].open:
    with opened[2]:
        on_notice = A.list_applications(store, actor, status="on_notice")
        on_notice = on_notice[on_notice["programme"].isin(list(prog_names))]
        if on_notice.empty:
            st.info("目前没有公示中的申请 · No application is on notice.")
            st.stop()
        pairs = on_notice[["community_code", "community_name", "programme"]].drop_duplicates()
        comm_names = dict(zip(pairs["community_code"], pairs["community_name"], strict=True))
        c1, c2 = st.columns(2)
        comm = c1.selectbox("社区 Community", sorted(comm_names), format_func=lambda c: f"{comm_names[c]}（{c}）",
                            key="nl_comm")
        progs = sorted(set(pairs.loc[pairs["community_code"] == comm, "programme"]))
        prog_code = c2.selectbox("项目 Programme", progs, format_func=lambda p: prog_names.get(p, p), key="nl_prog")
        line = st.text_input("异议受理方式（留空则用公示时填写的）Where to object (blank: as posted)", key="nl_contact")
        try:
            sheet = notice_list(store, actor.scope, comm, prog_code, contact=line or None)
        except WarmGridError as exc:
            ui.show_error(exc)
            raise  # unreachable
        st.subheader(ui.md("{}", sheet.title))
        st.markdown(ui.esc(sheet.intro))
        st.dataframe(sheet.rows.rename(columns={
            "no": "序号", "app_id": "申请编号", "name": "户主姓名", "community": "所在社区", "categories": "困难类别",
            "programme": "救助项目", "amount_yuan": "救助金额（元）", "period": "公示期"}), hide_index=True, width="stretch")
        st.markdown(ui.md("合计 {} 户，{} 元 · 监督方式：{}", len(sheet.rows), f"{sheet.total_yuan:,.2f}", sheet.contact))
        stamp = f"{datetime.now():%Y%m%d}"
        d1, d2 = st.columns(2)
        d1.download_button("下载公示名单 PDF（A4）", lambda: notice_bytes(store, actor, comm, prog_code, ".pdf",
                                                                  contact=line or None),
                           file_name=f"公示名单_{comm}_{prog_code}_{stamp}.pdf", mime="application/pdf",
                           on_click="ignore", key="nl_pdf")
        d2.download_button("下载公示名单 Excel", lambda: notice_bytes(store, actor, comm, prog_code, ".xlsx",
                                                                contact=line or None),
                           file_name=f"公示名单_{comm}_{prog_code}_{stamp}.xlsx", on_click="ignore", key="nl_xlsx")
