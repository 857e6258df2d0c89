"""Needs as a flow (事件流转): a need (诉求) is raised, assigned to the unit that can act on it,
handled, resolved or answered, and closed after the warden's follow-up; every step is one
``need_events`` row and one audit row, written in one transaction.

The flow is one table, :data:`TRANSITIONS`: for each step, the states it may start from,
the state it leads to, the access policy's action it needs (:data:`grid.access.ACTIONS`)
and whether only the unit holding the need may take it (:func:`grid.access.may_hold`)::

    raised --assign--> assigned --start--> in_progress --resolve--> resolved --close--> closed
                          |                  |  \\--answer--> answered --close--> closed
                          \\---return--------+--> returned --reassign--> assigned

A step refused by the table raises :class:`~grid.errors.NeedStepError` naming the need,
its state and the step (in Chinese and English); a step the actor's role may not take
raises :class:`~grid.errors.AccessDenied` (and writes a ``denied`` audit row); a need
outside the actor's scope is refused as if it did not exist.

Units
    ``unit_code`` is the household's cell id (its warden), its community's code (the
    community workers), its street's code (the street committee), or a department of
    :data:`grid.model.DEPARTMENTS` (no accounts: the street committee records its steps).
Due dates
    :func:`assign` gives a need a due date: by default the category's time limit
    (``need_time_limits``, :func:`set_time_limit`; defaults in
    :data:`grid.model.NEED_TIME_LIMITS`) in **working days**, Monday to Friday, counted
    from the day after the assignment (assigned on a Friday or a Saturday with 3 days: due
    the Wednesday). Public holidays and the make-up working days (调休) are not known: the
    State Council announces them each year; :func:`add_working_days` takes a list of
    holidays, the app passes none. ``due_at`` is the last second of the due day.
Escalation (升级)
    Not a state: :func:`escalate_overdue` marks every need assigned or in progress past its
    due date (``escalated_at``, one ``escalate`` event each) and it goes to the top of the
    street committee's queue, keeping its state and unit. A need is escalated once per
    assignment: reassigning it gives it a new due date, and a new escalation if that passes.
Returning (退回)
    The unit gives the need back with a reason; it loses its unit and due date and waits
    in the committee's queue to be reassigned.
Undo (撤销)
    A mistaken tap can be undone by the same user within :data:`UNDO_MINUTES` minutes:
    :func:`undo` takes back the user's last change of state (start, resolve, answer, close)
    if nothing has changed the need's state since, as an ``undo`` event (the history keeps
    both).
Photos
    JPEG, PNG or WebP, known by their magic bytes (the name and the browser's claim are
    not trusted), at most ``WARMGRID_MAX_PHOTO_MB`` (default 5) MiB each and
    :data:`MAX_PHOTOS` per need; shown only to those who may open the household's card.

Examples
--------
>>> add_working_days(date(2026, 11, 13), 3)   # a Friday: Mon, Tue, Wed
datetime.date(2026, 11, 18)
>>> TRANSITIONS["resolve"].sources, TRANSITIONS["resolve"].target
(('in_progress',), 'resolved')
>>> photo_type(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8)), photo_type(b"GIF89a")
('image/png', None)
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from grid import audit, model, validators
from grid.access import Actor, Scope, allowed, cell_resource, ensure, mask_households, may_hold, scope_sql
from grid.errors import AccessDenied, NeedStepError, Problem, ValidationError, WarmGridError
from grid.store import Store

__all__ = [
    "Transition",
    "TRANSITIONS",
    "UNDOABLE",
    "UNDO_MINUTES",
    "MAX_PHOTOS",
    "PHOTO_ENV",
    "QUEUE_BUCKETS",
    "Need",
    "Photo",
    "add_working_days",
    "due_at_for",
    "time_limits",
    "set_time_limit",
    "satisfaction_code",
    "unit_kind",
    "unit_label",
    "unit_names",
    "unit_options",
    "get_need",
    "raise_need",
    "insert_raised",
    "new_need_id",
    "assign",
    "reassign",
    "start",
    "add_note",
    "add_photo",
    "resolve",
    "answer",
    "return_",
    "close",
    "undo",
    "undoable_event",
    "escalate_overdue",
    "may_take",
    "photo_type",
    "max_photo_bytes",
    "photos",
    "history",
    "list_needs",
    "queue",
]

OPEN = model.OPEN_NEED_STATUSES
SETTLED = model.SETTLED_NEED_STATUSES


@dataclass(frozen=True)
class Transition:
    """One step of the flow.

    ``sources`` are the states it may start from; ``target`` the state it leads to
    (``None``: the need keeps its state — a note, a photo, an escalation); ``action`` the
    access policy's action it needs in the household's cell; ``holder``: only the unit
    holding the need may take it (:func:`grid.access.may_hold`).
    """

    step: str
    sources: tuple[str, ...]
    target: str | None
    action: str
    holder: bool = False

    @property
    def zh(self) -> str:
        return model.NEED_STEPS[self.step].zh

    @property
    def en(self) -> str:
        return model.NEED_STEPS[self.step].en


#: The flow: every step a need may take, from which states, to which, by whom.
TRANSITIONS: dict[str, Transition] = {t.step: t for t in (
    Transition("assign", ("raised",), "assigned", "assign_need"),
    Transition("reassign", ("returned", "assigned", "in_progress"), "assigned", "assign_need"),
    Transition("start", ("assigned",), "in_progress", "handle_need", holder=True),
    Transition("note", OPEN, None, "handle_need"),
    Transition("photo", OPEN, None, "handle_need"),
    Transition("resolve", ("in_progress",), "resolved", "handle_need", holder=True),
    Transition("answer", ("in_progress",), "answered", "handle_need", holder=True),
    Transition("return", ("assigned", "in_progress"), "returned", "handle_need", holder=True),
    Transition("close", ("resolved", "answered"), "closed", "close_need"),
    Transition("escalate", ("assigned", "in_progress"), None, "assign_need"),
)}
#: Steps a user may take back (:func:`undo`) within :data:`UNDO_MINUTES`.
UNDOABLE: frozenset[str] = frozenset({"start", "resolve", "answer", "close"})
#: How long a step can be undone by whoever took it, in minutes.
UNDO_MINUTES = 5
#: Photos a need may hold at most.
MAX_PHOTOS = 9
#: The setting of the largest photo, in MiB (default 5).
PHOTO_ENV = "WARMGRID_MAX_PHOTO_MB"
#: The committee's queue, in the order it is worked: bucket -> (Chinese, English).
QUEUE_BUCKETS: dict[str, tuple[str, str]] = {
    "overdue": ("超期", "overdue"),
    "raised": ("待分拨", "to assign"),
    "returned": ("已退回", "returned"),
    "in_hand": ("处置中", "in hand"),
}

_END_OF_DAY = time(23, 59, 59)


# --------------------------------------------------------------------------- calendar
def add_working_days(day: date, n: int, holidays: Sequence[date] = ()) -> date:
    """The ``n``-th working day (Monday to Friday, not in ``holidays``) after ``day``.

    ``day`` itself never counts, whatever day it is.

    Examples
    --------
    >>> add_working_days(date(2026, 11, 16), 3)   # Monday -> Thursday
    datetime.date(2026, 11, 19)
    >>> add_working_days(date(2026, 11, 14), 1)   # Saturday -> Monday
    datetime.date(2026, 11, 16)
    >>> add_working_days(date(2026, 11, 16), 1, holidays=[date(2026, 11, 17)])
    datetime.date(2026, 11, 18)
    """
    if n < 0:
        raise ValueError("n must not be negative")
    if n == 0:
        return day
    # Rolled back to the last working day on or before ``day``, then n working days on: the first
    # counted day is always the first working day after ``day``.
    got = np.busday_offset(np.datetime64(day, "D"), n, roll="backward",
                           holidays=[np.datetime64(h, "D") for h in holidays])
    return pd.Timestamp(got).date()


def due_at_for(assigned: datetime, working_days: int, holidays: Sequence[date] = ()) -> datetime:
    """The due time of a need assigned at ``assigned`` with a limit of ``working_days``: the last
    second of the due day.

    >>> due_at_for(datetime(2026, 11, 13, 16, 30), 3)
    datetime.datetime(2026, 11, 18, 23, 59, 59)
    """
    return datetime.combine(add_working_days(assigned.date(), working_days, holidays), _END_OF_DAY)


def time_limits(store: Store) -> dict[str, int]:
    """Each category's time limit in working days (the stored settings; the defaults where none)."""
    got = dict(store.query("SELECT category, working_days FROM need_time_limits").itertuples(index=False))
    return {c: int(got.get(c, d)) for c, d in model.NEED_TIME_LIMITS.items()}


def set_time_limit(store: Store, actor: Actor, category: str, working_days: int) -> None:
    """Set a category's time limit (working days, 1–250), with its audit row.

    The actor must be allowed to ``set_need_limits`` (an administrator).
    """
    ensure(actor, "set_need_limits", log=store)
    if category not in model.NEED_CATEGORIES:
        raise WarmGridError(f"未知的诉求类别：{category}", f"unknown need category: {category}")
    if not isinstance(working_days, int) or not 1 <= working_days <= 250:
        raise WarmGridError(f"办理时限须为 1–250 个工作日：{working_days}",
                            f"a time limit is 1–250 working days: {working_days}")
    with store.transaction() as cur:
        cur.execute("INSERT OR REPLACE INTO need_time_limits (category, working_days, updated_at, updated_by)"
                    " VALUES (?, ?, current_timestamp, ?)", [category, working_days, actor.name])
        audit.record(cur, actor, "update", object=f"need_time_limits:{category}={working_days}", row_count=1)


def satisfaction_code(text: str) -> str:
    """The code of a satisfaction given as a code, or its Chinese or English label.

    >>> satisfaction_code("基本满意"), satisfaction_code("dissatisfied")
    ('basically_satisfied', 'dissatisfied')
    """
    key = str(text).strip()
    for code, term in model.SATISFACTION.items():
        if key in (code, term.zh, term.en):
            return code
    raise WarmGridError(f"满意度须为 {' / '.join(t.zh for t in model.SATISFACTION.values())}：{text}",
                        f"satisfaction must be one of {', '.join(model.SATISFACTION)}: {text}")


# --------------------------------------------------------------------------- a need and its unit
@dataclass(frozen=True)
class Need:
    """A need as the flow sees it: its state and unit, and where its household is."""

    need_id: str
    hh_id: str
    status: str
    category: str
    unit_code: str | None
    cell_id: str | None
    community_code: str | None
    street_code: str | None
    raised_at: datetime
    assigned_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    escalated_at: datetime | None

    @property
    def unit_kind(self) -> str | None:
        """``cell``, ``community``, ``street``, ``department`` or ``None`` (no unit, or not this household's)."""
        return unit_kind(self.unit_code, cell_id=self.cell_id, community_code=self.community_code,
                         street_code=self.street_code)


def unit_kind(unit_code: str | None, *, cell_id: str | None, community_code: str | None,
              street_code: str | None) -> str | None:
    """What kind of unit ``unit_code`` is for a household in ``cell_id`` (community, street).

    >>> unit_kind("350203001001001", cell_id="350203001001001", community_code="350203001001",
    ...           street_code="350203001000")
    'cell'
    >>> unit_kind("dept_housing", cell_id=None, community_code=None, street_code=None)
    'department'
    """
    if unit_code is None:
        return None
    if unit_code in model.DEPARTMENTS:
        return "department"
    for kind, code in (("cell", cell_id), ("community", community_code), ("street", street_code)):
        if code is not None and unit_code == code:
            return kind
    return None


_NEED_SQL = """
SELECT n.need_id, n.hh_id, n.status, n.category, n.unit_code, h.cell_id, c.community_code,
       a.parent_code AS street_code, n.raised_at, n.assigned_at, n.due_at, n.resolved_at, n.escalated_at
FROM needs n LEFT JOIN households h USING (hh_id) LEFT JOIN cells c ON c.cell_id = h.cell_id
LEFT JOIN admin_units a ON a.code = c.community_code
WHERE n.need_id = ?
"""


def _ts(v: Any) -> datetime | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()


def _need_from(row: Sequence[Any] | None) -> Need | None:
    if row is None:
        return None
    r = list(row)
    return Need(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], r[5], r[6], r[7], _ts(r[8]) or datetime.min,
                _ts(r[9]), _ts(r[10]), _ts(r[11]), _ts(r[12]))


def _in_scope(actor: Actor, cell_id: str | None) -> bool:
    res = cell_resource(cell_id)
    return actor.scope.covers(res) if isinstance(res, Scope) else res in actor.scope


def _not_found(need_id: str) -> WarmGridError:
    return WarmGridError(f"没有这条诉求：{need_id}", f"no such need: {need_id}")


def get_need(store: Store, actor: Actor, need_id: str) -> Need:
    """The need, if its household is in the actor's scope (otherwise: no such need)."""
    need = _need_from(store.cursor().execute(_NEED_SQL, [need_id]).fetchone())
    if need is None or not _in_scope(actor, need.cell_id):
        raise _not_found(need_id)
    return need


def unit_names(store: Store) -> dict[str, str]:
    """A display name for every unit code: admin units, cells (their warden) and departments."""
    names = {code: f"{t.zh}" for code, t in model.DEPARTMENTS.items()}
    for code, name in store.query("SELECT code, name FROM admin_units").itertuples(index=False):
        names[str(code)] = str(name)
    for code, name in store.query("SELECT cell_id, name FROM cells").itertuples(index=False):
        names[str(code)] = f"{name}网格员"
    return names


def unit_label(unit_code: str | None, names: dict[str, str]) -> str:
    """A unit's display name (``未分拨`` for none).

    >>> unit_label(None, {}), unit_label("dept_city", {"dept_city": "城管"}), unit_label("x", {})
    ('未分拨', '城管', 'x')
    """
    if unit_code is None or (isinstance(unit_code, float) and pd.isna(unit_code)):
        return "未分拨"
    return names.get(str(unit_code), str(unit_code))


def unit_options(store: Store, need: Need) -> list[tuple[str, str]]:
    """The units a need may be assigned to: ``(code, label)`` — the household's cell (when it has a
    warden), its community, its street, then the departments (the category's usual one first)."""
    out: list[tuple[str, str]] = []
    if need.cell_id is not None:
        row = store.cursor().execute("SELECT name, warden_id FROM cells WHERE cell_id = ?", [need.cell_id]).fetchone()
        if row is not None and row[1] is not None:
            out.append((need.cell_id, f"网格员 · {row[0]}"))
    for code, word in ((need.community_code, "社区"), (need.street_code, "街道")):
        if code is not None:
            name = store.scalar("SELECT name FROM admin_units WHERE code = ?", [code])
            out.append((code, f"{word} · {name or code}"))
    hint = model.NEED_DEPARTMENT_HINTS.get(need.category)
    depts = sorted(model.DEPARTMENTS, key=lambda d: (d != hint, list(model.DEPARTMENTS).index(d)))
    out += [(d, f"部门 · {model.DEPARTMENTS[d].zh}") for d in depts]
    return out


# --------------------------------------------------------------------------- who may take a step
def may_take(actor: Actor, need: Need, step: str) -> bool:
    """Whether the policy lets ``actor`` take ``step`` on ``need`` (whatever its state):
    the step's action in the household's cell, and, for the holder's steps, a role that
    holds the need's unit."""
    t = TRANSITIONS[step]
    res = cell_resource(need.cell_id)
    if not _in_scope(actor, need.cell_id) or not allowed(actor, t.action, res):
        return False
    return not t.holder or may_hold(actor, need.unit_kind, need.cell_id)


def _refuse_state(need: Need, t: Transition) -> NeedStepError:
    have = model.NEED_STATUSES[need.status]
    can = "、".join(model.NEED_STATUSES[s].zh for s in t.sources)
    can_en = ", ".join(t.sources)
    return NeedStepError(
        need.need_id, need.status, t.step,
        f"诉求 {need.need_id} 当前状态为「{have.zh}」，不能{t.zh}（{t.zh}须在{can}状态下进行）。",
        f"need {need.need_id} is {need.status}: it cannot take the step '{t.step}' "
        f"(only from {can_en}).")


def _refuse_holder(need: Need, t: Transition, names: dict[str, str] | None = None) -> AccessDenied:
    unit = unit_label(need.unit_code, names or {})
    return AccessDenied(
        t.action, need.need_id,
        f"诉求 {need.need_id} 由「{unit}」办理，您不能{t.zh}。",
        f"need {need.need_id} is held by {need.unit_code or 'no unit'}: you may not take the step '{t.step}'.")


def _check_who(store: Store, actor: Actor, need: Need, t: Transition, *, log: bool) -> None:
    """Raise unless the actor may take ``t`` on ``need`` (the state is checked separately)."""
    if not _in_scope(actor, need.cell_id):
        raise _not_found(need.need_id)
    ensure(actor, t.action, cell_resource(need.cell_id), log=store if log else None)


def _check_holder(store: Store, actor: Actor, need: Need, t: Transition, *, log: bool) -> None:
    if t.holder and not may_hold(actor, need.unit_kind, need.cell_id):
        if log and not store.read_only:
            audit.record(store, actor, "denied", object=f"{t.action}:{need.need_id}:{t.step}"[:200])
        raise _refuse_holder(need, t, unit_names(store))


# --------------------------------------------------------------------------- writing a step
def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now()
    return now.astimezone().replace(tzinfo=None) if now.tzinfo is not None else now


def _text(value: str | None, field: str, *, required: bool, multiline: bool = True,
          zh: str = "请填写说明", en: str = "write a note") -> str | None:
    """A note or reason, checked as every text field is (no control characters)."""
    if value is None or not str(value).strip():
        if required:
            raise ValidationError([Problem("诉求", None, field, "", zh, en)])
        return None
    text = str(value).strip().replace("\r\n", "\n")
    check = validators.check_characters(text, multiline=multiline)
    if check.reason is not None:
        raise ValidationError([Problem("诉求", None, field, validators.visible(text[:60]), *check.reason)])
    if len(text) > 2000:
        raise ValidationError([Problem("诉求", None, field, text[:20], "说明不能超过 2000 字",
                                       "a note is at most 2,000 characters")])
    return text


def _event(cur: Any, need_id: str, at: datetime, actor: Actor | str, from_status: str | None, to_status: str,
           step: str, note: str | None, unit_code: str | None) -> int:
    by = actor if isinstance(actor, str) else actor.name
    row = cur.execute('INSERT INTO need_events (need_id, "at", by_user, from_status, to_status, note, step, unit_code)'
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING event_id",
                      [need_id, at, by, from_status, to_status, note, step, unit_code]).fetchone()
    return int(row[0])


def _take(store: Store, actor: Actor, need_id: str, step: str, *, now: datetime | None, note: str | None = None,
          sets: dict[str, Any] | None = None, unit_after: Any = "keep",
          prepare: Any = None) -> int:
    """Take one step of :data:`TRANSITIONS`: who, then the state, then the write — the need's row,
    its event and the audit row in one transaction. Returns the event id."""
    t = TRANSITIONS[step]
    need = _need_from(store.cursor().execute(_NEED_SQL, [need_id]).fetchone())
    if need is None:
        raise _not_found(need_id)
    _check_who(store, actor, need, t, log=True)
    if need.status not in t.sources:
        raise _refuse_state(need, t)
    _check_holder(store, actor, need, t, log=True)
    at = max(_now(now), need.raised_at)
    with store.transaction() as cur:
        need = _need_from(cur.execute(_NEED_SQL, [need_id]).fetchone())  # again, under the write lock
        assert need is not None
        if need.status not in t.sources:
            raise _refuse_state(need, t)
        _check_who(store, actor, need, t, log=False)
        _check_holder(store, actor, need, t, log=False)
        values = dict(sets or {})
        if prepare is not None:
            values.update(prepare(cur, need, at))
        target = t.target or need.status
        if t.target is not None:
            values["status"] = target
        if values:
            cols = ", ".join(f"{k} = ?" for k in values)
            cur.execute(f"UPDATE needs SET {cols} WHERE need_id = ?", [*values.values(), need_id])  # noqa: S608
        unit = values.get("unit_code", need.unit_code) if unit_after == "keep" else unit_after
        event_id = _event(cur, need_id, at, actor, need.status, target, step, note, unit)
        audit.record(cur, actor, "update", object=f"need:{need_id}:{step}", row_count=1)
    return event_id


def _due(cur: Any, need: Need, at: datetime, due: date | datetime | None) -> datetime:
    if due is None:
        row = cur.execute("SELECT working_days FROM need_time_limits WHERE category = ?", [need.category]).fetchone()
        days = int(row[0]) if row is not None else model.NEED_TIME_LIMITS.get(need.category, 7)
        return due_at_for(at, days)
    day = due.date() if isinstance(due, datetime) else due
    if day < at.date():
        raise ValidationError([Problem("诉求", None, "due", day.isoformat(), "办理期限不能早于今天",
                                       "the due date is before today")])
    if day > at.date() + timedelta(days=366):
        raise ValidationError([Problem("诉求", None, "due", day.isoformat(), "办理期限不能超过一年",
                                       "the due date is more than a year away")])
    return datetime.combine(day, _END_OF_DAY)


def _check_unit(cur: Any, need: Need, unit_code: str) -> None:
    """The unit must be the household's cell (with a warden), community or street, or a department."""
    code = str(unit_code).strip()
    kind = unit_kind(code, cell_id=need.cell_id, community_code=need.community_code, street_code=need.street_code)
    if kind == "cell":
        row = cur.execute("SELECT warden_id FROM cells WHERE cell_id = ?", [code]).fetchone()
        if row is None or row[0] is None:
            raise WarmGridError(f"网格 {code} 没有网格员，不能分拨给网格员。",
                                f"cell {code} has no warden: the need cannot go to its warden.")
        return
    if kind is None:
        units = [u for u in (need.cell_id, need.community_code, need.street_code) if u]
        raise WarmGridError(
            f"诉求 {need.need_id} 不能分拨给「{code}」：只能分拨给该户所在的网格（网格员）、社区、街道"
            f"（{'、'.join(units) or '该户不在任何网格内'}）或职能部门（{'、'.join(model.DEPARTMENTS)}）。",
            f"need {need.need_id} cannot go to '{code}': only to the household's cell (its warden), community or "
            f"street ({', '.join(units) or 'the household is in no cell'}) or a department "
            f"({', '.join(model.DEPARTMENTS)}).")


def assign(store: Store, actor: Actor, need_id: str, unit_code: str, due: date | datetime | None = None, *,
           note: str | None = None, now: datetime | None = None) -> int:
    """分拨: give a raised need to a unit, due by ``due`` (default: the category's time limit in working
    days, :func:`time_limits`). Returns the event id.

    Raises
    ------
    NeedStepError
        Unless the need is raised.
    AccessDenied
        Unless the actor may ``assign_need`` in the household's cell (the street committee).
    WarmGridError
        For a unit the need cannot go to, or a due date before today.
    """
    return _assign("assign", store, actor, need_id, unit_code, due, note, now)


def reassign(store: Store, actor: Actor, need_id: str, unit_code: str, due: date | datetime | None = None, *,
             note: str | None = None, now: datetime | None = None) -> int:
    """改派: give a returned (or assigned, or in progress) need to a unit, with a new due date."""
    return _assign("reassign", store, actor, need_id, unit_code, due, note, now)


def _assign(step: str, store: Store, actor: Actor, need_id: str, unit_code: str, due: date | datetime | None,
            note: str | None, now: datetime | None) -> int:
    text = _text(note, "note", required=False)
    code = str(unit_code).strip()

    def prepare(cur: Any, need: Need, at: datetime) -> dict[str, Any]:
        _check_unit(cur, need, code)
        return {"unit_code": code, "assigned_at": at, "due_at": _due(cur, need, at, due)}

    return _take(store, actor, need_id, step, now=now, note=text, prepare=prepare)


def start(store: Store, actor: Actor, need_id: str, *, note: str | None = None, now: datetime | None = None) -> int:
    """开始处置: the holding unit takes the need in hand."""
    return _take(store, actor, need_id, "start", now=now, note=_text(note, "note", required=False))


def add_note(store: Store, actor: Actor, need_id: str, note: str, *, now: datetime | None = None) -> int:
    """处置记录: a note on an open need (its state unchanged)."""
    return _take(store, actor, need_id, "note", now=now, note=_text(note, "note", required=True))


def resolve(store: Store, actor: Actor, need_id: str, note: str, *, now: datetime | None = None) -> int:
    """办结: the holding unit solved it (a note says how); ``resolved_at`` is set."""
    text = _text(note, "note", required=True, zh="请填写办结情况", en="say how it was solved")
    return _take(store, actor, need_id, "resolve", now=now, note=text,
                 prepare=lambda cur, need, at: {"resolved_at": at})


def answer(store: Store, actor: Actor, need_id: str, note: str, *, now: datetime | None = None) -> int:
    """答复: the holding unit explained why it cannot be solved (the note); ``resolved_at`` is set."""
    text = _text(note, "note", required=True, zh="请填写答复内容", en="write the answer given")
    return _take(store, actor, need_id, "answer", now=now, note=text,
                 prepare=lambda cur, need, at: {"resolved_at": at})


def return_(store: Store, actor: Actor, need_id: str, reason: str, *, now: datetime | None = None) -> int:
    """退回: the holding unit gives the need back (with a reason) to be reassigned."""
    text = _text(reason, "reason", required=True, zh="请填写退回理由", en="give the reason for returning it")
    return _take(store, actor, need_id, "return", now=now, note=text,
                 sets={"unit_code": None, "assigned_at": None, "due_at": None})


def close(store: Store, actor: Actor, need_id: str, satisfaction: str, *, note: str | None = None,
          now: datetime | None = None) -> int:
    """回访: the warden followed the resolved or answered need up with the household and closes it
    with its satisfaction (满意 / 基本满意 / 不满意, or their codes)."""
    code = satisfaction_code(satisfaction)
    text = _text(note, "note", required=False)

    def prepare(cur: Any, need: Need, at: datetime) -> dict[str, Any]:
        return {"satisfaction": code, "closed_at": max(at, need.resolved_at or at)}

    return _take(store, actor, need_id, "close", now=now, note=text or model.SATISFACTION[code].zh, prepare=prepare)


# --------------------------------------------------------------------------- undo
def undoable_event(store: Store, actor: Actor, need_id: str, *, now: datetime | None = None,
                   minutes: float = UNDO_MINUTES) -> dict[str, Any] | None:
    """The actor's step on this need that :func:`undo` would take back now, or None.

    It is the need's last change of state, taken by this actor (same username) less than
    ``minutes`` ago, and one of :data:`UNDOABLE`.
    """
    rows = store.query(
        'SELECT event_id, "at", by_user, from_status, to_status, step FROM need_events'
        " WHERE need_id = ? AND from_status IS DISTINCT FROM to_status ORDER BY event_id DESC LIMIT 1", [need_id])
    if rows.empty:
        return None
    event: dict[str, Any] = rows.iloc[0].to_dict()
    if (event["step"] not in UNDOABLE or event["by_user"] != actor.name
            or _now(now) - pd.Timestamp(event["at"]).to_pydatetime() > timedelta(minutes=minutes)):
        return None
    return event


def undo(store: Store, actor: Actor, need_id: str, *, now: datetime | None = None,
         minutes: float = UNDO_MINUTES) -> int:
    """撤销: take back the actor's last step on the need (see :func:`undoable_event`) as an ``undo`` event.

    A start goes back to assigned, a resolve or an answer to in progress (``resolved_at``
    cleared), a close to resolved or answered (satisfaction cleared). Returns the event id.

    Raises
    ------
    WarmGridError
        When there is nothing this actor may undo on the need now.
    """
    need = get_need(store, actor, need_id)
    at = max(_now(now), need.raised_at)
    with store.transaction() as cur:
        event = undoable_event(store, actor, need_id, now=now, minutes=minutes)
        current = cur.execute("SELECT status FROM needs WHERE need_id = ?", [need_id]).fetchone()
        if event is None or current is None or current[0] != event["to_status"] or \
                not may_take(actor, need, event["step"]):
            raise WarmGridError(
                f"诉求 {need_id} 没有可撤销的操作（只能撤销本人 {minutes:g} 分钟内的开始处置、办结、答复或回访）。",
                f"need {need_id} has nothing to undo (only your own start, resolve, answer or close of the last "
                f"{minutes:g} minutes).")
        back = str(event["from_status"])
        sets: dict[str, Any] = {"status": back}
        if event["step"] in ("resolve", "answer"):
            sets["resolved_at"] = None
        if event["step"] == "close":
            sets.update(satisfaction=None, closed_at=None)
        cols = ", ".join(f"{k} = ?" for k in sets)
        cur.execute(f"UPDATE needs SET {cols} WHERE need_id = ?", [*sets.values(), need_id])  # noqa: S608
        unit = cur.execute("SELECT unit_code FROM needs WHERE need_id = ?", [need_id]).fetchone()
        event_id = _event(cur, need_id, at, actor, str(event["to_status"]), back, "undo",
                          f"撤销{model.NEED_STEPS[str(event['step'])].zh} · undo {event['step']}",
                          None if unit is None else unit[0])
        audit.record(cur, actor, "update", object=f"need:{need_id}:undo:{event['step']}", row_count=1)
    return event_id


# --------------------------------------------------------------------------- escalation
def escalate_overdue(store: Store, actor: Actor, now: datetime | None = None) -> list[str]:
    """升级: every need assigned or in progress whose due date has passed, in the actor's scope, not yet
    escalated since its current assignment, is escalated to the street: ``escalated_at`` set, one
    ``escalate`` event and one audit row each. Idempotent: a second run escalates nothing more.

    The actor must be allowed to ``assign_need`` (the street committee; the command line's
    operator, e.g. a daily ``python -m grid needs escalate``; anyone else is refused with
    :class:`~grid.errors.AccessDenied`). Returns the ids escalated.
    """
    ensure(actor, "assign_need", log=store)
    at = _now(now)
    cond, params = scope_sql(actor.scope, "h.cell_id")
    sql = ("SELECT n.need_id, n.status, n.unit_code, n.due_at, h.cell_id, s.name AS street FROM needs n"
           " JOIN households h USING (hh_id) LEFT JOIN cells c ON c.cell_id = h.cell_id"
           " LEFT JOIN admin_units a ON a.code = c.community_code LEFT JOIN admin_units s ON s.code = a.parent_code"
           " WHERE n.status IN ('assigned', 'in_progress') AND n.due_at < ?"
           " AND (n.escalated_at IS NULL OR n.escalated_at < n.assigned_at)"
           f" AND {cond} ORDER BY n.due_at, n.need_id")
    found = store.query(sql, [at, *params])
    found = found[[allowed(actor, "assign_need", cell_resource(c)) and _in_scope(actor, c) for c in found["cell_id"]]]
    if found.empty:
        return []
    done: list[str] = []
    with store.transaction() as cur:
        for r in found.itertuples(index=False):
            changed = cur.execute(
                "UPDATE needs SET escalated_at = ? WHERE need_id = ? AND status IN ('assigned', 'in_progress')"
                " AND due_at < ? AND (escalated_at IS NULL OR escalated_at < assigned_at) RETURNING need_id",
                [at, r.need_id, at]).fetchall()
            if not changed:
                continue  # settled or escalated meanwhile
            due = pd.Timestamp(r.due_at)
            street = r.street if isinstance(r.street, str) else "街道"
            _event(cur, str(r.need_id), at, actor, str(r.status), str(r.status), "escalate",
                   f"超过办理期限 {due:%Y-%m-%d} 未办结，升级至{street} · overdue since {due:%Y-%m-%d}",
                   r.unit_code if isinstance(r.unit_code, str) else None)
            audit.record(cur, actor, "update", object=f"need:{r.need_id}:escalate", row_count=1)
            done.append(str(r.need_id))
    return done


# --------------------------------------------------------------------------- raising
def insert_raised(cur: Any, actor: Actor, *, need_id: str, hh_id: str, visit_id: str | None, raised_at: datetime,
                  category: str, description: str) -> None:
    """Insert a raised need and its ``raise`` event in the caller's transaction (checked by the caller)."""
    cur.execute("INSERT INTO needs (need_id, hh_id, visit_id, raised_at, category, description, status)"
                " VALUES (?, ?, ?, ?, ?, ?, 'raised')",
                [need_id, hh_id, visit_id, raised_at, category, description])
    _event(cur, need_id, raised_at, actor, None, "raised", "raise", None, None)


def new_need_id() -> str:
    """A fresh need id."""
    return f"N{uuid.uuid4().hex[:16]}"


def raise_need(store: Store, actor: Actor, *, hh_id: str, category: str, description: str,
               raised_at: datetime | None = None, photos: Iterable[bytes] = (), idempotency_key: str | None = None,
               now: datetime | None = None) -> str:
    """上报: a need entered for a resident (outside a visit; a visit's needs come with
    :func:`grid.visits.log_visit`), with photos if any. Returns the need id.

    The actor must be allowed to ``raise_need`` in the household's cell. With
    ``idempotency_key``, a second call with the same key returns the first need's id.
    The need, its events (the raise, each photo) and their audit rows are one transaction.
    """
    problems: list[Problem] = []
    if category not in model.NEED_CATEGORIES:
        problems.append(Problem("诉求", None, "category", validators.visible(str(category)), "未知的诉求类别",
                                "unknown need category"))
    try:
        text = _text(description, "description", required=True, zh="请填写诉求内容", en="describe the need")
    except ValidationError as exc:
        problems += exc.problems
        text = None
    when = raised_at or _now(now)
    check = validators.record_time(when, today=validators.china_today(now))
    if check.reason is not None:
        problems.append(Problem("诉求", None, "raised_at", str(when), *check.reason))
    blobs = [bytes(p) for p in photos]
    for i, data in enumerate(blobs, start=1):
        problems += _photo_problems(data, i)
    if len(blobs) > MAX_PHOTOS:
        problems.append(Problem("诉求", None, "photo", str(len(blobs)), f"每条诉求最多 {MAX_PHOTOS} 张照片",
                                f"a need holds at most {MAX_PHOTOS} photos"))
    with store.transaction() as cur:
        if idempotency_key:
            row = cur.execute("SELECT object_id FROM form_submissions WHERE idempotency_key = ? AND kind = 'need'",
                              [idempotency_key]).fetchone()
            if row is not None:
                return str(row[0])
        row = cur.execute("SELECT cell_id FROM households WHERE hh_id = ? AND status = 'active'", [hh_id]).fetchone()
        if row is None or not _in_scope(actor, row[0]):
            problems.append(Problem("诉求", None, "hh_id", hh_id, "没有这一户", "no such household"))
        elif not allowed(actor, "raise_need", cell_resource(row[0])):
            problems.append(Problem("诉求", None, "hh_id", hh_id, "您的角色无权为这一户登记诉求",
                                    "your role may not raise needs for this household"))
        if problems:
            raise ValidationError(problems)
        need_id = new_need_id()
        assert text is not None
        insert_raised(cur, actor, need_id=need_id, hh_id=hh_id, visit_id=None, raised_at=when, category=category,
                      description=text)
        if idempotency_key:
            cur.execute("INSERT INTO form_submissions (idempotency_key, kind, object_id, username)"
                        " VALUES (?, 'need', ?, ?)", [idempotency_key, need_id, actor.name])
        audit.record(cur, actor, "create", object=f"need:{need_id}", row_count=1)
        for data in blobs:
            _store_photo(cur, actor, need_id, "raised", None, data, None, max(_now(now), when))
            audit.record(cur, actor, "update", object=f"need:{need_id}:photo", row_count=1)
    return need_id


# --------------------------------------------------------------------------- photos
_MAGIC: tuple[tuple[str, bytes, int], ...] = (
    ("image/jpeg", b"\xff\xd8\xff", 0),
    ("image/png", b"\x89PNG\r\n\x1a\n", 0),
)


def photo_type(data: bytes) -> str | None:
    """The MIME type of a photo by its magic bytes: JPEG, PNG or WebP; None for anything else.

    >>> photo_type(b"\\xff\\xd8\\xff\\xe0" + bytes(16)), photo_type(b"RIFF\\x10\\x00\\x00\\x00WEBPVP8 ")
    ('image/jpeg', 'image/webp')
    >>> photo_type(b"<svg onload=alert(1)>"), photo_type(b"RIFF\\x10\\x00\\x00\\x00WAVEfmt ")
    (None, None)
    """
    head = bytes(data[:16])
    for mime, magic, at in _MAGIC:
        if head[at:at + len(magic)] == magic:
            return mime
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def max_photo_bytes() -> int:
    """The largest photo accepted, in bytes: ``WARMGRID_MAX_PHOTO_MB`` MiB (default 5)."""
    try:
        mb = float(os.environ.get(PHOTO_ENV, "5"))
    except ValueError:
        mb = 5.0
    return max(1, int(mb * 1024 * 1024)) if mb > 0 else 5 * 1024 * 1024


def _photo_problems(data: bytes, i: int | None = None) -> list[Problem]:
    where = "照片" if i is None else f"照片{i}"
    out = []
    if not data:
        out.append(Problem("诉求", None, "photo", where, "照片是空的", "the photo is empty"))
    elif photo_type(data) is None:
        out.append(Problem("诉求", None, "photo", where, "照片须为 JPEG、PNG 或 WebP 图片（按文件内容判断）",
                           "a photo must be a JPEG, PNG or WebP image (judged by its content)"))
    limit = max_photo_bytes()
    if len(data) > limit:
        out.append(Problem("诉求", None, "photo", where,
                           f"照片大小 {len(data) / 1048576:.1f} MiB，超过上限 {limit / 1048576:.1f} MiB（{PHOTO_ENV}）",
                           f"the photo is {len(data) / 1048576:.1f} MiB, over the limit of {limit / 1048576:.1f} MiB "
                           f"({PHOTO_ENV})"))
    return out


def _store_photo(cur: Any, actor: Actor, need_id: str, status: str, unit_code: str | None, data: bytes,
                 caption: str | None, at: datetime) -> str:
    photo_id = f"P{uuid.uuid4().hex[:16]}"
    event_id = _event(cur, need_id, at, actor, status, status, "photo", caption, unit_code)
    cur.execute("INSERT INTO need_photos (photo_id, need_id, event_id, added_at, added_by, mime_type, size_bytes,"
                " sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [photo_id, need_id, event_id, at, actor.name, photo_type(data), len(data),
                 hashlib.sha256(data).hexdigest(), data])
    return photo_id


def add_photo(store: Store, actor: Actor, need_id: str, data: bytes, *, caption: str | None = None,
              now: datetime | None = None) -> str:
    """A photo of an open need (its state unchanged): checked by its magic bytes and size; returns its id.

    The photo, its ``photo`` event and the audit row are one transaction.
    """
    data = bytes(data)
    problems = _photo_problems(data)
    text = _text(caption, "caption", required=False, multiline=False)
    t = TRANSITIONS["photo"]
    need = _need_from(store.cursor().execute(_NEED_SQL, [need_id]).fetchone())
    if need is None:
        raise _not_found(need_id)
    _check_who(store, actor, need, t, log=True)
    if need.status not in t.sources:
        raise _refuse_state(need, t)
    if problems:
        raise ValidationError(problems)
    at = max(_now(now), need.raised_at)
    with store.transaction() as cur:
        row = cur.execute("SELECT n.status, n.unit_code, count(p.photo_id) FROM needs n"
                          " LEFT JOIN need_photos p USING (need_id) WHERE n.need_id = ? GROUP BY n.status, n.unit_code",
                          [need_id]).fetchone()
        assert row is not None
        if row[0] not in t.sources:
            raise _refuse_state(need, t)
        if int(row[2]) >= MAX_PHOTOS:
            raise ValidationError([Problem("诉求", None, "photo", str(row[2]), f"每条诉求最多 {MAX_PHOTOS} 张照片",
                                           f"a need holds at most {MAX_PHOTOS} photos")])
        photo_id = _store_photo(cur, actor, need_id, str(row[0]), row[1], data, text, at)
        audit.record(cur, actor, "update", object=f"need:{need_id}:photo", row_count=1)
    return photo_id


@dataclass(frozen=True)
class Photo:
    """A stored photo of a need."""

    photo_id: str
    mime_type: str
    data: bytes
    added_at: datetime
    added_by: str | None
    caption: str | None


def photos(store: Store, actor: Actor, need_id: str) -> list[Photo]:
    """The need's photos, oldest first, for an actor who may open the household's card
    (``view_household``); writes one ``view_household`` audit row when there are any.

    Raises
    ------
    WarmGridError
        For a need outside the actor's scope (no such need).
    AccessDenied
        For an actor who may not open the household's card.
    """
    need = get_need(store, actor, need_id)
    ensure(actor, "view_household", cell_resource(need.cell_id), log=store)
    rows = store.cursor().execute(
        "SELECT p.photo_id, p.mime_type, p.data, p.added_at, p.added_by, e.note FROM need_photos p"
        " LEFT JOIN need_events e USING (event_id) WHERE p.need_id = ? ORDER BY p.event_id",
        [need_id]).fetchall()
    out = [Photo(str(r[0]), str(r[1]), bytes(r[2]), pd.Timestamp(r[3]).to_pydatetime(), r[4], r[5]) for r in rows]
    if out:
        audit.record(store, actor, "view_household", object=f"{need.hh_id}:photos:{need_id}", row_count=len(out))
    return out


# --------------------------------------------------------------------------- reading
def history(store: Store, actor: Actor, need_id: str) -> pd.DataFrame:
    """The need's events, oldest first: ``event_id, at, by_user, from_status, to_status, step, note,
    unit_code`` — for an actor who may see the household's rows (``view_households``)."""
    need = get_need(store, actor, need_id)
    ensure(actor, "view_households", cell_resource(need.cell_id), log=store)
    return store.query('SELECT event_id, "at", by_user, from_status, to_status, step, note, unit_code'
                       " FROM need_events WHERE need_id = ? ORDER BY event_id", [need_id])


_LIST_SQL = """
SELECT n.need_id, n.hh_id, h.cell_id, c.community_code, a.parent_code AS street_code, h.address, h.head_name,
       h.phone, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat, n.category, n.description, n.status, n.unit_code,
       n.raised_at, n.assigned_at, n.due_at, n.resolved_at, n.satisfaction, n.closed_at, n.escalated_at,
       (SELECT count(*) FROM need_photos p WHERE p.need_id = n.need_id) AS photos
FROM needs n JOIN households h USING (hh_id) LEFT JOIN cells c ON c.cell_id = h.cell_id
LEFT JOIN admin_units a ON a.code = c.community_code
WHERE {cond} AND list_contains(?::TEXT[], n.status) {extra}
ORDER BY n.raised_at, n.need_id
"""


def list_needs(store: Store, actor: Actor, *, statuses: Iterable[str] | None = None, held: bool = False,
               hh_id: str | None = None, as_of: datetime | None = None, limit: int | None = None) -> pd.DataFrame:
    """Needs of the households in the actor's scope, oldest first, masked for the actor.

    ``statuses`` (default: all), ``held``: only needs whose unit the actor holds
    (:func:`grid.access.may_hold`: a warden's cell, a community worker's community, a
    committee's street and the departments; an administrator every unit), ``hh_id``: one
    household's. Columns: ``need_id, hh_id, cell_id, community_code, street_code, address,
    head_name, phone, lon, lat, category, description, status, unit_code, unit_kind, raised_at,
    assigned_at, due_at, resolved_at, satisfaction, closed_at, escalated_at, photos, overdue``
    (open, with a due date before ``as_of``) and ``days_overdue``. Empty for an actor who
    may not see household rows.
    """
    wanted = list(statuses) if statuses is not None else list(model.NEED_STATUSES)
    cols = ["need_id", "hh_id", "cell_id", "community_code", "street_code", "address", "head_name", "phone", "lon",
            "lat", "category", "description", "status", "unit_code", "unit_kind", "raised_at", "assigned_at",
            "due_at", "resolved_at", "satisfaction", "closed_at", "escalated_at", "photos", "overdue", "days_overdue"]
    if not allowed(actor, "view_households"):
        return pd.DataFrame(columns=cols)
    cond, params = scope_sql(actor.scope, "h.cell_id")
    extra, more = "", []
    if hh_id is not None:
        extra, more = "AND n.hh_id = ?", [hh_id]
    frame = store.query(_LIST_SQL.format(cond=cond, extra=extra), [*params, wanted, *more])
    frame["unit_kind"] = [unit_kind(u if isinstance(u, str) else None, cell_id=c if isinstance(c, str) else None,
                                    community_code=m if isinstance(m, str) else None,
                                    street_code=s if isinstance(s, str) else None)
                          for u, c, m, s in zip(frame["unit_code"], frame["cell_id"], frame["community_code"],
                                                frame["street_code"], strict=True)]
    if held:
        keep = [may_hold(actor, k, c if isinstance(c, str) else None) and isinstance(u, str)
                for k, c, u in zip(frame["unit_kind"], frame["cell_id"], frame["unit_code"], strict=True)]
        frame = frame.loc[keep]
    ref = pd.Timestamp(_now(as_of))
    due = pd.to_datetime(frame["due_at"])
    frame["overdue"] = frame["status"].isin(["assigned", "in_progress"]).to_numpy() & (due < ref).fillna(False).to_numpy()
    frame["days_overdue"] = np.where(frame["overdue"], ((ref - due).dt.total_seconds() // 86400).fillna(0), 0
                                     ).astype(int)
    frame = mask_households(frame, actor)
    if limit is not None:
        frame = frame.head(int(limit))
    return frame[cols].reset_index(drop=True)


def queue(store: Store, actor: Actor, *, as_of: datetime | None = None) -> pd.DataFrame:
    """The street committee's queue: the open needs of its scope, with a ``bucket``
    (:data:`QUEUE_BUCKETS`), in the order they are worked: overdue (escalated first, the
    longest overdue first), to assign (oldest first), returned, in hand (the nearest due first)."""
    frame = list_needs(store, actor, statuses=OPEN, as_of=as_of)
    bucket = np.where(frame["overdue"], "overdue", np.where(frame["status"] == "raised", "raised",
                                                            np.where(frame["status"] == "returned", "returned",
                                                                     "in_hand")))
    frame["bucket"] = bucket
    order = {b: i for i, b in enumerate(QUEUE_BUCKETS)}
    frame["_b"] = frame["bucket"].map(order)
    frame["_esc"] = frame["escalated_at"].isna()
    frame["_due"] = pd.to_datetime(frame["due_at"])
    frame["_raised"] = pd.to_datetime(frame["raised_at"])
    frame = frame.sort_values(["_b", "_esc", "_due", "_raised", "need_id"], kind="stable", na_position="last")
    return frame.drop(columns=["_b", "_esc", "_due", "_raised"]).reset_index(drop=True)
