"""Maps in headless Chromium: a layer's data parsed from JSON text is the data, hostile text included;
a map fits its area whatever size its frame has when it is drawn.

A Streamlit tab slides open: the map's frame can be drawn at a fraction of its final width,
and a map fitted then shows several times the area once the frame is full width (the plan map
once did, in ``test_feedback_browser``). Until the user moves the map, every change of the
frame's size fits the area again; after they press on it, the map stays where they put it.
"""

from __future__ import annotations

from typing import Any

import pytest

from maps.layers import base_map, finish
from maps.offline import standalone_html
from maps.styled import StyledGeoJson
from tests.browsing import module_browser

#: A community-sized area (about 800 m x 900 m), lon/lat.
AREA = [118.0795, 32.0310, 118.0878, 32.0390]


def _bbox(page: Any, name: str) -> list[float]:
    return page.evaluate(f"() => {{ const b = window['{name}'].getBounds();"
                         " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }")


def _zoom(page: Any, name: str) -> float:
    return float(page.evaluate(f"() => window['{name}'].getZoom()"))


browser = pytest.fixture(scope="module", name="browser")(module_browser)


def _open(browser: Any, width: int, height: int) -> tuple[Any, Any, str]:
    m = base_map(AREA)
    html = standalone_html(m, embed_fonts=False)
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    page.set_content(html)
    page.wait_for_function(f"() => window['{m.get_name()}'] && window['{m.get_name()}'].getSize().x > 0")
    page.wait_for_timeout(200)
    return ctx, page, m.get_name()


def _wait_settled(page: Any, name: str) -> None:
    # A resize reaches the ResizeObserver after the next layout; give it two frames and a beat.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_timeout(300)


def test_a_map_drawn_narrow_fits_the_area_again_when_its_frame_grows(browser) -> None:
    ctx, page, name = _open(browser, 160, 160)
    try:
        narrow = _bbox(page, name)
        page.set_viewport_size({"width": 1400, "height": 900})
        _wait_settled(page, name)
        wide = _bbox(page, name)
        width = AREA[2] - AREA[0]
        assert wide[0] <= AREA[0] and wide[1] <= AREA[1] and wide[2] >= AREA[2] and wide[3] >= AREA[3]
        # Fitted at the new size: at most one zoom step (2x) plus the padding, not 1400/160 times.
        assert wide[2] - wide[0] < 3 * width, (narrow, wide)
        # ... and the narrow view had been fitted too (the test sees a real change of zoom).
        assert narrow[2] - narrow[0] < 3 * width * 1400 / 160
    finally:
        ctx.close()


def test_a_map_the_user_pressed_on_keeps_its_view_when_the_frame_changes(browser) -> None:
    ctx, page, name = _open(browser, 1400, 900)
    try:
        assert page.evaluate(f"() => window['{name}']._wgTouched") is False
        page.mouse.click(700, 450)
        assert page.evaluate(f"() => window['{name}']._wgTouched") is True
        page.evaluate(f"() => window['{name}'].setZoom(12, {{animate: false}})")
        before = _zoom(page, name)
        page.set_viewport_size({"width": 700, "height": 500})
        _wait_settled(page, name)
        assert _zoom(page, name) == before == 12
    finally:
        ctx.close()


HOSTILE = ["</script><script>alert(1)</script>", "O'Brien & <b>", "`${alert(2)}`", "C:\\网格\\", "行 \u2028 分"]


def test_a_layer_parsed_from_json_text_holds_every_feature_and_its_text(browser) -> None:
    m = base_map(AREA)
    feats = [{"type": "Feature", "properties": {"name": name, "n": i},
              "geometry": {"type": "Point", "coordinates": [AREA[0] + 0.001 * i, AREA[1] + 0.001]}}
             for i, name in enumerate(HOSTILE)]
    layer = StyledGeoJson({"type": "FeatureCollection", "features": feats},
                          style_function=lambda f: {"color": ["#ff0000", "#00ff00"][f["properties"]["n"] % 2]})
    layer.add_to(m)
    html = standalone_html(finish(m), embed_fonts=False)
    assert "JSON.parse(`" in html
    ctx = browser.new_context(viewport={"width": 800, "height": 600})
    page = ctx.new_page()
    alerts: list[str] = []
    page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    try:
        page.set_content(html)
        name = layer.get_name()
        page.wait_for_function(f"() => window['{name}'] && window['{name}'].getLayers().length > 0")
        got = page.evaluate(f"() => window['{name}'].getLayers().map(l => l.feature.properties)")
        assert [p["name"] for p in got] == HOSTILE and [p["n"] for p in got] == list(range(len(HOSTILE)))
        assert alerts == []
    finally:
        ctx.close()
