"""Buildings on the warden's map: a building is the households behind one door number in one cell,
drawn as one marker with its count and worst status; its list escapes whatever a file put in a name
or an address; the other layers start hidden."""

from __future__ import annotations

import json
import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

from grid import access
from grid.buildings import door_address, group_buildings
from grid.coverage import load_cells, load_patrol_areas, load_stations
from grid.visits import overdue, warden_households
from maps.warden import warden_map


@pytest.mark.parametrize(("address", "door"), [
    ("滨海社区中山路12号502室", "滨海社区中山路12号"),
    ("中山路12号3栋2单元502室", "中山路12号3栋"),
    ("中山路12号楼301", "中山路12号楼"),
    ("中山路１２号５０２室", "中山路12号"),  # full-width digits
    ("幸福村七组十二号", "幸福村七组十二号"),
    ("城中村", "城中村"),
    (None, ""),
])
def test_door_address(address: str | None, door: str) -> None:
    assert door_address(address) == door


def _warden(store) -> tuple[access.Actor, pd.DataFrame]:
    cells = list(store.scalar("SELECT scope FROM users WHERE username = 'warden'"))
    actor = access.Actor("warden", "warden", access.Scope.of_cells(set(cells)))
    hh = warden_households(store, actor, date(2026, 11, 15))
    return actor, hh.assign(label=hh["address"])


def test_buildings_of_the_demo_warden_agree_with_sql(store) -> None:
    actor, hh = _warden(store)
    due = (hh["target"] & overdue(hh["days_since"], 30)).to_numpy(dtype=bool)
    b = group_buildings(hh, due)
    cells = sorted(actor.scope.cells or [])
    # Independently: a cell and the address without its room (the demo writes …号NNN室).
    n_sql = store.scalar("SELECT count(DISTINCT cell_id || '|' || regexp_replace(address, '[0-9]+室$', ''))"
                         " FROM households WHERE list_contains(?, cell_id)", [cells])
    assert len(b) == n_sql and len(b) < len(hh) / 5  # buildings, not households
    every = [h for ids in b["hh_ids"] for h in ids]
    assert sorted(every) == sorted(hh["hh_id"])  # each household in exactly one building
    assert b["n"].sum() == len(hh) and b["n_due"].sum() == int(due.sum())
    for r in b.itertuples(index=False):
        inside = hh[hh["hh_id"].isin(r.hh_ids)]
        worst = "due" if due[inside.index].any() else "visited" if inside["target"].any() else "other"
        assert r.status == worst
        assert np.isclose(r.lon, inside["lon"].mean()) and np.isclose(r.lat, inside["lat"].mean())


def test_the_map_draws_one_escaped_marker_per_building_and_hides_the_rest(store) -> None:
    actor, hh = _warden(store)
    hostile = '<img src=x onerror="alert(1)">'
    hh.loc[0, "head_name"] = hostile
    hh.loc[0, "address"] = str(hh.loc[0, "address"]) + "<b>x</b>"
    cells = access.filter_households(load_cells(store), actor.scope)
    m = warden_map(cells, hh, load_stations(store), load_patrol_areas(store), visit_days=30, station_type="clinic")
    html = m.get_root().render()
    due = (hh["target"] & overdue(hh["days_since"], 30)).to_numpy(dtype=bool)
    assert html.count('"wg-bldg-icon"') == len(group_buildings(hh, due))  # one icon marker each
    assert hostile not in html and "<b>x</b>" not in html
    assert "&lt;img src=x" in html or "\\u0026lt;img src=x" in html  # escaped, as text
    # Stations, their circles and the patrol areas: in the layer control, not on the map until asked for;
    # the cells and the buildings shown.
    overlays = {json.loads(f'"{k}"'): v for k, v in re.findall(r'"([^"]+)" : (feature_group_\w+),', html)}
    shown = set(re.findall(r"(feature_group_\w+)\.addTo\(map_\w+\)", html))
    assert any(k.startswith("巡逻区域") for k in overlays) and any(k.startswith("站点：") for k in overlays)
    for name, var in overlays.items():
        assert (var in shown) == name.startswith(("我的网格", "楼栋")), name
