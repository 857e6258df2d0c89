"""The Streamlit app, run headless with AppTest, and the overview map's HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import ui
from grid import coverage as cv
from maps.offline import external_urls
from maps.overview import overview_map
from tests.actors import EVERYTHING, Scope
from tests.apptools import sign_in_demo

ROOT = Path(__file__).resolve().parent.parent


def _metric(at: AppTest, label_start: str) -> str:
    for m in at.metric:
        if m.label.startswith(label_start):
            return m.value
    raise AssertionError(f"no metric {label_start!r}: {[m.label for m in at.metric]}")


def test_overview_page_shows_the_library_figures(app_db) -> None:
    from ui import _open

    at = sign_in_demo("admin")
    try:
        # The small district has streets: the page measures by walking unless told otherwise.
        ov = cv.overview(_open(str(app_db)), "party_service", scope=EVERYTHING, distance="walk")
        assert _metric(at, "住户") == f"{ov.kpis['households']:,}"
        assert _metric(at, "困难户") == f"{ov.kpis['vulnerable']:,}"
        assert _metric(at, "党群服务站步行可达范围外住户") == f"{ov.kpis['outside']:,}"
        assert _metric(at, "其中困难户") == f"{ov.kpis['vulnerable_outside']:,}"
        # Switch the station type: the figures follow.
        at.sidebar.selectbox[0].set_value("clinic").run()
        assert not at.exception
        ov2 = cv.overview(_open(str(app_db)), "clinic", scope=EVERYTHING, distance="walk")
        assert _metric(at, "卫生室步行可达范围外住户") == f"{ov2.kpis['outside']:,}"
        assert len(at.dataframe) == 1
    finally:
        _open.clear()


def test_first_run_builds_the_demo_district(tmp_path, monkeypatch) -> None:
    from ui import _open

    monkeypatch.setenv("WARMGRID_DB", str(tmp_path / "fresh.duckdb"))
    monkeypatch.setenv("WARMGRID_DEMO", "1")  # a demo outside the default path only when asked
    monkeypatch.setenv("WARMGRID_DEMO_HOUSEHOLDS", "600")
    monkeypatch.chdir(ROOT)
    try:
        at = sign_in_demo("admin")
        assert (tmp_path / "fresh.duckdb").exists()
        on_roll = _open(str(tmp_path / "fresh.duckdb")).scalar("SELECT count(*) FROM households WHERE status = 'active'")
        assert 590 <= on_roll <= 600 and _metric(at, "住户") == f"{on_roll:,}"  # the demo's few moved away are off it
    finally:
        _open.clear()


def test_a_missing_database_is_not_replaced_by_a_demo(tmp_path, monkeypatch) -> None:
    """Finding 11.5: a WARMGRID_DB naming a missing file silently became a demo with published passwords."""
    from streamlit.testing.v1 import AppTest

    from ui import _open

    monkeypatch.setenv("WARMGRID_DB", str(tmp_path / "typo.duckdb"))
    monkeypatch.delenv("WARMGRID_DEMO", raising=False)
    monkeypatch.chdir(ROOT)
    try:
        at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=120)
        at.run()
        assert not at.exception
        assert not (tmp_path / "typo.duckdb").exists()
        assert any("数据库文件不存在" in e.value and ui.esc("WARMGRID_DEMO=1") in e.value for e in at.error)
        assert not at.text_input  # no sign-in form against nothing
    finally:
        _open.clear()


def test_overview_map_is_offline_with_title_and_legend(store) -> None:
    ov = cv.overview(store, "clinic", scope=EVERYTHING)
    html = overview_map(ov, "share_outside").get_root().render()
    assert external_urls(html) == []
    assert "wg-legend" in html and "wg-title" in html
    assert f"{ov.kpis['outside']:,}" in html
    # Every cell polygon is in the map's data.
    assert len(re.findall(r'"cell_id": "\d{15}"', html)) == len(ov.cells)
    # One service circle per station of the type.
    n = int((ov.stations["type"] == "clinic").sum())
    assert html.count('"kind": "service_area"') == html.count('"kind": "station"') == n


def test_many_gap_households_are_aggregated(store) -> None:
    ov = cv.overview(store, "clinic", radius=100.0, scope=EVERYTHING)
    assert len(ov.gaps) > 2000 or pytest.fail("the small district should have > 2,000 gaps at 100 m")
    html = overview_map(ov, "households").get_root().render()
    assert html.count('"kind": "gap"') == 0
    bins = [int(x) for x in re.findall(r'"kind": "gap_bin", "n": (\d+)', html)]
    assert 0 < len(bins) < len(ov.gaps) / 2 and sum(bins) == len(ov.gaps)


@pytest.mark.parametrize("measure", list(cv.CELL_MEASURES))
def test_every_measure_draws(store, measure) -> None:
    ov = cv.overview(store, "police", scope=EVERYTHING)
    html = overview_map(ov, measure).get_root().render()
    assert cv.CELL_MEASURES[measure][0] in html


def test_tiles_only_when_configured(store) -> None:
    ov = cv.overview(store, "clinic", scope=EVERYTHING)
    offline = overview_map(ov).get_root().render()
    assert "tile.openstreetmap.org" not in offline and "tianditu" not in offline
    osm = overview_map(ov, basemap="osm").get_root().render()
    assert "tile.openstreetmap.org" in osm
    tdt = overview_map(ov, basemap="tianditu", tianditu_key="k123").get_root().render()
    assert "tianditu.gov.cn" in tdt and "tk=k123" in tdt
    with pytest.raises(ValueError):
        overview_map(ov, basemap="google")


def test_app_falls_back_to_no_tiles_on_a_bad_basemap_setting(app_db, monkeypatch) -> None:
    from ui import _open

    monkeypatch.setenv("WARMGRID_BASEMAP", "tianditu")  # without a key
    try:
        at = sign_in_demo("admin")
        assert any("WARMGRID_TIANDITU_KEY" in w.value for w in at.warning)
    finally:
        _open.clear()


def test_counts_only_map_has_no_household_positions(store) -> None:
    ov = cv.overview(store, "clinic", scope=EVERYTHING)
    html = overview_map(ov, "households", counts_only=True).get_root().render()
    for lon, lat in ov.gaps[["lon", "lat"]].head(50).itertuples(index=False):
        assert f"{lat}, {lon}" not in html and f"[{lat}, {lon}]" not in html
    n_cells_with_gaps = int((ov.cells["outside"] > 0).sum())
    per_cell = [int(x) for x in re.findall(r'"kind": "gap_cell", "n": (\d+)', html)]
    assert len(per_cell) == n_cells_with_gaps and sum(per_cell) == len(ov.gaps)
    assert html.count('"kind": "gap"') == html.count('"kind": "gap_bin"') == 0


def test_overview_inputs_are_read_once_per_data_generation(db) -> None:
    import ui

    first = ui.shared_overview_inputs(db)
    assert ui.shared_overview_inputs(db) is first  # shared, not re-read
    with db.transaction(data=False) as cur:  # bookkeeping: the data did not change
        cur.execute("SELECT 1")
    assert ui.shared_overview_inputs(db) is first
    with db.transaction() as cur:
        cur.execute("UPDATE households SET size = size + 1 WHERE hh_id = (SELECT min(hh_id) FROM households)")
    again = ui.shared_overview_inputs(db)
    assert again is not first
    assert int(again.households["size"].sum()) == int(first.households["size"].sum()) + 1


def test_the_district_wide_default_overview_is_precomputed_and_equal(db) -> None:
    from datetime import date

    import ui
    from grid import model

    inputs = ui.shared_overview_inputs(db)
    cells = Scope.of_cells(inputs.cells_m["cell_id"])  # a district-wide leader's scope
    first = next(iter(model.STATION_TYPES))
    args = {"radius": None, "as_of": date.today(), "scope": cells, **ui.OVERVIEW_DEFAULTS}
    got = ui.shared_overview(db, first, **args)  # type: ignore[arg-type]
    assert ui.shared_overview(db, first, **args) is got  # the background result, not a recomputation
    assert ui.shared_overview(db, first, **{**args, "scope": EVERYTHING}) is got  # the admin's: the same
    # The district has streets: the default view measures by walking, on the shared network.
    assert inputs.network is not None and inputs.network is ui.shared_network(db)
    assert "net_edge" in inputs.households and got.distance == "walk"
    want = cv.overview_from(inputs, first, distance="walk", **args)  # type: ignore[arg-type]
    assert got.kpis == want.kpis
    pd.testing.assert_frame_equal(got.gaps, want.gaps)
    other = ui.shared_overview(db, first, **{**args, "radius": 250.0})  # type: ignore[arg-type]
    assert other is not got and other.radius == 250.0
    straight = ui.shared_overview(db, first, **{**args, "distance": "straight"})  # type: ignore[arg-type]
    assert straight is not got and straight.distance == "straight"
    assert straight.kpis["outside"] == cv.overview_from(inputs, first, **args).kpis["outside"]  # type: ignore[arg-type]


@pytest.mark.parametrize("change", ["disable", "password"])
def test_a_session_ends_at_once_when_the_account_changes(app_db, change: str) -> None:
    """Finding 11.5: a disabled account or a changed password used to keep its session for 30 idle minutes."""
    from grid import users
    from ui import _open

    at = sign_in_demo("committee")
    assert at.session_state["user"] == "committee" and not at.text_input  # signed in: no sign-in form
    store = _open(str(app_db))
    if change == "disable":
        users.disable_user(store, "committee", by="test")
    else:
        users.set_password(store, "committee", "a brand new password 5", by="test")
    at.run()
    assert not at.exception
    assert "user" not in at.session_state
    assert any("重新登录" in w.value for w in at.warning)
    assert [t.label for t in at.text_input] == ["用户名 Username", "密码 Password"]


@pytest.mark.parametrize("text", [
    "![p](http://example.org/p.png)", "[点我](javascript:alert(1))", "<img src=x onerror=alert(1)>", "**粗** _斜_",
    ":red[红] :material/home: $x^2$", "# 标题\n> 引用\n- 列表\n1. 编号", "`code` ~~删~~ | 表 |", "http://example.org/x.png",
])
def test_user_text_is_never_markdown(text: str) -> None:
    """Every ASCII punctuation character is escaped: nothing a user typed can start Markdown, HTML, a
    link, an image, a directive or a formula; the text reads the same once the escapes are taken off."""
    import string

    out = ui.esc(text)
    assert not re.search(r"(?<!\\)[" + re.escape(string.punctuation.replace("\\", "")) + "]", out.replace("\\\\", ""))
    assert re.sub(r"\\(.)", r"\1", out) == text
    assert ui.md("**{}** · {n}", text, n=text) == f"**{out}** · {out}"


def test_settling_the_heap_freezes_what_is_alive_and_collects_cycles_the_next_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After the shared inputs are read the collector stops scanning them (gc.freeze); a reference
    cycle that dies among frozen objects is collected when the heap is settled again."""
    import gc
    import weakref

    class Node:
        pass

    monkeypatch.setattr(ui, "_SETTLED_ONCE", False)
    node = Node()
    node.me = node  # type: ignore[attr-defined]  # a cycle: only the collector frees it
    alive = weakref.ref(node)
    try:
        ui._settle_heap()
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()
        assert alive() is not None  # frozen: out of the collector's sight
        ui._settle_heap()
        assert alive() is None and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_after_a_kept_view_the_inputs_wait_until_something_needs_them(db, monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    """A restarted server serves the default view from disk at once and reads the overview's inputs
    (every household joined to the network) only when a page needs them or ``INPUTS_DELAY_S`` later,
    so that reading them does not slow the first page down."""
    import time
    from concurrent.futures import Future

    from grid import view_cache

    monkeypatch.setenv(view_cache.VIEWS_ENV, str(tmp_path / "views"))
    monkeypatch.setattr(ui, "_settle_heap", lambda: None)
    monkeypatch.setattr(ui, "KEEP_DELAY_S", 0.0)
    monkeypatch.setattr(ui, "INPUTS_DELAY_S", 120.0)
    key = (db.path, id(db), db.generation)
    for table in (ui._INPUTS, ui._DEFAULTS, ui._PREPARED, ui._WANTED):
        monkeypatch.setitem(table, key, None)  # restored after the test
        table.pop(key)
    inputs, default = Future(), Future()
    ui._prepare(db, db.generation, inputs, default)  # the first start: computes and keeps the view
    folder = view_cache.view_dir(db.path)
    assert folder is not None
    deadline = time.monotonic() + 60
    while not view_cache.has_views(folder):
        assert time.monotonic() < deadline, "the default view was not kept"
        time.sleep(0.05)

    read = []
    real = ui._read_inputs
    monkeypatch.setattr(ui, "_read_inputs", lambda store: read.append(time.monotonic()) or real(store))
    fut = ui._inputs_future(db)  # the restart: what get_store does as the store opens
    assert ui._DEFAULTS[key].result(timeout=60)[1].kpis == default.result()[1].kpis
    time.sleep(0.5)
    assert read == [] and not fut.done(), "the inputs were read while the first page was being served"
    asked = time.monotonic()
    got = ui.shared_overview_inputs(db)  # a page needs them (a change of radius): read now
    assert read and read[0] >= asked and time.monotonic() - asked < 60
    assert got is fut.result() and got.network is not None


def test_a_restarted_server_takes_the_default_view_kept_on_disk(db, monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    """The first start computes the district's default overview and keeps it with its map; the next
    start (nothing in memory) gives back the same without computing; a change of data computes again."""
    import time
    from concurrent.futures import Future

    import ui_map
    from grid import view_cache

    monkeypatch.setenv(view_cache.VIEWS_ENV, str(tmp_path / "views"))
    monkeypatch.setattr(ui, "_settle_heap", lambda: None)
    monkeypatch.setattr(ui, "KEEP_DELAY_S", 0.0)

    def start() -> tuple[Future, Future]:
        ui_map._CACHE.clear()
        inputs, default = Future(), Future()
        key = (db.path, id(db), db.generation)
        monkeypatch.setitem(ui._INPUTS, key, inputs)
        monkeypatch.setitem(ui._DEFAULTS, key, default)
        ui._prepare(db, db.generation, inputs, default)
        return inputs, default

    computed = []
    real = ui._default_overview
    monkeypatch.setattr(ui, "_default_overview", lambda got: computed.append(1) or real(got))
    inputs, default = start()
    today, first = default.result()
    assert computed == [1] and inputs.result().network is not None
    folder = view_cache.view_dir(db.path)
    assert folder is not None
    deadline = time.monotonic() + 60  # written a moment later, by a thread of its own (ui.KEEP_DELAY_S)
    while not (folder.is_dir() and [p for p in folder.iterdir() if not p.name.startswith(".")]):
        assert time.monotonic() < deadline, "the default view was not kept"
        time.sleep(0.05)
    assert len([p for p in folder.iterdir() if not p.name.startswith(".")]) == 1
    settings = ui._default_map_settings(today)
    drawn = ui_map._CACHE[ui._default_map_key(db, db.generation, first, settings)]

    _, default = start()  # a new process: nothing in memory
    assert computed == [1]
    again = default.result()[1]
    assert again.kpis == first.kpis
    pd.testing.assert_frame_equal(pd.DataFrame(again.cells.drop(columns="geometry")),
                                  pd.DataFrame(first.cells.drop(columns="geometry")))
    pd.testing.assert_frame_equal(again.gaps, first.gaps)
    assert ui_map._CACHE[ui._default_map_key(db, db.generation, again, settings)] == drawn
    # The page asks for exactly this view: it is the kept one, without waiting for the inputs.
    monkeypatch.setattr(ui, "shared_overview_inputs", lambda store: pytest.fail("waited for the inputs"))
    got = ui.shared_overview(db, ui._DEFAULT_TYPE, scope=EVERYTHING, radius=None, as_of=today,
                             distance=again.distance, **ui.OVERVIEW_DEFAULTS)
    assert got is again

    with db.transaction() as cur:  # a visit is logged: the data are not what the kept view counted
        cur.execute("DELETE FROM visits WHERE rowid = (SELECT min(rowid) FROM visits)")
    _, default = start()
    assert computed == [1, 1] and default.result()[1].kpis["overdue"] >= first.kpis["overdue"]
