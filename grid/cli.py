"""Command line: ``python -m grid COMMAND ...`` for batch work and machine-readable output.

Commands
--------
demo      build the demo district into a new database file
coverage  every coverage measure as one JSON document (straight line and walking)
gaps      ids of households outside a station type's reach (CSV), by walking or straight line
nearest   each household's nearest station of a type and the distance (CSV)
roads     import a street network (GeoJSON, Shapefile, GeoPackage, GeoParquet, OSM .osm/.osm.pbf)
import    a file (CSV, XLSX, XLS, GeoJSON, Shapefile, GeoPackage, GeoParquet, or a zip of one) into a table
export    a table to CSV, XLSX, GeoJSON, GeoPackage or GeoParquet (users without password hashes)
audit     a campaign's coverage audit: omissions and duplicates, household by household (JSON)
plan      a visit plan: who visits whom, in what walking order (JSON)
assistance  where assistance went, per cell, community, street or H3 hexagon (JSON)
hotspots  Getis-Ord Gi* hot and cold spots of a per-cell assistance measure (JSON)
bulletin  the situation bulletin (情况通报) of a unit and a period, as Word, PDF or Excel (A4)
needs     needs as a flow: report (JSON); assign, start, resolve, answer, return, close, escalate; limits
applications  assistance by application: apply, check, review, notice, approve, give, reject, object,
          settle; list, show; the public notice list (PDF/XLSX); red flags (JSON) — grid.cli_applications
budgets   budgets against what was approved and given (JSON); --set one
programmes  the assistance programmes (JSON); --set one
user      add, passwd, list, disable: the app's users (passwords never on the command line)
backup    a consistent copy of the database, also while the app runs; restore: put one back — grid.cli_backup
parquet   export: GeoParquet partitioned by street with halos, for a cluster — grid.cli_province
province  generate a synthetic province; coverage on Apache Spark, street by street — grid.cli_province

Errors are printed in Chinese and English on standard error; the exit status
is 1 for a refused operation and 2 for wrong arguments.

While the app holds the database file (DuckDB lets no other process open it), every
command except ``demo`` and ``restore`` runs inside the app through its job channel
(:mod:`grid.channel`): the files a command reads and writes travel with the job, as
:data:`COMMAND_FILES` says, and the job runs on the app's own store (:class:`AppJobs`).
Each command runs against a :class:`CliIO`: its streams, how it opens the store, and who
operates it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io as _io
import json
import math
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from grid import model
from grid.errors import DatabaseLockedError, WarmGridError

if TYPE_CHECKING:
    from grid.channel import Job, Link, Request, Server
    from grid.store import Store

__all__ = ["main", "run", "to_json", "CliIO", "Files", "COMMAND_FILES", "COMPANIONS", "LOCAL_COMMANDS",
           "AppJobs", "serve_jobs"]


class TextOut(Protocol):
    """Where a command writes text (standard output or error)."""

    def write(self, s: str, /) -> int: ...

    def flush(self) -> None: ...


class TextIn(Protocol):
    """Where a command reads lines (standard input)."""

    def readline(self) -> str: ...


#: ``open_store(path, read_only=..., create=...)`` as a context manager that yields the store.
Opener = Callable[..., AbstractContextManager["Store"]]


def _open_file(path: str | Path, *, read_only: bool = False, create: bool = True) -> Store:
    from grid.store import open_store

    return open_store(path, read_only=read_only, create=create)


def _operator() -> str:
    """``cli:NAME``: the OS user running this process (from its real uid, not from the environment)."""
    import pwd

    try:
        return f"cli:{pwd.getpwuid(os.getuid()).pw_name}"
    except KeyError:  # no passwd entry in some containers
        return f"cli:uid{os.getuid()}"


@dataclass
class CliIO:
    """What a command runs against: its streams, how it opens the database, and who runs it.

    ``CliIO.direct()`` is the program itself (this process's standard streams, the
    file opened directly, or the running app's channel when the app holds the file:
    ``forward``). The app's job server gives each job its own, with the app's store and
    the OS user the kernel says is at the other end of the socket.
    """

    stdin: TextIn
    stdout: TextOut
    stderr: TextOut
    open_store: Opener
    operator: str
    forward: bool = False
    password: str | None = field(default=None, repr=False)  # read once, kept if the job moves to the app

    @classmethod
    def direct(cls, *, stdin: TextIn | None = None, stdout: TextOut | None = None,
               stderr: TextOut | None = None) -> CliIO:
        """This process's streams (or those given), the file itself, forwarding to a running app."""
        return cls(stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr, _open_file, _operator(),
                   forward=True)


@dataclass(frozen=True)
class Files:
    """What a command reads or writes besides the database: the arguments that name files it
    reads (``inputs``) or writes (``outputs``), and whether it reads a password."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    password: bool = False


#: Per command (``"user add"`` for a subcommand), the files it reads and writes (an optional argument
#: left out travels as nothing). Through a running
#: app exactly these travel: the client sends the inputs' contents (with their :data:`COMPANIONS`),
#: the app writes the outputs in a private folder and the client saves them where the user asked.
#: A command not listed reads and writes nothing but the database and its standard streams.
COMMAND_FILES: dict[str, Files] = {
    "import": Files(inputs=("file", "review"), outputs=("review_out",)),
    "roads import": Files(inputs=("file",)),
    "export": Files(outputs=("out",)),
    "bulletin": Files(outputs=("out",)),
    "applications notice-list": Files(outputs=("out",)),
    "backup": Files(outputs=("out",)),
    "restore": Files(inputs=("file",)),  # never sent: restore is one of LOCAL_COMMANDS
    "site": Files(inputs=("candidates",)),
    "regrid": Files(outputs=("out",)),
    "user add": Files(password=True),
    "user passwd": Files(password=True),
}
#: The files that travel with an input file, by its suffix (a Shapefile is several files).
COMPANIONS: dict[str, tuple[str, ...]] = {".shp": (".shx", ".dbf", ".prj", ".cpg")}
#: Commands that never run inside a running app: ``demo`` builds and ``restore`` replaces a whole file; the
#: partitioned export and the province's commands read and write folders (:mod:`grid.cli_province`).
LOCAL_COMMANDS = frozenset({"demo", "restore", "parquet export", "province generate", "province coverage"})


def _key(args: argparse.Namespace) -> str:
    if args.command == "user":
        return f"user {args.user_command}"
    if args.command == "roads":
        return f"roads {args.roads_command}"
    if args.command == "needs":
        return f"needs {args.needs_command}"
    if args.command == "applications":
        return f"applications {args.applications_command}"
    if args.command == "parquet":
        return f"parquet {args.parquet_command}"
    if args.command == "province":
        return f"province {args.province_command}"
    return str(args.command)


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> tuple[str, ...]:
    """The file arguments of ``names`` that the command line gives (an optional one may be left out)."""
    return tuple(a for a in names if getattr(args, a, None) is not None)


def _companions(path: Path) -> list[Path]:
    """The files beside ``path`` that belong to it (``x.shx``, ``x.dbf`` ... for ``x.shp``)."""
    wanted = COMPANIONS.get(path.suffix.lower(), ())
    if not wanted:
        return []
    return sorted(p for p in path.parent.iterdir()
                  if p != path and p.stem == path.stem and p.suffix.lower() in wanted and p.is_file())


def _json_default(o: Any) -> Any:
    np = sys.modules.get("numpy")  # numpy values exist only once numpy is imported (kept lazy for --help)
    if np is not None and isinstance(o, np.integer):
        return int(o)
    if np is not None and isinstance(o, np.floating):
        f = float(o)
        return None if math.isnan(f) else f
    if np is not None and isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return str(o)


def _clean(o: Any) -> Any:
    """Replace NaN/NaT by None so the output is strict JSON."""
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, float) and math.isnan(o):
        return None
    if o is not None and type(o).__name__ in ("NaTType",):
        return None
    return o


def to_json(doc: Any) -> str:
    """Strict JSON (no NaN), UTF-8 text with Chinese kept readable."""
    return json.dumps(_clean(doc), ensure_ascii=False, default=_json_default, allow_nan=False,
                      indent=1)


def _progress_to(io: CliIO) -> Callable[[float, str], None]:
    def progress(frac: float, msg: str) -> None:
        print(f"[{frac * 100:5.1f}%] {msg}", file=io.stderr, flush=True)

    return progress


def _parser(io: CliIO | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``io``, its help and usage errors go to ``io``'s streams."""
    cls = argparse.ArgumentParser
    if io is not None:
        out, err = io.stdout, io.stderr

        class _Parser(argparse.ArgumentParser):
            def _print_message(self, message: str, file: Any = None) -> None:
                if message:
                    (out if file is sys.stdout else err).write(message)

            def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
                if message:
                    err.write(message)
                raise SystemExit(status)

        cls = _Parser
    p = cls(prog="python -m grid", description="WarmGrid 暖网 command line")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="build the demo district / 生成演示区")
    d.add_argument("--db", required=True, help="database file to create")
    d.add_argument("--households", type=int, default=50_000)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--streets", type=int, default=4)
    d.add_argument("--communities", type=int, default=15)
    d.add_argument("--target-per-cell", type=int, default=400)
    d.add_argument("--force", action="store_true", help="replace an existing file")

    c = sub.add_parser("coverage", help="coverage measures as JSON / 覆盖分析")
    c.add_argument("--db", required=True)
    c.add_argument("--radius", type=float, default=None, help="one radius (m) for every station")
    c.add_argument("--warden-target", type=int, default=400)
    c.add_argument("--visit-days", type=int, default=90)
    c.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default today)")
    c.add_argument("--json", action="store_true", help="print JSON (the default and only format)")
    _distance_args(c)

    g = sub.add_parser("gaps", help="households outside a station type's reach / 服务盲区住户")
    g.add_argument("--db", required=True)
    g.add_argument("--station-type", required=True, choices=list(model.STATION_TYPES))
    g.add_argument("--radius", type=float, default=None)
    g.add_argument("--csv", action="store_true", help="print CSV (the default and only format)")
    _distance_args(g)

    ne = sub.add_parser("nearest", help="nearest station of a type for every household / 最近站点")
    ne.add_argument("--db", required=True)
    ne.add_argument("--station-type", required=True, choices=list(model.STATION_TYPES))
    ne.add_argument("--csv", action="store_true", help="print CSV (the default and only format)")
    _distance_args(ne)

    ro = sub.add_parser("roads", help="the street network / 道路网")
    ros = ro.add_subparsers(dest="roads_command", required=True)
    ri = ros.add_parser("import", help="import roads / 导入道路")
    ri.add_argument("file", help=".geojson | .shp | .gpkg | .parquet | .osm | .osm.pbf")
    ri.add_argument("--db", required=True)
    ri.add_argument("--crs", default=None, help="wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn (default: the file's, "
                                               "else wgs84; OSM is always wgs84)")
    ri.add_argument("--mode", choices=["insert", "upsert"], default="insert")
    ri.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    ri.add_argument("--strict-sidewalks", action="store_true",
                    help="OSM: tertiary, secondary and primary roads only with a sidewalk tag")
    ri.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                    help="override the header mapping (FIELD empty to ignore a column); repeatable")
    ri.add_argument("--json", action="store_true", help="print the report as JSON")

    i = sub.add_parser("import", help="import a file / 导入文件")
    i.add_argument("kind", choices=["admin_units", "cells", "households", "people", "stations", "patrol_areas",
                                    "campaigns", "visits", "needs", "assistance", "roads", "members", "addresses"])
    i.add_argument("file")
    i.add_argument("--db", required=True)
    i.add_argument("--crs", default=None, help="wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn (default: the file's, "
                                              "else wgs84)")
    i.add_argument("--mode", choices=["insert", "upsert"], default="insert")
    i.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    i.add_argument("--fix-swaps", action="store_true", help="swap back longitude/latitude found swapped")
    i.add_argument("--repair", action="store_true", help="repair invalid polygons (area change reported)")
    i.add_argument("--sheet", default=None, help="worksheet name (XLSX/XLS)")
    i.add_argument("--member", default=None, help="the dataset to read in a zip that holds several (e.g. 数据/住户.shp)")
    i.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                   help="override the header mapping (FIELD empty to ignore a column); repeatable")
    i.add_argument("--category-map", action="append", default=[], metavar="WORD=CATEGORY",
                   help="what an ambiguous category word of the file means, e.g. 低保=城市低保 (or 低保=dibao_rural); "
                        "repeatable. Without it a file holding 低保 or 五保 alone is refused, listing the choices")
    i.add_argument("--json", action="store_true", help="print the report as JSON")
    i.add_argument("--locate", choices=["address"], default=None,
                   help="households: place the rows without coordinates through the standard-address register "
                        "(import addresses first); a row that no rule places without doubt goes to review")
    i.add_argument("--review-out", default=None, metavar="REVIEW.csv",
                   help="with --locate: the CSV FILE to write the rows to review into, with their candidates (fill in "
                        "选定地址编码, or "
                        "经度 and 纬度 in the import's --crs, and import again with --review)")
    i.add_argument("--review", default=None, metavar="REVIEW.csv", help="with --locate: the filled review FILE (CSV)")
    i.add_argument("--threshold", type=float, default=None,
                   help="with --locate: the least score (0-100) of an automatic match (default 90)")
    i.add_argument("--margin", type=float, default=None,
                   help="with --locate: a rival candidate at another point this close to the best score sends the "
                        "row to review (default 5)")

    a = sub.add_parser("audit", help="audit a campaign / 活动核查（全覆盖、不遗漏、不重复）")
    a.add_argument("--db", required=True)
    a.add_argument("--campaign", required=True)
    a.add_argument("--area", default=None, help="a street or community code, or a cell id")
    a.add_argument("--json", action="store_true", help="print JSON (the default and only format)")

    pl = sub.add_parser("plan", help="plan the visits of a campaign / 走访计划")
    pl.add_argument("--db", required=True)
    pl.add_argument("--campaign", required=True)
    pl.add_argument("--area", required=True, help="a street or community code")
    pl.add_argument("--min", type=int, default=None, dest="min_per", help="households per visitor, at least")
    pl.add_argument("--max", type=int, default=None, dest="max_per", help="households per visitor, at most")
    pl.add_argument("--date", type=date.fromisoformat, default=None, help="planning date (default today)")
    pl.add_argument("--no-save", action="store_true", help="do not save the plan in the database")
    pl.add_argument("--json", action="store_true", help="print JSON (the default and only format)")

    asx = sub.add_parser("assistance", help="assistance measures / 救助分布")
    asx.add_argument("--db", required=True)
    asx.add_argument("--by", default="cell", help="cell | community | street | h3:RES (5-11)")
    asx.add_argument("--campaign", default=None)
    asx.add_argument("--json", action="store_true", help="print JSON (the default and only format)")

    hs = sub.add_parser("hotspots", help="Gi* hot and cold spots / 热点分析")
    hs.add_argument("--db", required=True)
    hs.add_argument("--measure", default="per_vulnerable",
                    help="a per-cell column of the assistance measures (e.g. total_yuan, per_vulnerable)")
    hs.add_argument("--seed", type=int, default=0)
    hs.add_argument("--permutations", type=int, default=999)
    hs.add_argument("--fdr", type=float, default=0.10, help="false-discovery rate (0.10 gives 90/95/99 %% classes)")
    hs.add_argument("--json", action="store_true", help="print JSON (the default and only format)")

    bu = sub.add_parser("bulletin", help="situation bulletin / 情况通报")
    bu.add_argument("--db", required=True)
    bu.add_argument("--unit", required=True, help="a 12-digit district, street or community code")
    bu.add_argument("--from", "--since", dest="since", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    bu.add_argument("--to", "--until", dest="until", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    bu.add_argument("--campaign", default=None, help="a campaign id: adds its audit and the previous campaign")
    bu.add_argument("--out", required=True, help="FILE.docx, FILE.pdf or FILE.xlsx (the format by the suffix)")
    bu.add_argument("--distance", choices=["walk", "straight"], default=None,
                    help="how the service coverage counts: walk (along the street network) or straight (line); "
                         "default: walk where the district has a street network")

    _needs_parser(sub)

    e = sub.add_parser("export", help="export a table / 导出数据")
    e.add_argument("kind")
    e.add_argument("--db", required=True)
    e.add_argument("--out", required=True, help="FILE.csv | .xlsx | .geojson | .gpkg | .parquet")
    e.add_argument("--crs", default="wgs84", help="wgs84 (default) | gcj02 | bd09 | EPSG:nnnn")

    from grid import cli_applications, cli_backup

    cli_applications.add_parsers(sub)
    cli_backup.add_parsers(sub)
    from grid import cli_province

    cli_province.add_parsers(sub)
    from grid.cli_planning import add_parsers as add_planning

    add_planning(sub)

    # allow_abbrev=False: "--password" must not pass for "--password-stdin".
    u = sub.add_parser("user", help="manage users / 用户管理", allow_abbrev=False)
    us = u.add_subparsers(dest="user_command", required=True)
    ua = us.add_parser("add", help="add a user / 新增用户", allow_abbrev=False)
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=list(model.USER_ROLES))
    ua.add_argument("--scope", nargs="+", action="extend", default=[], metavar="CODE",
                    help="admin unit codes or cell ids (none: everything for admin, nothing for others)")
    ua.add_argument("--display-name", default=None)
    ua.add_argument("--person-id", default=None)
    up = us.add_parser("passwd", help="set a user's password / 修改密码", allow_abbrev=False)
    up.add_argument("name")
    for q in (ua, up):
        q.add_argument("--db", required=True)
        q.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input (else: prompt twice)")
    ul = us.add_parser("list", help="list users / 用户列表", allow_abbrev=False)
    ul.add_argument("--db", required=True)
    ul.add_argument("--json", action="store_true")
    ux = us.add_parser("disable", help="disable a user / 停用用户", allow_abbrev=False)
    ux.add_argument("name")
    ux.add_argument("--db", required=True)
    return p


def _needs_parser(sub: Any) -> None:
    """``needs report`` and the flow's steps (:mod:`grid.needs`), each on one need."""
    n = sub.add_parser("needs", help="needs as a flow / 诉求流转")
    ns = n.add_subparsers(dest="needs_command", required=True)
    r = ns.add_parser("report", help="headline figures, per unit / 诉求办理统计")
    r.add_argument("--db", required=True)
    r.add_argument("--unit", default=None, help="only households in this district, street or community code or cell")
    r.add_argument("--from", dest="since", type=date.fromisoformat, default=None, help="raised from YYYY-MM-DD")
    r.add_argument("--to", dest="until", type=date.fromisoformat, default=None, help="raised up to YYYY-MM-DD")
    r.add_argument("--json", action="store_true", help="print JSON (the default and only format)")
    steps = {"assign": "assign to a unit / 分拨", "start": "start handling / 开始处置", "resolve": "resolved / 办结",
             "answer": "answered / 答复", "return": "return to be reassigned / 退回",
             "close": "close after the follow-up / 回访", "reassign": "reassign / 改派", "undo": "undo / 撤销"}
    for name, text in steps.items():
        q = ns.add_parser(name, help=text)
        q.add_argument("need", help="the need's id")
        q.add_argument("--db", required=True)
        if name in ("assign", "reassign"):
            q.add_argument("--unit", required=True, help="the household's cell or community or street code, or a "
                                                         f"department ({', '.join(model.DEPARTMENTS)})")
            q.add_argument("--due", type=date.fromisoformat, default=None,
                           help="YYYY-MM-DD (default: the category's time limit in working days)")
        if name == "return":
            q.add_argument("--reason", required=True)
        elif name == "close":
            q.add_argument("--satisfaction", required=True, help="满意 | 基本满意 | 不满意")
            q.add_argument("--note", default=None)
        elif name in ("resolve", "answer"):
            q.add_argument("--note", required=True)
        elif name != "undo":
            q.add_argument("--note", default=None)
    e = ns.add_parser("escalate", help="escalate every overdue need to the street (daily) / 超期升级")
    e.add_argument("--db", required=True)
    li = ns.add_parser("limits", help="time limits per category (working days) / 办理时限")
    li.add_argument("--db", required=True)
    li.add_argument("--set", action="append", default=[], metavar="CATEGORY=DAYS", help="repeatable")


def _needs(args: argparse.Namespace, io: CliIO) -> int:
    from grid import access, needs

    op = access.operator(io.operator)
    cmd = args.needs_command
    if cmd == "report":
        from grid.needs_report import report

        with io.open_store(args.db, read_only=True, create=False) as store:
            scope = op.scope
            if args.unit is not None:
                cells = access.cells_in_scope(store, [args.unit])
                if not cells:
                    raise WarmGridError(f"没有这个单位或网格：{args.unit}", f"no such unit or cell: {args.unit}")
                scope = access.Scope.of_cells(cells, codes=[args.unit])
            access.ensure(op, "view_counts", scope)
            print(to_json({"unit": args.unit, **report(store, scope, args.since, args.until)}), file=io.stdout)
        return 0
    with io.open_store(args.db, create=False) as store:
        if cmd == "escalate":
            done = needs.escalate_overdue(store, op)
            print(to_json({"escalated": done}), file=io.stdout)
            print(f"已升级 {len(done)} 条超期诉求 · escalated {len(done)} overdue needs", file=io.stderr)
            return 0
        if cmd == "limits":
            for item in args.set:
                cat, _, days = item.partition("=")
                if not days.strip().isdigit():
                    raise WarmGridError(f"时限须写作 类别=天数：{item}", f"a limit is written CATEGORY=DAYS: {item}")
                needs.set_time_limit(store, op, cat.strip(), int(days))
            print(to_json(needs.time_limits(store)), file=io.stdout)
            return 0
        if cmd in ("assign", "reassign"):
            fn = needs.assign if cmd == "assign" else needs.reassign
            fn(store, op, args.need, args.unit, args.due, note=args.note)
        elif cmd == "start":
            needs.start(store, op, args.need, note=args.note)
        elif cmd == "resolve":
            needs.resolve(store, op, args.need, args.note)
        elif cmd == "answer":
            needs.answer(store, op, args.need, args.note)
        elif cmd == "return":
            needs.return_(store, op, args.need, args.reason)
        elif cmd == "close":
            needs.close(store, op, args.need, args.satisfaction, note=args.note)
        else:
            needs.undo(store, op, args.need)
        need = needs.get_need(store, op, args.need)
    print(to_json({"need_id": need.need_id, "status": need.status, "unit_code": need.unit_code,
                   "due_at": need.due_at, "resolved_at": need.resolved_at}), file=io.stdout)
    print(f"诉求 {need.need_id}：{model.NEED_STATUSES[need.status].zh} · need {need.need_id}: {need.status}",
          file=io.stderr)
    return 0


def _distance_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--distance", choices=["walk", "straight"], default=None,
                   help="walk (along the street network) or straight (line); default: walk where the district "
                        "has a street network, else straight")
    p.add_argument("--max-leg", type=float, default=None, metavar="M",
                   help="walk: a household farther than M metres from every walkable road is not on the network "
                        "(default 300)")


def _walk_inputs(store: Any, distance: str | None) -> tuple[str, Any, Any, Any]:
    """The distance mode, households, stations and (for walking) the network, joined once."""
    from grid.coverage import load_households, load_stations
    from grid.network import attach, check_distance, default_distance, load_network

    mode = check_distance(distance) if distance is not None else default_distance(store)
    hh, st = load_households(store), load_stations(store)
    net = None
    if mode == "walk":
        net = load_network(store)
        if net.empty:
            raise WarmGridError("数据库中没有可步行的道路，无法按步行距离计算；请先导入道路或用 --distance straight",
                                "the database has no walkable road: import roads first, or use --distance straight")
        hh, st = attach(net, hh), attach(net, st)
    return mode, hh, st, net


def _max_leg(args: argparse.Namespace) -> float:
    from grid.network import MAX_LEG_M

    leg = MAX_LEG_M if args.max_leg is None else float(args.max_leg)
    if not (math.isfinite(leg) and leg >= 0):
        raise WarmGridError(f"--max-leg 须为非负数：{args.max_leg}", f"--max-leg must be a non-negative number: "
                                                                    f"{args.max_leg}")
    return leg


def _gaps(store: Any, args: argparse.Namespace, io: CliIO) -> None:
    """``gaps --csv``: header ``hh_id``, one id per line (off-network households count as gaps, noted on stderr)."""
    from grid.coverage import station_gaps

    mode, hh, st, net = _walk_inputs(store, args.distance)
    gaps = station_gaps(hh, st, args.station_type, args.radius, distance=mode, network=net, max_leg=_max_leg(args))
    if mode == "walk":
        off = int((gaps["walk_status"] == "off_network").sum())
        if off:
            print(f"其中 {off} 户距可步行道路超过 {_max_leg(args):.0f} 米（不在路网上），列为盲区 · {off} households are "
                  "not on the network and are listed as gaps", file=io.stderr)
    w = csv.writer(io.stdout, lineterminator="\n")
    w.writerow(["hh_id"])
    w.writerows([h] for h in gaps["hh_id"])


def _nearest(store: Any, args: argparse.Namespace, io: CliIO) -> None:
    """``nearest --csv``: ``hh_id,station_id,distance_m`` for every active household, empty where none is reachable."""
    from grid.coverage import nearest_stations

    mode, hh, st, net = _walk_inputs(store, args.distance)
    sub = st[st["type"] == args.station_type]
    w = csv.writer(io.stdout, lineterminator="\n")
    w.writerow(["hh_id", "station_id", "distance_m"])
    if not len(sub):
        w.writerows([h, "", ""] for h in sorted(hh["hh_id"]))
        return
    near = nearest_stations(hh, sub, distance=mode, network=net, max_leg=_max_leg(args))
    near = near.sort_values("hh_id", kind="stable")
    for h, s_id, d in zip(near["hh_id"], near["station_id"], near["distance_m"], strict=True):
        ok = s_id is not None and isinstance(d, float) and math.isfinite(d)
        w.writerow([h, s_id if ok else "", f"{d:.1f}" if ok else ""])


def _roads(args: argparse.Namespace, io: CliIO) -> int:
    from grid import access
    from grid.errors import ValidationError
    from grid.ingest import import_file, problems_frame, read_source

    op = access.operator(io.operator)
    access.ensure(op, "import", "roads")
    overrides = {}
    for item in args.map:
        col, _, fld = item.partition("=")
        overrides[col.strip()] = fld.strip()
    with io.open_store(args.db, read_only=args.dry_run and Path(args.db).exists()) as store:
        src = read_source(args.file, assume_sidewalks=not args.strict_sidewalks)
        try:
            rep = import_file(store, op, "roads", args.file, crs=args.crs, mode=args.mode, dry_run=args.dry_run,
                              mapping=overrides or None, progress=_progress_to(io), source=src)
        except ValidationError as exc:
            if args.json:
                print(to_json({"ok": False, "problems": problems_frame(exc.problems).to_dict(orient="records")}),
                      file=io.stdout)
            print(f"导入被拒绝，数据库未作任何修改。Import refused; the database is unchanged.\n{exc}",
                  file=io.stderr)
            return 1
        print(to_json({"ok": True, **rep.as_dict()}) if args.json else rep.text(), file=io.stdout)
        return 0


def _import(args: argparse.Namespace, io: CliIO) -> int:
    from grid import access
    from grid.errors import ValidationError
    from grid.ingest import (
        ambiguous_categories,
        auto_mapping,
        import_file,
        parse_category_map,
        problems_frame,
        read_source,
        unresolved_error,
    )

    op = access.operator(io.operator)
    access.ensure(op, "import", args.kind)

    overrides = {}
    for item in args.map:
        col, _, fld = item.partition("=")
        overrides[col.strip()] = fld.strip()
    categories = parse_category_map(args.category_map)
    _check_locate_args(args)
    with io.open_store(args.db, read_only=args.dry_run and Path(args.db).exists()) as store:
        src = read_source(args.file, sheet=args.sheet, member=args.member)
        mapping = auto_mapping(src.frame.columns, args.kind, overrides)
        print(f"表头映射 header mapping ({src.encoding or src.format}):", file=io.stderr)
        for col in src.frame.columns:
            print(f"  {col} -> {mapping.get(col, '(忽略 ignored)')}", file=io.stderr)
        unclear = {t: cs for t, cs in ambiguous_categories(src, args.kind, mapping).items() if t not in categories}
        if unclear:
            example = " ".join(f"--category-map {t}={model.HARDSHIP[cs[0]].zh}" for t, cs in unclear.items())
            raise unresolved_error(src, unclear, hint_zh=f"请用 --category-map 说明，例如：{example}",
                                   hint_en=f"say so with --category-map, e.g. {example}")
        for term, code in categories.items():
            print(f"  类别 category: {term} -> {model.HARDSHIP[code].zh} ({code})", file=io.stderr)
        loc = _locate(args, io, store, src, mapping) if args.locate else None
        located = loc.as_dict() if loc is not None else {}
        try:
            rep = import_file(store, op, args.kind, args.file, crs=args.crs, mode=args.mode, dry_run=args.dry_run,
                              mapping=overrides, fix_swaps=args.fix_swaps, repair=args.repair, sheet=args.sheet,
                              progress=_progress_to(io), source=src, category_map=categories, locate=loc)
        except ValidationError as exc:
            if args.json:
                print(to_json({"ok": False, "problems": problems_frame(exc.problems).to_dict(orient="records"),
                               **located}), file=io.stdout)
            print(f"导入被拒绝，数据库未作任何修改。Import refused; the database is unchanged.\n{exc}",
                  file=io.stderr)
            return 1
        print(to_json({"ok": True, **rep.as_dict(), **located}) if args.json else rep.text(), file=io.stdout)
        return 0


def _check_locate_args(args: argparse.Namespace) -> None:
    """``--review``, ``--review-out``, ``--threshold`` and ``--margin`` go with ``--locate``, which goes with households."""
    if args.locate and args.kind != "households":
        raise WarmGridError("--locate 只用于导入住户（households）。", "--locate is for households only.")
    extra = [f"--{a.replace('_', '-')}" for a in ("review", "review_out", "threshold", "margin")
             if getattr(args, a) is not None]
    if extra and not args.locate:
        raise WarmGridError(f"{'、'.join(extra)} 须与 --locate address 一起使用。",
                            f"{', '.join(extra)} go with --locate address.")
    if args.threshold is not None and not 0 < args.threshold <= 100:
        raise WarmGridError("--threshold 须在 0 到 100 之间。", "--threshold must be between 0 and 100.")
    if args.margin is not None and not 0 <= args.margin < 100:
        raise WarmGridError("--margin 须在 0 到 100 之间。", "--margin must be between 0 and 100.")


def _locate(args: argparse.Namespace, io: CliIO, store: Store, src: Any, mapping: dict[str, str]) -> Any:
    """Locate the rows without coordinates through the register; write the review file when asked."""
    from grid import geocode
    from grid.locate import load_register, locate_source, read_review, write_review

    register = load_register(store)
    if len(register) == 0:
        raise WarmGridError("标准地址库为空：请先导入标准地址（python -m grid import addresses 文件 --db ...）。",
                            "the address register is empty: import it first (python -m grid import addresses FILE "
                            "--db ...).")
    answers = read_review(args.review) if args.review else None
    loc = locate_source(register, src, mapping, crs=args.crs, answers=answers,
                        threshold=geocode.DEFAULT_THRESHOLD if args.threshold is None else args.threshold,
                        margin=geocode.DEFAULT_MARGIN if args.margin is None else args.margin)
    print(loc.text(), file=io.stderr)
    if len(loc.review):
        if args.review_out:
            write_review(args.review_out, loc, crs=args.crs or src.file_crs or "wgs84")
            print(f"待确认的 {len(loc.review)} 行已写入 {args.review_out}：请填写“选定地址编码”（或经度、纬度），"
                  f"再用 --review {args.review_out} 重新导入 · the {len(loc.review)} rows to review are in "
                  f"{args.review_out}: fill in 选定地址编码 (or 经度 and 纬度) and import again with --review",
                  file=io.stderr)
        else:
            print("有需人工确认的行：加 --review-out REVIEW.csv 可得到候选地址清单 · rows need review: add "
                  "--review-out REVIEW.csv for their candidates", file=io.stderr)
    return loc


def _export(args: argparse.Namespace, io: CliIO) -> int:
    from grid import access
    from grid.export import export_table

    with io.open_store(args.db, create=False) as store:  # writable: the export writes its audit row
        n = export_table(store, access.operator(io.operator), args.kind, args.out, crs=args.crs)
    print(f"已导出 {n} 行到 {args.out} · exported {n} rows to {args.out}", file=io.stderr)
    return 0


def _read_password(from_stdin: bool, io: CliIO) -> str:
    if io.password is not None:  # already read (the job then moved to the running app)
        return io.password
    if from_stdin:
        line = io.stdin.readline()
        if not line:
            raise WarmGridError("标准输入中没有密码。", "no password on standard input.")
        io.password = line.rstrip("\r\n")
        return io.password
    import getpass

    try:
        first = getpass.getpass("密码 Password: ")
        second = getpass.getpass("再次输入 Again: ")
    except EOFError:
        raise WarmGridError("没有读到密码。", "no password was read.") from None
    if first != second:
        raise WarmGridError("两次输入的密码不一致，未做任何修改。", "the two passwords differ; nothing was changed.")
    io.password = first
    return first


def _user(args: argparse.Namespace, io: CliIO) -> int:
    from grid import access, users

    op = access.operator(io.operator)
    access.ensure(op, "manage_users")
    if args.user_command == "list":
        with io.open_store(args.db, read_only=True) as store:
            listed = users.list_users(store)
        if args.json:
            print(to_json(listed.to_dict(orient="records")), file=io.stdout)
        else:
            print(listed.to_string(index=False) if len(listed) else "（没有用户 no users）", file=io.stdout)
        return 0
    password = _read_password(args.password_stdin, io) if args.user_command in ("add", "passwd") else ""
    with io.open_store(args.db, create=False) as store:
        if args.user_command == "add":
            user = users.create_user(store, args.name, password, args.role, args.scope,
                                     display_name=args.display_name, person_id=args.person_id, by=op)
            role = model.USER_ROLES[user.role]
            print(f"已创建用户 {user.username}（{role.zh}）· created user {user.username} ({role.en})",
                  file=io.stderr)
        elif args.user_command == "passwd":
            users.set_password(store, args.name, password, by=op)
            print(f"已修改 {args.name} 的密码 · password of {args.name} changed", file=io.stderr)
        else:
            users.disable_user(store, args.name, by=op)
            print(f"已停用用户 {args.name} · user {args.name} disabled", file=io.stderr)
    return 0


def run(args: argparse.Namespace, io: CliIO, *, on_locked: Callable[[], int | None] | None = None) -> int:
    """Run a parsed command against ``io``; return the exit status.

    ``on_locked`` is tried when the database turns out to be held by another process
    (the job may then go to the running app); its status is returned unless it is None.
    """
    try:
        if args.command == "demo":
            from grid.demo import DemoConfig, build_demo_file

            cfg = DemoConfig(households=args.households, seed=args.seed, streets=args.streets,
                             communities=args.communities, target_per_cell=args.target_per_cell)
            _refuse_held(args.db)
            d = build_demo_file(args.db, cfg, force=args.force, progress=_progress_to(io))
            print(to_json({"db": args.db, "households": len(d.households), "cells": len(d.cells),
                           "stations": len(d.stations), "patrol_areas": len(d.patrol_areas),
                           "visits": len(d.visits), "needs": len(d.needs),
                           "assistance": len(d.assistance)}), file=io.stdout)
            return 0
        if args.command in ("backup", "restore"):
            from grid import cli_backup

            return (cli_backup.run_backup if args.command == "backup" else cli_backup.run_restore)(args, io)
        if args.command == "import":
            return _import(args, io)
        if args.command == "export":
            return _export(args, io)
        if args.command == "plan":
            from grid import access
            from grid.planning import cli_plan

            with io.open_store(args.db, create=False) as wstore:
                print(to_json(cli_plan(wstore, access.operator(io.operator), args.campaign, args.area,
                                       min_per=args.min_per, max_per=args.max_per, planning_date=args.date,
                                       save=not args.no_save)), file=io.stdout)
            return 0
        if args.command == "user":
            return _user(args, io)
        if args.command in ("parquet", "province"):
            from grid import cli_province

            return (cli_province.run_parquet if args.command == "parquet" else cli_province.run_province)(args, io)
        if args.command == "roads":
            return _roads(args, io)
        if args.command == "needs":
            return _needs(args, io)
        if args.command in ("site", "regrid", "access2sfca"):
            from grid import cli_planning

            return cli_planning.run_planning(args, io)
        if args.command in ("applications", "budgets", "programmes"):
            from grid import cli_applications

            return {"applications": cli_applications.run_applications, "budgets": cli_applications.run_budgets,
                    "programmes": cli_applications.run_programmes}[args.command](args, io)
        from grid import access

        op = access.operator(io.operator)
        # The bulletin writes its audit row; the other commands only read.
        with io.open_store(args.db, read_only=args.command != "bulletin", create=False) as store:
            if args.command == "coverage":
                from grid.coverage import coverage_report

                doc = coverage_report(store, scope=op.scope, radius=args.radius, warden_target=args.warden_target,
                                      visit_days=args.visit_days, as_of=args.as_of, distance=args.distance,
                                      max_leg=_max_leg(args))
                print(to_json(doc), file=io.stdout)
            elif args.command == "assistance":
                from grid.assistance import equity, load_assistance_inputs, measures

                hh, aid = load_assistance_inputs(store, campaign_id=args.campaign)
                eq = equity(hh, aid)
                print(to_json({"by": args.by, "campaign": args.campaign, "gini_per_vulnerable": eq["gini"],
                               "units": measures(hh, aid, args.by).to_dict(orient="records")}), file=io.stdout)
            elif args.command == "hotspots":
                from grid.assistance import MEASURE_COLUMNS, load_assistance_inputs, measures
                from grid.coverage import load_cells
                from grid.hotspots import CLASSES, cell_values, gi_star, weights

                if args.measure not in MEASURE_COLUMNS:
                    raise WarmGridError(f"未知的指标：{args.measure}（可选：{', '.join(MEASURE_COLUMNS)}）",
                                        f"unknown measure: {args.measure} (one of: {', '.join(MEASURE_COLUMNS)})")
                cells = load_cells(store, metric=True)
                hh, aid = load_assistance_inputs(store)
                values = cell_values(measures(hh, aid, "cell"), args.measure, cells["cell_id"])
                cells = cells[cells["cell_id"].isin(set(values.index))]
                res = gi_star(values, weights(cells), permutations=args.permutations, seed=args.seed, fdr=args.fdr)
                counts = res["class"].value_counts()
                print(to_json({"measure": args.measure, "seed": args.seed, "permutations": args.permutations,
                               "fdr": args.fdr, "classes": {c: int(counts.get(c, 0)) for c in CLASSES},
                               "cells": res.to_dict(orient="records")}), file=io.stdout)
            elif args.command == "bulletin":
                from grid.reports import bulletin_file

                missing = bulletin_file(store, op, args.unit, args.since, args.until, args.out, args.campaign,
                                        distance=args.distance)
                if missing:
                    print(f"字体缺少这些字：{''.join(missing)} · the font lacks these characters", file=io.stderr)
                print(f"已生成 {args.out} · written {args.out}", file=io.stderr)
            elif args.command == "audit":
                from grid.campaigns import cli_audit

                print(to_json(cli_audit(store, args.campaign, args.area, scope=op.scope)), file=io.stdout)
            elif args.command == "gaps":
                _gaps(store, args, io)
            elif args.command == "nearest":
                _nearest(store, args, io)
        return 0
    except DatabaseLockedError as exc:
        if on_locked is not None and (status := on_locked()) is not None:
            return status
        print(str(exc), file=io.stderr)
        return 1
    except WarmGridError as exc:
        print(str(exc), file=io.stderr)
        return 1
    except BrokenPipeError:  # output piped into head and the like
        with contextlib.suppress(OSError, ValueError):
            io.stderr.flush()
        return 0


def main(argv: Sequence[str] | None = None, *, io: CliIO | None = None) -> int:
    """Run the command line; return the exit status.

    Without ``io``, this is the program: this process's standard streams, and the database
    file opened directly, or, when a running app holds it, the job sent to the app
    (:mod:`grid.channel`). Usage errors exit with status 2 (``SystemExit``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    io = io or CliIO.direct()
    args = _parser(io).parse_args(argv)
    if not io.forward or _key(args) in LOCAL_COMMANDS:
        return run(args, io)

    def to_app() -> int | None:
        from grid import channel

        try:
            link = channel.connect(args.db)
        except WarmGridError as exc:
            print(str(exc), file=io.stderr)
            return 1
        return None if link is None else _via_app(link, argv, args, io)

    if (status := to_app()) is not None:  # a live app holds the file: the job goes there
        return status
    return run(args, io, on_locked=to_app)  # the app may have opened the file meanwhile


def _refuse_held(db: str) -> None:
    """``demo`` replaces the file: never one that a running app (or another process) holds."""
    from grid import channel
    from grid.store import is_held

    if not Path(db).exists():
        return
    try:
        live = channel.connect(db)
    except WarmGridError:  # a socket this user may not use: someone's app holds the file
        held = True
    else:
        held = live is not None or is_held(db)
        if live is not None:
            live.close()
    if held:
        raise DatabaseLockedError(
            f"数据库文件 {db} 正被运行中的应用（或另一个程序）使用；demo 会整个替换该文件，不能在应用运行时执行。"
            "请先停止应用，或换一个文件名。",
            f"the database file {db} is held by the running app (or another process); demo replaces the whole file "
            "and cannot run while the app does. Stop the app first, or choose another file name.")


def _via_app(link: Link, argv: list[str], args: argparse.Namespace, io: CliIO) -> int:
    """Send the job to the running app that holds the file; relay its output and files."""
    from grid import channel

    try:
        spec = COMMAND_FILES.get(_key(args), Files())
        inputs: dict[str, list[Path]] = {}
        for arg in _given(args, spec.inputs):
            p = Path(getattr(args, arg))
            if not p.is_file():
                raise WarmGridError(f"文件不存在：{p}", f"file not found: {p}")
            inputs[arg] = [p, *_companions(p)]
        outputs: dict[str, Path] = {}
        for arg in _given(args, spec.outputs):
            p = Path(getattr(args, arg))
            if not p.parent.is_dir():
                raise WarmGridError(f"目录不存在：{p.parent}", f"folder not found: {p.parent}")
            if p.is_dir():
                raise WarmGridError(f"{p} 是目录，不是文件。", f"{p} is a folder, not a file.")
            outputs[arg] = p
        send = list(argv)
        stdin = b""
        if spec.password:  # prompts happen here, in the user's terminal; the app reads it from stdin
            stdin = (_read_password(args.password_stdin, io) + "\n").encode()
            if not args.password_stdin:
                send.append("--password-stdin")
    except WarmGridError as exc:
        link.close()
        print(str(exc), file=io.stderr)
        return 1
    print(f"数据库正由运行中的应用使用（进程 {link.pid}），本命令交由应用执行 · the running app (pid {link.pid}) "
          "holds the database; the job runs in the app", file=io.stderr, flush=True)
    try:
        return channel.submit(link, send, inputs, outputs, stdin, io.stdout, io.stderr)
    except WarmGridError as exc:  # e.g. an input file changed while it was being sent
        print(str(exc), file=io.stderr)
        return 1


# --------------------------------------------------------------------------- inside the running app
class AppJobs:
    """The command line's jobs, run inside the app on its open store (a :class:`grid.channel.Handler`).

    A job runs the very command code the program runs, against a :class:`CliIO` whose
    opener returns the app's store (a read-only view where the command opens the file
    read-only), so writes go through the store's one writer and the app sees them on its
    next rerun. File arguments point into the job's private folder (never at a path the
    client named), ``--db`` at the app's own file. Each job leaves one ``cli_job`` row in
    the audit log: the operator (``cli:`` and the OS user the kernel reports for the
    socket's peer), the command line, the client's pid and the exit status.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def admit(self, request: Request) -> argparse.Namespace:
        """Parse the command line and check the files against :data:`COMMAND_FILES` (before any is received)."""
        from grid.channel import Refused

        text = _io.StringIO()
        probe = CliIO(_io.StringIO(), text, text, self._open, "")
        try:
            args = _parser(probe).parse_args(request.argv)
        except SystemExit as exc:
            raise Refused(int(exc.code or 0) if isinstance(exc.code, int) else 2, text.getvalue()) from None
        key = _key(args)
        if key in LOCAL_COMMANDS:
            raise Refused(1, f"{key} 会整个替换数据库文件，不能交由运行中的应用执行；请先停止应用。",
                          f"{key} replaces the whole database file and cannot run inside the running app; "
                          "stop the app first.")
        spec = COMMAND_FILES.get(key, Files())
        if set(request.inputs) != set(_given(args, spec.inputs)):
            raise Refused(1, f"命令 {key} 的输入文件与请求不符。", f"the request's files do not match command {key}.")
        for arg, files in request.inputs.items():
            main = Path(getattr(args, arg)).name
            allowed = COMPANIONS.get(Path(main).suffix.lower(), ())
            if files[0].name != main or any(Path(f.name).stem != Path(main).stem
                                            or Path(f.name).suffix.lower() not in allowed for f in files[1:]):
                raise Refused(1, f"命令 {key} 的输入文件与请求不符。", f"the request's files do not match command {key}.")
        if request.stdin and not (spec.password and args.password_stdin):
            raise Refused(1, f"命令 {key} 不读取标准输入。", f"command {key} reads no standard input.")
        return args

    @contextmanager
    def _open(self, path: str | Path, *, read_only: bool = False, create: bool = True) -> Iterator[Store]:
        if not read_only:
            yield self.store  # the app's own store: never closed here
            return
        view = self.store.read_only_view()
        try:
            yield view
        finally:
            view.close()

    def run(self, job: Job, args: argparse.Namespace) -> int:
        """Run an admitted job; write its ``cli_job`` audit row whatever happens."""
        from grid import audit

        spec = COMMAND_FILES.get(_key(args), Files())
        for arg in _given(args, spec.inputs):
            inside = job.inputs[arg][0]
            job.show_as(str(inside), str(getattr(args, arg)))
            setattr(args, arg, str(inside))
        for i, arg in enumerate(_given(args, spec.outputs)):
            shown = str(getattr(args, arg))
            inside = job.workdir / "out" / str(i) / Path(shown).name
            inside.parent.mkdir(parents=True)
            job.outputs[arg] = inside
            job.show_as(str(inside), shown)
            setattr(args, arg, str(inside))
        args.db = self.store.path
        operator = f"cli:{job.user}"
        io = CliIO(_io.StringIO(job.stdin), job.stdout, job.stderr, self._open, operator)
        status: int | None = None
        try:
            status = run(args, io)
            return status
        finally:
            ended = ("client disconnected" if job.disconnected else "error" if status is None
                     else f"exit {status}")
            line = shlex.join(job.request.argv)
            audit.record(self.store, operator, "cli_job",
                         object=f"{line[:1000]} (pid {job.pid}, {ended})")


def serve_jobs(store: Store) -> Server | None:
    """Start the job channel of an open store (the app's): the command line's commands on this
    database then run here. Stopped when the store closes; None when it could not start
    (another live server on the socket, no ``SO_PEERCRED``, a folder that is not private)."""
    from grid.channel import Server, socket_path

    server = Server(socket_path(store.path), AppJobs(store))
    if not server.start():
        return None
    store.on_close(server.stop)
    return server
