"""WarmGrid 暖网: the library behind the app (no Streamlit, no folium here).

The public surface, by domain noun:

- :mod:`grid.store` — :func:`open_store`, :class:`Store`
- :mod:`grid.model` — vocabularies (hardship categories, station types, roles)
- :mod:`grid.demo` — :func:`build_demo_file`, :class:`DemoConfig`
- :mod:`grid.coverage` — gaps, nearest stations, warden load, patrol cover, visit recency
  (by the straight line or by walking)
- :mod:`grid.network` — the walking graph: :func:`~grid.network.load_network`,
  :func:`~grid.network.walk_nearest`, :func:`~grid.network.walk_distances`
- :mod:`grid.roads` — roads as data: the OSM pedestrian tag rule, OSM reading, noding
- :mod:`grid.errors` — every error WarmGrid raises on purpose
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grid.coverage import (
        coverage_report,
        nearest_stations,
        overview,
        patrol_cover,
        station_gaps,
        visit_recency,
        warden_load,
    )
    from grid.demo import DemoConfig, build_demo, build_demo_file, generate
    from grid.errors import ValidationError, WarmGridError
    from grid.store import Store, open_store

# Imported on first use (PEP 562), so that ``python -m grid --help`` and a command sent to a
# running app do not pay for geopandas, DuckDB and the rest.
_HOME = {
    **dict.fromkeys(["coverage_report", "nearest_stations", "overview", "patrol_cover", "station_gaps",
                     "visit_recency", "warden_load"], "grid.coverage"),
    **dict.fromkeys(["DemoConfig", "build_demo", "build_demo_file", "generate"], "grid.demo"),
    **dict.fromkeys(["ValidationError", "WarmGridError"], "grid.errors"),
    **dict.fromkeys(["Store", "open_store"], "grid.store"),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'grid' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "DemoConfig",
    "Store",
    "ValidationError",
    "WarmGridError",
    "build_demo",
    "build_demo_file",
    "coverage_report",
    "generate",
    "nearest_stations",
    "open_store",
    "overview",
    "patrol_cover",
    "station_gaps",
    "visit_recency",
    "warden_load",
]
