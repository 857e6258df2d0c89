"""The pages measure coverage by walking where the district has streets, and say so.

Run headless (AppTest) on the small district, which has the demo's streets: the
overview's cards, sentence and downloads equal the library's walking figures,
the sidebar switches to the straight line, households off the network are
counted and explained, the warden's map measures each household's walk, and the
bulletin's command passes its mode. The browser's view of the same pages is in
``tests/test_walk_browser.py``.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import ui
from grid import coverage as cv
from grid import network as nw
from grid.store import open_store
from maps.warden import reach_text, warden_map
from tests.actors import EVERYTHING
from tests.apptools import sign_in_demo


def _metric(at: AppTest, label_start: str) -> str:
    for m in at.metric:
        if m.label.startswith(label_start):
            return m.value
    raise AssertionError(f"no metric {label_start!r}: {[m.label for m in at.metric]}")


def _csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"户编号": str, "所属网格": str, "社区代码": str})


def test_overview_measures_by_walking_and_gives_both_figures(app_db, downloads) -> None:
    at = sign_in_demo("admin")
    store = ui._open(str(app_db))
    ov = cv.overview(store, "party_service", scope=EVERYTHING, distance="walk")
    k = ov.kpis
    assert k["overstated"] > 0, "the demo's streets make the straight line overstate (the test is not vacuous)"
    assert at.sidebar.radio(key="distance").value == "walk"
    assert _metric(at, "党群服务站步行可达范围外住户") == f"{k['outside']:,}"
    assert _metric(at, "按直线半径覆盖") == f"{k['covered_straight']:,}"
    assert _metric(at, "按步行距离覆盖") == f"{k['covered_walk']:,}"
    assert _metric(at, "直线高估") == f"{k['overstated']:,}"
    assert _metric(at, "不在路网上") == f"{k['off_network']:,}"
    # The figures add up: covered by walking + out of walking reach = every household.
    assert k["covered_walk"] + k["outside"] == k["households"]
    assert k["covered_straight"] - k["covered_walk"] == k["overstated"]
    sentence = cv.coverage_sentence(ov.comparison)
    assert sentence.startswith(f"按直线半径覆盖 {k['covered_straight']:,} 户；按步行距离实际覆盖 {k['covered_walk']:,} 户")
    assert [i.value for i in at.info] == [ui.md("{}：{}", "党群服务站", sentence)]

    # The gap list says how it was measured and how far each household walks.
    at.radio(key="gap_fmt").set_value(".csv").run()
    got = dict(downloads(at))
    walk_list = _csv(got["下载名单 · Download the list"])
    assert set(walk_list["距离方式"]) == {"步行距离"}
    assert sorted(walk_list["户编号"]) == sorted(ov.gaps["hh_id"])
    want = ov.gaps.set_index("hh_id")["walk_m"].round(1)
    np.testing.assert_allclose(walk_list.set_index("户编号")["步行至最近党群服务站（米）"].loc[want.index].to_numpy(),
                               want.to_numpy(), equal_nan=True)
    assert set(walk_list["步行距离状态"].dropna()) <= {v[0] for v in nw.STATUS_LABELS.values()}
    by_comm = _csv(got["下载 CSV · Download CSV"])
    assert set(by_comm["距离方式"]) == {"步行距离"} and by_comm["步行可达范围外住户"].sum() == k["outside"]

    # The straight line on request: its figures, its list (still carrying each one's walk).
    at.sidebar.radio(key="distance").set_value("straight").run()
    assert not at.exception
    straight = cv.overview(store, "party_service", scope=EVERYTHING, distance="straight")
    assert straight.kpis["outside"] == k["households"] - k["covered_straight"]
    assert _metric(at, "党群服务站服务半径外住户") == f"{straight.kpis['outside']:,}"
    assert _metric(at, "按步行距离覆盖") == f"{k['covered_walk']:,}", "both figures in either mode"
    straight_list = _csv(dict(downloads(at))["下载名单 · Download the list"])
    assert set(straight_list["距离方式"]) == {"直线距离"}
    assert sorted(straight_list["户编号"]) == sorted(straight.gaps["hh_id"])
    # Out of straight reach is out of walking reach: the same walking distance as in the walking list.
    both = straight_list.merge(walk_list, on="户编号", suffixes=("", "_walk"))
    assert len(both) == len(straight_list)
    col = "步行至最近党群服务站（米）"
    np.testing.assert_allclose(both[col], both[col + "_walk"], equal_nan=True)


def test_leaders_see_walking_counts_and_no_list(app_db) -> None:
    at = sign_in_demo("leader")
    k = cv.overview(ui._open(str(app_db)), "party_service", scope=EVERYTHING, distance="walk").kpis
    assert _metric(at, "按步行距离覆盖") == f"{k['covered_walk']:,}"
    assert not any(r.key == "gap_fmt" for r in at.radio)
    assert all("名单" not in b.label for b in at.get("download_button"))


@pytest.fixture()
def patchy_db(app_db: Path) -> Path:
    """The app's district with the streets around one household removed: some are off the network."""
    with open_store(app_db) as s:
        lon, lat = s.query("SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM households ORDER BY hh_id LIMIT 1").iloc[0]
        with s.transaction() as cur:
            cur.execute("DELETE FROM roads WHERE ST_Intersects(geom, ST_MakeEnvelope(?, ?, ?, ?))",
                        [lon - 0.006, lat - 0.006, lon + 0.006, lat + 0.006])
    return app_db


def test_households_off_the_network_are_counted_and_explained(patchy_db) -> None:
    at = sign_in_demo("admin")
    ov = cv.overview(ui._open(str(patchy_db)), "party_service", scope=EVERYTHING, distance="walk")
    off = ov.kpis["off_network"]
    legs = ov.comparison.walk_gaps if ov.comparison is not None else None
    assert off > 0 and legs is not None and int((legs["walk_status"] == "off_network").sum()) == off
    assert _metric(at, "不在路网上") == f"{off:,}"
    (info,) = at.info
    assert f"另有 {off:,} 户距可步行道路超过 300 米，不在路网上，未计入步行覆盖" in info.value.replace("\\", "")


def test_without_streets_the_overview_is_straight_and_says_so(app_db) -> None:
    with open_store(app_db) as s, s.transaction() as cur:
        cur.execute("DELETE FROM roads")
    at = sign_in_demo("admin")
    assert not at.exception
    assert not any(r.key == "distance" for r in at.sidebar.radio)
    assert any("未导入道路网" in c.value for c in at.sidebar.caption)
    k = cv.overview(ui._open(str(app_db)), "party_service", scope=EVERYTHING).kpis
    assert _metric(at, "党群服务站服务半径外住户") == f"{k['outside']:,}"
    assert not any(m.label.startswith("按步行距离覆盖") for m in at.metric)


def test_the_network_is_built_once_per_data_generation(db) -> None:
    net = ui.shared_network(db)
    assert net is not None and ui.shared_network(db) is net
    assert ui.shared_overview_inputs(db).network is net
    with db.transaction() as cur:
        cur.execute("UPDATE roads SET name = 'x' WHERE road_id = (SELECT min(road_id) FROM roads)")
    assert ui.shared_network(db) is not net


# --------------------------------------------------------------------------- the warden
def test_household_reach_by_the_straight_line_is_brute_force(store) -> None:
    hh, st = cv.load_households(store).head(400), cv.load_stations(store)
    got = cv.household_reach(hh, st, "clinic", radius=450.0)
    sub = st[st["type"] == "clinic"]
    d = np.hypot(hh["x_m"].to_numpy()[:, None] - sub["x_m"].to_numpy()[None, :],
                 hh["y_m"].to_numpy()[:, None] - sub["y_m"].to_numpy()[None, :])
    np.testing.assert_allclose(got["distance_m"], d.min(axis=1))
    assert (got["station_id"].to_numpy() == sub["station_id"].to_numpy()[d.argmin(axis=1)]).all()
    assert (got["covered"].to_numpy() == (d.min(axis=1) <= 450.0)).all()
    walk = cv.household_reach(hh, st, "clinic", distance="walk", network=nw.load_network(store), radius=450.0)
    near = nw.walk_nearest(nw.load_network(store), hh, st, "clinic", 450.0)
    np.testing.assert_allclose(walk["distance_m"], near["distance_m"], equal_nan=True)
    assert (walk["covered"] <= got["covered"]).all(), "walking never covers what the straight line does not"
    with pytest.raises(Exception, match="道路"):
        cv.household_reach(hh, st, "clinic", distance="walk", network=None)


def test_warden_page_measures_each_household_by_walking(app_db) -> None:
    at = sign_in_demo("warden")
    assert not at.exception
    store = ui._open(str(app_db))
    cells = store.scalar("SELECT scope FROM users WHERE username = 'warden'")
    hh = cv.load_households(store)
    mine = hh[hh["cell_id"].isin(cells)]
    reach = cv.household_reach(mine, cv.load_stations(store), "police", distance="walk",
                               network=nw.load_network(store))
    at.sidebar.selectbox(key="warden_type").set_value("police").run()
    (cap,) = [c.value for c in at.caption if "服务范围内" in c.value]
    n_in = int(reach["covered"].sum())
    assert cap.replace("\\", "").startswith(f"按步行距离：{n_in} 户在警务室服务范围内，{len(mine) - n_in} 户不在")
    straight = cv.household_reach(mine, cv.load_stations(store), "police")
    assert int(straight["covered"].sum()) > n_in, "the straight line covers more here (not vacuous)"
    at.sidebar.radio(key="warden_distance").set_value("straight").run()
    (cap,) = [c.value for c in at.caption if "服务范围内" in c.value]
    assert cap.replace("\\", "").startswith(f"按直线距离：{int(straight['covered'].sum())} 户在警务室服务范围内")


def _js(text: str) -> str:
    """``text`` as folium's HTML-safe JSON writes it inside a string."""
    return json.dumps(text)[1:-1].replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def test_warden_map_draws_catchments_and_each_households_walk(store) -> None:
    cells = cv.load_cells(store)
    mine = cells[cells["cell_id"] == cells["cell_id"].iloc[0]]
    hh = cv.load_households(store)
    hh = hh[hh["cell_id"].isin(mine["cell_id"])].reset_index(drop=True)
    st = cv.load_stations(store)
    net = nw.load_network(store)
    reach = cv.household_reach(hh, st, "party_service", distance="walk", network=net)
    shown = hh.assign(target=True, days_since=np.nan, label="<b>标记</b>路1号", head_name="<b>标记</b>",
                      address=[f"一路{i + 1}号" for i in range(len(hh))],
                      reach_m=reach["distance_m"].to_numpy(), reach_covered=reach["covered"].to_numpy(),
                      reach_tier=reach["tier"].to_numpy(), reach_status=reach["status"].astype(str).to_numpy())
    patrols = cv.load_patrol_areas(store).iloc[0:0]
    html = warden_map(mine, shown, st, patrols, station_type="party_service", network=net).get_root().render()
    assert '"kind": "catchment"' in html and '"kind": "service_area"' not in html
    first = reach.iloc[0]
    words = reach_text("party_service", "walk", float(first["distance_m"]), bool(first["covered"]),
                       int(first["tier"]), str(first["status"]))
    # Each household in its building's list: the name escaped, then how far the walk is.
    # (as the map's HTML-safe JSON carries it)
    assert _js("&lt;b&gt;标记&lt;/b&gt;") in html and _js("<b>标记") not in html and "<b>标记" not in html
    assert _js(f"<small>{words}</small>") in html
    title = re.search(r'class="wg-title"[^>]*>([^<]*)<', html)
    assert title is not None and f"按步行距离在党群服务站服务范围内 {int(reach['covered'].sum())} 户" in title.group(1)
    circles = warden_map(mine, shown, st, patrols, station_type="party_service").get_root().render()
    assert '"kind": "service_area"' in circles and '"kind": "catchment"' not in circles
    n_near = circles.count('"kind": "service_area"')
    assert 0 < n_near <= int((st["type"] == "party_service").sum()), "only the chosen type's circles"


# --------------------------------------------------------------------------- the bulletin
def test_the_bulletin_command_passes_its_distance(db, tmp_path) -> None:
    from grid.cli import main

    unit = db.scalar("SELECT code FROM admin_units WHERE level = 'street' ORDER BY code LIMIT 1")
    path = db.path
    db.close()
    for mode in ("straight", "walk"):
        out = tmp_path / f"b_{mode}.xlsx"
        assert main(["bulletin", "--db", path, "--unit", unit, "--from", "2025-11-01", "--to", "2026-02-28",
                     "--out", str(out), "--distance", mode]) == 0
        from openpyxl import load_workbook

        text = {str(c.value) for ws in load_workbook(out).worksheets for row in ws.iter_rows() for c in row if c.value}
        how = "按步行距离" if mode == "walk" else "按直线半径"
        assert f"服务站点覆盖（{how}计）" in text
    with open_store(path, read_only=True) as s:
        objs = s.query("SELECT object FROM audit_log WHERE action = 'export' AND object LIKE 'bulletin:%'"
                       " ORDER BY log_id")["object"].tolist()
    assert [o.split(":")[-1] for o in objs[-2:]] == ["straight.xlsx", "walk.xlsx"]


def test_the_administrators_first_overview_map_is_rendered_before_anyone_asks(app_db, monkeypatch) -> None:
    """When the store opens, the default overview's map is rendered in the background with the
    very key the page asks for: the administrator's first visit renders nothing; a changed
    setting renders its own map once, and the same setting again renders nothing."""
    import ui_map

    store = ui._open(str(app_db))
    ui._inputs_future(store)  # what get_store does as the store opens
    ui._INPUTS_POOL.submit(lambda: None).result()  # one worker: every job queued before has run
    rendered: list[object] = []
    real = ui_map.map_payload

    def counting(m):  # type: ignore[no-untyped-def]
        rendered.append(m)
        return real(m)

    monkeypatch.setattr(ui_map, "map_payload", counting)
    at = sign_in_demo("admin")
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("覆盖总览")
    assert rendered == [], "the page rendered the map again"
    measures = list(cv.CELL_MEASURES)
    at.sidebar.selectbox[1].set_value(measures[1]).run()
    assert not at.exception, at.exception
    assert len(rendered) == 1
    at.sidebar.selectbox[1].set_value(measures[0]).run()
    at.sidebar.selectbox[1].set_value(measures[1]).run()
    assert len(rendered) == 1, "a map already rendered for these inputs is not rendered again"
