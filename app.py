"""WarmGrid 暖网 — the web server: ``streamlit run app.py``.

Streamlit serves the script ``main.py`` (sign-in, then each role's pages from
``views/``) through this :class:`streamlit.App`, which adds what a bare
``streamlit run main.py`` cannot:

- ``/_stcore/metrics`` (Streamlit's Prometheus figures: sessions, cache sizes)
  answers 404: nobody outside needs it;
- every response carries security headers: a Content-Security-Policy that lets
  the browser load scripts, styles, images, fonts and frames only from the app
  itself (plus the tile server when a network basemap is configured), so that
  even a slipped-through ``<img src=http://…>`` fetches nothing;
  ``X-Content-Type-Options: nosniff``; ``Referrer-Policy: no-referrer``; and
  ``X-Frame-Options: SAMEORIGIN`` (no other site may frame the app);
- on shutdown the command line's job channel (:mod:`grid.channel`) is stopped and
  its socket removed.

What stays public before sign-in, and why, is in the README's security section.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import streamlit as st
from starlette.middleware import Middleware

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths answered with 404 (ends of the path, after any base URL).
BLOCKED = ("/_stcore/metrics",)
#: Tile hosts a configured network basemap needs (``WARMGRID_BASEMAP``).
_TILE_HOSTS = {"osm": "https://tile.openstreetmap.org", "tianditu": "https://*.tianditu.gov.cn"}


def content_security_policy(basemap: str = "none") -> str:
    """The Content-Security-Policy of every response (tiles allowed only for a network basemap).

    >>> "img-src 'self' data: blob:;" in content_security_policy()
    True
    >>> "https://tile.openstreetmap.org" in content_security_policy("osm")
    True
    """
    tiles = _TILE_HOSTS.get(basemap, "")
    img = "img-src 'self' data: blob:" + (f" {tiles}" if tiles else "")
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:",
        "style-src 'self' 'unsafe-inline'",
        img,
        "font-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "frame-src 'self' blob: data:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]) + ";"


class Guard:
    """ASGI middleware: 404 for :data:`BLOCKED` paths, security headers on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        basemap = os.environ.get("WARMGRID_BASEMAP", "none").strip().lower() or "none"
        self.headers = [
            (b"content-security-policy", content_security_policy(basemap).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"SAMEORIGIN"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", "")).rstrip("/")
        if path.endswith(BLOCKED):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"), *self.headers]})
            await send({"type": "http.response.body", "body": b"not found"})
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in self.headers if k not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """On shutdown (SIGTERM included), stop the command line's job channel: its socket goes with the app."""
    yield None
    from grid.channel import stop_all

    stop_all()


app = st.App(str(Path(__file__).resolve().parent / "main.py"), middleware=[Middleware(Guard)], lifespan=lifespan)
