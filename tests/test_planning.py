"""Visit plans: assignment, routes, saving, moving, progress and visit sheets."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from grid import planning as P
from grid.demo import DemoDistrict
from grid.errors import AccessDenied, WarmGridError
from grid.store import Store, open_store
from grid.visits import log_visit
from tests.actors import OP, as_role

CAMPAIGN = "C2026W"
#: After the demo's visit history (which ends on 2026-11-15).
DAY = date(2026, 11, 16)


@pytest.fixture(scope="module")
def wstore(district_file: tuple[Path, DemoDistrict], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A writable copy of the session district, shared by this module's write tests."""
    path = tmp_path_factory.mktemp("planning") / "plan.duckdb"
    shutil.copy(district_file[0], path)
    s = open_store(path)
    yield s
    s.close()


def _street(district: DemoDistrict) -> str:
    return str(district.admin_units.loc[district.admin_units["level"] == "street", "code"].iloc[0])


def _biggest_community(store: Store) -> str:
    targets = P.load_targets(store, CAMPAIGN, str(store.scalar(
        "SELECT code FROM admin_units WHERE level = 'district'")))
    return str(targets["community_code"].value_counts().index[0])


def _check_plan(plan: P.Plan, targets: pd.DataFrame) -> None:
    """Every target exactly once, bounds kept, walking order and legs consistent."""
    items = plan.items
    assert items["hh_id"].is_unique
    assert set(items["hh_id"]) == set(targets["hh_id"])
    assert set(items["visitor_id"]) <= set(plan.visitors["visitor_id"])
    counts = items.groupby("visitor_id").size().reindex(plan.visitors["visitor_id"], fill_value=0)
    assert (counts.to_numpy() == plan.visitors["households"].to_numpy()).all()
    assert counts.min() >= plan.min_per and counts.max() <= plan.max_per
    for vid, grp in items.groupby("visitor_id"):
        assert grp["seq"].tolist() == list(range(1, len(grp) + 1))
        route_m = float(plan.visitors.set_index("visitor_id").at[vid, "route_m"])
        assert grp["leg_m"].sum() == pytest.approx(route_m)
    assert plan.total_m == pytest.approx(float(items["leg_m"].sum()))


def _round_robin_total(plan: P.Plan) -> float:
    """The same households and visitors, dealt round-robin by list order, routed the same way."""
    hh = plan.items.sort_values("hh_id")
    vis = plan.visitors
    total = 0.0
    for k, (sx, sy) in enumerate(zip(vis["x_m"], vis["y_m"], strict=True)):
        pts = hh.iloc[k:: len(vis)][["x_m", "y_m"]].to_numpy(dtype=float)
        total += P.route((sx, sy), pts)[2]
    return total


# --------------------------------------------------------------------------- bounds
def test_bounds_default_is_an_even_split() -> None:
    assert P.plan_bounds(100, 8) == (12, 13)
    assert P.plan_bounds(100, 8, min_per=10) == (10, 100)
    assert P.plan_bounds(100, 8, max_per=20) == (0, 20)
    assert P.plan_bounds(5, 8) == (0, 1)


@pytest.mark.parametrize(
    ("n", "v", "lo", "hi", "numbers"),
    [
        (25, 19, 2, None, ["25", "19", "2", "38", "1"]),  # fewer households than visitors x minimum
        (5, 8, 1, None, ["5", "8", "走访人比目标户多", "more visitors than households"]),
        (100, 8, None, 10, ["100", "8", "10", "80", "13"]),  # more than visitors x maximum
        (10, 0, None, None, ["没有走访人", "no visitors"]),
        (0, 4, None, None, ["没有该活动的目标户", "no target households"]),
        (10, 2, 6, 4, ["6", "4"]),
    ],
)
def test_infeasible_bounds_raise_with_the_numbers(n: int, v: int, lo: int | None, hi: int | None,
                                                  numbers: list[str]) -> None:
    with pytest.raises(P.PlanInfeasibleError) as err:
        P.plan_bounds(n, v, lo, hi)
    assert isinstance(err.value, WarmGridError)
    text = str(err.value)
    for s in numbers:
        assert s in text
    assert err.value.zh and err.value.en


def test_infeasible_plan_from_the_store_names_the_numbers(store: Store) -> None:
    comm = _biggest_community(store)
    n = len(P.load_targets(store, CAMPAIGN, comm))
    v = len(P.load_visitors(store, comm))
    with pytest.raises(P.PlanInfeasibleError) as err:
        P.make_plan(store, OP, CAMPAIGN, comm, min_per=n // v + 1, planning_date=DAY)
    assert f"{n}" in str(err.value) and f"{v}" in str(err.value)
    assert (err.value.n_households, err.value.n_visitors) == (n, v)
    with pytest.raises(P.PlanInfeasibleError):
        P.make_plan(store, OP, CAMPAIGN, comm, max_per=max(1, (n - 1) // v), min_per=0, planning_date=DAY)


def test_unknown_campaign_and_area(store: Store, district: DemoDistrict) -> None:
    with pytest.raises(WarmGridError, match="未知的活动"):
        P.make_plan(store, OP, "NOPE", _street(district), planning_date=DAY)
    with pytest.raises(WarmGridError, match="999999999999"):
        P.make_plan(store, OP, CAMPAIGN, "999999999999", planning_date=DAY)


# --------------------------------------------------------------------------- plans from the store
def test_street_plan_assigns_every_target_exactly_once(store: Store, district: DemoDistrict) -> None:
    street = _street(district)
    plan = P.make_plan(store, OP, CAMPAIGN, street, planning_date=DAY)
    targets = P.load_targets(store, CAMPAIGN, street)
    assert len(targets) > 20
    _check_plan(plan, targets)
    assert (plan.min_per, plan.max_per) == (len(targets) // len(plan.visitors),
                                            -(-len(targets) // len(plan.visitors)))
    # Targets: the campaign's categories, inside the street.
    cats = set(district.campaigns.set_index("campaign_id").at[CAMPAIGN, "target_categories"])
    assert all(set(c) & cats for c in plan.items["categories"])
    comms = set(district.admin_units.loc[district.admin_units["parent_code"] == street, "code"])
    assert set(targets["community_code"]) <= comms
    # Priority: a rank over the area, 五必访 first.
    assert sorted(plan.items["priority"]) == list(range(1, len(targets) + 1))
    first = plan.items.sort_values("priority")
    if first["five_must"].any():
        assert first["five_must"].iloc[0]


def test_min_and_max_are_respected(store: Store) -> None:
    comm = _biggest_community(store)
    n = len(P.load_targets(store, CAMPAIGN, comm))
    v = len(P.load_visitors(store, comm))
    lo, hi = max(0, n // v - 1), n // v + 2
    plan = P.make_plan(store, OP, CAMPAIGN, comm, min_per=lo, max_per=hi, planning_date=DAY)
    counts = plan.visitors["households"]
    assert (plan.min_per, plan.max_per) == (lo, hi)
    assert counts.min() >= lo and counts.max() <= hi and counts.sum() == n


def test_default_visitors_have_start_points(store: Store, district: DemoDistrict) -> None:
    street = _street(district)
    vis = P.load_visitors(store, street)
    assert len(vis) > 0
    assert set(vis["role"]) <= set(P.VISITOR_ROLES)
    assert np.isfinite(vis[["x_m", "y_m", "lon", "lat"]].to_numpy(dtype=float)).all()
    assert vis["visitor_id"].is_unique
    units = set(district.admin_units.loc[district.admin_units["parent_code"] == street, "code"]) | {street}
    assert set(vis["unit_code"]) <= units


def test_chosen_visitors_and_their_own_start_points(store: Store) -> None:
    comm = _biggest_community(store)
    vis = P.load_visitors(store, comm)
    three = vis["visitor_id"].iloc[:3].tolist()
    plan = P.make_plan(store, OP, CAMPAIGN, comm, visitors=three, planning_date=DAY)
    assert plan.visitors["visitor_id"].tolist() == three
    _check_plan(plan, P.load_targets(store, CAMPAIGN, comm))
    x0, y0 = float(vis["x_m"].iloc[0]), float(vis["y_m"].iloc[0])
    given = pd.DataFrame({"visitor_id": three[:2], "x_m": [x0 + 100.0, x0 - 100.0], "y_m": [y0, y0]})
    plan = P.make_plan(store, OP, CAMPAIGN, comm, visitors=given, planning_date=DAY)
    assert (plan.visitors["start_source"] == "given").all()
    assert plan.visitors["x_m"].tolist() == pytest.approx([x0 + 100.0, x0 - 100.0])
    assert plan.visitors["name"].notna().all()  # filled in from people
    with pytest.raises(WarmGridError, match="NOBODY"):
        P.load_visitors(store, comm, ["NOBODY"])


def test_plan_is_more_compact_than_round_robin(store: Store, district: DemoDistrict) -> None:
    plan = P.make_plan(store, OP, CAMPAIGN, _biggest_community(store), planning_date=DAY)
    assert plan.total_m < _round_robin_total(plan)


def test_cli_plan_without_saving(store: Store, district: DemoDistrict) -> None:
    doc = P.cli_plan(store, OP, CAMPAIGN, _street(district), planning_date=DAY, save=False)
    json.dumps(doc, ensure_ascii=False)  # JSON-ready
    assert doc["plan_id"] is None and doc["unassigned"] == 0
    ids = [h for v in doc["visitors"] for h in v["hh_ids"]]
    assert len(ids) == len(set(ids)) == doc["households"]
    assert doc["total_m"] == pytest.approx(sum(v["route_m"] for v in doc["visitors"]), abs=1.0)
    assert all(len(v["hh_ids"]) == v["households"] for v in doc["visitors"])


# --------------------------------------------------------------------------- the pure core
def _clustered(seed: int, n: int, v: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 3000, (8, 2))
    xy = centres[rng.integers(0, 8, n)] + rng.normal(0, 150, (n, 2))
    hh = pd.DataFrame({"hh_id": [f"H{i:04d}" for i in range(n)], "x_m": xy[:, 0], "y_m": xy[:, 1]})
    starts = centres[np.arange(v) % 8] + rng.normal(0, 20, (v, 2))
    vis = pd.DataFrame({"visitor_id": [f"V{i:03d}" for i in range(v)], "x_m": starts[:, 0], "y_m": starts[:, 1]})
    return hh, vis


def _routed_total(hh: pd.DataFrame, vis: pd.DataFrame, assignment: pd.DataFrame) -> float:
    xy = hh.set_index("hh_id")[["x_m", "y_m"]]
    total = 0.0
    for vid, sx, sy in zip(vis["visitor_id"], vis["x_m"], vis["y_m"], strict=True):
        ids = assignment.loc[assignment["visitor_id"] == vid, "hh_id"]
        total += P.route((sx, sy), xy.loc[ids].to_numpy(dtype=float))[2]
    return total


def test_assign_is_compact_exact_once_and_deterministic() -> None:
    hh, vis = _clustered(3, 400, 16)
    a = P.assign(hh, vis, 20, 30)
    assert a["hh_id"].tolist() == hh["hh_id"].tolist()
    counts = a["visitor_id"].value_counts()
    assert counts.min() >= 20 and counts.max() <= 30 and counts.sum() == 400
    rr = pd.DataFrame({"hh_id": hh["hh_id"], "visitor_id": vis["visitor_id"].to_numpy()[np.arange(400) % 16]})
    assert _routed_total(hh, vis, a) < 0.5 * _routed_total(hh, vis, rr)
    assert P.assign(hh, vis, 20, 30)["visitor_id"].tolist() == a["visitor_id"].tolist()


def test_assign_splits_visitors_sharing_one_start() -> None:
    # Two visitors in one office, households in two far-apart groups: one group each.
    hh = pd.DataFrame({"hh_id": list("abcdef"), "x_m": [0, 5, 10, 1000, 1005, 1010.0], "y_m": [0.0] * 6})
    vis = pd.DataFrame({"visitor_id": ["v1", "v2"], "x_m": [500.0, 500.0], "y_m": [0.0, 0.0]})
    a = P.assign(hh, vis, 3, 3).set_index("hh_id")["visitor_id"]
    assert a["a"] == a["b"] == a["c"] != a["d"] == a["e"] == a["f"]


def test_assign_keeps_pairings_and_counts_them() -> None:
    hh, vis = _clustered(5, 120, 6)
    far = hh.assign(d=np.hypot(hh["x_m"] - vis.at[0, "x_m"], hh["y_m"] - vis.at[0, "y_m"]))
    far_ids = far.nlargest(3, "d")["hh_id"].tolist()
    pairs = pd.DataFrame({"visitor_id": ["V000"] * 3 + ["NOBODY"], "hh_id": far_ids + [far_ids[0]]})
    a = P.assign(hh, vis, 20, 20, pairs).set_index("hh_id")
    assert (a.loc[far_ids, "visitor_id"] == "V000").all()
    assert a.loc[far_ids, "paired"].all() and a["paired"].sum() == 3
    assert (a["visitor_id"].value_counts() == 20).all()
    free = P.assign(hh, vis, 20, 20, pairs, keep_pairings=False).set_index("hh_id")
    assert not free["paired"].any()
    assert (free.loc[far_ids, "visitor_id"] != "V000").any()
    too_many = pd.DataFrame({"visitor_id": "V000", "hh_id": hh["hh_id"].iloc[:21]})
    with pytest.raises(P.PlanInfeasibleError, match="V000"):
        P.assign(hh, vis, 0, 20, too_many)


def test_assign_rejects_bad_input() -> None:
    hh, vis = _clustered(1, 10, 2)
    with pytest.raises(P.PlanInfeasibleError, match="no visitors"):
        P.assign(hh, vis.iloc[0:0])
    with pytest.raises(WarmGridError, match="duplicate"):
        P.assign(pd.concat([hh, hh.iloc[:1]]), vis)
    with pytest.raises(WarmGridError, match="coordinates"):
        P.assign(hh.assign(x_m=np.nan), vis)


# --------------------------------------------------------------------------- routes
def test_route_is_never_longer_than_nearest_neighbour() -> None:
    for seed in range(24):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 30))
        # Clustered points (buildings) with a few far outliers.
        centres = rng.uniform(0, 2000, (max(1, n // 6), 2))
        pts = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 30, (n, 2))
        start = rng.uniform(0, 2000, 2)
        order, legs, total = P.route(start, pts, exact_max=int(rng.integers(0, 9)))
        assert sorted(order.tolist()) == list(range(n))
        assert total == pytest.approx(legs.sum()) == pytest.approx(P.route_length(start, pts, order))
        nn = P.route_length(start, pts, P.nearest_neighbour_route(start, pts))
        assert total <= nn + 1e-9


@pytest.mark.parametrize("exact_max", [8, 0])  # Held-Karp, and OR-Tools itself
def test_route_is_optimal_on_tiny_cases(exact_max: int) -> None:
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        n = int(rng.integers(1, 8))
        pts, start = rng.uniform(0, 500, (n, 2)), rng.uniform(0, 500, 2)
        best = min(P.route_length(start, pts, p) for p in itertools.permutations(range(n)))
        assert P.route(start, pts, exact_max=exact_max)[2] == pytest.approx(best, abs=1e-6)


def test_route_of_nothing_and_of_one() -> None:
    order, legs, total = P.route((0, 0), np.zeros((0, 2)))
    assert len(order) == len(legs) == 0 and total == 0.0
    order, legs, total = P.route((0, 0), np.array([[3.0, 4.0]]))
    assert order.tolist() == [0] and legs.tolist() == [5.0] and total == 5.0


# --------------------------------------------------------------------------- saved plans
@pytest.fixture(scope="module")
def saved(wstore: Store) -> tuple[str, P.Plan]:
    plan = P.make_plan(wstore, OP, CAMPAIGN, _biggest_community(wstore), planning_date=DAY)
    return P.save_plan(wstore, OP, plan), plan


def test_save_and_load_round_trip(wstore: Store, saved: tuple[str, P.Plan]) -> None:
    plan_id, plan = saved
    assert plan.plan_id == plan_id
    back = P.load_plan(wstore, plan_id)
    assert (back.campaign_id, back.area_code, back.planning_date) == (plan.campaign_id, plan.area_code, DAY)
    assert (back.min_per, back.max_per) == (plan.min_per, plan.max_per)
    cols = ["visitor_id", "seq", "hh_id"]
    a = plan.items.sort_values(cols)[cols + ["leg_m", "priority"]].reset_index(drop=True)
    b = back.items.sort_values(cols)[cols + ["leg_m", "priority"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    v1 = plan.visitors.set_index("visitor_id").sort_index()
    v2 = back.visitors.set_index("visitor_id").sort_index()
    assert (v1["households"] == v2["households"]).all()
    np.testing.assert_allclose(v1["route_m"], v2["route_m"])
    np.testing.assert_allclose(v1[["x_m", "y_m"]].to_numpy(float), v2[["x_m", "y_m"]].to_numpy(float), atol=1e-3)
    assert back.total_m == pytest.approx(plan.total_m)
    assert wstore.scalar("SELECT total_m FROM plans WHERE plan_id = ?", [plan_id]) == pytest.approx(plan.total_m)
    assert wstore.scalar("SELECT count(*) FROM audit_log WHERE action = 'create' AND object = ?",
                         [f"plans:{plan_id}"]) == 1


def test_move_household_rebalances_and_respects_max(wstore: Store, saved: tuple[str, P.Plan]) -> None:
    plan_id, _ = saved
    plan = P.load_plan(wstore, plan_id)
    counts = plan.visitors.set_index("visitor_id")["households"]
    roomy = counts[counts < plan.max_per].index.tolist()
    giver = [v for v in counts[counts > plan.min_per].index if v not in roomy[:1]]
    assert roomy and giver
    hh = plan.route_of(giver[0])[0]
    after = P.move_household(wstore, OP, plan_id, hh, roomy[0])
    assert after.items["hh_id"].is_unique and set(after.items["hh_id"]) == set(plan.items["hh_id"])
    assert after.items.set_index("hh_id").at[hh, "visitor_id"] == roomy[0]
    new_counts = after.visitors.set_index("visitor_id")["households"]
    assert new_counts[roomy[0]] == counts[roomy[0]] + 1 and new_counts[giver[0]] == counts[giver[0]] - 1
    assert new_counts.max() <= plan.max_per and new_counts.min() >= plan.min_per
    for vid in (roomy[0], giver[0]):
        mine = after.items[after.items["visitor_id"] == vid]
        assert mine["seq"].tolist() == list(range(1, len(mine) + 1))
        assert mine["leg_m"].sum() == pytest.approx(float(after.visitors.set_index("visitor_id").at[vid, "route_m"]))
    assert wstore.scalar("SELECT total_m FROM plans WHERE plan_id = ?", [plan_id]) == pytest.approx(after.total_m)
    # A full visitor takes no more; nothing changes when refused.
    full = new_counts[new_counts == plan.max_per].index.tolist()
    assert full
    other = next(h for h, v in zip(after.items["hh_id"], after.items["visitor_id"], strict=True) if v != full[0])
    with pytest.raises(P.PlanInfeasibleError, match=f"{plan.max_per}"):
        P.move_household(wstore, OP, plan_id, other, full[0])
    same = P.load_plan(wstore, plan_id)
    pd.testing.assert_frame_equal(same.items[["visitor_id", "seq", "hh_id"]],
                                  after.items[["visitor_id", "seq", "hh_id"]])
    # The giver may not drop below the minimum either.
    low = new_counts[new_counts == plan.min_per].index.tolist()
    if plan.min_per > 0 and low:
        roomy_now = [v for v in new_counts[new_counts < plan.max_per].index if v != low[0]]
        with pytest.raises(P.PlanInfeasibleError, match=f"{plan.min_per}"):
            P.move_household(wstore, OP, plan_id, after.route_of(low[0])[0], roomy_now[0])
    with pytest.raises(WarmGridError, match="not in plan"):
        P.move_household(wstore, OP, plan_id, "H_NONE", roomy[0])


def test_progress_counts_visits_since_the_planning_date(wstore: Store, saved: tuple[str, P.Plan]) -> None:
    plan_id, _ = saved
    before = P.plan_progress(wstore, plan_id)
    assert list(before.columns) == ["visitor_id", "name", "planned", "visited", "remaining", "share"]
    assert before["visited"].sum() == 0  # the demo's visits all precede the planning date
    plan = P.load_plan(wstore, plan_id)
    vid = str(plan.visitors["visitor_id"].iloc[0])
    hh = plan.route_of(vid)[0]
    log_visit(wstore, OP, hh_id=hh, visitor_id=vid, visited_at=datetime(2026, 11, 10, 10), situation="计划前走访")
    assert P.plan_progress(wstore, plan_id)["visited"].sum() == 0
    log_visit(wstore, OP, hh_id=hh, visitor_id=vid, visited_at=datetime(2026, 11, 18, 10), situation="春节走访慰问")
    log_visit(wstore, OP, hh_id=hh, visitor_id=None, visited_at=datetime(2026, 11, 19, 10), situation="再次走访")
    after = P.plan_progress(wstore, plan_id).set_index("visitor_id")
    assert after["visited"].sum() == 1 and after.at[vid, "visited"] == 1
    assert after.at[vid, "share"] == pytest.approx(1 / after.at[vid, "planned"])
    assert after.at[vid, "remaining"] == after.at[vid, "planned"] - 1


def test_plan_keeps_pairings_from_the_store(wstore: Store) -> None:
    comm = _biggest_community(wstore)
    targets = P.load_targets(wstore, CAMPAIGN, comm)
    vis = P.load_visitors(wstore, comm)
    hh, vid = str(targets["hh_id"].iloc[-1]), str(vis["visitor_id"].iloc[-1])
    with wstore.transaction() as cur:
        cur.execute("INSERT INTO pairings VALUES ('PT1', ?, ?, ?, DATE '2026-01-01', NULL)", [vid, hh, CAMPAIGN])
        cur.execute("INSERT INTO pairings VALUES ('PT2', ?, ?, NULL, DATE '2025-01-01', DATE '2025-12-31')",
                    [vid, str(targets["hh_id"].iloc[0])])  # ended before the planning date: not kept
    plan = P.make_plan(wstore, OP, CAMPAIGN, comm, planning_date=DAY)
    items = plan.items.set_index("hh_id")
    assert items.at[hh, "visitor_id"] == vid and items.at[hh, "paired"]
    assert items["paired"].sum() == 1
    _check_plan(plan, targets)
    loose = P.make_plan(wstore, OP, CAMPAIGN, comm, planning_date=DAY, keep_pairings=False)
    assert not loose.items["paired"].any()


def test_station_is_the_start_without_a_location(wstore: Store, district: DemoDistrict) -> None:
    comm = _biggest_community(wstore)
    vis = P.load_visitors(wstore, comm)
    vid = str(vis["visitor_id"].iloc[0])
    with wstore.transaction() as cur:
        cur.execute("UPDATE people SET geom = NULL WHERE person_id = ?", [vid])
    again = P.load_visitors(wstore, comm).set_index("visitor_id")
    st = wstore.query("SELECT x_m, y_m FROM stations WHERE type = 'party_service' AND community_code = ?", [comm])
    assert again.at[vid, "start_source"] == "station"
    assert np.hypot(st["x_m"] - again.at[vid, "x_m"], st["y_m"] - again.at[vid, "y_m"]).min() < 1e-6


# --------------------------------------------------------------------------- sheets
def test_visit_sheets_print_on_a4_in_walking_order(store: Store, tmp_path: Path) -> None:
    plan = P.make_plan(store, OP, CAMPAIGN, _biggest_community(store), planning_date=DAY)
    out = tmp_path / "走访单.xlsx"
    assert P.visit_sheets_xlsx(plan, out, actor=OP) == len(plan.visitors)
    wb = load_workbook(out)
    assert len(wb.worksheets) == len(plan.visitors)
    blank = [P.SHEET_COLUMNS.index(c) for c in P.SHEET_BLANK]
    assert [P.SHEET_COLUMNS[i] for i in blank] == ["走访时间", "物品/金额", "签名", "备注"]
    for ws, vid in zip(wb.worksheets, plan.visitors["visitor_id"], strict=True):
        assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == "landscape"
        assert ws.print_title_rows == "$1:$3"
        assert int(ws.page_setup.fitToWidth) == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text
        assert plan.campaign_name in str(ws["A1"].value) and vid in ws.title
        assert [c.value for c in ws[3]] == list(P.SHEET_COLUMNS)
        rows = list(ws.iter_rows(min_row=4, values_only=True))
        assert [r[1] for r in rows] == plan.route_of(vid)
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
        assert all(r[i] is None for r in rows for i in blank)  # to fill in at the door
        assert ws.column_dimensions["J"].width >= 10  # room to sign


def _sheet_rows(path: Path) -> list[tuple]:
    return [r for ws in load_workbook(path).worksheets for r in ws.iter_rows(min_row=4, values_only=True)]


def test_visit_sheets_apply_the_mask(store: Store, tmp_path: Path) -> None:
    plan = P.make_plan(store, OP, CAMPAIGN, _biggest_community(store), planning_date=DAY)
    committee = as_role("committee", set(plan.items["cell_id"]))
    out = tmp_path / "masked.xlsx"
    P.visit_sheets_xlsx(plan, out, actor=committee)
    names = [r[2] for r in _sheet_rows(out)]
    real = set(plan.items["head_name"])
    assert len(names) == len(plan.items) and all("*" in n for n in names) and not set(names) & real
    leader = as_role("leader", set(plan.items["cell_id"]))
    P.visit_sheets_xlsx(plan, out, actor=leader)
    assert all(ws.max_row == 3 for ws in load_workbook(out).worksheets)
    with pytest.raises(AccessDenied):  # a leader may not print them in full
        P.visit_sheets_xlsx(plan, out, actor=leader, full=True)


def test_the_visit_sheets_print_in_full_for_the_visitor_and_say_so_in_the_audit_log(wstore: Store,
                                                                                      tmp_path: Path) -> None:
    import io

    comm = _biggest_community(wstore)
    plan = P.load_plan(wstore, P.save_plan(wstore, OP, P.make_plan(wstore, OP, CAMPAIGN, comm, planning_date=DAY)))
    committee = as_role("committee", set(plan.items["cell_id"]), name="c-print")
    before = int(wstore.scalar("SELECT max(log_id) FROM audit_log"))
    data = P.visit_sheets_bytes(wstore, committee, plan)
    out = tmp_path / "full.xlsx"
    out.write_bytes(data)
    truth = wstore.query("SELECT hh_id, head_name, phone FROM households WHERE hh_id IN (SELECT unnest(?::TEXT[]))",
                         [list(plan.items["hh_id"])]).set_index("hh_id")
    rows = _sheet_rows(out)
    assert len(rows) == len(plan.items)
    for r in rows:  # the full name and phone of each household, as the households table holds them
        assert r[2] == truth.at[r[1], "head_name"] and (r[3] or None) == truth.at[r[1], "phone"]
    assert any(r[3] for r in rows)
    log = wstore.query("SELECT username, action, object, row_count FROM audit_log WHERE log_id > ?", [before])
    assert log.to_dict("records") == [{"username": "c-print", "action": "export",
                                       "object": f"visit_sheets:{plan.plan_id}:full:{len(plan.visitors)} visitors",
                                       "row_count": len(plan.items)}]
    # Asked for masked, the same sheets mask the names and phones, and the audit row says masked.
    masked = P.visit_sheets_bytes(wstore, committee, plan, full=False)
    from openpyxl import load_workbook as lw

    mrows = [r for ws in lw(io.BytesIO(masked)).worksheets for r in ws.iter_rows(min_row=4, values_only=True)]
    assert all("*" in r[2] for r in mrows if r[2]) and all("*" in r[3] for r in mrows if r[3])
    assert wstore.scalar("SELECT object FROM audit_log ORDER BY log_id DESC LIMIT 1").endswith(
        f"{plan.plan_id}:masked:{len(plan.visitors)} visitors")


def test_cli_plan_saves(wstore: Store) -> None:
    comm = _biggest_community(wstore)
    doc = P.cli_plan(wstore, OP, CAMPAIGN, comm, min_per=1, planning_date="2026-11-16")
    assert doc["saved"] and doc["min_per"] == 1
    back = P.load_plan(wstore, doc["plan_id"])
    assert {v["visitor_id"]: v["hh_ids"] for v in doc["visitors"]} == {
        str(v): back.route_of(str(v)) for v in back.visitors["visitor_id"]}
