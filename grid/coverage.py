"""Coverage: who is out of a station's reach, which cells lack a warden, how much
of each cell the patrols cover, and which vulnerable households are overdue a
visit. Distances are in metres, in the district's metric projection.

The analytics are functions from frames to frames (no I/O, no UI). The
``load_*`` functions read the frames they need from a :class:`~grid.store.Store`.
Each measure is computed where it measured fastest (see ``bench/coverage.py``):
distances with a k-d tree over metric coordinates read from DuckDB, patrol
cover with shapely; :func:`station_gaps_sql` is the same measure in DuckDB
SQL, kept for checking and benchmarking.

Examples
--------
>>> import pandas as pd
>>> hh = pd.DataFrame({"hh_id": ["a", "b"], "x_m": [0.0, 900.0], "y_m": [0.0, 0.0],
...                    "vulnerable": [True, False], "cell_id": ["c1", "c1"]})
>>> st = pd.DataFrame({"station_id": ["s"], "type": ["clinic"], "x_m": [100.0],
...                    "y_m": [0.0], "radius_m": [300.0]})
>>> station_gaps(hh, st)["hh_id"].tolist()
['b']
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from grid import model
from grid.access import Scope
from grid.crs import WGS84
from grid.errors import WarmGridError
from grid.network import (
    MAX_LEG_M,
    Network,
    attach,
    check_distance,
    default_distance,
    load_network,
    walk_distances,
    walk_nearest,
)
from grid.store import Store
from grid.visits import days_since_visit, last_visit_of, overdue

__all__ = [
    "load_households",
    "load_stations",
    "load_cells",
    "load_patrol_areas",
    "load_last_visits",
    "station_gaps",
    "station_gaps_sql",
    "nearest_stations",
    "DistanceComparison",
    "compare_coverage",
    "coverage_sentence",
    "gap_summary",
    "warden_load",
    "patrol_cover",
    "visit_recency",
    "cell_measures",
    "CELL_MEASURES",
    "coverage_report",
    "Overview",
    "OverviewInputs",
    "overview",
    "overview_inputs",
    "overview_from",
    "load_admin_units",
    "household_reach",
]


# --------------------------------------------------------------------------- loaders
def load_households(store: Store) -> pd.DataFrame:
    """Active households: ``hh_id, cell_id, community_code, x_m, y_m, lon, lat, size, vulnerable``."""
    return store.query_flat(
        "SELECT h.hh_id, h.cell_id, c.community_code, h.x_m, h.y_m,"
        " ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat, h.size,"
        " len(h.categories) > 0 AS vulnerable"
        " FROM households h LEFT JOIN cells c USING (cell_id)"
        " WHERE h.status = 'active' ORDER BY h.hh_id"
    )


def load_stations(store: Store) -> pd.DataFrame:
    """Stations: ``station_id, name, type, x_m, y_m, radius_m, lon, lat``."""
    return store.query_flat(
        "SELECT station_id, name, type, x_m, y_m, radius_m, ST_X(geom) AS lon, ST_Y(geom) AS lat"
        " FROM stations ORDER BY station_id"
    )


def load_cells(store: Store, metric: bool = False) -> gpd.GeoDataFrame:
    """Cells as a GeoDataFrame (WGS84, or the metric CRS when ``metric``)."""
    df = store.query(
        "SELECT c.cell_id, c.name, c.community_code, a.name AS community_name, c.warden_id,"
        " c.area_m2, ST_AsWKB(c.geom) AS wkb FROM cells c"
        " LEFT JOIN admin_units a ON a.code = c.community_code ORDER BY c.cell_id"
    )
    return _to_gdf(df, store.metric_crs() if metric else None)


def load_patrol_areas(store: Store, metric: bool = False) -> gpd.GeoDataFrame:
    """Patrol areas as a GeoDataFrame (WGS84, or metric when ``metric``)."""
    df = store.query(
        "SELECT area_id, team, kind, members, ST_AsWKB(geom) AS wkb FROM patrol_areas ORDER BY area_id"
    )
    return _to_gdf(df, store.metric_crs() if metric else None)


def load_last_visits(store: Store) -> pd.DataFrame:
    """The last visit of each household: ``hh_id, last_visit``."""
    return store.query("SELECT hh_id, max(visited_at) AS last_visit FROM visits GROUP BY hh_id")


def _to_gdf(df: pd.DataFrame, metric_crs: str | None) -> gpd.GeoDataFrame:
    geoms = shapely.from_wkb([bytes(b) for b in df.pop("wkb")]) if len(df) else []
    gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
    return gdf.to_crs(metric_crs) if metric_crs else gdf


# --------------------------------------------------------------------------- stations
def _check_columns(df: pd.DataFrame, name: str, cols: Iterable[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise WarmGridError(f"{name} 缺少列：{missing}", f"{name} lacks columns: {missing}")


def _check_type(station_type: str) -> None:
    if station_type not in model.STATION_TYPES:
        known = ", ".join(model.STATION_TYPES)
        raise WarmGridError(
            f"未知的站点类型：{station_type}（可选：{known}）",
            f"unknown station type: {station_type} (one of: {known})",
        )


def _id_order(ids: pd.Series) -> np.ndarray | None:
    """``None`` when ``ids`` are already in ascending order (as the loaders read them), else the sorting positions.

    Checked with Arrow's vectorised comparison (pandas' ``is_monotonic_increasing`` on a
    million Arrow strings takes 0.13 s, this 0.01 s).

    >>> _id_order(pd.Series(["a", "b", "c"])) is None, _id_order(pd.Series(["b", "a"])).tolist()
    (True, [1, 0])
    """
    if len(ids) < 2:
        return None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(ids)
        ordered = bool(pc.all(pc.less_equal(arr.slice(0, len(arr) - 1), arr.slice(1))).as_py())
    except (TypeError, ValueError, pa.ArrowException):
        ordered = bool(ids.is_monotonic_increasing)
    return None if ordered else np.argsort(ids.to_numpy(), kind="stable")


def _covered(hxy: np.ndarray, htree: cKDTree | None, sxy: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Boolean mask of households within the radius of at least one station.

    Within means ``distance <= radius``: a household exactly at the radius is covered.
    """
    covered = np.zeros(len(hxy), dtype=bool)
    if len(sxy) == 0 or len(hxy) == 0:
        return covered
    distinct = np.unique(radii)
    if len(distinct) <= 8:
        # Few distinct radii: one nearest-station query per radius group.
        for r in distinct:
            tree = cKDTree(sxy[radii == r])
            # cKDTree's bound is strict (it keeps only d < bound): widen it by one ulp so that a
            # household exactly at the radius is found, then decide with <= as everywhere else.
            bound = float(np.nextafter(r, np.inf))
            dist, _ = tree.query(hxy, k=1, distance_upper_bound=bound, workers=-1)
            covered |= dist <= r
        return covered
    # Many radii: ask each station which households it reaches.
    tree = htree if htree is not None else cKDTree(hxy)
    for hits in tree.query_ball_point(sxy, r=radii, workers=-1, return_sorted=False):
        covered[hits] = True
    return covered


def station_gaps(
    households: pd.DataFrame,
    stations: pd.DataFrame,
    station_type: str | None = None,
    radius: float | None = None,
    *,
    distance: str = "straight",
    network: Network | None = None,
    max_leg: float = MAX_LEG_M,
) -> pd.DataFrame:
    """Households outside the service radius of every station of a type.

    Outside means farther than the radius from every station: a household
    exactly at a station's radius is covered.

    Parameters
    ----------
    households : DataFrame
        ``hh_id, x_m, y_m`` and any other columns to carry along
        (``vulnerable``, ``cell_id``, ``community_code``).
    stations : DataFrame
        ``station_id, type, x_m, y_m, radius_m``.
    station_type : str, optional
        One type; by default every type present in ``stations``.
    radius : float, optional
        A radius in metres for every station instead of each station's ``radius_m``.
    distance : str
        ``straight`` (the line between the points) or ``walk`` (along the
        street ``network``: :mod:`grid.network`).
    network : Network, optional
        The street network; required for ``walk``.
    max_leg : float
        ``walk`` only: a household farther than this from every walkable line is
        not on the network: it is listed (never counted as covered) with
        ``walk_status`` ``off_network``.

    Returns
    -------
    DataFrame
        The households' rows with a ``type`` column, one row per household
        and type it is out of reach of, ordered by type and ``hh_id``. A type
        with no station at all leaves every household out of reach. With
        ``walk``, also ``walk_m`` (the walking distance to the nearest station,
        missing if none is reachable) and ``walk_status`` (``reached``,
        ``unreachable`` or ``off_network``).
    """
    if check_distance(distance) == "walk":
        return _walk_gaps(households, stations, station_type, radius, network, max_leg)
    _check_columns(households, "households", ("hh_id", "x_m", "y_m"))
    _check_columns(stations, "stations", ("type", "x_m", "y_m", "radius_m"))
    if radius is not None and not (np.isfinite(radius) and radius > 0):
        raise WarmGridError(f"半径须为正数：{radius}", f"radius must be positive: {radius}")
    if station_type is not None:
        _check_type(station_type)
        types = [station_type]
    else:
        types = [t for t in model.STATION_TYPES if (stations["type"] == t).any()]
    hxy = households[["x_m", "y_m"]].to_numpy(dtype=float)
    # Row positions in hh_id order, so the result needs no sort (sorting ~1M strings costs ~0.5 s).
    order = _id_order(households["hh_id"])
    htree = None
    picks: list[np.ndarray] = []
    types = sorted(types)
    stype = stations["type"].to_numpy()
    sxy_all = stations[["x_m", "y_m"]].to_numpy(dtype=float)
    srad_all = stations["radius_m"].to_numpy(dtype=float)
    for t in types:
        sel = stype == t
        sxy = sxy_all[sel]
        radii = np.full(len(sxy), float(radius)) if radius is not None else srad_all[sel]
        if htree is None and len(np.unique(radii)) > 8:
            htree = cKDTree(hxy)
        mask = ~_covered(hxy, htree, sxy, radii)
        picks.append(np.flatnonzero(mask) if order is None else order[mask[order]])
    if not picks:
        return households.iloc[0:0].assign(type=pd.Series(dtype=object))
    res = households.take(np.concatenate(picks)).reset_index(drop=True)
    res["type"] = pd.Series(types, dtype=stations["type"].dtype).take(
        np.repeat(np.arange(len(types)), [len(p) for p in picks])).reset_index(drop=True)
    return res


def _need_network(network: Network | None) -> Network:
    if network is None or network.empty:
        raise WarmGridError("没有可步行的道路网，无法按步行距离计算；请先导入道路（python -m grid roads import）",
                            "there is no walkable street network to measure walking distance; import roads first "
                            "(python -m grid roads import)")
    return network


def _walk_types(stations: pd.DataFrame, station_type: str | None) -> list[str]:
    if station_type is not None:
        _check_type(station_type)
        return [station_type]
    return sorted(t for t in model.STATION_TYPES if (stations["type"] == t).any())


def _walk_gaps(households: pd.DataFrame, stations: pd.DataFrame, station_type: str | None, radius: float | None,
               network: Network | None, max_leg: float) -> pd.DataFrame:
    net = _need_network(network)
    _check_columns(households, "households", ("hh_id", "x_m", "y_m"))
    _check_columns(stations, "stations", ("type", "x_m", "y_m", "radius_m"))
    if radius is not None and not (np.isfinite(radius) and radius > 0):
        raise WarmGridError(f"半径须为正数：{radius}", f"radius must be positive: {radius}")
    types = _walk_types(stations, station_type)
    if "station_id" not in stations:
        stations = stations.assign(station_id=[f"#{i}" for i in range(len(stations))])
    order = _id_order(households["hh_id"])
    n = len(households)
    if not types:
        return households.iloc[0:0].assign(type=pd.Series(dtype=object), walk_m=pd.Series(dtype=float),
                                           walk_status=pd.Series(dtype=object))
    w = walk_distances(net, households, stations, types=types, radius=radius, max_leg=max_leg)
    covered = w["covered"].to_numpy(dtype=bool)
    picks, rows = [], []
    for k in range(len(types)):
        mask = ~covered[k * n:(k + 1) * n]
        pos = np.flatnonzero(mask) if order is None else order[mask[order]]
        picks.append(pos)
        rows.append(pos + k * n)
    res = households.take(np.concatenate(picks)).reset_index(drop=True)
    res["type"] = pd.Series(types, dtype=object).take(
        np.repeat(np.arange(len(types)), [len(p) for p in picks])).reset_index(drop=True)
    at = np.concatenate(rows)
    res["walk_m"] = w["distance_m"].to_numpy()[at]
    res["walk_status"] = w["status"].to_numpy()[at]
    return res


def station_gaps_sql(store: Store, station_type: str, radius: float | None = None) -> list[str]:
    """The same measure as :func:`station_gaps`, in DuckDB SQL: sorted ``hh_id`` list.

    A LEFT JOIN keeps households with no station in range (an inner bounded
    join would silently drop them); those are the gaps.
    """
    _check_type(station_type)
    rows = store.cursor().execute(
        "SELECT h.hh_id FROM households h LEFT JOIN ("
        "  SELECT x_m, y_m, coalesce(?::DOUBLE, radius_m) AS r FROM stations WHERE type = ?"
        ") s ON h.x_m BETWEEN s.x_m - s.r AND s.x_m + s.r"
        "   AND h.y_m BETWEEN s.y_m - s.r AND s.y_m + s.r"
        "   AND (h.x_m - s.x_m) ^ 2 + (h.y_m - s.y_m) ^ 2 <= s.r ^ 2"
        " WHERE h.status = 'active' GROUP BY h.hh_id HAVING count(s.x_m) = 0 ORDER BY h.hh_id",
        [radius, station_type],
    ).fetchall()
    return [r[0] for r in rows]


def nearest_stations(households: pd.DataFrame, stations: pd.DataFrame, *, distance: str = "straight",
                     network: Network | None = None, max_leg: float = MAX_LEG_M) -> pd.DataFrame:
    """The nearest station of each type for every household.

    With ``distance="walk"`` (and a ``network``), the nearest by walking
    distance (:func:`grid.network.walk_distances`).

    Returns
    -------
    DataFrame
        ``hh_id, type, station_id, distance_m`` (one row per household and
        type present in ``stations``). With ``walk`` also ``status``
        (``reached``, ``unreachable``, ``off_network``) and ``tier`` (life circle:
        5, 10 or 15 minutes, 0 beyond); ``station_id`` and ``distance_m`` are
        missing unless reached.
    """
    if check_distance(distance) == "walk":
        w = walk_distances(_need_network(network), households, stations, max_leg=max_leg)
        return w[["hh_id", "type", "station_id", "distance_m", "status", "tier"]]
    _check_columns(households, "households", ("hh_id", "x_m", "y_m"))
    _check_columns(stations, "stations", ("station_id", "type", "x_m", "y_m"))
    hxy = households[["x_m", "y_m"]].to_numpy(dtype=float)
    n = len(households)
    types = [t for t in model.STATION_TYPES if (stations["type"] == t).any()]
    if not types:
        return pd.DataFrame(columns=["hh_id", "type", "station_id", "distance_m"])
    stype = stations["type"].to_numpy()
    sxy = stations[["x_m", "y_m"]].to_numpy(dtype=float)
    rows: list[np.ndarray] = []
    dists: list[np.ndarray] = []
    for t in types:
        pos = np.flatnonzero(stype == t)
        dist, idx = cKDTree(sxy[pos]).query(hxy, k=1, workers=-1)
        rows.append(pos[idx])
        dists.append(dist)
    # Build each column once from positions: converting 1M strings per type costs more than the queries.
    k = len(types)
    return pd.DataFrame({
        "hh_id": pd.concat([households["hh_id"]] * k, ignore_index=True),
        "type": pd.Series(types, dtype=stations["type"].dtype).take(np.repeat(np.arange(k), n))
        .reset_index(drop=True),
        "station_id": stations["station_id"].take(np.concatenate(rows)).reset_index(drop=True),
        "distance_m": np.concatenate(dists),
    })


def gap_summary(households: pd.DataFrame, gaps: pd.DataFrame, by: str = "cell_id") -> pd.DataFrame:
    """Households and vulnerable households out of reach, per unit and station type.

    Parameters
    ----------
    households : DataFrame
        ``hh_id, vulnerable`` and the ``by`` column.
    gaps : DataFrame
        The result of :func:`station_gaps` (must carry ``by`` and ``vulnerable``).
    by : str
        ``cell_id`` or ``community_code``.

    Returns
    -------
    DataFrame
        ``by, type, households, vulnerable, outside, vulnerable_outside, share_outside``
        for every unit and every type in ``gaps`` (zeros where none is outside).
    """
    if by not in ("cell_id", "community_code"):
        raise WarmGridError(f"不支持的汇总单位：{by}", f"unsupported unit: {by}")
    totals = households.groupby(by, dropna=False).agg(
        households=("hh_id", "size"), vulnerable=("vulnerable", "sum")
    )
    out = gaps.groupby([by, "type"], dropna=False).agg(
        outside=("hh_id", "size"), vulnerable_outside=("vulnerable", "sum")
    )
    types = sorted(gaps["type"].unique())
    full = pd.MultiIndex.from_product([totals.index, types], names=[by, "type"])
    res = out.reindex(full, fill_value=0).join(totals, on=by).reset_index()
    res["vulnerable"] = res["vulnerable"].astype(int)
    res["vulnerable_outside"] = res["vulnerable_outside"].astype(int)
    res["share_outside"] = np.where(res["households"] > 0, res["outside"] / res["households"], 0.0)
    return res[[by, "type", "households", "vulnerable", "outside", "vulnerable_outside", "share_outside"]]


# --------------------------------------------------------------------------- wardens
def warden_load(cells: pd.DataFrame, households: pd.DataFrame, target: int = 400) -> pd.DataFrame:
    """Households per warden against a target, and cells with no warden.

    Parameters
    ----------
    cells : DataFrame
        ``cell_id, warden_id``.
    households : DataFrame
        ``hh_id, cell_id, vulnerable``.
    target : int
        Households one warden should look after (settable; 300–500 is common).

    Returns
    -------
    DataFrame
        One row per warden (``warden_id``), plus one row per cell without a
        warden (``warden_id`` missing): ``warden_id, cells, cell_ids,
        households, vulnerable, load`` where ``load = households / target``.
    """
    if target <= 0:
        raise WarmGridError(f"目标户数须为正数：{target}", f"target must be positive: {target}")
    per_cell = households.groupby("cell_id").agg(households=("hh_id", "size"),
                                                 vulnerable=("vulnerable", "sum"))
    c = cells[["cell_id", "warden_id"]].join(per_cell, on="cell_id").fillna(
        {"households": 0, "vulnerable": 0})
    staffed = c[c["warden_id"].notna()].groupby("warden_id").agg(
        cells=("cell_id", "size"), cell_ids=("cell_id", lambda s: ",".join(sorted(s))),
        households=("households", "sum"), vulnerable=("vulnerable", "sum"),
    ).reset_index()
    bare = c[c["warden_id"].isna()].assign(cells=1, cell_ids=lambda d: d["cell_id"])[
        ["warden_id", "cells", "cell_ids", "households", "vulnerable"]]
    res = pd.concat([staffed, bare], ignore_index=True)
    res["households"] = res["households"].astype(int)
    res["vulnerable"] = res["vulnerable"].astype(int)
    res["load"] = res["households"] / float(target)
    return res


# --------------------------------------------------------------------------- patrols
def patrol_cover(cells: gpd.GeoDataFrame, patrol_areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """Share of each cell's area covered by the union of patrol areas.

    Both frames must be in the same metric CRS.

    Returns
    -------
    DataFrame
        ``cell_id, area_m2, covered_m2, fraction``.
    """
    if cells.crs is None or not cells.crs.is_projected:
        raise WarmGridError("网格须使用米制投影坐标", "cells must be in a metric (projected) CRS")
    if len(patrol_areas) and patrol_areas.crs != cells.crs:
        raise WarmGridError("巡逻区与网格的坐标系不同", "patrol areas and cells differ in CRS")
    geoms = cells.geometry.to_numpy()
    area = shapely.area(geoms)
    covered = np.zeros(len(cells))
    if len(patrol_areas):
        union = shapely.union_all(patrol_areas.geometry.to_numpy())
        tree = shapely.STRtree(geoms)
        hit = tree.query(union, predicate="intersects")
        covered[hit] = shapely.area(shapely.intersection(geoms[hit], union))
    frac = np.where(area > 0, np.minimum(covered / np.where(area > 0, area, 1), 1.0), 0.0)
    return pd.DataFrame({"cell_id": cells["cell_id"].to_numpy(), "area_m2": area,
                         "covered_m2": covered, "fraction": frac})


# --------------------------------------------------------------------------- visits
def visit_recency(
    households: pd.DataFrame, last_visits: pd.DataFrame, days: int, as_of: datetime | date
) -> pd.DataFrame:
    """Vulnerable households not visited within ``days`` days before ``as_of``.

    The rule is :func:`grid.visits.overdue`: visited exactly ``days`` days
    before ``as_of`` is not overdue, one second more is.

    Returns
    -------
    DataFrame
        The vulnerable households' rows with ``last_visit`` (NaT if never) and
        ``days_since`` (NaN if never), overdue ones only, longest first.
    """
    if days < 0:
        raise WarmGridError(f"天数不能为负：{days}", f"days must not be negative: {days}")
    vul = households[households["vulnerable"].astype(bool)]
    res = vul.assign(last_visit=last_visit_of(vul["hh_id"], last_visits))
    res["days_since"] = days_since_visit(res["last_visit"], as_of)
    out = res.loc[overdue(res["days_since"], days)].copy()
    out["_never"] = out["last_visit"].isna()
    out = out.sort_values(["_never", "days_since", "hh_id"], ascending=[False, False, True])
    return out.drop(columns="_never").reset_index(drop=True)


# --------------------------------------------------------------------------- per cell
#: Per-cell measures for maps: column -> (Chinese label, English label, is a share).
CELL_MEASURES: dict[str, tuple[str, str, bool]] = {
    "share_outside": ("服务半径外住户占比", "share of households out of reach", True),
    "vulnerable_outside": ("服务半径外困难户数", "vulnerable households out of reach", False),
    "overdue": ("超期未走访困难户数", "vulnerable households overdue a visit", False),
    "warden_load": ("网格员负荷（户数/目标）", "warden load (households / target)", False),
    "patrol_fraction": ("巡逻覆盖面积占比", "share of area patrolled", True),
    "households": ("住户数", "households", False),
    "vulnerable": ("困难户数", "vulnerable households", False),
}


def cell_measures(
    cells: pd.DataFrame,
    households: pd.DataFrame,
    gaps: pd.DataFrame,
    cover: pd.DataFrame,
    overdue: pd.DataFrame,
    load: pd.DataFrame,
) -> pd.DataFrame:
    """One row per cell with every measure of :data:`CELL_MEASURES`.

    Parameters
    ----------
    cells : DataFrame
        ``cell_id, warden_id``.
    households : DataFrame
        ``hh_id, cell_id, vulnerable``.
    gaps : DataFrame
        :func:`station_gaps` for one station type.
    cover : DataFrame
        :func:`patrol_cover`.
    overdue : DataFrame
        :func:`visit_recency`.
    load : DataFrame
        :func:`warden_load`.
    """
    out = cells[["cell_id", "warden_id"]].copy()
    per = households.groupby("cell_id").agg(households=("hh_id", "size"), vulnerable=("vulnerable", "sum"))
    g = gaps.groupby("cell_id").agg(outside=("hh_id", "size"), vulnerable_outside=("vulnerable", "sum"))
    o = overdue.groupby("cell_id").size().rename("overdue")
    out = out.join(per, on="cell_id").join(g, on="cell_id").join(o, on="cell_id")
    for col in ("households", "vulnerable", "outside", "vulnerable_outside", "overdue"):
        out[col] = out[col].fillna(0).astype(int)
    out["share_outside"] = np.where(out["households"] > 0,
                                    out["outside"] / out["households"].clip(lower=1), 0.0)
    out = out.merge(cover[["cell_id", "fraction"]].rename(columns={"fraction": "patrol_fraction"}),
                    on="cell_id", how="left")
    out["patrol_fraction"] = out["patrol_fraction"].fillna(0.0)
    per_warden = pd.DataFrame({"cell_id": load["cell_ids"].astype(str).str.split(","),
                               "load": np.where(load["warden_id"].notna(), load["load"].astype(float), np.nan)})
    per_warden = per_warden.explode("cell_id").drop_duplicates("cell_id", keep="last")
    out["warden_load"] = out["cell_id"].map(per_warden.set_index("cell_id")["load"])
    return out


# --------------------------------------------------------------------------- straight vs walking
@dataclass
class DistanceComparison:
    """Coverage of one station type by the straight line and by walking, side by side.

    ``covered_walk <= covered_straight`` always (walking is never shorter than
    the straight line), so ``overstated = covered_straight - covered_walk`` are
    the households the straight line counts as covered and walking does not.
    ``off_network`` households are never walking-covered; ``tiers`` counts
    households by the life circle of their nearest station of the type
    (``{5: n, 10: n, 15: n, 0: beyond 15 minutes or none}``, off-network ones left out).
    """

    station_type: str
    households: int
    vulnerable: int
    covered_straight: int
    covered_walk: int
    overstated: int
    overstated_vulnerable: int
    off_network: int
    unreachable: int
    tiers: dict[int, int]
    overstated_households: pd.DataFrame  # rows covered by the straight line only
    walk_gaps: pd.DataFrame  # station_gaps(..., distance="walk") of the type
    straight_gaps: pd.DataFrame  # station_gaps(..., distance="straight") of the type, with walk_m, walk_status

    def as_dict(self) -> dict[str, Any]:
        """The figures (no frames), JSON-ready."""
        return {"type": self.station_type, "households": self.households, "vulnerable": self.vulnerable,
                "covered_straight": self.covered_straight, "covered_walk": self.covered_walk,
                "overstated": self.overstated, "overstated_vulnerable": self.overstated_vulnerable,
                "off_network": self.off_network, "unreachable": self.unreachable,
                "life_circles": {("beyond" if k == 0 else f"{k}min"): v for k, v in self.tiers.items()}}


def compare_coverage(
    households: pd.DataFrame,
    stations: pd.DataFrame,
    station_type: str,
    network: Network,
    *,
    radius: float | None = None,
    max_leg: float = MAX_LEG_M,
    cache: dict[Any, Any] | None = None,
) -> DistanceComparison:
    """Straight-line and walking coverage of one station type (pure; see :class:`DistanceComparison`).

    ``households`` needs ``hh_id, x_m, y_m, vulnerable`` (and may carry the
    ``net_*`` join columns of :func:`grid.network.attach`).

    ``cache``: a dict the caller keeps for exactly these households and stations. How far each
    household is from the nearest station of the type (by the straight line and by walking) does
    not depend on the radius: it is computed once per type and kept there, so that a change of
    radius only compares (about 0.2 s less of each change at 1,000,000 households).
    """
    _check_type(station_type)
    net = _need_network(network)
    _check_columns(households, "households", ("hh_id", "x_m", "y_m"))
    _check_columns(stations, "stations", ("type", "x_m", "y_m", "radius_m"))
    if radius is not None and not (np.isfinite(radius) and radius > 0):
        raise WarmGridError(f"半径须为正数：{radius}", f"radius must be positive: {radius}")
    if "station_id" not in stations:
        stations = stations.assign(station_id=[f"#{i}" for i in range(len(stations))])
    ids = households["hh_id"]
    order = _id_order(ids)

    def in_id_order(mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask) if order is None else order[mask[order]]

    # By the straight line: the same rule as station_gaps, kept as a mask (no id look-ups).
    sel = stations["type"].to_numpy() == station_type
    sxy = stations.loc[sel, ["x_m", "y_m"]].to_numpy(dtype=float)
    radii = np.full(len(sxy), float(radius)) if radius is not None else stations.loc[sel, "radius_m"].to_numpy(float)
    hxy = households[["x_m", "y_m"]].to_numpy(dtype=float)
    if cache is not None and radius is not None and len(sxy) and len(hxy):
        # One radius for all: within it of some station is within it of the nearest one.
        nearest = cache.get(("straight", station_type))
        if nearest is None:
            nearest = cache[("straight", station_type)] = cKDTree(sxy).query(hxy, k=1, workers=-1)[0]
        straight_covered = nearest <= float(radius)
    else:
        straight_covered = _covered(hxy, None, sxy, radii)
    # By walking.
    near = walk_nearest(net, households, stations, station_type, radius, max_leg=max_leg,
                        cache=None if cache is None else cache.setdefault(("walk", station_type), {}))
    covered = near["covered"].to_numpy(dtype=bool)
    distance_m = near["distance_m"].to_numpy()
    # The statuses by their codes: 1,000,000 strings are made only for the rows kept (0.16 s otherwise).
    cats = near["status"].cat.categories
    codes = near["status"].cat.codes.to_numpy()
    labels = np.asarray(cats, dtype=object)
    of_type = pd.Series([station_type], dtype=stations["type"].dtype)
    # Out of straight reach is out of walking reach too: each one carries its walking distance.
    spos = in_id_order(~straight_covered)
    straight = households.take(spos).reset_index(drop=True)
    straight["type"] = of_type.take(np.zeros(len(spos), dtype=np.int64)).reset_index(drop=True)
    straight["walk_m"] = distance_m[spos]
    straight["walk_status"] = labels[codes[spos]]
    pos = in_id_order(~covered)
    walk_gaps = households.take(pos).reset_index(drop=True)
    walk_gaps["type"] = of_type.take(np.zeros(len(pos), dtype=np.int64)).reset_index(drop=True)
    walk_gaps["walk_m"] = distance_m[pos]
    walk_gaps["walk_status"] = labels[codes[pos]]
    over = straight_covered & ~covered
    vul = households["vulnerable"].to_numpy(dtype=bool) if "vulnerable" in households else np.zeros(len(ids), bool)
    on = codes != cats.get_loc("off_network")
    tiers = near["tier"].to_numpy()
    over_pos = in_id_order(over)
    over_rows = households.take(over_pos).reset_index(drop=True)
    over_rows["walk_m"] = distance_m[over_pos]
    over_rows["walk_status"] = labels[codes[over_pos]]
    return DistanceComparison(
        station_type=station_type, households=int(len(ids)), vulnerable=int(vul.sum()),
        covered_straight=int(straight_covered.sum()), covered_walk=int(covered.sum()),
        overstated=int(over.sum()), overstated_vulnerable=int((over & vul).sum()),
        off_network=int((~on).sum()), unreachable=int((codes == cats.get_loc("unreachable")).sum()),
        tiers={k: int(((tiers == k) & on).sum()) for k in (5, 10, 15, 0)},
        overstated_households=over_rows, walk_gaps=walk_gaps, straight_gaps=straight)


def coverage_sentence(c: DistanceComparison | dict[str, Any]) -> str:
    """The two coverage figures in plain words, for a KPI card or a bulletin.

    >>> coverage_sentence({"covered_straight": 41200, "covered_walk": 35900, "overstated": 5300,
    ...                    "overstated_vulnerable": 410, "off_network": 0})
    '按直线半径覆盖 41,200 户；按步行距离实际覆盖 35,900 户（直线高估 5,300 户，其中困难户 410 户）'
    """
    d = c.as_dict() if isinstance(c, DistanceComparison) else c
    text = (f"按直线半径覆盖 {d['covered_straight']:,} 户；按步行距离实际覆盖 {d['covered_walk']:,} 户"
            f"（直线高估 {d['overstated']:,} 户，其中困难户 {d['overstated_vulnerable']:,} 户）")
    if d.get("off_network"):
        text += f"；另有 {d['off_network']:,} 户距可步行道路超过 {MAX_LEG_M:.0f} 米，不在路网上，未计入步行覆盖"
    return text


# --------------------------------------------------------------------------- report
def coverage_report(
    store: Store,
    *,
    scope: Scope,
    radius: float | None = None,
    warden_target: int = 400,
    visit_days: int = 90,
    as_of: datetime | date | None = None,
    distance: str | None = None,
    max_leg: float = MAX_LEG_M,
) -> dict[str, Any]:
    """Every coverage measure as one JSON-ready document.

    Parameters
    ----------
    radius : float, optional
        One radius for every station instead of each station's own.
    warden_target : int
        Households per warden.
    visit_days : int
        A vulnerable household is overdue when not visited for this many days.
    as_of : date, optional
        The day to count from (default: today).
    scope : Scope
        The cells counted (:meth:`~grid.access.Scope.everything` for the whole database).
    distance : str, optional
        ``walk`` or ``straight`` for ``station_gaps``; by default walking where
        the district has a network (:func:`grid.network.default_distance`).
        With a network, each type also carries both figures
        (:meth:`DistanceComparison.as_dict`) under ``straight_vs_walk``.
    max_leg : float
        Households farther than this (m) from every walkable line are not on the network.
    """
    as_of = as_of or datetime.now()
    mode = check_distance(distance) if distance is not None else default_distance(store)
    hh = load_households(store)
    st = load_stations(store)
    cells = load_cells(store, metric=True)
    patrols = load_patrol_areas(store, metric=True)
    if not scope.is_everything:
        hh = scope.restrict(hh).reset_index(drop=True)
        cells = scope.restrict(cells).reset_index(drop=True)
        patrols = patrols[patrols.intersects(cells.union_all())] if len(cells) and len(patrols) else patrols.iloc[0:0]
    net = load_network(store) if mode == "walk" or default_distance(store) == "walk" else None
    if net is not None:
        hh = attach(net, hh)
        st = attach(net, st)
    gaps = station_gaps(hh, st, radius=radius, distance=mode, network=net, max_leg=max_leg)
    types = [t for t in model.STATION_TYPES if (st["type"] == t).any()]
    by_type = []
    for t in model.STATION_TYPES:
        g = gaps[gaps["type"] == t] if t in types else hh
        entry: dict[str, Any] = {
            "type": t, "label": model.STATION_TYPES[t].zh,
            "stations": int((st["type"] == t).sum()),
            "radius_m": radius if radius is not None else model.STATION_TYPES[t].radius_m,
            "households_outside": int(len(g)),
            "vulnerable_outside": int(g["vulnerable"].sum()),
        }
        if net is not None and t in types:
            comp = compare_coverage(hh, st, t, net, radius=radius, max_leg=max_leg)
            entry["straight_vs_walk"] = comp.as_dict()
            entry["sentence"] = coverage_sentence(comp)
        by_type.append(entry)
    per_comm = gap_summary(hh, gaps, by="community_code") if len(gaps) else pd.DataFrame()
    load = warden_load(cells, hh, warden_target)
    cover = patrol_cover(cells, patrols)
    overdue = visit_recency(hh, load_last_visits(store), visit_days, as_of)
    total_area = float(cover["area_m2"].sum())
    network_doc = None
    if net is not None:
        legs = hh["net_leg_m"].to_numpy(dtype=float)
        network_doc = {"nodes": net.n_nodes, "edges": net.n_edges, "length_km": round(net.length_km(), 3),
                       "max_leg_m": max_leg, "households_off_network": int((legs > max_leg).sum()),
                       "stations_off_network": int((st["net_leg_m"].to_numpy(dtype=float) > max_leg).sum())}
    return {
        "as_of": pd.Timestamp(as_of).isoformat(),
        "metric_crs": store.metric_crs(),
        "distance": mode,
        "network": network_doc,
        "households": int(len(hh)),
        "vulnerable_households": int(hh["vulnerable"].sum()),
        "cells": int(len(cells)),
        "stations": int(len(st)),
        "station_gaps": by_type,
        "station_gaps_by_community": per_comm.to_dict(orient="records"),
        "wardens": {
            "target_households": warden_target,
            "wardens": int(load["warden_id"].notna().sum()),
            "cells_without_warden": sorted(cells.loc[cells["warden_id"].isna(), "cell_id"].tolist()),
            "overloaded": int(((load["load"] > 1.0) & load["warden_id"].notna()).sum()),
            "per_warden": load.to_dict(orient="records"),
        },
        "patrol_cover": {
            "fraction_of_area": float(cover["covered_m2"].sum() / total_area) if total_area else 0.0,
            "per_cell": cover.to_dict(orient="records"),
        },
        "visits": {
            "days": visit_days,
            "vulnerable_overdue": int(len(overdue)),
            "vulnerable_never_visited": int(overdue["last_visit"].isna().sum()),
        },
    }


@dataclass
class Overview:
    """What the overview page shows: headline figures and the frames behind the map."""

    kpis: dict[str, Any]
    cells: gpd.GeoDataFrame  # WGS84, with every column of cell_measures
    gaps: pd.DataFrame  # households out of reach of ``station_type``
    stations: pd.DataFrame
    patrols: gpd.GeoDataFrame  # WGS84
    admin: gpd.GeoDataFrame  # WGS84: district, streets, communities
    by_community: pd.DataFrame
    station_type: str
    radius: float | None
    #: ``straight`` or ``walk``: how ``gaps`` and the cell measures were measured.
    distance: str = "straight"
    #: Both figures, when the inputs carry a street network (else ``None``).
    comparison: DistanceComparison | None = None


def load_admin_units(store: Store) -> gpd.GeoDataFrame:
    """Admin units with geometry (WGS84): ``code, name, level, parent_code``."""
    df = store.query(
        "SELECT code, name, level, parent_code, ST_AsWKB(geom) AS wkb FROM admin_units"
        " WHERE geom IS NOT NULL ORDER BY code"
    )
    return _to_gdf(df, None)


@dataclass(frozen=True)
class OverviewInputs:
    """Everything :func:`overview` reads from the store, for the whole district.

    None of it depends on the station type, the radius, the dates or the
    caller's scope, so one copy per data generation can serve every
    recomputation (a change of radius recomputes only the gaps and the cell
    measures). Treat the frames as read-only: they may be shared between threads.
    """

    households: pd.DataFrame
    stations: pd.DataFrame
    cells_m: gpd.GeoDataFrame  # metric (UTM)
    cells_wgs: gpd.GeoDataFrame  # WGS84
    patrols_m: gpd.GeoDataFrame
    patrols_wgs: gpd.GeoDataFrame
    last_visits: pd.DataFrame
    admin: gpd.GeoDataFrame
    #: The street network, when read with ``walking`` and the district has one;
    #: households and stations then carry their join (:data:`grid.network.JOIN_COLUMNS`).
    network: Network | None = None
    #: What :func:`overview_from` computed from these inputs that no station type or radius
    #: changes (by scope, visit period, date and warden target): a change of radius reuses it.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)
    #: Per scope: each household's distance to the nearest station of each type (the ``cache`` of
    #: :func:`compare_coverage`), which no radius changes.
    distances: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)


def overview_inputs(store: Store, *, walking: bool = False, network: Network | None = None) -> OverviewInputs:
    """Read what :func:`overview_from` needs (about 1 s for 1,000,000 households).

    With ``walking`` and walkable roads in the store, also the street network,
    with households and stations joined to it once (about 1–2 s more at
    1,000,000 households), so that every station type and radius can then be
    measured by walking without reading or joining again. ``network`` is that
    network already built from the store's roads (:func:`grid.network.load_network`;
    an app keeps one per data generation); it implies ``walking``.
    """
    hh, st = load_households(store), load_stations(store)
    if network is not None:
        net: Network | None = None if network.empty else network
    else:
        net = load_network(store) if walking and default_distance(store) == "walk" else None
    if net is not None:
        hh, st = attach(net, hh), attach(net, st)
    return OverviewInputs(
        households=hh, stations=st, cells_m=load_cells(store, metric=True),
        cells_wgs=load_cells(store), patrols_m=load_patrol_areas(store, metric=True),
        patrols_wgs=load_patrol_areas(store), last_visits=load_last_visits(store), admin=load_admin_units(store),
        network=net)


def overview(
    store: Store,
    station_type: str = "party_service",
    *,
    scope: Scope,
    radius: float | None = None,
    warden_target: int = 400,
    visit_days: int = 90,
    as_of: datetime | date | None = None,
    distance: str = "straight",
) -> Overview:
    """Compute the overview: KPIs, per-cell measures, gaps for one station type.

    Only the cells of ``scope`` (the caller's, :class:`~grid.access.Scope`) and
    their households are counted — every household for
    :meth:`~grid.access.Scope.everything`, those outside every cell included;
    every station still counts, since a station across a boundary serves
    households on this side. An empty scope gives an empty overview. Reads the
    store once (:func:`overview_inputs`), then :func:`overview_from`.
    """
    _check_type(station_type)
    inputs = overview_inputs(store, walking=check_distance(distance) == "walk")
    return overview_from(inputs, station_type, scope=scope, radius=radius, warden_target=warden_target,
                         visit_days=visit_days, as_of=as_of, distance=distance)


#: How many settled parts an :class:`OverviewInputs` keeps (scopes x visit periods x dates x targets).
_SETTLED_KEPT = 16


#: How many scopes' distances an :class:`OverviewInputs` keeps (each about 24 MB per station type
#: at 1,000,000 households).
_DISTANCES_KEPT = 4
_DISTANCES_LOCK = threading.Lock()


def _distances(inputs: OverviewInputs, scope: Scope) -> dict[Any, Any]:
    """The ``cache`` of :func:`compare_coverage` for the scope's households (:func:`_settled` keeps
    the same rows, in the same order, for one scope key whatever the other settings)."""
    with _DISTANCES_LOCK:  # sessions share the inputs
        got = inputs.distances.get(scope.key)
        if got is None:
            while len(inputs.distances) >= _DISTANCES_KEPT:
                inputs.distances.pop(next(iter(inputs.distances)), None)
            got = inputs.distances[scope.key] = {}
        return got  # type: ignore[no-any-return]


def _settled(inputs: OverviewInputs, scope: Scope, visit_days: int, as_of: datetime | date,
             warden_target: int) -> tuple[Any, ...]:
    """The parts of an overview that neither the station type nor the radius changes: the scoped
    households, cells and patrol areas, the patrol cover, the overdue visits and the wardens' load
    (about 0.6 s at 1,000,000 households), computed once per inputs and settings."""
    key = (scope.key, visit_days, pd.Timestamp(as_of), warden_target)
    got = inputs.memo.get(key)
    if got is not None:
        return got  # type: ignore[no-any-return]
    hh, cells_m, patrols_m = inputs.households, inputs.cells_m, inputs.patrols_m
    if scope.cells is not None:
        hh = hh[hh["cell_id"].isin(scope.cells)].reset_index(drop=True)
        cells_m = cells_m[cells_m["cell_id"].isin(scope.cells)].reset_index(drop=True)
        if len(patrols_m):
            patrols_m = patrols_m[patrols_m.intersects(cells_m.union_all())] if len(cells_m) else patrols_m.iloc[0:0]
    got = (hh, cells_m, patrols_m, patrol_cover(cells_m, patrols_m),
           visit_recency(hh, inputs.last_visits, visit_days, as_of), warden_load(cells_m, hh, warden_target))
    while len(inputs.memo) >= _SETTLED_KEPT:
        inputs.memo.pop(next(iter(inputs.memo)), None)
    inputs.memo[key] = got
    return got


def overview_from(
    inputs: OverviewInputs,
    station_type: str = "party_service",
    *,
    scope: Scope,
    radius: float | None = None,
    warden_target: int = 400,
    visit_days: int = 90,
    as_of: datetime | date | None = None,
    distance: str = "straight",
    max_leg: float = MAX_LEG_M,
) -> Overview:
    """:func:`overview` from inputs already read (no I/O; the inputs are not changed).

    ``distance`` (``straight`` or ``walk``, which needs ``inputs.network``)
    decides how the gaps and the cell measures count. Whenever the inputs carry
    a network, the KPIs carry both figures (``covered_straight``,
    ``covered_walk``, ``overstated``, ``overstated_vulnerable``, ``off_network``,
    ``coverage_sentence``) and :attr:`Overview.comparison` the households behind them,
    and :attr:`Overview.gaps` (either way) each household's walking distance
    ``walk_m`` and ``walk_status`` (:data:`grid.network.STATUSES`).
    """
    _check_type(station_type)
    if check_distance(distance) == "walk":
        _need_network(inputs.network)
    as_of = as_of or datetime.now()
    st = inputs.stations
    cells = scope.cells
    hh, cells_m, patrols_m, cover, overdue, load = _settled(inputs, scope, visit_days, as_of, warden_target)
    comp = None
    if inputs.network is not None and not inputs.network.empty:
        comp = compare_coverage(hh, st, station_type, inputs.network, radius=radius, max_leg=max_leg,
                                cache=_distances(inputs, scope))
        gaps = comp.walk_gaps if distance == "walk" else comp.straight_gaps
    else:
        gaps = station_gaps(hh, st, station_type, radius)
    measures = cell_measures(cells_m, hh, gaps, cover, overdue, load)
    cells_w = inputs.cells_wgs
    cells_w = cells_w[cells_w["cell_id"].isin(cells_m["cell_id"])]
    cells_out = cells_w.merge(measures.drop(columns="warden_id"), on="cell_id", how="left")
    total_area = float(cover["area_m2"].sum())
    comm = gap_summary(hh, gaps, by="community_code") if len(hh) else pd.DataFrame()
    admin = inputs.admin
    if cells is not None:
        comms = set(cells_m["community_code"])
        streets = set(admin.loc[admin["code"].isin(comms), "parent_code"].dropna())
        districts = set(admin.loc[admin["code"].isin(streets), "parent_code"].dropna())
        admin = admin[admin["code"].isin(comms | streets | districts)].reset_index(drop=True)
    if len(comm):
        names = admin.set_index("code")["name"]
        comm.insert(1, "community_name", comm["community_code"].map(names))
    kpis = {
        "households": int(len(hh)),
        "vulnerable": int(hh["vulnerable"].sum()),
        "cells": int(len(cells_out)),
        "cells_without_warden": int(cells_out["warden_id"].isna().sum()),
        "stations": int(len(st)),
        "stations_of_type": int((st["type"] == station_type).sum()),
        "outside": int(len(gaps)),
        "vulnerable_outside": int(gaps["vulnerable"].sum()) if len(gaps) else 0,
        "patrol_fraction": float(cover["covered_m2"].sum() / total_area) if total_area else 0.0,
        "overdue": int(len(overdue)),
        "never_visited": int(overdue["last_visit"].isna().sum()),
        "visit_days": visit_days,
        "as_of": pd.Timestamp(as_of),
        "distance": distance,
    }
    if comp is not None:
        kpis.update({k: comp.as_dict()[k] for k in ("covered_straight", "covered_walk", "overstated",
                                                    "overstated_vulnerable", "off_network")})
        kpis["coverage_sentence"] = coverage_sentence(comp)
    patrols = inputs.patrols_wgs
    patrols = patrols[patrols["area_id"].isin(patrols_m["area_id"])].reset_index(drop=True)
    return Overview(kpis=kpis, cells=cells_out, gaps=gaps, stations=st, patrols=patrols, admin=admin,
                    by_community=comm, station_type=station_type, radius=radius, distance=distance,
                    comparison=comp)


def household_reach(
    households: pd.DataFrame,
    stations: pd.DataFrame,
    station_type: str,
    *,
    distance: str = "straight",
    network: Network | None = None,
    radius: float | None = None,
    max_leg: float = MAX_LEG_M,
) -> pd.DataFrame:
    """The nearest station of one type for each household, and whether it is within reach.

    For a handful of households (a warden's cells): every station of the type
    counts, wherever it is.

    Parameters
    ----------
    households : DataFrame
        ``hh_id, x_m, y_m``.
    stations : DataFrame
        ``station_id, type, x_m, y_m, radius_m``.
    distance : str
        ``straight`` or ``walk`` (along ``network``).
    radius : float, optional
        One radius instead of each station's ``radius_m``.

    Returns
    -------
    DataFrame
        In the households' order: ``hh_id, station_id, distance_m, covered,
        tier, status``. ``tier`` is the life circle (5/10/15 minutes, 0 beyond)
        by walking, and 0 by the straight line (life circles are walking
        distances); ``status`` is one of :data:`grid.network.STATUSES`
        (always ``reached`` by the straight line when a station exists).

    Examples
    --------
    >>> hh = pd.DataFrame({"hh_id": ["a", "b"], "x_m": [0.0, 900.0], "y_m": [0.0, 0.0]})
    >>> st = pd.DataFrame({"station_id": ["s"], "type": ["clinic"], "x_m": [100.0], "y_m": [0.0],
    ...                    "radius_m": [300.0]})
    >>> household_reach(hh, st, "clinic")[["hh_id", "distance_m", "covered"]]
      hh_id  distance_m  covered
    0     a       100.0     True
    1     b       800.0    False
    """
    _check_type(station_type)
    if check_distance(distance) == "walk":
        near = walk_nearest(_need_network(network), households, stations, station_type, radius, max_leg=max_leg)
        return near[["hh_id", "station_id", "distance_m", "covered", "tier", "status"]]
    _check_columns(households, "households", ("hh_id", "x_m", "y_m"))
    _check_columns(stations, "stations", ("station_id", "type", "x_m", "y_m", "radius_m"))
    if radius is not None and not (np.isfinite(radius) and radius > 0):
        raise WarmGridError(f"半径须为正数：{radius}", f"radius must be positive: {radius}")
    sub = stations[stations["type"].to_numpy() == station_type]
    hxy = households[["x_m", "y_m"]].to_numpy(dtype=float)
    n = len(households)
    from grid.network import STATUSES

    if len(sub) and n:
        sxy = sub[["x_m", "y_m"]].to_numpy(dtype=float)
        dist, idx = cKDTree(sxy).query(hxy, k=1, workers=-1)
        radii = np.full(len(sub), float(radius)) if radius is not None else sub["radius_m"].to_numpy(dtype=float)
        covered = _covered(hxy, None, sxy, radii)
        sid = sub["station_id"].to_numpy(dtype=object)[idx]
        status = np.zeros(n, dtype=np.int8)
    else:
        dist, covered = np.full(n, np.nan), np.zeros(n, dtype=bool)
        sid = np.full(n, None, dtype=object)
        status = np.ones(n, dtype=np.int8)
    return pd.DataFrame({"hh_id": households["hh_id"].reset_index(drop=True), "station_id": sid,
                         "distance_m": dist, "covered": covered, "tier": np.zeros(n, dtype=np.int64),
                         "status": pd.Categorical.from_codes(status, categories=list(STATUSES))})
