"""Drive the app in headless Chromium: start it on a free port, sign in, open pages
through the menu, wait for the folium maps to draw, and read what the browser got.

Shared by ``tests/test_browser.py`` (what the pages show, for every role) and
``bench/app.py`` (how long they take and how many bytes they cost at 1,000,000
households). Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright.

The maps draw polygons on a canvas (``prefer_canvas``), so nothing is counted in the
DOM: :func:`map_stats` asks Leaflet itself (``window.map`` in the st_folium iframe)
for the layers on the map.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.sysdeps import ensure_packages

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

__all__ = ["CHROMIUM", "AppServer", "Session", "ensure_chromium", "app_server", "chromium", "browser_context", "open_session", "map_stats",
           "peak_rss"]


#: A file of Debian's fonts-noto-cjk (without it, Chinese draws as boxes in the screenshots).
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


#: Each page's heading (its st.title starts with it), written out by hand for the browser tests.
HEADINGS = {"overview": "覆盖总览", "my_cells": "我的网格", "data": "数据导入导出", "audit": "审计日志",
            "campaigns": "走访活动", "leader": "救助分布", "needs_queue": "诉求分拨", "needs_work": "诉求办理",
            "applications": "救助申请", "budgets": "预算与核查", "network": "服务网络规划"}

def ensure_chromium() -> str | None:
    """Install Debian's chromium and CJK fonts when missing; the problem, or None (see tests/sysdeps.py)."""
    return ensure_packages({"chromium": CHROMIUM, "fonts-noto-cjk": CJK_FONT}, "browser tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AppServer:
    """A running ``streamlit run app.py``: its URL and process."""

    url: str
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid


def peak_rss(pid: int) -> int:
    """The peak resident memory (``VmHWM``) of a process, in bytes (0 when unknown)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@contextmanager
def app_server(db: Path, *, env: dict[str, str] | None = None, timeout: float = 120.0,
               log: Path | None = None) -> Iterator[AppServer]:
    """Run the app on a free local port against ``db``; stopped on exit."""
    port = _free_port()
    full_env = {**os.environ, "WARMGRID_DB": str(db), **(env or {})}
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited with status {proc.returncode}")
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start within {timeout:.0f} s")
            time.sleep(0.3)
        yield AppServer(url, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()  # type: ignore[union-attr]


#: JavaScript run in a map's iframe: what Leaflet has on the map.
_MAP_JS = """() => {
  const m = window.map;
  if (!m || !(m instanceof L.Map)) { return null; }
  const out = {cells: [], cell_styles: [], units: [], admin: 0, patrols: 0, other_polygons: 0, circles: [], markers: [], lines: [],
               pins: [], overlays: Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))
                 .map(el => [el.textContent.trim(), !!(el.querySelector('input') || {}).checked]),
               title: (document.querySelector('.wg-title') || {}).textContent || '',
               legends: document.querySelectorAll('.wg-legend').length,
               size: [m.getSize().x, m.getSize().y]};
  m.eachLayer(l => {
    const p = (l.feature && l.feature.properties) || null;
    if (l instanceof L.Polygon) {
      if (p && p.cell_id !== undefined) {
        out.cells.push(String(p.cell_id));
        out.cell_styles.push([l.options.fillColor || '', l.options.color || '', l.options.weight || 0, p._fill || '']);
      }
      else if (p && p.unit !== undefined) { out.units.push(String(p.unit)); }
      else if (p && p.level !== undefined) { out.admin += 1; }
      else if (p && p.area_id !== undefined) { out.patrols += 1; }
      else { out.other_polygons += 1; }
    } else if (l instanceof L.Polyline) {
      const ll = l.getLatLngs();
      const parts = (ll.length && Array.isArray(ll[0])) ? ll : [ll];
      out.lines.push([p || {}, parts.length, parts.reduce((n, q) => n + q.length, 0),
                      l.options.color || '', l.options.weight || 0]);
    } else if (l instanceof L.Circle) {
      const c = l.getLatLng(); out.circles.push([c.lat, c.lng, l.getRadius(), p]);
    } else if (l instanceof L.CircleMarker) {
      const c = l.getLatLng();
      out.markers.push([c.lat, c.lng, (l.options && l.options.fillColor) || '', p || {}, l.getRadius()]);
    } else if (l instanceof L.Marker) {
      const c = l.getLatLng(), icon = (l.options.icon && l.options.icon.options) || {}, pop = l.getPopup();
      out.pins.push([c.lat, c.lng, String(icon.html || ''), pop ? String(pop.getContent() && (pop.getContent().outerHTML || pop.getContent())) : '']);
    }
  });
  return out;
}"""


#: A cheap probe of the same (run while a benchmark's clock runs): the title and the number of
#: cell or unit polygons, without copying every layer's properties out of the page (at 1,000,000
#: households that copy, 8,000 layers' properties, takes longer than drawing them).
_DRAWN_JS = """() => {
  const m = window.map;
  if (!m || !(m instanceof L.Map)) { return null; }
  let n = 0;
  m.eachLayer(l => {
    const p = l.feature && l.feature.properties;
    if (p && (p.cell_id !== undefined || p.unit !== undefined) && l instanceof L.Polygon) { n += 1; }
  });
  return [n, (document.querySelector('.wg-title') || {}).textContent || ''];
}"""

#: Resolves after the browser has painted twice more (Leaflet's canvas draws on an animation frame).
_PAINTED_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"


def _probe(frame: Any) -> list[Any] | None:
    try:
        return frame.evaluate(_DRAWN_JS)  # type: ignore[no-any-return]
    except Exception:  # the iframe is being replaced or Leaflet has not loaded yet
        return None


def map_stats(frame: Any) -> dict[str, Any] | None:
    """Leaflet's own account of a map in a st_folium ``frame`` (None until it exists).

    Keys: ``cells`` (the ``cell_id`` of each cell polygon), ``cell_styles`` (``[fill colour, stroke
    colour, stroke weight, the feature's _fill property]`` of each, in the same order), ``units`` (the ``unit`` of
    each choropleth polygon on the assistance maps), ``admin`` and ``patrols``
    (polygon counts),
    ``circles`` (``[lat, lon, radius_m, properties]`` of service circles),
    ``markers`` (``[lat, lon, fill colour, properties, radius in pixels]`` of circle markers), ``pins``
    (``[lat, lon, icon HTML, popup HTML]`` of icon markers: the warden's buildings), ``overlays``
    (``[name, shown]`` of each layer in the layer control), ``lines``
    (``[properties, parts, vertices, colour, weight]`` of each polyline: a walking
    catchment, ``kind`` ``catchment``, is one polyline of several parts), ``title``,
    ``legends`` and ``size`` (pixels).
    """
    try:
        return frame.evaluate(_MAP_JS)  # type: ignore[no-any-return]
    except Exception:  # the iframe is being replaced or Leaflet has not loaded yet
        return None


@dataclass
class Session:
    """One signed-in browser tab with every request and websocket byte it saw."""

    page: Any
    base: str
    requests: list[str] = field(default_factory=list)
    http_bytes: int = 0
    ws_bytes: int = 0
    ws_payloads: list[bytes] = field(default_factory=list)
    keep_payloads: bool = False
    sockets: list[Any] = field(default_factory=list)  # every websocket the tab opened (Playwright's objects)

    # -- recording -------------------------------------------------------------------------
    def _on_request_finished(self, request: Any) -> None:
        try:
            sizes = request.sizes()
            self.http_bytes += int(sizes["responseBodySize"]) + int(sizes["responseHeadersSize"])
        except Exception:
            pass

    def _on_websocket(self, ws: Any) -> None:
        self.sockets.append(ws)
        def received(payload: bytes | str) -> None:
            data = payload.encode() if isinstance(payload, str) else payload
            self.ws_bytes += len(data)
            if self.keep_payloads:
                self.ws_payloads.append(data)

        ws.on("framereceived", received)

    @property
    def transferred(self) -> int:
        """Bytes received so far: HTTP responses (headers and bodies) plus websocket frames."""
        return self.http_bytes + self.ws_bytes

    def reset_counters(self) -> None:
        """Start counting bytes from zero (the kept payloads stay: slice them by index)."""
        self.http_bytes = self.ws_bytes = 0

    def foreign_requests(self) -> list[str]:
        """Requests that went anywhere but the app's own host."""
        ws = self.base.replace("https://", "wss://", 1) if self.base.startswith("https://") else \
            self.base.replace("http://", "ws://", 1)
        return [r for r in self.requests
                if not (r.startswith(self.base + "/") or r == self.base or r.startswith(("data:", "blob:", "about:")))
                and not r.startswith(ws + "/")]

    # -- driving ---------------------------------------------------------------------------
    def fill_sign_in(self, username: str, password: str) -> None:
        """Type the name and password (without submitting)."""
        self.page.get_by_label("用户名 Username").fill(username)
        self.page.get_by_label("密码 Password").fill(password)

    def submit_sign_in(self) -> None:
        """Click 登录 (and return at once: the caller waits for what it measures)."""
        self.page.get_by_role("button", name="登录 Sign in").click()

    def sign_in(self, username: str, password: str) -> None:
        """Sign in and wait until the app shows the signed-in menu."""
        self.fill_sign_in(username, password)
        self.submit_sign_in()
        self.page.get_by_role("button", name="退出 Sign out").wait_for(timeout=60_000, state="attached")

    def open_page(self, title: str, heading: str, timeout: float = 60.0) -> None:
        """Open a page from the sidebar menu (a new URL would start a new, signed-out session)
        and wait until its ``heading`` shows and the run has finished."""
        link = self.page.locator('[data-testid="stSidebarNav"] a', has_text=title)
        folded = self.page.query_selector('[data-testid="stSidebar"][data-collapsed="true"]') is not None
        if folded:  # on a phone the menu starts folded away: open it, choose, fold it again, as a person would
            self.page.locator('[data-testid="stExpandSidebarButton"]').first.click()
            link.first.wait_for(state="visible", timeout=10_000)
        link.first.click()
        self.page.locator("h1", has_text=heading).first.wait_for(timeout=timeout * 1000)
        self.wait_idle(timeout)
        if folded and self.page.query_selector('[data-testid="stSidebar"][data-collapsed="false"]'):
            self.page.locator('[data-testid="stSidebarCollapseButton"] button').first.click()
            self.page.wait_for_selector('[data-testid="stSidebar"][data-collapsed="true"]', state="attached",
                                        timeout=10_000)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until Streamlit has finished the current run (its status widget is gone)."""
        p = self.page
        deadline = time.monotonic() + timeout
        p.wait_for_timeout(200)
        while time.monotonic() < deadline:
            running = p.query_selector('[data-testid="stStatusWidget"]')
            if running is None or not running.is_visible():
                return
            p.wait_for_timeout(100)
        raise TimeoutError(f"the page was still running after {timeout:.0f} s")

    def map_frames(self) -> list[Any]:
        """The st_folium iframes of the page, in page order."""
        return [f for f in self.page.frames if "streamlit_folium" in f.url and not f.is_detached()]

    def wait_maps(self, n: int = 1, *, title: str | re.Pattern[str] | None = None, min_cells: int = 0,
                  timeout: float = 60.0) -> list[dict[str, Any]]:
        """Wait until ``n`` maps have drawn (the first with ``title`` in its title and at
        least ``min_cells`` cell or unit polygons) and return their :func:`map_stats`."""
        deadline = time.monotonic() + timeout
        last: list[dict[str, Any] | None] = []
        while time.monotonic() < deadline:
            last = [map_stats(f) for f in self.map_frames()]
            drawn = [s for s in last if s is not None]
            if len(drawn) >= n and len(drawn) == len(last):
                first = drawn[0]
                ok_title = (title is None or (title.search(first["title"]) if isinstance(title, re.Pattern)
                                              else title in first["title"]))
                if ok_title and len(first["cells"]) + len(first["units"]) >= min_cells:
                    return drawn
            self.page.wait_for_timeout(50)
        raise TimeoutError(f"{n} map(s) did not draw within {timeout:.0f} s (saw {last!r:.300})")

    def wait_drawn(self, n: int = 1, *, title: str | None = None, min_cells: int = 0,
                   timeout: float = 60.0) -> None:
        """Like :meth:`wait_maps`, for a benchmark's clock: returns once ``n`` maps exist (the first
        with ``title`` in its title and ``min_cells`` cell or unit polygons) and the browser has
        painted them, reading only counts from the page. Call :meth:`wait_maps` after it for the
        maps' contents."""
        deadline = time.monotonic() + timeout
        last: list[list[Any] | None] = []
        while time.monotonic() < deadline:
            frames = self.map_frames()
            last = [_probe(f) for f in frames]
            drawn = [s for s in last if s is not None]
            if len(drawn) >= n and len(drawn) == len(last):
                cells, shown = drawn[0]
                if (title is None or title in shown) and cells >= min_cells:
                    for f in frames:
                        try:
                            f.evaluate(_PAINTED_JS)
                        except Exception:  # replaced meanwhile: look again
                            break
                    else:
                        return
            self.page.wait_for_timeout(50)
        raise TimeoutError(f"{n} map(s) did not draw within {timeout:.0f} s (saw {last!r:.300})")

    def text(self) -> str:
        """The visible text of the page and of its component iframes."""
        parts = [self.page.inner_text("body")]
        for f in self.page.frames[1:]:
            try:
                parts.append(f.inner_text("body"))
            except Exception:
                pass
        return "\n".join(parts)

    def metrics(self) -> dict[str, str]:
        """Streamlit metric cards: label -> value, as shown."""
        out = {}
        for el in self.page.query_selector_all('[data-testid="stMetric"]'):
            label = el.query_selector('[data-testid="stMetricLabel"]')
            value = el.query_selector('[data-testid="stMetricValue"]')
            if label and value:
                out[label.inner_text().strip()] = value.inner_text().strip()
        return out

    def visible_labels(self) -> dict[str, Any]:
        """What a user reads as labels: ``labels`` (headings, widget labels, the options shown in
        selectboxes, radios and tabs, metric labels, buttons and download buttons, captions, alerts)
        and ``tables``: each table's ``headers`` and its drawn ``cells`` as ``[header, text]``.

        ``st.dataframe`` paints on a canvas (Glide Data Grid); beside it the grid keeps an
        accessible copy in the DOM (``role="columnheader"``, cells ``glide-cell-COL-ROW``) of what
        is drawn. Each table is scrolled into view first, so it is drawn."""
        for el in self.page.query_selector_all('[data-testid="stDataFrame"]'):
            try:
                el.scroll_into_view_if_needed(timeout=5_000)
            except Exception:  # detached by a rerun
                pass
        self.page.wait_for_timeout(300)
        return self.page.evaluate("""() => {
          const sel = ['h1', 'h2', 'h3', '[data-testid="stWidgetLabel"]', '[data-testid="stMetricLabel"]',
                       '[data-testid="stCaptionContainer"]', '[data-testid="stAlert"]', 'button', '[role="tab"]',
                       '[data-testid="stMultiSelectTagsContainer"]', '[data-testid="stRadio"] label', '[data-testid="stMarkdownContainer"]',
                       '[data-testid="stDownloadButton"]', '[data-testid="stExpander"] summary'];
          const labels = [];
          document.querySelectorAll(sel.join(',')).forEach(e => {
            if (e.closest('[data-testid="stDataFrame"]')) { return; }
            const c = e.cloneNode(true);  // without the Material icons' ligature names (keyboard_arrow_down)
            c.querySelectorAll('[data-testid="stIconMaterial"], [data-testid="stExpanderIcon"]').forEach(i => i.remove());
            const t = (c.textContent || '').trim(); if (t) { labels.push(t); }
          });
          // A drop-down list (react-aria) shows its choice as the value of its <input>.
          document.querySelectorAll('[data-testid="stSelectbox"] [role="combobox"]').forEach(i => {
            const t = (i.value || '').trim(); if (t) { labels.push(t); }
          });
          const tables = [];
          document.querySelectorAll('[data-testid="stDataFrame"]').forEach(g => {
            const headers = Array.from(g.querySelectorAll('[role="columnheader"]')).map(h => h.textContent.trim());
            const cells = [];
            g.querySelectorAll('[data-testid^="glide-cell-"]').forEach(c => {
              const m = /glide-cell-(\\d+)-/.exec(c.dataset.testid);
              cells.push([m && headers[Number(m[1])] !== undefined ? headers[Number(m[1])] : '', c.textContent.trim()]);
            });
            tables.push({headers, cells});
          });
          return {labels, tables};
        }""")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, launched by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def module_browser() -> Iterator[Any]:
    """The body of the browser tests' module-scoped ``browser`` fixture: one headless Chromium for
    the module, and the test fails (never skips) when it cannot be started.

    Use as ``browser = pytest.fixture(scope="module", name="browser")(module_browser)``.
    """
    import pytest  # only the tests need it (the benchmarks import this module too)

    problem = ensure_chromium()
    if problem:
        pytest.fail(problem)
    with chromium() as b:
        yield b


@contextmanager
def browser_context(browser: Any, *, width: int = 1280, height: int = 1000) -> Iterator[Any]:
    """A browser profile (cookies and HTTP cache) that several tabs may share: a returning user."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    try:
        yield context
    finally:
        context.close()


@contextmanager
def open_session(browser: Any, base: str, *, width: int = 1280, height: int = 1000,
                 keep_payloads: bool = False, context: Any = None) -> Iterator[Session]:
    """A new tab on ``base`` at the sign-in form, recording every request.

    Without ``context`` the tab gets a fresh profile (empty HTTP cache: a first visit);
    with one, it shares that profile's cache (a returning visit; each tab is still a
    new Streamlit session that must sign in).
    """
    own = context is None
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN") if own else context
    page = ctx.new_page()
    s = Session(page=page, base=base, keep_payloads=keep_payloads)
    page.on("request", lambda r: s.requests.append(r.url))
    page.on("requestfinished", s._on_request_finished)
    page.on("websocket", s._on_websocket)
    try:
        page.goto(base + "/")
        page.get_by_label("用户名 Username").wait_for(timeout=120_000)
        yield s
    finally:
        page.close()
        if own:
            ctx.close()


def copy_db(src: Path, dst: Path) -> Path:
    """Copy a database file (and its WAL, if any) for an app run.

    A WAL left beside ``dst`` by an earlier run belongs to the earlier file: it goes, or DuckDB would
    replay it onto this copy (an internal error, "Failure while replaying WAL file").
    """
    shutil.copyfile(src, dst)
    wal, dst_wal = Path(str(src) + ".wal"), Path(str(dst) + ".wal")
    if wal.exists():
        shutil.copyfile(wal, dst_wal)
    else:
        dst_wal.unlink(missing_ok=True)
    return dst
