"""A layer's GeoJSON is serialised once per map, and the map is byte for byte what folium makes."""

from __future__ import annotations

import json
import re
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


_ADD = re.compile(r"^(\s*geo_json_\w+_add)\((.+)\);$", re.MULTILINE)


def _js_template_text(body: str) -> str:
    """The value of a JavaScript template literal's text (the escapes a layer's data can hold)."""
    def unescape(m: re.Match[str]) -> str:
        esc = m.group(1)
        return chr(int(esc[1:], 16)) if esc.startswith("u") else esc
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", unescape, body)


def _layer_data(script: str) -> tuple[str, list[Any]]:
    """The script with each layer's data replaced by ``DATA``, and the data (as Python values): a
    ``JSON.parse(`...`)`` argument decoded as the browser decodes it, or a JSON literal."""
    values: list[Any] = []

    def take(m: re.Match[str]) -> str:
        arg = m.group(2)
        if arg.startswith("JSON.parse(`") and arg.endswith("`)"):
            values.append(json.loads(_js_template_text(arg[len("JSON.parse(`"):-2])))
        else:
            values.append(json.loads(arg))  # folium's literal: JSON with <, >, & and ' escaped
        return m.group(1) + "(DATA);"

    return _ADD.sub(take, script), values


def _same_but_ids(a: ui_map.MapPayload, b: ui_map.MapPayload) -> None:
    # Element ids are random per map; st_folium renames the map's own, the rest are compared by shape.
    ids = re.compile(r"\b([a-z_]+)_[0-9a-f]{32}\b")
    for field in ("script", "header", "html"):
        mine, theirs = getattr(a, field), getattr(b, field)
        if field == "script":
            (mine, mine_data), (theirs, their_data) = _layer_data(mine), _layer_data(theirs)
            assert len(mine_data) == 2 and mine_data == their_data
        assert ids.sub(r"\1_ID", mine) == ids.sub(r"\1_ID", theirs), field


def test_the_map_is_what_folium_serialises_its_data_parsed_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same script as folium's but for each layer's data, which is ``JSON.parse`` of text whose value
    equals folium's literal (V8 parses large JSON text about twice as fast as a literal)."""
    got = ui_map.map_payload(_map())
    _same_but_ids(got, _payload_without_dumped_once(monkeypatch))
    assert got.script.count("_add(JSON.parse(`") == 2
    # Hostile text stays data: nothing ends the script or the literal; '<' and the quote are escaped
    # exactly as Jinja2's tojson escapes them, and a backtick or ${ cannot leave the template literal.
    assert "</script><script>" not in got.script and "\\u003c/script\\u003e" in got.script
    assert "O\\u0027Brien \\u0026" in got.script and "{{ 7*7 }}" in got.script
    for _, data in [_layer_data(got.script)]:
        names = [f["properties"]["name"] for f in data[0]["features"]]
        assert names == HOSTILE


def test_backticks_dollars_and_backslashes_stay_inside_the_literal() -> None:
    value = {"a": "`${alert(1)}`", "b": "C:\\path\\`", "c": "\u2028\u2029网格", "d": "\ud800"}
    text = DumpedOnce(value).js_expression()
    assert text.startswith("JSON.parse(`") and text.endswith("`)")
    body = text[len("JSON.parse(`"):-2]
    # Every backtick and $ in the body is escaped (preceded by an odd number of backslashes).
    for m in re.finditer(r"(\\*)([`$])", body):
        assert len(m.group(1)) % 2 == 1, body
    assert json.loads(_js_template_text(body)) == value


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
    assert json.loads(_js_template_text(d.js_expression(sort_keys=True)[len("JSON.parse(`"):-2])) == value
    assert styled._dumps(d, sort_keys=True) == d.js_expression(sort_keys=True)  # a layer's data: for JSON.parse
    assert d.js_expression(indent=2) != d.js_expression(sort_keys=True)  # each set of arguments its own text


def test_a_foreign_dumps_function_is_not_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    env = folium.GeoJson._template.environment
    monkeypatch.setitem(env.policies, "json.dumps_function", lambda obj, **kw: "{}")
    with pytest.raises(RuntimeError, match="already has a json.dumps_function"):
        styled.install()
    monkeypatch.setitem(env.policies, "json.dumps_function", None)
    styled.install()
    styled.install()  # idempotent
    assert env.policies["json.dumps_function"] is styled._dumps
