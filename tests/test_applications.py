"""Assistance by application (逐级申请报批): every legal and illegal step for every role, one event
row and one audit row per step, the checks made when applying, the guards of approval and
giving, and the demo's history.

The state machine is written out here by hand (:data:`SPEC`: step, from -> to, and the roles that
may take it) and the library's :data:`grid.applications.TRANSITIONS` and access policy must
behave exactly so, for every role x step x state.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pandas as pd
import pytest

from grid import applications as A
from grid import model
from grid.access import Actor
from grid.errors import AccessDenied, ApplicationStepError, ValidationError
from grid.store import Store, open_store
from tests.actors import OP, as_role, as_warden

ROLES = ("admin", "leader", "committee", "warden", "inspector")
STATES = tuple(model.APPLICATION_STATUSES)
#: (step, from) -> (to, the roles that may take it). The seeds' procedure: the community checks, the
#: street reviews and posts the notice (and hears objections), the district approves; the street gives.
SPEC: dict[tuple[str, str], tuple[str, set[str]]] = {
    ("check", "applied"): ("community_checked", {"admin", "committee"}),
    ("review", "community_checked"): ("street_reviewed", {"admin", "committee"}),
    ("notice", "street_reviewed"): ("on_notice", {"admin", "committee"}),
    ("object", "on_notice"): ("on_notice", {"admin", "committee", "warden"}),
    ("settle", "on_notice"): ("on_notice", {"admin", "committee"}),
    ("uphold", "on_notice"): ("rejected", {"admin", "committee"}),
    ("approve", "on_notice"): ("approved", {"admin"}),
    ("give", "approved"): ("given", {"admin", "committee"}),
    ("reject", "applied"): ("rejected", {"admin", "committee"}),
    ("reject", "community_checked"): ("rejected", {"admin", "committee"}),
    ("reject", "street_reviewed"): ("rejected", {"admin", "committee"}),
    ("reject", "on_notice"): ("rejected", {"admin"}),
}
STEPS = sorted({s for s, _ in SPEC})
#: The roles that may take a step in some state.
ANYWHERE = {name: set().union(*(roles for (s, _), (_, roles) in SPEC.items() if s == name)) for name in STEPS}
#: Applications are made a month before the demo's "today" so that every notice is over by now.
T0 = datetime(2026, 10, 1, 9, 0)


def expected(role: str, name: str, state: str) -> str:
    """``denied``, ``illegal`` or the state the application moves to."""
    if role not in ANYWHERE[name]:
        return "denied"
    if (name, state) not in SPEC:
        return "illegal"
    to, roles = SPEC[(name, state)]
    return to if role in roles else "denied"


def test_the_library_has_exactly_the_specified_steps() -> None:
    got = {(s.name, s.source): s.target for s in A.TRANSITIONS if s.name != "apply"}
    assert got == {k: v[0] for k, v in SPEC.items()}
    assert [(s.source, s.target) for s in A.TRANSITIONS if s.name == "apply"] == [(None, "applied")]
    assert {s.name for s in A.TRANSITIONS} <= set(model.APPLICATION_STEPS)
    assert {s.target for s in A.TRANSITIONS} <= set(STATES)
    # Given and rejected are final; everything else has a way forward and a way out.
    for state in STATES:
        names = {s.name for s in A.steps_from(state)}
        assert (names == set()) == (state in ("given", "rejected")), state
        assert state in ("given", "rejected", "approved") or "reject" in names or "uphold" in names


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def wdb(district_file, tmp_path_factory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("apps") / "apps.duckdb"
    shutil.copyfile(district_file[0], path)
    s = open_store(path)
    yield s
    s.close()


class Households:
    """Fresh registered households in cells, without any application or assistance, one at a time."""

    def __init__(self, store: Store) -> None:
        self.left = iter(store.query(
            "SELECT hh_id FROM households WHERE status = 'active' AND cell_id IS NOT NULL"
            " AND hh_id NOT IN (SELECT hh_id FROM applications) AND hh_id NOT IN (SELECT hh_id FROM assistance)"
            " ORDER BY hh_id")["hh_id"].tolist())

    def __next__(self) -> str:
        return next(self.left)


@pytest.fixture(scope="module")
def homes(wdb: Store) -> Households:
    return Households(wdb)


def make(store: Store, homes: Households, state: str) -> dict[str, Any]:
    """An application of 临时救助 (100 yuan) brought to ``state`` by the operator."""
    hh = next(homes)
    app = A.apply(store, OP, hh_id=hh, programme="lsjz", amount_yuan=100, reason="测试申请", now=T0)
    path = {"applied": [], "community_checked": ["check"], "street_reviewed": ["check", "review"],
            "on_notice": ["check", "review", "notice"], "approved": ["check", "review", "notice", "approve"],
            "given": ["check", "review", "notice", "approve", "give"], "rejected": ["reject"]}[state]
    for i, step in enumerate(path):
        when = datetime(2026, 10, 1 + i, 10) if step != "approve" else datetime(2026, 10, 10, 10)
        when = datetime(2026, 10, 11, 10) if step == "give" else when
        if step == "notice":
            A.notice(store, OP, app, starts_on=date(2026, 10, 2), days=7, now=when)
        elif step == "give":
            A.give(store, OP, app, receipt_ref="R-setup", now=when)
        elif step == "reject":
            A.reject(store, OP, app, reason="测试驳回", now=when)
        else:
            getattr(A, step)(store, OP, app, now=when)
    cell = str(store.scalar("SELECT cell_id FROM households WHERE hh_id = ?", [hh]))
    return {"app_id": app, "hh_id": hh, "cell": cell}


def add_objection(store: Store, app: dict[str, Any]) -> str:
    """An open objection: through the library while on notice, else written directly (a test set-up:
    only so can an objection exist beside an application in another state)."""
    status = store.scalar("SELECT status FROM applications WHERE app_id = ?", [app["app_id"]])
    if status == "on_notice":
        return A.object_to(store, OP, app["app_id"], content="测试异议", now=datetime(2026, 10, 3, 9))
    oid = f"{app['app_id']}-OX"
    with store.transaction() as cur:
        cur.execute("INSERT INTO application_objections (objection_id, app_id, raised_at, recorded_by, content,"
                    " status) VALUES (?, ?, TIMESTAMP '2026-10-03 09:00', 'test', '测试异议', 'open')",
                    [oid, app["app_id"]])
    return oid


@pytest.fixture(scope="module")
def standing(wdb: Store, homes: Households) -> dict[str, dict[str, Any]]:
    """One application per state (each with an open objection), for the steps that must be refused."""
    out = {}
    for state in STATES:
        app = make(wdb, homes, state)
        app["objection"] = add_objection(wdb, app)
        out[state] = app
    return out


def actor_of(role: str, cell: str) -> Actor:
    return as_warden([cell]) if role == "warden" else as_role(role, [cell])


def take(store: Store, actor: Actor, name: str, app: dict[str, Any]) -> Any:
    """Take step ``name`` as the pages and the command line do."""
    app_id = app["app_id"]
    if name == "notice":
        return A.notice(store, actor, app_id)
    if name == "give":
        return A.give(store, actor, app_id, receipt_ref="R-test")
    if name == "reject":
        return A.reject(store, actor, app_id, reason="经核实不符合条件")
    if name == "object":
        return A.object_to(store, actor, app_id, content="邻居反映其有收入", objector="匿名")
    if name in ("settle", "uphold"):
        return A.settle(store, actor, app["objection"], upheld=name == "uphold", note="经入户核实")
    return getattr(A, name)(store, actor, app_id)


def _state(store: Store, app_id: str) -> tuple[str, int, int]:
    status = str(store.scalar("SELECT status FROM applications WHERE app_id = ?", [app_id]))
    events = int(store.scalar("SELECT count(*) FROM application_events WHERE app_id = ?", [app_id]))
    return status, events, int(store.count("audit_log"))


# --------------------------------------------------------------------------- every role x step x state
CASES = list(itertools.product(ROLES, STEPS, STATES))


@pytest.mark.parametrize(("role", "name", "state"), CASES, ids=[f"{r}-{n}-{s}" for r, n, s in CASES])
def test_every_step_from_every_state_by_every_role(wdb: Store, homes: Households, standing, role: str, name: str,
                                                   state: str) -> None:
    want = expected(role, name, state)
    if want in ("denied", "illegal"):
        app = standing[state]
    else:
        app = make(wdb, homes, state)
        if name in ("settle", "uphold"):
            app["objection"] = add_objection(wdb, app)
    actor = actor_of(role, app["cell"])
    before = _state(wdb, app["app_id"])
    last_seq = int(wdb.scalar("SELECT max(seq) FROM application_events WHERE app_id = ?", [app["app_id"]]))
    if want == "denied":
        with pytest.raises(AccessDenied) as err:
            take(wdb, actor, name, app)
        assert err.value.zh and err.value.en
        status, events, audits = _state(wdb, app["app_id"])
        assert (status, events) == before[:2] and audits == before[2] + 1  # the refusal is audited
        row = wdb.query("SELECT username, action FROM audit_log ORDER BY log_id DESC LIMIT 1").iloc[0]
        assert (row["username"], row["action"]) == (actor.name, "denied")
        return
    if want == "illegal":
        with pytest.raises(ApplicationStepError) as bad:
            take(wdb, actor, name, app)
        text = str(bad.value)
        assert app["app_id"] in text and app["hh_id"] in text and "临时救助" in text and "lsjz" in text
        assert model.label(state) in text and "cannot take the step" in text
        assert bad.value.app_ids == [app["app_id"]] and bad.value.step == name
        assert _state(wdb, app["app_id"]) == before  # nothing written, not even an audit row
        return
    result = take(wdb, actor, name, app)
    status, events, audits = _state(wdb, app["app_id"])
    assert status == want
    assert events == before[1] + 1 and audits == before[2] + 1
    ev = wdb.query('SELECT seq, by_user, step, from_status, to_status, "at" FROM application_events'
                   " WHERE app_id = ? ORDER BY seq DESC LIMIT 1", [app["app_id"]]).iloc[0]
    assert (int(ev["seq"]), ev["by_user"], ev["step"], ev["from_status"], ev["to_status"]) == (
        last_seq + 1, actor.name, name, state, want)
    log = wdb.query("SELECT username, role, action, object FROM audit_log ORDER BY log_id DESC LIMIT 1").iloc[0]
    assert (log["username"], log["role"], log["action"], log["object"]) == (
        actor.name, role, "update", f"application:{app['app_id']}:{name}")
    if name == "give":
        aid = wdb.query("SELECT aid_id, hh_id, programme, amount_yuan::DOUBLE AS a, receipt_ref FROM assistance"
                        " WHERE app_id = ?", [app["app_id"]])
        assert aid[["aid_id", "hh_id", "programme", "a", "receipt_ref"]].values.tolist() == [
            [result, app["hh_id"], "临时救助", 100.0, "R-test"]]
    if name in ("settle", "uphold"):
        st_ = wdb.scalar("SELECT status FROM application_objections WHERE objection_id = ?", [app["objection"]])
        assert st_ == ("upheld" if name == "uphold" else "dismissed")
    if name in ("reject", "uphold"):
        reason = wdb.scalar("SELECT rejected_reason FROM applications WHERE app_id = ?", [app["app_id"]])
        assert reason == ("经核实不符合条件" if name == "reject" else "公示异议成立：经入户核实")
    if name == "object":
        assert wdb.scalar("SELECT status FROM application_objections WHERE objection_id = ?", [result]) == "open"


@pytest.mark.parametrize("role", ROLES)
def test_who_may_apply(wdb: Store, homes: Households, role: str) -> None:
    hh = next(homes)
    cell = str(wdb.scalar("SELECT cell_id FROM households WHERE hh_id = ?", [hh]))
    actor = actor_of(role, cell)
    before = wdb.count("applications")
    if role in ("leader", "inspector"):
        with pytest.raises(AccessDenied):
            A.apply(wdb, actor, hh_id=hh, programme="lsjz", amount_yuan=100, reason="测试")
        assert wdb.count("applications") == before
        return
    app = A.apply(wdb, actor, hh_id=hh, programme="lsjz", amount_yuan=100, reason="测试")
    row = wdb.query("SELECT status, applied_by, unit_code FROM applications WHERE app_id = ?", [app]).iloc[0]
    community = wdb.scalar("SELECT community_code FROM cells WHERE cell_id = ?", [cell])
    assert (row["status"], row["applied_by"], row["unit_code"]) == ("applied", actor.name, community)
    ev = wdb.query("SELECT seq, step, from_status, to_status, note FROM application_events WHERE app_id = ?", [app])
    assert ev.values.tolist() == [[1, "apply", None, "applied", "测试"]]
    assert wdb.scalar("SELECT count(*) FROM audit_log WHERE object = ?", [f"application:{app}:apply"]) == 1


def test_a_household_outside_the_scope_does_not_exist(wdb: Store, homes: Households, standing) -> None:
    app = standing["applied"]
    other = str(wdb.scalar("SELECT min(cell_id) FROM cells WHERE cell_id <> ?", [app["cell"]]))
    for role in ("committee", "admin"):
        with pytest.raises(ValidationError, match="no such application"):
            A.check(wdb, as_role(role, [other]), app["app_id"])
    with pytest.raises(ValidationError, match="no such household"):
        A.apply(wdb, as_warden([other]), hh_id=app["hh_id"], programme="lsjz", amount_yuan=100, reason="x")
    with pytest.raises(ValidationError, match="no such application"):
        A.check(wdb, OP, "AP-NOT-THERE")


def test_many_at_once_is_all_or_nothing(wdb: Store, homes: Households) -> None:
    good = [make(wdb, homes, "applied") for _ in range(2)]
    bad = make(wdb, homes, "community_checked")
    ids = [good[0]["app_id"], bad["app_id"], good[1]["app_id"]]
    before = [_state(wdb, i)[:2] for i in ids]
    with pytest.raises(ApplicationStepError) as err:
        A.check(wdb, OP, ids)
    assert err.value.app_ids == [bad["app_id"]]
    assert [_state(wdb, i)[:2] for i in ids] == before
    audits = wdb.count("audit_log")
    A.check(wdb, OP, [g["app_id"] for g in good], note="批量初审")
    assert [_state(wdb, g["app_id"])[0] for g in good] == ["community_checked"] * 2
    assert wdb.count("audit_log") == audits + 2  # one audit row per application
    notes = wdb.query("SELECT note FROM application_events WHERE step = 'check' AND list_contains(?, app_id)",
                      [[g["app_id"] for g in good]])["note"].tolist()
    assert notes == ["批量初审", "批量初审"]


# --------------------------------------------------------------------------- guards of the steps
def test_approval_waits_for_the_end_of_the_notice_and_settled_objections(wdb: Store, homes: Households) -> None:
    app = make(wdb, homes, "street_reviewed")
    A.notice(wdb, OP, app["app_id"], starts_on=date(2026, 10, 20), days=7, contact="请向社区居委会反映",
             now=datetime(2026, 10, 19, 9))
    row = wdb.query("SELECT notice_starts_on, notice_ends_on, notice_contact FROM applications WHERE app_id = ?",
                    [app["app_id"]]).iloc[0]
    assert (pd.Timestamp(row["notice_starts_on"]).date(), pd.Timestamp(row["notice_ends_on"]).date()) == (
        date(2026, 10, 20), date(2026, 10, 26))  # 7 days, both inclusive
    assert row["notice_contact"] == "请向社区居委会反映"
    with pytest.raises(ApplicationStepError, match="the notice runs until 2026-10-26"):
        A.approve(wdb, OP, app["app_id"], now=datetime(2026, 10, 26, 23, 0))  # its last day
    oid = A.object_to(wdb, OP, app["app_id"], content="有收入", now=datetime(2026, 10, 22, 9))
    with pytest.raises(ApplicationStepError, match="objection"):
        A.approve(wdb, OP, app["app_id"], now=datetime(2026, 10, 27, 9))
    A.settle(wdb, OP, oid, upheld=False, note="核实无收入", now=datetime(2026, 10, 27, 10))
    with pytest.raises(ApplicationStepError, match="already dismissed"):
        A.settle(wdb, OP, oid, upheld=True, note="再次", now=datetime(2026, 10, 27, 11))
    A.approve(wdb, OP, app["app_id"], now=datetime(2026, 10, 27, 12))
    assert _state(wdb, app["app_id"])[0] == "approved"
    with pytest.raises(ApplicationStepError, match="before the approval"):
        A.give(wdb, OP, app["app_id"], receipt_ref="R", given_at=datetime(2026, 10, 27, 11, 0))
    with pytest.raises(ValidationError, match="receipt_ref"):
        A.give(wdb, OP, app["app_id"], receipt_ref=" ")
    with pytest.raises(ValidationError, match="receiver_phone"):
        A.give(wdb, OP, app["app_id"], receipt_ref="R", receiver_phone="12")
    aid = A.give(wdb, OP, app["app_id"], receipt_ref="R-9", receiver_name="王五", receiver_phone="13800138000",
                 receiver_account="6217 0000 1111 2222", now=datetime(2026, 10, 28, 9))
    got = wdb.query("SELECT receiver_name, receiver_phone, receiver_account, receipt_ref, given_at FROM assistance"
                    " WHERE aid_id = ?", [aid]).iloc[0].tolist()
    assert got[:4] == ["王五", "13800138000", "6217 0000 1111 2222", "R-9"]
    assert pd.Timestamp(got[4]) == pd.Timestamp("2026-10-28 09:00")


def test_notice_dates_and_texts_are_checked(wdb: Store, homes: Households) -> None:
    app = make(wdb, homes, "street_reviewed")
    with pytest.raises(ApplicationStepError, match="before the application"):
        A.notice(wdb, OP, app["app_id"], starts_on=date(2026, 9, 1))
    with pytest.raises(ValidationError, match="days"):
        A.notice(wdb, OP, app["app_id"], days=0)
    with pytest.raises(ValidationError, match="contact"):
        A.notice(wdb, OP, app["app_id"], contact="电话\u202e110")
    with pytest.raises(ValidationError, match="reason"):
        A.reject(wdb, OP, app["app_id"], reason="  ")
    assert _state(wdb, app["app_id"])[0] == "street_reviewed"
    A.notice(wdb, OP, app["app_id"], now=datetime(2026, 11, 2, 9))  # the programme's 7 days from today
    row = wdb.query("SELECT notice_starts_on, notice_ends_on, notice_contact FROM applications WHERE app_id = ?",
                    [app["app_id"]]).iloc[0]
    assert pd.Timestamp(row["notice_starts_on"]).date() == date(2026, 11, 2)
    assert pd.Timestamp(row["notice_ends_on"]).date() == date(2026, 11, 8)
    community, street = wdb.query("SELECT u.name, s.name FROM applications a JOIN admin_units u ON u.code = a.unit_code"
                                  " JOIN admin_units s ON s.code = u.parent_code WHERE a.app_id = ?",
                                  [app["app_id"]]).iloc[0]
    assert row["notice_contact"] == A.default_contact(community, street)


# --------------------------------------------------------------------------- checks when applying
def _problems(exc: ValidationError) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in exc.problems:
        out.setdefault(p.field, []).append(f"{p.zh} / {p.en}")
    return out


def test_every_problem_is_reported_at_once_naming_household_and_programme(wdb: Store) -> None:
    hh = str(wdb.scalar("SELECT min(hh_id) FROM households WHERE status = 'active' AND len(categories) = 0"
                        " AND cell_id IS NOT NULL"))
    with pytest.raises(ValidationError) as err:
        A.apply(wdb, OP, hh_id=hh, programme="qnwj", amount_yuan=800, reason="", campaign_id="NO-SUCH",
                items="米\x00面")
    got = _problems(err.value)
    assert set(got) == {"programme", "campaign_id", "amount_yuan", "reason", "items"}, got
    assert "不属于“情暖万家”的救助对象" in got["programme"][0]
    assert "超过“情暖万家”的标准 500.00 元" in got["amount_yuan"][0]
    assert all(p.where == f"救助申请（住户 {hh} · 情暖万家）" for p in err.value.problems)


def test_a_household_must_be_registered_and_in_a_cell(wdb: Store) -> None:
    moved = str(wdb.scalar("SELECT min(hh_id) FROM households WHERE status = 'moved'"))
    with pytest.raises(ValidationError, match="only registered households may apply"):
        A.apply(wdb, OP, hh_id=moved, programme="lsjz", amount_yuan=100, reason="x")
    with wdb.transaction() as cur:  # a household outside every cell (a test set-up)
        cur.execute("INSERT INTO households (hh_id, geom, address, size, categories) VALUES"
                    " ('HOUT', ST_Point(100.0, 30.0), '区外', 1, ['dibao_urban'])")
    with pytest.raises(ValidationError, match="lies in no cell"):
        A.apply(wdb, OP, hh_id="HOUT", programme="lsjz", amount_yuan=100, reason="x")
    with pytest.raises(ValidationError, match="no such household"):
        A.apply(wdb, OP, hh_id="H-NONE", programme="lsjz", amount_yuan=100, reason="x")
    with pytest.raises(ValidationError, match="no such programme"):
        A.apply(wdb, OP, hh_id=moved, programme="nope", amount_yuan=100, reason="x")


def test_duplicates_are_refused_naming_them(wdb: Store, district) -> None:
    # An assistance record of the same programme and campaign: the planted direct gift of 情暖万家.
    y = district.planted_flags["no_application"][0]
    aid = str(wdb.scalar("SELECT aid_id FROM assistance WHERE hh_id = ? AND campaign_id = 'C2026W'", [y]))
    with pytest.raises(ValidationError) as err:
        A.apply(wdb, OP, hh_id=y, programme="qnwj", amount_yuan=500, reason="春节慰问", campaign_id="C2026W")
    (p,) = err.value.problems
    assert p.field == "duplicate" and p.value == aid and aid in p.zh and aid in p.en
    # An application of the same household, programme and campaign (any state but rejected).
    apps = district.applications
    spent = apps.loc[apps["hh_id"] == district.planted_flags["budget_overrun"][0], "unit_code"].iloc[0]
    app = apps[(apps["status"] == "on_notice") & (apps["programme"] == "qnwj") & (apps["unit_code"] != spent)].iloc[0]
    with pytest.raises(ValidationError) as err:
        A.apply(wdb, OP, hh_id=app["hh_id"], programme="qnwj", amount_yuan=500, reason="再次", campaign_id="C2026W")
    assert [(p.field, p.value) for p in err.value.problems] == [("duplicate", app["app_id"])]
    assert "公示中" in err.value.problems[0].zh
    # A rejected application does not block a new one; without a campaign only one still under way does.
    rejected = district.applications[district.applications["status"] == "rejected"].iloc[0]
    again = A.apply(wdb, OP, hh_id=rejected["hh_id"], programme="qnwj", amount_yuan=500, reason="重新申请",
                    campaign_id="C2026W")
    assert again.startswith("AP")
    first = A.apply(wdb, OP, hh_id=rejected["hh_id"], programme="lsjz", amount_yuan=100, reason="一")
    with pytest.raises(ValidationError, match="still under way"):
        A.apply(wdb, OP, hh_id=rejected["hh_id"], programme="lsjz", amount_yuan=100, reason="二")
    A.reject(wdb, OP, first, reason="撤回")
    A.apply(wdb, OP, hh_id=rejected["hh_id"], programme="lsjz", amount_yuan=100, reason="三")


def test_the_remaining_budget_must_cover_the_amount(wdb: Store, homes: Households, district) -> None:
    # The planted community whose own budget is already spent beyond.
    over = district.planted_flags["budget_overrun"][0]
    community = district.applications.set_index("hh_id").loc[over, "unit_code"]
    community = community if isinstance(community, str) else community.iloc[0]
    hh = str(wdb.scalar("SELECT h.hh_id FROM households h JOIN cells c USING (cell_id) WHERE c.community_code = ?"
                        " AND h.status = 'active' AND list_has_any(h.categories, (SELECT target_categories FROM"
                        " programmes WHERE code = 'qnwj')) AND h.hh_id NOT IN (SELECT hh_id FROM applications)"
                        " AND h.hh_id NOT IN (SELECT hh_id FROM assistance WHERE campaign_id = 'C2026W')"
                        " ORDER BY h.hh_id LIMIT 1", [community]))
    with pytest.raises(ValidationError) as err:
        A.apply(wdb, OP, hh_id=hh, programme="qnwj", amount_yuan=500, reason="春节慰问", campaign_id="C2026W")
    (p,) = err.value.problems
    assert p.field == "budget" and "剩余 0.00 元" in p.zh
    # A budget with exactly the amount left takes it, and then nothing more.
    from grid.budgets import remaining_budgets, set_budget

    h1, h2 = next(homes), next(homes)
    comm1 = str(wdb.scalar("SELECT c.community_code FROM households h JOIN cells c USING (cell_id) WHERE h.hh_id = ?",
                           [h1]))
    before = remaining_budgets(wdb, comm1, "lsjz", None)
    district_row = before[before["unit_code"] == "350203000000"].iloc[0]
    set_budget(wdb, OP, unit_code="350203000000", programme="lsjz", amount_yuan=district_row["committed_yuan"] + 150)
    try:
        A.apply(wdb, OP, hh_id=h1, programme="lsjz", amount_yuan=150, reason="刚好用完")
        with pytest.raises(ValidationError, match="left, less than"):
            A.apply(wdb, OP, hh_id=h2, programme="lsjz", amount_yuan=0.01, reason="一分也没有")
    finally:  # the other tests of this module apply for 临时救助 too
        set_budget(wdb, OP, unit_code="350203000000", programme="lsjz", amount_yuan=district_row["budget_yuan"] + 150)


def test_an_application_form_sent_twice_makes_one_application(wdb: Store, homes: Households) -> None:
    hh = next(homes)
    key = A.new_form_key()
    a = A.apply(wdb, OP, hh_id=hh, programme="lsjz", amount_yuan=100, reason="双击", idempotency_key=key)
    n = wdb.count("applications")
    assert A.apply(wdb, OP, hh_id=hh, programme="lsjz", amount_yuan=100, reason="双击", idempotency_key=key) == a
    assert wdb.count("applications") == n


# --------------------------------------------------------------------------- reading
def test_lists_are_scoped_and_masked(wdb: Store, store: Store) -> None:
    cell = str(store.scalar("SELECT h.cell_id FROM applications a JOIN households h USING (hh_id)"
                            " ORDER BY a.app_id LIMIT 1"))
    committee = as_role("committee", [cell])
    rows = A.list_applications(store, committee)
    want = store.query("SELECT a.app_id FROM applications a JOIN households h USING (hh_id) WHERE h.cell_id = ?",
                       [cell])["app_id"]
    assert sorted(rows["app_id"]) == sorted(want) and len(rows) > 0
    assert rows["head_name"].dropna().str.contains(r"\*").all()
    warden = A.list_applications(store, as_warden([cell]))
    names = store.query("SELECT a.app_id, h.head_name FROM applications a JOIN households h USING (hh_id)"
                        " WHERE h.cell_id = ?", [cell]).set_index("app_id")["head_name"]
    assert dict(zip(warden["app_id"], warden["head_name"], strict=True)) == names.to_dict()  # in full
    assert A.list_applications(store, as_role("leader", [cell])).empty
    counts = A.status_counts(store, as_role("leader", [cell]).scope)
    got = counts.groupby("status")["applications"].sum()
    assert {s: int(got.get(s, 0)) for s in STATES} == {s: int((rows["status"] == s).sum()) for s in STATES}


# --------------------------------------------------------------------------- the demo's history
def test_the_demos_applications_are_at_every_step_with_a_consistent_history(store: Store, district) -> None:
    apps = store.query("SELECT * FROM applications")
    assert set(apps["status"]) == set(STATES)
    assert store.count("application_objections") == 1
    obj = store.query("SELECT o.status, a.status AS app FROM application_objections o JOIN applications a"
                      " USING (app_id)").iloc[0]
    assert (obj["status"], obj["app"]) == ("open", "on_notice")
    ev = store.query('SELECT app_id, seq, step, from_status, to_status, "at" FROM application_events'
                     ' ORDER BY app_id, seq')
    for app_id, g in ev.groupby("app_id"):
        assert g["seq"].tolist() == list(range(1, len(g) + 1)), app_id
        assert g["step"].iloc[0] == "apply" and pd.isna(g["from_status"].iloc[0])
        assert (g["from_status"].iloc[1:].to_numpy() == g["to_status"].iloc[:-1].to_numpy()).all(), app_id
        assert g["at"].is_monotonic_increasing, app_id
        for step, src, dst in g[["step", "from_status", "to_status"]].itertuples(index=False):
            legal = A.step_of(step, None if pd.isna(src) else src)
            assert legal is not None and legal.target == dst, (app_id, step, src, dst)
    last = ev.groupby("app_id")["to_status"].last()
    assert (apps.set_index("app_id")["status"] == last.reindex(apps["app_id"]).to_numpy()).all()
    given = apps[apps["status"] == "given"]
    aid = store.query("SELECT app_id, hh_id, count(*) OVER (PARTITION BY app_id) AS n FROM assistance"
                      " WHERE app_id IS NOT NULL")
    assert set(aid["app_id"]) == set(given["app_id"]) and (aid["n"] == 1).all()
    hh = store.query("SELECT a.app_id, c.community_code FROM applications a JOIN households h USING (hh_id)"
                     " JOIN cells c ON c.cell_id = h.cell_id")
    assert (apps.set_index("app_id").loc[hh["app_id"], "unit_code"].to_numpy() == hh["community_code"].to_numpy()).all()
    on_notice = apps[apps["status"] == "on_notice"]
    assert (pd.to_datetime(on_notice["notice_ends_on"]).dt.date >= district.config.as_of).all()


def test_the_demo_plants_one_red_flag_of_each_kind(district) -> None:
    assert set(district.planted_flags) == {"not_active", "no_application", "above_standard", "shared_receiver",
                                           "budget_overrun"}
    assert len(district.planted_flags["shared_receiver"]) == 2
