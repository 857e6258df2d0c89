"""All or nothing: a failure inside any write leaves the database exactly as it was.

Each write path of the library runs three times on a copy of the district:

1. with a failure injected at its **last statement** (the statement runs, then
   the cursor raises: the audit row, the imports-log row, the last INSERT or
   UPDATE), so every earlier statement of the same transaction has already run;
2. with a failure injected **just before COMMIT** (the whole body ran);
3. without a failure, as the control: the write goes through, so it does change
   the database (a path that writes nothing could never fail this test), its
   last write statement is the one step 1 broke, and the write generation moves
   exactly when the write is data (bookkeeping such as sign-ins and audit rows
   leaves caches valid).

After 1 and 2, every table's row count and checksum (DuckDB ``hash`` of every
row) and :attr:`Store.generation` are unchanged. The injection wraps every
cursor the store hands out, inside or outside a transaction, so a write that
left its transaction (or committed early) is caught as well.

A new write path is one entry of :data:`PATHS`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from argon2 import PasswordHasher

from grid import applications as A
from grid import audit, users
from grid import needs as N
from grid import planning as P
from grid import store as store_mod
from grid.budgets import set_budget, set_programme
from grid.campaigns import create_campaign
from grid.demo import DEMO_ACCOUNTS, DemoConfig, build_demo
from grid.errors import AuthError
from grid.ingest import import_file
from grid.store import SCHEMA_VERSION, Store, open_store
from grid.visits import NeedInput, log_visit
from tests.actors import OP

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|DROP|CREATE|ALTER)\b", re.I)


class InjectedFailure(RuntimeError):
    """The failure a test injects (never raised by the product)."""


# --------------------------------------------------------------------------- checksums
def snapshot(store: Store | duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Every table: (row count, sum of the rows' hashes). Table names come from DuckDB's catalogue."""
    con = store.cursor() if isinstance(store, Store) else store
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary"
        " ORDER BY table_name").fetchall()]
    out = {}
    for name in names:
        row = con.execute(f'SELECT count(*), coalesce(sum(hash(CAST(t AS VARCHAR))), 0) FROM "{name}" t').fetchone()
        assert row is not None
        out[str(name)] = (int(row[0]), int(row[1]))
    return out


def changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


# --------------------------------------------------------------------------- injection
@dataclass
class Injector:
    """Where to fail: the ``nth`` statement matching ``pattern``, or just before the outermost COMMIT."""

    pattern: re.Pattern[str] | None = None
    nth: int = 1
    before_commit: bool = False
    seen: int = 0
    fired: bool = False
    statements: list[str] | None = None  # when recording, every statement executed

    def after(self, sql: str) -> None:
        if self.statements is not None:
            self.statements.append(sql)
        if self.pattern is not None and self.pattern.search(sql):
            self.seen += 1
            if self.seen == self.nth:
                self.fired = True
                raise InjectedFailure(f"injected after: {sql[:60]}")


class Cursor:
    """A DuckDB cursor that reports each statement to the injector after running it."""

    def __init__(self, cur: Any, inj: Injector) -> None:
        self._cur, self._inj = cur, inj

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        res = self._cur.execute(sql, *args, **kwargs)
        self._inj.after(sql)
        return res

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


@contextmanager
def injected(store: Store, monkeypatch: pytest.MonkeyPatch, inj: Injector) -> Iterator[Injector]:
    """Route every cursor of ``store`` (in and out of transactions) through ``inj``."""
    tx, cursor = store.transaction, store.cursor
    depth = threading.local()

    @contextmanager
    def transaction(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with tx(*args, **kwargs) as cur:
            level = getattr(depth, "n", 0)
            depth.n = level + 1
            try:
                yield Cursor(cur, inj)
            finally:
                depth.n = level
            if inj.before_commit and level == 0:
                inj.fired = True
                raise InjectedFailure("injected before COMMIT")

    monkeypatch.setattr(store, "transaction", transaction)
    monkeypatch.setattr(store, "cursor", lambda: Cursor(cursor(), inj))
    try:
        yield inj
    finally:
        monkeypatch.setattr(store, "transaction", tx)
        monkeypatch.setattr(store, "cursor", cursor)


# --------------------------------------------------------------------------- the write paths
Action = Callable[[Store, dict[str, Any], Path], Any]
Setup = Callable[[Store, Path], dict[str, Any]]


@dataclass(frozen=True)
class WritePath:
    name: str
    action: Action  # does the write (called twice: failing, then for real)
    last: str  # a pattern of the path's last write statement
    nth: int = 1  # which match of ``last`` is the last write (a nested path repeats it)
    data: bool = True  # a data write moves the generation; bookkeeping does not
    setup: Setup | None = None  # prepares what the action needs (committed before the snapshot)
    empty: bool = False  # the path starts from an empty database


def _csv(tmp: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    path = tmp / f"{name}.csv"
    path.write_text(pd.DataFrame(rows).to_csv(index=False), encoding="utf-8")
    return path


def _facts(store: Store) -> dict[str, Any]:
    hh, lon, lat = store.query("SELECT hh_id, ST_X(geom) x, ST_Y(geom) y FROM households"
                               " WHERE status = 'active' AND cell_id IS NOT NULL ORDER BY hh_id LIMIT 1").iloc[0]
    return {"hh": str(hh), "lon": float(lon), "lat": float(lat),
            "street": str(store.scalar("SELECT min(code) FROM admin_units WHERE level = 'street'")),
            "campaign": str(store.scalar("SELECT min(campaign_id) FROM campaigns"))}


def _import(kind: str, rows: Callable[[dict[str, Any]], list[dict[str, Any]]], mode: str = "insert",
            category_map: dict[str, str] | None = None) -> Action:
    def act(store: Store, ctx: dict[str, Any], tmp: Path) -> Any:
        return import_file(store, OP, kind, _csv(tmp, kind, rows(_facts(store))), mode=mode,
                           category_map=category_map)
    return act


def _hh_ambiguous_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    """New households and a changed one, 低保 confirmed as 农村低保: added and updated counted in the write."""
    return [{**r, "类别": "低保"} for r in _hh_rows(f)] + [
        {"户编号": f["hh"], "户主姓名": "改过的户主", "地址": "改过的地址2号", "人口数": "3", "类别": "低保",
         "经度": repr(f["lon"]), "纬度": repr(f["lat"])}]


def _hh_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"户编号": f"XA{i}", "户主姓名": f"测试{i}", "地址": f"原子路{i}号", "人口数": "2", "类别": "城市低保",
             "经度": repr(f["lon"] + 1e-5 * i), "纬度": repr(f["lat"])} for i in range(3)]


def _hh_update_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"户编号": f["hh"], "地址": "改过的地址1号", "人口数": "7", "类别": "特困、残疾",
             "经度": repr(f["lon"] + 2e-4), "纬度": repr(f["lat"])}]


def _station_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"站点编号": "SXA1", "站点名称": "原子卫生站", "站点类型": "卫生室", "服务半径": "500",
             "经度": repr(f["lon"]), "纬度": repr(f["lat"])}]


def _people_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"人员编号": "PXA1", "姓名": "原子干部", "身份": "干部", "单位代码": f["street"]}]


def _campaign_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"活动编号": "CXA1", "活动名称": "原子慰问", "组织单位代码": f["street"], "开始日期": "2025-11-01",
             "结束日期": "2026-02-28", "对象类别": "城市低保"}]


def _visit_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"记录编号": f"VXA{i}", "户编号": f["hh"], "走访时间": f"2025-12-0{i + 1} 10:00", "情况": "正常"}
            for i in range(3)]


def _need_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"诉求编号": "NXA1", "户编号": f["hh"], "提出时间": "2025-12-01 10:00", "诉求类别": "就医",
             "诉求内容": "配药"}]


def _aid_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"记录编号": f"AXA{i}", "户编号": f["hh"], "项目": "情暖万家", "金额": "500",
             "发放时间": "2025-12-20", "发放单位": "街道"} for i in range(2)]


def _log_visit(key: str | None) -> Action:
    def act(store: Store, ctx: dict[str, Any], tmp: Path) -> Any:
        return log_visit(store, OP, hh_id=_facts(store)["hh"], visitor_id=None, visited_at=datetime(2026, 11, 20, 9),
                         situation="原子测试", needs=[NeedInput("medical", "配药"), NeedInput("living", "米油")],
                         idempotency_key=key)
    return act


#: A tiny PNG (its magic bytes are what the type check reads).
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
T0 = datetime(2026, 11, 20, 9)


def _need_in(state: str, *, overdue: bool = False) -> Setup:
    """A need of the first household brought by the operator to ``state`` (committed before the snapshot)."""
    def setup(store: Store, tmp: Path) -> dict[str, Any]:
        f = _facts(store)
        at = datetime(2026, 10, 1, 9) if overdue else T0
        if overdue:  # the demo's own overdue needs first, so that the path escalates the one made here
            N.escalate_overdue(store, OP, now=T0)
        nid = N.raise_need(store, OP, hh_id=f["hh"], category="housing", description="屋顶漏水", raised_at=at,
                           now=at)
        comm = str(store.scalar("SELECT c.community_code FROM households h JOIN cells c USING (cell_id)"
                                " WHERE h.hh_id = ?", [f["hh"]]))
        steps = {"assigned": ["assign"], "in_progress": ["assign", "start"], "resolved": ["assign", "start", "resolve"],
                 "returned": ["assign", "return"], "raised": []}[state]
        for step in steps:
            if step == "assign":
                N.assign(store, OP, nid, comm, now=at)
            elif step == "start":
                N.start(store, OP, nid, now=at)
            elif step == "resolve":
                N.resolve(store, OP, nid, "已修好", now=T0)
            else:
                N.return_(store, OP, nid, "不属于本社区", now=at)
        return {"need": nid, "community": comm}
    return setup


def _plan(store: Store, tmp: Path) -> dict[str, Any]:
    camp = str(store.scalar("SELECT campaign_id FROM campaigns ORDER BY starts_on DESC LIMIT 1"))
    # The smallest community that holds target households (ties broken by code: the choice is deterministic).
    comm = str(store.scalar(
        "SELECT c.community_code FROM households h JOIN cells c USING (cell_id)"
        " WHERE h.status = 'active' AND list_has_any(h.categories, (SELECT target_categories FROM campaigns"
        " WHERE campaign_id = ?)) GROUP BY c.community_code HAVING count(*) >= 6"
        " ORDER BY count(*), c.community_code LIMIT 1", [camp]))
    return {"plan": P.make_plan(store, OP, camp, comm, planning_date=datetime(2026, 11, 16).date())}


def _saved_plan(store: Store, tmp: Path) -> dict[str, Any]:
    plan = _plan(store, tmp)["plan"]
    plan_id = P.save_plan(store, OP, plan)
    counts = plan.visitors.set_index("visitor_id")["households"]
    giver = counts[counts > plan.min_per].index[0]
    taker = next(v for v in counts[counts < plan.max_per].index if v != giver)
    return {"plan_id": plan_id, "hh": plan.route_of(giver)[0], "to": taker}


def _a_user(store: Store, tmp: Path) -> dict[str, Any]:
    users.create_user(store, "atomic_user", "old password 1", "committee", [_facts(store)["street"]], by="tester")
    return {}


def _failed_once(store: Store, tmp: Path) -> dict[str, Any]:
    _a_user(store, tmp)
    with pytest.raises(AuthError):
        users.authenticate(store, "atomic_user", "wrong password", now=datetime(2026, 11, 20, 9))
    return {}


def _wrong_password(store: Store, ctx: dict[str, Any], tmp: Path) -> None:
    """A wrong password: refused (AuthError) after counting the failure and writing its audit row."""
    with pytest.raises(AuthError):
        users.authenticate(store, "atomic_user", "wrong again", now=datetime(2026, 11, 20, 10))


def _moved_household(store: Store, tmp: Path) -> dict[str, Any]:
    """A household moved by hand (committed): refresh_derived has its metric point and cell to recompute."""
    f = _facts(store)
    with store.transaction() as cur:
        cur.execute("UPDATE households SET geom = ST_Point(?, ?) WHERE hh_id = ?", [f["lon"] + 3e-3, f["lat"], f["hh"]])
    return {}


def _fresh_household(store: Store) -> str:
    return str(store.scalar("SELECT min(hh_id) FROM households WHERE status = 'active' AND cell_id IS NOT NULL"
                            " AND hh_id NOT IN (SELECT hh_id FROM applications)"))


def _application(state: str, objection: bool = False) -> Setup:
    """An application of 临时救助 brought to ``state`` (and an open objection), committed before the snapshot."""
    steps = {"applied": [], "community_checked": ["check"], "street_reviewed": ["check", "review"],
             "on_notice": ["check", "review", "notice"], "approved": ["check", "review", "notice", "approve"]}[state]

    def setup(store: Store, tmp: Path) -> dict[str, Any]:
        app = A.apply(store, OP, hh_id=_fresh_household(store), programme="lsjz", amount_yuan=100, reason="原子",
                      now=datetime(2026, 10, 1, 9))
        for step in steps:
            if step == "notice":
                A.notice(store, OP, app, starts_on=datetime(2026, 10, 2).date(), now=datetime(2026, 10, 1, 12))
            else:
                getattr(A, step)(store, OP, app, now=datetime(2026, 10, 20 if step == "approve" else 1, 11))
        ctx = {"app": app}
        if objection:
            ctx["objection"] = A.object_to(store, OP, app, content="原子异议", now=datetime(2026, 10, 3, 9))
        return ctx

    return setup


PATHS: list[WritePath] = [
    # Imports: rows, history, derived columns, the imports-log row, then the audit row last.
    WritePath("import households", _import("households", _hh_rows), r"INSERT INTO audit_log"),
    WritePath("import households upsert", _import("households", _hh_update_rows, "upsert"), r"INSERT INTO audit_log"),
    WritePath("import households, categories confirmed", _import("households", _hh_ambiguous_rows, "upsert",
                                                                 {"低保": "dibao_rural"}), r"INSERT INTO audit_log"),
    WritePath("import stations", _import("stations", _station_rows), r"INSERT INTO audit_log"),
    WritePath("import people", _import("people", _people_rows), r"INSERT INTO audit_log"),
    WritePath("import campaigns", _import("campaigns", _campaign_rows), r"INSERT INTO audit_log"),
    WritePath("import visits", _import("visits", _visit_rows), r"INSERT INTO audit_log"),
    WritePath("import needs", _import("needs", _need_rows), r"INSERT INTO audit_log"),
    WritePath("import assistance", _import("assistance", _aid_rows), r"INSERT INTO audit_log"),
    # A warden's visit log: the visit, its needs, the form's idempotency key, then the audit row.
    WritePath("log a visit", _log_visit("atomic-key-1"), r"INSERT INTO audit_log"),
    WritePath("log a visit without a key", _log_visit(None), r"INSERT INTO audit_log"),
    # The needs' flow: each step writes the need, its event, then the audit row.
    WritePath("raise a need with a photo", lambda s, c, t: N.raise_need(
        s, OP, hh_id=_facts(s)["hh"], category="care", description="需要上门照料", raised_at=T0, photos=[PNG],
        idempotency_key="atomic-need", now=T0), r"INSERT INTO audit_log", nth=2),
    WritePath("assign a need", lambda s, c, t: N.assign(s, OP, c["need"], c["community"], now=T0),
              r"INSERT INTO audit_log", setup=_need_in("raised")),
    WritePath("reassign a need", lambda s, c, t: N.reassign(s, OP, c["need"], "dept_housing", now=T0),
              r"INSERT INTO audit_log", setup=_need_in("returned")),
    WritePath("start a need", lambda s, c, t: N.start(s, OP, c["need"], now=T0), r"INSERT INTO audit_log",
              setup=_need_in("assigned")),
    WritePath("a note on a need", lambda s, c, t: N.add_note(s, OP, c["need"], "已上门", now=T0),
              r"INSERT INTO audit_log", setup=_need_in("in_progress")),
    WritePath("a photo of a need", lambda s, c, t: N.add_photo(s, OP, c["need"], PNG, now=T0),
              r"INSERT INTO audit_log", setup=_need_in("in_progress")),
    WritePath("resolve a need", lambda s, c, t: N.resolve(s, OP, c["need"], "已修好", now=T0),
              r"INSERT INTO audit_log", setup=_need_in("in_progress")),
    WritePath("answer a need", lambda s, c, t: N.answer(s, OP, c["need"], "不符合条件", now=T0),
              r"INSERT INTO audit_log", setup=_need_in("in_progress")),
    WritePath("return a need", lambda s, c, t: N.return_(s, OP, c["need"], "不属于本社区", now=T0),
              r"INSERT INTO audit_log", setup=_need_in("assigned")),
    WritePath("close a need", lambda s, c, t: N.close(s, OP, c["need"], "满意", now=T0),
              r"INSERT INTO audit_log", setup=_need_in("resolved")),
    WritePath("undo a step", lambda s, c, t: N.undo(s, OP, c["need"], now=T0), r"INSERT INTO audit_log",
              setup=_need_in("resolved")),
    WritePath("escalate overdue needs", lambda s, c, t: N.escalate_overdue(s, OP, now=T0),
              r"INSERT INTO audit_log", nth=1, setup=_need_in("assigned", overdue=True)),
    WritePath("set a time limit", lambda s, c, t: N.set_time_limit(s, OP, "housing", 10), r"INSERT INTO audit_log"),
    # A campaign made on the committee's page: the campaign, then its audit row.
    WritePath("create a campaign", lambda s, c, t: create_campaign(
        s, OP, campaign_id="CXA2", name="原子活动", unit_code=_facts(s)["street"], starts_on="2025-11-01",
        ends_on="2026-02-28", targets=["dibao_urban"]), r"INSERT INTO audit_log"),
    # Plans: plan, visitors, items, audit row; moving: delete, insert, updates, audit row.
    WritePath("save a plan", lambda s, c, t: P.save_plan(s, OP, c["plan"]),
              r"INSERT INTO audit_log", setup=_plan),
    WritePath("move a household", lambda s, c, t: P.move_household(s, OP, c["plan_id"], c["hh"], c["to"]),
              r"INSERT INTO audit_log", setup=_saved_plan),
    # Applications for assistance: each step writes the application's row (and, giving, the assistance
    # record; an objection, its row), one event row, then its audit row.
    WritePath("apply for assistance", lambda s, c, t: A.apply(s, OP, hh_id=_fresh_household(s), programme="lsjz",
                                                              amount_yuan=100, reason="原子申请",
                                                              idempotency_key="atomic-app"), r"INSERT INTO audit_log"),
    WritePath("check an application", lambda s, c, t: A.check(s, OP, c["app"], note="同意"),
              r"INSERT INTO audit_log", setup=_application("applied")),
    WritePath("review an application", lambda s, c, t: A.review(s, OP, c["app"]),
              r"INSERT INTO audit_log", setup=_application("community_checked")),
    WritePath("post an application on notice", lambda s, c, t: A.notice(s, OP, c["app"], days=7),
              r"INSERT INTO audit_log", setup=_application("street_reviewed")),
    WritePath("record an objection", lambda s, c, t: A.object_to(s, OP, c["app"], content="异议"),
              r"INSERT INTO audit_log", setup=_application("on_notice")),
    WritePath("dismiss an objection", lambda s, c, t: A.settle(s, OP, c["objection"], upheld=False, note="不成立"),
              r"INSERT INTO audit_log", setup=_application("on_notice", objection=True)),
    WritePath("uphold an objection", lambda s, c, t: A.settle(s, OP, c["objection"], upheld=True, note="成立"),
              r"INSERT INTO audit_log", setup=_application("on_notice", objection=True)),
    WritePath("approve an application", lambda s, c, t: A.approve(s, OP, c["app"]),
              r"INSERT INTO audit_log", setup=_application("on_notice")),
    WritePath("give an application", lambda s, c, t: A.give(s, OP, c["app"], receipt_ref="R-atomic"),
              r"INSERT INTO audit_log", setup=_application("approved")),
    WritePath("reject an application", lambda s, c, t: A.reject(s, OP, c["app"], reason="不符合"),
              r"INSERT INTO audit_log", setup=_application("street_reviewed")),
    WritePath("set a budget", lambda s, c, t: set_budget(s, OP, unit_code=_facts(s)["street"], programme="lsjz",
                                                         amount_yuan=1000), r"INSERT INTO audit_log"),
    WritePath("set a programme", lambda s, c, t: set_programme(s, OP, code="atomic", name="原子项目", standard_yuan=100),
              r"INSERT INTO audit_log"),
    # Users and sign-in.
    WritePath("create a user", lambda s, c, t: users.create_user(s, "atomic_new", "a good password 1", "inspector",
                                                                   by="tester"), r"INSERT INTO audit_log"),
    WritePath("set a password", lambda s, c, t: users.set_password(s, "atomic_user", "new password 2", by="tester"),
              r"INSERT INTO audit_log", setup=_a_user),
    WritePath("disable a user", lambda s, c, t: users.disable_user(s, "atomic_user", by="tester"),
              r"INSERT INTO audit_log", setup=_a_user),
    WritePath("sign in (resets the failure count)",
              lambda s, c, t: users.authenticate(s, "atomic_user", "old password 1", now=datetime(2026, 11, 20, 10)),
              r"INSERT INTO audit_log", data=False, setup=_failed_once),
    WritePath("a failed sign-in (counts the failure)", _wrong_password, r"INSERT INTO audit_log", data=False,
              setup=_failed_once),
    WritePath("an audit row", lambda s, c, t: audit.record(s, "tester", "export", object="households", row_count=3),
              r"INSERT INTO audit_log", data=False),
    # The store's own writes.
    WritePath("refresh derived columns", lambda s, c, t: s.refresh_derived(), r"UPDATE households SET cell_id",
              setup=_moved_household),
    WritePath("set a meta value", lambda s, c, t: s.set_meta("atomic", "1"), r"warmgrid_meta"),
    # The demo district: everything, then derived columns, then one account per role (its last audit row is last).
    WritePath("build the demo", lambda s, c, t: build_demo(s, DemoConfig(households=300, seed=5, streets=1,
                                                                         communities=2, target_per_cell=100)),
              r"INSERT INTO audit_log", nth=len(DEMO_ACCOUNTS), empty=True),
]


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "HASHER", CHEAP)


@pytest.mark.parametrize("where", ["last statement", "before commit"])
@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_a_failure_inside_a_write_leaves_no_trace(path: WritePath, where: str, request: pytest.FixtureRequest,
                                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store: Store = request.getfixturevalue("fresh_store" if path.empty else "db")
    ctx = path.setup(store, tmp_path) if path.setup else {}
    before, gen = snapshot(store), store.generation

    inj = (Injector(before_commit=True) if where == "before commit"
           else Injector(pattern=re.compile(path.last), nth=path.nth))
    with injected(store, monkeypatch, inj), pytest.raises(InjectedFailure):
        path.action(store, ctx, tmp_path)
    assert inj.fired
    assert changed(before, snapshot(store)) == [], "a failed write left rows behind"
    assert store.generation == gen

    # The control: the same write, not interrupted, does write, and ends with the statement broken above.
    rec = Injector(statements=[])
    with injected(store, monkeypatch, rec):
        path.action(store, ctx, tmp_path)
    assert changed(before, snapshot(store)), "the write path wrote nothing: the test above proves nothing"
    writes = [s for s in rec.statements or [] if WRITE.search(s)]
    assert writes and re.search(path.last, writes[-1]), f"the last write is now: {writes[-1][:80]}"
    assert sum(bool(re.search(path.last, s)) for s in writes) == path.nth
    assert store.generation == (gen + 1 if path.data else gen)


# --------------------------------------------------------------------------- the store's transaction
def test_an_exception_after_partial_writes_rolls_back_and_keeps_the_generation(db: Store) -> None:
    before, gen = snapshot(db), db.generation
    hh = _facts(db)["hh"]
    for exc in (ValueError("bad row"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with db.transaction() as cur:
                cur.execute("INSERT INTO people (person_id, name, role) VALUES ('PXT', '临时', 'cadre')")
                cur.execute("UPDATE households SET size = size + 1 WHERE hh_id = ?", [hh])
                cur.execute("DELETE FROM visits WHERE hh_id = ?", [hh])
                with db.transaction() as inner:  # joins the outer transaction
                    inner.execute("INSERT INTO audit_log (action) VALUES ('export')")
                    assert db.scalar("SELECT count(*) FROM people WHERE person_id = 'PXT'") == 1
                    raise exc
        assert changed(before, snapshot(db)) == []
        assert db.generation == gen
    # The store is still usable, and a successful write moves the generation once.
    with db.transaction() as cur:
        cur.execute("INSERT INTO people (person_id, name, role) VALUES ('PXT', '临时', 'cadre')")
    assert changed(before, snapshot(db)) == ["people"] and db.generation == gen + 1


def test_the_checksum_sees_a_one_value_change(db: Store) -> None:
    """The snapshot is sensitive enough: one changed value in one row changes it."""
    before = snapshot(db)
    with db.transaction() as cur:
        cur.execute("UPDATE households SET size = size + 1 WHERE hh_id = ?", [_facts(db)["hh"]])
    assert changed(before, snapshot(db)) == ["households"]


def test_a_failed_migration_leaves_the_old_file_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening an old file migrates it in one transaction: a failure at its last step (the new
    version number) leaves the old schema, its rows and its version."""
    path = tmp_path / "v1.duckdb"
    spatial = f"LOAD '{store_mod.spatial_extension_path().as_posix()}'"
    con = duckdb.connect(str(path))
    con.execute(spatial)
    con.execute(store_mod._schema_sql())
    con.execute("INSERT INTO warmgrid_meta VALUES ('application', 'warmgrid'), ('schema_version', '1')")
    con.execute("INSERT INTO people VALUES ('p1', '孙七', 'warden', NULL, NULL, NULL, TRUE)")

    def file_state() -> dict[str, tuple[int, int]]:
        with duckdb.connect(str(path), read_only=True) as c:
            c.execute(spatial)
            return snapshot(c)

    con.close()
    before = file_state()
    inj = Injector(pattern=re.compile(r"INTO warmgrid_meta VALUES \('application'"))
    tx = Store.transaction

    @contextmanager
    def transaction(self: Store, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with tx(self, *args, **kwargs) as cur:
            yield Cursor(cur, inj)

    monkeypatch.setattr(Store, "transaction", transaction)
    with pytest.raises(InjectedFailure):
        open_store(path)
    monkeypatch.undo()
    assert inj.fired and file_state() == before
    with open_store(path) as s:  # the control: the same file migrates
        assert s.schema_version() == SCHEMA_VERSION and s.count("people") == 1
    assert file_state() != before
