"""Where new stations would reach the most people in need: maximal covering (MCLP), set
covering (LSCP) and a capacitated variant, solved exactly.

Definitions
-----------
Demand
    The active households of the caller's scope that no existing station of the type
    covers (by the same ruler: the straight line or walking, :mod:`grid.coverage`),
    weighted by ``weight`` (:data:`WEIGHTS`): ``vulnerable`` (each vulnerable household
    counts 1, the others 0, the default), ``households`` (every household 1) or ``mixed``
    (every household 1, a vulnerable one ``vulnerable_factor``).
Covered by a candidate
    Within ``radius`` of it (default: the type's GB 50180 radius, :data:`grid.model.STATION_TYPES`),
    exactly at the radius included; by walking, never a household off the network.
    When ``radius`` is given it is also the existing stations' radius (as ``gaps --radius``).
MCLP
    Open at most ``k`` candidates to maximise the weighted demand covered.
LSCP
    The fewest candidates that cover every demand household some candidate can cover.
Capacitated
    Each open candidate serves at most its ``capacity`` households (demand weight), each
    household by one open candidate within reach; maximise the weight served.

Exact aggregation
-----------------
The models are kept small without approximating anything: households are grouped by
the set of candidates that cover them (households of one building share it, and so
does any household that no distance tells apart); a group is one demand row with the
summed weight. Households that no candidate covers leave the model (they cannot gain).
Every figure reported is counted again on the households themselves.

Solver
------
OR-Tools (already a dependency, Apache-2.0) through its linear-solver wrapper with the
SCIP it ships (``solver="CBC"`` and ``"HIGHS"`` also ship in the wheel). The model's
``z`` variables are continuous (integral at any optimum); the solver's bound gives the
optimality gap that is reported. spopt (whose models are PuLP) needs Python 3.12 in its
0.8 release and would add PuLP and its own CBC for no gain here.

Examples
--------
>>> import pandas as pd
>>> hh = pd.DataFrame({"hh_id": ["a", "b", "c"], "x_m": [0.0, 10.0, 900.0], "y_m": [0.0, 0.0, 0.0],
...                    "vulnerable": [True, True, True], "cell_id": ["c1"] * 3, "community_code": ["x"] * 3})
>>> st = pd.DataFrame({"station_id": [], "type": [], "x_m": [], "y_m": [], "radius_m": []})
>>> cand = pd.DataFrame({"candidate_id": ["p", "q"], "x_m": [5.0, 800.0], "y_m": [0.0, 0.0]})
>>> r = site(hh, st, cand, "clinic", k=1)
>>> r.covered_before, r.covered_after, r.proposals["candidate_id"].tolist()
(0.0, 2.0, ['p'])
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from grid import model
from grid.errors import Problem, ValidationError, WarmGridError
from grid.network import MAX_LEG_M, Join, Network, check_distance
from grid.reach import join_of, pairs_within

__all__ = [
    "WEIGHTS",
    "CANDIDATE_SOURCES",
    "SOLVERS",
    "Candidates",
    "SitingResult",
    "Demand",
    "read_candidates",
    "building_candidates",
    "lattice_candidates",
    "demand_groups",
    "solve_mclp",
    "solve_lscp",
    "solve_capacitated",
    "site",
    "lscp",
    "set_cover",
    "gain_sentence",
]

#: How demand is weighted: code -> (Chinese unit, English).
WEIGHTS: dict[str, tuple[str, str]] = {
    "vulnerable": ("名困难户", "vulnerable households"),
    "households": ("户", "households"),
    "mixed": ("（加权）户", "weighted households"),
}
#: Where candidate sites come from: code -> (Chinese, English).
CANDIDATE_SOURCES: dict[str, tuple[str, str]] = {
    "file": ("用户提供的候选点", "candidate sites from a file"),
    "buildings": ("有住户的楼栋（自动生成）", "buildings with households (generated)"),
    "lattice": ("规则格点，裁剪到范围内（自动生成）", "a square lattice clipped to the area (generated)"),
}
#: Solvers that ship with OR-Tools' wheel.
SOLVERS = ("SCIP", "CBC", "HIGHS")


@dataclass(frozen=True)
class Candidates:
    """Candidate sites: ``candidate_id, name, lon, lat, x_m, y_m`` (and ``capacity`` when known),
    with where they came from (a key of :data:`CANDIDATE_SOURCES`) and a sentence saying so."""

    frame: pd.DataFrame
    source: str
    note: str = ""

    @property
    def label(self) -> str:
        zh, en = CANDIDATE_SOURCES[self.source]
        return f"{zh} {len(self.frame):,} 个 · {en}: {len(self.frame):,}" + (f"（{self.note}）" if self.note else "")


# --------------------------------------------------------------------------- candidates
_ID_HEADERS = ("candidate_id", "候选点编号", "候选编号", "编号", "id", "site_id", "站点编号")
_NAME_HEADERS = ("name", "名称", "候选点名称", "地点", "site")
_LON_HEADERS = ("lon", "lng", "longitude", "经度", "x")
_LAT_HEADERS = ("lat", "latitude", "纬度", "y")
_CAP_HEADERS = ("capacity", "容量", "服务容量")


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    norm = {str(c).strip().lower().replace(" ", "").replace("_", ""): c for c in columns}
    for n in names:
        key = n.lower().replace("_", "")
        if key in norm:
            return str(norm[key])
    return None


def read_candidates(path: str | Path, *, crs: str = "wgs84", metric_crs: str, extent: tuple[float, float, float, float]
                    | None = None, data: bytes | None = None) -> Candidates:
    """Candidate sites from a file the importers read (CSV/XLSX/GeoJSON/Shapefile/GeoPackage/GeoParquet).

    Columns: ``candidate_id`` (候选点编号/编号/id, required), ``name`` (名称, optional),
    ``capacity`` (容量, optional) and the point: ``lon``/``lat`` (经度/纬度) in ``crs``
    (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` or an EPSG code), or a point geometry.
    Every problem (file, row, field, value, reason) is collected and raised at once.
    With ``data``, ``path`` is only the uploaded file's name and ``data`` its bytes.

    Raises
    ------
    ValidationError
        A missing or repeated id, a missing or unreadable coordinate, a point outside
        mainland China or the district's ``extent`` (lon/lat box), a negative capacity.
    """
    from grid import crs as crs_mod
    from grid.sources import read_source, read_upload

    src = read_upload(str(path), data) if data is not None else read_source(path)
    name = src.name
    frame = src.frame
    cols = [str(c) for c in frame.columns]
    problems: list[Problem] = list(src.problems)
    cid = _pick(cols, _ID_HEADERS)
    if cid is None:
        raise ValidationError([Problem(name, None, "candidate_id", "", "缺少候选点编号列（candidate_id / 候选点编号 / 编号）",
                                       "the file has no candidate id column (candidate_id / 候选点编号 / 编号)")])
    code = crs_mod.parse_crs(crs)
    lon_c, lat_c = _pick(cols, _LON_HEADERS), _pick(cols, _LAT_HEADERS)
    n = len(frame)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if lon_c is not None and lat_c is not None:
        lon = pd.to_numeric(frame[lon_c], errors="coerce").to_numpy(dtype=float).copy()
        lat = pd.to_numeric(frame[lat_c], errors="coerce").to_numpy(dtype=float).copy()
    elif src.geoms is not None:
        for i, g in enumerate(src.geoms):
            if g is not None and g.geom_type == "Point":
                lon[i], lat[i] = g.x, g.y
            elif g is not None:
                problems.append(Problem(name, int(src.rows[i]), "geometry", g.geom_type, "候选点须为点",
                                        "a candidate site must be a point"))
        code = src.file_crs or code
    else:
        raise ValidationError([Problem(name, None, "经度/纬度", "", "缺少经度、纬度列或点几何",
                                       "the file has no longitude/latitude columns and no point geometry")])
    ok = np.isfinite(lon) & np.isfinite(lat)
    if code not in ("wgs84", "cgcs2000", "EPSG:4326", "EPSG:4490") and ok.any():
        lon[ok], lat[ok] = crs_mod.to_wgs84(lon[ok], lat[ok], code)
    ids = frame[cid].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
    seen: dict[str, int] = {}
    for i in range(n):
        row = int(src.rows[i])
        if not ids.iloc[i]:
            problems.append(Problem(name, row, "candidate_id", "", "缺少候选点编号", "the candidate id is missing"))
        elif ids.iloc[i] in seen:
            problems.append(Problem(name, row, "candidate_id", ids.iloc[i], f"编号重复（与第 {seen[ids.iloc[i]]} 行）",
                                    f"repeated id (as row {seen[ids.iloc[i]]})"))
        else:
            seen[ids.iloc[i]] = row
        if not ok[i]:
            problems.append(Problem(name, row, "经度/纬度", "", "缺少坐标或坐标不是数字",
                                    "the coordinates are missing or not numbers"))
        elif not (73.0 <= lon[i] <= 136.0 and 3.0 <= lat[i] <= 54.0):
            problems.append(Problem(name, row, "经度/纬度", f"{lon[i]:.6f}, {lat[i]:.6f}", "坐标不在中国大陆范围内",
                                    "the point is outside mainland China"))
        elif extent is not None and not (extent[0] <= lon[i] <= extent[2] and extent[1] <= lat[i] <= extent[3]):
            problems.append(Problem(name, row, "经度/纬度", f"{lon[i]:.6f}, {lat[i]:.6f}", "坐标不在本辖区范围内",
                                    "the point is outside the district's extent"))
    cap = None
    cap_c = _pick(cols, _CAP_HEADERS)
    if cap_c is not None:
        cap = pd.to_numeric(frame[cap_c], errors="coerce")
        for q in np.flatnonzero((cap < 0).to_numpy() | (cap.isna() & frame[cap_c].notna()).to_numpy()).tolist():
            problems.append(Problem(name, int(src.rows[q]), "capacity", str(frame[cap_c].iloc[q]),
                                    "容量须为非负整数", "the capacity must be a whole number ≥ 0"))
    if problems:
        raise ValidationError(problems)
    name_c = _pick(cols, _NAME_HEADERS)
    x, y = crs_mod.to_metric(lon, lat, metric_crs)
    out = pd.DataFrame({"candidate_id": ids.to_numpy(dtype=object),
                        "name": (frame[name_c].astype(str).to_numpy(dtype=object) if name_c else ids.to_numpy(dtype=object)),
                        "lon": lon, "lat": lat, "x_m": np.asarray(x, dtype=float), "y_m": np.asarray(y, dtype=float)})
    if cap is not None:
        out["capacity"] = cap.to_numpy(dtype=float)
    return Candidates(out, "file", name)


def building_candidates(households: pd.DataFrame, *, limit: int = 2000) -> Candidates:
    """One candidate per building with households (``address`` cut by :func:`grid.buildings.door_address`,
    within its cell), at the mean position of its households; with more than ``limit``
    buildings, those with the most vulnerable households, then the most households, are kept.

    ``households``: ``hh_id, address, cell_id, lon, lat, x_m, y_m, vulnerable``.
    """
    from grid.buildings import door_address

    if not len(households):
        return Candidates(pd.DataFrame(columns=["candidate_id", "name", "lon", "lat", "x_m", "y_m"]), "buildings")
    door = households["address"].map(door_address)
    key = households["cell_id"].astype(object).fillna("").astype(str) + "|" + door.astype(str)
    g = pd.DataFrame({"key": key, "door": door, "lon": households["lon"], "lat": households["lat"],
                      "x_m": households["x_m"], "y_m": households["y_m"],
                      "v": households["vulnerable"].astype(int)}).groupby("key", sort=True)
    b = g.agg(name=("door", "first"), lon=("lon", "mean"), lat=("lat", "mean"), x_m=("x_m", "mean"),
              y_m=("y_m", "mean"), n=("v", "size"), v=("v", "sum")).reset_index()
    note = ""
    if len(b) > limit:
        note = f"共 {len(b):,} 栋，取困难户最多的 {limit:,} 栋"
        b = b.sort_values(["v", "n", "key"], ascending=[False, False, True]).head(limit).sort_values("key")
    b = b.reset_index(drop=True)
    b.insert(0, "candidate_id", [f"B{i + 1:05d}" for i in range(len(b))])
    return Candidates(b[["candidate_id", "name", "lon", "lat", "x_m", "y_m"]], "buildings", note)


def lattice_candidates(area_m: Any, metric_crs: str, *, spacing: float | None = None, limit: int = 2000) -> Candidates:
    """A square lattice of candidates inside ``area_m`` (a shapely polygon in ``metric_crs``).

    ``spacing`` (m) defaults to the one that gives about ``limit`` points.
    """
    import shapely

    if area_m is None or area_m.is_empty:
        return Candidates(pd.DataFrame(columns=["candidate_id", "name", "lon", "lat", "x_m", "y_m"]), "lattice")
    if spacing is None:
        spacing = max(20.0, float(np.sqrt(area_m.area / max(limit, 1))))
    x0, y0, x1, y1 = area_m.bounds
    while True:
        xs = np.arange(x0 + spacing / 2, x1, spacing)
        ys = np.arange(y0 + spacing / 2, y1, spacing)
        mx, my = np.meshgrid(xs, ys)
        gx, gy = mx.ravel(), my.ravel()
        inside = shapely.contains_xy(area_m, gx, gy)
        if inside.sum() <= limit:
            break
        spacing *= 1.01
    gx, gy = gx[inside], gy[inside]
    from pyproj import Transformer

    tr = Transformer.from_crs(metric_crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(gx, gy)
    ids = [f"L{i + 1:05d}" for i in range(len(gx))]
    return Candidates(pd.DataFrame({"candidate_id": ids, "name": ids, "lon": np.asarray(lon), "lat": np.asarray(lat),
                                    "x_m": gx, "y_m": gy}), "lattice", f"间距 {spacing:.0f} 米")


# --------------------------------------------------------------------------- demand
@dataclass(frozen=True)
class Demand:
    """The siting model's demand, aggregated exactly.

    ``group_of`` gives, for each household of the pairs, its group (-1: none); ``groups``
    lists each group's candidates (positions) and ``weight`` its summed weight.
    """

    weight: np.ndarray  # per group
    cover: list[np.ndarray]  # per group: candidate positions covering it
    hh: np.ndarray  # household positions (in the demand frame) that some candidate covers
    group_of: np.ndarray  # group of each of ``hh``
    pair_i: np.ndarray  # candidate position of every (candidate, household) pair
    pair_j: np.ndarray  # household position


def demand_groups(pair_i: np.ndarray, pair_j: np.ndarray, weights: np.ndarray) -> Demand:
    """Group households by their exact set of covering candidates (pairs sorted by household).

    >>> d = demand_groups(np.array([0, 1, 0, 1, 1]), np.array([0, 0, 1, 1, 2]), np.array([1.0, 2.0, 1.0]))
    >>> d.weight.tolist(), [c.tolist() for c in d.cover]
    ([3.0, 1.0], [[0, 1], [1]])
    """
    order = np.lexsort((pair_i, pair_j))
    pi, pj = pair_i[order], pair_j[order]
    if not len(pj):
        return Demand(np.zeros(0), [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), pi, pj)
    starts = np.flatnonzero(np.r_[True, pj[1:] != pj[:-1]])
    ends = np.r_[starts[1:], len(pj)]
    hh = pj[starts]
    buf = pi.astype(np.int32).tobytes()
    keys = [buf[4 * s:4 * e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    codes, uniq = pd.factorize(pd.Series(keys, dtype=object), sort=True)
    w = np.bincount(codes, weights=weights[hh], minlength=len(uniq))
    cover = [np.frombuffer(k, dtype=np.int32).astype(np.int64) for k in uniq]
    return Demand(w, cover, hh, codes.astype(np.int64), pi, pj)


# --------------------------------------------------------------------------- solvers
@dataclass
class Solution:
    """What a solver returned: the chosen candidate positions and how sure it is."""

    chosen: list[int]
    objective: float
    bound: float
    status: str
    seconds: float
    solver: str
    variables: int = 0
    constraints: int = 0

    @property
    def gap(self) -> float:
        """Relative optimality gap, (bound - objective) / max(1, |objective|) (0 when proven optimal)."""
        return max(0.0, abs(self.bound - self.objective)) / max(1.0, abs(self.objective))

    def as_dict(self) -> dict[str, Any]:
        return {"solver": self.solver, "status": self.status, "objective": self.objective, "bound": self.bound,
                "gap": self.gap, "seconds": round(self.seconds, 3), "variables": self.variables,
                "constraints": self.constraints}


def _new_solver(name: str) -> Any:
    from ortools.linear_solver import pywraplp

    if name not in SOLVERS:
        raise WarmGridError(f"未知的求解器：{name}（可选：{', '.join(SOLVERS)}）",
                            f"unknown solver: {name} (one of: {', '.join(SOLVERS)})")
    s = pywraplp.Solver.CreateSolver(name)
    if s is None:
        raise WarmGridError(f"求解器 {name} 不可用", f"the solver {name} is not available")
    return s


def _finish(s: Any, ys: dict[int, Any], t0: float, name: str) -> Solution:
    from ortools.linear_solver import pywraplp

    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)  # exact: stop only when the bound meets the solution
    status = s.Solve(params)
    sec = time.perf_counter() - t0
    names = {pywraplp.Solver.OPTIMAL: "optimal", pywraplp.Solver.FEASIBLE: "feasible",
             pywraplp.Solver.INFEASIBLE: "infeasible", pywraplp.Solver.NOT_SOLVED: "not_solved"}
    st = names.get(status, "error")
    if st not in ("optimal", "feasible"):
        raise WarmGridError(f"求解器未能求解（{st}）", f"the solver found no solution ({st})")
    chosen = sorted(j for j, y in ys.items() if y.solution_value() > 0.5)
    obj = float(s.Objective().Value())
    try:
        bound = float(s.Objective().BestBound())
    except Exception:  # noqa: BLE001 - some backends have no bound: only optimal is then known
        bound = obj
    if not np.isfinite(bound):
        bound = obj if st == "optimal" else float("inf")
    return Solution(chosen, obj, bound, st, sec, name, s.NumVariables(), s.NumConstraints())


def solve_mclp(demand: Demand, k: int, *, solver: str = "SCIP",
               time_limit: float = 120.0, exclude: tuple[int, ...] = ()) -> Solution:
    """Open at most ``k`` candidates to cover the most demand weight (exact; see the module).

    >>> d = demand_groups(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), np.array([5.0, 3.0, 4.0]))
    >>> sol = solve_mclp(d, 1)
    >>> sol.chosen, sol.objective
    ([1], 7.0)
    """
    t0 = time.perf_counter()
    s = _new_solver(solver)
    s.SetTimeLimit(int(time_limit * 1000))
    useful = sorted({int(j) for c in demand.cover for j in c} - set(exclude))
    ys = {j: s.BoolVar(f"y{j}") for j in useful}
    obj = s.Objective()
    for g, (w, c) in enumerate(zip(demand.weight, demand.cover, strict=True)):
        if w <= 0:
            continue
        z = s.NumVar(0.0, 1.0, f"z{g}")
        obj.SetCoefficient(z, float(w))
        ct = s.Constraint(-s.infinity(), 0.0)
        ct.SetCoefficient(z, 1.0)
        for j in c:
            if int(j) in ys:
                ct.SetCoefficient(ys[int(j)], -1.0)
    card = s.Constraint(0.0, float(k))
    for y in ys.values():
        card.SetCoefficient(y, 1.0)
    obj.SetMaximization()
    return _finish(s, ys, t0, solver)


def solve_lscp(demand: Demand, *, solver: str = "SCIP", time_limit: float = 120.0) -> Solution:
    """The fewest candidates covering every group of positive weight (exact).

    >>> d = demand_groups(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), np.array([1.0, 1.0, 1.0]))
    >>> solve_lscp(d).chosen
    [0, 1]
    """
    t0 = time.perf_counter()
    s = _new_solver(solver)
    s.SetTimeLimit(int(time_limit * 1000))
    useful = sorted({int(j) for w, c in zip(demand.weight, demand.cover, strict=True) if w > 0 for j in c})
    ys = {j: s.BoolVar(f"y{j}") for j in useful}
    for w, c in zip(demand.weight, demand.cover, strict=True):
        if w <= 0:
            continue
        ct = s.Constraint(1.0, s.infinity())
        for j in c:
            ct.SetCoefficient(ys[int(j)], 1.0)
    obj = s.Objective()
    for y in ys.values():
        obj.SetCoefficient(y, 1.0)
    obj.SetMinimization()
    return _finish(s, ys, t0, solver)


def solve_capacitated(demand: Demand, capacity: np.ndarray, k: int, *, solver: str = "SCIP",
                      time_limit: float = 120.0) -> tuple[Solution, dict[tuple[int, int], float]]:
    """At most ``k`` candidates, each serving at most ``capacity[j]`` weight, each group's weight
    split among open candidates that cover it: maximise the weight served (exact).

    Returns the solution and the flows ``{(group, candidate): weight}``.

    >>> d = demand_groups(np.array([0, 0]), np.array([0, 1]), np.array([5.0, 5.0]))
    >>> sol, flow = solve_capacitated(d, np.array([6.0]), 1)
    >>> sol.objective
    6.0
    """
    t0 = time.perf_counter()
    s = _new_solver(solver)
    s.SetTimeLimit(int(time_limit * 1000))
    useful = sorted({int(j) for w, c in zip(demand.weight, demand.cover, strict=True) if w > 0 for j in c})
    ys = {j: s.BoolVar(f"y{j}") for j in useful}
    served: dict[int, Any] = {j: s.Constraint(-s.infinity(), 0.0) for j in useful}
    for j in useful:
        served[j].SetCoefficient(ys[j], -float(capacity[j]))
    obj = s.Objective()
    xs: dict[tuple[int, int], Any] = {}
    for g, (w, c) in enumerate(zip(demand.weight, demand.cover, strict=True)):
        if w <= 0:
            continue
        row = s.Constraint(-s.infinity(), float(w))
        for j in c:
            j = int(j)
            x = s.NumVar(0.0, float(w), f"x{g}_{j}")
            xs[(g, j)] = x
            row.SetCoefficient(x, 1.0)
            served[j].SetCoefficient(x, 1.0)
            link = s.Constraint(-s.infinity(), 0.0)  # x <= w * y: a closed site serves nobody
            link.SetCoefficient(x, 1.0)
            link.SetCoefficient(ys[j], -float(w))
            obj.SetCoefficient(x, 1.0)
    card = s.Constraint(0.0, float(k))
    for y in ys.values():
        card.SetCoefficient(y, 1.0)
    obj.SetMaximization()
    sol = _finish(s, ys, t0, solver)
    flow = {key: float(x.solution_value()) for key, x in xs.items() if x.solution_value() > 1e-9}
    return sol, flow


# --------------------------------------------------------------------------- the whole question
@dataclass
class SitingResult:
    """What :func:`site` found. Figures are counted on households (weighted by ``weight``)."""

    station_type: str
    distance: str
    weight: str
    radius_m: float
    k: int
    candidates: Candidates
    covered_before: float
    covered_after: float
    total_demand: float
    #: Ranked: ``rank, candidate_id, name, lon, lat, x_m, y_m, gain, gain_households,
    #: gain_vulnerable, sentence`` (``served`` too in the capacitated variant).
    proposals: pd.DataFrame
    solution: Solution
    #: ``households, vulnerable, outside_before, outside_after, vulnerable_outside_before, ...``
    what_if: dict[str, int]
    #: Per community: households and vulnerable households outside reach, before and after.
    by_community: pd.DataFrame
    #: Exact optimum for 1..k new stations (only when asked: one solve each).
    curve: list[dict[str, float]] = field(default_factory=list)
    #: Households (positions in the demand frame) newly covered, per proposal rank.
    newly_covered: dict[int, np.ndarray] = field(default_factory=dict)
    groups: int = 0
    households_in_model: int = 0
    capacitated: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of ``python -m grid site --json``."""
        cols = [c for c in ("rank", "candidate_id", "name", "lon", "lat", "gain", "gain_households", "gain_vulnerable",
                            "served", "sentence") if c in self.proposals.columns]
        return {
            "station_type": self.station_type, "distance": self.distance, "weight": self.weight,
            "radius_m": self.radius_m, "k": self.k, "capacitated": self.capacitated,
            "candidates": {"source": self.candidates.source, "count": int(len(self.candidates.frame)),
                           "label": self.candidates.label},
            "total_demand": self.total_demand, "covered_before": self.covered_before,
            "covered_after": self.covered_after, "proposals": self.proposals[cols].to_dict(orient="records"),
            "what_if": self.what_if, "curve": self.curve,
            "model": {"demand_groups": self.groups, "households_in_model": self.households_in_model,
                      **self.solution.as_dict()},
        }


def gain_sentence(rank: int, station_type: str, gain: float, weight: str) -> str:
    """``第 1 个新卫生室覆盖 +812 名困难户``.

    >>> gain_sentence(1, "clinic", 812, "vulnerable")
    '第 1 个新卫生室覆盖 +812 名困难户'
    """
    unit = WEIGHTS[weight][0]
    amount = f"{gain:,.0f}" if float(gain).is_integer() else f"{gain:,.1f}"
    return f"第 {rank} 个新{model.STATION_TYPES[station_type].zh}覆盖 +{amount} {unit}".replace(" （", "（")


def _weights(households: pd.DataFrame, weight: str, factor: float) -> np.ndarray:
    vul = households["vulnerable"].to_numpy(dtype=bool)
    if weight == "vulnerable":
        return vul.astype(float)
    if weight == "households":
        return np.ones(len(households))
    if weight == "mixed":
        return np.where(vul, float(factor), 1.0)
    raise WarmGridError(f"未知的需求权重：{weight}（可选：{', '.join(WEIGHTS)}）",
                        f"unknown demand weight: {weight} (one of: {', '.join(WEIGHTS)})")


def set_cover(pair_i: np.ndarray, pair_j: np.ndarray, chosen: list[int], n: int) -> np.ndarray:
    """Boolean mask over ``n`` households: covered by one of the ``chosen`` candidates."""
    mask = np.zeros(n, dtype=bool)
    if chosen:
        mask[pair_j[np.isin(pair_i, np.asarray(chosen, dtype=np.int64))]] = True
    return mask


def _existing_covered(households: pd.DataFrame, stations: pd.DataFrame, station_type: str, radius: float | None,
                      distance: str, network: Network | None, max_leg: float) -> np.ndarray:
    from grid.coverage import station_gaps

    sub = stations[stations["type"].astype(object).to_numpy() == station_type]
    if not len(sub) or not len(households):
        return np.zeros(len(households), dtype=bool)
    gaps = station_gaps(households[["hh_id", "x_m", "y_m"] + [c for c in ("net_edge", "net_t", "net_leg_m")
                                                                   if c in households.columns]],
                        sub, station_type, radius, distance=distance, network=network, max_leg=max_leg)
    return ~households["hh_id"].isin(set(gaps["hh_id"])).to_numpy()


def site(households: pd.DataFrame, stations: pd.DataFrame, candidates: pd.DataFrame | Candidates, station_type: str,
         *, k: int = 1, radius: float | None = None, distance: str = "straight", network: Network | None = None,
         weight: str = "vulnerable", vulnerable_factor: float = 3.0, capacity: float | None = None,
         solver: str = "SCIP", time_limit: float = 120.0, curve: bool = False,
         max_leg: float = MAX_LEG_M) -> SitingResult:
    """Propose up to ``k`` new stations of ``station_type`` among ``candidates`` (see the module).

    Parameters
    ----------
    households : DataFrame
        The scope's active households: ``hh_id, x_m, y_m, vulnerable`` (``community_code`` for
        the table by community; ``net_*`` join columns are used when present).
    stations : DataFrame
        Existing stations ``station_id, type, x_m, y_m, radius_m``: all of them count.
    candidates : DataFrame or Candidates
        ``candidate_id, x_m, y_m`` (``name, lon, lat, capacity`` if known).
    k : int
        How many new stations at most.
    radius : float, optional
        The new stations' radius (and the existing ones'); default the type's.
    distance : str
        ``straight`` or ``walk`` (needs ``network``).
    weight : str
        A key of :data:`WEIGHTS`.
    capacity : float, optional
        Solve the capacitated variant, every candidate serving at most this many
        (weighted) households unless the candidates carry their own ``capacity``.
    curve : bool
        Also solve for 1, 2, ... ``k`` stations and report each optimum.

    Raises
    ------
    WarmGridError
        An unknown type, weight, distance or solver; ``k`` below 1; walking without a network.
    """
    if station_type not in model.STATION_TYPES:
        raise WarmGridError(f"未知的站点类型：{station_type}（可选：{', '.join(model.STATION_TYPES)}）",
                            f"unknown station type: {station_type} (one of: {', '.join(model.STATION_TYPES)})")
    check_distance(distance)
    if k < 1:
        raise WarmGridError(f"新增站点数须至少为 1：{k}", f"the number of new stations must be at least 1: {k}")
    cands = candidates if isinstance(candidates, Candidates) else Candidates(candidates.reset_index(drop=True), "file")
    cf = cands.frame.reset_index(drop=True)
    for c in ("name", "lon", "lat"):
        if c not in cf.columns:
            cf[c] = cf["candidate_id"] if c == "name" else np.nan
    r = float(radius) if radius is not None else float(model.STATION_TYPES[station_type].radius_m)
    w_all = _weights(households, weight, vulnerable_factor)
    before = _existing_covered(households, stations, station_type, radius, distance, network, max_leg)
    vul = households["vulnerable"].to_numpy(dtype=bool)
    n = len(households)
    # The model: pairs between candidates and the households still out of reach that carry weight.
    out_pos = np.flatnonzero(~before)
    model_pos = out_pos[w_all[out_pos] > 0]
    cxy = cf[["x_m", "y_m"]].to_numpy(dtype=float)
    walk = distance == "walk"
    cjoin = join_of(network, cf) if walk and network is not None and len(cf) else None

    def pairs_to(pos: np.ndarray, cand: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        sub = households.iloc[pos]
        dj = join_of(network, sub) if walk and network is not None and len(sub) else None
        sj = None
        if cjoin is not None:
            pick = np.arange(len(cf)) if cand is None else cand
            sj = Join(cjoin.edge[pick], cjoin.t[pick], cjoin.leg[pick])
        src = cxy if cand is None else cxy[cand]
        i, j, _d = pairs_within(src, sub[["x_m", "y_m"]].to_numpy(dtype=float), r, distance=distance,
                                network=network, src_join=sj, dst_join=dj, max_leg=max_leg)
        return (i if cand is None else cand[i]), pos[j]

    pi, pj = pairs_to(model_pos)
    demand = demand_groups(pi, pj, w_all)
    cap_arr = None
    flow: dict[tuple[int, int], float] = {}
    if capacity is not None or ("capacity" in cf.columns and cf["capacity"].notna().any()):
        default = float(capacity) if capacity is not None else np.inf
        cap_arr = (cf["capacity"].fillna(default).to_numpy(dtype=float) if "capacity" in cf.columns
                   else np.full(len(cf), default))
        if not np.isfinite(cap_arr).all():
            raise WarmGridError("有候选点没有容量：请给出 --capacity 或在文件中填写容量",
                                "some candidates have no capacity: give --capacity or fill the file's capacity column")
        sol, flow = solve_capacitated(demand, cap_arr, k, solver=solver, time_limit=time_limit)
    else:
        sol = solve_mclp(demand, k, solver=solver, time_limit=time_limit)
    # Every household out of reach that a chosen site covers (weight or not), for the counts.
    ci, cj = pairs_to(out_pos, np.asarray(sol.chosen, dtype=np.int64)) if sol.chosen else (
        np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    # Rank the chosen sites by marginal gain (greedy within the optimal set), counted on households.
    covered = before.copy()
    remaining = list(sol.chosen)
    rows = []
    newly: dict[int, np.ndarray] = {}
    served_by: dict[int, float] = {}
    if cap_arr is not None:
        for (_g, j), x in flow.items():
            served_by[j] = served_by.get(j, 0.0) + x
    rank = 0
    while remaining:
        best, best_gain, best_new = -1, -1.0, np.zeros(0, dtype=np.int64)
        for j in remaining:
            hh = cj[ci == j]
            new = hh[~covered[hh]]
            gain = float(w_all[new].sum()) if cap_arr is None else served_by.get(j, 0.0)
            if gain > best_gain or (gain == best_gain and j < best):
                best, best_gain, best_new = j, gain, new
        remaining.remove(best)
        rank += 1
        covered[best_new] = True
        newly[rank] = best_new
        row = cf.iloc[best]
        rows.append({"rank": rank, "candidate_id": row["candidate_id"], "name": row["name"],
                     "lon": float(row["lon"]), "lat": float(row["lat"]), "x_m": float(row["x_m"]),
                     "y_m": float(row["y_m"]), "gain": best_gain, "gain_households": int(len(best_new)),
                     "gain_vulnerable": int(vul[best_new].sum()),
                     "sentence": gain_sentence(rank, station_type, best_gain, weight)})
        if cap_arr is not None:
            rows[-1]["served"] = served_by.get(best, 0.0)
            rows[-1]["capacity"] = float(cap_arr[best])
    cols = ["rank", "candidate_id", "name", "lon", "lat", "x_m", "y_m", "gain", "gain_households", "gain_vulnerable",
            "sentence"] + (["served", "capacity"] if cap_arr is not None else [])
    proposals = pd.DataFrame(rows, columns=cols)
    after = covered
    cov_before = float(w_all[before].sum())
    cov_after = (cov_before + float(sol.objective)) if cap_arr is not None else float(w_all[after].sum())
    what_if = {"households": int(n), "vulnerable": int(vul.sum()),
               "outside_before": int((~before).sum()), "outside_after": int((~after).sum()),
               "vulnerable_outside_before": int((~before & vul).sum()),
               "vulnerable_outside_after": int((~after & vul).sum()),
               "new_stations": int(len(proposals))}
    comm = households["community_code"] if "community_code" in households.columns else pd.Series([""] * n)
    by_comm = pd.DataFrame({"community_code": comm.astype(object).to_numpy(), "ob": ~before, "oa": ~after,
                            "vb": ~before & vul, "va": ~after & vul}).groupby("community_code", dropna=False).agg(
        outside_before=("ob", "sum"), outside_after=("oa", "sum"), vulnerable_outside_before=("vb", "sum"),
        vulnerable_outside_after=("va", "sum")).reset_index()
    res = SitingResult(station_type=station_type, distance=distance, weight=weight, radius_m=r, k=int(k),
                       candidates=cands, covered_before=cov_before, covered_after=cov_after,
                       total_demand=float(w_all.sum()), proposals=proposals, solution=sol, what_if=what_if,
                       by_community=by_comm, newly_covered=newly, groups=len(demand.weight),
                       households_in_model=int(len(demand.hh)), capacitated=cap_arr is not None)
    if curve:
        for kk in range(1, int(k) + 1):
            if cap_arr is not None:
                s_k, _ = solve_capacitated(demand, cap_arr, kk, solver=solver, time_limit=time_limit)
            else:
                s_k = solve_mclp(demand, kk, solver=solver, time_limit=time_limit)
            res.curve.append({"k": kk, "covered": cov_before + s_k.objective, "gain": s_k.objective, "gap": s_k.gap})
    return res


def lscp(households: pd.DataFrame, stations: pd.DataFrame, candidates: pd.DataFrame | Candidates, station_type: str,
         *, radius: float | None = None, distance: str = "straight", network: Network | None = None,
         solver: str = "SCIP", time_limit: float = 120.0, max_leg: float = MAX_LEG_M) -> dict[str, Any]:
    """The fewest new stations that cover every vulnerable household out of reach today that some
    candidate can reach (set covering), and how many no candidate can reach.

    Returns ``{"stations": n, "chosen": [candidate ids], "coverable": households, "not_coverable":
    households, "solver": {...}}`` (vulnerable households).
    """
    cands = candidates if isinstance(candidates, Candidates) else Candidates(candidates.reset_index(drop=True), "file")
    cf = cands.frame.reset_index(drop=True)
    r = float(radius) if radius is not None else float(model.STATION_TYPES[station_type].radius_m)
    before = _existing_covered(households, stations, station_type, radius, check_distance(distance), network, max_leg)
    vul = households["vulnerable"].to_numpy(dtype=bool)
    target = np.flatnonzero(~before & vul)
    sub = households.iloc[target]
    dst_join = join_of(network, sub) if distance == "walk" and network is not None and len(sub) else None
    pi, pj_local, _ = pairs_within(cf[["x_m", "y_m"]].to_numpy(dtype=float), sub[["x_m", "y_m"]].to_numpy(dtype=float),
                                   r, distance=distance, network=network, dst_join=dst_join, max_leg=max_leg)
    demand = demand_groups(pi, pj_local, np.ones(len(sub)))
    sol = solve_lscp(demand, solver=solver, time_limit=time_limit)
    coverable = int(len(np.unique(pj_local)))
    return {"station_type": station_type, "distance": distance, "radius_m": r, "stations": len(sol.chosen),
            "chosen": [str(cf["candidate_id"].iloc[j]) for j in sol.chosen], "vulnerable_out_of_reach": int(len(target)),
            "coverable": coverable, "not_coverable": int(len(target)) - coverable, "model": sol.as_dict()}
