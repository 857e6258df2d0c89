"""Streamlit pieces the needs pages share (views/needs_queue.py, views/needs_work.py and the needs
tab of views/my_cells.py), beside ui.py: a need's details and history, the holding unit's steps,
the warden's follow-up, and the confirmation of the last step with its undo button. Composition only: every read and write is grid.needs'."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

import ui
from grid import access, labels, model
from grid.access import Actor
from grid.errors import WarmGridError
from grid.needs import (
    UNDO_MINUTES,
    add_note,
    add_photo,
    answer,
    close,
    get_need,
    history,
    photos,
    resolve,
    return_,
    start,
    undo,
    undoable_event,
    unit_label,
)
from grid.store import Store

#: What each step says when it is done (shown after the rerun).
DONE_TEXT = {"start": "已开始处置", "note": "已记录", "photo": "照片已保存", "resolve": "已办结", "answer": "已答复",
             "return": "已退回", "close": "已回访", "assign": "已分拨", "reassign": "已改派", "undo": "已撤销"}
#: Column labels of need tables (never a raw column name on screen).
COLUMNS = {c: labels.column(c) for c in ("need_id", "hh_id", "address", "category", "status", "raised_at", "due_at",
                                         "days_overdue", "escalated_at", "resolved_at", "satisfaction", "description",
                                         "bucket")} | {"head_name": "户主", "unit_code": "办理单位"}
_EVENT_COLUMNS = {"at": "时间", "step": "步骤", "by_user": "操作人", "from_status": "原状态", "to_status": "新状态",
                  "unit_code": "办理单位", "note": "说明"}


def table(frame: pd.DataFrame, names: dict[str, str], columns: list[str]) -> pd.DataFrame:
    """A need frame for the screen: labels instead of codes, dates as dates, Chinese headers."""
    out = frame[columns].copy()
    for col in ("category", "status", "satisfaction"):
        if col in out:
            out[col] = out[col].map(lambda v: model.label(v) if isinstance(v, str) else "")
    if "unit_code" in out:
        out["unit_code"] = out["unit_code"].map(lambda v: unit_label(v, names))
    if "bucket" in out:
        from grid.needs import QUEUE_BUCKETS

        out["bucket"] = out["bucket"].map(lambda b: QUEUE_BUCKETS[b][0])
    for col in ("raised_at", "resolved_at", "escalated_at"):
        if col in out:
            out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d %H:%M").fillna("")
    if "due_at" in out:
        out["due_at"] = pd.to_datetime(out["due_at"]).dt.strftime("%Y-%m-%d").fillna("")
    return out.rename(columns=COLUMNS)


def remember(step: str, need_id: str) -> None:
    """Keep the confirmation of a step for the next run (it survives the rerun)."""
    st.session_state["need_done"] = {"step": step, "need": need_id}
    ui.notify(f"{DONE_TEXT.get(step, step)} · {need_id}")


def confirmation(store: Store, actor: Actor) -> None:
    """The last step's confirmation, with an undo button while :func:`grid.needs.undo` would take it back."""
    done: dict[str, Any] | None = st.session_state.get("need_done")
    if not done:
        return
    need_id, step = str(done["need"]), str(done["step"])
    box = st.container(border=True)
    box.success(ui.md("{} · {}", DONE_TEXT.get(step, step), need_id))
    c1, c2 = box.columns(2)
    if step != "undo" and undoable_event(store, actor, need_id) is not None:
        if c1.button(f"撤销 Undo（{UNDO_MINUTES} 分钟内）", key="need_undo"):
            try:
                undo(store, actor, need_id)
                remember("undo", need_id)
            except WarmGridError as exc:
                ui.show_error(exc)
            st.rerun()
    if c2.button("知道了 OK", key="need_done_ok"):
        st.session_state["need_done"] = None
        st.rerun()


def details(store: Store, actor: Actor, row: pd.Series, names: dict[str, str]) -> None:
    """A need's description, household, state, unit and due date, its history and (if the actor
    may open the household's card) its photos."""
    st.markdown(ui.md("**{}** · {} · {}", model.label(str(row["category"])), model.label(str(row["status"])),
                      unit_label(row["unit_code"], names)))
    st.markdown(ui.md("{} · {} {}", row["hh_id"], row["address"] or "", row["head_name"] or ""))
    if isinstance(row.get("phone"), str):
        st.markdown(ui.md("电话 {}", row["phone"]))
    due = row["due_at"]
    if due is not None and not pd.isna(due):
        late = f"，已超期 {int(row['days_overdue'])} 天" if bool(row["overdue"]) else ""
        st.caption(ui.md("办理期限 {}{}", f"{pd.Timestamp(due):%Y-%m-%d}", late))
    st.markdown(ui.esc(row["description"] or ""))
    try:
        events = history(store, actor, str(row["need_id"]))
    except WarmGridError as exc:
        ui.error(exc)
        return
    ev = events.assign(
        step=events["step"].map(model.label), from_status=events["from_status"].map(
            lambda v: model.label(v) if isinstance(v, str) else ""),
        to_status=events["to_status"].map(model.label), unit_code=events["unit_code"].map(lambda v: unit_label(v, names)),
        at=pd.to_datetime(events["at"]).dt.strftime("%Y-%m-%d %H:%M"))
    st.caption("办理经过 History")
    st.dataframe(ev[list(_EVENT_COLUMNS)].rename(columns=_EVENT_COLUMNS), hide_index=True, width="stretch")
    if int(row["photos"]) and access.allowed(actor, "view_household", access.cell_resource(row["cell_id"])):
        # One audit row per need opened and data generation (as the household card does).
        held: tuple[tuple[str, int], list[Any]] | None = st.session_state.get("_need_photos")
        if held is None or held[0] != (str(row["need_id"]), store.generation):
            try:
                held = ((str(row["need_id"]), store.generation), photos(store, actor, str(row["need_id"])))
            except WarmGridError as exc:
                ui.error(exc)
                return
            st.session_state["_need_photos"] = held
        for p in held[1]:
            st.image(p.data, caption=f"{p.added_at:%Y-%m-%d %H:%M}", width=320)


def handle(store: Store, actor: Actor, need_id: str, *, prefix: str) -> None:
    """The holding unit's steps on a need it holds: start; a note or a photo; resolve, answer; return."""
    try:
        need = get_need(store, actor, need_id)
    except WarmGridError as exc:
        ui.error(exc)
        return
    if need.status == "assigned":
        if st.button("开始处置 Start", key=f"{prefix}_start", type="primary"):
            _act(lambda: start(store, actor, need_id), "start", need_id)
    if need.status == "in_progress":
        with st.form(f"{prefix}_settle"):
            text = st.text_area("办结情况或答复内容 How it was solved, or the answer", max_chars=2000)
            b1, b2 = st.columns(2)
            done = b1.form_submit_button("办结 Resolved", type="primary")
            answered = b2.form_submit_button("答复 Answered")
        if done:
            _act(lambda: resolve(store, actor, need_id, text), "resolve", need_id)
        if answered:
            _act(lambda: answer(store, actor, need_id, text), "answer", need_id)
        with st.form(f"{prefix}_note", clear_on_submit=True):
            note = st.text_input("处置记录 Progress note")
            upload = st.file_uploader("照片 Photo (JPEG / PNG / WebP)", type=["jpg", "jpeg", "png", "webp"])
            if st.form_submit_button("保存记录 Save"):
                if upload is not None:
                    data = upload.getvalue()
                    _act(lambda: add_photo(store, actor, need_id, data, caption=note or None), "photo", need_id)
                else:
                    _act(lambda: add_note(store, actor, need_id, note), "note", need_id)
    if need.status in ("assigned", "in_progress"):
        with st.form(f"{prefix}_return"):
            reason = st.text_input("退回理由 Reason for returning it")
            if st.form_submit_button("退回 Return"):
                _act(lambda: return_(store, actor, need_id, reason), "return", need_id)


def follow_up(store: Store, actor: Actor, need_id: str, *, prefix: str) -> None:
    """The warden's follow-up of a resolved or answered need: the household's satisfaction closes it."""
    with st.form(f"{prefix}_close"):
        sat = st.radio("回访满意度 Satisfaction", list(model.SATISFACTION), horizontal=True,
                       format_func=lambda c: model.SATISFACTION[c].zh)
        note = st.text_input("回访记录 Follow-up note")
        if st.form_submit_button("回访完成 Close", type="primary"):
            _act(lambda: close(store, actor, need_id, sat, note=note or None), "close", need_id)


def _act(fn: Any, step: str, need_id: str) -> None:
    try:
        fn()
    except WarmGridError as exc:
        ui.error(exc)
        return
    remember(step, need_id)
    st.rerun()


def now() -> datetime:
    """The time the pages act at."""
    return datetime.now()
