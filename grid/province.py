"""A province's coverage, street by street: what one partition computes, and the global pass.

Each street's partition (:mod:`grid.parquet_io`) is analysed alone by the
product's own functions — :func:`grid.coverage.station_gaps` and
:func:`grid.coverage.nearest_stations` by the straight line,
:func:`grid.network.walk_distances` by walking, :func:`grid.coverage.gap_summary`
and :func:`grid.coverage.patrol_cover` per cell — and the figures that need
every cell at once (the Gini coefficient, Getis-Ord Gi*) run afterwards over the
per-cell table (:func:`global_pass`). :mod:`grid.spark_job` runs these on
Apache Spark; nothing here imports pyspark.

Per household and station type (:data:`COVERAGE_COLUMNS`)
    ``covered`` is exactly the whole district's flag. ``nearest_station_id`` and
    ``distance_m`` are exactly the whole district's when ``status`` is
    ``reached``: always by the straight line (the partitions hold every
    household's nearest station), and by walking when the nearest station is
    within the halo; a walking distance beyond ``halo_m`` (or no station
    reachable on the partition's network) leaves them missing, with ``status``
    ``beyond_halo``. ``off_network`` (walking only): the household
    is farther than ``max_leg`` from every walkable road.

Examples
--------
>>> hh = pd.DataFrame({"hh_id": ["a", "b"], "x_m": [0.0, 900.0], "y_m": [0.0, 0.0]})
>>> st = pd.DataFrame({"station_id": ["s"], "type": ["clinic"], "x_m": [100.0], "y_m": [0.0],
...                    "radius_m": [300.0]})
>>> household_coverage(hh, st, ["clinic"], halo_m=500.0)[["hh_id", "covered", "nearest_station_id", "status"]]
  hh_id  covered nearest_station_id       status
0     a     True                  s      reached
1     b    False                NaN  beyond_halo
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from grid import model
from grid.errors import WarmGridError
from grid.network import MAX_LEG_M, Network

__all__ = [
    "COVERAGE_COLUMNS",
    "CELL_COLUMNS",
    "PROVINCE_STATUSES",
    "household_coverage",
    "partition_network",
    "unit_coverage",
    "global_pass",
]

#: The per-household table (``OUT/household_coverage/``), besides ``street_code``.
COVERAGE_COLUMNS = ["hh_id", "station_type", "covered", "nearest_station_id", "distance_m", "status",
                    "cell_id", "community_code", "vulnerable"]
#: The per-unit tables (``OUT/cell_coverage/``, ``OUT/community_coverage/``).
CELL_COLUMNS = ["unit_code", "station_type", "households", "vulnerable", "outside", "vulnerable_outside",
                "share_outside"]
#: ``status`` values: (Chinese, English).
PROVINCE_STATUSES: dict[str, tuple[str, str]] = {
    "reached": ("最近站点在缓冲区内，距离精确", "nearest station within the halo: exact"),
    "beyond_halo": ("缓冲区内无该类站点（最近站点更远或走不到）", "no station of the type within the halo"),
    "off_network": (f"不在路网上（距可步行道路超过 {MAX_LEG_M:.0f} 米）",
                    f"not on the network (over {MAX_LEG_M:.0f} m from a walkable road)"),
}


def partition_network(roads: pd.DataFrame, metric_crs: str) -> Network | None:
    """The walking network of a partition's roads (``None`` when none is walkable)."""
    from grid.network import build_network

    if not len(roads):
        return None
    frame = roads.rename(columns={"geometry": "geom"})
    net = build_network(frame, metric_crs)
    return None if net.empty else net


def household_coverage(households: pd.DataFrame, stations: pd.DataFrame, types: Sequence[str], *,
                       halo_m: float, distance: str = "straight", network: Network | None = None,
                       radius: float | None = None, max_leg: float = MAX_LEG_M,
                       straight_exact: bool = False) -> pd.DataFrame:
    """Coverage of every household by every station type, as one partition sees it.

    Parameters
    ----------
    households : DataFrame
        ``hh_id, x_m, y_m`` (and ``cell_id, community_code, vulnerable`` carried along).
    stations : DataFrame
        The partition's stations, halo included: ``station_id, type, x_m, y_m, radius_m``.
    types : sequence of str
        Every station type of the whole data set (a type with no station in the
        halo still gets its rows: not covered, ``beyond_halo``).
    halo_m : float
        The partition's halo width: distances up to it are exact.
    distance : str
        ``straight`` or ``walk`` (along ``network``; ``None`` means no walkable road near).
    straight_exact : bool
        The partition holds every household's nearest station of each type by the
        straight line (:mod:`grid.parquet_io` exports so): no straight distance is
        then beyond the halo.

    Returns
    -------
    DataFrame
        :data:`COVERAGE_COLUMNS`, types in the order given, households in their order.
    """
    from grid.coverage import nearest_stations, station_gaps
    from grid.network import check_distance, walk_distances

    check_distance(distance)
    for t in types:
        if t not in model.STATION_TYPES:
            raise WarmGridError(f"未知的站点类型：{t}", f"unknown station type: {t}")
    if radius is not None and radius > halo_m:
        raise WarmGridError(f"半径 {radius} 米超过分区缓冲区 {halo_m} 米，结果不能保证精确；请以更大的 --margin 重新导出",
                            f"the radius {radius} m exceeds the partitions' halo of {halo_m} m; re-export with a "
                            "larger --margin")
    n = len(households)
    present = [t for t in types if (stations["type"] == t).any()] if len(stations) else []
    cols: dict[str, list[np.ndarray]] = {c: [] for c in ("covered", "sid", "dist", "status")}
    walk = None
    if distance == "walk" and network is not None and present and n:
        walk = walk_distances(network, households, stations, types=present, radius=radius, max_leg=max_leg)
    elif distance == "straight" and present and n:
        gaps = station_gaps(households, stations, radius=radius)
        near = nearest_stations(households, stations)
    for t in types:
        covered = np.zeros(n, dtype=bool)
        sid = np.full(n, None, dtype=object)
        dist = np.full(n, np.nan)
        status = np.full(n, "beyond_halo", dtype=object)
        if distance == "walk" and network is None:
            status[:] = "off_network"
        elif t in present and n:
            if walk is not None:
                part = walk[walk["type"] == t]
                covered = part["covered"].to_numpy(dtype=bool)
                d = part["distance_m"].to_numpy(dtype=float)
                ids = part["station_id"].astype(object).to_numpy()
                off = part["status"].astype(str).to_numpy() == "off_network"
            else:
                outside = set(gaps.loc[gaps["type"] == t, "hh_id"])
                covered = ~households["hh_id"].isin(outside).to_numpy()
                part = near[near["type"] == t]
                d = part["distance_m"].to_numpy(dtype=float)
                ids = part["station_id"].to_numpy(dtype=object)
                off = np.zeros(n, dtype=bool)
            limit = np.inf if (straight_exact and distance == "straight") else halo_m
            exact = ~off & np.isfinite(d) & (d <= limit)
            sid[exact] = ids[exact]
            dist[exact] = d[exact]
            status[exact] = "reached"
            status[off] = "off_network"
        cols["covered"].append(covered)
        cols["sid"].append(sid)
        cols["dist"].append(dist)
        cols["status"].append(status)
    k = len(types)
    out = pd.DataFrame({
        "hh_id": np.tile(households["hh_id"].to_numpy(dtype=object), k),
        "station_type": np.repeat(np.asarray(list(types), dtype=object), n),
        "covered": np.concatenate(cols["covered"]) if k else np.zeros(0, dtype=bool),
        "nearest_station_id": np.concatenate(cols["sid"]) if k else np.zeros(0, dtype=object),
        "distance_m": np.concatenate(cols["dist"]) if k else np.zeros(0),
        "status": np.concatenate(cols["status"]) if k else np.zeros(0, dtype=object),
    })
    for c, default in (("cell_id", None), ("community_code", None), ("vulnerable", False)):
        vals = households[c].to_numpy() if c in households else np.full(n, default, dtype=object)
        out[c] = np.tile(vals, k)
    out["vulnerable"] = out["vulnerable"].astype(bool)
    return out[COVERAGE_COLUMNS]


def unit_coverage(coverage: pd.DataFrame, by: str, types: Sequence[str]) -> pd.DataFrame:
    """Per cell (``by="cell_id"``) or community, per station type: :func:`grid.coverage.gap_summary`.

    Every unit that holds households gets a row for every type (zeros where none
    is outside). Returns :data:`CELL_COLUMNS` (``unit_code`` is the cell id or
    community code), ordered by unit and type.
    """
    from grid.coverage import gap_summary

    hh = coverage.drop_duplicates("hh_id")[["hh_id", "cell_id", "community_code", "vulnerable"]]
    gaps = coverage.loc[~coverage["covered"].to_numpy(dtype=bool)].rename(columns={"station_type": "type"})
    frames = []
    for t in types:
        g = gaps[gaps["type"] == t]
        if len(g):
            s = gap_summary(hh, g, by=by)
        else:
            totals = hh.groupby(by, dropna=False).agg(households=("hh_id", "size"), vulnerable=("vulnerable", "sum"))
            s = totals.reset_index().assign(type=t, outside=0, vulnerable_outside=0, share_outside=0.0)
        frames.append(s)
    res = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[by, "type"])
    res = res.rename(columns={by: "unit_code", "type": "station_type"})
    res = res[res["unit_code"].notna()]
    for c in ("households", "vulnerable", "outside", "vulnerable_outside"):
        res[c] = res[c].astype(np.int64)
    res["share_outside"] = res["share_outside"].astype(float)
    return res.sort_values(["unit_code", "station_type"]).reset_index(drop=True)[CELL_COLUMNS]


def global_pass(per_cell: pd.DataFrame, cells: Any, *, station_type: str, permutations: int = 999,
                seed: int = 0, fdr: float = 0.10) -> dict[str, Any]:
    """The figures that need every cell at once, from the per-cell table.

    - ``gini``: per station type, :func:`grid.assistance.gini` of the cells'
      ``share_outside`` (cells with households);
    - ``hotspots``: :func:`grid.hotspots.gi_star` of ``share_outside`` of
      ``station_type`` over queen weights of ``cells`` (metric GeoDataFrame).
    """
    from grid.assistance import gini
    from grid.hotspots import CLASSES, cell_values, gi_star, weights

    out: dict[str, Any] = {"gini_share_outside": {}}
    for t, part in per_cell.groupby("station_type", sort=True):
        vals = part.loc[part["households"] > 0, "share_outside"].to_numpy(dtype=float)
        out["gini_share_outside"][str(t)] = float(gini(vals)) if len(vals) else None
    part = per_cell[per_cell["station_type"] == station_type].rename(columns={"unit_code": "cell_id"})
    doc: dict[str, Any] = {"station_type": station_type, "measure": "share_outside", "permutations": permutations,
                           "seed": seed, "fdr": fdr}
    values = cell_values(part, "share_outside", cells["cell_id"]) if len(part) else pd.Series(dtype=float)
    sub = cells[cells["cell_id"].isin(set(values.index))]
    if len(sub) >= 2 and values.sum() > 0 and np.ptp(values.to_numpy()) > 0:
        res = gi_star(values, weights(sub), permutations=permutations, seed=seed, fdr=fdr)
        counts = res["class"].value_counts()
        doc["classes"] = {c: int(counts.get(c, 0)) for c in CLASSES}
        doc["cells"] = res
    else:
        doc["classes"] = None
        doc["note"] = "不足以做热点分析（网格少于两个或数值无差异） · too few cells or no variation for hot spots"
    out["hotspots"] = doc
    return out
