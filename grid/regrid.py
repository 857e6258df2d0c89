"""Redrawing a community's cells to a workable size: min..max households a cell, contiguous,
compact, following the community's boundary exactly.

Definitions
-----------
Kept cells
    Existing cells of the community already holding between ``min_hh`` and ``max_hh``
    households stay as they are (clipped to the community), unless ``keep_in_bounds=False``.
Units
    The rest of the community (community minus the kept cells) is cut into building units:
    the Voronoi cells of its buildings (households grouped by door address,
    :func:`grid.buildings.door_address`, seeded at their mean position), clipped to that
    rest and split into their parts. The units tile the rest exactly; a unit's households
    are those whose point lies in it (a household is counted where the map puts it, as
    ``cells`` derive ``households.cell_id``). Units are adjacent when they share a boundary
    of positive length.
Region growing
    :func:`grow_regions`: per connected part, the number of cells is the one closest to an
    even share of ``(min + max) / 2`` that the bounds allow; each cell grows from the
    unassigned unit farthest from the rest's centre, always taking the adjacent unit
    nearest its centre while it stays within ``max``, until it reaches the even share;
    cells left under ``min`` are merged into a neighbour or given away unit by unit;
    then boundary units move between neighbours while that reduces the distance from
    the bounds (and then from the even share) and keeps both cells contiguous.
    A part holding fewer than ``min`` households, or one building holding more than ``max``,
    cannot be within bounds: it is reported, never hidden.
Exactness
    :attr:`RegridResult.check` reports the area of gaps and overlaps between the proposed
    cells (kept and new) and the community, measured with shapely.

spopt's max-p builds a full distance matrix and took 47 s for 900 units on this kind of
machine; this heuristic runs in well under a second per community (``bench/planning_network.py``).

Examples
--------
>>> labels = grow_regions(np.array([3.0, 3.0, 3.0, 3.0]), [[1], [0, 2], [1, 3], [2]],
...                       np.array([[0, 0], [1, 0], [2, 0], [3, 0]], dtype=float), 5.0, 7.0)
>>> labels.tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from grid.errors import WarmGridError

__all__ = ["grow_regions", "building_units", "RegridResult", "regrid_community", "cell_stats", "DEFAULT_MIN", "DEFAULT_MAX"]

DEFAULT_MIN = 300
DEFAULT_MAX = 500


# --------------------------------------------------------------------------- the heuristic
def _components(n: int, nbrs: list[list[int]], members: list[int] | None = None) -> list[list[int]]:
    allowed = set(range(n)) if members is None else set(members)
    seen: set[int] = set()
    out = []
    for s in sorted(allowed):
        if s in seen:
            continue
        comp = [s]
        seen.add(s)
        q = deque([s])
        while q:
            u = q.popleft()
            for v in nbrs[u]:
                if v in allowed and v not in seen:
                    seen.add(v)
                    comp.append(v)
                    q.append(v)
        out.append(sorted(comp))
    return out


def _connected(units: set[int], nbrs: list[list[int]]) -> bool:
    if len(units) <= 1:
        return True
    s = next(iter(units))
    seen = {s}
    q = deque([s])
    while q:
        u = q.popleft()
        for v in nbrs[u]:
            if v in units and v not in seen:
                seen.add(v)
                q.append(v)
    return len(seen) == len(units)


def _penalty(s: float, lo: float, hi: float, target: float) -> tuple[float, float]:
    return (max(0.0, lo - s) + max(0.0, s - hi), (s - target) ** 2)


def grow_regions(weights: np.ndarray, nbrs: list[list[int]], xy: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Region labels (0, 1, ...) for units with ``weights``, adjacency ``nbrs`` and centres ``xy``,
    each region contiguous and, where the data allow, holding ``lo``..``hi`` (see the module)."""
    n = len(weights)
    w = np.asarray(weights, dtype=float)
    labels = np.full(n, -1, dtype=np.int64)
    if lo > hi:
        raise WarmGridError(f"每格最少户数不能大于最多户数：{lo} > {hi}", f"the minimum exceeds the maximum: {lo} > {hi}")
    next_label = 0
    for comp in _components(n, nbrs):
        total = float(w[comp].sum())
        if total <= hi:
            labels[comp] = next_label
            next_label += 1
            continue
        kmin, kmax = math.ceil(total / hi), math.floor(total / lo) if lo > 0 else len(comp)
        k = min(max(round(total / ((lo + hi) / 2.0)), kmin), kmax) if kmin <= kmax else kmin
        target = total / max(k, 1)
        comp_labels = _grow_component(comp, w, nbrs, xy, lo, hi, target)
        if _score(comp_labels, w, lo, hi, target)[0] > 0:
            # Some cell is out of bounds: grow again from each extreme unit (eight directions) and keep the best.
            pts = xy[comp]
            c = pts.mean(axis=0)
            firsts = []
            for ang in np.arange(8) * np.pi / 4:
                firsts.append(comp[int(np.argmax((pts - c) @ np.array([np.cos(ang), np.sin(ang)])))])
            tries: list[tuple[int | None, int | None]] = [(int(f), None) for f in dict.fromkeys(firsts)]
            # Then randomised choices among the nearest units (seeded: the proposal is reproducible).
            tries += [(None, 1000 + t) for t in range(24)]
            for first, noise in tries:
                alt = _grow_component(comp, w, nbrs, xy, lo, hi, target, first=first, noise=noise)
                if _score(alt, w, lo, hi, target) < _score(comp_labels, w, lo, hi, target):
                    comp_labels = alt
                best = _score(comp_labels, w, lo, hi, target)
                if best[0] == 0 and -best[1] >= k:
                    break
        for lab in sorted(set(comp_labels.values())):
            for u, lu in comp_labels.items():
                if lu == lab:
                    labels[u] = next_label
            next_label += 1
    return labels


def _score(lab: dict[int, int], w: np.ndarray, lo: float, hi: float, target: float) -> tuple[float, int, float]:
    """How far a labelling is from the bounds (households), minus its regions, its spread about the target."""
    sums: dict[int, float] = {}
    for u, r in lab.items():
        sums[r] = sums.get(r, 0.0) + float(w[u])
    out = sum(max(0.0, lo - s) + max(0.0, s - hi) for s in sums.values())
    return (out, -len(sums), sum((s - target) ** 2 for s in sums.values()))


def _grow_component(comp: list[int], w: np.ndarray, nbrs: list[list[int]], xy: np.ndarray, lo: float, hi: float,
                    target: float, first: int | None = None, noise: int | None = None) -> dict[int, int]:
    rng = np.random.default_rng(noise) if noise is not None else None
    if rng is not None and first is None:
        first = int(rng.choice(comp))
    unassigned = set(comp)
    lab: dict[int, int] = {}
    sums: dict[int, float] = {}
    members: dict[int, set[int]] = {}
    r = 0
    while unassigned:
        pts = np.array(sorted(unassigned))
        c = xy[pts].mean(axis=0)
        far = pts[np.argmax(((xy[pts] - c) ** 2).sum(axis=1))] if first is None or r > 0 else first
        region = {int(far)}
        s = float(w[far])
        unassigned.discard(int(far))
        while s < target:
            frontier = sorted({v for u in region for v in nbrs[u] if v in unassigned})
            fits = [v for v in frontier if s + w[v] <= hi]
            if not fits:
                break
            cen = xy[sorted(region)].mean(axis=0)
            jitter = {q: 1.0 + (3.0 * float(rng.random()) if rng is not None else 0.0) for q in fits}
            v = min(fits, key=lambda q: (float(((xy[q] - cen) ** 2).sum()) * jitter[q], q))
            if s + w[v] > target and s >= lo and abs(s + w[v] - target) >= abs(s - target):
                break
            region.add(v)
            s += float(w[v])
            unassigned.discard(v)
        for u in region:
            lab[u] = r
        sums[r] = s
        members[r] = region
        r += 1
    # Repair: regions under the minimum merge into a neighbour, or give their units away.
    for _ in range(3):
        small = sorted((q for q in members if members[q] and sums[q] < lo), key=lambda q: sums[q])
        if not small:
            break
        for q in small:
            if not members[q] or sums[q] >= lo:
                continue
            adj = sorted({lab[v] for u in members[q] for v in nbrs[u] if v in lab and lab[v] != q},
                         key=lambda a: (sums[a], a))
            whole = [a for a in adj if sums[a] + sums[q] <= hi]
            if whole:
                a = whole[0]
                for u in members[q]:
                    lab[u] = a
                members[a] |= members[q]
                sums[a] += sums[q]
                members[q] = set()
                sums[q] = 0.0
                continue
            # Unit by unit to neighbours with room, as long as what is left stays contiguous.
            moved = True
            while moved and members[q]:
                moved = False
                for u in sorted(members[q], key=lambda x: -w[x]):
                    rest = members[q] - {u}
                    if not _connected(rest, nbrs):
                        continue
                    to = sorted({lab[v] for v in nbrs[u] if v in lab and lab[v] != q and sums[lab[v]] + w[u] <= hi},
                                key=lambda a: (sums[a], a))
                    if to:
                        a = to[0]
                        members[q].discard(u)
                        members[a].add(u)
                        lab[u] = a
                        sums[q] -= float(w[u])
                        sums[a] += float(w[u])
                        moved = True
                        break
            # A cell still under the minimum stays as it is: it is reported as out of bounds.
    # Improvement: move boundary units while it brings cells nearer the bounds, then the even share.
    for _ in range(4):
        improved = False
        for u in sorted(lab):
            a = lab[u]
            if len(members[a]) <= 1:
                continue
            for b in sorted({lab[v] for v in nbrs[u] if v in lab and lab[v] != a}):
                pa0, pb0 = _penalty(sums[a], lo, hi, target), _penalty(sums[b], lo, hi, target)
                pa1 = _penalty(sums[a] - w[u], lo, hi, target)
                pb1 = _penalty(sums[b] + w[u], lo, hi, target)
                before = (pa0[0] + pb0[0], pa0[1] + pb0[1])
                after = (pa1[0] + pb1[0], pa1[1] + pb1[1])
                if after < before and (before[0] - after[0] > 1e-9 or before[1] - after[1] > 1e-9) \
                        and _connected(members[a] - {u}, nbrs):
                    members[a].discard(u)
                    members[b].add(u)
                    lab[u] = b
                    sums[a] -= float(w[u])
                    sums[b] += float(w[u])
                    improved = True
                    break
        if not improved:
            break
    used = sorted({v for v in lab.values()})
    remap = {old: i for i, old in enumerate(used)}
    return {u: remap[v] for u, v in lab.items()}


# --------------------------------------------------------------------------- geometry
def _assign_points(polys: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of the polygon holding each point (the first on a shared edge; the nearest if none)."""
    out = np.full(len(x), -1, dtype=np.int64)
    if not len(x) or not len(polys):
        return out
    pts = shapely.points(x, y)
    tree = shapely.STRtree(polys)
    pi, gi = tree.query(pts, predicate="intersects")
    if len(pi):
        order = np.lexsort((gi, pi))
        pi, gi = pi[order], gi[order]
        first = np.r_[True, pi[1:] != pi[:-1]]
        out[pi[first]] = gi[first]
    miss = np.flatnonzero(out < 0)
    if len(miss):
        _p, g = tree.query_nearest(pts[miss], all_matches=False)
        out[miss[_p]] = g
    return out


def _adjacency(polys: np.ndarray) -> list[list[int]]:
    n = len(polys)
    nbrs: list[list[int]] = [[] for _ in range(n)]
    if n < 2:
        return nbrs
    tree = shapely.STRtree(polys)
    a, b = tree.query(polys, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a):
        shared = shapely.length(shapely.intersection(shapely.boundary(polys[a]), shapely.boundary(polys[b])))
        for i, j in zip(a[shared > 1e-6].tolist(), b[shared > 1e-6].tolist(), strict=True):
            nbrs[i].append(j)
            nbrs[j].append(i)
    return [sorted(x) for x in nbrs]


def _parts(g: Any) -> list[Any]:
    if g is None or g.is_empty:
        return []
    if g.geom_type == "Polygon":
        return [g]
    if g.geom_type in ("MultiPolygon", "GeometryCollection"):
        return [p for p in getattr(g, "geoms", []) if p.geom_type == "Polygon" and p.area > 1e-6]
    return []


def _units(area: Any, seeds: np.ndarray) -> np.ndarray:
    """Voronoi cells of ``seeds`` clipped to ``area``, split into their polygon parts; whatever the
    clipped cells miss of the area (numerical slivers) joins the unit it shares most boundary with."""
    if len(seeds) <= 1:
        return np.array(_parts(area), dtype=object)
    vor = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area.envelope.buffer(10.0))
    polys: list[Any] = []
    for cell in getattr(vor, "geoms", []):
        polys.extend(_parts(shapely.intersection(cell, area)))
    if not polys:
        return np.array(_parts(area), dtype=object)
    units = np.array(polys, dtype=object)
    rest = shapely.difference(area, shapely.union_all(units))
    pieces = [p for p in getattr(rest, "geoms", [rest]) if p.geom_type == "Polygon" and not p.is_empty]
    if pieces:
        tree = shapely.STRtree(units)
        for piece in pieces:
            near = tree.query(piece, predicate="intersects")
            if not len(near):
                near = np.array([tree.query_nearest(piece)[0]])
            shared = shapely.length(shapely.intersection(piece.boundary, shapely.boundary(units[near])))
            j = int(near[int(np.argmax(shared))])
            units[j] = shapely.union(units[j], piece)
    # Split any unit the merging left in parts (each part a unit of its own).
    out = []
    for u in units:
        out.extend(_parts(u) if u.geom_type != "Polygon" else [u])
    return np.array(out, dtype=object)


def building_units(area: Any, households: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[list[int]], np.ndarray,
                                                                  np.ndarray]:
    """The building units of ``area`` (see the module) for ``households`` (``x_m, y_m, address``) in it:
    ``(polygons, households per unit, adjacency, centroids, unit of each household)``."""
    from grid.buildings import door_address

    hx = households["x_m"].to_numpy(dtype=float)
    hy = households["y_m"].to_numpy(dtype=float)
    if len(hx):
        door = households["address"].map(door_address).to_numpy(dtype=object)
        b = pd.DataFrame({"door": door, "x": hx, "y": hy}).groupby("door", sort=True)[["x", "y"]].mean()
        seeds = np.unique(np.round(b.to_numpy(dtype=float), 2), axis=0)
    else:
        seeds = np.zeros((0, 2))
    units = _units(area, seeds)
    nb = _adjacency(units)
    unit_of = _assign_points(units, hx, hy)
    w = np.bincount(unit_of[unit_of >= 0], minlength=len(units)).astype(float)
    cen = np.column_stack([shapely.get_x(shapely.centroid(units)), shapely.get_y(shapely.centroid(units))]) \
        if len(units) else np.zeros((0, 2))
    return units, w, nb, cen, unit_of


def _absorb_empty(units: np.ndarray, labels: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A region without households (a scrap of land cut off from the rest) joins the region whose
    units it touches along the longest boundary (or the nearest one), and labels are renumbered."""
    labels = labels.copy()
    if labels.max(initial=-1) < 1:
        return labels
    sums = np.bincount(labels, weights=w)
    tree = shapely.STRtree(units)
    for r in np.flatnonzero(sums == 0):
        mine = np.flatnonzero(labels == r)
        if not len(mine) or (labels != r).sum() == 0:
            continue
        geom = shapely.union_all(units[mine])
        near = [j for j in tree.query(geom, predicate="intersects") if labels[j] != r]
        if near:
            shared = shapely.length(shapely.intersection(geom.boundary, shapely.boundary(units[near])))
            target = labels[near[int(np.argmax(shared))]]
        else:
            others = np.flatnonzero(labels != r)
            target = labels[others[int(np.argmin(shapely.distance(geom, units[others])))]]
        labels[mine] = target
    _, labels = np.unique(labels, return_inverse=True)
    return labels.reshape(-1).astype(np.int64)


# --------------------------------------------------------------------------- the whole question
def cell_stats(counts: Any, lo: float, hi: float, wardens: Any = None) -> dict[str, Any]:
    """Households per cell: count, mean, min, max, spread (max - min), standard deviation, cells
    under ``lo`` and over ``hi``; with ``wardens`` (one per cell, None = none), the wardens' load.

    >>> cell_stats([250, 400, 600], 300, 500)["out_of_bounds"]
    2
    """
    c = np.asarray(list(counts), dtype=float)
    doc: dict[str, Any] = {"cells": int(len(c)), "households": int(c.sum()),
                           "mean": float(c.mean()) if len(c) else 0.0, "min": int(c.min()) if len(c) else 0,
                           "max": int(c.max()) if len(c) else 0, "spread": int(c.max() - c.min()) if len(c) else 0,
                           "std": float(c.std()) if len(c) else 0.0,
                           "under_min": int((c < lo).sum()), "over_max": int((c > hi).sum())}
    doc["out_of_bounds"] = doc["under_min"] + doc["over_max"]
    if wardens is not None:
        wl = pd.Series(c).groupby(pd.Series(list(wardens), dtype=object)).sum()
        doc["wardens"] = int(len(wl))
        doc["cells_without_warden"] = int(sum(1 for x in wardens if x is None or (isinstance(x, float) and np.isnan(x))))
        doc["warden_load_max"] = int(wl.max()) if len(wl) else 0
        doc["warden_load_mean"] = float(wl.mean()) if len(wl) else 0.0
    return doc


@dataclass
class RegridResult:
    """A proposal for one community."""

    community_code: str
    min_hh: int
    max_hh: int
    #: Every cell of the proposal, kept and new (metric geometry): ``cell_id, name, community_code,
    #: warden_id, households, status`` (``kept`` or ``new``), ``from_cells`` (the old cells it draws on).
    cells: Any
    before: dict[str, Any]
    after: dict[str, Any]
    check: dict[str, float]
    replaced: list[str] = field(default_factory=list)
    units: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        cols = ["cell_id", "name", "status", "households", "warden_id", "from_cells"]
        rows = pd.DataFrame(self.cells.drop(columns="geometry"))[cols].to_dict(orient="records")
        return {"community_code": self.community_code, "min": self.min_hh, "max": self.max_hh, "cells": rows,
                "replaced": self.replaced, "before": self.before, "after": self.after, "check": self.check,
                "units": self.units, "notes": self.notes}


def _new_ids(code: str, existing: list[str], n: int) -> list[str]:
    nums = [int(c[len(code):]) for c in existing if c.startswith(code) and c[len(code):].isdigit()]
    start = (max(nums) if nums else 0) + 1
    width = max(3, len(str(start + n)))
    return [f"{code}{start + i:0{width}d}" for i in range(n)]


def regrid_community(community: Any, cells: pd.DataFrame, households: pd.DataFrame, *, code: str, name: str = "",
                     min_hh: int = DEFAULT_MIN, max_hh: int = DEFAULT_MAX, keep_in_bounds: bool = True) -> RegridResult:
    """Propose new cells for one community (see the module).

    Parameters
    ----------
    community : shapely Polygon or MultiPolygon
        The community's boundary, in metres.
    cells : DataFrame
        Its cells: ``cell_id, warden_id, geometry`` (metric).
    households : DataFrame
        Its active households: ``hh_id, x_m, y_m, address``.
    code, name : str
        The community's code (new cell ids extend it) and name.
    """
    if min_hh < 0 or max_hh <= 0 or min_hh > max_hh:
        raise WarmGridError(f"每格户数范围无效：{min_hh}..{max_hh}", f"invalid households-per-cell range: {min_hh}..{max_hh}")
    import geopandas as gpd

    community = shapely.make_valid(community)
    x = households["x_m"].to_numpy(dtype=float)
    y = households["y_m"].to_numpy(dtype=float)
    geoms = np.array([shapely.make_valid(g) for g in cells["geometry"]], dtype=object)
    old_of = _assign_points(geoms, x, y) if len(geoms) else np.full(len(x), -1)
    inside = shapely.intersects_xy(community, x, y) if len(x) else np.zeros(0, dtype=bool)
    old_ids = cells["cell_id"].astype(str).tolist()
    wardens = cells["warden_id"].tolist() if "warden_id" in cells.columns else [None] * len(cells)
    counts = np.bincount(old_of[old_of >= 0], minlength=len(cells)) if len(cells) else np.zeros(0, dtype=np.int64)
    before = cell_stats(counts, min_hh, max_hh, wardens)
    keep = (counts >= min_hh) & (counts <= max_hh) if keep_in_bounds else np.zeros(len(cells), dtype=bool)
    kept_geoms = [shapely.intersection(g, community) for g in geoms[keep]]
    area = shapely.difference(community, shapely.union_all(kept_geoms)) if kept_geoms else community
    notes: list[str] = []
    in_area = inside & ~(np.isin(old_of, np.flatnonzero(keep)) if keep.any() else np.zeros(len(x), dtype=bool))
    units = np.zeros(0, dtype=object)
    labels = np.zeros(0, dtype=np.int64)
    unit_of = np.full(len(x), -1, dtype=np.int64)
    if not area.is_empty and area.area > 1.0:
        units, w, nb, cen, unit_of_area = building_units(area, households.iloc[np.flatnonzero(in_area)])
        unit_of[np.flatnonzero(in_area)] = unit_of_area
        labels = grow_regions(w, nb, cen, float(min_hh), float(max_hh))
        labels = _absorb_empty(units, labels, w)
    # Assemble: kept cells, then the new ones.
    rows = []
    for i in np.flatnonzero(keep):
        rows.append({"cell_id": old_ids[i], "status": "kept", "households": int(counts[i]), "warden_id": wardens[i],
                     "from_cells": old_ids[i], "geometry": shapely.intersection(geoms[i], community)})
    n_new = int(labels.max()) + 1 if len(labels) else 0
    ids = _new_ids(code, old_ids, n_new)
    hh_new = np.where(unit_of >= 0, labels[np.maximum(unit_of, 0)] if len(labels) else -1, -1)
    for r in range(n_new):
        poly = shapely.union_all(units[labels == r])
        mine = hh_new == r
        src = pd.Series(old_of[mine])
        src = src[src >= 0]
        from_cells = [old_ids[int(i)] for i in src.value_counts().sort_index().index] if len(src) else []
        top = int(src.value_counts().sort_values(ascending=False, kind="stable").index[0]) if len(src) else None
        warden = wardens[top] if top is not None else None
        rows.append({"cell_id": ids[r], "status": "new", "households": int(mine.sum()),
                     "warden_id": None if warden is None or (isinstance(warden, float) and np.isnan(warden)) else warden,
                     "from_cells": "、".join(from_cells), "geometry": poly})
    label = name or code
    old_names = dict(zip(old_ids, cells["name"].astype(str) if "name" in cells.columns else old_ids, strict=True))
    for row in rows:
        number = row["cell_id"][len(code):].lstrip("0") or "0"
        row["name"] = f"{label}第{number}网格" if row["status"] == "new" else old_names[row["cell_id"]]
        row["community_code"] = code
    gdf = gpd.GeoDataFrame(pd.DataFrame(rows, columns=["cell_id", "name", "community_code", "warden_id", "households",
                                                       "status", "from_cells", "geometry"]),
                           geometry="geometry")
    # Exactness, measured: gaps against the community and overlaps between cells.
    union = shapely.union_all(gdf.geometry.to_numpy()) if len(gdf) else shapely.Polygon()
    gap = float(shapely.difference(community, union).area) if len(gdf) else float(community.area)
    outside = float(shapely.difference(union, community).area) if len(gdf) else 0.0
    overlap = float(sum(g.area for g in gdf.geometry) - union.area) if len(gdf) else 0.0
    check = {"community_m2": float(community.area), "gap_m2": gap, "outside_m2": outside, "overlap_m2": overlap,
             "exact": bool(gap <= 1e-6 * community.area + 1e-3 and outside <= 1e-6 * community.area + 1e-3
                           and overlap <= 1e-6 * community.area + 1e-3),
             "multipart_cells": int(sum(1 for g in gdf.geometry if g.geom_type != "Polygon"))}
    # Households per proposed cell, counted again by where they lie.
    recount = np.bincount(_assign_points(gdf.geometry.to_numpy(), x[inside], y[inside]), minlength=len(gdf)) \
        if len(gdf) and inside.any() else np.zeros(len(gdf), dtype=np.int64)
    if not np.array_equal(recount, gdf["households"].to_numpy()):
        notes.append("部分住户位于网格边界上，按所在位置重新计数 · households on a boundary were recounted by position")
        gdf["households"] = recount
    after = cell_stats(gdf["households"], min_hh, max_hh, gdf["warden_id"].tolist())
    big = [r["cell_id"] for r in rows if r["status"] == "new" and r["households"] > max_hh]
    small = [r["cell_id"] for r in rows if r["status"] == "new" and r["households"] < min_hh]
    if big:
        notes.append(f"{len(big)} 个新网格超过 {max_hh} 户（单栋楼户数过多或无法再分） · {len(big)} new cells above {max_hh}")
    if small:
        notes.append(f"{len(small)} 个新网格不足 {min_hh} 户（所在片区住户不足） · {len(small)} new cells below {min_hh}")
    replaced = [old_ids[i] for i in np.flatnonzero(~keep)]
    return RegridResult(code, int(min_hh), int(max_hh), gdf, before, after, check, replaced, int(len(units)), notes)
