"""Visits (民情日志), the needs (诉求) they raise and a household's card: what a grid
warden does on a phone. Writes are idempotent: a form carries a key made when it is
shown, and submitting it twice (a double tap, a resent form) creates nothing
the second time. A visit's needs start their flow raised (:mod:`grid.needs`: the
street committee assigns them; the unit handles them; the warden follows them up).

Examples
--------
>>> import pandas as pd
>>> hh = pd.DataFrame({"hh_id": ["a", "b", "c"], "categories": [["tekun"], [], ["disabled"]],
...                    "size": [1, 4, 2]})
>>> last = pd.DataFrame({"hh_id": ["a", "b"], "last_visit": pd.to_datetime(["2026-11-01", "2026-01-01"])})
>>> due_visits(hh, last, pd.DataFrame({"hh_id": [], "open_needs": []}), "2026-11-15")["hh_id"].tolist()
['a', 'c', 'b']
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from grid import audit, model, validators
from grid.access import Actor, Scope, allowed, cell_resource, mask_households, scope_sql
from grid.errors import Problem, ValidationError, WarmGridError
from grid.needs import insert_raised, new_need_id
from grid.store import Store

__all__ = [
    "NeedInput",
    "new_form_key",
    "log_visit",
    "UNDO_VISIT_MINUTES",
    "undo_visit",
    "due_visits",
    "last_visit_of",
    "days_since_visit",
    "overdue",
    "due_now",
    "load_due_inputs",
    "warden_households",
    "open_needs",
]


@dataclass(frozen=True)
class NeedInput:
    """A need raised during a visit."""

    category: str
    description: str


def new_form_key() -> str:
    """A fresh idempotency key for a form about to be shown."""
    return uuid.uuid4().hex


def _claim(cur: Any, key: str | None, kind: str) -> str | None:
    """The object a key already produced, or None (and the key is free)."""
    if not key:
        return None
    row = cur.execute("SELECT object_id FROM form_submissions WHERE idempotency_key = ? AND kind = ?",
                      [key, kind]).fetchone()
    return None if row is None else str(row[0])


def _check_time(t: datetime, field: str, problems: list[Problem], now: datetime | None) -> None:
    """The import's rule (:func:`grid.validators.record_time`): from 2000 to the end of today, China time."""
    check = validators.record_time(t, today=validators.china_today(now))
    if check.reason is not None:
        problems.append(Problem("民情日志", None, field, str(t), *check.reason))


def _check_text(text: str, field: str, problems: list[Problem], *, multiline: bool) -> None:
    """The import's rule (:func:`grid.validators.check_characters`): no control character, no bidi override."""
    check = validators.check_characters(text, multiline=multiline)
    if check.reason is not None:
        problems.append(Problem("民情日志", None, field, validators.visible(text[:60]), *check.reason))


def log_visit(
    store: Store,
    actor: Actor,
    *,
    hh_id: str,
    visited_at: datetime,
    situation: str,
    visitor_id: str | None = None,
    place: str = "入户走访",
    campaign_id: str | None = None,
    needs: list[NeedInput] | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> str:
    """Record a visit (and the needs it raised, each raised with its ``raise`` event) and its
    audit row in one transaction; return the visit id.

    The actor must be allowed to ``log_visit`` in the household's cell (a
    warden logs visits in their own cells only); a household outside is
    refused as if it did not exist. ``visitor_id`` defaults to the actor's
    person. With ``idempotency_key``, a second call with the same key returns
    the first visit's id and writes nothing.

    The same rules as an import: ``visited_at`` from 2000 to the end of today
    in China Standard Time (``now``, default the current time; see
    :func:`grid.validators.record_time`), and no control character or
    bidirectional override in the situation, the place or a need's description
    (tabs and line breaks allowed in the situation and descriptions; see
    :func:`grid.validators.check_characters`).

    Raises
    ------
    ValidationError
        With every problem of the form.
    """
    visitor_id = visitor_id if visitor_id is not None else actor.person_id
    problems: list[Problem] = []
    if not situation or not situation.strip():
        problems.append(Problem("民情日志", None, "situation", "", "请填写走访情况", "describe what was found"))
    else:
        _check_text(situation, "situation", problems, multiline=True)
    _check_text(place, "place", problems, multiline=False)
    _check_time(visited_at, "visited_at", problems, now)
    for n in needs or []:
        if n.category not in model.NEED_CATEGORIES:
            problems.append(Problem("民情日志", None, "need", validators.visible(n.category), "未知的诉求类别",
                                    "unknown need category"))
        if not n.description.strip():
            problems.append(Problem("民情日志", None, "need", "", "请填写诉求内容", "describe the need"))
        else:
            _check_text(n.description, "need", problems, multiline=True)
    with store.transaction() as cur:
        done = _claim(cur, idempotency_key, "visit")
        if done is not None:
            return done
        row = cur.execute("SELECT cell_id FROM households WHERE hh_id = ? AND status = 'active'", [hh_id]).fetchone()
        if row is None:
            problems.append(Problem("民情日志", None, "hh_id", hh_id, "没有这一户", "no such household"))
        elif not allowed(actor, "log_visit", cell_resource(row[0])):
            problems.append(Problem("民情日志", None, "hh_id", hh_id, "这一户不在您负责的网格内",
                                    "this household is not in your cells"))
        if problems:
            raise ValidationError(problems)
        visit_id = f"V{uuid.uuid4().hex[:16]}"
        cur.execute("INSERT INTO visits (visit_id, hh_id, visitor_id, campaign_id, visited_at, place, situation)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [visit_id, hh_id, visitor_id, campaign_id, visited_at, place,
                     situation.strip().replace("\r\n", "\n")])
        for n in needs or []:
            insert_raised(cur, actor, need_id=new_need_id(), hh_id=hh_id, visit_id=visit_id, raised_at=visited_at,
                          category=n.category, description=n.description.strip().replace("\r\n", "\n"))
        if idempotency_key:
            cur.execute("INSERT INTO form_submissions (idempotency_key, kind, object_id, username)"
                        " VALUES (?, 'visit', ?, ?)", [idempotency_key, visit_id, actor.name])
        audit.record(cur, actor, "create", object=f"visit:{visit_id}", row_count=1 + len(needs or []))
        return visit_id


#: Minutes within which a user may take back a visit they logged by mistake (:func:`undo_visit`).
UNDO_VISIT_MINUTES = 30


def undo_visit(store: Store, actor: Actor, visit_id: str, *, minutes: float = UNDO_VISIT_MINUTES) -> int:
    """撤销: delete a visit the actor logged by mistake in the last ``minutes`` minutes, with the needs it
    raised (still raised, untouched since); one ``delete`` audit row. Returns the rows deleted.

    Only the user who logged the visit (its ``create`` audit row) may take it back, only while
    the household is still in a cell where they may ``log_visit``, and only while every need the
    visit raised is still ``raised`` with its ``raise`` event alone (once the committee assigned
    it, the need lives on and the visit stays). The idempotency key of the form that made it is
    released, so the same form cannot bring it back silently.

    Raises
    ------
    WarmGridError
        When there is no such visit for this actor to take back now (nothing is deleted).
    """
    refuse = WarmGridError(
        f"走访记录 {visit_id} 无法撤销：只能撤销本人 {minutes:g} 分钟内记录、所提诉求尚未分拨的走访。",
        f"visit {visit_id} cannot be undone: only your own visits of the last {minutes:g} minutes whose needs "
        "have not been assigned yet.")
    with store.transaction() as cur:
        row = cur.execute(
            "SELECT h.cell_id FROM visits v JOIN households h USING (hh_id) WHERE v.visit_id = ?"
            " AND v.created_at >= CAST(current_timestamp AS TIMESTAMP) - to_microseconds(CAST(? AS BIGINT))",
            [visit_id, int(minutes * 60_000_000)]).fetchone()
        mine = cur.execute("SELECT count(*) FROM audit_log WHERE action = 'create' AND object = ? AND username = ?",
                           [f"visit:{visit_id}", actor.name]).fetchone()
        if row is None or not mine or not mine[0] or not allowed(actor, "log_visit", cell_resource(row[0])):
            raise refuse
        needs = [r[0] for r in cur.execute("SELECT need_id FROM needs WHERE visit_id = ?", [visit_id]).fetchall()]
        if needs:
            moved = cur.execute(
                "SELECT count(*) FROM needs n WHERE n.visit_id = ? AND (n.status <> 'raised' OR EXISTS ("
                " SELECT 1 FROM need_events e WHERE e.need_id = n.need_id AND e.step <> 'raise'))",
                [visit_id]).fetchone()
            if moved and moved[0]:
                raise refuse
            cur.execute("DELETE FROM need_events WHERE list_contains(?::TEXT[], need_id)", [needs])
            cur.execute("DELETE FROM needs WHERE list_contains(?::TEXT[], need_id)", [needs])
        cur.execute("DELETE FROM visits WHERE visit_id = ?", [visit_id])
        cur.execute("DELETE FROM form_submissions WHERE kind = 'visit' AND object_id = ?", [visit_id])
        audit.record(cur, actor, "delete", object=f"visit:{visit_id}:undo", row_count=1 + len(needs))
        return 1 + len(needs)


def load_due_inputs(store: Store, scope: Scope) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Households of a scope's cells with their last visit and open needs (for :func:`due_visits`).

    Personal data is read unmasked: pass the households through
    :func:`grid.access.mask_households` before showing them (as
    :func:`warden_households` does).
    """
    cells = scope.cell_list(store.query("SELECT cell_id FROM cells")["cell_id"] if scope.is_everything else ())
    if not cells:
        empty = pd.DataFrame(columns=["hh_id"])
        return empty, empty, empty
    cur = store.cursor()
    cur.register("_cells", pd.DataFrame({"cell_id": cells}))
    try:
        hh = cur.execute(
            "SELECT h.hh_id, h.cell_id, h.address, h.size, h.categories, h.head_name, h.phone, h.id_number,"
            " ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat, h.x_m, h.y_m FROM households h JOIN _cells c USING (cell_id)"
            " WHERE h.status = 'active' ORDER BY h.hh_id").df()
        last = cur.execute(
            "SELECT v.hh_id, max(v.visited_at) AS last_visit FROM visits v JOIN households h USING (hh_id)"
            " JOIN _cells c USING (cell_id) GROUP BY v.hh_id").df()
        needs = cur.execute(
            "SELECT n.hh_id, count(*) AS open_needs FROM needs n JOIN households h USING (hh_id)"
            " JOIN _cells c USING (cell_id) WHERE list_contains(?::TEXT[], n.status) GROUP BY n.hh_id",
            [list(model.OPEN_NEED_STATUSES)]).df()
    finally:
        cur.unregister("_cells")
    return hh, last, needs


def last_visit_of(hh_ids: pd.Series, last_visits: pd.DataFrame) -> pd.Series:
    """Each household's last visit (``NaT`` if never), aligned with ``hh_ids``.

    ``last_visits`` holds ``hh_id, last_visit`` with one row per household; it
    may be empty (a district or a warden's cells before the first visit).

    >>> lv = pd.DataFrame({"hh_id": ["a"], "last_visit": pd.to_datetime(["2026-11-01 09:00"])})
    >>> last_visit_of(pd.Series(["b", "a"]), lv).tolist()
    [NaT, Timestamp('2026-11-01 09:00:00')]
    >>> last_visit_of(pd.Series(["a"]), lv.iloc[0:0]).isna().tolist()
    [True]
    """
    if not len(last_visits):  # pandas cannot map or reindex through an empty datetime Series
        return pd.Series(pd.NaT, index=hh_ids.index, dtype="datetime64[ns]", name="last_visit")
    lv = pd.Series(pd.to_datetime(last_visits["last_visit"]).to_numpy(), index=last_visits["hh_id"].to_numpy())
    return pd.Series(lv.reindex(hh_ids.to_numpy()).to_numpy(), index=hh_ids.index, name="last_visit")


def days_since_visit(last_visit: pd.Series, as_of: date | datetime | str) -> pd.Series:
    """Days (with fractions, from the exact times) from each last visit to ``as_of``; NaN if never.

    >>> last = pd.Series([pd.Timestamp("2026-10-16"), pd.Timestamp("2026-10-15 12:00"), pd.NaT])
    >>> days_since_visit(last, "2026-11-15").tolist()
    [30.0, 30.5, nan]
    """
    return (pd.Timestamp(as_of) - pd.to_datetime(last_visit)).dt.total_seconds() / 86400.0


def overdue(days_since: pd.Series | np.ndarray, days: float) -> np.ndarray:
    """Whether a visit is overdue: never visited, or last visited more than ``days`` days ago.

    The one rule for every list, map and count of overdue visits: a household
    visited exactly ``days`` days before the reference time is *not* overdue;
    one second more and it is. ``days_since`` comes from
    :func:`days_since_visit` (NaN = never visited).

    >>> overdue(pd.Series([30.0, 30.0 + 1 / 86400, float("nan"), 2.0]), 30).tolist()
    [False, True, True, False]
    """
    d = np.asarray(days_since, dtype=float)
    return np.isnan(d) | (d > days)


def due_now(households: pd.DataFrame, days: float) -> pd.DataFrame:
    """The households due a visit now, in visiting order: in a target category and overdue.

    The one list behind the warden's "待走访" count and its due table, so the two always agree:
    ``households`` is :func:`due_visits` (or :func:`warden_households`) output, with ``target``
    and ``days_since``; a household is due when it is a target and :func:`overdue` after ``days``.
    Households that are not targets, and targets visited within ``days``, are not due.

    >>> hh = pd.DataFrame({"hh_id": ["a", "b", "c", "d"], "target": [True, True, False, True],
    ...                    "days_since": [45.0, 3.0, float("nan"), float("nan")]})
    >>> due_now(hh, 30)["hh_id"].tolist()
    ['a', 'd']
    """
    if not len(households):
        return households.iloc[0:0]
    due = households["target"].astype(bool).to_numpy() & overdue(households["days_since"], days)
    return households.loc[due]


def due_visits(households: pd.DataFrame, last_visits: pd.DataFrame, open_needs: pd.DataFrame,
               as_of: date | datetime | str, targets: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Households in the order a warden should visit them.

    Target categories first (by default the 五必访 groups and every hardship
    category), then the longest since the last visit (never visited first),
    then the most open needs, then the largest households. ``last_visit`` is
    each household's last visit (NaT if never) and ``days_since`` the days
    from it to ``as_of`` (:func:`days_since_visit`); :func:`overdue` of
    ``days_since`` says which visits are overdue.
    """
    targets = targets if targets is not None else tuple(model.HARDSHIP)
    out = households.copy()
    on = open_needs.set_index("hh_id")["open_needs"] if len(open_needs) else pd.Series(dtype=int)
    out["last_visit"] = last_visit_of(out["hh_id"], last_visits)
    out["days_since"] = days_since_visit(out["last_visit"], as_of)
    out["open_needs"] = out["hh_id"].map(on).fillna(0).astype(int)
    cats = out["categories"].map(lambda c: list(c) if c is not None else [])
    out["five_must"] = cats.map(lambda c: any(x in model.FIVE_MUST_VISIT for x in c))
    out["target"] = cats.map(lambda c: any(x in targets for x in c))
    out["_never"] = out["last_visit"].isna()
    out["_days"] = out["days_since"].fillna(10**6)
    out = out.sort_values(["target", "five_must", "_never", "_days", "open_needs", "size", "hh_id"],
                          ascending=[False, False, False, False, False, False, True], kind="stable")
    return out.drop(columns=["_never", "_days"]).reset_index(drop=True)


def warden_households(store: Store, actor: Actor, as_of: date | datetime | str) -> pd.DataFrame:
    """The households of the actor's scope in visiting order (:func:`due_visits`), masked for the actor.

    Empty for an actor that may not see household rows.
    """
    if not allowed(actor, "view_households"):
        return pd.DataFrame(columns=["hh_id", "cell_id", "address", "head_name", "target", "days_since"])
    hh, last, needs = load_due_inputs(store, actor.scope)
    if hh.empty:
        return due_visits(pd.DataFrame(columns=["hh_id", "categories", "size", "cell_id"]), last, needs, as_of)
    return mask_households(due_visits(hh, last, needs, as_of), actor).reset_index(drop=True)


def open_needs(store: Store, scope: Scope, *, limit: int | None = None) -> pd.DataFrame:
    """Needs not yet resolved or answered (:data:`grid.model.OPEN_NEED_STATUSES`) of the households in
    ``scope``, oldest first.

    Columns ``need_id, hh_id, raised_at, category, description, status, unit_code, due_at``.
    """
    cond, params = scope_sql(scope, "h.cell_id")
    sql = ("SELECT n.need_id, n.hh_id, n.raised_at, n.category, n.description, n.status, n.unit_code, n.due_at"
           " FROM needs n JOIN households h USING (hh_id)"
           f" WHERE list_contains(?::TEXT[], n.status) AND {cond} ORDER BY n.raised_at, n.need_id")
    params = [list(model.OPEN_NEED_STATUSES), *params]
    if limit is not None:
        sql += " LIMIT ?"
        params = [*params, int(limit)]
    return store.query(sql, params)
