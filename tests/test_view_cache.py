"""The default overview kept on disk: given back exactly, under a key that any change of the data,
the code or the settings changes, written whole or not at all."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from grid import coverage as cv
from grid import view_cache as vc
from grid.coverage import Overview
from tests.actors import EVERYTHING

AS_OF = date(2026, 11, 15)
MAP = {"script": "var m = 1;", "header": "<style></style>", "html": "<div></div>", "id": "map_x",
       "css_links": ["a.css"], "js_links": ["a.js"], "defaults": [["zoom", 13]], "with_bounds": False}


@pytest.fixture(scope="module")
def walking(store) -> Overview:
    return cv.overview_from(cv.overview_inputs(store, walking=True), "party_service", scope=EVERYTHING,
                            as_of=AS_OF, distance="walk")


@pytest.fixture(scope="module")
def straight(store) -> Overview:
    return cv.overview_from(cv.overview_inputs(store), "clinic", scope=EVERYTHING, radius=450.0, as_of=AS_OF)


def _same(a: object, b: object, where: str) -> None:
    if isinstance(a, gpd.GeoDataFrame):
        assert isinstance(b, gpd.GeoDataFrame) and a.crs == b.crs and a.geometry.name == b.geometry.name, where
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all(), where
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns=a.geometry.name)),
                                      pd.DataFrame(b.drop(columns=b.geometry.name)), check_exact=True, obj=where)
    elif isinstance(a, pd.DataFrame):
        assert not isinstance(b, gpd.GeoDataFrame), where
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), where  # type: ignore[arg-type]
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")  # type: ignore[index]
    else:
        assert type(a) is type(b) and a == b, (where, a, b)


@pytest.mark.parametrize("which", ["walking", "straight"])
def test_a_kept_view_is_given_back_exactly(which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    ov = request.getfixturevalue(which)
    assert vc.save_view(tmp_path, "k1", ov, MAP)
    got = vc.load_view(tmp_path, "k1")
    assert got is not None
    back, payload = got
    _same(ov, back, "overview")
    assert payload == MAP
    assert (tmp_path / "k1").stat().st_mode & 0o077 == 0  # household rows: the app's user alone may read them
    if ov.comparison is not None:  # the gaps are the walking gaps, one frame as before
        assert ov.gaps is ov.comparison.walk_gaps and back.gaps is back.comparison.walk_gaps
    assert not vc.save_view(tmp_path, "k1", ov, MAP)  # kept already: left as it is


def test_nothing_kept_or_unreadable_gives_none(walking: Overview, tmp_path: Path, caplog) -> None:
    assert vc.load_view(tmp_path, "absent") is None
    assert vc.save_view(tmp_path, "k", walking, MAP)
    (tmp_path / "k" / "gaps.arrow").write_bytes(b"not arrow")
    assert vc.load_view(tmp_path, "k") is None
    assert "computing it again" in caplog.text
    meta = json.loads((tmp_path / "k" / "view.json").read_text(encoding="utf-8"))
    meta["key"] = "other"
    (tmp_path / "k" / "view.json").write_text(json.dumps(meta), encoding="utf-8")
    assert vc.load_view(tmp_path, "k") is None  # a folder renamed by hand is not taken for another key


def test_a_write_that_fails_leaves_no_view(walking: Overview, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = vc._write_frame

    def failing(df: pd.DataFrame, path: Path) -> dict:
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(df, path)

    monkeypatch.setattr(vc, "_write_frame", failing)
    assert not vc.save_view(tmp_path, "k", walking, MAP)
    assert list(tmp_path.iterdir()) == []  # neither the view nor the half-written folder
    assert vc.load_view(tmp_path, "k") is None


def test_only_the_newest_views_are_kept(walking: Overview, tmp_path: Path) -> None:
    import os
    import time

    for i in range(vc.KEPT + 2):
        assert vc.save_view(tmp_path, f"k{i}", walking, MAP)
        t = time.time() - 100 + i
        os.utime(tmp_path / f"k{i}", (t, t))
    vc._prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"k{i}" for i in range(2, vc.KEPT + 2)]


def test_the_fingerprint_changes_with_every_table_the_overview_reads(db) -> None:
    first = vc.fingerprint(db)
    assert vc.fingerprint(db) == first  # the same rows, the same digest
    from grid import audit

    audit.record(db, "admin", "login")
    assert vc.fingerprint(db) == first  # what the overview does not read changes nothing
    seen = {first}
    changes = [
        "UPDATE households SET size = size + 1 WHERE hh_id = (SELECT min(hh_id) FROM households)",
        "UPDATE cells SET warden_id = NULL WHERE cell_id = (SELECT min(cell_id) FROM cells)",
        "UPDATE stations SET radius_m = radius_m + 1 WHERE station_id = (SELECT min(station_id) FROM stations)",
        "DELETE FROM visits WHERE rowid = (SELECT min(rowid) FROM visits)",
        "UPDATE admin_units SET name = name || '新' WHERE code = (SELECT min(code) FROM admin_units)",
        "DELETE FROM roads WHERE rowid = (SELECT min(rowid) FROM roads)",
        "DELETE FROM patrol_areas WHERE rowid = (SELECT min(rowid) FROM patrol_areas)",
    ]
    for sql in changes:
        with db.transaction() as cur:
            cur.execute(sql)
        now = vc.fingerprint(db)
        assert now not in seen, sql
        seen.add(now)


def test_the_key_names_the_data_the_code_and_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    base = vc.key_for("data", {"as_of": "2026-11-15", "measure": "gap_share"})
    assert base == vc.key_for("data", {"measure": "gap_share", "as_of": "2026-11-15"})
    assert base != vc.key_for("other data", {"as_of": "2026-11-15", "measure": "gap_share"})
    assert base != vc.key_for("data", {"as_of": "2026-11-16", "measure": "gap_share"})
    monkeypatch.setattr(vc, "code_version", lambda: "another version")
    assert base != vc.key_for("data", {"as_of": "2026-11-15", "measure": "gap_share"})


def test_where_views_are_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(vc.VIEWS_ENV, raising=False)
    assert vc.view_dir(tmp_path / "a.duckdb") == tmp_path / "a.duckdb.views"
    monkeypatch.setenv(vc.VIEWS_ENV, "off")
    assert vc.view_dir(tmp_path / "a.duckdb") is None
    monkeypatch.setenv(vc.VIEWS_ENV, str(tmp_path / "views"))
    a, b = vc.view_dir(tmp_path / "a.duckdb"), vc.view_dir(tmp_path / "b.duckdb")
    assert a is not None and a.parent == tmp_path / "views" and a != b
