"""A layer's GeoJSON is serialised once per map, and the map is byte for byte what folium makes."""

from __future__ import annotations

import json
from typing import Any

import folium
import pytest

import maps  # noqa: F401 - installs maps.styled's dumps function on folium's templates
import ui_map
from maps import styled
from maps.layers import add_title, base_map, finish
from maps.styled import DumpedOnce, StyledGeoJson

HOSTILE = ["</script><script>alert(1)</script>", "O'Brien & <b>", "{{ 7*7 }}", "网格 \u2028 line"]


def _map() -> folium.Map:
    m = base_map((118.1, 24.5, 118.2, 24.52), basemap="none")
    feats = [{"type": "Feature", "properties": {"name": name, "n": i},
              "geometry": {"type": "Polygon", "coordinates": [[[118.1 + i / 100, 24.5], [118.11 + i / 100, 24.5],
                                                               [118.11 + i / 100, 24.51], [118.1 + i / 100, 24.5]]]}}
             for i, name in enumerate(HOSTILE)]
    StyledGeoJson({"type": "FeatureCollection", "features": feats},
                  style_function=lambda f: {"color": "#333333", "fillColor": ["#ff0000", "#00ff00"][f["properties"]["n"] % 2]},
                  tooltip=folium.GeoJsonTooltip(fields=["name"])).add_to(m)
    StyledGeoJson({"type": "FeatureCollection", "features": feats[:1]}, style_function=lambda f: {"weight": 2}).add_to(m)
    add_title(m, "标题")
    return finish(m)


def _payload_without_dumped_once(monkeypatch: pytest.MonkeyPatch) -> ui_map.MapPayload:
    """The same map with folium's own serialisation: plain dicts, no dumps function installed."""
    env = folium.GeoJson._template.environment
    with monkeypatch.context() as mp:
        mp.setitem(env.policies, "json.dumps_function", None)
        mp.setattr(styled, "DumpedOnce", dict)
        return ui_map.map_payload(_map())


def _same_but_ids(a: ui_map.MapPayload, b: ui_map.MapPayload) -> None:
    # Element ids are random per map; st_folium renames the map's own, the rest are compared by shape.
    import re
    ids = re.compile(r"\b([a-z_]+)_[0-9a-f]{32}\b")
    for field in ("script", "header", "html"):
        assert ids.sub(r"\1_ID", getattr(a, field)) == ids.sub(r"\1_ID", getattr(b, field)), field


def test_the_map_is_byte_for_byte_what_folium_serialises(monkeypatch: pytest.MonkeyPatch) -> None:
    got = ui_map.map_payload(_map())
    _same_but_ids(got, _payload_without_dumped_once(monkeypatch))
    # Hostile text stays data: escaped for a <script> exactly as Jinja2's tojson escapes it.
    assert "</script><script>" not in got.script and "\\u003c/script\\u003e" in got.script
    assert "O\\u0027Brien \\u0026" in got.script and "{{ 7*7 }}" in got.script


def test_each_layer_is_serialised_once_however_often_it_is_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    dumped: list[int] = []
    real = json.dumps

    def counting(obj: Any, **kwargs: Any) -> str:
        if isinstance(obj, DumpedOnce):
            dumped.append(id(obj))
        return real(obj, **kwargs)

    monkeypatch.setattr(styled.json, "dumps", counting)
    m = _map()
    layers = [el for el in m._children.values() if isinstance(el, StyledGeoJson)]
    assert len(layers) == 2 and all(isinstance(layer.data, DumpedOnce) for layer in layers)
    ui_map.map_payload(m)  # renders every layer three times (figure, map, component script)
    assert sorted(dumped) == sorted(id(layer.data) for layer in layers)


def test_other_values_are_dumped_as_json_dumps_does() -> None:
    value = {"b": [1, 2.5, None], "a": "<&'>"}
    assert styled._dumps(value, sort_keys=True) == json.dumps(value, sort_keys=True)
    d = DumpedOnce(value)
    assert d.dumped(sort_keys=True) == json.dumps(value, sort_keys=True) == styled._dumps(d, sort_keys=True)
    assert d.dumped(indent=2) == json.dumps(value, indent=2)  # each set of arguments its own text


def test_a_foreign_dumps_function_is_not_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    env = folium.GeoJson._template.environment
    monkeypatch.setitem(env.policies, "json.dumps_function", lambda obj, **kw: "{}")
    with pytest.raises(RuntimeError, match="already has a json.dumps_function"):
        styled.install()
    monkeypatch.setitem(env.policies, "json.dumps_function", None)
    styled.install()
    styled.install()  # idempotent
    assert env.policies["json.dumps_function"] is styled._dumps
