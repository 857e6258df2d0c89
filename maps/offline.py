"""Offline folium maps: serve folium's JavaScript/CSS from the app, not from CDNs.

folium 0.20.0 and streamlit-folium 0.27.4 load Leaflet, jQuery, Bootstrap,
Leaflet.awesome-markers, Font Awesome, the Bootstrap 3 glyphicons and the
MarkerCluster/HeatMap plugins from public CDNs. WarmGrid must run without
internet access, so copies of those files live in ``static/vendor/``
(re-created by ``scripts/vendor_assets.sh`` from the npm registry; see
``static/vendor/README.md``) and Streamlit serves them at ``/app/static/...``
(``[server] enableStaticServing = true`` in ``.streamlit/config.toml``).

:func:`localize` rewrites every CDN URL of a map to the local copy. Call it on
the finished map, right before ``st_folium(m)`` or ``m.get_root().render()``:
elements added afterwards are not localized. streamlit_folium passes each
element's ``default_js``/``default_css`` URLs to its component iframe, which is
served by the same Streamlit server, so root-relative URLs such as
``/app/static/vendor/leaflet/leaflet.js`` resolve to the app itself. (If the
app runs under ``server.baseUrlPath``, pass the prefixed base URL, e.g.
``"/warmgrid/app/static/vendor"``.)

Only the assets in :data:`CDN_FILES` are vendored. Any other external URL makes
:func:`localize` raise :class:`ValueError`, so a new plugin cannot silently
reintroduce a CDN dependency: vendor its files first. In particular, never add
a branca colormap (``branca.colormap.LinearColormap``/``StepColormap``, e.g.
as a legend) to a map: streamlit_folium then injects d3 from
``d3js.org``/``cdnjs`` on its own, outside folium's link lists, and
:func:`localize` rejects it. Tile layers are not covered either; maps are
created with ``folium.Map(tiles=None, ...)``.

:func:`standalone_html` produces a self-contained document (all scripts,
styles, images and fonts inlined) for exporting a map as a file.

This module does not import streamlit.

Examples
--------
>>> import folium
>>> m = localize(folium.Map(tiles=None))
>>> m.default_js[0]
('leaflet', '/app/static/vendor/leaflet/leaflet.js')
>>> external_urls(m.get_root().render())
[]
"""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import branca.colormap
import folium
import folium.plugins
from branca.element import CssLink, Element, JavascriptLink

__all__ = [
    "CDN_FILES",
    "VENDOR_URL",
    "external_urls",
    "localize",
    "missing_files",
    "standalone_html",
    "vendor_root",
]

#: Default URL under which Streamlit serves ``static/vendor/``.
VENDOR_URL = "/app/static/vendor"

#: Every CDN URL folium/its plugins use that has a vendored copy, mapped to the
#: file's path relative to :func:`vendor_root`.
CDN_FILES: Mapping[str, str] = MappingProxyType(
    {
        # folium.Map
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/leaflet.js",
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/leaflet.css",
        "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
        "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": (
            "bootstrap/js/bootstrap.bundle.min.js"
        ),
        "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": (
            "bootstrap/css/bootstrap.min.css"
        ),
        "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (
            "awesome-markers/leaflet.awesome-markers.js"
        ),
        "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (
            "awesome-markers/leaflet.awesome-markers.css"
        ),
        "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": (
            "glyphicons/css/bootstrap-glyphicons.css"
        ),
        "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": (
            "fontawesome/css/all.min.css"
        ),
        "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css": (
            "folium/leaflet.awesome.rotate.min.css"
        ),
        # folium.plugins.MarkerCluster / FastMarkerCluster
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js": (
            "markercluster/leaflet.markercluster.js"
        ),
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css": (
            "markercluster/MarkerCluster.css"
        ),
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css": (
            "markercluster/MarkerCluster.Default.css"
        ),
        # folium.plugins.HeatMap
        "https://cdn.jsdelivr.net/gh/python-visualization/folium@main/folium/templates/leaflet_heat.min.js": (
            "leaflet-heat/leaflet_heat.min.js"
        ),
    }
)

_LINK_ATTRS = ("default_js", "default_css")

# What streamlit_folium 0.27.4's st_folium adds to its js_links for every
# branca ColorMap in the map (hard-coded, not taken from default_js).
_STREAMLIT_FOLIUM_D3 = (
    "https://d3js.org/d3.v4.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js",
)

# "http://", "https://", "//" (protocol-relative) or any other "scheme://".
_EXTERNAL = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//")
_EXTERNAL_URL = r"(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//[^\s\"'<>()]+"
_ATTR_URL = re.compile(r"\b(?:src|href)\s*=\s*[\"']?\s*(" + _EXTERNAL_URL + ")", re.IGNORECASE)
_CSS_URL = re.compile(r"\burl\(\s*[\"']?\s*(" + _EXTERNAL_URL + ")", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import\s+[\"']\s*(" + _EXTERNAL_URL + ")", re.IGNORECASE)
_TAG_NAME = re.compile(r"<\s*([a-zA-Z][\w:-]*)")

# <script src="..."></script> or <link ... href="...">, as branca renders them.
_ASSET_TAG = re.compile(
    r"<script\b[^>]*?\bsrc\s*=\s*([\"'])(?P<js>[^\"']+)\1[^>]*>\s*</script\s*>"
    r"|<link\b[^>]*?\bhref\s*=\s*([\"'])(?P<css>[^\"']+)\3[^>]*>",
    re.IGNORECASE,
)
_CSS_ANY_URL = re.compile(r"\burl\(\s*([\"']?)(?P<url>[^\"')]*?)\1\s*\)", re.IGNORECASE)
_SOURCE_MAP = re.compile(r"^\s*(?://|/\*)# sourceMappingURL=\S+(?:\s*\*/)?\s*$", re.MULTILINE)

_DATA_MIME = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
}
_FONT_SUFFIXES = frozenset({".woff2", ".woff", ".ttf", ".otf", ".eot"})

_LEAFLET_JS = "leaflet/leaflet.js"
_LEAFLET_ICONS = {
    "iconUrl": "leaflet/images/marker-icon.png",
    "iconRetinaUrl": "leaflet/images/marker-icon-2x.png",
    "shadowUrl": "leaflet/images/marker-shadow.png",
}


def vendor_root() -> Path:
    """Return the ``static/vendor`` directory holding the vendored assets.

    Returns
    -------
    pathlib.Path
        Absolute path of ``<repository>/static/vendor`` (it may not exist if
        ``scripts/vendor_assets.sh`` was never run).
    """
    return Path(__file__).resolve().parent.parent / "static" / "vendor"


def _base(base_url: str) -> str:
    base = base_url.rstrip("/")
    if not base:
        raise ValueError("base_url must not be empty; use e.g. '/app/static/vendor'")
    return base


def _is_external(url: str) -> bool:
    return _EXTERNAL.match(url) is not None


def _walk(element: Element) -> Iterator[Element]:
    """Yield ``element`` and all its descendants (streamlit_folium's walk)."""
    seen: set[int] = set()
    stack = [element]
    while stack:
        elem = stack.pop()
        if id(elem) in seen:
            continue
        seen.add(id(elem))
        yield elem
        children: list[Element] = list(getattr(elem, "_children", {}).values())
        if isinstance(elem, folium.plugins.DualMap):
            children = [elem.m1, elem.m2, *children]
        stack.extend(reversed(children))


def _local_url(url: str, base: str, owner: object) -> str:
    if not _is_external(url):
        return url
    rel = CDN_FILES.get(url.strip())
    if rel is None:
        if isinstance(owner, branca.colormap.ColorMap):
            fix = (
                "streamlit_folium injects d3 from a CDN for every branca colormap, "
                "so do not add colormaps to maps (draw legends another way)"
            )
        else:
            fix = (
                "add the file to scripts/vendor_assets.sh and maps.offline.CDN_FILES, "
                "or do not use this element"
            )
        raise ValueError(
            f"{type(owner).__module__}.{type(owner).__qualname__} loads {url!r} from an "
            f"external CDN that has no vendored copy, so the map would not work offline: {fix}"
        )
    return f"{base}/{rel}"


def localize(m: folium.Map, base_url: str = VENDOR_URL) -> folium.Map:
    """Point every JavaScript/CSS link of a map at the vendored local copies.

    Walks ``m`` and all its descendants (as streamlit_folium does) and gives
    every element with ``default_js``/``default_css`` instance-level lists in
    which each known CDN URL (:data:`CDN_FILES`) is replaced by
    ``f"{base_url}/{relative path}"``. Links already in the rendered figure
    header (if ``m`` was rendered before) are rewritten too. Local URLs are
    left alone, so the function is idempotent. Nothing is modified unless the
    whole map can be localized.

    Parameters
    ----------
    m : folium.Map
        The finished map. Elements added after the call are not localized.
    base_url : str, default :data:`VENDOR_URL`
        URL under which ``static/vendor`` is served.

    Returns
    -------
    folium.Map
        ``m`` itself, modified in place.

    Raises
    ------
    ValueError
        If an element loads an external URL that has no vendored copy (the
        message names the URL), or the map contains a branca colormap (for
        which streamlit_folium injects d3 from a CDN).

    Examples
    --------
    >>> import folium
    >>> from folium.plugins import HeatMap
    >>> m = folium.Map(tiles=None)
    >>> _ = HeatMap([[24.48, 118.08, 1.0]]).add_to(m)
    >>> localize(m, "/static/vendor").default_css[0]
    ('leaflet_css', '/static/vendor/leaflet/leaflet.css')
    """
    base = _base(base_url)
    # Plan every change first, so that an error leaves the map untouched.
    plan: list[tuple[Any, str, list[tuple[str, str]]]] = []
    for elem in _walk(m):
        if isinstance(elem, branca.colormap.ColorMap):
            for url in _STREAMLIT_FOLIUM_D3:
                _local_url(url, base, elem)  # raises: d3 is injected, not rewritable
        for attr in _LINK_ATTRS:
            links = getattr(elem, attr, None)
            if links:
                plan.append((elem, attr, [(name, _local_url(url, base, elem)) for name, url in links]))
    header_links: list[tuple[JavascriptLink | CssLink, str]] = []
    header = getattr(m.get_root(), "header", None)
    for child in getattr(header, "_children", {}).values():
        if isinstance(child, (JavascriptLink, CssLink)):
            header_links.append((child, _local_url(child.url, base, child)))

    for elem, attr, links in plan:
        setattr(elem, attr, links)
    for link, url in header_links:
        link.url = url
    return m


def external_urls(html: str, *, include_anchors: bool = False) -> list[str]:
    """List the external URLs a rendered HTML string would load.

    Finds every ``http://``, ``https://``, protocol-relative ``//`` (or other
    ``scheme://``) URL that is the value of a ``src=``/``href=`` attribute
    (also inside inline JavaScript, e.g. ``el.src = "https://..."``), of a CSS
    ``url(...)`` or of a CSS ``@import``. ``data:`` URIs and relative or
    root-relative URLs are not external.

    Parameters
    ----------
    html : str
        Rendered HTML, e.g. ``m.get_root().render()``.
    include_anchors : bool, default False
        Also report ``href`` values of ``<a ...>`` tags. These are links the
        user may click, not resources the page loads (Leaflet's own code
        contains the attribution link ``<a href="https://leafletjs.com">``),
        so they are skipped by default.

    Returns
    -------
    list of str
        The distinct URLs in order of first appearance; empty if the page
        needs no network.

    Examples
    --------
    >>> external_urls('<script src="https://x.org/a.js"></script><a href="//y.org/">y</a>')
    ['https://x.org/a.js']
    >>> external_urls('<style>b{background:url(data:image/png;base64,AA==)}</style>')
    []
    """
    found: dict[str, None] = {}
    for match in _ATTR_URL.finditer(html):
        if not include_anchors and _enclosing_tag(html, match.start()) == "a":
            continue
        found.setdefault(match.group(1), None)
    for pattern in (_CSS_URL, _CSS_IMPORT):
        for match in pattern.finditer(html):
            found.setdefault(match.group(1), None)
    return list(found)


def _enclosing_tag(html: str, pos: int) -> str | None:
    """Name (lower case) of the HTML-like tag that position ``pos`` is inside."""
    lt = html.rfind("<", 0, pos)
    if lt < 0 or html.rfind(">", lt, pos) >= 0:
        return None
    match = _TAG_NAME.match(html, lt)
    return match.group(1).lower() if match else None


def _css_references(rel: str, css: str) -> list[tuple[str, str]]:
    """``(url as written, path relative to vendor_root)`` of local url() refs in a CSS file."""
    refs = []
    for match in _CSS_ANY_URL.finditer(css):
        url = match.group("url").strip()
        if not url or url.startswith(("#", "data:", "/")) or _is_external(url):
            continue
        path = re.split(r"[?#]", url, maxsplit=1)[0]
        target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), path))
        refs.append((url, target))
    return refs


def missing_files(base_url: str = VENDOR_URL) -> list[str]:
    """List the local URLs of vendored files that do not exist on disk.

    Checks every file in :data:`CDN_FILES` and, for the stylesheets among them
    that exist, every image/font they reference by relative ``url(...)``.

    Parameters
    ----------
    base_url : str, default :data:`VENDOR_URL`
        URL under which ``static/vendor`` is served; used to build the result.

    Returns
    -------
    list of str
        Sorted local URLs (``f"{base_url}/{relative path}"``) whose file is
        missing; empty when ``static/vendor`` is complete. Run
        ``scripts/vendor_assets.sh`` to re-create it.
    """
    base = _base(base_url)
    root = vendor_root()
    missing: set[str] = set()
    for rel in set(CDN_FILES.values()):
        path = root / rel
        if not path.is_file():
            missing.add(rel)
        elif path.suffix == ".css":
            for _, target in _css_references(rel, path.read_text(encoding="utf-8")):
                if target.startswith("..") or not (root / target).is_file():
                    missing.add(target)
    return sorted(f"{base}/{rel}" for rel in missing)


def _vendored_file(rel: str) -> Path:
    root = vendor_root().resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise ValueError(f"{rel!r} is outside {root}")
    if not path.is_file():
        raise FileNotFoundError(
            f"vendored asset {path} is missing; run scripts/vendor_assets.sh"
        )
    return path


def _data_uri(path: Path) -> str:
    mime = _DATA_MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(rel: str, embed_fonts: bool) -> str:
    css = _vendored_file(rel).read_text(encoding="utf-8")
    uris: dict[str, str] = {}
    for url, target in _css_references(rel, css):
        if target.startswith(".."):
            raise ValueError(f"{rel} references {url!r} outside static/vendor")
        path = _vendored_file(target)
        if path.suffix.lower() in _FONT_SUFFIXES and not embed_fonts:
            uris[url] = "data:,"
        else:
            uris[url] = _data_uri(path)

    def replace(match: re.Match[str]) -> str:
        uri = uris.get(match.group("url").strip())
        return f'url("{uri}")' if uri is not None else match.group(0)

    css = _CSS_ANY_URL.sub(replace, css)
    css = _SOURCE_MAP.sub("", css)
    return css.replace("</style", "<\\/style")


def _inline_js(rel: str) -> str:
    code = _vendored_file(rel).read_text(encoding="utf-8")
    code = _SOURCE_MAP.sub("", code)
    # "</script" would end the inline script element early; "<\/" is the same
    # string in JS string and regex literals.
    return code.replace("</script", "<\\/script")


def standalone_html(m: folium.Map, base_url: str = VENDOR_URL, *, embed_fonts: bool = True) -> str:
    """Render the map as one self-contained HTML document.

    Localizes ``m`` (see :func:`localize`; this modifies ``m`` in place),
    renders it and replaces every ``<script src>``/``<link rel="stylesheet">``
    pointing into ``base_url`` with the vendored file's content. Images and
    fonts referenced by the stylesheets are inlined as ``data:`` URIs, and
    Leaflet's default marker icons are set to ``data:`` URIs as well (Leaflet
    otherwise derives their location from the URL of ``leaflet.css``). The
    result needs no network and no server; it is about 2.0 MB plus the
    map's data (0.85 MB with ``embed_fonts=False``: Font Awesome's stylesheet
    names each of its fonts in several ``@font-face`` rules, and each one
    gets its own copy).

    Parameters
    ----------
    m : folium.Map
        The finished map.
    base_url : str, default :data:`VENDOR_URL`
        Base URL used by :func:`localize`; links under it are inlined.
    embed_fonts : bool, default True
        Embed the Font Awesome and Glyphicons web fonts. With ``False`` the
        font files are dropped: the document is smaller, but icons in
        ``folium.Icon`` markers render as empty squares or not at all.

    Returns
    -------
    str
        The complete HTML document.

    Raises
    ------
    ValueError
        As :func:`localize`.
    FileNotFoundError
        If a vendored file is missing (run ``scripts/vendor_assets.sh``).
    """
    base = _base(base_url)
    prefix = base + "/"
    localize(m, base)
    html = m.get_root().render()

    def inline(match: re.Match[str]) -> str:
        url = (match.group("js") or match.group("css")).strip()
        if not url.startswith(prefix):
            return match.group(0)
        rel = url[len(prefix) :]
        if match.group("css") is not None:
            if "stylesheet" not in match.group(0).lower():
                return match.group(0)
            return f"<style>/* {rel} */\n{_inline_css(rel, embed_fonts)}\n</style>"
        out = f"<script>/* {rel} */\n{_inline_js(rel)}\n</script>"
        if rel == _LEAFLET_JS:
            icons = ",".join(
                f'{key}:"{_data_uri(_vendored_file(path))}"' for key, path in _LEAFLET_ICONS.items()
            )
            out += f'\n<script>L.Icon.Default.imagePath="";L.Icon.Default.mergeOptions({{{icons}}});</script>'
        return out

    # One pass, so that inlined code is never scanned again.
    return _ASSET_TAG.sub(inline, html)
