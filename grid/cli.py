"""Command line: ``python -m grid COMMAND ...`` for batch work and machine-readable output.

Commands
--------
demo      build the demo district into a new database file
coverage  every coverage measure as one JSON document
gaps      ids of households outside a station type's reach (CSV)

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

    g = sub.add_parser("gaps", help="households outside a station type's reach / 服务盲区住户")
    g.add_argument("--db", required=True)
    g.add_argument("--station-type", required=True, choices=list(model.STATION_TYPES))
    g.add_argument("--radius", type=float, default=None)
    g.add_argument("--csv", action="store_true", help="print CSV (the default and only format)")
    return p


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
        from grid.store import open_store

        with open_store(args.db, read_only=True) as store:
            if args.command == "coverage":
                from grid.coverage import coverage_report

                doc = coverage_report(store, radius=args.radius, warden_target=args.warden_target,
                                      visit_days=args.visit_days, as_of=args.as_of)
                print(to_json(doc))
            elif args.command == "gaps":
                from grid.coverage import load_households, load_stations, station_gaps

                gaps = station_gaps(load_households(store), load_stations(store),
                                    args.station_type, args.radius)
                w = csv.writer(sys.stdout, lineterminator="\n")
                w.writerow(["hh_id"])
                w.writerows([h] for h in gaps["hh_id"])
        return 0
    except WarmGridError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0
