"""Who sees what: users, sign-in, scope, masking of personal data, and the audit log.

Five roles (codes in :data:`grid.model.USER_ROLES`):

- ``admin`` — everything (an empty scope means the whole database);
- ``leader`` — a district or a street, read-only, aggregates only: never
  household rows (:func:`households_visible`);
- ``committee`` — a street: plans and campaigns;
- ``warden`` — their own cells; the only non-admin who sees the personal data
  of households unmasked, and only in those cells;
- ``inspector`` — read-only, and the audit log.

A user's *scope* is a tuple of codes: 12-digit admin unit codes (district,
street, community) or cell ids. :func:`cells_in_scope` turns it into the set
of cell ids the user may see; an empty scope sees nothing (deny by default),
except an admin's, which sees everything.

Masking is done here, on the server side, before a frame reaches a page:
:func:`mask_households` and the pure functions :func:`mask_name`,
:func:`mask_phone` and :func:`mask_id`.

Every sign-in attempt and every sensitive action writes one row to
``audit_log`` through :func:`audit`; nothing in this module updates or
deletes that table.

Passwords are hashed with argon2id (argon2-cffi). :data:`HASHER` is read at
each call, so tests may replace it with a cheaper hasher.

Examples
--------
>>> mask_name("欧阳娜娜"), mask_phone("13800138000"), mask_id("11010519491231002X")
('欧阳**', '138****8000', '110105********002X')
>>> scope_key(User("li", "committee", ("350203002000", "350203001000")))
'committee|350203001000,350203002000'
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

import duckdb
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from grid import model
from grid.errors import Problem, ValidationError, WarmGridError
from grid.store import Store

__all__ = [
    "HASHER",
    "MAX_FAILED_LOGINS",
    "LOCKOUT",
    "AUDIT_ACTIONS",
    "COMPOUND_SURNAMES",
    "NAME_COLUMNS",
    "PHONE_COLUMNS",
    "ID_COLUMNS",
    "AccessError",
    "AuthError",
    "UnknownUserError",
    "User",
    "create_user",
    "set_password",
    "disable_user",
    "enable_user",
    "get_user",
    "list_users",
    "authenticate",
    "cells_in_scope",
    "scope_key",
    "scope_sql",
    "filter_households",
    "households_visible",
    "needs_unmasked",
    "mask_name",
    "mask_phone",
    "mask_id",
    "mask_households",
    "audit",
    "audit_log",
]

#: The password hasher (argon2id, argon2-cffi's defaults). Replace it in tests
#: with a cheap one, e.g. ``PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)``.
HASHER: PasswordHasher = PasswordHasher()

#: Consecutive failed sign-ins after which an account is locked.
MAX_FAILED_LOGINS = 5
#: How long a locked account stays locked.
LOCKOUT = timedelta(minutes=15)

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
    "cli_job",  # a command-line job run inside the app through its channel (grid.cli.AppJobs)
)

#: Two-character surnames (复姓) kept whole by :func:`mask_name`.
COMPOUND_SURNAMES: tuple[str, ...] = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙",
    "宇文", "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "澹台",
)

#: Column names (stored and Chinese headers) masked by :func:`mask_households`.
NAME_COLUMNS: tuple[str, ...] = ("head_name", "户主姓名", "姓名")
PHONE_COLUMNS: tuple[str, ...] = ("phone", "联系电话", "电话", "手机号")
ID_COLUMNS: tuple[str, ...] = ("id_number", "身份证号", "身份证号码")
#: Columns holding a household's cell id (stored and Chinese header).
_CELL_COLUMNS: tuple[str, ...] = ("cell_id", "网格编号")

_USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-\u3400-\u4dbf\u4e00-\u9fff]{3,32}")
_LANDLINE_RE = re.compile(r"(0\d{2,3})([- ])(\d{7,8})")
_MIN_PASSWORD = 8
_MAX_PASSWORD = 1024

_AUTH_ZH = (
    "用户名或密码错误，或账户已停用或暂时锁定（连续失败 {n} 次后锁定 {m} 分钟）。"
)
_AUTH_EN = (
    "Wrong username or password, or the account is disabled or temporarily locked "
    "(locked for {m} minutes after {n} consecutive failures)."
)


# --------------------------------------------------------------------------- errors
class AccessError(WarmGridError):
    """Base class of the errors of this module."""


class AuthError(AccessError):
    """Sign-in refused. The message is the same whatever the reason.

    It never tells whether the username exists, whether the account is
    locked or disabled; the reason is recorded in ``audit_log.object`` only.
    """

    def __init__(self) -> None:
        m = int(LOCKOUT.total_seconds() // 60)
        super().__init__(_AUTH_ZH.format(n=MAX_FAILED_LOGINS, m=m), _AUTH_EN.format(n=MAX_FAILED_LOGINS, m=m))


class UnknownUserError(AccessError):
    """An administrative operation named a user that does not exist."""

    def __init__(self, username: str) -> None:
        super().__init__(f"没有名为 {username} 的用户。", f"there is no user named {username}.")


# --------------------------------------------------------------------------- users
@dataclass(frozen=True)
class User:
    """A signed-in user.

    Parameters
    ----------
    username : str
        The unique sign-in name.
    role : str
        A code of :data:`grid.model.USER_ROLES`.
    scope : tuple of str
        Admin unit codes (12 digits) and cell ids. Empty: everything for an
        admin, nothing for anyone else.
    display_name : str or None
        The name shown in the app.
    person_id : str or None
        The ``people`` row of this user (a warden's, for example).
    """

    username: str
    role: str
    scope: tuple[str, ...] = ()
    display_name: str | None = None
    person_id: str | None = None


def _now(now: datetime | None) -> datetime:
    """Local naive time, as DuckDB's ``current_timestamp`` stores into TIMESTAMP."""
    if now is None:
        return datetime.now()
    if now.tzinfo is not None:
        return now.astimezone().replace(tzinfo=None)
    return now


def _username_problems(username: str) -> list[Problem]:
    if _USERNAME_RE.fullmatch(username):
        return []
    return [Problem("users", None, "username", username,
                    "用户名须为 3–32 个字符，只能包含字母、数字、_ . - 或汉字",
                    "a username is 3–32 characters: letters, digits, _ . - or Chinese characters")]


def _password_problems(password: str) -> list[Problem]:
    # The value is never put into the problem: a password must not be printed.
    if not isinstance(password, str) or len(password) < _MIN_PASSWORD:
        return [Problem("users", None, "password", "", f"密码至少 {_MIN_PASSWORD} 个字符",
                        f"a password has at least {_MIN_PASSWORD} characters")]
    if len(password) > _MAX_PASSWORD:
        return [Problem("users", None, "password", "", f"密码不能超过 {_MAX_PASSWORD} 个字符",
                        f"a password has at most {_MAX_PASSWORD} characters")]
    if password.isdigit():
        return [Problem("users", None, "password", "", "密码不能全是数字", "a password cannot be all digits")]
    return []


def _user_from_row(username: str, role: str, scope: Any, display_name: Any, person_id: Any) -> User:
    return User(username=str(username), role=str(role), scope=tuple(str(c) for c in (scope or ())),
                display_name=None if display_name is None else str(display_name),
                person_id=None if person_id is None else str(person_id))


def create_user(store: Store, username: str, password: str, role: str, scope: Iterable[str] = (), *,
                display_name: str | None = None, person_id: str | None = None,
                by: User | str | None = None) -> User:
    """Create a user with an argon2id password hash.

    Parameters
    ----------
    store : Store
        A store opened for writing.
    username : str
        3–32 characters: ASCII letters, digits, ``_ . -`` or Chinese characters;
        unique regardless of letter case. Surrounding spaces are removed.
    password : str
        At least 8 characters, not all digits.
    role : str
        A code of :data:`grid.model.USER_ROLES`.
    scope : iterable of str
        Codes present in ``admin_units.code`` or ``cells.cell_id``; stored
        sorted and without duplicates. An admin's empty scope means
        everything; anyone else's, nothing.
    display_name : str, optional
        The name shown in the app.
    person_id : str, optional
        Must exist in ``people.person_id``.
    by : User or str, optional
        Who does this, for the audit log (a user, or a label such as ``"cli"``).

    Returns
    -------
    User

    Raises
    ------
    ValidationError
        Once, listing every problem found.
    """
    username = username.strip()
    codes = sorted({str(c).strip() for c in scope})
    display = display_name.strip() if display_name and display_name.strip() else None
    problems = _username_problems(username) + _password_problems(password)
    if role not in model.USER_ROLES:
        problems.append(Problem("users", None, "role", str(role), "未知的角色（可选：" + "、".join(model.USER_ROLES) + "）",
                                "unknown role (one of: " + ", ".join(model.USER_ROLES) + ")"))
    if codes:
        known = set(store.query(
            "SELECT code FROM admin_units WHERE code IN (SELECT unnest(?::TEXT[]))"
            " UNION SELECT cell_id FROM cells WHERE cell_id IN (SELECT unnest(?::TEXT[]))", [codes, codes]
        ).iloc[:, 0].astype(str))
        for code in codes:
            if code not in known:
                problems.append(Problem("users", None, "scope", code, "行政区划或网格编号不存在",
                                        "no admin unit or cell has this code"))
        if role == "warden":  # a warden sees full details: only ever of their own cells
            cells = set(store.query("SELECT cell_id FROM cells WHERE cell_id IN (SELECT unnest(?::TEXT[]))", [codes])
                        .iloc[:, 0].astype(str))
            for code in codes:
                if code in known and code not in cells:
                    problems.append(Problem("users", None, "scope", code, "网格员的范围只能是网格编号",
                                            "a warden's scope may only name cells"))
    if person_id is not None and not store.scalar("SELECT count(*) FROM people WHERE person_id = ?", [person_id]):
        problems.append(Problem("users", None, "person_id", str(person_id), "人员不存在", "no such person"))
    if not problems and store.scalar("SELECT count(*) FROM users WHERE lower(username) = lower(?)", [username]):
        problems.append(Problem("users", None, "username", username, "用户名已存在", "this username is taken"))
    if problems:
        raise ValidationError(problems)
    pw_hash = HASHER.hash(password)
    user = User(username, role, tuple(codes), display, person_id)
    with store.transaction() as cur:
        # Checked again under the write lock: another writer may have taken the name.
        if cur.execute("SELECT count(*) FROM users WHERE lower(username) = lower(?)", [username]).fetchone() != (0,):
            raise ValidationError([Problem("users", None, "username", username, "用户名已存在",
                                           "this username is taken")])
        cur.execute(
            "INSERT INTO users (user_id, username, role, scope, password_hash, person_id, display_name,"
            " failed_logins) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            [uuid.uuid4().hex, username, role, codes, pw_hash, person_id, display],
        )
        audit(cur, by, "user_admin", object=f"create_user {username}", scope=list(codes))
    return user


def _require_user(cur: duckdb.DuckDBPyConnection, username: str) -> None:
    if cur.execute("SELECT count(*) FROM users WHERE username = ?", [username]).fetchone() == (0,):
        raise UnknownUserError(username)


def set_password(store: Store, username: str, password: str, *, by: User | str | None = None) -> None:
    """Set a user's password; this also clears failed sign-ins and any lock.

    Raises
    ------
    ValidationError
        If the password is too weak.
    UnknownUserError
        If there is no such user.
    """
    problems = _password_problems(password)
    if problems:
        raise ValidationError(problems)
    pw_hash = HASHER.hash(password)
    with store.transaction() as cur:
        _require_user(cur, username)
        cur.execute("UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE username = ?",
                    [pw_hash, username])
        audit(cur, by, "user_admin", object=f"set_password {username}")


def _set_disabled(store: Store, username: str, disabled: bool, by: User | str | None) -> None:
    with store.transaction() as cur:
        _require_user(cur, username)
        cur.execute("UPDATE users SET disabled = ? WHERE username = ?", [disabled, username])
        audit(cur, by, "user_admin", object=f"{'disable' if disabled else 'enable'}_user {username}")


def disable_user(store: Store, username: str, *, by: User | str | None = None) -> None:
    """Disable a user: every later sign-in is refused. The row is kept.

    Raises
    ------
    UnknownUserError
        If there is no such user.
    """
    _set_disabled(store, username, True, by)


def enable_user(store: Store, username: str, *, by: User | str | None = None) -> None:
    """Enable a disabled user again.

    Raises
    ------
    UnknownUserError
        If there is no such user.
    """
    _set_disabled(store, username, False, by)


def get_user(store: Store, username: str) -> User | None:
    """The enabled user of this name, or ``None`` (unknown or disabled).

    For a page to re-check its signed-in user on every run: a user disabled
    meanwhile gets ``None``.
    """
    frame = store.query(
        "SELECT username, role, scope, display_name, person_id FROM users WHERE username = ? AND NOT disabled",
        [username],
    )
    if frame.empty:
        return None
    r = frame.iloc[0]
    return _user_from_row(r["username"], r["role"], list(r["scope"]), _none(r["display_name"]),
                          _none(r["person_id"]))


def _none(value: Any) -> Any:
    return None if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)) else value


def list_users(store: Store, *, now: datetime | None = None) -> pd.DataFrame:
    """Every user, without password hashes, sorted by username.

    Columns: ``username, display_name, role, role_zh, scope`` (a list),
    ``person_id, disabled, locked`` (locked at ``now``), ``locked_until,
    failed_logins, last_login, created_at``.
    """
    frame = store.query(
        "SELECT username, display_name, role, scope, person_id, disabled, locked_until,"
        " coalesce(failed_logins, 0) AS failed_logins, last_login, created_at"
        " FROM users ORDER BY username"
    )
    at = _now(now)
    frame.insert(3, "role_zh", [model.USER_ROLES[r].zh if r in model.USER_ROLES else r for r in frame["role"]])
    frame["scope"] = [[str(c) for c in s] for s in frame["scope"]]
    locked = [pd.notna(t) and pd.Timestamp(t) > pd.Timestamp(at) for t in frame["locked_until"]]
    frame.insert(7, "locked", pd.Series(locked, index=frame.index, dtype=bool))
    return frame


# --------------------------------------------------------------------------- sign-in
_dummy: tuple[PasswordHasher, str] | None = None


def _dummy_verify(password: str) -> None:
    """Spend the time of a real check, so timing does not tell whether a user exists."""
    global _dummy
    if _dummy is None or _dummy[0] is not HASHER:
        _dummy = (HASHER, HASHER.hash("warmgrid-dummy-password"))
    try:
        HASHER.verify(_dummy[1], password)
    except (VerificationError, InvalidHashError):
        pass


def _verify(pw_hash: str | None, password: str) -> bool:
    if not pw_hash:
        _dummy_verify(password)
        return False
    try:
        return bool(HASHER.verify(pw_hash, password))
    except (VerificationError, InvalidHashError):
        return False


_USER_ROW_SQL = (
    "SELECT username, role, scope, display_name, person_id, password_hash, disabled,"
    " coalesce(failed_logins, 0), locked_until FROM users WHERE username = ?"
)


def authenticate(store: Store, username: str, password: str, *, now: datetime | None = None) -> User:
    """Check a username and password; return the user.

    After :data:`MAX_FAILED_LOGINS` consecutive failures an account is locked
    for :data:`LOCKOUT`; while locked it refuses even the right password.
    Attempts on a locked account neither count nor extend the lock; when the
    lock has passed, the count starts again from zero. A success resets the
    count, records ``last_login`` and rehashes the password when argon2's
    parameters have changed. Every attempt writes exactly one audit row:
    ``login``, or ``login_failed`` with the reason in ``object``
    (``unknown_user``, ``wrong_password``, ``locked_now`` — this failure locked
    the account —, ``locked``, ``disabled``).

    Parameters
    ----------
    store : Store
        A store opened for writing (the attempt is recorded).
    username, password : str
        As typed; surrounding spaces are removed from the username only.
    now : datetime, optional
        The time of the attempt (default: now, local time).

    Returns
    -------
    User

    Raises
    ------
    AuthError
        With the same message whatever the reason.
    """
    at = _now(now)
    name = str(username).strip()[:64]
    row = store.cursor().execute(_USER_ROW_SQL, [name]).fetchone()
    if row is None:
        _dummy_verify(password)
        _fail(store, name, None, "unknown_user")
    user = _user_from_row(row[0], row[1], row[2], row[3], row[4])
    pw_hash, disabled, locked_until = row[5], bool(row[6]), row[8]
    if disabled:
        _dummy_verify(password)
        _fail(store, name, user, "disabled")
    if locked_until is not None and locked_until > at:
        _dummy_verify(password)
        _fail(store, name, user, "locked")
    if not _verify(pw_hash, password):
        _fail(store, name, user, "wrong_password", count=True, at=at)
    new_hash = HASHER.hash(password) if HASHER.check_needs_rehash(pw_hash) else None
    with store.transaction(data=False) as cur:
        # Re-read under the write lock: the account may have been locked or
        # disabled, or its password changed, since the check above.
        now_row = cur.execute(_USER_ROW_SQL, [name]).fetchone()
        if now_row is None or now_row[5] != pw_hash or bool(now_row[6]) or (
                now_row[8] is not None and now_row[8] > at):
            audit(cur, user, "login_failed", object="changed_during_login")
            raise_after = True
        else:
            raise_after = False
            cur.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login = ?,"
                " password_hash = coalesce(?, password_hash) WHERE username = ?",
                [at, new_hash, name],
            )
            audit(cur, user, "login")
    if raise_after:
        raise AuthError()
    return user


def _fail(store: Store, name: str, user: User | None, reason: str, *, count: bool = False,
          at: datetime | None = None) -> NoReturn:
    """Record a failed attempt (and count it, for a wrong password); raise :class:`AuthError`."""
    with store.transaction(data=False) as cur:
        if count and at is not None:
            row = cur.execute("SELECT coalesce(failed_logins, 0), locked_until FROM users WHERE username = ?",
                              [name]).fetchone()
            if row is not None:
                failures, locked_until = int(row[0]), row[1]
                if locked_until is not None and locked_until > at:
                    reason = "locked"  # locked meanwhile by a concurrent attempt: neither count nor extend
                else:
                    if locked_until is not None:
                        failures = 0  # the lock has passed: start again
                    failures += 1
                    lock = at + LOCKOUT if failures >= MAX_FAILED_LOGINS else None
                    cur.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE username = ?",
                                [failures, lock, name])
                    if lock is not None:
                        reason = "locked_now"
        audit(cur, user if user is not None else name, "login_failed", object=reason)
    raise AuthError()


# --------------------------------------------------------------------------- scope
_SCOPE_CELLS_SQL = """
WITH RECURSIVE up(community_code, code, depth) AS (
    SELECT DISTINCT community_code, community_code, 0 FROM cells
    UNION ALL
    SELECT up.community_code, a.parent_code, up.depth + 1
    FROM up JOIN admin_units a ON a.code = up.code
    WHERE a.parent_code IS NOT NULL AND up.depth < 8
)
SELECT c.cell_id FROM cells c
WHERE c.cell_id IN (SELECT unnest($scope::TEXT[]))
   OR c.community_code IN (SELECT community_code FROM up WHERE code IN (SELECT unnest($scope::TEXT[])))
"""


def cells_in_scope(store: Store, user: User) -> frozenset[str]:
    """The ids of the cells a user may see.

    An admin with an empty scope sees every cell. Otherwise, the cells whose
    ``cell_id`` is in the scope, or whose community, or an ancestor of it
    (street, district, following ``admin_units.parent_code``), is in the
    scope. Anyone else with an empty scope sees nothing (deny by default).

    Parameters
    ----------
    store : Store
    user : User

    Returns
    -------
    frozenset of str
    """
    if not user.scope:
        if user.role == "admin":
            return frozenset(store.query("SELECT cell_id FROM cells")["cell_id"].astype(str))
        return frozenset()
    frame = store.query(_SCOPE_CELLS_SQL, {"scope": list(user.scope)})
    return frozenset(frame["cell_id"].astype(str))


def scope_key(user: User) -> str:
    """A stable key for caches of scoped results: the role and the sorted scope.

    Examples
    --------
    >>> scope_key(User("a", "admin"))
    'admin|'
    >>> scope_key(User("w", "warden", ("2", "1", "2")))
    'warden|1,2'
    """
    return f"{user.role}|{','.join(sorted(set(user.scope)))}"


def scope_sql(cells: Collection[str], column: str = "cell_id") -> tuple[str, list[Any]]:
    """A SQL condition and its bound parameter restricting ``column`` to ``cells``.

    ``column`` must be a column name written by the caller, never user input.

    Examples
    --------
    >>> scope_sql({"b", "a"}, "h.cell_id")
    ('h.cell_id IN (SELECT unnest(?::TEXT[]))', [['a', 'b']])
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", column):
        raise ValueError(f"not a column name: {column!r}")
    return f"{column} IN (SELECT unnest(?::TEXT[]))", [sorted(cells)]


def filter_households(frame: pd.DataFrame, cells: Collection[str], *, column: str | None = None) -> pd.DataFrame:
    """The rows of ``frame`` whose cell is in ``cells`` (a copy).

    Works on any frame with a cell id column (households, cells, per-cell
    tables). Rows with no cell (a household outside every cell) are dropped.

    Parameters
    ----------
    frame : DataFrame
    cells : collection of str
        From :func:`cells_in_scope`.
    column : str, optional
        The cell id column; default ``cell_id``, else ``网格编号``.

    Examples
    --------
    >>> f = pd.DataFrame({"hh_id": ["h1", "h2", "h3"], "cell_id": ["c1", "c2", None]})
    >>> filter_households(f, {"c1"})["hh_id"].tolist()
    ['h1']
    """
    col = column or _find(frame, _CELL_COLUMNS)
    if col is None:
        raise KeyError("the frame has no cell id column (cell_id or 网格编号)")
    keep = frame[col].astype(object).isin(list(cells))
    return frame.loc[keep].copy()


def _find(frame: pd.DataFrame, names: Sequence[str]) -> str | None:
    return next((n for n in names if n in frame.columns), None)


# --------------------------------------------------------------------------- masking
def households_visible(user: User) -> bool:
    """Whether a user may see household rows at all (leaders see only counts).

    Examples
    --------
    >>> households_visible(User("l", "leader")), households_visible(User("i", "inspector"))
    (False, True)
    """
    return user.role != "leader"


def needs_unmasked(user: User, cell_id: str | None, own_cells: Collection[str]) -> bool:
    """Whether a household's personal data is shown unmasked to a user.

    True only for an admin, and for a warden on a household in one of their
    own cells (``own_cells``: the warden's :func:`cells_in_scope`).

    Examples
    --------
    >>> needs_unmasked(User("w", "warden", ("c1",)), "c1", {"c1"})
    True
    >>> needs_unmasked(User("c", "committee", ("s",)), "c1", {"c1"})
    False
    """
    if user.role == "admin":
        return True
    return user.role == "warden" and cell_id is not None and cell_id in own_cells


def _stars(n: int) -> str:
    return "*" * max(n, 0)


def mask_name(name: str | None) -> str | None:
    """Mask a name: keep the surname (a compound one whole), star the rest.

    Empty and missing names are returned as they are.

    Examples
    --------
    >>> [mask_name(n) for n in ["张", "张三", "张三丰", "张三丰四", "欧阳娜娜", "欧阳娜", "司马"]]
    ['*', '张*', '张**', '张***', '欧阳**', '欧阳*', '司*']
    >>> mask_name(""), mask_name(None)
    ('', None)
    """
    if not name:
        return name
    text = name.strip()
    if len(text) <= 1:
        return _stars(len(text)) or name
    keep = 2 if len(text) > 2 and text[:2] in COMPOUND_SURNAMES else 1
    return text[:keep] + _stars(len(text) - keep)


def mask_phone(phone: str | None) -> str | None:
    """Mask a phone number.

    A mobile (11 digits) keeps the first 3 and last 4; a landline written with
    its area code (``0592-1234567``) keeps the area code and the last 4; any
    other keeps the first 3 and last 2 characters (all starred when 5 or fewer).

    Examples
    --------
    >>> mask_phone("13800138000"), mask_phone("0592-1234567"), mask_phone("010 87654321")
    ('138****8000', '0592-***4567', '010 ****4321')
    >>> mask_phone("12345678"), mask_phone("12345"), mask_phone(None)
    ('123***78', '*****', None)
    """
    if not phone:
        return phone
    text = phone.strip()
    m = _LANDLINE_RE.fullmatch(text)
    if m:
        local = m.group(3)
        return m.group(1) + m.group(2) + _stars(len(local) - 4) + local[-4:]
    if len(text) == 11 and text.isdigit():
        return text[:3] + "****" + text[-4:]
    if len(text) <= 5:
        return _stars(len(text))
    return text[:3] + _stars(len(text) - 5) + text[-2:]


def mask_id(id_number: str | None) -> str | None:
    """Mask a resident ID number: the first 6 (region) and last 4 characters stay.

    18 characters give 8 stars, 15 give 5; anything else is starred whole.

    Examples
    --------
    >>> mask_id("11010519491231002X")
    '110105********002X'
    >>> mask_id("110105491231002")
    '110105*****1002'
    >>> mask_id("AB12"), mask_id(None)
    ('****', None)
    """
    if not id_number:
        return id_number
    text = id_number.strip()
    if len(text) in (15, 18):
        return text[:6] + _stars(len(text) - 10) + text[-4:]
    return _stars(len(text))


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number read as a number
    return str(value)


def mask_households(frame: pd.DataFrame, user: User, own_cells: Collection[str]) -> pd.DataFrame:
    """A copy of a household frame with personal data masked for ``user``.

    Names (``head_name``, ``户主姓名``, ``姓名``), phones (``phone``,
    ``联系电话``, ``电话``, ``手机号``) and ID numbers (``id_number``,
    ``身份证号``, ``身份证号码``) are masked on every row that
    :func:`needs_unmasked` does not release. A warden's rows are released by
    the frame's ``cell_id`` (or ``网格编号``) column; without one, every row is
    masked. A leader gets no rows at all (the columns are kept).

    Parameters
    ----------
    frame : DataFrame
    user : User
    own_cells : collection of str
        The user's :func:`cells_in_scope`.

    Examples
    --------
    >>> f = pd.DataFrame({"cell_id": ["c1", "c2"], "head_name": ["张三", "李四"]})
    >>> mask_households(f, User("w", "warden", ("c1",)), {"c1"})["head_name"].tolist()
    ['张三', '李*']
    >>> len(mask_households(f, User("l", "leader", ("d",)), {"c1", "c2"}))
    0
    """
    if not households_visible(user):
        return frame.iloc[0:0].copy()
    out = frame.copy()
    if user.role == "admin":
        return out
    cell_col = _find(out, _CELL_COLUMNS)
    if cell_col is not None and user.role == "warden":
        cells = out[cell_col].astype(object)
        hide = pd.Series([not needs_unmasked(user, None if pd.isna(c) else str(c), own_cells) for c in cells],
                         index=out.index, dtype=bool)
    else:
        hide = pd.Series(True, index=out.index, dtype=bool)
    if not hide.any():
        return out
    for names, fn in ((NAME_COLUMNS, mask_name), (PHONE_COLUMNS, mask_phone), (ID_COLUMNS, mask_id)):
        for col in names:
            if col not in out.columns:
                continue
            values = out[col].astype(object)
            masked = [fn(_as_text(v)) if h and v is not None and not pd.isna(v) else v
                      for v, h in zip(values, hide, strict=True)]
            out[col] = pd.Series(masked, index=out.index, dtype=object)
    return out


# --------------------------------------------------------------------------- audit
def audit(store_or_cursor: Store | duckdb.DuckDBPyConnection, user: User | str | None, action: str,
          object: str | None = None, scope: Iterable[str] | None = None, row_count: int | None = None) -> int:
    """Append one row to ``audit_log``; return its ``log_id``.

    Parameters
    ----------
    store_or_cursor : Store or DuckDBPyConnection
        A store (the row is written in a transaction, joining one already
        open in this thread), or the cursor of an open transaction.
    user : User, str or None
        Who acted: a user, a bare name (an unknown sign-in name, ``"cli"``),
        or nobody.
    action : str
        One of :data:`AUDIT_ACTIONS`.
    object : str, optional
        What was acted on (a table, a household id, a file name, a reason).
    scope : iterable of str, optional
        The codes concerned; default: the user's scope (``NULL`` without a user).
    row_count : int, optional
        How many rows were read or written.

    Raises
    ------
    ValueError
        For an action outside the vocabulary or a negative ``row_count``.
    """
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; one of {AUDIT_ACTIONS}")
    if row_count is not None and row_count < 0:
        raise ValueError("row_count must not be negative")
    username: str | None
    role: str | None
    codes: list[str] | None
    if isinstance(user, User):
        username, role = user.username, user.role
        codes = list(user.scope) if scope is None else [str(c) for c in scope]
    else:
        username, role = user, None
        codes = None if scope is None else [str(c) for c in scope]
    params = [username, role, action, object, codes, row_count]
    sql = ("INSERT INTO audit_log (username, role, action, object, scope, row_count)"
           " VALUES (?, ?, ?, ?, ?::TEXT[], ?) RETURNING log_id")
    if isinstance(store_or_cursor, Store):
        with store_or_cursor.transaction(data=False) as cur:  # bookkeeping: caches stay valid
            row = cur.execute(sql, params).fetchone()
    else:
        row = store_or_cursor.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def audit_log(store: Store, *, username: str | None = None, action: str | Iterable[str] | None = None,
              since: datetime | date | None = None, until: datetime | date | None = None,
              limit: int | None = 1000) -> pd.DataFrame:
    """Rows of ``audit_log``, newest first, for the inspector's page.

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
        or ``None``), ``row_count``.
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
    sql = "SELECT log_id, logged_at, username, role, action, object, scope, row_count FROM audit_log"
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
