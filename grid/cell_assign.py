"""Which cell each household lies in: the one rule of ``households.cell_id``, computed on coordinates.

The rule: a point belongs to the lowest ``cell_id`` among the cells whose polygon it
intersects (inside, or on the boundary: on an edge two cells share, the lower id wins);
outside every cell, or without coordinates, it belongs to none. ``Store.refresh_derived``
and an import's write both use :func:`cells_of_xy`; the tests hold it to shapely's
``STRtree.query(predicate="intersects")`` and to DuckDB's ``ST_Intersects`` join.

Why coordinates and not point geometries: making a million shapely points costs about
1.1 s, more than the whole assignment. Here the points stay two float arrays; each cell's
candidates are the points in its bounding box, found by one sort on x, and are tested with
``shapely.intersects_xy`` on the prepared polygon (GEOS' point-in-polygon, boundary included).
Measured by ``bench/coverage.py`` against geopandas' ``sjoin``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["cells_of_xy"]


def cells_of_xy(x: Any, y: Any, cells: Any, cell_ids: Any) -> np.ndarray:
    """Each point's cell by the rule above: ``cell_ids``' value, or ``None``.

    Parameters
    ----------
    x, y : array_like of float
        The points' coordinates, in the cells' CRS; NaN for a point that is missing.
    cells : array_like of shapely geometries
        The cells' polygons (``None`` or empty ones match nothing).
    cell_ids : array_like of str
        The cells' ids, in the order of ``cells``.

    Returns
    -------
    numpy.ndarray of object
        One id (or ``None``) per point.

    Examples
    --------
    >>> import shapely
    >>> sq = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]
    >>> cells_of_xy([0.5, 1.0, 5.0, float("nan")], [0.5, 0.5, 5.0, 0.5], sq, ["c2", "c1"]).tolist()
    ['c2', 'c1', None, None]
    """
    import shapely

    xs_in = np.asarray(x, dtype=float)
    ys_in = np.asarray(y, dtype=float)
    polys = np.asarray(cells, dtype=object)
    ids = np.asarray(cell_ids, dtype=object)
    out = np.full(len(xs_in), None, dtype=object)
    if not len(xs_in) or not len(ids):
        return out
    bounds = shapely.bounds(polys)  # NaN for None or empty: such a cell finds no candidate
    order = np.argsort(xs_in, kind="stable")  # NaN last, past every bound
    xs, ys = xs_in[order], ys_in[order]
    lo = np.searchsorted(xs, bounds[:, 0], side="left")
    hi = np.searchsorted(xs, bounds[:, 2], side="right")
    shapely.prepare(polys)
    hit_pt: list[np.ndarray] = []
    hit_cell: list[np.ndarray] = []
    for i in np.flatnonzero(hi > lo):
        band = ys[lo[i]:hi[i]]
        cand = np.flatnonzero((band >= bounds[i, 1]) & (band <= bounds[i, 3])) + lo[i]
        if len(cand):
            inside = cand[shapely.intersects_xy(polys[i], xs[cand], ys[cand])]
            hit_pt.append(order[inside])
            hit_cell.append(np.full(len(inside), i))
    hp = np.concatenate(hit_pt) if hit_pt else np.zeros(0, dtype=np.int64)
    if not len(hp):  # no candidate at all, or candidates in cells' boxes but outside every cell
        return out
    hc = np.concatenate(hit_cell)
    rank = np.argsort(np.argsort(ids.astype(str), kind="stable"), kind="stable")  # the ids' order
    keep = np.lexsort((rank[hc], hp))
    hp, hc = hp[keep], hc[keep]
    first = np.r_[True, hp[1:] != hp[:-1]]
    out[hp[first]] = ids[hc[first]]
    return out
