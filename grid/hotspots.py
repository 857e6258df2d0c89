"""Hot and cold spots: Getis-Ord Gi* on a per-cell measure.

Which cells sit in a cluster of high values (a *hot spot*: many vulnerable
households, many overdue visits) or of low values (a *cold spot*), more than
chance would give? The local Getis-Ord statistic Gi* (Getis & Ord 1992, Ord &
Getis 1995) compares the sum of a measure over a cell's neighbourhood, the
cell itself included, with the sum over the whole district.

The statistic and its permutation p-values come from :class:`esda.G_Local`
(``star=True``); this module adds the spatial weights for cell polygons, a
Benjamini-Hochberg false-discovery-rate adjustment over the many cells tested
at once, and named classes with Chinese and English labels.

Like :mod:`grid.coverage`, the functions take frames and return frames (no I/O, no UI).

Conventions
-----------
* Weights are binary (``transform="B"``): every neighbour, and the cell itself
  (Gi* puts a self-weight of 1 on the diagonal), counts once. Gi* is then the
  neighbourhood's share of the district total, and esda's analytical ``z``
  (the classic Getis-Ord z-score) is meant for binary weights. Row
  standardisation can be asked for with ``transform="R"``: it leaves the
  permutation ``p_sim`` (and hence ``q`` and the class) unchanged but changes
  esda's analytical ``z`` and ``p_norm``, whose moments then use row sums of 1.
* ``p_sim`` is esda 2.9's pseudo p-value from conditional permutations, its
  current default ``alternative="directed"`` (one-sided, in the direction the
  cell deviates): ``(min(larger, permutations - larger) + 1) / (permutations + 1)``
  (esda's warning that this default will change is silenced). It is never below ``1 / (permutations + 1)``, so the 99 % classes need at
  least 999 permutations to be reachable after the FDR adjustment.
* ``q`` is the Benjamini-Hochberg adjustment of ``p_sim`` over the cells that
  have a neighbour; the class comes from ``q`` and the sign of ``z``.
* A cell with no neighbour (an *island* of the weights) gets no
  classification: its ``z``, ``p_sim``, ``p_norm`` and ``q`` are NaN and its
  class is ``"no_neighbours"``.

Examples
--------
>>> import numpy as np
>>> bh_adjust(np.array([0.01, 0.04, 0.03, 0.5])).round(3).tolist()
[0.04, 0.053, 0.053, 0.5]
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from grid.errors import WarmGridError

if TYPE_CHECKING:
    from libpysal.weights import W

# esda and libpysal are imported where they are used: importing them takes about 1.5 s (libpysal's
# graph module, esda's adbscan), and this module is imported when anyone who may see the assistance
# page signs in.

__all__ = [
    "cell_values",
    "CLASSES",
    "HOT_CLASSES",
    "COLD_CLASSES",
    "LEVELS",
    "weights",
    "bh_adjust",
    "gi_star",
    "need_help_coldspots",
]

#: Class -> (Chinese label, English label). ``class`` values of :func:`gi_star`.
CLASSES: dict[str, tuple[str, str]] = {
    "hot_99": ("热点（99% 置信）", "hot spot (99 % confidence)"),
    "hot_95": ("热点（95% 置信）", "hot spot (95 % confidence)"),
    "hot_90": ("热点（90% 置信）", "hot spot (90 % confidence)"),
    "cold_99": ("冷点（99% 置信）", "cold spot (99 % confidence)"),
    "cold_95": ("冷点（95% 置信）", "cold spot (95 % confidence)"),
    "cold_90": ("冷点（90% 置信）", "cold spot (90 % confidence)"),
    "not_significant": ("不显著", "not significant"),
    "no_neighbours": ("无相邻网格，不分类", "no neighbouring cell, not classified"),
}

HOT_CLASSES: tuple[str, ...] = ("hot_99", "hot_95", "hot_90")
COLD_CLASSES: tuple[str, ...] = ("cold_99", "cold_95", "cold_90")

#: Confidence level -> the FDR-adjusted p-value ``q`` must be below this.
LEVELS: dict[int, float] = {99: 0.01, 95: 0.05, 90: 0.10}

_COLUMNS = ["cell_id", "value", "z", "p_sim", "p_norm", "q", "class"]


# --------------------------------------------------------------------------- weights
def cell_values(per_cell: pd.DataFrame, measure: str, cells: Sequence[str] | pd.Series) -> pd.Series:
    """The per-cell values a hot-spot analysis tests: one function for the CLI and the leader's page.

    ``per_cell`` is :func:`grid.assistance.measures` by ``"cell"``. Every cell of
    ``cells`` that holds households gets its value of ``measure``; a cell with
    no household (a park, a lake: nobody to help) is left out rather than
    counted as 0, and so is a cell where the measure is undefined (e.g.
    ``per_vulnerable`` where no household is vulnerable). The outside-every-cell
    row of ``per_cell`` is never a cell.

    Examples
    --------
    >>> per = pd.DataFrame({"cell_id": ["a", "b", "c", None], "households": [3, 2, 0, 1],
    ...                     "per_vulnerable": [10.0, np.nan, np.nan, 5.0], "total_yuan": [30.0, 0.0, 0.0, 5.0]})
    >>> cell_values(per, "total_yuan", ["a", "b", "c", "d"]).to_dict()
    {'a': 30.0, 'b': 0.0}
    >>> cell_values(per, "per_vulnerable", ["a", "b", "c", "d"]).to_dict()
    {'a': 10.0}
    """
    if measure not in per_cell.columns:
        raise WarmGridError(f"未知的指标：{measure}", f"unknown measure: {measure}")
    rows = per_cell[per_cell["cell_id"].notna() & (per_cell["households"] > 0)]
    values = rows.set_index("cell_id")[measure].astype(float)
    wanted = pd.Index([str(c) for c in cells])
    values = values[values.index.isin(wanted)]
    values = values[np.isfinite(values.to_numpy())]
    order = [c for c in wanted if c in values.index]
    return values.reindex(order).rename(measure)


def weights(
    cells_gdf: gpd.GeoDataFrame,
    kind: Literal["queen", "knn"] = "queen",
    k: int = 6,
    id_col: str = "cell_id",
) -> W:
    """Spatial weights between cells, keyed by ``cell_id``.

    Parameters
    ----------
    cells_gdf : GeoDataFrame
        Cells with ``cell_id`` and polygon geometry, e.g. from
        ``grid.coverage.load_cells(store, metric=True)`` (use a metric CRS for ``"knn"``).
    kind : {"queen", "knn"}
        ``"queen"``: cells sharing an edge or a corner are neighbours.
        ``"knn"``: the ``k`` nearest cells by centroid (no islands, not symmetric).
    k : int
        Neighbours per cell for ``"knn"``.
    id_col : str
        The column with the cells' ids.

    Returns
    -------
    libpysal.weights.W
        Binary weights whose ids are the cell ids, in the frame's order. Under
        queen contiguity a cell touching no other cell is an island
        (``w.islands``) and gets no classification in :func:`gi_star`.
    """
    if id_col not in cells_gdf.columns:
        raise WarmGridError(f"网格表缺少列：{id_col}", f"cells lack the column: {id_col}")
    ids = cells_gdf[id_col].tolist()
    if len(set(ids)) != len(ids):
        raise WarmGridError("网格编号重复", f"duplicate values in {id_col}")
    if len(ids) < 2:
        raise WarmGridError("至少需要两个网格", "at least two cells are needed")
    frame = gpd.GeoDataFrame({"_id": ids}, geometry=cells_gdf.geometry.to_numpy(), crs=cells_gdf.crs)
    with warnings.catch_warnings():
        # libpysal warns about islands and disconnected components; gi_star handles islands.
        warnings.simplefilter("ignore", UserWarning)
        if kind == "queen":
            from libpysal.weights import Queen

            w = Queen.from_dataframe(frame, ids=ids, use_index=False)
        elif kind == "knn":
            if not 1 <= k < len(ids):
                raise WarmGridError(f"k 须在 1 与 {len(ids) - 1} 之间：{k}", f"k must be in 1..{len(ids) - 1}: {k}")
            pts = gpd.GeoDataFrame({"_id": ids}, geometry=frame.geometry.centroid, crs=frame.crs)
            from libpysal.weights import KNN

            w = KNN.from_dataframe(pts, k=k, ids=ids, use_index=False)
        else:
            raise WarmGridError(f"未知的权重类型：{kind}", f"unknown weights kind: {kind} (queen or knn)")
    w.transform = "B"
    return w


# --------------------------------------------------------------------------- FDR
def bh_adjust(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``q``), in the input's order.

    ``q_(i) = min_{j >= i} min(1, m * p_(j) / j)`` over the p-values sorted
    ascending, ``m`` the number of p-values. A cell with ``q < alpha`` is
    significant with a false discovery rate of at most ``alpha``. NaN stays NaN
    and does not count in ``m``.

    Parameters
    ----------
    p : array-like of float
        Unadjusted p-values.

    Returns
    -------
    ndarray
        The adjusted p-values.
    """
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv, kind="stable")
    scaled = pv[order] * m / np.arange(1, m + 1)
    adj = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adj
    q[ok] = out
    return q


def _classify(z: np.ndarray, q: np.ndarray, fdr: float) -> np.ndarray:
    cls = np.full(len(z), "not_significant", dtype=object)
    cls[np.isnan(z)] = "no_neighbours"
    sig = ~np.isnan(q) & (q < fdr)
    # From the weakest level to the strongest, so the strongest that applies wins.
    for level in (90, 95, 99):
        hit = sig & (q < LEVELS[level])
        cls[hit & (z > 0)] = f"hot_{level}"
        cls[hit & (z < 0)] = f"cold_{level}"
    return cls


# --------------------------------------------------------------------------- Gi*
def gi_star(
    values: pd.Series,
    w: W,
    *,
    permutations: int = 999,
    seed: int = 0,
    fdr: float = 0.05,
    transform: Literal["B", "R"] = "B",
) -> pd.DataFrame:
    """Getis-Ord Gi* hot and cold spots of a per-cell measure.

    Parameters
    ----------
    values : Series
        The measure, indexed by ``cell_id``; every id of ``w`` must be present
        (extra cells are ignored). Non-negative counts or rates; no NaN.
    w : libpysal.weights.W
        Weights from :func:`weights` (ids are cell ids). Not modified.
    permutations : int
        Conditional permutations for ``p_sim`` (at least 1; 999 by default).
    seed : int
        Seed of esda's permutations: the same seed gives the same ``p_sim``.
    fdr : float
        The false discovery rate accepted, in (0, 1): a cell is classified hot
        or cold only when ``q < fdr``, at the strongest level of 99/95/90 %
        (``q`` < 0.01 / 0.05 / 0.10) it reaches. With the default 0.05 the 90 %
        classes are not used; pass ``fdr=0.10`` for all three levels (a larger
        ``fdr`` adds no further class).
    transform : {"B", "R"}
        esda's weights transformation: binary (default) or row-standardised.

    Returns
    -------
    DataFrame
        ``cell_id, value, z, p_sim, p_norm, q, class`` in ``w.id_order``:
        ``z`` and ``p_norm`` are esda's analytical z-score and its one-tailed
        normal p-value, ``p_sim`` the permutation pseudo p-value, ``q`` its
        Benjamini-Hochberg adjustment, ``class`` a key of :data:`CLASSES`.
    """
    if not 0 < fdr < 1:
        raise WarmGridError(f"错误发现率须在 0 与 1 之间：{fdr}", f"fdr must be in (0, 1): {fdr}")
    if permutations < 1:
        raise WarmGridError("置换次数至少为 1", f"permutations must be at least 1: {permutations}")
    ids: list[Hashable] = list(w.id_order)
    missing = [i for i in ids if i not in values.index]
    if missing:
        raise WarmGridError(f"缺少网格的数值：{missing[:5]}", f"values lack cells: {missing[:5]}")
    y = values.reindex(ids).to_numpy(dtype=float)
    if np.isnan(y).any():
        raise WarmGridError("数值含空值", "values contain NaN")
    if y.sum() <= 0 or np.ptp(y) == 0:
        raise WarmGridError("数值须有正的总和且不全相同", "values must have a positive sum and vary")
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # esda: the "alternative" default will change (G_Local cannot pass it yet); libpysal:
        # disconnected components; numpy: an island's simulated z divides by zero. Islands are handled below.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        import esda

        g = esda.G_Local(y, w, transform=transform, permutations=permutations, star=True, seed=seed, n_jobs=1)
    z = np.asarray(g.Zs, dtype=float).copy()
    p_sim = np.asarray(g.p_sim, dtype=float).copy()
    p_norm = np.asarray(g.p_norm, dtype=float).copy()
    island = np.isin(np.asarray(ids, dtype=object), np.asarray(list(w.islands), dtype=object))
    z[island] = p_sim[island] = p_norm[island] = np.nan
    q = bh_adjust(p_sim)
    out = pd.DataFrame({"cell_id": ids, "value": y, "z": z, "p_sim": p_sim, "p_norm": p_norm, "q": q})
    out["class"] = _classify(z, q, fdr)
    return out[_COLUMNS]


# --------------------------------------------------------------------------- need vs help
def need_help_coldspots(
    cells_measures: pd.DataFrame,
    need_col: str,
    help_col: str,
    w: W,
    *,
    permutations: int = 999,
    seed: int = 0,
    fdr: float = 0.05,
    require_cold_help: bool = False,
) -> pd.DataFrame:
    """Cells in a hot spot of need that are not in a hot spot of help.

    Gi* is run twice with the same weights and seed: on the need measure
    (e.g. vulnerable households per cell) and on the help measure (e.g. visits
    or station places per cell). A cell is returned when it is hot for need
    (any ``hot_*`` class) and, for help, not hot (``require_cold_help=False``)
    or cold (``require_cold_help=True``). Two separate tests are used rather
    than one combined index so that each side keeps its own unit and its own
    significance, and a cell reads as "much need here, no more help than usual".

    Parameters
    ----------
    cells_measures : DataFrame
        ``cell_id``, ``need_col`` and ``help_col``, one row per cell of ``w``.
    need_col, help_col : str
        The need and help columns.
    w : libpysal.weights.W
        Weights from :func:`weights`.
    permutations, seed, fdr
        As in :func:`gi_star`.
    require_cold_help : bool
        Ask help to be a cold spot rather than merely not a hot spot.

    Returns
    -------
    DataFrame
        ``cell_id, need, help, need_z, need_q, need_class, help_z, help_q,
        help_class``, strongest need hot spots (highest ``need_z``) first.
    """
    for col in ("cell_id", need_col, help_col):
        if col not in cells_measures.columns:
            raise WarmGridError(f"缺少列：{col}", f"cells_measures lacks the column: {col}")
    frame = cells_measures.set_index("cell_id")
    need = gi_star(frame[need_col], w, permutations=permutations, seed=seed, fdr=fdr)
    helps = gi_star(frame[help_col], w, permutations=permutations, seed=seed, fdr=fdr)
    both = need.merge(helps, on="cell_id", suffixes=("_need", "_help"))
    hot_need = both["class_need"].isin(HOT_CLASSES)
    if require_cold_help:
        low_help = both["class_help"].isin(COLD_CLASSES)
    else:
        low_help = ~both["class_help"].isin(HOT_CLASSES)
    sel = both[hot_need & low_help]
    out = pd.DataFrame(
        {
            "cell_id": sel["cell_id"],
            "need": sel["value_need"],
            "help": sel["value_help"],
            "need_z": sel["z_need"],
            "need_q": sel["q_need"],
            "need_class": sel["class_need"],
            "help_z": sel["z_help"],
            "help_q": sel["q_help"],
            "help_class": sel["class_help"],
        }
    )
    return out.sort_values(["need_z", "cell_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
