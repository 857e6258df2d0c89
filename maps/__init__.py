"""Folium layers and offline map plumbing for WarmGrid (no Streamlit here)."""

from maps.layers import (
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
from maps.offline import external_urls, localize, standalone_html

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
