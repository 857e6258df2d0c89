"""诉求办理 — the needs a unit holds: a community worker's for their community, a street committee's for
its street and for the departments (which hold no accounts: the committee records their steps), an
administrator's for every unit. Start, note and photograph, resolve (办结) or answer (答复), or return
(退回) with a reason; the last step is confirmed after the rerun and can be undone for a few minutes.
Composition only: grid.needs."""

from __future__ import annotations

import streamlit as st

import ui
from grid.needs import list_needs, unit_names
from ui_needs import confirmation, details, handle, now, table

store = ui.get_store()
actor = ui.require_page("needs_work")
st.title("诉求办理 · Needs to handle")
if not actor.scope:
    st.info("您没有负责的范围 · You have no area in your scope.")
    st.stop()

at = now()
confirmation(store, actor)
mine = list_needs(store, actor, statuses=("assigned", "in_progress"), held=True, as_of=at)
mine = mine.sort_values(["overdue", "due_at", "need_id"], ascending=[False, True, True], kind="stable")
names = unit_names(store)
c = st.columns(3)
c[0].metric("待开始 To start", f"{int((mine['status'] == 'assigned').sum()):,}")
c[1].metric("处置中 In progress", f"{int((mine['status'] == 'in_progress').sum()):,}")
c[2].metric("超期 Overdue", f"{int(mine['overdue'].sum()):,}")
if mine.empty:
    st.info("没有待办理的诉求 · Nothing to handle")
    st.stop()
st.dataframe(table(mine, names, ["need_id", "category", "status", "address", "head_name", "unit_code", "raised_at",
                                 "due_at", "days_overdue"]), hide_index=True, width="stretch", height=300)
labels = {r.need_id: f"{r.need_id} · {'超期 · ' if r.overdue else ''}{r.address}" for r in mine.itertuples(index=False)}
pick = st.selectbox("选择诉求 Need", list(labels), format_func=lambda n: labels[n], key="unit_need")
row = mine.loc[mine["need_id"] == pick].iloc[0]
with st.container(border=True):
    details(store, actor, row, names)
    handle(store, actor, str(pick), prefix="unit")
