"""A household exactly at a station's service radius is covered (distance <= radius).

Every code path that decides coverage is given the same hand-made neighbourhood,
whose distances are exact in floating point: households exactly on the circle
(on the axes and on 3-4-5 triangles), one floating-point step (ulp) outside it,
and well inside. The oracle comparisons in ``test_coverage.py`` skip a
millimetre band around the radius, so these are the only tests that sit on the
edge. Paths: :func:`station_gaps` with few distinct radii (a bounded
nearest-neighbour query), with one given radius, with many distinct radii (a
ball query), :func:`station_gaps_sql`, :func:`gap_summary`, :func:`overview`
(its KPIs and per-cell figures) and :func:`coverage_report`.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from grid import coverage as cv
from grid.store import Store
from tests.actors import EVERYTHING

#: The station, in metric coordinates of the size UTM gives (so the arithmetic is done at that magnitude).
SX, SY, R = 500_000.0, 2_700_000.0, 500.0
ULP = np.inf  # direction for np.nextafter

#: hh_id -> (x_m, y_m, vulnerable). ``on_*`` are exactly R from the station, ``out_*`` one ulp beyond.
POINTS: dict[str, tuple[float, float, bool]] = {
    "in_centre": (SX + 1.0, SY, False),
    "on_diag_ne": (SX + 300.0, SY + 400.0, True),  # 3-4-5: 300² + 400² = 500² exactly
    "on_diag_sw": (SX - 400.0, SY - 300.0, False),
    "on_east": (SX + R, SY, True),
    "on_west": (SX - R, SY, False),
    "on_north": (SX, SY + R, False),
    "on_south": (SX, SY - R, True),
    "out_east": (float(np.nextafter(SX + R, ULP)), SY, True),
    "out_north": (SX, float(np.nextafter(SY + R, ULP)), False),
    "out_diag_ne": (SX + 300.0, float(np.nextafter(SY + 400.0, ULP)), True),
    "out_far": (SX + 2_000.0, SY, False),
}
OUTSIDE = sorted(h for h in POINTS if h.startswith("out_"))
CELL = "3502030010010001"
COMMUNITY = "350203001001"


def households() -> pd.DataFrame:
    ids = sorted(POINTS)
    return pd.DataFrame({
        "hh_id": ids,
        "cell_id": [CELL] * len(ids),
        "community_code": [COMMUNITY] * len(ids),
        "x_m": [POINTS[h][0] for h in ids],
        "y_m": [POINTS[h][1] for h in ids],
        "vulnerable": [POINTS[h][2] for h in ids],
    })


def one_clinic(radius: float = R) -> pd.DataFrame:
    return pd.DataFrame({"station_id": ["S1"], "type": ["clinic"], "x_m": [SX], "y_m": [SY], "radius_m": [radius]})


def test_the_hand_made_distances_are_exact() -> None:
    hh = households()
    d = np.hypot(hh["x_m"] - SX, hh["y_m"] - SY)
    on = hh["hh_id"].str.startswith("on_")
    assert (d[on] == R).all()
    assert (d[hh["hh_id"].isin(OUTSIDE)] > R).all()
    assert (d[hh["hh_id"] == "in_centre"] < R).all()


def test_few_radii_a_household_on_the_radius_is_covered() -> None:
    gaps = cv.station_gaps(households(), one_clinic(), "clinic")
    assert gaps["hh_id"].tolist() == OUTSIDE


def test_few_radii_with_several_stations_per_radius() -> None:
    # Two more clinics of the same radius far away: the nearest-station query per radius group still finds S1.
    st = pd.concat([one_clinic(), pd.DataFrame({
        "station_id": ["S2", "S3"], "type": ["clinic"] * 2, "x_m": [SX + 50_000.0, SX - 50_000.0],
        "y_m": [SY, SY], "radius_m": [R, R]})], ignore_index=True)
    assert cv.station_gaps(households(), st, "clinic")["hh_id"].tolist() == OUTSIDE


def test_a_given_radius_covers_a_household_exactly_at_it() -> None:
    # The station's own radius would cover everything; the given one decides.
    gaps = cv.station_gaps(households(), one_clinic(radius=5_000.0), "clinic", radius=R)
    assert gaps["hh_id"].tolist() == OUTSIDE


def test_many_radii_a_household_on_the_radius_is_covered() -> None:
    far = pd.DataFrame({
        "station_id": [f"F{i}" for i in range(9)], "type": ["clinic"] * 9,
        "x_m": [SX + 100_000.0 + 10_000.0 * i for i in range(9)], "y_m": [SY] * 9,
        "radius_m": [100.0 + i for i in range(9)]})
    st = pd.concat([one_clinic(), far], ignore_index=True)
    assert st["radius_m"].nunique() > 8  # the ball-query path of grid.coverage._covered
    assert cv.station_gaps(households(), st, "clinic")["hh_id"].tolist() == OUTSIDE


def test_gap_summary_counts_only_the_households_beyond_the_radius() -> None:
    hh = households()
    s = cv.gap_summary(hh, cv.station_gaps(hh, one_clinic(), "clinic"), by="cell_id")
    row = s.iloc[0]
    assert (row["households"], row["outside"]) == (len(POINTS), len(OUTSIDE))
    assert row["vulnerable_outside"] == sum(POINTS[h][2] for h in OUTSIDE)


# --------------------------------------------------------------------------- from a store
@pytest.fixture()
def edge_store(fresh_store: Store) -> Store:
    """The neighbourhood in a database: one cell, the households and one clinic.

    The metric coordinates are written as :meth:`Store.refresh_derived` would
    write them, but chosen exact; the WGS84 points are placeholders inside the
    cell (refresh_derived is not run, so they do not overwrite ``x_m, y_m``).
    """
    with fresh_store.transaction() as cur:
        cur.execute("INSERT INTO cells (cell_id, name, community_code, geom) VALUES (?, '边界网格', ?,"
                    " ST_GeomFromText('POLYGON((118.07 24.47, 118.10 24.47, 118.10 24.50, 118.07 24.50,"
                    " 118.07 24.47))'))", [CELL, COMMUNITY])
        for h, (x, y, vul) in POINTS.items():
            cur.execute("INSERT INTO households (hh_id, geom, cell_id, address, size, categories, x_m, y_m)"
                        " VALUES (?, ST_Point(118.08, 24.48), ?, '边界路1号', 2, ?, ?, ?)",
                        [h, CELL, ["tekun"] if vul else [], x, y])
        cur.execute("INSERT INTO stations (station_id, name, type, geom, radius_m, x_m, y_m)"
                    " VALUES ('S1', '卫生站', 'clinic', ST_Point(118.08, 24.48), ?, ?, ?)", [R, SX, SY])
    return fresh_store


def test_sql_a_household_on_the_radius_is_covered(edge_store: Store) -> None:
    assert cv.station_gaps_sql(edge_store, "clinic") == OUTSIDE
    assert cv.station_gaps_sql(edge_store, "clinic", R) == OUTSIDE
    assert cv.station_gaps_sql(edge_store, "clinic", float(np.nextafter(R, 0.0))) == sorted(
        [*OUTSIDE, *(h for h in POINTS if h.startswith("on_"))])


def test_sql_and_kdtree_agree_on_the_edge(edge_store: Store) -> None:
    hh, st = cv.load_households(edge_store), cv.load_stations(edge_store)
    assert cv.station_gaps(hh, st, "clinic")["hh_id"].tolist() == cv.station_gaps_sql(edge_store, "clinic")


def test_overview_counts_households_on_the_radius_as_covered(edge_store: Store) -> None:
    for radius in (None, R):
        ov = cv.overview(edge_store, "clinic", radius=radius, as_of=date(2026, 11, 15), scope=EVERYTHING)
        assert ov.gaps["hh_id"].tolist() == OUTSIDE
        assert ov.kpis["outside"] == len(OUTSIDE)
        assert ov.kpis["vulnerable_outside"] == sum(POINTS[h][2] for h in OUTSIDE)
        cell = ov.cells.set_index("cell_id").loc[CELL]
        assert cell["outside"] == len(OUTSIDE)
        assert cell["share_outside"] == pytest.approx(len(OUTSIDE) / len(POINTS))


def test_coverage_report_counts_households_on_the_radius_as_covered(edge_store: Store) -> None:
    rep = cv.coverage_report(edge_store, as_of=date(2026, 11, 15), scope=EVERYTHING)
    clinic = next(g for g in rep["station_gaps"] if g["type"] == "clinic")
    assert clinic["households_outside"] == len(OUTSIDE)
    assert clinic["vulnerable_outside"] == sum(POINTS[h][2] for h in OUTSIDE)
    per = [r for r in rep["station_gaps_by_community"] if r["type"] == "clinic"]
    assert [r["outside"] for r in per] == [len(OUTSIDE)]
