"""grid.users: accounts, sign-in slowed per user and client address, sessions re-checked, ``python -m grid user``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from argon2 import PasswordHasher

from grid import audit, users
from grid.cli import main
from grid.errors import AuthError, UnknownUserError, ValidationError
from grid.store import Store, open_store
from grid.users import User

ROOT = Path(__file__).resolve().parent.parent
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
T0 = datetime(2026, 3, 1, 9, 0, 0)
PW = "correct horse 9"


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "HASHER", CHEAP)


@pytest.fixture()
def db_copy(district_file, tmp_path: Path) -> Path:
    """A copy of the small district without its demo accounts: these tests start from no users."""
    path = tmp_path / "copy.duckdb"
    shutil.copyfile(district_file[0], path)
    with open_store(path) as s, s.transaction() as cur:  # test set-up on a copy, not app behaviour
        cur.execute("DELETE FROM users")
        cur.execute("DELETE FROM audit_log")
    return path


@pytest.fixture()
def wstore(db_copy: Path) -> Iterator[Store]:
    s = open_store(db_copy)
    yield s
    s.close()


def _codes(store: Store) -> dict[str, str]:
    units = store.query("SELECT code, level FROM admin_units ORDER BY code")
    cell = store.scalar("SELECT min(cell_id) FROM cells")
    first = {lvl: str(units.loc[units["level"] == lvl, "code"].iloc[0]) for lvl in ("district", "street", "community")}
    return {**first, "cell": str(cell)}


def _audit_rows(store: Store) -> pd.DataFrame:
    return store.query("SELECT * FROM audit_log ORDER BY log_id")


def _fail(store: Store, name: str, n: int, *, client: str, at: datetime, pw: str = "wrong-password") -> None:
    for _ in range(n):
        with pytest.raises(AuthError):
            users.authenticate(store, name, pw, client=client, now=at)


# --------------------------------------------------------------------------- users
def test_create_and_authenticate(wstore: Store) -> None:
    codes = _codes(wstore)
    person = str(wstore.scalar("SELECT min(person_id) FROM people"))
    made = users.create_user(wstore, " 王网格 ", PW, "warden", [codes["cell"], codes["cell"]],
                              display_name="王五", person_id=person)
    assert made == User("王网格", "warden", (codes["cell"],), "王五", person)
    got, fp = users.authenticate(wstore, "王网格", PW, now=T0)
    assert got == made and fp == users.fingerprint(wstore.scalar("SELECT password_hash FROM users WHERE username = '王网格'"))
    assert users.get_user(wstore, "王网格") == made
    listed = users.list_users(wstore)
    assert "password_hash" not in listed.columns
    assert not listed.astype(str).apply(lambda c: c.str.contains(r"\$argon2")).any().any()
    row = listed.set_index("username").loc["王网格"]
    assert row["last_login"] == pd.Timestamp(T0) and row["failures"] == 0 and not row["blocked"]
    assert row["scope"] == [codes["cell"]] and row["role_zh"] == "网格员"
    stored = wstore.scalar("SELECT password_hash FROM users WHERE username = '王网格'")
    assert stored.startswith("$argon2id$") and PW not in stored


def test_wrong_password_and_unknown_user_give_the_same_message(wstore: Store) -> None:
    users.create_user(wstore, "alice", PW, "committee", [_codes(wstore)["street"]])
    with pytest.raises(AuthError) as wrong:
        users.authenticate(wstore, "alice", "not the password")
    with pytest.raises(AuthError) as unknown:
        users.authenticate(wstore, "nobody_here", "not the password")
    assert str(wrong.value) == str(unknown.value)
    assert type(wrong.value) is type(unknown.value)
    assert "alice" not in str(wrong.value) and "nobody_here" not in str(unknown.value)
    assert wrong.value.zh and wrong.value.en
    reasons = _audit_rows(wstore)["object"].tolist()[-2:]
    assert reasons == ["wrong_password", "unknown_user"]


def test_disabled_user_is_refused_with_the_same_message(wstore: Store) -> None:
    users.create_user(wstore, "erin", PW, "admin", [])
    users.disable_user(wstore, "erin", by="test")
    with pytest.raises(AuthError) as disabled:
        users.authenticate(wstore, "erin", PW)
    with pytest.raises(AuthError) as unknown:
        users.authenticate(wstore, "nobody_here", PW)
    assert str(disabled.value) == str(unknown.value)
    assert users.get_user(wstore, "erin") is None
    assert users.list_users(wstore).set_index("username").loc["erin", "disabled"]
    users.enable_user(wstore, "erin")
    assert users.authenticate(wstore, "erin", PW)[0] == User("erin", "admin", (), None, None)
    assert users.get_user(wstore, "erin") == User("erin", "admin", (), None, None)
    with pytest.raises(UnknownUserError):
        users.disable_user(wstore, "nobody_here")


def test_set_password_replaces_the_old_one_and_clears_a_lock(wstore: Store) -> None:
    users.create_user(wstore, "frank", PW, "inspector", [])
    for _ in range(5):
        with pytest.raises(AuthError):
            users.authenticate(wstore, "frank", "wrong-password")
    users.set_password(wstore, "frank", "a new password 2")
    with pytest.raises(AuthError):
        users.authenticate(wstore, "frank", PW)
    assert users.authenticate(wstore, "frank", "a new password 2")[0].username == "frank"
    with pytest.raises(ValidationError):
        users.set_password(wstore, "frank", "12345678")
    with pytest.raises(UnknownUserError):
        users.set_password(wstore, "nobody_here", "good password 1")


def test_rehash_when_argon2_parameters_change(wstore: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    users.create_user(wstore, "gina", PW, "inspector", [])
    old = wstore.scalar("SELECT password_hash FROM users WHERE username = 'gina'")
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert stronger.check_needs_rehash(old)
    monkeypatch.setattr(users, "HASHER", stronger)
    users.authenticate(wstore, "gina", PW)
    new = wstore.scalar("SELECT password_hash FROM users WHERE username = 'gina'")
    assert new != old and not stronger.check_needs_rehash(new)
    assert users.authenticate(wstore, "gina", PW)[0].username == "gina"


def test_validation_problems_are_listed_together(wstore: Store) -> None:
    with pytest.raises(ValidationError) as exc:
        users.create_user(wstore, "a b", "1234567", "boss", ["999999999999", "12345", _codes(wstore)["cell"]],
                           person_id="no-such-person")
    fields = sorted(p.field for p in exc.value.problems)
    assert fields == ["password", "person_id", "role", "scope", "scope", "username"]
    assert {p.value for p in exc.value.problems if p.field == "scope"} == {"999999999999", "12345"}
    assert "1234567" not in str(exc.value)  # the password is never echoed
    assert wstore.count("users") == 0
    with pytest.raises(ValidationError) as digits:
        users.create_user(wstore, "harry", "1234567890", "admin", [])
    assert [p.field for p in digits.value.problems] == ["password"]


def test_username_rules(wstore: Store) -> None:
    good = ["abc", "li.wei-2_x", "张三丰", "网格员001", "a" * 32, " padded "]
    bad = ["ab", "张三", "a" * 33, "a b", "user@x", "abc\ndef", "", "名字！"]
    for name in good:
        assert users.create_user(wstore, name, PW, "admin", []).username == name.strip()
    for name in bad:
        with pytest.raises(ValidationError) as exc:
            users.create_user(wstore, name, PW, "admin", [])
        assert [p.field for p in exc.value.problems] == ["username"], name
    assert sorted(users.list_users(wstore)["username"]) == sorted(n.strip() for n in good)


def test_usernames_are_unique_regardless_of_case(wstore: Store) -> None:
    users.create_user(wstore, "Ivan", PW, "admin", [])
    with pytest.raises(ValidationError) as exc:
        users.create_user(wstore, "ivan", PW, "admin", [])
    assert "用户名已存在" in str(exc.value)


# --------------------------------------------------------------------------- throttling
def test_five_guesses_from_anywhere_cannot_lock_admin_out(wstore: Store) -> None:
    """Finding 11.5: five wrong passwords used to lock the account itself for everyone."""
    users.create_user(wstore, "admin2", PW, "admin", [])
    users.authenticate(wstore, "admin2", PW, client="10.0.0.1", now=T0)  # the administrator's own desk
    _fail(wstore, "admin2", users.ROUND, client="203.0.113.9", at=T0)  # an attacker elsewhere
    # The attacker's address is slowed down; the administrator signs in at once, from their desk and elsewhere.
    assert users.authenticate(wstore, "admin2", PW, client="10.0.0.1", now=T0)[0].role == "admin"
    assert users.authenticate(wstore, "admin2", PW, client="10.0.0.7", now=T0)[0].role == "admin"
    with pytest.raises(AuthError):
        users.authenticate(wstore, "admin2", PW, client="203.0.113.9", now=T0)  # even the right password, there


def test_blocks_grow_round_by_round_then_lock_the_address(wstore: Store) -> None:
    users.create_user(wstore, "bob", PW, "inspector", [])
    at, where = T0, "198.51.100.4"
    for rnd in range(1, users.LOCK_ROUNDS + 1):
        _fail(wstore, "bob", users.ROUND, client=where, at=at)
        until = wstore.scalar("SELECT blocked_until FROM login_throttle WHERE username = 'bob' AND client = ?",
                              [where])
        assert until == at + users.block_delay(rnd)
        # Blocked: even the right password is refused, and the attempt neither counts nor extends the block.
        with pytest.raises(AuthError) as blocked:
            users.authenticate(wstore, "bob", PW, client=where, now=until - timedelta(seconds=1))
        with pytest.raises(AuthError) as unknown:
            users.authenticate(wstore, "nobody_here", PW, client="192.0.2.55", now=at)
        assert str(blocked.value) == str(unknown.value)
        assert wstore.scalar("SELECT blocked_until FROM login_throttle WHERE username = 'bob' AND client = ?",
                             [where]) == until
        at = until + timedelta(seconds=1)
    assert [users.block_delay(r) for r in range(1, 4)] == [timedelta(minutes=1), timedelta(minutes=2),
                                                         timedelta(minutes=4)]
    assert users.block_delay(users.LOCK_ROUNDS) == users.LOCKOUT
    assert users.list_users(wstore, now=T0).set_index("username").loc["bob", "blocked"]
    # After the lock-out the right password works and clears the address's count.
    assert users.authenticate(wstore, "bob", PW, client=where, now=at)[0].username == "bob"
    state = wstore.query("SELECT failures, rounds, blocked_until IS NULL AS free FROM login_throttle"
                         " WHERE username = 'bob'").iloc[0].tolist()
    assert state == [0, 0, True]
    reasons = audit.read(wstore, username="bob", limit=None).iloc[::-1]["object"].tolist()
    assert reasons.count("throttled_now") == users.LOCK_ROUNDS - 1 and reasons.count("locked_now") == 1
    assert reasons.count("throttled") == users.LOCK_ROUNDS - 1 and reasons.count("locked") == 1
    assert reasons.count("wrong_password") == users.LOCK_ROUNDS * (users.ROUND - 1)


def test_a_success_clears_the_count_of_its_address_only(wstore: Store) -> None:
    users.create_user(wstore, "dave", PW, "inspector", [])
    for _ in range(3):
        _fail(wstore, "dave", users.ROUND - 1, client="a", at=T0)
        users.authenticate(wstore, "dave", PW, client="a", now=T0)
    assert wstore.scalar("SELECT failures FROM login_throttle WHERE username = 'dave' AND client = 'a'") == 0
    _fail(wstore, "dave", 2, client="b", at=T0)
    users.authenticate(wstore, "dave", PW, client="a", now=T0)
    assert wstore.scalar("SELECT failures FROM login_throttle WHERE username = 'dave' AND client = 'b'") == 2


def test_a_password_spray_from_many_addresses_spares_known_ones(wstore: Store,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "SPRAY_FAILURES", 12)
    users.create_user(wstore, "erin", PW, "admin", [])
    users.authenticate(wstore, "erin", PW, client="known", now=T0)
    for i in range(users.SPRAY_FAILURES):
        _fail(wstore, "erin", 1, client=f"bot{i}", at=T0)
    with pytest.raises(AuthError):
        users.authenticate(wstore, "erin", PW, client="a-new-address", now=T0)
    assert audit.read(wstore, username="erin", limit=1)["object"].item() == "spray"
    assert users.authenticate(wstore, "erin", PW, client="known", now=T0)[0].username == "erin"
    later = T0 + users.SPRAY_WINDOW + timedelta(seconds=1)
    assert users.authenticate(wstore, "erin", PW, client="a-new-address", now=later)[0].username == "erin"


def test_attempts_show_in_the_audit_log_with_their_address(wstore: Store) -> None:
    users.create_user(wstore, "fay", PW, "inspector", [])
    _fail(wstore, "fay", 2, client="203.0.113.5", at=T0)
    users.authenticate(wstore, "fay", PW, client="10.1.1.1", now=T0)
    log = audit.read(wstore, username="fay", limit=None).iloc[::-1].astype(object)
    log = log.where(log.notna(), None)
    assert log[["action", "object", "client"]].values.tolist() == [
        ["login_failed", "wrong_password", "203.0.113.5"], ["login_failed", "wrong_password", "203.0.113.5"],
        ["login", None, "10.1.1.1"]]


def test_set_password_clears_blocked_addresses(wstore: Store) -> None:
    users.create_user(wstore, "gus", PW, "inspector", [])
    _fail(wstore, "gus", users.ROUND, client="x", at=T0)
    users.set_password(wstore, "gus", "another good one 7")
    assert users.authenticate(wstore, "gus", "another good one 7", client="x", now=T0)[0].username == "gus"


# --------------------------------------------------------------------------- sessions
def test_a_session_ends_when_the_account_is_disabled_or_its_password_changes(wstore: Store) -> None:
    """Finding 11.5: a session used to last until 30 idle minutes whatever happened to the account."""
    users.create_user(wstore, "hana", PW, "committee", [_codes(wstore)["street"]])
    user, fp = users.authenticate(wstore, "hana", PW)
    assert users.session_user(wstore, "hana", fp) == user
    users.set_password(wstore, "hana", "a changed password 3")
    assert users.session_user(wstore, "hana", fp) is None
    user, fp = users.authenticate(wstore, "hana", "a changed password 3")
    users.disable_user(wstore, "hana")
    assert users.session_user(wstore, "hana", fp) is None
    users.enable_user(wstore, "hana")
    assert users.session_user(wstore, "hana", fp) == user
    assert users.session_user(wstore, "nobody_here", fp) is None
    with wstore.transaction() as cur:  # an administrator narrows the scope: it takes effect at once
        cur.execute("UPDATE users SET scope = ? WHERE username = 'hana'", [[_codes(wstore)["community"]]])
    assert users.session_user(wstore, "hana", fp).scope == (_codes(wstore)["community"],)


# --------------------------------------------------------------------------- command line
def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grid", *args], capture_output=True, text=True, cwd=ROOT,
                          input=stdin if stdin is not None else "", timeout=120)


def test_cli_user_add_with_password_stdin_then_list(db_copy: Path) -> None:
    with open_store(db_copy, read_only=True) as s:
        street = str(s.scalar("SELECT min(code) FROM admin_units WHERE level = 'street'"))
    r = _run("user", "add", "张委员", "--role", "committee", "--scope", street, "--display-name", "张三",
             "--db", str(db_copy), "--password-stdin", stdin="s3cret pass word\n")
    assert r.returncode == 0, r.stderr
    assert "已创建用户" in r.stderr and "created user" in r.stderr
    r = _run("user", "list", "--db", str(db_copy), "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [(u["username"], u["role"], u["scope"], u["display_name"]) for u in listed] == \
        [("张委员", "committee", [street], "张三")]
    assert "password" not in r.stdout and "argon2" not in r.stdout
    with open_store(db_copy) as s:
        monkey = users.HASHER
        users.HASHER = PasswordHasher()  # the CLI used the default parameters
        try:
            assert users.authenticate(s, "张委员", "s3cret pass word")[0].role == "committee"
        finally:
            users.HASHER = monkey
        log = audit.read(s, action="user_admin")
        assert log["object"].tolist() == ["create_user 张委员"] and log["username"].iloc[0].startswith("cli")
    r = _run("user", "list", "--db", str(db_copy))
    assert r.returncode == 0 and "张委员" in r.stdout


@pytest.mark.parametrize("argv", [["--password", "abcdefgh12"], ["--password=abcdefgh12"], ["abcdefgh12"],
                                  ["--password"]])
def test_cli_never_takes_a_password_argument(db_copy: Path, argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["user", "add", "paul", "--role", "admin", "--db", str(db_copy), *argv])
    assert exc.value.code == 2
    with open_store(db_copy, read_only=True) as s:
        assert s.count("users") == 0


def test_cli_prompted_passwords_must_match(db_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import getpass

    answers = iter(["first password 1", "other password 2"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert main(["user", "add", "quinn", "--role", "admin", "--db", str(db_copy)]) == 1
    err = capsys.readouterr().err
    assert "两次输入的密码不一致" in err and "the two passwords differ" in err
    answers = iter(["good password 1", "good password 1"])
    assert main(["user", "add", "quinn", "--role", "admin", "--db", str(db_copy)]) == 0
    answers = iter(["newer password 2", "newer password 2"])
    assert main(["user", "passwd", "quinn", "--db", str(db_copy)]) == 0
    assert main(["user", "disable", "quinn", "--db", str(db_copy)]) == 0
    with open_store(db_copy) as s:
        assert users.list_users(s).set_index("username").loc["quinn", "disabled"]
        with pytest.raises(AuthError):
            users.authenticate(s, "quinn", "newer password 2")
        users.enable_user(s, "quinn")
        assert users.authenticate(s, "quinn", "newer password 2")[0].username == "quinn"


def test_cli_errors_in_both_languages(db_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("12345678\n"))
    assert main(["user", "add", "ab", "--role", "warden", "--scope", "999999999999", "--db", str(db_copy),
                 "--password-stdin"]) == 1
    err = capsys.readouterr().err
    assert "发现 3 个问题" in err and "3 problem(s) found" in err and "12345678" not in err
    assert main(["user", "disable", "nobody_here", "--db", str(db_copy)]) == 1
    err = capsys.readouterr().err
    assert "没有名为 nobody_here 的用户" in err and "there is no user named nobody_here" in err
    assert main(["user", "list", "--db", str(db_copy.with_name("none.duckdb"))]) == 1
    assert "database file not found" in capsys.readouterr().err
    assert not db_copy.with_name("none.duckdb").exists()


def test_cli_reports_a_database_held_by_another_process(wstore: Store, db_copy: Path) -> None:
    r = _run("user", "add", "rita", "--role", "admin", "--db", str(db_copy), "--password-stdin",
             stdin="good password 1\n")
    assert r.returncode == 1
    assert "正被另一个程序" in r.stderr and "held by another process" in r.stderr


def test_a_warden_scope_names_cells_only(district_file, tmp_path) -> None:
    import shutil

    from grid.errors import ValidationError
    from grid.store import open_store

    p = tmp_path / "w.duckdb"
    shutil.copyfile(district_file[0], p)
    with open_store(p) as s:
        street = str(s.scalar("SELECT min(code) FROM admin_units WHERE level = 'street'"))
        with pytest.raises(ValidationError, match="only name cells"):
            users.create_user(s, "warden2", "a-long-password", "warden", [street])


def test_a_display_name_with_control_characters_is_refused(wstore: Store) -> None:
    with pytest.raises(ValidationError) as exc:
        users.create_user(wstore, "zoe_x", PW, "admin", [], display_name="管理\u202e员")
    (p,) = exc.value.problems
    assert p.field == "display_name" and "U+202E" in p.zh and "\u202e" not in p.value
    assert wstore.count("users") == 0
