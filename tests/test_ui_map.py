"""The overview's map is rendered once per input: what st_folium's component receives is the same
whether the map goes through ``st_folium`` or through a cached :class:`ui_map.MapPayload`."""

from __future__ import annotations

import random
from typing import Any

import branca.element
import folium
import pytest
import streamlit_folium

import ui_map
from maps.layers import add_legend, add_title, base_map, finish


def _a_map() -> folium.Map:
    m = base_map((120.0, 30.0, 120.1, 30.1))
    folium.GeoJson({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "网格 <b>1</b>"},
         "geometry": {"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.05, 30.0], [120.05, 30.05],
                                                          [120.0, 30.0]]]}}]},
        tooltip=folium.GeoJsonTooltip(fields=["name"])).add_to(m)
    folium.CircleMarker((30.02, 120.02), radius=4, popup="站点").add_to(m)
    add_title(m, "覆盖总览")
    add_legend(m, [("站点", [("#1f78b4", "dot", "党群服务站")])])
    return finish(m)


def _capture(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_component(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return kwargs["default"]

    monkeypatch.setattr(streamlit_folium, "_component_func", fake_component)
    return calls


def _seeded_map(monkeypatch: pytest.MonkeyPatch) -> folium.Map:
    """:func:`_a_map` with the same element ids every time (branca draws them from os.urandom)."""
    rng = random.Random(7)
    monkeypatch.setattr(branca.element, "urandom", lambda n: rng.randbytes(n))
    return _a_map()


@pytest.mark.parametrize("returned", [(), ("last_object_clicked",), ("bounds", "zoom", "last_clicked")])
def test_the_component_receives_what_st_folium_would_send(monkeypatch: pytest.MonkeyPatch,
                                                          returned: tuple[str, ...]) -> None:
    calls = _capture(monkeypatch)
    m = _seeded_map(monkeypatch)
    twin = _seeded_map(monkeypatch)  # the same elements with the same ids (rendering rewrites them)
    assert m.get_name() == twin.get_name()
    streamlit_folium.st_folium(m, height=620, use_container_width=True, returned_objects=list(returned),
                               key="overview_map")
    ui_map.draw_map(ui_map.map_payload(twin, with_bounds="bounds" in returned), height=620, key="overview_map",
                    returned_objects=returned)
    assert len(calls) == 2
    direct, cached = calls
    assert set(direct) == set(cached)
    for name in direct:
        if name == "on_change":
            continue  # a closure either way
        assert cached[name] == direct[name], name
    assert "L.map" in cached["script"] and "覆盖总览" in cached["html"] + cached["script"]
    assert cached["js_links"] == ["/app/static/vendor/leaflet/leaflet.js"]  # offline: served by the app


def test_bounds_are_returned_only_from_a_payload_that_computed_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The data's bounds cost a walk over every coordinate in Python: a payload computes them only
    when asked, and drawing one without them while asking for bounds is an error, not a wrong answer."""
    calls = _capture(monkeypatch)
    plain = ui_map.map_payload(_a_map())
    assert dict(plain.defaults)["bounds"] is None
    with pytest.raises(ValueError, match="with_bounds"):
        ui_map.draw_map(plain, height=300, returned_objects=("bounds",))
    ui_map.draw_map(plain, height=300, returned_objects=("last_clicked",))
    assert calls[-1]["default"] == {"last_clicked": None}
    bounds = dict(ui_map.map_payload(_a_map(), with_bounds=True).defaults)["bounds"]
    assert bounds == {"_southWest": {"lat": 30.0, "lng": 120.0}, "_northEast": {"lat": 30.05, "lng": 120.05}}


def test_the_widget_key_depends_on_the_page_key_and_the_script() -> None:
    p = ui_map.map_payload(_a_map())
    assert p.widget_key("a") == streamlit_folium.generate_js_hash(p.script, "a", False)
    assert p.widget_key("a") != p.widget_key("b")
    q = ui_map.map_payload(finish(base_map((121.0, 31.0, 121.1, 31.1))))
    assert q.widget_key("a") != p.widget_key("a")


def test_a_payload_is_built_once_per_key_and_the_oldest_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui_map, "_CACHE", type(ui_map._CACHE)())
    monkeypatch.setattr(ui_map, "CACHE_SIZE", 2)
    built: list[str] = []

    def build(name: str):
        def make() -> folium.Map:
            built.append(name)
            return _a_map()
        return make

    first = ui_map.cached_payload(("k", 1), build("1"))
    assert ui_map.cached_payload(("k", 1), build("1 again")) is first
    ui_map.cached_payload(("k", 2), build("2"))
    ui_map.cached_payload(("k", 1), build("1 third"))  # used: now the newest
    ui_map.cached_payload(("k", 3), build("3"))  # ("k", 2) is the oldest and goes
    assert built == ["1", "2", "3"]
    assert list(ui_map._CACHE) == [("k", 1), ("k", 3)]
    ui_map.cached_payload(("k", 2), build("2 again"))
    assert built[-1] == "2 again"


def _race(key: tuple[str, int], first: Any, built: list[str]) -> tuple[dict[str, Any], bool]:
    """``first`` builds ``key`` in one thread (it blocks until released); meanwhile a page asks for the
    same key in another. What each got (``first``: the payload or the exception), and whether the page
    was still waiting while the first build ran."""
    import threading

    started, release = threading.Event(), threading.Event()

    def gated() -> folium.Map:
        built.append("background")
        started.set()
        assert release.wait(30)
        return first()

    got: dict[str, Any] = {}

    def background() -> None:
        try:
            got["first"] = ui_map.cached_payload(key, gated)
        except RuntimeError as exc:
            got["first"] = exc

    bg = threading.Thread(target=background)
    bg.start()
    assert started.wait(30)
    page = threading.Thread(target=lambda: got.update(page=ui_map.cached_payload(
        key, lambda: built.append("page") or _a_map())))
    page.start()
    page.join(0.3)
    waited = page.is_alive()
    release.set()
    bg.join(30)
    page.join(30)
    return got, waited


def test_a_map_being_built_is_waited_for_not_built_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page asks for the district's first map while the background is still making it: it waits
    for that map (one build, the same payload) instead of making it a second time beside it; when
    the first build fails, the one waiting builds it itself."""
    monkeypatch.setattr(ui_map, "_CACHE", type(ui_map._CACHE)())
    built: list[str] = []
    got, waited = _race(("first", 1), _a_map, built)
    assert waited, "the page did not wait for the map being built"
    assert built == ["background"] and got["page"] is got["first"]
    assert not ui_map._BUILDING

    def broken() -> folium.Map:
        raise RuntimeError("the build failed")

    built.clear()
    got, waited = _race(("second", 1), broken, built)
    assert waited and isinstance(got["first"], RuntimeError)
    assert built == ["background", "page"] and got["page"] is ui_map._CACHE[("second", 1)]
    assert not ui_map._BUILDING


def test_colormaps_are_refused_as_they_load_d3_from_the_internet() -> None:
    import branca.colormap

    m = _a_map()
    branca.colormap.LinearColormap(["#ffffff", "#000000"], vmin=0, vmax=1).add_to(m)
    with pytest.raises(ValueError, match="d3"):
        ui_map.map_payload(m)
