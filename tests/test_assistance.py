"""Assistance measures: exact figures on hand-made frames, and totals on the
session district checked against direct SQL sums."""

from __future__ import annotations

import math
from datetime import date

import h3
import numpy as np
import pandas as pd
import pytest

from grid import assistance as ga
from grid.errors import WarmGridError


# --------------------------------------------------------------------------- hand-made
@pytest.fixture()
def hh() -> pd.DataFrame:
    # c1: 3 households (5 people, 1 vulnerable); c2: 2 households (4 people, 2 vulnerable).
    return pd.DataFrame({
        "hh_id": ["a", "b", "c", "d", "e"],
        "cell_id": ["c1", "c1", "c1", "c2", "c2"],
        "community_code": ["m1"] * 5,
        "street_code": ["s1"] * 5,
        "lat": [24.48, 24.4805, 24.48, 24.50, 24.50],
        "lon": [118.08, 118.0805, 118.08, 118.10, 118.10],
        "size": [2, 1, 2, 3, 1],
        "vulnerable": [True, False, False, True, True],
    })


@pytest.fixture()
def aid() -> pd.DataFrame:
    return pd.DataFrame({
        "aid_id": ["A1", "A2", "A3", "A4"],
        "hh_id": ["a", "a", "b", "d"],
        "campaign_id": ["W", "W", "X", "W"],
        "amount_yuan": [500.0, 0.0, 200.0, 300.0],
        "goods_value_yuan": [0.0, 150.0, 0.0, 50.0],
        "given_at": pd.to_datetime(["2025-12-20", "2026-01-05", "2026-03-01", "2026-01-30"]),
    })


def test_measures_by_cell_exact(hh: pd.DataFrame, aid: pd.DataFrame) -> None:
    m = ga.measures(hh, aid, "cell").set_index("cell_id")
    assert list(m.index) == ["c1", "c2"]
    c1, c2 = m.loc["c1"], m.loc["c2"]
    assert (c1["households"], c1["people"], c1["vulnerable"], c1["households_helped"]) == (3, 5, 1, 2)
    assert (c2["households"], c2["people"], c2["vulnerable"], c2["households_helped"]) == (2, 4, 2, 1)
    assert (c1["cash_yuan"], c1["goods_yuan"], c1["total_yuan"]) == (700.0, 150.0, 850.0)
    assert (c2["cash_yuan"], c2["goods_yuan"], c2["total_yuan"]) == (300.0, 50.0, 350.0)
    assert c1["per_household"] == pytest.approx(850 / 3)
    assert c1["per_person"] == pytest.approx(170.0)
    assert c1["per_vulnerable"] == pytest.approx(850.0)
    assert c2["per_vulnerable"] == pytest.approx(175.0)
    assert c1["share_of_aid"] == pytest.approx(850 / 1200)
    assert c1["share_of_vulnerable"] == pytest.approx(1 / 3)
    # c1 got 71% of the aid for 33% of the vulnerable: over-served; c2 under-served.
    assert c1["ratio"] == pytest.approx((850 / 1200) / (1 / 3))
    assert c1["ratio"] > 1 > c2["ratio"]
    assert c2["ratio"] == pytest.approx((350 / 1200) / (2 / 3))
    assert m["cash_yuan"].dtype == float and m["households"].dtype == np.int64


def test_units_without_aid_or_vulnerable(hh: pd.DataFrame, aid: pd.DataFrame) -> None:
    extra = pd.concat([hh, pd.DataFrame({"hh_id": ["z"], "cell_id": ["c3"], "size": [1], "vulnerable": [False]})])
    m = ga.measures(extra, aid, "cell").set_index("cell_id")
    c3 = m.loc["c3"]
    assert (c3["households"], c3["households_helped"], c3["total_yuan"], c3["per_household"]) == (1, 0, 0.0, 0.0)
    assert math.isnan(c3["per_vulnerable"]) and math.isnan(c3["ratio"])
    assert c3["share_of_vulnerable"] == 0.0


def test_no_aid_at_all(hh: pd.DataFrame, aid: pd.DataFrame) -> None:
    m = ga.measures(hh, aid.iloc[0:0], "cell")
    assert m["total_yuan"].tolist() == [0.0, 0.0]
    assert m["households_helped"].tolist() == [0, 0]


def test_unplaced_households_and_unknown_aid_keep_the_total(hh: pd.DataFrame, aid: pd.DataFrame) -> None:
    h = hh.copy()
    h.loc[h["hh_id"] == "d", "cell_id"] = None
    a = pd.concat([aid, pd.DataFrame({"aid_id": ["A9"], "hh_id": ["ghost"], "amount_yuan": [10.0],
                                      "goods_value_yuan": [0.0]})])
    m = ga.measures(h, a, "cell")
    assert m["total_yuan"].sum() == pytest.approx(1210.0)
    assert m["cell_id"].iloc[-1] is None
    assert m["total_yuan"].iloc[-1] == pytest.approx(360.0)


def test_other_units_sum_to_the_same(hh: pd.DataFrame, aid: pd.DataFrame) -> None:
    for by in ("community", "street", "h3:9"):
        m = ga.measures(hh, aid, by)
        assert m["total_yuan"].sum() == pytest.approx(1200.0)
        assert m["households"].sum() == 5


def test_h3_grouping(hh: pd.DataFrame, aid: pd.DataFrame) -> None:
    two = hh[hh["hh_id"].isin(["a", "b"])]  # about 75 m apart
    aid = aid[aid["hh_id"].isin(two["hh_id"])]
    assert h3.latlng_to_cell(24.48, 118.08, 7) == h3.latlng_to_cell(24.4805, 118.0805, 7)
    m7 = ga.measures(two, aid, "h3:7")
    assert len(m7) == 1 and m7["households"].tolist() == [2]
    assert m7["h3_cell"].iloc[0] == h3.latlng_to_cell(24.48, 118.08, 7)
    m11 = ga.measures(two, aid, "h3:11")
    assert len(m11) == 2 and m11["households"].tolist() == [1, 1]
    assert set(m11["h3_cell"]) == {h3.latlng_to_cell(24.48, 118.08, 11), h3.latlng_to_cell(24.4805, 118.0805, 11)}


@pytest.mark.parametrize("by", ["h3:4", "h3:12", "h3:x", "hex", "district"])
def test_bad_unit(hh: pd.DataFrame, aid: pd.DataFrame, by: str) -> None:
    with pytest.raises(WarmGridError):
        ga.measures(hh, aid, by)


# --------------------------------------------------------------------------- gini / lorenz
@pytest.mark.parametrize(("values", "expected"), [
    ([1, 1, 1, 1], 0.0), ([0, 0, 0, 1], 0.75), ([1, 2, 3, 4], 0.25), ([4, 3, 2, 1], 0.25),
    ([5], 0.0), ([0, 0], 0.0), ([0, 1], 0.5),
])
def test_gini(values: list[float], expected: float) -> None:
    assert ga.gini(values) == pytest.approx(expected, abs=1e-12)


def test_gini_edge_cases() -> None:
    assert math.isnan(ga.gini([]))
    for bad in ([1, -1], [1, float("nan")], [1, float("inf")]):
        with pytest.raises(WarmGridError):
            ga.gini(bad)


def test_lorenz() -> None:
    lz = ga.lorenz([4, 1, 3, 2])
    assert list(lz.columns) == ["cum_share_units", "cum_share_value"]
    assert lz["cum_share_units"].tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert lz["cum_share_value"].tolist() == pytest.approx([0, 0.1, 0.3, 0.6, 1.0])
    eq = ga.lorenz([1, 1, 1, 1])
    assert eq["cum_share_value"].tolist() == pytest.approx(eq["cum_share_units"].tolist())
    # Gini = 1 - 2 * area under the Lorenz curve (trapezoids).
    x, y = lz["cum_share_units"].to_numpy(), lz["cum_share_value"].to_numpy()
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))
    assert 1 - 2 * area == pytest.approx(ga.gini([4, 1, 3, 2]))


def test_equity_hand(hh: pd.DataFrame, aid: pd.DataFrame) -> None:
    e = ga.equity(hh, aid)
    # per vulnerable: c1 850, c2 175 -> gini of two = (850 - 175) / (2 * 1025)
    assert e["cells"] == 2
    assert e["gini"] == pytest.approx((850 - 175) / (2 * 1025))
    assert len(e["lorenz"]) == 3


# --------------------------------------------------------------------------- monthly / campaigns
def test_monthly_hand(aid: pd.DataFrame) -> None:
    mo = ga.monthly(aid)
    assert mo["month"].tolist() == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert mo["total_yuan"].tolist() == [500.0, 500.0, 0.0, 200.0]
    assert mo["households_helped"].tolist() == [1, 2, 0, 1]
    assert ga.monthly(aid.iloc[0:0]).empty


def test_compare_campaigns_hand(hh: pd.DataFrame, aid: pd.DataFrame) -> None:
    cc = ga.compare_campaigns(hh, aid, ["W", "X", "none"]).set_index("campaign_id")
    assert cc.loc["W", "households_helped"] == 2 and cc.loc["W", "total_yuan"] == 1000.0
    assert cc.loc["W", "per_household_helped"] == 500.0
    assert cc.loc["W", "vulnerable_reach"] == pytest.approx(2 / 3)
    assert cc.loc["X", "households_helped"] == 1 and cc.loc["X", "vulnerable_helped"] == 0
    assert cc.loc["none", "total_yuan"] == 0.0 and math.isnan(cc.loc["none", "per_household_helped"])


def test_suppress_small(hh: pd.DataFrame, aid: pd.DataFrame) -> None:
    m = ga.measures(hh, aid, "cell")  # c1: 3 households, c2: 2
    s = ga.suppress_small(m, k=3)
    assert s["cell_id"].tolist() == ["c1", "c2"]
    assert s.loc[0, "total_yuan"] == 850.0 and s.loc[0, "households"] == 3
    assert all(s.loc[1, c] == "<3" for c in ga.MEASURE_COLUMNS)
    assert m.loc[1, "total_yuan"] == 350.0  # the input is untouched
    only = ga.suppress_small(m, k=3, cols=["total_yuan"])
    assert only.loc[1, "total_yuan"] == "<3" and only.loc[1, "households"] == 2
    with pytest.raises(WarmGridError):
        ga.suppress_small(m, k=0)


# --------------------------------------------------------------------------- session district
@pytest.fixture(scope="module")
def inputs(store) -> tuple[pd.DataFrame, pd.DataFrame]:
    return ga.load_assistance_inputs(store)


def _sql_total(store, where: str = "", params: list | None = None) -> float:
    return float(store.scalar(f"SELECT sum(amount_yuan + goods_value_yuan) FROM assistance{where}", params) or 0)


def test_loader_columns(inputs: tuple[pd.DataFrame, pd.DataFrame], store) -> None:
    households, aid = inputs
    assert {"hh_id", "cell_id", "community_code", "street_code", "lon", "lat", "size", "vulnerable"} <= set(households)
    assert list(aid.columns) == ["aid_id", "hh_id", "kind", "programme", "campaign_id", "amount_yuan",
                                 "goods_value_yuan", "value_yuan", "given_at"]
    assert len(aid) == store.count("assistance") > 0
    assert aid["value_yuan"].to_numpy() == pytest.approx((aid["amount_yuan"] + aid["goods_value_yuan"]).to_numpy())
    # street_code is the parent of the community.
    streets = set(store.query("SELECT code FROM admin_units WHERE level = 'street'")["code"])
    assert set(households["street_code"].dropna()) <= streets
    assert set(aid["hh_id"]) <= set(households["hh_id"])


@pytest.mark.parametrize("by", ["cell", "community", "street", "h3:7"])
def test_district_totals_match_sql(inputs: tuple[pd.DataFrame, pd.DataFrame], store, by: str) -> None:
    households, aid = inputs
    m = ga.measures(households, aid, by)
    assert m["total_yuan"].sum() == pytest.approx(_sql_total(store))
    assert m["cash_yuan"].sum() == pytest.approx(float(store.scalar("SELECT sum(amount_yuan) FROM assistance")))
    assert m["households"].sum() == len(households)
    assert m["vulnerable"].sum() == int(households["vulnerable"].sum())
    assert m["share_of_aid"].sum() == pytest.approx(1.0)
    helped = store.scalar("SELECT count(DISTINCT hh_id) FROM assistance")
    assert m["households_helped"].sum() == helped


def test_district_cell_figures_match_sql(inputs: tuple[pd.DataFrame, pd.DataFrame], store) -> None:
    households, aid = inputs
    m = ga.measures(households, aid, "cell").set_index("cell_id")
    sql = store.query(
        "SELECT h.cell_id, CAST(sum(a.amount_yuan + a.goods_value_yuan) AS DOUBLE) AS total"
        " FROM assistance a JOIN households h USING (hh_id) WHERE h.cell_id IS NOT NULL GROUP BY h.cell_id"
    ).set_index("cell_id")["total"]
    assert m.loc[sql.index, "total_yuan"].to_numpy() == pytest.approx(sql.to_numpy())


def test_district_filters(store) -> None:
    _, aid = ga.load_assistance_inputs(store, campaign_id="C2025W")
    assert aid["value_yuan"].sum() == pytest.approx(_sql_total(store, " WHERE campaign_id = ?", ["C2025W"]))
    _, none = ga.load_assistance_inputs(store, campaign_id="nope'; DROP TABLE assistance; --")
    assert none.empty and store.count("assistance") > 0
    first = aid["given_at"].min().date()
    _, day = ga.load_assistance_inputs(store, since=first, until=first)
    assert len(day) == int((aid["given_at"].dt.date == first).sum()) > 0
    _, later = ga.load_assistance_inputs(store, since=date(2099, 1, 1))
    assert later.empty


def test_district_monthly_and_equity(inputs: tuple[pd.DataFrame, pd.DataFrame], store) -> None:
    households, aid = inputs
    mo = ga.monthly(aid)
    assert mo["total_yuan"].sum() == pytest.approx(_sql_total(store))
    assert mo["month"].is_monotonic_increasing
    e = ga.equity(households, aid)
    assert 0.0 <= e["gini"] < 1.0
    m = ga.measures(households, aid, "cell")
    assert e["cells"] == int((m["cell_id"].notna() & (m["vulnerable"] > 0)).sum()) > 1
    cc = ga.compare_campaigns(households, aid, ["C2025W"])
    assert cc.loc[0, "total_yuan"] == pytest.approx(_sql_total(store, " WHERE campaign_id = ?", ["C2025W"]))


def test_district_suppression(inputs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    households, aid = inputs
    m = ga.measures(households, aid, "h3:11")
    k = 5
    s = ga.suppress_small(m, k=k)
    small = m["households"] < k
    assert small.any() and (~small).any()
    assert (s.loc[small, "total_yuan"] == f"<{k}").all()
    assert (s.loc[small, "households"] == f"<{k}").all()
    assert not (s.loc[~small, "total_yuan"].astype(str) == f"<{k}").any()
    assert s["h3_cell"].tolist() == m["h3_cell"].tolist()


def test_aid_for_equals_pandas_isin() -> None:
    from grid.assistance import aid_for

    rng = np.random.default_rng(3)
    ids = np.array([f"H{i:07d}" for i in range(5_000)], dtype=object)
    aid = pd.DataFrame({"hh_id": rng.choice(np.append(ids, [None, "Z1"]), 2_000), "value_yuan": rng.random(2_000)})
    households = pd.DataFrame({"hh_id": rng.choice(ids, 3_000, replace=False)})
    want = aid[aid["hh_id"].isin(set(households["hh_id"]))]
    pd.testing.assert_frame_equal(aid_for(aid, households), want)
    assert aid_for(aid.iloc[0:0], households).empty and aid_for(aid, households.iloc[0:0]).empty


# --------------------------------------------------------------------------- aid outside every cell
#: A tiny district worked by hand: cells c1 (community m1) and c2 (community m2), both in street s1,
#: and h5 outside every cell. Aid: h1 300 cash, h3 200 cash + 100 goods, h5 (outside) 400 cash = 1,000 yuan.
#: Vulnerable: h1, h3, h4, h5 = 4.
#:
#:  unit      total  share_of_aid  vulnerable  share_of_vulnerable  ratio
#:  c1 / m1    300       0.3           1            0.25            1.2
#:  c2 / m2    300       0.3           2            0.50            0.6
#:  s1         600       0.6           3            0.75            0.8
#:  outside    400       0.4           1            0.25            1.6
OUTSIDE_HAND = {
    "cell": {"c1": (300.0, 0.3, 0.25, 1.2), "c2": (300.0, 0.3, 0.5, 0.6), None: (400.0, 0.4, 0.25, 1.6)},
    "community": {"m1": (300.0, 0.3, 0.25, 1.2), "m2": (300.0, 0.3, 0.5, 0.6), None: (400.0, 0.4, 0.25, 1.6)},
    "street": {"s1": (600.0, 0.6, 0.75, 0.8), None: (400.0, 0.4, 0.25, 1.6)},
}


def _outside_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    hh = pd.DataFrame({
        "hh_id": ["h1", "h2", "h3", "h4", "h5"],
        "cell_id": ["c1", "c1", "c2", "c2", None],
        "community_code": ["m1", "m1", "m2", "m2", None],
        "street_code": ["s1", "s1", "s1", "s1", None],
        "size": [2, 1, 3, 1, 2],
        "vulnerable": [True, False, True, True, True],
    })
    aid = pd.DataFrame({"hh_id": ["h1", "h3", "h5"], "amount_yuan": [300.0, 200.0, 400.0],
                        "goods_value_yuan": [0.0, 100.0, 0.0]})
    return hh, aid


def _check_outside(m: pd.DataFrame, col: str, by: str) -> None:
    want = OUTSIDE_HAND[by]
    assert [None if pd.isna(u) else u for u in m[col]] == list(want)  # the outside unit last
    for unit, (total, share_aid, share_vul, ratio) in want.items():
        row = m[m[col].isna()] if unit is None else m[m[col] == unit]
        assert len(row) == 1
        r = row.iloc[0]
        assert r["total_yuan"] == pytest.approx(total)
        assert r["share_of_aid"] == pytest.approx(share_aid)
        assert r["share_of_vulnerable"] == pytest.approx(share_vul)
        assert r["ratio"] == pytest.approx(ratio)
        assert r["ratio"] == pytest.approx(r["share_of_aid"] / r["share_of_vulnerable"])
    assert m["share_of_aid"].sum() == pytest.approx(1.0)
    assert m["share_of_vulnerable"].sum() == pytest.approx(1.0)
    assert m["total_yuan"].sum() == pytest.approx(1000.0)


@pytest.mark.parametrize("by", list(OUTSIDE_HAND))
def test_aid_outside_every_cell_keeps_shares_summing_to_one(by: str) -> None:
    hh, aid = _outside_frames()
    _check_outside(ga.measures(hh, aid, by), ga.UNITS[by], by)


def test_aid_outside_every_cell_from_the_store(fresh_store) -> None:
    """The same district in a database: h5's cell is derived (outside both cells), the loader keeps it."""
    s = fresh_store
    square = "POLYGON(({x0} 24.48, {x1} 24.48, {x1} 24.49, {x0} 24.49, {x0} 24.48))"
    units = [("350203000000", "区", "district", None), ("350203001000", "街道", "street", "350203000000"),
             ("350203001001", "一社区", "community", "350203001000"),
             ("350203001002", "二社区", "community", "350203001000")]
    where = {"h1": (118.081, "c1"), "h2": (118.082, "c1"), "h3": (118.091, "c2"), "h4": (118.092, "c2"),
             "h5": (118.2, None)}
    hh, aid = _outside_frames()
    cell_ids = {"c1": "3502030010010001", "c2": "3502030010020001"}
    with s.transaction() as cur:
        for code, name, level, parent in units:
            cur.execute("INSERT INTO admin_units (code, name, level, parent_code) VALUES (?, ?, ?, ?)",
                        [code, name, level, parent])
        for c, (cid, comm, x0) in {"c1": (cell_ids["c1"], "350203001001", 118.08),
                                   "c2": (cell_ids["c2"], "350203001002", 118.09)}.items():
            cur.execute("INSERT INTO cells (cell_id, name, community_code, geom) VALUES (?, ?, ?,"
                        " ST_GeomFromText(?))", [cid, c, comm, square.format(x0=x0, x1=round(x0 + 0.01, 2))])
        for r in hh.itertuples(index=False):
            cur.execute("INSERT INTO households (hh_id, geom, address, size, categories) VALUES"
                        " (?, ST_Point(?, 24.485), '路', ?, ?)",
                        [r.hh_id, where[r.hh_id][0], r.size, ["disabled"] if r.vulnerable else []])
        for i, r in enumerate(aid.itertuples(index=False)):
            cur.execute("INSERT INTO assistance (aid_id, hh_id, programme, amount_yuan, goods_value_yuan, given_at,"
                        " giver_unit) VALUES (?, ?, '情暖万家', ?, ?, TIMESTAMP '2026-01-20', '街道')",
                        [f"A{i}", r.hh_id, r.amount_yuan, r.goods_value_yuan])
    s.refresh_derived()
    households, records = ga.load_assistance_inputs(s)
    assert households.set_index("hh_id")["cell_id"].isna().to_dict() == {
        h: c is None for h, (_, c) in where.items()}
    m = ga.measures(households, records, "cell")
    m["cell_id"] = m["cell_id"].map({v: k for k, v in cell_ids.items()}).where(m["cell_id"].notna(), None)
    _check_outside(m, "cell_id", "cell")


@pytest.mark.parametrize("by", ["cell", "community", "street", "h3:7"])
def test_district_shares_sum_to_one_and_ratios_are_share_over_share(inputs, by: str) -> None:
    households, aid = inputs
    m = ga.measures(households, aid, by)
    assert m["share_of_aid"].sum() == pytest.approx(1.0)
    assert m["share_of_vulnerable"].sum() == pytest.approx(1.0)
    ok = m["share_of_vulnerable"] > 0
    assert np.allclose(m.loc[ok, "ratio"], m.loc[ok, "share_of_aid"] / m.loc[ok, "share_of_vulnerable"])
    # Direct sums: each unit's share is its aid over all aid in the selection, wherever given.
    total = float(aid["value_yuan"].sum())
    assert np.allclose(m["share_of_aid"], m["total_yuan"] / total)
