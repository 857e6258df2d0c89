"""One file per household (一户一档): the members table, its import, the demo's members and the card."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from grid import validators
from grid.errors import ValidationError, WarmGridError
from grid.household_file import household_card, member_table
from grid.ingest import import_file
from grid.store import Store
from tests.actors import OP, as_role, as_warden


def test_the_demo_gives_every_household_its_members(store: Store) -> None:
    sizes = store.query("SELECT hh_id, size FROM households").set_index("hh_id")["size"]
    m = store.query("SELECT * FROM members")
    assert m.groupby("hh_id").size().reindex(sizes.index).fillna(0).astype(int).equals(sizes.astype(int))
    heads = m[m["relation"] == "head"]
    assert heads["hh_id"].is_unique and len(heads) == len(sizes)
    head_rows = store.query("SELECT hh_id, head_name, id_number FROM households").set_index("hh_id")
    assert (heads.set_index("hh_id")["name"] == head_rows["head_name"].reindex(heads["hh_id"])).all()
    assert all(validators.id_number(i).ok for i in m["id_number"])
    assert (m["birth_year"].astype(str) == m["id_number"].str[6:10]).all()
    assert (m["birth_year"] <= 2026).all()
    disabled = set(store.query("SELECT hh_id FROM households WHERE list_contains(categories, 'disabled')")["hh_id"])
    with_grade = m[m["disability"].notna()]
    assert set(with_grade["hh_id"]) == disabled and with_grade["hh_id"].is_unique


def _id(body17: str) -> str:
    """A valid ID number: the body and its GB 11643 check character."""
    return body17 + validators._id_check_char(body17)


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_members_import_refuses_every_problem_at_once(db: Store, tmp_path: Path) -> None:
    hh = str(db.scalar("SELECT min(hh_id) FROM households"))
    rows = [
        {"成员编号": "M1", "户编号": hh, "姓名": "王小明", "与户主关系": "子女", "身份证号": _id("35020320100101001"),
         "出生年份": "2011", "残疾等级": "", "联系电话": ""},  # birth year differs from the ID number's
        {"成员编号": "M2", "户编号": "NO_SUCH", "姓名": "李四", "与户主关系": "配偶", "身份证号": "",
         "出生年份": "1960", "残疾等级": "", "联系电话": ""},  # no such household
        {"成员编号": "M3", "户编号": hh, "姓名": "赵五", "与户主关系": "表亲", "身份证号": "350203196001010012",
         "出生年份": "", "残疾等级": "五级", "联系电话": ""},  # unknown relation and grade; a bad check digit
    ]
    before = db.count("members")
    with pytest.raises(ValidationError) as err:
        import_file(db, OP, "members", _csv(tmp_path / "m.csv", rows))
    got = sorted((p.row, p.field) for p in err.value.problems)
    assert got == [(2, "出生年份"), (3, "户编号"), (4, "与户主关系"), (4, "残疾等级"), (4, "身份证号")], got
    assert db.count("members") == before


def test_members_import_and_the_card(db: Store, tmp_path: Path) -> None:
    hh, cell = db.query("SELECT hh_id, cell_id FROM households WHERE cell_id IS NOT NULL ORDER BY hh_id LIMIT 1"
                        ).iloc[0]
    ok = [{"成员编号": "MX1", "户编号": hh, "姓名": "王小明", "与户主关系": "孙子女/外孙子女",
           "身份证号": _id("35020320100101001"), "出生年份": "2010", "残疾等级": "三级残疾", "联系电话": "13912345678"}]
    assert validators.id_number(ok[0]["身份证号"]).ok
    rep = import_file(db, OP, "members", _csv(tmp_path / "ok.csv", ok))
    assert rep.inserted == 1
    want = db.query("SELECT member_id, name, relation FROM members WHERE hh_id = ? ORDER BY member_id", [hh])
    card = household_card(db, as_warden({cell}), hh)
    assert sorted(card["members"]["member_id"]) == sorted(want["member_id"])
    shown = member_table(card["members"]).set_index("姓名")
    assert shown.loc["王小明", "与户主关系"] == "孙子女/外孙子女" and shown.loc["王小明", "残疾"] == "三级残疾"
    assert shown.loc["王小明", "电话"] == "13912345678"  # the warden of the cell sees members in full
    admin = household_card(db, OP, hh)
    assert "王小明" in set(admin["members"]["name"])
    with pytest.raises(WarmGridError):
        household_card(db, as_role("committee", {cell}), hh)  # the policy gives committees no card


def test_the_card_carries_the_history_of_categories(db: Store, tmp_path: Path) -> None:
    hh, cell, lon, lat, address, size = db.query(
        "SELECT hh_id, cell_id, ST_X(geom), ST_Y(geom), address, size FROM households"
        " WHERE cell_id IS NOT NULL ORDER BY hh_id LIMIT 1").iloc[0]
    row = {"户编号": hh, "地址": address, "人口数": str(size), "类别": "特困", "经度": repr(float(lon)),
           "纬度": repr(float(lat))}
    import_file(db, OP, "households", _csv(tmp_path / "h.csv", [row]), mode="upsert")
    card = household_card(db, as_warden({cell}), hh)
    assert "categories" in set(card["history"]["change"])
    assert date.today()  # the history's dates are the import's


def test_the_card_holds_needs_with_their_flow_applications_and_assistance(db: Store) -> None:
    """The card of a household with needs, applications and assistance carries each of them whole, every need
    with the steps need_events holds for it in order, and shows them under Chinese headers only."""
    from grid.access import Actor
    from grid.household_file import aid_table, application_table, need_table, visit_table
    from grid.model import label
    from grid.needs import unit_names
    from tests.actors import EVERYTHING

    hh = db.scalar("SELECT a.hh_id FROM applications a JOIN needs n USING (hh_id) JOIN assistance s USING (hh_id)"
                      " ORDER BY a.hh_id LIMIT 1")
    assert hh is not None, "the demo has a household with a need, an application and assistance"
    card = household_card(db, Actor("admin", "admin", EVERYTHING), str(hh))
    counts = {t: db.scalar(f"SELECT count(*) FROM {t} WHERE hh_id = ?", [hh])  # noqa: S608 (our table names)
              for t in ("visits", "needs", "applications", "assistance")}
    assert {t: len(card[t]) for t in counts} == counts
    needs = need_table(card["needs"], card["need_events"], unit_names(db))
    for need_id, shown in zip(card["needs"]["need_id"], needs["流转"], strict=True):
        steps = db.query('SELECT step FROM need_events WHERE need_id = ? ORDER BY "at", event_id', [need_id])
        assert shown == " → ".join(label(s) for s in steps["step"]), need_id
    apps = application_table(card["applications"])
    for app_id, shown, status in zip(card["applications"]["app_id"], apps["流程"], apps["状态"], strict=True):
        steps = db.query("SELECT step FROM application_events WHERE app_id = ? ORDER BY seq", [app_id])
        assert shown == " → ".join(label(s) for s in steps["step"]), app_id
        assert status == label(db.scalar("SELECT status FROM applications WHERE app_id = ?", [app_id]))
    tables = [needs, apps, aid_table(card["assistance"]), visit_table(card["visits"])]
    headers = [c for t in tables for c in t.columns]
    assert headers and not [c for c in headers if any("a" <= ch.lower() <= "z" for ch in c)], headers
    assert all(len(t) for t in tables[:3])
