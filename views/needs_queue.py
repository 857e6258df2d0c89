"""诉求分拨 — the street committee's queue of needs (事件流转): overdue and escalated needs first,
then those to assign (待分拨), those returned (退回) to reassign, and those in hand (处置中); assign
one to a unit with a due date; a map of the open and overdue needs; the headline figures for a
period, per unit, category and cell.

Overdue needs are escalated when the page runs (:func:`grid.needs.escalate_overdue`: idempotent,
it writes only when a need has newly passed its due date). Composition only: grid.needs,
grid.needs_report, maps.needs."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

import ui
from grid import access, model
from grid.coverage import load_cells
from grid.errors import WarmGridError
from grid.export import download
from grid.needs import (
    QUEUE_BUCKETS,
    assign,
    due_at_for,
    escalate_overdue,
    get_need,
    queue,
    reassign,
    time_limits,
    unit_label,
    unit_names,
    unit_options,
)
from grid.needs_report import FIGURE_LABELS, FIGURES, as_of_for, figures_by, headline, load_frame
from maps.needs import needs_map
from ui_needs import confirmation, details, now, remember, table

store = ui.get_store()
actor = ui.require_page("needs_queue")
st.title("诉求分拨 · Needs queue")
if not actor.scope:
    st.info("您没有可管理的范围 · You have no area in your scope.")
    st.stop()

at = now()
try:
    newly = escalate_overdue(store, actor, at)
except WarmGridError as exc:
    ui.error(exc)
    newly = []
if newly:
    st.toast(f"{len(newly)} 条诉求超过办理期限，已升级至街道 · escalated")
confirmation(store, actor)

q = queue(store, actor, as_of=at)
names = unit_names(store)
counts = q["bucket"].value_counts()
c = st.columns(4)
for col, (bucket, (zh, en)) in zip(c, QUEUE_BUCKETS.items(), strict=True):
    col.metric(ui.md("{} {}", zh, en), f"{int(counts.get(bucket, 0)):,}")

cells = access.filter_households(load_cells(store), actor.scope)
cell_names = dict(zip(cells["cell_id"], cells["name"], strict=True))
basemap, key = ui.basemap_setting()
st_folium(needs_map(cells, q, units=names, basemap=basemap, tianditu_key=key), height=420,
          use_container_width=True, returned_objects=[], key="needs_map")

tab_queue, tab_figures = st.tabs(["待办 Queue", "统计 Figures"], key="needs_queue_tab", on_change="rerun")
if tab_queue.open:
    with tab_queue:
        if q.empty:
            st.info("没有未办结的诉求 · No open needs")
        else:
            shown = table(q, names, ["bucket", "need_id", "category", "status", "address", "head_name", "raised_at",
                                     "unit_code", "due_at", "days_overdue", "escalated_at"])
            st.dataframe(shown.head(500), hide_index=True, width="stretch", height=300)
            labels = {r.need_id: f"{r.need_id} · {QUEUE_BUCKETS[r.bucket][0]} · {model.label(r.category)}"
                      for r in q.itertuples(index=False)}
            pick = st.selectbox("选择诉求 Need", list(labels), format_func=lambda n: labels[n], key="queue_need")
            row = q.loc[q["need_id"] == pick].iloc[0]
            details(store, actor, row, names)
            if row["status"] in ("raised", "returned", "assigned", "in_progress"):
                try:
                    need = get_need(store, actor, str(pick))
                except WarmGridError as exc:
                    ui.show_error(exc)
                    raise  # unreachable: show_error stops the page
                options = dict(unit_options(store, need))
                limit = time_limits(store)[need.category]
                default_due = due_at_for(at, limit).date()
                step = "assign" if need.status == "raised" else "reassign"
                with st.form("assign_form"):
                    unit = st.selectbox("办理单位 Unit", list(options), format_func=lambda u: options[u],
                                        key="assign_unit")
                    due = st.date_input(ui.md("办理期限 Due（默认 {} 个工作日）", limit), value=default_due,
                                        min_value=at.date(), max_value=at.date() + timedelta(days=366))
                    note = st.text_input("分拨说明 Note")
                    if st.form_submit_button("分拨 Assign" if step == "assign" else "改派 Reassign", type="primary"):
                        try:
                            fn = assign if step == "assign" else reassign
                            fn(store, actor, str(pick), str(unit), due, note=note or None, now=at)
                            remember(step, str(pick))
                            st.rerun()
                        except WarmGridError as exc:
                            ui.error(exc)

if tab_figures.open:
    with tab_figures:
        c1, c2 = st.columns(2)
        since = c1.date_input("上报日期起 Raised from", value=date.today() - timedelta(days=365), key="fig_from")
        until = c2.date_input("止 To", value=date.today(), key="fig_to")
        frame = load_frame(store, actor.scope, since, until)
        ref = as_of_for(until, at)
        h = headline(frame, ref)
        m = st.columns(5)
        m[0].metric("受理诉求 Raised", f"{h['raised']:,}")
        m[1].metric("已解决或已答复 Resolved or answered", f"{h['resolved_or_answered']:,}")
        m[2].metric("办结率 Rate", "—" if h["rate"] is None else f"{h['rate']:.1%}")
        m[3].metric("按期办结 On time", f"{h['on_time']:,}")
        m[4].metric("超期未办结 Overdue", f"{h['overdue_open']:,}")
        s = st.columns(3)
        for col, (code, term) in zip(s, model.SATISFACTION.items(), strict=True):
            col.metric(ui.md("{} {}", term.zh, term.en), f"{h[code]:,}")

        def labelled(by: str, what: str) -> pd.DataFrame:
            f = figures_by(frame, ref, by)
            if by == "unit_code":
                f[by] = f[by].map(lambda u: unit_label(u, names))
            elif by == "category":
                f[by] = f[by].map(lambda c: model.label(c) if isinstance(c, str) else "")
            else:
                f[by] = f[by].map(lambda c: f"{cell_names.get(c, c)} {c}" if isinstance(c, str) else "不在网格内")
            for r in ("rate", "on_time_rate"):
                f[r] = f[r].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.1%}")
            return f.rename(columns={by: what, **{k: FIGURE_LABELS[k][0] for k in FIGURES}})

        by_unit = labelled("unit_code", "办理单位")
        st.caption("按办理单位 By unit")
        st.dataframe(by_unit, hide_index=True, width="stretch")
        st.caption("按类别 By category")
        st.dataframe(labelled("category", "类别"), hide_index=True, width="stretch")
        st.caption("按网格 By cell")
        st.dataframe(labelled("cell_id", "网格"), hide_index=True, width="stretch")
        st.download_button("下载按单位统计 CSV · Download", lambda: download(store, actor, "needs_report", by_unit, ".csv",
                                                                      detail=f"{since}_{until}"),
                           file_name=f"诉求办理统计_{since}_{until}.csv", mime="text/csv", on_click="ignore",
                           key="needs_download")
