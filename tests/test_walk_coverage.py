"""Coverage measured either way: the overview, the bulletin and the sentence
carry both figures, and each equals the measure computed on its own."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from grid import coverage as cv
from grid import network as nw
from grid.errors import WarmGridError
from grid.reports import bulletin_data
from tests.actors import EVERYTHING, Scope

AS_OF = date(2026, 11, 15)


@pytest.fixture(scope="module")
def inputs(store) -> cv.OverviewInputs:
    return cv.overview_inputs(store, walking=True)


def test_walking_inputs_carry_the_network_and_the_joins(store, inputs) -> None:
    assert inputs.network is not None and not inputs.network.empty
    assert set(nw.JOIN_COLUMNS) <= set(inputs.households.columns) & set(inputs.stations.columns)
    assert cv.overview_inputs(store).network is None  # straight inputs read no network
    assert nw.default_distance(store) == "walk"


def test_walking_overview_counts_walking_gaps_and_both_figures(store, inputs) -> None:
    hh, st, net = inputs.households, inputs.stations, inputs.network
    ov = cv.overview_from(inputs, "party_service", as_of=AS_OF, distance="walk", scope=EVERYTHING)
    walk = cv.station_gaps(hh, st, "party_service", distance="walk", network=net)
    straight = cv.station_gaps(hh, st, "party_service")
    assert ov.distance == "walk"
    assert ov.kpis["outside"] == len(walk) == ov.cells["outside"].sum()
    assert ov.kpis["covered_walk"] == len(hh) - len(walk)
    assert ov.kpis["covered_straight"] == len(hh) - len(straight)
    assert ov.kpis["overstated"] == len(walk) - len(straight) > 0
    vul = set(hh.loc[hh["vulnerable"], "hh_id"])
    assert ov.kpis["overstated_vulnerable"] == len((set(walk["hh_id"]) - set(straight["hh_id"])) & vul)
    assert ov.kpis["coverage_sentence"].startswith(f"按直线半径覆盖 {ov.kpis['covered_straight']:,} 户")
    assert ov.comparison is not None
    assert set(ov.comparison.overstated_households["hh_id"]) == set(walk["hh_id"]) - set(straight["hh_id"])
    # The straight overview from the same inputs counts straight, and still says both.
    ov2 = cv.overview_from(inputs, "party_service", as_of=AS_OF, scope=EVERYTHING)
    assert ov2.kpis["outside"] == len(straight) and ov2.kpis["covered_walk"] == ov.kpis["covered_walk"]
    plain = cv.overview_from(cv.overview_inputs(store), "party_service", as_of=AS_OF, scope=EVERYTHING)
    pd.testing.assert_frame_equal(plain.gaps, ov2.gaps[plain.gaps.columns])


def test_walking_overview_of_a_scope_and_of_nothing(store, inputs) -> None:
    comm = str(store.scalar("SELECT min(community_code) FROM cells"))
    cells = frozenset(store.query("SELECT cell_id FROM cells WHERE community_code = ?", [comm])["cell_id"])
    ov = cv.overview_from(inputs, "police", as_of=AS_OF, scope=Scope.of_cells(cells), distance="walk")
    everyone = cv.station_gaps(inputs.households, inputs.stations, "police", distance="walk", network=inputs.network)
    mine = inputs.households[inputs.households["cell_id"].isin(cells)]
    assert set(ov.gaps["hh_id"]) == set(everyone["hh_id"]) & set(mine["hh_id"])
    empty = cv.overview_from(inputs, "police", as_of=AS_OF, scope=Scope.of_cells(frozenset()), distance="walk")
    assert empty.kpis["households"] == 0 and empty.kpis["covered_walk"] == 0 and len(empty.gaps) == 0


def test_walking_without_a_network_is_refused(store) -> None:
    with pytest.raises(WarmGridError):
        cv.overview_from(cv.overview_inputs(store), "police", distance="walk", scope=EVERYTHING)


def test_the_bulletin_reports_service_coverage_either_way(store, inputs) -> None:
    district = str(store.scalar("SELECT code FROM admin_units WHERE level = 'district'"))
    walk = bulletin_data(store, district, date(2025, 11, 1), date(2026, 2, 28), scope=EVERYTHING)
    straight = bulletin_data(store, district, date(2025, 11, 1), date(2026, 2, 28), distance="straight", scope=EVERYTHING)
    assert walk.distance == "walk" and straight.distance == "straight"
    hh = inputs.households[inputs.households["cell_id"].notna()]
    w = walk.service.set_index("type")
    s = straight.service.set_index("type")
    for t in w.index:
        c = cv.compare_coverage(hh, inputs.stations, t, inputs.network)
        assert w.loc[t, "covered"] == c.covered_walk == s.loc[t, "covered_walk"]
        assert s.loc[t, "covered"] == c.covered_straight == w.loc[t, "covered_straight"]
        assert w.loc[t, "overstated"] == c.overstated
        assert w.loc[t, "households"] == len(hh)


def test_the_sentence_mentions_households_off_the_network() -> None:
    text = cv.coverage_sentence({"covered_straight": 10, "covered_walk": 8, "overstated": 2,
                                 "overstated_vulnerable": 1, "off_network": 3})
    assert "直线高估 2 户，其中困难户 1 户" in text and "3 户" in text and "不在路网上" in text


def test_the_bulletin_files_print_the_service_coverage(store, tmp_path) -> None:
    from openpyxl import load_workbook

    from grid.reports import bulletin_pdf, bulletin_xlsx

    district = str(store.scalar("SELECT code FROM admin_units WHERE level = 'district'"))
    b = bulletin_data(store, district, date(2025, 11, 1), date(2026, 2, 28), "C2025W", scope=EVERYTHING)
    bulletin_xlsx(b, tmp_path / "b.xlsx")
    ws = load_workbook(tmp_path / "b.xlsx")["问题清单"]
    cells = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert "服务站点覆盖（按步行距离计）" in cells and "直线高估（户）" in cells
    first = b.service.iloc[0]
    assert first["station_label"] in cells
    bulletin_pdf(b, tmp_path / "b.pdf")
    assert (tmp_path / "b.pdf").stat().st_size > 0


def _same_comparison(a: cv.DistanceComparison, b: cv.DistanceComparison) -> None:
    for name in ("households", "vulnerable", "covered_straight", "covered_walk", "overstated",
                 "overstated_vulnerable", "off_network", "unreachable", "tiers"):
        assert getattr(a, name) == getattr(b, name), name
    for name in ("overstated_households", "walk_gaps", "straight_gaps"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)


def test_a_kept_cache_of_distances_changes_no_figure_at_any_radius(inputs, monkeypatch) -> None:
    """The distance to the nearest station does not depend on the radius: with a cache, each type's
    distances are computed once, and every radius then gives exactly what a fresh computation does."""
    hh, st, net = inputs.households, inputs.stations, inputs.network
    cache: dict = {}
    walks = []
    real = nw._household_distances
    monkeypatch.setattr(nw, "_household_distances", lambda *a, **k: walks.append(1) or real(*a, **k))
    for t in ("party_service", "police"):
        for radius in (None, 150.0, 300.0, 150.0, 1000.0, None):
            kept = cv.compare_coverage(hh, st, t, net, radius=radius, cache=cache)
            _same_comparison(kept, cv.compare_coverage(hh, st, t, net, radius=radius))
    assert set(cache) == {(k, t) for k in ("straight", "walk") for t in ("party_service", "police")}
    # Without the cache: one walk per call (12); with it: one per type (2), radii differing per
    # station aside (the default radii here are one per type).
    assert len(walks) == 12 + 2


def test_the_overview_keeps_distances_per_scope(inputs) -> None:
    comm_cells = frozenset(inputs.cells_m.loc[inputs.cells_m["community_code"]
                                              == inputs.cells_m["community_code"].min(), "cell_id"])
    fresh = cv.OverviewInputs(**{f: getattr(inputs, f) for f in ("households", "stations", "cells_m", "cells_wgs",
                                                                 "patrols_m", "patrols_wgs", "last_visits", "admin",
                                                                 "network")})
    for scope in (EVERYTHING, Scope.of_cells(comm_cells)):
        for radius in (200.0, 400.0):
            got = cv.overview_from(fresh, "clinic", scope=scope, radius=radius, as_of=AS_OF, distance="walk")
            alone = cv.overview_from(cv.OverviewInputs(**{f: getattr(fresh, f) for f in (
                "households", "stations", "cells_m", "cells_wgs", "patrols_m", "patrols_wgs", "last_visits", "admin",
                "network")}), "clinic", scope=scope, radius=radius, as_of=AS_OF, distance="walk")
            assert got.kpis == alone.kpis
            pd.testing.assert_frame_equal(got.gaps, alone.gaps, check_exact=True)
    assert set(fresh.distances) == {EVERYTHING.key, Scope.of_cells(comm_cells).key}
