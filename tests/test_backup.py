"""Backups that restore (grid.backup, python -m grid backup / restore).

The specification:

- a backup made while the app holds the file and goes on writing (the command runs in the
  app, through its job channel) restores every table as it was at one moment: the
  writer's rows form an unbroken prefix 1..K, each written with its counter in the same
  transaction, K between the writes before and after the backup ran, and every other row
  equal to the live database's, compared row by row in Python (not by the product's
  checksums);
- the manifest's counts and checksums are those of the restored tables;
- a backup killed with ``kill -9`` while writing leaves no file under its name, and what
  it leaves behind is refused by restore;
- restore refuses an altered or a foreign file, a database changed after the backup
  without ``--force`` and a database an app holds, changing nothing; with ``--force`` it
  keeps the replaced database beside it.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from grid import backup as bk
from grid.cli import CliIO, main, serve_jobs
from grid.errors import BackupError, DatabaseLockedError
from grid.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent
WRITER = "backup-test-writer"


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), io=CliIO.direct(stdout=out, stderr=err))
    return status, out.getvalue(), err.getvalue()


def _rows(store: Store, table: str, where: str = "TRUE", params: list[Any] | None = None) -> list[str]:
    """The rows of a table as text, sorted: an independent view of its contents."""
    cur = store.cursor()
    return sorted(repr(r) for r in cur.execute(f'SELECT * FROM "{table}" WHERE {where}', params or []).fetchall())


def _tables(store: Store) -> list[str]:
    return [r[0] for r in store.cursor().execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY 1").fetchall()]


@pytest.fixture()
def live(district_file: tuple[Path, Any], tmp_path: Path) -> Path:
    path = tmp_path / "live.duckdb"
    shutil.copyfile(district_file[0], path)
    return path


def test_a_backup_made_while_the_app_writes_restores_every_table_as_at_its_moment(live: Path, tmp_path: Path) -> None:
    store = open_store(live)
    server = serve_jobs(store)  # what the app does when it opens its store
    assert server is not None
    written = [0]
    stop = threading.Event()

    def writer() -> None:  # the app's users go on working: one row and its counter per transaction
        while not stop.is_set():
            k = written[0] + 1
            with store.transaction() as cur:
                cur.execute("INSERT INTO audit_log (username, action, object) VALUES (?, 'sign_in', ?)",
                            [WRITER, f"w{k}"])
                cur.execute("INSERT OR REPLACE INTO warmgrid_meta VALUES ('backup_test_counter', ?)", [str(k)])
            written[0] = k
            time.sleep(0.02)

    out = tmp_path / "nightly.wgbackup"
    thread = threading.Thread(target=writer)
    try:
        thread.start()
        while written[0] < 5:
            time.sleep(0.01)
        before = written[0]
        proc = subprocess.run([sys.executable, "-m", "grid", "backup", "--db", str(live), "--out", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        after = written[0]
        stop.set()
        thread.join()
        assert proc.returncode == 0, proc.stderr
        assert "the job runs in the app" in proc.stderr  # it went through the app, which held the file
        assert after > before  # the app was writing while the backup ran

        status, _, err = _cli("restore", str(out), "--db", str(tmp_path / "restored.duckdb"))
        assert status == 0, err
        with open_store(tmp_path / "restored.duckdb", read_only=True) as back:
            k = int(back.meta("backup_test_counter") or 0)
            mine = back.query("SELECT object FROM audit_log WHERE username = ? ORDER BY log_id", [WRITER])
            assert list(mine["object"]) == [f"w{i}" for i in range(1, k + 1)]  # an unbroken prefix: one moment
            assert before <= k <= after
            manifest = bk.read_manifest(out)
            assert manifest.tables == back.table_sums()
            assert set(_tables(back)) == set(_tables(store)) == set(manifest.tables)
            for table in _tables(store):
                got = _rows(back, table)
                assert manifest.tables[table][0] == len(got)
                if table == "audit_log":  # the live log also holds later writes and the job's own cli_job row
                    want = _rows(store, table, "action <> 'cli_job' AND NOT (username IS NOT DISTINCT FROM ?"
                                 " AND TRY_CAST(substr(object, 2) AS INTEGER) > ?)", [WRITER, k])
                elif table == "warmgrid_meta":
                    want = sorted([r for r in _rows(store, table) if "backup_test_counter" not in r]
                                  + [repr(("backup_test_counter", str(k)))])
                else:
                    want = _rows(store, table)
                assert got == want, table
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        store.close()


_KILLED_CHILD = """
import os, sys, time, tarfile
from grid.cli import main
real = tarfile.copyfileobj

def halfway(src, dst, length=None, *args, **kwargs):
    if length and length > 100_000:  # the database member: write half of it, then wait to be killed
        real(src, dst, length // 2, *args, **kwargs)
        dst.flush()
        open(sys.argv[2], "w").close()
        time.sleep(120)
    return real(src, dst, length, *args, **kwargs)

tarfile.copyfileobj = halfway
sys.exit(main(["backup", "--db", sys.argv[1], "--out", sys.argv[3]]))
"""


def test_a_backup_killed_midway_leaves_nothing_that_looks_complete(live: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    out = folder / "warmgrid-20261201-023000.wgbackup"
    marker = tmp_path / "halfway"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_KILLED_CHILD), str(live), str(marker), str(out)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        if child.stderr:
            child.stderr.close()
    assert not out.exists()
    left = [p for p in folder.rglob("*") if p.is_file()]
    assert left and all(p.name.endswith(".part") or ".part" in p.parent.name for p in left)
    assert not any(p.name.endswith(bk.SUFFIX) for p in left)
    for p in left:  # what the kill left is refused, and restores nothing
        with pytest.raises(BackupError):
            bk.restore(p, tmp_path / "never.duckdb")
    assert not (tmp_path / "never.duckdb").exists()


def test_restore_checks_the_backup_refuses_a_newer_database_without_force_and_keeps_the_one_it_replaces(
        live: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.wgbackup"
    status, _, err = _cli("backup", "--db", str(live), "--out", str(out))  # nobody holds the file: opened directly
    assert status == 0, err
    manifest = bk.read_manifest(out)
    assert manifest.rows == sum(n for n, _ in manifest.tables.values()) > 3_000

    # An altered or a foreign file is refused, and nothing is written.
    raw = bytearray(out.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one byte of the database member
    (tmp_path / "altered.wgbackup").write_bytes(bytes(raw))
    with pytest.raises(BackupError, match="SHA-256"):
        bk.restore(tmp_path / "altered.wgbackup", tmp_path / "x.duckdb")
    (tmp_path / "foreign.wgbackup").write_bytes(b"not a tar file at all" * 100)
    status, _, err = _cli("restore", str(tmp_path / "foreign.wgbackup"), "--db", str(tmp_path / "x.duckdb"))
    assert status == 1 and "not a complete WarmGrid backup" in err and "不是完整的暖网备份文件" in err
    status, _, err = _cli("restore", str(out), "--db", str(tmp_path / "x.duckdb"), "--dry-run")
    assert status == 0 and "nothing was changed" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wgbackup", "altered.wgbackup", "foreign.wgbackup",
                                                          "live.duckdb"]

    target = tmp_path / "office.duckdb"
    assert _cli("restore", str(out), "--db", str(target))[0] == 0
    assert _cli("restore", str(out), "--db", str(target))[0] == 0  # the same backup again: nothing changed since

    with open_store(target) as s:  # the office goes on working after the restore
        s.set_meta("after_backup", "yes")
    status, _, err = _cli("restore", str(out), "--db", str(target))
    assert status == 1 and "--force" in err and "after the backup" in err
    with open_store(target, read_only=True) as s:
        assert s.meta("after_backup") == "yes"  # refused: nothing changed

    def aside() -> set[Path]:  # every replaced file is kept (its write-ahead log, if it had one, goes with it)
        return {p for p in tmp_path.iterdir() if p.name.startswith("office.duckdb.before-restore-")
                and not p.name.endswith(".wal")}

    earlier = aside()
    status, _, err = _cli("restore", str(out), "--db", str(target), "--force")
    assert status == 0, err
    kept = sorted(aside() - earlier)
    assert len(kept) == 1 and str(kept[0]) in err
    with open_store(target, read_only=True) as s, open_store(kept[0], read_only=True) as old:
        assert s.meta("after_backup") is None and old.meta("after_backup") == "yes"
        assert s.table_sums() == manifest.tables

    held = open_store(target)  # an app holds the file (and serves its channel): never replaced under it
    try:
        assert serve_jobs(held) is not None
        with pytest.raises(DatabaseLockedError):
            bk.restore(out, target, force=True)
        assert aside() == earlier | set(kept)  # nothing was replaced
    finally:
        held.close()
