"""``python -m grid``: JSON and CSV outputs equal the library's, errors are clear."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from grid import coverage as cv
from grid.cli import main
from tests.actors import EVERYTHING

ROOT = Path(__file__).resolve().parent.parent


def _process(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m grid ARGS`` as its own process: the program as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "grid", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """The same command in this process (:func:`grid.cli.main` on its own streams): what it prints and its
    exit status, without an interpreter start per call. The tests that need a process of its own (the
    entry point, progress on the real stderr, a file another process holds) use :func:`_process`."""
    from grid.cli import CliIO

    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(list(args), io=CliIO.direct(stdin=io.StringIO(""), stdout=out, stderr=err))
    except SystemExit as exc:  # a usage error
        code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(["grid", *args], code, out.getvalue(), err.getvalue())


def test_coverage_json_equals_the_library(district_file, store) -> None:
    path, _ = district_file
    r = _process("coverage", "--db", str(path), "--as-of", "2026-11-15", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    lib = cv.coverage_report(store, as_of=__import__("datetime").date(2026, 11, 15), scope=EVERYTHING)
    assert doc["households"] == lib["households"]
    assert doc["station_gaps"] == lib["station_gaps"]
    assert doc["wardens"]["cells_without_warden"] == lib["wardens"]["cells_without_warden"]
    assert doc["visits"] == lib["visits"]
    assert abs(doc["patrol_cover"]["fraction_of_area"] - lib["patrol_cover"]["fraction_of_area"]) < 1e-12
    assert "NaN" not in r.stdout


def test_gaps_csv_lists_every_household_out_of_reach(district_file, store) -> None:
    path, _ = district_file
    r = _run("gaps", "--db", str(path), "--station-type", "clinic", "--radius", "250", "--distance", "straight",
             "--csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["hh_id"]
    ids = [row[0] for row in rows[1:]]
    assert ids == cv.station_gaps_sql(store, "clinic", 250.0)
    assert len(ids) > 0


def test_unknown_station_type_is_a_usage_error(district_file, capsys) -> None:
    path, _ = district_file
    try:
        main(["gaps", "--db", str(path), "--station-type", "spaceport"])
    except SystemExit as e:
        assert e.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_missing_database_fails_in_both_languages(tmp_path: Path) -> None:
    r = _run("coverage", "--db", str(tmp_path / "none.duckdb"))
    assert r.returncode == 1
    assert "数据库文件不存在" in r.stderr and "database file not found" in r.stderr


def test_demo_builds_and_refuses_to_overwrite(tmp_path: Path) -> None:
    p = tmp_path / "demo.duckdb"
    r = _process("demo", "--db", str(p), "--households", "400", "--seed", "3", "--communities", "4",
             "--streets", "2")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["households"] == 400
    assert "%]" in r.stderr  # progress went to stderr
    r2 = _run("demo", "--db", str(p), "--households", "400")
    assert r2.returncode == 1 and "already exists" in r2.stderr


def test_reading_a_database_a_running_app_holds_fails_clearly(tmp_path: Path) -> None:
    from grid.store import open_store

    p = tmp_path / "held.duckdb"
    holder = open_store(p)  # as the app does: one process holds the file for writing
    try:
        r = _process("coverage", "--db", str(p))
        assert r.returncode == 1
        assert "held by another process" in r.stderr
    finally:
        holder.close()


def test_import_and_export_round_trip_through_the_cli(district_file, tmp_path: Path) -> None:
    import shutil

    db = tmp_path / "db.duckdb"
    shutil.copyfile(district_file[0], db)
    out = tmp_path / "stations.xlsx"
    r = _run("export", "stations", "--db", str(db), "--out", str(out), "--crs", "gcj02")
    assert r.returncode == 0, r.stderr
    assert "exported" in r.stderr
    # Re-import the GCJ-02 file as GCJ-02: nothing changes (upsert), and the report says so.
    r = _run("import", "stations", str(out), "--db", str(db), "--crs", "gcj02", "--mode", "upsert", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["inserted"] == 0 and doc["updated"] == 0 and doc["unchanged"] == doc["rows"] > 0
    assert "站点编号 -> station_id" in r.stderr  # the header mapping is shown before importing


def test_import_refusal_exits_non_zero_with_the_report(district_file, tmp_path: Path) -> None:
    import shutil

    db = tmp_path / "db.duckdb"
    shutil.copyfile(district_file[0], db)
    bad = tmp_path / "hh.csv"
    bad.write_text("户编号,地址,人口数,经度,纬度\nZ1,某路1号,0,118.08,24.48\nZ2,,2,abc,24.48\n", encoding="utf-8")
    r = _run("import", "households", str(bad), "--db", str(db), "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    rows = {(p["行 row"], p["字段 field"]) for p in doc["problems"]}
    assert (2, "人口数") in rows and (3, "地址") in rows and (3, "经度") in rows
    assert "database is unchanged" in r.stderr
    r = _run("import", "households", str(bad), "--db", str(db), "--dry-run")
    assert r.returncode == 1 and "hh.csv 第2行" in r.stderr


def test_audit_json_lists_every_omission_and_duplicate(district_file, district) -> None:
    path, _ = district_file
    r = _run("audit", "--db", str(path), "--campaign", "C2025W", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert sorted({d["hh_id"] for d in doc["duplicates"]}) == district.planted_duplicates
    assert sorted({o["hh_id"] for o in doc["omissions"] if o["reason"] == "not_helped"}) == district.planted_omissions
    r = _run("audit", "--db", str(path), "--campaign", "NOPE", "--json")
    assert r.returncode == 1 and "NOPE" in r.stderr


def test_plan_json_assigns_every_target_once(district_file, tmp_path: Path) -> None:
    import shutil

    from grid.campaigns import campaign_frames
    from grid.store import open_store

    db = tmp_path / "db.duckdb"
    shutil.copyfile(district_file[0], db)
    with open_store(db, read_only=True) as s:
        street = str(s.scalar("SELECT min(code) FROM admin_units WHERE level = 'street'"))
        targets = set(campaign_frames(s, "C2026W", street, scope=EVERYTHING).targets["hh_id"])
    r = _run("plan", "--db", str(db), "--campaign", "C2026W", "--area", street, "--min", "1", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    planned = [h for v in doc["visitors"] for h in v["hh_ids"]]
    assert sorted(planned) == sorted(targets) and len(planned) == len(set(planned))
    assert doc["plan_id"] and doc["total_m"] == pytest.approx(sum(v["route_m"] for v in doc["visitors"]), abs=1.0)
    r = _run("plan", "--db", str(db), "--campaign", "C2026W", "--area", street, "--min", "100000", "--json")
    assert r.returncode == 1 and "visitor" in r.stderr


def test_assistance_and_hotspots_json(district_file, store) -> None:
    path, _ = district_file
    total = float(store.scalar("SELECT sum(amount_yuan + goods_value_yuan) FROM assistance"))
    for by in ("cell", "street", "h3:8"):
        r = _run("assistance", "--db", str(path), "--by", by, "--json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert sum(u["total_yuan"] for u in doc["units"]) == pytest.approx(total)
        assert 0 <= doc["gini_per_vulnerable"] < 1
    a = _run("hotspots", "--db", str(path), "--measure", "total_yuan", "--seed", "3", "--permutations", "199",
             "--json")
    b = _run("hotspots", "--db", str(path), "--measure", "total_yuan", "--seed", "3", "--permutations", "199",
             "--json")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout  # the same seed gives the same classes
    doc = json.loads(a.stdout)
    # Cells that hold households are tested; an empty cell (nobody to help) is left out, not counted as 0 —
    # the same values the leader's page tests (grid.hotspots.cell_values, one function for both).
    from grid.assistance import load_assistance_inputs, measures
    from grid.hotspots import cell_values

    hh, aid = load_assistance_inputs(store)
    want = cell_values(measures(hh, aid, "cell"), "total_yuan", store.query("SELECT cell_id FROM cells")["cell_id"])
    with_households = int(store.scalar("SELECT count(DISTINCT cell_id) FROM households WHERE status = 'active'"
                                       " AND cell_id IS NOT NULL"))
    assert sum(doc["classes"].values()) == len(doc["cells"]) == len(want) == with_households
    assert {c["cell_id"]: c["value"] for c in doc["cells"]} == pytest.approx(want.to_dict())
    r = _run("hotspots", "--db", str(path), "--measure", "nonsense")
    assert r.returncode == 1 and "unknown measure" in r.stderr


def test_bulletin_files(district_file, tmp_path: Path) -> None:
    path = _copy(district_file, tmp_path)  # the bulletin writes its audit row: not into the session's district
    for suffix in (".xlsx", ".pdf", ".docx"):
        out = tmp_path / f"通报{suffix}"
        r = _run("bulletin", "--db", str(path), "--unit", "350203000000", "--from", "2025-11-01", "--to",
                 "2026-02-28", "--campaign", "C2025W", "--out", str(out))
        assert r.returncode == 0, r.stderr
        assert out.stat().st_size > 1000
    assert (tmp_path / "通报.pdf").read_bytes().startswith(b"%PDF")
    r = _run("bulletin", "--db", str(path), "--unit", "350203000000", "--from", "2025-11-01", "--to",
             "2026-02-28", "--out", str(tmp_path / "x.odt"))
    assert r.returncode == 1 and ".docx" in r.stderr and ".pdf" in r.stderr
    assert (tmp_path / "通报.docx").read_bytes()[:2] == b"PK"


# ------------------------------------------------------------------ refusals that were tracebacks, and leaks
def _copy(district_file, tmp_path: Path) -> Path:
    import shutil

    db = tmp_path / "db.duckdb"
    shutil.copyfile(district_file[0], db)
    return db


def test_a_file_with_a_header_and_no_rows_says_so(district_file, tmp_path: Path) -> None:
    from openpyxl import Workbook

    db = _copy(district_file, tmp_path)
    csv_file = tmp_path / "空.csv"
    csv_file.write_text("户编号,地址,人口数,经度,纬度\n", encoding="utf-8")
    wb = Workbook()
    wb.active.append(["记录编号", "户编号", "走访时间"])  # type: ignore[union-attr]
    xlsx_file = tmp_path / "空.xlsx"
    wb.save(xlsx_file)
    for kind, f in (("households", csv_file), ("visits", xlsx_file), ("cells", csv_file)):
        r = _run("import", kind, str(f), "--db", str(db))
        assert r.returncode == 1, r.stderr
        assert f"{f.name} 没有数据行" in r.stderr and f"no rows: {f.name}" in r.stderr
        assert "Traceback" not in r.stderr and "Exception" not in r.stderr


def test_export_audit_log_to_xlsx_opens(district_file, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from grid.store import open_store

    db = _copy(district_file, tmp_path)
    with open_store(db) as s:
        with s.transaction() as cur:
            cur.execute("INSERT INTO audit_log (username, action, object) VALUES ('cli', 'export', 'x.csv')")
        n = s.count("audit_log")
        assert s.scalar("SELECT count(*) FROM audit_log WHERE row_count IS NULL") > 0
    out = tmp_path / "x.xlsx"
    r = _run("export", "audit_log", "--db", str(db), "--out", str(out))
    assert r.returncode == 0, r.stderr
    rows = list(load_workbook(out).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][:3] == ("序号", "时间", "用户") and len(rows) == n + 1  # Chinese headers (grid.labels)


def test_export_users_never_writes_a_password_hash(district_file, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = _copy(district_file, tmp_path)  # each export writes its audit row
    for suffix in (".csv", ".xlsx"):
        out = tmp_path / f"users{suffix}"
        r = _run("export", "users", "--db", str(path), "--out", str(out))
        assert r.returncode == 0, r.stderr
        assert b"$argon2" not in out.read_bytes()
    header = next(load_workbook(tmp_path / "users.xlsx").active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert "用户" in header and "密码摘要" not in header and "登录失败次数" not in header  # grid.labels headers
    for suffix in (".geojson", ".parquet"):
        r = _run("export", "users", "--db", str(path), "--out", str(tmp_path / f"users{suffix}"))
        assert r.returncode == 1 and "needs a geometry" in r.stderr
        assert not (tmp_path / f"users{suffix}").exists()


def test_import_a_zipped_gbk_shapefile_of_cells(district_file, tmp_path: Path) -> None:
    """A GBK .dbf without .cpg, in a folder of a zip: the CLI extracts it and detects the encoding."""
    import zipfile

    import geopandas as gpd
    import shapely

    from grid.store import open_store

    db = _copy(district_file, tmp_path)
    with open_store(db, read_only=True) as s:
        comm = str(s.scalar("SELECT min(code) FROM admin_units WHERE level = 'community'"))
        x, y = s.query("SELECT ST_X(ST_Centroid(geom)) x, ST_Y(ST_Centroid(geom)) y FROM cells LIMIT 1").iloc[0]
    names = ["鼓浪屿龙头路网格", "厦港沙坡尾网格"]
    gdf = gpd.GeoDataFrame({"网格编码": [comm + "981", comm + "982"], "网格名称": names, "社区代码": [comm, comm]},
                           geometry=[shapely.box(x, y, x + 0.001, y + 0.001), shapely.box(x, y + 0.001, x + 0.001,
                                                                                        y + 0.002)],
                           crs="EPSG:4326")
    folder = tmp_path / "shp"
    folder.mkdir()
    gdf.to_file(folder / "网格.shp", engine="pyogrio", encoding="GB18030")
    (folder / "网格.cpg").unlink(missing_ok=True)
    z = tmp_path / "网格.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"成果/{f.name}")
    r = _run("import", "cells", str(z), "--db", str(db), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["inserted"] == 2 and doc["encoding"] == "GB18030" and doc["file"] == "网格.zip/成果/网格.shp"
    with open_store(db, read_only=True) as s:
        got = s.query("SELECT name FROM cells WHERE cell_id IN (?, ?) ORDER BY cell_id", [comm + "981", comm + "982"])
    assert got["name"].tolist() == names


def test_import_refuses_a_zip_that_climbs_out(district_file, tmp_path: Path) -> None:
    import zipfile

    db = _copy(district_file, tmp_path)
    target = tmp_path / "x" / "PWNED.csv"
    target.parent.mkdir()
    target.write_text("户编号,地址,人口数,经度,纬度\nPWNED,服务器,1,118.09,24.48\n", encoding="utf-8")
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../" * 40 + str(target)[1:], "户编号\n")
    r = _run("import", "households", str(z), "--db", str(db))
    assert r.returncode == 1 and "unsafe" in r.stderr and "不安全" in r.stderr and "Traceback" not in r.stderr
    r = _run("import", "households", str(z), "--db", str(db), "--member", "../" * 40 + str(target)[1:])
    assert r.returncode == 1 and "unsafe" in r.stderr
