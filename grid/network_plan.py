"""Planning the service network from the store: the inputs of siting (:mod:`grid.siting`),
E2SFCA (:mod:`grid.e2sfca`) and redrawing cells (:mod:`grid.regrid`) read once for a scope,
and the documents the command line prints and the planning page shows.

Every function takes the caller's :class:`~grid.access.Actor` and asks the access policy
(``plan_network`` over the scope) before reading anything. Nothing here writes to the
database: a proposal is a file to review and, once accepted, import.

Examples
--------
>>> from grid.access import Actor, Scope, allowed
>>> allowed(Actor("c", "committee", Scope.of_cells({"c1"})), "plan_network", Scope.of_cells({"c1"}))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from grid import access, model
from grid.access import Actor, Scope
from grid.errors import WarmGridError
from grid.network import MAX_LEG_M, Network, attach, check_distance, default_distance, load_network
from grid.store import Store

__all__ = ["PlanningInputs", "planning_inputs", "candidates_for", "cli_site", "cli_lscp", "cli_access", "cli_regrid",
           "regrid_for", "scope_area", "regrid_export_frame", "proposal_export_frame", "communities_in_scope", "access_for"]


@dataclass(frozen=True)
class PlanningInputs:
    """Households of a scope (with address), every station, cells and the network (joined when walking)."""

    households: pd.DataFrame
    stations: pd.DataFrame
    distance: str
    network: Network | None
    metric_crs: str
    extent: tuple[float, float, float, float] | None


def _extent(store: Store) -> tuple[float, float, float, float] | None:
    row = store.query("SELECT min(ST_XMin(geom)) AS a, min(ST_YMin(geom)) AS b, max(ST_XMax(geom)) AS c,"
                      " max(ST_YMax(geom)) AS d FROM admin_units WHERE geom IS NOT NULL")
    if not len(row) or pd.isna(row["a"].iloc[0]):
        return None
    pad = 0.02
    r = row.iloc[0]
    return (float(r["a"]) - pad, float(r["b"]) - pad, float(r["c"]) + pad, float(r["d"]) + pad)


def planning_inputs(store: Store, actor: Actor, *, distance: str | None = None,
                    network: Network | None = None) -> PlanningInputs:
    """Read what planning needs for ``actor``'s scope (asks ``plan_network``).

    ``distance`` defaults to walking where the district has a street network;
    ``network`` is one already built (the app keeps one per data generation).
    """
    access.ensure(actor, "plan_network", actor.scope if actor.scope else None, log=store)
    mode = check_distance(distance) if distance is not None else default_distance(network if network else store)
    hh = store.query_flat(
        "SELECT h.hh_id, h.cell_id, c.community_code, h.address, h.x_m, h.y_m, ST_X(h.geom) AS lon,"
        " ST_Y(h.geom) AS lat, len(h.categories) > 0 AS vulnerable"
        " FROM households h LEFT JOIN cells c USING (cell_id) WHERE h.status = 'active' ORDER BY h.hh_id")
    hh = actor.scope.restrict(hh) if not actor.scope.is_everything else hh
    hh = hh.reset_index(drop=True)
    st = store.query_flat(
        "SELECT station_id, name, type, x_m, y_m, radius_m, CAST(capacity AS DOUBLE) AS capacity,"
        " ST_X(geom) AS lon, ST_Y(geom) AS lat FROM stations ORDER BY station_id")
    net = None
    if mode == "walk":
        net = network if network is not None else load_network(store)
        if net.empty:
            raise WarmGridError("数据库中没有可步行的道路，无法按步行距离计算；请先导入道路或改用直线距离",
                                "the database has no walkable road: import roads first, or use the straight line")
        hh, st = attach(net, hh), attach(net, st)
    return PlanningInputs(hh, st, mode, net, store.metric_crs(), _extent(store))


def scope_area(store: Store, scope: Scope, metric_crs: str) -> Any:
    """The union of the scope's cells (metric): where generated lattice candidates may lie."""
    from grid.coverage import load_cells

    cells = load_cells(store, metric=True)
    if not scope.is_everything:
        cells = cells[cells["cell_id"].isin(list(scope.cells or ()))]
    del metric_crs
    return cells.union_all() if len(cells) else None


def candidates_for(store: Store, actor: Actor, inputs: PlanningInputs, *, path: str | Path | None = None,
                   generate: str = "buildings", crs: str = "wgs84", limit: int = 2000) -> Any:
    """The candidates: from ``path`` when given (:func:`grid.siting.read_candidates`), else generated
    (``buildings`` or ``lattice``) inside the actor's scope."""
    from grid import siting

    if path is not None:
        return siting.read_candidates(path, crs=crs, metric_crs=inputs.metric_crs, extent=inputs.extent)
    if generate == "buildings":
        return siting.building_candidates(inputs.households, limit=limit)
    if generate == "lattice":
        return siting.lattice_candidates(scope_area(store, actor.scope, inputs.metric_crs), inputs.metric_crs,
                                         limit=limit)
    raise WarmGridError(f"候选点生成方式须为 buildings 或 lattice：{generate}",
                        f"candidates are generated from buildings or a lattice: {generate}")


def cli_site(store: Store, actor: Actor, station_type: str, k: int, *, radius: float | None = None,
             distance: str | None = None, weight: str = "vulnerable", candidates: str | None = None,
             generate: str = "buildings", crs: str = "wgs84", limit: int = 2000, capacity: float | None = None,
             solver: str = "SCIP", time_limit: float = 120.0, curve: bool = False,
             max_leg: float = MAX_LEG_M) -> dict[str, Any]:
    """``python -m grid site``: the siting document (:meth:`grid.siting.SitingResult.as_dict`)."""
    from grid import siting

    inputs = planning_inputs(store, actor, distance=distance)
    cands = candidates_for(store, actor, inputs, path=candidates, generate=generate, crs=crs, limit=limit)
    res = siting.site(inputs.households, inputs.stations, cands, station_type, k=k, radius=radius,
                      distance=inputs.distance, network=inputs.network, weight=weight, capacity=capacity,
                      solver=solver, time_limit=time_limit, curve=curve, max_leg=max_leg)
    return res.as_dict()


def cli_lscp(store: Store, actor: Actor, station_type: str, *, radius: float | None = None,
             distance: str | None = None, candidates: str | None = None, generate: str = "buildings",
             crs: str = "wgs84", limit: int = 2000, solver: str = "SCIP", time_limit: float = 120.0,
             max_leg: float = MAX_LEG_M) -> dict[str, Any]:
    """``python -m grid site --cover-all``: the fewest new stations to reach every vulnerable household."""
    from grid import siting

    inputs = planning_inputs(store, actor, distance=distance)
    cands = candidates_for(store, actor, inputs, path=candidates, generate=generate, crs=crs, limit=limit)
    doc = siting.lscp(inputs.households, inputs.stations, cands, station_type, radius=radius,
                      distance=inputs.distance, network=inputs.network, solver=solver, time_limit=time_limit,
                      max_leg=max_leg)
    doc["candidates"] = {"source": cands.source, "count": int(len(cands.frame)), "label": cands.label}
    return doc


def access_for(inputs: PlanningInputs, station_type: str, *, supply: str = "capacity") -> pd.DataFrame:
    """E2SFCA per cell of the inputs' households (:func:`grid.e2sfca.cell_access`)."""
    from grid.e2sfca import cell_access

    return cell_access(inputs.households, inputs.stations, station_type, supply=supply, distance=inputs.distance,
                       network=inputs.network)


def cli_access(store: Store, actor: Actor, station_type: str, *, distance: str | None = None,
               supply: str = "capacity") -> dict[str, Any]:
    """``python -m grid access2sfca``: E2SFCA per cell, scarcest first."""
    from grid.e2sfca import BANDS

    inputs = planning_inputs(store, actor, distance=distance)
    cells = access_for(inputs, station_type, supply=supply)
    return {"station_type": station_type, "distance": inputs.distance, "supply": supply,
            "bands": [{"upto_m": u, "weight": w} for u, w in BANDS],
            "cells": cells.to_dict(orient="records")}


# --------------------------------------------------------------------------- regrid
def communities_in_scope(store: Store, scope: Scope) -> pd.DataFrame:
    """The communities holding cells of ``scope``: ``code, name, label``."""
    df = store.query("SELECT DISTINCT a.code, a.name FROM admin_units a JOIN cells c ON c.community_code = a.code"
                     " WHERE a.level = 'community' ORDER BY a.code")
    if not scope.is_everything:
        cells = store.query("SELECT cell_id, community_code FROM cells")
        ok = set(cells.loc[cells["cell_id"].isin(list(scope.cells or ())), "community_code"])
        df = df[df["code"].isin(ok)]
    df = df.reset_index(drop=True)
    df["label"] = df["name"] + "（" + df["code"] + "）"
    return df


def regrid_for(store: Store, actor: Actor, community: str, *, min_hh: int = 300, max_hh: int = 500,
               keep_in_bounds: bool = True) -> Any:
    """:func:`grid.regrid.regrid_community` for one community of the actor's scope (asks ``plan_network``)."""
    import shapely

    from grid.coverage import load_cells
    from grid.crs import WGS84
    from grid.regrid import regrid_community

    cells_all = load_cells(store, metric=True)
    cells = cells_all[cells_all["community_code"] == community].reset_index(drop=True)
    if not len(cells):
        raise WarmGridError(f"没有这个社区或该社区没有网格：{community}", f"no such community, or it has no cells: {community}")
    access.ensure(actor, "plan_network", Scope.of_cells(cells["cell_id"]), log=store)
    row = store.query("SELECT name, ST_AsWKB(geom) AS wkb FROM admin_units WHERE code = ? AND level = 'community'",
                      [community])
    import geopandas as gpd

    if len(row) and row["wkb"].iloc[0] is not None:
        geom = gpd.GeoSeries(shapely.from_wkb([bytes(row["wkb"].iloc[0])]), crs=WGS84).to_crs(store.metric_crs()).iloc[0]
        name = str(row["name"].iloc[0])
    else:  # no boundary stored: the union of its cells is the community
        geom = cells.union_all()
        name = community
    hh = store.query_flat(
        "SELECT h.hh_id, h.address, h.x_m, h.y_m FROM households h JOIN cells c USING (cell_id)"
        " WHERE h.status = 'active' AND c.community_code = ? ORDER BY h.hh_id", [community])
    res = regrid_community(geom, cells, hh, code=community, name=name, min_hh=min_hh, max_hh=max_hh,
                           keep_in_bounds=keep_in_bounds)
    res.cells = res.cells.set_crs(store.metric_crs(), allow_override=True)
    return res


def regrid_export_frame(res: Any) -> pd.DataFrame:
    """A proposal as the cell importer reads it (WGS84 ``geometry``): 网格编码, 网格名称, 社区代码, 网格员编号
    and, for review, 户数 and 状态 (保留/新划)."""
    from grid.crs import WGS84

    g = res.cells.to_crs(WGS84)
    return pd.DataFrame({"网格编码": g["cell_id"].astype(str), "网格名称": g["name"].astype(str),
                         "社区代码": g["community_code"].astype(str), "网格员编号": g["warden_id"],
                         "户数": g["households"].astype(int),
                         "状态": g["status"].map({"kept": "保留", "new": "新划"}), "geometry": g.geometry.to_numpy()})


def cli_regrid(store: Store, actor: Actor, community: str, out: str | Path | None, *, min_hh: int = 300,
               max_hh: int = 500, keep_in_bounds: bool = True) -> dict[str, Any]:
    """``python -m grid regrid``: the proposal as JSON, and as a cell file at ``out`` (GeoJSON etc.)."""
    from grid.export import export_frame

    res = regrid_for(store, actor, community, min_hh=min_hh, max_hh=max_hh, keep_in_bounds=keep_in_bounds)
    doc = res.as_dict()
    if out is not None:
        export_frame(regrid_export_frame(res), out, geometry="geometry")
        doc["out"] = str(out)
    return doc


def proposal_export_frame(res: Any) -> pd.DataFrame:
    """Proposed sites as the station importer reads them (站点编号, 站点名称, 站点类型, 服务半径, 经度, 纬度),
    with 排序 and 新增覆盖 for review."""
    p = res.proposals
    label = model.STATION_TYPES[res.station_type].zh
    return pd.DataFrame({"站点编号": "NEW-" + p["candidate_id"].astype(str),
                         "站点名称": [f"拟建{label}（{c}）" for c in p["name"].astype(str)],
                         "站点类型": res.station_type, "服务半径（米）": res.radius_m,
                         "经度": p["lon"].to_numpy(dtype=float), "纬度": p["lat"].to_numpy(dtype=float),
                         "排序": p["rank"].to_numpy(dtype=np.int64), "新增覆盖": p["gain"].to_numpy(dtype=float),
                         "说明": p["sentence"].astype(str)})
