"""The province on Spark gives the single-machine product's numbers.

The small session district (tests/conftest.py: 3,000 households, 3 streets, with
roads) is exported with ``parquet export``; Spark (``local[2]``, one session for
the module) runs the coverage street by street; the reference is the product's
own functions run on the whole district straight from the database
(:func:`grid.coverage.station_gaps`, :func:`grid.coverage.nearest_stations`,
:func:`grid.network.walk_distances`, :func:`grid.coverage.gap_summary`), never
the partitioned files. The same comparison at 50,000 households is in
``bench/province.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import shapely

from grid.assistance import gini
from grid.coverage import gap_summary, load_cells, load_households, load_stations, nearest_stations, station_gaps
from grid.errors import WarmGridError
from grid.hotspots import cell_values, gi_star, weights
from grid.network import load_network, load_roads, walk_distances
from grid.parquet_io import LAYERS, export_store, read_meta, read_partition
from tests.sparking import ensure_java

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

PERMUTATIONS = 99


def _read(folder: Path) -> pd.DataFrame:
    part = ds.partitioning(pa.schema([("street_code", pa.string())]), flavor="hive")
    df = ds.dataset(str(folder), format="parquet", partitioning=part).to_table().to_pandas()
    return df.astype({c: object for c in df.columns if df[c].dtype != bool and df[c].dtype.kind not in "fi"})


@pytest.fixture(scope="module")
def export(store, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("province") / "parquet"
    return out, export_store(store, out)


@pytest.fixture(scope="module")
def spark():
    problem = ensure_java()
    if problem:
        pytest.fail(problem)
    from grid.spark_job import spark_session

    session = spark_session("local[2]", shuffle_partitions=4)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def straight(export, spark, tmp_path_factory) -> tuple[Path, dict, pd.DataFrame]:
    from grid.spark_job import run_coverage

    out = tmp_path_factory.mktemp("result") / "straight"
    lines: list[str] = []
    summary = run_coverage(export[0], out, spark=spark, permutations=PERMUTATIONS, say=lines.append)
    summary["_lines"] = lines
    return out, summary, _read(out / "household_coverage")


@pytest.fixture(scope="module")
def walking(export, spark, tmp_path_factory) -> tuple[Path, dict, pd.DataFrame]:
    from grid.spark_job import run_coverage

    out = tmp_path_factory.mktemp("result") / "walk"
    summary = run_coverage(export[0], out, spark=spark, distance="walk", permutations=PERMUTATIONS,
                           say=lambda s: None)
    return out, summary, _read(out / "household_coverage")


# --------------------------------------------------------------------------- the files
def test_every_household_is_in_exactly_one_street_partition_readable_by_duckdb_and_geopandas(store, export):
    root, meta = export
    active = store.scalar("SELECT count(*) FROM households WHERE status = 'active'")
    assert meta["households"] == active
    con = duckdb.connect()
    rows = con.execute("SELECT street_code, count(*), count(DISTINCT hh_id) FROM read_parquet(?, hive_partitioning"
                       " = true, hive_types = {'street_code': 'VARCHAR'}) GROUP BY street_code ORDER BY 1",
                       [str(root / "households" / "*" / "*.parquet")]).fetchall()
    assert sum(r[1] for r in rows) == active == sum(r[2] for r in rows)
    assert [r[0] for r in rows] == sorted(meta["streets"])
    expected = store.query("SELECT coalesce(a.parent_code, 'none') AS street, count(*) AS n FROM households h"
                           " LEFT JOIN cells c USING (cell_id) LEFT JOIN admin_units a ON a.code = c.community_code"
                           " WHERE h.status = 'active' GROUP BY 1 ORDER BY 1")
    assert {r[0]: r[1] for r in rows} == dict(zip(expected["street"], expected["n"], strict=True))
    first = root / "households" / f"street_code={rows[0][0]}" / "part-0.parquet"
    geo = json.loads(pq.read_schema(first).metadata[b"geo"])
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    gdf = gpd.read_parquet(first)
    # No "crs" in the metadata: GeoParquet's default, longitude/latitude on WGS84.
    assert "crs" not in geo["columns"]["geometry"] and gdf.crs == "OGC:CRS84"
    assert (gdf.geometry.geom_type == "Point").all()
    for layer in LAYERS:
        assert (root / layer).is_dir(), layer


def test_each_partition_holds_every_station_and_road_within_the_halo_of_its_street(store, export):
    root, meta = export
    halo = meta["halo_m"]
    assert halo == max(load_stations(store)["radius_m"]) + 500.0
    hh = load_households(store)
    st = load_stations(store)
    roads = load_roads(store, walkable_only=False)
    crs = store.metric_crs()
    road_m = gpd.GeoSeries(shapely.from_wkb([bytes(b) for b in roads["wkb"]]), crs="EPSG:4326").to_crs(crs)
    for street in meta["streets"]:
        mine = read_partition(root, "households", street, geometry=False)
        xy = hh.set_index("hh_id").loc[mine["hh_id"], ["x_m", "y_m"]].to_numpy()
        # Brute force: the nearest household of the street to every station.
        d = np.sqrt(((st[["x_m", "y_m"]].to_numpy()[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
        held = set(read_partition(root, "stations", street, geometry=False)["station_id"])
        assert set(st.loc[d <= halo, "station_id"]) <= held
        pts = shapely.multipoints(xy)
        near_roads = set(roads.loc[shapely.distance(road_m.to_numpy(), pts) <= halo, "road_id"])
        assert near_roads <= set(read_partition(root, "roads", street, geometry=False)["road_id"])


# --------------------------------------------------------------------------- same numbers
def _merge(result: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    m = result.merge(ref, on=["hh_id", "station_type"], how="outer", suffixes=("", "_ref"), indicator=True)
    assert (m["_merge"] == "both").all(), "every household and type in both"
    return m


def test_straight_line_coverage_on_spark_equals_the_single_machine_product(store, export, straight):
    halo = export[1]["halo_m"]
    hh, st = load_households(store), load_stations(store)
    gaps = station_gaps(hh, st)
    near = nearest_stations(hh, st).rename(columns={"type": "station_type"})
    outside = set(zip(gaps["hh_id"], gaps["type"], strict=True))
    near["covered"] = [(h, t) not in outside for h, t in zip(near["hh_id"], near["station_type"], strict=True)]
    m = _merge(straight[2], near)
    assert len(m) == len(hh) * st["type"].nunique()
    assert (m["covered"] == m["covered_ref"]).all()
    # By the straight line every partition holds each household's nearest station, however far.
    assert (m["status"] == "reached").all()
    assert (m["nearest_station_id"] == m["station_id"]).all()
    assert np.abs(m["distance_m"] - m["distance_m_ref"]).max() <= 1e-6
    assert (m["distance_m_ref"] > halo).any(), "some nearest stations lie beyond the halo"


def test_walking_coverage_on_spark_equals_the_single_machine_product(store, export, walking):
    halo = export[1]["halo_m"]
    hh, st = load_households(store), load_stations(store)
    ref = walk_distances(load_network(store), hh, st).rename(columns={"type": "station_type"})
    ref = ref.astype({"station_type": object, "station_id": object, "status": object})
    m = _merge(walking[2], ref)
    assert (m["covered"] == m["covered_ref"]).all()
    exact = (m["status_ref"] == "reached") & (m["distance_m_ref"] <= halo)
    assert (m.loc[exact, "status"] == "reached").all()
    assert (m.loc[m["status_ref"] == "off_network", "status"] == "off_network").all()
    assert (m.loc[~exact & (m["status_ref"] != "off_network"), "status"] == "beyond_halo").all()
    assert (m.loc[exact, "nearest_station_id"] == m.loc[exact, "station_id"]).all()
    assert np.abs(m.loc[exact, "distance_m"] - m.loc[exact, "distance_m_ref"]).max() <= 1e-6
    assert m["covered"].sum() > 0 and (~m["covered"]).sum() > 0
    assert walking[1]["distance"] == "walk"


def _reference_cells(store) -> pd.DataFrame:
    hh, st = load_households(store), load_stations(store)
    gaps = station_gaps(hh, st)
    s = gap_summary(hh, gaps, by="cell_id")
    return s[s["cell_id"].notna()].rename(columns={"type": "station_type"})


def test_per_cell_counts_and_the_global_pass_equal_the_single_machine_product(store, straight):
    out, summary, _ = straight
    ref = _reference_cells(store)
    got = _read(out / "cell_coverage").rename(columns={"unit_code": "cell_id"})
    m = got.merge(ref, on=["cell_id", "station_type"], how="left", suffixes=("", "_ref"))
    with_gaps = m["outside_ref"].notna()
    for c in ("households", "vulnerable", "outside", "vulnerable_outside"):
        assert (m.loc[with_gaps, c] == m.loc[with_gaps, c + "_ref"]).all(), c
    assert (m.loc[~with_gaps, "outside"] == 0).all()  # a type no household is out of reach of, anywhere
    assert set(zip(ref["cell_id"], ref["station_type"], strict=True)) <= set(zip(m["cell_id"], m["station_type"],
                                                                                 strict=True))
    # Gini per type and Gi* of the party-service share out of reach, on the reference table.
    full = m.assign(share=np.where(with_gaps, m["share_outside_ref"], 0.0))
    for t, part in full.groupby("station_type"):
        assert summary["gini_share_outside"][t] == pytest.approx(gini(part["share"].to_numpy()), abs=1e-12)
    cells = load_cells(store, metric=True)
    party = full[full["station_type"] == "party_service"].assign(share_outside=lambda d: d["share"])
    values = cell_values(party, "share_outside", cells["cell_id"])
    res = gi_star(values, weights(cells[cells["cell_id"].isin(set(values.index))]), permutations=PERMUTATIONS,
                  seed=0, fdr=0.10)
    hot = pq.read_table(out / "cell_hotspots").to_pandas()
    assert hot["cell_id"].tolist() == res["cell_id"].tolist()
    assert hot["class"].tolist() == res["class"].tolist()
    assert summary["hotspots"]["classes"] == {c: int((res["class"] == c).sum()) for c in summary["hotspots"]["classes"]}


def test_a_line_per_finished_street_and_the_totals_in_the_summary(store, export, straight):
    out, summary, rows = straight
    streets = export[1]["streets"]
    assert len([s for s in summary["_lines"] if "完成" in s and "done" in s]) == len(streets)
    for street in streets:
        assert any(street in s for s in summary["_lines"])
    party = next(e for e in summary["station_gaps"] if e["type"] == "party_service")
    assert party["households"] == len(load_households(store))
    assert party["outside"] == int((~rows.loc[rows["station_type"] == "party_service", "covered"]).sum())
    on_disk = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["station_gaps"] == summary["station_gaps"]
    assert not list(out.parent.glob(".straight.*")), "no staging folder left behind"


def test_a_rerun_writes_the_same_rows_and_no_duplicates(export, spark, straight):
    from grid.spark_job import run_coverage

    out, _, first = straight
    run_coverage(export[0], out, spark=spark, permutations=PERMUTATIONS, say=lambda s: None)
    again = _read(out / "household_coverage")
    assert not again.duplicated(["hh_id", "station_type"]).any()
    key = ["hh_id", "station_type"]
    a = first.sort_values(key).reset_index(drop=True)
    b = again.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[sorted(a.columns)], b[sorted(b.columns)])


def test_a_failed_street_fails_the_job_naming_it_and_leaves_the_previous_result(export, spark, straight,
                                                                                  tmp_path):
    from grid.spark_job import run_coverage

    bad = tmp_path / "bad"
    shutil.copytree(export[0], bad)
    street = read_meta(bad)["streets"][1]
    part = bad / "stations" / f"street_code={street}" / "part-0.parquet"
    pq.write_table(pq.read_table(part).drop(["radius_m"]), part)  # a partition that cannot be analysed
    out = tmp_path / "out"
    shutil.copytree(straight[0], out)
    before = (out / "summary.json").read_bytes()
    with pytest.raises(WarmGridError) as err:
        run_coverage(bad, out, spark=spark, permutations=PERMUTATIONS, say=lambda s: None)
    assert street in err.value.zh and street in err.value.en
    assert (out / "summary.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "out"]


# --------------------------------------------------------------------------- the command line
def test_the_command_line_help_does_not_start_spark():
    code = ("import sys; from grid import cli; cli._parser().parse_args(['province', 'coverage', '--parquet', 'x',"
            " '--out', 'y']); print('pyspark' in sys.modules, 'grid.spark_job' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.stdout.split() == ["False", "False"]


def test_coverage_of_a_folder_that_is_not_an_export_says_what_to_run(tmp_path, capsys):
    from grid.cli import CliIO, main

    io = CliIO.direct()
    io.forward = False
    status = main(["province", "coverage", "--parquet", str(tmp_path), "--out", str(tmp_path / "o")], io=io)
    err = capsys.readouterr().err
    assert status == 1 and "parquet export" in err and "不是暖网导出" in err


# --------------------------------------------------------------------------- the synthetic province
def test_a_generated_province_is_districts_far_apart_in_the_same_layout(tmp_path):
    from grid.province_gen import generate_province

    meta = generate_province(tmp_path / "prov", 3_000, seed=3, per_district=1_500)
    root = tmp_path / "prov"
    assert meta["districts"] == 2 and meta["households"] == 3_000
    hh = pd.concat([read_partition(root, "households", s, geometry=False).assign(street=s) for s in meta["streets"]])
    assert len(hh) == 3_000 and hh["hh_id"].is_unique
    # Every street belongs to one district (its code's county) and so does every station in its halo.
    for street in meta["streets"]:
        st = read_partition(root, "stations", street, geometry=False)
        tags = {i[:4] for i in hh.loc[hh["street"] == street, "hh_id"]}
        assert len(tags) == 1 and {i[:4] for i in st["station_id"]} <= tags
    assert {s[:6] for s in meta["streets"]} == {"350101", "350102"}
    assert read_meta(root)["halo_m"] == meta["halo_m"]
    # jobs=2: the two districts in two worker processes give, file for file, what one process wrote.
    two = generate_province(tmp_path / "two", 3_000, seed=3, per_district=1_500, jobs=2)
    files = sorted(p.relative_to(root) for p in root.rglob("*.parquet"))
    assert files == sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.parquet"))
    assert len(files) >= 2 * len(LAYERS)
    for rel in files:
        assert pq.read_table(root / rel).equals(pq.read_table(tmp_path / "two" / rel)), rel
    assert read_meta(root) == read_meta(tmp_path / "two")
    assert 0 < two["peak_district_rss_mb"] < 2_000  # each district's worker reports its own peak
    with pytest.raises(WarmGridError, match="jobs"):
        generate_province(tmp_path / "bad", 3_000, jobs=0)



def test_a_district_worker_killed_fails_the_province_naming_it_and_writes_nothing(tmp_path):
    """A worker the kernel kills (as the OOM killer would) is an error naming the district; no folder is left."""
    import os
    import signal
    import threading
    import time

    from grid.province_gen import generate_province

    def children() -> set[int]:  # this process's spawned workers (not multiprocessing's resource tracker)
        pids: set[int] = set()
        for task in Path("/proc/self/task").iterdir():
            for pid in (task / "children").read_text().split():
                try:
                    if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        pids.add(int(pid))
                except OSError:
                    continue
        return pids

    before = children()
    killed: list[int] = []

    def kill_first_worker() -> None:
        end = time.monotonic() + 120
        while time.monotonic() < end and not killed:
            new = children() - before
            if new:
                # Soon after it appears, long before the province is done (2.5 s here): a worker that had
                # already finished every district by the time it was killed (a fixed 1 s wait on a fast
                # machine) would fail nothing. Killed while starting or working, its district fails.
                time.sleep(0.1)
                pid = min(new)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_worker, daemon=True)
    killer.start()
    with pytest.raises(WarmGridError, match=r"district \d+ failed; nothing was written") as err:
        generate_province(tmp_path / "prov", 3_000, seed=3, per_district=1_000, jobs=2)
    killer.join(5)
    assert killed, "a worker was started and killed"
    assert "区生成失败" in err.value.args[0]
    assert not (tmp_path / "prov").exists() and list(tmp_path.iterdir()) == []
