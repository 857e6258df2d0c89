"""The shipped nginx configuration in front of the app, in Chromium: an office's server, for real.

deploy/nginx/warmgrid.conf is run by Debian's nginx (installed when missing, as root, as
the browser tests install Chromium) with only its ports and file paths replaced: the app
on a free local port, nginx on two more (HTTPS with a certificate made here by openssl,
and the plain-HTTP redirect). Through the proxy, in Chromium:

- signing in works and the administrator's overview draws every cell of the district;
- the websocket (wss://) that carries every page's data is the one opened at sign-in,
  still open after idling and after moving to another page;
- Streamlit's JavaScript arrives gzip-compressed (without the proxy the same file comes
  uncompressed), and the bytes received for signing in and drawing the overview fall
  against what the same responses cost uncompressed (both figures printed);
- no request leaves for another host; plain HTTP is redirected to HTTPS; an upload
  larger than Streamlit accepts is refused by nginx itself (413).
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grid.demo import DEMO_ACCOUNTS
from grid.store import open_store
from tests.browsing import CHROMIUM, app_server, chromium, copy_db, ensure_chromium, open_session
from tests.sysdeps import ensure_packages

ROOT = Path(__file__).resolve().parent.parent
NGINX = "/usr/sbin/nginx"
SHIPPED = ROOT / "deploy" / "nginx" / "warmgrid.conf"


def ensure_nginx() -> str | None:
    """Install Debian's nginx when missing; the problem, or None (see tests/sysdeps.py)."""
    return ensure_packages({"nginx": NGINX}, "the proxy test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def site_config(app_port: int, https_port: int, http_port: int, cert: Path, key: Path) -> str:
    """The shipped configuration with its ports and file paths replaced, nothing else."""
    text = SHIPPED.read_text(encoding="utf-8")
    for old, new in (("server 127.0.0.1:8501;", f"server 127.0.0.1:{app_port};"),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("/etc/ssl/warmgrid/warmgrid.crt", str(cert)),
                     ("/etc/ssl/warmgrid/warmgrid.key", str(key))):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "office.crt", folder / "office.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def proxied(district_file: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    for problem in (ensure_chromium(), ensure_nginx()):
        if problem:
            pytest.fail(problem)
    folder = tmp_path_factory.mktemp("proxy")
    db = copy_db(district_file[0], folder / "app.duckdb")
    cert, key = _certificate(folder)
    https_port, http_port = _free_port(), _free_port()
    with app_server(db) as app:
        app_port = int(app.url.rsplit(":", 1)[1])
        (folder / "warmgrid.conf").write_text(site_config(app_port, https_port, http_port, cert, key))
        temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for p in temp.values():
            p.mkdir()
        (folder / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"worker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
            f"  access_log {folder / 'access.log'};\n"
            + "".join(f"  {name}_temp_path {p};\n" for name, p in
                      (("client_body", temp["body"]), *((n, temp[n]) for n in ("proxy", "fastcgi", "uwsgi", "scgi"))))
            + f"  include {folder / 'warmgrid.conf'};\n}}\n")
        args = [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")]
        check = subprocess.run([*args, "-t"], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        proc = subprocess.Popen([*args, "-g", "daemon off;"], stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
                try:
                    socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.1)
            yield {"app": app.url, "https": f"https://127.0.0.1:{https_port}", "http_port": http_port,
                   "https_port": https_port, "folder": folder, "district": district_file[0]}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.stderr:
                proc.stderr.close()


def _overview(browser: Any, base: str, context: Any) -> dict[str, Any]:
    """Sign in as the administrator on a first visit, wait for the overview's map, idle, open another page:
    what the browser received on the way."""
    name, password = DEMO_ACCOUNTS["admin"]
    responses: list[Any] = []
    context.on("response", lambda r: responses.append(r))
    with open_session(browser, base, context=context) as s:
        s.sign_in(name, password)
        stats = s.wait_maps(1, min_cells=1, timeout=90)[0]
        s.wait_idle()
        out: dict[str, Any] = {"bytes": s.transferred, "ws_bytes": s.ws_bytes, "cells": sorted(stats["cells"]),
                               "foreign": s.foreign_requests()}
        bodies = []  # (url, content-encoding, bytes sent, bytes of the body decoded, header bytes)
        for r in responses:
            if r.ok and r.request.method == "GET":
                sizes = r.request.sizes()
                bodies.append((r.url, r.headers.get("content-encoding", ""), int(sizes["responseBodySize"]),
                               len(r.body()), int(sizes["responseHeadersSize"])))
        out["bodies"] = bodies
        sockets = s.sockets
        s.page.wait_for_timeout(3_000)  # idle: the websocket must stay open
        out["open_after_idle"] = [not ws.is_closed() for ws in sockets]
        s.open_page("审计日志 Audit log", "审计日志")  # another page, over the same websocket
        out["open_after_page"] = [not ws.is_closed() for ws in sockets]
        out["socket_urls"] = [ws.url for ws in sockets]
    return out


def test_the_app_behind_the_shipped_nginx_configuration(proxied: dict[str, Any]) -> None:
    assert Path(CHROMIUM).exists()
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN",
                                      ignore_https_errors=True)
        try:
            via = _overview(browser, proxied["https"], context)
        finally:
            context.close()
    with open_store(proxied["district"], read_only=True) as store:  # the app holds its copy
        cells = sorted(store.query("SELECT cell_id FROM cells")["cell_id"])
    assert via["cells"] == cells  # the administrator's overview drew every cell
    assert via["foreign"] == []
    wss = f"wss://127.0.0.1:{proxied['https_port']}/_stcore/stream"
    assert via["socket_urls"] == [wss]  # one websocket, through the proxy, kept for the whole visit
    assert via["open_after_idle"] == [True] and via["open_after_page"] == [True]

    scripts = [b for b in via["bodies"] if b[0].split("?")[0].endswith(".js") and b[3] > 10_000]
    sent, full = sum(b[2] for b in scripts), sum(b[3] for b in scripts)
    # What the same responses cost uncompressed, as Streamlit sends them without the proxy (checked below).
    plain = via["bytes"] - sum(b[2] for b in via["bodies"]) + sum(b[3] for b in via["bodies"])
    print(f"\nbytes received, sign-in to the drawn overview, first visit: {plain:,} uncompressed (Streamlit alone), "
          f"{via['bytes']:,} through nginx ({via['bytes'] / plain:.0%}; websocket {via['ws_bytes']:,}); "
          f"JavaScript {full:,} -> {sent:,} bytes ({len(scripts)} files)")
    assert scripts and all(b[1] == "gzip" for b in scripts), [b[:4] for b in scripts if b[1] != "gzip"]
    assert sent < 0.45 * full  # JavaScript compresses to well under half
    assert via["bytes"] < 0.75 * plain

    # Without the proxy the same script comes uncompressed, though the browser would take gzip.
    path = "/" + scripts[0][0].split("/", 3)[3]
    direct = urllib.request.urlopen(urllib.request.Request(proxied["app"] + path,
                                                           headers={"Accept-Encoding": "gzip, br"}), timeout=30)
    assert direct.headers.get("Content-Encoding") is None and len(direct.read()) == scripts[0][3]

    # Plain HTTP goes to HTTPS.
    http_ = http.client.HTTPConnection("127.0.0.1", proxied["http_port"], timeout=10)
    http_.request("GET", "/some/page")
    r = http_.getresponse()
    assert r.status == 301 and r.getheader("Location", "").startswith("https://127.0.0.1")
    http_.close()
    # An upload over Streamlit's limit is refused by nginx before any byte of it is read.
    tls = http.client.HTTPSConnection("127.0.0.1", proxied["https_port"], timeout=10,
                                      context=ssl._create_unverified_context())
    tls.putrequest("PUT", "/_stcore/upload_file/session/file")
    tls.putheader("Content-Length", str(201 * 1024 * 1024))
    tls.endheaders()
    assert tls.getresponse().status == 413
    tls.close()
