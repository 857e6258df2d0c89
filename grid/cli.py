"""Command line: ``python -m grid COMMAND ...`` for batch work and machine-readable output.

Commands
--------
demo      build the demo district into a new database file
coverage  every coverage measure as one JSON document (straight line and walking)
gaps      ids of households outside a station type's reach (CSV), by walking or straight line
nearest   each household's nearest station of a type and the distance (CSV)
roads     import a street network (GeoJSON, Shapefile, GeoPackage, GeoParquet, OSM .osm/.osm.pbf)
import    a file (CSV, XLSX, XLS, GeoJSON, Shapefile, GeoPackage, GeoParquet) into a table
export    a table to CSV, XLSX, GeoJSON, GeoPackage or GeoParquet
audit     a campaign's coverage audit: omissions and duplicates, household by household (JSON)
plan      a visit plan: who visits whom, in what walking order (JSON)
assistance  where assistance went, per cell, community, street or H3 hexagon (JSON)
hotspots  Getis-Ord Gi* hot and cold spots of a per-cell assistance measure (JSON)
bulletin  the situation bulletin (情况通报) of a unit and a period, as A4 Excel or PDF
user      add, passwd, list, disable: the app's users (passwords never on the command line)

Errors are printed in Chinese and English on standard error; the exit status
is 1 for a refused operation and 2 for wrong arguments.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from grid import model
from grid.errors import WarmGridError

__all__ = ["main", "to_json"]


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        f = float(o)
        return None if math.isnan(f) else f
    if isinstance(o, (np.bool_,)):
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


def _progress(frac: float, msg: str) -> None:
    print(f"[{frac * 100:5.1f}%] {msg}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m grid", description="WarmGrid 暖网 command line")
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
                                    "campaigns", "visits", "needs", "assistance", "roads"])
    i.add_argument("file")
    i.add_argument("--db", required=True)
    i.add_argument("--crs", default=None, help="wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn (default: the file's, "
                                              "else wgs84)")
    i.add_argument("--mode", choices=["insert", "upsert"], default="insert")
    i.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    i.add_argument("--fix-swaps", action="store_true", help="swap back longitude/latitude found swapped")
    i.add_argument("--repair", action="store_true", help="repair invalid polygons (area change reported)")
    i.add_argument("--sheet", default=None, help="worksheet name (XLSX/XLS)")
    i.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                   help="override the header mapping (FIELD empty to ignore a column); repeatable")
    i.add_argument("--json", action="store_true", help="print the report as JSON")

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
    bu.add_argument("--from", dest="since", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    bu.add_argument("--to", dest="until", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    bu.add_argument("--campaign", default=None)
    bu.add_argument("--out", required=True, help="FILE.xlsx or FILE.pdf")

    e = sub.add_parser("export", help="export a table / 导出数据")
    e.add_argument("kind")
    e.add_argument("--db", required=True)
    e.add_argument("--out", required=True, help="FILE.csv | .xlsx | .geojson | .gpkg | .parquet")
    e.add_argument("--crs", default="wgs84", help="wgs84 (default) | gcj02 | bd09 | EPSG:nnnn")

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


def _gaps(store: Any, args: argparse.Namespace) -> None:
    """``gaps --csv``: header ``hh_id``, one id per line (off-network households count as gaps, noted on stderr)."""
    from grid.coverage import station_gaps

    mode, hh, st, net = _walk_inputs(store, args.distance)
    gaps = station_gaps(hh, st, args.station_type, args.radius, distance=mode, network=net, max_leg=_max_leg(args))
    if mode == "walk":
        off = int((gaps["walk_status"] == "off_network").sum())
        if off:
            print(f"其中 {off} 户距可步行道路超过 {_max_leg(args):.0f} 米（不在路网上），列为盲区 · {off} households are "
                  "not on the network and are listed as gaps", file=sys.stderr)
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["hh_id"])
    w.writerows([h] for h in gaps["hh_id"])


def _nearest(store: Any, args: argparse.Namespace) -> None:
    """``nearest --csv``: ``hh_id,station_id,distance_m`` for every active household, empty where none is reachable."""
    from grid.coverage import nearest_stations

    mode, hh, st, net = _walk_inputs(store, args.distance)
    sub = st[st["type"] == args.station_type]
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["hh_id", "station_id", "distance_m"])
    if not len(sub):
        w.writerows([h, "", ""] for h in sorted(hh["hh_id"]))
        return
    near = nearest_stations(hh, sub, distance=mode, network=net, max_leg=_max_leg(args))
    near = near.sort_values("hh_id", kind="stable")
    for h, s_id, d in zip(near["hh_id"], near["station_id"], near["distance_m"], strict=True):
        ok = s_id is not None and isinstance(d, float) and math.isfinite(d)
        w.writerow([h, s_id if ok else "", f"{d:.1f}" if ok else ""])


def _roads(args: argparse.Namespace) -> int:
    from grid.errors import ValidationError
    from grid.ingest import import_file, problems_frame, read_source
    from grid.store import open_store

    overrides = {}
    for item in args.map:
        col, _, fld = item.partition("=")
        overrides[col.strip()] = fld.strip()
    store = open_store(args.db, read_only=args.dry_run and Path(args.db).exists())
    try:
        src = read_source(args.file, assume_sidewalks=not args.strict_sidewalks)
        try:
            rep = import_file(store, "roads", args.file, crs=args.crs, mode=args.mode, dry_run=args.dry_run,
                              mapping=overrides or None, progress=_progress, source=src)
        except ValidationError as exc:
            if args.json:
                print(to_json({"ok": False, "problems": problems_frame(exc.problems).to_dict(orient="records")}))
            print(f"导入被拒绝，数据库未作任何修改。Import refused; the database is unchanged.\n{exc}",
                  file=sys.stderr)
            return 1
        print(to_json({"ok": True, **rep.as_dict()}) if args.json else rep.text())
        return 0
    finally:
        store.close()


def _import(args: argparse.Namespace) -> int:
    from grid.errors import ValidationError
    from grid.ingest import auto_mapping, import_file, problems_frame, read_source
    from grid.store import open_store

    overrides = {}
    for item in args.map:
        col, _, fld = item.partition("=")
        overrides[col.strip()] = fld.strip()
    store = open_store(args.db, read_only=args.dry_run and Path(args.db).exists())
    try:
        src = read_source(args.file, sheet=args.sheet)
        mapping = auto_mapping(src.frame.columns, args.kind, overrides)
        print(f"表头映射 header mapping ({src.encoding or src.format}):", file=sys.stderr)
        for col in src.frame.columns:
            print(f"  {col} -> {mapping.get(col, '(忽略 ignored)')}", file=sys.stderr)
        try:
            rep = import_file(store, args.kind, args.file, crs=args.crs, mode=args.mode, dry_run=args.dry_run,
                              mapping=overrides, fix_swaps=args.fix_swaps, repair=args.repair, sheet=args.sheet,
                              progress=_progress, source=src)
        except ValidationError as exc:
            if args.json:
                print(to_json({"ok": False, "problems": problems_frame(exc.problems).to_dict(orient="records")}))
            print(f"导入被拒绝，数据库未作任何修改。Import refused; the database is unchanged.\n{exc}",
                  file=sys.stderr)
            return 1
        print(to_json({"ok": True, **rep.as_dict()}) if args.json else rep.text())
        return 0
    finally:
        store.close()


def _export(args: argparse.Namespace) -> int:
    from grid.export import export_table
    from grid.store import open_store

    with open_store(args.db, read_only=True) as store:
        n = export_table(store, args.kind, args.out, crs=args.crs)
    print(f"已导出 {n} 行到 {args.out} · exported {n} rows to {args.out}", file=sys.stderr)
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise WarmGridError("标准输入中没有密码。", "no password on standard input.")
        return line.rstrip("\r\n")
    import getpass

    try:
        first = getpass.getpass("密码 Password: ")
        second = getpass.getpass("再次输入 Again: ")
    except EOFError:
        raise WarmGridError("没有读到密码。", "no password was read.") from None
    if first != second:
        raise WarmGridError("两次输入的密码不一致，未做任何修改。", "the two passwords differ; nothing was changed.")
    return first


def _user(args: argparse.Namespace) -> int:
    from grid import access
    from grid.store import open_store

    if args.user_command == "list":
        with open_store(args.db, read_only=True) as store:
            users = access.list_users(store)
        if args.json:
            print(to_json(users.to_dict(orient="records")))
        else:
            print(users.to_string(index=False) if len(users) else "（没有用户 no users）")
        return 0
    password = _read_password(args.password_stdin) if args.user_command in ("add", "passwd") else ""
    import getpass

    try:
        actor = f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        actor = "cli"
    with open_store(args.db, create=False) as store:
        if args.user_command == "add":
            user = access.create_user(store, args.name, password, args.role, args.scope,
                                      display_name=args.display_name, person_id=args.person_id, by=actor)
            role = model.USER_ROLES[user.role]
            print(f"已创建用户 {user.username}（{role.zh}）· created user {user.username} ({role.en})",
                  file=sys.stderr)
        elif args.user_command == "passwd":
            access.set_password(store, args.name, password, by=actor)
            print(f"已修改 {args.name} 的密码 · password of {args.name} changed", file=sys.stderr)
        else:
            access.disable_user(store, args.name, by=actor)
            print(f"已停用用户 {args.name} · user {args.name} disabled", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from grid.demo import DemoConfig, build_demo_file

            cfg = DemoConfig(households=args.households, seed=args.seed, streets=args.streets,
                             communities=args.communities, target_per_cell=args.target_per_cell)
            d = build_demo_file(args.db, cfg, force=args.force, progress=_progress)
            print(to_json({"db": args.db, "households": len(d.households), "cells": len(d.cells),
                           "stations": len(d.stations), "patrol_areas": len(d.patrol_areas),
                           "visits": len(d.visits), "needs": len(d.needs),
                           "assistance": len(d.assistance)}))
            return 0
        if args.command == "import":
            return _import(args)
        if args.command == "export":
            return _export(args)
        if args.command == "plan":
            from grid.planning import cli_plan
            from grid.store import open_store

            with open_store(args.db, read_only=args.no_save, create=False) as wstore:
                print(to_json(cli_plan(wstore, args.campaign, args.area, min_per=args.min_per,
                                       max_per=args.max_per, planning_date=args.date, save=not args.no_save)))
            return 0
        if args.command == "user":
            return _user(args)
        if args.command == "roads":
            return _roads(args)
        from grid.store import open_store

        with open_store(args.db, read_only=True) as store:
            if args.command == "coverage":
                from grid.coverage import coverage_report

                doc = coverage_report(store, radius=args.radius, warden_target=args.warden_target,
                                      visit_days=args.visit_days, as_of=args.as_of, distance=args.distance,
                                      max_leg=_max_leg(args))
                print(to_json(doc))
            elif args.command == "assistance":
                from grid.assistance import equity, load_assistance_inputs, measures

                hh, aid = load_assistance_inputs(store, campaign_id=args.campaign)
                eq = equity(hh, aid)
                print(to_json({"by": args.by, "campaign": args.campaign, "gini_per_vulnerable": eq["gini"],
                               "units": measures(hh, aid, args.by).to_dict(orient="records")}))
            elif args.command == "hotspots":
                from grid.assistance import MEASURE_COLUMNS, load_assistance_inputs, measures
                from grid.coverage import load_cells
                from grid.hotspots import CLASSES, gi_star, weights

                if args.measure not in MEASURE_COLUMNS:
                    raise WarmGridError(f"未知的指标：{args.measure}（可选：{', '.join(MEASURE_COLUMNS)}）",
                                        f"unknown measure: {args.measure} (one of: {', '.join(MEASURE_COLUMNS)})")
                cells = load_cells(store, metric=True)
                hh, aid = load_assistance_inputs(store)
                per = measures(hh, aid, "cell").dropna(subset=["cell_id"]).set_index("cell_id")
                # Cells with no household (or no vulnerable household for per_vulnerable) count as 0.
                values = per[args.measure].reindex(cells["cell_id"]).astype(float).fillna(0.0)
                res = gi_star(values, weights(cells), permutations=args.permutations, seed=args.seed, fdr=args.fdr)
                counts = res["class"].value_counts()
                print(to_json({"measure": args.measure, "seed": args.seed, "permutations": args.permutations,
                               "fdr": args.fdr, "classes": {c: int(counts.get(c, 0)) for c in CLASSES},
                               "cells": res.to_dict(orient="records")}))
            elif args.command == "bulletin":
                from grid.reports import bulletin_data, bulletin_pdf, bulletin_xlsx

                suffix = Path(args.out).suffix.lower()
                if suffix not in (".xlsx", ".pdf"):
                    raise WarmGridError(f"通报只能导出为 .xlsx 或 .pdf：{args.out}",
                                        f"the bulletin is written as .xlsx or .pdf: {args.out}")
                b = bulletin_data(store, args.unit, args.since, args.until, args.campaign)
                missing: list[str] = []
                if suffix == ".xlsx":
                    bulletin_xlsx(b, args.out)
                else:
                    missing = bulletin_pdf(b, args.out)
                if missing:
                    print(f"字体缺少这些字：{''.join(missing)} · the font lacks these characters", file=sys.stderr)
                print(f"已生成 {args.out} · written {args.out}", file=sys.stderr)
            elif args.command == "audit":
                from grid.campaigns import cli_audit

                print(to_json(cli_audit(store, args.campaign, args.area)))
            elif args.command == "gaps":
                _gaps(store, args)
            elif args.command == "nearest":
                _nearest(store, args)
        return 0
    except WarmGridError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0
