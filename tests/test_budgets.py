"""Budgets and diversion checks (截留、挪用): the budget figures equal separately written SQL, the
demo's red flags are exactly the planted ones, and each kind planted on a copy is found exactly
(with the near misses that must not be flagged)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from grid import budgets as B
from grid.access import Scope, cells_in_scope
from grid.errors import AccessDenied, ValidationError
from grid.store import Store, open_store
from tests.actors import EVERYTHING, OP, as_role

#: Per budget row, written independently of grid/budgets.py: the units under a budget's unit by
#: recursion over admin_units, a record's programme by its application or its exact name or code,
#: its community by its application or its household's cell.
_BUDGET_SQL = """
WITH RECURSIVE down(root, code) AS (
    SELECT DISTINCT unit_code, unit_code FROM budgets
    UNION SELECT d.root, a.code FROM admin_units a JOIN down d ON a.parent_code = d.code
),
aid AS (
    SELECT a.aid_id, a.hh_id, a.campaign_id, (a.amount_yuan + a.goods_value_yuan)::DOUBLE AS v,
           coalesce(p.unit_code, c.community_code) AS community,
           coalesce(p.programme, (SELECT min(g.code) FROM programmes g WHERE g.name = a.programme
                                                                        OR g.code = a.programme)) AS prog,
           p.app_id IS NOT NULL AS linked
    FROM assistance a LEFT JOIN applications p ON p.app_id = a.app_id
    LEFT JOIN households h ON h.hh_id = a.hh_id LEFT JOIN cells c ON c.cell_id = h.cell_id
)
SELECT b.unit_code, b.programme, b.campaign_id, b.amount_yuan::DOUBLE AS budget,
    (SELECT coalesce(sum(x.amount_yuan), 0)::DOUBLE FROM applications x WHERE x.programme = b.programme
       AND x.campaign_id IS NOT DISTINCT FROM b.campaign_id
       AND x.unit_code IN (SELECT code FROM down WHERE root = b.unit_code)
       AND x.status IN ('applied', 'community_checked', 'street_reviewed', 'on_notice')) AS pending,
    (SELECT coalesce(sum(x.amount_yuan), 0)::DOUBLE FROM applications x WHERE x.programme = b.programme
       AND x.campaign_id IS NOT DISTINCT FROM b.campaign_id
       AND x.unit_code IN (SELECT code FROM down WHERE root = b.unit_code) AND x.status = 'approved') AS approved,
    (SELECT coalesce(sum(x.amount_yuan), 0)::DOUBLE FROM applications x WHERE x.programme = b.programme
       AND x.campaign_id IS NOT DISTINCT FROM b.campaign_id
       AND x.unit_code IN (SELECT code FROM down WHERE root = b.unit_code)
       AND x.status IN ('approved', 'given')) AS allocated,
    (SELECT coalesce(sum(v), 0)::DOUBLE FROM aid WHERE aid.prog = b.programme
       AND aid.campaign_id IS NOT DISTINCT FROM b.campaign_id
       AND aid.community IN (SELECT code FROM down WHERE root = b.unit_code)) AS given,
    (SELECT coalesce(sum(v), 0)::DOUBLE FROM aid WHERE aid.prog = b.programme AND NOT aid.linked
       AND aid.campaign_id IS NOT DISTINCT FROM b.campaign_id
       AND aid.community IN (SELECT code FROM down WHERE root = b.unit_code)) AS direct,
    (SELECT count(DISTINCT hh_id) FROM aid WHERE aid.prog = b.programme
       AND aid.campaign_id IS NOT DISTINCT FROM b.campaign_id
       AND aid.community IN (SELECT code FROM down WHERE root = b.unit_code)) AS households
FROM budgets b ORDER BY b.unit_code, b.programme, b.campaign_id NULLS FIRST
"""


def _compare(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert len(got) == len(want) > 0
    for g, w in zip(got.itertuples(index=False), want.itertuples(index=False), strict=True):
        assert (g.unit_code, g.programme) == (w.unit_code, w.programme)
        assert (g.campaign_id if isinstance(g.campaign_id, str) else None) == (
            w.campaign_id if isinstance(w.campaign_id, str) else None)
        for mine, theirs in (("budget_yuan", w.budget), ("pending_yuan", w.pending), ("approved_yuan", w.approved),
                             ("allocated_yuan", w.allocated), ("given_yuan", w.given), ("direct_yuan", w.direct)):
            assert getattr(g, mine) == pytest.approx(theirs, abs=0.005), (g.unit_code, g.programme, mine)
        committed = w.pending + w.approved + w.given
        assert g.committed_yuan == pytest.approx(committed, abs=0.005)
        assert g.remaining_yuan == pytest.approx(w.budget - committed, abs=0.005)
        assert g.overrun == (w.given > w.budget + 0.005)
        assert g.households_given == w.households
        if w.budget:
            assert g.given_share == pytest.approx(w.given / w.budget)


def test_budget_figures_equal_separately_written_sql(store: Store) -> None:
    got = B.budgets_for(store, EVERYTHING)
    _compare(got, store.query(_BUDGET_SQL))
    assert got["overrun"].sum() == 1  # the planted community
    assert (got["pending_yuan"] > 0).any() and (got["approved_yuan"] > 0).any() and (got["direct_yuan"] > 0).any()


def test_budgets_of_one_campaign_and_of_a_street(store: Store) -> None:
    got = B.budgets_for(store, EVERYTHING, "C2026W")
    assert set(got["campaign_id"]) == {"C2026W"}
    want = store.query(_BUDGET_SQL)
    _compare(got, want[want["campaign_id"] == "C2026W"].reset_index(drop=True))
    street = str(store.scalar("SELECT min(code) FROM admin_units WHERE level = 'street'"))
    scope = Scope.of_cells(cells_in_scope(store, [street]))
    mine = B.budgets_for(store, scope)
    inside = {str(c) for c in store.query("SELECT code FROM admin_units WHERE code = ? OR parent_code = ?",
                                          [street, street])["code"]}
    assert set(mine["unit_code"]) == set(want.loc[want["unit_code"].isin(inside), "unit_code"])
    assert "350203000000" not in set(mine["unit_code"])  # the district's budget is not a street's to see


def test_the_demos_red_flags_are_exactly_the_planted_ones(store: Store, district) -> None:
    flags = B.red_flags_for(store, EVERYTHING)
    got = {r: sorted(g["hh_id"]) for r, g in flags.groupby("reason")}
    assert got == {r: sorted(h) for r, h in district.planted_flags.items()}
    assert list(flags["reason"].drop_duplicates()) == [r for r in B.REASONS if r in got]  # listed in order
    for rec in flags.itertuples(index=False):
        assert rec.zh and rec.en and rec.aid_id
    over = flags[flags["reason"] == "budget_overrun"].iloc[0]
    unit, name, budget = store.query("SELECT b.unit_code, u.name, b.amount_yuan::DOUBLE FROM budgets b JOIN admin_units"
                                     " u ON u.code = b.unit_code WHERE u.level = 'community'").iloc[0]
    assert over["community_code"] == unit and name in over["zh"] and f"{budget:,.2f}" in over["zh"]


# --------------------------------------------------------------------------- planted on a copy
@pytest.fixture()
def copy(district_file, tmp_path) -> Iterator[Store]:
    path = tmp_path / "flags.duckdb"
    shutil.copyfile(district_file[0], path)
    s = open_store(path)
    yield s
    s.close()


def _aid(cur: Any, aid_id: str, hh: str, programme: str, value: float, when: str, *, campaign: str | None = None,
         app: str | None = None, name: str | None = None, phone: str | None = None, account: str | None = None,
         goods: bool = False) -> None:
    cur.execute("INSERT INTO assistance (aid_id, hh_id, campaign_id, programme, kind, amount_yuan, goods_value_yuan,"
                " given_at, giver_unit, app_id, receiver_name, receiver_phone, receiver_account) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMP, '测试单位', ?, ?, ?, ?)",
                [aid_id, hh, campaign, programme, "goods" if goods else "cash", 0 if goods else value,
                 value if goods else 0, when, app, name, phone, account])


def _fresh(store: Store, n: int, **where: Any) -> list[str]:
    """Registered households in cells with no application and no assistance."""
    return store.query("SELECT hh_id FROM households WHERE status = 'active' AND cell_id IS NOT NULL"
                       " AND hh_id NOT IN (SELECT hh_id FROM applications)"
                       " AND hh_id NOT IN (SELECT hh_id FROM assistance) ORDER BY hh_id LIMIT ?", [n])["hh_id"].tolist()


def _key(flags: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(flags["aid_id"], flags["reason"], strict=True))


def test_each_kind_planted_is_found_and_nothing_else(copy: Store) -> None:
    before = _key(B.red_flags_for(copy, EVERYTHING))
    h = _fresh(copy, 10)
    pair = copy.query("SELECT c.community_code, list(h.hh_id ORDER BY h.hh_id) AS ids FROM households h"
                      " JOIN cells c USING (cell_id) WHERE h.status = 'active' AND NOT list_contains(?, h.hh_id)"
                      " AND h.hh_id NOT IN (SELECT hh_id FROM assistance) GROUP BY 1 ORDER BY 1 LIMIT 1", [h]).iloc[0]
    community, (o1, o2) = str(pair["community_code"]), list(pair["ids"])[:2]
    other_app = str(copy.scalar("SELECT app_id FROM applications WHERE status = 'given' AND programme = 'qnwj'"
                                " ORDER BY app_id LIMIT 1"))
    with copy.transaction() as cur:  # test set-up: records as an import would bring them
        # not_active: moved on 2026-06-01; a gift after it is flagged, one before is not.
        cur.execute("UPDATE households SET status = 'moved' WHERE hh_id = ?", [h[0]])
        cur.execute("INSERT INTO household_history VALUES (?, TIMESTAMP '2026-06-01 10:00', 'status', 'active',"
                    " 'moved', 'test')", [h[0]])
        _aid(cur, "T1", h[0], "春节慰问物资", 100, "2026-06-02 09:00", goods=True)
        _aid(cur, "T1ok", h[0], "春节慰问物资", 100, "2026-05-31 09:00", goods=True)
        # no_application: 情暖万家 needs one from 2026-11-01; before that date it did not; the name is
        # matched whatever its spaces; an application of another household is none.
        _aid(cur, "T2", h[1], "情暖万家", 500, "2026-11-05 09:00", campaign="C2026W")
        _aid(cur, "T2ok", h[2], "情暖万家", 500, "2026-10-31 09:00", campaign="C2026W")
        _aid(cur, "T2b", h[3], " 情暖万家　", 500, "2026-11-06 09:00", campaign="C2026W", app=other_app)
        # above_standard: 300 of festival goods (standard 200); exactly 200 is not.
        _aid(cur, "T3", h[4], "春节慰问物资", 300, "2026-11-07 09:00", goods=True)
        _aid(cur, "T3ok", h[5], "春节慰问物资", 200, "2026-11-07 09:00", goods=True)
        # shared_receiver: one phone, written two ways, for two households; a shared name alone is no flag;
        # one household receiving twice on one account is no flag either.
        _aid(cur, "T4a", h[6], "春节慰问物资", 100, "2026-11-08 09:00", goods=True, phone="+86 138-0013-8000",
             name="李四")
        _aid(cur, "T4b", h[7], "春节慰问物资", 100, "2026-11-08 10:00", goods=True, phone="13800138000")
        _aid(cur, "T4ok", h[8], "春节慰问物资", 100, "2026-11-08 11:00", goods=True, name="李四")
        _aid(cur, "T4ok2", h[9], "春节慰问物资", 50, "2026-11-08 12:00", goods=True, account="6222-0000-7777")
        _aid(cur, "T4ok3", h[9], "春节慰问物资", 50, "2026-11-09 12:00", goods=True, account="6222 0000 7777")
        # budget_overrun: a community's budget of 150 for 困难党员慰问 outside campaigns; two gifts of 100 there.
        cur.execute("INSERT INTO budgets VALUES (?, 'dyhy', NULL, 150, TIMESTAMP '2026-10-01', 'test')", [community])
        _aid(cur, "T5a", o1, "困难党员慰问", 100, "2026-11-10 09:00")
        _aid(cur, "T5b", o2, "困难党员慰问", 100, "2026-11-10 10:00")
    got = _key(B.red_flags_for(copy, EVERYTHING)) - before
    assert got == {("T1", "not_active"), ("T2", "no_application"), ("T2b", "no_application"),
                   ("T3", "above_standard"), ("T4a", "shared_receiver"), ("T4b", "shared_receiver"),
                   ("T5b", "budget_overrun")}
    flags = B.red_flags_for(copy, EVERYTHING).set_index("aid_id")
    assert "尾号 8000" in flags.loc["T4a", "zh"] and h[7] in flags.loc["T4a", "zh"]
    assert "另一户" in flags.loc["T2b", "zh"] and "迁出" in flags.loc["T1", "zh"]
    assert "300.00" in flags.loc["T3", "zh"] and "200.00" in flags.loc["T3", "zh"]
    assert "150.00" in flags.loc["T5b", "zh"] and "200.00" in flags.loc["T5b", "zh"]


def test_budget_overrun_flags_every_record_beyond_the_budget_in_order(copy: Store) -> None:
    community = str(copy.scalar("SELECT c.community_code FROM households h JOIN cells c USING (cell_id)"
                                " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"))
    hh = copy.query("SELECT h.hh_id FROM households h JOIN cells c USING (cell_id) WHERE c.community_code = ?"
                    " AND h.hh_id NOT IN (SELECT hh_id FROM assistance) ORDER BY h.hh_id LIMIT 4",
                    [community])["hh_id"].tolist()
    before = _key(B.red_flags_for(copy, EVERYTHING))
    with copy.transaction() as cur:
        cur.execute("INSERT INTO budgets VALUES (?, 'cjwp', NULL, 250, TIMESTAMP '2026-10-01', 'test')", [community])
        for i, (h, v) in enumerate(zip(hh, (100, 100, 50, 10), strict=True)):  # running: 100, 200, 250, 260
            _aid(cur, f"B{i}", h, "春节慰问物资", v, f"2026-11-1{i} 09:00", goods=True)
        _aid(cur, "B9", hh[0], "春节慰问物资", 1, "2026-11-20 09:00", goods=True)  # 261
    got = _key(B.red_flags_for(copy, EVERYTHING)) - before
    assert got == {("B3", "budget_overrun"), ("B9", "budget_overrun")}  # 250 exactly is not beyond it
    status = B.budgets_for(copy, EVERYTHING)
    row = status[(status["unit_code"] == community) & (status["programme"] == "cjwp")].iloc[0]
    assert row["given_yuan"] == 261 and row["overrun"] and row["remaining_yuan"] == -11


def test_red_flags_follow_the_scope(store: Store, district) -> None:
    flagged = B.red_flags_for(store, EVERYTHING)
    one = flagged.iloc[0]
    cell_scope = Scope.of_cells({str(one["cell_id"])})
    mine = B.red_flags_for(store, cell_scope)
    assert set(mine["hh_id"]) == {one["hh_id"]} | set(
        flagged.loc[flagged["cell_id"] == one["cell_id"], "hh_id"])
    assert B.red_flags_for(store, Scope.of_cells(())).empty
    counts = B.flag_counts(flagged)
    assert int(counts["records"].sum()) == len(flagged) and "hh_id" not in counts.columns


def test_status_when_given_reads_the_register_history() -> None:
    aid = pd.DataFrame({"hh_id": ["a", "a", "a", "b", "c"],
                        "given_at": pd.to_datetime(["2026-01-01 00:00", "2026-03-01 10:00", "2026-09-01 00:00",
                                                    "2026-01-01 00:00",
                                                    "2026-01-01 00:00"])})
    hh = pd.DataFrame({"hh_id": ["a", "b"], "status": ["active", "deceased"]})
    hist = pd.DataFrame({"hh_id": ["a", "a"], "changed_at": pd.to_datetime(["2026-03-01 10:00", "2026-06-01 00:00"]),
                         "change": ["status", "status"], "old_value": ["active", "moved"],
                         "new_value": ["moved", "active"]})
    # At the very moment of the change the new status holds; after moving back, active again; no history:
    # today's status; an unknown household: None.
    assert B.status_when_given(aid, hh, hist).tolist() == ["active", "moved", "active", "deceased", None]


def test_receiver_keys() -> None:
    assert B.receiver_keys("6217-0000 1234", None) == ("621700001234", None)
    assert B.receiver_keys(None, "8613800138000") == (None, "13800138000")
    assert B.receiver_keys("abc", "123") == (None, None)


# --------------------------------------------------------------------------- settings
def test_set_programme_and_budget_are_checked_and_audited(copy: Store) -> None:
    with pytest.raises(ValidationError) as err:
        B.set_programme(copy, OP, code="bad code!", name="", kind="cash", standard_yuan="-5", targets=["x"],
                        notice_days=0)
    assert {p.field for p in err.value.problems} == {"code", "name", "standard_yuan", "target_categories",
                                                      "notice_days"}
    with pytest.raises(ValidationError, match="has this name"):
        B.set_programme(copy, OP, code="new1", name="情暖万家")
    with pytest.raises(AccessDenied):
        B.set_programme(copy, as_role("committee", ["c"]), code="new1", name="新项目")
    n = copy.count("audit_log")
    assert B.set_programme(copy, OP, code="zxjz", name="助学救助", standard_yuan="2,000", targets=["dibao_urban"],
                           approval_from="2026-12-01", description="困难家庭子女助学") == "zxjz"
    B.set_programme(copy, OP, code="zxjz", name="助学救助", standard_yuan=3000, needs_approval=False)
    got = B.load_programmes(copy).set_index("code").loc["zxjz"]
    assert got["standard_yuan"] == 3000 and not got["needs_approval"] and got["target_categories"] == []
    assert copy.count("audit_log") == n + 2
    with pytest.raises(ValidationError) as err:
        B.set_budget(copy, OP, unit_code="999999999999", programme="nope", amount_yuan="-1", campaign_id="NO")
    assert {p.field for p in err.value.problems} == {"unit_code", "programme", "amount_yuan", "campaign_id"}
    street = str(copy.scalar("SELECT min(code) FROM admin_units WHERE level = 'street'"))
    other = str(copy.scalar("SELECT max(code) FROM admin_units WHERE level = 'street'"))
    with pytest.raises(AccessDenied):
        B.set_budget(copy, as_role("committee", sorted(cells_in_scope(copy, [street]))), unit_code=street,
                     programme="zxjz", amount_yuan=100)
    B.set_budget(copy, OP, unit_code=other, programme="zxjz", amount_yuan=100, now=datetime(2026, 12, 1))
    B.set_budget(copy, OP, unit_code=other, programme="zxjz", amount_yuan=200, now=datetime(2026, 12, 2))
    rows = copy.query("SELECT amount_yuan::DOUBLE AS a, set_by FROM budgets WHERE unit_code = ? AND programme = 'zxjz'",
                      [other])
    assert rows.values.tolist() == [[200.0, OP.name]]  # replaced, not added
