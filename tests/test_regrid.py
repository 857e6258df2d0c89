"""Redrawing cells: the proposal tiles the community exactly (shapely: no gap, no overlap, nothing
outside), every cell is one contiguous polygon within the bounds where the data allow, households
are counted where they lie, kept cells are untouched; the region growing is compared with an
exhaustive search over every contiguous partition of small graphs; the export imports as cells."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import shapely

from grid.regrid import cell_stats, grow_regions, regrid_community

#: A UTM-like origin so that the proposal can be turned into WGS84 and imported.
X0, Y0 = 600_000.0, 2_700_000.0
CRS = "EPSG:32650"


def _community(seed: int = 1) -> tuple[shapely.Polygon, pd.DataFrame, pd.DataFrame]:
    """An L-shaped community: a west cell of 400 households (within bounds) and an east cell of about
    1,300 (too many), households in buildings of 10–60 jittered by a few metres."""
    rng = np.random.default_rng(seed)
    comm = shapely.Polygon([(0, 0), (800, 0), (800, 600), (400, 600), (400, 400), (0, 400)])
    comm = shapely.affinity.translate(comm, X0, Y0)
    west = shapely.intersection(comm, shapely.box(X0, Y0, X0 + 300, Y0 + 600))
    east = shapely.difference(comm, west)
    rows: list[dict[str, object]] = []

    def fill(area: shapely.Geometry, total: int, tag: str) -> None:
        n = 0
        b = 0
        while n < total:
            b0, b1, b2, b3 = (float(v) for v in area.bounds)
            x, y = rng.uniform(b0, b2), rng.uniform(b1, b3)
            if not area.buffer(-15).contains(shapely.Point(x, y)):
                continue
            size = min(int(rng.integers(10, 61)), total - n)
            for k in range(size):
                rows.append({"hh_id": f"{tag}{len(rows):05d}", "x_m": x + rng.uniform(-3, 3),
                             "y_m": y + rng.uniform(-3, 3), "address": f"{tag}路{b}号{k + 1}室"})
            n += size
            b += 1

    fill(west, 400, "W")
    fill(east, 1300, "E")
    cells = pd.DataFrame({"cell_id": ["350203001001001", "350203001001002"], "name": ["西网格", "东网格"],
                          "warden_id": ["P1", "P2"], "geometry": [west, east]})
    return comm, cells, pd.DataFrame(rows)


def _check_tiling(res, comm) -> None:
    geoms = list(res.cells.geometry)
    union = shapely.union_all(geoms)
    assert shapely.symmetric_difference(union, comm).area < 1e-6 * comm.area
    for a, b in itertools.combinations(geoms, 2):
        assert shapely.intersection(a, b).area < 1e-6
    assert all(g.geom_type == "Polygon" for g in geoms)  # contiguous
    assert res.check["exact"]


@pytest.fixture(scope="module")
def case():
    comm, cells, hh = _community()
    return comm, cells, hh, regrid_community(comm, cells, hh, code="350203001001", name="滨海社区")


def test_the_proposal_tiles_the_community_and_respects_the_bounds(case) -> None:
    comm, cells, hh, res = case
    _check_tiling(res, comm)
    # Households counted again by shapely, where they lie.
    pts = shapely.points(hh["x_m"], hh["y_m"])
    counts = [int(shapely.contains(g, pts).sum()) for g in res.cells.geometry]
    assert counts == res.cells["households"].tolist()
    assert sum(counts) == len(hh)
    assert ((res.cells["households"] >= 300) & (res.cells["households"] <= 500)).all()
    assert res.after["out_of_bounds"] == 0 and res.before["out_of_bounds"] == 1


def test_cells_within_bounds_are_kept_and_the_rest_get_new_ids_and_wardens(case) -> None:
    _comm, cells, _hh, res = case
    kept = res.cells[res.cells["status"] == "kept"]
    assert kept["cell_id"].tolist() == ["350203001001001"]
    assert shapely.equals(kept.geometry.iloc[0], cells["geometry"].iloc[0])
    new = res.cells[res.cells["status"] == "new"]
    assert len(new) == 3  # 1,300 households: three cells of about 433
    assert new["cell_id"].tolist() == ["350203001001003", "350203001001004", "350203001001005"]
    assert (new["warden_id"] == "P2").all() and res.replaced == ["350203001001002"]
    assert all(c.startswith("350203001001") for c in res.cells["cell_id"])
    doc = json.loads(json.dumps(res.as_dict(), default=str))
    assert [c["households"] for c in doc["cells"]] == res.cells["households"].tolist()


def test_redrawing_everything_and_tighter_bounds(case) -> None:
    comm, cells, hh, _res = case
    res = regrid_community(comm, cells, hh, code="350203001001", min_hh=200, max_hh=300, keep_in_bounds=False)
    _check_tiling(res, comm)
    assert (res.cells["status"] == "new").all() and len(res.cells) >= 6
    assert ((res.cells["households"] >= 200) & (res.cells["households"] <= 300)).all()


def test_a_building_larger_than_the_maximum_is_reported_not_hidden() -> None:
    comm = shapely.box(0, 0, 100, 100)
    hh = pd.DataFrame({"hh_id": [f"H{i}" for i in range(700)], "x_m": 50.0, "y_m": 50.0,
                       "address": [f"塔楼1号{i}室" for i in range(700)]})
    cells = pd.DataFrame({"cell_id": ["350203001001001"], "name": ["一格"], "warden_id": [None],
                          "geometry": [comm]})
    res = regrid_community(comm, cells, hh, code="350203001001")
    assert res.after["over_max"] == 1 and any("超过 500 户" in n for n in res.notes)
    _check_tiling(res, comm)


def test_the_export_imports_as_cells(case, tmp_path) -> None:
    from grid.export import export_frame
    from grid.ingest import validate
    from grid.network_plan import regrid_export_frame
    from grid.sources import read_source

    _comm, _cells, _hh, res = case
    res.cells = res.cells.set_crs(CRS, allow_override=True)
    out = tmp_path / "方案.geojson"
    export_frame(regrid_export_frame(res), out, geometry="geometry")
    prep = validate(read_source(out), "cells")
    assert not prep.problems
    assert sorted(prep.frame["cell_id"]) == sorted(res.cells["cell_id"])


# --------------------------------------------------------------------------- against exhaustive search
def _partitions(items: list[int]):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        for i in range(len(part)):
            yield part[:i] + [[first] + part[i]] + part[i + 1:]
        yield [[first]] + part


def _connected(block: list[int], nbrs: list[list[int]]) -> bool:
    seen, todo = {block[0]}, [block[0]]
    while todo:
        u = todo.pop()
        for v in nbrs[u]:
            if v in block and v not in seen:
                seen.add(v)
                todo.append(v)
    return len(seen) == len(block)


def _grid(nr: int, nc: int) -> tuple[list[list[int]], np.ndarray]:
    nbrs: list[list[int]] = [[] for _ in range(nr * nc)]
    for r in range(nr):
        for c in range(nc):
            u = r * nc + c
            if c + 1 < nc:
                nbrs[u].append(u + 1)
                nbrs[u + 1].append(u)
            if r + 1 < nr:
                nbrs[u].append(u + nc)
                nbrs[u + nc].append(u)
    xy = np.array([(c, r) for r in range(nr) for c in range(nc)], dtype=float)
    return nbrs, xy


@pytest.mark.parametrize("seed", range(6))
def test_region_growing_finds_a_partition_within_bounds_whenever_one_exists(seed: int) -> None:
    """On 3 x 3 grids of units, exhaustive search over every contiguous partition (21,147 set
    partitions) gives the most regions within bounds (max-p); the heuristic finds a partition
    within bounds whenever one exists, with at most one region fewer than the maximum."""
    rng = np.random.default_rng(seed)
    nbrs, xy = _grid(3, 3)
    w = rng.integers(40, 160, 9).astype(float)
    lo, hi = 250.0, 400.0
    best = 0
    for part in _partitions(list(range(9))):
        if all(lo <= w[b].sum() <= hi and _connected(b, nbrs) for b in part):
            best = max(best, len(part))
    labels = grow_regions(w, nbrs, xy, lo, hi)
    regions = [np.flatnonzero(labels == r).tolist() for r in range(labels.max() + 1)]
    assert all(_connected(b, nbrs) for b in regions)
    sums = [w[b].sum() for b in regions]
    if best:
        assert all(lo <= s <= hi for s in sums)
        assert len(regions) >= best - 1
    assert cell_stats(sums, lo, hi)["cells"] == len(regions)


def test_the_command_line_writes_an_importable_proposal(district_file, tmp_path, capsys) -> None:
    from grid.cli import main
    from grid.ingest import validate
    from grid.sources import read_source
    from grid.store import open_store

    path = district_file[0]
    with open_store(path, read_only=True) as s:
        code = str(s.scalar("SELECT community_code FROM cells ORDER BY community_code LIMIT 1"))
        n = int(s.scalar("SELECT count(*) FROM households h JOIN cells c USING (cell_id)"
                         " WHERE h.status = 'active' AND c.community_code = ?", [code]))
    out = tmp_path / "regrid.geojson"
    assert main(["regrid", "--db", str(path), "--community", code, "--min", "100", "--max", "200", "--out", str(out),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sum(c["households"] for c in doc["cells"]) == n
    assert doc["check"]["exact"] and doc["after"]["cells"] == len(doc["cells"])
    prep = validate(read_source(out), "cells")
    assert not prep.problems and len(prep.frame) == len(doc["cells"])
    assert main(["regrid", "--db", str(path), "--community", "999999999999", "--out", str(out)]) == 1
