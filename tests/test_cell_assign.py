"""Which cell a household lies in (grid/cell_assign.py), held to two independent computations.

The rule of ``households.cell_id``: the lowest ``cell_id`` among the cells whose polygon the
point intersects (inside or on the boundary), none outside every cell or without a point.
The oracles: shapely's ``STRtree.query(predicate="intersects")`` on point geometries with
Python's ``min`` over the ids, and DuckDB's ``ST_Intersects`` join with ``min(cell_id)``
(what ``Store.refresh_derived`` ran before), on cells that share edges and vertices, overlap,
have holes and come in several parts, with ids listed out of order.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import shapely.affinity
from hypothesis import given, settings
from hypothesis import strategies as st

from grid.cell_assign import cells_of_xy
from grid.store import open_store

COMMUNITY = "350203001001"


def _layout() -> tuple[list[shapely.Geometry], list[str]]:
    """A 4 x 3 grid of unit squares (shared edges and vertices), a square with a hole, a cell in
    two parts, and one overlapping its neighbours; ids deliberately not in the cells' order."""
    polys: list[shapely.Geometry] = [shapely.box(i, j, i + 1, j + 1) for j in range(3) for i in range(4)]
    polys.append(shapely.Polygon([(5, 0), (8, 0), (8, 3), (5, 3)], holes=[[(6, 1), (7, 1), (7, 2), (6, 2)]]))
    polys.append(shapely.MultiPolygon([shapely.box(9, 0, 10, 1), shapely.box(9, 2, 10, 3)]))
    polys.append(shapely.box(1.5, 0.5, 2.5, 1.5))  # overlaps four squares
    n = len(polys)
    order = np.random.default_rng(7).permutation(n)
    ids = [f"{COMMUNITY}{100 + int(k):03d}" for k in order]
    return polys, ids


def _oracle(x: list[float], y: list[float], polys: list[shapely.Geometry], ids: list[str]) -> list[str | None]:
    pts = [None if np.isnan(a) or np.isnan(b) else shapely.Point(a, b) for a, b in zip(x, y, strict=True)]
    tree = shapely.STRtree(polys)
    out: list[str | None] = []
    for p in pts:
        hits = [] if p is None else [ids[int(k)] for k in tree.query(p, predicate="intersects")]
        out.append(min(hits) if hits else None)
    return out


def _special_points() -> tuple[list[float], list[float]]:
    """Vertices, edge midpoints and cell centres of the layout, the hole, the gap between the
    two parts, points outside everything, and missing points."""
    xs, ys = [], []
    for a in np.arange(0, 10.5, 0.5):
        for b in np.arange(0, 3.5, 0.5):
            xs.append(float(a))
            ys.append(float(b))
    xs += [6.5, 9.5, -1.0, 20.0, float("nan"), 3.0, float("nan")]
    ys += [1.5, 1.5, 1.0, 20.0, 1.0, float("nan"), float("nan")]
    return xs, ys


def test_every_lattice_point_gets_the_lowest_cell_it_touches() -> None:
    polys, ids = _layout()
    x, y = _special_points()
    got = cells_of_xy(x, y, polys, ids).tolist()
    assert got == _oracle(x, y, polys, ids)
    # Hand-worked: the corner shared by four squares and the overlapping cell; the hole; the gap.
    at = {(a, b): g for a, b, g in zip(x, y, got, strict=True)}
    four = [ids[k] for k in (1, 2, 5, 6)] + [ids[14]]
    assert at[(2.0, 1.0)] == min(four)
    assert at[(6.5, 1.5)] is None and at[(9.5, 1.5)] is None
    assert at[(6.0, 1.5)] == ids[12]  # on the hole's edge: the boundary belongs to the cell


def test_the_order_of_the_cells_does_not_matter() -> None:
    polys, ids = _layout()
    x, y = _special_points()
    back = cells_of_xy(x, y, polys[::-1], ids[::-1]).tolist()
    assert back == cells_of_xy(x, y, polys, ids).tolist()


def test_no_points_or_no_cells() -> None:
    polys, ids = _layout()
    assert cells_of_xy([], [], polys, ids).tolist() == []
    assert cells_of_xy([0.5], [0.5], [], []).tolist() == [None]
    assert cells_of_xy([0.5, 0.5], [0.5, 0.5], [None, shapely.box(0, 0, 1, 1)], ["a", "b"]).tolist() == ["b", "b"]


def test_points_in_a_cells_box_but_in_no_cell_belong_to_none() -> None:
    """Regression (found by the lattice test below): when every point has candidates (it lies in some
    cell's bounding box) and none lies in a cell -- in a hole, in a concave cell's notch -- the answer
    is None for each, not an IndexError."""
    polys, ids = _layout()
    assert cells_of_xy([6.25], [1.25], polys, ids).tolist() == [None]  # the hole
    assert cells_of_xy([6.5, 9.5], [1.5, 1.5], polys, ids).tolist() == [None, None]  # the hole, the gap
    assert cells_of_xy([6.5, 0.5], [1.5, 0.5], polys, ids).tolist() == [None, _oracle([0.5], [0.5], polys, ids)[0]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-4, 44), st.integers(-4, 16)), min_size=1, max_size=200))
def test_random_points_on_a_quarter_lattice_agree_with_shapely(cells_at: list[tuple[int, int]]) -> None:
    polys, ids = _layout()
    x = [a / 4 for a, _ in cells_at]
    y = [b / 4 for _, b in cells_at]
    assert cells_of_xy(x, y, polys, ids).tolist() == _oracle(x, y, polys, ids)


@pytest.fixture(scope="module")
def district() -> tuple[list[str], list[float], list[float]]:
    """The layout placed near Xiamen (0.001 degree a unit) with 2,000 households, 300 on edges."""
    rng = np.random.default_rng(3)
    x = np.r_[rng.uniform(-0.5, 10.5, 1700), rng.integers(0, 11, 300).astype(float)]
    y = np.r_[rng.uniform(-0.5, 3.5, 1700), rng.uniform(0, 3, 300)]
    return [f"H{i:05d}" for i in range(len(x))], list(118.0 + x / 1000), list(24.4 + y / 1000)


def test_refresh_derived_gives_what_duckdbs_intersects_join_gives(
        district: tuple[list[str], list[float], list[float]]) -> None:
    polys, ids = _layout()
    hh, lon, lat = district
    geo = [shapely.affinity.affine_transform(p, [0.001, 0, 0, 0.001, 118.0, 24.4]) for p in polys]
    with open_store(":memory:") as s:
        cur = s.cursor()
        cur.executemany("INSERT INTO cells (cell_id, name, community_code, geom) VALUES (?, ?, ?, ST_GeomFromWKB(?))",
                        [[c, c, COMMUNITY, shapely.to_wkb(g)] for c, g in zip(ids, geo, strict=True)])
        cur.executemany("INSERT INTO households (hh_id, geom, address, size) VALUES (?, ST_Point(?, ?), 'x', 1)",
                        [[h, a, b] for h, a, b in zip(hh, lon, lat, strict=True)])
        s.refresh_derived()
        stored = dict(cur.execute("SELECT hh_id, cell_id FROM households").fetchall())
        joined = dict(cur.execute("SELECT h.hh_id, min(c.cell_id) FROM households h"
                                  " JOIN cells c ON ST_Intersects(c.geom, h.geom) GROUP BY h.hh_id").fetchall())
    assert {h: stored[h] for h in hh} == {h: joined.get(h) for h in hh}
    assert sum(v is None for v in stored.values()) > 50  # some fall outside, in the hole or the gap
    assert cells_of_xy(lon, lat, geo, ids).tolist() == _oracle(lon, lat, geo, ids) == [stored[h] for h in hh]
