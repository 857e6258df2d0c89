"""grid.access: users and sign-in, lock-out, scope, masking, the audit log, ``python -m grid user``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from argon2 import PasswordHasher

from grid import access
from grid.access import AuthError, User
from grid.cli import main
from grid.errors import ValidationError
from grid.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
T0 = datetime(2026, 3, 1, 9, 0, 0)
PW = "correct horse 9"


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "HASHER", CHEAP)


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


# --------------------------------------------------------------------------- users
def test_create_and_authenticate(wstore: Store) -> None:
    codes = _codes(wstore)
    person = str(wstore.scalar("SELECT min(person_id) FROM people"))
    made = access.create_user(wstore, " 王网格 ", PW, "warden", [codes["cell"], codes["cell"]],
                              display_name="王五", person_id=person)
    assert made == User("王网格", "warden", (codes["cell"],), "王五", person)
    got = access.authenticate(wstore, "王网格", PW, now=T0)
    assert got == made
    assert access.get_user(wstore, "王网格") == made
    users = access.list_users(wstore)
    assert "password_hash" not in users.columns
    assert not users.astype(str).apply(lambda c: c.str.contains(r"\$argon2")).any().any()
    row = users.set_index("username").loc["王网格"]
    assert row["last_login"] == pd.Timestamp(T0) and row["failed_logins"] == 0 and not row["locked"]
    assert row["scope"] == [codes["cell"]] and row["role_zh"] == "网格员"
    stored = wstore.scalar("SELECT password_hash FROM users WHERE username = '王网格'")
    assert stored.startswith("$argon2id$") and PW not in stored


def test_wrong_password_and_unknown_user_give_the_same_message(wstore: Store) -> None:
    access.create_user(wstore, "alice", PW, "committee", [_codes(wstore)["street"]])
    with pytest.raises(AuthError) as wrong:
        access.authenticate(wstore, "alice", "not the password")
    with pytest.raises(AuthError) as unknown:
        access.authenticate(wstore, "nobody_here", "not the password")
    assert str(wrong.value) == str(unknown.value)
    assert type(wrong.value) is type(unknown.value)
    assert "alice" not in str(wrong.value) and "nobody_here" not in str(unknown.value)
    assert wrong.value.zh and wrong.value.en
    reasons = _audit_rows(wstore)["object"].tolist()[-2:]
    assert reasons == ["wrong_password", "unknown_user"]


def test_lockout_after_five_failures_and_unlock_after_fifteen_minutes(wstore: Store) -> None:
    access.create_user(wstore, "bob", PW, "inspector", [])
    for i in range(access.MAX_FAILED_LOGINS):
        with pytest.raises(AuthError):
            access.authenticate(wstore, "bob", f"wrong-{i}-xx", now=T0 + timedelta(seconds=i))
    locked_until = wstore.scalar("SELECT locked_until FROM users WHERE username = 'bob'")
    assert locked_until == T0 + timedelta(seconds=4) + access.LOCKOUT
    # Locked: even the right password is refused, and the attempt neither counts nor extends the lock.
    with pytest.raises(AuthError) as locked:
        access.authenticate(wstore, "bob", PW, now=T0 + timedelta(minutes=10))
    with pytest.raises(AuthError) as unknown:
        access.authenticate(wstore, "nobody_here", PW, now=T0 + timedelta(minutes=10))
    assert str(locked.value) == str(unknown.value)
    assert wstore.scalar("SELECT locked_until FROM users WHERE username = 'bob'") == locked_until
    assert access.list_users(wstore, now=T0 + timedelta(minutes=10)).set_index("username").loc["bob", "locked"]
    # After the lock: the right password works and resets the count.
    user = access.authenticate(wstore, "bob", PW, now=locked_until + timedelta(seconds=1))
    assert user.role == "inspector"
    state = wstore.query("SELECT failed_logins, locked_until IS NULL AS unlocked FROM users WHERE username = 'bob'")
    assert state.iloc[0].tolist() == [0, True]
    log = access.audit_log(wstore, username="bob").iloc[::-1]
    assert log["action"].tolist() == ["login_failed"] * 6 + ["login"]
    assert log["object"].tolist()[:6] == ["wrong_password"] * 4 + ["locked_now", "locked"]


def test_lock_passes_then_counting_starts_again(wstore: Store) -> None:
    access.create_user(wstore, "carol", PW, "inspector", [])
    for _ in range(5):
        with pytest.raises(AuthError):
            access.authenticate(wstore, "carol", "wrong-password", now=T0)
    later = T0 + access.LOCKOUT + timedelta(seconds=1)
    with pytest.raises(AuthError):
        access.authenticate(wstore, "carol", "wrong-password", now=later)
    assert wstore.scalar("SELECT failed_logins FROM users WHERE username = 'carol'") == 1
    assert access.authenticate(wstore, "carol", PW, now=later).username == "carol"


def test_success_resets_the_count(wstore: Store) -> None:
    access.create_user(wstore, "dave", PW, "inspector", [])
    for _round in range(2):
        for _ in range(4):
            with pytest.raises(AuthError):
                access.authenticate(wstore, "dave", "wrong-password", now=T0)
        access.authenticate(wstore, "dave", PW, now=T0)
    assert wstore.scalar("SELECT failed_logins FROM users WHERE username = 'dave'") == 0


def test_disabled_user_is_refused_with_the_same_message(wstore: Store) -> None:
    access.create_user(wstore, "erin", PW, "admin", [])
    access.disable_user(wstore, "erin", by="test")
    with pytest.raises(AuthError) as disabled:
        access.authenticate(wstore, "erin", PW)
    with pytest.raises(AuthError) as unknown:
        access.authenticate(wstore, "nobody_here", PW)
    assert str(disabled.value) == str(unknown.value)
    assert access.get_user(wstore, "erin") is None
    assert access.list_users(wstore).set_index("username").loc["erin", "disabled"]
    access.enable_user(wstore, "erin")
    assert access.authenticate(wstore, "erin", PW) == User("erin", "admin", (), None, None)
    assert access.get_user(wstore, "erin") == User("erin", "admin", (), None, None)
    with pytest.raises(access.UnknownUserError):
        access.disable_user(wstore, "nobody_here")


def test_set_password_replaces_the_old_one_and_clears_a_lock(wstore: Store) -> None:
    access.create_user(wstore, "frank", PW, "inspector", [])
    for _ in range(5):
        with pytest.raises(AuthError):
            access.authenticate(wstore, "frank", "wrong-password")
    access.set_password(wstore, "frank", "a new password 2")
    with pytest.raises(AuthError):
        access.authenticate(wstore, "frank", PW)
    assert access.authenticate(wstore, "frank", "a new password 2").username == "frank"
    with pytest.raises(ValidationError):
        access.set_password(wstore, "frank", "12345678")
    with pytest.raises(access.UnknownUserError):
        access.set_password(wstore, "nobody_here", "good password 1")


def test_rehash_when_argon2_parameters_change(wstore: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    access.create_user(wstore, "gina", PW, "inspector", [])
    old = wstore.scalar("SELECT password_hash FROM users WHERE username = 'gina'")
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert stronger.check_needs_rehash(old)
    monkeypatch.setattr(access, "HASHER", stronger)
    access.authenticate(wstore, "gina", PW)
    new = wstore.scalar("SELECT password_hash FROM users WHERE username = 'gina'")
    assert new != old and not stronger.check_needs_rehash(new)
    assert access.authenticate(wstore, "gina", PW).username == "gina"


def test_validation_problems_are_listed_together(wstore: Store) -> None:
    with pytest.raises(ValidationError) as exc:
        access.create_user(wstore, "a b", "1234567", "boss", ["999999999999", "12345", _codes(wstore)["cell"]],
                           person_id="no-such-person")
    fields = sorted(p.field for p in exc.value.problems)
    assert fields == ["password", "person_id", "role", "scope", "scope", "username"]
    assert {p.value for p in exc.value.problems if p.field == "scope"} == {"999999999999", "12345"}
    assert "1234567" not in str(exc.value)  # the password is never echoed
    assert wstore.count("users") == 0
    with pytest.raises(ValidationError) as digits:
        access.create_user(wstore, "harry", "1234567890", "admin", [])
    assert [p.field for p in digits.value.problems] == ["password"]


def test_username_rules(wstore: Store) -> None:
    good = ["abc", "li.wei-2_x", "张三丰", "网格员001", "a" * 32, " padded "]
    bad = ["ab", "张三", "a" * 33, "a b", "user@x", "abc\ndef", "", "名字！"]
    for name in good:
        assert access.create_user(wstore, name, PW, "admin", []).username == name.strip()
    for name in bad:
        with pytest.raises(ValidationError) as exc:
            access.create_user(wstore, name, PW, "admin", [])
        assert [p.field for p in exc.value.problems] == ["username"], name
    assert sorted(access.list_users(wstore)["username"]) == sorted(n.strip() for n in good)


def test_usernames_are_unique_regardless_of_case(wstore: Store) -> None:
    access.create_user(wstore, "Ivan", PW, "admin", [])
    with pytest.raises(ValidationError) as exc:
        access.create_user(wstore, "ivan", PW, "admin", [])
    assert "用户名已存在" in str(exc.value)


# --------------------------------------------------------------------------- scope
def _expected_cells(store: Store, scope: list[str]) -> frozenset[str]:
    """The cells of a scope, computed with pandas alone."""
    cells = store.query("SELECT cell_id, community_code FROM cells")
    units = store.query("SELECT code, parent_code FROM admin_units")
    parent = dict(zip(units["code"], units["parent_code"], strict=True))
    street = cells["community_code"].map(parent)
    district = street.map(parent)
    hit = (cells["cell_id"].isin(scope) | cells["community_code"].isin(scope)
           | street.isin(scope) | district.isin(scope))
    return frozenset(cells.loc[hit, "cell_id"])


@pytest.mark.parametrize("level", ["district", "street", "community", "cell"])
def test_cells_in_scope_of_one_code(store: Store, level: str) -> None:
    code = _codes(store)[level]
    got = access.cells_in_scope(store, User("u", "leader", (code,)))
    want = _expected_cells(store, [code])
    assert got == want and len(got) > 0
    total = store.count("cells")
    assert (len(got) == total) == (level == "district")
    if level == "cell":
        assert got == {code}


def test_cells_in_scope_of_several_codes_is_the_union(store: Store) -> None:
    streets = store.query("SELECT code FROM admin_units WHERE level = 'street' ORDER BY code")["code"].tolist()
    other_cell = str(store.scalar("SELECT max(cell_id) FROM cells WHERE NOT starts_with(cell_id, ?)", [streets[0][:9]]))
    scope = (streets[0], other_cell, "999999999999")
    got = access.cells_in_scope(store, User("u", "committee", scope))
    assert got == _expected_cells(store, list(scope))
    assert got == access.cells_in_scope(store, User("u", "committee", (streets[0],))) | {other_cell}


@pytest.mark.parametrize("role", ["leader", "committee", "warden", "inspector"])
def test_empty_scope_sees_nothing_except_an_admin(store: Store, role: str) -> None:
    assert access.cells_in_scope(store, User("u", role, ())) == frozenset()


def test_admin_scope(store: Store) -> None:
    everything = frozenset(store.query("SELECT cell_id FROM cells")["cell_id"])
    assert access.cells_in_scope(store, User("root", "admin", ())) == everything
    street = _codes(store)["street"]
    assert access.cells_in_scope(store, User("root", "admin", (street,))) == _expected_cells(store, [street])


def test_scope_key_is_stable() -> None:
    a = User("a", "committee", ("2", "1"))
    b = User("b", "committee", ("1", "2", "1"), display_name="B")
    assert access.scope_key(a) == access.scope_key(b)
    assert access.scope_key(a) != access.scope_key(User("a", "leader", ("1", "2")))
    assert access.scope_key(User("x", "warden")) != access.scope_key(User("x", "admin"))
    assert hash(access.scope_key(a)) == hash(access.scope_key(b))


def test_filter_households_and_scope_sql(store: Store) -> None:
    street = _codes(store)["street"]
    cells = access.cells_in_scope(store, User("c", "committee", (street,)))
    households = store.query("SELECT hh_id, cell_id FROM households")
    mine = access.filter_households(households, cells)
    assert set(mine["cell_id"]) <= cells
    assert len(mine) == int(households["cell_id"].isin(list(cells)).sum()) > 0
    cond, params = access.scope_sql(cells)
    assert store.scalar(f"SELECT count(*) FROM households WHERE {cond}", params) == len(mine)
    assert access.filter_households(households, frozenset()).empty
    cond, params = access.scope_sql(frozenset())
    assert store.scalar(f"SELECT count(*) FROM households WHERE {cond}", params) == 0
    with pytest.raises(ValueError):
        access.scope_sql(cells, "cell_id; DROP TABLE users")
    chinese = households.rename(columns={"cell_id": "网格编号"})
    assert len(access.filter_households(chinese, cells)) == len(mine)


# --------------------------------------------------------------------------- masking
@pytest.mark.parametrize(("name", "masked"), [
    ("张", "*"), ("张三", "张*"), ("张三丰", "张**"), ("张三丰四", "张***"), ("欧阳娜娜", "欧阳**"), ("欧阳娜", "欧阳*"),
    ("司马相如", "司马**"), ("诸葛亮", "诸葛*"), ("澹台灭明", "澹台**"), ("欧阳", "欧*"), ("阿卜杜拉买", "阿****"),
    ("", ""), (None, None),
])
def test_mask_name(name: str | None, masked: str | None) -> None:
    assert access.mask_name(name) == masked


@pytest.mark.parametrize(("phone", "masked"), [
    ("13800138000", "138****8000"), ("0592-1234567", "0592-***4567"), ("010-87654321", "010-****4321"),
    ("0592 1234567", "0592 ***4567"), ("5551234", "555**34"), ("95588", "*****"), ("", ""), (None, None),
])
def test_mask_phone(phone: str | None, masked: str | None) -> None:
    assert access.mask_phone(phone) == masked


@pytest.mark.parametrize(("id_number", "masked"), [
    ("11010519491231002X", "110105********002X"), ("350203196302159744", "350203********9744"),
    ("110105491231002", "110105*****1002"), ("G1234567", "********"), ("", ""), (None, None),
])
def test_mask_id(id_number: str | None, masked: str | None) -> None:
    assert access.mask_id(id_number) == masked


def test_needs_unmasked() -> None:
    own = {"c1"}
    assert access.needs_unmasked(User("r", "admin"), "c9", own)
    assert access.needs_unmasked(User("w", "warden", ("c1",)), "c1", own)
    assert not access.needs_unmasked(User("w", "warden", ("c1",)), "c2", own)
    assert not access.needs_unmasked(User("w", "warden", ("c1",)), None, own)
    for role in ("leader", "committee", "inspector"):
        assert not access.needs_unmasked(User("x", role, ("c1",)), "c1", own)


def test_mask_households_by_role(store: Store) -> None:
    frame = store.query("SELECT hh_id, cell_id, head_name, phone, id_number FROM households ORDER BY hh_id LIMIT 400")
    before = frame.copy()
    own_cell = str(frame["cell_id"].iloc[0])
    warden = User("w", "warden", (own_cell,))
    own = access.cells_in_scope(store, warden)
    out = access.mask_households(frame, warden, own)
    pd.testing.assert_frame_equal(frame, before)  # the input is untouched
    mine = out["cell_id"] == own_cell
    assert mine.any() and (~mine).any()
    assert (out.loc[mine, ["head_name", "phone", "id_number"]] == frame.loc[mine, ["head_name", "phone", "id_number"]]
            ).all().all()
    others = out.loc[~mine]
    assert others["head_name"].str.contains(r"\*").all()
    assert others["phone"].str.fullmatch(r"\d{3}\*{4}\d{4}").all()
    assert others["id_number"].str.fullmatch(r"\d{6}\*{8}\d{3}[\dX]").all()

    committee = access.mask_households(frame, User("c", "committee", ("x",)), own)
    assert committee["head_name"].str.contains(r"\*").all()
    assert committee["hh_id"].tolist() == frame["hh_id"].tolist()
    admin = access.mask_households(frame, User("r", "admin"), frozenset())
    pd.testing.assert_frame_equal(admin, frame)
    leader = access.mask_households(frame, User("l", "leader", ("x",)), own)
    assert leader.empty and list(leader.columns) == list(frame.columns)
    assert not access.households_visible(User("l", "leader", ("x",)))


def test_mask_households_chinese_headers_and_missing_values() -> None:
    frame = pd.DataFrame({"户主姓名": ["欧阳娜娜", None], "联系电话": [13800138000, None],
                          "身份证号": ["110105491231002", ""], "地址": ["思明区", "湖里区"]})
    out = access.mask_households(frame, User("w", "warden", ("c1",)), {"c1"})  # no cell column: all masked
    assert out["户主姓名"].tolist()[0] == "欧阳**" and out["户主姓名"].isna().tolist()[1]
    assert out["联系电话"].tolist()[0] == "138****8000"
    assert out["身份证号"].tolist() == ["110105*****1002", ""]
    assert out["地址"].tolist() == ["思明区", "湖里区"]


# --------------------------------------------------------------------------- audit
def test_every_login_attempt_writes_exactly_one_audit_row(wstore: Store) -> None:
    access.create_user(wstore, "kate", PW, "committee", [_codes(wstore)["street"]])
    access.create_user(wstore, "liam", PW, "inspector", [])
    access.disable_user(wstore, "liam")
    attempts = [("kate", PW, "login", None), ("kate", "wrong-password", "login_failed", "wrong_password"),
                ("nobody_here", PW, "login_failed", "unknown_user"), ("liam", PW, "login_failed", "disabled")]
    for name, pw, action, reason in attempts:
        before = wstore.count("audit_log")
        try:
            access.authenticate(wstore, name, pw)
        except AuthError:
            pass
        rows = _audit_rows(wstore)
        assert len(rows) == before + 1
        last = rows.iloc[-1]
        assert (last["username"], last["action"]) == (name, action)
        assert (None if pd.isna(last["object"]) else last["object"]) == reason
    ok = access.audit_log(wstore, username="kate", action="login").iloc[0]
    assert ok["role"] == "committee" and ok["scope"] == [_codes(wstore)["street"]]
    unknown = access.audit_log(wstore, username="nobody_here").iloc[0]
    assert pd.isna(unknown["role"]) and unknown["scope"] is None


def test_audit_joins_an_open_transaction_and_rolls_back_with_it(wstore: Store) -> None:
    user = User("m", "committee", ("1",))
    before = wstore.count("audit_log")
    with pytest.raises(RuntimeError):
        with wstore.transaction() as cur:
            access.audit(cur, user, "update", object="households", row_count=3)
            access.audit(wstore, user, "export", object="x.csv", row_count=10)
            raise RuntimeError("boom")
    assert wstore.count("audit_log") == before
    with wstore.transaction() as cur:
        a = access.audit(cur, user, "update", object="households", row_count=3)
        b = access.audit(wstore, user, "export", object="x.csv", scope=["9"])
    assert b > a and wstore.count("audit_log") == before + 2
    assert access.audit_log(wstore, limit=1).iloc[0]["scope"] == ["9"]
    with pytest.raises(ValueError):
        access.audit(wstore, user, "dance")
    with pytest.raises(ValueError):
        access.audit(wstore, user, "export", row_count=-1)


def test_audit_log_filters(wstore: Store) -> None:
    start = wstore.scalar("SELECT current_timestamp::TIMESTAMP")
    u1, u2 = User("nina", "warden", ("c",)), User("omar", "committee", ("s",))
    for i in range(3):
        access.audit(wstore, u1, "view_household", object=f"H{i}", row_count=1)
    access.audit(wstore, u2, "export", object="gaps.csv", row_count=42)
    access.audit(wstore, None, "import", object="cells.gpkg", row_count=7)
    log = access.audit_log(wstore)
    assert list(log.columns) == ["log_id", "logged_at", "username", "role", "action", "object", "scope", "row_count"]
    assert log["log_id"].is_monotonic_decreasing and log["logged_at"].is_monotonic_decreasing
    assert log["object"].tolist()[:5] == ["cells.gpkg", "gaps.csv", "H2", "H1", "H0"]
    assert access.audit_log(wstore, username="nina")["object"].tolist() == ["H2", "H1", "H0"]
    assert access.audit_log(wstore, action="export")["row_count"].tolist() == [42]
    assert len(access.audit_log(wstore, action=["export", "import"])) == 2
    assert len(access.audit_log(wstore, limit=2)) == 2
    assert len(access.audit_log(wstore, since=start)) == 5
    assert access.audit_log(wstore, until=start).empty
    assert len(access.audit_log(wstore, since=start.date(), until=start.date())) == 5  # dates: whole days
    assert access.audit_log(wstore, since=start + timedelta(days=1)).empty


def test_access_never_changes_the_audit_log() -> None:
    text = (ROOT / "grid" / "access.py").read_text(encoding="utf-8")
    assert not re.search(r"(UPDATE|DELETE\s+FROM|TRUNCATE|DROP\s+TABLE)\s+audit_log", text, flags=re.I)


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
    users = json.loads(r.stdout)
    assert [(u["username"], u["role"], u["scope"], u["display_name"]) for u in users] == \
        [("张委员", "committee", [street], "张三")]
    assert "password" not in r.stdout and "argon2" not in r.stdout
    with open_store(db_copy) as s:
        monkey = access.HASHER
        access.HASHER = PasswordHasher()  # the CLI used the default parameters
        try:
            assert access.authenticate(s, "张委员", "s3cret pass word").role == "committee"
        finally:
            access.HASHER = monkey
        log = access.audit_log(s, action="user_admin")
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
        assert access.list_users(s).set_index("username").loc["quinn", "disabled"]
        with pytest.raises(AuthError):
            access.authenticate(s, "quinn", "newer password 2")
        access.enable_user(s, "quinn")
        assert access.authenticate(s, "quinn", "newer password 2").username == "quinn"


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
            access.create_user(s, "warden2", "a-long-password", "warden", [street])
