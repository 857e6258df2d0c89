"""A GeoJSON layer that carries each feature's style with the feature.

folium's :class:`folium.GeoJson` turns a ``style_function`` into a JavaScript ``switch`` over
every feature's id: it calls the function for each feature, serialises each style to find the
distinct ones, and writes one ``case "id":`` per feature, each through Jinja2's ``tojson``
(about 40,000 calls for the overview at 1,000,000 households: half a second per render, and the
page's script grows by the case lists). :class:`StyledGeoJson` calls the function once per
feature too, but keeps the style in the feature (``properties._style``: only what differs between features, serialised with the
data in one pass) and its styler adds it to what all share, written once. Leaflet draws the same thing.

Examples
--------
>>> fc = {"type": "FeatureCollection", "features": [
...     {"type": "Feature", "properties": {"fill": "#ff0000"}, "geometry": {"type": "Point", "coordinates": [1, 2]}},
...     {"type": "Feature", "properties": {"fill": "#00ff00"}, "geometry": {"type": "Point", "coordinates": [3, 4]}}]}
>>> layer = StyledGeoJson(fc, style_function=lambda f: {"fillColor": f["properties"]["fill"]})
>>> [f["properties"]["_style"] for f in layer.data["features"]]
[{'fillColor': '#ff0000'}, {'fillColor': '#00ff00'}]
>>> layer._styler  # the styler's expression: what all share, then the feature's own
'Object.assign({}, feature.properties._style)'
>>> fc["features"][0]["properties"]  # the caller's features are left as they were
{'fill': '#ff0000'}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import folium
from folium.map import Layer
from folium.utilities import get_obj_in_upper_tree
from jinja2.utils import htmlsafe_json_dumps

__all__ = ["DumpedOnce", "StyledGeoJson", "STYLE_KEY", "install"]

#: The property that holds a feature's own style (a name no layer uses for its data).
STYLE_KEY = "_style"


def _js(value: Any) -> str:
    """``value`` as a JavaScript literal that is safe inside a ``<script>`` (Jinja2's ``tojson``)."""
    return str(htmlsafe_json_dumps(value))


def _per_feature(features: list[dict[str, Any]], fn: Callable[[dict[str, Any]], dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], str]:
    """The features with what varies of each one's style under :data:`STYLE_KEY` (new feature dicts, or
    the same ones when nothing varies), and the styler's JavaScript expression.

    >>> feats = [{"properties": {"f": c}} for c in ("#111111", "#222222")]
    >>> out, js = _per_feature(feats, lambda f: {"color": "#636363", "fillColor": f["properties"]["f"]})
    >>> [f["properties"][STYLE_KEY] for f in out], js
    ([{'fillColor': '#111111'}, {'fillColor': '#222222'}], 'Object.assign({"color": "#636363"}, feature.properties._style)')
    >>> _per_feature(feats, lambda f: {"weight": 2})[1]
    '{"weight": 2}'
    """
    styles = [fn(f) for f in features]
    keys = list(dict.fromkeys(k for st in styles for k in st))
    missing = object()
    varying = [k for k in keys if any(st.get(k, missing) != styles[0].get(k, missing) for st in styles)]
    shared = _js({k: styles[0][k] for k in keys if k not in varying})
    if not varying:
        return features, shared
    out = [{**f, "properties": {**(f.get("properties") or {}), STYLE_KEY: {k: st[k] for k in varying if k in st}}}
           for f, st in zip(features, styles, strict=True)]
    return out, f"Object.assign({shared}, feature.properties.{STYLE_KEY})"


class DumpedOnce(dict):  # type: ignore[type-arg]
    """A layer's GeoJSON that is serialised once, however often its template is rendered, and
    that reaches the browser as a string for ``JSON.parse``.

    st_folium's preparation renders every layer's script three times (the figure, the map, then
    each element for the component); for the overview at 1,000,000 households that was three
    ``json.dumps`` of 2.7 MB (about 0.1 s of every map). folium's templates dump ``this.data``
    with Jinja2's ``tojson``, which calls the environment's ``json.dumps_function``: :func:`_dumps`
    (installed on folium's template environment) returns this dict's :meth:`js_expression`, made
    the first time it is asked for. Treat the dict as frozen once a map holding it has been rendered.

    The expression is ``JSON.parse(`...`)``: V8 parses large JSON text faster than the same value
    written as JavaScript (the overview's 2.9 MB script at 1,000,000 households compiled in 23 ms
    instead of 84 ms in Chromium; most of its 320 ms of evaluation is Leaflet making the layers). The JSON keeps Chinese text as it is (3 bytes, not ``\\uXXXX``'s 6);
    inside the template literal every ``\\``, `````` ` `````` and ``$`` is escaped, and ``tojson``
    then escapes ``<``, ``>``, ``&`` and ``'`` as ``\\u003c``... as it does for any value, so no
    text of a feature can end the script or the literal.

    >>> d = DumpedOnce({"name": "网格`${x}`</script>"})
    >>> d.js_expression()
    'JSON.parse(`{"name": "网格\\\\`\\\\${x}\\\\`</script>"}`)'
    """

    __slots__ = ("_text",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._text: dict[str, str] = {}

    def js_expression(self, **kwargs: Any) -> str:
        """A JavaScript expression whose value equals this dict: ``JSON.parse`` of a template literal
        (``json.dumps(self, **kwargs)`` with Chinese text kept), made once per set of arguments."""
        key = "js:" + json.dumps(kwargs, sort_keys=True, default=repr)
        got = self._text.get(key)
        if got is None:
            text = json.dumps(self, **{**kwargs, "ensure_ascii": False})
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate cannot travel as UTF-8: escape everything
                text = json.dumps(self, **{**kwargs, "ensure_ascii": True})
            text = text.replace("\\", "\\\\").replace("`", "\\`").replace("$", "\\$")
            got = self._text[key] = f"JSON.parse(`{text}`)"
        return got


def _dumps(obj: Any, **kwargs: Any) -> str:
    """Jinja2's ``json.dumps_function`` for folium's templates: ``json.dumps``, and for a
    :class:`DumpedOnce` its :meth:`~DumpedOnce.js_expression`, made once."""
    if isinstance(obj, DumpedOnce):
        return obj.js_expression(**kwargs)
    return json.dumps(obj, **kwargs)


def install() -> None:
    """Make folium's templates serialise a :class:`DumpedOnce` once (idempotent; nothing else changes)."""
    env = folium.GeoJson._template.environment
    current = env.policies.get("json.dumps_function")
    if current not in (None, _dumps):
        raise RuntimeError(f"folium's template environment already has a json.dumps_function: {current!r}")
    env.policies["json.dumps_function"] = _dumps


class StyledGeoJson(folium.GeoJson):
    """:class:`folium.GeoJson` with the same arguments, whose features carry their own style.

    ``style_function`` (and a ``highlight_function`` that is the same for every feature) are
    called once per feature when the layer is made. The data is copied, never changed.
    """

    def __init__(self, data: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        self._styler = f"feature.properties.{STYLE_KEY}"
        self._shared_highlight: str | None = None
        feats = self.data.get("features") if isinstance(self.data, dict) else None
        if not feats:
            return
        if self.style:
            feats, self._styler = _per_feature(feats, self.style_function)
            self.data = {**self.data, "features": feats}
        if self.highlight:
            first = self.highlight_function(feats[0])
            if any(self.highlight_function(f) != first for f in feats):
                raise ValueError("StyledGeoJson takes a highlight_function that is the same for every feature")
            self._shared_highlight = _js(first)
        self.data = DumpedOnce(self.data)  # serialised once for every render (see DumpedOnce)

    def find_identifier(self) -> str:
        """No feature id is needed: the styler reads the feature's own style (folium's switch then has
        only its default branch)."""
        return "0"

    def render(self, **kwargs: Any) -> Any:
        """Render as :meth:`folium.GeoJson.render` does, the styles taken from the features."""
        self.parent_map = get_obj_in_upper_tree(self, folium.Map)  # type: ignore[assignment]
        if self.style:
            self.style_map = {"default": self._styler}
        if self.highlight:
            self.highlight_map = {"default": self._shared_highlight or "{}"}
        return Layer.render(self, **kwargs)
