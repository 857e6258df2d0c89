"""Which points lie within a distance of which others: every pair, with its distance.

The one measure behind new-station siting (:mod:`grid.siting`) and the two-step floating
catchment (:mod:`grid.e2sfca`): for sources (candidate sites, stations) and destinations
(households), every pair no farther apart than a radius, by the straight line or by
walking along the street network, with the same definitions as :mod:`grid.network`
(household leg + path + source leg; a household more than ``max_leg`` from every
walkable line is never reached; exactly at the radius is within).

Straight line: a k-d tree's pairs within the radius. Walking: the sources in chunks, each
chunk one :func:`scipy.sparse.csgraph.dijkstra` pass bounded by the radius from a virtual
node per source (as :func:`grid.network.node_distances` does for the nearest station),
then every household on an edge whose end is reached reads its distance off that end,
and households on a source's own edge may walk along it directly. The distances are
summed in the order :func:`grid.network.walk_nearest` sums them, so a household's
distance to its nearest station is the same float both ways.

Examples
--------
>>> import numpy as np
>>> src = np.array([[0.0, 0.0]]); dst = np.array([[100.0, 0.0], [300.0, 0.0], [301.0, 0.0]])
>>> i, j, d = pairs_within(src, dst, 300.0)
>>> j.tolist(), d.tolist()
([0, 1], [100.0, 300.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from grid.errors import WarmGridError
from grid.network import MAX_LEG_M, Join, Network, join_points

__all__ = ["pairs_within", "join_of"]

#: Most float entries of one chunk's dense distance block (sources x nodes): 64 MB.
_BLOCK = 8_000_000


def join_of(net: Network, points: pd.DataFrame) -> Join:
    """The network join of ``points`` (``net_*`` columns when attached, else computed)."""
    if all(c in points.columns for c in ("net_edge", "net_t", "net_leg_m")):
        return Join(points["net_edge"].to_numpy(dtype=np.int64), points["net_t"].to_numpy(dtype=float),
                    points["net_leg_m"].to_numpy(dtype=float))
    return join_points(net, points["x_m"].to_numpy(dtype=float), points["y_m"].to_numpy(dtype=float))


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)


def pairs_within(src_xy: Any, dst_xy: Any, radius: float, *, distance: str = "straight",
                 network: Network | None = None, src_join: Join | None = None, dst_join: Join | None = None,
                 max_leg: float = MAX_LEG_M) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (source, destination) pair within ``radius`` metres, with its distance.

    Parameters
    ----------
    src_xy, dst_xy : array (n, 2)
        Metric coordinates of the sources and the destinations.
    radius : float
        Metres; a pair exactly at the radius is within.
    distance : str
        ``straight`` or ``walk`` (along ``network``).
    network : Network, optional
        Required for ``walk``.
    src_join, dst_join : Join, optional
        The points' joins to the network, when already computed.
    max_leg : float
        ``walk``: destinations farther than this from every walkable line are never within.

    Returns
    -------
    (i, j, d) : arrays
        Source positions, destination positions and distances (m), ordered by ``(i, j)``;
        each pair once (its shortest distance).
    """
    src_xy = np.asarray(src_xy, dtype=float).reshape(-1, 2)
    dst_xy = np.asarray(dst_xy, dtype=float).reshape(-1, 2)
    if not (np.isfinite(radius) and radius > 0):
        raise WarmGridError(f"半径须为正数：{radius}", f"radius must be positive: {radius}")
    if not len(src_xy) or not len(dst_xy):
        return _empty()
    if distance == "straight":
        bound = float(np.nextafter(radius, np.inf))
        res = cKDTree(src_xy).sparse_distance_matrix(cKDTree(dst_xy), bound, output_type="ndarray")
        i, j, d = res["i"].astype(np.int64), res["j"].astype(np.int64), res["v"].astype(float)
        keep = d <= radius
        i, j, d = i[keep], j[keep], d[keep]
        order = np.lexsort((j, i))
        return i[order], j[order], d[order]
    if distance != "walk":
        raise WarmGridError(f"距离方式须为 walk（步行）或 straight（直线）：{distance}",
                            f"the distance must be walk or straight: {distance}")
    if network is None or network.empty:
        raise WarmGridError("没有可步行的道路网，无法按步行距离计算；请先导入道路（python -m grid roads import）",
                            "there is no walkable street network to measure walking distance; import roads first")
    net = network
    sj = src_join or join_points(net, src_xy[:, 0], src_xy[:, 1])
    hj = dst_join or join_points(net, dst_xy[:, 0], dst_xy[:, 1])
    on = np.flatnonzero(hj.leg <= max_leg)
    if not len(on):
        return _empty()
    h_edge, h_t, h_leg = hj.edge[on], hj.t[on], hj.leg[on]
    L_h = net.edge_len[h_edge]
    via_u = h_t * L_h  # from the edge's u end to the household
    via_v = (1.0 - h_t) * L_h
    n = net.n_nodes
    # Households by the node at each end of their edge (CSR-like lookups).
    hu, hv = net.edge_u[h_edge], net.edge_v[h_edge]
    ord_u, ord_v = np.argsort(hu, kind="stable"), np.argsort(hv, kind="stable")
    start_u = np.searchsorted(hu[ord_u], np.arange(n + 1))
    start_v = np.searchsorted(hv[ord_v], np.arange(n + 1))
    # Households by edge, for the direct walk along a source's own edge.
    ord_e = np.argsort(h_edge, kind="stable")
    se_sorted = h_edge[ord_e]
    g = net.graph
    chunk = max(1, min(len(src_xy), _BLOCK // max(n, 1)))
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    out_d: list[np.ndarray] = []

    def expand(rows: np.ndarray, nodes: np.ndarray, base: np.ndarray, order: np.ndarray, start: np.ndarray,
               along: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cnt = start[nodes + 1] - start[nodes]
        rep = np.repeat(np.arange(len(nodes)), cnt)
        first = np.repeat(start[nodes], cnt)
        within = np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        hh = order[first + within]
        d = h_leg[hh] + (base[rep] + along[hh])
        return rows[rep], hh, d

    for a in range(0, len(src_xy), chunk):
        idx = np.arange(a, min(a + chunk, len(src_xy)))
        k = len(idx)
        e = sj.edge[idx]
        L = net.edge_len[e]
        to_u = sj.leg[idx] + sj.t[idx] * L
        to_v = sj.leg[idx] + (1.0 - sj.t[idx]) * L
        cols = np.column_stack([net.edge_u[e], net.edge_v[e]]).reshape(-1)
        vals = np.column_stack([to_u, to_v]).reshape(-1)
        indptr = np.concatenate([g.indptr, g.indptr[-1] + 2 * np.arange(1, k + 1)])
        aug = sparse.csr_matrix((np.concatenate([g.data, np.maximum(vals, 1e-9)]),
                                 np.concatenate([g.indices, cols]), indptr), shape=(n + k, n + k))
        dist = dijkstra(aug, directed=True, indices=np.arange(n, n + k), limit=float(radius))[:, :n]
        rows, nodes = np.nonzero(np.isfinite(dist))
        base = dist[rows, nodes]
        parts = [expand(rows, nodes, base, ord_u, start_u, via_u), expand(rows, nodes, base, ord_v, start_v, via_v)]
        # Along the source's own edge.
        lo = np.searchsorted(se_sorted, e, side="left")
        hi = np.searchsorted(se_sorted, e, side="right")
        cnt = hi - lo
        if cnt.sum():
            rep = np.repeat(np.arange(k), cnt)
            within = np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            hh = ord_e[np.repeat(lo, cnt) + within]
            direct = np.abs(h_t[hh] - sj.t[idx][rep]) * L_h[hh] + sj.leg[idx][rep]
            parts.append((rep, hh, h_leg[hh] + direct))
        ii = np.concatenate([p[0] for p in parts])
        jj = np.concatenate([p[1] for p in parts])
        dd = np.concatenate([p[2] for p in parts])
        keep = dd <= radius
        ii, jj, dd = ii[keep], jj[keep], dd[keep]
        if not len(ii):
            continue
        # The shortest distance of each pair.
        order = np.lexsort((dd, jj, ii))
        ii, jj, dd = ii[order], jj[order], dd[order]
        first = np.ones(len(ii), dtype=bool)
        first[1:] = (ii[1:] != ii[:-1]) | (jj[1:] != jj[:-1])
        out_i.append(idx[ii[first]])
        out_j.append(on[jj[first]])
        out_d.append(dd[first])
    if not out_i:
        return _empty()
    i, j, d = np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]
