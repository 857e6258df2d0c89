"""Benchmark of the coverage measures against plain geopandas / scipy baselines.

What is measured
----------------
Everything is measured in ONE run, on one demo district (``grid.demo``), each
timing being the best of ``--repeat`` runs with :func:`time.perf_counter`:

1. **Household -> cell assignment.** The product's way is
   :func:`grid.cell_assign.cells_of_xy` (the rule of ``households.cell_id``, used by
   ``Store.refresh_derived`` and by an import's write) on the households' lon/lat and
   the cells' polygons, in memory. Baselines on the same households and cells, in memory:
   ``geopandas.sjoin(points, cells, predicate="within")`` on points already made (making
   them, ``points_from_xy``, is reported apart), and a shapely ``STRtree`` query
   (``predicate="intersects"`` reduced to the lowest cell per household, i.e. the
   product's semantics). Also timed: the DuckDB spatial join on the stored geometries
   (``ST_Intersects`` plus ``min(cell_id)``, :data:`ASSIGN_SQL`, what ``refresh_derived``
   ran before), and ``Store.refresh_derived()`` as a whole (reading, metric coordinates,
   cell areas, the update and the commit). The product, the STRtree, the SQL and the
   stored ``cell_id`` must agree household by household, or the run fails.
2. **Gaps for every station type**, each station's own ``radius_m``:
   :func:`grid.coverage.station_gaps` on the frames of ``load_households`` /
   ``load_stations`` (loads timed separately, and a ratio including them);
   a plain scipy ``cKDTree`` baseline (per type and radius: tree on stations,
   households queried with ``k=1, distance_upper_bound=radius``); and the
   DuckDB SQL version :func:`grid.coverage.station_gaps_sql` for every type.
   The three must give the same households per type, or the run fails.
3. **Nearest station of every type**: :func:`grid.coverage.nearest_stations`
   against plain ``cKDTree`` ``k=1`` queries (distances must agree within
   1e-6 m), and a DuckDB SQL cross join with ``arg_min`` on ``x_m/y_m`` -- run
   on an every-k-th sample of at most 100,000 households (the cross join grows
   as households x stations), compared with cKDTree on the same sample.
4. **Patrol cover**: :func:`grid.coverage.patrol_cover` (no baseline).
5. **Peak memory**: the peak RSS of this process (``ru_maxrss``, and
   ``VmHWM`` on Linux), which also holds every baseline's data; and, unless
   ``--no-step-memory``, the peak RSS of each product step run alone in a
   fresh subprocess (its loads included), plus the whole product pipeline in
   one subprocess. The 2 GB goal is judged on the product subprocesses (2 GB
   taken as 2e9 bytes).

The contenders of each measure run round-robin (product, baseline, product,
...), so a busy spell on a shared machine does not favour one of them.

Goals (issues 7 and 18): gaps within 1.5x of cKDTree, assignment within 1.3x of
geopandas sjoin, nearest station of every type within 1.5x of cKDTree, peak
memory under 2 GB. Missing a goal is reported, not an error: the exit status is
0 unless two ways of computing the same measure disagree (then 1).

Timings on a shared machine are noisy; the load average is printed with the
results. No timing is ever asserted in the unit tests.

How to run
----------
From the repository root::

    python bench/coverage.py                      # 1,000,000 households
    python bench/coverage.py --households 50000 --json bench/out/cov_50k.json
    python bench/coverage.py --db data/mine.duckdb --repeat 5

Without ``--db`` the demo district is built into ``bench/out/demo_{N}.duckdb``
(about 30 s for 1,000,000 households) and reused while its ``warmgrid_meta``
``demo_households`` and ``demo_seed`` match. Note that ``refresh_derived`` is
run (and committed) on the database: it recomputes derived columns in place
and leaves the same values.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_HERE = ROOT / "bench"
# Run as a script, Python puts bench/ first on the path; put the repo root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import duckdb  # noqa: E402
import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402
import shapely  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from bench.demo import ensure_demo  # noqa: E402
from bench.memory import peak_rss_bytes, ru_maxrss_bytes  # noqa: E402
from grid import coverage as cov  # noqa: E402
from grid import model  # noqa: E402
from grid.cell_assign import cells_of_xy  # noqa: E402
from grid.demo import DemoConfig  # noqa: E402
from grid.store import Store, open_store  # noqa: E402

T = TypeVar("T")

#: Household -> cell as a DuckDB spatial join on the stored geometries; on a shared edge the lowest
#: cell_id wins (the statement ``Store.refresh_derived`` ran before ``grid.cell_assign``).
ASSIGN_SQL = (
    "CREATE OR REPLACE TEMP TABLE _hh_cell AS"
    " SELECT h.hh_id, min(c.cell_id) AS cell_id"
    " FROM households h JOIN cells c ON ST_Intersects(c.geom, h.geom)"
    " GROUP BY h.hh_id"
)

#: Nearest station of every type in SQL: a cross join with arg_min on metric coordinates.
NEAREST_SQL = (
    "SELECT h.hh_id, s.type,"
    " arg_min(s.station_id, (h.x_m - s.x_m) ^ 2 + (h.y_m - s.y_m) ^ 2) AS station_id,"
    " sqrt(min((h.x_m - s.x_m) ^ 2 + (h.y_m - s.y_m) ^ 2)) AS distance_m"
    " FROM _bench_sample h CROSS JOIN stations s"
    " GROUP BY h.hh_id, s.type ORDER BY s.type, h.hh_id"
)

#: At most this many households go into the SQL nearest-station cross join.
SQL_NEAREST_SAMPLE = 100_000
#: Goals from the issue: product time / baseline time.
GOAL_GAPS = 1.5
GOAL_ASSIGN = 1.3
GOAL_NEAREST = 1.5
#: Peak memory goal, bytes ("2 GB").
GOAL_MEMORY = 2_000_000_000
#: Distances of product and baseline must agree within this, metres.
DIST_TOL = 1e-6

STEPS = ("import", "assign_sql", "refresh_derived", "gaps", "gaps_sql", "nearest", "patrol", "pipeline")


# --------------------------------------------------------------------------- helpers
def best_of(fn: Callable[[], T], repeat: int, setup: Callable[[], object] | None = None) -> tuple[float, T]:
    """Run ``fn`` ``repeat`` times; return the shortest wall time and the last result.

    ``setup`` runs untimed before each run; garbage is collected untimed too.
    """
    best = float("inf")
    runs = max(1, repeat)
    for i in range(runs):
        if setup is not None:
            setup()
        gc.collect()
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
        if i < runs - 1:
            del value  # free the previous result before the next run
    return best, value


def race(fns: dict[str, Callable[[], Any]], repeat: int,
         setup: dict[str, Callable[[], object]] | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Best time of each function over ``repeat`` rounds, run round-robin.

    Interleaving the contenders spreads the noise of a shared machine over all
    of them instead of penalising whichever ran during a busy spell. Returns
    the best times and the last results, by name.
    """
    best = dict.fromkeys(fns, float("inf"))
    last: dict[str, Any] = {}
    for _ in range(max(1, repeat)):
        for name, fn in fns.items():
            last.pop(name, None)  # free the previous result before the next run
            if setup and name in setup:
                setup[name]()
            gc.collect()
            t0 = time.perf_counter()
            last[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best, last


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


@dataclass
class Row:
    """One line of the results table."""

    step: str
    product_s: float | None
    baseline: str = ""
    baseline_s: float | None = None
    goal: float | None = None
    note: str = ""
    ratio: float | None = field(default=None, init=False)
    result: str = field(default="info", init=False)

    def __post_init__(self) -> None:
        if self.product_s is not None and self.baseline_s:
            self.ratio = self.product_s / self.baseline_s
        if self.goal is not None and self.ratio is not None:
            self.result = "met" if self.ratio <= self.goal else "MISSED"


@dataclass
class Report:
    """Everything the run measured."""

    config: dict[str, Any]
    env: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    gap_counts: list[dict[str, Any]] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str) -> None:
        """Record an agreement check."""
        self.checks.append({"check": name, "ok": bool(ok), "detail": detail})
        print(f"  check {'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c["ok"]]


# --------------------------------------------------------------------------- database
def read_points(store: Store, active_only: bool) -> pd.DataFrame:
    """``hh_id, lon, lat, x_m, y_m`` of households, ordered by ``hh_id`` (for the Python paths)."""
    where = " WHERE status = 'active'" if active_only else ""
    return store.query(
        "SELECT hh_id, ST_X(geom) AS lon, ST_Y(geom) AS lat, x_m, y_m FROM households"
        + where + " ORDER BY hh_id"
    )


def read_cells(store: Store) -> gpd.GeoDataFrame:
    """Cell polygons (WGS84) from their WKB, ordered by ``cell_id``."""
    df = store.query("SELECT cell_id, ST_AsWKB(geom) AS wkb FROM cells ORDER BY cell_id")
    geoms = shapely.from_wkb([bytes(b) for b in df.pop("wkb")])
    return gpd.GeoDataFrame(df, geometry=geoms, crs="EPSG:4326")


# --------------------------------------------------------------------------- 1. assignment
def run_assign_sql(store: Store) -> pd.DataFrame:
    """The product's cell-assignment SQL; returns ``hh_id, cell_id`` and drops the temp table."""
    cur = store.cursor()
    cur.execute(ASSIGN_SQL)
    out = cur.execute("SELECT hh_id, cell_id FROM _hh_cell ORDER BY hh_id").df()
    cur.execute("DROP TABLE _hh_cell")
    return out


def strtree_assign(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Index of the lowest cell each point intersects (cells sorted by id), -1 if none."""
    tree = shapely.STRtree(cells)
    pi, ci = tree.query(points, predicate="intersects")
    out = np.full(len(points), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, pi, ci)
    out[out == np.iinfo(np.int64).max] = -1
    return out


def bench_assignment(store: Store, rep: Report, repeat: int) -> None:
    print("\n[1] household -> cell assignment", flush=True)
    cur = store.cursor()
    t_read, (hh, cells) = best_of(lambda: (read_points(store, active_only=False), read_cells(store)), 1)
    lon, lat = hh["lon"].to_numpy(dtype=float), hh["lat"].to_numpy(dtype=float)
    t_mk, points = best_of(lambda: gpd.GeoDataFrame(
        hh[["hh_id"]], geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"), repeat)
    pts = points.geometry.to_numpy()
    cgeoms = cells.geometry.to_numpy()
    cids = cells["cell_id"].to_numpy(dtype=object)
    tm, res = race({
        "product": lambda: cells_of_xy(lon, lat, cgeoms, cids),
        "sjoin": lambda: gpd.sjoin(points, cells, predicate="within"),
        "strtree": lambda: strtree_assign(pts, cgeoms),
        "sql": lambda: cur.execute(ASSIGN_SQL),
        "refresh": store.refresh_derived,
    }, repeat, setup={"sql": lambda: cur.execute("DROP TABLE IF EXISTS _hh_cell")})
    t_prod, t_sql, t_sjoin, t_str, t_refresh = tm["product"], tm["sql"], tm["sjoin"], tm["strtree"], tm["refresh"]
    joined, idx, by_prod = res["sjoin"], res["strtree"], res["product"]
    cur.execute("DROP TABLE IF EXISTS _hh_cell")
    sql = run_assign_sql(store)

    rep.rows += [
        Row("assign: product cells_of_xy (lon/lat)", t_prod, "geopandas sjoin within", t_sjoin, GOAL_ASSIGN,
            note="sjoin given its points made"),
        Row("assign: shapely STRtree intersects", t_str, "geopandas sjoin within", t_sjoin,
            note="incl. tree build, lowest cell"),
        Row("assign: DuckDB ST_Intersects join", t_sql, "geopandas sjoin within", t_sjoin,
            note="on the stored geometries"),
        Row("assign: Store.refresh_derived() whole", t_refresh, "geopandas sjoin within", t_sjoin,
            note="read, x_m/y_m, area_m2, UPDATE, commit"),
        Row("  sjoin's points_from_xy", t_mk, note="not in sjoin's time"),
        Row("  read lon/lat + cell WKB for Python", t_read, note="untimed in every contender"),
    ]

    # Agreement: product == SQL == STRtree (same semantics) == stored households.cell_id; sjoin reported.
    hh_ids = hh["hh_id"].to_numpy(dtype=object)
    by_sql = pd.Series(sql["cell_id"].to_numpy(dtype=object), index=sql["hh_id"].to_numpy(dtype=object))
    by_sql = by_sql.reindex(hh_ids).fillna("").to_numpy(dtype=object)
    by_str = np.where(idx >= 0, cids[np.maximum(idx, 0)], "").astype(object)
    by_prod = np.where(pd.isna(by_prod), "", by_prod).astype(object)
    stored = store.query("SELECT hh_id, coalesce(cell_id, '') AS c FROM households ORDER BY hh_id")
    n_prod = int((by_prod != by_sql).sum())
    n_str = int((by_sql != by_str).sum())
    n_stored = int((by_prod != stored["c"].to_numpy(dtype=object)).sum())
    rep.check("assignment product == DuckDB SQL", n_prod == 0,
              f"{n_prod} of {len(hh_ids):,} households differ; {int((by_sql == '').sum())} in no cell")
    rep.check("assignment SQL == STRtree intersects", n_str == 0, f"{n_str} differ")
    rep.check("assignment product == stored households.cell_id", n_stored == 0, f"{n_stored} differ")
    first = joined.groupby(level=0)["cell_id"].min().reindex(range(len(hh_ids))).fillna("")
    n_sj = int((first.to_numpy(dtype=object) != by_sql).sum())
    print(f"  info: sjoin 'within' differs from the SQL for {n_sj} households "
          "(points on a cell edge are within no cell)", flush=True)


# --------------------------------------------------------------------------- 2. gaps
def kdtree_gap_counts(hxy: np.ndarray, stations: pd.DataFrame) -> dict[str, np.ndarray]:
    """Plain cKDTree baseline: per type, the mask of households out of every station's reach."""
    out = {}
    for t in model.STATION_TYPES:
        sub = stations[stations["type"] == t]
        if not len(sub):
            continue
        sxy = sub[["x_m", "y_m"]].to_numpy(dtype=float)
        radii = sub["radius_m"].to_numpy(dtype=float)
        covered = np.zeros(len(hxy), dtype=bool)
        for r in np.unique(radii):  # one radius per type in the demo
            d, _ = cKDTree(sxy[radii == r]).query(hxy, k=1, distance_upper_bound=float(r), workers=-1)
            covered |= d <= r
        out[t] = ~covered
    return out


def sql_gaps_all(store: Store, types: list[str]) -> dict[str, list[str]]:
    return {t: cov.station_gaps_sql(store, t) for t in types}


def bench_gaps(store: Store, rep: Report, repeat: int,
               with_sql: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    print("\n[2] gaps for every station type", flush=True)
    t_lh, hh = best_of(lambda: cov.load_households(store), repeat)
    t_ls, st = best_of(lambda: cov.load_stations(store), repeat)
    t_xy, pts = best_of(lambda: read_points(store, active_only=True), 1)
    hxy = pts[["x_m", "y_m"]].to_numpy(dtype=float)
    types = [t for t in model.STATION_TYPES if (st["type"] == t).any()]
    tm, res = race({
        "product": lambda: cov.station_gaps(hh, st),
        "kdtree": lambda: kdtree_gap_counts(hxy, st),
        **({"sql": lambda: sql_gaps_all(store, types)} if with_sql else {}),
    }, repeat)
    t_prod, t_kd, t_sql = tm["product"], tm["kdtree"], tm.get("sql")
    gaps, masks = res["product"], res["kdtree"]
    sql = res.get("sql") or {t: sorted(pts["hh_id"].to_numpy(dtype=object)[masks[t]].tolist()) for t in types}

    t_load = t_lh + t_ls
    rep.rows += [
        Row("gaps: station_gaps (k-d tree + frame)", t_prod, "scipy cKDTree k=1 bound", t_kd, GOAL_GAPS),
        Row("gaps: load_* + station_gaps", t_load + t_prod, "scipy cKDTree k=1 bound", t_kd,
            note=f"load_households {t_lh:.3f} s, load_stations {t_ls:.3f} s"),
        Row("gaps: station_gaps_sql, every type", t_sql, "scipy cKDTree k=1 bound", t_kd,
            note="DuckDB range join" if with_sql else "not run (--no-sql)"),
        Row("  read x_m/y_m for the baseline", t_xy, note="untimed in baseline"),
    ]

    hh_ids = pts["hh_id"].to_numpy(dtype=object)
    same = hh["hh_id"].to_numpy(dtype=object)
    rep.check("load_households order == baseline order", bool(np.array_equal(same, hh_ids)), f"{len(hh_ids):,} rows")
    ok_all = True
    for t in types:
        mine = gaps.loc[gaps["type"] == t, "hh_id"].tolist()
        base = hh_ids[masks[t]].tolist()
        in_sql = sql[t]
        agree = sorted(mine) == sorted(base) == in_sql and mine == in_sql
        ok_all &= agree
        sub = st[st["type"] == t]
        rep.gap_counts.append({
            "type": t, "stations": int(len(sub)), "radius_m": sorted(set(sub["radius_m"].tolist())),
            "product": len(mine), "ckdtree": len(base), "sql": len(in_sql), "agree": agree,
        })
    rep.check("gaps identical (product, cKDTree, SQL) for every type", ok_all,
              f"{len(types)} types, {len(gaps):,} household-type gaps")
    return hh, st, hxy


# --------------------------------------------------------------------------- 3. nearest
def kdtree_nearest(hxy: np.ndarray, stations: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Plain cKDTree baseline: per type, distance to and station_id of the nearest station."""
    out = {}
    for t in model.STATION_TYPES:
        sub = stations[stations["type"] == t]
        if not len(sub):
            continue
        d, i = cKDTree(sub[["x_m", "y_m"]].to_numpy(dtype=float)).query(hxy, k=1, workers=-1)
        out[t] = (d, sub["station_id"].to_numpy(dtype=object)[i])
    return out


def bench_nearest(store: Store, rep: Report, repeat: int, hh: pd.DataFrame, st: pd.DataFrame,
                  hxy: np.ndarray, with_sql: bool = True) -> None:
    print("\n[3] nearest station of every type", flush=True)
    tm, res = race({"product": lambda: cov.nearest_stations(hh, st),
                   "kdtree": lambda: kdtree_nearest(hxy, st)}, repeat)
    t_prod, t_kd = tm["product"], tm["kdtree"]
    near, base = res["product"], res["kdtree"]
    rep.rows.append(Row("nearest: nearest_stations", t_prod, "scipy cKDTree k=1", t_kd, GOAL_NEAREST))

    worst, n_id = 0.0, 0
    for t, (d, sid) in base.items():
        part = near[near["type"] == t]
        if len(part) != len(d):
            worst = float("inf")
            continue
        worst = max(worst, float(np.max(np.abs(part["distance_m"].to_numpy(dtype=float) - d))))
        n_id += int((part["station_id"].to_numpy(dtype=object) != sid).sum())
    rep.check("nearest distances product == cKDTree", worst < DIST_TOL,
              f"max |diff| {worst:.3g} m over {len(near):,} rows; {n_id} station_id differ (ties)")

    if not with_sql:
        return
    # SQL on a sample: the cross join is households x stations.
    n = len(hh)
    step = max(1, -(-n // SQL_NEAREST_SAMPLE))
    cur = store.cursor()
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _bench_sample AS SELECT hh_id, x_m, y_m FROM households"
        " WHERE status = 'active' QUALIFY (row_number() OVER (ORDER BY hh_id) - 1) % ? = 0",
        [step],
    )
    m = int(cur.execute("SELECT count(*) FROM _bench_sample").fetchone()[0])  # type: ignore[index]
    sample = np.arange(0, n, step)
    tm, res = race({"sql": lambda: cur.execute(NEAREST_SQL).df(),
                   "kdtree": lambda: kdtree_nearest(hxy[sample], st)}, repeat)
    cur.execute("DROP TABLE _bench_sample")
    t_sql, t_kds, sql = tm["sql"], tm["kdtree"], res["sql"]
    if step == 1:
        rep.rows.append(Row("nearest: SQL cross join arg_min", t_sql, "scipy cKDTree k=1", t_kds))
    else:
        rep.rows.append(Row("nearest: SQL cross join arg_min, sample", t_sql, "cKDTree, same sample", t_kds,
                            note=f"{m:,} households (every {step}th); all: est. {t_sql * step:.0f} s"))

    worst_sql = 0.0
    hh_s = hh["hh_id"].to_numpy(dtype=object)[sample]
    for t, (d, _) in base.items():
        part = sql[sql["type"] == t]
        if not np.array_equal(part["hh_id"].to_numpy(dtype=object), hh_s):  # both by hh_id
            worst_sql = float("inf")
            continue
        worst_sql = max(worst_sql, float(np.max(np.abs(part["distance_m"].to_numpy(dtype=float) - d[sample]))))
    rep.check("nearest distances SQL == cKDTree (sample)", worst_sql < DIST_TOL,
              f"max |diff| {worst_sql:.3g} m over {len(sql):,} rows")


# --------------------------------------------------------------------------- 4. patrols
def bench_patrol(store: Store, rep: Report, repeat: int) -> None:
    print("\n[4] patrol cover", flush=True)
    t_load, (cells, patrols) = best_of(
        lambda: (cov.load_cells(store, metric=True), cov.load_patrol_areas(store, metric=True)), repeat)
    t_pc, cover = best_of(lambda: cov.patrol_cover(cells, patrols), repeat)
    rep.rows += [
        Row("patrol: patrol_cover", t_pc, note=f"{len(cells):,} cells, {len(patrols):,} patrol areas"),
        Row("  load_cells + load_patrol_areas (metric)", t_load),
    ]
    ok = bool(((cover["fraction"] >= 0) & (cover["fraction"] <= 1)).all())
    rep.check("patrol fractions within [0, 1]", ok, f"{len(cover):,} cells")


# --------------------------------------------------------------------------- 5. memory
def run_step(db: str, step: str) -> dict[str, Any]:
    """Run one product step once in this (fresh) process; report its time and peak RSS."""
    with open_store(db) as store:
        t0 = time.perf_counter()
        if step in ("assign_sql", "pipeline"):
            run_assign_sql(store)
        if step == "refresh_derived":
            store.refresh_derived()
        if step in ("gaps", "nearest", "pipeline"):
            hh, st = cov.load_households(store), cov.load_stations(store)
            if step in ("gaps", "pipeline"):
                cov.station_gaps(hh, st)
            if step in ("nearest", "pipeline"):
                cov.nearest_stations(hh, st)
            del hh, st
        if step == "gaps_sql":
            for t in model.STATION_TYPES:
                cov.station_gaps_sql(store, t)
        if step in ("patrol", "pipeline"):
            cov.patrol_cover(cov.load_cells(store, metric=True), cov.load_patrol_areas(store, metric=True))
        seconds = time.perf_counter() - t0
    return {"step": step, "seconds": seconds, "peak_rss_bytes": peak_rss_bytes()}


def bench_memory(db: str, rep: Report) -> None:
    print("\n[5] peak memory of each product step in a fresh process", flush=True)
    for step in STEPS:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--db", db, "--step", step],
                              capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            rep.check(f"memory step {step} ran", False, f"exit {proc.returncode}")
            continue
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        rep.memory.append(info)
        print(f"  {step:<16} {mib(info['peak_rss_bytes']):>10}  ({info['seconds']:.2f} s)", flush=True)


# --------------------------------------------------------------------------- output
def fmt_s(x: float | None) -> str:
    return "" if x is None else f"{x:.3f}"


def print_report(rep: Report, main_peak: int) -> None:
    c, e = rep.config, rep.env
    print("\n" + "=" * 118)
    print(f"WarmGrid coverage benchmark: {c['households']:,} households, {c['stations']:,} stations, "
          f"{c['cells']:,} cells; best of {c['repeat']}; db {c['db']}")
    print(f"python {e['python']}, duckdb {e['duckdb']}, geopandas {e['geopandas']}, shapely {e['shapely']}, "
          f"scipy {e['scipy']}, pandas {e['pandas']}; {e['cpus']} CPUs; "
          f"load average {e['load_before']} before, {e['load_after']} after")
    print("=" * 118)
    hdr = f"{'step':<42} {'product s':>9}  {'baseline':<25} {'base s':>7} {'ratio':>7} {'goal':>6}  {'result':<6}  note"
    print(hdr)
    print("-" * len(hdr))
    for r in rep.rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}x"
        goal = "" if r.goal is None else f"<={r.goal:g}x"
        res = r.result if r.goal is not None else ("" if r.ratio is None else "info")
        print(f"{r.step:<42} {fmt_s(r.product_s):>9}  {r.baseline:<25} {fmt_s(r.baseline_s):>7} {ratio:>7} "
              f"{goal:>6}  {res:<6}  {r.note}")

    print("\nhouseholds out of reach, per station type (each station's own radius)")
    print(f"  {'type':<15} {'stations':>8} {'radius m':>9} {'product':>9} {'cKDTree':>9} {'SQL':>9}  agree")
    for g in rep.gap_counts:
        radius = "/".join(f"{r:g}" for r in g["radius_m"])
        print(f"  {g['type']:<15} {g['stations']:>8} {radius:>9} {g['product']:>9,} {g['ckdtree']:>9,} "
              f"{g['sql']:>9,}  {'yes' if g['agree'] else 'NO'}")

    print("\npeak memory (RSS)")
    print(f"  this benchmark process (all product and baseline data at once): {mib(main_peak)}"
          f" (ru_maxrss {mib(rep.env['main_ru_maxrss_bytes'])})")
    for m in rep.memory:
        print(f"  product step {m['step']:<16} alone in a fresh process: {mib(m['peak_rss_bytes']):>10}")
    if rep.memory:
        worst = max(m["peak_rss_bytes"] for m in rep.memory)
        verdict = "met" if worst < GOAL_MEMORY else "MISSED"
        print(f"  goal: product peak < 2 GB ({mib(GOAL_MEMORY)}): worst {mib(worst)} -> {verdict}")
    else:
        verdict = "met" if main_peak < GOAL_MEMORY else "MISSED"
        print(f"  goal: peak < 2 GB ({mib(GOAL_MEMORY)}), judged on this process: {verdict}")

    print("\nagreement checks")
    for ch in rep.checks:
        print(f"  {'ok  ' if ch['ok'] else 'FAIL'} {ch['check']}: {ch['detail']}")


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    p.add_argument("--households", type=int, default=1_000_000, help="demo size (default 1,000,000)")
    p.add_argument("--db", help="benchmark this WarmGrid database instead of a demo in bench/out")
    p.add_argument("--seed", type=int, default=DemoConfig().seed, help="demo seed")
    p.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--no-step-memory", action="store_true", help="skip the per-step subprocesses")
    p.add_argument("--no-sql", action="store_true",
                   help="skip the SQL contenders of gaps and nearest (info rows, about 4 minutes at 1,000,000)")
    p.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 if two computations of one measure disagree, else 0."""
    args = parse_args(argv)
    if args.step:  # child process of bench_memory
        if args.step == "import":
            print(json.dumps({"step": "import", "seconds": 0.0, "peak_rss_bytes": peak_rss_bytes()}))
        else:
            print(json.dumps(run_step(args.db, args.step)))
        return 0

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print("preparing the database", flush=True)
    db = str(Path(args.db)) if args.db else str(ensure_demo(args.households, args.seed))
    with open_store(db) as store:
        n_hh = store.count("households")
        if args.db:
            print(f"  using {db} ({n_hh:,} households; --households and --seed ignored)", flush=True)
        rep = Report(
            config={"households": n_hh, "stations": store.count("stations"), "cells": store.count("cells"),
                    "patrol_areas": store.count("patrol_areas"), "db": db, "seed": args.seed,
                    "repeat": args.repeat},
            env={"python": platform.python_version(), "duckdb": duckdb.__version__,
                 "geopandas": gpd.__version__, "shapely": shapely.__version__, "scipy": scipy.__version__,
                 "pandas": pd.__version__, "numpy": np.__version__, "cpus": os.cpu_count(),
                 "load_before": load_before},
        )
        bench_assignment(store, rep, args.repeat)
        hh, st, hxy = bench_gaps(store, rep, args.repeat, with_sql=not args.no_sql)
        bench_nearest(store, rep, args.repeat, hh, st, hxy, with_sql=not args.no_sql)
        del hh, st, hxy
        bench_patrol(store, rep, args.repeat)
    main_peak = peak_rss_bytes()
    rep.env["main_ru_maxrss_bytes"] = ru_maxrss_bytes()
    if not args.no_step_memory:
        bench_memory(db, rep)
    rep.env["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print_report(rep, main_peak)

    if args.json:
        doc = asdict(rep)
        doc["main_process_peak_rss_bytes"] = main_peak
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    if rep.failed:
        names = ", ".join(c["check"] for c in rep.failed)
        print(f"\nERROR: results disagree: {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
