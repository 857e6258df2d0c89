"""Importing the files people really have: every malformed case is refused with
its row, field and reason, and the database is exactly as it was; good files
round-trip through every export format."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from grid import crs as crs_mod
from grid.errors import ValidationError, WarmGridError
from grid.export import export_table, table_frame
from grid.ingest import auto_mapping, detect_encoding, import_file, read_source
from grid.store import TABLES, Store, open_store
from tests.actors import OP

HH_HEAD = ["户编号", "户主姓名", "身份证号", "联系电话", "地址", "人口数", "类别", "经度", "纬度"]


def _id(body17: str) -> str:
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body17 + "10X98765432"[sum(int(c) * k for c, k in zip(body17, w, strict=True)) % 11]


GOOD_ID = _id("35020319561203001")


def checksums(store: Store) -> dict[str, str]:
    out = {}
    for t in (*TABLES, "warmgrid_meta"):
        out[t] = store.scalar(
            f"SELECT md5(coalesce(string_agg(CAST(x AS VARCHAR), '|' ORDER BY CAST(x AS VARCHAR)), '')) FROM {t} x")
    return out


@pytest.fixture(scope="module")
def spots(district) -> list[tuple[float, float]]:
    """Points of existing households: inside the district."""
    hh = district.households
    return list(zip(hh["lon"].head(20), hh["lat"].head(20), strict=True))


def hh_rows(spots: list[tuple[float, float]], n: int = 3) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        lon, lat = spots[i]
        rows.append({"户编号": f"X{i + 1:04d}", "户主姓名": f"测试{i}", "身份证号": _id(f"3502031956120300{i}"),
                     "联系电话": f"1380013800{i}", "地址": f"中山路{i + 1}号", "人口数": str(2 + i % 3),
                     "类别": "城市低保、残疾" if i % 2 == 0 else "", "经度": repr(lon), "纬度": repr(lat)})
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8", header: list[str] | None = None) -> Path:
    df = pd.DataFrame(rows, columns=header or list(rows[0]))
    path.write_bytes(df.to_csv(index=False).encode(encoding))
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def write_xls(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A legacy .xls file (written with xlwt), households' headers."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("住户")
    for j, h in enumerate(HH_HEAD):
        ws.write(0, j, h)
    for i, r in enumerate(rows, start=1):
        for j, h in enumerate(HH_HEAD):
            ws.write(i, j, r[h])
    wb.save(str(path))
    return path


def write_geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def expect_refused(db: Store, kind: str, path: Path, row: int | None, field: str, reason: str,
                   **kw: Any) -> ValidationError:
    before = checksums(db)
    with pytest.raises(ValidationError) as err:
        import_file(db, OP, kind, path, **kw)
    hits = [p for p in err.value.problems if p.row == row and field in p.field and reason in (p.zh + " " + p.en)]
    assert hits, f"expected row {row} / {field} / {reason!r}; got:\n" + "\n".join(map(str, err.value.problems))
    assert all(p.where == path.name for p in err.value.problems)
    assert checksums(db) == before, "a refused import changed the database"
    return err.value


# ------------------------------------------------------------------ households CSV: field by field
def _bad_households(field: str, value: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def change(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[1][field] = value
        return rows
    return change


CSV_CASES = [
    # (id, field to spoil in data row 2 (spreadsheet row 3), value, reported field, reason)
    ("empty id", "户编号", "", "户编号", "empty"),
    ("id check digit", "身份证号", GOOD_ID[:-1] + ("0" if GOOD_ID[-1] != "0" else "1"), "身份证号", "check"),
    ("id birth date", "身份证号", _id("35020319561303001"), "身份证号", "birth"),
    ("id length", "身份证号", "35020319561203", "身份证号", ""),
    ("id excel float", "身份证号", "3.50203195612030e+17", "身份证号", "number"),
    ("id letters", "身份证号", "35020319561203ABCD", "身份证号", ""),
    ("phone short", "联系电话", "13800", "联系电话", ""),
    ("phone float", "联系电话", "1.38001e+10", "联系电话", "number"),
    ("phone text", "联系电话", "无", "联系电话", ""),
    ("size zero", "人口数", "0", "人口数", ""),
    ("size fraction", "人口数", "3.5", "人口数", ""),
    ("size text", "人口数", "许多", "人口数", ""),
    ("size too large", "人口数", "100", "人口数", ""),
    ("unknown category", "类别", "城市低保、外星人", "类别", "外星人"),
    ("lon not a number", "经度", "东经118度", "经度", "not a number"),
    ("lon nan", "经度", "nan", "经度", "NaN"),
    ("lon infinite", "经度", "inf", "经度", "NaN or infinite"),
    ("address empty", "地址", "  ", "地址", "empty"),
    ("size empty", "人口数", "", "人口数", "empty"),
]


@pytest.mark.parametrize(("case", "column", "value", "field", "reason"), CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_households_csv_field_cases(db, spots, tmp_path, case, column, value, field, reason) -> None:
    rows = _bad_households(column, value)(hh_rows(spots))
    expect_refused(db, "households", write_csv(tmp_path / "hh.csv", rows), 3, field, reason)


def test_unknown_status_is_refused(db, spots, tmp_path) -> None:
    rows = hh_rows(spots)
    for r in rows:
        r["状态"] = "在册"
    rows[2]["状态"] = "失联"
    expect_refused(db, "households", write_csv(tmp_path / "hh.csv", rows), 4, "状态", "allowed")


def test_missing_required_column(db, spots, tmp_path) -> None:
    rows = [{k: v for k, v in r.items() if k != "地址"} for r in hh_rows(spots)]
    expect_refused(db, "households", write_csv(tmp_path / "hh.csv", rows), None, "address", "missing")


def test_missing_coordinate_columns(db, spots, tmp_path) -> None:
    rows = [{k: v for k, v in r.items() if k not in ("经度", "纬度")} for r in hh_rows(spots)]
    expect_refused(db, "households", write_csv(tmp_path / "hh.csv", rows), None, "经度", "longitude and latitude")


def test_missing_latitude_value(db, spots, tmp_path) -> None:
    rows = hh_rows(spots)
    rows[0]["纬度"] = ""
    expect_refused(db, "households", write_csv(tmp_path / "hh.csv", rows), 2, "geometry", "missing")


def test_duplicate_ids_within_the_file(db, spots, tmp_path) -> None:
    rows = hh_rows(spots)
    rows[2]["户编号"] = rows[0]["户编号"]
    err = expect_refused(db, "households", write_csv(tmp_path / "hh.csv", rows), 4, "户编号", "row 2")
    assert "duplicate" in str(err)


def test_ids_already_in_the_database_in_insert_mode(db, spots, tmp_path) -> None:
    rows = hh_rows(spots)
    rows[1]["户编号"] = "H0000001"
    expect_refused(db, "households", write_csv(tmp_path / "hh.csv", rows), 3, "户编号", "already in the database")


def test_swapped_coordinates_are_reported_and_fixed_on_request(db, spots, tmp_path) -> None:
    rows = hh_rows(spots)
    rows[1]["经度"], rows[1]["纬度"] = rows[1]["纬度"], rows[1]["经度"]
    path = write_csv(tmp_path / "hh.csv", rows)
    expect_refused(db, "households", path, 3, "经度/纬度", "swapped")
    rep = import_file(db, OP, "households", path, fix_swaps=True)
    assert rep.inserted == 3
    assert any(n.row == 3 and "swapped" in n.en for n in rep.notes)
    lon = db.scalar("SELECT ST_X(geom) FROM households WHERE hh_id = 'X0002'")
    assert abs(lon - spots[1][0]) < 1e-9


@pytest.mark.parametrize(("lon", "lat", "reason"), [
    (0.0, 0.0, "outside mainland China"),
    (-73.98, 40.75, "outside mainland China"),
    (116.40, 39.90, "outside the district"),
])
def test_points_outside_are_refused(db, spots, tmp_path, lon, lat, reason) -> None:
    rows = hh_rows(spots)
    rows[0]["经度"], rows[0]["纬度"] = str(lon), str(lat)
    expect_refused(db, "households", write_csv(tmp_path / "hh.csv", rows), 2, "经度/纬度", reason)


def test_many_problems_are_reported_together(db, spots, tmp_path) -> None:
    rows = hh_rows(spots, 5)
    rows[0]["人口数"] = "0"
    rows[1]["身份证号"] = "123"
    rows[2]["类别"] = "无此类别"
    rows[3]["经度"] = "abc"
    err = expect_refused(db, "households", write_csv(tmp_path / "hh.csv", rows), 2, "人口数", "")
    assert {p.row for p in err.problems} >= {2, 3, 4, 5}


def test_undecodable_bytes_are_a_clear_error(db, tmp_path) -> None:
    p = tmp_path / "hh.csv"
    p.write_bytes(b"\xff\xfe\xfa\x80\x81 not text")
    before = checksums(db)
    with pytest.raises(WarmGridError, match="UTF-8"):
        import_file(db, OP, "households", p)
    assert checksums(db) == before


def test_unsupported_format(db, tmp_path) -> None:
    p = tmp_path / "hh.doc"
    p.write_text("x")
    with pytest.raises(WarmGridError, match="unsupported file format"):
        import_file(db, OP, "households", p)


# ------------------------------------------------------------------ spreadsheets
def test_xlsx_id_stored_as_a_number_names_the_cell(db, spots, tmp_path) -> None:
    rows = [list(r.values()) for r in hh_rows(spots)]
    for r in rows:
        r[5], r[7], r[8] = int(r[5]), float(r[7]), float(r[8])
    rows[1][2] = 350203195612030016  # Excel keeps 15 significant digits
    rows[1][2] = float(rows[1][2])
    expect_refused(db, "households", write_xlsx(tmp_path / "hh.xlsx", HH_HEAD, rows), 3, "身份证号", "number")


def test_xlsx_phone_stored_with_decimals(db, spots, tmp_path) -> None:
    rows = [list(r.values()) for r in hh_rows(spots)]
    rows[2][3] = 13800138000.5
    expect_refused(db, "households", write_xlsx(tmp_path / "hh.xlsx", HH_HEAD, rows), 4, "联系电话", "")


def test_xls_bad_size(db, spots, tmp_path) -> None:
    rows = hh_rows(spots)
    rows[0]["人口数"] = "-2"
    expect_refused(db, "households", write_xls(tmp_path / "hh.xls", rows), 2, "人口数", "")


def test_xls_good_file_imports(db, spots, tmp_path) -> None:
    assert import_file(db, OP, "households", write_xls(tmp_path / "hh.xls", hh_rows(spots))).inserted == 3


# ------------------------------------------------------------------ polygons
def _cell_feature(db: Store, cell_id: str, geometry: dict[str, Any] | None, community: str | None = None
                  ) -> dict[str, Any]:
    comm = community or db.scalar("SELECT min(code) FROM admin_units WHERE level = 'community'")
    return {"type": "Feature", "properties": {"网格编码": cell_id, "网格名称": "新网格", "社区代码": comm},
            "geometry": geometry}


def _square(db: Store, d: float = 0.001) -> list[list[float]]:
    lon, lat = db.query("SELECT ST_X(ST_Centroid(geom)) x, ST_Y(ST_Centroid(geom)) y FROM cells LIMIT 1").iloc[0]
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


def _comm(db: Store) -> str:
    return str(db.scalar("SELECT min(code) FROM admin_units WHERE level = 'community'"))


POLY_CASES = [
    ("not closed", lambda sq: {"type": "Polygon", "coordinates": [sq[:-1]]}, "not closed"),
    ("bow tie", lambda sq: {"type": "Polygon", "coordinates": [[sq[0], sq[2], sq[1], sq[3], sq[0]]]},
     "Self-intersection"),
    ("empty", lambda sq: {"type": "Polygon", "coordinates": []}, "empty"),
    ("point", lambda sq: {"type": "Point", "coordinates": sq[0]}, "wrong geometry type"),
    ("line", lambda sq: {"type": "LineString", "coordinates": sq[:3]}, "wrong geometry type"),
    ("nan", lambda sq: {"type": "Polygon", "coordinates": [[sq[0], [float("nan"), sq[1][1]], sq[2], sq[0]]]},
     "NaN"),
    ("missing", lambda sq: None, "missing"),
    ("too few points", lambda sq: {"type": "Polygon", "coordinates": [[sq[0], sq[1], sq[0]]]}, "fewer than 4"),
    ("outside china", lambda sq: {"type": "Polygon", "coordinates": [[[2, 48], [3, 48], [3, 49], [2, 48]]]},
     "outside mainland China"),
]


@pytest.mark.parametrize(("case", "make", "reason"), POLY_CASES, ids=[c[0] for c in POLY_CASES])
def test_cell_polygons(db, tmp_path, case, make, reason) -> None:
    comm = _comm(db)
    good = _cell_feature(db, comm + "901", {"type": "Polygon", "coordinates": [_square(db)]})
    bad = _cell_feature(db, comm + "902", make(_square(db, 0.002)))
    expect_refused(db, "cells", write_geojson(tmp_path / "cells.geojson", [good, bad]), 2, "geometry", reason)


def test_invalid_polygon_is_repaired_on_request_with_the_area_change(db, tmp_path) -> None:
    comm = _comm(db)
    sq = _square(db, 0.002)
    bow = {"type": "Polygon", "coordinates": [[sq[0], sq[2], sq[1], sq[3], sq[0]]]}
    path = write_geojson(tmp_path / "cells.geojson", [_cell_feature(db, comm + "903", bow)])
    rep = import_file(db, OP, "cells", path, repair=True)
    assert rep.inserted == 1
    assert any("area changed" in n.en and n.row == 1 for n in rep.notes)
    assert db.scalar(f"SELECT ST_IsValid(geom) FROM cells WHERE cell_id = '{comm}903'")


@pytest.mark.parametrize(("props", "field", "reason"), [
    ({"网格编码": "9999"}, "网格编码", "13-18 digits"),
    ({"网格编码": "ABC203001001001"}, "网格编码", "13-18 digits"),
    ({"网格编码": "350299999999001"}, "网格编码", "start with its community code"),
    ({"社区代码": "35020300100"}, "社区代码", "12 digits"),
    ({"网格名称": ""}, "网格名称", "empty"),
])
def test_cell_attributes(db, tmp_path, props, field, reason) -> None:
    f = _cell_feature(db, _comm(db) + "904", {"type": "Polygon", "coordinates": [_square(db)]})
    f["properties"].update(props)
    expect_refused(db, "cells", write_geojson(tmp_path / "cells.geojson", [f]), 1, field, reason)


def test_cells_need_geometries(db, tmp_path) -> None:
    p = write_csv(tmp_path / "cells.csv", [{"网格编码": _comm(db) + "905", "网格名称": "x", "社区代码": _comm(db)}])
    expect_refused(db, "cells", p, None, "geometry", "polygon geometries")


def test_geojson_that_is_not_a_feature_collection(db, tmp_path) -> None:
    p = tmp_path / "x.geojson"
    p.write_text(json.dumps({"type": "Polygon", "coordinates": []}))
    with pytest.raises(WarmGridError, match="FeatureCollection"):
        import_file(db, OP, "cells", p)


def _stations_gdf(db: Store, **change: Any) -> gpd.GeoDataFrame:
    lon, lat = db.query("SELECT ST_X(geom) x, ST_Y(geom) y FROM households LIMIT 1").iloc[0]
    row = {"站点编号": "SNEW1", "站点名称": "新卫生室", "站点类型": "卫生室", "服务半径": 300.0}
    row.update(change)
    return gpd.GeoDataFrame([row], geometry=[shapely.Point(lon, lat)], crs="EPSG:4326")


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"站点类型": "太空站"}, "站点类型", "allowed"),
    ({"服务半径": -100.0}, "服务半径", ""),
])
def test_shapefile_stations(db, tmp_path, change, field, reason) -> None:
    p = tmp_path / "stations.shp"  # GBK: four Chinese characters fit the 10-byte field names
    _stations_gdf(db, **change).to_file(p, encoding="GBK")
    expect_refused(db, "stations", p, 1, field, reason)


def test_patrol_route_line_is_the_wrong_type(db, tmp_path) -> None:
    sq = _square(db)
    gdf = gpd.GeoDataFrame([{"区域编号": "PNEW", "巡逻队": "新队"}], geometry=[shapely.LineString(sq[:3])],
                           crs="EPSG:4326")
    p = tmp_path / "patrol.gpkg"
    gdf.to_file(p, driver="GPKG")
    expect_refused(db, "patrol_areas", p, 1, "geometry", "wrong geometry type")


def test_geoparquet_point_outside_china(db, tmp_path) -> None:
    gdf = gpd.GeoDataFrame([{"户编号": "XP1", "户主姓名": "测试", "地址": "某地", "人口数": 2}], geometry=[shapely.Point(151.2, -33.9)],
                           crs="EPSG:4326")
    p = tmp_path / "hh.parquet"
    gdf.to_parquet(p)
    expect_refused(db, "households", p, 1, "经度/纬度", "outside mainland China")


# ------------------------------------------------------------------ other kinds
CAMPAIGN = {"活动编号": "C9", "活动名称": "春节慰问", "组织单位代码": "350203000000", "开始日期": "2026-11-01",
            "结束日期": "2027-02-28", "对象类别": "城市低保、特困", "预算": "10000"}


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"结束日期": "2026-10-01"}, "结束日期", "before the start"),
    ({"开始日期": "2026-02-30"}, "开始日期", ""),
    ({"预算": "-5"}, "预算", ""),
    ({"对象类别": "城市低保、富豪"}, "对象类别", "富豪"),
    ({"组织单位代码": "3502"}, "组织单位代码", "12 digits"),
])
def test_campaign_cases(db, tmp_path, change, field, reason) -> None:
    row = dict(CAMPAIGN)
    row.update(change)
    p = write_xlsx(tmp_path / "c.xlsx", list(row), [list(row.values())])
    expect_refused(db, "campaigns", p, 2, field, reason)


@pytest.mark.parametrize(("kind", "row", "field", "reason"), [
    ("visits", {"记录编号": "VX1", "户编号": "NOPE", "走访时间": "2026-03-01 10:00"}, "户编号", "no such household"),
    ("visits", {"记录编号": "VX1", "户编号": "H0000001", "走访时间": "1999-12-31"}, "走访时间", ""),
    ("visits", {"记录编号": "VX1", "户编号": "H0000001", "走访时间": "上周"}, "走访时间", ""),
    ("needs", {"诉求编号": "NX1", "户编号": "H0000001", "提出时间": "2026-03-05", "办结时间": "2026-03-01",
               "诉求类别": "就医"}, "办结时间", "resolved before"),
    ("needs", {"诉求编号": "NX1", "户编号": "H0000001", "提出时间": "2026-03-05", "诉求类别": "就医",
               "办理状态": "已解决"}, "办结时间", "resolution time"),
    ("needs", {"诉求编号": "NX1", "户编号": "H0000001", "提出时间": "2026-03-05", "诉求类别": "算命"},
     "诉求类别", "allowed"),
    ("assistance", {"记录编号": "AX1", "户编号": "H0000001", "项目": "情暖万家", "金额": "-500",
                    "发放时间": "2026-01-10", "发放单位": "街道"}, "金额", ""),
    ("assistance", {"记录编号": "AX1", "户编号": "H0000001", "项目": "情暖万家", "金额": "五百块",
                    "发放时间": "2026-01-10", "发放单位": "街道"}, "金额", ""),
    ("assistance", {"记录编号": "AX1", "户编号": "NOPE", "项目": "情暖万家", "金额": "500",
                    "发放时间": "2026-01-10", "发放单位": "街道"}, "户编号", "no such household"),
    ("assistance", {"记录编号": "AX1", "户编号": "H0000001", "项目": "情暖万家", "金额": "500",
                    "发放时间": "", "发放单位": "街道"}, "发放时间", "empty"),
    ("admin_units", {"区划代码": "350203009000", "名称": "新街道", "级别": "省"}, "级别", "allowed"),
    ("admin_units", {"区划代码": "350203009000", "名称": "新区", "级别": "区", "上级代码": "350200000000"},
     "上级代码", "no parent code"),
    ("people", {"人员编号": "PX1", "姓名": "钱八", "身份": "外卖员"}, "身份", "allowed"),
    ("people", {"人员编号": "PX1", "姓名": "钱八", "身份": "网格员", "联系电话": "12345"}, "联系电话", ""),
])
def test_record_kinds(db, tmp_path, kind, row, field, reason) -> None:
    expect_refused(db, kind, write_csv(tmp_path / f"{kind}.csv", [row]), 2, field, reason)


# ------------------------------------------------------------------ encodings and mapping
def test_encoding_detection() -> None:
    assert detect_encoding("户主,𠮷".encode()) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbf" + "户主".encode()) == "utf-8-sig"
    assert detect_encoding("户主".encode("gbk")) == "gb18030"
    assert detect_encoding("𠮷".encode("gb18030")) == "gb18030"


def test_gb18030_csv_with_rare_characters_arrives_intact(db, spots, tmp_path) -> None:
    rows = hh_rows(spots)
    rows[0]["户主姓名"] = "𠮷祥"
    rows[1]["地址"] = "䶮路𡃁号"
    p = write_csv(tmp_path / "hh.csv", rows, encoding="gb18030")
    rep = import_file(db, OP, "households", p)
    assert rep.encoding == "gb18030" and rep.inserted == 3
    assert db.scalar("SELECT head_name FROM households WHERE hh_id = 'X0001'") == "𠮷祥"
    assert db.scalar("SELECT address FROM households WHERE hh_id = 'X0002'") == "䶮路𡃁号"


def test_utf8_bom_csv(db, spots, tmp_path) -> None:
    p = write_csv(tmp_path / "hh.csv", hh_rows(spots), encoding="utf-8-sig")
    assert import_file(db, OP, "households", p).encoding == "utf-8-sig"


@pytest.mark.parametrize("with_cpg", [False, True])
def test_gbk_shapefile_arrives_intact(db, tmp_path, with_cpg) -> None:
    p = tmp_path / "stations.shp"
    _stations_gdf(db, 站点名称="鼓浪屿龙头路卫生室").to_file(p, encoding="GBK")
    if not with_cpg:
        p.with_suffix(".cpg").unlink(missing_ok=True)
    else:
        p.with_suffix(".cpg").write_text("GBK")
    import_file(db, OP, "stations", p)
    assert db.scalar("SELECT name FROM stations WHERE station_id = 'SNEW1'") == "鼓浪屿龙头路卫生室"


def test_header_mapping_handles_variants_and_overrides() -> None:
    cols = ["户号", "户主", "公民身份号码", "手机号码", "家庭住址", "家庭人口数", "救助类别", "Longitude", "LAT",
            "备注"]
    m = auto_mapping(cols, "households")
    assert m == {"户号": "hh_id", "户主": "head_name", "公民身份号码": "id_number", "手机号码": "phone",
                 "家庭住址": "address", "家庭人口数": "size", "救助类别": "categories", "Longitude": "lon",
                 "LAT": "lat"}
    m2 = auto_mapping(cols, "households", {"备注": "address", "家庭住址": ""})
    assert m2["备注"] == "address" and "家庭住址" not in m2
    with pytest.raises(WarmGridError):
        auto_mapping(cols, "households", {"备注": "no_such_field"})
    assert auto_mapping(["金额(元)", "发放日期"], "assistance") == {"金额(元)": "amount_yuan", "发放日期": "given_at"}


def test_declared_cell_that_disagrees_is_noted(db, spots, tmp_path) -> None:
    rows = hh_rows(spots)
    for r in rows:
        r["所属网格"] = "不存在的网格"
    rep = import_file(db, OP, "households", write_csv(tmp_path / "hh.csv", rows))
    assert len([n for n in rep.notes if "declared cell" in n.en]) == 3


# ------------------------------------------------------------------ coordinates
@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_offset_coordinates_are_converted_to_wgs84(db, spots, tmp_path, system) -> None:
    rows = hh_rows(spots)
    for r, (lon, lat) in zip(rows, spots, strict=False):
        x, y = crs_mod.from_wgs84(lon, lat, system)
        r["经度"], r["纬度"] = repr(float(x)), repr(float(y))
    import_file(db, OP, "households", write_csv(tmp_path / "hh.csv", rows), crs=system)
    got = db.query("SELECT hh_id, ST_X(geom) x, ST_Y(geom) y FROM households WHERE hh_id LIKE 'X%' ORDER BY hh_id")
    for (lon, lat), (x, y) in zip(spots, got[["x", "y"]].itertuples(index=False), strict=False):
        metres = np.hypot((x - lon) * 101_000, (y - lat) * 110_600)
        assert metres < 0.5


def test_projected_shapefile_is_converted(db, tmp_path) -> None:
    p = tmp_path / "stations.shp"
    _stations_gdf(db).to_crs("EPSG:4547").to_file(p, encoding="GBK")
    import_file(db, OP, "stations", p)
    lon, lat = db.query("SELECT ST_X(geom) x, ST_Y(geom) y FROM stations WHERE station_id='SNEW1'").iloc[0]
    want = _stations_gdf(db).geometry.iloc[0]
    assert abs(lon - want.x) < 1e-7 and abs(lat - want.y) < 1e-7


# ------------------------------------------------------------------ all or nothing, re-import, history
def test_dry_run_writes_nothing(db, spots, tmp_path) -> None:
    before = checksums(db)
    rep = import_file(db, OP, "households", write_csv(tmp_path / "hh.csv", hh_rows(spots)), dry_run=True)
    assert rep.dry_run and rep.inserted == 3
    assert checksums(db) == before


@pytest.mark.parametrize("where", ["refresh_derived", "audit"])
def test_a_failure_while_writing_rolls_everything_back(db, spots, tmp_path, monkeypatch, where) -> None:
    """The rows are in the table when the last step fails (the audit row, or recomputing the derived
    columns when the district has no metric CRS yet, as on the first import): nothing stays."""
    from grid import audit

    before = checksums(db)

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    if where == "refresh_derived":
        with db.transaction() as cur:
            cur.execute("DELETE FROM warmgrid_meta WHERE key = 'metric_crs'")
        before = checksums(db)
        monkeypatch.setattr(Store, "refresh_derived", boom)
    else:
        monkeypatch.setattr(audit, "record", boom)
    with pytest.raises(RuntimeError):
        import_file(db, OP, "households", write_csv(tmp_path / "hh.csv", hh_rows(spots)))
    monkeypatch.undo()
    assert checksums(db) == before


def test_reimport_changes_nothing_and_updates_change_rows_with_history(db, spots, tmp_path) -> None:
    path = write_csv(tmp_path / "hh.csv", hh_rows(spots))
    first = import_file(db, OP, "households", path)
    assert (first.inserted, first.updated) == (3, 0)
    assert db.scalar("SELECT count(*) FROM household_history WHERE change = 'added'") == 3
    after_first = checksums(db)
    again = import_file(db, OP, "households", path, mode="upsert")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    same = checksums(db)
    # The import log and the audit log record the second import; nothing else changes.
    logs = ("imports", "audit_log")
    assert {k: v for k, v in same.items() if k not in logs} == {k: v for k, v in after_first.items() if k not in logs}
    rows = hh_rows(spots)
    rows[0]["类别"] = "特困"
    rows[1]["人口数"] = "7"
    for r in rows:
        r["状态"] = "在册"
    rows[2]["状态"] = "退出"
    upd = import_file(db, OP, "households", write_csv(tmp_path / "hh2.csv", rows), mode="upsert")
    assert (upd.inserted, upd.updated) == (0, 3)
    assert db.scalar("SELECT categories FROM households WHERE hh_id='X0001'") == ["tekun"]
    assert db.scalar("SELECT size FROM households WHERE hh_id='X0002'") == 7
    hist = db.query("SELECT hh_id, change, old_value, new_value FROM household_history"
                    " WHERE change <> 'added' AND hh_id LIKE 'X%' ORDER BY hh_id, change")  # this file's rows
    assert hist.values.tolist() == [["X0001", "categories", "dibao_urban,disabled", "tekun"],
                                    ["X0003", "status", "active", "removed"]]
    assert db.count("imports") == 3


def test_cells_import_recomputes_household_cells(db, tmp_path) -> None:
    # Two neighbouring cells of one community: the second takes over the first's area.
    gone, keep = db.query(
        "SELECT a.cell_id, b.cell_id FROM cells a JOIN cells b ON a.community_code = b.community_code"
        " AND a.cell_id < b.cell_id AND ST_Intersects(a.geom, b.geom) ORDER BY a.cell_id, b.cell_id LIMIT 1"
    ).iloc[0]
    assert db.scalar("SELECT count(*) FROM households WHERE cell_id = ?", [gone]) > 0
    df, _ = table_frame(db, "cells")
    first = df[df["网格编码"] == gone].iloc[0]
    second = df[df["网格编码"] == keep].iloc[0]
    merged = shapely.union_all([first["geom"], second["geom"]])
    feat = {"type": "Feature", "geometry": json.loads(shapely.to_geojson(merged)),
            "properties": {"网格编码": keep, "网格名称": second["网格名称"], "社区代码": second["社区代码"]}}
    with db.transaction() as cur:
        cur.execute("DELETE FROM cells WHERE cell_id = ?", [gone])
    import_file(db, OP, "cells", write_geojson(tmp_path / "c.geojson", [feat]), mode="upsert")
    assert db.scalar("SELECT count(*) FROM households WHERE cell_id = ?", [gone]) == 0
    assert db.scalar("SELECT count(*) FROM households WHERE cell_id IS NULL") == 0


# ------------------------------------------------------------------ round trips
ROUND = [("admin_units", ".geojson"), ("admin_units", ".gpkg"), ("cells", ".gpkg"), ("cells", ".parquet"),
         ("cells", ".geojson"), ("households", ".csv"), ("households", ".xlsx"), ("households", ".geojson"),
         ("households", ".parquet"), ("stations", ".xlsx"), ("stations", ".gpkg"), ("patrol_areas", ".parquet"),
         ("people", ".csv"), ("campaigns", ".xlsx"), ("visits", ".csv"), ("needs", ".xlsx"),
         ("assistance", ".csv"), ("assistance", ".xlsx"), ("addresses", ".csv"), ("addresses", ".gpkg")]


def _content(store: Store, table: str) -> pd.DataFrame:
    from grid.ingest import KINDS

    spec = KINDS[table]
    cols = [f.name for f in spec.fields if f.store]
    geo = ", ST_AsText(ST_ReducePrecision(geom, 1e-9)) AS g" if spec.geometry else ""
    return store.query(f"SELECT {', '.join(cols)}{geo} FROM {table} ORDER BY {spec.key}")


@pytest.mark.parametrize(("table", "suffix"), ROUND, ids=[f"{t}{s}" for t, s in ROUND])
def test_export_then_import_gives_back_the_same_rows(db, tmp_path, table, suffix) -> None:
    path = tmp_path / f"{table}{suffix}"
    n = export_table(db, OP, table, path)
    assert n == db.count(table)
    fresh = open_store(tmp_path / "fresh.duckdb")
    try:
        # References first: visits, needs and assistance need their households.
        if table in ("visits", "needs", "assistance"):
            export_table(db, OP, "households", tmp_path / "hh.parquet")
            import_file(fresh, OP, "households", tmp_path / "hh.parquet")
        rep = import_file(fresh, OP, table, path)
        assert rep.inserted == n
        a, b = _content(db, table), _content(fresh, table)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
        assert import_file(fresh, OP, table, path, mode="upsert").unchanged == n
    finally:
        fresh.close()


def test_gcj02_export_for_amap_users(db, tmp_path) -> None:
    p = tmp_path / "st.csv"
    export_table(db, OP, "stations", p, crs="gcj02")
    df = pd.read_csv(p, dtype=str)
    wgs = db.query("SELECT ST_X(geom) x, ST_Y(geom) y FROM stations ORDER BY station_id")
    x, y = crs_mod.wgs84_to_gcj02(wgs["x"].to_numpy(), wgs["y"].to_numpy())
    assert np.allclose(df["经度"].astype(float), x, atol=1e-12) and np.allclose(df["纬度"].astype(float), y, atol=1e-12)
    offset = np.hypot((x - wgs["x"]) * 101_000, (y - wgs["y"]) * 110_600)
    assert (offset > 100).all()  # GCJ-02 really is offset by hundreds of metres


def test_xlsx_export_keeps_ids_and_phones_as_text(db, tmp_path) -> None:
    from openpyxl import load_workbook

    p = tmp_path / "hh.xlsx"
    export_table(db, OP, "households", p)
    ws = load_workbook(p).active
    assert ws is not None
    header = [c.value for c in ws[1]]
    for name in ("身份证号", "联系电话", "户编号"):
        col = header.index(name) + 1
        cell = ws.cell(row=2, column=col)
        assert isinstance(cell.value, str) and cell.number_format == "@"


def test_read_source_reports_format_and_rows(tmp_path, spots) -> None:
    src = read_source(write_csv(tmp_path / "hh.csv", hh_rows(spots)))
    assert src.format == "csv" and list(src.rows) == [2, 3, 4]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".geojson", ".gpkg", ".parquet"])
def test_analysis_results_export_in_every_format(store, tmp_path, suffix) -> None:
    from grid import coverage as cv
    from grid.export import export_bytes

    gaps = cv.station_gaps(cv.load_households(store), cv.load_stations(store), "clinic")
    frame = gaps[["hh_id", "cell_id", "vulnerable"]].assign(geometry=shapely.points(gaps["lon"], gaps["lat"]))
    data = export_bytes(frame, suffix, geometry="geometry")
    p = tmp_path / f"gaps{suffix}"
    p.write_bytes(data)
    back = read_source(p)
    assert len(back.frame) == len(gaps)
    assert set(back.frame["hh_id"]) == set(gaps["hh_id"])


# ------------------------------------------------------------------ control characters in every kind
def _visit(**change: str) -> dict[str, str]:
    return {"记录编号": "VX1", "户编号": "H0000001", "走访时间": "2026-03-01 10:00", "情况": "情况正常"} | change


def _need(**change: str) -> dict[str, str]:
    return {"诉求编号": "NX1", "户编号": "H0000001", "提出时间": "2026-03-05", "诉求类别": "就医",
            "诉求内容": "陪同就医"} | change


def _aid(**change: str) -> dict[str, str]:
    return {"记录编号": "AX1", "户编号": "H0000001", "项目": "情暖万家", "金额": "500", "物资": "大米",
            "发放时间": "2026-01-10", "发放单位": "街道"} | change


def _hh_csv(tmp_path: Path, spots: list[tuple[float, float]], column: str, value: str) -> Path:
    rows = hh_rows(spots)
    rows[1][column] = value  # spreadsheet row 3
    return write_csv(tmp_path / "hh.csv", rows)


CONTROL_CASES = [
    # (id, kind, file maker, row, field, code point)
    ("household name RLO", "households", lambda db, t, s: _hh_csv(t, s, "户主姓名", "测试\u202e1"), 3, "户主姓名",
     "U+202E"),
    ("household address NUL", "households", lambda db, t, s: _hh_csv(t, s, "地址", "中山路\x001号"), 3, "地址", "U+0000"),
    ("household id BEL", "households", lambda db, t, s: _hh_csv(t, s, "户编号", "X\x070002"), 3, "户编号", "U+0007"),
    ("household ID number LRI", "households", lambda db, t, s: _hh_csv(t, s, "身份证号", GOOD_ID + "\u2066"), 3,
     "身份证号", "U+2066"),
    ("household category PDI", "households", lambda db, t, s: _hh_csv(t, s, "类别", "城市低保\u2069"), 3, "类别", "U+2069"),
    ("household address line break", "households", lambda db, t, s: _hh_csv(t, s, "地址", "中山路\n1号"), 3, "地址",
     "U+000A"),
    ("cell name NUL (GeoJSON)", "cells", lambda db, t, s: write_geojson(t / "cells.geojson", [
        {**_cell_feature(db, _comm(db) + "911", {"type": "Polygon", "coordinates": [_square(db)]}),
         "properties": {"网格编码": _comm(db) + "911", "网格名称": "新网格\x00", "社区代码": _comm(db)}}]),
     1, "网格名称", "U+0000"),
    ("campaign name LRI (XLSX)", "campaigns", lambda db, t, s: write_xlsx(
        t / "c.xlsx", list(CAMPAIGN), [list((CAMPAIGN | {"活动名称": "春节\u2066慰问"}).values())]), 2, "活动名称",
     "U+2066"),
    ("person name ESC", "people", lambda db, t, s: write_csv(t / "p.csv", [
        {"人员编号": "PX1", "姓名": "钱\x1b八", "身份": "网格员"}]), 2, "姓名", "U+001B"),
    ("station name RLO (GeoPackage)", "stations", lambda db, t, s: _gpkg(t, _stations_gdf(db, 站点名称="卫生室\u202e")),
     1, "站点名称", "U+202E"),
    ("visit situation RLO", "visits", lambda db, t, s: write_csv(t / "v.csv", [_visit(情况="\u202e情况正常")]), 2,
     "情况", "U+202E"),
    ("visit place tab", "visits", lambda db, t, s: write_csv(t / "v.csv", [_visit(地点="社区\t活动室")]), 2, "地点",
     "U+0009"),
    ("need description NUL", "needs", lambda db, t, s: write_csv(t / "n.csv", [_need(诉求内容="需要\x00帮助")]), 2,
     "诉求内容", "U+0000"),
    ("aid giver line break", "assistance", lambda db, t, s: write_csv(t / "a.csv", [_aid(发放单位="街道\n办事处")]), 2,
     "发放单位", "U+000A"),
    ("aid items BEL", "assistance", lambda db, t, s: write_csv(t / "a.csv", [_aid(物资="大米\x07")]), 2, "物资", "U+0007"),
]


def _gpkg(t: Path, gdf: gpd.GeoDataFrame) -> Path:
    p = t / "stations.gpkg"
    gdf.to_file(p, driver="GPKG")
    return p


@pytest.mark.parametrize(("case", "kind", "make", "row", "field", "code"), CONTROL_CASES,
                         ids=[c[0] for c in CONTROL_CASES])
def test_control_characters_are_refused_naming_row_field_and_code_point(db, spots, tmp_path, case, kind, make, row,
                                                                        field, code) -> None:
    err = expect_refused(db, kind, make(db, tmp_path, spots), row, field, code)
    hit = next(p for p in err.problems if p.row == row and field in p.field)
    raw = chr(int(code[2:], 16))
    assert f"[{code}]" in hit.value and raw not in hit.value + hit.zh + hit.en  # shown, never raw
    assert code in hit.zh and code in hit.en


def test_tabs_and_line_breaks_are_kept_in_multi_line_fields(db, tmp_path) -> None:
    import_file(db, OP, "visits", write_csv(tmp_path / "v.csv", [_visit(情况="第一行\r\n第二行\t（续）")]))
    import_file(db, OP, "needs", write_csv(tmp_path / "n.csv", [_need(诉求内容="一、就医\n二、取暖")]))
    import_file(db, OP, "assistance", write_csv(tmp_path / "a.csv", [_aid(物资="大米 10 斤\n食用油 1 桶", 发放单位="街道\n")]))
    assert db.scalar("SELECT situation FROM visits WHERE visit_id = 'VX1'") == "第一行\n第二行\t（续）"
    assert db.scalar("SELECT description FROM needs WHERE need_id = 'NX1'") == "一、就医\n二、取暖"
    assert db.query("SELECT items, giver_unit FROM assistance WHERE aid_id = 'AX1'").values.tolist() == [
        ["大米 10 斤\n食用油 1 桶", "街道"]]  # a trailing line break in a one-line field is trimmed


# ------------------------------------------------------------------ record times: not after today
def _china_today() -> date:
    return (datetime.now(UTC) + timedelta(hours=8)).date()


FUTURE_CASES = [
    ("visit 2099", "visits", lambda: _visit(走访时间="2099-01-01 09:00"), "走访时间"),
    ("visit tomorrow", "visits", lambda: _visit(走访时间=f"{_china_today() + timedelta(days=1)} 00:00"), "走访时间"),
    ("aid 2099", "assistance", lambda: _aid(发放时间="2099-01-10"), "发放时间"),
    ("aid tomorrow", "assistance", lambda: _aid(发放时间=str(_china_today() + timedelta(days=1))), "发放时间"),
    ("need raised 2099", "needs", lambda: _need(提出时间="2099-03-05"), "提出时间"),
    ("need resolved tomorrow", "needs", lambda: _need(办结时间=f"{_china_today() + timedelta(days=1)} 08:00"),
     "办结时间"),
]


@pytest.mark.parametrize(("case", "kind", "row", "field"), FUTURE_CASES, ids=[c[0] for c in FUTURE_CASES])
def test_records_dated_after_today_are_refused(db, tmp_path, case, kind, row, field) -> None:
    expect_refused(db, kind, write_csv(tmp_path / f"{kind}.csv", [row()]), 2, field, "in the future")


def test_records_dated_today_are_accepted(db, tmp_path) -> None:
    today = _china_today()
    import_file(db, OP, "visits", write_csv(tmp_path / "v.csv", [_visit(走访时间=f"{today} 23:59")]))
    import_file(db, OP, "assistance", write_csv(tmp_path / "a.csv", [_aid(发放时间=str(today))]))
    import_file(db, OP, "needs", write_csv(tmp_path / "n.csv", [_need(提出时间=f"{today} 08:00", 办结时间=f"{today} 23:00")]))
    assert db.scalar("SELECT visited_at FROM visits WHERE visit_id = 'VX1'") == datetime.combine(today, time(23, 59))
    assert db.scalar("SELECT count(*) FROM assistance WHERE aid_id = 'AX1'") == 1
    assert db.scalar("SELECT status FROM needs WHERE need_id = 'NX1'") == "resolved"
    # Campaigns are planned ahead: their dates may be in the future.
    row = CAMPAIGN | {"活动编号": "CF1", "开始日期": "2099-11-01", "结束日期": "2100-02-28"}
    import_file(db, OP, "campaigns", write_xlsx(tmp_path / "c.xlsx", list(row), [list(row.values())]))


# ------------------------------------------------------------------ files without rows
@pytest.mark.parametrize("kind", ["admin_units", "cells", "households", "people", "stations", "patrol_areas",
                                  "campaigns", "visits", "needs", "assistance", "addresses"])
def test_a_header_without_rows_says_no_rows_for_every_kind(db, tmp_path, kind) -> None:
    from grid.ingest import KINDS, Source, validate

    header = [f.zh for f in KINDS[kind].fields]
    files = [write_csv(tmp_path / f"{kind}.csv", [], header=header),
             write_xlsx(tmp_path / f"{kind}.xlsx", header, []),
             write_geojson(tmp_path / f"{kind}.geojson", [])]
    (tmp_path / "empty.csv").write_bytes(b"")
    before = checksums(db)
    for p in [*files, tmp_path / "empty.csv"]:
        with pytest.raises(WarmGridError) as err:
            import_file(db, OP, kind, p)
        assert not isinstance(err.value, ValidationError)
        assert p.name in err.value.zh and "没有数据行" in err.value.zh
        assert p.name in err.value.en and "no rows" in err.value.en
    # validate() says the same of a source read some other way.
    empty = Source(tmp_path / "x.csv", "csv", pd.DataFrame(columns=header), np.arange(0))
    with pytest.raises(WarmGridError, match="no rows: x.csv"):
        validate(empty, kind, store=db)
    assert checksums(db) == before


# ------------------------------------------------------------------ exports that must not crash or leak
def test_users_are_never_exported_with_password_hashes(db, tmp_path) -> None:
    from openpyxl import load_workbook

    from grid.export import USER_EXPORT_COLUMNS

    hashes = db.query("SELECT password_hash FROM users")["password_hash"].tolist()
    assert hashes and all(h.startswith("$argon2") for h in hashes)  # the demo's users have real hashes
    df, geom = table_frame(db, "users", labels=False)
    assert geom is None and list(df.columns) == [c for c in df.columns if c in USER_EXPORT_COLUMNS]
    assert not {"password_hash", "failed_logins", "locked_until"} & set(df.columns)
    assert len(df) == db.count("users") and set(df["username"]) == set(db.query("SELECT username FROM users")
                                                                             ["username"])
    for suffix in (".csv", ".xlsx"):
        p = tmp_path / f"users{suffix}"
        assert export_table(db, OP, "users", p) == len(df)
        raw = p.read_bytes()
        assert b"$argon2" not in raw and not any(h.encode()[-20:] in raw for h in hashes)
    cells = [c.value for row in load_workbook(tmp_path / "users.xlsx").active.iter_rows() for c in row]
    assert not any(isinstance(v, str) and ("$argon2" in v or v in hashes) for v in cells)
    for suffix in (".geojson", ".gpkg", ".parquet"):  # no geometry: refused, and no file written
        with pytest.raises(WarmGridError, match="needs a geometry"):
            export_table(db, OP, "users", tmp_path / f"users{suffix}")
        assert not list(tmp_path.glob(f"*users*{suffix}"))


def test_the_audit_log_exports_to_xlsx(db, tmp_path) -> None:
    from openpyxl import load_workbook

    with db.transaction() as cur:  # NULL counts and scopes, a list scope, timestamps
        cur.execute("INSERT INTO audit_log (username, role, action, object, scope, row_count) VALUES"
                    " ('甲', 'admin', 'export', 'households.csv', NULL, NULL),"
                    " ('乙', 'committee', 'view', 'household:H1', ['350203001000', '350203002000'], 1)")
    n = db.count("audit_log")
    p = tmp_path / "audit.xlsx"
    assert export_table(db, OP, "audit_log", p) == n
    ws = load_workbook(p).active
    rows = list(ws.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert len(body) == n
    # Chinese headers and actions in words (grid.labels), never a column name.
    by_user = {r[header.index("用户")]: r for r in body}
    assert by_user["甲"][header.index("行数")] is None and by_user["甲"][header.index("范围")] is None
    assert by_user["乙"][header.index("范围")] == "350203001000、350203002000"
    assert by_user["甲"][header.index("操作")] == "导出"
    assert isinstance(by_user["乙"][header.index("时间")], datetime)
