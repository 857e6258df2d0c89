"""App plumbing shared by app.py and the pages: where the database is, opening it
once per process (building the demo district on first run, with progress), and
analyses cached by their inputs. Pages import from here and from grid/ and
maps/; nothing here computes an analysis itself."""

from __future__ import annotations

import os
import threading
from datetime import date
from pathlib import Path

import streamlit as st

from grid.coverage import Overview, overview
from grid.demo import DemoConfig, build_demo_file
from grid.errors import WarmGridError
from grid.store import Store, open_store

__all__ = ["db_path", "get_store", "cached_overview", "show_error", "basemap_setting"]

#: Environment variable naming the database file.
DB_ENV = "WARMGRID_DB"
#: Environment variable with the demo's number of households (first run only).
DEMO_HOUSEHOLDS_ENV = "WARMGRID_DEMO_HOUSEHOLDS"
#: Basemap: ``none`` (default, offline), ``osm`` or ``tianditu`` (tiles from the network).
BASEMAP_ENV = "WARMGRID_BASEMAP"
#: The Tianditu key, when ``WARMGRID_BASEMAP=tianditu``.
TIANDITU_KEY_ENV = "WARMGRID_TIANDITU_KEY"
_BUILD_LOCK = threading.Lock()


def basemap_setting() -> tuple[str, str]:
    """The configured basemap and Tianditu key (``("none", "")`` unless configured)."""
    from maps.layers import BASEMAPS

    name = os.environ.get(BASEMAP_ENV, "none").strip().lower() or "none"
    if name not in BASEMAPS:
        st.warning(f"未知的底图设置 {BASEMAP_ENV}={name}，已改用无底图。"
                   f" Unknown basemap {name!r}; using none. Choose one of {sorted(BASEMAPS)}.")
        name = "none"
    key = os.environ.get(TIANDITU_KEY_ENV, "")
    if name == "tianditu" and not key:
        st.warning(f"使用天地图需要设置 {TIANDITU_KEY_ENV}；已改用无底图。"
                   f" Tianditu needs {TIANDITU_KEY_ENV}; using none.")
        name = "none"
    return name, key


def db_path() -> Path:
    """The database file: ``$WARMGRID_DB`` or ``data/warmgrid.duckdb`` beside this file."""
    env = os.environ.get(DB_ENV)
    return Path(env) if env else Path(__file__).resolve().parent / "data" / "warmgrid.duckdb"


def show_error(exc: WarmGridError) -> None:
    """Show a WarmGrid error in both languages and stop the page."""
    st.error(f"{exc.zh}\n\n{exc.en}")
    st.stop()


@st.cache_resource(show_spinner=False)
def _open(path: str) -> Store:
    return open_store(path)


def get_store() -> Store:
    """The process's store, building the demo district first if the file is missing."""
    path = db_path()
    try:
        if not path.exists():
            with _BUILD_LOCK:
                if not path.exists():
                    n = int(os.environ.get(DEMO_HOUSEHOLDS_ENV, "50000"))
                    bar = st.progress(0.0, text="首次运行：正在生成演示区 · First run: building the demo district")

                    def progress(frac: float, msg: str) -> None:
                        bar.progress(min(max(frac, 0.0), 1.0),
                                     text=f"首次运行：正在生成演示区 · building the demo district — {msg}")

                    build_demo_file(path, DemoConfig(households=n), progress=progress)
                    bar.empty()
        return _open(str(path))
    except WarmGridError as exc:
        show_error(exc)
        raise  # unreachable: st.stop() raises


@st.cache_data(show_spinner="正在计算覆盖情况 · computing coverage…", max_entries=32)
def cached_overview(path: str, generation: int, station_type: str, radius: float | None,
                    warden_target: int, visit_days: int, as_of: date) -> Overview:
    """:func:`grid.coverage.overview`, cached by its inputs and the store's generation."""
    return overview(_open(path), station_type, radius=radius, warden_target=warden_target,
                    visit_days=visit_days, as_of=as_of)
