"""The street network as data: which ways a pedestrian can use, reading
OpenStreetMap extracts, checking lines, and noding them so that connectivity is
exactly shared vertices.

Connectivity rule
-----------------
Two stored lines are connected where, and only where, they have a vertex at
the same coordinates. :func:`node_lines` makes it so before lines are stored:

- coordinates are rounded to 1e-7 degrees (about 1 cm; OpenStreetMap's own
  precision), so "the same coordinates" is exact;
- where two lines **of the same level** cross or touch, the crossing point is
  inserted as a vertex into both (lines stay whole: ``road_id`` is the file's
  own id, one stored row per file row, and re-importing the file changes nothing);
- where an end of a line lies on (within :data:`SNAP_M` of) another line of the
  same level, or ends on a line at grade (a bridge or tunnel touching down), that
  end is inserted into the other line — a T-junction;
- lines of different levels (a bridge over a road, a tunnel under it) are never
  joined where they cross: a bridge is reached only at its ends.

The level of a line is its ``layer`` (OSM ``layer=*``, or a column 层/layer/
level), else +1 for a bridge and -1 for a tunnel (OSM ``bridge=*``/``tunnel=*``,
or a column 桥梁/隧道 saying so), else 0. ``tunnel=building_passage`` is at grade.

Pedestrian tag rule (:func:`osm_walkable`)
-------------------------------------------
In order, the first rule that applies decides:

1. ``foot=yes|designated|permissive|official`` — walkable (overrides everything below);
2. ``foot=no|use_sidepath``, or ``access=no|private`` — not walkable;
3. ``highway`` in :data:`FOOT_WAYS` (footway, path, pedestrian, steps,
   living_street, residential, service, unclassified, track, corridor, road) — walkable;
4. ``highway`` in :data:`SIDEWALK_STREETS` (tertiary, secondary, primary and their
   links) — walkable with a sidewalk tag (``sidewalk[:both|:left|:right]=yes|both|left|right``),
   not walkable when the tags say there is none (``no``, ``none``, or ``separate``:
   the sidewalk is mapped as its own footway, which is kept instead); with no
   sidewalk tag at all, walkable when ``assume_sidewalks`` (the default: Chinese
   urban streets nearly always have sidewalks and OSM in China rarely tags them;
   pass ``assume_sidewalks=False``, CLI ``--strict-sidewalks``, for the strict rule);
5. ``highway`` trunk / trunk_link — walkable only with a sidewalk tag (urban
   expressways, 快速路, mostly have none);
6. motorways, cycleways, bridleways, busways — not walkable (unless rule 1).

Other ``highway`` values (construction, proposed, platform, ...) are not roads
and are not imported; nor are ways without ``highway``.

Examples
--------
>>> osm_walkable({"highway": "residential"})
True
>>> osm_walkable({"highway": "primary", "sidewalk": "no"})
False
>>> osm_walkable({"highway": "motorway", "foot": "yes"})
True
>>> osm_walkable({"highway": "residential", "access": "private"})
False
>>> osm_level({"bridge": "yes"}), osm_level({"tunnel": "yes", "layer": "-2"}), osm_level({})
(1, -2, 0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from grid.errors import Problem, WarmGridError

__all__ = [
    "FOOT_WAYS",
    "SIDEWALK_STREETS",
    "TRUNK_ROADS",
    "NEVER_ON_FOOT",
    "PRECISION_DEG",
    "SNAP_M",
    "osm_walkable",
    "osm_level",
    "has_sidewalk",
    "kind_walkable",
    "parse_bool",
    "parse_level",
    "OsmWays",
    "read_osm",
    "round_line",
    "node_lines",
]

#: Ways a pedestrian can use whatever their sidewalk tags (OSM ``highway=*``).
FOOT_WAYS = frozenset({"footway", "path", "pedestrian", "steps", "living_street", "residential", "service",
                       "unclassified", "track", "corridor", "road"})
#: Streets walkable on their sidewalks (see the tag rule).
SIDEWALK_STREETS = frozenset({"tertiary", "tertiary_link", "secondary", "secondary_link", "primary",
                              "primary_link"})
#: Walkable only with a sidewalk tag.
TRUNK_ROADS = frozenset({"trunk", "trunk_link"})
#: Imported as roads but never walkable unless ``foot=yes`` (or a walkable column says so).
NEVER_ON_FOOT = frozenset({"motorway", "motorway_link", "cycleway", "bridleway", "busway"})
_ROAD_VALUES = FOOT_WAYS | SIDEWALK_STREETS | TRUNK_ROADS | NEVER_ON_FOOT

#: Stored coordinates are rounded to this many degrees (OpenStreetMap's precision, about 1 cm).
PRECISION_DEG = 1e-7
#: An end of a line this close to another line (metres) is joined to it (a T-junction).
SNAP_M = 0.5
_M_PER_DEG = 111_320.0

_FOOT_YES = frozenset({"yes", "designated", "permissive", "official"})
_FOOT_NO = frozenset({"no", "use_sidepath"})
_ACCESS_NO = frozenset({"no", "private"})
_SIDEWALK_YES = frozenset({"yes", "both", "left", "right"})
_SIDEWALK_NO = frozenset({"no", "none", "separate"})


def has_sidewalk(tags: Mapping[str, str]) -> bool | None:
    """``True`` if a sidewalk tag says there is one, ``False`` if the tags say none, else ``None``.

    >>> has_sidewalk({"sidewalk:left": "yes"}), has_sidewalk({"sidewalk": "separate"}), has_sidewalk({})
    (True, False, None)
    """
    values = [str(tags[k]).strip().lower() for k in ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")
              if k in tags]
    if any(v in _SIDEWALK_YES for v in values):
        return True
    if values and all(v in _SIDEWALK_NO for v in values):
        return False
    return None


def osm_walkable(tags: Mapping[str, str], *, assume_sidewalks: bool = True) -> bool | None:
    """Whether a pedestrian can use an OSM way (the module's tag rule); ``None`` if it is no road."""
    highway = str(tags.get("highway", "")).strip().lower()
    if highway not in _ROAD_VALUES:
        return None
    if str(tags.get("area", "")).lower() == "yes" and highway not in ("pedestrian", "footway"):
        return None  # an area of another kind (a parking lot's outline) is no way to walk along
    foot = str(tags.get("foot", "")).strip().lower()
    if foot in _FOOT_YES:
        return True
    if foot in _FOOT_NO or str(tags.get("access", "")).strip().lower() in _ACCESS_NO:
        return False
    if highway in FOOT_WAYS:
        return True
    side = has_sidewalk(tags)
    if highway in SIDEWALK_STREETS:
        return assume_sidewalks if side is None else side
    if highway in TRUNK_ROADS:
        return side is True
    return False


def parse_level(value: Any) -> int | None:
    """An OSM-style layer as an integer (``"1"``, ``"-1"``, ``"1;2"`` → first), ``None`` if blank or not one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    s = str(value).strip().split(";")[0].strip()
    if not s:
        return None
    try:
        f = float(s)
    except ValueError:
        return None
    return int(round(f)) if math.isfinite(f) and abs(f) <= 10 else None


def parse_bool(value: Any) -> bool | None:
    """``是/否``, ``yes/no``, ``true/false``, ``1/0``, ``T/F``, ``Y/N`` (any case) as a boolean; else ``None``.

    >>> parse_bool("是"), parse_bool("F"), parse_bool("viaduct"), parse_bool("maybe")
    (True, False, True, None)
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer, float)):
        return bool(value)
    s = str(value).strip().lower()
    if s in ("是", "有", "yes", "y", "true", "t", "1", "桥", "桥梁", "隧道"):
        return True
    if s in ("否", "无", "不", "no", "n", "false", "f", "0", ""):
        return False
    if s in ("viaduct", "aqueduct", "boardwalk", "covered", "culvert", "cantilever", "movable", "trestle"):
        return True  # OSM bridge=* / tunnel=* kinds
    return None


def osm_level(tags: Mapping[str, Any]) -> int:
    """The level of a way for noding: ``layer``, else +1 for a bridge, -1 for a tunnel, else 0."""
    layer = parse_level(tags.get("layer"))
    bridge = str(tags.get("bridge", "no")).strip().lower() not in ("no", "")
    tunnel = str(tags.get("tunnel", "no")).strip().lower() not in ("no", "", "building_passage")
    if layer is not None and (layer != 0 or not (bridge or tunnel)):
        return layer
    if bridge:
        return 1
    if tunnel:
        return -1
    return 0


#: Chinese road classes (道路等级) seen in survey files, and whether a pedestrian can use them.
_CHINESE_KINDS: tuple[tuple[str, bool], ...] = (
    ("高速", False), ("快速", False), ("高架", False), ("匝道", False), ("自行车", False), ("非机动车", False),
    ("人行", True), ("步行", True), ("步道", True), ("小路", True), ("小区", True), ("内部", True), ("巷", True),
    ("胡同", True), ("弄", True), ("台阶", True), ("楼梯", True), ("支路", True), ("次干", True), ("主干", True),
    ("街", True), ("路", True), ("道", True),
)


def kind_walkable(kind: Any) -> bool:
    """Walkability from a road class alone, when a file has no walkable column.

    OSM ``highway`` values (as in Geofabrik shapefiles' ``fclass``) follow the tag
    rule with no other tags (so sidewalks are assumed on tertiary to primary, and
    trunk roads and motorways are not walkable); Chinese classes: 高速/快速/高架/匝道
    and cycle paths are not walkable, other streets are. An unknown or empty class
    is walkable.

    >>> kind_walkable("motorway"), kind_walkable("主干道"), kind_walkable("城市快速路"), kind_walkable(None)
    (False, True, False, True)
    """
    if kind is None or (isinstance(kind, float) and math.isnan(kind)):
        return True
    s = str(kind).strip().lower()
    if s in _ROAD_VALUES:
        return bool(osm_walkable({"highway": s}))
    for word, ok in _CHINESE_KINDS:
        if word in s:
            return ok
    return True


# --------------------------------------------------------------------------- OSM
@dataclass
class OsmWays:
    """The road ways of an OSM extract: one entry per way, in file order."""

    ids: list[str] = field(default_factory=list)
    geoms: list[BaseGeometry | None] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    name: list[str | None] = field(default_factory=list)
    walkable: list[bool] = field(default_factory=list)
    layer: list[int] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    skipped: int = 0  # ways with highway=* that are no road (construction, platform, ...)


def read_osm(path: str | Path, *, assume_sidewalks: bool = True) -> OsmWays:
    """Read the road ways of an OSM extract, ``.osm`` (XML) or ``.osm.pbf``, with pyosmium.

    Every way with a road ``highway=*`` is kept (walkable or not, by
    :func:`osm_walkable`), ``road_id`` ``w<way id>``, ``kind`` the highway value,
    ``name`` ``name:zh`` or else ``name``, ``layer`` by :func:`osm_level`. An
    extract cut at a boundary may miss some nodes of a way: the longest run of
    nodes it has is kept, with a note; a way left with fewer than two nodes is
    left out, with a note.

    Raises
    ------
    WarmGridError
        If the file cannot be read as OSM data.
    """
    import osmium

    p = Path(path)
    out = OsmWays()
    try:
        fp = osmium.FileProcessor(str(p)).with_locations().with_filter(osmium.filter.KeyFilter("highway"))
        for obj in fp:
            if not isinstance(obj, osmium.osm.Way):
                continue
            tags = {t.k: t.v for t in obj.tags}
            ok = osm_walkable(tags, assume_sidewalks=assume_sidewalks)
            if ok is None:
                out.skipped += 1
                continue
            runs: list[list[tuple[float, float]]] = [[]]
            for n in obj.nodes:
                loc = n.location
                if loc.valid():
                    runs[-1].append((loc.lon, loc.lat))
                elif runs[-1]:
                    runs.append([])
            best = max(runs, key=len)
            rid = f"w{obj.id}"
            missing = len(obj.nodes) - sum(len(r) for r in runs)
            if len(best) < 2:
                out.notes.append(Problem(p.name, None, "nodes", rid, "道路缺少节点坐标（数据被裁切），已略过",
                                         "the way lacks node locations (the extract was clipped); left out"))
                continue
            if missing:
                out.notes.append(Problem(p.name, None, "nodes", rid, f"道路缺少 {missing} 个节点坐标，保留最长的连续部分",
                                         f"the way lacks {missing} node locations; its longest complete run is kept"))
            out.ids.append(rid)
            out.geoms.append(LineString(best))
            out.kind.append(str(tags.get("highway")))
            out.name.append(tags.get("name:zh") or tags.get("name"))
            out.walkable.append(bool(ok))
            out.layer.append(osm_level(tags))
    except WarmGridError:
        raise
    except Exception as exc:  # osmium's own error: a broken or foreign file
        raise WarmGridError(f"无法读取 OpenStreetMap 文件 {p.name}：{exc}",
                            f"cannot read the OpenStreetMap file {p.name}: {exc}") from exc
    return out


# --------------------------------------------------------------------------- noding
def round_line(line: BaseGeometry) -> LineString:
    """A line with coordinates rounded to :data:`PRECISION_DEG` and consecutive repeats removed (2-D)."""
    xy = np.round(shapely.get_coordinates(line), 7)
    if len(xy) > 1:
        keep = np.ones(len(xy), dtype=bool)
        keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)
        xy = xy[keep]
    return LineString(xy) if len(xy) >= 2 else LineString()


def _insert(line: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Insert points (each on or within a snap distance of ``line``) as vertices at their place along it."""
    a, b = line[:-1], line[1:]
    d = b - a
    seg_len2 = np.maximum((d * d).sum(axis=1), 1e-30)
    # (k points) x (m segments): the projection parameter and the distance to each segment.
    t = np.clip(((pts[:, None, :] - a[None, :, :]) * d[None, :, :]).sum(axis=2) / seg_len2[None, :], 0.0, 1.0)
    proj = a[None, :, :] + t[:, :, None] * d[None, :, :]
    dist2 = ((pts[:, None, :] - proj) ** 2).sum(axis=2)
    seg = np.argmin(dist2, axis=1)
    tt = t[np.arange(len(pts)), seg]
    # Existing vertices keep their place (segment i, t = 0; the last vertex: segment m-1, t = 1).
    m = len(a)
    keys = np.concatenate([np.arange(m + 1, dtype=float), seg + tt])
    allp = np.concatenate([line, pts])
    order = np.lexsort((np.concatenate([np.zeros(m + 1), np.ones(len(pts))]), keys))
    out = allp[order]
    keep = np.ones(len(out), dtype=bool)
    keep[1:] = np.any(out[1:] != out[:-1], axis=1)
    return out[keep]


def node_lines(geoms: Sequence[BaseGeometry], levels: Sequence[int] | np.ndarray, *,
               snap_m: float = SNAP_M) -> list[LineString]:
    """Node lines so that connectivity is exactly shared vertices (see the module's rule).

    Parameters
    ----------
    geoms : sequence of LineString
        WGS84 lines (already checked: finite, at least two distinct points).
    levels : sequence of int
        The level of each line (0 at grade, > 0 bridges, < 0 tunnels).
    snap_m : float
        An end this close to another line (metres) is joined to it.

    Returns
    -------
    list of LineString
        The same lines, in the same order, rounded to :data:`PRECISION_DEG`,
        with crossing points and T-junctions inserted as vertices.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> a = LineString([(118.0, 24.0), (118.002, 24.0)])
    >>> b = LineString([(118.001, 23.999), (118.001, 24.001)])
    >>> [len(g.coords) for g in node_lines([a, b], [0, 0])]
    [3, 3]
    >>> [len(g.coords) for g in node_lines([a, b], [0, 1])]  # b is a bridge over a
    [2, 2]
    """
    lev = np.asarray(levels, dtype=np.int64)
    n = len(geoms)
    if n == 0:
        return []
    # Round every line at once; drop repeated consecutive points.
    xy, line_of = shapely.get_coordinates(np.asarray(list(geoms), dtype=object), return_index=True)
    xy = np.round(xy, 7)
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = (line_of[1:] != line_of[:-1]) | np.any(xy[1:] != xy[:-1], axis=1)
    xy, line_of = xy[keep], line_of[keep]
    counts = np.bincount(line_of, minlength=n)
    if (counts < 2).any():
        bad = int(np.flatnonzero(counts < 2)[0])
        raise ValueError(f"line {bad} has fewer than two distinct points")
    arr = shapely.linestrings(xy, indices=line_of)
    starts = np.cumsum(counts) - counts
    first_xy, last_xy = xy[starts], xy[starts + counts - 1]
    tol = snap_m / _M_PER_DEG
    tree = shapely.STRtree(arr)
    i, j = tree.query(arr, predicate="dwithin", distance=tol)
    pair = i < j
    i, j = i[pair], j[pair]
    targets: list[np.ndarray] = []
    points: list[np.ndarray] = []

    # Crossings of lines of the same level: the intersection's points go into both.
    same = lev[i] == lev[j]
    si, sj = i[same], j[same]
    if len(si):
        inter = shapely.intersection(arr[si], arr[sj])
        ixy, which = shapely.get_coordinates(inter, return_index=True)
        ixy = np.round(ixy, 7)
        targets += [si[which], sj[which]]
        points += [ixy, ixy]
    # Ends of a line on another line: same level, or the other line at grade.
    for a_idx, b_idx in ((i, j), (j, i)):
        ok = (lev[a_idx] == lev[b_idx]) | (lev[b_idx] == 0)
        a_idx, b_idx = a_idx[ok], b_idx[ok]
        if not len(a_idx):
            continue
        for ends_of in (first_xy, last_xy):
            ends = ends_of[a_idx]
            near = shapely.distance(shapely.points(ends), arr[b_idx]) <= tol
            targets.append(b_idx[near])
            points.append(ends[near])
    out = list(shapely.get_parts(arr)) if n else []
    if not targets:
        return out
    tgt = np.concatenate(targets)
    pts = np.concatenate(points).reshape(-1, 2)
    # A point within the snap distance of an existing vertex becomes that vertex, so that noding
    # lines already noded changes nothing (a re-import) and near-misses meet at one point.
    verts = np.unique(xy, axis=0)
    dist, idx = cKDTree(verts).query(pts, k=1, distance_upper_bound=tol)
    hit = np.isfinite(dist)
    pts[hit] = verts[idx[hit]]
    # Only points that are not yet vertices of their line.
    cand = pd.DataFrame({"k": tgt, "x": pts[:, 0], "y": pts[:, 1]}).drop_duplicates()
    have = pd.DataFrame({"k": line_of, "x": xy[:, 0], "y": xy[:, 1], "_v": True}).drop_duplicates(["k", "x", "y"])
    cand = cand.merge(have, on=["k", "x", "y"], how="left")
    cand = cand[cand["_v"].isna()].sort_values("k", kind="stable")
    for k, grp in cand.groupby("k", sort=True):
        kk = int(k)  # type: ignore[call-overload]
        line = xy[starts[kk]:starts[kk] + counts[kk]]
        out[kk] = LineString(_insert(line, grp[["x", "y"]].to_numpy()))
    return out
