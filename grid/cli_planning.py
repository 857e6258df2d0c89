"""The command line of planning the service network (part of :mod:`grid.cli`).

Commands
--------
site
    new-station siting: ``--add K`` stations of a type (MCLP, or capacitated with
    ``--capacity``), or ``--cover-all`` (LSCP: the fewest to reach every vulnerable household);
    JSON with ``covered_before``, ``covered_after`` and ``proposals``
access2sfca
    E2SFCA per cell for a station type (5/10/15-minute bands), scarcest first, JSON
regrid
    a proposal of new cells for a community (``--min``/``--max`` households), written as a
    cell file (``--out``, GeoJSON or any format cells are imported from) and printed as JSON

The actor of every command is the command line's operator (:func:`grid.access.operator`);
each asks ``plan_network``. None writes to the database.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from grid import model

if TYPE_CHECKING:
    from grid.cli import CliIO

__all__ = ["add_parsers", "run_planning"]


def add_parsers(sub: Any) -> None:
    """Add ``site``, ``access2sfca`` and ``regrid`` to the command line's subparsers."""
    s = sub.add_parser("site", help="where new stations would cover most need / 新站点选址（MCLP/LSCP）")
    s.add_argument("--db", required=True)
    s.add_argument("--station-type", required=True, choices=list(model.STATION_TYPES))
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--add", type=int, dest="k", help="how many new stations (MCLP)")
    g.add_argument("--cover-all", action="store_true", help="the fewest stations to reach every vulnerable household")
    s.add_argument("--radius", type=float, default=None, help="service radius (m; default the type's)")
    s.add_argument("--distance", choices=["walk", "straight"], default=None,
                   help="default: walking where the district has streets")
    s.add_argument("--weight", choices=["vulnerable", "households", "mixed"], default="vulnerable")
    s.add_argument("--candidates", default=None, metavar="FILE",
                   help="a file of candidate sites (candidate_id + coordinates)")
    s.add_argument("--crs", default="wgs84", help="the candidates file's coordinates (wgs84, gcj02, bd09, EPSG:...)")
    s.add_argument("--generate", choices=["buildings", "lattice"], default="buildings",
                   help="without --candidates: buildings with households, or a lattice clipped to the area")
    s.add_argument("--limit", type=int, default=2000, help="most generated candidates")
    s.add_argument("--capacity", type=float, default=None, help="capacitated variant: households per new station")
    s.add_argument("--curve", action="store_true", help="also solve for 1..K stations (one exact solve each)")
    s.add_argument("--solver", choices=["SCIP", "CBC", "HIGHS"], default="SCIP")
    s.add_argument("--time-limit", type=float, default=120.0, help="seconds per solve")
    s.add_argument("--max-leg", type=float, default=None, help="walking: most metres from a walkable road")
    s.add_argument("--json", action="store_true", help="print JSON (the default and only format)")

    a = sub.add_parser("access2sfca", help="E2SFCA accessibility per cell / 服务可及性（E2SFCA）")
    a.add_argument("--db", required=True)
    a.add_argument("--station-type", required=True, choices=list(model.STATION_TYPES))
    a.add_argument("--distance", choices=["walk", "straight"], default=None)
    a.add_argument("--supply", choices=["capacity", "count"], default="capacity")
    a.add_argument("--json", action="store_true", help="print JSON (the default and only format)")

    r = sub.add_parser("regrid", help="propose new cells for a community / 网格重划方案")
    r.add_argument("--db", required=True)
    r.add_argument("--community", required=True, help="the community's 12-digit code")
    r.add_argument("--min", type=int, default=300, dest="min_hh", help="fewest households per cell")
    r.add_argument("--max", type=int, default=500, dest="max_hh", help="most households per cell")
    r.add_argument("--redraw-all", action="store_true", help="redraw cells already within bounds too")
    r.add_argument("--out", required=True, help="the proposal as a cell file (.geojson, .gpkg, .shp ...)")
    r.add_argument("--json", action="store_true", help="print JSON (the default and only format)")


def run_planning(args: argparse.Namespace, io: CliIO) -> int:
    """Run ``site``, ``access2sfca`` or ``regrid``."""
    from grid import access, network_plan
    from grid.cli import to_json
    from grid.network import MAX_LEG_M

    op = access.operator(io.operator)
    with io.open_store(args.db, read_only=True, create=False) as store:
        doc: dict[str, Any]
        if args.command == "site":
            leg = MAX_LEG_M if args.max_leg is None else float(args.max_leg)
            if args.cover_all:
                doc = network_plan.cli_lscp(store, op, args.station_type, radius=args.radius, distance=args.distance,
                                            candidates=args.candidates, generate=args.generate, crs=args.crs,
                                            limit=args.limit, solver=args.solver, time_limit=args.time_limit,
                                            max_leg=leg)
            else:
                doc = network_plan.cli_site(store, op, args.station_type, args.k, radius=args.radius,
                                            distance=args.distance, weight=args.weight, candidates=args.candidates,
                                            generate=args.generate, crs=args.crs, limit=args.limit,
                                            capacity=args.capacity, solver=args.solver, time_limit=args.time_limit,
                                            curve=args.curve, max_leg=leg)
                for p in doc["proposals"]:
                    print(p["sentence"], file=io.stderr)
        elif args.command == "access2sfca":
            doc = network_plan.cli_access(store, op, args.station_type, distance=args.distance, supply=args.supply)
        else:
            doc = network_plan.cli_regrid(store, op, args.community, args.out, min_hh=args.min_hh, max_hh=args.max_hh,
                                          keep_in_bounds=not args.redraw_all)
            print(f"已写出 {args.out}：{doc['after']['cells']} 个网格 · written {args.out}: {doc['after']['cells']} cells",
                  file=io.stderr)
    print(to_json(doc), file=io.stdout)
    return 0
