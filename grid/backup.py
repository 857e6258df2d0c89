"""Backups that restore: a consistent copy of a WarmGrid database, made while the app runs, and its restore.

A backup is one file (``.wgbackup``, a plain POSIX tar) holding two members, in this order:

- ``manifest.json``: what the backup is (``format``, ``format_version``), the moment it
  shows (``created_at``, UTC), the source's schema version and DuckDB version, every
  table's row count and checksum at that moment (:meth:`grid.store.Store.table_sums`),
  and the size and SHA-256 of the database member;
- ``warmgrid.duckdb``: the database as it was at that moment (schema, constraints,
  indexes, sequences and rows), written by DuckDB's ``COPY FROM DATABASE`` inside one
  read transaction (:meth:`grid.store.Store.copy_to`).

**Consistent while the app writes.** DuckDB lets one process open the file; while the
app runs, ``python -m grid backup`` is a job of the app's command channel
(:mod:`grid.channel`) and runs on the app's open store, whose writers are not held up: a
read transaction sees every table at one moment. With no app running, the command opens
the file read-only itself.

**Nothing that looks complete unless it is.** The archive is written as a hidden
``.warmgrid-backup-*.part`` file beside the target, synced to disk, renamed to its name
and the folder synced; a ``kill -9`` at any moment leaves at most a ``.part`` file, which
:func:`restore` refuses (it is no complete tar, or its checksums do not match). Before
the rename the copy is opened again and its checksums compared with the snapshot's.

**Restore verifies.** :func:`restore` checks the manifest, the database member's size and
SHA-256, opens the extracted copy read-only and compares every table's rows and checksum
with the manifest, and only then puts it in place (a rename). It refuses a database that
a running app holds, and one changed after the backup's moment (its file, or its
write-ahead log, modified later) unless ``force``; the replaced file is kept beside it as
``NAME.before-restore-YYYYMMDDTHHMMSSZ``. The restored file's modification time is the
backup's moment, so restoring the same backup again needs no ``force``.

Examples
--------
>>> import pathlib, tempfile
>>> from grid.store import open_store
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with open_store(folder / "a.duckdb") as s:
...     m = backup(s, folder / "a.wgbackup")
>>> read_manifest(folder / "a.wgbackup").tables["users"]
(0, '0')
>>> restore(folder / "a.wgbackup", folder / "b.duckdb")["replaced"] is None
True
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from grid.channel import _umask  # this process's umask, read without changing it
from grid.errors import BackupError, DatabaseLockedError

__all__ = ["FORMAT", "FORMAT_VERSION", "SUFFIX", "Manifest", "backup", "read_manifest", "restore", "changed_at"]

#: ``manifest.json``'s ``format``: what tells a WarmGrid backup from any other tar file.
FORMAT = "warmgrid-backup"
#: The version of this layout; :func:`restore` refuses others.
FORMAT_VERSION = 1
#: The suffix the nightly script gives backups.
SUFFIX = ".wgbackup"

_MANIFEST = "manifest.json"
_DATABASE = "warmgrid.duckdb"
_PART_PREFIX = ".warmgrid-backup-"
_CHUNK = 1 << 20

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: the moment it shows and, per table, ``(rows, checksum)`` at that moment."""

    created_at: float
    schema_version: int
    duckdb: str
    tables: dict[str, tuple[int, str]]
    size: int
    sha256: str
    source: str

    @property
    def moment(self) -> datetime:
        """:attr:`created_at` as a UTC date-time."""
        return datetime.fromtimestamp(self.created_at, UTC)

    @property
    def rows(self) -> int:
        """Rows in all tables."""
        return sum(n for n, _ in self.tables.values())

    def to_json(self) -> bytes:
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "created_at": self.moment.isoformat(),
               "created_at_epoch": self.created_at, "schema_version": self.schema_version, "duckdb": self.duckdb,
               "source": self.source, "database": {"name": _DATABASE, "size": self.size, "sha256": self.sha256},
               "tables": {k: {"rows": n, "checksum": c} for k, (n, c) in sorted(self.tables.items())}}
        return json.dumps(doc, ensure_ascii=False, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> Manifest:
        """Parse and check a manifest; :class:`~grid.errors.BackupError` names ``where`` when it is not one."""
        try:
            doc = json.loads(raw.decode("utf-8"))
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError("not a WarmGrid backup manifest")
            if doc.get("format_version") != FORMAT_VERSION:
                raise BackupError(
                    f"{where} 的备份格式版本为 {doc.get('format_version')!r}，本程序只能读取版本 {FORMAT_VERSION}。",
                    f"{where} is a backup of format version {doc.get('format_version')!r}; this WarmGrid reads "
                    f"version {FORMAT_VERSION} only.")
            db = doc["database"]
            tables = {str(k): (int(v["rows"]), str(v["checksum"])) for k, v in doc["tables"].items()}
            return cls(float(doc["created_at_epoch"]), int(doc["schema_version"]), str(doc["duckdb"]), tables,
                       int(db["size"]), str(db["sha256"]), str(doc.get("source", "")))
        except BackupError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise _not_a_backup(where, str(exc)) from None


def _not_a_backup(where: str | Path, why: str) -> BackupError:
    return BackupError(f"{where} 不是完整的暖网备份文件（{why}），未做任何修改。",
                       f"{where} is not a complete WarmGrid backup ({why}); nothing was changed.")


def _quiet(frac: float, msg: str) -> None:
    pass


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def _part_folder(beside: Path) -> Iterator[Path]:
    """A private folder beside ``beside`` for the work of a backup; removed afterwards."""
    path = Path(tempfile.mkdtemp(dir=beside.parent, prefix=_PART_PREFIX, suffix=".part"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _mismatches(want: dict[str, tuple[int, str]], got: dict[str, tuple[int, str]]) -> list[str]:
    out = []
    for name in sorted(set(want) | set(got)):
        if name not in got:
            out.append(f"{name}: missing")
        elif name not in want:
            out.append(f"{name}: not in the manifest")
        elif want[name] != got[name]:
            out.append(f"{name}: {got[name][0]} rows / checksum {got[name][1]}, manifest {want[name][0]} / {want[name][1]}")
    return out


def backup(store: Any, out: str | Path, *, progress: Progress | None = None) -> Manifest:
    """Write a backup of ``store`` (a :class:`~grid.store.Store`, writable or a read-only view) to ``out``.

    The copy shows one moment (:meth:`~grid.store.Store.copy_to`); it is checked against
    that moment's checksums before the archive is written; the archive appears under
    ``out`` only when complete (a hidden ``.part`` file beside it, synced and renamed).
    An existing ``out`` is replaced.

    Raises
    ------
    BackupError
        When the folder of ``out`` is missing, or the copy does not match the snapshot.
    """
    import duckdb

    from grid.store import open_store

    say = progress or _quiet
    out = Path(out)
    if not out.parent.is_dir():
        raise BackupError(f"目录不存在：{out.parent}", f"folder not found: {out.parent}")
    if out.is_dir():
        raise BackupError(f"{out} 是目录，不是文件。", f"{out} is a folder, not a file.")
    with _part_folder(out) as work:
        copy = work / "database.part"
        say(0.05, "复制数据库（同一时刻的快照）· copying the database (one moment's snapshot)")
        moment, sums = store.copy_to(copy)
        say(0.6, "核对副本 · checking the copy")
        with open_store(copy, read_only=True) as c:
            got = c.table_sums()
            version = c.schema_version()
        if bad := _mismatches(sums, got):
            raise BackupError("备份副本与快照不一致：" + "；".join(bad), "the backup copy differs from the snapshot: "
                              + "; ".join(bad))
        manifest = Manifest(moment, version, duckdb.__version__, sums, copy.stat().st_size, _sha256(copy),
                            str(getattr(store, "path", "")))
        say(0.8, "写入备份文件 · writing the backup file")
        part = work / "archive.part"
        _write_archive(part, manifest, copy)
        os.chmod(part, 0o666 & ~_umask())
        os.replace(part, out)
        _fsync_dir(out.parent)
    say(1.0, f"备份完成 · backup written: {out}")
    return manifest


def _write_archive(part: Path, manifest: Manifest, copy: Path) -> None:
    """The tar (manifest first, then the database), flushed and synced to disk."""
    with open(part, "xb") as f:
        with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
            raw = manifest.to_json()
            info = tarfile.TarInfo(_MANIFEST)
            info.size, info.mtime, info.mode = len(raw), int(manifest.created_at), 0o600
            tar.addfile(info, io.BytesIO(raw))
            info = tarfile.TarInfo(_DATABASE)
            info.size, info.mtime, info.mode = manifest.size, int(manifest.created_at), 0o600
            with open(copy, "rb") as db:
                tar.addfile(info, db)
        f.flush()
        os.fsync(f.fileno())


def _open_archive(file: Path) -> tuple[tarfile.TarFile, Manifest]:
    if not file.is_file():
        raise BackupError(f"备份文件不存在：{file}", f"backup file not found: {file}")
    try:
        tar = tarfile.open(file, mode="r:")
    except (tarfile.TarError, OSError) as exc:
        raise _not_a_backup(file, str(exc)) from None
    try:
        members = tar.getmembers()
        names = [m.name for m in members]
        if names != [_MANIFEST, _DATABASE] or not all(m.isfile() for m in members):
            raise _not_a_backup(file, f"members {names}, expected {[_MANIFEST, _DATABASE]}")
        f = tar.extractfile(members[0])
        assert f is not None
        manifest = Manifest.from_json(f.read(1 << 20), str(file))
        if members[1].size != manifest.size:
            raise _not_a_backup(file, f"the database holds {members[1].size} bytes, the manifest says {manifest.size}")
        if members[1].offset_data + members[1].size > file.stat().st_size:
            raise _not_a_backup(file, "the file ends before its database does")
        return tar, manifest
    except BaseException:
        tar.close()
        raise


def read_manifest(file: str | Path) -> Manifest:
    """The manifest of a backup file (its members are checked, not its contents).

    Raises
    ------
    BackupError
        When ``file`` is missing, no tar, a truncated one, or not a WarmGrid backup.
    """
    file = Path(file)
    try:
        tar, manifest = _open_archive(file)
    except (tarfile.TarError, EOFError) as exc:
        raise _not_a_backup(file, str(exc)) from None
    tar.close()
    return manifest


def changed_at(db: str | Path) -> int:
    """When a database last changed: the latest modification time (ns) of its file and its write-ahead log."""
    db = Path(db)
    times = [db.stat().st_mtime_ns]
    wal = Path(str(db) + ".wal")
    if wal.exists():
        times.append(wal.stat().st_mtime_ns)
    return max(times)


def _copy_member(src: IO[bytes], dst: IO[bytes], size: int) -> str:
    h = hashlib.sha256()
    left = size
    while left > 0:
        chunk = src.read(min(_CHUNK, left))
        if not chunk:
            raise EOFError("the backup file ends early")
        h.update(chunk)
        dst.write(chunk)
        left -= len(chunk)
    return h.hexdigest()


def restore(file: str | Path, db: str | Path, *, force: bool = False, dry_run: bool = False,
            progress: Progress | None = None) -> dict[str, Any]:
    """Restore the backup ``file`` as the database ``db``, after checking every table against its manifest.

    Parameters
    ----------
    force : bool
        Replace ``db`` even when it changed after the backup's moment (it is kept beside
        it as ``NAME.before-restore-...``).
    dry_run : bool
        Check the backup (and whether ``db`` may be replaced) and stop: nothing is written.

    Returns
    -------
    dict
        ``db``, ``backup``, ``created_at``, ``tables`` (rows per table), ``rows``,
        ``replaced`` (where the replaced database was kept, or None) and ``dry_run``.

    Raises
    ------
    BackupError
        The backup is incomplete or altered, or ``db`` changed after the backup (without ``force``).
    DatabaseLockedError
        A running app (or another process) holds ``db``.
    """
    from grid.store import is_held, open_store

    say = progress or _quiet
    file, db = Path(file), Path(db)
    if not db.parent.is_dir():
        raise BackupError(f"目录不存在：{db.parent}", f"folder not found: {db.parent}")
    say(0.02, "读取备份清单 · reading the manifest")
    try:
        tar, manifest = _open_archive(file)
    except (tarfile.TarError, EOFError) as exc:
        raise _not_a_backup(file, str(exc)) from None
    want_ns = int(round(manifest.created_at * 1e9))
    with tar:
        if db.exists():
            _refuse_held(db, is_held)
            _refuse_newer(db, manifest, want_ns, force)
        fd, name = tempfile.mkstemp(dir=db.parent, prefix=f".{db.name}.restore-", suffix=".part")
        part = Path(name)
        try:
            say(0.1, "解出并核对数据库文件 · extracting and checking the database file")
            src = tar.extractfile(_DATABASE)
            assert src is not None
            with os.fdopen(fd, "wb") as dst:
                try:
                    digest = _copy_member(src, dst, manifest.size)
                except (tarfile.TarError, EOFError, OSError) as exc:
                    raise _not_a_backup(file, str(exc)) from None
                dst.flush()
                os.fsync(dst.fileno())
            if digest != manifest.sha256:
                raise _not_a_backup(file, f"the database's SHA-256 is {digest}, the manifest says {manifest.sha256}")
            say(0.5, "逐表核对行数与校验和 · checking every table's rows and checksum")
            with open_store(part, read_only=True, as_is=True) as copy:
                got = copy.table_sums()
            if bad := _mismatches(manifest.tables, got):
                raise BackupError(f"备份 {file} 的内容与清单不符：" + "；".join(bad) + "。未做任何修改。",
                                  f"the contents of {file} differ from its manifest: " + "; ".join(bad)
                                  + ". Nothing was changed.")
            report: dict[str, Any] = {"db": str(db), "backup": str(file), "created_at": manifest.moment.isoformat(),
                                      "tables": {k: n for k, (n, _) in sorted(got.items())},
                                      "rows": manifest.rows, "replaced": None, "dry_run": dry_run}
            if dry_run:
                return report
            os.utime(part, ns=(want_ns, want_ns))
            os.chmod(part, 0o666 & ~_umask())
            if db.exists():  # checked again: the app may have started meanwhile
                _refuse_held(db, is_held)
                _refuse_newer(db, manifest, want_ns, force)
                report["replaced"] = str(_keep_aside(db))
            elif (wal := Path(str(db) + ".wal")).exists():  # a log left without its database: never replay it here
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                os.replace(wal, wal.with_name(f"{wal.name}.orphan-{stamp}"))
            os.replace(part, db)
            _fsync_dir(db.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
    say(1.0, f"恢复完成 · restored: {db}")
    return report


def _refuse_held(db: Path, is_held: Callable[[Path], bool]) -> None:
    from grid import channel

    try:
        live = channel.connect(db, timeout=5.0)
    except Exception:  # a socket this user may not use: someone's app holds the file
        live = None
        held = True
    else:
        held = live is not None or is_held(db)
    if live is not None:
        live.close()
    if held:
        raise DatabaseLockedError(
            f"数据库文件 {db} 正被运行中的应用（或另一个程序）使用；恢复会整个替换该文件，请先停止应用"
            "（例如 systemctl stop warmgrid），再恢复。",
            f"the database file {db} is held by the running app (or another process); a restore replaces the whole "
            "file: stop the app first (e.g. systemctl stop warmgrid), then restore.")


def _refuse_newer(db: Path, manifest: Manifest, want_ns: int, force: bool) -> None:
    changed = changed_at(db)
    if changed > want_ns and not force:
        when = datetime.fromtimestamp(changed / 1e9, UTC).isoformat(timespec="seconds")
        made = manifest.moment.isoformat(timespec="seconds")
        raise BackupError(
            f"数据库 {db} 在 {when}（UTC）有改动，晚于备份时刻 {made}；恢复会丢失这些改动。确需恢复请加 --force"
            "（原文件会保留为 .before-restore 副本）。未做任何修改。",
            f"the database {db} changed at {when} UTC, after the backup's moment {made}; restoring would lose those "
            "changes. Add --force to restore anyway (the current file is kept as a .before-restore copy). "
            "Nothing was changed.")


def _keep_aside(db: Path) -> Path:
    """Keep the database about to be replaced (and its write-ahead log) under a dated name; return that name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = db.with_name(f"{db.name}.before-restore-{stamp}")
    n = 1
    while aside.exists():
        aside = db.with_name(f"{db.name}.before-restore-{stamp}-{n}")
        n += 1
    try:
        os.link(db, aside)  # the old file stays whole under its new name; db is then replaced by a rename
    except OSError:
        shutil.copy2(db, aside)
    wal = Path(str(db) + ".wal")
    if wal.exists():
        os.replace(wal, Path(str(aside) + ".wal"))
    return aside
