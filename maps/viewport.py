"""Points drawn only where the map is looking: a street's tens of thousands of households as
dots once the view holds few enough of them.

A campaign over a street plans 26,721 households (``bench/app.py`` at 1,000,000 households):
as one GeoJSON layer, Leaflet spent about 0.9 s making their circle markers and tooltips on every
visit of the page, for dots that overlap at the street's zoom. :class:`ViewportPoints` keeps the
points as columns in the page and, whenever the map stops moving, draws those inside the view
padded by a tenth of its size on each side (so a short pan draws nothing new) if the view holds
at most ``limit``; otherwise none, and a note on the map says
how many are in view and to zoom in. A layer given as ``instead`` (say, counts per cell) is
shown while the points are not, so the map always shows something and never both.

The element is added to a :class:`folium.FeatureGroup`: the layer control switches it with
its group. Each drawn point is a ``L.circleMarker`` whose ``feature.properties`` holds the
point's ``props`` (text escaped, as in :func:`maps.layers.point_features`), its tooltip the
escaped ``tip``.

Examples
--------
>>> import folium
>>> fg = folium.FeatureGroup(name="走访点")
>>> pts = ViewportPoints([24.5, 24.6], [118.1, 118.2], tips=["<b>一</b>", "二"], fills=["#ff0000", "#00ff00"],
...                      props={"kind": "stop", "hh_id": ["H1", "H2"]}, limit=1000,
...                      note="走访点")
>>> _ = pts.add_to(fg)
>>> pts.data["tip"], pts.data["fill"], pts.data["colours"], pts.data["props"]
(['&lt;b&gt;一&lt;/b&gt;', '二'], [0, 1], ['#ff0000', '#00ff00'], {'kind': 'stop', 'hh_id': ['H1', 'H2']})
>>> len(pts)
2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
import numpy as np
from branca.element import MacroElement
from folium.template import Template
from folium.utilities import get_obj_in_upper_tree

from maps.styled import DumpedOnce

__all__ = ["ViewportPoints", "DEFAULT_LIMIT"]

#: The most points in view for them to be drawn (with the margin around the view, up to 1.44
#: times as many are made): on Leaflet's canvas 2,000 circle markers with tooltips take under a
#: tenth of a second to make; a street's 26,721 took 0.9 s.
DEFAULT_LIMIT = 2000

_TEMPLATE = Template("""
{% macro script(this, kwargs) %}
(function (map, group, d, style, limit, instead) {
  var layer = L.layerGroup().addTo(group);
  var note = L.control({position: 'bottomleft'});
  note.onAdd = function () {
    var el = L.DomUtil.create('div', 'wg-viewport-note');
    el.style.cssText = 'background:rgba(255,255,255,.9);padding:2px 6px;border:1px solid #999;'
      + 'border-radius:3px;font-size:12px;';
    return el;
  };
  var drawnIn = null, tips = d.tip, keys = Object.keys(d.props);
  function inside(b) {
    var s = b.getSouth(), n = b.getNorth(), w = b.getWest(), e = b.getEast(), out = [];
    for (var i = 0; i < d.lat.length; i++) {
      if (d.lat[i] >= s && d.lat[i] <= n && d.lon[i] >= w && d.lon[i] <= e) { out.push(i); }
    }
    return out;
  }
  function say(text) {
    if (!text) { note.remove(); return; }
    if (!note._map) { note.addTo(map); }
    note.getContainer().textContent = text;
  }
  function draw() {
    if (!map.hasLayer(group)) { say(''); return; }
    var view = map.getBounds();
    if (drawnIn && drawnIn.contains(view)) { return; }
    var seen = inside(view).length;
    layer.clearLayers(); drawnIn = null;
    if (seen > limit) {
      if (instead && !group.hasLayer(instead)) { group.addLayer(instead); }
      say({{ this.note|tojson }} + '：视野内 ' + seen.toLocaleString('en-US') + ' 个，放大后显示 · zoom in to show them');
      return;
    }
    var box = view.pad(0.1), pick = inside(box);
    if (instead && group.hasLayer(instead)) { group.removeLayer(instead); }
    say('');
    pick.forEach(function (i) {
      var props = {};
      keys.forEach(function (k) { var v = d.props[k]; props[k] = Array.isArray(v) ? v[i] : v; });
      var m = L.circleMarker([d.lat[i], d.lon[i]], Object.assign({}, style, {fillColor: d.colours[d.fill[i]]}));
      m.feature = {type: 'Feature', properties: props};
      if (tips) { m.bindTooltip(tips[i], {sticky: true}); }
      layer.addLayer(m);
    });
    drawnIn = box;
  }
  map.on('moveend', draw);
  group.on('add', function () { drawnIn = null; draw(); });
  group.on('remove', function () { say(''); });
  map.whenReady(draw);
})({{ this._map_name }}, {{ this._parent.get_name() }}, {{ this.data|tojson }}, {{ this.style|tojson }},
   {{ this.limit }}, {{ this._instead_name }});
{% endmacro %}
""")


class ViewportPoints(MacroElement):  # type: ignore[misc]
    """Circle markers at ``lat``/``lon``, drawn only while the view holds at most ``limit``.

    Parameters
    ----------
    lat, lon
        The points' coordinates (WGS84), rounded to ``ndigits``.
    tips
        One tooltip per point, escaped here (Leaflet shows tooltips as HTML); None for none.
    fills
        One fill colour per point (few distinct: they travel as indexes into a list).
    props
        Columns set as each drawn marker's ``feature.properties`` (text escaped); a string is the
        same value for every point (and travels once).
    limit
        The most points drawn at once (:data:`DEFAULT_LIMIT`).
    note
        What the points are, in the note shown while there are too many in view.
    instead
        A layer of the same group shown while the points are not (added to the group here).
    style
        Leaflet circle-marker options shared by every point.
    """

    _template = _TEMPLATE

    def __init__(self, lat: Sequence[float] | np.ndarray, lon: Sequence[float] | np.ndarray, *,
                 tips: Sequence[str] | None, fills: Sequence[str], props: dict[str, Sequence[Any]] | None = None,
                 limit: int = DEFAULT_LIMIT, note: str, instead: folium.map.Layer | None = None,
                 style: dict[str, Any] | None = None, ndigits: int = 6) -> None:
        from maps.layers import safe  # maps.layers imports nothing of this module

        super().__init__()
        self._name = "ViewportPoints"
        la = np.round(np.asarray(lat, dtype=float), ndigits)
        lo = np.round(np.asarray(lon, dtype=float), ndigits)
        n = len(la)
        if len(lo) != n or len(fills) != n or (tips is not None and len(tips) != n):
            raise ValueError("ViewportPoints needs one longitude, fill colour and tooltip per latitude")
        colours = list(dict.fromkeys(str(c) for c in fills))
        index = {c: k for k, c in enumerate(colours)}
        cols: dict[str, Any] = {k: safe(col) if isinstance(col, str) else
                                [safe(v) for v in (list(col.tolist()) if hasattr(col, "tolist") else list(col))]
                                for k, col in (props or {}).items()}
        if any(isinstance(c, list) and len(c) != n for c in cols.values()):
            raise ValueError("ViewportPoints needs one value of each property per point")
        self.data = DumpedOnce({"lat": la.tolist(), "lon": lo.tolist(), "colours": colours,
                                "fill": [index[str(c)] for c in fills],
                                "tip": [safe(str(t)) for t in tips] if tips is not None else None,
                                "props": cols})
        self.style = {"radius": 4, "color": "#ffffff", "weight": 1, "fill": True, "fillOpacity": 1.0,
                      **(style or {})}
        self.limit = int(limit)
        self.note = str(note)
        self.instead = instead
        self._map_name = "null"
        self._instead_name = "null"

    def __len__(self) -> int:
        return len(self.data["lat"])

    def add_to(self, parent: Any, name: str | None = None, index: int | None = None) -> ViewportPoints:
        """Add to ``parent`` (a feature group), with ``instead`` before it in the same group."""
        if self.instead is not None:
            self.instead.add_to(parent)
        super().add_to(parent, name=name, index=index)
        return self

    def render(self, **kwargs: Any) -> Any:
        """Render the script, naming the map, the group and the ``instead`` layer."""
        m = get_obj_in_upper_tree(self, folium.Map)
        self._map_name = m.get_name()
        self._instead_name = self.instead.get_name() if self.instead is not None else "null"
        return super().render(**kwargs)
