"""The demo district's street network: arterial roads and local streets on a
jittered lattice, gated estates whose inside paths are entered through one or
two gates, a hill park crossed by a few winding paths, a river crossed only at
a few bridges, and an elevated expressway (not walkable) that passes over the
streets without touching them. Deterministic per seed; built in local metres
(x east, y north, the district centred on 0) before :mod:`grid.demo` maps it
to lon/lat.

Examples
--------
>>> import numpy as np, shapely
>>> plan = street_plan(np.random.default_rng(1), shapely.box(-1500, -1000, 1500, 1000), 1200.0)
>>> sorted(set(plan.roads["kind"]))[:4]
['footway', 'path', 'primary', 'residential']
>>> bool(plan.roads["walkable"].all())
False
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
import shapely.ops
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = ["SPACING_M", "StreetPlan", "street_plan"]

#: Spacing of the street lattice (m): city-centre blocks.
SPACING_M = 110.0
#: Every n-th lattice line is an arterial road.
_ARTERIAL_EVERY = 5
_ARTERIALS = ["中山路", "思明南路", "厦禾路", "湖滨南路", "莲前西路", "嘉禾路", "禾祥西路", "文园路", "镇海路",
              "开元路", "鹭江道", "演武路", "前埔路", "莲岳路", "仙岳路", "斗西路", "民族路", "公园南路"]


@dataclass
class StreetPlan:
    """The street network in local metres and the areas where nobody lives."""

    roads: pd.DataFrame  # road_id, kind, name, walkable, layer, geom (local metres)
    barrier: BaseGeometry  # water and the hill park: no building stands there
    river: BaseGeometry
    park: BaseGeometry


def _river(rng: np.random.Generator, bounds: tuple[float, float, float, float], radius: float) -> Polygon:
    minx, miny, maxx, maxy = bounds
    x = np.linspace(minx - 200, maxx + 200, 80)
    y0 = miny + (maxy - miny) * rng.uniform(0.25, 0.4)
    wave = rng.uniform(0.05, 0.09) * radius * np.sin(2 * np.pi * x / (radius * rng.uniform(0.8, 1.2)) + rng.uniform(0, 6))
    width = max(50.0, 0.035 * radius)
    poly = LineString(np.column_stack([x, y0 + wave])).buffer(width / 2, cap_style="flat")
    assert isinstance(poly, Polygon)
    return poly


def _park(rng: np.random.Generator, district: BaseGeometry, river: BaseGeometry, radius: float) -> Polygon:
    minx, miny, maxx, maxy = district.bounds
    inner = district.buffer(-0.3 * radius)
    for _ in range(200):
        c = np.array([rng.uniform(minx, maxx), rng.uniform(miny + (maxy - miny) * 0.5, maxy)])
        if inner.contains(shapely.Point(c)) and shapely.Point(c).distance(river) > 0.35 * radius:
            break
    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    r = 0.2 * radius * rng.uniform(0.8, 1.2, 24)
    poly = Polygon(np.column_stack([c[0] + r * np.cos(ang) * 1.3, c[1] + r * np.sin(ang)]))
    out = poly.buffer(0)
    assert isinstance(out, Polygon)
    return out


def street_plan(rng: np.random.Generator, district: BaseGeometry, radius: float) -> StreetPlan:
    """Build the demo's street network for a district polygon (local metres).

    Parameters
    ----------
    rng : Generator
        The random source (the same state gives the same streets).
    district : Polygon
        The district, local metres.
    radius : float
        The district's nominal radius (m): barriers scale with it.
    """
    s = SPACING_M
    minx, miny, maxx, maxy = district.bounds
    nx = int(np.ceil((maxx - minx) / s)) + 3
    ny = int(np.ceil((maxy - miny) / s)) + 3
    gx, gy = np.meshgrid(minx - s + s * np.arange(nx), miny - s + s * np.arange(ny))
    xy = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-0.15 * s, 0.15 * s, (nx * ny, 2))
    gi, gj = np.meshgrid(np.arange(nx), np.arange(ny))
    ii, jj = gi.ravel(), gj.ravel()
    node = np.arange(nx * ny).reshape(ny, nx)
    river = _river(rng, (minx, miny, maxx, maxy), radius)
    park = _park(rng, district, river, radius)
    area = district.buffer(0.5 * s)
    shapely.prepare(area)
    alive = shapely.contains_xy(area, xy[:, 0], xy[:, 1])
    alive &= ~shapely.contains_xy(river, xy[:, 0], xy[:, 1]) & ~shapely.contains_xy(park, xy[:, 0], xy[:, 1])

    # Gated estates: 3x3-block squares between arterials, about a quarter of the candidates.
    estate_of = np.full(nx * ny, -1)
    estates: list[tuple[int, int]] = []
    for j0 in range(1, ny - 4, 3):
        for i0 in range(1, nx - 4, 3):
            inner = [(i, j) for j in (j0 + 1, j0 + 2) for i in (i0 + 1, i0 + 2)]
            if any(i % _ARTERIAL_EVERY == 0 or j % _ARTERIAL_EVERY == 0 for i, j in inner):
                continue
            corners = [node[j, i] for j in (j0, j0 + 3) for i in (i0, i0 + 3)]
            if not alive[corners].all() or rng.random() > 0.5:
                continue
            block = node[j0:j0 + 4, i0:i0 + 4].ravel()
            if not alive[block].all():
                continue
            for i, j in inner:
                estate_of[node[j, i]] = len(estates)
            estates.append((i0, j0))
    alive_street = alive & (estate_of < 0)

    rows: list[tuple[str, str | None, bool, int, LineString]] = []
    # Lattice edges (streets): east-west and north-south neighbours.
    for a, b, along in ((node[:, :-1].ravel(), node[:, 1:].ravel(), "row"),
                        (node[:-1, :].ravel(), node[1:, :].ravel(), "col")):
        ok = alive_street[a] & alive_street[b]
        a, b = a[ok], b[ok]
        idx = jj[a] if along == "row" else ii[a]
        arterial = idx % _ARTERIAL_EVERY == 0
        lines = shapely.linestrings(np.stack([xy[a], xy[b]], axis=1))
        crosses = shapely.intersects(lines, river) | shapely.intersects(lines, park)
        # A few local streets are missing (dead ends, irregular blocks).
        drop = ~arterial & (rng.random(len(a)) < 0.08)
        for k in np.flatnonzero(~crosses & ~drop):
            art = bool(arterial[k])
            kind = ("primary" if (idx[k] // _ARTERIAL_EVERY) % 2 == 0 else "secondary") if art else "residential"
            name = _ARTERIALS[(idx[k] // _ARTERIAL_EVERY + (0 if along == "row" else 7)) % len(_ARTERIALS)] \
                if art else None
            rows.append((kind, name, True, 0, lines[k]))
    # Bridges: on arterial columns, from the last street node south of the river to the first north of it.
    for i in range(0, nx, _ARTERIAL_EVERY):
        col = node[:, i]
        wet = shapely.contains_xy(river, xy[col, 0], xy[col, 1])
        line = shapely.linestrings(xy[col])
        if not shapely.intersects(line, river):
            continue
        cross = shapely.intersects(shapely.linestrings(np.stack([xy[col[:-1]], xy[col[1:]]], axis=1)), river)
        first = int(np.argmax(cross))
        south = first
        north = first + 1
        while north < len(col) and wet[north]:
            north += 1
        if north >= len(col) or not (alive_street[col[south]] and alive_street[col[north]]):
            continue
        if (i // _ARTERIAL_EVERY) % 2 == 1:
            continue  # every other arterial: a bridge about every 1.1 km
        name = _ARTERIALS[(i // _ARTERIAL_EVERY + 7) % len(_ARTERIALS)].rstrip("路道") + "桥"
        rows.append(("primary", name, True, 1, LineString([xy[col[south]], xy[col[north]]])))
    # Estates: a 5x5 lattice of inside paths, joined to the street at one or two gates.
    for e, (i0, j0) in enumerate(estates):
        c00, c10 = xy[node[j0, i0]], xy[node[j0, i0 + 3]]
        c01, c11 = xy[node[j0 + 3, i0]], xy[node[j0 + 3, i0 + 3]]
        f = np.arange(1, 6) / 6.0
        fu, fv = np.meshgrid(f, f)
        pts = ((1 - fu) * (1 - fv))[..., None] * c00 + (fu * (1 - fv))[..., None] * c10 \
            + ((1 - fu) * fv)[..., None] * c01 + (fu * fv)[..., None] * c11
        name = f"第{e + 1}小区内部道路"
        for r in range(5):
            rows.append(("footway", name, True, 0, LineString(pts[r, :, :])))
            rows.append(("footway", name, True, 0, LineString(pts[:, r, :])))
        sides = [(pts[0, 1], node[j0, i0 + 1]), (pts[4, 3], node[j0 + 3, i0 + 2]),
                 (pts[1, 0], node[j0 + 1, i0]), (pts[3, 4], node[j0 + 2, i0 + 3])]
        for g in rng.choice(4, int(rng.integers(1, 3)), replace=False):
            inside, street = sides[int(g)]
            if alive_street[street]:
                rows.append(("service", f"第{e + 1}小区大门", True, 0, LineString([inside, xy[street]])))
    # The hill park: two or three winding paths between street nodes on its edge.
    ring = np.flatnonzero(alive_street & (shapely.distance(shapely.points(xy), park) < 0.8 * s))
    ring = ring[shapely.distance(shapely.points(xy[ring]), park) > 0]
    centre = np.asarray(park.centroid.coords[0])
    if len(ring) >= 4:
        ang = np.arctan2(xy[ring, 1] - centre[1], xy[ring, 0] - centre[0])
        paths = []
        for a0 in rng.uniform(0, np.pi, int(rng.integers(2, 4))):
            p = ring[np.argmin(np.abs(np.angle(np.exp(1j * (ang - a0)))))]
            q = ring[np.argmin(np.abs(np.angle(np.exp(1j * (ang - a0 - np.pi)))))]
            if p == q:
                continue
            t = np.linspace(0, 1, 12)
            mid = xy[p] + (xy[q] - xy[p]) * t[:, None]
            normal = np.array([-(xy[q] - xy[p])[1], (xy[q] - xy[p])[0]]) / max(np.hypot(*(xy[q] - xy[p])), 1)
            bend = np.sin(np.pi * t)[:, None] * normal * rng.uniform(-0.25, 0.25) * np.hypot(*(xy[q] - xy[p])) \
                + np.sin(3 * np.pi * t)[:, None] * normal * 25.0
            paths.append(LineString(mid + bend))
        from grid.roads import node_lines

        # Paths in the park may cross one another: node them (at grade) as the importer would.
        for g in node_lines(paths, [0] * len(paths), snap_m=0.0):
            rows.append(("path", "公园步道", True, 0, g))
    # An elevated expressway over everything: stored, not walkable, touching no street.
    ang = rng.uniform(0.2, 0.6)
    half = 2 * radius
    c = np.asarray(district.centroid.coords[0]) + rng.uniform(-0.2, 0.2, 2) * radius
    exp = LineString([c - half * np.array([np.cos(ang), np.sin(ang)]), c + half * np.array([np.cos(ang), np.sin(ang)])])
    exp_in = exp.intersection(district.buffer(-s))
    if exp_in.geom_type == "LineString" and not exp_in.is_empty:
        # Its ends must touch no street (an elevated end on a street would join it): pull them back if need be.
        streets = shapely.STRtree(np.asarray([r[4] for r in rows], dtype=object))
        lo, hi = 0.0, float(exp_in.length)
        for _ in range(50):
            ends = shapely.points([exp_in.interpolate(lo).coords[0], exp_in.interpolate(hi).coords[0]])
            near = [len(streets.query(e, predicate="dwithin", distance=2.0)) > 0 for e in ends]
            if not any(near):
                break
            lo, hi = lo + 7.0 * near[0], hi - 7.0 * near[1]
        rows.append(("trunk", "成功大道（高架）", False, 1, shapely.ops.substring(exp_in, lo, hi)))
    roads = pd.DataFrame(rows, columns=["kind", "name", "walkable", "layer", "geom"])
    roads.insert(0, "road_id", [f"R{i + 1:06d}" for i in range(len(roads))])
    return StreetPlan(roads=roads, barrier=shapely.union(river, park).intersection(district.buffer(500)),
                      river=river, park=park)
