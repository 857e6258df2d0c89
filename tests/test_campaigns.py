"""The campaign audit (全覆盖、不遗漏、不重复): planted duplicates and omissions found exactly,
visits checked against an independent computation, areas, summaries, the CLI document."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from grid.campaigns import (
    REASONS,
    STATUSES,
    Audit,
    CampaignData,
    audit_campaign,
    campaign_frames,
    cli_audit,
    load_campaign,
)
from grid.demo import DemoDistrict
from grid.errors import WarmGridError
from grid.store import Store
from tests.actors import EVERYTHING

CAMPAIGN = "C2025W"
COUNTS = ("targets", "visited", "helped", "reached", "not_visited", "not_helped", "omissions",
          "duplicates", "duplicate_households")


@pytest.fixture(scope="module")
def winter(store: Store) -> tuple[CampaignData, Audit]:
    data = campaign_frames(store, CAMPAIGN, scope=EVERYTHING)
    return data, audit_campaign(data.targets, data.visits, data.assistance)


def _independent_targets_and_visited(district: DemoDistrict) -> tuple[set[str], set[str]]:
    """From the generated frames in memory (not the database): targets and campaign-visited households."""
    camp = district.campaigns.set_index("campaign_id").loc[CAMPAIGN]
    cats = set(camp["target_categories"])
    hh = district.households
    is_target = pd.Series([bool(cats & set(c)) for c in hh["categories"]], index=hh.index) & (hh["status"] == "active")
    targets = set(hh.loc[is_target, "hh_id"])
    v = district.visits
    start = pd.Timestamp(camp["starts_on"])
    end = pd.Timestamp(camp["ends_on"]) + pd.Timedelta(days=1)
    at = pd.to_datetime(v["visited_at"])
    in_campaign = (v["campaign_id"] == CAMPAIGN) | ((at >= start) & (at < end))
    visited = set(v.loc[in_campaign, "hh_id"]) & targets
    return targets, visited


# --------------------------------------------------------------------------- the demo's winter campaign
def test_load_campaign(store: Store, district: DemoDistrict) -> None:
    camp = load_campaign(store, CAMPAIGN)
    row = district.campaigns.set_index("campaign_id").loc[CAMPAIGN]
    assert camp["name"] == row["name"]
    assert camp["unit_code"] == row["unit_code"]
    assert camp["starts_on"] == row["starts_on"] and camp["ends_on"] == row["ends_on"]
    assert camp["target_categories"] == list(row["target_categories"])
    assert all(isinstance(c, str) for c in camp["target_categories"])


def test_duplicates_are_exactly_the_planted_ones(winter: tuple[CampaignData, Audit],
                                                 district: DemoDistrict) -> None:
    _, audit = winter
    dups = audit.duplicates
    assert district.planted_duplicates, "the fixture plants duplicates"
    assert sorted(dups["hh_id"]) == sorted(district.planted_duplicates)
    assert not dups["hh_id"].duplicated().any()
    # Planted as 情暖万家 from the street and again from 区民政局: two units.
    assert set(dups["reason"]) == {"two_units"}
    assert set(dups["programme"]) == {"情暖万家"}
    aid = district.assistance.set_index("aid_id")
    for row in dups.itertuples():
        assert len(row.aid_ids) == 2 and len(row.units) == 2 and len(row.amounts_yuan) == 2
        assert "区民政局" in row.units
        assert list(aid.loc[row.aid_ids, "hh_id"]) == [row.hh_id] * 2
        assert list(aid.loc[row.aid_ids, "giver_unit"]) == row.units
        assert row.value_yuan == 1000.0 and row.excess_yuan == 500.0
        assert row.zh.startswith(REASONS["two_units"][0]) and "区民政局" in row.zh
    assert set(audit.households.loc[audit.households["duplicate"], "hh_id"]) == set(district.planted_duplicates)


def test_not_helped_is_exactly_the_planted_omissions(winter: tuple[CampaignData, Audit],
                                                     district: DemoDistrict) -> None:
    _, audit = winter
    om = audit.omissions
    assert district.planted_omissions
    assert sorted(om.loc[om["reason"] == "not_helped", "hh_id"]) == sorted(district.planted_omissions)
    assert set(om["reason"]) <= {"not_visited", "not_helped"}
    assert not om.duplicated(["hh_id", "reason"]).any()
    assert (om["zh"] == om["reason"].map(lambda r: REASONS[r][0])).all()
    assert (om["en"] == om["reason"].map(lambda r: REASONS[r][1])).all()
    # Every omitted household is a target, and nothing else is reported.
    assert set(om["hh_id"]) <= set(audit.households["hh_id"])


def test_targets_and_not_visited_match_an_independent_computation(winter: tuple[CampaignData, Audit],
                                                                  district: DemoDistrict) -> None:
    _, audit = winter
    targets, visited = _independent_targets_and_visited(district)
    assert set(audit.households["hh_id"]) == targets
    not_visited = sorted(targets - visited)
    om = audit.omissions
    assert sorted(om.loc[om["reason"] == "not_visited", "hh_id"]) == not_visited
    assert audit.totals["visited"] == len(visited)
    assert not_visited, "the demo leaves some target households unvisited"


def test_not_visited_matches_plain_sql(store: Store, winter: tuple[CampaignData, Audit]) -> None:
    _, audit = winter
    sql = store.query(
        "SELECT h.hh_id FROM households h, campaigns c"
        " WHERE c.campaign_id = ? AND h.status = 'active'"
        "   AND len(list_intersect(h.categories, c.target_categories)) > 0"
        "   AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.hh_id = h.hh_id AND (v.campaign_id = c.campaign_id"
        "       OR (CAST(v.visited_at AS DATE) BETWEEN c.starts_on AND c.ends_on)))"
        " ORDER BY h.hh_id", [CAMPAIGN])
    om = audit.omissions
    assert om.loc[om["reason"] == "not_visited", "hh_id"].tolist() == sql["hh_id"].tolist()


def test_visit_frame_carries_the_basis(winter: tuple[CampaignData, Audit]) -> None:
    data, _ = winter
    v = data.visits
    assert (v["tagged"] | v["in_dates"]).all()
    assert v["tagged"].any() and (~v["tagged"] & v["in_dates"]).any()
    assert set(v["hh_id"]) <= set(data.targets["hh_id"])
    assert set(data.assistance["hh_id"]) <= set(data.targets["hh_id"])


def test_household_columns_and_status(winter: tuple[CampaignData, Audit]) -> None:
    data, audit = winter
    hh = audit.households
    for col in ("hh_id", "cell_id", "community_code", "street_code", "address", "categories", "visited",
                "first_visit", "visitor_ids", "helped", "cash_yuan", "goods_value_yuan", "programmes",
                "giver_units", "status"):
        assert col in hh.columns, col
    assert len(hh) == len(data.targets) and hh["hh_id"].is_unique
    assert set(hh["status"]) <= set(STATUSES)
    assert (hh["visited"] == hh["first_visit"].notna()).all()
    assert ((hh["cash_yuan"] + hh["goods_value_yuan"] > 0) == hh["helped"]).all()
    assert hh.loc[hh["visited"], "visitor_ids"].map(len).gt(0).all()
    assert hh["street_code"].notna().all() and hh["cell_id"].notna().all()


def test_summaries_add_up_to_the_totals(winter: tuple[CampaignData, Audit]) -> None:
    _, audit = winter
    t = audit.totals
    assert t["targets"] == len(audit.households)
    assert t["omissions"] == len(audit.omissions) == t["not_visited"] + t["not_helped"]
    assert t["duplicates"] == len(audit.duplicates)
    for frame in (audit.by_cell, audit.by_community, audit.by_street):
        for col in COUNTS:
            assert int(frame[col].sum()) == t[col], col
        assert frame["visit_rate"].between(0, 1).all() and frame["help_rate"].between(0, 1).all()
    assert audit.by_cell["cell_id"].is_unique and audit.by_community["community_code"].is_unique
    assert len(audit.by_street) == audit.households["street_code"].nunique()


# --------------------------------------------------------------------------- areas
def test_a_community_gives_a_subset_with_the_sql_counts(store: Store, winter: tuple[CampaignData, Audit]) -> None:
    _, full = winter
    comm = str(full.by_community.sort_values("targets").iloc[-1]["community_code"])
    data = campaign_frames(store, CAMPAIGN, area=comm, scope=EVERYTHING)
    assert data.area == comm
    audit = audit_campaign(data.targets, data.visits, data.assistance)
    sql = store.query(
        "WITH t AS (SELECT h.hh_id FROM households h JOIN cells ce USING (cell_id), campaigns c"
        "   WHERE c.campaign_id = $cid AND ce.community_code = $comm AND h.status = 'active'"
        "     AND len(list_intersect(h.categories, c.target_categories)) > 0)"
        " SELECT (SELECT count(*) FROM t) AS targets,"
        "  (SELECT count(*) FROM t WHERE EXISTS (SELECT 1 FROM visits v, campaigns c WHERE c.campaign_id = $cid"
        "     AND v.hh_id = t.hh_id AND (v.campaign_id = $cid"
        "     OR CAST(v.visited_at AS DATE) BETWEEN c.starts_on AND c.ends_on))) AS visited,"
        "  (SELECT count(*) FROM t WHERE EXISTS (SELECT 1 FROM assistance a"
        "     WHERE a.hh_id = t.hh_id AND a.campaign_id = $cid)) AS helped",
        {"cid": CAMPAIGN, "comm": comm}).iloc[0]
    assert audit.totals["targets"] == int(sql["targets"]) > 0
    assert audit.totals["visited"] == int(sql["visited"])
    assert audit.totals["helped"] == int(sql["helped"])
    # The same households, with the same findings, as in the whole campaign.
    sub = full.households[full.households["community_code"] == comm]
    assert audit.households["hh_id"].tolist() == sub["hh_id"].tolist()
    assert audit.households["status"].tolist() == sub["status"].tolist()
    assert len(audit.by_community) == 1 and audit.by_community["community_code"].iloc[0] == comm
    full_om = full.omissions[full.omissions["community_code"] == comm].reset_index(drop=True)
    pd.testing.assert_frame_equal(audit.omissions, full_om)


def test_a_street_and_a_cell_as_area(store: Store, winter: tuple[CampaignData, Audit]) -> None:
    _, full = winter
    street = str(full.by_street["street_code"].iloc[0])
    s = campaign_frames(store, CAMPAIGN, area=street, scope=EVERYTHING)
    assert set(s.targets["hh_id"]) == set(full.households.loc[full.households["street_code"] == street, "hh_id"])
    cell = str(full.by_cell.sort_values("targets").iloc[-1]["cell_id"])
    c = campaign_frames(store, CAMPAIGN, area=cell, scope=EVERYTHING)
    assert set(c.targets["hh_id"]) == set(full.households.loc[full.households["cell_id"] == cell, "hh_id"])
    assert len(c.targets) > 0


@pytest.mark.parametrize("area", ["999999999999", "abc", "35020300100", "3502030010019999"])
def test_an_unknown_area_is_refused(store: Store, area: str) -> None:
    with pytest.raises(WarmGridError) as err:
        campaign_frames(store, CAMPAIGN, area=area, scope=EVERYTHING)
    assert area in err.value.zh and area in err.value.en


def test_an_unknown_campaign_is_refused(store: Store) -> None:
    for call in (lambda: load_campaign(store, "NOPE"), lambda: campaign_frames(store, "NOPE", scope=EVERYTHING),
                 lambda: cli_audit(store, "NOPE", scope=EVERYTHING)):
        with pytest.raises(WarmGridError) as err:
            call()
        assert "NOPE" in err.value.zh and "活动" in err.value.zh
        assert "NOPE" in err.value.en and "campaign" in err.value.en


# --------------------------------------------------------------------------- the CLI document
def test_cli_audit_is_strict_json(store: Store, winter: tuple[CampaignData, Audit],
                                  district: DemoDistrict) -> None:
    _, audit = winter
    doc = cli_audit(store, CAMPAIGN, scope=EVERYTHING)
    text = json.dumps(doc, allow_nan=False, ensure_ascii=False)
    assert json.loads(text) == doc
    assert doc["campaign"]["campaign_id"] == CAMPAIGN and doc["campaign"]["starts_on"] == "2025-11-01"
    for key in ("targets", "visited", "helped"):
        assert doc[key] == audit.totals[key] and type(doc[key]) is int
    assert len(doc["omissions"]) == len(audit.omissions)
    assert set(doc["omissions"][0]) == {"hh_id", "reason", "zh", "en"}
    assert sorted(o["hh_id"] for o in doc["omissions"] if o["reason"] == "not_helped") == \
        sorted(district.planted_omissions)
    assert sorted(d["hh_id"] for d in doc["duplicates"]) == sorted(district.planted_duplicates)
    for d in doc["duplicates"]:
        assert {"hh_id", "reason", "programme", "aid_ids", "units"} <= set(d)
        assert isinstance(d["aid_ids"], list) and len(d["aid_ids"]) == len(d["units"]) == 2
    for key, frame in (("by_street", "street_code"), ("by_community", "community_code")):
        rows = doc[key]
        assert all(r["name"] for r in rows) and all(r[frame] for r in rows)
        for col in COUNTS:
            assert sum(r[col] for r in rows) == audit.totals[col]


def test_cli_audit_with_an_area(store: Store, winter: tuple[CampaignData, Audit]) -> None:
    _, full = winter
    comm = str(full.by_community["community_code"].iloc[0])
    doc = cli_audit(store, CAMPAIGN, area=comm, scope=EVERYTHING)
    json.dumps(doc, allow_nan=False)
    assert doc["campaign"]["area"] == comm
    assert doc["targets"] == int(full.by_community["targets"].iloc[0])
    assert [r["community_code"] for r in doc["by_community"]] == [comm]


# --------------------------------------------------------------------------- the pure function
def _targets(*ids: str, cell: Any = "c1") -> pd.DataFrame:
    return pd.DataFrame({"hh_id": list(ids), "cell_id": [cell] * len(ids), "community_code": ["k1"] * len(ids),
                         "street_code": ["s1"] * len(ids)})


def _visits(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"visit_id": [f"v{i}" for i in range(len(rows))], "hh_id": [r[0] for r in rows],
                         "visitor_id": [r[1] for r in rows],
                         "visited_at": pd.to_datetime(["2025-12-01"] * len(rows))},
                        columns=["visit_id", "hh_id", "visitor_id", "visited_at"])


def _aid(*rows: tuple[str, str, str, float]) -> pd.DataFrame:
    """rows: (hh_id, programme, giver_unit, amount)."""
    return pd.DataFrame({
        "aid_id": [f"a{i}" for i in range(len(rows))], "hh_id": [r[0] for r in rows],
        "programme": [r[1] for r in rows], "giver_unit": [r[2] for r in rows],
        "amount_yuan": [r[3] for r in rows], "goods_value_yuan": [0.0] * len(rows),
        "given_at": pd.date_range("2025-12-01", periods=len(rows), freq="D"),
    }, columns=["aid_id", "hh_id", "programme", "giver_unit", "amount_yuan", "goods_value_yuan", "given_at"])


def test_two_units_same_programme_is_a_duplicate() -> None:
    a = audit_campaign(_targets("h1"), _visits(("h1", "w1")),
                       _aid(("h1", "情暖万家", "街道党工委", 500.0), ("h1", "情暖万家", "区民政局", 300.0)))
    d = a.duplicates
    assert len(d) == 1
    row = d.iloc[0]
    assert (row["hh_id"], row["reason"], row["programme"]) == ("h1", "two_units", "情暖万家")
    assert row["aid_ids"] == ["a0", "a1"] and row["units"] == ["街道党工委", "区民政局"]
    assert row["amounts_yuan"] == [500.0, 300.0] and row["value_yuan"] == 800.0 and row["excess_yuan"] == 300.0
    assert row["zh"].startswith(REASONS["two_units"][0]) and row["en"].startswith(REASONS["two_units"][1])
    assert a.households["status"].tolist() == ["duplicate"] and a.households["duplicate"].all()
    assert a.omissions.empty
    assert a.households["cash_yuan"].tolist() == [800.0]


def test_the_same_unit_twice_is_a_duplicate() -> None:
    a = audit_campaign(_targets("h1"), _visits(("h1", "w1")),
                       _aid(("h1", "情暖万家", "区民政局", 500.0), ("h1", "情暖万家", "区民政局", 500.0)))
    assert a.duplicates[["hh_id", "reason"]].values.tolist() == [["h1", "same_unit_twice"]]
    assert a.duplicates["units"].iloc[0] == ["区民政局", "区民政局"]


def test_different_programmes_are_not_a_duplicate() -> None:
    a = audit_campaign(_targets("h1"), _visits(("h1", "w1")),
                       _aid(("h1", "情暖万家", "街道党工委", 500.0), ("h1", "春节慰问物资", "街道党工委", 150.0),
                            ("h1", "困难党员慰问", "区委组织部", 477.0)))
    assert a.duplicates.empty
    hh = a.households.iloc[0]
    assert hh["status"] == "ok" and not hh["duplicate"]
    assert hh["programmes"] == sorted(["情暖万家", "春节慰问物资", "困难党员慰问"])
    assert hh["giver_units"] == sorted(["街道党工委", "区委组织部"])
    assert hh["aid_ids"] == ["a0", "a1", "a2"]


def test_a_programme_spelt_with_stray_spaces_is_the_same_purpose() -> None:
    a = audit_campaign(_targets("h1"), _visits(("h1", "w1")),
                       _aid(("h1", "情暖万家", "街道党工委", 500.0), ("h1", " 情暖万家\u3000", "区民政局", 500.0)))
    assert a.duplicates["reason"].tolist() == ["two_units"]


def test_three_aids_from_two_units_are_one_two_units_row() -> None:
    a = audit_campaign(_targets("h1"), _visits(("h1", "w1")),
                       _aid(("h1", "情暖万家", "甲", 500.0), ("h1", "情暖万家", "甲", 500.0),
                            ("h1", "情暖万家", "乙", 500.0)))
    assert a.duplicates["reason"].tolist() == ["two_units"]
    assert a.duplicates["aid_ids"].iloc[0] == ["a0", "a1", "a2"]
    assert a.totals["duplicates"] == 1 and a.totals["duplicate_households"] == 1


def test_helped_but_not_visited_is_not_visited_only() -> None:
    a = audit_campaign(_targets("h1"), _visits(), _aid(("h1", "情暖万家", "街道党工委", 500.0)))
    assert a.omissions[["hh_id", "reason"]].values.tolist() == [["h1", "not_visited"]]
    assert a.households["status"].tolist() == ["not_visited"]
    assert a.duplicates.empty


def test_neither_visited_nor_helped_gives_two_omission_rows() -> None:
    a = audit_campaign(_targets("h1", "h2"), _visits(("h2", "w1")), _aid())
    assert a.omissions[["hh_id", "reason"]].values.tolist() == [
        ["h1", "not_visited"], ["h1", "not_helped"], ["h2", "not_helped"]]
    assert a.households["status"].tolist() == ["not_reached", "not_helped"]
    assert a.totals["omissions"] == 3


def test_non_targets_are_ignored() -> None:
    a = audit_campaign(
        _targets("h1"), _visits(("h1", "w1"), ("x", "w1"), ("y", "w2")),
        _aid(("h1", "情暖万家", "甲", 500.0), ("x", "情暖万家", "甲", 500.0), ("x", "情暖万家", "乙", 500.0)))
    assert a.households["hh_id"].tolist() == ["h1"]
    assert a.duplicates.empty and a.omissions.empty
    assert a.households["visitor_ids"].tolist() == [["w1"]]
    assert a.totals["targets"] == 1 and a.totals["visited"] == 1 and a.totals["helped"] == 1


def test_visit_details_and_summaries_with_a_household_outside_every_cell() -> None:
    targets = pd.concat([_targets("h1", "h2"), _targets("h3", cell=None)], ignore_index=True)
    visits = pd.DataFrame({"visit_id": ["v1", "v2", "v3"], "hh_id": ["h1", "h1", "h3"],
                           "visitor_id": ["w2", "w1", None],
                           "visited_at": pd.to_datetime(["2025-12-05", "2025-11-20", "2026-01-01"])})
    a = audit_campaign(targets, visits, _aid(("h2", "情暖万家", "甲", 500.0)))
    hh = a.households.set_index("hh_id")
    assert hh.loc["h1", "first_visit"] == pd.Timestamp("2025-11-20")
    assert hh.loc["h1", "visitor_ids"] == ["w1", "w2"] and hh.loc["h1", "visits"] == 2
    assert hh.loc["h3", "visited"] and hh.loc["h3", "visitor_ids"] == []
    assert len(a.by_cell) == 2  # c1 and the missing cell
    for col in COUNTS:
        assert int(a.by_cell[col].sum()) == a.totals[col]


def test_no_targets_gives_empty_frames() -> None:
    a = audit_campaign(_targets(), _visits(), _aid())
    assert a.households.empty and a.omissions.empty and a.duplicates.empty and a.by_street.empty
    assert a.totals["targets"] == 0 and a.totals["visit_rate"] == 0.0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(WarmGridError, match="street_code"):
        audit_campaign(_targets("h1").drop(columns="street_code"), _visits(), _aid())
    with pytest.raises(WarmGridError, match="h1"):
        audit_campaign(_targets("h1", "h1"), _visits(), _aid())


def test_the_pure_function_leaves_its_inputs_alone() -> None:
    t, v, a = _targets("h1", "h2"), _visits(("h1", "w1")), _aid(("h1", "p", "u", 1.0), ("h1", "p", "v", 1.0))
    copies = [f.copy() for f in (t, v, a)]
    audit_campaign(t, v, a)
    for before, after in zip(copies, (t, v, a), strict=True):
        pd.testing.assert_frame_equal(before, after)


# --------------------------------------------------------------------------- reading, on a hand-made store
D, S1, S2, K1, K2 = "350203000000", "350203001000", "350203002000", "350203001001", "350203002001"
CELL1, CELL2 = K1 + "001", K2 + "001"


def _box(x0: float, x1: float) -> str:
    return f"POLYGON(({x0} 24.0, {x1} 24.0, {x1} 24.02, {x0} 24.02, {x0} 24.0))"


@pytest.fixture()
def tiny(fresh_store: Store) -> Store:
    """Two streets of one community each; K1's cell covers only its western half."""
    with fresh_store.transaction() as cur:
        cur.executemany("INSERT INTO admin_units VALUES (?, ?, ?, ?, ST_GeomFromText(?::VARCHAR))", [
            [D, "区", "district", None, _box(118.00, 118.04)],
            [S1, "一街道", "street", D, _box(118.00, 118.02)],
            [S2, "二街道", "street", D, _box(118.02, 118.04)],
            [K1, "甲社区", "community", S1, _box(118.00, 118.02)],
            [K2, "乙社区", "community", S2, _box(118.02, 118.04)],
        ])
        cur.executemany("INSERT INTO cells (cell_id, name, community_code, geom) VALUES (?, ?, ?, ST_GeomFromText(?::VARCHAR))",
                        [[CELL1, "甲1", K1, _box(118.00, 118.01)], [CELL2, "乙1", K2, _box(118.02, 118.04)]])
        cur.executemany(
            "INSERT INTO households (hh_id, geom, address, size, categories, status)"
            " VALUES (?, ST_Point(?, 24.01), ?, 1, ?::TEXT[], ?)", [
                ["h1", 118.005, "甲1号", ["dibao_urban"], "active"],
                ["h2", 118.015, "甲2号（无网格）", ["tekun", "disabled"], "active"],
                ["h3", 118.005, "甲3号", ["disabled"], "active"],
                ["h4", 118.005, "甲4号", ["dibao_urban"], "moved"],
                ["h5", 118.030, "乙5号", ["dibao_urban"], "active"],
                ["h6", 118.006, "甲6号", [], "active"],
            ])
        cur.executemany("INSERT INTO campaigns VALUES (?, ?, ?, DATE '2025-11-01', DATE '2026-02-28', ?::TEXT[], NULL)", [
            ["CS", "街道活动", S1, ["dibao_urban", "tekun"]],
            ["CD", "全区活动", D, ["dibao_urban", "tekun"]],
            ["CX", "单位不存在", "350203009000", ["dibao_urban"]],
            ["CE", "无目标类别", D, []],
        ])
        cur.executemany("INSERT INTO visits (visit_id, hh_id, visitor_id, campaign_id, visited_at) VALUES (?, ?, ?, ?, ?)", [
            ["v1", "h1", "w1", "CS", datetime(2026, 3, 15, 10)],    # tagged, after the end: counts
            ["v2", "h2", "w2", None, datetime(2026, 2, 28, 23, 30)],  # untagged, last evening: counts
            ["v3", "h2", "w2", None, datetime(2026, 3, 1, 0, 0)],   # untagged, the day after: no
            ["v4", "h5", "w3", "CS", datetime(2025, 12, 1, 9)],     # not a target of CS
            ["v5", "h3", "w1", None, datetime(2025, 12, 1, 9)],     # not a target
            ["v6", "h1", "w1", "OTHER", datetime(2025, 10, 1, 9)],  # another campaign, before: no
            ["v7", "h1", "w4", "OTHER", datetime(2025, 11, 1, 0, 0)],  # another campaign, first day: counts
        ])
        cur.executemany(
            "INSERT INTO assistance (aid_id, hh_id, campaign_id, programme, amount_yuan, given_at, giver_unit)"
            " VALUES (?, ?, ?, '情暖万家', 500, TIMESTAMP '2025-12-01 10:00', ?)", [
                ["a1", "h1", "CS", "一街道党工委"],
                ["a2", "h1", "OTHER", "区民政局"],   # another campaign: not this one's
                ["a3", "h5", "CS", "二街道党工委"],  # not a target of CS
                ["a4", "h5", "CD", "二街道党工委"],
            ])
    fresh_store.refresh_derived()
    return fresh_store


def test_frames_of_a_street_campaign(tiny: Store) -> None:
    assert tiny.scalar("SELECT cell_id FROM households WHERE hh_id = 'h2'") is None
    data = campaign_frames(tiny, "CS", scope=EVERYTHING)
    t = data.targets.set_index("hh_id")
    assert t.index.tolist() == ["h1", "h2"]  # not h3 (category), h4 (moved), h5 (other street), h6
    assert t.loc["h1", ["cell_id", "community_code", "street_code"]].tolist() == [CELL1, K1, S1]
    assert pd.isna(t.loc["h2", "cell_id"]) and t.loc["h2", "community_code"] == K1  # placed by polygon
    assert t.loc["h2", "street_code"] == S1 and t.loc["h2", "categories"] == ["tekun", "disabled"]
    v = data.visits.set_index("visit_id")
    assert sorted(v.index) == ["v1", "v2", "v7"]
    assert v.loc["v1", "tagged"] and not v.loc["v1", "in_dates"]
    assert not v.loc["v2", "tagged"] and v.loc["v2", "in_dates"]
    assert data.assistance["aid_id"].tolist() == ["a1"]
    assert data.assistance["amount_yuan"].tolist() == [500.0]
    audit = audit_campaign(data.targets, data.visits, data.assistance)
    assert audit.households.set_index("hh_id")["status"].to_dict() == {"h1": "ok", "h2": "not_helped"}
    assert audit.households.set_index("hh_id").loc["h1", "visitor_ids"] == ["w1", "w4"]


def test_areas_of_a_district_campaign(tiny: Store) -> None:
    def ids(area: str | None) -> list[str]:
        return campaign_frames(tiny, "CD", area=area, scope=EVERYTHING).targets["hh_id"].tolist()

    assert ids(None) == ["h1", "h2", "h5"]
    assert ids(S2) == ids(K2) == ids(CELL2) == ["h5"]
    assert ids(K1) == ["h1", "h2"] and ids(CELL1) == ["h1"]
    assert ids(D) == ids(None)
    doc = cli_audit(tiny, "CD", area=S2, scope=EVERYTHING)
    # h5's visit v4 was tagged for CS but falls within CD's dates: it counts for CD too.
    assert (doc["targets"], doc["visited"], doc["helped"]) == (1, 1, 1)
    assert doc["by_street"][0]["name"] == "二街道"


def test_area_outside_the_unit_and_a_missing_unit_are_refused(tiny: Store) -> None:
    with pytest.raises(WarmGridError, match=S2):
        campaign_frames(tiny, "CS", area=S2, scope=EVERYTHING)
    assert campaign_frames(tiny, "CS", area=D, scope=EVERYTHING).targets["hh_id"].tolist() == ["h1", "h2"]  # wider: the unit
    with pytest.raises(WarmGridError, match="350203009000"):
        campaign_frames(tiny, "CX", scope=EVERYTHING)


def test_no_target_categories_means_no_targets(tiny: Store) -> None:
    doc = cli_audit(tiny, "CE", scope=EVERYTHING)
    assert doc["targets"] == 0 and doc["omissions"] == [] and doc["by_street"] == []
    json.dumps(doc, allow_nan=False)


def test_create_campaign_refuses_every_problem_at_once_and_audits_a_success(db) -> None:
    from grid.access import Actor, Scope
    from grid.campaigns import create_campaign
    from grid.errors import AccessDenied, ValidationError
    from tests.actors import OP

    street = str(db.scalar("SELECT min(code) FROM admin_units WHERE level = 'street'"))
    before = db.count("campaigns")
    with pytest.raises(ValidationError) as exc:
        create_campaign(db, OP, campaign_id=" ", name="送温暖\u202e", unit_code="999999999999",
                        starts_on="2026-02-01", ends_on="2026-01-01", targets=["nobody"])
    fields = sorted(p.field for p in exc.value.problems)
    assert fields == ["campaign_id", "ends_on", "name", "target_categories", "unit_code"]
    assert db.count("campaigns") == before
    other = Actor("c", "committee", Scope.of_cells({"not-this-street"}))
    with pytest.raises(AccessDenied):
        create_campaign(db, other, campaign_id="CX9", name="慰问", unit_code=street, starts_on="2026-01-01",
                        ends_on="2026-02-01", targets=["tekun"])
    made = create_campaign(db, OP, campaign_id="CX9", name="慰问", unit_code=street, starts_on="2026-01-01",
                           ends_on="2026-02-01", targets=["tekun"], budget_yuan=1000.0)
    assert made == "CX9" and db.count("campaigns") == before + 1
    row = db.query("SELECT username, action, object FROM audit_log ORDER BY log_id DESC LIMIT 1").iloc[0]
    assert row.tolist() == ["cli:test", "create", "campaign:CX9"]
    with pytest.raises(ValidationError, match="exists"):
        create_campaign(db, OP, campaign_id="CX9", name="慰问", unit_code=street, starts_on="2026-01-01",
                        ends_on="2026-02-01", targets=["tekun"])
