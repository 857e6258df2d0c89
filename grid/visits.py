"""Visits (民情日志), needs (诉求) and a household's card: what a grid warden
does on a phone. Writes are idempotent: a form carries a key made when it is
shown, and submitting it twice (a double tap, a resent form) creates nothing
the second time.

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

import pandas as pd

from grid import model, validators
from grid.errors import Problem, ValidationError, WarmGridError
from grid.store import Store

__all__ = [
    "NeedInput",
    "new_form_key",
    "log_visit",
    "resolve_need",
    "due_visits",
    "household_card",
    "load_due_inputs",
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
    *,
    hh_id: str,
    visitor_id: str | None,
    visited_at: datetime,
    situation: str,
    place: str = "入户走访",
    campaign_id: str | None = None,
    needs: list[NeedInput] | None = None,
    idempotency_key: str | None = None,
    username: str | None = None,
    allowed_cells: frozenset[str] | None = None,
    now: datetime | None = None,
) -> str:
    """Record a visit (and the needs it raised) in one transaction; return the visit id.

    With ``idempotency_key``, a second call with the same key returns the first
    visit's id and writes nothing. With ``allowed_cells``, a household outside
    those cells is refused (a warden logs visits in their own cells only).

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
        elif allowed_cells is not None and row[0] not in allowed_cells:
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
            cur.execute("INSERT INTO needs (need_id, hh_id, visit_id, raised_at, category, description, status)"
                        " VALUES (?, ?, ?, ?, ?, ?, 'open')",
                        [f"N{uuid.uuid4().hex[:16]}", hh_id, visit_id, visited_at, n.category,
                         n.description.strip().replace("\r\n", "\n")])
        if idempotency_key:
            cur.execute("INSERT INTO form_submissions (idempotency_key, kind, object_id, username)"
                        " VALUES (?, 'visit', ?, ?)", [idempotency_key, visit_id, username])
        return visit_id


def resolve_need(store: Store, need_id: str, *, status: str = "resolved", when: datetime | None = None,
                 allowed_cells: frozenset[str] | None = None) -> None:
    """Close a need as resolved (已解决) or answered (已答复)."""
    if status not in ("resolved", "answered"):
        raise WarmGridError(f"办结状态须为已解决或已答复：{status}", f"status must be resolved or answered: {status}")
    when = when or datetime.now()
    with store.transaction() as cur:
        row = cur.execute("SELECT n.raised_at, n.status, h.cell_id FROM needs n JOIN households h USING (hh_id)"
                          " WHERE n.need_id = ?", [need_id]).fetchone()
        if row is None:
            raise WarmGridError(f"没有这条诉求：{need_id}", f"no such need: {need_id}")
        if allowed_cells is not None and row[2] not in allowed_cells:
            raise WarmGridError("这条诉求不在您负责的网格内", "this need is not in your cells")
        if row[1] != "open":
            return  # already closed: resubmitting changes nothing
        cur.execute("UPDATE needs SET status = ?, resolved_at = ? WHERE need_id = ?",
                    [status, max(when, row[0]), need_id])


def load_due_inputs(store: Store, cells: frozenset[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Households of ``cells`` with their last visit and open needs (for :func:`due_visits`)."""
    if not cells:
        empty = pd.DataFrame(columns=["hh_id"])
        return empty, empty, empty
    cur = store.cursor()
    cur.register("_cells", pd.DataFrame({"cell_id": sorted(cells)}))
    try:
        hh = cur.execute(
            "SELECT h.hh_id, h.cell_id, h.address, h.size, h.categories, h.head_name, h.phone, h.id_number,"
            " ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat FROM households h JOIN _cells c USING (cell_id)"
            " WHERE h.status = 'active' ORDER BY h.hh_id").df()
        last = cur.execute(
            "SELECT v.hh_id, max(v.visited_at) AS last_visit FROM visits v JOIN households h USING (hh_id)"
            " JOIN _cells c USING (cell_id) GROUP BY v.hh_id").df()
        needs = cur.execute(
            "SELECT n.hh_id, count(*) AS open_needs FROM needs n JOIN households h USING (hh_id)"
            " JOIN _cells c USING (cell_id) WHERE n.status = 'open' GROUP BY n.hh_id").df()
    finally:
        cur.unregister("_cells")
    return hh, last, needs


def due_visits(households: pd.DataFrame, last_visits: pd.DataFrame, open_needs: pd.DataFrame,
               as_of: date | datetime | str, targets: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Households in the order a warden should visit them.

    Target categories first (by default the 五必访 groups and every hardship
    category), then the longest since the last visit (never visited first),
    then the most open needs, then the largest households.
    """
    targets = targets if targets is not None else tuple(model.HARDSHIP)
    ts = pd.Timestamp(as_of)
    out = households.copy()
    lv = last_visits.set_index("hh_id")["last_visit"] if len(last_visits) else pd.Series(dtype="datetime64[ns]")
    on = open_needs.set_index("hh_id")["open_needs"] if len(open_needs) else pd.Series(dtype=int)
    out["last_visit"] = pd.to_datetime(out["hh_id"].map(lv))
    out["days_since"] = (ts - out["last_visit"]).dt.days
    out["open_needs"] = out["hh_id"].map(on).fillna(0).astype(int)
    cats = out["categories"].map(lambda c: list(c) if c is not None else [])
    out["five_must"] = cats.map(lambda c: any(x in model.FIVE_MUST_VISIT for x in c))
    out["target"] = cats.map(lambda c: any(x in targets for x in c))
    out["_never"] = out["last_visit"].isna()
    out["_days"] = out["days_since"].fillna(10**6)
    out = out.sort_values(["target", "five_must", "_never", "_days", "open_needs", "size", "hh_id"],
                          ascending=[False, False, False, False, False, False, True], kind="stable")
    return out.drop(columns=["_never", "_days"]).reset_index(drop=True)


def household_card(store: Store, hh_id: str, allowed_cells: frozenset[str] | None = None) -> dict[str, Any]:
    """A household's details, visit history, open needs and assistance received.

    With ``allowed_cells``, a household outside them is refused as if it did not exist.
    """
    cur = store.cursor()
    det = cur.execute("SELECT hh_id, cell_id, address, size, categories, head_name, phone, id_number, status,"
                      " ST_X(geom) AS lon, ST_Y(geom) AS lat FROM households WHERE hh_id = ?", [hh_id]).df()
    if det.empty or (allowed_cells is not None and det["cell_id"].iloc[0] not in allowed_cells):
        raise WarmGridError(f"没有这一户：{hh_id}", f"no such household: {hh_id}")
    visits = cur.execute("SELECT visit_id, visited_at, visitor_id, place, situation FROM visits WHERE hh_id = ?"
                         " ORDER BY visited_at DESC", [hh_id]).df()
    needs = cur.execute("SELECT need_id, raised_at, category, description, status, resolved_at FROM needs"
                        " WHERE hh_id = ? ORDER BY status = 'open' DESC, raised_at DESC", [hh_id]).df()
    aid = cur.execute("SELECT given_at, programme, kind, amount_yuan, items, goods_value_yuan, giver_unit"
                      " FROM assistance WHERE hh_id = ? ORDER BY given_at DESC", [hh_id]).df()
    return {"details": det.iloc[0].to_dict(), "visits": visits, "needs": needs, "assistance": aid}
