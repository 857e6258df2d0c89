"""Walking distance, checked against networkx on the same stored lines joined
the same way (by brute force), against hand-worked numbers, and against the
straight line it can never beat."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as hs
from shapely.geometry import LineString

from grid import coverage as cv
from grid import network as nw
from grid.errors import WarmGridError
from grid.roads import node_lines


# --------------------------------------------------------------------------- the oracle
def _oracle_graph(roads: pd.DataFrame, crs: str | None) -> tuple[nx.Graph, np.ndarray, np.ndarray, list[tuple]]:
    """networkx graph of the stored lines: node = a vertex's stored coordinates; plus every segment."""
    g = nx.Graph()
    tr = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True) if crs else None
    seg_a, seg_b, keys = [], [], []
    for geom in shapely.from_wkb([bytes(b) for b in roads["wkb"]]) if "wkb" in roads else roads["geom"]:
        pts = list(geom.coords)
        for p, q in zip(pts[:-1], pts[1:], strict=True):
            if p == q:
                continue
            a = np.array(tr.transform(*p)) if tr else np.array(p, dtype=float)
            b = np.array(tr.transform(*q)) if tr else np.array(q, dtype=float)
            w = float(np.hypot(*(b - a)))
            if g.has_edge(p, q):
                w = min(w, g[p][q]["weight"])
            g.add_edge(p, q, weight=w)
            seg_a.append(a)
            seg_b.append(b)
            keys.append((p, q))
    return g, np.asarray(seg_a), np.asarray(seg_b), keys


def _brute_join(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Nearest segment of every point by brute force: (segment, t, leg)."""
    segs = shapely.linestrings(np.stack([a, b], axis=1))
    pts = shapely.points(x, y)
    d = shapely.distance(pts[:, None], segs[None, :])
    seg = np.argmin(d, axis=1)
    leg = d[np.arange(len(x)), seg]
    t = shapely.line_locate_point(segs[seg], pts, normalized=True)
    return seg, t, leg


def _oracle_distances(g: nx.Graph, a: np.ndarray, b: np.ndarray, keys: list[tuple], hx: np.ndarray, hy: np.ndarray,
                      sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """Walking distance from every household to the nearest station, by networkx on really split edges."""
    g = g.copy()
    hs_, ht, hl = _brute_join(hx, hy, a, b)
    ss, st_, sl = _brute_join(sx, sy, a, b)
    on_edge: dict[int, list[tuple[float, object]]] = {}
    for i, (s, t) in enumerate(zip(hs_, ht, strict=True)):
        on_edge.setdefault(int(s), []).append((float(t), ("h", i)))
    for i, (s, t) in enumerate(zip(ss, st_, strict=True)):
        on_edge.setdefault(int(s), []).append((float(t), ("sa", i)))
    for s, items in on_edge.items():
        p, q = keys[s]
        length = float(np.hypot(*(b[s] - a[s])))
        inner = [(t, ("at", who)) for t, who in sorted(items, key=lambda it: (it[0], str(it[1])))]
        chain = [(0.0, p)] + inner + [(1.0, q)]
        for (t0, n0), (t1, n1) in zip(chain[:-1], chain[1:], strict=True):
            g.add_edge(n0, n1, weight=(t1 - t0) * length)
    for i, leg in enumerate(hl):
        g.add_edge(("h", i), ("at", ("h", i)), weight=float(leg))
    for i, leg in enumerate(sl):
        g.add_edge(("s", i), ("at", ("sa", i)), weight=float(leg))
    dist = nx.multi_source_dijkstra_path_length(g, [("s", i) for i in range(len(sx))], weight="weight")
    return np.array([dist.get(("h", i), np.inf) for i in range(len(hx))])


@pytest.fixture(scope="module")
def walk_inputs(store):
    roads = nw.load_roads(store)
    net = nw.load_network(store)
    hh = nw.attach(net, cv.load_households(store))
    st = nw.attach(net, cv.load_stations(store))
    return roads, net, hh, st


def test_every_household_equals_networkx_on_the_stored_lines(store, walk_inputs) -> None:
    roads, net, hh, st = walk_inputs
    g, a, b, keys = _oracle_graph(roads, store.metric_crs())
    hx, hy = hh["x_m"].to_numpy(), hh["y_m"].to_numpy()
    # The join equals a brute-force nearest segment, point by point.
    _seg, _t, leg = _brute_join(hx, hy, a, b)
    np.testing.assert_allclose(hh["net_leg_m"].to_numpy(), leg, atol=1e-6)
    types = [t for t in ("party_service", "police", "health_center") if (st["type"] == t).any()]
    assert types
    for t in types:
        sub = st[st["type"] == t]
        want = _oracle_distances(g, a, b, keys, hx, hy, sub["x_m"].to_numpy(), sub["y_m"].to_numpy())
        got = nw.walk_nearest(net, hh, st, t)
        assert (got["status"] == "reached").sum() == np.isfinite(want).sum()
        reached = np.isfinite(want)
        np.testing.assert_allclose(got["distance_m"].to_numpy()[reached], want[reached], rtol=0, atol=1e-6)
        assert got["distance_m"].isna().to_numpy()[~reached].all()
        # The named station is one at that distance.
        sxy = sub.set_index("station_id")[["net_leg_m"]]
        assert got.loc[reached, "station_id"].isin(sxy.index).all()


def test_walking_covers_no_more_than_the_straight_line(store, walk_inputs) -> None:
    _roads, net, hh, st = walk_inputs
    for t in st["type"].unique():
        c = cv.compare_coverage(hh, st, t, net)
        assert c.covered_walk <= c.covered_straight
        assert c.overstated == c.covered_straight - c.covered_walk
        assert set(c.walk_gaps["hh_id"]) >= set(c.straight_gaps["hh_id"])
        assert c.overstated_households["hh_id"].tolist() == sorted(
            set(c.walk_gaps["hh_id"]) - set(c.straight_gaps["hh_id"]))
        assert sum(c.tiers.values()) + c.off_network == len(hh)


def test_the_demo_detour_is_that_of_a_city_centre(walk_inputs) -> None:
    """Walking / straight line to the nearest station: median 1.2–1.6, never below 1."""
    _roads, net, hh, st = walk_inputs
    w = nw.walk_distances(net, hh, st)
    w = w[w["status"] == "reached"].merge(hh[["hh_id", "x_m", "y_m"]], on="hh_id")
    s = st.set_index("station_id").loc[w["station_id"], ["x_m", "y_m"]].to_numpy()
    straight = np.hypot(w["x_m"].to_numpy() - s[:, 0], w["y_m"].to_numpy() - s[:, 1])
    assert (w["distance_m"].to_numpy() >= straight - 1e-6).all()
    ratio = w["distance_m"].to_numpy()[straight > 0] / straight[straight > 0]
    assert 1.2 <= float(np.median(ratio)) <= 1.6


# --------------------------------------------------------------------------- by hand
def _net(lines: list[LineString]) -> nw.Network:
    """A network of lines given in metres, as they are (no noding)."""
    return nw.build_network(pd.DataFrame({"road_id": [f"r{i}" for i in range(len(lines))], "walkable": True,
                                          "geom": lines}), crs=None)


def _noded(lines: list[LineString], layers: list[int]) -> list[LineString]:
    """Lines in metres noded by the importer's rule (run in degrees, about 1.1e5 m each, and back)."""
    deg = [shapely.transform(g, lambda c: c / 111_320.0 + np.array([118.0, 24.0])) for g in lines]
    return [shapely.transform(g, lambda c: (c - np.array([118.0, 24.0])) * 111_320.0) for g in node_lines(deg, layers)]


def _pts(*xy: tuple[float, float], prefix: str = "h") -> pd.DataFrame:
    return pd.DataFrame({"hh_id": [f"{prefix}{i}" for i in range(len(xy))], "x_m": [p[0] for p in xy],
                         "y_m": [p[1] for p in xy], "vulnerable": False})


def _stations(*xy: tuple[float, float], radius: float = 500.0) -> pd.DataFrame:
    return pd.DataFrame({"station_id": [f"s{i}" for i in range(len(xy))], "type": "clinic",
                         "x_m": [p[0] for p in xy], "y_m": [p[1] for p in xy], "radius_m": radius})


def test_two_points_on_one_segment_walk_along_it() -> None:
    net = _net([LineString([(0, 0), (1024, 0)])])
    got = nw.walk_nearest(net, _pts((128, 16)), _stations((512, -32)), "clinic")
    assert got["distance_m"].iloc[0] == 16 + 384 + 32


def test_exactly_at_the_radius_is_covered() -> None:
    net = _net([LineString([(0, 0), (1024, 0)])])
    hh, st = _pts((128, 16)), _stations((512, -32))
    assert bool(nw.walk_nearest(net, hh, st, "clinic", 432.0)["covered"].iloc[0])
    assert not bool(nw.walk_nearest(net, hh, st, "clinic", 431.99)["covered"].iloc[0])
    assert bool(nw.walk_nearest(net, hh, _stations((512, -32), radius=432.0), "clinic")["covered"].iloc[0])


def test_a_bridge_overhead_is_no_shortcut() -> None:
    """A household beside a bridge that passes over its street walks round to the bridge's end."""
    ground = LineString([(0, 0), (1000, 0)])
    bridge = LineString([(500, -500), (500, 500)])
    link = LineString([(1000, 0), (1000, 500), (500, 500)])
    lines = _noded([ground, bridge, link], [0, 1, 0])
    assert [len(g.coords) for g in lines] == [2, 2, 3]  # the bridge and the street under it share no vertex
    net = _net(lines)
    hh, st = _pts((503, 2)), _stations((502, 300))
    got = nw.walk_nearest(net, hh, st, "clinic")
    assert got["distance_m"].iloc[0] == pytest.approx(2 + 497 + 500 + 500 + 200 + 2, abs=0.1)
    # Crossing at grade instead (a shared vertex), the same trip is short.
    at_grade = _noded([ground, bridge, link], [0, 0, 0])
    assert [len(g.coords) for g in at_grade] == [3, 3, 3]
    got2 = nw.walk_nearest(_net(at_grade), hh, st, "clinic")
    assert got2["distance_m"].iloc[0] == pytest.approx(2 + 3 + 300 + 2, abs=0.1)


def test_an_unreachable_component_has_no_station_and_no_distance() -> None:
    net = _net([LineString([(0, 0), (100, 0)]), LineString([(0, 500), (100, 500)])])
    got = nw.walk_nearest(net, _pts((50, 490), (50, 10)), _stations((50, -5)), "clinic", 10_000.0)
    assert got["status"].tolist() == ["unreachable", "reached"]
    assert pd.isna(got["station_id"].iloc[0]) and np.isnan(got["distance_m"].iloc[0])
    assert got["covered"].tolist() == [False, True]
    assert got["tier"].tolist() == [0, 5]


def test_a_household_far_from_every_road_is_not_on_the_network() -> None:
    net = _net([LineString([(0, 0), (1000, 0)])])
    hh, st = _pts((500, 400)), _stations((500, -10), radius=5000)
    got = nw.walk_nearest(net, hh, st, "clinic")
    assert got["status"].iloc[0] == "off_network" and not bool(got["covered"].iloc[0])
    assert np.isnan(got["distance_m"].iloc[0])
    assert nw.walk_nearest(net, hh, st, "clinic", max_leg=450)["distance_m"].iloc[0] == pytest.approx(410)
    gaps = cv.station_gaps(hh, st, "clinic", distance="walk", network=net)
    assert gaps["walk_status"].tolist() == ["off_network"]


def test_stations_of_other_radii_cover_where_the_nearest_does_not() -> None:
    net = _net([LineString([(0, 0), (2000, 0)])])
    st = pd.concat([_stations((0, 0), radius=100.0), _stations((1000, 0), radius=900.0).assign(station_id="far")])
    got = nw.walk_nearest(net, _pts((300, 0)), st, "clinic")
    assert got["station_id"].iloc[0] == "s0" and got["distance_m"].iloc[0] == 300
    assert bool(got["covered"].iloc[0])  # by the farther station's larger radius (700 <= 900)


def test_walking_needs_a_network() -> None:
    with pytest.raises(WarmGridError, match="walkable|步行"):
        cv.station_gaps(_pts((0, 0)), _stations((0, 0)), "clinic", distance="walk", network=None)
    with pytest.raises(WarmGridError):
        cv.station_gaps(_pts((0, 0)), _stations((0, 0)), "clinic", distance="fly")


def test_catchment_reaches_exactly_the_radius() -> None:
    net = _net([LineString([(0, 0), (1000, 0)]), LineString([(1000, 0), (1000, 1000)])])
    seg = nw.catchment_segments(net, _stations((900, 10), radius=300.0), "clinic")
    lengths = np.hypot(seg["x1"] - seg["x0"], seg["y1"] - seg["y0"])
    # 290 m left along the street, 100 m to the corner then 190 m up the side street.
    assert lengths.sum() == pytest.approx(290 + 100 + 190)
    assert seg["y1"].max() == pytest.approx(190)


# --------------------------------------------------------------------------- property
@settings(max_examples=40, deadline=None)
@given(hs.integers(min_value=0, max_value=10_000))
def test_walking_is_never_shorter_than_the_straight_line(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lines = [LineString(rng.uniform(0, 1000, (int(rng.integers(2, 5)), 2))) for _ in range(int(rng.integers(2, 12)))]
    net = _net(_noded(lines, [0] * len(lines)))
    hh = _pts(*[tuple(p) for p in rng.uniform(-100, 1100, (20, 2))])
    st = _stations(*[tuple(p) for p in rng.uniform(0, 1000, (3, 2))])
    got = nw.walk_nearest(net, hh, st, "clinic", max_leg=1e9)
    for _, row in got[got["status"] == "reached"].iterrows():
        h = hh.set_index("hh_id").loc[row["hh_id"]]
        s = st.set_index("station_id").loc[row["station_id"]]
        assert row["distance_m"] >= np.hypot(h["x_m"] - s["x_m"], h["y_m"] - s["y_m"]) - 1e-6


def test_joining_in_pieces_on_threads_is_the_brute_force_join(store, walk_inputs, monkeypatch) -> None:
    """Many points are joined in pieces on several threads: every piece's answer lands on its own points."""
    _roads, net, hh, _st = walk_inputs
    rng = np.random.default_rng(5)
    x0, y0 = hh["x_m"].min(), hh["y_m"].min()
    # Households, plus points anywhere in the district (some far from every road: the later stages).
    x = np.concatenate([hh["x_m"].to_numpy()[:1500], x0 + rng.random(500) * (hh["x_m"].max() - x0)])
    y = np.concatenate([hh["y_m"].to_numpy()[:1500], y0 + rng.random(500) * (hh["y_m"].max() - y0)])
    monkeypatch.setattr(nw, "JOIN_CHUNK", 97)  # 21 pieces on the threads
    monkeypatch.setattr(nw, "_workers", lambda: 3)
    got = nw.join_points(net, x, y)
    a, b = net.node_xy[net.edge_u], net.node_xy[net.edge_v]
    _seg, _t, leg = _brute_join(x, y, a, b)
    np.testing.assert_allclose(got.leg, leg, atol=1e-6)
    # The joined point lies on the named edge at the named position, at that leg.
    at = a[got.edge] + got.t[:, None] * (b[got.edge] - a[got.edge])
    np.testing.assert_allclose(np.hypot(at[:, 0] - x, at[:, 1] - y), leg, atol=1e-6)
