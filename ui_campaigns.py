"""The committee's campaign page (走访活动) computed once per data generation and shared by every session.

At 1,000,000 households a visit to the page took 13–14 s from the click in the menu to both maps
drawn (``bench/app.py``): on every run the page read the campaign's targets, visits and
assistance, audited them, read the plan's setup, the plan, its progress and its points (about
3 s of queries), and st_folium rendered each of the two maps three times (one GeoJSON layer and
tooltip per visitor's route: 361 of them for a street). None of it changes until the data does.
The functions here cache the data by the store's path and data ``generation`` (every committed
write makes a new one: a moved household or a logged visit shows at once), the actor's role and
scope, the campaign, the area and the plan; the maps are rendered once per input (:mod:`ui_map`).

What comes back is shared between sessions: read it, never change it in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import streamlit as st

import ui_map
from grid import access
from grid.access import Actor, Scope
from grid.campaigns import Audit, CampaignData, audit_campaign, campaign_frames
from grid.coverage import load_cells
from grid.planning import Plan, load_plan, plan_points, plan_progress, plan_setup
from grid.store import Store
from ui_map import MapPayload

__all__ = ["AuditView", "PlanView", "audit_map_payload", "audit_view", "plan_inputs", "plan_map_payload",
           "plan_view", "scope_cells"]


@st.cache_resource(show_spinner=False, max_entries=32)
def _scope_cells(path: str, generation: int, scope_key: str, _store: Store, _scope: Scope) -> gpd.GeoDataFrame:
    return access.filter_households(load_cells(_store), _scope)


def scope_cells(store: Store, actor: Actor) -> gpd.GeoDataFrame:
    """The cells of the actor's scope (WGS84), as the page's maps draw them."""
    return _scope_cells(store.path, store.generation, actor.scope.key, store, actor.scope)


@dataclass(frozen=True)
class AuditView:
    """A campaign's audit over an area: the inputs, the audit, and its omissions and duplicates
    with each household's position and the reason shown on the map (``reason``)."""

    data: CampaignData
    audit: Audit
    omissions: pd.DataFrame
    duplicates: pd.DataFrame


@st.cache_resource(show_spinner=False, max_entries=32)
def _audit(path: str, generation: int, actor_key: str, campaign: str, area: str, _store: Store,
           _scope: Scope) -> AuditView:
    data = campaign_frames(_store, campaign, area, scope=_scope)
    au = audit_campaign(data.targets, data.visits, data.assistance)
    pos = data.targets[["hh_id", "lon", "lat"]].set_index("hh_id")
    om = au.omissions.join(pos, on="hh_id").assign(reason=lambda d: d["zh"])
    du = au.duplicates.join(pos, on="hh_id").assign(reason=lambda d: d["zh"])
    return AuditView(data=data, audit=au, omissions=om, duplicates=du)


def audit_view(store: Store, actor: Actor, campaign: str, area: str) -> AuditView:
    """:func:`grid.campaigns.audit_campaign` of ``campaign`` over ``area`` within the actor's scope
    (cached; a :class:`~grid.errors.WarmGridError` is raised each time, never cached)."""
    return _audit(store.path, store.generation, actor.cache_key, campaign, area, store, actor.scope)


def audit_map_payload(store: Store, actor: Actor, view: AuditView, campaign: str, area: str,
                      title: str) -> MapPayload:
    """The audit's map (omissions and duplicates over the actor's cells), rendered once per input."""
    from maps.plan import audit_map

    key = ("audit", store.path, store.generation, actor.cache_key, campaign, area, title)
    return ui_map.cached_payload(key, lambda: audit_map(scope_cells(store, actor), view.omissions,
                                                        view.duplicates, title))


@st.cache_resource(show_spinner=False, max_entries=32)
def _setup(path: str, generation: int, actor_key: str, campaign: str, area: str, _store: Store,
           _actor: Actor) -> tuple[int, pd.DataFrame]:
    return plan_setup(_store, _actor, campaign, area)


def plan_inputs(store: Store, actor: Actor, campaign: str, area: str) -> tuple[int, pd.DataFrame]:
    """:func:`grid.planning.plan_setup` (the targets' count and the candidate visitors), cached."""
    return _setup(store.path, store.generation, actor.cache_key, campaign, area, store, actor)


@dataclass(frozen=True)
class PlanView:
    """A saved plan as the page shows it: the plan, its progress, its points (with ``label``, the
    address), the cells of its area (``area_cells``) and whether the actor's scope covers them."""

    plan: Plan
    progress: pd.DataFrame
    items: pd.DataFrame
    area_cells: frozenset[str]
    in_scope: bool


@st.cache_resource(show_spinner=False, max_entries=32)
def _plan(path: str, generation: int, actor_key: str, plan_id: str, _store: Store, _scope: Scope) -> PlanView:
    plan = load_plan(_store, plan_id)
    cells = frozenset(access.cells_in_scope(_store, [plan.area_code]))
    items = plan_points(_store, plan)
    items["label"] = items["address"]
    return PlanView(plan=plan, progress=plan_progress(_store, plan_id), items=items, area_cells=cells,
                    in_scope=_scope.covers(Scope.of_cells(cells)))


def plan_view(store: Store, actor: Actor, plan_id: str) -> PlanView:
    """The saved plan ``plan_id`` (cached per data generation: a moved household shows at once)."""
    return _plan(store.path, store.generation, actor.cache_key, plan_id, store, actor.scope)


def plan_map_payload(store: Store, actor: Actor, view: PlanView, plan_id: str) -> MapPayload:
    """The plan's routes over its area's cells, rendered once per input."""
    from maps.plan import plan_map

    def build() -> Any:
        cells = scope_cells(store, actor)
        mine = cells[cells["cell_id"].isin(view.area_cells)]
        plan = view.plan
        return plan_map(mine if len(mine) else cells, view.items, plan.visitors,
                        f"{plan.campaign_name} · {plan.area_name}：{len(plan.visitors)} 条路线")

    key = ("plan", store.path, store.generation, actor.cache_key, plan_id)
    return ui_map.cached_payload(key, build)
