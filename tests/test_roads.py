"""Roads as data: noding (connectivity is exactly shared vertices), the
pedestrian tag rule, OpenStreetMap extracts in XML and PBF (generated here with
pyosmium), validation named by row, and the command line's formats."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString

from grid import coverage as cv
from grid import network as nw
from grid.errors import ValidationError
from grid.ingest import import_file, read_source
from grid.roads import node_lines, osm_level, osm_walkable
from tests.actors import OP

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grid", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


# --------------------------------------------------------------------------- noding
def _coords(g: LineString) -> set[tuple[float, float]]:
    return {tuple(c) for c in g.coords}


def test_lines_crossing_at_grade_share_the_crossing_vertex() -> None:
    a = LineString([(118.0, 24.0), (118.002, 24.0)])
    b = LineString([(118.001, 23.999), (118.001, 24.001)])
    na, nb = node_lines([a, b], [0, 0])
    shared = _coords(na) & _coords(nb)
    assert len(shared) == 1
    (x, y), = shared
    assert shapely.Point(x, y).distance(shapely.intersection(a, b)) < 1e-7
    # Lines stay whole: the same ends, one vertex more each.
    assert na.coords[0] == a.coords[0] and na.coords[-1] == a.coords[-1] and len(na.coords) == 3


def test_a_bridge_is_not_joined_where_it_crosses_but_at_its_ends() -> None:
    street = LineString([(118.0, 24.0), (118.002, 24.0)])
    bridge = LineString([(118.001, 23.999), (118.001, 24.001)])
    ramp = LineString([(118.001, 24.001), (118.003, 24.001)])  # the bridge's end meets the ground here
    ns, nb, nr = node_lines([street, bridge, ramp], [0, 1, 0])
    assert not (_coords(ns) & _coords(nb))
    assert _coords(nb) & _coords(nr) == {(118.001, 24.001)}
    # A tunnel under the street, likewise.
    ns2, nt = node_lines([street, bridge], [0, -1])
    assert not (_coords(ns2) & _coords(nt))


def test_a_dangling_end_within_half_a_metre_joins_the_line_a_t_junction() -> None:
    street = LineString([(118.0, 24.0), (118.002, 24.0)])
    lane = LineString([(118.001, 24.0 + 0.3 / 111_320), (118.001, 24.001)])  # stops 0.3 m short
    far = LineString([(118.0015, 24.0 + 2.0 / 111_320), (118.0015, 24.001)])  # 2 m short: a real gap
    ns, nl, nf = node_lines([street, lane, far], [0, 0, 0])
    assert _coords(ns) & _coords(nl) == {tuple(np.round(lane.coords[0], 7))}
    assert not (_coords(ns) & _coords(nf))


def test_noding_is_idempotent() -> None:
    rng = np.random.default_rng(3)
    lines = [LineString(118 + rng.uniform(0, 0.01, (4, 2))) for _ in range(30)]
    once = node_lines(lines, [0] * 30)
    twice = node_lines(once, [0] * 30)
    assert all(shapely.equals_exact(a, b, 0.0) for a, b in zip(once, twice, strict=True))
    # Every crossing of two lines is a vertex of both.
    for i in range(30):
        for j in range(i + 1, 30):
            for p in shapely.get_parts(shapely.intersection(lines[i], lines[j])):
                if p.geom_type == "Point":
                    near = [min(math.dist(p.coords[0], c) for c in g.coords) for g in (once[i], once[j])]
                    assert max(near) <= 0.5 / 111_320 + 1e-7  # the crossing, or a vertex within the snap


# --------------------------------------------------------------------------- tag rule
@pytest.mark.parametrize(("tags", "walkable"), [
    ({"highway": "footway"}, True),
    ({"highway": "steps"}, True),
    ({"highway": "residential"}, True),
    ({"highway": "service"}, True),
    ({"highway": "living_street"}, True),
    ({"highway": "tertiary"}, True),  # no sidewalk tag: sidewalks assumed (Chinese streets)
    ({"highway": "primary", "sidewalk": "both"}, True),
    ({"highway": "primary", "sidewalk": "no"}, False),
    ({"highway": "secondary", "sidewalk": "separate"}, False),  # the sidewalk is its own footway
    ({"highway": "secondary", "sidewalk:left": "yes", "sidewalk:right": "no"}, True),
    ({"highway": "trunk"}, False),
    ({"highway": "trunk", "sidewalk": "right"}, True),
    ({"highway": "motorway"}, False),
    ({"highway": "motorway", "foot": "yes"}, True),
    ({"highway": "cycleway"}, False),
    ({"highway": "cycleway", "foot": "designated"}, True),
    ({"highway": "residential", "access": "private"}, False),
    ({"highway": "service", "access": "private", "foot": "yes"}, True),
    ({"highway": "footway", "foot": "no"}, False),
    ({"highway": "primary", "foot": "use_sidepath"}, False),
])
def test_the_pedestrian_tag_rule(tags: dict[str, str], walkable: bool) -> None:
    assert osm_walkable(tags) is walkable


def test_strict_sidewalks_and_non_roads() -> None:
    assert osm_walkable({"highway": "tertiary"}, assume_sidewalks=False) is False
    assert osm_walkable({"highway": "tertiary", "sidewalk": "both"}, assume_sidewalks=False) is True
    assert osm_walkable({"highway": "construction"}) is None
    assert osm_walkable({"building": "yes"}) is None
    assert osm_level({"tunnel": "building_passage"}) == 0
    assert osm_level({"bridge": "yes", "layer": "2"}) == 2


# --------------------------------------------------------------------------- OSM files
def _write_osm(path: Path) -> None:
    import osmium
    from osmium.osm import mutable

    nodes = {1: (118.080, 24.480), 2: (118.082, 24.480), 3: (118.084, 24.480),  # an east-west street
             4: (118.082, 24.478), 5: (118.082, 24.482),  # a north-south street crossing it at node 2
             6: (118.083, 24.478), 7: (118.083, 24.482),  # a footbridge over the street (no shared node)
             8: (118.086, 24.480), 9: (118.088, 24.480), 10: (118.090, 24.480)}
    with osmium.SimpleWriter(str(path)) as w:
        for nid, loc in nodes.items():
            w.add_node(mutable.Node(id=nid, location=loc))
        w.add_way(mutable.Way(id=100, nodes=[1, 2, 3], tags={"highway": "residential", "name": "中山路",
                                                             "name:zh": "中山路"}))
        w.add_way(mutable.Way(id=101, nodes=[4, 2, 5], tags={"highway": "tertiary", "name": "思明南路"}))
        w.add_way(mutable.Way(id=102, nodes=[6, 7], tags={"highway": "footway", "bridge": "yes", "layer": "1"}))
        w.add_way(mutable.Way(id=103, nodes=[3, 8], tags={"highway": "motorway"}))
        w.add_way(mutable.Way(id=104, nodes=[8, 9], tags={"highway": "service", "access": "private"}))
        w.add_way(mutable.Way(id=105, nodes=[9, 10], tags={"highway": "footway", "foot": "no"}))
        w.add_way(mutable.Way(id=106, nodes=[1, 4], tags={"highway": "construction"}))
        w.add_way(mutable.Way(id=107, nodes=[5, 99], tags={"highway": "path"}))  # node 99 cut off
        w.add_way(mutable.Way(id=108, nodes=[3, 7], tags={"building": "yes"}))


@pytest.mark.parametrize("suffix", [".osm", ".osm.pbf"])
def test_an_osm_extract_imports_its_road_ways(fresh_store, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"extract{suffix}"
    _write_osm(path)
    rep = import_file(fresh_store, OP, "roads", path)
    assert rep.inserted == 6
    assert any("w107" in p.value for p in rep.notes)  # a way with too few located nodes is left out, noted
    got = fresh_store.query("SELECT road_id, kind, name, walkable, layer, ST_AsText(geom) AS wkt FROM roads"
                            " ORDER BY road_id").set_index("road_id")
    assert list(got.index) == ["w100", "w101", "w102", "w103", "w104", "w105"]
    assert got["walkable"].to_dict() == {"w100": True, "w101": True, "w102": True, "w103": False, "w104": False,
                                         "w105": False}
    assert got.loc["w102", "layer"] == 1 and got.loc["w100", "name"] == "中山路"
    net = nw.load_network(fresh_store)
    # The two streets share node 2; the footbridge touches neither.
    assert net.n_nodes == 5 + 2
    a = pd.DataFrame({"hh_id": ["a"], "x_m": [0.0], "y_m": [0.0]})
    xy = np.asarray(__import__("pyproj").Transformer.from_crs("EPSG:4326", fresh_store.metric_crs(),
                                                               always_xy=True).transform([118.0815, 118.0822],
                                                                                         [24.4801, 24.4810]))
    a = pd.DataFrame({"hh_id": ["a"], "x_m": [xy[0][0]], "y_m": [xy[1][0]]})
    st = pd.DataFrame({"station_id": ["s"], "type": ["clinic"], "x_m": [xy[0][1]], "y_m": [xy[1][1]],
                       "radius_m": [5000.0]})
    d = nw.walk_nearest(net, a, st, "clinic")
    assert d["status"].iloc[0] == "reached"
    assert d["distance_m"].iloc[0] > math.dist((xy[0][0], xy[1][0]), (xy[0][1], xy[1][1]))


def test_xml_and_pbf_give_the_same_roads(tmp_path: Path) -> None:
    _write_osm(tmp_path / "a.osm")
    _write_osm(tmp_path / "a.osm.pbf")
    x, p = read_source(tmp_path / "a.osm"), read_source(tmp_path / "a.osm.pbf")
    pd.testing.assert_frame_equal(x.frame, p.frame)
    assert all(shapely.equals_exact(g, h, 0.0) for g, h in zip(x.geoms or [], p.geoms or [], strict=True))


def test_a_broken_osm_file_is_a_clear_error(tmp_path: Path, fresh_store) -> None:
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"not an osm file at all")
    with pytest.raises(Exception, match="OpenStreetMap"):
        import_file(fresh_store, OP, "roads", bad)


# --------------------------------------------------------------------------- validation
def _geojson(path: Path, feats: list[tuple[object, dict]]) -> Path:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": geom} for geom, props in feats]}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_every_bad_line_is_named_by_row_and_nothing_is_written(db, tmp_path: Path) -> None:
    lon, lat = db.query("SELECT avg(ST_X(ST_Centroid(geom))) x, avg(ST_Y(ST_Centroid(geom))) y FROM cells").iloc[0]
    ok = {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.001, lat]]}
    path = _geojson(tmp_path / "roads.geojson", [
        (ok, {"道路编号": "A1", "道路名称": "好路"}),                                               # row 1 fine
        ({"type": "LineString", "coordinates": [[lon, lat]]}, {"道路编号": "A2"}),                 # 2 broken
        ({"type": "LineString", "coordinates": [[lon, lat], [lon, lat]]}, {"道路编号": "A3"}),     # 3 zero length
        ({"type": "LineString", "coordinates": [[lon, lat], [lon + 0.5, lat]]}, {"道路编号": "A4"}),  # 4 far out
        (ok, {"道路编号": "A1"}),                                                                 # 5 duplicate
        ({"type": "Point", "coordinates": [lon, lat]}, {"道路编号": "A6"}),                        # 6 not a line
        ({"type": "LineString", "coordinates": [[lon, lat], [lon, lat + 0.001]]}, {"道路编号": "A7", "可步行": "也许"}),
    ])
    before = db.count("roads")
    with pytest.raises(ValidationError) as err:
        import_file(db, OP, "roads", path, mode="insert")
    by_row = {p.row: p for p in err.value.problems}
    assert set(by_row) == {2, 3, 4, 5, 6, 7}
    assert by_row[3].field == "geometry" and "零" in by_row[3].zh
    assert "辖区" in by_row[4].zh
    assert by_row[5].field == "道路编号" and "重复" in by_row[5].zh
    assert "线" in by_row[6].zh
    assert by_row[7].field == "可步行"
    assert db.count("roads") == before


def test_a_geojson_network_imports_noded_and_reimports_unchanged(fresh_store, tmp_path: Path) -> None:
    path = _geojson(tmp_path / "r.geojson", [
        ({"type": "LineString", "coordinates": [[118.0, 24.0], [118.002, 24.0]]}, {"id": "a", "fclass": "primary"}),
        ({"type": "LineString", "coordinates": [[118.001, 23.999], [118.001, 24.001]]},
         {"id": "b", "fclass": "footway"}),
        ({"type": "LineString", "coordinates": [[118.0015, 23.999], [118.0015, 24.001]]},
         {"id": "c", "fclass": "trunk", "bridge": "T"}),
    ])
    rep = import_file(fresh_store, OP, "roads", path)
    assert rep.inserted == 3
    got = fresh_store.query("SELECT road_id, walkable, layer, ST_NPoints(geom) AS n FROM roads ORDER BY road_id")
    assert got["walkable"].tolist() == [True, True, False]
    assert got["layer"].tolist() == [0, 0, 1]
    assert got["n"].tolist() == [3, 3, 2]
    again = import_file(fresh_store, OP, "roads", path, mode="upsert")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    # A later file crossing a stored road gives it the crossing vertex too.
    more = _geojson(tmp_path / "more.geojson", [
        ({"type": "LineString", "coordinates": [[118.0005, 23.999], [118.0005, 24.001]]}, {"id": "d"})])
    rep2 = import_file(fresh_store, OP, "roads", more)
    assert rep2.inserted == 1 and any("交叉" in p.zh for p in rep2.notes)
    assert fresh_store.scalar("SELECT ST_NPoints(geom) FROM roads WHERE road_id = 'a'") == 4


# --------------------------------------------------------------------------- command line
def test_roads_import_command(tmp_path: Path, district_file) -> None:
    import shutil

    path = tmp_path / "db.duckdb"
    shutil.copyfile(district_file[0], path)
    src = tmp_path / "x.osm"
    _write_osm(src)
    r = _run("roads", "import", str(src), "--db", str(path), "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["dry_run"] and doc["inserted"] == 6
    bad = _geojson(tmp_path / "bad.geojson", [({"type": "Point", "coordinates": [118.0, 24.0]}, {"id": "p"})])
    r = _run("roads", "import", str(bad), "--db", str(path))
    assert r.returncode == 1 and "LineString" in r.stderr


def test_nearest_csv_has_one_line_per_active_household(district_file, store) -> None:
    path, _ = district_file
    r = _run("nearest", "--db", str(path), "--station-type", "party_service", "--distance", "walk", "--csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["hh_id", "station_id", "distance_m"]
    hh = cv.load_households(store)
    assert [row[0] for row in rows[1:]] == sorted(hh["hh_id"])
    net = nw.load_network(store)
    lib = nw.walk_nearest(net, hh, cv.load_stations(store), "party_service").set_index("hh_id")
    for h, s, d in rows[1:]:
        if lib.loc[h, "status"] == "reached":
            assert s == lib.loc[h, "station_id"] and abs(float(d) - lib.loc[h, "distance_m"]) <= 0.05
        else:
            assert s == "" and d == ""


def test_nearest_of_a_type_without_stations_is_empty_fields(db) -> None:
    with db.transaction() as cur:
        cur.execute("DELETE FROM stations WHERE type = 'clinic'")
    active = db.scalar("SELECT count(*) FROM households WHERE status = 'active'")
    db.close()  # the command needs the file to itself
    r = _run("nearest", "--db", str(db.path), "--station-type", "clinic", "--csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["hh_id", "station_id", "distance_m"] and len(rows) == 1 + active
    assert all(row[1:] == ["", ""] for row in rows[1:])


def test_gaps_and_coverage_default_to_walking_where_there_is_a_network(district_file, store) -> None:
    path, _ = district_file
    r = _run("gaps", "--db", str(path), "--station-type", "party_service", "--csv")
    assert r.returncode == 0, r.stderr
    ids = [row[0] for row in csv.reader(io.StringIO(r.stdout))]
    assert ids[0] == "hh_id"
    net = nw.load_network(store)
    hh, st = cv.load_households(store), cv.load_stations(store)
    want = cv.station_gaps(hh, st, "party_service", distance="walk", network=net)["hh_id"].tolist()
    assert ids[1:] == want
    straight = cv.station_gaps(hh, st, "party_service")["hh_id"].tolist()
    assert set(straight) < set(want)
    r = _run("coverage", "--db", str(path), "--json")
    doc = json.loads(r.stdout)
    assert doc["distance"] == "walk" and doc["network"]["edges"] == net.n_edges
    party = next(g for g in doc["station_gaps"] if g["type"] == "party_service")
    assert party["households_outside"] == len(want)
    assert party["straight_vs_walk"]["covered_straight"] == len(hh) - len(straight)
    assert "直线高估" in party["sentence"]
    r = _run("coverage", "--db", str(path), "--distance", "straight", "--json")
    assert next(g for g in json.loads(r.stdout)["station_gaps"] if g["type"] == "party_service")[
        "households_outside"] == len(straight)


def test_exported_roads_reimport_unchanged(db, tmp_path: Path) -> None:
    from grid.export import export_table

    out = tmp_path / "roads.geojson"
    n = export_table(db, OP, "roads", out)
    assert n == db.count("roads") > 0
    rep = import_file(db, OP, "roads", out, mode="upsert")
    assert (rep.inserted, rep.updated, rep.unchanged) == (0, 0, n)


def test_the_demo_streets_are_stored_as_the_importer_would_store_them(store) -> None:
    """Already noded (noding again changes nothing), and the one elevated road touches no street."""
    roads = nw.load_roads(store, walkable_only=False)
    geoms = list(shapely.from_wkb([bytes(b) for b in roads["wkb"]]))
    again = node_lines(geoms, roads["layer"].to_numpy())
    assert all(shapely.equals_exact(a, b, 0.0) for a, b in zip(geoms, again, strict=True))
    assert set(roads.loc[~roads["walkable"], "kind"]) == {"trunk"}
    bridges = roads[roads["layer"] != 0]
    assert len(bridges) >= 2
