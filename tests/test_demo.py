"""The demo district: tiling, one cell per household, rates, plants, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from grid import model
from grid.demo import DemoConfig, build_demo_file, generate
from grid.errors import WarmGridError
from grid.store import TABLES, open_store
from tests.conftest import SMALL


def _geoms(store, sql: str) -> pd.DataFrame:
    df = store.query(sql)
    df["geom"] = shapely.from_wkb([bytes(b) for b in df.pop("wkb")])
    return df


def _assert_tiles(parent, children, what: str) -> None:
    union = shapely.union_all(children)
    assert shapely.symmetric_difference(union, parent).area < parent.area * 1e-9, what
    overlap = sum(c.area for c in children) - union.area
    assert abs(overlap) < parent.area * 1e-9, f"{what}: children overlap by {overlap}"


def test_admin_hierarchy_tiles_and_codes(store) -> None:
    units = _geoms(store, "SELECT code, name, level, parent_code, ST_AsWKB(geom) AS wkb FROM admin_units")
    assert units["code"].str.fullmatch(r"\d{12}").all()
    district = units[units["level"] == "district"]
    streets = units[units["level"] == "street"]
    comms = units[units["level"] == "community"]
    assert len(district) == 1 and len(streets) == SMALL.streets and len(comms) == SMALL.communities
    _assert_tiles(district["geom"].iloc[0], list(streets["geom"]), "streets tile the district")
    for code, street in streets.set_index("code")["geom"].items():
        kids = comms[comms["parent_code"] == code]
        assert len(kids) >= 1
        assert kids["code"].str.startswith(code[:9]).all()
        _assert_tiles(street, list(kids["geom"]), f"communities tile {code}")


def test_cells_tile_each_community_exactly(store) -> None:
    comms = _geoms(store, "SELECT code, ST_AsWKB(geom) AS wkb FROM admin_units WHERE level='community'")
    cells = _geoms(store, "SELECT cell_id, community_code, ST_AsWKB(geom) AS wkb FROM cells")
    assert (cells.apply(lambda r: r["cell_id"].startswith(r["community_code"]), axis=1)).all()
    assert cells["cell_id"].str.fullmatch(r"\d{15}").all()
    for code, comm in comms.set_index("code")["geom"].items():
        kids = cells[cells["community_code"] == code]
        assert len(kids) >= 1
        _assert_tiles(comm, list(kids["geom"]), f"cells tile {code}")
    # Irregular blocks, not a square lattice: cells differ in vertex count and area.
    verts = shapely.get_num_coordinates(cells["geom"].to_numpy())
    assert len(set(verts)) > 2
    assert cells["geom"].map(lambda g: g.area).std() > 0


def test_every_household_in_exactly_one_cell(store) -> None:
    """Independent of the store's SQL join: shapely STRtree, strict interior."""
    cells = _geoms(store, "SELECT cell_id, ST_AsWKB(geom) AS wkb FROM cells")
    hh = store.query("SELECT hh_id, ST_X(geom) AS lon, ST_Y(geom) AS lat, cell_id FROM households ORDER BY hh_id")
    pts = shapely.points(hh["lon"].to_numpy(), hh["lat"].to_numpy())
    tree = shapely.STRtree(cells["geom"].to_numpy())
    h_idx, c_idx = tree.query(pts, predicate="within")
    counts = np.bincount(h_idx, minlength=len(hh))
    assert (counts == 1).all(), f"{(counts != 1).sum()} households not in exactly one cell"
    mine = pd.Series(cells["cell_id"].to_numpy()[c_idx], index=h_idx).sort_index().to_numpy()
    assert (mine == hh["cell_id"].to_numpy()).all()


def test_cells_are_sized_around_the_target(store) -> None:
    per = store.query("SELECT cell_id, count(*) AS n FROM households GROUP BY cell_id")["n"]
    assert 0.6 * SMALL.target_per_cell <= per.median() <= 1.5 * SMALL.target_per_cell


def test_rates_follow_the_domain_figures(district) -> None:
    hh = district.households
    vul = hh[hh["categories"].map(len) > 0]
    share = len(vul) / len(hh)
    assert 0.05 <= share <= 0.10  # about 7.6 %
    first = vul["categories"].map(lambda c: c[0])
    assert 0.45 <= first.isin(["dibao_urban", "dibao_rural"]).mean() <= 0.65  # about 55 %
    assert 0.05 <= first.isin(["tekun", "wubao_home", "wubao_central"]).mean() <= 0.16  # about 10 %
    assert set(hh["categories"].explode().dropna()) <= set(model.HARDSHIP)
    assert hh["size"].between(1, 8).all()
    assert (hh.loc[hh["categories"].map(lambda c: list(c) == ["elderly_alone"]), "size"] == 1).all()
    order = list(model.HARDSHIP)
    assert all(list(c) == sorted(c, key=order.index) for c in hh["categories"])


def test_id_numbers_carry_valid_check_digits(district) -> None:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    for idn in district.households["id_number"].head(500):
        total = sum(int(c) * w for c, w in zip(idn[:17], weights, strict=False))
        assert idn[17] == "10X98765432"[total % 11]


def test_stations_patrols_and_wardens(store) -> None:
    st = store.query("SELECT type, radius_m FROM stations")
    assert st["type"].nunique() >= 6
    for t, r in st.itertuples(index=False):
        assert r == model.STATION_TYPES[t].radius_m
    assert set(st["type"].unique()) <= set(model.STATION_TYPES)
    comm_with_party = store.scalar("SELECT count(DISTINCT community_code) FROM stations WHERE type='party_service'")
    assert comm_with_party == SMALL.communities
    no_warden = store.scalar("SELECT count(*) FROM cells WHERE warden_id IS NULL")
    total = store.count("cells")
    assert 1 <= no_warden < total / 2
    frac = store.scalar(
        "SELECT ST_Area(ST_Union_Agg(p.geom)) / (SELECT ST_Area(geom) FROM admin_units WHERE level='district')"
        " FROM patrol_areas p")
    assert 0.02 < frac < 0.9
    wardens = store.query("SELECT person_id FROM people WHERE role='warden'")["person_id"]
    assert set(store.query("SELECT warden_id FROM cells WHERE warden_id IS NOT NULL")["warden_id"]) == set(wardens)


def test_planted_duplicates_and_omissions_are_exactly_what_the_records_show(store, district) -> None:
    aid = store.query("SELECT hh_id, giver_unit FROM assistance WHERE campaign_id='C2025W' AND programme='情暖万家'")
    per = aid.groupby("hh_id")["giver_unit"].agg(["size", "nunique"])
    dups = sorted(per.index[per["size"] > 1])
    assert dups == district.planted_duplicates and len(dups) >= 5
    assert (per.loc[dups, "nunique"] == 2).all()  # two units, same purpose
    targets = store.query(
        "SELECT h.hh_id FROM households h, campaigns c WHERE c.campaign_id='C2025W'"
        " AND len(list_intersect(h.categories, c.target_categories)) > 0")["hh_id"]
    omitted = sorted(set(targets) - set(aid["hh_id"]))
    assert omitted == district.planted_omissions and len(omitted) >= 5
    assert not set(omitted) & set(dups)


def test_visits_and_needs_are_plausible(store) -> None:
    last = store.scalar("SELECT max(visited_at) FROM visits")
    assert last.date() <= SMALL.as_of
    rate = store.scalar("SELECT avg(CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END) FROM needs")
    assert 0.7 <= rate <= 0.95  # the seeds' street resolved or answered 85.3 %
    orphans = store.scalar("SELECT count(*) FROM visits v ANTI JOIN households h USING (hh_id)")
    assert orphans == 0


def _checksums(path: Path) -> dict[str, str]:
    with open_store(path, read_only=True) as s:
        out = {}
        for t in (*TABLES, "warmgrid_meta"):
            out[t] = s.scalar(
                f"SELECT md5(coalesce(string_agg(CAST(x AS VARCHAR), '|' ORDER BY CAST(x AS VARCHAR)), ''))"
                f" FROM {t} x")
        return out


def test_same_seed_same_database(tmp_path: Path) -> None:
    cfg = DemoConfig(households=800, seed=5, streets=3, communities=4, target_per_cell=100)
    build_demo_file(tmp_path / "a.duckdb", cfg)
    build_demo_file(tmp_path / "b.duckdb", cfg)
    build_demo_file(tmp_path / "c.duckdb", DemoConfig(households=800, seed=6, streets=3, communities=4,
                                                      target_per_cell=100))
    a, b, c = (_checksums(tmp_path / f"{n}.duckdb") for n in "abc")
    # Password hashes are salted at random and the audit log is timestamped: those two differ on purpose.
    for sums in (a, b):
        sums.pop("users"), sums.pop("audit_log")
    assert a == b
    assert a["households"] != c["households"]


def test_demo_accounts_one_per_role(store) -> None:
    from grid import users
    from grid.demo import DEMO_ACCOUNTS

    listed = users.list_users(store)
    assert sorted(listed["role"]) == sorted(DEMO_ACCOUNTS)
    warden = listed[listed["role"] == "warden"].iloc[0]
    cells = store.query("SELECT cell_id FROM cells WHERE warden_id = (SELECT person_id FROM users"
                        " WHERE role = 'warden')")["cell_id"]
    assert sorted(warden["scope"]) == sorted(cells) and len(cells) >= 1


def test_existing_file_is_not_replaced_without_force(tmp_path: Path) -> None:
    p = tmp_path / "d.duckdb"
    p.write_bytes(b"keep me")
    with pytest.raises(WarmGridError, match="already exists"):
        build_demo_file(p, DemoConfig(households=200))
    assert p.read_bytes() == b"keep me"


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    p = tmp_path / "e.duckdb"

    def boom(frac: float, msg: str) -> None:
        if frac > 0.9:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        build_demo_file(p, DemoConfig(households=300), progress=boom)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kw", [dict(households=10), dict(streets=0), dict(communities=2, streets=3),
                                dict(target_per_cell=1)])
def test_bad_settings_are_refused(kw) -> None:
    with pytest.raises(WarmGridError):
        generate(DemoConfig(**kw))
