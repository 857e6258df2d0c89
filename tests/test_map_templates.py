"""Rendered map text is kept as text (maps/rendered.py): what Jinja2 would have made of it when it
held no tag, and never evaluated when it does. The hostile names through every map are in
tests/test_map_escaping.py; this holds the mechanism to Jinja2 itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import branca.element
import folium
import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import maps  # noqa: F401 - installs maps.rendered
from maps import rendered

TAGS = ("{{", "{%", "{#")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab{}%#\r\n \t<>'\"\\中")), max_size=40))
def test_text_without_a_tag_renders_as_jinja2_renders_it(text: str) -> None:
    if any(t in text for t in TAGS):
        return  # not a template without tags: Jinja2 would evaluate or refuse it
    assert rendered.Rendered(text).render(this=None, kwargs={}) == jinja2.Template(text).render()


def _map(name: str) -> folium.Map:
    m = folium.Map(location=(24.45, 118.08), zoom_start=13, tiles=None)
    folium.GeoJson({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [[[118.08, 24.45], [118.09, 24.45], [118.09, 24.46],
                                                          [118.08, 24.45]]]}}]},
                   tooltip=folium.GeoJsonTooltip(["name"])).add_to(m)
    folium.Marker((24.45, 118.08), tooltip=name, popup=folium.Popup(name)).add_to(m)
    folium.Circle((24.45, 118.08), radius=300, tooltip=name).add_to(m)
    return m


def _normalised(html: str) -> str:
    return re.sub(r"[0-9a-f]{32}", "ID", html)


@contextmanager
def unpatched() -> Iterator[None]:
    """branca as it ships, inside the block."""
    branca.element.Element.__init__ = rendered._ORIGINAL_INIT  # type: ignore[method-assign]
    try:
        yield
    finally:
        rendered.install()


def test_a_map_without_tags_is_byte_for_byte_what_branca_made() -> None:
    name = "厦门市思明区\n\"引号\" <b>粗</b> {单} 100%"
    with unpatched():
        shipped = _map(name).get_root().render()
    assert _normalised(_map(name).get_root().render()) == _normalised(shipped)


def test_a_name_with_tags_is_shown_as_written() -> None:
    html = _map("X{{ 7*7 }}Y {% if true %}WG{% endif %}-IF").get_root().render()
    assert "X{{ 7*7 }}Y" in html and "{% if true %}WG{% endif %}-IF" in html
    assert "X49Y" not in html and "WG-IF" not in html


def test_branca_shipped_evaluates_a_name_so_the_fix_is_needed() -> None:
    with unpatched():
        assert "X49Y" in _map("X{{ 7*7 }}Y").get_root().render()
        with pytest.raises(jinja2.TemplateSyntaxError):
            _map("括号{{未闭合").get_root().render()


def test_the_template_branca_passes_as_text_is_still_one() -> None:
    fig = branca.element.Figure()
    div = branca.element.Div()
    div.html.add_child(branca.element.Element("<p>孩子</p>"))
    fig.add_child(div)
    assert "<p>孩子</p>" in fig.render()
    assert rendered.TEMPLATES == {div.html._template_str}
