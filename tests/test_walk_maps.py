"""Walking maps: catchments instead of circles, the households the straight
line overstates, legends, and escaped text."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import shapely

from grid import coverage as cv
from grid import network as nw
from maps.overview import overview_map
from maps.walking import catchment_features
from tests.actors import EVERYTHING


@pytest.fixture(scope="module")
def walk_overview(store):
    inputs = cv.overview_inputs(store, walking=True)
    ov = cv.overview_from(inputs, "party_service", as_of=date(2026, 11, 15), distance="walk", scope=EVERYTHING)
    return inputs, ov


def test_catchments_follow_the_streets_within_the_radius(walk_overview) -> None:
    inputs, ov = walk_overview
    fc = catchment_features(inputs.network, inputs.stations, "party_service")
    sub = inputs.stations[inputs.stations["type"] == "party_service"]
    assert {f["properties"]["kind"] for f in fc["features"]} == {"catchment"}
    assert {f["properties"]["station_id"] for f in fc["features"]} <= set(sub["station_id"])
    seg = nw.catchment_segments(inputs.network, inputs.stations, "party_service")
    total = float(np.hypot(seg["x1"] - seg["x0"], seg["y1"] - seg["y0"]).sum())
    # Every household the walk covers lies within its leg of a drawn stretch.
    lines = shapely.linestrings(np.stack([seg[["x0", "y0"]].to_numpy(), seg[["x1", "y1"]].to_numpy()], axis=1))
    tree = shapely.STRtree(lines)
    hh = inputs.households[~inputs.households["hh_id"].isin(ov.gaps["hh_id"])]
    _, d = tree.query_nearest(shapely.points(hh["x_m"], hh["y_m"]), return_distance=True)
    assert (d <= hh["net_leg_m"].to_numpy() + 1e-6).all()
    assert total > 0


def test_the_walking_overview_map_draws_catchments_and_overstated_households(walk_overview) -> None:
    inputs, ov = walk_overview
    html = overview_map(ov, network=inputs.network).get_root().render()
    assert '"kind": "catchment"' in html and '"kind": "service_area"' not in html
    assert html.count('"kind": "overstated"') == ov.kpis["overstated"] > 0
    assert "步行距离" in html and "直线高估" in html
    leader = overview_map(ov, network=inputs.network, counts_only=True).get_root().render()
    assert '"kind": "overstated"' not in leader and '"kind": "gap"' not in leader
    straight = overview_map(cv.overview_from(inputs, "party_service", as_of=date(2026, 11, 15), scope=EVERYTHING),
                            network=inputs.network).get_root().render()
    assert '"kind": "service_area"' in straight and '"kind": "catchment"' not in straight


def test_station_names_are_escaped_in_catchment_tooltips(walk_overview) -> None:
    inputs, _ov = walk_overview
    st = inputs.stations.copy()
    first = st.index[st["type"] == "party_service"][0]
    st.loc[first, "name"] = '<img src=x onerror="alert(1)">站'
    fc = catchment_features(inputs.network, st, "party_service")
    tips = [f["properties"]["tip"] for f in fc["features"]]
    assert any("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;站" in t for t in tips)
    assert not any("<img" in t for t in tips)
