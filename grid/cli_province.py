"""The command line of partitioned exports and the province on Spark (part of :mod:`grid.cli`).

Commands
--------
parquet export --db PATH --out DIR [--margin M]
    the database's households, cells, stations, patrol areas and roads as GeoParquet,
    Hive-partitioned by street, each partition with its halo (:mod:`grid.parquet_io`)
province generate --households N --out DIR [--seed S] [--jobs J]
    a synthetic province of many demo districts, straight to that layout (:mod:`grid.province_gen`)
province coverage --parquet DIR --out OUT [--master local[2]|spark://HOST:7077] [--distance straight|walk] --json
    coverage per household, cell and community on Apache Spark, then Gini and Gi* (:mod:`grid.spark_job`)

These commands run in this process only (never through a running app): ``parquet
export`` opens the database itself, the ``province`` commands read and write folders.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from grid import model

if TYPE_CHECKING:
    from grid.cli import CliIO

__all__ = ["add_parsers", "run_parquet", "run_province", "LOCAL"]

#: Command keys (:func:`grid.cli._key`) that never go to a running app.
LOCAL = frozenset({"parquet export", "province generate", "province coverage"})


def add_parsers(sub: Any) -> None:
    """Add ``parquet`` and ``province`` to the command line's subparsers."""
    pq = sub.add_parser("parquet", help="partitioned GeoParquet for a cluster / 分区 GeoParquet 导出")
    pqs = pq.add_subparsers(dest="parquet_command", required=True)
    pe = pqs.add_parser("export", help="export by street with halos / 按街道分区导出（含缓冲区）")
    pe.add_argument("--db", required=True)
    pe.add_argument("--out", required=True, help="the folder to write (replaced whole)")
    pe.add_argument("--margin", type=float, default=500.0,
                    help="metres added to the largest service radius for the halo (default 500)")
    pe.add_argument("--json", action="store_true", help="print what was written as JSON (the default)")

    pr = sub.add_parser("province", help="a province on Apache Spark / 省级数据（Spark）")
    prs = pr.add_subparsers(dest="province_command", required=True)
    pg = prs.add_parser("generate", help="a synthetic province / 生成合成省级数据")
    pg.add_argument("--households", type=int, required=True)
    pg.add_argument("--out", required=True, help="the folder to write (replaced whole)")
    pg.add_argument("--seed", type=int, default=1)
    pg.add_argument("--per-district", type=int, default=250_000, help="households per district (default 250,000)")
    pg.add_argument("--margin", type=float, default=500.0)
    pg.add_argument("--jobs", type=int, default=1, help="districts generated at once, one process each; memory grows "
                                                        "with it (default 1)")
    pc = prs.add_parser("coverage", help="coverage on Spark / 在 Spark 上做覆盖分析")
    pc.add_argument("--parquet", required=True, help="a folder written by parquet export or province generate")
    pc.add_argument("--out", required=True, help="the result folder (replaced whole when the job succeeds)")
    pc.add_argument("--master", default="local[2]", help="local[N] or spark://HOST:7077 (default local[2])")
    pc.add_argument("--distance", choices=["straight", "walk"], default="straight")
    pc.add_argument("--radius", type=float, default=None, help="one radius (m) for every station")
    pc.add_argument("--max-leg", type=float, default=None, help="walk: metres to the road beyond which a household "
                                                              "is off the network (default 300)")
    pc.add_argument("--station-type", default="party_service", choices=list(model.STATION_TYPES),
                    help="the type whose per-cell share out of reach the hot-spot pass tests")
    pc.add_argument("--permutations", type=int, default=999)
    pc.add_argument("--seed", type=int, default=0)
    pc.add_argument("--fdr", type=float, default=0.10)
    pc.add_argument("--json", action="store_true", help="print the summary as JSON (the default)")


def run_parquet(args: argparse.Namespace, io: CliIO) -> int:
    """``parquet export``: needs the right to export whole tables; leaves an audit row."""
    from grid import access, audit
    from grid.cli import to_json
    from grid.parquet_io import export_store

    op = access.operator(io.operator)
    with io.open_store(args.db, create=False) as store:
        for table in ("households", "cells", "stations", "patrol_areas", "roads"):
            access.ensure(op, "export_table", table, log=store)
        doc = export_store(store, args.out, margin_m=args.margin,
                           say=lambda s: print(f"街道 {s} 已写出 · street {s} written", file=io.stderr, flush=True))
        audit.record(store, op, "export", object=f"parquet:{args.out}", row_count=int(doc["households"]))
    print(to_json(doc), file=io.stdout)
    return 0


def run_province(args: argparse.Namespace, io: CliIO) -> int:
    """``province generate`` and ``province coverage``."""
    from grid.cli import to_json

    def say(s: str) -> None:
        print(s, file=io.stderr, flush=True)

    if args.province_command == "generate":
        from grid.province_gen import generate_province

        doc = generate_province(args.out, args.households, seed=args.seed, per_district=args.per_district,
                                margin_m=args.margin, jobs=args.jobs, say=say)
        print(to_json(doc), file=io.stdout)
        return 0
    from grid.spark_job import run_coverage

    doc = run_coverage(args.parquet, args.out, master=args.master, distance=args.distance, radius=args.radius,
                       max_leg=args.max_leg, station_type=args.station_type, permutations=args.permutations,
                       seed=args.seed, fdr=args.fdr, say=say)
    print(to_json(doc), file=io.stdout)
    return 0
