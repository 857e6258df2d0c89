"""Benchmark of the province on Spark: export-to-result time, peak memory per executor,
households per second per core, beside the single-machine product; and the
same-numbers check on the 50,000-household demo.

What is measured
----------------
1. **Same numbers** (``--compare-households``, 50,000 by default; 0 skips it): the
   demo district (bench/demo.py) exported with ``parquet export`` and run on
   Spark (``--master``, ``local[2]``) by the straight line and by walking, against
   the product's own functions on the whole district from the database
   (:func:`grid.coverage.station_gaps`, :func:`grid.coverage.nearest_stations`,
   :func:`grid.network.walk_distances`, :func:`grid.coverage.gap_summary`): coverage
   flags and nearest station ids identical, distances within 1e-6 m, per-cell counts
   identical. Mismatches are counted and make the exit status 1.
2. **Province** (``--households``, 10,000,000 by default): ``province generate``
   (time and the generator's peak memory, in a subprocess), then
   ``province coverage`` on Spark (time per pass, the Python workers' peak RSS —
   each worker is one executor slot's Python — and the JVM's peak RSS), and
   households per second per core (households / seconds / cores).
3. **Single machine** on the same data where it fits (``--single-max``, 2,000,000
   households by default): every household and station of the province read from
   the partitions into one process and the same functions run once over all.

How to run::

    nice -n 15 python bench/province.py --households 1000000
    nice -n 15 python bench/province.py --households 10000000 --compare-households 0 --jobs 2
    nice -n 15 python bench/province.py --households 10000000 --compare-households 0 --reuse  # Spark only

The machine is shared: the load average is printed with the results.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_HERE = ROOT / "bench"
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

OUT = ROOT / "bench" / "out"


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _read(folder: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.dataset as ds

    part = ds.partitioning(pa.schema([("street_code", pa.string())]), flavor="hive")
    df = ds.dataset(str(folder), format="parquet", partitioning=part).to_table().to_pandas()
    return df.astype({c: object for c in df.columns if df[c].dtype != bool and df[c].dtype.kind not in "fi"})


def same_numbers(households: int, spark: Any) -> dict[str, Any]:
    """Spark against the product on the demo district: mismatch counts (all must be 0)."""
    from bench.demo import ensure_demo
    from grid.coverage import gap_summary, load_households, load_stations, nearest_stations, station_gaps
    from grid.network import load_network, walk_distances
    from grid.parquet_io import export_store
    from grid.spark_job import run_coverage
    from grid.store import open_store

    db = ensure_demo(households, 7)
    res: dict[str, Any] = {"households": households}
    with open_store(db, read_only=True) as store:
        t0 = time.perf_counter()
        meta = export_store(store, OUT / f"province_demo_{households}")
        res["export_s"] = time.perf_counter() - t0
        halo = meta["halo_m"]
        hh, st = load_households(store), load_stations(store)
        t0 = time.perf_counter()
        gaps = station_gaps(hh, st)
        near = nearest_stations(hh, st).rename(columns={"type": "station_type"})
        res["single_straight_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        net = load_network(store)
        walk = walk_distances(net, hh, st).rename(columns={"type": "station_type"})
        res["single_walk_s"] = time.perf_counter() - t0
        cells_ref = gap_summary(hh, gaps, by="cell_id")
    walk = walk.astype({"station_type": object, "station_id": object, "status": object})
    outside = set(zip(gaps["hh_id"], gaps["type"], strict=True))
    near["covered"] = [(h, t) not in outside for h, t in zip(near["hh_id"], near["station_type"], strict=True)]
    for mode, ref in (("straight", near), ("walk", walk)):
        out = OUT / f"province_demo_{households}_{mode}"
        t0 = time.perf_counter()
        summary = run_coverage(OUT / f"province_demo_{households}", out, spark=spark, distance=mode,
                               permutations=99, say=lambda s: None)
        res[f"spark_{mode}_s"] = time.perf_counter() - t0
        got = _read(out / "household_coverage")
        m = got.merge(ref, on=["hh_id", "station_type"], how="outer", suffixes=("", "_ref"), indicator=True)
        # By the straight line every row is exact; by walking, those reached within the halo.
        exact = ((m["status_ref"] == "reached") & (m["distance_m_ref"] <= halo)) if mode == "walk" else \
            pd.Series(True, index=m.index)
        beyond = ((m["status_ref"] != "off_network") & ~exact) if mode == "walk" else ~exact
        res[mode] = {
            "rows": int(len(m)), "rows_missing": int((m["_merge"] != "both").sum()),
            "covered_mismatch": int((m["covered"] != m["covered_ref"]).sum()),
            "exact_rows": int(exact.sum()), "beyond_halo_rows": int((m["status"] == "beyond_halo").sum()),
            "id_mismatch": int((m.loc[exact, "nearest_station_id"] != m.loc[exact, "station_id"]).sum()),
            "status_mismatch": int((m.loc[exact, "status"] != "reached").sum()
                                   + (m.loc[beyond, "status"] != "beyond_halo").sum()),
            "max_distance_diff_m": float(np.abs(m.loc[exact, "distance_m"] - m.loc[exact, "distance_m_ref"]).max()),
            "outside": [{"type": e["type"], "outside": e["outside"]} for e in summary["station_gaps"]],
        }
        if mode == "straight":
            cells = _read(out / "cell_coverage").rename(columns={"unit_code": "cell_id", "station_type": "type"})
            mm = cells.merge(cells_ref[cells_ref["cell_id"].notna()], on=["cell_id", "type"], how="inner",
                             suffixes=("", "_ref"))
            res["cell_rows_compared"] = int(len(mm))
            res["cell_count_mismatch"] = int(sum((mm[c] != mm[c + "_ref"]).sum() for c in
                                                 ("households", "vulnerable", "outside", "vulnerable_outside")))
    return res


def generate(households: int, per_district: int, folder: Path, jobs: int = 1) -> dict[str, Any]:
    """``province generate`` in a subprocess: its time and peak memory (VmHWM; with ``jobs`` > 1 the
    largest of the district workers', ``peak_mb`` then being the parent's own)."""
    code = ("import json,sys,time; sys.path.insert(0, sys.argv[1]); from grid.province_gen import generate_province;"
            "from bench.memory import peak_rss_bytes; t=time.perf_counter();"
            "m=generate_province(sys.argv[2], int(sys.argv[3]), per_district=int(sys.argv[4]), jobs=int(sys.argv[5]),"
            " say=lambda s: print(s, file=sys.stderr, flush=True));"
            "print(json.dumps({'seconds': time.perf_counter()-t, 'peak_mb': peak_rss_bytes()/2**20,"
            " 'streets': len(m['streets']), 'districts': m['districts'], 'stations': m['stations'],"
            " 'roads': m['roads'], 'jobs': int(sys.argv[5]), 'peak_district_mb': m['peak_district_rss_mb']}))")
    res = subprocess.run([sys.executable, "-c", code, str(ROOT), str(folder), str(households), str(per_district), str(jobs)],
                         stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if res.returncode:
        raise SystemExit(f"province generate failed (exit {res.returncode})")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def single_machine(folder: Path) -> dict[str, Any]:
    """The product once over every household and station of the folder (straight line)."""
    from grid.coverage import nearest_stations, station_gaps
    from grid.parquet_io import read_layer

    t0 = time.perf_counter()
    hh = read_layer(folder, "households", geometry=False).sort_values("hh_id").reset_index(drop=True)
    st = read_layer(folder, "stations", geometry=False).drop_duplicates("station_id").sort_values("station_id")
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    gaps = station_gaps(hh, st)
    nearest_stations(hh, st)
    from bench.memory import peak_rss_bytes

    return {"households": int(len(hh)), "read_s": read_s, "compute_s": time.perf_counter() - t0,
            "outside": {str(k): int(v) for k, v in gaps["type"].value_counts().items()},
            "peak_rss_mb": peak_rss_bytes() / 2**20}  # this process's peak: the bench's own, if it ran before


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=10_000_000)
    ap.add_argument("--per-district", type=int, default=250_000)
    ap.add_argument("--compare-households", type=int, default=50_000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--single-max", type=int, default=2_000_000)
    ap.add_argument("--jobs", type=int, default=1, help="districts generated at once (province generate --jobs)")
    ap.add_argument("--reuse", action="store_true",
                    help="use the province already generated for --households (its generation figures are not given)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args(argv)
    from grid.spark_job import _peak_rss_mb, run_coverage, spark_session

    cores = int(args.master[6:-1]) if args.master.startswith("local[") and args.master[6:-1].isdigit() else 2
    figures: dict[str, Any] = {"master": args.master, "cores": cores, "load_before": _load()}
    OUT.mkdir(parents=True, exist_ok=True)
    spark = spark_session(args.master, shuffle_partitions=64)
    status = 0
    try:
        if args.compare_households:
            print(f"same numbers on the {args.compare_households:,}-household demo ...", flush=True)
            same = same_numbers(args.compare_households, spark)
            figures["same_numbers"] = same
            bad = sum(same[m][k] for m in ("straight", "walk") for k in
                      ("rows_missing", "covered_mismatch", "id_mismatch", "status_mismatch")) + same["cell_count_mismatch"]
            bad += sum(same[m]["max_distance_diff_m"] > 1e-6 for m in ("straight", "walk"))
            print(json.dumps(same, indent=1), flush=True)
            print("SAME NUMBERS" if not bad else f"MISMATCHES: {bad}", flush=True)
            status = 1 if bad else 0
        if args.households:
            folder = OUT / f"province_{args.households}"
            if args.reuse and (folder / "_warmgrid.json").exists():
                from grid.parquet_io import read_meta

                meta = read_meta(folder)
                if meta["households"] != args.households:
                    raise SystemExit(f"{folder} holds {meta['households']:,} households, not {args.households:,}")
                gen = {"reused": True, "seconds": None, "streets": len(meta["streets"]),
                       "districts": meta["districts"], "stations": meta["stations"], "roads": meta["roads"]}
            else:
                print(f"generating a province of {args.households:,} households ...", flush=True)
                gen = generate(args.households, args.per_district, folder, args.jobs)
                gen["load_after"] = _load()
            figures["generate"] = gen
            print(json.dumps(gen), flush=True)
            for mode in ("straight", "walk"):
                t0 = time.perf_counter()
                summary = run_coverage(folder, OUT / f"province_{args.households}_{mode}", spark=spark,
                                       distance=mode, permutations=99)
                total = time.perf_counter() - t0
                figures[f"spark_{mode}"] = {"seconds": total, "timings": summary["timings"],
                                            "python_worker_peak_rss_mb": summary["python_worker_peak_rss_mb"],
                                            "worker_cpu_s": summary.get("worker_cpu_s"),
                                            "households_per_worker_cpu_s":
                                                args.households / summary["worker_cpu_s"]
                                                if summary.get("worker_cpu_s") else None,
                                            "households_per_s_per_core": args.households / total / cores,
                                            "outside": {e["type"]: e["outside"] for e in summary["station_gaps"]},
                                            "load_after": _load()}
                print(json.dumps(figures[f"spark_{mode}"]), flush=True)
            jvm = spark.sparkContext._gateway.proc.pid  # noqa: SLF001 - the driver's JVM
            figures["jvm_peak_rss_mb"] = _peak_rss_mb(jvm)
            if gen["seconds"] is not None:
                figures["export_to_result_s"] = gen["seconds"] + figures["spark_straight"]["seconds"]
            if args.households <= args.single_max:
                one = single_machine(folder)
                figures["single_machine"] = one
                same_outside = one["outside"] == {k: v for k, v in figures["spark_straight"]["outside"].items() if v}
                figures["single_machine"]["same_outside_counts"] = same_outside
                print(json.dumps(one), flush=True)
    finally:
        spark.stop()
    figures["load_after"] = _load()
    print(json.dumps(figures, indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
