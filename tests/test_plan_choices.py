"""The committee's visit plan (issue 14 §3.5): suggested bounds that always work, the visitors the
committee chose and no one else, and routes that start at each visitor's own starting point."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from grid import planning as P
from grid.store import Store
from tests.actors import OP

CAMPAIGN = "C2026W"


def _communities_by_targets(store: Store) -> list[str]:
    district = str(store.scalar("SELECT code FROM admin_units WHERE level = 'district'"))
    counts = P.load_targets(store, CAMPAIGN, district)["community_code"].value_counts()
    return [str(c) for c in counts.sort_values(kind="stable").index]


@pytest.mark.parametrize(("n", "v"), [(n, v) for n in (0, 1, 3, 7, 25, 179, 180, 1000) for v in (1, 2, 7, 25, 60)])
def test_the_suggested_bounds_are_always_feasible(n: int, v: int) -> None:
    lo, hi = P.suggest_bounds(n, v)
    assert 0 <= lo <= hi and hi >= 1
    assert v * lo <= n <= v * hi  # by hand: every household placed, no visitor under the minimum
    if n:
        assert P.plan_bounds(n, v, lo, hi) == (lo, hi)


def test_the_smallest_community_plans_with_the_suggested_bounds(store: Store) -> None:
    comm = _communities_by_targets(store)[0]
    n, visitors = P.plan_setup(store, OP, CAMPAIGN, comm)
    assert n > 0 and len(visitors) > 0
    if n < 10 * len(visitors):  # the old fixed default (at least 10 each) would fail here
        with pytest.raises(P.PlanInfeasibleError):
            P.make_plan(store, OP, CAMPAIGN, comm, min_per=10, max_per=40, planning_date="2026-11-16")
    lo, hi = P.suggest_bounds(n, len(visitors))
    plan = P.make_plan(store, OP, CAMPAIGN, comm, visitors=list(visitors["visitor_id"]), min_per=lo, max_per=hi,
                       planning_date="2026-11-16")
    assert len(plan.items) == n and plan.items["hh_id"].is_unique
    counts = plan.items.groupby("visitor_id").size()
    assert counts.min() >= lo and counts.max() <= hi


def test_only_the_chosen_visitors_are_in_the_plan(store: Store) -> None:
    comm = _communities_by_targets(store)[-1]
    n, visitors = P.plan_setup(store, OP, CAMPAIGN, comm)
    chosen = list(visitors["visitor_id"].iloc[::2])[:4]
    assert 0 < len(chosen) < len(visitors)
    lo, hi = P.suggest_bounds(n, len(chosen))
    plan = P.make_plan(store, OP, CAMPAIGN, comm, visitors=chosen, min_per=lo, max_per=hi,
                       planning_date="2026-11-16")
    assert sorted(plan.visitors["visitor_id"]) == sorted(chosen)
    assert set(plan.items["visitor_id"]) == set(chosen)
    assert len(plan.items) == n


def test_each_route_starts_at_the_visitors_own_point(store: Store) -> None:
    comm = _communities_by_targets(store)[-1]
    n, visitors = P.plan_setup(store, OP, CAMPAIGN, comm)
    chosen = list(visitors["visitor_id"])[:3]
    lo, hi = P.suggest_bounds(n, len(chosen))
    plan = P.make_plan(store, OP, CAMPAIGN, comm, visitors=chosen, min_per=lo, max_per=hi,
                       planning_date="2026-11-16")
    # Independently: each person's own location (people.geom) and each household's, projected by pyproj.
    to_m = Transformer.from_crs("EPSG:4326", store.metric_crs(), always_xy=True)
    people = store.query("SELECT person_id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM people"
                         " WHERE list_contains(?, person_id)", [chosen]).set_index("person_id")
    homes = store.query("SELECT hh_id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM households"
                        " WHERE list_contains(?, hh_id)", [list(plan.items["hh_id"])]).set_index("hh_id")
    assert people["lon"].notna().all(), "the demo's visitors have their own locations"
    assert set(plan.visitors["start_source"]) == {"own"}
    for vid, grp in plan.items.sort_values(["visitor_id", "seq"]).groupby("visitor_id"):
        sx, sy = to_m.transform(people.at[vid, "lon"], people.at[vid, "lat"])
        path = [shapely.Point(sx, sy)] + [shapely.Point(*to_m.transform(homes.at[h, "lon"], homes.at[h, "lat"]))
                                          for h in grp["hh_id"]]
        legs = [a.distance(b) for a, b in zip(path, path[1:], strict=False)]
        assert np.allclose(grp["leg_m"].to_numpy(dtype=float), legs, atol=0.5), vid  # the first leg from the start
        assert float(shapely.LineString(path).length) == pytest.approx(
            float(plan.visitors.set_index("visitor_id").at[vid, "route_m"]), abs=1.0)
