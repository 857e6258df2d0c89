"""The demo district's needs history (民情日记): every need raised in a visit travels the flow of
:mod:`grid.needs` — assigned, handled, resolved or answered, followed up — with the times and
the people a real year would have, and its ``need_events`` rows.

The rules (all draws from the generator given, so the same seed gives the same history):

- The street committee assigns a need 0.2 days plus an exponential 0.8 days after it is
  raised; one raised in the last hours before the demo's "today" is still waiting (待分拨).
- The unit follows the category (:data:`UNIT_MIX`): living costs mostly to the community,
  housing to the housing department or the property company, employment to the human-resources
  department, care to the warden or the community, disputes to the community, the judicial
  office or the police, and so on; a cell without a warden gives its share to the community.
- The due date is the category's default time limit in working days
  (:data:`grid.model.NEED_TIME_LIMITS`, :func:`grid.needs.due_at_for`).
- 7 % are returned by their unit within days, with a reason, and reassigned a day or so later to
  the community (or, when the community returned it, to the street); some are still waiting.
- The unit starts within half a day or so; 30 % get a progress note.
- 13.5 % are never settled (still open, and overdue once their due date passes: those are
  escalated); the others take half an hour plus an exponential time with a mean of 45 % of
  their time limit, so about one in nine is late. 80 % are resolved, 20 % answered.
- Three needs raised 3 to 30 days before "today" are planted so that even a small district
  has every state: the youngest was returned and waits to be reassigned, the next is assigned
  and not started, the next was answered and not yet followed up; and the youngest of all the
  other needs still waits to be assigned.
- A need past its due date and not yet settled is escalated at 08:30 the next morning
  (the daily ``python -m grid needs escalate``), by ``cli:cron``.
- The warden follows up 1 + an exponential 4 days after a settlement (a cell without a warden
  has nobody to: those stay resolved or answered); 92 % are closed, with
  satisfaction 满意 / 基本满意 / 不满意 at 78 / 17 / 5 % when on time, 55 / 30 / 15 % when late.

Who acts (``by_user``): the demo accounts where the need is theirs (``warden``, ``community``,
``committee``), otherwise a username made of the unit's code (``warden_W00012``,
``community_350203001002``, ``committee_350203002000``).

Examples
--------
>>> UNIT_MIX["employment"]
(('dept_hrss', 0.7), ('community', 0.3))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from grid import model

__all__ = ["UNIT_MIX", "Households", "need_flow"]

#: The units a category goes to, with their shares: a department code, or ``cell`` (the warden),
#: ``community`` or ``street`` (the household's).
UNIT_MIX: dict[str, tuple[tuple[str, float], ...]] = {
    "living": (("community", 0.7), ("cell", 0.2), ("street", 0.1)),
    "medical": (("dept_health", 0.5), ("community", 0.4), ("cell", 0.1)),
    "housing": (("dept_housing", 0.5), ("dept_property", 0.3), ("community", 0.2)),
    "employment": (("dept_hrss", 0.7), ("community", 0.3)),
    "education": (("community", 0.8), ("street", 0.2)),
    "care": (("cell", 0.5), ("community", 0.5)),
    "dispute": (("community", 0.5), ("dept_justice", 0.3), ("dept_police", 0.2)),
    "environment": (("dept_city", 0.5), ("dept_property", 0.3), ("cell", 0.2)),
    "other": (("community", 0.6), ("street", 0.2), ("cell", 0.2)),
}
_RETURN_REASONS = ["不属于本单位职责范围，请改派", "诉求内容不清，需网格员补充核实", "涉及多个部门，请街道协调"]
_NOTES = ["已电话联系住户，正在协调", "已上门查看，待相关单位处理", "已协调物业，约定本周处理"]
_RESOLVED = ["已协调解决，住户认可", "已上门办理完毕", "已落实救助，款物已送达"]
_ANSWERED = ["已向住户解释相关政策，暂不符合条件", "已答复：需住户本人到窗口办理", "已说明情况，列入下步计划"]


@dataclass(frozen=True)
class Households:
    """Where the need households are: their cell (``None`` outside every cell), community and street,
    the cell's warden, and the demo accounts' units."""

    cell: np.ndarray
    community: np.ndarray
    street: np.ndarray
    warden: np.ndarray
    demo_warden: str | None
    demo_community: str
    demo_street: str


def _mins(days: np.ndarray) -> np.ndarray:
    return (np.asarray(days, dtype=float) * 24 * 60).astype("timedelta64[m]")


def _due(assigned: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """The last second of the due day: ``limits`` working days after the assignment day."""
    day = assigned.astype("datetime64[D]")
    due_day = np.busday_offset(day, limits.astype(np.int64), roll="backward")
    return due_day.astype("datetime64[s]") + np.timedelta64(86399, "s")


def _pick(rng: np.random.Generator, categories: np.ndarray) -> np.ndarray:
    out = np.empty(len(categories), dtype=object)
    u = rng.random(len(categories))
    for cat, mix in UNIT_MIX.items():
        idx = np.flatnonzero(categories == cat)
        edges = np.cumsum([p for _, p in mix])
        kinds = np.array([k for k, _ in mix], dtype=object)
        out[idx] = kinds[np.minimum(np.searchsorted(edges, u[idx], side="right"), len(kinds) - 1)]
    return out


def need_flow(rng: np.random.Generator, needs: pd.DataFrame, where: Households,
              as_of: datetime, stalled: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The needs (every column of the ``needs`` table) and their events, in time order.

    ``needs`` holds ``need_id, hh_id, visit_id, raised_at, category, description``;
    ``where`` is aligned with it. Events are ``need_id, at, by_user, from_status, to_status,
    note, step, unit_code`` (no ids: the database numbers them in this order). ``stalled``
    (boolean, aligned with ``needs``) marks needs that are never settled whatever the draws
    (:mod:`grid.demo_plants`' overdue cluster); the three state plants below still win.
    """
    n = len(needs)
    now = np.datetime64(as_of, "s")
    t0 = needs["raised_at"].to_numpy().astype("datetime64[s]")
    cat = needs["category"].to_numpy(dtype=object)
    limits = np.array([model.NEED_TIME_LIMITS[c] for c in cat], dtype=np.int64)
    has_warden = np.array([w is not None for w in where.warden], dtype=bool)

    def unit_of(kind: np.ndarray) -> np.ndarray:
        kind = np.where((kind == "cell") & ~has_warden, "community", kind)
        return np.select([kind == "cell", kind == "community", kind == "street"],
                         [where.cell, where.community, where.street], default=kind).astype(object)

    warden_user = np.array([("warden" if w == where.demo_warden else f"warden_{w}") if w is not None else None
                            for w in where.warden], dtype=object)
    comm_user = np.where(where.community == where.demo_community, "community",
                         np.char.add("community_", where.community.astype(str))).astype(object)
    street_user = np.where(where.street == where.demo_street, "committee",
                           np.char.add("committee_", where.street.astype(str))).astype(object)

    def handler(unit: np.ndarray) -> np.ndarray:
        return np.select([unit == where.cell, unit == where.community], [warden_user, comm_user],
                         default=street_user).astype(object)

    raiser = np.where(has_warden, warden_user, comm_user).astype(object)

    # Every draw first, then the plants, then what follows from them.
    d_assign = 0.2 + rng.exponential(0.8, n)
    kind1 = _pick(rng, cat)
    returns = rng.random(n) < 0.07
    d_return = 0.3 + rng.exponential(1.5, n)
    d_reassign = 0.2 + rng.exponential(1.0, n)
    d_start = 0.05 + rng.exponential(0.5, n)
    u_settle = rng.exponential(0.45, n)
    never = rng.random(n) < 0.135
    answered = rng.random(n) < 0.2
    noted = rng.random(n) < 0.3
    d_close = 1.0 + rng.exponential(4.0, n)
    follows = rng.random(n) < 0.92
    u = rng.random(n)
    if stalled is not None:
        never |= np.asarray(stalled, dtype=bool)
    # Plants, so that even a small district shows every state: among the needs raised 3 to 30 days before
    # "today", the latest is returned and waits to be reassigned, the next assigned and not started, the next
    # answered and not yet followed up.
    age = (now - t0).astype("timedelta64[m]").astype(float) / 1440.0
    recent = np.flatnonzero((age >= 3) & (age <= 30))
    recent = recent[np.argsort(-age[recent], kind="stable")][::-1]  # youngest first
    if len(recent) >= 3:
        a, b, c = recent[:3]
        d_assign[[a, b, c]] = 0.3
        returns[a], d_return[a], d_reassign[a] = True, 0.5, age[a] + 1.0
        returns[b], d_start[b] = False, age[b] + 1.0
        returns[c], never[c], answered[c], d_start[c], u_settle[c] = False, False, True, 0.1, 0.0
        d_close[c] = age[c] + 1.0
    # ... and the youngest of the other needs still waits to be assigned (待分拨).
    others = np.setdiff1d(np.arange(n), recent[:3]) if len(recent) >= 3 else np.arange(n)
    if len(others):
        y = others[np.argmin(age[others])]
        d_assign[y] = max(float(age[y]), 0.0) + 1.0
    # Assignment.
    t_assign = t0 + _mins(d_assign)
    assigned = t_assign <= now
    unit1 = unit_of(kind1)
    # Returned, and reassigned.
    t_return = t_assign + _mins(d_return)
    returned = assigned & returns & (t_return <= now)
    t_reassign = t_return + _mins(d_reassign)
    reassigned = returned & (t_reassign <= now)
    unit2 = np.where(unit1 == where.community, where.street, where.community).astype(object)
    t_cur = np.where(reassigned, t_reassign, t_assign)
    unit = np.where(reassigned, unit2, unit1).astype(object)
    due = _due(t_cur, limits)
    working = assigned & (~returned | reassigned)
    # Handling.
    t_start = t_cur + _mins(d_start)
    started = working & (t_start <= now)
    span_days = (due - t_cur).astype("timedelta64[m]").astype(float) / 1440.0
    t_settle = t_start + _mins(u_settle * np.maximum(span_days, 1.0)) + np.timedelta64(30, "m")
    settled = started & ~never & (t_settle <= now)
    noted &= started
    t_note = t_start + (np.where(settled, t_settle, np.maximum(now, t_start)) - t_start) * 0.4
    # Escalation: at 08:30 after the due day, if still unsettled then.
    t_escalate = due.astype("datetime64[D]").astype("datetime64[m]") + np.timedelta64(24 * 60 + 8 * 60 + 30, "m")
    escalated = working & (t_escalate <= now) & (~settled | (t_settle > t_escalate))
    late = settled & (t_settle > due)
    # Follow-up.
    t_close = t_settle + _mins(d_close)
    closed = settled & (t_close <= now) & follows & has_warden  # the warden follows up
    sat = np.where(late, np.where(u < 0.55, "satisfied", np.where(u < 0.85, "basically_satisfied", "dissatisfied")),
                   np.where(u < 0.78, "satisfied", np.where(u < 0.95, "basically_satisfied", "dissatisfied")))

    status = np.select(
        [~assigned, returned & ~reassigned, ~started, ~settled, closed, answered],
        ["raised", "returned", "assigned", "in_progress", "closed", "answered"], default="resolved").astype(object)
    settled_status = np.where(answered, "answered", "resolved").astype(object)
    holds = working
    out = needs.copy()
    out["status"] = status
    out["unit_code"] = pd.Series(unit, dtype=object).where(holds, None)
    out["assigned_at"] = pd.Series(np.where(holds, t_cur, np.datetime64("NaT"))).astype("datetime64[us]")
    out["due_at"] = pd.Series(np.where(holds, due, np.datetime64("NaT"))).astype("datetime64[us]")
    out["resolved_at"] = pd.Series(np.where(settled, t_settle, np.datetime64("NaT"))).astype("datetime64[us]")
    out["satisfaction"] = pd.Series(sat, dtype=object).where(closed, None)
    out["closed_at"] = pd.Series(np.where(closed, t_close, np.datetime64("NaT"))).astype("datetime64[us]")
    out["escalated_at"] = pd.Series(np.where(escalated, t_escalate, np.datetime64("NaT"))).astype("datetime64[us]")

    ids = needs["need_id"].to_numpy(dtype=object)
    frames = []

    def add(mask: np.ndarray, order: int, at: np.ndarray, by: np.ndarray | str, src: np.ndarray | str | None,
            dst: np.ndarray | str, step: str, note: np.ndarray | str | None, unit_after: np.ndarray | None) -> None:
        idx = np.flatnonzero(mask)

        def col(v: np.ndarray | str | None) -> np.ndarray:
            if isinstance(v, np.ndarray):
                return v[idx]
            return np.full(len(idx), v, dtype=object)

        frames.append(pd.DataFrame({
            "need_id": ids[idx], "at": at[idx].astype("datetime64[us]"), "by_user": col(by), "from_status": col(src),
            "to_status": col(dst), "note": col(note), "step": step,
            "unit_code": col(unit_after) if unit_after is not None else None, "_order": order, "_i": idx}))

    choice = np.arange(n)
    reason = np.array(_RETURN_REASONS, dtype=object)[choice % len(_RETURN_REASONS)]
    add(np.ones(n, dtype=bool), 0, t0, raiser, None, "raised", "raise", None, None)
    add(assigned, 1, t_assign, street_user, "raised", "assigned", "assign", None, unit1)
    add(returned, 2, t_return, handler(unit1), "assigned", "returned", "return", reason, None)
    add(reassigned, 3, t_reassign, street_user, "returned", "assigned", "reassign", None, unit2)
    add(started, 4, t_start, handler(unit), "assigned", "in_progress", "start", None, unit)
    note_text = np.array(_NOTES, dtype=object)[choice % len(_NOTES)]
    add(noted & (t_note <= now), 5, t_note, handler(unit), "in_progress", "in_progress", "note", note_text, unit)
    esc_from = np.where(started & (t_start <= t_escalate), "in_progress", "assigned").astype(object)
    esc_note = np.array([f"超过办理期限 {pd.Timestamp(d):%Y-%m-%d} 未办结，升级至街道" for d in due[escalated]],
                        dtype=object)
    esc_all = np.full(n, None, dtype=object)
    esc_all[escalated] = esc_note
    add(escalated, 6, t_escalate, "cli:cron", esc_from, esc_from, "escalate", esc_all, unit)
    settle_note = np.where(answered, np.array(_ANSWERED, dtype=object)[choice % len(_ANSWERED)],
                           np.array(_RESOLVED, dtype=object)[choice % len(_RESOLVED)]).astype(object)
    add(settled, 7, t_settle, handler(unit), "in_progress", settled_status, "resolve", settle_note, unit)
    sat_label = np.array([model.SATISFACTION[s].zh for s in sat], dtype=object)
    add(closed, 8, t_close, warden_user, settled_status, "closed", "close", sat_label, unit)
    events = pd.concat(frames, ignore_index=True)
    # The settlement's step follows its outcome.
    is_settle = events["_order"].to_numpy() == 7
    events.loc[is_settle & (events["to_status"] == "answered").to_numpy(), "step"] = "answer"
    events = events.sort_values(["at", "_i", "_order"], kind="stable").drop(columns=["_order", "_i"])
    return out, events.reset_index(drop=True)
