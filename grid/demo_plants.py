"""The patterns planted in the demo district for the leader's analyses to find.

A real district is uneven; a demo where every target household gets the same 500 yuan gives a
hot-spot map with nothing on it. :func:`choose` picks, from the generated geometry alone (no
random draw: the same :class:`grid.demo.DemoConfig` gives the same choice), where four patterns
go; :func:`office_aid` draws the first from its own random stream. :mod:`grid.demo` applies them:

(a) **Giving units that favour their own neighbourhood.** Two district bodies
    (:data:`OFFICE_UNITS`: 区总工会 and 区慈善总会) each give a winter gift of their own programme
    in the finished winter campaign, and both the chance that a target household is given to and
    the amount fall with its distance ``d`` from the unit's office. ``s`` is the cell spacing,
    the square root of the mean cell area (about 400 m at the default 400 households per cell).
    The chance is ``exp(-(d / 1.5 s)² / 2)`` (0.80 at ``s``, 0.41 at ``2 s``), nobody beyond
    ``2.5 s``; the amount is ``1000 - 600 d / 2.5 s`` yuan rounded to 50 (1,000 at the door, 400
    at ``2.5 s``). Each office stands at the household of its community farthest from the
    district's edge; the two communities are, among those whose office lies at least ``2 s``
    inside the district and that do not touch the under-served community, the farthest
    (greedily) from it and from each other. The cells whose centroid lies within ``2 s`` of an
    office are the *office cells* (:attr:`Plants.office_cells`): the hot spots of aid per
    vulnerable household.
(b) **One under-served community.** Among the communities outside the weak street (and other
    than the demo community worker's) with at least the median number of vulnerable households,
    the one where they are the largest share of its households. Its 情暖万家 came as a lump split
    over more households than it was sized for, :data:`UNDERSERVED_YUAN` (200) yuan each instead
    of 500; its residents' committee handed out festival goods to one helped household in ten
    instead of six; the units of (a) never reach it; and no planted duplicate is placed there.
    It ranks last on aid per vulnerable household and its cells are the cold spots.
(c) **A cluster of overdue needs.** A cell far (greedily) from the other plants, among the cells
    with at least the median number of households that have two edge neighbours such as well,
    and its two most populous such neighbours. Visits there raise a need two and a half times as
    often (:data:`CLUSTER_NEED_RATE`, 30 % instead of 12 %), and no need raised there in the last
    :data:`STALLED_DAYS` days is settled: each is open, overdue once its time limit passes, and
    escalated (:attr:`Plants.overdue_cells`).
(d) **One street whose campaign missed many targets.** The street with the most target
    households, other than the demo committee's: its campaign visited 30 % of its targets
    (93 % elsewhere) and its wardens' everyday visits to targets that fell in the campaign's
    months were moved, 60 % of them, 150 days later, so its campaign coverage is the lowest.

Examples
--------
>>> office_amount(np.array([0.0, 400.0, 1000.0]), 400.0).tolist()
[1000.0, 750.0, 400.0]
>>> office_chance(np.array([0.0, 400.0, 800.0, 1100.0]), 400.0).round(2).tolist()
[1.0, 0.8, 0.41, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["OFFICE_UNITS", "OFFICE_PROGRAMMES", "STALLED_DAYS", "UNDERSERVED_YUAN", "Plants", "choose",
           "office_chance", "office_amount", "office_aid", "shift_weak_visits"]

#: The giving units of pattern (a): (unit, programme, funding source).
OFFICE_UNITS: tuple[tuple[str, str, str], ...] = (
    ("区总工会", "总工会送温暖", "工会经费"),
    ("区慈善总会", "慈善助困金", "慈善募捐"),
)
#: Their programmes, as rows of the ``programmes`` table (no application needed, at most 1,000 yuan).
OFFICE_PROGRAMMES: list[dict[str, object]] = [
    dict(code="ghsnw", name="总工会送温暖", kind="cash", standard_yuan=1000.0, needs_approval=False,
         approval_from=None, notice_days=7, description="区总工会春节走访慰问困难职工家庭"),
    dict(code="cszk", name="慈善助困金", kind="cash", standard_yuan=1000.0, needs_approval=False,
         approval_from=None, notice_days=7, description="区慈善总会春节慰问困难家庭"),
]
#: Pattern (c): needs raised this many days before the demo's today in the cluster are never settled.
STALLED_DAYS = 150
#: Pattern (c): the chance that a visit in the cluster raises a need (12 % elsewhere).
CLUSTER_NEED_RATE = 0.30
#: Pattern (b): the under-served community's 情暖万家 per household (500 elsewhere).
UNDERSERVED_YUAN = 200.0
#: Pattern (b): the share of helped households given festival goods there (60 % elsewhere).
UNDERSERVED_GOODS = 0.1
#: Pattern (d): the share of the weak street's targets visited by the campaign (93 % elsewhere)
#: and the share of its everyday visits to targets moved out of the campaign's months.
WEAK_CAMPAIGN_VISITS = 0.30
WEAK_MOVED_VISITS = 0.60


@dataclass(frozen=True)
class Plants:
    """Where the patterns are (geometry in the generator's local metres).

    Attributes
    ----------
    spacing_m : float
        ``s``: the square root of the mean cell area.
    weak_street : str
        The street of pattern (d).
    underserved : str
        The community of pattern (b).
    offices : DataFrame
        ``unit, programme, funding_source, x, y, community_code, cell_id``: one row per unit of (a).
    office_cells : list of str
        Cells within ``s`` of an office.
    underserved_cells : list of str
        The under-served community's cells.
    overdue_cells : list of str
        The cells of pattern (c).
    cluster : shapely geometry
        The union of the overdue cells.
    """

    spacing_m: float
    weak_street: str
    underserved: str
    offices: pd.DataFrame
    office_cells: list[str]
    underserved_cells: list[str]
    overdue_cells: list[str]
    cluster: BaseGeometry


def _centroids(geoms: np.ndarray) -> np.ndarray:
    return shapely.get_coordinates(shapely.centroid(geoms))


def _farthest(candidates: list[int], points: np.ndarray, away_from: list[np.ndarray]) -> int:
    """The candidate whose point is farthest from the nearest of ``away_from`` (ties: the first)."""
    best, best_d = candidates[0], -1.0
    for i in candidates:
        d = min(float(np.hypot(*(points[i] - a))) for a in away_from)
        if d > best_d + 1e-9:
            best, best_d = i, d
    return best


def choose(cells: pd.DataFrame, communities: pd.DataFrame, hxy: np.ndarray, h_comm: np.ndarray,
           is_target: np.ndarray, vulnerable: np.ndarray, demo_street: str | None,
           demo_community: str | None) -> Plants:
    """Where the four patterns go: a pure function of the generated geometry and households.

    ``cells`` (``cell_id, community_code, geom``) and ``communities`` (``code, parent_code, geom``)
    are in local metres; ``hxy`` are the households' points, ``h_comm`` their community's row in
    ``communities``, ``is_target`` / ``vulnerable`` boolean arrays aligned with them.
    """
    geoms = cells["geom"].to_numpy()
    cell_ids = cells["cell_id"].astype(str).to_numpy()
    cell_comm = cells["community_code"].astype(str).to_numpy()
    spacing = float(np.sqrt(np.mean(shapely.area(geoms))))
    codes = communities["code"].astype(str).to_numpy()
    parents = communities["parent_code"].astype(str).to_numpy()
    ccent = _centroids(communities["geom"].to_numpy())

    # (d) the weak street: the most target households, not the demo committee's.
    streets = sorted(set(parents))
    per_street = pd.Series(is_target.astype(np.int64)).groupby(parents[h_comm]).sum()
    street_pool = [s for s in streets if s != demo_street] or streets
    weak = max(street_pool, key=lambda s: (int(per_street.get(s, 0)), [-ord(c) for c in s]))

    # (b) the under-served community: the largest share of vulnerable households among those with many.
    vul = np.bincount(h_comm[vulnerable], minlength=len(codes))
    hh = np.bincount(h_comm, minlength=len(codes))
    pool = [i for i in range(len(codes)) if parents[i] != weak and codes[i] != demo_community]
    pool = pool or [i for i in range(len(codes)) if codes[i] != demo_community] or list(range(len(codes)))
    many = [i for i in pool if vul[i] >= np.median(vul[pool])] or pool
    under = max(many, key=lambda i: (float(vul[i]) / max(int(hh[i]), 1), -i))

    # (a) the offices: inside the district (not on its edge), far from the under-served community and
    # from each other. Each community's candidate office is its household farthest from the district's edge.
    edge = shapely.union_all(communities["geom"].to_numpy()).boundary
    inner = ccent.copy()
    depth = np.zeros(len(codes))
    for i in range(len(codes)):
        members = np.flatnonzero(h_comm == i)
        sample = members[::max(1, len(members) // 2000)]
        if len(sample):
            dist = shapely.distance(shapely.points(hxy[sample, 0], hxy[sample, 1]), edge)
            inner[i], depth[i] = hxy[sample[int(np.argmax(dist))]], float(dist.max())
    under_geom = communities["geom"].iloc[under]
    away = [i for i in range(len(codes)) if i != under and not shapely.intersects(communities["geom"].iloc[i],
                                                                                    under_geom)]
    away = away or [i for i in range(len(codes)) if i != under] or [under]
    deep = [i for i in away if depth[i] >= 2.0 * spacing]
    if len(deep) >= len(OFFICE_UNITS):
        away = deep
    else:  # a small district: the deeper half
        away = sorted(away, key=lambda i: (-depth[i], i))[:max(len(OFFICE_UNITS), len(away) // 2)]
    office_rows = []
    chosen: list[np.ndarray] = [ccent[under]]
    used: list[int] = []
    for unit, programme, source in OFFICE_UNITS:
        cand = [i for i in away if i not in used] or away
        ci = _farthest(cand, inner, chosen)
        used.append(ci)
        xy = inner[ci]
        chosen.append(np.asarray(xy, dtype=float))
        hit = np.flatnonzero(shapely.intersects(geoms, shapely.Point(float(xy[0]), float(xy[1]))))
        office_rows.append(dict(unit=unit, programme=programme, funding_source=source, x=float(xy[0]),
                                y=float(xy[1]), community_code=codes[ci],
                                cell_id=cell_ids[hit.min()] if len(hit) else None))
    offices = pd.DataFrame(office_rows)
    ccells = _centroids(geoms)
    near = np.zeros(len(geoms), dtype=bool)
    for ox, oy in zip(offices["x"], offices["y"], strict=True):
        near |= np.hypot(ccells[:, 0] - ox, ccells[:, 1] - oy) <= 2.0 * spacing
    office_cells = sorted(cell_ids[near])
    under_cells = sorted(cell_ids[cell_comm == codes[under]])

    # (c) the overdue cluster: a populous cell far from the other plants, and up to two edge neighbours.
    tree = shapely.STRtree(geoms)
    pt_cell = np.full(len(hxy), -1)
    hp, hc = tree.query(shapely.points(hxy[:, 0], hxy[:, 1]), predicate="intersects")
    pt_cell[hp[::-1]] = hc[::-1]  # any cell holding the point; only the counts use it
    per_cell = np.bincount(pt_cell[pt_cell >= 0], minlength=len(geoms))
    taken = near | (cell_comm == codes[under])
    big = per_cell >= np.median(per_cell)

    def neighbours(j: int) -> list[int]:
        """Edge neighbours of cell ``j`` that may join the cluster, most households first."""
        out = [int(i) for i in tree.query(geoms[j], predicate="intersects") if i != j and not taken[i] and big[i]
               and shapely.length(shapely.intersection(geoms[i], geoms[j])) > 1.0]
        return sorted(out, key=lambda i: (-int(per_cell[i]), cell_ids[i]))

    free = [j for j in range(len(geoms)) if not taken[j] and big[j]]
    ok = [j for j in free if len(neighbours(j)) >= 2] or free
    ok = ok or [j for j in range(len(geoms)) if not taken[j]] or list(range(len(geoms)))
    seed = _farthest(ok, ccells, chosen)
    cluster_idx = [seed, *neighbours(seed)[:2]]
    return Plants(spacing_m=spacing, weak_street=weak, underserved=codes[under], offices=offices,
                  office_cells=office_cells, underserved_cells=under_cells,
                  overdue_cells=sorted(cell_ids[cluster_idx]),
                  cluster=shapely.union_all(geoms[cluster_idx]))


def office_chance(d: np.ndarray, spacing: float) -> np.ndarray:
    """Pattern (a)'s chance that a target household at distance ``d`` from the office is given to:
    ``exp(-(d / 1.5 s)² / 2)`` up to ``2.5 s``, 0 beyond."""
    d = np.asarray(d, dtype=float)
    return np.where(d <= 2.5 * spacing, np.exp(-0.5 * (d / (1.5 * spacing)) ** 2), 0.0)


def office_amount(d: np.ndarray, spacing: float) -> np.ndarray:
    """Pattern (a)'s gift at distance ``d`` from the office: ``1000 - 600 d / 2.5 s`` yuan, rounded to 50."""
    d = np.minimum(np.asarray(d, dtype=float), 2.5 * spacing)
    return np.round((1000.0 - 600.0 * d / (2.5 * spacing)) / 50.0) * 50.0


def office_aid(rng: np.random.Generator, plants: Plants, hxy: np.ndarray, targets: np.ndarray,
               excluded: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Pattern (a): for each unit of :attr:`Plants.offices`, the target households it gives to
    (indices into ``hxy``) and the amounts. ``targets`` are candidate indices; ``excluded`` a
    boolean mask over all households (the under-served community) that no unit reaches."""
    out: list[tuple[int, np.ndarray, np.ndarray]] = []
    cand = targets[~excluded[targets]]
    for row in plants.offices.itertuples(index=False):
        d = np.hypot(hxy[cand, 0] - row.x, hxy[cand, 1] - row.y)
        gives = rng.random(len(cand)) < office_chance(d, plants.spacing_m)
        out.append((len(out), cand[gives], office_amount(d[gives], plants.spacing_m)))
    return out


def shift_weak_visits(rng: np.random.Generator, visited_at: np.ndarray, weak_target: np.ndarray,
                      start: date, end: date, as_of: date) -> np.ndarray:
    """Pattern (d): :data:`WEAK_MOVED_VISITS` of the everyday visits to the weak street's targets
    that fall in the campaign's months move 150 days later (``weak_target`` marks those visits),
    unless that would pass the demo's today ``as_of``."""
    at = np.asarray(visited_at).astype("datetime64[m]")
    lo = np.datetime64(start.isoformat(), "m")
    hi = np.datetime64(end.isoformat(), "m") + np.timedelta64(24 * 60, "m")
    inside = weak_target & (at >= lo) & (at < hi)
    later = at + np.timedelta64(150 * 24 * 60, "m")
    move = inside & (rng.random(len(at)) < WEAK_MOVED_VISITS) & (later < np.datetime64(as_of.isoformat(), "m"))
    return np.where(move, later, at)
