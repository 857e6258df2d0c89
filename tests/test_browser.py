"""The app in a real browser (headless Chromium driven by Playwright): the map draws, the
overview's figures are the library's, and no request leaves the machine.

Chromium comes from Debian (``/usr/bin/chromium``). When it is missing, the tests install it
(with ``fonts-noto-cjk``) if they run as root with ``CI`` or ``WARMGRID_INSTALL_TEST_DEPS`` set;
otherwise they fail and say what to install.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from grid import coverage as cv
from grid.demo import DEMO_ACCOUNTS
from grid.store import open_store

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts" / "screenshots"


def _ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.geteuid() == 0 and (os.environ.get("CI") or os.environ.get("WARMGRID_INSTALL_TEST_DEPS")):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium", "fonts-noto-cjk"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not Path(CHROMIUM).exists():
        pytest.fail("browser tests need Debian's chromium: apt-get install chromium fonts-noto-cjk")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(district_file, tmp_path_factory) -> Iterator[str]:
    _ensure_chromium()
    db = tmp_path_factory.mktemp("browser") / "app.duckdb"
    shutil.copyfile(district_file[0], db)
    port = _free_port()
    env = {**os.environ, "WARMGRID_DB": str(db)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the app did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _browse(url: str, role: str, shot: str) -> tuple[str, list[str], dict[str, int]]:
    """Sign in as the demo account of ``role`` and wait for the first page's map."""
    from playwright.sync_api import sync_playwright

    name, password = DEMO_ACCOUNTS[role]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url + "/")
            page.get_by_label("用户名 Username").fill(name)
            page.get_by_label("密码 Password").fill(password)
            page.get_by_role("button", name="登录 Sign in").click()
            frame = None
            for _ in range(120):
                frames = [f for f in page.frames if "streamlit_folium" in f.url]
                if frames and frames[0].query_selector(".leaflet-container canvas, .leaflet-container svg"):
                    frame = frames[0]
                    break
                page.wait_for_timeout(500)
            assert frame is not None, "the map did not draw"
            counts = {
                "containers": len(frame.query_selector_all(".leaflet-container")),
                "legends": len(frame.query_selector_all(".wg-legend")),
                "titles": len(frame.query_selector_all(".wg-title")),
            }
            page.wait_for_timeout(1000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
            text = page.inner_text("body") + "\n" + frame.inner_text("body")
            return text, requests, counts
        finally:
            browser.close()


def _local(url: str, requests: list[str]) -> list[str]:
    return [r for r in requests if not (r.startswith(url) or r.startswith("data:") or r.startswith("blob:"))]


def test_overview_draws_offline_with_the_library_figures(app_url, district_file) -> None:
    text, requests, counts = _browse(app_url, "admin", "overview_admin.png")
    assert counts == {"containers": 1, "legends": 1, "titles": 1}
    assert _local(app_url, requests) == []
    with open_store(district_file[0], read_only=True) as s:
        ov = cv.overview(s, "party_service")
    assert f"{ov.kpis['households']:,}" in text and f"{ov.kpis['outside']:,}" in text


def test_warden_page_draws_offline(app_url) -> None:
    # The warden's first (and only) page is 我的网格: signing in lands there.
    text, requests, counts = _browse(app_url, "warden", "my_cells_warden.png")
    assert counts["containers"] == 1 and counts["legends"] == 1
    assert _local(app_url, requests) == []
    assert "我的网格" in text
