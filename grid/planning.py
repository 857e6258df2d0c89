"""Visit plans (走访计划): who visits whom, and in what walking order.

A street party committee plans a campaign's visits (干部包户): every target
household in an area is given to exactly one visitor (a cadre, party member or
grid warden), each visitor takes between a minimum and a maximum number of
households, each visitor's households lie close together, and each visitor
gets a walking order from their starting point (office, 党群服务站) with the
length of every leg in metres. The plan is saved in ``plans`` /
``plan_visitors`` / ``plan_items``, printed as one A4 visit sheet per visitor,
and followed up by counting visits made since the planning date.

How households are shared out (:func:`assign`)
----------------------------------------------
A capacitated clustering, solved as a sequence of min-cost flows:

1. **Seeds.** k-means (``scipy.cluster.vq.kmeans2``, k-means++ start, fixed
   seed) places one centre per visitor over the households; the centres are
   matched one-to-one to visitors by the Hungarian method on the distance
   from each visitor's start (or, for a visitor with kept pairings, from the
   centre of their paired households). Seeding from households rather than
   from start points matters: several visitors usually share one start (the
   community's 党群服务站), and a start cannot tell them apart.
2. **Capacitated assignment.** An OR-Tools ``SimpleMinCostFlow`` sends one
   unit from visitors to every household, visitor ``v`` sending between
   ``min`` and ``max`` units (node supply ``min``, plus up to ``max - min``
   from a common source). The cost of household ``h`` for visitor ``v`` is
   ``d(h, centre_v) + 0.25 * d(h, start_v)`` in metres: compact groups,
   pulled towards the visitor's own start. Only each household's 32 cheapest
   visitors get an arc (the flow on 5,000 x 200 takes 0.1 s instead of 0.6 s);
   when that sparse network has no feasible flow, the candidate lists double
   until it has (at worst: every pair).
3. **Lloyd steps.** Each centre moves to the mean of its households and the
   flow is solved again, until the assignment stops changing (at most 8
   rounds). This is capacitated k-means with a linear cost.

Measured on 5,000 households and 200 visitors (``bench/planning.py``): the
assignment takes about 1 s and the plan walks 22x less than a round-robin
split and 1.5x less than the same flow on the start distance alone. The
start weight (0 to 1) and more rounds (30) change the total by 3 % at most;
a swap search between neighbouring routes on the real route lengths gained
0.8 % for 5 s more and is not used.

Kept pairings (帮扶对子) are fixed first and count towards their visitor's
minimum and maximum. The priority of a household (:func:`priority_order`)
does not change who visits it — every household is assigned — but it is a
column of the plan and marks the households to see first on the sheets.

How a route is found (:func:`route`)
------------------------------------
An open path from the start through every household, no return: up to
``exact_max`` (8) households the exact optimum by dynamic programming
(Held-Karp); beyond, OR-Tools routing (``PATH_CHEAPEST_ARC`` then
``GUIDED_LOCAL_SEARCH``; a dummy end node reached at zero cost makes the tour
an open path; distances in centimetres as integers), stopped after ``5 n``
solutions (deterministic) or a time limit of ``10 ms x n`` clamped to
0.05..1 s, whichever comes first. The nearest-neighbour tour from the start
is computed too and the shorter of the two is kept, so a route is never
longer than it. Distances are straight lines in the district's metric
projection (UTM), a lower bound of the walk on streets.

Frames in, frames out: :func:`assign`, :func:`route` and
:func:`priority_order` do no I/O. :func:`make_plan` reads a store and returns
a :class:`Plan`; :func:`save_plan`, :func:`load_plan`,
:func:`move_household` and :func:`plan_progress` read and write plans;
:func:`visit_sheets_xlsx` prints them; :func:`cli_plan` is the JSON of
``python -m grid plan``. ``bench/planning.py`` measures 5,000 households
and 200 visitors.

Examples
--------
>>> import numpy as np, pandas as pd
>>> order, legs, total = route((0.0, 0.0), np.array([[30.0, 0.0], [10.0, 0.0], [20.0, 0.0]]))
>>> order.tolist(), legs.tolist(), total
([1, 2, 0], [10.0, 10.0, 10.0], 30.0)
>>> hh = pd.DataFrame({"hh_id": ["a", "b", "c", "d"], "x_m": [0.0, 1.0, 100.0, 101.0], "y_m": [0.0] * 4})
>>> vis = pd.DataFrame({"visitor_id": ["v1", "v2"], "x_m": [0.0, 100.0], "y_m": [0.0, 0.0]})
>>> assign(hh, vis, 2, 2)["visitor_id"].tolist()
['v1', 'v1', 'v2', 'v2']
"""

from __future__ import annotations

import math
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from grid import audit, model
from grid import crs as crs_mod
from grid.access import Actor, Scope, allowed, cells_in_scope, ensure, mask_households
from grid.errors import WarmGridError
from grid.sheetsafe import save_workbook
from grid.store import Store
from grid.visits import due_visits

__all__ = [
    "VISITOR_ROLES",
    "ITEM_COLUMNS",
    "VISITOR_COLUMNS",
    "SHEET_COLUMNS",
    "PlanInfeasibleError",
    "Plan",
    "plan_bounds",
    "assign",
    "route",
    "route_length",
    "nearest_neighbour_route",
    "priority_order",
    "load_targets",
    "load_visitors",
    "make_plan",
    "save_plan",
    "load_plan",
    "move_household",
    "plan_progress",
    "visit_sheets_xlsx",
    "cli_plan",
    "visit_sheets_bytes",
    "list_plans",
    "plan_points",
    "START_SOURCES",
    "suggest_bounds",
    "plan_setup",
]

#: Roles of the people who visit by default (``people.role``).
VISITOR_ROLES: tuple[str, ...] = ("cadre", "party_member", "warden")

#: Columns of :attr:`Plan.items`, one row per household, in walking order per visitor.
ITEM_COLUMNS: tuple[str, ...] = (
    "visitor_id", "seq", "hh_id", "leg_m", "cum_m", "address", "head_name", "cell_id", "size",
    "categories", "last_visit", "days_since", "open_needs", "five_must", "urgent", "priority",
    "paired", "x_m", "y_m",
)

#: Columns of :attr:`Plan.visitors`, one row per visitor.
VISITOR_COLUMNS: tuple[str, ...] = (
    "visitor_id", "name", "role", "unit_code", "lon", "lat", "x_m", "y_m", "start_source",
    "households", "route_m",
)

#: The columns of a printed visit sheet.
SHEET_COLUMNS: tuple[str, ...] = ("序号", "户编号", "户主", "电话", "地址", "类别", "上次走访", "走访时间",
                                  "物品/金额", "签名", "备注")
#: Column widths of a visit sheet (characters), A4 landscape.
_SHEET_WIDTHS: tuple[int, ...] = (5, 10, 9, 13, 28, 16, 11, 12, 13, 10, 12)
#: The columns left blank on a visit sheet, for the visitor to fill in at the door.
SHEET_BLANK: tuple[str, ...] = ("走访时间", "物品/金额", "签名", "备注")

#: Cost weight of the distance from a visitor's start (see the module notes).
_START_WEIGHT = 0.25
#: Candidate visitors per household in the sparse flow network.
_CANDIDATES = 32
#: Lloyd rounds of the capacitated clustering.
_ROUNDS = 8
#: OR-Tools works in integers: centimetres.
_CM = 100.0


class PlanInfeasibleError(WarmGridError):
    """The households cannot be shared out within the minimum and maximum.

    Attributes ``n_households``, ``n_visitors``, ``min_per`` and ``max_per``
    hold the numbers of the message.
    """

    def __init__(self, zh: str, en: str, *, n_households: int, n_visitors: int,
                 min_per: int | None, max_per: int | None) -> None:
        super().__init__(zh, en)
        self.n_households = n_households
        self.n_visitors = n_visitors
        self.min_per = min_per
        self.max_per = max_per


@dataclass
class Plan:
    """A visit plan: households per visitor in walking order.

    Attributes
    ----------
    campaign_id, campaign_name : str
    area_code, area_name : str
        The street or community planned.
    planning_date : date
        Visits on or after this day count as progress; "last visit" is the
        last one before it.
    min_per, max_per : int
        The bounds on households per visitor that the plan respects.
    items : DataFrame
        :data:`ITEM_COLUMNS`: per visitor (in ``visitors`` order), the
        households in walking order: ``seq`` (1, 2, ...), ``leg_m`` (metres
        from the previous stop, or from the start for ``seq`` 1), ``cum_m``;
        the household's ``address, head_name, cell_id, size, categories``
        (codes); ``last_visit`` (before the planning date, NaT if never),
        ``days_since``, ``open_needs``, ``five_must`` (a 五必访 category),
        ``urgent`` (five_must, an open need or never visited: starred on the
        sheet) and ``priority`` (1 = first in the area, by
        :func:`priority_order`); ``paired`` (kept from a pairing); ``x_m, y_m``.
    visitors : DataFrame
        :data:`VISITOR_COLUMNS`: start point (``lon, lat`` WGS84, ``x_m, y_m``
        metric; ``start_source``: ``own`` from ``people.geom``, ``station``
        the unit's 党群服务站, ``unit`` the unit's centroid, ``given``),
        ``households`` and ``route_m``.
    plan_id : str or None
        Set once saved (:func:`save_plan`).
    created_by : str or None
    metric_crs : str
        The CRS of ``x_m, y_m`` (the store's UTM zone).
    """

    campaign_id: str
    campaign_name: str
    area_code: str
    area_name: str
    planning_date: date
    min_per: int
    max_per: int
    items: pd.DataFrame
    visitors: pd.DataFrame
    plan_id: str | None = None
    created_by: str | None = None
    metric_crs: str = field(default="", repr=False)

    @property
    def total_m(self) -> float:
        """Total walking distance of every route, in metres."""
        return float(self.visitors["route_m"].sum()) if len(self.visitors) else 0.0

    def route_of(self, visitor_id: str) -> list[str]:
        """The household ids of one visitor, in walking order."""
        sel = self.items[self.items["visitor_id"] == visitor_id].sort_values("seq")
        return [str(h) for h in sel["hh_id"]]


# =========================================================================== bounds
#: Where a visitor's route starts (``start_source`` of :func:`load_visitors`), in words.
START_SOURCES: dict[str, str] = {"own": "本人位置", "given": "指定起点", "station": "所属党群服务站",
                                 "unit": "所属单位中心"}


def suggest_bounds(n_households: int, n_visitors: int) -> tuple[int, int]:
    """Workable bounds on households per visitor: about 80 % to 125 % of an even share.

    Always feasible for :func:`plan_bounds` (``v x min <= n <= v x max``, a maximum of at least 1),
    so a plan made with them never fails on the numbers, while still leaving the clustering
    room to keep each visitor's households together.

    Examples
    --------
    >>> suggest_bounds(179, 25)
    (5, 9)
    >>> suggest_bounds(3, 8)
    (0, 1)
    >>> lo, hi = suggest_bounds(100, 8); plan_bounds(100, 8, lo, hi) == (lo, hi)
    True
    """
    n, v = max(int(n_households), 0), max(int(n_visitors), 1)
    return (4 * n) // (5 * v), max(1, -(-(5 * n) // (4 * v)))


def plan_bounds(n_households: int, n_visitors: int, min_per: int | None = None,
                max_per: int | None = None) -> tuple[int, int]:
    """The bounds on households per visitor, checked against the numbers.

    Parameters
    ----------
    n_households, n_visitors : int
    min_per, max_per : int, optional
        When both are missing, an even split: each visitor takes
        ``floor(n / v)`` to ``ceil(n / v)`` households. When one is missing,
        that side is unbounded (minimum 0, maximum ``n``).

    Returns
    -------
    (int, int)
        The minimum and maximum actually used.

    Raises
    ------
    PlanInfeasibleError
        With the numbers, in Chinese and English: no visitors, no households,
        a negative minimum, a maximum below 1, a minimum above the maximum,
        fewer households than visitors x minimum (e.g. more visitors than
        households with a minimum of 1), or more than visitors x maximum.

    Examples
    --------
    >>> plan_bounds(100, 8)
    (12, 13)
    >>> plan_bounds(100, 8, min_per=10)
    (10, 100)
    >>> plan_bounds(5, 8, min_per=1)
    Traceback (most recent call last):
    ...
    grid.planning.PlanInfeasibleError: 目标户 5 户少于 8 名走访人 × 每人至少 1 户 = 8 户（走访人比目标户多）；每人最少户数至多可设为 0，或减少走访人。
    5 target households are fewer than 8 visitors × at least 1 each = 8 (more visitors than households); set the minimum to at most 0, or use fewer visitors.
    """
    n, v = int(n_households), int(n_visitors)

    def fail(zh: str, en: str) -> PlanInfeasibleError:
        return PlanInfeasibleError(zh, en, n_households=n, n_visitors=v, min_per=min_per, max_per=max_per)

    if v <= 0:
        raise fail(f"没有走访人（目标户 {n} 户），无法制定走访计划。",
                   f"there are no visitors ({n} target households); no plan can be made.")
    if n <= 0:
        raise fail(f"区域内没有该活动的目标户（走访人 {v} 名），无需制定走访计划。",
                   f"the area holds no target households of this campaign ({v} visitors); there is nothing to plan.")
    if min_per is not None and min_per < 0:
        raise fail(f"每人最少户数不能为负数：{min_per}", f"the minimum per visitor cannot be negative: {min_per}")
    if max_per is not None and max_per < 1:
        raise fail(f"每人最多户数至少为 1：{max_per}", f"the maximum per visitor must be at least 1: {max_per}")
    if min_per is not None and max_per is not None and min_per > max_per:
        raise fail(f"每人最少户数 {min_per} 大于最多户数 {max_per}。",
                   f"the minimum per visitor ({min_per}) is above the maximum ({max_per}).")
    if min_per is None and max_per is None:
        lo, hi = n // v, -(-n // v)
    else:
        lo = 0 if min_per is None else int(min_per)
        hi = max(n, lo, 1) if max_per is None else int(max_per)
    if n < v * lo:
        more = "（走访人比目标户多）" if v > n else ""
        more_en = " (more visitors than households)" if v > n else ""
        raise fail(
            f"目标户 {n} 户少于 {v} 名走访人 × 每人至少 {lo} 户 = {v * lo} 户{more}；"
            f"每人最少户数至多可设为 {n // v}，或减少走访人。",
            f"{n} target households are fewer than {v} visitors × at least {lo} each = {v * lo}{more_en}; "
            f"set the minimum to at most {n // v}, or use fewer visitors.")
    if n > v * hi:
        raise fail(
            f"目标户 {n} 户多于 {v} 名走访人 × 每人至多 {hi} 户 = {v * hi} 户；"
            f"请把每人最多户数提高到至少 {-(-n // v)} 或增加走访人。",
            f"{n} target households are more than {v} visitors × at most {hi} each = {v * hi}; "
            f"raise the maximum to at least {-(-n // v)} or add visitors.")
    return lo, hi


# =========================================================================== assignment
def _check_columns(df: pd.DataFrame, name: str, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise WarmGridError(f"{name} 缺少列：{missing}", f"{name} lacks columns: {missing}")


def _xy(df: pd.DataFrame, name: str) -> np.ndarray:
    xy = df[["x_m", "y_m"]].to_numpy(dtype=float)
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        ids = df.iloc[np.flatnonzero(bad)[:5], 0].tolist()
        raise WarmGridError(f"{name} 中有 {int(bad.sum())} 行没有坐标（例如 {ids}）",
                            f"{int(bad.sum())} rows of {name} have no coordinates (e.g. {ids})")
    return xy


def _flow(n_vis: int, n_hh: int, rows: np.ndarray, cols: np.ndarray, cost: np.ndarray,
          lo: np.ndarray, hi: np.ndarray) -> np.ndarray | None:
    """Min-cost flow: visitor index per household, or None if infeasible on these arcs."""
    from ortools.graph.python import min_cost_flow

    mcf = min_cost_flow.SimpleMinCostFlow()
    # Nodes: 0 source, 1..n_vis visitors, n_vis+1.. households.
    vis_nodes = np.arange(1, n_vis + 1, dtype=np.int32)
    mcf.add_arcs_with_capacity_and_unit_cost(
        np.zeros(n_vis, dtype=np.int32), vis_nodes, (hi - lo).astype(np.int64), np.zeros(n_vis, dtype=np.int64))
    first = mcf.add_arcs_with_capacity_and_unit_cost(
        (rows + 1).astype(np.int32), (cols + n_vis + 1).astype(np.int32),
        np.ones(len(rows), dtype=np.int64), np.rint(cost * 10.0).astype(np.int64))
    supplies = np.concatenate([[n_hh - int(lo.sum())], lo, -np.ones(n_hh, dtype=np.int64)]).astype(np.int64)
    mcf.set_nodes_supplies(np.arange(n_vis + n_hh + 1, dtype=np.int32), supplies)
    status = mcf.solve()
    if status != mcf.OPTIMAL:
        return None
    used = mcf.flows(np.asarray(first)) > 0
    out = np.full(n_hh, -1, dtype=np.int64)
    out[cols[used]] = rows[used]
    return out if (out >= 0).all() else None


def _solve_capacitated(hxy: np.ndarray, centres: np.ndarray, starts: np.ndarray, lo: np.ndarray,
                       hi: np.ndarray) -> np.ndarray:
    """One capacitated assignment for the given centres (sparse arcs, densified if needed)."""
    n_hh, n_vis = len(hxy), len(centres)
    k = min(n_vis, _CANDIDATES)
    while True:
        if k >= n_vis:
            rows = np.repeat(np.arange(n_vis), n_hh)
            cols = np.tile(np.arange(n_hh), n_vis)
        else:
            # Candidates: the k nearest centres, plus the k nearest starts (a household
            # near a start whose centre drifted away keeps that visitor within reach).
            _, near_c = cKDTree(centres).query(hxy, k=k)
            _, near_s = cKDTree(starts).query(hxy, k=min(k, n_vis))
            both = np.concatenate([np.asarray(near_c).reshape(n_hh, -1), np.asarray(near_s).reshape(n_hh, -1)], axis=1)
            both.sort(axis=1)
            keep = np.ones_like(both, dtype=bool)
            keep[:, 1:] = both[:, 1:] != both[:, :-1]
            cols = np.repeat(np.arange(n_hh), keep.sum(axis=1))
            rows = both[keep]
        cost = (np.hypot(*(hxy[cols] - centres[rows]).T)
                + _START_WEIGHT * np.hypot(*(hxy[cols] - starts[rows]).T))
        got = _flow(n_vis, n_hh, rows, cols, cost, lo, hi)
        if got is not None:
            return got
        if k >= n_vis:  # pragma: no cover - the bounds were checked: a dense network is feasible
            raise WarmGridError("无法按每人户数限制分配目标户", "no assignment within the bounds per visitor exists")
        k = min(n_vis, 2 * k)


def assign(households: pd.DataFrame, visitors: pd.DataFrame, min_per: int | None = None,
           max_per: int | None = None, pairings: pd.DataFrame | None = None, keep_pairings: bool = True,
           *, seed: int = 0, rounds: int = _ROUNDS) -> pd.DataFrame:
    """Give every household to exactly one visitor, in compact groups within the bounds.

    Parameters
    ----------
    households : DataFrame
        ``hh_id, x_m, y_m`` (metric coordinates) and any other columns (the
        priority columns are carried by :func:`make_plan`, not used here).
    visitors : DataFrame
        ``visitor_id, x_m, y_m``: each visitor's starting point.
    min_per, max_per : int, optional
        Households per visitor; see :func:`plan_bounds` for the defaults.
    pairings : DataFrame, optional
        ``visitor_id, hh_id``: existing pairings (帮扶对子). With
        ``keep_pairings`` each paired household stays with its visitor (and
        counts towards their bounds); pairings of unknown households or
        visitors are ignored; a household paired twice goes to the first
        listed visitor of ``visitors``.
    keep_pairings : bool
        False: plan as if there were no pairings.
    seed : int
        Seed of the k-means start (the result is deterministic).
    rounds : int
        Lloyd rounds (0: one flow on the seeded centres).

    Returns
    -------
    DataFrame
        ``hh_id, visitor_id, paired``, one row per household, in the order of
        ``households``.

    Raises
    ------
    PlanInfeasibleError
        When the bounds cannot be met (:func:`plan_bounds`), or a visitor's
        kept pairings already exceed the maximum, or the pairings leave the
        others unable to meet their minimum.
    WarmGridError
        For missing columns or coordinates, or duplicate ids.
    """
    _check_columns(households, "households", ("hh_id", "x_m", "y_m"))
    _check_columns(visitors, "visitors", ("visitor_id", "x_m", "y_m"))
    hids = households["hh_id"].astype(str).to_numpy()
    vids = visitors["visitor_id"].astype(str).to_numpy()
    for name, ids in (("households", hids), ("visitors", vids)):
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].unique().tolist()
        if dup:
            raise WarmGridError(f"{name} 中有重复编号：{dup[:5]}", f"{name} has duplicate ids: {dup[:5]}")
    n, v = len(hids), len(vids)
    lo_all, hi_all = plan_bounds(n, v, min_per, max_per)
    hxy = _xy(households, "households")
    sxy = _xy(visitors, "visitors")

    # -- kept pairings --------------------------------------------------------------
    fixed = np.full(n, -1, dtype=np.int64)
    if keep_pairings and pairings is not None and len(pairings):
        _check_columns(pairings, "pairings", ("visitor_id", "hh_id"))
        vpos = pd.Series(np.arange(v), index=vids)
        hpos = pd.Series(np.arange(n), index=hids)
        p = pairings[["visitor_id", "hh_id"]].astype(str)
        p = p[p["visitor_id"].isin(vpos.index) & p["hh_id"].isin(hpos.index)]
        p = p.assign(_v=p["visitor_id"].map(vpos), _h=p["hh_id"].map(hpos)).sort_values(["_h", "_v"])
        p = p.drop_duplicates("_h")
        fixed[p["_h"].to_numpy(dtype=np.int64)] = p["_v"].to_numpy(dtype=np.int64)
    nfix = np.bincount(fixed[fixed >= 0], minlength=v)
    over = np.flatnonzero(nfix > hi_all)
    if len(over):
        who = ", ".join(f"{vids[i]}（{nfix[i]}）" for i in over[:5])
        who_en = ", ".join(f"{vids[i]} ({nfix[i]})" for i in over[:5])
        raise PlanInfeasibleError(
            f"保留的帮扶对子超过每人最多 {hi_all} 户：{who}；请提高最多户数或不保留对子。",
            f"kept pairings exceed the maximum of {hi_all} per visitor: {who_en}; raise the maximum or "
            "do not keep pairings.", n_households=n, n_visitors=v, min_per=min_per, max_per=max_per)
    free = np.flatnonzero(fixed < 0)
    lo = np.maximum(0, lo_all - nfix).astype(np.int64)
    hi = (hi_all - nfix).astype(np.int64)
    if not lo.sum() <= len(free) <= hi.sum():
        raise PlanInfeasibleError(
            f"保留 {n - len(free)} 户帮扶对子后，剩余 {len(free)} 户无法在每人 {lo_all}–{hi_all} 户的限制下分配"
            f"（还需 {int(lo.sum())}–{int(hi.sum())} 户）；请调整户数限制或不保留对子。",
            f"after keeping {n - len(free)} paired households, the other {len(free)} cannot be shared out "
            f"within {lo_all}–{hi_all} per visitor ({int(lo.sum())}–{int(hi.sum())} are needed); change the "
            "bounds or do not keep pairings.", n_households=n, n_visitors=v, min_per=min_per, max_per=max_per)

    result = fixed.copy()
    if len(free):
        fxy = hxy[free]
        # -- seeds: k-means centres matched to visitors ------------------------------
        anchor = sxy.copy()
        for i in np.flatnonzero(nfix):
            anchor[i] = hxy[fixed == i].mean(axis=0)
        centres = anchor.copy()
        k = min(v, len(np.unique(np.round(fxy, 1), axis=0)))
        if k >= 2:
            rng = np.random.default_rng(seed)
            with warnings.catch_warnings():  # an empty cluster is fine: the flow fills every visitor
                warnings.simplefilter("ignore")
                seeds, _ = kmeans2(fxy, k, iter=10, minit="++", seed=rng)
        else:
            seeds = fxy.mean(axis=0, keepdims=True)
        dist = np.hypot(anchor[:, None, 0] - seeds[None, :, 0], anchor[:, None, 1] - seeds[None, :, 1])
        vi, ci = linear_sum_assignment(dist)
        centres[vi] = seeds[ci]
        # -- Lloyd rounds of capacitated assignment ----------------------------------
        prev: np.ndarray | None = None
        for _ in range(max(0, rounds) + 1):
            got = _solve_capacitated(fxy, centres, sxy, lo, hi)
            if prev is not None and np.array_equal(got, prev):
                break
            prev = got
            sums = np.zeros((v, 2))
            np.add.at(sums, got, fxy)
            fixed_sum = np.zeros((v, 2))
            if nfix.any():
                np.add.at(fixed_sum, fixed[fixed >= 0], hxy[fixed >= 0])
            count = np.bincount(got, minlength=v) + nfix
            has = count > 0
            centres[has] = (sums[has] + fixed_sum[has]) / count[has, None]
        assert prev is not None
        result[free] = prev
    return pd.DataFrame({"hh_id": households["hh_id"].to_numpy(), "visitor_id": vids[result],
                         "paired": fixed >= 0})


# =========================================================================== routing
def route_length(start_xy: Sequence[float] | np.ndarray, points_xy: np.ndarray, order: Sequence[int] | np.ndarray
                 ) -> float:
    """Length in metres of the open path start -> points[order[0]] -> ... (no return)."""
    pts = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    idx = np.asarray(order, dtype=np.int64)
    if len(idx) == 0:
        return 0.0
    path = np.vstack([np.asarray(start_xy, dtype=float).reshape(1, 2), pts[idx]])
    return float(np.hypot(*np.diff(path, axis=0).T).sum())


def nearest_neighbour_route(start_xy: Sequence[float] | np.ndarray, points_xy: np.ndarray) -> np.ndarray:
    """The nearest-neighbour tour from the start: always to the nearest unvisited point."""
    pts = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    n = len(pts)
    left = np.ones(n, dtype=bool)
    here = np.asarray(start_xy, dtype=float).reshape(2)
    order = np.empty(n, dtype=np.int64)
    for k in range(n):
        d = np.hypot(pts[:, 0] - here[0], pts[:, 1] - here[1])
        d[~left] = np.inf
        j = int(np.argmin(d))
        order[k] = j
        left[j] = False
        here = pts[j]
    return order


def _distance_matrix(xy: np.ndarray) -> np.ndarray:
    return np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])


def _exact_route(start_xy: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Held-Karp: the shortest open path from the start through every point (small n)."""
    n = len(pts)
    d = _distance_matrix(pts)
    d0 = np.hypot(pts[:, 0] - start_xy[0], pts[:, 1] - start_xy[1])
    full = 1 << n
    dp = np.full((full, n), np.inf)
    parent = np.full((full, n), -1, dtype=np.int64)
    for j in range(n):
        dp[1 << j, j] = d0[j]
    bits = 1 << np.arange(n)
    for mask in range(1, full):
        js = np.flatnonzero(mask & bits)
        if len(js) < 2:
            continue
        prevs = mask ^ bits[js]
        cand = dp[prevs] + d[:, js].T  # (len(js), n): arrive at j from i
        best = np.argmin(cand, axis=1)
        dp[mask, js] = cand[np.arange(len(js)), best]
        parent[mask, js] = best
    mask = full - 1
    j = int(np.argmin(dp[mask]))
    order = []
    while j >= 0:
        order.append(j)
        nxt = int(parent[mask, j])
        mask ^= 1 << j
        j = nxt
    return np.asarray(order[::-1], dtype=np.int64)


def _ortools_route(start_xy: np.ndarray, pts: np.ndarray, time_limit_s: float | None) -> np.ndarray:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(pts)
    xy = np.vstack([start_xy.reshape(1, 2), pts])
    m = np.zeros((n + 2, n + 2), dtype=np.int64)  # node n + 1: the dummy end, reached at zero cost
    m[: n + 1, : n + 1] = np.rint(_distance_matrix(xy) * _CM).astype(np.int64)
    manager = pywrapcp.RoutingIndexManager(n + 2, 1, [0], [n + 1])
    routing = pywrapcp.RoutingModel(manager)
    transit = routing.RegisterTransitMatrix(m.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    limit = time_limit_s if time_limit_s is not None else min(1.0, max(0.05, 0.01 * n))
    params.time_limit.FromMilliseconds(max(1, int(round(limit * 1000))))
    if time_limit_s is None:
        params.solution_limit = 5 * n
    solution = routing.SolveWithParameters(params)
    if solution is None:  # pragma: no cover - a single open path always has a solution
        return nearest_neighbour_route(start_xy, pts)
    order = []
    index = routing.Start(0)
    while not routing.IsEnd(index):
        node = manager.IndexToNode(index)
        if 1 <= node <= n:
            order.append(node - 1)
        index = solution.Value(routing.NextVar(index))
    return np.asarray(order, dtype=np.int64)


def route(start_xy: Sequence[float] | np.ndarray, points_xy: np.ndarray, *, time_limit_s: float | None = None,
          exact_max: int = 8) -> tuple[np.ndarray, np.ndarray, float]:
    """A walking order through the points from the start (an open path: no return).

    Parameters
    ----------
    start_xy : (x, y)
        The start, in metres (metric coordinates).
    points_xy : array (n, 2)
        The households, in metres.
    time_limit_s : float, optional
        OR-Tools search time per route. Default: stop after ``5 n`` solutions
        or ``10 ms x n`` (clamped to 0.05..1 s), whichever comes first.
    exact_max : int
        Up to this many points the exact optimum (Held-Karp) is used instead
        of OR-Tools (0: always OR-Tools).

    Returns
    -------
    order : ndarray of int
        Indices into ``points_xy`` in walking order.
    legs_m : ndarray of float
        Length of each leg: ``legs_m[k]`` leads to ``points_xy[order[k]]``
        (from the start for ``k = 0``).
    total_m : float
        The route's length; never more than the nearest-neighbour tour's.
    """
    start = np.asarray(start_xy, dtype=float).reshape(2)
    pts = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    n = len(pts)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), 0.0
    if not (np.isfinite(start).all() and np.isfinite(pts).all()):
        raise WarmGridError("路线的起点或住户缺少坐标", "the route's start or a household has no coordinates")
    nn = nearest_neighbour_route(start, pts)
    if n <= max(2, exact_max):
        best = _exact_route(start, pts)
    else:
        best = _ortools_route(start, pts, time_limit_s)
    if sorted(best.tolist()) != list(range(n)) or route_length(start, pts, nn) < route_length(start, pts, best):
        best = nn
    path = np.vstack([start.reshape(1, 2), pts[best]])
    legs = np.hypot(*np.diff(path, axis=0).T)
    return best, legs, float(legs.sum())


# =========================================================================== priority
def priority_order(households: pd.DataFrame, last_visits: pd.DataFrame, open_needs: pd.DataFrame,
                   as_of: date | datetime | str) -> pd.DataFrame:
    """The visiting priority of households (the order of :func:`grid.visits.due_visits`).

    The 五必访 groups first, then never visited, then the longest since the
    last visit, then the most open needs, then the largest households.

    Parameters
    ----------
    households : DataFrame
        ``hh_id, categories, size``.
    last_visits : DataFrame
        ``hh_id, last_visit`` (before ``as_of``).
    open_needs : DataFrame
        ``hh_id, open_needs``.
    as_of : date
        The planning date.

    Returns
    -------
    DataFrame
        ``hh_id, priority`` (1 = first), ``five_must``, ``last_visit``,
        ``days_since``, ``open_needs``, ``urgent`` (五必访, an open need, or
        never visited), in the order of ``households``.

    Examples
    --------
    >>> hh = pd.DataFrame({"hh_id": ["a", "b", "c"], "categories": [["disabled"], ["tekun"], ["disabled"]],
    ...                    "size": [1, 1, 3]})
    >>> lv = pd.DataFrame({"hh_id": ["a", "c"], "last_visit": pd.to_datetime(["2026-01-01", "2026-01-01"])})
    >>> priority_order(hh, lv, pd.DataFrame({"hh_id": [], "open_needs": []}), "2026-11-01")["priority"].tolist()
    [3, 1, 2]
    """
    _check_columns(households, "households", ("hh_id", "categories", "size"))
    base = households[["hh_id", "categories", "size"]].copy()
    ranked = due_visits(base, last_visits, open_needs, as_of, targets=tuple(model.HARDSHIP))
    ranked["priority"] = np.arange(1, len(ranked) + 1)
    ranked["urgent"] = ranked["five_must"] | (ranked["open_needs"] > 0) | ranked["last_visit"].isna()
    cols = ["hh_id", "priority", "five_must", "last_visit", "days_since", "open_needs", "urgent"]
    return base[["hh_id"]].merge(ranked[cols], on="hh_id", how="left")


# =========================================================================== reading
def _as_list(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [str(c) for c in value]


def _as_date(value: date | datetime | str | None) -> date:
    if value is None:
        return date.today()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def _campaign(store: Store, campaign_id: str) -> dict[str, Any]:
    df = store.query("SELECT campaign_id, name, unit_code, target_categories FROM campaigns WHERE campaign_id = ?",
                     [campaign_id])
    if df.empty:
        raise WarmGridError(f"未知的活动编号：{campaign_id}", f"unknown campaign id: {campaign_id}")
    row = df.iloc[0]
    return {"campaign_id": str(row["campaign_id"]), "name": str(row["name"]), "unit_code": str(row["unit_code"]),
            "target_categories": _as_list(row["target_categories"])}


def _area(store: Store, area_code: str, campaign: dict[str, Any] | None = None) -> dict[str, Any]:
    code = str(area_code).strip()
    df = store.query("SELECT code, name, level FROM admin_units WHERE code = ?", [code])
    if df.empty:
        raise WarmGridError(f"区域 {code} 不是已知的行政区划代码（街道或社区，12位）",
                            f"area {code} is not a known admin unit code (a street or community, 12 digits)")
    if campaign is not None:
        up = store.query(
            "WITH RECURSIVE up(code, depth) AS (SELECT ?::TEXT, 0 UNION ALL SELECT a.parent_code, up.depth + 1"
            " FROM up JOIN admin_units a ON a.code = up.code WHERE a.parent_code IS NOT NULL AND up.depth < 8)"
            " SELECT code FROM up", [code])
        unit = campaign["unit_code"]
        inside = unit in set(up["code"].astype(str))
        if not inside:
            raise WarmGridError(
                f"区域 {code} 不在活动 {campaign['campaign_id']} 的单位 {unit} 范围内",
                f"area {code} is outside the unit {unit} of campaign {campaign['campaign_id']}")
    row = df.iloc[0]
    return {"code": str(row["code"]), "name": str(row["name"]), "level": str(row["level"])}


_AREA_DOWN = ("WITH RECURSIVE area_down(code) AS (SELECT $area::TEXT UNION SELECT a.code FROM admin_units a"
              " JOIN area_down d ON a.parent_code = d.code)")

#: Target households: active, categories meeting the targets, placed in the area by
#: their cell's community (one outside every cell by the community polygon holding it),
#: as in grid.campaigns.
_TARGETS_SQL = _AREA_DOWN + """,
eligible AS (
    SELECT hh_id, geom, cell_id, address, size, categories, head_name, x_m, y_m FROM households
    WHERE status = 'active' AND list_has_any(categories, $cats::TEXT[])
),
fallback AS (
    SELECT e.hh_id, min(a.code) AS community_code FROM eligible e JOIN admin_units a
      ON a.level = 'community' AND a.geom IS NOT NULL AND ST_Intersects(a.geom, e.geom)
    WHERE e.cell_id IS NULL GROUP BY e.hh_id
)
SELECT e.hh_id, e.cell_id, coalesce(c.community_code, f.community_code) AS community_code, e.address, e.size,
       e.categories, e.head_name, e.x_m, e.y_m
FROM eligible e LEFT JOIN cells c ON c.cell_id = e.cell_id LEFT JOIN fallback f ON f.hh_id = e.hh_id
WHERE coalesce(c.community_code, f.community_code) IN (SELECT code FROM area_down)
ORDER BY e.hh_id
"""


def load_targets(store: Store, campaign_id: str, area_code: str) -> pd.DataFrame:
    """The campaign's target households in an area.

    Active households whose categories meet the campaign's
    ``target_categories`` (an empty list targets nobody), placed by their
    cell's community (one outside every cell by the community polygon
    holding it), within the area (any admin unit code, and every unit below).

    Returns
    -------
    DataFrame
        ``hh_id, cell_id, community_code, address, size, categories, head_name, x_m, y_m``.
    """
    camp = _campaign(store, campaign_id)
    area = _area(store, area_code, camp)
    df = store.query(_TARGETS_SQL, {"area": area["code"], "cats": camp["target_categories"]})
    df["categories"] = [_as_list(c) for c in df["categories"]]
    return df


def _facts(store: Store, hh_ids: Sequence[str], planning_date: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Last visit before the planning date and needs open on it, for these households."""
    day = datetime.combine(planning_date, datetime.min.time())
    ids = list(map(str, hh_ids))
    last = store.query(
        "SELECT hh_id, max(visited_at) AS last_visit FROM visits"
        " WHERE hh_id IN (SELECT unnest($ids::TEXT[])) AND visited_at < $day GROUP BY hh_id",
        {"ids": ids, "day": day})
    needs = store.query(
        "SELECT hh_id, count(*) AS open_needs FROM needs WHERE hh_id IN (SELECT unnest($ids::TEXT[]))"
        " AND raised_at < $day AND (resolved_at IS NULL OR resolved_at >= $day) GROUP BY hh_id",
        {"ids": ids, "day": day})
    return last, needs


def _metric(store: Store, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = crs_mod.to_metric(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), store.metric_crs())
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def load_visitors(store: Store, area_code: str, visitors: pd.DataFrame | Sequence[str] | None = None
                  ) -> pd.DataFrame:
    """The visitors of an area with their start points.

    Parameters
    ----------
    store : Store
    area_code : str
        A street or community code.
    visitors : DataFrame or sequence of str, optional
        Default: the active people with a role in :data:`VISITOR_ROLES`
        whose ``unit_code`` is the area or a unit inside it, and the wardens
        of the area's cells. A sequence of person ids picks people (any
        role). A frame needs ``visitor_id`` and may give ``x_m, y_m`` (or
        ``lon, lat``), ``name``, ``role``, ``unit_code``; missing values are
        filled from ``people``.

    Returns
    -------
    DataFrame
        ``visitor_id, name, role, unit_code, lon, lat, x_m, y_m, start_source``,
        ordered by ``visitor_id`` (unless a frame or list gave the order).
        The start is ``people.geom`` (``own``); without one, the 党群服务站
        of the visitor's unit (the one nearest the unit's centroid; for a
        street-level unit, one of its communities'; else any in the area)
        (``station``); without a station, the unit's centroid (``unit``).

    Raises
    ------
    WarmGridError
        Unknown person ids, or a visitor without any possible start.
    """
    area = _area(store, area_code)
    people = store.query("SELECT person_id AS visitor_id, name, role, unit_code, ST_X(geom) AS lon,"
                         " ST_Y(geom) AS lat FROM people ORDER BY person_id")
    if visitors is None:
        roles = list(VISITOR_ROLES)
        df = store.query(
            _AREA_DOWN + " SELECT p.person_id AS visitor_id FROM people p WHERE p.active AND p.role IN"
            " (SELECT unnest($roles::TEXT[])) AND (p.unit_code IN (SELECT code FROM area_down) OR p.person_id IN"
            " (SELECT warden_id FROM cells WHERE community_code IN (SELECT code FROM area_down)))"
            " ORDER BY p.person_id", {"area": area["code"], "roles": roles})
        given = df
    elif isinstance(visitors, pd.DataFrame):
        _check_columns(visitors, "visitors", ("visitor_id",))
        given = visitors.copy()
    else:
        given = pd.DataFrame({"visitor_id": [str(v) for v in visitors]})
    given["visitor_id"] = given["visitor_id"].astype(str)
    gave_ll = np.zeros(len(given), dtype=bool)
    if {"lon", "lat"} <= set(given.columns):
        gave_ll = (pd.to_numeric(given["lon"], errors="coerce").notna()
                   & pd.to_numeric(given["lat"], errors="coerce").notna()).to_numpy()
    known = people.set_index("visitor_id")
    out = pd.DataFrame({"visitor_id": given["visitor_id"].to_numpy()})
    for col in ("name", "role", "unit_code", "lon", "lat", "x_m", "y_m"):
        mine = given[col].to_numpy() if col in given.columns else np.full(len(given), None, dtype=object)
        theirs = out["visitor_id"].map(known[col]).to_numpy() if col in known.columns else \
            np.full(len(given), None, dtype=object)
        vals = pd.Series(mine, dtype=object)
        out[col] = vals.where(vals.notna(), pd.Series(theirs, dtype=object)).to_numpy()
    unknown = [v for v in out["visitor_id"] if v not in known.index and
               (not {"x_m", "y_m"} <= set(given.columns) and not {"lon", "lat"} <= set(given.columns))]
    if unknown:
        raise WarmGridError(f"未知的走访人：{unknown[:5]}", f"unknown visitors: {unknown[:5]}")
    x = pd.to_numeric(out["x_m"], errors="coerce").to_numpy(dtype=float, copy=True)
    y = pd.to_numeric(out["y_m"], errors="coerce").to_numpy(dtype=float, copy=True)
    lon = pd.to_numeric(out["lon"], errors="coerce").to_numpy(dtype=float, copy=True)
    lat = pd.to_numeric(out["lat"], errors="coerce").to_numpy(dtype=float, copy=True)
    source = np.full(len(out), None, dtype=object)
    source[np.isfinite(x) & np.isfinite(y)] = "given"
    have_ll = np.isfinite(lon) & np.isfinite(lat)
    need = ~np.isfinite(x) | ~np.isfinite(y)
    if (need & have_ll).any():
        mx, my = _metric(store, lon[need & have_ll], lat[need & have_ll])
        x[need & have_ll], y[need & have_ll] = mx, my
        source[need & have_ll] = np.where(gave_ll[need & have_ll], "given", "own")
    if (~need & ~have_ll).any():
        glon, glat = crs_mod.to_wgs84(x[~need & ~have_ll], y[~need & ~have_ll], store.metric_crs())
        lon[~need & ~have_ll], lat[~need & ~have_ll] = glon, glat
    missing = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
    if len(missing):
        stations = store.query(
            _AREA_DOWN + " SELECT s.station_id, s.community_code, a.parent_code AS street_code, s.x_m, s.y_m,"
            " ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat FROM stations s LEFT JOIN admin_units a"
            " ON a.code = s.community_code WHERE s.type = 'party_service'"
            " AND s.community_code IN (SELECT code FROM area_down) ORDER BY s.station_id", {"area": area["code"]})
        units = store.query(
            "SELECT code, ST_X(ST_Centroid(geom)) AS lon, ST_Y(ST_Centroid(geom)) AS lat FROM admin_units"
            " WHERE geom IS NOT NULL AND code IN (SELECT unnest($codes::TEXT[]))",
            {"codes": sorted({str(u) for u in out["unit_code"].dropna()} | {area["code"]})})
        ux, uy = _metric(store, units["lon"].to_numpy(), units["lat"].to_numpy())
        centroid = {str(c): (float(a), float(b), float(lo_), float(la))
                    for c, a, b, lo_, la in zip(units["code"], ux, uy, units["lon"], units["lat"], strict=True)}
        for i in missing:
            unit = out["unit_code"].iloc[i]
            unit = None if unit is None or pd.isna(unit) else str(unit)
            ref = centroid.get(unit or "") or centroid.get(area["code"])
            cand = stations[(stations["community_code"] == unit) | (stations["street_code"] == unit)]
            if cand.empty:
                cand = stations
            if len(cand):
                if ref is not None:
                    j = int(np.argmin(np.hypot(cand["x_m"].to_numpy(dtype=float) - ref[0],
                                               cand["y_m"].to_numpy(dtype=float) - ref[1])))
                else:
                    j = 0
                row = cand.iloc[j]
                x[i], y[i], lon[i], lat[i] = row["x_m"], row["y_m"], row["lon"], row["lat"]
                source[i] = "station"
            elif ref is not None:
                x[i], y[i], lon[i], lat[i] = ref
                source[i] = "unit"
            else:
                vid = out["visitor_id"].iloc[i]
                raise WarmGridError(f"走访人 {vid} 没有起点（无位置、无党群服务站）",
                                    f"visitor {vid} has no starting point (no location, no party service station)")
    out["lon"], out["lat"], out["x_m"], out["y_m"] = lon, lat, x, y
    out["start_source"] = source
    for col in ("name", "role", "unit_code"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out.reset_index(drop=True)


def _pairings(store: Store, campaign_id: str, planning_date: date) -> pd.DataFrame:
    """Pairings in force on the planning date, for this campaign or for none in particular."""
    return store.query(
        "SELECT person_id AS visitor_id, hh_id FROM pairings WHERE (campaign_id = ? OR campaign_id IS NULL)"
        " AND starts_on <= ? AND (ends_on IS NULL OR ends_on >= ?) ORDER BY starts_on, pairing_id",
        [campaign_id, planning_date, planning_date])


# =========================================================================== plans
def _route_items(households: pd.DataFrame, visitors: pd.DataFrame, assignment: pd.DataFrame,
                 time_limit_s: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Route every visitor's households; return (items in walking order, visitors with totals)."""
    hh = households.set_index("hh_id")
    by_visitor = assignment.groupby("visitor_id", sort=False)["hh_id"].apply(list).to_dict()
    parts: list[pd.DataFrame] = []
    counts, totals = [], []
    for vid, sx, sy in zip(visitors["visitor_id"], visitors["x_m"], visitors["y_m"], strict=True):
        ids = by_visitor.get(vid, [])
        if not ids:
            counts.append(0)
            totals.append(0.0)
            continue
        pts = hh.loc[ids, ["x_m", "y_m"]].to_numpy(dtype=float)
        order, legs, total = route((float(sx), float(sy)), pts, time_limit_s=time_limit_s)
        part = hh.loc[[ids[k] for k in order]].reset_index()
        part.insert(0, "visitor_id", vid)
        part.insert(1, "seq", np.arange(1, len(order) + 1))
        part["leg_m"] = legs
        part["cum_m"] = np.cumsum(legs)
        parts.append(part)
        counts.append(len(ids))
        totals.append(total)
    vis = visitors.copy()
    vis["households"] = np.asarray(counts, dtype=np.int64)
    vis["route_m"] = np.asarray(totals, dtype=float)
    items = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(households.columns))
    return items, vis


def _finish_items(items: pd.DataFrame) -> pd.DataFrame:
    out = items.copy()
    for col in ITEM_COLUMNS:
        if col not in out.columns:
            out[col] = None
    out["seq"] = out["seq"].astype("int64")
    return out[list(ITEM_COLUMNS)].reset_index(drop=True)


def _with_priority(targets: pd.DataFrame, store: Store, planning_date: date) -> pd.DataFrame:
    last, needs = _facts(store, targets["hh_id"].tolist(), planning_date)
    pri = priority_order(targets, last, needs, planning_date)
    return targets.merge(pri, on="hh_id", how="left")


def plan_setup(store: Store, actor: Actor, campaign_id: str, area_code: str) -> tuple[int, pd.DataFrame]:
    """What the planning form offers: the number of the campaign's target households in the area and
    the visitors one may choose from (:func:`load_visitors`' default: the area's cadres, party members
    and wardens, with their start points and ``start_source``).

    The actor must be allowed to ``plan_visits`` over the area.
    """
    camp = _campaign(store, campaign_id)
    area = _area(store, area_code, camp)
    ensure(actor, "plan_visits", Scope.of_cells(cells_in_scope(store, [area["code"]])), log=store)
    return len(load_targets(store, campaign_id, area["code"])), load_visitors(store, area["code"])


def make_plan(store: Store, actor: Actor, campaign_id: str, area_code: str, *,
              visitors: pd.DataFrame | Sequence[str] | None = None, min_per: int | None = None,
              max_per: int | None = None, planning_date: date | datetime | str | None = None,
              keep_pairings: bool = True, time_limit_s: float | None = None) -> Plan:
    """Plan a campaign's visits in an area (nothing is written; see :func:`save_plan`).

    Parameters
    ----------
    store : Store
    actor : Actor
        Must be allowed to ``plan_visits`` over every cell of the area.
    campaign_id : str
    area_code : str
        A street or community code (a district works too) inside the campaign's unit.
    visitors : DataFrame or sequence of str, optional
        See :func:`load_visitors` (default: the area's cadres, party members
        and wardens).
    min_per, max_per : int, optional
        Households per visitor (see :func:`plan_bounds`: both missing means an even split).
    planning_date : date, optional
        Default today.
    keep_pairings : bool
        Keep the pairings (``pairings`` in force on the planning date, of
        this campaign or of none) between the visitors and target households.
        A pairing with someone who is not among the visitors is not kept
        (pass them in ``visitors`` to keep it).
    time_limit_s : float, optional
        OR-Tools search time per route (see :func:`route`).

    Returns
    -------
    Plan

    Raises
    ------
    WarmGridError
        Unknown campaign or area, an area outside the campaign's unit;
        :class:`PlanInfeasibleError` when the bounds cannot be met.
    """
    day = _as_date(planning_date)
    camp = _campaign(store, campaign_id)
    area = _area(store, area_code, camp)
    ensure(actor, "plan_visits", Scope.of_cells(cells_in_scope(store, [area["code"]])), log=store)
    targets = load_targets(store, campaign_id, area["code"])
    vis = load_visitors(store, area["code"], visitors)
    lo, hi = plan_bounds(len(targets), len(vis), min_per, max_per)
    targets = _with_priority(targets, store, day)
    pairs = _pairings(store, campaign_id, day) if keep_pairings else None
    assignment = assign(targets, vis, lo, hi, pairs, keep_pairings)
    targets = targets.merge(assignment[["hh_id", "paired"]], on="hh_id", how="left")
    items, vis = _route_items(targets, vis, assignment, time_limit_s)
    return Plan(campaign_id=camp["campaign_id"], campaign_name=camp["name"], area_code=area["code"],
                area_name=area["name"], planning_date=day, min_per=lo, max_per=hi, items=_finish_items(items),
                visitors=vis[list(VISITOR_COLUMNS)].reset_index(drop=True), metric_crs=store.metric_crs())


def save_plan(store: Store, actor: Actor, plan: Plan) -> str:
    """Save a plan in one transaction; return its new ``plan_id`` (also set on ``plan``).

    Writes ``plans`` (bounds, total length; ``created_by`` the actor),
    ``plan_visitors`` (start point, households, route length) and
    ``plan_items`` (walking order and legs), and appends a ``create`` row to
    the audit log. The actor must be allowed to ``plan_visits`` over the area.
    """
    ensure(actor, "plan_visits", Scope.of_cells(cells_in_scope(store, [plan.area_code])), log=store)
    created_by = actor.name
    plan_id = f"PL{plan.planning_date:%Y%m%d}{uuid.uuid4().hex[:10]}"
    vis = plan.visitors[["visitor_id", "lon", "lat", "households", "route_m"]].copy()
    vis.insert(0, "plan_id", plan_id)
    vis["lon"] = pd.to_numeric(vis["lon"], errors="coerce").astype(float)
    vis["lat"] = pd.to_numeric(vis["lat"], errors="coerce").astype(float)
    items = plan.items[["visitor_id", "hh_id", "seq", "leg_m"]].copy()
    items.insert(0, "plan_id", plan_id)
    items["leg_m"] = items["leg_m"].astype(float)
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO plans (plan_id, campaign_id, area_code, planning_date, min_per_visitor, max_per_visitor,"
            " total_m, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [plan_id, plan.campaign_id, plan.area_code, plan.planning_date, int(plan.min_per), int(plan.max_per),
             plan.total_m, created_by])
        cur.register("_plan_vis", vis)
        cur.register("_plan_items", items)
        try:
            cur.execute("INSERT INTO plan_visitors (plan_id, visitor_id, start_geom, households, route_m)"
                        " SELECT plan_id, visitor_id, CASE WHEN isnan(lon) OR isnan(lat) THEN NULL"
                        " ELSE ST_Point(lon, lat) END, households, route_m FROM _plan_vis")
            cur.execute("INSERT INTO plan_items (plan_id, visitor_id, hh_id, seq, leg_m)"
                        " SELECT plan_id, visitor_id, hh_id, seq, leg_m FROM _plan_items")
        finally:
            cur.unregister("_plan_vis")
            cur.unregister("_plan_items")
        audit.record(cur, actor, "create", f"plans:{plan_id}", [plan.area_code], len(items))
    plan.plan_id = plan_id
    plan.created_by = created_by
    return plan_id


def _plan_row(store: Store, plan_id: str) -> pd.Series:
    df = store.query("SELECT * FROM plans WHERE plan_id = ?", [plan_id])
    if df.empty:
        raise WarmGridError(f"没有这个走访计划：{plan_id}", f"no such plan: {plan_id}")
    return df.iloc[0]


def load_plan(store: Store, plan_id: str) -> Plan:
    """A saved plan, with today's household details and its priorities as of the planning date.

    Raises
    ------
    WarmGridError
        If there is no such plan.
    """
    row = _plan_row(store, plan_id)
    day = pd.Timestamp(row["planning_date"]).date()
    campaign_id, area_code = str(row["campaign_id"]), str(row["area_code"])
    cname = store.scalar("SELECT name FROM campaigns WHERE campaign_id = ?", [campaign_id])
    aname = store.scalar("SELECT name FROM admin_units WHERE code = ?", [area_code])
    vis = store.query(
        "SELECT v.visitor_id, p.name, p.role, p.unit_code, ST_X(v.start_geom) AS lon, ST_Y(v.start_geom) AS lat,"
        " v.households, v.route_m FROM plan_visitors v LEFT JOIN people p ON p.person_id = v.visitor_id"
        " WHERE v.plan_id = ? ORDER BY v.visitor_id", [plan_id])
    lon = pd.to_numeric(vis["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(vis["lat"], errors="coerce").to_numpy(dtype=float)
    x, y = np.full(len(vis), np.nan), np.full(len(vis), np.nan)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if ok.any():
        x[ok], y[ok] = _metric(store, lon[ok], lat[ok])
    vis["x_m"], vis["y_m"] = x, y
    vis["start_source"] = "saved"
    vis["households"] = vis["households"].astype("int64")
    vis["route_m"] = vis["route_m"].astype(float)
    items = store.query(
        "SELECT i.visitor_id, i.seq, i.hh_id, i.leg_m, h.address, h.head_name, h.cell_id, h.size, h.categories,"
        " h.x_m, h.y_m FROM plan_items i LEFT JOIN households h USING (hh_id) WHERE i.plan_id = ?"
        " ORDER BY i.visitor_id, i.seq", [plan_id])
    items["categories"] = [_as_list(c) for c in items["categories"]]
    items["size"] = items["size"].fillna(1)
    items["cum_m"] = items.groupby("visitor_id")["leg_m"].cumsum()
    items = _with_priority(items, store, day)
    pairs = _pairings(store, campaign_id, day)
    keys = set(zip(pairs["visitor_id"].astype(str), pairs["hh_id"].astype(str), strict=True))
    items["paired"] = [(str(v), str(h)) in keys for v, h in zip(items["visitor_id"], items["hh_id"], strict=True)]
    return Plan(campaign_id=campaign_id, campaign_name=str(cname or campaign_id), area_code=area_code,
                area_name=str(aname or area_code), planning_date=day,
                min_per=int(row["min_per_visitor"]) if pd.notna(row["min_per_visitor"]) else 0,
                max_per=int(row["max_per_visitor"]) if pd.notna(row["max_per_visitor"]) else len(items),
                items=_finish_items(items), visitors=vis[list(VISITOR_COLUMNS)].reset_index(drop=True),
                plan_id=plan_id, created_by=None if pd.isna(row["created_by"]) else str(row["created_by"]),
                metric_crs=store.metric_crs())


def move_household(store: Store, actor: Actor, plan_id: str, hh_id: str, to_visitor: str, *,
                   time_limit_s: float | None = None) -> Plan:
    """Move one household of a saved plan to another visitor, in one transaction with its audit row.

    The actor must be allowed to ``plan_visits`` over the plan's area.

    Both visitors' routes are recomputed (:func:`route`); the plan's bounds
    stay respected. Moving a household to its own visitor changes nothing.

    Returns
    -------
    Plan
        The plan as saved afterwards.

    Raises
    ------
    WarmGridError
        Unknown plan, household not in the plan, visitor not in the plan;
        :class:`PlanInfeasibleError` when the receiving visitor would exceed
        the plan's maximum or the giving one fall below its minimum.
    """
    hh_id, to_visitor = str(hh_id), str(to_visitor)
    row0 = _plan_row(store, plan_id)
    ensure(actor, "plan_visits", Scope.of_cells(cells_in_scope(store, [str(row0["area_code"])])), log=store)
    with store.transaction() as cur:
        row = _plan_row(store, plan_id)
        cur_v = store.scalar("SELECT visitor_id FROM plan_items WHERE plan_id = ? AND hh_id = ?", [plan_id, hh_id])
        if cur_v is None:
            raise WarmGridError(f"走访计划 {plan_id} 中没有住户 {hh_id}", f"household {hh_id} is not in plan {plan_id}")
        from_visitor = str(cur_v)
        vis = store.query("SELECT visitor_id, ST_X(start_geom) AS lon, ST_Y(start_geom) AS lat FROM plan_visitors"
                          " WHERE plan_id = ? AND visitor_id IN (?, ?)", [plan_id, from_visitor, to_visitor])
        if to_visitor not in set(vis["visitor_id"].astype(str)):
            raise WarmGridError(f"走访人 {to_visitor} 不在走访计划 {plan_id} 中",
                                f"visitor {to_visitor} is not in plan {plan_id}")
        if from_visitor == to_visitor:
            return load_plan(store, plan_id)
        items = store.query(
            "SELECT i.visitor_id, i.hh_id, h.x_m, h.y_m FROM plan_items i LEFT JOIN households h USING (hh_id)"
            " WHERE i.plan_id = ? AND i.visitor_id IN (?, ?) ORDER BY i.visitor_id, i.seq",
            [plan_id, from_visitor, to_visitor])
        items.loc[items["hh_id"] == hh_id, "visitor_id"] = to_visitor
        n_to = int((items["visitor_id"] == to_visitor).sum())
        n_from = int((items["visitor_id"] == from_visitor).sum())
        hi = row["max_per_visitor"]
        lo = row["min_per_visitor"]
        n_plan = int(store.scalar("SELECT count(*) FROM plan_items WHERE plan_id = ?", [plan_id]))
        n_vis = int(store.scalar("SELECT count(*) FROM plan_visitors WHERE plan_id = ?", [plan_id]))
        numbers: dict[str, Any] = {"n_households": n_plan, "n_visitors": n_vis,
                                   "min_per": None if pd.isna(lo) else int(lo),
                                   "max_per": None if pd.isna(hi) else int(hi)}
        if pd.notna(hi) and n_to > int(hi):
            raise PlanInfeasibleError(
                f"走访人 {to_visitor} 已有 {n_to - 1} 户，再加 1 户将超过每人最多 {int(hi)} 户。",
                f"visitor {to_visitor} already has {n_to - 1} households; one more would exceed the maximum of "
                f"{int(hi)}.", **numbers)
        if pd.notna(lo) and n_from < int(lo):
            raise PlanInfeasibleError(
                f"走访人 {from_visitor} 只有 {n_from + 1} 户，移走 1 户将少于每人最少 {int(lo)} 户。",
                f"visitor {from_visitor} has only {n_from + 1} households; moving one away would go below the "
                f"minimum of {int(lo)}.", **numbers)
        lon = pd.to_numeric(vis["lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(vis["lat"], errors="coerce").to_numpy(dtype=float)
        vx, vy = np.full(len(vis), np.nan), np.full(len(vis), np.nan)
        ok = np.isfinite(lon) & np.isfinite(lat)
        if ok.any():
            vx[ok], vy[ok] = _metric(store, lon[ok], lat[ok])
        starts = pd.DataFrame({"visitor_id": vis["visitor_id"].astype(str), "x_m": vx, "y_m": vy})
        for i in np.flatnonzero(~ok):  # no saved start: begin at the centre of their households
            mine = items[items["visitor_id"] == starts.at[i, "visitor_id"]]
            starts.loc[i, ["x_m", "y_m"]] = mine[["x_m", "y_m"]].mean().to_numpy() if len(mine) else (0.0, 0.0)
        hh = items[["hh_id", "x_m", "y_m"]]
        new_items, new_vis = _route_items(hh, starts, items[["hh_id", "visitor_id"]], time_limit_s)
        new_items.insert(0, "plan_id", plan_id)
        cur.execute("DELETE FROM plan_items WHERE plan_id = ? AND visitor_id IN (?, ?)",
                    [plan_id, from_visitor, to_visitor])
        ins = new_items[["plan_id", "visitor_id", "hh_id", "seq", "leg_m"]].copy()
        ins["leg_m"] = ins["leg_m"].astype(float)
        cur.register("_moved", ins)
        try:
            cur.execute("INSERT INTO plan_items (plan_id, visitor_id, hh_id, seq, leg_m)"
                        " SELECT plan_id, visitor_id, hh_id, seq, leg_m FROM _moved")
        finally:
            cur.unregister("_moved")
        for vid, n, total in zip(new_vis["visitor_id"], new_vis["households"], new_vis["route_m"], strict=True):
            cur.execute("UPDATE plan_visitors SET households = ?, route_m = ? WHERE plan_id = ? AND visitor_id = ?",
                        [int(n), float(total), plan_id, vid])
        cur.execute("UPDATE plans SET total_m = (SELECT coalesce(sum(route_m), 0) FROM plan_visitors"
                    " WHERE plan_id = $p) WHERE plan_id = $p", {"p": plan_id})
        audit.record(cur, actor, "update", f"plans:{plan_id}:{hh_id}:{from_visitor}->{to_visitor}",
                     [str(row["area_code"])], 1)
        return load_plan(store, plan_id)


def plan_progress(store: Store, plan_id: str) -> pd.DataFrame:
    """Progress of a saved plan per visitor.

    A planned household counts as visited when the ``visits`` table holds a
    visit to it (by anyone) on or after the planning date.

    Returns
    -------
    DataFrame
        ``visitor_id, name, planned, visited, remaining, share`` (visited /
        planned; NaN when nothing was planned), ordered by ``visitor_id``.

    Raises
    ------
    WarmGridError
        If there is no such plan.
    """
    row = _plan_row(store, plan_id)
    day = datetime.combine(pd.Timestamp(row["planning_date"]).date(), datetime.min.time())
    df = store.query(
        "SELECT pv.visitor_id, p.name, count(i.hh_id) AS planned,"
        " count(i.hh_id) FILTER (WHERE EXISTS (SELECT 1 FROM visits v WHERE v.hh_id = i.hh_id"
        "   AND v.visited_at >= $day)) AS visited"
        " FROM plan_visitors pv LEFT JOIN people p ON p.person_id = pv.visitor_id"
        " LEFT JOIN plan_items i ON i.plan_id = pv.plan_id AND i.visitor_id = pv.visitor_id"
        " WHERE pv.plan_id = $plan GROUP BY pv.visitor_id, p.name ORDER BY pv.visitor_id",
        {"plan": plan_id, "day": day})
    df["planned"] = df["planned"].astype("int64")
    df["visited"] = df["visited"].astype("int64")
    df["remaining"] = df["planned"] - df["visited"]
    df["share"] = (df["visited"] / df["planned"].where(df["planned"] > 0)).astype(float)
    return df


# =========================================================================== sheets
def _sheet_title(name: str, used: set[str]) -> str:
    clean = "".join("_" if ch in '[]:*?/\\' else ch for ch in name).strip("'") or "走访单"
    title = clean[:31]
    k = 2
    while title in used:
        suffix = f"({k})"
        title = clean[: 31 - len(suffix)] + suffix
        k += 1
    used.add(title)
    return title


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    return str(value)


def visit_sheets_xlsx(plan: Plan, path: str | Path, *, actor: Actor, full: bool = False) -> int:
    """Write the plan's visit sheets (走访单): one worksheet per visitor, for A4 printing.

    Each sheet has a title row (campaign and visitor), a line with the area,
    planning date, households and route length, and the table
    (:data:`SHEET_COLUMNS`: 序号, 户编号, 户主, 电话, 地址, 类别, 上次走访, and blank
    走访时间, 物品/金额, 签名, 备注 to fill in at the door) in walking order; ★ before
    the categories marks an urgent household (五必访, an open need, or never
    visited). Print setup: A4 landscape, fit to one page wide, the three top
    rows repeated on every page, "第 &P 页 / 共 &N 页" in the footer.

    Parameters
    ----------
    plan : Plan
        Its items may carry ``phone`` (:func:`visit_sheets_bytes` adds it); without, the column is blank.
    path : str or Path
        The ``.xlsx`` file (written to a temporary name, then renamed).
    actor : Actor
        Whom the sheets are printed for: only rows it may see are printed.
    full : bool
        Print the head's full name and phone for the visitor at the door: the actor must be
        allowed to ``print_visit_sheets`` over the plan's cells. Otherwise (the default) names and
        phones are masked as :func:`grid.access.mask_households` shows them to the actor.

    Returns
    -------
    int
        The number of worksheets.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.page import PageMargins
    from openpyxl.worksheet.properties import PageSetupProperties

    out = Path(path)
    if full:
        ensure(actor, "print_visit_sheets", Scope.of_cells(set(plan.items["cell_id"].dropna().astype(str))))
        items = actor.scope.restrict(plan.items, "cell_id")
    else:
        items = mask_households(plan.items, actor)
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    thin = Side(style="thin", color="000000")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    font = Font(name="宋体", size=11)
    bold = Font(name="宋体", size=11, bold=True)
    used: set[str] = set()
    vis = plan.visitors if len(plan.visitors) else pd.DataFrame([{"visitor_id": "", "name": "", "households": 0,
                                                                    "route_m": 0.0}])
    ncol = len(SHEET_COLUMNS)
    last_col = get_column_letter(ncol)
    for vrow in vis.itertuples(index=False):
        vid = str(vrow.visitor_id)
        vname = _cell_text(vrow.name)
        ws = wb.create_sheet(_sheet_title(f"{vname or vid}{'（' + vid + '）' if vname else ''}", used))
        mine = items[items["visitor_id"].astype(str) == vid].sort_values("seq") if len(items) else items
        ws.cell(row=1, column=1, value=f"{plan.campaign_name} · 走访单 · {vname or vid}").font = Font(
            name="宋体", size=14, bold=True)
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
        info = (f"走访人：{vname}（{vid}）　区域：{plan.area_name}　计划日期：{plan.planning_date:%Y-%m-%d}　"
                f"户数：{int(vrow.households)}　步行约 {float(vrow.route_m) / 1000:.1f} 公里（按序号顺序）　"
                "★ 优先：五必访、有未办结诉求或从未走访" + ("　本单含住户个人信息，仅供上门走访，用后收回" if full else ""))
        ws.cell(row=2, column=1, value=info).font = Font(name="宋体", size=10)
        ws.cell(row=2, column=1).alignment = Alignment(wrap_text=True, vertical="center")
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncol)
        ws.row_dimensions[2].height = 30
        for j, head in enumerate(SHEET_COLUMNS, start=1):
            c = ws.cell(row=3, column=j, value=head)
            c.font, c.border = bold, box
            c.alignment = Alignment(horizontal="center", vertical="center")
        r = 3
        for it in mine.to_dict("records"):
            r += 1
            cats = "、".join(model.label(c) for c in _as_list(it.get("categories")))
            if bool(it.get("urgent")):
                cats = "★" + cats
            last = it.get("last_visit")
            last_txt = "从未走访" if last is None or pd.isna(last) else f"{pd.Timestamp(last):%Y-%m-%d}"
            values = [int(it["seq"]), _cell_text(it.get("hh_id")), _cell_text(it.get("head_name")),
                      _cell_text(it.get("phone")), _cell_text(it.get("address")), cats, last_txt,
                      *([""] * len(SHEET_BLANK))]
            for j, val in enumerate(values, start=1):
                c = ws.cell(row=r, column=j, value=val or None)
                c.font, c.border = font, box
                c.alignment = Alignment(wrap_text=j in (5, 6), vertical="center",
                                        horizontal="center" if j in (1, 7) else "left")
                if j in (2, 4):
                    c.number_format = "@"
            ws.row_dimensions[r].height = 36  # room to sign
        for j, w in enumerate(_SHEET_WIDTHS, start=1):
            ws.column_dimensions[get_column_letter(j)].width = w
        ws.print_title_rows = "1:3"
        ws.print_area = f"A1:{last_col}{max(r, 3)}"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6, header=0.3, footer=0.3)
        ws.print_options.horizontalCentered = True
        ws.oddHeader.center.text = f"{plan.campaign_name} 走访单"
        ws.oddFooter.center.text = "第 &P 页 / 共 &N 页"
        ws.oddFooter.right.text = f"{vname}（{vid}）"
        ws.freeze_panes = "A4"
    save_workbook(wb, out)
    return len(wb.worksheets)


def visit_sheets_bytes(store: Store, actor: Actor, plan: Plan, *, full: bool = True) -> bytes:
    """The visit sheets of a saved plan as .xlsx bytes, for a download button, with its audit row.

    The actor must be allowed to download ``visit_sheets`` and to ``plan_visits`` over the
    plan's area. The sheets are what the visitor takes to the door, so by default (``full``)
    they are printed in full — the head's name and phone — when the actor may
    ``print_visit_sheets`` over the area; the audit row then says so: an ``export`` of
    ``visit_sheets:<plan>:full`` with the number of households printed, naming the visitors'
    count. Otherwise (or with ``full=False``) names and phones are masked for the actor, as
    everywhere else, and the object is ``visit_sheets:<plan>:masked``.
    """
    import dataclasses
    import tempfile

    ensure(actor, "download", "visit_sheets", log=store)
    area = Scope.of_cells(cells_in_scope(store, [plan.area_code]))
    ensure(actor, "plan_visits", area, log=store)
    full = full and allowed(actor, "print_visit_sheets", area)
    phones = store.query("SELECT hh_id, phone FROM households WHERE hh_id IN (SELECT unnest(?::TEXT[]))",
                         [sorted(plan.items["hh_id"].astype(str))])
    items = plan.items.drop(columns=["phone"], errors="ignore").merge(phones, on="hh_id", how="left")
    printed = dataclasses.replace(plan, items=items)
    with tempfile.TemporaryDirectory(prefix="warmgrid_sheets_") as tmp:
        path = Path(tmp) / "sheets.xlsx"
        visit_sheets_xlsx(printed, path, actor=actor, full=full)
        data = path.read_bytes()
    shown = len(actor.scope.restrict(plan.items, "cell_id"))
    audit.record(store, actor, "export",
                 object=f"visit_sheets:{plan.plan_id}:{'full' if full else 'masked'}:{len(plan.visitors)} visitors",
                 scope=[plan.area_code], row_count=shown)
    return data


def list_plans(store: Store, campaign_id: str, area_code: str) -> pd.DataFrame:
    """The saved plans of a campaign and area, newest first: ``plan_id, created_at, created_by, total_m``."""
    return store.query("SELECT plan_id, created_at, created_by, total_m FROM plans WHERE campaign_id = ?"
                       " AND area_code = ? ORDER BY created_at DESC, plan_id", [campaign_id, area_code])


def plan_points(store: Store, plan: Plan) -> pd.DataFrame:
    """The plan's items with each household's ``lon, lat`` (WGS84), for a map."""
    ids = sorted(plan.items["hh_id"].astype(str))
    pos = store.query("SELECT hh_id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM households"
                      " WHERE hh_id IN (SELECT unnest(?::TEXT[]))", [ids])
    return plan.items.merge(pos, on="hh_id", how="inner")


# =========================================================================== CLI
def cli_plan(store: Store, actor: Actor, campaign_id: str, area: str, *, min_per: int | None = None,
             max_per: int | None = None, planning_date: date | datetime | str | None = None,
             save: bool = True) -> dict[str, Any]:
    """The JSON document of ``python -m grid plan``: plan (and by default save) a campaign's visits.

    Returns
    -------
    dict
        ``plan_id`` (None when not saved), ``saved``, ``campaign``,
        ``campaign_name``, ``area``, ``area_name``, ``planning_date``,
        ``min_per``, ``max_per`` (the bounds used), ``households``,
        ``visitors``: one entry per visitor with ``visitor_id, name,
        households, route_m, hh_ids`` (in walking order), ``total_m`` and
        ``unassigned`` (always 0: an impossible plan raises instead).

    Raises
    ------
    WarmGridError
        As :func:`make_plan` (:class:`PlanInfeasibleError` with the numbers).
    """
    plan = make_plan(store, actor, campaign_id, area, min_per=min_per, max_per=max_per, planning_date=planning_date)
    plan_id = save_plan(store, actor, plan) if save else None
    routes = plan.items.groupby("visitor_id", sort=False)["hh_id"].apply(lambda s: [str(h) for h in s]).to_dict()
    visitors = [
        {"visitor_id": str(v.visitor_id), "name": None if v.name is None else str(v.name),
         "households": int(v.households), "route_m": round(float(v.route_m), 1),
         "hh_ids": routes.get(v.visitor_id, [])}
        for v in plan.visitors.itertuples(index=False)
    ]
    return {
        "plan_id": plan_id,
        "saved": plan_id is not None,
        "campaign": plan.campaign_id,
        "campaign_name": plan.campaign_name,
        "area": plan.area_code,
        "area_name": plan.area_name,
        "planning_date": plan.planning_date.isoformat(),
        "min_per": plan.min_per,
        "max_per": plan.max_per,
        "households": int(len(plan.items)),
        "visitors": visitors,
        "total_m": round(plan.total_m, 1),
        "unassigned": 0,
    }
