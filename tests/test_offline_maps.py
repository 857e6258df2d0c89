"""Offline folium maps: no CDN URL reaches the browser (maps/offline.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import branca.colormap
import folium
import folium.plugins
import pytest
from folium.elements import JSCSSMixin

from maps.offline import (
    CDN_FILES,
    VENDOR_URL,
    external_urls,
    localize,
    missing_files,
    standalone_html,
    vendor_root,
)

STATIC_ROOT = Path(__file__).resolve().parent.parent / "static"
LOCAL_REF = re.compile(r"""\b(?:src|href)\s*=\s*["'](/app/static/[^"']+)["']""")


def full_map() -> folium.Map:
    """A map using every folium feature WarmGrid's layers rely on."""
    m = folium.Map(tiles=None, location=[24.48, 118.08], zoom_start=13)
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "网格 1"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[118.07, 24.47], [118.09, 24.47], [118.09, 24.49], [118.07, 24.47]]
                    ],
                },
            }
        ],
    }
    cells = folium.FeatureGroup(name="cells").add_to(m)
    folium.GeoJson(geojson, name="grid", tooltip=folium.GeoJsonTooltip(["name"])).add_to(cells)
    folium.CircleMarker([24.48, 118.08], radius=5, popup="household").add_to(m)
    folium.Circle([24.48, 118.08], radius=500, tooltip="service radius").add_to(m)
    cluster = folium.plugins.MarkerCluster(name="households").add_to(m)
    folium.Marker([24.481, 118.081]).add_to(cluster)
    folium.plugins.FastMarkerCluster([[24.482, 118.082], [24.483, 118.083]]).add_to(m)
    folium.plugins.HeatMap([[24.48, 118.08, 1.0], [24.49, 118.09, 0.5]]).add_to(m)
    folium.Marker([24.485, 118.085], icon=folium.Icon(color="red", icon="info-sign")).add_to(m)
    folium.Marker(
        [24.486, 118.086], icon=folium.Icon(icon="house", prefix="fa", angle=45)
    ).add_to(m)
    folium.LayerControl().add_to(m)
    return m


def _walk(elem: Any) -> Iterator[Any]:
    yield elem
    for child in getattr(elem, "_children", {}).values():
        yield from _walk(child)


def _links(m: folium.Map) -> list[tuple[int, str, list[tuple[str, str]]]]:
    return [
        (id(e), attr, list(getattr(e, attr)))
        for e in _walk(m)
        for attr in ("default_js", "default_css")
        if getattr(e, attr, None)
    ]


def streamlit_folium_links(m: folium.Map) -> tuple[list[str], list[str]]:
    """The css_links/js_links st_folium (0.27.4) sends to its component iframe."""

    def walk(fig: Any) -> Iterator[Any]:
        if isinstance(fig, branca.colormap.ColorMap):
            yield fig
        if isinstance(fig, folium.plugins.DualMap):
            yield from walk(fig.m1)
            yield from walk(fig.m2)
        if isinstance(fig, JSCSSMixin):
            yield fig
        for child in getattr(fig, "_children", {}).values():
            yield from walk(child)

    css: list[str] = []
    js: list[str] = []
    for elem in walk(m):
        if isinstance(elem, branca.colormap.ColorMap):
            js.insert(0, "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js")
            js.insert(0, "https://d3js.org/d3.v4.min.js")
        css.extend(href for _, href in getattr(elem, "default_css", []))
        js.extend(src for _, src in getattr(elem, "default_js", []))
    return list(dict.fromkeys(css)), list(dict.fromkeys(js))


def _static_file(url: str) -> Path:
    assert url.startswith("/app/static/"), url
    return STATIC_ROOT / url.removeprefix("/app/static/")


def test_vendored_files_complete() -> None:
    assert vendor_root() == STATIC_ROOT / "vendor"
    assert missing_files() == []
    for rel in set(CDN_FILES.values()):
        assert (vendor_root() / rel).stat().st_size > 0, rel


def test_every_folium_cdn_url_is_vendored() -> None:
    # Fails when a folium upgrade changes its CDN URLs: re-run the vendoring.
    for cls in (
        folium.Map,
        folium.plugins.MarkerCluster,
        folium.plugins.FastMarkerCluster,
        folium.plugins.HeatMap,
    ):
        for _, url in [*cls.default_js, *cls.default_css]:
            assert url in CDN_FILES, (cls.__name__, url)


def test_unlocalized_map_uses_cdns() -> None:
    # Guard for the tests below: the checks do see CDN URLs when present.
    html = full_map().get_root().render()
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in external_urls(html)


def test_rendered_html_has_no_external_urls() -> None:
    html = localize(full_map()).get_root().render()
    assert external_urls(html) == []
    assert external_urls(html, include_anchors=True) == []


def test_rendered_local_references_exist() -> None:
    html = localize(full_map()).get_root().render()
    refs = set(LOCAL_REF.findall(html))
    expected = {f"{VENDOR_URL}/{rel}" for rel in CDN_FILES.values()}
    assert refs == expected  # the test map uses every vendored asset
    for url in refs:
        assert _static_file(url).is_file(), url


def test_streamlit_folium_links_are_local() -> None:
    m = localize(full_map())
    m.get_root().render()  # st_folium renders before walking
    css, js = streamlit_folium_links(m)
    assert css and js
    for url in [*css, *js]:
        assert url.startswith(VENDOR_URL + "/"), url
        assert _static_file(url).is_file(), url
    # Leaflet must come first: every other script needs it.
    assert js[0] == f"{VENDOR_URL}/leaflet/leaflet.js"


def test_st_folium_sends_local_links() -> None:
    """The real st_folium, run headless by streamlit's AppTest (no server)."""
    pytest.importorskip("streamlit_folium")
    from streamlit.testing.v1 import AppTest

    def app() -> None:
        import folium
        import folium.plugins
        from streamlit_folium import st_folium

        from maps.offline import localize

        m = folium.Map(tiles=None, location=[24.48, 118.08], zoom_start=13)
        folium.Marker([24.48, 118.08], icon=folium.Icon(icon="info-sign")).add_to(m)
        folium.plugins.HeatMap([[24.48, 118.08, 1.0]]).add_to(m)
        folium.plugins.MarkerCluster().add_to(m)
        st_folium(localize(m), height=300, key="map")

    at = AppTest.from_function(app, default_timeout=30).run()
    assert not at.exception

    def nodes(node: Any) -> Iterator[Any]:
        yield node
        for child in getattr(node, "children", {}).values():
            yield from nodes(child)

    args = [
        json.loads(n.proto.json_args)
        for n in nodes(at._tree)
        if getattr(getattr(n, "proto", None), "component_name", "").endswith("st_folium")
    ]
    assert len(args) == 1
    links = args[0]["js_links"] + args[0]["css_links"]
    assert f"{VENDOR_URL}/leaflet/leaflet.js" in links
    assert f"{VENDOR_URL}/leaflet-heat/leaflet_heat.min.js" in links
    for url in links:
        assert url.startswith(VENDOR_URL + "/"), url
        assert _static_file(url).is_file(), url


def test_standalone_html_is_self_contained() -> None:
    html = standalone_html(full_map())
    assert external_urls(html) == []
    assert "Leaflet 1.9.3" in html  # leaflet.js banner: the code itself is inlined
    assert "L.markerClusterGroup" in html or "MarkerClusterGroup" in html
    assert VENDOR_URL not in html
    assert not re.search(r"<link\b[^>]*\bhref\s*=", html)
    assert "sourceMappingURL" not in html
    assert "data:font/woff2;base64," in html
    assert "data:image/png;base64," in html
    # Leaflet's default marker icon cannot be found from leaflet.css's URL.
    assert 'L.Icon.Default.imagePath=""' in html


def test_standalone_html_without_fonts() -> None:
    with_fonts = standalone_html(full_map())
    html = standalone_html(full_map(), embed_fonts=False)
    assert external_urls(html) == []
    assert "data:font/" not in html
    assert len(html) < len(with_fonts)


def test_unknown_cdn_plugin_raises_and_leaves_map_untouched() -> None:
    url = "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.js"

    class NotVendored(JSCSSMixin):
        default_js: ClassVar[list[tuple[str, str]]] = [("fullscreen", url)]

    m = full_map()
    NotVendored().add_to(m)
    before = _links(m)
    with pytest.raises(ValueError, match=re.escape(url)):
        localize(m)
    assert _links(m) == before


def test_folium_plugin_without_vendored_copy_raises() -> None:
    m = full_map()
    folium.plugins.Fullscreen().add_to(m)
    with pytest.raises(ValueError, match="external CDN"):
        localize(m)


def test_colormap_raises() -> None:
    m = full_map()
    branca.colormap.LinearColormap(["white", "red"], vmin=0, vmax=1).add_to(m)
    with pytest.raises(ValueError, match=r"d3js\.org"):
        localize(m)


def test_localize_twice_equals_once() -> None:
    once = localize(full_map())
    twice = localize(localize(full_map()))
    assert [links for _, _, links in _links(once)] == [links for _, _, links in _links(twice)]

    def normalized(m: folium.Map) -> str:  # element ids are random per map
        return re.sub(r"[0-9a-f]{32}", "ID", m.get_root().render())

    assert normalized(once) == normalized(twice)


def test_localize_sets_instance_lists_only() -> None:
    m = localize(full_map(), base_url="/prefix/app/static/vendor/")
    assert m.default_js[0] == ("leaflet", "/prefix/app/static/vendor/leaflet/leaflet.js")
    assert "default_js" in vars(m)
    assert folium.Map.default_js[0][1].startswith("https://")
    assert folium.plugins.HeatMap.default_js[0][1].startswith("https://")
    assert external_urls(folium.Map(tiles=None).get_root().render())  # others unaffected


def test_localize_after_render_rewrites_header() -> None:
    m = full_map()
    m.get_root().render()
    header = m.get_root().header
    assert any(getattr(c, "url", "").startswith("https://") for c in header._children.values())
    localize(m)
    assert not any(
        getattr(c, "url", "").startswith("https://") for c in header._children.values()
    )
    assert external_urls(m.get_root().render()) == []


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<script src="https://a.org/x.js"></script>', ["https://a.org/x.js"]),
        ("<link rel='stylesheet' href='//b.org/y.css'/>", ["//b.org/y.css"]),
        ("<img src=http://c.org/z.png>", ["http://c.org/z.png"]),
        ('<style>p{background:url("https://d.org/i.png")}</style>', ["https://d.org/i.png"]),
        ("<style>@import 'https://e.org/f.css';</style>", ["https://e.org/f.css"]),
        ('<script>s.src = "https://g.org/h.js";</script>', ["https://g.org/h.js"]),
        ('<script src="/app/static/vendor/leaflet/leaflet.js"></script>', []),
        ("<style>p{background:url(data:image/svg+xml,%3csvg xmlns='http://www.w3.org/2000/svg'/%3e)}</style>", []),
        ('<a href="https://leafletjs.com">Leaflet</a>', []),
        ('<p>see https://example.org</p>', []),
    ],
)
def test_external_urls(html: str, expected: list[str]) -> None:
    assert external_urls(html) == expected


def test_external_urls_anchors_and_duplicates() -> None:
    html = '<a href="https://x.org">x</a><img src="https://y.org/1.png"><img src="https://y.org/1.png">'
    assert external_urls(html) == ["https://y.org/1.png"]
    assert external_urls(html, include_anchors=True) == ["https://x.org", "https://y.org/1.png"]


def test_maps_load_leaflet_and_nothing_else() -> None:
    from maps.layers import base_map

    html = base_map([118.0, 24.4, 118.2, 24.6]).get_root().render()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert [s.rsplit("/", 1)[-1] for s in scripts] == ["leaflet.js"]
    assert [s.rsplit("/", 1)[-1] for s in sheets] == ["leaflet.css"]
