"""我的网格 — a grid warden's own cells: map, due visits, household card, visit log, needs.

Made for a phone (390 px wide) held in one hand: a compact title and counts, the map of the
warden's own cells with one marker per building (its number of households, coloured by its
worst status; tapped, it lists its households below the map), then the tabs. A household opens
by tapping its row, in a building's list or in the due list. Stations, their service areas or
walking reach (where the district has a street network) and patrol areas are on the map on
demand (its layer control). Touch targets are at least 44 px (:func:`ui.phone_css`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

import ui
import ui_map
import ui_warden
from grid import access, model
from grid.buildings import door_address
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
from grid.visits import UNDO_VISIT_MINUTES, NeedInput, log_visit, new_form_key, undo_visit
from maps.warden import reach_text
from ui_needs import confirmation, details, follow_up, handle, table
from ui_needs import now as needs_now

#: The page's tabs: the due list, a household's card, the visit form, the needs of my households
#: (short: the four fit one row of a 390 px phone).
TABS = ["待走访 Due", "户卡 Card", "记日志 Log", "诉求 Needs"]
CARD_TAB = TABS[1]


def _open_card(table_key: str, ids: list[str], building: str | None = None) -> None:
    """A tapped row (of the due list or of a building's list) opens that household's card."""
    state = st.session_state.get(table_key)
    rows = list(state.selection.rows) if state is not None else []
    if rows and 0 <= rows[0] < len(ids):
        st.session_state["card_hh"] = ids[rows[0]]
        st.session_state["warden_tab"] = CARD_TAB
        if building is not None:
            st.session_state["building_opened"] = building


def _clicked_building(buildings: pd.DataFrame, clicked: dict[str, Any] | None) -> pd.Series | None:
    """The building whose marker was tapped (st_folium's ``last_object_clicked``: its position)."""
    if not clicked or clicked.get("lat") is None or buildings.empty:
        return None
    d = (buildings["lat"].round(6) - float(clicked["lat"])) ** 2 + (buildings["lon"].round(6) - float(clicked["lng"])) ** 2
    i = int(d.to_numpy().argmin())
    return buildings.iloc[i] if float(d.iloc[i]) < 1e-10 else None


def _tel(phone: str) -> str | None:
    """A ``tel:`` address for a phone number as stored (digits, a leading +; an extension dropped),
    or None for a masked or empty one."""
    if not phone or "*" in phone:
        return None
    digits = re.sub(r"[^0-9+]", "", phone.split("转")[0])
    return f"tel:{digits}" if len(digits) >= 5 else None


store = ui.get_store()
actor = ui.require_page("my_cells")
ui.phone_css()
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
basemap, key = ui.basemap_setting()
today = date.today()
# Read, reached, grouped and drawn once per data generation for everyone with this scope (ui_warden).
view = ui_warden.warden_view(store, actor, as_of=today, visit_days=visit_days, station_type=station_type,
                             distance=distance)
shown, due, buildings = view.households, view.due, view.buildings
overdue = pd.Series(view.overdue, index=shown.index)
with st.container(horizontal=True, gap="medium"):
    st.metric("住户", f"{len(shown):,}", width="content")
    st.metric("困难户", f"{int(shown['target'].sum()):,}", width="content")
    st.metric("待走访", f"{len(due):,}", width="content")
    st.metric("楼栋", f"{len(buildings):,}", width="content")
payload = ui_warden.warden_map_payload(store, actor, view, as_of=today, visit_days=visit_days,
                                       station_type=station_type, distance=distance, basemap=basemap,
                                       tianditu_key=key)
got = ui_map.draw_map(payload, height=360, key=f"warden_map:{distance}", returned_objects=("last_object_clicked",))
st.caption(ui.md("按{}：{} 户在{}服务范围内，{} 户不在 · 站点、巡逻区域在地图右上角的图层中打开",
                 DISTANCES[distance][0], int(shown["reach_covered"].sum()), model.label(station_type),
                 int((~shown["reach_covered"].astype(bool)).sum())))
picked = _clicked_building(buildings, (got or {}).get("last_object_clicked"))
if picked is not None:
    # Folded once a household of it has been opened, so that the card below comes up the screen.
    done = st.session_state.get("building_opened") == picked["building"]
    with st.expander(ui.md("{} · {} 户，{} 户待走访 · 点一行打开户卡", picked["door"], int(picked["n"]),
                           int(picked["n_due"])), expanded=not done, key=f"building_list_{int(done)}"):
        ids = [str(h) for h in picked["hh_ids"]]
        inside = shown.set_index("hh_id").loc[ids]
        late = overdue.set_axis(shown["hh_id"]).loc[ids]
        state = [("待走访" if bool(o) else "已走访") if bool(t) else "—"
                 for t, o in zip(inside["target"], late, strict=True)]
        rooms = [str(a)[len(str(picked["door"])):].strip() or str(a) for a in inside["address"]]
        listing = pd.DataFrame({"户室": rooms, "户主": inside["head_name"].fillna("").astype(str).to_numpy(),
                                "走访": state,
                                "上次走访": inside["last_visit"].dt.strftime("%Y-%m-%d").fillna("从未").to_numpy()})
        st.dataframe(listing, hide_index=True, width="stretch", height=min(44 * (len(listing) + 1) + 4, 320),
                     row_height=44, on_select=partial(_open_card, "building_rows", ids, str(picked["building"])),
                     selection_mode="single-row", key="building_rows")

# Lazy tabs: only the open one runs and reaches the phone (the map draws sooner, and opening
# the page views no household card until the card tab is opened).
tab_due, tab_card, tab_log, tab_needs = st.tabs(TABS, key="warden_tab", on_change="rerun")
if tab_due.open:
    with tab_due:
        due_rows = due.head(200)
        st.caption(ui.md("待走访 {} 户（最多列 200 户），点一行打开户卡", len(due)))
        wide = st.toggle("显示全部列 · all columns", key="warden_wide")
        due_table = due_rows.assign(
            住户=lambda d: [f"{str(a)[len(door_address(a)):].strip() or a} · {n or ''}"
                          for a, n in zip(d["address"], d["head_name"], strict=True)],
            类别=lambda d: d["categories"].map(lambda c: "、".join(model.label(x) for x in c)),
            上次走访=lambda d: d["last_visit"].dt.strftime("%Y-%m-%d").fillna("从未"),
            最近站点=lambda d: [reach_text(station_type, distance, float(a), bool(b), int(c), str(e)) for a, b, c, e
                            in zip(d["reach_m"], d["reach_covered"], d["reach_tier"], d["reach_status"], strict=True)],
            楼栋=lambda d: d["address"].map(door_address),
        ).rename(columns={"hh_id": "户编号", "open_needs": "未办结诉求", "size": "人口"})
        # Key columns first; on a phone the rest only when asked for.
        key_cols = ["住户", "上次走访", "未办结诉求", "类别"]
        due_table = due_table[key_cols + (["楼栋", "人口", "最近站点", "户编号"] if wide else [])]
        st.dataframe(due_table, hide_index=True, width="stretch", height=360, row_height=44,
                     on_select=partial(_open_card, "due_rows", due_rows["hh_id"].astype(str).tolist()),
                     selection_mode="single-row", key="due_rows",
                     column_config={"住户": st.column_config.TextColumn("住户", width=130),
                                    "上次走访": st.column_config.TextColumn("上次走访", width=92),
                                    "未办结诉求": st.column_config.NumberColumn("未办结", width=58,
                                                                            help="未办结诉求 · open needs")})

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
            # The number to call, only where the warden may see it unmasked (the masked one stays text).
            tel = _tel(str(d["phone"] or "")) if access.allowed(actor, "view_personal", str(d["cell_id"])) else None
            if tel is not None:
                st.link_button(ui.md("拨打 {} · Call", d["phone"]), tel, icon=":material/call:", width="stretch")
                st.markdown(ui.md("身份证 {}", d["id_number"] or "—"))
            else:
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
