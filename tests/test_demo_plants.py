"""The leader's patterns planted in the demo (grid.demo_plants) are what the analyses find.

As the planted duplicates and omissions are found exactly by the campaign audit, each pattern
here is found by the analysis a leader uses, read from the database the demo wrote:

* Gi* at FDR 5 % on aid per vulnerable household marks the planted cells — every office's own
  cell hot, the under-served community cold — and no cell far from them, "far" meaning neither a
  planted cell (an office cell, within two cell spacings of an office, or a cell of the
  under-served community) nor touching one (queen contiguity, computed here with shapely and
  networkx, not libpysal): more than about 360 m, one cell, from every planted cell;
* the under-served community ranks last on aid per vulnerable household;
* the Gini of aid per vulnerable household across cells is what the planted amounts give when
  summed by hand and put through the mean-difference formula, and clearly above what the same
  records give with the plants taken out;
* the cells with the most overdue needs are the planted cluster;
* the weak street's campaign coverage is the lowest.

The district is larger than the session's small one (which has 20 cells: too few for a
hot-spot analysis to say anything at 5 %): 20,000 households in about 100 cells.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from grid import demo_plants, needs_report
from grid.assistance import gini, load_assistance_inputs, measures
from grid.campaigns import audit_campaign, campaign_frames
from grid.coverage import load_cells
from grid.demo import DemoConfig, DemoDistrict, build_demo_file
from grid.hotspots import COLD_CLASSES, HOT_CLASSES, cell_values, gi_star, weights
from grid.store import Store, open_store
from tests.actors import EVERYTHING

PLANTS = DemoConfig(households=20_000, seed=7, streets=4, communities=12, target_per_cell=200)
#: "Far": more than this many steps of queen contiguity from every planted cell (1: neither a
#: planted cell nor touching one).
FAR_STEPS = 1


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, DemoDistrict]:
    path = tmp_path_factory.mktemp("plants") / "plants.duckdb"
    d = build_demo_file(path, PLANTS)
    s = open_store(path, read_only=True)
    yield s, d
    s.close()


@pytest.fixture(scope="module")
def graph(planted: tuple[Store, DemoDistrict]) -> nx.Graph:
    """Queen contiguity of the cells, from shapely: cells that share a boundary point."""
    store, _ = planted
    cells = load_cells(store, metric=True)
    geoms = cells.geometry.to_numpy()
    ids = cells["cell_id"].tolist()
    g = nx.Graph()
    g.add_nodes_from(ids)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    g.add_edges_from((ids[i], ids[j]) for i, j in zip(a, b, strict=True) if i < j)
    return g


def _steps(graph: nx.Graph, sources: set[str]) -> dict[str, int]:
    return nx.multi_source_dijkstra_path_length(graph, sources, weight=lambda u, v, e: 1)


def _gi(store: Store, campaign: str | None) -> pd.DataFrame:
    """What the leader's page runs: Gi* of aid per vulnerable household per cell, 999 permutations, seed 0."""
    hh, aid = load_assistance_inputs(store, campaign_id=campaign)
    by_cell = measures(hh, aid, "cell")
    by_cell = by_cell[by_cell["cell_id"].notna()]
    cells = load_cells(store, metric=True)
    vals = cell_values(by_cell, "per_vulnerable", sorted(cells["cell_id"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = weights(cells[cells["cell_id"].isin(set(vals.index))], "queen")
    return gi_star(vals, w, permutations=999, seed=0).set_index("cell_id")


# --------------------------------------------------------------------------- where the plants are
def test_the_plants_are_where_the_district_says(planted: tuple[Store, DemoDistrict], graph: nx.Graph) -> None:
    store, d = planted
    streets = set(store.query("SELECT code FROM admin_units WHERE level = 'street'")["code"])
    comms = store.query("SELECT code, parent_code FROM admin_units WHERE level = 'community'")
    cells = store.query("SELECT cell_id, community_code FROM cells")
    assert d.planted_weak_street in streets
    assert d.planted_weak_street != "350203001000"  # not the demo committee's street
    under_street = comms.set_index("code").loc[d.planted_underserved, "parent_code"]
    assert under_street != d.planted_weak_street
    assert sorted(cells.loc[cells["community_code"] == d.planted_underserved, "cell_id"]) == \
        d.planted_underserved_cells
    # The offices: two units, each in a cell, neither in nor beside the under-served community.
    offices = d.planted_offices
    assert list(offices["unit"]) == [u for u, _, _ in demo_plants.OFFICE_UNITS]
    assert set(offices["cell_id"]) <= set(d.planted_office_cells)
    assert not set(d.planted_office_cells) & set(d.planted_underserved_cells)
    # The overdue cluster: three adjacent cells, apart from the other plants.
    cluster = d.planted_overdue_cells
    assert len(cluster) == 3 and nx.is_connected(graph.subgraph(cluster))
    assert not set(cluster) & (set(d.planted_office_cells) | set(d.planted_underserved_cells))


def test_the_offices_give_more_and_more_often_near_their_door(planted: tuple[Store, DemoDistrict]) -> None:
    """Chance and amount fall with the distance from the office (measured here in metres by shapely)."""
    store, d = planted
    hh = store.query("SELECT hh_id, ST_X(p) AS x, ST_Y(p) AS y FROM (SELECT hh_id, ST_Transform(geom, 'EPSG:4326',"
                     " 'EPSG:32650', always_xy := true) AS p FROM households)").set_index("hh_id")
    targets = store.query(
        "SELECT h.hh_id FROM households h, campaigns c WHERE c.campaign_id = 'C2025W'"
        " AND len(list_intersect(h.categories, c.target_categories)) > 0")["hh_id"]
    cells = load_cells(store, metric=True)
    spacing = float(np.sqrt(cells.geometry.area.mean()))
    under = set(store.query("SELECT hh_id FROM households WHERE cell_id LIKE ? || '%'",
                            [d.planted_underserved])["hh_id"])
    for office in d.planted_offices.itertuples(index=False):
        ox, oy = store.query("SELECT ST_X(p) AS x, ST_Y(p) AS y FROM (SELECT ST_Transform(ST_Point(?, ?), 'EPSG:4326',"
                             " 'EPSG:32650', always_xy := true) AS p)", [office.lon, office.lat]).iloc[0]
        gifts = d.assistance[d.assistance["giver_unit"] == office.unit]
        assert set(gifts["programme"]) == {office.programme} and not gifts["hh_id"].duplicated().any()
        assert not set(gifts["hh_id"]) & under  # the under-served community is never reached
        t = hh.loc[targets[~targets.isin(under)]]
        dist = np.hypot(t["x"] - ox, t["y"] - oy) / spacing
        given = t.index.isin(set(gifts["hh_id"]))
        bands = [(0, 1), (1, 2), (2, 2.4)]
        rates = [given[(dist >= lo) & (dist < hi)].mean() for lo, hi in bands]
        assert rates[0] > rates[1] > rates[2] > 0, rates
        assert not given[dist > 2.6].any()  # nobody beyond 2.5 cell spacings (a little slack for the projection)
        amount = gifts.set_index("hh_id")["amount_yuan"]
        near = amount[dist[given] < 1].mean() if (dist[given] < 1).any() else np.nan
        far = amount[dist[given] >= 2].mean()
        assert near > far and amount.max() <= 1000 and amount.min() >= 400


# --------------------------------------------------------------------------- Gi*
@pytest.mark.parametrize("campaign", ["C2025W", None])
def test_gi_star_marks_the_planted_cells_and_none_far_from_them(planted: tuple[Store, DemoDistrict],
                                                                 graph: nx.Graph, campaign: str | None) -> None:
    """The winter campaign (which the plants are in) and everything given (the page's default)."""
    store, d = planted
    gi = _gi(store, campaign)
    cls = gi["class"]
    hot = set(cls.index[cls.isin(HOT_CLASSES)])
    cold = set(cls.index[cls.isin(COLD_CLASSES)])
    offices = set(d.planted_offices["cell_id"])
    under = set(d.planted_underserved_cells)
    plants = set(d.planted_office_cells) | under
    if campaign == "C2025W":
        assert offices <= hot, cls[list(offices)].to_dict()
    else:
        assert offices & hot, cls[list(offices)].to_dict()
    assert under & cold and not under & hot
    assert not set(d.planted_office_cells) & cold
    steps = _steps(graph, plants)
    far = {c for c in cls.index if steps[c] > FAR_STEPS}
    assert len(far) >= 0.25 * len(cls), "the test would say nothing: hardly any cell is far from a plant"
    assert not (hot | cold) & far, {c: (cls[c], steps[c]) for c in (hot | cold) & far}


def test_the_unplanted_demo_had_nothing_to_find(planted: tuple[Store, DemoDistrict]) -> None:
    """The same records with the plants taken out (no office gifts, 500 yuan in the under-served
    community): Gi* finds no hot spot — what the leader's page showed before."""
    store, d = planted
    hh, aid = load_assistance_inputs(store, campaign_id="C2025W")
    plain = _unplanted(aid, store, d)
    by_cell = measures(hh, plain, "cell")
    by_cell = by_cell[by_cell["cell_id"].notna()]
    cells = load_cells(store, metric=True)
    vals = cell_values(by_cell, "per_vulnerable", sorted(cells["cell_id"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = weights(cells[cells["cell_id"].isin(set(vals.index))], "queen")
    gi = gi_star(vals, w, permutations=999, seed=0)
    assert not gi["class"].isin(HOT_CLASSES).any()


def _unplanted(aid: pd.DataFrame, store: Store, d: DemoDistrict) -> pd.DataFrame:
    under = set(store.query("SELECT hh_id FROM households WHERE cell_id LIKE ? || '%'",
                            [d.planted_underserved])["hh_id"])
    out = aid[~aid["programme"].isin(set(d.planted_offices["programme"]))].copy()
    back = out["hh_id"].isin(under) & (out["programme"] == "情暖万家") & (out["campaign_id"] == "C2025W")
    out.loc[back, "amount_yuan"] = 500.0
    out["value_yuan"] = out["amount_yuan"] + out["goods_value_yuan"]
    return out


# --------------------------------------------------------------------------- ranking and Gini
@pytest.mark.parametrize("campaign", ["C2025W", None])
def test_the_underserved_community_ranks_last(planted: tuple[Store, DemoDistrict], campaign: str | None) -> None:
    store, d = planted
    hh, aid = load_assistance_inputs(store, campaign_id=campaign)
    by = measures(hh, aid, "community")
    by = by[by["community_code"].notna()].sort_values("per_vulnerable").reset_index(drop=True)
    assert by.loc[0, "community_code"] == d.planted_underserved
    assert by.loc[0, "per_vulnerable"] < 0.7 * by.loc[1, "per_vulnerable"]  # clearly, not by a hair


def _gini_by_hand(x: np.ndarray) -> float:
    """Mean absolute difference over twice the mean: sum_i sum_j |x_i - x_j| / (2 n^2 mean)."""
    x = np.asarray(x, dtype=float)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()))


def _per_vulnerable_by_hand(store: Store, d: DemoDistrict, aid: pd.DataFrame) -> np.ndarray:
    """Aid per vulnerable household per cell (cells of at least 5 households, as the page), from the
    generated frames: each household's yuan summed, its cell from the database."""
    cells = store.query("SELECT hh_id, cell_id FROM households").set_index("hh_id")["cell_id"]
    hh = d.households.assign(cell_id=lambda f: f["hh_id"].map(cells))
    given = set(aid["hh_id"])
    hh = hh[(hh["status"] == "active") | hh["hh_id"].isin(given)]
    yuan = (aid["amount_yuan"] + aid["goods_value_yuan"]).groupby(aid["hh_id"]).sum()
    hh = hh.assign(yuan=hh["hh_id"].map(yuan).fillna(0.0), vul=hh["categories"].map(len) > 0)
    per = hh.groupby("cell_id").agg(n=("hh_id", "size"), vul=("vul", "sum"), yuan=("yuan", "sum"))
    per = per[(per["n"] >= 5) & (per["vul"] > 0)]
    return (per["yuan"] / per["vul"]).to_numpy()


def test_the_gini_is_what_the_plants_imply(planted: tuple[Store, DemoDistrict]) -> None:
    store, d = planted
    hh, aid = load_assistance_inputs(store)
    by_cell = measures(hh, aid, "cell")
    shown = by_cell[by_cell["cell_id"].notna() & (by_cell["households"] >= 5)]["per_vulnerable"].astype(float)
    page = gini(shown[np.isfinite(shown)].to_numpy())  # what the leader's page shows
    expected = _gini_by_hand(_per_vulnerable_by_hand(store, d, d.assistance))
    assert page == pytest.approx(expected, abs=1e-9)
    before = _gini_by_hand(_per_vulnerable_by_hand(store, d, _unplanted(d.assistance, store, d)))
    assert before < 0.15 and expected > 0.2 and expected > 1.6 * before, (before, expected)


# --------------------------------------------------------------------------- needs and coverage
def test_the_overdue_cluster_is_where_most_needs_are_overdue(planted: tuple[Store, DemoDistrict]) -> None:
    store, d = planted
    frame = needs_report.load_frame(store, EVERYTHING)
    by_cell = needs_report.figures_by(frame, datetime(2026, 11, 15), "cell_id")
    by_cell = by_cell[by_cell["cell_id"].notna()].sort_values(["overdue_open", "cell_id"], ascending=[False, True])
    top = by_cell.head(len(d.planted_overdue_cells))
    assert sorted(top["cell_id"]) == d.planted_overdue_cells
    rest = by_cell[~by_cell["cell_id"].isin(d.planted_overdue_cells)]
    assert top["overdue_open"].min() >= 1.3 * rest["overdue_open"].max()
    # Independently, in plain SQL: open needs past their due date, per cell.
    sql = store.query("SELECT h.cell_id, count(*) AS n FROM needs n JOIN households h USING (hh_id)"
                      " WHERE n.status IN ('assigned', 'in_progress') AND n.due_at < TIMESTAMP '2026-11-15'"
                      " GROUP BY 1 ORDER BY n DESC, 1 LIMIT 3")
    assert sorted(sql["cell_id"]) == d.planted_overdue_cells


def test_the_weak_streets_campaign_coverage_is_the_lowest(planted: tuple[Store, DemoDistrict]) -> None:
    store, d = planted
    data = campaign_frames(store, "C2025W", scope=EVERYTHING)
    audit = audit_campaign(data.targets, data.visits, data.assistance)
    by = audit.by_street.dropna(subset=["street_code"]).set_index("street_code")["visit_rate"].sort_values()
    assert by.index[0] == d.planted_weak_street
    assert by.iloc[0] < 0.75 and by.iloc[1] > 0.9, by.to_dict()


def test_small_config_builds_with_every_plant(tmp_path: Path) -> None:
    """The smallest districts still get every pattern (the plants never fail to find a place)."""
    for cfg in (DemoConfig(households=300, seed=2, streets=1, communities=1, target_per_cell=100),
                DemoConfig(households=600, seed=4, streets=2, communities=3, target_per_cell=60)):
        d = build_demo_file(tmp_path / f"{cfg.seed}.duckdb", cfg)
        assert d.planted_weak_street and d.planted_underserved and len(d.planted_offices) == 2
        assert 1 <= len(d.planted_overdue_cells) <= 3
