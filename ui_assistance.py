"""The assistance page's (救助分布) data, computed once per data generation and shared by every session,
and started in the background when someone who may see the page signs in.

At 1,000,000 households the page's first open took 5.8 s on a server that had not computed it:
reading every household and aid record (1.2 s), the area's households (0.3 s), the measures by
cell (0.5 s), Gi* (0.25 s), then the maps. A leader signs in, looks at the overview and then opens
the page; :func:`prefetch` uses those seconds (once the overview's own background work is done) to compute the page's first view (the actor's whole
scope, by cell, 困难户户均救助, every campaign, seed 0) in one background worker, and the page's
own calls find it done (or wait for it, never computing it twice).

The library's functions are looked up on their modules at each call (a test may replace them).
Every function is keyed by the store's path, identity and data ``generation`` (a committed write
makes a new one) and by its settings; what comes back is shared: read it, never change it in place.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd

import ui
from grid import access
from grid import assistance as _assistance
from grid import hotspots as _hotspots
from grid.access import Actor
from grid.coverage import load_cells
from grid.store import Store

__all__ = ["DEFAULT_LEVEL", "DEFAULT_MEASURE", "DEFAULT_SEED", "area_inputs", "area_key", "hotspots", "inputs",
           "prefetch", "unit_measures"]

#: The page's first view.
DEFAULT_LEVEL = "cell"
DEFAULT_MEASURE = "per_vulnerable"
DEFAULT_SEED = 0
PERMUTATIONS = 999
#: How long the prefetch waits for the overview's background work before it starts anyway.
PREFETCH_WAIT_S = 60.0

T = TypeVar("T")
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warmgrid-assistance")
_LOCK = threading.Lock()
_FUTURES: OrderedDict[Hashable, Future[Any]] = OrderedDict()
#: Results kept (inputs are the largest: about 150 MB at 1,000,000 households, two generations at most).
KEPT = 48
_INPUTS_KEPT = 2


def _shared(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` once per key for every thread: the first caller computes, the others wait for it."""
    with _LOCK:
        fut = _FUTURES.get(key)
        mine = fut is None or (fut.done() and fut.exception() is not None)
        if mine:
            fut = Future()
            _FUTURES[key] = fut
            inputs_keys = [k for k in _FUTURES if isinstance(k, tuple) and k[0] == "inputs"]
            for old in inputs_keys[:-_INPUTS_KEPT]:
                _FUTURES.pop(old, None)
            while len(_FUTURES) > KEPT:
                _FUTURES.popitem(last=False)
        else:
            _FUTURES.move_to_end(key)
    assert fut is not None
    if mine:
        try:
            fut.set_result(compute())
        except BaseException as exc:
            fut.set_exception(exc)
    return fut.result()  # type: ignore[no-any-return]


def _base(store: Store) -> tuple[str, int, int]:
    return (store.path, id(store), store.generation)


def area_key(cells: Iterable[str]) -> str:
    """The digest that names an area (a set of cells) in the caches.

    >>> area_key(["b", "a"]) == area_key(["a", "b"])
    True
    """
    return hashlib.sha256("\n".join(sorted(map(str, cells))).encode()).hexdigest()


def inputs(store: Store, campaign: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`grid.assistance.load_assistance_inputs` for one campaign (``None``: all)."""
    return _shared(("inputs", *_base(store), campaign),
                   lambda: _assistance.load_assistance_inputs(store, campaign_id=campaign))


def area_inputs(store: Store, campaign: str | None, cells: frozenset[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The households of ``cells`` and their aid (:func:`grid.assistance.for_cells`)."""
    def compute() -> tuple[pd.DataFrame, pd.DataFrame]:
        households, aid = inputs(store, campaign)
        return _assistance.for_cells(households, aid, cells)

    return _shared(("area", *_base(store), campaign, area_key(cells)), compute)


def unit_measures(store: Store, campaign: str | None, cells: frozenset[str], level: str) -> pd.DataFrame:
    """:func:`grid.assistance.measures` of the area's households by ``level``."""
    def compute() -> pd.DataFrame:
        households, aid = area_inputs(store, campaign, cells)
        return _assistance.measures(households, aid, level)

    return _shared(("measures", *_base(store), campaign, area_key(cells), level), compute)


def hotspots(store: Store, campaign: str | None, cells: frozenset[str], measure: str, seed: int,
             cells_m: gpd.GeoDataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """The cells' values of ``measure`` (:func:`grid.hotspots.cell_values`) and their Gi* (999
    permutations, queen contiguity among ``cells_m``, the area's cells in metres)."""
    def compute() -> tuple[pd.Series, pd.DataFrame]:
        by_cell = unit_measures(store, campaign, cells, "cell")
        vals = _hotspots.cell_values(by_cell[by_cell["cell_id"].notna()], measure, sorted(cells))
        hot = cells_m[cells_m["cell_id"].isin(set(vals.index))]
        gi = _hotspots.gi_star(vals, _hotspots.weights(hot, "queen"), permutations=PERMUTATIONS, seed=seed)
        return vals, gi

    return _shared(("hotspots", *_base(store), campaign, area_key(cells), measure, seed), compute)


def scope_cells(store: Store, actor: Actor) -> frozenset[str]:
    """The cells of the actor's scope (the page's area before any drill-down)."""
    return frozenset(access.filter_households(load_cells(store), actor.scope)["cell_id"].astype(str))


def prefetch(store: Store, actor: Actor) -> Future[None] | None:
    """Compute the page's first view for ``actor`` in the background (``None``: the actor may not see
    the page). Failures are logged; the page then computes and shows its own error."""
    if not access.allowed(actor, "view_page", "leader"):
        return None

    def run() -> None:
        try:
            ahead = ui.background_work(store)  # the overview (everyone's first page) first
            if ahead is not None:
                wait([ahead], timeout=PREFETCH_WAIT_S)
            cells = scope_cells(store, actor)
            if cells:
                hotspots(store, None, cells, DEFAULT_MEASURE, DEFAULT_SEED, load_cells(store, metric=True))
        except Exception:
            logging.getLogger(__name__).exception("computing the assistance page's first view in the background")

    return _POOL.submit(run)
