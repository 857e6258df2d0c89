"""The store: offline extension, file checks, one writer, constraints, derived cells."""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from grid import store as store_mod
from grid.errors import (
    ExtensionMissingError,
    NotWarmGridDatabaseError,
    ReadOnlyError,
    SchemaTooNewError,
    StoreError,
)
from grid.store import SCHEMA_VERSION, TABLES, open_store

ROOT = Path(__file__).resolve().parent.parent


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _square(x0: float, y0: float, d: float) -> str:
    return f"POLYGON(({x0} {y0}, {x0 + d} {y0}, {x0 + d} {y0 + d}, {x0} {y0 + d}, {x0} {y0}))"


def test_spatial_extension_comes_from_the_pypi_package() -> None:
    path = store_mod.spatial_extension_path()
    assert path.is_file()
    assert "duckdb_extension_spatial" in str(path)
    assert f"v{duckdb.__version__}" in str(path)


def test_missing_extension_package_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(store_mod.importlib.metadata, "version", missing)
    with pytest.raises(ExtensionMissingError) as err:
        open_store(":memory:")
    assert f"pip install duckdb-extension-spatial=={duckdb.__version__}" in str(err.value)


def test_wrong_extension_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod.importlib.metadata, "version", lambda name: "0.0.1")
    with pytest.raises(ExtensionMissingError) as err:
        open_store(":memory:")
    assert "0.0.1" in str(err.value) and duckdb.__version__ in str(err.value)


def test_extensions_are_never_fetched_implicitly(fresh_store) -> None:
    settings = dict(fresh_store.query(
        "SELECT name, value FROM duckdb_settings() WHERE name IN"
        " ('autoinstall_known_extensions', 'autoload_known_extensions')").itertuples(index=False))
    assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    loaded = fresh_store.query("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'spatial'")
    assert bool(loaded["loaded"].iloc[0])


def test_new_file_gets_every_contract_table(tmp_path: Path) -> None:
    with open_store(tmp_path / "a.duckdb") as s:
        names = set(s.query("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()")[
            "table_name"])
        assert set(TABLES) <= names
        assert s.schema_version() == SCHEMA_VERSION
        cols = set(s.query("SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
                       " AND table_name='households'")
                   ["column_name"])
        assert {"hh_id", "geom", "cell_id", "address", "size", "categories"} <= cols


def test_reopen_keeps_data(tmp_path: Path) -> None:
    p = tmp_path / "a.duckdb"
    with open_store(p) as s, s.transaction() as cur:
        cur.execute("INSERT INTO people VALUES ('p1', '张三', 'warden', NULL, NULL, NULL, TRUE)")
    with open_store(p, read_only=True) as s:
        assert s.count("people") == 1


def test_a_file_that_is_not_duckdb_is_refused_and_unchanged(tmp_path: Path) -> None:
    p = tmp_path / "notes.duckdb"
    p.write_text("这不是数据库 not a database\n" * 100, encoding="utf-8")
    before = _digest(p)
    with pytest.raises(NotWarmGridDatabaseError) as err:
        open_store(p)
    assert "not a DuckDB database" in str(err.value)
    assert _digest(p) == before


def test_a_foreign_duckdb_file_is_refused_and_unchanged(tmp_path: Path) -> None:
    p = tmp_path / "other.duckdb"
    con = duckdb.connect(str(p))
    con.execute("CREATE TABLE sales (id INTEGER, amount DOUBLE)")
    con.execute("INSERT INTO sales VALUES (1, 2.5)")
    con.close()
    before = _digest(p)
    with pytest.raises(NotWarmGridDatabaseError) as err:
        open_store(p)
    assert "not a WarmGrid" in str(err.value)
    assert _digest(p) == before


def test_a_newer_schema_is_refused_and_unchanged(tmp_path: Path) -> None:
    p = tmp_path / "new.duckdb"
    with open_store(p) as s:
        s.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    before = _digest(p)
    with pytest.raises(SchemaTooNewError) as err:
        open_store(p)
    assert f"schema version {SCHEMA_VERSION + 1}" in str(err.value)
    assert _digest(p) == before


def test_second_process_gets_a_clear_lock_message(tmp_path: Path) -> None:
    p = tmp_path / "held.duckdb"
    holder = open_store(p)
    try:
        code = textwrap.dedent(f"""
            import sys
            sys.path.insert(0, {str(ROOT)!r})
            from grid.store import open_store
            from grid.errors import DatabaseLockedError
            try:
                open_store({str(p)!r}, read_only=True)
            except DatabaseLockedError as e:
                print(e); sys.exit(3)
        """)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert r.returncode == 3, r.stderr
        assert "held by another process" in r.stdout and "占用" in r.stdout
    finally:
        holder.close()


# --------------------------------------------------------------------------- one instance per process
def _other_process_opens(p: Path) -> str:
    """What a second process gets when it opens ``p`` read-only: ``ok`` or the error's class name."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from grid.store import open_store
        try:
            open_store({str(p)!r}, read_only=True).close(); print("ok")
        except Exception as e:
            print(type(e).__name__)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr


def test_stores_open_side_by_side_see_only_their_own_file(tmp_path: Path) -> None:
    a, b = open_store(tmp_path / "a.duckdb"), open_store(tmp_path / "b.duckdb")
    try:
        with a.transaction() as cur:
            cur.execute("INSERT INTO people VALUES ('p1', '孙七', 'warden', NULL, NULL, NULL, TRUE)")
        assert (a.count("people"), b.count("people")) == (1, 0)
        # The catalogue a store reads is its own file's, not every file open in the process.
        assert set(a.table_sums()) == set(b.table_sums()) and len(a.table_sums()) == len(TABLES) + 1
        assert a.table_sums()["people"][0] == 1 and b.table_sums()["people"][0] == 0
    finally:
        a.close()
        b.close()
    with open_store(tmp_path / "a.duckdb", read_only=True) as again:
        assert again.count("people") == 1


def test_the_spatial_extension_is_loaded_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = store_mod._load_spatial
    monkeypatch.setattr(store_mod, "_load_spatial", lambda con: (calls.append(1), real(con)))
    for i in range(3):
        with open_store(tmp_path / f"s{i}.duckdb") as s:
            assert s.scalar("SELECT ST_AsText(ST_Point(1, 2))") == "POINT (1 2)"
    assert len(calls) <= 1  # 0 when an earlier test of this process loaded it already


def test_a_file_open_twice_in_a_process_is_shared_and_released_by_the_last_close(tmp_path: Path) -> None:
    p = tmp_path / "twice.duckdb"
    w = open_store(p)
    r = open_store(p, read_only=True)  # the running app's file, read by a command in the same process
    with w.transaction() as cur:
        cur.execute("INSERT INTO people VALUES ('p1', '孙七', 'warden', NULL, NULL, NULL, TRUE)")
    assert r.count("people") == 1 and r.read_only
    with pytest.raises(ReadOnlyError):
        with r.transaction():
            pass
    r.close()
    assert w.count("people") == 1  # the writer is still open
    assert _other_process_opens(p) == "DatabaseLockedError"
    w.close()
    # Closed: checkpointed whole into the file and its lock released.
    assert not p.with_name(p.name + ".wal").exists()
    assert _other_process_opens(p) == "ok"


def test_closing_a_store_twice_leaves_another_store_on_the_file_open(tmp_path: Path) -> None:
    p = tmp_path / "twice_closed.duckdb"
    a, b = open_store(p), open_store(p, read_only=True)
    b.close()
    b.close()
    assert a.count("people") == 0  # still attached: the second close released nothing
    a.close()
    assert _other_process_opens(p) == "ok"


def test_a_file_open_read_only_is_not_opened_for_writing_beside_it(tmp_path: Path) -> None:
    p = tmp_path / "ro_first.duckdb"
    open_store(p).close()
    with open_store(p, read_only=True) as r:
        with pytest.raises(StoreError) as err:
            open_store(p)
        assert "read-only in this process" in str(err.value) and "只读" in str(err.value)
        assert r.count("people") == 0
    with open_store(p) as w:  # once the reader closed
        assert not w.read_only


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    p = tmp_path / "ro.duckdb"
    open_store(p).close()
    with open_store(p, read_only=True) as s, pytest.raises(ReadOnlyError):
        with s.transaction():
            pass


def test_failed_transaction_rolls_back(fresh_store) -> None:
    with pytest.raises(duckdb.ConstraintException):
        with fresh_store.transaction() as cur:
            cur.execute("INSERT INTO people VALUES ('p1', '李四', 'warden', NULL, NULL, NULL, TRUE)")
            cur.execute("INSERT INTO people VALUES ('p1', '李四', 'warden', NULL, NULL, NULL, TRUE)")
    assert fresh_store.count("people") == 0
    gen = fresh_store.generation
    with fresh_store.transaction() as cur:
        cur.execute("INSERT INTO people VALUES ('p2', '王五', 'cadre', NULL, NULL, NULL, TRUE)")
    assert fresh_store.generation == gen + 1


@pytest.mark.parametrize("sql", [
    "INSERT INTO households (hh_id, geom, address, size, categories) VALUES"
    " ('h', ST_Point(118.1, 24.5), 'x', 2, ['not_a_category'])",
    "INSERT INTO households (hh_id, geom, address, size, categories) VALUES"
    " ('h', ST_Point(118.1, 24.5), 'x', 0, [])",
    "INSERT INTO households (hh_id, geom, address, size) VALUES"
    " ('h', ST_GeomFromText('LINESTRING(0 0, 1 1)'), 'x', 2)",
    "INSERT INTO households (hh_id, geom, address, size, id_number) VALUES"
    " ('h', ST_Point(118.1, 24.5), 'x', 2, '1101051949')",
    "INSERT INTO assistance (aid_id, hh_id, programme, amount_yuan, given_at, giver_unit) VALUES"
    " ('a', 'h', '情暖万家', -500, TIMESTAMP '2026-01-01', '街道')",
    "INSERT INTO needs (need_id, hh_id, raised_at, resolved_at, category, status) VALUES"
    " ('n', 'h', TIMESTAMP '2026-02-01', TIMESTAMP '2026-01-01', 'living', 'resolved')",
    "INSERT INTO needs (need_id, hh_id, raised_at, category, status) VALUES"
    " ('n', 'h', TIMESTAMP '2026-02-01', 'living', 'resolved')",
    "INSERT INTO campaigns (campaign_id, name, unit_code, starts_on, ends_on) VALUES"
    " ('c', '暖冬', '350203000000', DATE '2026-03-01', DATE '2026-01-01')",
    "INSERT INTO stations (station_id, name, type, geom, radius_m) VALUES"
    " ('s', '站', 'spaceport', ST_Point(118.1, 24.5), 300)",
    "INSERT INTO stations (station_id, name, type, geom, radius_m) VALUES"
    " ('s', '站', 'clinic', ST_Point(118.1, 24.5), -1)",
    "INSERT INTO cells (cell_id, name, community_code, geom) VALUES"
    " ('350203001001001', '格', '350203001002', ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'))",
    "INSERT INTO cells (cell_id, name, community_code, geom) VALUES"
    " ('350203001001001', '格', '350203001001', ST_GeomFromText('POLYGON EMPTY'))",
    "INSERT INTO admin_units (code, name, level, parent_code) VALUES ('3502', '区', 'district', NULL)",
])
def test_constraints_refuse_bad_rows(fresh_store, sql: str) -> None:
    with pytest.raises(duckdb.ConstraintException):
        with fresh_store.transaction() as cur:
            cur.execute(sql)


def test_cell_of_a_household_is_derived_and_follows_changes(fresh_store) -> None:
    s = fresh_store
    d = 0.01
    with s.transaction() as cur:
        for i, code in enumerate(["350203001001001", "350203001001002"]):
            cur.execute("INSERT INTO cells (cell_id, name, community_code, geom) VALUES"
                        " (?, ?, '350203001001', ST_GeomFromText(?))",
                        [code, f"格{i}", _square(118.0 + i * d, 24.4, d)])
        cur.execute("INSERT INTO households (hh_id, geom, address, size) VALUES"
                    " ('h1', ST_Point(118.005, 24.405), '甲', 1), ('h2', ST_Point(118.015, 24.405), '乙', 1),"
                    " ('h3', ST_Point(119.5, 24.405), '丙', 1), ('h4', ST_Point(118.01, 24.405), '丁', 1)")
    s.refresh_derived()
    cells = dict(s.cursor().execute("SELECT hh_id, cell_id FROM households").fetchall())
    assert cells == {"h1": "350203001001001", "h2": "350203001001002", "h3": None,
                     "h4": "350203001001001"}  # on the shared edge: the lowest cell_id
    assert s.metric_crs() == "EPSG:32650"
    area = s.scalar("SELECT area_m2 FROM cells WHERE cell_id = '350203001001001'")
    assert 1.0e6 < area < 1.25e6  # 0.01 degree squared at 24.4 N, about 1.01 km x 1.11 km
    with s.transaction() as cur:
        cur.execute("UPDATE households SET geom = ST_Point(118.006, 24.406) WHERE hh_id = 'h2'")
        cur.execute("DELETE FROM cells WHERE cell_id = '350203001001002'")
    s.refresh_derived()
    cells = dict(s.cursor().execute("SELECT hh_id, cell_id FROM households").fetchall())
    assert cells["h2"] == "350203001001001"
    x, y = s.query("SELECT x_m, y_m FROM households WHERE hh_id='h2'").iloc[0]
    assert 500_000 < x < 700_000 and 2_600_000 < y < 2_800_000


def test_each_thread_uses_its_own_cursor(fresh_store) -> None:
    import threading

    seen: list[object] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        seen.append(fresh_store.cursor())
        assert fresh_store.count("households") == 0
        barrier.wait()  # every thread alive at once, so no cursor can be reused

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 4


def test_writes_from_many_threads_are_serialised(fresh_store) -> None:
    import threading

    def work(k: int) -> None:
        for i in range(25):
            with fresh_store.transaction() as cur:
                cur.execute("INSERT INTO people VALUES (?, '赵六', 'volunteer', NULL, NULL, NULL, TRUE)",
                            [f"p{k}-{i}"])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fresh_store.count("people") == 200


def test_an_older_schema_is_migrated_in_place(tmp_path: Path) -> None:
    p = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(p))
    con.execute(f"LOAD '{store_mod.spatial_extension_path().as_posix()}'")
    con.execute(store_mod._schema_sql())
    con.execute("INSERT INTO warmgrid_meta VALUES ('application', 'warmgrid'), ('schema_version', '1')")
    con.execute("INSERT INTO people VALUES ('p1', '孙七', 'warden', NULL, NULL, NULL, TRUE)")
    con.close()
    with open_store(p) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.count("people") == 1
        assert s.count("household_history") == 0


def test_bookkeeping_commits_leave_the_generation_alone(fresh_store) -> None:
    gen = fresh_store.generation
    with fresh_store.transaction(data=False) as cur:
        cur.execute("INSERT INTO audit_log (action) VALUES ('login')")
    assert fresh_store.generation == gen
    with fresh_store.transaction() as cur:
        cur.execute("INSERT INTO people VALUES ('p9', '周九', 'volunteer', NULL, NULL, NULL, TRUE)")
    assert fresh_store.generation == gen + 1


def test_a_new_schema_survives_a_process_that_dies_without_closing(tmp_path: Path) -> None:
    """The schema is checkpointed into the file: left in the WAL, its GEOMETRY tables made the next open
    fail with DuckDB's "Failure while replaying WAL file" (found when the app was stopped with SIGTERM)."""
    import subprocess
    import sys

    path = tmp_path / "new.duckdb"
    code = (f"import os; from grid.store import open_store; s = open_store({str(path)!r}); "
            "s.set_meta('x', '1'); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)
    with open_store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION and s.meta("x") == "1"


def test_a_copy_for_an_app_run_drops_the_wal_an_earlier_run_left(tmp_path) -> None:
    from tests.browsing import copy_db

    src, dst = tmp_path / "src.duckdb", tmp_path / "dst.duckdb"
    with open_store(src) as s:
        s.set_meta("which", "source")
    with open_store(dst) as s:  # an earlier copy, written to by an app that was then killed: its WAL stays
        s.set_meta("which", "earlier")
    Path(str(dst) + ".wal").write_bytes(b"not this file's log")
    copy_db(src, dst)
    assert not Path(str(dst) + ".wal").exists()
    with open_store(dst) as s:
        assert s.meta("which") == "source"
