"""Households located by their address through the standard-address register (一标三实).

The oracle is the demo itself: it knows which building every household lives in
(``DemoDistrict.homes``), independently of the matcher. The rolls below are the demo's own
addresses written the ways real rolls write them — spelt out here by hand, not by the matcher's
normaliser — and every one must land at its own building; roads that do not exist, addresses
without a number and ambiguous addresses must go to review, never to a guess.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from grid import geocode
from grid.cli import main
from grid.demo import DemoDistrict
from grid.geocode import Register, parse
from grid.store import Store, open_store

_FULL = str.maketrans("0123456789", "０１２３４５６７８９")
_DIGITS = "零一二三四五六七八九"
_ADDRESS = re.compile(r"^(?P<comm>.+?社区)(?P<place>.+?)(?:(?P<door>\d+)号|(?P<bld>\d+)栋(?P<unit>\d+)单元)(?P<room>\d+)室$")


def _cn(n: int) -> str:
    """A number in Chinese numerals, as people write door numbers (12 → 十二, 305 → 三百零五)."""
    d = _DIGITS
    if n < 10:
        return d[n]
    if n < 20:
        return "十" + (d[n % 10] if n % 10 else "")
    if n < 100:
        return d[n // 10] + "十" + (d[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        tail = "" if rest == 0 else ("零" + d[rest] if rest < 10 else _cn(rest) if rest >= 20 else "一" + _cn(rest))
        return d[n // 100] + "百" + tail
    return "".join(d[int(c)] for c in str(n))


def _spellings(address: str, street: str) -> list[str]:
    """The ways a roll writes one demo address (the demo writes ``莲花社区中山路12号502室`` or
    ``莲花社区莲花新村3栋2单元502室``)."""
    m = _ADDRESS.match(address)
    assert m is not None, address
    comm, place, room = m["comm"], m["place"], m["room"]
    if m["door"]:
        n = m["door"]
        body, body_cn, body_alt = f"{place}{n}号", f"{place}{_cn(int(n))}号", f"{place}{n}号"
        inner = ""
    else:
        n, unit = m["bld"], m["unit"]
        body, body_cn, body_alt = f"{place}{n}栋", f"{place}{_cn(int(n))}栋", f"{place}{n}号楼"
        inner = f"{unit}单元"
    rooms_cn = "".join("〇" if c == "0" else _DIGITS[int(c)] for c in room)
    return [
        address,                                                              # as the demo writes it
        f"福建省厦门市思明区{street}{address}",                                   # every prefix added
        f"{body}{inner}{room}室",                                              # the community dropped
        f"{body}{inner}{room}室".translate(_FULL),                             # full-width digits
        f"{comm}{body_cn}{inner.replace(m['unit'] or '', _cn(int(m['unit'])) if m['unit'] else '')}{rooms_cn}室",
        f"厦门市{comm}{body_alt}{inner}{room}",                                  # 12号楼 for 12栋, no 室
        f"{body.replace('栋', '幢')}{inner}{room}房",                            # 12幢, 房
        f"思明区 {comm} {body[:len(place)]} {body[len(place):]} {inner} {room} 室",  # stray spaces
        f"{street}{body.replace('栋', '座')}{inner}{room}户",                    # 12座, 户
    ]


@pytest.fixture(scope="module")
def register(district: DemoDistrict) -> Register:
    units = district.admin_units[["code", "name", "level", "parent_code"]]
    return Register(district.addresses, units)


def test_the_demo_has_a_register_of_every_building(district: DemoDistrict, store: Store) -> None:
    reg = district.addresses
    assert store.count("addresses") == len(reg) and reg["addr_id"].is_unique
    # every household's building is in it, at the household's point (the demo jitters them by 4 m at most)
    homes = reg.set_index("addr_id").loc[district.homes.to_numpy()]
    hh = district.households.set_index("hh_id").loc[district.homes.index]
    dx = (hh["lon"].to_numpy() - homes["lon"].to_numpy()) * 111_320 * 0.91
    dy = (hh["lat"].to_numpy() - homes["lat"].to_numpy()) * 110_574
    assert (abs(dx) <= 6).all() and (abs(dy) <= 6).all()
    assert set(homes["level"]) == {"door", "building"}
    estates = reg[reg["level"] == "estate"]
    assert len(estates) and reg.loc[reg["level"] == "building", "parent_id"].isin(estates["addr_id"]).all()
    assert reg["address"].is_unique  # one standard address per building


def test_a_standard_address_is_split_into_its_components() -> None:
    cases = {
        "福建省厦门市思明区嘉莲街道莲花社区莲花五村龙昌里12号502室": ("莲花五村龙昌里", "12", None, None, "502"),
        "莲花新村十二号楼二单元五〇二": ("莲花新村", None, "12", "2", "502"),
        "莲花新村 １２幢 ２单元 ５０２房": ("莲花新村", None, "12", "2", "502"),
        "中山路一百零五号": ("中山路", "105", None, None, None),
        "中山路12号5楼502户": ("中山路", "12", None, None, "502"),
        "镇海社区镇海路3号": ("镇海路", "3", None, None, None),   # 镇海 is no town (镇) here
        "中山路12-3号": ("中山路12之", "3", None, None, None),     # 12-3号 is not 123号
    }
    for text, want in cases.items():
        p = parse(text)
        assert (p.place, p.door, p.building, p.entrance, p.room) == want, text
    assert parse("福建省厦门市思明区嘉莲街道莲花社区莲花新村3栋").admin == {
        "province": "福建", "city": "厦门", "district": "思明", "street": "嘉莲", "community": "莲花"}


def test_rolls_written_every_way_land_at_their_own_building(district: DemoDistrict, register: Register) -> None:
    hh = district.households.iloc[::12]
    street = dict(zip(district.communities["name"], district.communities["street_name"], strict=True))
    tried = wrong = 0
    kinds = set()
    for h, address in zip(hh["hh_id"], hh["address"], strict=True):
        comm = _ADDRESS.match(address)["comm"]  # type: ignore[index]
        kinds.add("estate" if "栋" in address else "door")
        for text in _spellings(address, street[comm]):
            m = register.match(text)
            tried += 1
            assert m.status == "located", (text, m.reason_en)
            wrong += m.addr_id != district.homes[h]
    assert tried >= 2000 and wrong == 0 and kinds == {"estate", "door"}


def test_a_register_address_itself_is_an_exact_match(district: DemoDistrict, register: Register) -> None:
    for r in district.addresses.iloc[::7].itertuples():
        m = register.match(f"{r.address} 1203室" if r.level != "estate" else r.address)
        if r.level == "estate":  # an estate alone names no building: never placed automatically
            assert m.status == "review" and r.addr_id in {c.addr_id for c in m.candidates}
        else:
            assert (m.status, m.method, m.addr_id, m.score) == ("located", "exact", r.addr_id, 100.0)


def test_roads_that_do_not_exist_and_missing_numbers_go_to_review(district: DemoDistrict, register: Register) -> None:
    comm = district.communities["name"].iloc[0]
    top = int(district.addresses["address"].str.extract(r"(\d+)号$")[0].dropna().astype(int).max())
    for text in (f"{comm}不存在路12号502室", f"{comm}莲前中路12号", f"{comm}中山路{top + 500}号101室",
                 f"{comm}中山路", f"{comm}502室", "", "   "):
        m = register.match(text)
        assert m.status == "review" and m.addr_id is None and m.reason_zh and m.reason_en, text


def test_ambiguous_addresses_go_to_review_never_a_pick() -> None:
    reg = Register(pd.DataFrame({
        "addr_id": ["A", "B", "C", "D", "E"],
        "address": ["思明区嘉莲街道莲花社区中山路12号", "思明区鹭江街道镇海社区中山路12号",
                    "演武路东段北侧12号", "演武路东段南侧12号", "思明区鹭江街道镇海社区中山路12号"],
        "lon": [118.10, 118.12, 118.13, 118.14, 118.12000001], "lat": [24.50, 24.52, 24.53, 24.54, 24.52]}))
    m = reg.match("中山路12号502室")  # two communities have a 中山路12号
    assert m.status == "review" and {c.addr_id for c in m.candidates} == {"A", "B"}  # E is B's point again
    assert reg.match("镇海社区中山路12号502室").addr_id == "B"
    assert reg.match("莲花社区中山路12号502室").addr_id == "A"
    m = reg.match("演武路东段侧12号")  # as close to 北侧 as to 南侧: 92 each
    assert m.status == "review" and {c.addr_id for c in m.candidates} == {"C", "D"}
    assert reg.match("演武路东段北侧12号").addr_id == "C"
    # a community the roll names where the register holds no such address: review, with the entries offered
    m = reg.match("鼓浪屿社区中山路12号")
    assert m.status == "review" and {"A", "B"} <= {c.addr_id for c in m.candidates}


def test_the_threshold_is_a_setting() -> None:
    reg = Register(pd.DataFrame({"addr_id": ["A"], "address": ["厦门大学西村教工宿舍12栋"], "lon": [118.1], "lat": [24.4]}))
    typo = "厦门大学西村教公宿舍12栋"  # one character of ten: 90
    assert reg.match(typo).method == "fuzzy" and reg.match(typo).addr_id == "A"
    assert reg.match(typo, threshold=95).status == "review"
    assert geocode.DEFAULT_THRESHOLD == 90


# --------------------------------------------------------------------------- the command line
def _roll(district: DemoDistrict, path: Path, n: int = 30) -> pd.DataFrame:
    """A roll of ``n`` new households at demo addresses (some spellings), no coordinates; two with
    coordinates; and three that need review (a road that does not exist, no number, a formula)."""
    hh = district.households.iloc[5::97].head(n)
    street = dict(zip(district.communities["name"], district.communities["street_name"], strict=True))
    rows = []
    for k, (h, a) in enumerate(zip(hh["hh_id"], hh["address"], strict=True)):
        comm = _ADDRESS.match(a)["comm"]  # type: ignore[index]
        rows.append({"户编号": f"LOC{k:04d}", "户主姓名": f"测试{k}", "地址": _spellings(a, street[comm])[k % 9],
                     "人口数": 2, "经度": "", "纬度": "", "_home": district.homes[h]})
    first = district.households.iloc[1]
    for k in range(2):
        rows.append({"户编号": f"XY{k}", "户主姓名": "有坐标", "地址": "某处", "人口数": 1,
                     "经度": f"{first['lon']:.7f}", "纬度": f"{first['lat']:.7f}", "_home": None})
    comm = district.communities["name"].iloc[0]
    door = district.addresses.loc[district.addresses["level"] == "door", "address"].iloc[0]
    road = re.search(r"社区(.+?)\d+号$", door)[1]  # type: ignore[index]
    for k, a in enumerate([f"{comm}不存在路12号502室", f"{comm}{road}", f'=HYPERLINK("http://x.example/?"){road}']):
        rows.append({"户编号": f"REV{k}", "户主姓名": "待确认", "地址": a, "人口数": 1, "经度": "", "纬度": "",
                     "_home": None})
    frame = pd.DataFrame(rows)
    frame.drop(columns="_home").to_csv(path, index=False, encoding="utf-8")
    return frame


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_import_locates_asks_for_review_and_imports_with_the_answers(district: DemoDistrict, db: Store,
                                                                   tmp_path: Path, capsys) -> None:
    path = Path(db.path)
    db.close()
    roll, review = tmp_path / "住户.csv", tmp_path / "REVIEW.csv"
    frame = _roll(district, roll)
    with open_store(path) as s:
        before = s.count("households"), s.count("imports")
    status, out, err = _cli(capsys, "import", "households", str(roll), "--db", str(path), "--locate", "address",
                            "--json", "--review-out", str(review))
    assert status == 1 and "database is unchanged" in err and review.is_file()
    doc = json.loads(out)
    assert doc["ok"] is False and doc["counts"]["review"] == 3 and doc["counts"]["with_coordinates"] == 2
    assert doc["counts"]["located"] == len(frame) - 5 == len(doc["located"])
    homes = dict(zip(frame["户编号"], frame["_home"], strict=True))
    assert all(r["addr_id"] == homes[r["hh_id"]] and r["method"] in ("exact", "normalised") for r in doc["located"])
    assert {r["hh_id"] for r in doc["review"]} == {"REV0", "REV1", "REV2"}
    with open_store(path) as s:  # nothing written
        assert (s.count("households"), s.count("imports")) == before

    with open(review, encoding="utf-8-sig", newline="") as f:
        lines = list(csv.DictReader(f))
    assert [r["户编号"] for r in lines] == ["REV0", "REV1", "REV2"]
    assert lines[2]["地址"].startswith("'=")  # a formula stays text in a spreadsheet
    assert lines[1]["候选1地址编码"]  # a road alone: its door numbers are offered
    # Answer: a candidate for one, a point for another, and a register entry for the third.
    door = district.addresses[district.addresses["level"] == "door"].iloc[3]
    lines[0]["选定地址编码"] = lines[1]["候选1地址编码"]
    lines[1]["经度"], lines[1]["纬度"] = "118.0801234", "24.4805678"
    lines[2]["选定地址编码"] = door["addr_id"]
    with open(review, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(lines[0]))
        w.writeheader()
        w.writerows(lines)

    status, out, err = _cli(capsys, "import", "households", str(roll), "--db", str(path), "--locate", "address",
                            "--review", str(review), "--json", "--dry-run")
    doc = json.loads(out)
    assert status == 0 and doc["ok"] and doc["dry_run"] and doc["counts"]["manual"] == 3 and not doc["review"]
    status, out, err = _cli(capsys, "import", "households", str(roll), "--db", str(path), "--locate", "address",
                            "--review", str(review))
    assert status == 0, err
    with open_store(path, read_only=True) as s:
        got = s.query("SELECT h.hh_id, h.geocode_method, h.addr_id, h.geocode_score, ST_X(h.geom) AS x, ST_Y(h.geom) AS y,"
                      " ST_X(a.geom) AS ax, ST_Y(a.geom) AS ay FROM households h LEFT JOIN addresses a USING (addr_id)"
                      " WHERE h.hh_id LIKE 'LOC%' OR h.hh_id LIKE 'REV%' OR h.hh_id LIKE 'XY%'").set_index("hh_id")
        assert s.count("households") == before[0] + len(frame)
    loc = got.loc[[h for h in frame["户编号"] if h.startswith("LOC")]]
    assert (loc["addr_id"] == frame.set_index("户编号").loc[loc.index, "_home"]).all()
    assert ((loc["x"] - loc["ax"]).abs() < 1e-9).all() and ((loc["y"] - loc["ay"]).abs() < 1e-9).all()
    assert set(loc["geocode_method"]) <= {"exact", "normalised"} and (loc["geocode_score"] == 100).all()
    assert got.loc["REV1", "geocode_method"] == "manual" and pd.isna(got.loc["REV1", "addr_id"])
    assert abs(got.loc["REV1", "x"] - 118.0801234) < 1e-9 and abs(got.loc["REV1", "y"] - 24.4805678) < 1e-9
    assert got.loc["REV2", "addr_id"] == door["addr_id"] and got.loc["REV2", "geocode_method"] == "manual"
    assert list(got.loc[["XY0", "XY1"], "geocode_method"]) == ["coordinates"] * 2


def test_a_review_file_naming_an_unknown_address_is_refused(district: DemoDistrict, db: Store, tmp_path: Path,
                                                            capsys) -> None:
    path = Path(db.path)
    n = db.count("households")
    db.close()
    roll, review = tmp_path / "roll.csv", tmp_path / "review.csv"
    _roll(district, roll, n=3)
    review.write_text("户编号,选定地址编码,经度,纬度\nREV0,NO-SUCH-ID,,\nNOBODY,,118.08,24.48\n"
                      "REV1,X,118.08,24.48\n", encoding="utf-8")
    status, out, err = _cli(capsys, "import", "households", str(roll), "--db", str(path), "--locate", "address",
                            "--review", str(review), "--json")
    assert status == 1
    problems = {(p["文件 file"], p["行 row"], p["字段 field"]) for p in json.loads(out)["problems"]}
    assert {("review.csv", 2, "选定地址编码"), ("review.csv", 3, "户编号"), ("review.csv", 4, "选定地址编码")} <= problems
    with open_store(path, read_only=True) as s:
        assert s.count("households") == n


def test_locate_needs_a_register_and_households(tmp_path: Path, capsys) -> None:
    db = tmp_path / "empty.duckdb"
    open_store(db).close()
    roll = tmp_path / "r.csv"
    roll.write_text("户编号,户主姓名,地址,人口数\nH1,张三,中山路1号,1\n", encoding="utf-8")
    status, _, err = _cli(capsys, "import", "households", str(roll), "--db", str(db), "--locate", "address")
    assert status == 1 and "标准地址库为空" in err and "register is empty" in err
    status, _, err = _cli(capsys, "import", "cells", str(roll), "--db", str(db), "--locate", "address")
    assert status == 1 and "households only" in err
    status, _, err = _cli(capsys, "import", "households", str(roll), "--db", str(db), "--review", "x.csv")
    assert status == 1 and "--locate" in err


# --------------------------------------------------------------------------- importing the register
def test_the_register_imports_from_files_with_chinese_headers_and_any_crs(tmp_path: Path, capsys) -> None:
    from grid.crs import gcj02_to_wgs84

    db = tmp_path / "reg.duckdb"
    open_store(db).close()
    src = tmp_path / "标准地址.csv"
    src.write_text("地址编码,标准地址,层级,上级编码,社区编码,经度,纬度\n"
                   "X1,思明区莲花新村,小区,,350203001001,118.1301,24.4901\n"
                   "L1,思明区莲花新村1栋,楼栋,X1,350203001001,118.1302,24.4902\n"
                   "M1,思明区中山路12号,门牌,,350203001001,118.0901,24.4601\n", encoding="utf-8")
    status, out, err = _cli(capsys, "import", "addresses", str(src), "--db", str(db), "--crs", "gcj02", "--json")
    assert status == 0, err
    assert json.loads(out)["inserted"] == 3
    with open_store(db, read_only=True) as s:
        got = s.query("SELECT addr_id, level, parent_id, ST_X(geom) AS x, ST_Y(geom) AS y FROM addresses"
                      " ORDER BY addr_id").set_index("addr_id")
    x, y = gcj02_to_wgs84([118.1302], [24.4902])
    assert abs(got.loc["L1", "x"] - x[0]) < 1e-9 and abs(got.loc["L1", "y"] - y[0]) < 1e-9
    assert list(got["level"]) == ["building", "door", "estate"] and got.loc["L1", "parent_id"] == "X1"
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"地址编码": "L2", "标准地址": "思明区莲花新村2栋", "上级编码": "NOPE",
                                           "层级": "楼栋"}, "geometry": {"type": "Point", "coordinates": [118.13, 24.49]}},
        {"type": "Feature", "properties": {"地址编码": "L3", "标准地址": "", "层级": "塔楼"},
         "geometry": {"type": "Point", "coordinates": [118.13, 24.49]}}]}, ensure_ascii=False), encoding="utf-8")
    status, out, err = _cli(capsys, "import", "addresses", str(bad), "--db", str(db), "--json")
    assert status == 1
    problems = {(p["行 row"], p["字段 field"]) for p in json.loads(out)["problems"]}
    assert {(1, "上级编码"), (2, "标准地址"), (2, "层级")} <= problems


def test_a_version_9_database_gains_the_register_and_the_households_methods(tmp_path: Path) -> None:
    path = tmp_path / "v9.duckdb"
    with open_store(path) as s, s.transaction() as cur:
        cur.execute("INSERT INTO households (hh_id, geom, address, size) VALUES ('H1', ST_Point(118.1, 24.5), 'x', 1)")
        cur.execute("DROP TABLE addresses")
        for c in ("geocode_method", "addr_id", "geocode_score"):
            cur.execute(f"ALTER TABLE households DROP COLUMN {c}")
        cur.execute("UPDATE warmgrid_meta SET value = '9' WHERE key = 'schema_version'")
    with open_store(path) as s:
        assert s.schema_version() == 10 and s.count("addresses") == 0
        assert s.query("SELECT geocode_method, addr_id FROM households").iloc[0].tolist() == ["coordinates", None]


def test_the_review_map_shows_the_candidates_with_a_legend_and_escaped_text() -> None:
    from maps.locate import review_map

    cands = [{"addr_id": "A<1>", "address": "<img src=x onerror=alert(1)>中山路1号", "lon": 118.1, "lat": 24.5,
              "score": 80.0}, {"addr_id": "A2", "address": "中山路2号", "lon": 118.101, "lat": 24.5, "score": 78.0}]
    html = review_map("<script>alert(2)</script>中山路", cands, chosen=(118.1005, 24.5005)).get_root().render()
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;中山路" in html  # the title
    # the tooltips travel as JSON (non-ASCII as \\u escapes): the text in them is escaped HTML
    tips = [f["properties"]["tip"] for f in _features(html)]
    assert tips[0] == "候选1：&lt;img src=x onerror=alert(1)&gt;中山路1号（A&lt;1&gt;），得分 80" and tips[1].startswith("候选2")
    assert "候选地址（按得分）" in html and "已选定的位置" in html  # the legend



def _features(html: str) -> list[dict]:
    """The candidates' tooltips as the page's script carries them (JSON strings)."""
    return [{"properties": {"tip": json.loads(t)}} for t in re.findall(r'"tip": ("(?:[^"\\]|\\.)*")', html)
            if json.loads(t).startswith("候选")]
