"""New-station siting (MCLP, LSCP, capacitated), checked against exhaustive search over every
set of candidates on small instances, and its coverage figures against independent recounts:
numpy distance matrices for the straight line, networkx shortest paths for walking, and the
coverage module's own gap count with the proposed stations added."""

from __future__ import annotations

import itertools
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString

from grid import coverage as cv
from grid import network as nw
from grid import siting
from grid.access import Actor, Scope, allowed
from grid.errors import AccessDenied, ValidationError, WarmGridError
from grid.reach import pairs_within

RNG = np.random.default_rng(5)


def _households(n: int, size: float = 600.0, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, size, (n, 2))
    return pd.DataFrame({"hh_id": [f"H{i:03d}" for i in range(n)], "x_m": xy[:, 0], "y_m": xy[:, 1],
                         "vulnerable": rng.random(n) < 0.5, "cell_id": "c1", "community_code": "x"})


def _candidates(n: int, size: float = 600.0, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, size, (n, 2))
    return pd.DataFrame({"candidate_id": [f"P{i:02d}" for i in range(n)], "x_m": xy[:, 0], "y_m": xy[:, 1]})


STATION = pd.DataFrame({"station_id": ["S1"], "name": ["老站"], "type": ["clinic"], "x_m": [100.0], "y_m": [100.0],
                        "radius_m": [150.0]})


def _brute_best(cover: np.ndarray, w: np.ndarray, k: int) -> float:
    """The best weight ``k`` of the candidates (columns of boolean ``cover``) can reach, trying every set."""
    best = 0.0
    for combo in itertools.combinations(range(cover.shape[1]), k):
        best = max(best, float(w[cover[:, list(combo)].any(axis=1)].sum()))
    return best


# --------------------------------------------------------------------------- straight line
@pytest.mark.parametrize("weight", ["vulnerable", "households", "mixed"])
def test_mclp_equals_exhaustive_search_by_the_straight_line(weight: str) -> None:
    hh, cand = _households(120), _candidates(11)
    d = np.hypot(hh["x_m"].to_numpy()[:, None] - cand["x_m"].to_numpy()[None, :],
                 hh["y_m"].to_numpy()[:, None] - cand["y_m"].to_numpy()[None, :])
    old = np.hypot(hh["x_m"] - 100.0, hh["y_m"] - 100.0).to_numpy() <= 150.0
    vul = hh["vulnerable"].to_numpy()
    w = {"vulnerable": vul * 1.0, "households": np.ones(len(hh)), "mixed": np.where(vul, 3.0, 1.0)}[weight]
    cover = (d <= 150.0) & ~old[:, None]
    for k in (1, 2, 3):
        r = siting.site(hh, STATION, cand, "clinic", k=k, radius=150.0, weight=weight)
        best = _brute_best(cover, w, k)
        assert r.covered_after - r.covered_before == pytest.approx(best)
        assert r.covered_before == pytest.approx(float(w[old].sum()))
        # The proposals' gains add up to the optimum, and each is counted on households.
        assert r.proposals["gain"].sum() == pytest.approx(best)
        assert r.solution.status == "optimal" and r.solution.gap < 1e-9
        # Independent recount: the coverage module with the proposals built.
        built = pd.concat([STATION, pd.DataFrame({
            "station_id": r.proposals["candidate_id"], "name": "new", "type": "clinic", "x_m": r.proposals["x_m"],
            "y_m": r.proposals["y_m"], "radius_m": 150.0})], ignore_index=True)
        gaps = cv.station_gaps(hh, built, "clinic")
        assert r.what_if["outside_after"] == len(gaps)
        assert r.what_if["vulnerable_outside_after"] == int(gaps["vulnerable"].sum())
        assert r.covered_after == pytest.approx(float(w[~hh["hh_id"].isin(gaps["hh_id"]).to_numpy()].sum()))


def test_the_ranking_reads_as_marginal_gains() -> None:
    hh, cand = _households(150), _candidates(9)
    r = siting.site(hh, STATION, cand, "clinic", k=3, radius=150.0, curve=True)
    gains = r.proposals["gain"].tolist()
    assert gains == sorted(gains, reverse=True)
    assert r.proposals["sentence"].iloc[0] == f"第 1 个新卫生室覆盖 +{gains[0]:.0f} 名困难户"
    # The curve is the exact optimum for each k: never decreasing, and its last point is the answer.
    cov = [c["covered"] for c in r.curve]
    assert cov == sorted(cov) and cov[-1] == pytest.approx(r.covered_after)
    assert json.loads(json.dumps(r.as_dict(), default=str))["proposals"][0]["candidate_id"] == \
        r.proposals["candidate_id"].iloc[0]


def test_lscp_equals_the_smallest_cover_found_by_exhaustive_search() -> None:
    hh, cand = _households(60, seed=8), _candidates(10, seed=9)
    d = np.hypot(hh["x_m"].to_numpy()[:, None] - cand["x_m"].to_numpy()[None, :],
                 hh["y_m"].to_numpy()[:, None] - cand["y_m"].to_numpy()[None, :])
    old = np.hypot(hh["x_m"] - 100.0, hh["y_m"] - 100.0).to_numpy() <= 200.0
    need = hh["vulnerable"].to_numpy() & ~old
    cover = (d <= 200.0)[need]
    coverable = cover.any(axis=1)
    smallest = next(k for k in range(1, 11) for combo in itertools.combinations(range(10), k)
                    if cover[coverable][:, list(combo)].any(axis=1).all())
    doc = siting.lscp(hh, STATION.assign(radius_m=200.0), cand, "clinic", radius=200.0)
    assert doc["stations"] == smallest
    assert doc["not_coverable"] == int((~coverable).sum())
    chosen = [int(c[1:]) for c in doc["chosen"]]
    assert cover[coverable][:, chosen].any(axis=1).all()


def test_capacitated_equals_exhaustive_search_with_max_flow() -> None:
    hh, cand = _households(70, seed=12), _candidates(7, seed=13)
    cap = np.array([5, 12, 8, 20, 3, 9, 15], dtype=float)
    cand = cand.assign(capacity=cap)
    d = np.hypot(hh["x_m"].to_numpy()[:, None] - cand["x_m"].to_numpy()[None, :],
                 hh["y_m"].to_numpy()[:, None] - cand["y_m"].to_numpy()[None, :])
    old = np.hypot(hh["x_m"] - 100.0, hh["y_m"] - 100.0).to_numpy() <= 200.0
    need = np.flatnonzero(hh["vulnerable"].to_numpy() & ~old)

    def served(combo: tuple[int, ...]) -> float:
        g = nx.DiGraph()
        for i in need:
            g.add_edge("s", ("h", i), capacity=1.0)
            for j in combo:
                if d[i, j] <= 200.0:
                    g.add_edge(("h", i), ("c", j), capacity=1.0)
        for j in combo:
            g.add_edge(("c", j), "t", capacity=float(cap[j]))
        return float(nx.maximum_flow_value(g, "s", "t")) if g.has_node("t") and g.has_node("s") else 0.0

    for k in (1, 2):
        best = max(served(c) for c in itertools.combinations(range(7), k))
        r = siting.site(hh, STATION.assign(radius_m=200.0), cand, "clinic", k=k, radius=200.0)
        assert r.capacitated
        assert r.covered_after - r.covered_before == pytest.approx(best)
        assert (r.proposals["served"] <= r.proposals["capacity"] + 1e-9).all()


def test_households_no_distance_tells_apart_are_one_demand_row() -> None:
    """Exact aggregation: ten households of one building (one point) and a copy of the frame give one group each."""
    hh = pd.DataFrame({"hh_id": [f"H{i}" for i in range(12)], "x_m": [0.0] * 10 + [500.0, 520.0],
                       "y_m": [0.0] * 10 + [0.0, 0.0], "vulnerable": True})
    cand = pd.DataFrame({"candidate_id": ["a", "b"], "x_m": [10.0, 510.0], "y_m": [0.0, 0.0]})
    empty = STATION.iloc[0:0]
    r = siting.site(hh, empty, cand, "clinic", k=1, radius=100.0)
    assert r.groups == 2 and r.households_in_model == 12
    assert r.proposals["candidate_id"].tolist() == ["a"] and r.covered_after == 10.0


# --------------------------------------------------------------------------- walking
def _lattice_roads() -> pd.DataFrame:
    """A 7 x 7 street lattice 100 m apart, block by block, one block's street missing (a detour)."""
    lines = []
    for i in range(7):
        for j in range(6):
            lines.append(LineString([(j * 100.0, i * 100.0), ((j + 1) * 100.0, i * 100.0)]))
    for j in range(7):
        for i in range(6):
            if j == 3 and i in (2, 3):  # the middle north-south street is cut: walking must go round
                continue
            lines.append(LineString([(j * 100.0, i * 100.0), (j * 100.0, (i + 1) * 100.0)]))
    return pd.DataFrame({"road_id": [f"r{i}" for i in range(len(lines))], "walkable": True, "geom": lines})


def _nx_pairs(net: nw.Network, src: pd.DataFrame, dst: pd.DataFrame, radius: float) -> set[tuple[int, int]]:
    """(source, destination) pairs within ``radius`` by networkx on the network with every point
    spliced into its edge (its leg to the nearest point of the nearest segment, by brute force)."""
    a = net.node_xy[net.edge_u]
    b = net.node_xy[net.edge_v]
    segs = shapely.linestrings(np.stack([a, b], axis=1))
    g = nx.Graph()
    for e in range(net.n_edges):
        g.add_edge(int(net.edge_u[e]), int(net.edge_v[e]), weight=float(net.edge_len[e]))
    on_edge: dict[int, list[tuple[float, object]]] = {}

    def join(frame: pd.DataFrame, tag: str) -> np.ndarray:
        pts = shapely.points(frame["x_m"].to_numpy(), frame["y_m"].to_numpy())
        dd = shapely.distance(pts[:, None], segs[None, :])
        seg = np.argmin(dd, axis=1)
        leg = dd[np.arange(len(frame)), seg]
        t = shapely.line_locate_point(segs[seg], pts, normalized=True)
        for i, (s, tt) in enumerate(zip(seg, t, strict=True)):
            on_edge.setdefault(int(s), []).append((float(tt), (tag + "@", i)))
        return leg

    hleg, sleg = join(dst, "h"), join(src, "s")
    for e, items in on_edge.items():
        g.remove_edge(int(net.edge_u[e]), int(net.edge_v[e]))
        chain = [(0.0, int(net.edge_u[e]))] + sorted(items, key=lambda it: (it[0], str(it[1]))) + \
            [(1.0, int(net.edge_v[e]))]
        for (t0, n0), (t1, n1) in zip(chain[:-1], chain[1:], strict=True):
            g.add_edge(n0, n1, weight=(t1 - t0) * float(net.edge_len[e]))
    for i, leg in enumerate(hleg):
        if leg <= nw.MAX_LEG_M:
            g.add_edge(("h", i), ("h@", i), weight=float(leg))
    for i, leg in enumerate(sleg):
        g.add_edge(("s", i), ("s@", i), weight=float(leg))
    out = set()
    for i in range(len(src)):
        dist = nx.single_source_dijkstra_path_length(g, ("s", i), cutoff=radius + 1e-9, weight="weight")
        out |= {(i, node[1]) for node, dd in dist.items() if isinstance(node, tuple) and node[0] == "h"
                and dd <= radius + 1e-9}
    return out


@pytest.fixture(scope="module")
def lattice() -> nw.Network:
    return nw.build_network(_lattice_roads(), crs=None)


def test_walking_pairs_equal_networkx(lattice: nw.Network) -> None:
    hh, cand = _households(90, seed=21), _candidates(8, seed=22)
    i, j, d = pairs_within(cand[["x_m", "y_m"]], hh[["x_m", "y_m"]], 180.0, distance="walk", network=lattice)
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == _nx_pairs(lattice, cand, hh, 180.0)
    # Never shorter than the straight line.
    straight = np.hypot(cand["x_m"].to_numpy()[i] - hh["x_m"].to_numpy()[j], cand["y_m"].to_numpy()[i] -
                        hh["y_m"].to_numpy()[j])
    assert (d >= straight - 1e-9).all()


def test_mclp_by_walking_equals_exhaustive_search_and_the_walking_recount(lattice: nw.Network) -> None:
    hh, cand = _households(90, seed=31), _candidates(9, seed=32)
    st = STATION.assign(radius_m=180.0)
    pairs = _nx_pairs(lattice, cand, hh, 180.0)
    old = {j for (_i, j) in _nx_pairs(lattice, st, hh, 180.0)}
    cover = np.zeros((len(hh), len(cand)), dtype=bool)
    for i, j in pairs:
        cover[j, i] = j not in old
    w = hh["vulnerable"].to_numpy() * 1.0
    for k in (1, 2, 3):
        r = siting.site(hh, st, cand, "clinic", k=k, radius=180.0, distance="walk", network=lattice)
        assert r.covered_after - r.covered_before == pytest.approx(_brute_best(cover, w, k))
        built = pd.concat([st, pd.DataFrame({"station_id": r.proposals["candidate_id"], "name": "n", "type": "clinic",
                                             "x_m": r.proposals["x_m"], "y_m": r.proposals["y_m"],
                                             "radius_m": 180.0})], ignore_index=True)
        near = nw.walk_nearest(lattice, hh, built, "clinic")
        assert r.what_if["outside_after"] == int((~near["covered"]).sum())
        assert r.covered_after == pytest.approx(float(w[near["covered"].to_numpy()].sum()))


# --------------------------------------------------------------------------- candidates
def test_a_candidates_file_is_read_in_its_coordinates_and_every_problem_is_named(tmp_path) -> None:
    from grid.crs import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(np.array([118.10, 118.11]), np.array([24.48, 24.49]))
    good = tmp_path / "候选点.csv"
    good.write_text("候选点编号,名称,经度,纬度,容量\n" + "\n".join(
        f"K{i},空地{i},{lon[i]:.7f},{lat[i]:.7f},{100 * (i + 1)}" for i in range(2)) + "\n", encoding="utf-8")
    c = siting.read_candidates(good, crs="gcj02", metric_crs="EPSG:32650")
    assert c.frame["candidate_id"].tolist() == ["K0", "K1"]
    np.testing.assert_allclose(c.frame["lon"], [118.10, 118.11], atol=1e-5)
    assert c.frame["capacity"].tolist() == [100.0, 200.0]
    bad = tmp_path / "bad.csv"
    bad.write_text("编号,经度,纬度,容量\nK1,118.1,24.5,-3\nK1,118.1,24.5,1\n,abc,24.5,1\nK9,2.0,24.5,1\n",
                   encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        siting.read_candidates(bad, metric_crs="EPSG:32650")
    got = {(p.row, p.field) for p in e.value.problems}
    # Rows as the spreadsheet numbers them: the header is row 1.
    assert got == {(2, "capacity"), (3, "candidate_id"), (4, "candidate_id"), (4, "经度/纬度"), (5, "经度/纬度")}


def test_lattice_candidates_lie_inside_the_area() -> None:
    area = shapely.Polygon([(0, 0), (1000, 0), (1000, 500), (0, 500)]).difference(
        shapely.box(400, 0, 600, 300))
    c = siting.lattice_candidates(area, "EPSG:32650", limit=50)
    assert 0 < len(c.frame) <= 50 and c.source == "lattice"
    assert shapely.contains_xy(area, c.frame["x_m"], c.frame["y_m"]).all()


def test_bad_questions_are_refused_in_both_languages() -> None:
    hh, cand = _households(5), _candidates(2)
    for kwargs in ({"k": 0}, {"weight": "everyone"}, {"distance": "fly"}, {"solver": "GUROBI"}):
        with pytest.raises(WarmGridError) as e:
            siting.site(hh, STATION, cand, "clinic", **{"k": 1, **kwargs})
        assert e.value.zh and e.value.en
    with pytest.raises(WarmGridError):
        siting.site(hh, STATION, cand, "clinic", k=1, distance="walk", network=None)


# --------------------------------------------------------------------------- on the store
def test_the_command_line_prints_figures_an_independent_recount_confirms(district_file, capsys) -> None:
    from grid.cli import main

    path = district_file[0]
    assert main(["site", "--db", str(path), "--station-type", "clinic", "--add", "2", "--distance", "straight",
                 "--limit", "150", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"covered_before", "covered_after", "proposals"} <= set(doc)
    assert len(doc["proposals"]) == 2 and {"candidate_id", "lon", "lat", "gain"} <= set(doc["proposals"][0])
    from grid.store import open_store

    with open_store(path, read_only=True) as s:
        hh, st = cv.load_households(s), cv.load_stations(s)
        crs = s.metric_crs()
    import pyproj

    tr = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    new = pd.DataFrame([{"station_id": p["candidate_id"], "name": "n", "type": "clinic",
                         "x_m": tr.transform(p["lon"], p["lat"])[0], "y_m": tr.transform(p["lon"], p["lat"])[1],
                         "radius_m": 300.0} for p in doc["proposals"]])
    before = cv.station_gaps(hh, st, "clinic")
    assert doc["covered_before"] == int(hh["vulnerable"].sum()) - int(before["vulnerable"].sum())
    # The mean position of a building is rounded to 1e-6° in the JSON: allow a household right at the edge.
    after = cv.station_gaps(hh, pd.concat([st, new], ignore_index=True), "clinic")
    assert abs(doc["covered_after"] - (int(hh["vulnerable"].sum()) - int(after["vulnerable"].sum()))) <= 1
    assert doc["covered_after"] - doc["covered_before"] == pytest.approx(sum(p["gain"] for p in doc["proposals"]))


def test_only_planners_may_plan_the_network(store) -> None:
    from grid.network_plan import planning_inputs

    cells = Scope.of_cells({"c1"})
    assert allowed(Actor("c", "committee", cells), "plan_network", cells)
    assert allowed(Actor("l", "leader", cells), "plan_network", cells)
    for role in ("warden", "inspector", "community"):
        assert not allowed(Actor("x", role, cells), "plan_network", cells)
        assert not allowed(Actor("x", role, cells), "view_page", "network")
    with pytest.raises(AccessDenied):
        planning_inputs(store, Actor("w", "warden", cells), distance="straight")
