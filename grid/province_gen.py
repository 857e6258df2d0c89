"""A synthetic province for benchmarks, written straight to the partitioned layout.

The province is many demo districts (:func:`grid.demo.generate`, the demo's own
rules: streets, communities, cells, households in hardship, stations, patrol
areas and the street network), each with its own seed, its own 6-digit county
code (``35CCDD``) and its own place on a grid of districts far enough apart
(more than the halo) that no halo crosses between them. One district is
generated, partitioned (:func:`grid.parquet_io.street_halos`, within the
district: every district has stations of every type, so each household's nearest
station is in its own district) and written at a time, so memory stays that of one district however many households the
province has. ``jobs`` districts can be generated at once, each in a process of its own
(memory: ``jobs`` districts); the files are the same whatever ``jobs`` is.

Examples
--------
>>> district_prefix(0), district_prefix(51)
('350101', '350202')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from grid.errors import WarmGridError

__all__ = ["DISTRICT_HOUSEHOLDS", "district_prefix", "district_frames", "generate_province"]

#: Households per district (the last district takes the rest).
DISTRICT_HOUSEHOLDS = 250_000
_DEMO_PREFIX = "350203"


def district_prefix(i: int) -> str:
    """The 6-digit code (province 35, city, county) of the ``i``-th district (50 counties per city)."""
    return f"35{1 + i // 50:02d}{1 + i % 50:02d}"


def _recode(values: pd.Series, prefix: str) -> pd.Series:
    return values.where(values.isna(), prefix + values.astype(str).str.slice(len(_DEMO_PREFIX)))


def _shift(geoms: Any, dlon: float, dlat: float) -> np.ndarray:
    from grid.roads import round_line

    out = shapely.transform(np.asarray(list(geoms), dtype=object), lambda xy: xy + np.array([dlon, dlat]))
    return np.asarray(out, dtype=object) if not len(out) or out[0].geom_type not in ("LineString",) else \
        np.asarray([round_line(g) for g in out], dtype=object)


def district_frames(d: Any, i: int, offset_m: tuple[float, float], metric_crs: str) -> dict[str, pd.DataFrame]:
    """The layers of one generated district (:class:`grid.demo.DemoDistrict`), moved and re-coded.

    Returns ``households, cells, stations, patrol_areas, roads`` as written by
    :func:`grid.parquet_io.write_streets` (``street_code`` set, ``x_m, y_m`` in
    ``metric_crs``, ``geometry`` in WGS84).
    """
    import pyproj

    from grid.demo import _M_PER_DEG_LAT, _M_PER_DEG_LON
    from grid.parquet_io import NO_STREET, _street_of_points

    prefix = district_prefix(i)
    tag = f"D{i + 1:03d}"
    dlon, dlat = offset_m[0] / _M_PER_DEG_LON, offset_m[1] / _M_PER_DEG_LAT
    to_m = pyproj.Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
    comm = d.communities.assign(code=_recode(d.communities["code"], prefix),
                                parent_code=_recode(d.communities["parent_code"], prefix))
    street_of = dict(zip(comm["code"], comm["parent_code"], strict=True))
    cells = pd.DataFrame({"cell_id": _recode(d.cells["cell_id"], prefix), "name": d.cells["name"],
                          "community_code": _recode(d.cells["community_code"], prefix),
                          "warden_id": (tag + d.cells["warden_id"].astype(str)).where(d.cells["warden_id"].notna(),
                                                                                      None),
                          "geometry": _shift(d.cells["geom"], dlon, dlat)})
    cells["street_code"] = [street_of.get(c, NO_STREET) for c in cells["community_code"]]
    cells["area_m2"] = shapely.area(np.asarray(
        [shapely.transform(g, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
         for g in cells["geometry"]], dtype=object))
    cells = cells.sort_values("cell_id").reset_index(drop=True)
    h = d.households
    lon, lat = h["lon"].to_numpy() + dlon, h["lat"].to_numpy() + dlat
    x, y = to_m.transform(lon, lat)
    hh = pd.DataFrame({"hh_id": tag + h["hh_id"].astype(str), "x_m": np.asarray(x, dtype=float),
                       "y_m": np.asarray(y, dtype=float), "size": h["size"].to_numpy(),
                       "vulnerable": np.asarray([len(c) > 0 for c in h["categories"]], dtype=bool),
                       "geometry": shapely.points(lon, lat)})
    # The cell each household is in: the lowest cell_id whose polygon holds it (the store's rule).
    tree = shapely.STRtree(np.asarray(cells["geometry"].to_numpy(), dtype=object))
    pi, ci = tree.query(np.asarray(hh["geometry"].to_numpy(), dtype=object), predicate="intersects")
    cell_id = np.full(len(hh), None, dtype=object)
    if len(pi):
        order = np.lexsort((ci, pi))  # cells are sorted by id: the first per point is the lowest
        pi, ci = pi[order], ci[order]
        first = np.ones(len(pi), dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        cell_id[pi[first]] = cells["cell_id"].to_numpy(dtype=object)[ci[first]]
    cell_comm = dict(zip(cells["cell_id"], cells["community_code"], strict=True))
    hh["cell_id"] = cell_id
    hh["community_code"] = [cell_comm.get(c) if c is not None else None for c in cell_id]
    hh["street_code"] = [street_of.get(c, NO_STREET) if c is not None else NO_STREET for c in hh["community_code"]]
    hh = hh[["hh_id", "cell_id", "community_code", "x_m", "y_m", "size", "vulnerable", "street_code", "geometry"]]
    s = d.stations
    slon, slat = s["lon"].to_numpy() + dlon, s["lat"].to_numpy() + dlat
    sx, sy = to_m.transform(slon, slat)
    st = pd.DataFrame({"station_id": tag + s["station_id"].astype(str), "name": s["name"], "type": s["type"],
                       "x_m": np.asarray(sx, dtype=float), "y_m": np.asarray(sy, dtype=float),
                       "radius_m": s["radius_m"].to_numpy(dtype=float), "geometry": shapely.points(slon, slat)})
    st["street_code"] = _street_of_points(st, cells)
    st = st.sort_values("station_id").reset_index(drop=True)
    p = d.patrol_areas
    patrols = pd.DataFrame({"area_id": tag + p["area_id"].astype(str), "team": p["team"], "kind": p["kind"],
                            "members": p["members"], "community_code": _recode(p["community_code"], prefix),
                            "geometry": _shift(p["geom"], dlon, dlat)})
    r = d.roads
    roads = pd.DataFrame({"road_id": tag + r["road_id"].astype(str), "kind": r["kind"], "name": r["name"],
                          "walkable": r["walkable"].astype(bool), "layer": r["layer"],
                          "geometry": _shift(r["geom"], dlon, dlat)})
    return {"households": hh, "cells": cells, "stations": st, "patrol_areas": patrols, "roads": roads}


def _district(tmp: Path, i: int, n: int, seed: int, offset_m: tuple[float, float], metric_crs: str,
              halo_m: float) -> dict[str, Any]:
    """Generate, partition and write district ``i`` (``n`` households) into ``tmp``; what it wrote.

    Runs in this process or in a worker of its own: it depends on nothing but its
    arguments, so the files are the same whichever process writes them.
    """
    from grid.demo import DemoConfig, generate
    from grid.parquet_io import LAYERS, station_roads, street_halos, write_streets

    streets_n = min(10, max(2, n // 25_000))
    cfg = DemoConfig(households=n, seed=seed * 1000 + i, streets=streets_n,
                     communities=max(streets_n, min(999, n // 4000)))
    d = generate(cfg)
    f = district_frames(d, i, offset_m, metric_crs)
    del d
    walkable = f["roads"][f["roads"]["walkable"]]
    sroad = station_roads(walkable, f["stations"], metric_crs)
    halos = street_halos(f["households"], f["cells"], f["stations"], f["patrol_areas"], f["roads"],
                         metric_crs=metric_crs, halo_m=halo_m, station_road=sroad)
    written = write_streets(tmp, halos, f["households"], f["cells"], f["stations"], f["patrol_areas"], f["roads"])
    return {"district": i, "households": n, "written": {layer: int(written[layer]) for layer in LAYERS},
            "totals": {layer: len(f[layer]) for layer in LAYERS},
            "streets": sorted(set(f["households"]["street_code"]) | set(f["cells"]["street_code"])),
            "types": sorted(set(f["stations"]["type"])), "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB (``VmHWM``; 0 where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def generate_province(out: str | Path, households: int, *, seed: int = 1, per_district: int = DISTRICT_HOUSEHOLDS,
                      margin_m: float = 500.0, jobs: int = 1,
                      say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write a synthetic province of ``households`` to ``out`` (replaced whole), one district at a time.

    ``jobs`` districts are generated at once, each in a worker process of its own
    that ends after its district (so memory is ``jobs`` districts at most); the
    files are the same for every ``jobs``. Returns what ``_warmgrid.json`` says
    (``source`` ``synthetic``), with ``peak_district_rss_mb``: the largest peak
    memory of a process that generated a district.
    """
    from grid import model
    from grid.network import MAX_LEG_M
    from grid.parquet_io import FORMAT, LAYERS, replace_dir, write_meta

    if households < 100:
        raise WarmGridError("省级合成数据至少 100 户", "a province needs at least 100 households")
    if not 1_000 <= per_district <= 5_000_000:
        raise WarmGridError("每区户数须在 1,000 到 5,000,000 之间", "households per district must be 1,000..5,000,000")
    if not 1 <= jobs <= 64:
        raise WarmGridError("并行进程数须在 1 到 64 之间", "jobs must be 1..64")
    k = max(1, math.ceil(households / per_district))
    sizes = [households // k + (1 if j < households % k else 0) for j in range(k)]
    max_radius = max(t.radius_m for t in model.STATION_TYPES.values())
    halo_m = max(max_radius + margin_m, MAX_LEG_M)
    # Districts on a grid, each far from the next: the demo district spans about 2.9 radii.
    spacing = 2 * 1.6 * 2500.0 * (max(sizes) / 50_000) ** 0.25 + 2 * halo_m
    cols = math.ceil(math.sqrt(k))
    metric_crs = "EPSG:32650"  # UTM 50N: the demo's longitude (118°E) plus the grid's span stays in it
    totals = dict.fromkeys(LAYERS, 0)
    counts = dict.fromkeys(LAYERS, 0)
    streets: list[str] = []
    types: set[str] = set()
    peak = 0.0

    def add(res: dict[str, Any]) -> None:
        nonlocal peak
        for layer in LAYERS:
            counts[layer] += res["written"][layer]
            totals[layer] += res["totals"][layer]
        streets.extend(res["streets"])
        types.update(res["types"])
        peak = max(peak, res["peak_rss_mb"])

    def args(i: int, tmp: Path) -> tuple[Any, ...]:
        return tmp, i, sizes[i], seed, ((i % cols) * spacing, -(i // cols) * spacing), metric_crs, halo_m

    with replace_dir(out) as tmp:
        if jobs == 1 or k == 1:
            for i, n in enumerate(sizes):
                if say:
                    say(f"区 {i + 1}/{k}：生成 {n:,} 户 · district {i + 1}/{k}: generating {n:,} households")
                add(_district(*args(i, tmp)))
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            # "spawn": a clean interpreter per district (no forked threads or inherited memory).
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(jobs, k), mp_context=ctx, max_tasks_per_child=1) as pool:
                futures = {pool.submit(_district, *args(i, tmp)): i for i in range(k)}
                for done, fut in enumerate(as_completed(futures), 1):
                    try:
                        res = fut.result()
                    except Exception as exc:  # a worker's error, or the worker killed (memory)
                        for other in futures:
                            other.cancel()
                        i = futures[fut]
                        raise WarmGridError(f"第 {i + 1} 区生成失败，未写入任何数据：{type(exc).__name__}: {exc}",
                                            f"district {i + 1} failed; nothing was written: "
                                            f"{type(exc).__name__}: {exc}") from exc
                    add(res)
                    if say:
                        say(f"区 {res['district'] + 1}/{k} 已写出 {res['households']:,} 户（{done}/{k}）"
                            f" · district {res['district'] + 1}/{k} written: {res['households']:,} households"
                            f" ({done}/{k})")
        meta = {"metric_crs": metric_crs, "halo_m": halo_m, "max_radius_m": max_radius, "margin_m": margin_m,
                "station_types": sorted(types), "streets": sorted(streets), **totals,
                "walkable_roads": None, "rows_written": counts, "source": "synthetic", "seed": seed,
                "districts": k, "straight_nearest_exact": True}
        write_meta(tmp, meta)
    return {"format": FORMAT, **meta, "peak_district_rss_mb": peak}
