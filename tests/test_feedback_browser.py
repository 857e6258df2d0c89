"""What users hit, in a real browser (headless Chromium, issue 14 §3): the campaign audit map,
drawn in a tab opened after the page loaded, fits the area (not the world at zoom 0); saving a
visit says so in a toast after the rerun; the plan map fits the planned area."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from grid import access, users
from grid.coverage import load_cells
from grid.demo import DEMO_ACCOUNTS
from grid.planning import make_plan, plan_points, save_plan
from grid.store import open_store
from tests.actors import OP
from tests.browsing import HEADINGS, app_server, chromium, ensure_chromium, map_stats, open_session

#: The campaign and community of the plan the fixture saves (names, as the sidebar offers them).
PLANNED: dict[str, str] = {}


@pytest.fixture(scope="module")
def app(district_file, tmp_path_factory) -> Iterator[tuple[Any, Any, dict[str, list[float]]]]:
    """The app on a copy of the small district, a browser, and each role's cells' bounds (lon/lat)."""
    problem = ensure_chromium()
    if problem:
        pytest.fail(problem)
    path = tmp_path_factory.mktemp("feedback") / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    with open_store(path) as s:
        cells = load_cells(s)
        bounds = {}
        for role in ("committee", "warden"):
            user = users.get_user(s, DEMO_ACCOUNTS[role][0])
            assert user is not None
            scope = access.actor_for(s, user).scope
            bounds[role] = [float(b) for b in access.filter_households(cells, scope).total_bounds]
        # A saved plan for one community of the committee's street: its map must fit that community.
        street = str(s.scalar("SELECT scope[1] FROM users WHERE username = 'committee'"))
        comm = str(s.scalar("SELECT code FROM admin_units WHERE parent_code = ? AND level = 'community'"
                            " ORDER BY code LIMIT 1", [street]))
        plan = make_plan(s, OP, "C2026W", comm)
        PLANNED.update(campaign=str(s.scalar("SELECT name FROM campaigns WHERE campaign_id = 'C2026W'")),
                       community=str(s.scalar("SELECT name FROM admin_units WHERE code = ?", [comm])))
        save_plan(s, OP, plan)
        pts = plan_points(s, plan)
        mine = cells[cells["cell_id"].isin(set(access.cells_in_scope(s, [comm])))]
        box = [float(b) for b in mine.total_bounds]
        bounds["plan"] = [min(box[0], pts["lon"].min()), min(box[1], pts["lat"].min()),
                          max(box[2], pts["lon"].max()), max(box[3], pts["lat"].max())]
    with app_server(path) as server, chromium() as browser:
        yield server, browser, bounds


def _view(frame: Any) -> dict[str, Any]:
    return frame.evaluate("() => { const m = window.map; const b = m.getBounds();"
                          " return {zoom: m.getZoom(), size: [m.getSize().x, m.getSize().y],"
                          " bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]}; }")


def _contains(outer: list[float], inner: list[float]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def test_the_audit_map_in_a_tab_fits_the_area(app) -> None:
    server, browser, bounds = app
    with open_session(browser, server.url, width=1400, height=900) as s:
        s.sign_in(*DEMO_ACCOUNTS["committee"])
        s.page.locator("h1").first.wait_for(timeout=60_000)
        s.wait_idle()
        s.open_page(access.PAGES["campaigns"], HEADINGS["campaigns"])
        s.page.wait_for_timeout(1500)  # the hidden tab's map loads while the first tab shows
        s.page.get_by_role("tab", name="核查 Audit").click()
        s.wait_maps(1, min_cells=1)
        s.page.wait_for_timeout(500)
        views = [_view(f) for f in s.map_frames()]
        audit = next(v for v in views if v["size"][0] > 0)
        assert audit["zoom"] > 10, audit
        assert _contains(audit["bbox"], bounds["committee"]), (audit, bounds["committee"])
        # ... and not the world: the view is at most a few times the area.
        assert audit["bbox"][2] - audit["bbox"][0] < 10 * (bounds["committee"][2] - bounds["committee"][0])


def test_saving_a_visit_confirms_it_after_the_rerun(app) -> None:
    server, browser, _ = app
    with open_session(browser, server.url, width=390, height=844) as s:
        s.sign_in(*DEMO_ACCOUNTS["warden"])
        s.page.locator("h1", has_text=HEADINGS["my_cells"]).first.wait_for(timeout=60_000)
        s.wait_idle()
        s.page.get_by_role("tab", name="记日志 Log").click()
        s.page.get_by_label("走访情况 What you found").fill("老人身体尚好，需要冬衣")
        s.page.get_by_role("button", name="保存 Save").click()
        toast = s.page.locator('[data-testid="stToast"]', has_text="已保存走访记录")
        toast.first.wait_for(timeout=30_000)
        assert "Visit saved" in toast.first.inner_text()
        s.wait_idle()
        undo = s.page.get_by_role("button", name="撤销这条走访记录")
        undo.click()
        s.page.locator('[data-testid="stToast"]', has_text="已撤销走访记录").first.wait_for(timeout=30_000)


def test_the_plan_map_fits_the_planned_area(app) -> None:
    server, browser, bounds = app
    with open_session(browser, server.url, width=1400, height=900) as s:
        s.sign_in(*DEMO_ACCOUNTS["committee"])
        s.page.locator("h1").first.wait_for(timeout=60_000)
        s.wait_idle()
        s.open_page(access.PAGES["campaigns"], HEADINGS["campaigns"])
        side = s.page.locator('[data-testid="stSidebar"]')
        for i, name in ((0, PLANNED["campaign"]), (1, PLANNED["community"])):  # 活动 Campaign, 范围 Area
            side.locator('[data-testid="stSelectbox"]').nth(i).click()
            s.page.get_by_role("option").filter(has_text=name).first.click()
            s.wait_idle()
        s.page.get_by_role("tab", name="走访计划 Plan").click()
        deadline = time.monotonic() + 60
        view = None
        while view is None and time.monotonic() < deadline:
            for f in s.map_frames():
                stats = map_stats(f)
                if stats and "条路线" in stats["title"] and stats["size"][0] > 0 and stats["lines"]:
                    s.page.wait_for_timeout(500)
                    view = _view(f)
            s.page.wait_for_timeout(200)
        assert view is not None, "the plan map did not draw"
        area, street = bounds["plan"], bounds["committee"]
        assert _contains(view["bbox"], area), (view, area)
        # Fitted to the community, not to the street: the view is well inside the street's width.
        assert view["bbox"][2] - view["bbox"][0] < 3 * (area[2] - area[0]) + 1e-9
        assert (area[2] - area[0]) < (street[2] - street[0])
        assert not _contains(view["bbox"], street), "fitted to the whole street, not to the planned community"
