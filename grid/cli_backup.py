"""The command line of backups (part of :mod:`grid.cli`): ``backup`` and ``restore``.

Commands
--------
backup --db PATH --out FILE
    a consistent copy of the database (:func:`grid.backup.backup`). While the app holds
    the file the command runs inside the app (its job channel), which goes on writing;
    otherwise it opens the file read-only itself. ``FILE`` appears only when complete.
restore FILE --db PATH [--force] [--dry-run]
    check a backup against its manifest and put it in place (:func:`grid.backup.restore`);
    never while an app holds ``PATH``, and not over a database changed after the backup's
    moment without ``--force``. Runs only in this process (it replaces the whole file).

Both are the administrator's (the actions ``backup`` and ``restore`` of :mod:`grid.access`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grid.cli import CliIO

__all__ = ["add_parsers", "run_backup", "run_restore"]


def add_parsers(sub: Any) -> None:
    """Add ``backup`` and ``restore`` to the command line's subparsers."""
    b = sub.add_parser("backup", help="back the database up, also while the app runs / 备份数据库")
    b.add_argument("--db", required=True)
    b.add_argument("--out", required=True, help="the backup file to write (e.g. warmgrid-20261201-023000.wgbackup)")
    b.add_argument("--json", action="store_true", help="print the manifest's summary as JSON")
    r = sub.add_parser("restore", help="restore a backup (stop the app first) / 从备份恢复数据库")
    r.add_argument("file", help="a backup file written by python -m grid backup")
    r.add_argument("--db", required=True, help="the database file to restore into")
    r.add_argument("--force", action="store_true",
                   help="replace a database that changed after the backup (the old file is kept beside it)")
    r.add_argument("--dry-run", action="store_true", help="check the backup and stop; change nothing")
    r.add_argument("--json", action="store_true", help="print the report as JSON")


def _progress(io: CliIO) -> Any:
    def say(frac: float, msg: str) -> None:
        print(f"[{frac * 100:5.1f}%] {msg}", file=io.stderr, flush=True)

    return say


def run_backup(args: argparse.Namespace, io: CliIO) -> int:
    """``python -m grid backup``: write the backup, print what it holds."""
    from grid import access
    from grid.backup import backup
    from grid.cli import to_json

    access.ensure(access.operator(io.operator), "backup")
    with io.open_store(args.db, read_only=True, create=False) as store:
        m = backup(store, Path(args.out), progress=_progress(io))
    print(f"已备份 {m.rows} 行（{len(m.tables)} 张表），时刻 {m.moment.isoformat(timespec='seconds')}（UTC）"
          f" · backed up {m.rows} rows in {len(m.tables)} tables as of {m.moment.isoformat(timespec='seconds')}",
          file=io.stderr)
    if args.json:
        print(to_json({"out": args.out, "created_at": m.moment.isoformat(), "schema_version": m.schema_version,
                       "size": m.size, "sha256": m.sha256, "rows": m.rows,
                       "tables": {k: n for k, (n, _) in sorted(m.tables.items())}}), file=io.stdout)
    return 0


def run_restore(args: argparse.Namespace, io: CliIO) -> int:
    """``python -m grid restore``: check the backup and put it in place."""
    from grid import access
    from grid.backup import restore
    from grid.cli import to_json

    access.ensure(access.operator(io.operator), "restore")
    report = restore(Path(args.file), Path(args.db), force=args.force, dry_run=args.dry_run,
                     progress=_progress(io))
    if args.dry_run:
        print(f"备份完好：{report['rows']} 行，时刻 {report['created_at']}；未做任何修改 · the backup is sound "
              f"({report['rows']} rows as of {report['created_at']}); nothing was changed", file=io.stderr)
    else:
        kept = (f"；原数据库保留为 {report['replaced']} · the replaced database is kept as {report['replaced']}"
                if report["replaced"] else "")
        print(f"已恢复 {report['db']}（{report['rows']} 行，时刻 {report['created_at']}）· restored {report['db']} "
              f"({report['rows']} rows as of {report['created_at']}){kept}", file=io.stderr)
    if args.json:
        print(to_json(report), file=io.stdout)
    return 0
