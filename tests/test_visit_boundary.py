"""The visit-recency boundary, the same everywhere: a household visited exactly N
days before the reference time is not overdue; N days and one second is.

Every place that decides "overdue" is given the same hand-made households: the
overview's :func:`grid.coverage.visit_recency` (its KPIs, per-cell counts and
the coverage report), the warden's due list :func:`grid.visits.due_visits`
with :func:`grid.visits.overdue` (which ``pages/my_cells.py`` counts), and the
warden map's colours and title. A district or a warden's cells with no visit
at all is also covered (that used to raise a pandas ``TypeError``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from grid import coverage as cv
from grid.store import Store
from grid.visits import days_since_visit, due_visits, last_visit_of, load_due_inputs, overdue
from maps.warden import DUE_COLOUR, OK_COLOUR, OTHER_COLOUR, warden_map
from tests.actors import EVERYTHING, Scope

N = 30
SECOND = timedelta(seconds=1)
#: The reference times: a day (midnight, as the pages pass ``date.today()``) and a time of day.
AS_OFS = [datetime(2026, 11, 15), datetime(2026, 11, 15, 14, 30, 5)]


def visits_for(as_of: datetime) -> dict[str, datetime | None]:
    """hh_id -> last visit (None = never). ``v_`` households are vulnerable, ``o_`` are not."""
    return {
        "v_exact": as_of - timedelta(days=N),  # exactly N days: not overdue
        "v_exact_plus_1s": as_of - timedelta(days=N) - SECOND,  # N days + 1 s: overdue
        "v_exact_minus_1s": as_of - timedelta(days=N) + SECOND,
        "v_yesterday": as_of - timedelta(days=1),
        "v_long_ago": as_of - timedelta(days=400),
        "v_never": None,
        "o_exact_plus_1s": as_of - timedelta(days=N) - SECOND,  # not vulnerable: never on the list
    }


OVERDUE = ["v_exact_plus_1s", "v_long_ago", "v_never"]


def frames(as_of: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    lv = visits_for(as_of)
    ids = sorted(lv)
    hh = pd.DataFrame({"hh_id": ids, "cell_id": ["c1"] * len(ids), "size": [2] * len(ids),
                       "vulnerable": [h.startswith("v_") for h in ids],
                       "categories": [["disabled"] if h.startswith("v_") else [] for h in ids]})
    last = pd.DataFrame({"hh_id": [h for h in ids if lv[h] is not None],
                         "last_visit": pd.to_datetime([lv[h] for h in ids if lv[h] is not None])})
    return hh, last


# --------------------------------------------------------------------------- the rule
@pytest.mark.parametrize("as_of", AS_OFS)
def test_the_rule(as_of: datetime) -> None:
    hh, last = frames(as_of)
    days = days_since_visit(last_visit_of(hh["hh_id"], last), as_of)
    got = dict(zip(hh["hh_id"], overdue(days, N), strict=True))
    assert got == {"v_exact": False, "v_exact_plus_1s": True, "v_exact_minus_1s": False, "v_yesterday": False,
                   "v_long_ago": True, "v_never": True, "o_exact_plus_1s": True}
    assert days[hh["hh_id"] == "v_exact"].tolist() == [float(N)]


@pytest.mark.parametrize("as_of", [*AS_OFS, date(2026, 11, 15)])
def test_visit_recency_on_the_boundary(as_of: datetime | date) -> None:
    t = as_of if isinstance(as_of, datetime) else datetime.combine(as_of, datetime.min.time())
    hh, last = frames(t)
    out = cv.visit_recency(hh, last, N, as_of)
    assert sorted(out["hh_id"]) == OVERDUE
    assert out["hh_id"].tolist()[0] == "v_never"  # never visited first, then the longest since


@pytest.mark.parametrize("as_of", AS_OFS)
def test_the_warden_due_list_on_the_boundary(as_of: datetime) -> None:
    hh, last = frames(as_of)
    due = due_visits(hh, last, pd.DataFrame({"hh_id": [], "open_needs": []}), as_of)
    # What the warden page counts as 待走访: target households that are overdue.
    late = due.loc[due["target"].to_numpy() & overdue(due["days_since"], N), "hh_id"]
    assert sorted(late) == OVERDUE
    assert due.loc[due["hh_id"] == "v_exact", "days_since"].tolist() == [float(N)]
    assert due.loc[due["hh_id"] == "v_exact_plus_1s", "days_since"].iloc[0] == pytest.approx(N + 1 / 86400)


def test_the_due_list_and_the_overview_agree_for_every_number_of_days() -> None:
    as_of = AS_OFS[1]
    hh, last = frames(as_of)
    due = due_visits(hh, last, pd.DataFrame({"hh_id": [], "open_needs": []}), as_of)
    for days in (0, 1, 29, 30, 31, 399, 400, 401):
        mine = set(due.loc[due["target"].to_numpy() & overdue(due["days_since"], days), "hh_id"])
        assert mine == set(cv.visit_recency(hh, last, days, as_of)["hh_id"]), days


def test_no_visit_at_all_is_every_vulnerable_household_overdue() -> None:
    hh, _ = frames(AS_OFS[0])
    none = pd.DataFrame({"hh_id": pd.Series(dtype=object), "last_visit": pd.Series(dtype="datetime64[us]")})
    assert sorted(cv.visit_recency(hh, none, N, AS_OFS[0])["hh_id"]) == sorted(
        h for h in hh["hh_id"] if h.startswith("v_"))
    due = due_visits(hh, none, pd.DataFrame({"hh_id": [], "open_needs": []}), AS_OFS[0])
    assert due["last_visit"].isna().all() and overdue(due["days_since"], N).all()


# --------------------------------------------------------------------------- the warden map
def _household_fills(m: folium.Map) -> dict[str, str]:
    """Each household's colour on the warden's map: the status it has in its building's list."""
    from maps.warden import _STATUS_COLOUR

    html = m.get_root().render()
    found = re.findall(r'data-hh=\\?"([^"\\]+)\\?" data-status=\\?"(\w+)\\?"', html)
    assert found, "no building list in the map"
    return {h: _STATUS_COLOUR[status] for h, status in found}


@pytest.mark.parametrize("as_of", AS_OFS)
def test_the_warden_map_colours_and_counts_on_the_boundary(as_of: datetime) -> None:
    hh, last = frames(as_of)
    due = due_visits(hh, last, pd.DataFrame({"hh_id": [], "open_needs": []}), as_of)
    due = due.assign(lon=118.08 + np.arange(len(due)) * 1e-4, lat=24.48, label=due["hh_id"],
                     address=[f"一路{i + 1}号" for i in range(len(due))])  # each household its own building
    cells = gpd.GeoDataFrame({"cell_id": ["c1"], "name": ["一格"]},
                             geometry=[shapely.box(118.079, 24.479, 118.09, 24.481)], crs="EPSG:4326")
    stations = pd.DataFrame({"station_id": pd.Series(dtype=object), "name": pd.Series(dtype=object),
                             "type": pd.Series(dtype=object), "radius_m": pd.Series(dtype=float),
                             "lon": pd.Series(dtype=float), "lat": pd.Series(dtype=float)})
    patrols = gpd.GeoDataFrame({"area_id": [], "team": [], "kind": []}, geometry=[], crs="EPSG:4326")
    m = warden_map(cells, due, stations, patrols, visit_days=N)
    fills = _household_fills(m)
    assert fills == {h: (DUE_COLOUR if h in OVERDUE else OTHER_COLOUR if h.startswith("o_") else OK_COLOUR)
                     for h in hh["hh_id"]}
    assert f"其中 {len(OVERDUE)} 户困难户超过 {N} 天未走访" in m.get_root().render()


# --------------------------------------------------------------------------- from a store
@pytest.fixture()
def visit_store(fresh_store: Store) -> Store:
    """One cell with the hand-made households and their visits (as of ``AS_OFS[1]``)."""
    cell, comm = "3502030010010001", "350203001001"
    with fresh_store.transaction() as cur:
        cur.execute("INSERT INTO cells (cell_id, name, community_code, geom) VALUES (?, '一格', ?,"
                    " ST_GeomFromText('POLYGON((118.07 24.47, 118.10 24.47, 118.10 24.50, 118.07 24.50,"
                    " 118.07 24.47))'))", [cell, comm])
        for i, (h, t) in enumerate(sorted(visits_for(AS_OFS[1]).items())):
            cur.execute("INSERT INTO households (hh_id, geom, address, size, categories)"
                        " VALUES (?, ST_Point(118.08, 24.48), '一路1号', 2, ?)",
                        [h, ["disabled"] if h.startswith("v_") else []])
            if t is not None:
                cur.execute("INSERT INTO visits (visit_id, hh_id, visited_at, situation) VALUES (?, ?, ?, '走访')",
                            [f"V{i}", h, t])
    fresh_store.refresh_derived()
    return fresh_store


def test_overview_and_report_count_the_boundary_the_same_way(visit_store: Store) -> None:
    as_of = AS_OFS[1]
    ov = cv.overview(visit_store, "clinic", visit_days=N, as_of=as_of, scope=EVERYTHING)
    assert ov.kpis["overdue"] == len(OVERDUE) and ov.kpis["never_visited"] == 1
    assert ov.cells["overdue"].tolist() == [len(OVERDUE)]
    rep = cv.coverage_report(visit_store, visit_days=N, as_of=as_of, scope=EVERYTHING)
    assert rep["visits"]["vulnerable_overdue"] == len(OVERDUE)
    # The warden's due list read from the same store agrees.
    hh, last, needs = load_due_inputs(visit_store, Scope.everything())
    due = due_visits(hh, last, needs, as_of)
    assert sorted(due.loc[due["target"].to_numpy() & overdue(due["days_since"], N), "hh_id"]) == OVERDUE
    # Independent: SQL on the visits table.
    sql = visit_store.query(
        "SELECT h.hh_id FROM households h LEFT JOIN visits v USING (hh_id) WHERE len(h.categories) > 0"
        " GROUP BY h.hh_id HAVING max(v.visited_at) IS NULL OR max(v.visited_at) < ?::TIMESTAMP - INTERVAL 30 DAY"
        " ORDER BY h.hh_id", [as_of])
    assert sql["hh_id"].tolist() == OVERDUE


def test_a_district_without_visits_has_an_overview(visit_store: Store) -> None:
    with visit_store.transaction() as cur:
        cur.execute("DELETE FROM visits")
    ov = cv.overview(visit_store, "clinic", visit_days=N, as_of=AS_OFS[1], scope=EVERYTHING)
    vulnerable = sum(h.startswith("v_") for h in visits_for(AS_OFS[1]))
    assert ov.kpis["overdue"] == ov.kpis["never_visited"] == vulnerable
    hh, last, needs = load_due_inputs(visit_store, Scope.everything())
    assert len(last) == 0
    assert due_visits(hh, last, needs, AS_OFS[1])["last_visit"].isna().all()
