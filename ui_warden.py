"""The warden's page (我的网格) computed once per data generation and shared by every session.

A warden opens the app on the same phone every day; at 1,000,000 households the page took about
2.4 s of the server's time on each visit: reading the warden's households and their last visits
from the whole district's tables (0.8 s), the reach of each to a station, grouping them into
buildings, and building and rendering the folium map (0.8 s). None of it changes until the data
does. :func:`warden_view` caches the data by the store's path and data ``generation`` (every
committed write makes a new one: a logged visit shows at once), the actor's role and scope, the
day and the page's settings; :func:`warden_map_payload` caches the rendered map the same way
(:mod:`ui_map`).

What comes back is shared between sessions: read it, never change it in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

import ui
import ui_map
from grid import access
from grid.access import Actor
from grid.buildings import group_buildings
from grid.coverage import household_reach, load_cells, load_patrol_areas, load_stations
from grid.network import Network
from grid.store import Store
from grid.visits import due_now, warden_households
from ui_map import MapPayload

__all__ = ["WardenView", "warden_map_payload", "warden_view"]


@dataclass(frozen=True)
class WardenView:
    """What the warden's page shows, for one actor, day and settings.

    ``households``: :func:`grid.visits.warden_households` (masked for the actor) with ``label``
    and the reach columns ``reach_m, reach_covered, reach_tier, reach_status``; ``due``: the
    households due now (:func:`grid.visits.due_now`); ``overdue``: per household, whether it is in
    ``due``; ``buildings``: :func:`grid.buildings.group_buildings`; ``cells``, ``stations`` and
    ``patrols``: the warden's cells, every station, the patrol areas meeting the cells.
    """

    households: pd.DataFrame
    due: pd.DataFrame
    overdue: np.ndarray
    buildings: pd.DataFrame
    cells: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    patrols: gpd.GeoDataFrame


def _compute(store: Store, actor: Actor, as_of: date, visit_days: int, station_type: str, distance: str,
             network: Network | None) -> WardenView:
    shown = warden_households(store, actor, as_of)
    shown["label"] = shown["address"].astype(str) + " · " + shown["head_name"].fillna("").astype(str)
    stations = load_stations(store)
    # How far each of the warden's households is from the nearest station of the type (every station counts).
    if len(shown):
        reach = household_reach(shown, stations, station_type, distance=distance, network=network)
        shown = shown.assign(reach_m=reach["distance_m"].to_numpy(), reach_covered=reach["covered"].to_numpy(),
                             reach_tier=reach["tier"].to_numpy(), reach_status=reach["status"].astype(str).to_numpy())
    else:
        shown = shown.assign(reach_m=[], reach_covered=[], reach_tier=[], reach_status=[])
    cells = access.filter_households(load_cells(store), actor.scope)
    patrols = load_patrol_areas(store)
    patrols = patrols[patrols.intersects(cells.union_all())] if len(patrols) else patrols
    due = due_now(shown, visit_days)  # the count, the due list and the buildings' status: the same households
    overdue = shown["hh_id"].isin(due["hh_id"]).to_numpy(dtype=bool)
    buildings = group_buildings(shown, overdue)
    return WardenView(households=shown, due=due, overdue=overdue, buildings=buildings, cells=cells,
                      stations=stations, patrols=patrols)


@st.cache_resource(show_spinner=False, max_entries=64)
def _cached(path: str, generation: int, actor_key: str, as_of: date, visit_days: int, station_type: str,
            distance: str, _store: Store, _actor: Actor, _network: Network | None) -> WardenView:
    return _compute(_store, _actor, as_of, visit_days, station_type, distance, _network)


def warden_view(store: Store, actor: Actor, *, as_of: date, visit_days: int, station_type: str,
                distance: str) -> WardenView:
    """The warden page's data for ``actor`` (cached per data generation, role and scope, day and settings).

    ``distance``: ``walk`` (through the store's street network) or ``straight``.
    """
    network = ui.shared_network(store)
    return _cached(store.path, store.generation, actor.cache_key, as_of, int(visit_days), station_type, distance,
                   store, actor, network if distance == "walk" else None)


def warden_map_payload(store: Store, actor: Actor, view: WardenView, *, as_of: date, visit_days: int,
                       station_type: str, distance: str, basemap: str, tianditu_key: str) -> MapPayload:
    """The warden's map of ``view``, rendered once per process for these inputs (:mod:`ui_map`)."""
    from maps.warden import warden_map

    network = ui.shared_network(store) if distance == "walk" else None
    key = ("warden", store.path, store.generation, actor.cache_key, as_of, int(visit_days), station_type, distance,
           basemap, tianditu_key)
    return ui_map.cached_payload(key, lambda: warden_map(
        view.cells, view.households, view.stations, view.patrols, visit_days=visit_days, basemap=basemap,
        tianditu_key=tianditu_key, station_type=station_type, network=network, buildings=view.buildings))
