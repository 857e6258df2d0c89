"""A folium map in Streamlit whose rendering is done once per input, not on every rerun.

``streamlit_folium.st_folium(m)`` renders the whole folium tree to HTML and JavaScript
three times on every script run (``get_root().render()``, ``render()`` and the script
for the component), with a JSON dump per GeoJSON feature and a Jinja template compiled
per element. For the overview of a 1,000,000-household district (2,501 cells, about
500 walking catchments, 5,000 markers) that is 2.7 MB of script and about 2 s of the
server's time on every rerun — a click anywhere on the page, a returning visit — while
the map itself has not changed.

:func:`map_payload` does st_folium's preparation once and returns what its component
receives (:class:`MapPayload`); :func:`cached_payload` keeps one per key (the page's
inputs: data generation, scope, settings) for every session of the process; and
:func:`draw_map` hands a payload to st_folium's component exactly as ``st_folium``
does. ``tests/test_ui_map.py`` checks that the component receives the same arguments
either way, so a new streamlit-folium that changes its preparation fails a test instead
of drawing a wrong map (the version is pinned in ``requirements.txt``).

Examples
--------
>>> import folium
>>> p = map_payload(folium.Map(location=(30.0, 120.0), zoom_start=12, tiles=None))
>>> p.id.startswith("map_"), "L.map" in p.script
(True, True)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import branca
import folium
import folium.elements
import streamlit as st
import streamlit_folium as _sf

import maps  # noqa: F401 - rendered map text is never a template again (maps/rendered.py)

__all__ = ["MapPayload", "cached_payload", "draw_map", "keep_payload", "map_payload", "payload_from_json",
           "payload_json"]


@dataclass(frozen=True)
class MapPayload:
    """What st_folium's component needs to draw one map (computed once, read-only)."""

    script: str
    header: str
    html: str
    id: str
    css_links: tuple[str, ...]
    js_links: tuple[str, ...]
    #: What st_folium returns before the browser has reported anything, for every object it can
    #: return (``draw_map`` keeps those of its ``returned_objects``), as ``st_folium`` computes them;
    #: ``bounds`` only when the payload was made ``with_bounds`` (else None).
    defaults: tuple[tuple[str, Any], ...] = ()
    #: Whether ``defaults`` holds the data's bounds (st_folium's ``fig.get_bounds()``: every coordinate
    #: of every layer visited in Python, about 0.3 s for the overview at 1,000,000 households).
    with_bounds: bool = False
    #: st_folium's widget key per page key (a hash of the 2.7 MB script: computed once per key).
    _hashes: dict[str | None, str] = field(default_factory=dict, compare=False, repr=False)

    def widget_key(self, key: str | None) -> str:
        """st_folium's component key for the page's ``key`` (as ``generate_js_hash`` makes it)."""
        got = self._hashes.get(key)
        if got is None:
            got = _sf.generate_js_hash(self.script, key, False)
            self._hashes[key] = got
        return got


def _links(fig: folium.Map) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The CSS and JS files of every element, deduplicated in order (as st_folium collects them)."""
    css: list[str] = []
    js: list[str] = []

    def walk(el: Any) -> Any:
        if isinstance(el, branca.colormap.ColorMap):
            yield el
        if isinstance(el, folium.elements.JSCSSMixin):
            yield el
        for child in getattr(el, "_children", {}).values():
            yield from walk(child)

    for el in walk(fig):
        if isinstance(el, branca.colormap.ColorMap):
            # st_folium adds d3 from a CDN for colormaps; maps/offline.py forbids them, and so does this.
            raise ValueError("branca colormaps load d3 from the internet: use maps.layers.add_legend")
        css.extend(href for _, href in getattr(el, "default_css", []))
        js.extend(src for _, src in getattr(el, "default_js", []))
    return tuple(dict.fromkeys(css)), tuple(dict.fromkeys(js))


def map_payload(fig: folium.Map, *, with_bounds: bool = False) -> MapPayload:
    """st_folium's preparation of ``fig``, done once. ``fig`` is consumed (its ids are rewritten).

    Parameters
    ----------
    fig : folium.Map
        A finished map (localized for offline use, :func:`maps.layers.finish`).
    with_bounds : bool
        Compute the data's bounds, for a page that asks :func:`draw_map` to return ``bounds``.
    """
    if not isinstance(fig, folium.Map):
        raise TypeError(f"a folium.Map is needed, not {type(fig).__name__}")
    fig.get_root().render()
    fig.render()
    html = _sf._get_html(fig)
    header = _sf._get_header(fig)
    script = _sf._get_map_string(fig)  # rewrites the elements' ids: last
    css, js = _links(fig)
    return MapPayload(script=script, header=header, html=html, id=_sf.get_full_id(fig), css_links=css, js_links=js,
                      defaults=_defaults(fig, with_bounds), with_bounds=with_bounds)


def _defaults(fig: folium.Map, with_bounds: bool) -> tuple[tuple[str, Any], ...]:
    """st_folium's ``_defaults`` for ``fig``, in its order (``bounds`` None unless ``with_bounds``)."""
    bounds = None
    if with_bounds:
        (south, west), (north, east) = fig.get_bounds()
        bounds = {"_southWest": {"lat": south, "lng": west}, "_northEast": {"lat": north, "lng": east}}
    return (("last_clicked", None), ("last_object_clicked", None), ("last_object_clicked_count", None),
            ("last_object_clicked_tooltip", None), ("last_object_clicked_popup", None), ("all_drawings", None),
            ("last_active_drawing", None), ("bounds", bounds), ("zoom", fig.options.get("zoom")),
            ("last_circle_radius", None), ("last_circle_polygon", None), ("selected_layers", None),
            ("selected_tags", None), ("last_geocoder_result", None))


_CACHE: OrderedDict[Hashable, MapPayload] = OrderedDict()
_LOCK = threading.Lock()
_BUILDING: dict[Hashable, threading.Event] = {}  # keys being built, set when done
#: Payloads kept (each about the size of its script: up to a few MB).
CACHE_SIZE = 24


def payload_json(payload: MapPayload) -> dict[str, Any]:
    """``payload`` as JSON values (to keep on disk, :mod:`grid.view_cache`); :func:`payload_from_json` reverses it.

    >>> p = map_payload(folium.Map(location=(30.0, 120.0), zoom_start=12, tiles=None))
    >>> payload_from_json(payload_json(p)) == p
    True
    """
    return {"script": payload.script, "header": payload.header, "html": payload.html, "id": payload.id,
            "css_links": list(payload.css_links), "js_links": list(payload.js_links),
            "defaults": [[k, v] for k, v in payload.defaults], "with_bounds": payload.with_bounds}


def payload_from_json(data: dict[str, Any]) -> MapPayload:
    """The :class:`MapPayload` of :func:`payload_json`'s output."""
    return MapPayload(script=str(data["script"]), header=str(data["header"]), html=str(data["html"]),
                      id=str(data["id"]), css_links=tuple(str(x) for x in data["css_links"]),
                      js_links=tuple(str(x) for x in data["js_links"]),
                      defaults=tuple((str(k), v) for k, v in data["defaults"]), with_bounds=bool(data["with_bounds"]))


def keep_payload(key: Hashable, payload: MapPayload) -> MapPayload:
    """Put a payload made elsewhere (read from disk) in the cache under ``key``; the one kept is returned."""
    with _LOCK:
        got = _CACHE.setdefault(key, payload)
        _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return got


def cached_payload(key: Hashable, build: Callable[[], folium.Map]) -> MapPayload:
    """The payload of the map ``build()`` makes, built once per ``key`` and shared by every session.

    ``key`` must name everything the map depends on (the store's path and data generation,
    the viewer's scope and role, every setting). The oldest of :data:`CACHE_SIZE` payloads goes first.
    While one thread builds a key, another asking for it waits for that build rather than make the
    same map again (the district's first map: 2.5 s of the server's time, once); if the build fails,
    the next one asking builds it.

    >>> import folium
    >>> made = []
    >>> build = lambda: made.append(1) or folium.Map(location=(30.0, 120.0), tiles=None)
    >>> cached_payload(("doctest", 1), build) is cached_payload(("doctest", 1), build), made
    (True, [1])
    """
    while True:
        with _LOCK:
            got = _CACHE.get(key)
            if got is not None:
                _CACHE.move_to_end(key)
                return got
            pending = _BUILDING.get(key)
            mine = pending is None
            if mine:
                pending = _BUILDING[key] = threading.Event()
        assert pending is not None
        if not mine:
            pending.wait()  # then take what it built, or build it if it failed
            continue
        try:
            got = map_payload(build())
            with _LOCK:
                got = _CACHE.setdefault(key, got)
                while len(_CACHE) > CACHE_SIZE:
                    _CACHE.popitem(last=False)
            return got
        finally:
            with _LOCK:
                _BUILDING.pop(key, None)
            pending.set()


def draw_map(payload: MapPayload, *, height: int, key: str | None = None,
             returned_objects: tuple[str, ...] = ()) -> Any:
    """Draw ``payload`` as ``st_folium(m, height=height, use_container_width=True,
    returned_objects=list(returned_objects), key=key)``.

    Returns what st_folium returns: the ``returned_objects`` (none by default) as the browser last
    reported them, their defaults until it has.
    """
    if "bounds" in returned_objects and not payload.with_bounds:
        raise ValueError("draw_map returns bounds only for a payload made with map_payload(fig, with_bounds=True)")
    hash_key = payload.widget_key(key)

    def _on_change() -> None:
        if key is not None:
            st.session_state[key] = st.session_state.get(hash_key, {})

    wanted = list(returned_objects)
    return _sf._component_func(
        script=payload.script, header=payload.header, html=payload.html, id=payload.id, key=hash_key,
        height=height, width=None, returned_objects=wanted,
        default={k: v for k, v in payload.defaults if k in wanted}, zoom=None, center=None,
        feature_group=None, return_on_hover=False, layer_control=None, pixelated=False,
        css_links=list(payload.css_links), js_links=list(payload.js_links), on_change=_on_change,
        wrap_longitude=False,
    )
