"""The district's default overview kept on disk, by the data it was computed from.

A server that restarts (a deployment, the nightly restart, a crash) used to compute the whole
district's overview again before the first map could draw: at 1,000,000 households, reading and
joining every household to the street network, both coverage figures and the map took about 3 s
of the server's time. None of it changes until the data does. :func:`save_view` writes an
:class:`~grid.coverage.Overview` and the rendered map beside the database, under a key made of

* :func:`fingerprint` of the data: for every table the overview reads, its row count and the sum
  of DuckDB's ``hash`` of each row (0.2 s at 1,000,000 households), so that any committed change,
  by this process or another, makes a new key;
* the code: the text of every module of ``grid/``, ``maps/`` and the app's ``ui*.py``, and the
  versions of the libraries that compute or draw it;
* the settings and the day (a visit becomes overdue at midnight).

:func:`load_view` gives back exactly what was saved (frames with their dtypes, through Arrow IPC
files; no pickle: nothing in the folder is ever executed by Python) or ``None`` when nothing was
kept for the key or what is there cannot be read. Writing is atomic (a folder renamed into place):
a reader never sees half a view. Only the newest :data:`KEPT` views stay.

Examples
--------
>>> key_for("abc", {"type": "party_service", "as_of": "2026-12-03"}) == key_for(
...     "abc", {"as_of": "2026-12-03", "type": "party_service"})
True
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import fields
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from grid.coverage import DistanceComparison, Overview
from grid.store import Store

__all__ = ["FINGERPRINT_TABLES", "KEPT", "code_version", "fingerprint", "has_views", "key_for", "load_view",
           "save_view", "view_dir"]

_LOG = logging.getLogger(__name__)

#: Every table the overview reads (households, cells and wardens, stations, patrol areas, visits,
#: admin units, the street network) and the database's settings (its metric CRS).
FINGERPRINT_TABLES = ("households", "cells", "stations", "patrol_areas", "visits", "admin_units", "roads",
                      "warmgrid_meta")
#: Views kept per database (the newest by time of writing).
KEPT = 2
#: Where views are kept instead of beside the database; ``off`` keeps none.
VIEWS_ENV = "WARMGRID_VIEWS"
_LIBRARIES = ("duckdb", "pandas", "numpy", "scipy", "shapely", "geopandas", "pyarrow", "folium", "branca",
              "streamlit-folium", "jinja2")
_FORMAT = 1


def view_dir(db_path: str | os.PathLike[str]) -> Path | None:
    """The folder of kept views for the database at ``db_path`` (``None``: keeping is off)."""
    setting = os.environ.get(VIEWS_ENV, "").strip()
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    if setting:
        return Path(setting) / hashlib.sha256(str(Path(db_path).resolve()).encode()).hexdigest()[:16]
    p = Path(db_path)
    return p.with_name(p.name + ".views")


def has_views(folder: Path) -> bool:
    """Whether anything is kept in ``folder`` (then a fingerprint is worth computing)."""
    try:
        return any(p.is_dir() and not p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return False


def fingerprint(store: Store, tables: tuple[str, ...] = FINGERPRINT_TABLES) -> str:
    """A digest of the rows of ``tables`` (count and sum of row hashes each; a missing table counts as empty)."""
    present = set(store.query("SELECT table_name FROM information_schema.tables")["table_name"])
    h = hashlib.sha256()
    for t in tables:
        if t not in present:
            h.update(f"{t}:absent;".encode())
            continue
        # The table names are this module's constants, never a user's text.
        row = store.query(f'SELECT count(*)::VARCHAR AS n, coalesce(sum(hash(x))::HUGEINT, 0)::VARCHAR AS h'  # noqa: S608
                          f' FROM "{t}" x').iloc[0]
        h.update(f"{t}:{row['n']}:{row['h']};".encode())
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the code that computes and draws a view, and of the libraries' versions."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(f"format {_FORMAT};".encode())
    files = sorted([*root.glob("grid/**/*.py"), *root.glob("grid/**/*.sql"), *root.glob("maps/**/*.py"),
                    *root.glob("ui*.py")])
    for f in files:
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    for lib in _LIBRARIES:
        try:
            h.update(f"{lib}={metadata.version(lib)};".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib}=none;".encode())
    return h.hexdigest()


def key_for(data: str, settings: dict[str, Any]) -> str:
    """The key of a view: the data's fingerprint, the code's version and the settings (JSON values)."""
    text = json.dumps({"data": data, "code": code_version(), "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


# --------------------------------------------------------------------------- frames
def _write_frame(df: pd.DataFrame, path: Path) -> dict[str, Any]:
    import geopandas as gpd
    import pyarrow as pa
    import pyarrow.feather as feather
    import shapely

    info: dict[str, Any] = {"geo": None}
    if isinstance(df, gpd.GeoDataFrame):
        col = df.geometry.name
        info["geo"] = {"column": col, "crs": df.crs.to_wkt() if df.crs is not None else None,
                       "position": list(df.columns).index(col)}
        df = pd.DataFrame(df).assign(**{col: shapely.to_wkb(df.geometry.to_numpy())})
    feather.write_feather(pa.Table.from_pandas(df, preserve_index=True), path, compression="lz4")
    return info


def _read_frame(path: Path, info: dict[str, Any]) -> pd.DataFrame:
    import geopandas as gpd
    import pyarrow.feather as feather
    import shapely

    df = feather.read_table(path).to_pandas()
    geo = info.get("geo")
    if geo:
        col = geo["column"]
        geoms = shapely.from_wkb(df[col].to_numpy())
        df = gpd.GeoDataFrame(df.drop(columns=col), geometry=gpd.GeoSeries(geoms, index=df.index, crs=geo["crs"]))
        df = df.rename_geometry(col) if col != "geometry" else df
        cols = [c for c in df.columns if c != col]
        cols.insert(int(geo["position"]), col)
        df = df[cols]
    return df


def _plain(value: Any) -> Any:
    """A KPI value as JSON (timestamps tagged, numpy scalars as Python numbers)."""
    if isinstance(value, pd.Timestamp):
        return {"__timestamp__": value.isoformat()}
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _unplain(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"__timestamp__"}:
        return pd.Timestamp(value["__timestamp__"])
    return value


_OVERVIEW_FRAMES = ("cells", "gaps", "stations", "patrols", "admin", "by_community")
_COMPARISON_FRAMES = ("overstated_households", "walk_gaps", "straight_gaps")


def save_view(folder: Path, key: str, overview: Overview, map_payload: dict[str, Any]) -> bool:
    """Keep ``overview`` and its map (``map_payload``: JSON values) under ``key``; ``False`` when it
    was kept already or could not be written (logged: keeping is only a head start)."""
    final = folder / key
    if final.exists():
        return False
    tmp: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder))
        frames: dict[str, Any] = {}
        for name in _OVERVIEW_FRAMES:
            frames[name] = _write_frame(getattr(overview, name), tmp / f"{name}.arrow")
        meta: dict[str, Any] = {
            "format": _FORMAT, "key": key, "frames": frames,
            "kpis": {k: _plain(v) for k, v in overview.kpis.items()},
            "station_type": overview.station_type, "radius": overview.radius, "distance": overview.distance,
            "comparison": None, "map": map_payload,
        }
        comp = overview.comparison
        if comp is not None:
            cmeta: dict[str, Any] = {"frames": {}, "gaps_are_walk_gaps": comp.walk_gaps is overview.gaps}
            for f in fields(comp):
                value = getattr(comp, f.name)
                if f.name in _COMPARISON_FRAMES:
                    if f.name == "walk_gaps" and cmeta["gaps_are_walk_gaps"]:
                        continue
                    cmeta["frames"][f.name] = _write_frame(value, tmp / f"comparison_{f.name}.arrow")
                elif f.name == "tiers":
                    cmeta["tiers"] = [[int(k), int(v)] for k, v in value.items()]
                else:
                    cmeta[f.name] = _plain(value)
            meta["comparison"] = cmeta
        (tmp / "view.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, final)  # a folder renamed into place: whole or absent
        tmp = None
    except Exception:
        _LOG.exception("keeping the default overview on disk failed (%s)", folder)
        return False
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    _prune(folder)
    return True


def _prune(folder: Path) -> None:
    """Remove all but the newest :data:`KEPT` views (and leftovers of interrupted writes)."""
    try:
        views = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime, reverse=True)
        for old in views[KEPT:]:
            shutil.rmtree(old, ignore_errors=True)
        for p in folder.iterdir():
            if p.name.startswith(".") and p.is_dir() and not any(p.name.startswith(f".{v.name}.") for v in views[:KEPT]):
                shutil.rmtree(p, ignore_errors=True)
    except OSError:
        _LOG.exception("pruning kept views failed (%s)", folder)


def load_view(folder: Path, key: str) -> tuple[Overview, dict[str, Any]] | None:
    """The overview and map payload kept under ``key``, or ``None`` (nothing kept, or unreadable: logged)."""
    final = folder / key
    meta_path = final / "view.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != _FORMAT or meta.get("key") != key:
            return None
        frames = {name: _read_frame(final / f"{name}.arrow", info) for name, info in meta["frames"].items()}
        comp = None
        cmeta = meta["comparison"]
        if cmeta is not None:
            values: dict[str, Any] = {}
            for f in fields(DistanceComparison):
                if f.name in _COMPARISON_FRAMES:
                    if f.name == "walk_gaps" and cmeta["gaps_are_walk_gaps"]:
                        values[f.name] = frames["gaps"]
                    else:
                        values[f.name] = _read_frame(final / f"comparison_{f.name}.arrow", cmeta["frames"][f.name])
                elif f.name == "tiers":
                    values[f.name] = {int(k): int(v) for k, v in cmeta["tiers"]}
                else:
                    values[f.name] = cmeta[f.name]
            comp = DistanceComparison(**values)
        ov = Overview(kpis={k: _unplain(v) for k, v in meta["kpis"].items()}, station_type=meta["station_type"],
                      radius=meta["radius"], distance=meta["distance"], comparison=comp, **frames)
        return ov, meta["map"]
    except Exception:
        _LOG.exception("reading the kept overview %s failed: computing it again", final)
        return None
