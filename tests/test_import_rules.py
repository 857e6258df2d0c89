"""Importing households and members: one ID number is one person in one household, a household
has its head's name, an ambiguous category (低保, 五保) is asked, never guessed, and the report
counts what the import added, updated and left unchanged.

Every refusal leaves the database exactly as it was (the checksums of every table, as in
``tests/test_ingest.py``); the counts are worked out by hand from the files written here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from grid.errors import ValidationError, WarmGridError
from grid.ingest import ambiguous_categories, import_file, parse_category_map, read_source
from grid.store import Store
from tests.actors import OP
from tests.test_ingest import _id, checksums

ROOT = Path(__file__).resolve().parent.parent


def _spot(db: Store) -> tuple[float, float]:
    x, y = db.query("SELECT ST_X(geom) x, ST_Y(geom) y FROM households WHERE cell_id IS NOT NULL"
                    " ORDER BY hh_id LIMIT 1").iloc[0]
    return float(x), float(y)


def _households(db: Store, n: int = 5) -> list[dict[str, Any]]:
    lon, lat = _spot(db)
    return [{"户编号": f"R{i}", "户主姓名": f"测试{i}", "身份证号": _id(f"3502031960010100{i}"), "地址": f"规则路{i}号",
             "人口数": "2", "类别": "城市低保" if i % 2 else "", "状态": "在册", "经度": repr(lon + 1e-5 * i),
             "纬度": repr(lat)} for i in range(1, n + 1)]


def _csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8")
    return path


def _refused(db: Store, path: Path, kind: str = "households", **kw: Any) -> list[Any]:
    before = checksums(db)
    with pytest.raises(ValidationError) as err:
        import_file(db, OP, kind, path, **kw)
    assert checksums(db) == before, "a refused import changed the database"
    return err.value.problems


# ------------------------------------------------------------------ one ID number, one person
def test_the_same_id_number_for_two_people_is_refused_naming_both_rows(db, tmp_path) -> None:
    rows = _households(db)
    rows[3]["身份证号"] = rows[0]["身份证号"]  # file rows 2 and 5 (header = row 1): 测试1 and 测试4
    problems = _refused(db, _csv(tmp_path / "hh.csv", rows))
    hits = [p for p in problems if p.field == "身份证号"]
    assert len(hits) == 1 and hits[0].row == 5 and hits[0].where == "hh.csv"
    assert "第 2 行" in hits[0].zh and "row 2" in hits[0].en  # the other row is named too
    assert "测试1" in hits[0].zh and "测试4" in hits[0].zh and "one person" in hits[0].en


def test_one_person_heading_two_registered_households_is_refused(db, tmp_path) -> None:
    rows = _households(db)
    rows[2]["身份证号"], rows[2]["户主姓名"] = rows[1]["身份证号"], rows[1]["户主姓名"]  # the same person
    (hit,) = [p for p in _refused(db, _csv(tmp_path / "hh.csv", rows)) if p.field == "身份证号"]
    assert hit.row == 4 and "第 3 行" in hit.zh and "R2" in hit.zh and "two registered households" in hit.en


def test_a_person_who_moved_out_may_head_a_new_household_with_a_note(db, tmp_path) -> None:
    rows = _households(db)
    rows[2]["身份证号"], rows[2]["户主姓名"] = rows[1]["身份证号"], rows[1]["户主姓名"]
    rows[1]["状态"] = "迁出"  # the old household has left the register: a move, not a duplicate
    rep = import_file(db, OP, "households", _csv(tmp_path / "hh.csv", rows))
    assert rep.inserted == 5
    (note,) = [p for p in rep.notes if p.field == "身份证号"]
    assert note.row == 4 and "迁入新户" in note.zh


def test_an_id_number_already_held_by_another_person_in_the_database_is_refused(db, tmp_path) -> None:
    member = db.query("SELECT hh_id, name, id_number FROM members WHERE relation <> 'head' AND id_number IS NOT NULL"
                      " ORDER BY member_id LIMIT 1").iloc[0]
    rows = _households(db)
    rows[0]["身份证号"] = member["id_number"]  # a stored member of another household, another name
    (hit,) = [p for p in _refused(db, _csv(tmp_path / "hh.csv", rows)) if p.field == "身份证号"]
    assert hit.row == 2 and str(member["hh_id"]) in hit.zh and str(member["name"]) in hit.zh
    # The same person (same name) registered in an active household elsewhere: refused too.
    rows[0]["户主姓名"] = member["name"]
    (hit,) = [p for p in _refused(db, _csv(tmp_path / "hh2.csv", rows)) if p.field == "身份证号"]
    assert "同一人不能同时在两户" in hit.zh


def test_members_the_head_repeats_the_households_number_but_nobody_else_may(db, tmp_path) -> None:
    head = db.query("SELECT m.member_id, m.hh_id, m.name, m.id_number FROM members m JOIN households h USING (hh_id)"
                    " WHERE m.relation = 'head' AND h.id_number = m.id_number ORDER BY m.member_id LIMIT 1").iloc[0]
    base = {"成员编号": head["member_id"], "户编号": head["hh_id"], "姓名": head["name"], "与户主关系": "户主",
            "身份证号": head["id_number"]}
    # Re-importing the head's own row (upsert) is fine: the head is a member of their own household.
    rep = import_file(db, OP, "members", _csv(tmp_path / "m1.csv", [base]), mode="upsert")
    assert rep.unchanged == 1
    # The same person again under another member id of the same household: listed twice.
    twice = dict(base, 成员编号=f"{head['member_id']}-dup")
    (hit,) = [p for p in _refused(db, _csv(tmp_path / "m2.csv", [twice]), "members") if p.field == "身份证号"]
    assert hit.row == 2 and str(head["member_id"]) in hit.zh
    # Another name with the head's number: two people, one number.
    other = dict(twice, 姓名="另一个人", 与户主关系="子女")
    (hit,) = [p for p in _refused(db, _csv(tmp_path / "m3.csv", [other]), "members") if p.field == "身份证号"]
    assert "另一个人" in hit.zh and str(head["name"]) in hit.zh


# ------------------------------------------------------------------ the head's name
def test_an_empty_head_name_is_refused(db, tmp_path) -> None:
    rows = _households(db)
    rows[2]["户主姓名"] = "  "
    problems = _refused(db, _csv(tmp_path / "hh.csv", rows))
    assert [(p.row, p.field) for p in problems] == [(4, "户主姓名")]
    assert problems[0].zh == "户主姓名为空" and "empty" in problems[0].en


def test_without_the_head_name_column_new_households_are_refused(db, tmp_path) -> None:
    rows = [{k: v for k, v in r.items() if k != "户主姓名"} for r in _households(db, 2)]
    problems = _refused(db, _csv(tmp_path / "hh.csv", rows))
    assert [(p.row, p.field) for p in problems] == [(None, "户主姓名")]
    # Upsert of some columns: stored households keep their name; a new one needs one.
    stored = db.query("SELECT hh_id, address, size, ST_X(geom) x, ST_Y(geom) y FROM households ORDER BY hh_id"
                      " LIMIT 1").iloc[0]
    upd = [{"户编号": stored["hh_id"], "地址": "新地址1号", "人口数": str(int(stored["size"])),
            "经度": repr(float(stored["x"])), "纬度": repr(float(stored["y"]))}, {**rows[0]}]
    problems = _refused(db, _csv(tmp_path / "up.csv", upd), mode="upsert")
    assert [(p.row, p.field) for p in problems] == [(3, "户主姓名")]
    rep = import_file(db, OP, "households", _csv(tmp_path / "up1.csv", upd[:1]), mode="upsert")
    assert (rep.inserted, rep.updated, rep.unchanged) == (0, 1, 0)
    assert db.scalar("SELECT address FROM households WHERE hh_id = ?", [stored["hh_id"]]) == "新地址1号"


# ------------------------------------------------------------------ ambiguous categories
def test_dibao_alone_is_refused_without_a_mapping_and_read_as_confirmed_with_one(db, tmp_path) -> None:
    rows = _households(db, 3)
    rows[0]["类别"], rows[1]["类别"], rows[2]["类别"] = "低保、残疾", "城市低保", "低保"
    path = _csv(tmp_path / "hh.csv", rows)
    problems = _refused(db, path)
    assert [(p.row, p.field) for p in problems] == [(2, "困难类别"), (4, "困难类别")]
    assert all("城市低保" in p.zh and "农村低保" in p.zh and "ambiguous" in p.en for p in problems)
    assert ambiguous_categories(read_source(path), "households") == {"低保": ("dibao_urban", "dibao_rural")}
    rep = import_file(db, OP, "households", path, category_map=parse_category_map(["低保=农村低保"]))
    assert rep.inserted == 3
    got = dict(db.query("SELECT hh_id, categories FROM households WHERE hh_id IN ('R1', 'R2', 'R3')")
               .itertuples(index=False))
    assert list(got["R1"]) == ["dibao_rural", "disabled"] and list(got["R3"]) == ["dibao_rural"]
    assert list(got["R2"]) == ["dibao_urban"]  # 城市低保 written out is not ambiguous


def test_a_category_map_must_name_an_ambiguous_word_and_one_of_its_meanings() -> None:
    with pytest.raises(WarmGridError) as err:
        parse_category_map(["低保=特困"])
    assert "dibao_urban" in err.value.en and "dibao_rural" in err.value.en
    with pytest.raises(WarmGridError):
        parse_category_map(["残疾=disabled"])
    with pytest.raises(WarmGridError):
        parse_category_map(["低保"])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grid", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_cli_lists_the_ambiguous_words_and_takes_category_map(district_file, tmp_path) -> None:
    db_path = tmp_path / "db.duckdb"
    shutil.copyfile(district_file[0], db_path)
    from grid.store import open_store

    with open_store(db_path, read_only=True) as s:
        rows = _households(s, 3)
    rows[0]["类别"], rows[1]["类别"] = "低保", "五保户"
    path = _csv(tmp_path / "hh.csv", rows)
    r = _cli("import", "households", str(path), "--db", str(db_path))
    assert r.returncode == 1
    for word in ("「低保」", "城市低保", "农村低保", "「五保户」", "五保集中供养", "五保分散供养", "--category-map"):
        assert word in r.stderr, word
    r = _cli("import", "households", str(path), "--db", str(db_path), "--category-map", "低保=城市低保",
             "--category-map", "五保户=wubao_home", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["inserted"], doc["updated"], doc["unchanged"]) == (3, 0, 0)
    with open_store(db_path, read_only=True) as s:
        assert list(s.scalar("SELECT categories FROM households WHERE hh_id = 'R2'")) == ["wubao_home"]


# ------------------------------------------------------------------ added, updated, unchanged
def test_a_re_import_counts_added_updated_and_unchanged(db, tmp_path) -> None:
    first = _households(db, 5)
    rep = import_file(db, OP, "households", _csv(tmp_path / "a.csv", first))
    assert (rep.inserted, rep.updated, rep.unchanged) == (5, 0, 0)
    # The second file, by hand: R1 unchanged, R2 a new address, R3 unchanged, R4 a new category,
    # R5 unchanged, R6 new. So 1 added, 2 updated, 3 unchanged.
    second = [dict(r) for r in first] + _households(db, 6)[5:]
    second[1]["地址"] = "规则路2号之一"
    second[3]["类别"] = "城市低保、残疾"
    rep = import_file(db, OP, "households", _csv(tmp_path / "b.csv", second), mode="upsert")
    assert (rep.inserted, rep.updated, rep.unchanged, rep.rows) == (1, 2, 3, 6)
    assert "新增 1，更新 2，未变 3" in rep.text()
    logged = db.query("SELECT inserted, updated, unchanged FROM imports ORDER BY rowid DESC LIMIT 1").iloc[0]
    assert tuple(int(v) for v in logged) == (1, 2, 3)
    # The database agrees: six households R1..R6, R2 and R4 as the second file says.
    assert db.scalar("SELECT count(*) FROM households WHERE hh_id LIKE 'R_'") == 6
    assert db.scalar("SELECT address FROM households WHERE hh_id = 'R2'") == "规则路2号之一"
    assert list(db.scalar("SELECT categories FROM households WHERE hh_id = 'R4'")) == ["dibao_urban", "disabled"]
    # The same file again: nothing to do.
    rep = import_file(db, OP, "households", _csv(tmp_path / "c.csv", second), mode="upsert")
    assert (rep.inserted, rep.updated, rep.unchanged) == (0, 0, 6)


def test_a_refusal_in_a_re_import_writes_nothing(db, tmp_path) -> None:
    first = _households(db, 3)
    import_file(db, OP, "households", _csv(tmp_path / "a.csv", first))
    second = [dict(r) for r in first] + _households(db, 4)[3:]
    second[0]["地址"] = "改了的地址"  # a good change ...
    second[3]["户主姓名"] = ""  # ... and a bad new row: all or nothing
    _refused(db, _csv(tmp_path / "b.csv", second), mode="upsert")
    assert db.scalar("SELECT address FROM households WHERE hh_id = 'R1'") == "规则路1号"
    assert db.scalar("SELECT count(*) FROM households WHERE hh_id = 'R4'") == 0


# ------------------------------------------------------------------ derived columns as written
def _derived(db: Store) -> list[tuple[Any, ...]]:
    rows = db.cursor().execute("SELECT hh_id, x_m, y_m, cell_id FROM households ORDER BY hh_id").fetchall()
    return [tuple(r) for r in rows]


def _cells_of(db: Store, points: list[tuple[float, float]]) -> list[str | None]:
    """The oracle: with shapely, the lowest cell_id whose polygon holds (or touches) each point."""
    import shapely

    cells = db.query("SELECT cell_id, ST_AsWKB(geom) g FROM cells ORDER BY cell_id")
    polys = [shapely.from_wkb(bytes(g)) for g in cells.g]
    out: list[str | None] = []
    for x, y in points:
        pt = shapely.Point(x, y)
        out.append(next((c for c, p in zip(cells.cell_id, polys, strict=True) if p.intersects(pt)), None))
    return out


def test_the_derived_columns_written_with_the_rows_are_those_refresh_derived_computes(db, tmp_path) -> None:
    """An import computes the written households' metric coordinates and cells itself; recomputing
    every derived column afterwards (Store.refresh_derived) changes nothing: on a point inside a
    cell, on the edge two cells share (the lower cell_id), outside every cell, and after a move."""
    import shapely

    cells = db.query("SELECT cell_id, ST_AsWKB(geom) g FROM cells ORDER BY cell_id")
    polys = {c: shapely.from_wkb(bytes(g)) for c, g in zip(cells.cell_id, cells.g, strict=True)}
    a, b = next((a, b) for a in polys for b in polys
                if a < b and polys[a].intersection(polys[b]).length > 0)
    shared = polys[a].intersection(polys[b])
    mid = shapely.Point(shapely.get_coordinates(shared)[0])  # a vertex both polygons hold
    lo = min(x for p in polys.values() for x in p.bounds[::2])
    rows = _households(db, 4)
    rows[1]["经度"], rows[1]["纬度"] = repr(mid.x), repr(mid.y)
    rows[2]["经度"] = repr(lo - 0.001)  # west of every cell (still inside the district's box?)
    import_file(db, OP, "households", _csv(tmp_path / "hh.csv", rows))
    written = _derived(db)
    got = {r[0]: r for r in written}
    new = [f"R{i}" for i in range(1, 5)]
    pts = db.query("SELECT hh_id, ST_X(geom) x, ST_Y(geom) y FROM households WHERE hh_id IN ('R1','R2','R3','R4')"
                   " ORDER BY hh_id")
    assert [got[h][3] for h in new] == _cells_of(db, list(zip(pts.x, pts.y, strict=True)))
    assert got["R2"][3] == a and got["R3"][3] is None
    assert all(r[1] is not None and r[2] is not None for r in written)
    db.refresh_derived()
    assert _derived(db) == written
    rows[0]["经度"], rows[0]["纬度"] = rows[1]["经度"], rows[1]["纬度"]
    import_file(db, OP, "households", _csv(tmp_path / "hh2.csv", rows), mode="upsert")
    moved = _derived(db)
    assert {r[0]: r for r in moved}["R1"][1:] == got["R2"][1:]
    db.refresh_derived()
    assert _derived(db) == moved


def test_the_cells_of_staged_rows_follow_the_rows_whichever_form_they_are_staged_in(db) -> None:
    """Rows staged as Arrow (the rule) or as a frame (when Arrow cannot type a column) get the same
    cells, each its own, in the rows' order — 3,000 rows, shuffled, some without a point."""
    import numpy as np
    import pyarrow as pa
    import shapely

    from grid.ingest import _with_cells

    cells = db.query("SELECT cell_id, ST_X(ST_PointOnSurface(geom)) x, ST_Y(ST_PointOnSurface(geom)) y FROM cells")
    rng = np.random.default_rng(5)
    pick = rng.integers(0, len(cells), 3000)
    x, y = cells.x.to_numpy()[pick], cells.y.to_numpy()[pick]
    wkb = [None if i % 7 == 0 else shapely.to_wkb(shapely.Point(a, b)) for i, (a, b) in enumerate(zip(x, y, strict=True))]
    frame = pd.DataFrame({"hh_id": [f"S{i}" for i in range(3000)], "_wkb": pd.Series(wkb, dtype=object)})
    want = [None if w is None else c for w, c in zip(wkb, cells.cell_id.to_numpy()[pick], strict=True)]
    with db.transaction() as cur:
        as_frame = _with_cells(cur, frame)["_cell"].tolist()
        as_arrow = _with_cells(cur, pa.Table.from_pandas(frame, preserve_index=False)).column("_cell").to_pylist()
    assert as_frame == as_arrow == want
