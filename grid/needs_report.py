"""The needs' headline figures (诉求办理统计) for a scope and a period: how many were raised, how
many resolved or answered (the seeds' headline rate: one street resolved or answered 1,594 of
1,869, 85.3 %), how many on time, how many overdue and still open, and the follow-ups'
satisfaction — in total and per unit, category and cell.

:func:`load_frame` reads the needs of a scope raised in a period (the only SQL);
:func:`headline` and :func:`figures_by` are pure functions of that frame and a reference time.

Definitions
-----------
Period
    Needs raised (``raised_at``) from ``since`` 00:00 to the end of ``until`` (both dates
    inclusive; either may be open).
``as_of``
    The reference time: the end of the period, or now if that is earlier.
``raised``
    Needs raised in the period.
``resolved_or_answered``
    Of them, those with ``resolved_at`` at or before ``as_of`` (resolved, answered, or
    closed since: ``resolved_at`` is kept after closing).
``rate``
    ``resolved_or_answered / raised`` (``None`` when nothing was raised).
``on_time``
    Of the resolved or answered, those with ``resolved_at <= due_at``. A need settled
    without a due date (before the flow, or imported) is not on time. ``on_time_rate`` is
    ``on_time / resolved_or_answered``.
``open``, ``overdue_open``
    Not resolved or answered by ``as_of``; of them, those whose due date (their current
    one) is before ``as_of``.
``escalated``
    Escalated to the street at or before ``as_of``.
``closed``, ``satisfied``, ``basically_satisfied``, ``dissatisfied``
    Closed after the follow-up by ``as_of``, in total and by satisfaction.

Examples
--------
>>> t = pd.Timestamp
>>> f = pd.DataFrame({"unit_code": ["a", "a", None], "raised_at": [t("2026-11-02"), t("2026-11-03"), t("2026-11-04")],
...                   "due_at": [t("2026-11-06 23:59:59"), t("2026-11-05 23:59:59"), pd.NaT],
...                   "resolved_at": [t("2026-11-05"), pd.NaT, pd.NaT], "escalated_at": [pd.NaT] * 3,
...                   "closed_at": [pd.NaT] * 3, "satisfaction": [None] * 3})
>>> h = headline(f, t("2026-11-10"))
>>> h["raised"], h["resolved_or_answered"], round(h["rate"], 3), h["on_time"], h["overdue_open"]
(3, 1, 0.333, 1, 1)
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from grid import model
from grid.access import Scope, scope_sql
from grid.store import Store

__all__ = ["FIGURES", "FIGURE_LABELS", "load_frame", "as_of_for", "headline", "figures_by", "report"]

#: The figures, in the order they are shown and printed.
FIGURES: tuple[str, ...] = ("raised", "resolved_or_answered", "rate", "on_time", "on_time_rate", "open",
                            "overdue_open", "escalated", "closed", *model.SATISFACTION)
#: Chinese and English labels of :data:`FIGURES`.
FIGURE_LABELS: dict[str, tuple[str, str]] = {
    "raised": ("受理诉求", "raised"), "resolved_or_answered": ("已解决或已答复", "resolved or answered"),
    "rate": ("办结率", "rate"), "on_time": ("按期办结", "on time"), "on_time_rate": ("按期率", "on-time rate"),
    "open": ("未办结", "open"), "overdue_open": ("超期未办结", "overdue and open"),
    "escalated": ("超期升级", "escalated"), "closed": ("已回访", "followed up"),
    **{c: (t.zh, t.en) for c, t in model.SATISFACTION.items()},
}

_COLUMNS = ["need_id", "hh_id", "cell_id", "community_code", "category", "status", "unit_code", "raised_at",
            "assigned_at", "due_at", "resolved_at", "closed_at", "satisfaction", "escalated_at"]


def load_frame(store: Store, scope: Scope, since: date | None = None, until: date | None = None) -> pd.DataFrame:
    """The needs of the households in ``scope`` raised in the period (see the module's definitions).

    Columns ``need_id, hh_id, cell_id, community_code, category, status, unit_code, raised_at,
    assigned_at, due_at, resolved_at, closed_at, satisfaction, escalated_at``.
    """
    cond, params = scope_sql(scope, "h.cell_id")
    where = [cond]
    if since is not None:
        where.append("n.raised_at >= ?")
        params.append(datetime.combine(since, time.min))
    if until is not None:
        where.append("n.raised_at < ?")
        params.append(datetime.combine(until + timedelta(days=1), time.min))
    sql = ("SELECT n.need_id, n.hh_id, h.cell_id, c.community_code, n.category, n.status, n.unit_code, n.raised_at,"
           " n.assigned_at, n.due_at, n.resolved_at, n.closed_at, n.satisfaction, n.escalated_at"
           " FROM needs n JOIN households h USING (hh_id) LEFT JOIN cells c ON c.cell_id = h.cell_id"
           f" WHERE {' AND '.join(where)} ORDER BY n.need_id")
    return store.query(sql, params)[_COLUMNS]


def as_of_for(until: date | None, now: datetime | None = None) -> pd.Timestamp:
    """The reference time of a period ending ``until``: its end (the last microsecond), or ``now`` if earlier.

    >>> as_of_for(date(2026, 4, 30), datetime(2026, 11, 1))
    Timestamp('2026-04-30 23:59:59.999999')
    >>> as_of_for(None, datetime(2026, 11, 1, 9))
    Timestamp('2026-11-01 09:00:00')
    """
    ref = pd.Timestamp(now or datetime.now())
    if until is None:
        return ref
    end = pd.Timestamp(datetime.combine(until + timedelta(days=1), time.min)) - pd.Timedelta(microseconds=1)
    return min(ref, end)


def _counts(frame: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, Any]:
    res = pd.to_datetime(frame["resolved_at"])
    due = pd.to_datetime(frame["due_at"])
    settled = (res <= as_of).to_numpy()
    on_time = settled & (res <= due).fillna(False).to_numpy()
    open_ = ~settled
    overdue = open_ & (due < as_of).fillna(False).to_numpy()
    closed = (pd.to_datetime(frame["closed_at"]) <= as_of).to_numpy()
    sat = frame["satisfaction"].to_numpy(dtype=object)
    raised = len(frame)
    n_settled = int(settled.sum())
    out: dict[str, Any] = {
        "raised": raised,
        "resolved_or_answered": n_settled,
        "rate": n_settled / raised if raised else None,
        "on_time": int(on_time.sum()),
        "on_time_rate": int(on_time.sum()) / n_settled if n_settled else None,
        "open": int(open_.sum()),
        "overdue_open": int(overdue.sum()),
        "escalated": int((pd.to_datetime(frame["escalated_at"]) <= as_of).sum()),
        "closed": int(closed.sum()),
    }
    for code in model.SATISFACTION:
        out[code] = int((closed & (sat == code)).sum())
    return out


def headline(frame: pd.DataFrame, as_of: datetime | pd.Timestamp) -> dict[str, Any]:
    """The headline figures (:data:`FIGURES`) of a :func:`load_frame` frame at ``as_of``."""
    return _counts(frame, pd.Timestamp(as_of))


def figures_by(frame: pd.DataFrame, as_of: datetime | pd.Timestamp, by: str) -> pd.DataFrame:
    """The figures per value of ``by`` (``unit_code``, ``category``, ``cell_id`` or ``community_code``):
    one row per value that has a need (``None`` for needs without one — unassigned, or outside
    every cell), most needs first, then by the value.

    >>> t = pd.Timestamp
    >>> f = pd.DataFrame({"unit_code": ["a", "b", "a"], "raised_at": [t("2026-11-02")] * 3,
    ...                   "due_at": [pd.NaT] * 3, "resolved_at": [t("2026-11-03"), pd.NaT, pd.NaT],
    ...                   "escalated_at": [pd.NaT] * 3, "closed_at": [pd.NaT] * 3, "satisfaction": [None] * 3})
    >>> figures_by(f, t("2026-11-10"), "unit_code")[["unit_code", "raised", "resolved_or_answered"]].values.tolist()
    [['a', 2, 1], ['b', 1, 0]]
    """
    if by not in ("unit_code", "category", "cell_id", "community_code"):
        raise ValueError(f"cannot break the figures down by {by!r}")
    ref = pd.Timestamp(as_of)
    keys = frame[by].astype(object).where(frame[by].notna(), None)
    rows = []
    for key in pd.unique(keys.to_numpy(dtype=object)):
        part = frame.loc[(keys == key).to_numpy() if key is not None else keys.isna().to_numpy()]
        rows.append({by: key, **_counts(part, ref)})
    out = pd.DataFrame(rows, columns=[by, *FIGURES])
    if out.empty:
        return out
    out["_k"] = out[by].map(lambda v: "" if v is None else str(v))
    out = out.sort_values(["raised", "_k"], ascending=[False, True], kind="stable").drop(columns="_k")
    return out.reset_index(drop=True)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    recs = frame.replace({np.nan: None}).to_dict(orient="records")
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()} for r in recs]


def report(store: Store, scope: Scope, since: date | None = None, until: date | None = None, *,
           now: datetime | None = None) -> dict[str, Any]:
    """The whole report as one document: the period, ``as_of``, the headline figures, and the same
    figures per unit (``units``, each with its ``unit_code``), category and cell."""
    frame = load_frame(store, scope, since, until)
    ref = as_of_for(until, now)
    return {
        "from": since.isoformat() if since else None,
        "to": until.isoformat() if until else None,
        "as_of": ref.isoformat(),
        **headline(frame, ref),
        "units": _records(figures_by(frame, ref, "unit_code")),
        "categories": _records(figures_by(frame, ref, "category")),
        "cells": _records(figures_by(frame, ref, "cell_id")),
    }
