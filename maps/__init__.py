"""Folium layers and offline map plumbing for WarmGrid (no Streamlit here).

Importing this package first makes branca keep rendered map text as text (:mod:`maps.rendered`):
no name or address on a map is ever evaluated as a template; and folium's templates serialise
a layer's GeoJSON once however often the map is rendered (:class:`maps.styled.DumpedOnce`).
"""

from maps.rendered import install as _keep_rendered_text

_keep_rendered_text()

from maps.styled import install as _dump_once  # noqa: E402

_dump_once()

from maps.layers import (  # noqa: E402
    BASEMAPS,
    GAP_COLOUR,
    STATION_COLOURS,
    add_legend,
    add_title,
    admin_layer,
    base_map,
    cells_layer,
    finish,
    gaps_layer,
    patrol_layer,
    stations_layer,
)
from maps.offline import external_urls, localize, standalone_html  # noqa: E402

__all__ = [
    "BASEMAPS",
    "GAP_COLOUR",
    "STATION_COLOURS",
    "add_legend",
    "add_title",
    "admin_layer",
    "base_map",
    "cells_layer",
    "finish",
    "gaps_layer",
    "patrol_layer",
    "stations_layer",
    "external_urls",
    "localize",
    "standalone_html",
]
