"""Users and sign-in: accounts with argon2id password hashes, sign-in slowed down per
user and client address, and the check that a signed-in session is still valid.

Passwords are hashed with argon2id (argon2-cffi). :data:`HASHER` is read at each
call, so tests may replace it with a cheaper hasher.

Sign-in throttling
------------------
Wrong passwords are counted per (username, client address). Every
:data:`ROUND` of them blocks that address for a growing delay
(:func:`block_delay`: 1, 2, 4, 8 … minutes); after :data:`LOCK_ROUNDS` rounds the
address is blocked for :data:`LOCKOUT`. Only that address is slowed: five
guesses from anywhere can never lock ``admin`` out, and an address the user has
signed in from before keeps working while another is blocked. When many
addresses fail for one user (:data:`SPRAY_FAILURES` in :data:`SPRAY_WINDOW`), new
addresses are refused for a while, and known ones still sign in. Every attempt
writes one audit row (``login`` or ``login_failed`` with the reason and the
client address), so an administrator sees the attempts on the audit page.

Examples
--------
>>> block_delay(1), block_delay(3), block_delay(LOCK_ROUNDS)
(datetime.timedelta(seconds=60), datetime.timedelta(seconds=240), datetime.timedelta(seconds=3600))
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

import duckdb
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from grid import audit, model, validators
from grid.errors import AuthError, Problem, UnknownUserError, ValidationError
from grid.store import Store

__all__ = [
    "HASHER",
    "ROUND",
    "LOCK_ROUNDS",
    "FIRST_DELAY",
    "LOCKOUT",
    "SPRAY_FAILURES",
    "SPRAY_WINDOW",
    "User",
    "block_delay",
    "create_user",
    "set_password",
    "disable_user",
    "enable_user",
    "get_user",
    "session_user",
    "list_users",
    "authenticate",
    "fingerprint",
]

#: The password hasher (argon2id, argon2-cffi's defaults). Replace it in tests
#: with a cheap one, e.g. ``PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)``.
HASHER: PasswordHasher = PasswordHasher()

#: Wrong passwords from one address that make a round (and block the address a while).
ROUND = 5
#: Rounds after which the address is blocked for :data:`LOCKOUT`.
LOCK_ROUNDS = 4
#: The block after the first round; each further round doubles it.
FIRST_DELAY = timedelta(minutes=1)
#: The longest block, after :data:`LOCK_ROUNDS` rounds from one address.
LOCKOUT = timedelta(hours=1)
#: Failures for one user counted at the addresses that failed within :data:`SPRAY_WINDOW`,
#: after which addresses the user never signed in from are refused.
SPRAY_FAILURES = 50
SPRAY_WINDOW = timedelta(minutes=15)
#: The address recorded when the client's is unknown (a local session, the CLI).
LOCAL = "local"

_USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-\u3400-\u4dbf\u4e00-\u9fff]{3,32}")
_MIN_PASSWORD = 8
_MAX_PASSWORD = 1024


def block_delay(rounds: int) -> timedelta:
    """How long an address is blocked after its ``rounds``-th round of failures.

    Examples
    --------
    >>> [int(block_delay(r).total_seconds() // 60) for r in range(1, LOCK_ROUNDS + 1)]
    [1, 2, 4, 60]
    """
    if rounds <= 0:
        return timedelta(0)
    if rounds >= LOCK_ROUNDS:
        return LOCKOUT
    return FIRST_DELAY * (2 ** (rounds - 1))


@dataclass(frozen=True)
class User:
    """A user as stored (who may sign in, with what role and scope).

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

    def audit_identity(self) -> tuple[str, str | None, list[str] | None]:
        """``(username, role, scope)`` for the audit log."""
        return self.username, self.role, list(self.scope)


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
                by: audit.Identified | str | None = None) -> User:
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
    if display is not None:
        named = validators.check_characters(display)
        if not named.ok:
            problems.append(named.problem("users", None, "display_name", validators.visible(display)))
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
        audit.record(cur, by, "user_admin", object=f"create_user {username}", scope=list(codes))
    return user


def _require_user(cur: duckdb.DuckDBPyConnection, username: str) -> None:
    if cur.execute("SELECT count(*) FROM users WHERE username = ?", [username]).fetchone() == (0,):
        raise UnknownUserError(username)


def set_password(store: Store, username: str, password: str, *, by: audit.Identified | str | None = None) -> None:
    """Set a user's password; this also clears failed sign-ins and blocked addresses.

    Sessions signed in with the old password end at their next page run
    (:func:`session_user`).

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
        cur.execute("DELETE FROM login_throttle WHERE username = lower(?)", [username])
        audit.record(cur, by, "user_admin", object=f"set_password {username}")


def _set_disabled(store: Store, username: str, disabled: bool, by: audit.Identified | str | None) -> None:
    with store.transaction() as cur:
        _require_user(cur, username)
        cur.execute("UPDATE users SET disabled = ? WHERE username = ?", [disabled, username])
        audit.record(cur, by, "user_admin", object=f"{'disable' if disabled else 'enable'}_user {username}")


def disable_user(store: Store, username: str, *, by: audit.Identified | str | None = None) -> None:
    """Disable a user: every later sign-in is refused. The row is kept.

    Raises
    ------
    UnknownUserError
        If there is no such user.
    """
    _set_disabled(store, username, True, by)


def enable_user(store: Store, username: str, *, by: audit.Identified | str | None = None) -> None:
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
    ``person_id, disabled, blocked`` (some address blocked from signing in at
    ``now``), ``failures`` (wrong passwords counted against its addresses),
    ``last_login, created_at``.
    """
    at = _now(now)
    frame = store.query(
        "SELECT u.username, u.display_name, u.role, u.scope, u.person_id, u.disabled,"
        " coalesce(bool_or(t.blocked_until > ?), false) AS blocked, coalesce(sum(t.failures), 0)::INTEGER AS failures,"
        " u.last_login, u.created_at FROM users u LEFT JOIN login_throttle t ON t.username = lower(u.username)"
        " GROUP BY ALL ORDER BY u.username", [at])
    frame.insert(3, "role_zh", [model.USER_ROLES[r].zh if r in model.USER_ROLES else r for r in frame["role"]])
    frame["scope"] = [[str(c) for c in s] for s in frame["scope"]]
    frame["blocked"] = frame["blocked"].astype(bool)
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
    "SELECT username, role, scope, display_name, person_id, password_hash, disabled"
    " FROM users WHERE username = ?"
)


def fingerprint(pw_hash: str | None) -> str:
    """A short digest of a password hash: it changes when the password does.

    A session keeps it from sign-in; :func:`session_user` compares it on every
    page run, so a changed password signs every old session out.
    """
    return hashlib.sha256((pw_hash or "").encode()).hexdigest()[:16]


def _throttle_row(cur: duckdb.DuckDBPyConnection, name: str, client: str) -> tuple[int, int, Any, Any]:
    row = cur.execute("SELECT failures, rounds, blocked_until, succeeded_at FROM login_throttle"
                      " WHERE username = ? AND client = ?", [name.lower(), client]).fetchone()
    return (0, 0, None, None) if row is None else (int(row[0]), int(row[1]), row[2], row[3])


def _refusal(cur: duckdb.DuckDBPyConnection, name: str, client: str, at: datetime) -> str | None:
    """Why an attempt is refused before its password is checked (``None``: go on)."""
    _, rounds, blocked_until, succeeded_at = _throttle_row(cur, name, client)
    if blocked_until is not None and blocked_until > at:
        return "locked" if rounds >= LOCK_ROUNDS else "throttled"
    if succeeded_at is None:
        recent = cur.execute("SELECT coalesce(sum(failures), 0) FROM login_throttle WHERE username = ?"
                             " AND last_failure >= ?", [name.lower(), at - SPRAY_WINDOW]).fetchone()
        if recent is not None and int(recent[0]) >= SPRAY_FAILURES:
            return "spray"
    return None


def authenticate(store: Store, username: str, password: str, *, client: str | None = None,
                 now: datetime | None = None) -> tuple[User, str]:
    """Check a username and password; return the user and the :func:`fingerprint` of its password.

    Wrong passwords are counted per username and ``client`` address (see the
    module's notes): every :data:`ROUND` of them blocks that address for
    :func:`block_delay`, and after :data:`LOCK_ROUNDS` rounds for
    :data:`LOCKOUT`; an address the user never signed in from is refused
    while :data:`SPRAY_FAILURES` failures for the user from anywhere fall
    within :data:`SPRAY_WINDOW`. A blocked attempt is refused without
    checking the password and does not count. A success clears the address's
    count, marks it known, records ``last_login`` and rehashes the password
    when argon2's parameters have changed. Every attempt writes exactly one
    audit row: ``login``, or ``login_failed`` with the reason in ``object``
    (``unknown_user``, ``wrong_password``, ``throttled_now`` — this failure
    ended a round —, ``locked_now`` — it ended the last round —,
    ``throttled``, ``locked``, ``spray``, ``disabled``), and the address.

    Parameters
    ----------
    store : Store
        A store opened for writing (the attempt is recorded).
    username, password : str
        As typed; surrounding spaces are removed from the username only.
    client : str, optional
        The client's address (:data:`LOCAL` when unknown).
    now : datetime, optional
        The time of the attempt (default: now, local time).

    Raises
    ------
    AuthError
        With the same message whatever the reason.
    """
    at = _now(now)
    where = (client or LOCAL)[:100]
    name = str(username).strip()[:64]
    with store.transaction(data=False) as cur:
        refused = _refusal(cur, name, where, at)
    row = store.cursor().execute(_USER_ROW_SQL, [name]).fetchone()
    user = None if row is None else _user_from_row(row[0], row[1], row[2], row[3], row[4])
    if refused is not None:
        _dummy_verify(password)
        _fail(store, name, user, refused, where, at)
    if row is None:
        _dummy_verify(password)
        _fail(store, name, None, "unknown_user", where, at, count=True)
    assert user is not None
    pw_hash, disabled = row[5], bool(row[6])
    if disabled:
        _dummy_verify(password)
        _fail(store, name, user, "disabled", where, at)
    if not _verify(pw_hash, password):
        _fail(store, name, user, "wrong_password", where, at, count=True)
    new_hash = HASHER.hash(password) if HASHER.check_needs_rehash(pw_hash) else None
    with store.transaction(data=False) as cur:
        # Re-read under the write lock: the account may have been disabled, its password
        # changed or this address blocked since the checks above.
        now_row = cur.execute(_USER_ROW_SQL, [name]).fetchone()
        changed = now_row is None or now_row[5] != pw_hash or bool(now_row[6])
        if changed or _refusal(cur, name, where, at) is not None:
            audit.record(cur, user, "login_failed", object="changed_during_login", client=where)
            raise_after = True
        else:
            raise_after = False
            cur.execute("UPDATE users SET last_login = ?, password_hash = coalesce(?, password_hash)"
                        " WHERE username = ?", [at, new_hash, name])
            cur.execute("INSERT OR REPLACE INTO login_throttle (username, client, failures, rounds, blocked_until,"
                        " last_failure, succeeded_at) VALUES (?, ?, 0, 0, NULL, NULL, ?)",
                        [name.lower(), where, at])
            audit.record(cur, user, "login", client=where)
    if raise_after:
        raise AuthError()
    return user, fingerprint(new_hash or pw_hash)


def _fail(store: Store, name: str, user: User | None, reason: str, client: str, at: datetime, *,
          count: bool = False) -> NoReturn:
    """Record a failed attempt (and count it against the address); raise :class:`AuthError`."""
    with store.transaction(data=False) as cur:
        if count:
            failures, rounds, blocked_until, succeeded_at = _throttle_row(cur, name, client)
            if blocked_until is not None and blocked_until > at:
                reason = "locked" if rounds >= LOCK_ROUNDS else "throttled"  # blocked meanwhile: do not count
            else:
                failures += 1
                if failures % ROUND == 0:
                    rounds += 1
                    blocked_until = at + block_delay(rounds)
                    if reason == "wrong_password":
                        reason = "locked_now" if rounds >= LOCK_ROUNDS else "throttled_now"
                cur.execute("INSERT OR REPLACE INTO login_throttle (username, client, failures, rounds, blocked_until,"
                            " last_failure, succeeded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [name.lower(), client, failures, rounds, blocked_until, at, succeeded_at])
        audit.record(cur, user if user is not None else name, "login_failed", object=reason, client=client)
    raise AuthError()


def session_user(store: Store, username: str, fp: str) -> User | None:
    """The user of a signed-in session as stored now, or ``None`` if the session must end.

    ``None`` when the account is gone or disabled, or its password changed
    since the session signed in (``fp`` is the :func:`fingerprint` it got then).
    Otherwise the user with its current role, scope and names: a page re-reads
    this on every run, so a change by an administrator takes effect at once.
    """
    row = store.cursor().execute(_USER_ROW_SQL, [username]).fetchone()
    if row is None or bool(row[6]) or fingerprint(row[5]) != fp:
        return None
    return _user_from_row(row[0], row[1], row[2], row[3], row[4])
