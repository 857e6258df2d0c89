"""Files a cluster can read: GeoParquet partitioned by street, each partition with its halo.

The layout (one folder, written by :func:`export_store` or by
:func:`grid.province.generate_province`)::

    DIR/_warmgrid.json                              what the folder holds (:func:`read_meta`)
    DIR/households/street_code=350203001000/part-0.parquet
    DIR/cells/street_code=.../part-0.parquet
    DIR/stations/street_code=.../part-0.parquet     the street's own stations and its halo
    DIR/patrol_areas/street_code=.../part-0.parquet
    DIR/roads/street_code=.../part-0.parquet        the roads within the halo

Every file is GeoParquet 1.1: the geometry is WKB in the column ``geometry``
(WGS84 longitude/latitude, GeoParquet's default ``OGC:CRS84``) and the file's
``geo`` metadata says so, so GeoPandas, DuckDB and Sedona read it as geometry.
The partition column ``street_code`` is in the folder names only (Hive style).

Definitions
-----------
Street region
    The union of the street's cells and its households' points (a household
    outside every cell counts by its point), in the metric CRS.
Halo
    ``halo_m`` = the largest service radius of any station + ``margin_m``.
    A street's partition holds every station within ``halo_m`` of its region
    (``halo`` is true for those of other streets), and, per station type, every
    station of the type within the farthest straight-line distance from one of its
    households to that household's nearest station of the type (so that the
    nearest station by the straight line is always in the partition); every road
    within ``halo_m`` of the region, and the road each of its stations joins (its
    nearest walkable line).
    A path from a household of the street that is no longer than ``halo_m`` never
    leaves the region's ``halo_m`` buffer, so every straight or walking distance
    up to ``halo_m`` measured in the partition alone equals the one measured on
    the whole district — and every coverage flag does, since no radius exceeds
    ``halo_m``. (A household's nearest station farther than ``halo_m`` is not
    known to its partition: :mod:`grid.province` reports it as ``beyond_halo``.)
Patrol areas
    Those that intersect the street's cells.

Examples
--------
>>> import tempfile, pathlib, pandas as pd, shapely
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> frame = pd.DataFrame({"hh_id": ["a"], "geometry": [shapely.Point(118.1, 24.5)]})
>>> path = write_partition(out, "households", "350203001000", frame)
>>> path.relative_to(out).as_posix()
'households/street_code=350203001000/part-0.parquet'
>>> read_partition(out, "households", "350203001000")["hh_id"].tolist()
['a']
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from grid.errors import WarmGridError

__all__ = [
    "FORMAT",
    "LAYERS",
    "META_FILE",
    "NO_STREET",
    "DEFAULT_MARGIN_M",
    "write_partition",
    "read_partition",
    "read_layer",
    "read_meta",
    "write_meta",
    "replace_dir",
    "StreetHalo",
    "street_halos",
    "station_roads",
    "export_store",
]

#: The format name and version written into ``_warmgrid.json``.
FORMAT = "warmgrid-province/1"
#: The layers of a partition, in the order they are written.
LAYERS = ("households", "cells", "stations", "patrol_areas", "roads")
META_FILE = "_warmgrid.json"
#: The partition of households outside every cell (no street).
NO_STREET = "none"
#: Metres added to the largest service radius to make the halo.
DEFAULT_MARGIN_M = 500.0

_GEOMETRY_TYPES = {"households": ["Point"], "stations": ["Point"], "cells": ["Polygon", "MultiPolygon"],
                   "patrol_areas": ["Polygon", "MultiPolygon"], "roads": ["LineString", "MultiLineString"]}


def _partition_dir(root: Path, layer: str, street: str) -> Path:
    return root / layer / f"street_code={street}"


def write_partition(root: str | Path, layer: str, street: str, frame: pd.DataFrame) -> Path:
    """Write one layer of one street as a GeoParquet file; return its path.

    ``frame`` carries shapely geometries in ``geometry`` (WGS84) and no
    ``street_code`` column (that is the folder's name).
    """
    if layer not in _GEOMETRY_TYPES:
        raise WarmGridError(f"未知的数据层：{layer}", f"unknown layer: {layer}")
    if "street_code" in frame.columns:
        frame = frame.drop(columns="street_code")
    geoms = np.asarray(frame["geometry"].to_numpy(), dtype=object)
    wkb = shapely.to_wkb(geoms) if len(geoms) else np.zeros(0, dtype=object)
    table = pa.Table.from_pandas(frame.drop(columns="geometry"), preserve_index=False)
    table = table.append_column("geometry", pa.array(list(wkb), type=pa.binary()))
    bbox = list(shapely.total_bounds(geoms)) if len(geoms) else []
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": _GEOMETRY_TYPES[layer]}
    if bbox and np.all(np.isfinite(bbox)):
        column["bbox"] = [float(v) for v in bbox]
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"geo": json.dumps(geo).encode()})
    out = _partition_dir(Path(root), layer, street)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "part-0.parquet"
    pq.write_table(table, path, compression="zstd")
    return path


def read_partition(root: str | Path, layer: str, street: str, *, geometry: bool = True) -> pd.DataFrame:
    """One layer of one street (``geometry`` as shapely objects, or left out); empty if absent."""
    folder = _partition_dir(Path(root), layer, street)
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return pd.DataFrame()
    table = pa.concat_tables([pq.read_table(f) for f in files])
    return _frame(table, geometry)


def _frame(table: pa.Table, geometry: bool) -> pd.DataFrame:
    geo = table.column("geometry").to_pylist() if "geometry" in table.column_names else None
    if "geometry" in table.column_names:
        table = table.drop(["geometry"])
    df = table.to_pandas(types_mapper=lambda t: pd.StringDtype() if t in (pa.string(), pa.large_string()) else None)
    for c in df.columns:  # plain object strings, as the product's loaders give
        if isinstance(df[c].dtype, pd.StringDtype):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    if geometry and geo is not None:
        df["geometry"] = shapely.from_wkb(geo) if len(geo) else np.zeros(0, dtype=object)
    return df


def read_layer(root: str | Path, layer: str, *, geometry: bool = True) -> pd.DataFrame:
    """A whole layer, every street (``street_code`` as a column)."""
    base = Path(root) / layer
    frames = []
    for folder in sorted(base.glob("street_code=*")):
        part = read_partition(root, layer, folder.name.split("=", 1)[1], geometry=geometry)
        if len(part):
            frames.append(part.assign(street_code=folder.name.split("=", 1)[1]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_meta(root: str | Path) -> dict[str, Any]:
    """The folder's ``_warmgrid.json``; a clear error when the folder is not a WarmGrid export."""
    path = Path(root) / META_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WarmGridError(f"{root} 不是暖网导出的分区数据（缺少 {META_FILE}）；请先运行 python -m grid parquet export",
                            f"{root} is not a WarmGrid partitioned export (no {META_FILE}); "
                            "run python -m grid parquet export first") from None
    except (OSError, ValueError) as exc:
        raise WarmGridError(f"无法读取 {path}：{exc}", f"cannot read {path}: {exc}") from None
    if meta.get("format") != FORMAT:
        raise WarmGridError(f"{path} 的格式 {meta.get('format')!r} 不是 {FORMAT}",
                            f"{path} has format {meta.get('format')!r}, not {FORMAT}")
    return dict(meta)


def write_meta(root: str | Path, meta: dict[str, Any]) -> None:
    """Write ``_warmgrid.json`` (``format`` added)."""
    Path(root, META_FILE).write_text(json.dumps({"format": FORMAT, **meta}, ensure_ascii=False, indent=1),
                                     encoding="utf-8")


@contextmanager
def replace_dir(target: str | Path) -> Iterator[Path]:
    """Yield a fresh folder beside ``target``; on success it replaces ``target``, on failure it is removed.

    Nothing is half-written: readers see the old folder or the whole new one.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise WarmGridError(f"{target} 已存在且不是目录", f"{target} exists and is not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- halos
@dataclass(frozen=True)
class StreetHalo:
    """Row positions of one street's partition in each layer's frame."""

    street: str
    households: np.ndarray
    cells: np.ndarray
    stations: np.ndarray
    patrol_areas: np.ndarray
    roads: np.ndarray


def station_roads(roads: pd.DataFrame, stations: pd.DataFrame, metric_crs: str) -> np.ndarray:
    """The ``road_id`` each station joins (its nearest walkable line), ``None`` without walkable roads.

    Uses the product's own join (:func:`grid.network.join_points`), so a partition
    joins each of its stations exactly where the whole district does.
    """
    from grid.network import build_network, join_points

    net = build_network(roads.rename(columns={"geometry": "geom"}), metric_crs)
    if net.empty or not len(stations):
        return np.full(len(stations), None, dtype=object)
    j = join_points(net, stations["x_m"].to_numpy(dtype=float), stations["y_m"].to_numpy(dtype=float))
    return np.asarray(net.edge_road[j.edge], dtype=object)


def street_halos(households: pd.DataFrame, cells: pd.DataFrame, stations: pd.DataFrame,
                 patrol_areas: pd.DataFrame, roads: pd.DataFrame, *, metric_crs: str, halo_m: float,
                 station_road: np.ndarray | None = None) -> Iterator[StreetHalo]:
    """Each street's partition (see the module's definitions), street by street.

    ``households`` and ``cells`` carry ``street_code``; ``households`` and
    ``stations`` carry metric ``x_m, y_m``; every frame its WGS84 ``geometry``.
    ``station_road`` is :func:`station_roads` of ``stations`` (computed when not given).
    """
    import geopandas as gpd

    def metric(df: pd.DataFrame) -> np.ndarray:
        if not len(df):
            return np.zeros(0, dtype=object)
        return np.asarray(gpd.GeoSeries(df["geometry"].to_numpy(), crs="EPSG:4326").to_crs(metric_crs).to_numpy(),
                          dtype=object)

    cells_m, patrols_m, roads_m = metric(cells), metric(patrol_areas), metric(roads)
    st_pts = shapely.points(stations["x_m"].to_numpy(dtype=float), stations["y_m"].to_numpy(dtype=float)) \
        if len(stations) else np.zeros(0, dtype=object)
    st_tree, road_tree = shapely.STRtree(st_pts), shapely.STRtree(roads_m)
    patrol_tree = shapely.STRtree(patrols_m)
    if station_road is None:
        station_road = station_roads(roads, stations, metric_crs) if len(roads) else \
            np.full(len(stations), None, dtype=object)
    road_pos = pd.Series(np.arange(len(roads)), index=roads["road_id"].to_numpy()) if len(roads) else pd.Series()
    from scipy.spatial import cKDTree

    stype = stations["type"].to_numpy(dtype=object) if len(stations) else np.zeros(0, dtype=object)
    sxy = stations[["x_m", "y_m"]].to_numpy(dtype=float) if len(stations) else np.zeros((0, 2))
    by_type = {t: (cKDTree(sxy[stype == t]), np.flatnonzero(stype == t)) for t in sorted(set(stype.tolist()))}
    hh_street = households["street_code"].to_numpy(dtype=object)
    cell_street = cells["street_code"].to_numpy(dtype=object) if len(cells) else np.zeros(0, dtype=object)
    hx, hy = households["x_m"].to_numpy(dtype=float), households["y_m"].to_numpy(dtype=float)
    for street in sorted(set(hh_street.tolist()) | set(cell_street.tolist())):
        hpos = np.flatnonzero(hh_street == street)
        cpos = np.flatnonzero(cell_street == street)
        area = shapely.union_all(cells_m[cpos]) if len(cpos) else shapely.Polygon()
        if len(hpos):
            outside = hpos[~shapely.contains_xy(area, hx[hpos], hy[hpos])] if not area.is_empty else hpos
            if len(outside):
                area = shapely.union(area, shapely.multipoints(np.column_stack([hx[outside], hy[outside]])))
        spos = st_tree.query(area, predicate="dwithin", distance=halo_m) if len(st_pts) else \
            np.zeros(0, dtype=np.int64)
        # Every household's nearest station of each type, however far: the stations of the type
        # within the street's farthest nearest distance (a k-d tree per type over every station).
        extra = [spos]
        for tree, pos in by_type.values():
            if len(hpos):
                # (widened by a micrometre: the k-d tree and GEOS round a distance differently)
                far = float(tree.query(np.column_stack([hx[hpos], hy[hpos]]), k=1)[0].max()) + 1e-6
                if far > halo_m:
                    hit = st_tree.query(area, predicate="dwithin", distance=far)
                    extra.append(hit[np.isin(hit, pos)])
        spos = np.unique(np.concatenate(extra)).astype(np.int64)
        rpos = set(road_tree.query(area, predicate="dwithin", distance=halo_m).tolist()) if len(roads_m) else set()
        joined = [r for r in station_road[spos] if r is not None]
        rpos |= set(road_pos.loc[joined].tolist()) if joined else set()
        ppos = np.sort(patrol_tree.query(shapely.union_all(cells_m[cpos]), predicate="intersects")) \
            if len(patrols_m) and len(cpos) else np.zeros(0, dtype=np.int64)
        yield StreetHalo(street=str(street), households=hpos, cells=cpos, stations=spos, patrol_areas=ppos,
                         roads=np.array(sorted(rpos), dtype=np.int64))


def write_streets(root: Path, halos: Iterator[StreetHalo], households: pd.DataFrame, cells: pd.DataFrame,
                  stations: pd.DataFrame, patrol_areas: pd.DataFrame, roads: pd.DataFrame,
                  say: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write every street's partition under ``root``; return the rows written per layer."""
    counts = dict.fromkeys(LAYERS, 0)
    st_street = stations["street_code"].to_numpy(dtype=object) if len(stations) else np.zeros(0, dtype=object)
    for h in halos:
        st = stations.iloc[h.stations].reset_index(drop=True)
        st = st.rename(columns={"street_code": "home_street"}).assign(halo=st_street[h.stations] != h.street)
        parts = {"households": households.iloc[h.households], "cells": cells.iloc[h.cells], "stations": st,
                 "patrol_areas": patrol_areas.iloc[h.patrol_areas], "roads": roads.iloc[h.roads]}
        for layer in LAYERS:
            frame = parts[layer]
            if layer == "households" or len(frame):
                write_partition(root, layer, h.street, frame.reset_index(drop=True))
                counts[layer] += len(frame)
        if say is not None:
            say(h.street)
    return counts


# --------------------------------------------------------------------------- export
def export_store(store: Any, out: str | Path, *, margin_m: float = DEFAULT_MARGIN_M,
                 say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write a database's households, cells, stations, patrol areas and roads as partitioned GeoParquet.

    Only what the coverage analyses need leaves the database: no names, ID
    numbers or phones. The folder is replaced whole (never half-written).
    Returns what ``_warmgrid.json`` says.
    """
    from grid.coverage import load_households, load_stations
    from grid.network import MAX_LEG_M, load_roads

    if not (np.isfinite(margin_m) and margin_m >= 0):
        raise WarmGridError(f"缓冲余量须为非负数：{margin_m}", f"the margin must not be negative: {margin_m}")
    crs = store.metric_crs()
    admin = store.query("SELECT code, parent_code FROM admin_units WHERE level = 'community'")
    street_of = dict(zip(admin["code"], admin["parent_code"], strict=True))
    hh = load_households(store)
    hh["street_code"] = [street_of.get(c) or NO_STREET for c in hh["community_code"]]
    hh = hh.assign(geometry=shapely.points(hh["lon"].to_numpy(), hh["lat"].to_numpy()))
    hh = hh.drop(columns=["lon", "lat"])
    cells = store.query("SELECT cell_id, name, community_code, warden_id, area_m2, ST_AsWKB(geom) AS wkb"
                        " FROM cells ORDER BY cell_id")
    cells["street_code"] = [street_of.get(c) or NO_STREET for c in cells["community_code"]]
    cells["geometry"] = shapely.from_wkb([bytes(b) for b in cells.pop("wkb")]) if len(cells) else []
    st = load_stations(store)
    st = st.assign(geometry=shapely.points(st["lon"].to_numpy(), st["lat"].to_numpy())).drop(columns=["lon", "lat"])
    st["street_code"] = _street_of_points(st, cells)
    pa_ = store.query("SELECT area_id, team, kind, members, community_code, ST_AsWKB(geom) AS wkb"
                      " FROM patrol_areas ORDER BY area_id")
    pa_["geometry"] = shapely.from_wkb([bytes(b) for b in pa_.pop("wkb")]) if len(pa_) else []
    roads = load_roads(store, walkable_only=False)
    roads["geometry"] = shapely.from_wkb([bytes(b) for b in roads.pop("wkb")]) if len(roads) else []
    max_radius = float(st["radius_m"].max()) if len(st) else 0.0
    halo_m = max(max_radius + margin_m, MAX_LEG_M)
    walkable = roads[roads["walkable"].astype(bool)] if len(roads) else roads
    sroad = station_roads(walkable, st, crs) if len(walkable) else np.full(len(st), None, dtype=object)
    with replace_dir(out) as tmp:
        halos = street_halos(hh, cells, st, pa_, roads, metric_crs=crs, halo_m=halo_m,
                             station_road=sroad)
        counts = write_streets(tmp, halos, hh, cells, st, pa_, roads, say)
        meta = {"metric_crs": crs, "halo_m": halo_m, "max_radius_m": max_radius, "margin_m": margin_m,
                "station_types": sorted(set(st["type"])), "streets": sorted(set(hh["street_code"]) |
                                                                          set(cells["street_code"])),
                "households": int(len(hh)), "cells": int(len(cells)), "stations": int(len(st)),
                "patrol_areas": int(len(pa_)), "roads": int(len(roads)),
                "walkable_roads": int(len(walkable)), "rows_written": counts, "source": "database",
                "straight_nearest_exact": True}
        write_meta(tmp, meta)
    return {"format": FORMAT, **meta}


def _street_of_points(points: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """The street of each point: that of the lowest ``cell_id`` containing it, else :data:`NO_STREET`."""
    out = np.full(len(points), NO_STREET, dtype=object)
    if not len(points) or not len(cells):
        return out
    tree = shapely.STRtree(np.asarray(cells["geometry"].to_numpy(), dtype=object))
    pi, ci = tree.query(np.asarray(points["geometry"].to_numpy(), dtype=object), predicate="intersects")
    if len(pi):
        pick = pd.DataFrame({"p": pi, "cell": cells["cell_id"].to_numpy()[ci], "s": cells["street_code"].to_numpy()[ci]})
        first = pick.sort_values(["p", "cell"]).drop_duplicates("p")
        out[first["p"].to_numpy()] = first["s"].to_numpy()
    return out
