"""Hostile text in a real browser: every free-text column of the database holds a payload that
would run as script (``<img src=x onerror=…>``), fetch an outside image through Markdown
(``![p](http://example.org/p.png)``) or turn into a link or coloured text, and every page of
every role is opened in headless Chromium.

On each page every map layer's tooltip and popup is opened through Leaflet's own API
(``layer.openTooltip()`` / ``openPopup()``), every drop-down list is opened, and each tab is
visited. The test fails if the sentinel ``window.__xss`` is set anywhere, if an ``<img>`` of a
payload (``src="x"`` or from example.org), an element with an ``onerror``/``onload`` attribute,
a ``javascript:`` link or a KaTeX formula exists in any document, or if any request leaves
the machine.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grid import access, users
from grid.campaigns import list_campaigns, plannable_areas
from grid.demo import DEMO_ACCOUNTS
from grid.errors import AuthError
from grid.planning import make_plan, save_plan
from grid.store import open_store
from tests.actors import OP
from tests.browsing import HEADINGS, app_server, module_browser, open_session
from tests.hostile import HTML_PAYLOADS, PAYLOADS, seed

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "screenshots" / "hostile"
ROLES = ("admin", "committee", "community", "leader", "inspector", "warden")
ROLE_PAGES = {role: access.pages_for(access.Actor(role, role, access.Scope.of_cells({"c"}))) for role in ROLES}

#: What a document may not hold: run in the page and in every map's frame.
_BAD_JS = """() => ({
  xss: window.__xss === 1,
  imgs: [...document.images].filter(i => (i.getAttribute('src') || '') === 'x'
                                        || /example\\.org/.test(i.getAttribute('src') || '')).length,
  handlers: document.querySelectorAll('[onerror],[onload]').length,
  js_links: document.querySelectorAll('a[href^="javascript:" i]').length,
  katex: document.querySelectorAll('.katex').length,
})"""

#: Open every tooltip and popup of every layer (one at a time), noting what appeared in the document.
_OPEN_ALL_JS = """() => {
  const m = window.map;
  if (!m || !(m instanceof L.Map)) { return null; }
  const worst = {opened: 0, imgs: 0, handlers: 0, errors: 0};
  const note = () => {
    worst.imgs = Math.max(worst.imgs, [...document.images].filter(i => (i.getAttribute('src') || '') === 'x'
        || /example\\.org/.test(i.getAttribute('src') || '')).length);
    worst.handlers = Math.max(worst.handlers, document.querySelectorAll('[onerror],[onload]').length);
  };
  const layers = [];
  m.eachLayer(l => layers.push(l));
  const at = c => (c.getCenter ? c.getCenter() : (c.getLatLng ? c.getLatLng() : null));
  for (const l of layers) {
    const kids = [];
    if (l.eachLayer) { l.eachLayer(c => kids.push(c)); }
    for (const target of (kids.length ? kids : [l])) {
      // As a hover does: the group's tooltip or popup shown for this feature (Leaflet's _source).
      if (l.getTooltip && l.getTooltip()) {
        try { l.getTooltip()._source = target; l.openTooltip(at(target) || undefined); worst.opened += 1; note();
              l.closeTooltip(); } catch (e) { worst.errors = (worst.errors || 0) + 1; }
      }
      if (l.getPopup && l.getPopup()) {
        try { l.getPopup()._source = target; l.openPopup(at(target) || undefined); worst.opened += 1; note();
              l.closePopup(); } catch (e) { worst.errors = (worst.errors || 0) + 1; }
      }
    }
  }
  return worst;
}"""


@pytest.fixture(scope="module")
def hostile_db(district_file, tmp_path_factory) -> Path:
    """The small district with a payload at the start of every free-text value, a saved visit plan for
    the committee's first campaign and area (its visitors' names are payloads too), an open need in
    every warden cell, and sign-in attempts under payload names."""
    path = tmp_path_factory.mktemp("hostile") / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    with open_store(path) as s:
        seeded = seed(s)
        assert ("cells", "name") in seeded and ("households", "head_name") in seeded
        assert ("needs", "description") in seeded and ("people", "name") in seeded
        committee = users.get_user(s, DEMO_ACCOUNTS["committee"][0])
        assert committee is not None
        scope = access.actor_for(s, committee).scope
        campaign = str(list_campaigns(s)["campaign_id"].iloc[0])
        area = str(plannable_areas(s, scope)["code"].iloc[0])
        save_plan(s, OP, make_plan(s, OP, campaign, area, min_per=0, max_per=1000))
        warden_cells = s.scalar("SELECT scope FROM users WHERE username = 'warden'")
        with s.transaction() as cur:
            for i, cell in enumerate(warden_cells):
                hh = cur.execute("SELECT min(hh_id) FROM households WHERE cell_id = ?", [cell]).fetchone()
                if hh and hh[0]:
                    cur.execute("INSERT INTO needs (need_id, hh_id, raised_at, category, description, status)"
                                " VALUES (?, ?, TIMESTAMP '2026-10-01 10:00', 'living', ?, 'raised')",
                                [f"NHOST{i}", hh[0], HTML_PAYLOADS[i % len(HTML_PAYLOADS)] + " 取暖"])
        for payload in PAYLOADS:  # the audit log then holds these names (the inspector's page shows them)
            with pytest.raises(AuthError):
                users.authenticate(s, payload, "wrong password 1")
    return path


browser = pytest.fixture(scope="module", name="browser")(module_browser)


@pytest.fixture(scope="module")
def server(hostile_db) -> Iterator[Any]:
    with app_server(hostile_db) as srv:
        yield srv


def _bad(frame: Any) -> dict[str, Any]:
    return frame.evaluate(_BAD_JS)  # type: ignore[no-any-return]


def _check_document(where: str, frame: Any) -> None:
    got = _bad(frame)
    assert got == {"xss": False, "imgs": 0, "handlers": 0, "js_links": 0, "katex": 0}, (where, got)


#: Every drop-down list's input (Streamlit 1.67 draws selects with react-aria: a combobox <input>).
SELECTS = '[data-testid="stSelectbox"] [role="combobox"], [data-testid="stMultiSelect"] [role="combobox"]'


#: The pages and tabs whose drop-down lists this process has opened already, with how many: the first
#: role to reach a page opens them (its options hold the same hostile names for every role that sees them).
_SELECTS_OPENED: dict[str, int] = {}


def _open_every_select(s: Any, where: str) -> int:
    """Open each drop-down list of the page (its options render only then) and check the document."""
    page = s.page
    n = 0
    seen = where.split("/", 1)[1]
    if seen in _SELECTS_OPENED:
        return 0
    for box in page.locator(SELECTS).all():
        try:
            if not box.is_visible() or box.is_disabled():
                continue
            box.click(timeout=3_000)
            page.locator('[role="listbox"]').first.wait_for(timeout=3_000)
        except Exception:  # a covered select, or one with no options: nothing to open
            page.keyboard.press("Escape")
            continue
        n += 1
        _check_document(f"{where} select {n}", page.main_frame)
        page.keyboard.press("Escape")
        page.locator('[role="listbox"]').first.wait_for(state="detached", timeout=3_000)
    _SELECTS_OPENED[seen] = n
    return n


def _check_maps(s: Any, where: str) -> int:
    opened = 0
    for k, frame in enumerate(s.map_frames()):
        worst = frame.evaluate(_OPEN_ALL_JS)
        if worst is None:
            continue
        assert worst["imgs"] == 0 and worst["handlers"] == 0 and worst["errors"] == 0, (where, k, worst)
        opened += int(worst["opened"])
    s.page.wait_for_timeout(600)  # an <img onerror> would fire a moment later
    for k, frame in enumerate(s.map_frames()):
        _check_document(f"{where} map {k}", frame)
    return opened


def _visit_tabs(s: Any, role: str, page: str) -> list[str]:
    """The page's tabs, each opened (lazy tabs send their content only then)."""
    tabs = {"my_cells": ["户卡 Card", "记日志 Log", "诉求 Needs", "待走访 Due"],
            "campaigns": ["核查 Audit", "走访计划 Plan", "新建活动 New"],
            "needs_queue": ["统计 Figures", "待办 Queue"]}.get(page, [])
    for name in tabs:
        s.page.get_by_role("tab", name=name).click()
        s.wait_idle()
        s.page.wait_for_timeout(300)
    return tabs


@pytest.mark.parametrize("role", ROLES)
def test_no_payload_runs_or_fetches_on_any_page(server, browser, role: str) -> None:
    name, password = DEMO_ACCOUNTS[role]
    width = 390 if role == "warden" else 1280
    opened_total = 0
    with open_session(browser, server.url, width=width, height=900) as s:
        s.sign_in(name, password)
        for i, page in enumerate(ROLE_PAGES[role]):
            if i == 0:
                s.page.locator("h1", has_text=HEADINGS[page]).first.wait_for(timeout=60_000)
                s.wait_idle()
            else:
                s.open_page(access.PAGES[page], HEADINGS[page])
            where = f"{role}/{page}"
            if page in ("overview", "my_cells", "leader", "needs_queue"):
                s.wait_maps(1 if page != "leader" else 2, timeout=60)
            opened_total += _check_maps(s, where)
            _check_document(where, s.page.main_frame)
            _open_every_select(s, where)
            for tab in _visit_tabs(s, role, page):
                if s.map_frames():
                    opened_total += _check_maps(s, f"{where}/{tab}")
                _check_document(f"{where}/{tab}", s.page.main_frame)
                _open_every_select(s, f"{where}/{tab}")
            s.screenshot(ARTIFACTS / f"{role}_{page}.png")
        assert s.foreign_requests() == [], s.foreign_requests()[:5]
    # Drop-down lists of this role's pages were opened, now or by an earlier role (the check is not vacuous).
    assert sum(n for where, n in _SELECTS_OPENED.items() if where.split("/")[0] in ROLE_PAGES[role]) > 0
    if any(p in ROLE_PAGES[role] for p in ("overview", "my_cells", "leader", "campaigns")):
        assert opened_total > 20, "tooltips were opened (the check is not vacuous)"


def test_the_payloads_reach_the_browser_as_text(server, browser) -> None:
    """Not vacuous: the warden's page shows the payloads, literally, as text."""
    name, password = DEMO_ACCOUNTS["warden"]
    with open_session(browser, server.url, width=390, height=900) as s:
        s.sign_in(name, password)
        s.page.locator("h1", has_text="我的网格").first.wait_for(timeout=60_000)
        s.wait_idle()
        s.page.get_by_role("tab", name="诉求 Needs").click()
        s.page.get_by_text("我的住户的诉求").first.wait_for(timeout=30_000)
        s.wait_idle()
        wanted = ("![p](http://example.org/p.png)", '<img src=x onerror="window.__xss=1">')
        # The tab's list may still be redrawn by the run its click started: read until it is there (or 15 s).
        deadline = time.monotonic() + 15
        text = s.text()
        while not any(w in text for w in wanted) and time.monotonic() < deadline:
            s.page.wait_for_timeout(250)
            text = s.text()
        assert any(w in text for w in wanted), text[-2000:]
        s.wait_maps(1)  # the map's own script has run, so window.map exists
        (frame,) = s.map_frames()
        shown = frame.evaluate("""() => { const m = window.map; let out = '';
            m.eachLayer(l => { const kids = []; if (l.eachLayer) { l.eachLayer(c => kids.push(c)); }
              for (const t of (kids.length ? kids : [l])) { if (l.getTooltip && l.getTooltip()) {
                l.getTooltip()._source = t; l.openTooltip(t.getLatLng ? t.getLatLng() : t.getCenter());
                const el = document.querySelector('.leaflet-tooltip');
                if (el) { out += el.textContent + '\\n'; } l.closeTooltip(); }
                if (l.getPopup && l.getPopup()) {  // a building's list of its households
                  l.openPopup(); const el = document.querySelector('.leaflet-popup-content');
                  if (el) { out += el.textContent + '\\n'; } l.closePopup(); } } });
            return out; }""")
        assert '<img src=x onerror="window.__xss=1">' in shown or "<svg onload=" in shown, shown[:500]


def test_nothing_is_listed_before_sign_in_and_metrics_are_closed(server, browser) -> None:
    """Finding 11.5: before sign-in the page names travelled to the browser (Streamlit's pages/ discovery),
    and /_stcore/metrics answered anyone."""
    import urllib.error
    import urllib.request

    with open_session(browser, server.url, keep_payloads=True) as s:
        s.page.wait_for_timeout(1500)
        blob = b"".join(s.ws_payloads)
        for page in access.PAGES:
            assert f"{page}.py".encode() not in blob and access.PAGES[page].encode() not in blob, page
        assert s.page.locator('[data-testid="stSidebarNav"]').count() == 0
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server.url + "/_stcore/metrics", timeout=10)
    assert err.value.code == 404
    r = urllib.request.urlopen(server.url + "/", timeout=10)
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "img-src 'self' data: blob:;" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "SAMEORIGIN"
