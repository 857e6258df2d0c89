"""Coverage measures, each checked against an independent computation
(geopandas/shapely/pyproj/numpy where the product uses a k-d tree or SQL, and
SQL where the product uses Python)."""

from __future__ import annotations

from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from grid import coverage as cv
from grid import model
from grid.errors import WarmGridError
from tests.actors import EVERYTHING, Scope

AS_OF = date(2026, 11, 15)


@pytest.fixture(scope="module")
def hh(store) -> pd.DataFrame:
    return cv.load_households(store)


@pytest.fixture(scope="module")
def st(store) -> pd.DataFrame:
    return cv.load_stations(store)


@pytest.fixture(scope="module")
def hh_gdf(store) -> gpd.GeoDataFrame:
    """Households projected by pyproj (independent of DuckDB's ST_Transform)."""
    df = store.query("SELECT hh_id, ST_X(geom) AS lon, ST_Y(geom) AS lat, len(categories) > 0 AS vul"
                     " FROM households WHERE status = 'active' ORDER BY hh_id")  # on the roll
    g = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
    return g.to_crs(store.metric_crs())


@pytest.fixture(scope="module")
def st_gdf(store) -> gpd.GeoDataFrame:
    df = store.query("SELECT station_id, type, radius_m, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM stations")
    g = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
    return g.to_crs(store.metric_crs())


def _geopandas_gaps(hh_gdf, st_gdf, t: str, radius: float | None = None) -> tuple[set[str], set[str]]:
    """(outside, borderline): households with no station of type t within the radius."""
    sub = st_gdf[st_gdf["type"] == t]
    if sub.empty:
        return set(hh_gdf["hh_id"]), set()
    r = radius if radius is not None else float(sub["radius_m"].iloc[0])
    assert radius is not None or sub["radius_m"].nunique() == 1
    near = gpd.sjoin(hh_gdf, sub, predicate="dwithin", distance=r)
    outside = set(hh_gdf["hh_id"]) - set(near["hh_id"])
    # Households within a millimetre of the radius may fall either way between two projections.
    d = hh_gdf.geometry.apply(lambda p: sub.distance(p).min())
    border = set(hh_gdf.loc[(d - r).abs() < 1e-3, "hh_id"])
    return outside, border


@pytest.mark.parametrize("t", list(model.STATION_TYPES))
def test_gaps_per_type_equal_geopandas(hh, st, hh_gdf, st_gdf, t) -> None:
    mine = set(cv.station_gaps(hh, st, t)["hh_id"])
    theirs, border = _geopandas_gaps(hh_gdf, st_gdf, t)
    assert mine - border == theirs - border
    assert 0 < len(mine) < len(hh) or not (st["type"] == t).any()


@pytest.mark.parametrize("radius", [150.0, 800.0])
def test_gaps_with_a_given_radius_equal_geopandas(hh, st, hh_gdf, st_gdf, radius) -> None:
    mine = set(cv.station_gaps(hh, st, "clinic", radius)["hh_id"])
    theirs, border = _geopandas_gaps(hh_gdf, st_gdf, "clinic", radius)
    assert mine - border == theirs - border


@pytest.mark.parametrize("t", ["party_service", "clinic", "service_hall"])
def test_sql_gaps_equal_kdtree_gaps(store, hh, st, t) -> None:
    assert cv.station_gaps_sql(store, t) == cv.station_gaps(hh, st, t)["hh_id"].tolist()
    assert cv.station_gaps_sql(store, t, 250.0) == cv.station_gaps(hh, st, t, 250.0)["hh_id"].tolist()


def test_gaps_with_many_distinct_radii_equal_brute_force(hh, st) -> None:
    rng = np.random.default_rng(3)
    many = st.assign(type="clinic", radius_m=rng.uniform(100, 600, len(st)))
    mine = set(cv.station_gaps(hh, many, "clinic")["hh_id"])
    d = np.hypot(hh["x_m"].to_numpy()[:, None] - many["x_m"].to_numpy()[None, :],
                 hh["y_m"].to_numpy()[:, None] - many["y_m"].to_numpy()[None, :])
    covered = (d <= many["radius_m"].to_numpy()[None, :]).any(axis=1)
    assert mine == set(hh.loc[~covered, "hh_id"])


def test_a_type_without_stations_leaves_everyone_out(hh, st) -> None:
    none = st[st["type"] != "police"]
    gaps = cv.station_gaps(hh, none, "police")
    assert len(gaps) == len(hh)


def test_gaps_keep_households_columns_and_reject_bad_input(hh, st) -> None:
    gaps = cv.station_gaps(hh, st, "clinic")
    assert {"hh_id", "cell_id", "vulnerable", "type"} <= set(gaps.columns)
    with pytest.raises(WarmGridError, match="unknown station type"):
        cv.station_gaps(hh, st, "spaceport")
    with pytest.raises(WarmGridError, match="radius"):
        cv.station_gaps(hh, st, "clinic", -5)
    with pytest.raises(WarmGridError, match="lacks columns"):
        cv.station_gaps(hh.drop(columns="x_m"), st)


def test_metric_coordinates_agree_with_pyproj(hh, hh_gdf) -> None:
    assert np.allclose(hh["x_m"].to_numpy(), hh_gdf.geometry.x.to_numpy(), atol=1e-3)
    assert np.allclose(hh["y_m"].to_numpy(), hh_gdf.geometry.y.to_numpy(), atol=1e-3)


def test_nearest_station_equals_brute_force(hh, st) -> None:
    near = cv.nearest_stations(hh, st)
    assert len(near) == len(hh) * st["type"].nunique()
    for t, sub in st.groupby("type"):
        d = np.hypot(hh["x_m"].to_numpy()[:, None] - sub["x_m"].to_numpy()[None, :],
                     hh["y_m"].to_numpy()[:, None] - sub["y_m"].to_numpy()[None, :])
        mine = near[near["type"] == t].set_index("hh_id").loc[hh["hh_id"]]
        assert np.allclose(mine["distance_m"].to_numpy(), d.min(axis=1))
        assert (mine["station_id"].to_numpy() == sub["station_id"].to_numpy()[d.argmin(axis=1)]).all()


def test_gap_summary_adds_up(hh, st) -> None:
    gaps = cv.station_gaps(hh, st)
    for by in ("cell_id", "community_code"):
        s = cv.gap_summary(hh, gaps, by=by)
        for t, sub in s.groupby("type"):
            assert sub["outside"].sum() == (gaps["type"] == t).sum()
            assert sub["households"].sum() == len(hh)
            assert sub["vulnerable_outside"].sum() == gaps.loc[gaps["type"] == t, "vulnerable"].sum()
        assert s["share_outside"].between(0, 1).all()


def test_patrol_cover_equals_geopandas_overlay(store) -> None:
    cells = cv.load_cells(store, metric=True)
    patrols = cv.load_patrol_areas(store, metric=True)
    mine = cv.patrol_cover(cells, patrols).set_index("cell_id")
    union = gpd.GeoDataFrame(geometry=[patrols.union_all()], crs=patrols.crs)
    inter = gpd.overlay(cells[["cell_id", "geometry"]], union, how="intersection", keep_geom_type=True)
    theirs = inter.assign(a=inter.area).groupby("cell_id")["a"].sum()
    theirs = theirs.reindex(mine.index, fill_value=0.0)
    assert np.allclose(mine["covered_m2"], theirs, rtol=1e-9, atol=1e-6)
    assert np.allclose(mine["area_m2"], cells.set_index("cell_id").area, rtol=1e-9)
    assert (mine["fraction"] > 0).any() and (mine["fraction"] == 0).any()
    # The stored area (DuckDB ST_Transform + ST_Area) matches shapely's on pyproj's projection.
    assert np.allclose(cells.set_index("cell_id")["area_m2"], mine["area_m2"], rtol=1e-6)


def test_patrol_cover_needs_a_metric_crs(store) -> None:
    with pytest.raises(WarmGridError, match="metric"):
        cv.patrol_cover(cv.load_cells(store), cv.load_patrol_areas(store))


def test_warden_load_equals_sql(store, hh) -> None:
    cells = cv.load_cells(store)
    load = cv.warden_load(cells, hh, target=300)
    sql = store.query(
        "SELECT c.warden_id, count(DISTINCT c.cell_id) AS cells, count(h.hh_id) AS households"
        " FROM cells c LEFT JOIN households h ON h.cell_id = c.cell_id AND h.status = 'active'"
        " WHERE c.warden_id IS NOT NULL"
        " GROUP BY c.warden_id ORDER BY c.warden_id")
    staffed = load[load["warden_id"].notna()].sort_values("warden_id").reset_index(drop=True)
    assert staffed["warden_id"].tolist() == sql["warden_id"].tolist()
    assert staffed["cells"].tolist() == sql["cells"].tolist()
    assert staffed["households"].tolist() == sql["households"].tolist()
    assert np.allclose(staffed["load"], sql["households"] / 300)
    bare = load[load["warden_id"].isna()]
    assert sorted(bare["cell_ids"]) == sorted(cells.loc[cells["warden_id"].isna(), "cell_id"])
    with pytest.raises(WarmGridError):
        cv.warden_load(cells, hh, target=0)


@pytest.mark.parametrize("days", [30, 90, 365])
def test_visit_recency_equals_sql(store, hh, days) -> None:
    mine = cv.visit_recency(hh, cv.load_last_visits(store), days, AS_OF)
    sql = store.query(
        "SELECT h.hh_id FROM households h LEFT JOIN visits v USING (hh_id)"
        " WHERE len(h.categories) > 0 AND h.status = 'active'"
        " GROUP BY h.hh_id HAVING max(v.visited_at) IS NULL"
        " OR max(v.visited_at) < CAST(? AS TIMESTAMP) - to_days(CAST(? AS INTEGER))",
        [datetime.combine(AS_OF, datetime.min.time()), days])
    assert set(mine["hh_id"]) == set(sql["hh_id"])
    never = mine["last_visit"].isna()
    assert never.sum() == 0 or never.iloc[: never.sum()].all()  # never-visited come first
    assert mine.loc[~never, "days_since"].is_monotonic_decreasing


def test_visit_recency_on_a_hand_made_case() -> None:
    hh = pd.DataFrame({"hh_id": ["a", "b", "c", "d"], "vulnerable": [True, True, True, False]})
    lv = pd.DataFrame({"hh_id": ["a", "b", "d"],
                       "last_visit": pd.to_datetime(["2026-11-01", "2026-06-01", "2020-01-01"])})
    out = cv.visit_recency(hh, lv, 30, date(2026, 11, 15))
    assert out["hh_id"].tolist() == ["c", "b"]


def test_cell_measures_are_consistent(store, hh, st) -> None:
    ov = cv.overview(store, "clinic", as_of=AS_OF, scope=EVERYTHING)
    cells = ov.cells
    assert cells["households"].sum() == len(hh)
    assert cells["outside"].sum() == ov.kpis["outside"] == len(cv.station_gaps(hh, st, "clinic"))
    assert cells["overdue"].sum() == ov.kpis["overdue"]
    assert cells.loc[cells["warden_id"].isna(), "warden_load"].isna().all()
    assert set(cv.CELL_MEASURES) <= set(cells.columns)


def test_coverage_report_is_complete(store) -> None:
    rep = cv.coverage_report(store, as_of=AS_OF, scope=EVERYTHING)
    assert rep["households"] == store.scalar("SELECT count(*) FROM households WHERE status = 'active'")
    assert [g["type"] for g in rep["station_gaps"]] == list(model.STATION_TYPES)
    assert rep["wardens"]["cells_without_warden"] == sorted(
        store.query("SELECT cell_id FROM cells WHERE warden_id IS NULL")["cell_id"])
    assert 0 < rep["patrol_cover"]["fraction_of_area"] < 1


def test_gaps_and_nearest_do_not_depend_on_row_order(hh, st) -> None:
    shuffled = hh.sample(frac=1.0, random_state=4).reset_index(drop=True)
    a = cv.station_gaps(hh, st)
    b = cv.station_gaps(shuffled, st)
    assert a[["type", "hh_id", "cell_id"]].equals(b[["type", "hh_id", "cell_id"]])
    assert list(a["type"]) == sorted(a["type"])
    n1 = cv.nearest_stations(hh, st).sort_values(["hh_id", "type"], ignore_index=True)
    n2 = cv.nearest_stations(shuffled, st).sort_values(["hh_id", "type"], ignore_index=True)
    assert n1.equals(n2)


def test_overview_restricted_to_a_scope(store, hh, st) -> None:
    comm = str(store.scalar("SELECT min(community_code) FROM cells"))
    cells = frozenset(store.query("SELECT cell_id FROM cells WHERE community_code = ?", [comm])["cell_id"])
    ov = cv.overview(store, "clinic", as_of=AS_OF, scope=Scope.of_cells(cells))
    mine = hh[hh["cell_id"].isin(cells)]
    assert ov.kpis["households"] == len(mine) > 0
    assert set(ov.cells["cell_id"]) == set(cells)
    assert set(ov.gaps["hh_id"]) == set(cv.station_gaps(hh, st, "clinic")["hh_id"]) & set(mine["hh_id"])
    assert set(ov.admin["level"]) == {"district", "street", "community"}
    assert (ov.admin["level"] == "community").sum() == 1
    assert ov.by_community["community_code"].unique().tolist() == [comm]


def test_overview_of_an_empty_scope_is_empty(store) -> None:
    ov = cv.overview(store, "clinic", as_of=AS_OF, scope=Scope.of_cells(frozenset()))
    assert ov.kpis["households"] == 0 and ov.kpis["cells"] == 0 and ov.kpis["outside"] == 0
    assert len(ov.gaps) == 0 and len(ov.cells) == 0


def test_overview_from_shared_inputs_equals_overview_and_leaves_them_unchanged(store) -> None:
    import copy

    inputs = cv.overview_inputs(store)
    before = copy.deepcopy(inputs)
    some = frozenset(sorted(inputs.cells_m["cell_id"])[:5])
    for kwargs in ({"scope": EVERYTHING}, {"radius": 150.0, "scope": EVERYTHING},
                   {"scope": Scope.of_cells(some), "visit_days": 30}, {"radius": 800.0, "scope": Scope.of_cells(some)}):
        a = cv.overview(store, "clinic", as_of=date(2026, 11, 1), **kwargs)  # type: ignore[arg-type]
        b = cv.overview_from(inputs, "clinic", as_of=date(2026, 11, 1), **kwargs)  # type: ignore[arg-type]
        assert a.kpis == b.kpis
        pd.testing.assert_frame_equal(a.gaps, b.gaps)
        pd.testing.assert_frame_equal(pd.DataFrame(a.cells.drop(columns="geometry")),
                                      pd.DataFrame(b.cells.drop(columns="geometry")))
        pd.testing.assert_frame_equal(a.by_community, b.by_community)
    for name in ("households", "stations", "cells_m", "cells_wgs", "patrols_m", "patrols_wgs", "last_visits", "admin"):
        pd.testing.assert_frame_equal(getattr(inputs, name), getattr(before, name), obj=name)


def test_a_change_of_radius_or_station_type_reuses_what_neither_changes(store, monkeypatch) -> None:
    calls: list[int] = []
    real = cv.visit_recency
    monkeypatch.setattr(cv, "visit_recency", lambda *a, **k: calls.append(1) or real(*a, **k))
    inputs = cv.overview_inputs(store)
    day = date(2026, 11, 1)
    first = cv.overview_from(inputs, "clinic", scope=EVERYTHING, as_of=day)
    for radius in (150.0, 800.0, None):
        cv.overview_from(inputs, "clinic", scope=EVERYTHING, radius=radius, as_of=day)
    cv.overview_from(inputs, "police", scope=EVERYTHING, as_of=day)
    assert len(calls) == 1
    cv.overview_from(inputs, "clinic", scope=EVERYTHING, as_of=day, visit_days=30)  # another period: computed
    cv.overview_from(inputs, "clinic", scope=EVERYTHING, as_of=date(2026, 11, 2))  # another day: computed
    assert len(calls) == 3
    again = cv.overview_from(inputs, "clinic", scope=EVERYTHING, as_of=day)
    assert again.kpis == first.kpis and len(calls) == 3
