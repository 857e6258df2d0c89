"""A map fits its area whatever size its frame has when it is drawn (headless Chromium).

A Streamlit tab slides open: the map's frame can be drawn at a fraction of its final width,
and a map fitted then shows several times the area once the frame is full width (the plan map
once did, in ``test_feedback_browser``). Until the user moves the map, every change of the
frame's size fits the area again; after they press on it, the map stays where they put it.
"""

from __future__ import annotations

from typing import Any

import pytest

from maps.layers import base_map
from maps.offline import standalone_html
from tests.browsing import chromium, ensure_chromium

#: A community-sized area (about 800 m x 900 m), lon/lat.
AREA = [118.0795, 32.0310, 118.0878, 32.0390]


def _bbox(page: Any, name: str) -> list[float]:
    return page.evaluate(f"() => {{ const b = window['{name}'].getBounds();"
                         " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }")


def _zoom(page: Any, name: str) -> float:
    return float(page.evaluate(f"() => window['{name}'].getZoom()"))


@pytest.fixture(scope="module")
def browser() -> Any:
    problem = ensure_chromium()
    if problem:
        pytest.fail(problem)
    with chromium() as b:
        yield b


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
        page.mouse.click(700, 450)
        page.evaluate(f"() => window['{name}'].setZoom(12, {{animate: false}})")
        before = _zoom(page, name)
        page.set_viewport_size({"width": 700, "height": 500})
        _wait_settled(page, name)
        assert _zoom(page, name) == before == 12
    finally:
        ctx.close()
