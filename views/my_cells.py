"""我的网格 — a grid warden's own cells: map, due visits, household card, visit log, needs.

Made for a phone (390 px wide): one column, short tables, the form last. Where the district
has a street network, the map shows how far each household walks to the nearest station of
the chosen type, and the street stretches each nearby station reaches on foot.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import streamlit as st
from streamlit_folium import st_folium

import ui
from grid import access, model
from grid.coverage import household_reach, load_cells, load_patrol_areas, load_stations
from grid.errors import WarmGridError
from grid.household_file import (
    aid_table,
    application_table,
    history_table,
    household_card,
    member_table,
    need_table,
    visit_table,
)
from grid.needs import list_needs, unit_names
from grid.network import DISTANCES, default_distance
from grid.visits import UNDO_VISIT_MINUTES, NeedInput, due_now, log_visit, new_form_key, undo_visit, warden_households
from maps.warden import reach_text, warden_map
from ui_needs import confirmation, details, follow_up, handle, table
from ui_needs import now as needs_now

#: The page's tabs: the due list, a household's card, the visit form, the needs of my households.
TABS = ["待走访 Due", "户卡 Household", "记日志 Log a visit", "诉求 Needs"]
store = ui.get_store()
actor = ui.require_page("my_cells")
st.title("我的网格 · My cells")
if not actor.scope:
    st.info("您还没有负责的网格。请联系管理员设置。 · You have no cells yet; ask an administrator.")
    st.stop()

visit_days = int(st.sidebar.number_input("走访期限（天）Visit within (days)", 7, 365, 30, step=7))
station_type = st.sidebar.selectbox("站点类型 Station type", list(model.STATION_TYPES), key="warden_type",
                                    format_func=lambda t: f"{model.label(t)} · {model.label(t, 'en')}")
network = ui.shared_network(store)
if network is not None:
    distance = st.sidebar.radio("距离 Distance", list(DISTANCES), key="warden_distance", horizontal=True,
                                index=list(DISTANCES).index(default_distance(network)),
                                format_func=lambda d: f"{DISTANCES[d][0]} · {DISTANCES[d][1]}")
else:
    distance = "straight"
shown = warden_households(store, actor, date.today())
shown["label"] = (shown["address"].astype(str) + " · " + shown["head_name"].fillna("").astype(str))
stations = load_stations(store)
# How far each of the warden's households is from the nearest station of the type (every station counts).
if len(shown):
    reach = household_reach(shown, stations, station_type, distance=distance, network=network)
    shown = shown.assign(reach_m=reach["distance_m"].to_numpy(), reach_covered=reach["covered"].to_numpy(),
                         reach_tier=reach["tier"].to_numpy(), reach_status=reach["status"].astype(str).to_numpy())
else:
    shown = shown.assign(reach_m=[], reach_covered=[], reach_tier=[], reach_status=[])
cell_gdf = access.filter_households(load_cells(store), actor.scope)
patrols = load_patrol_areas(store)
patrols = patrols[patrols.intersects(cell_gdf.union_all())] if len(patrols) else patrols
basemap, key = ui.basemap_setting()
m = warden_map(cell_gdf, shown, stations, patrols, visit_days=visit_days, basemap=basemap, tianditu_key=key,
               station_type=station_type, network=network if distance == "walk" else None)
st_folium(m, height=420, use_container_width=True, returned_objects=[], key=f"warden_map:{distance}")

due = due_now(shown, visit_days)  # the count and the due list are the same households
c = st.columns(3)
c[0].metric("住户", f"{len(shown):,}")
c[1].metric("困难户", f"{int(shown['target'].sum()):,}")
c[2].metric("待走访", f"{len(due):,}")
st.caption(ui.md("按{}：{} 户在{}服务范围内，{} 户不在 · by {}: {} of {} households within reach",
                 DISTANCES[distance][0], int(shown["reach_covered"].sum()), model.label(station_type),
                 int((~shown["reach_covered"].astype(bool)).sum()), DISTANCES[distance][1],
                 int(shown["reach_covered"].sum()), len(shown)))

# Lazy tabs: only the open one runs and reaches the phone (the map draws sooner, and opening
# the page views no household card until the card tab is opened).
tab_due, tab_card, tab_log, tab_needs = st.tabs(TABS, key="warden_tab", on_change="rerun")
if tab_due.open:
    with tab_due:
        table = due.head(200).assign(
            类别=lambda d: d["categories"].map(lambda c: "、".join(model.label(x) for x in c)),
            上次走访=lambda d: d["last_visit"].dt.strftime("%Y-%m-%d").fillna("从未"),
            最近站点=lambda d: [reach_text(station_type, distance, float(a), bool(b), int(c), str(e)) for a, b, c, e
                            in zip(d["reach_m"], d["reach_covered"], d["reach_tier"], d["reach_status"], strict=True)],
        )[["hh_id", "label", "类别", "上次走访", "最近站点", "open_needs", "size"]].rename(
            columns={"hh_id": "户编号", "label": "地址·户主", "open_needs": "未办结诉求", "size": "人口"})
        st.dataframe(table, hide_index=True, width="stretch", height=320)

options = shown["hh_id"].tolist()
labels = dict(zip(shown["hh_id"], shown["label"], strict=True))
if tab_card.open:
    with tab_card:
        pick = st.selectbox("选择住户 Household", options, format_func=lambda h: f"{h} · {labels[h]}", key="card_hh")
        if pick:
            # One card (and one audit row, written by household_card) per household opened and data generation.
            held: tuple[tuple[str, int], dict[str, Any]] | None = st.session_state.get("_card")
            if held is None or held[0] != (pick, store.generation):
                try:
                    held = ((pick, store.generation), household_card(store, actor, pick))
                except WarmGridError as exc:
                    ui.show_error(exc)
                    raise  # unreachable: show_error stops the page
                st.session_state["_card"] = held
            card = held[1]
            d = card["details"]
            st.markdown(ui.md("**{}** · {} · {} 人", d["head_name"] or "", d["address"], int(d["size"])))
            st.markdown(ui.md("电话 {} · 身份证 {}", d["phone"] or "—", d["id_number"] or "—"))
            st.markdown(ui.md("类别：{}", "、".join(model.label(x) for x in d["categories"]) or "无"))
            st.caption("家庭成员 Members")
            st.dataframe(member_table(card["members"]), hide_index=True, width="stretch")
            if len(card["history"]):
                st.caption("类别与状态变动 History")
                st.dataframe(history_table(card["history"]), hide_index=True, width="stretch")
            st.caption(f"走访记录 Visits（{len(card['visits']):,}，最近 20 次）")
            st.dataframe(visit_table(card["visits"].head(20)), hide_index=True, width="stretch")
            st.caption("诉求及流转 Needs and their flow")
            st.dataframe(need_table(card["needs"], card["need_events"], unit_names(store)), hide_index=True,
                         width="stretch")
            st.caption("救助申请 Applications")
            st.dataframe(application_table(card["applications"]), hide_index=True, width="stretch")
            st.caption("救助慰问 Assistance received")
            st.dataframe(aid_table(card["assistance"]), hide_index=True, width="stretch")

if tab_log.open:
    with tab_log:
        if "visit_key" not in st.session_state:
            st.session_state["visit_key"] = new_form_key()
        if st.session_state.get("visit_saved"):
            st.success(ui.md("已保存 · Saved: {}", st.session_state["visit_saved"]))
            if st.button(f"撤销这条走访记录 · Undo（{UNDO_VISIT_MINUTES} 分钟内）", key="visit_undo"):
                try:
                    undo_visit(store, actor, str(st.session_state["visit_saved"]))
                    ui.notify(f"已撤销走访记录 · Visit undone: {st.session_state['visit_saved']}")
                    st.session_state["visit_key"] = new_form_key()
                    st.session_state["visit_saved"] = None
                    st.rerun()
                except WarmGridError as exc:
                    ui.error(exc)
            if st.button("记录下一条 · Log another"):
                st.session_state["visit_key"] = new_form_key()
                st.session_state["visit_saved"] = None
                st.rerun()
        else:
            with st.form("visit_form"):
                who = st.selectbox("住户 Household", options, format_func=lambda h: f"{h} · {labels[h]}")
                day = st.date_input("日期 Date", value=date.today(), max_value=date.today())
                at = st.time_input("时间 Time", value=time(9, 0))
                situation = st.text_area("走访情况 What you found", max_chars=1000)
                need_cat = st.selectbox("提出诉求 Need raised", [""] + list(model.NEED_CATEGORIES),
                                        format_func=lambda k: "无 none" if not k else model.label(k))
                need_text = st.text_input("诉求内容 Need (text)")
                sent = st.form_submit_button("保存 Save", type="primary")
            if sent:
                try:
                    vid = log_visit(store, actor, hh_id=who, visited_at=datetime.combine(day, at),
                                    situation=situation, needs=[NeedInput(need_cat, need_text)] if need_cat else [],
                                    idempotency_key=st.session_state["visit_key"])
                    st.session_state["visit_saved"] = vid
                    ui.notify(f"已保存走访记录 · Visit saved: {labels[who]}")
                    st.rerun()
                except WarmGridError as exc:
                    ui.error(exc)

if tab_needs.open:
    with tab_needs:
        # The needs of my households: those my cell holds (start, resolve, answer, return), those resolved or
        # answered to follow up (satisfaction closes them), then the others with their state and due date.
        st.caption("我的住户的诉求 · Needs of my households")
        confirmation(store, actor)
        need_time = needs_now()
        mine = list_needs(store, actor, statuses=(*model.OPEN_NEED_STATUSES, "resolved", "answered"), as_of=need_time)
        if mine.empty:
            st.info("没有未办结或待回访的诉求 · No open needs, none to follow up")
        else:
            is_mine = (mine["unit_kind"] == "cell") & mine["status"].isin(["assigned", "in_progress"])
            follow = mine["status"].isin(["resolved", "answered"])
            mine = mine.assign(_first=(~is_mine).astype(int) + (~is_mine & ~follow).astype(int)).sort_values(
                ["_first", "overdue", "raised_at"], ascending=[True, False, True], kind="stable")
            names = unit_names(store)
            st.dataframe(table(mine.head(200), names, ["status", "category", "hh_id", "due_at", "unit_code"]),
                         hide_index=True, width="stretch", height=240)
            tags = {n: ("待我办理 · " if h else "待回访 · " if f else "")
                    for n, h, f in zip(mine["need_id"], is_mine.loc[mine.index], follow.loc[mine.index], strict=True)}
            choices = {r.need_id: f"{tags[r.need_id]}{model.label(r.category)} · {r.hh_id} · {model.label(r.status)}"
                       for r in mine.head(200).itertuples(index=False)}
            pick = st.selectbox("选择诉求 Need", list(choices), format_func=lambda n: choices[n], key="warden_need")
            row = mine.loc[mine["need_id"] == pick].iloc[0]
            with st.container(border=True):
                details(store, actor, row, names)
                if row["status"] in ("assigned", "in_progress") and row["unit_kind"] == "cell":
                    handle(store, actor, str(pick), prefix="warden")
                elif row["status"] in ("resolved", "answered"):
                    follow_up(store, actor, str(pick), prefix="warden")
