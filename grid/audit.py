"""The audit log: one append-only row per sign-in attempt, write, export, household
view and refused action.

:func:`record` appends a row, joining the caller's transaction when given its
cursor (so the row commits or rolls back with the change it describes);
:func:`read` returns rows for the audit page. Nothing in WarmGrid updates or
deletes ``audit_log``.

Who acted is an :class:`~grid.access.Actor`, a :class:`~grid.users.User`, a bare
name (an unknown sign-in name, ``"cli:alice"``) or nobody: anything with an
``audit_identity()`` method giving ``(name, role, scope codes)``.

Examples
--------
>>> from grid.store import open_store
>>> s = open_store(":memory:")
>>> record(s, "cli:alice", "export", object="households.csv", row_count=3) > 0
True
>>> read(s)[["username", "action", "object", "row_count"]].to_dict("records")
[{'username': 'cli:alice', 'action': 'export', 'object': 'households.csv', 'row_count': 3}]
>>> s.close()
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import duckdb
import pandas as pd

from grid.store import Store

__all__ = ["AUDIT_ACTIONS", "Identified", "record", "read", "identity"]

#: The vocabulary of ``audit_log.action``.
AUDIT_ACTIONS: tuple[str, ...] = (
    "login",
    "login_failed",
    "logout",
    "view_household",
    "create",
    "update",
    "delete",
    "import",
    "export",
    "user_admin",
    "denied",
    "cli_job",
)


@runtime_checkable
class Identified(Protocol):
    """Something that can say who it is for the audit log."""

    def audit_identity(self) -> tuple[str, str | None, list[str] | None]:
        """``(name, role, scope codes)`` of whoever acts."""
        ...


def identity(who: Identified | str | None) -> tuple[str | None, str | None, list[str] | None]:
    """The ``(username, role, scope)`` recorded for ``who``.

    Examples
    --------
    >>> identity("cli:bob"), identity(None)
    (('cli:bob', None, None), (None, None, None))
    """
    if who is None or isinstance(who, str):
        return who, None, None
    return who.audit_identity()


def record(target: Store | duckdb.DuckDBPyConnection, who: Identified | str | None, action: str,
           object: str | None = None, scope: Iterable[str] | None = None, row_count: int | None = None, *,
           client: str | None = None) -> int:
    """Append one row to ``audit_log``; return its ``log_id``.

    Parameters
    ----------
    target : Store or DuckDBPyConnection
        A store (the row is written in a transaction, joining one already
        open in this thread), or the cursor of an open transaction.
    who : Actor, User, str or None
        Who acted.
    action : str
        One of :data:`AUDIT_ACTIONS`.
    object : str, optional
        What was acted on (a table, a household id, a file name, a reason).
    scope : iterable of str, optional
        The codes concerned; default: the actor's scope (``NULL`` for a bare name).
    row_count : int, optional
        How many rows were read or written.
    client : str, optional
        The client's network address (sign-in attempts).

    Raises
    ------
    ValueError
        For an action outside the vocabulary or a negative ``row_count``.
    """
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; one of {AUDIT_ACTIONS}")
    if row_count is not None and row_count < 0:
        raise ValueError("row_count must not be negative")
    username, role, codes = identity(who)
    if scope is not None:
        codes = [str(c) for c in scope]
    params = [username, role, action, object, codes, row_count, client]
    sql = ("INSERT INTO audit_log (username, role, action, object, scope, row_count, client)"
           " VALUES (?, ?, ?, ?, ?::TEXT[], ?, ?) RETURNING log_id")
    if isinstance(target, Store):
        with target.transaction(data=False) as cur:  # bookkeeping: caches stay valid
            row = cur.execute(sql, params).fetchone()
    else:
        row = target.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def read(store: Store, *, username: str | None = None, action: str | Iterable[str] | None = None,
         since: datetime | date | None = None, until: datetime | date | None = None,
         limit: int | None = 1000) -> pd.DataFrame:
    """Rows of ``audit_log``, newest first.

    Parameters
    ----------
    store : Store
    username : str, optional
        Only this user's rows.
    action : str or iterable of str, optional
        Only these actions.
    since : datetime or date, optional
        Rows logged at or after this time (a date: from its start).
    until : datetime or date, optional
        Rows logged before this time (a date: up to its end, inclusive).
    limit : int or None
        At most this many rows (``None``: all).

    Returns
    -------
    DataFrame
        ``log_id, logged_at, username, role, action, object, scope`` (a list
        or ``None``), ``row_count, client``.
    """
    where: list[str] = []
    params: list[Any] = []
    if username is not None:
        where.append("username = ?")
        params.append(username)
    if action is not None:
        actions = [action] if isinstance(action, str) else list(action)
        where.append("list_contains(?::TEXT[], action)")
        params.append(actions)
    if since is not None:
        where.append("logged_at >= ?")
        params.append(since if isinstance(since, datetime) else datetime.combine(since, datetime.min.time()))
    if until is not None:
        where.append("logged_at < ?")
        params.append(until if isinstance(until, datetime)
                      else datetime.combine(until + timedelta(days=1), datetime.min.time()))
    sql = "SELECT log_id, logged_at, username, role, action, object, scope, row_count, client FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY logged_at DESC, log_id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(int(limit), 0))
    frame = store.query(sql, params)
    frame["scope"] = [None if s is None or (not hasattr(s, "__len__") and pd.isna(s)) else [str(c) for c in s]
                      for s in frame["scope"]]
    return frame
