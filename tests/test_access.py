"""grid.access: the one access policy (actions x roles), scope, masking; grid.audit: the audit log."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from grid import access, audit, masking
from grid.access import ACTIONS, ANY, GRANTS, IN_SCOPE, PAGES, Actor, Scope, allowed, ensure
from grid.errors import AccessDenied
from grid.store import Store, open_store
from grid.users import User

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def wstore(district_file, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "copy.duckdb"
    shutil.copyfile(district_file[0], path)
    with open_store(path) as s, s.transaction() as cur:  # test set-up on a copy
        cur.execute("DELETE FROM audit_log")
    s = open_store(path)
    yield s
    s.close()


def _codes(store: Store) -> dict[str, str]:
    units = store.query("SELECT code, level FROM admin_units ORDER BY code")
    cell = store.scalar("SELECT min(cell_id) FROM cells")
    first = {lvl: str(units.loc[units["level"] == lvl, "code"].iloc[0]) for lvl in ("district", "street", "community")}
    return {**first, "cell": str(cell)}


# --------------------------------------------------------------------------- the policy table
#: What each role may do, written out by hand from the product's rules (not derived from GRANTS):
#: pages, and the actions on data within the role's scope.
EXPECTED_PAGES = {
    "admin": {"overview", "needs_queue", "needs_work", "campaigns", "applications", "data", "audit", "leader",
              "budgets", "network"},
    # Planning the service network (siting, accessibility, redrawn cells) is for leaders and the street.
    "leader": {"overview", "leader", "budgets", "network"},
    "committee": {"overview", "needs_queue", "needs_work", "campaigns", "applications", "leader", "budgets",
                  "network"},
    "warden": {"my_cells", "applications"},
    "inspector": {"audit", "overview", "leader", "budgets"},
    "community": {"needs_work", "applications"},
}
#: Applications for assistance (逐级申请报批): a warden applies for their households and records
#: objections; the community worker checks (社区初审); the street may check too, reviews, posts the
#: notice, settles objections and gives; only the district office (admin) approves and sets budgets.
APPLICATION_STEPS_BY_ROLE = {
    "admin": {"apply_assistance", "check_application", "review_application", "notice_application",
              "approve_application", "give_assistance", "record_objection", "manage_budgets"},
    "leader": set(),
    "committee": {"apply_assistance", "check_application", "review_application", "notice_application",
                  "give_assistance", "record_objection"},
    "warden": {"apply_assistance", "record_objection"},
    "inspector": set(),
    "community": {"check_application"},
}
EXPECTED_CELL_ACTIONS = {
    "admin": {"view_counts", "view_households", "view_personal", "view_household", "log_visit", "raise_need",
              "assign_need", "handle_need", "close_need", "manage_campaigns", "plan_visits", "print_visit_sheets",
              "plan_network"}
    | APPLICATION_STEPS_BY_ROLE["admin"],
    "leader": {"view_counts", "plan_network"},
    # The committee assigns, reassigns and escalates, and records the departments' steps (handle_need).
    "committee": {"view_counts", "view_households", "manage_campaigns", "plan_visits", "print_visit_sheets",
                  "raise_need", "assign_need", "handle_need", "plan_network"} | APPLICATION_STEPS_BY_ROLE["committee"],
    # The warden handles what their cell holds and closes a need after the follow-up.
    "warden": {"view_counts", "view_households", "view_personal", "view_household", "log_visit", "raise_need",
               "handle_need", "close_need"} | APPLICATION_STEPS_BY_ROLE["warden"],
    "inspector": {"view_counts"},
    # The community worker handles what their community holds and sees its households in full.
    "community": {"view_counts", "view_households", "view_personal", "view_household", "raise_need", "handle_need"}
    | APPLICATION_STEPS_BY_ROLE["community"],
}
EXPECTED_DOWNLOADS = {
    "admin": set(access.DOWNLOADS),
    "leader": {"coverage_by_community", "assistance", "bulletin", "budgets", "network_plan"},
    "committee": {"coverage_by_community", "gap_list", "assistance", "visit_sheets", "bulletin", "needs_report",
                  "notice_list", "budgets", "red_flags", "network_plan"},
    "warden": set(),
    "inspector": {"coverage_by_community", "assistance", "audit_log", "budgets"},
    "community": set(),
}
EXPECTED_OTHER = {"admin": {"import", "export_table", "manage_users", "read_audit", "set_need_limits",
                            "manage_programmes", "backup", "restore"},
                  "inspector": {"read_audit"}}
#: Which role holds which kind of unit (a need assigned to it), written out by hand.
EXPECTED_HOLDERS = {"cell": {"warden"}, "community": {"community"}, "street": {"committee"},
                    "department": {"committee"}}


def _actor(role: str) -> Actor:
    return Actor(f"u_{role}", role, Scope.of_cells({"c1", "c2"}))


@pytest.mark.parametrize("role", list(GRANTS))
@pytest.mark.parametrize("page", list(PAGES))
def test_every_role_and_page(role: str, page: str) -> None:
    assert allowed(_actor(role), "view_page", page) == (page in EXPECTED_PAGES[role])


@pytest.mark.parametrize("role", list(GRANTS))
@pytest.mark.parametrize("action", [a for a, spec in ACTIONS.items() if spec.resource == "cells"])
def test_every_role_and_action_on_cells(role: str, action: str) -> None:
    a = _actor(role)
    granted = action in EXPECTED_CELL_ACTIONS[role]
    assert allowed(a, action) == granted  # somewhere in its scope
    assert allowed(a, action, "c1") == granted
    assert allowed(a, action, Scope.of_cells({"c1", "c2"})) == granted
    assert not allowed(a, action, "c3")  # never outside the scope
    assert not allowed(a, action, Scope.of_cells({"c1", "c3"}))
    assert not allowed(a, action, None) or granted
    assert not allowed(Actor("n", role, Scope.of_cells(())), action)  # an empty scope can do nothing
    if granted:
        ensure(a, action, "c1")
    with pytest.raises(AccessDenied) as exc:
        ensure(a, action, "c3")
    assert exc.value.zh and exc.value.en and exc.value.action == action


@pytest.mark.parametrize("role", list(GRANTS))
@pytest.mark.parametrize("what", list(access.DOWNLOADS))
def test_every_role_and_download(role: str, what: str) -> None:
    assert allowed(_actor(role), "download", what) == (what in EXPECTED_DOWNLOADS[role])


@pytest.mark.parametrize("role", list(GRANTS))
@pytest.mark.parametrize("action", ["import", "export_table", "manage_users", "read_audit", "set_need_limits",
                                    "manage_programmes", "backup", "restore"])
def test_every_role_and_other_action(role: str, action: str) -> None:
    want = action in EXPECTED_OTHER.get(role, set())
    resource = "households" if ACTIONS[action].resource == "table" else None
    assert allowed(_actor(role), action, resource) == want


def test_the_table_has_no_grant_the_expectations_do_not_know() -> None:
    known = {"view_page", "download", "import", "export_table", "manage_users", "read_audit", "set_need_limits",
             "manage_programmes", "backup", "restore",
             *(a for a, s in ACTIONS.items() if s.resource == "cells")}
    assert set(ACTIONS) == known
    for role, grants in GRANTS.items():
        for action, grant in grants.items():
            if ACTIONS[action].resource == "cells":
                assert grant == IN_SCOPE, (role, action)
            else:
                assert grant == ANY or isinstance(grant, frozenset), (role, action)
    assert set(access.grants_table()["role"]) == set(GRANTS)


@pytest.mark.parametrize("role", list(GRANTS))
@pytest.mark.parametrize("kind", [*EXPECTED_HOLDERS, None])
def test_who_holds_a_need_of_each_kind_of_unit(role: str, kind: str | None) -> None:
    a = _actor(role)
    holds = role == "admin" or (kind is not None and role in EXPECTED_HOLDERS[kind])
    may_handle = "handle_need" in EXPECTED_CELL_ACTIONS[role]
    assert access.may_hold(a, kind, "c1") == (holds and may_handle)
    assert not access.may_hold(a, kind, "c3")  # never outside the scope
    assert not access.may_hold(a, kind, None) or role == "admin" and a.scope.is_everything  # a household in no cell
    assert {k: set(v) for k, v in access.UNIT_HANDLERS.items()} == EXPECTED_HOLDERS


def test_a_household_in_no_cell_is_only_everythings() -> None:
    """Finding of issue 13: a household outside every cell (cell None) was 'somewhere in the scope' for any
    non-empty scope; cell_resource makes it a resource only everything covers."""
    w = Actor("w", "warden", Scope.of_cells({"c1"}))
    assert allowed(w, "view_household", None)  # the old question: anywhere in the scope
    assert not allowed(w, "view_household", access.cell_resource(None))
    assert allowed(Actor("r", "admin", Scope.everything()), "view_household", access.cell_resource(None))
    assert access.cell_resource("c1") == "c1" and access.cell_resource(float("nan")) == Scope.everything()


def test_unknown_actions_and_roles() -> None:
    with pytest.raises(ValueError):
        allowed(_actor("admin"), "fly")
    assert not allowed(Actor("x", "nobody", Scope.everything()), "view_page", "overview")


def test_everything_is_only_the_admins_and_the_command_lines(store: Store) -> None:
    codes = _codes(store)
    for role in ("leader", "committee", "inspector"):
        assert not access.actor_for(store, User("u", role, (codes["district"],))).scope.is_everything
        assert access.actor_for(store, User("u", role, ())).scope.cells == frozenset()
    assert access.actor_for(store, User("u", "warden", (codes["cell"],))).scope.cells == {codes["cell"]}
    assert access.actor_for(store, User("root", "admin", ())).scope.is_everything
    assert not access.actor_for(store, User("root", "admin", (codes["street"],))).scope.is_everything
    op = access.operator("alice")
    assert op.name == "cli:alice" and op.role == "admin" and op.scope.is_everything


def test_a_refusal_is_audited(wstore: Store) -> None:
    a = Actor("w", "warden", Scope.of_cells({"c1"}), User("w", "warden", ("c1",)))
    with pytest.raises(AccessDenied):
        ensure(a, "export_table", "users", log=wstore)
    row = audit.read(wstore, limit=1).iloc[0]
    assert (row["username"], row["role"], row["action"], row["object"]) == ("w", "warden", "denied",
                                                                            "export_table:users")


def test_pages_for_is_the_menu() -> None:
    for role, pages in EXPECTED_PAGES.items():
        assert access.pages_for(_actor(role)) == [p for p in PAGES if p in pages]


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
    got = access.cells_in_scope(store, [code])
    want = _expected_cells(store, [code])
    assert got == want and len(got) > 0
    total = store.count("cells")
    assert (len(got) == total) == (level == "district")
    if level == "cell":
        assert got == {code}


def test_cells_in_scope_of_several_codes_is_the_union(store: Store) -> None:
    streets = store.query("SELECT code FROM admin_units WHERE level = 'street' ORDER BY code")["code"].tolist()
    other_cell = str(store.scalar("SELECT max(cell_id) FROM cells WHERE NOT starts_with(cell_id, ?)", [streets[0][:9]]))
    scope = [streets[0], other_cell, "999999999999"]
    got = access.cells_in_scope(store, scope)
    assert got == _expected_cells(store, scope)
    assert got == access.cells_in_scope(store, [streets[0]]) | {other_cell}
    assert access.cells_in_scope(store, []) == frozenset()


def test_scope_keys_are_stable() -> None:
    a = Actor("a", "committee", Scope.of_cells({"2", "1"}))
    b = Actor("b", "committee", Scope.of_cells(["1", "2", "1"]))
    assert a.cache_key == b.cache_key
    assert a.cache_key != Actor("a", "leader", Scope.of_cells({"1", "2"})).cache_key
    assert Actor("x", "admin", Scope.everything()).cache_key != Actor("x", "admin", Scope.of_cells(())).cache_key


def test_filter_households_and_scope_sql(store: Store) -> None:
    street = _codes(store)["street"]
    scope = Scope.of_cells(access.cells_in_scope(store, [street]))
    households = store.query("SELECT hh_id, cell_id FROM households")
    mine = access.filter_households(households, scope)
    assert set(mine["cell_id"]) <= set(scope.cells or ())
    assert len(mine) == int(households["cell_id"].isin(list(scope.cells or ())).sum()) > 0
    cond, params = access.scope_sql(scope)
    assert store.scalar(f"SELECT count(*) FROM households WHERE {cond}", params) == len(mine)
    assert access.filter_households(households, Scope.of_cells(())).empty
    cond, params = access.scope_sql(Scope.of_cells(()))
    assert store.scalar(f"SELECT count(*) FROM households WHERE {cond}", params) == 0
    cond, params = access.scope_sql(Scope.everything())
    assert store.scalar(f"SELECT count(*) FROM households WHERE {cond}", params) == len(households)
    with pytest.raises(ValueError):
        access.scope_sql(scope, "cell_id; DROP TABLE users")
    chinese = households.rename(columns={"cell_id": "网格编号"})
    assert len(access.filter_households(chinese, scope)) == len(mine)
    outside = pd.DataFrame({"hh_id": ["h"], "cell_id": [None]})
    assert access.filter_households(outside, scope).empty
    assert len(access.filter_households(outside, Scope.everything())) == 1


# --------------------------------------------------------------------------- masking
@pytest.mark.parametrize(("name", "masked"), [
    ("张", "*"), ("张三", "张*"), ("张三丰", "张**"), ("张三丰四", "张***"), ("欧阳娜娜", "欧阳**"), ("欧阳娜", "欧阳*"),
    ("司马相如", "司马**"), ("诸葛亮", "诸葛*"), ("澹台灭明", "澹台**"), ("欧阳", "欧*"), ("阿卜杜拉买", "阿****"),
    ("", ""), (None, None),
])
def test_mask_name(name: str | None, masked: str | None) -> None:
    assert masking.mask_name(name) == masked


@pytest.mark.parametrize(("phone", "masked"), [
    ("13800138000", "138****8000"), ("0592-1234567", "0592-***4567"), ("010-87654321", "010-****4321"),
    ("0592 1234567", "0592 ***4567"), ("5551234", "555**34"), ("95588", "*****"), ("", ""), (None, None),
])
def test_mask_phone(phone: str | None, masked: str | None) -> None:
    assert masking.mask_phone(phone) == masked


@pytest.mark.parametrize(("id_number", "masked"), [
    ("11010519491231002X", "110105********002X"), ("350203196302159744", "350203********9744"),
    ("110105491231002", "110105*****1002"), ("G1234567", "********"), ("", ""), (None, None),
])
def test_mask_id(id_number: str | None, masked: str | None) -> None:
    assert masking.mask_id(id_number) == masked


def test_mask_households_by_role(store: Store) -> None:
    frame = store.query("SELECT hh_id, cell_id, head_name, phone, id_number FROM households ORDER BY hh_id LIMIT 400")
    before = frame.copy()
    own_cell = str(frame["cell_id"].iloc[0])
    other = sorted(set(frame["cell_id"]) - {own_cell})
    warden = Actor("w", "warden", Scope.of_cells({own_cell}))
    out = access.mask_households(frame, warden)
    pd.testing.assert_frame_equal(frame, before)  # the input is untouched
    assert set(out["cell_id"]) == {own_cell}  # rows outside the scope are dropped
    kept = frame[frame["cell_id"] == own_cell]
    assert out[["head_name", "phone", "id_number"]].values.tolist() == kept[["head_name", "phone", "id_number"]
                                                                              ].values.tolist()
    committee = access.mask_households(frame, Actor("c", "committee", Scope.of_cells(set(frame["cell_id"]))))
    assert committee["hh_id"].tolist() == frame["hh_id"].tolist()
    assert committee["head_name"].str.contains(r"\*").all()
    assert committee["phone"].str.fullmatch(r"\d{3}\*{4}\d{4}").all()
    assert committee["id_number"].str.fullmatch(r"\d{6}\*{8}\d{3}[\dX]").all()
    narrow = access.mask_households(frame, Actor("c", "committee", Scope.of_cells(other[:1])))
    assert set(narrow["cell_id"]) == set(other[:1])
    admin = access.mask_households(frame, Actor("r", "admin", Scope.everything()))
    pd.testing.assert_frame_equal(admin, frame)
    for role in ("leader", "inspector"):
        shown = access.mask_households(frame, Actor("l", role, Scope.everything()))
        assert shown.empty and list(shown.columns) == list(frame.columns)


def test_mask_households_chinese_headers_and_missing_values() -> None:
    frame = pd.DataFrame({"户主姓名": ["欧阳娜娜", None], "联系电话": [13800138000, None],
                          "身份证号": ["110105491231002", ""], "地址": ["思明区", "湖里区"]})
    out = access.mask_households(frame, Actor("w", "warden", Scope.of_cells({"c1"})))  # no cell column: all masked
    assert out["户主姓名"].tolist()[0] == "欧阳**" and out["户主姓名"].isna().tolist()[1]
    assert out["联系电话"].tolist()[0] == "138****8000"
    assert out["身份证号"].tolist() == ["110105*****1002", ""]
    assert out["地址"].tolist() == ["思明区", "湖里区"]


# --------------------------------------------------------------------------- audit
def test_audit_joins_an_open_transaction_and_rolls_back_with_it(wstore: Store) -> None:
    user = User("m", "committee", ("1",))
    before = wstore.count("audit_log")
    with pytest.raises(RuntimeError):
        with wstore.transaction() as cur:
            audit.record(cur, user, "update", object="households", row_count=3)
            audit.record(wstore, user, "export", object="x.csv", row_count=10)
            raise RuntimeError("boom")
    assert wstore.count("audit_log") == before
    with wstore.transaction() as cur:
        a = audit.record(cur, user, "update", object="households", row_count=3)
        b = audit.record(wstore, user, "export", object="x.csv", scope=["9"])
    assert b > a and wstore.count("audit_log") == before + 2
    assert audit.read(wstore, limit=1).iloc[0]["scope"] == ["9"]
    with pytest.raises(ValueError):
        audit.record(wstore, user, "dance")
    with pytest.raises(ValueError):
        audit.record(wstore, user, "export", row_count=-1)


def test_audit_records_actors_users_and_names(wstore: Store) -> None:
    audit.record(wstore, Actor("w", "warden", Scope.of_cells({"c9"}, codes=("c9",))), "view_household", object="H")
    audit.record(wstore, User("u", "committee", ("s",)), "export")
    audit.record(wstore, "cli:alice", "import")
    rows = audit.read(wstore, limit=3).iloc[::-1]
    assert rows["username"].tolist() == ["w", "u", "cli:alice"]
    assert rows["role"].fillna("-").tolist() == ["warden", "committee", "-"]
    assert rows["scope"].tolist() == [["c9"], ["s"], None]


def test_audit_log_filters(wstore: Store) -> None:
    start = wstore.scalar("SELECT current_timestamp::TIMESTAMP")
    u1, u2 = User("nina", "warden", ("c",)), User("omar", "committee", ("s",))
    for i in range(3):
        audit.record(wstore, u1, "view_household", object=f"H{i}", row_count=1)
    audit.record(wstore, u2, "export", object="gaps.csv", row_count=42)
    audit.record(wstore, None, "import", object="cells.gpkg", row_count=7)
    log = audit.read(wstore)
    assert list(log.columns) == ["log_id", "logged_at", "username", "role", "action", "object", "scope", "row_count",
                                 "client"]
    assert log["log_id"].is_monotonic_decreasing and log["logged_at"].is_monotonic_decreasing
    assert log["object"].tolist()[:5] == ["cells.gpkg", "gaps.csv", "H2", "H1", "H0"]
    assert audit.read(wstore, username="nina")["object"].tolist() == ["H2", "H1", "H0"]
    assert audit.read(wstore, action="export")["row_count"].tolist() == [42]
    assert len(audit.read(wstore, action=["export", "import"])) == 2
    assert len(audit.read(wstore, limit=2)) == 2
    assert len(audit.read(wstore, since=start)) == 5
    assert audit.read(wstore, until=start).empty
    assert len(audit.read(wstore, since=start.date(), until=start.date())) == 5  # dates: whole days
    assert audit.read(wstore, since=start + timedelta(days=1)).empty


def test_nothing_changes_the_audit_log() -> None:
    for path in [*(ROOT / "grid").glob("*.py"), *(ROOT / "views").glob("*.py"), ROOT / "ui.py", ROOT / "main.py"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(UPDATE|DELETE\s+FROM|TRUNCATE|DROP\s+TABLE)\s+audit_log", text, flags=re.I), path
