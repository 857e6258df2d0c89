"""Accessibility relative to need: the enhanced two-step floating catchment area (E2SFCA).

Definitions
-----------
Bands
    The GB 50180-2018 life circles by walking (or straight) distance, each with a weight:
    :data:`BANDS` = within 300 m (5 minutes) 1.00, 300–500 m (10 minutes) 0.68, 500–1,000 m
    (15 minutes) 0.22 — the weights Luo & Qi (2009) introduced E2SFCA with (a Gaussian
    decay over three zones). Beyond the last band a station does not count.
Step 1
    Each station ``j``'s ratio ``R_j = S_j / Σ_i W(d_ij) P_i`` over the demand within the
    last band: ``S_j`` is its ``capacity`` (or 1 per station when ``supply="count"`` or the
    capacity is unknown), ``P_i`` the vulnerable households at ``i``. A station with no
    demand in reach has ``R_j = 0`` (its supply reaches nobody in need).
Step 2
    Each vulnerable household's accessibility ``A_i = Σ_j W(d_ij) R_j``: the supply within
    reach per vulnerable household, weighted by distance. A cell's figure is the mean of
    ``A_i`` over its vulnerable households (so that ``Σ P_i A_i = Σ S_j`` over stations with
    demand in reach); it is reported per 100 vulnerable households too.

Demand points are the distinct locations of vulnerable households (exact: households at
one point share every distance). The pairs come from :func:`grid.reach.pairs_within`.

The ``access`` package on PyPI (PySAL's) computes the same over a cost table; it is the
independent check in ``tests/test_e2sfca.py`` rather than the run-time code, which needs
only the pairs within the last band that :func:`grid.reach.pairs_within` already finds
(by walking too) instead of a pandas table of origin-destination costs.

Examples
--------
>>> import numpy as np
>>> dem = np.array([[0.0, 0.0], [400.0, 0.0]]); P = np.array([2.0, 1.0])
>>> sup = np.array([[0.0, 0.0]]); S = np.array([1.0])
>>> A, R = e2sfca(dem, P, sup, S)
>>> round(float(R[0]), 4), [round(float(a), 4) for a in A]   # R = 1 / (2*1.00 + 1*0.68)
(0.3731, [0.3731, 0.2537])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from grid import model
from grid.errors import WarmGridError
from grid.network import MAX_LEG_M, Network, check_distance
from grid.reach import join_of, pairs_within

__all__ = ["BANDS", "band_weight", "e2sfca", "cell_access"]

#: (upper distance in metres, weight), nearest band first.
BANDS: tuple[tuple[float, float], ...] = ((300.0, 1.0), (500.0, 0.68), (1000.0, 0.22))


def band_weight(d: Any, bands: tuple[tuple[float, float], ...] = BANDS) -> np.ndarray:
    """The band weight of each distance (0 beyond the last band; a band's upper edge is in it).

    >>> band_weight([0, 300, 300.5, 500, 1000, 1000.1]).tolist()
    [1.0, 1.0, 0.68, 0.68, 0.22, 0.0]
    """
    d = np.asarray(d, dtype=float)
    w = np.zeros(d.shape)
    for upper, weight in sorted(bands, reverse=True):
        w[d <= upper] = weight
    return w


def _check_bands(bands: tuple[tuple[float, float], ...]) -> None:
    uppers = [b[0] for b in bands]
    if not bands or uppers != sorted(uppers) or any(u <= 0 for u in uppers) or any(not 0 < w <= 1 for _, w in bands):
        raise WarmGridError("距离分段须按距离递增、距离为正、权重在 0 到 1 之间",
                            "bands must rise in distance, distances positive, weights in (0, 1]")


def e2sfca(demand_xy: Any, demand: Any, supply_xy: Any, supply: Any, *, bands: tuple[tuple[float, float], ...] = BANDS,
           distance: str = "straight", network: Network | None = None, demand_join: Any = None,
           supply_join: Any = None, max_leg: float = MAX_LEG_M) -> tuple[np.ndarray, np.ndarray]:
    """E2SFCA accessibility of every demand point and ratio of every supply point (see the module).

    Returns
    -------
    (A, R) : arrays
        ``A`` per demand point (supply per unit of demand, distance-weighted; 0 where no
        station is in reach) and ``R`` per supply point.
    """
    _check_bands(bands)
    dxy = np.asarray(demand_xy, dtype=float).reshape(-1, 2)
    sxy = np.asarray(supply_xy, dtype=float).reshape(-1, 2)
    P = np.asarray(demand, dtype=float)
    S = np.asarray(supply, dtype=float)
    i, j, d = pairs_within(sxy, dxy, bands[-1][0], distance=check_distance(distance), network=network,
                           src_join=supply_join, dst_join=demand_join, max_leg=max_leg)
    w = band_weight(d, bands)
    denom = np.bincount(i, weights=w * P[j], minlength=len(sxy))
    R = np.divide(S, denom, out=np.zeros(len(sxy)), where=denom > 0)
    A = np.bincount(j, weights=w * R[i], minlength=len(dxy))
    return A, R


def cell_access(households: pd.DataFrame, stations: pd.DataFrame, station_type: str, *, supply: str = "capacity",
                distance: str = "straight", network: Network | None = None,
                bands: tuple[tuple[float, float], ...] = BANDS, max_leg: float = MAX_LEG_M) -> pd.DataFrame:
    """E2SFCA per cell for one station type, scarcest first.

    Parameters
    ----------
    households : DataFrame
        ``hh_id, cell_id, x_m, y_m, vulnerable`` (``community_code`` carried if present;
        ``net_*`` join columns used for walking when present).
    stations : DataFrame
        ``station_id, type, x_m, y_m`` and ``capacity`` (may be missing or empty).
    supply : str
        ``capacity`` (a station's capacity, 1 where unknown) or ``count`` (1 per station).

    Returns
    -------
    DataFrame
        ``cell_id, community_code, vulnerable, access, per_100, reachable, rank``: vulnerable
        households, the mean accessibility of its vulnerable households, the same per 100 of
        them, how many of them have any station of the type within the last band, and the
        rank (1 = the scarcest).
    """
    if station_type not in model.STATION_TYPES:
        raise WarmGridError(f"未知的站点类型：{station_type}", f"unknown station type: {station_type}")
    if supply not in ("capacity", "count"):
        raise WarmGridError(f"供给口径须为 capacity 或 count：{supply}", f"supply must be capacity or count: {supply}")
    vul = households[households["vulnerable"].to_numpy(dtype=bool)].reset_index(drop=True)
    sub = stations[stations["type"].astype(object).to_numpy() == station_type].reset_index(drop=True)
    if supply == "capacity" and "capacity" in sub.columns:
        S = pd.to_numeric(sub["capacity"], errors="coerce").fillna(1.0).to_numpy(dtype=float)
    else:
        S = np.ones(len(sub))
    # Distinct demand locations (exact).
    xy = vul[["x_m", "y_m"]].to_numpy(dtype=float)
    if len(xy):
        uniq, inv = np.unique(xy, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
    else:
        uniq, inv = np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    P = np.bincount(inv, minlength=len(uniq)).astype(float)
    dj = sj = None
    if distance == "walk" and network is not None and len(uniq):
        first = np.unique(inv, return_index=True)[1]
        dj = join_of(network, vul.iloc[first]) if len(first) else None
        sj = join_of(network, sub) if len(sub) else None
    A, _R = e2sfca(uniq, P, sub[["x_m", "y_m"]].to_numpy(dtype=float), S, bands=bands, distance=distance,
                   network=network, demand_join=dj, supply_join=sj, max_leg=max_leg)
    if len(sub) and len(uniq):
        _i, j, _d = pairs_within(sub[["x_m", "y_m"]].to_numpy(dtype=float), uniq, bands[-1][0], distance=distance,
                                 network=network, src_join=sj, dst_join=dj, max_leg=max_leg)
        reach = np.zeros(len(uniq), dtype=bool)
        reach[j] = True
    else:
        reach = np.zeros(len(uniq), dtype=bool)
    frame = pd.DataFrame({"cell_id": vul["cell_id"].astype(object).to_numpy(),
                          "community_code": (vul["community_code"].astype(object).to_numpy()
                                             if "community_code" in vul.columns else None),
                          "a": A[inv] if len(inv) else np.zeros(0), "r": reach[inv] if len(inv) else np.zeros(0, bool)})
    out = frame.groupby("cell_id", dropna=False).agg(community_code=("community_code", "first"),
                                                      vulnerable=("a", "size"), access=("a", "mean"),
                                                      reachable=("r", "sum")).reset_index()
    cells = households.groupby("cell_id", dropna=False).size().rename("households").reset_index()
    out = cells.merge(out, on="cell_id", how="left")
    if "community_code" in households.columns:
        cc = households.groupby("cell_id", dropna=False)["community_code"].first()
        out["community_code"] = out["cell_id"].map(cc)
    else:
        out["community_code"] = None
    out["vulnerable"] = out["vulnerable"].fillna(0).astype(int)
    out["reachable"] = out["reachable"].fillna(0).astype(int)
    out["per_100"] = out["access"] * 100.0
    out = out.sort_values(["access", "vulnerable", "cell_id"], ascending=[True, False, True], na_position="last")
    out["rank"] = np.arange(1, len(out) + 1)
    return out[["cell_id", "community_code", "households", "vulnerable", "access", "per_100", "reachable",
                "rank"]].reset_index(drop=True)
