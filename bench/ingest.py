"""Benchmark of a household import: a 1,000,000-row CSV, end to end, with time and peak memory.

Goal (from issue 18): under 30 s and under 3 GB (taken as 3e9 bytes) on a 2-core machine.

What is measured
----------------
1. **The district.** A demo district (``grid.demo``, 50,000 households at 20 per
   cell, seed 7) gives the admin units, stations, people and **2,501 cells** -- as
   many cells as the 1,000,000-household reference district of
   ``bench/coverage.py`` -- after which its households and the records hanging on
   them (visits, needs, assistance, pairings, history) are deleted. It is built
   once into ``bench/out/ingest_base.duckdb`` and copied for every run, so every
   import goes into an empty ``households`` table.
2. **The file.** ``--rows`` synthetic households (seeded, deterministic), written
   as a **GB18030** CSV with the Chinese headers 户编号,户主姓名,身份证号,联系电话,
   地址,人口数,类别,经度,纬度: points drawn uniformly inside a randomly chosen cell
   (rejection sampling with shapely), valid GB 11643 ID numbers (check digit
   computed), mobile numbers, 7.6 % of households with one or two hardship
   categories written as Chinese labels. Kept in ``bench/out/`` and reused while
   its parameters match.
3. **Phases, in this process**, on a fresh copy of the district: ``read``
   (:func:`grid.ingest.read_source`: bytes, encoding detection, pandas CSV),
   ``map`` (:func:`~grid.ingest.auto_mapping`), ``validate``
   (:func:`~grid.ingest.validate` with the store) and ``write``
   (:func:`~grid.ingest.write`, including ``Store.refresh_derived``). Sub-phases of
   validate and write are timed from the progress callback's messages (each row is
   the time from that message to the next one).
4. **End to end in a fresh subprocess**, on another fresh copy: open the store and
   run :func:`grid.ingest.import_file` -- what ``python -m grid import households
   FILE --db DB`` does, minus its second read of the file for printing the mapping
   -- with the wall time and the process's peak RSS (``VmHWM`` from
   ``/proc/self/status``). Unless ``--no-cli``, the real CLI is timed too (wall
   time of the subprocess, interpreter start-up included).
5. ``--profile``: cProfile of validate + write in this process (slower than the
   timed run; shares matter, not seconds), the top functions printed and the
   stats saved to ``bench/out/ingest_{rows}.prof``.

Every run checks that every row was inserted and counts the households that
landed in no cell. Missing a goal is reported, not an error (exit status 0);
a failed import exits 1.

How to run
----------
From the repository root::

    python bench/ingest.py                          # 1,000,000 rows
    python bench/ingest.py --rows 100000 --json bench/out/ingest_100k.json
    python bench/ingest.py --rows 1000000 --profile --no-cli
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_HERE = ROOT / "bench"
# Run as a script, Python puts bench/ first on the path; put the repo root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import cProfile  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

from bench.memory import peak_rss_bytes  # noqa: E402
from grid import model  # noqa: E402
from grid.access import operator  # noqa: E402
from grid.demo import DemoConfig, build_demo_file  # noqa: E402
from grid.store import open_store  # noqa: E402

OUT = ROOT / "bench" / "out"
#: The district: as many cells (2,501) as the 1,000,000-household reference district.
BASE_CONFIG = DemoConfig(households=50_000, target_per_cell=20, seed=7)
BASE_TAG = f"ingest-base v1 {BASE_CONFIG}"
#: Tables emptied in the base district (households and what hangs on them).
EMPTIED = ("households", "visits", "needs", "assistance", "pairings", "household_history", "imports", "members",
           "need_events", "need_photos", "applications", "application_events", "application_objections")
HEADERS = ["户编号", "户主姓名", "身份证号", "联系电话", "地址", "人口数", "类别", "经度", "纬度"]
#: Share of households with a hardship category (as in the demo district).
VULNERABLE_SHARE = 0.076
GOAL_SECONDS = 30.0
GOAL_MEMORY = 3_000_000_000
FILE_VERSION = 2  # bump when the generator changes (2: ID numbers unique)

_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程苏魏吕丁")
_GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国玉志海燕婷雪琳晨宇浩然子涵欣怡思博文")
_ROADS = ["中山路", "思明南路", "思明北路", "厦禾路", "湖滨南路", "湖滨北路", "莲前西路", "莲花路", "嘉禾路",
          "禾祥西路", "鹭江道", "演武路", "大学路", "文屏路", "仙岳路"]
_MOBILE = ["130", "131", "133", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "177",
           "180", "186", "187", "188", "189", "199"]


# --------------------------------------------------------------------------- helpers
def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _say(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- the district
def ensure_base() -> Path:
    """The empty-households district in ``bench/out/ingest_base.duckdb`` (built once)."""
    path = OUT / "ingest_base.duckdb"
    if path.exists():
        try:
            with open_store(path, read_only=True) as s:
                ready = s.meta("bench_ingest_base") == BASE_TAG
                left = [t for t in EMPTIED if s.count(t)] if ready else []
            if ready and left:  # a base made before these tables were emptied (members hold ID numbers)
                with open_store(path) as s:
                    with s.transaction() as cur:
                        for table in left:
                            cur.execute(f"DELETE FROM {table}")
                    s.cursor().execute("CHECKPOINT")
            if ready:
                return path
        except Exception as exc:  # noqa: BLE001 - rebuild whatever is wrong with it
            _say(f"  rebuilding {path.name}: {exc}")
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    build_demo_file(path, BASE_CONFIG, force=True)
    with open_store(path) as s:
        with s.transaction() as cur:
            for table in EMPTIED:
                cur.execute(f"DELETE FROM {table}")
        s.set_meta("bench_ingest_base", BASE_TAG)
        s.cursor().execute("CHECKPOINT")
    _say(f"  built {path.name} in {time.perf_counter() - t0:.1f} s")
    return path


def fresh_copy(base: Path, name: str) -> Path:
    dst = OUT / name
    for p in (dst, Path(str(dst) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.copyfile(base, dst)
    return dst


# --------------------------------------------------------------------------- the file
def _id_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """GB 11643 ID numbers: Siming district (350203), born 1930-2008, correct check digit."""
    first, last = np.datetime64("1930-01-01").astype(int), np.datetime64("2008-12-31").astype(int)
    # Distinct (birth date, sequence) pairs: one ID number is one person (the importer refuses repeats).
    k = rng.choice((last - first) * 1000, size=n, replace=False)
    days = first + k // 1000
    births = np.datetime_as_string(days.astype("datetime64[D]"), unit="D")
    births = np.char.replace(births, "-", "")
    seq = np.char.zfill((k % 1000).astype(str), 3)
    body = np.char.add(np.char.add("350203", births), seq)
    digits = np.frombuffer("".join(body.tolist()).encode("ascii"), dtype=np.uint8).reshape(n, 17) - 48
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    check = np.array(list("10X98765432"))[(digits.astype(np.int64) * weights).sum(axis=1) % 11]
    return np.char.add(body, check)


def _points_in(rng: np.random.Generator, cells: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A uniform point inside ``cells[which[i]]`` for every i (vectorised rejection sampling)."""
    shapely.prepare(cells)
    b = shapely.bounds(cells)
    x = np.empty(len(which))
    y = np.empty(len(which))
    todo = np.arange(len(which))
    while len(todo):
        c = which[todo]
        tx = rng.uniform(b[c, 0], b[c, 2])
        ty = rng.uniform(b[c, 1], b[c, 3])
        ok = shapely.contains_xy(cells[c], tx, ty)
        x[todo[ok]], y[todo[ok]] = tx[ok], ty[ok]
        todo = todo[~ok]
    return x, y


def generate(base: Path, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` synthetic households inside the base district's cells (deterministic for a seed)."""
    with open_store(base, read_only=True) as s:
        cells = s.query("SELECT c.cell_id, a.name AS community, ST_AsWKB(c.geom) AS wkb FROM cells c"
                        " JOIN admin_units a ON a.code = c.community_code ORDER BY c.cell_id")
    polys = shapely.from_wkb([bytes(b) for b in cells["wkb"]])
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(cells), rows)
    lon, lat = _points_in(rng, polys, which)
    surnames = np.array(_SURNAMES, dtype=object)
    given = np.array(_GIVEN, dtype=object)
    two = rng.random(rows) < 0.7
    names = surnames[rng.integers(0, len(surnames), rows)] + given[rng.integers(0, len(given), rows)] + np.where(
        two, given[rng.integers(0, len(given), rows)], "")
    phones = np.char.add(np.array(_MOBILE)[rng.integers(0, len(_MOBILE), rows)],
                         np.char.zfill(rng.integers(0, 100_000_000, rows).astype(str), 8))
    community = cells["community"].to_numpy(dtype=object)[which]
    roads = np.array(_ROADS, dtype=object)[rng.integers(0, len(_ROADS), rows)]
    address = (community + roads + rng.integers(1, 400, rows).astype(str).astype(object) + "号"
               + rng.integers(1, 30, rows).astype(str).astype(object) + "栋"
               + rng.integers(101, 3300, rows).astype(str).astype(object) + "室")
    labels = np.array([t.zh for t in model.HARDSHIP.values()], dtype=object)
    cats = np.full(rows, "", dtype=object)
    vuln = np.flatnonzero(rng.random(rows) < VULNERABLE_SHARE)
    first = labels[rng.integers(0, len(labels), len(vuln))]
    second = labels[rng.integers(0, len(labels), len(vuln))]
    both = (rng.random(len(vuln)) < 0.2) & (first != second)
    cats[vuln] = np.where(both, first + "、" + second, first)
    return pd.DataFrame({
        "户编号": np.char.add("H", np.char.zfill(np.arange(1, rows + 1).astype(str), 8)),
        "户主姓名": names,
        "身份证号": _id_numbers(rng, rows),
        "联系电话": phones,
        "地址": address,
        "人口数": np.minimum(1 + rng.poisson(1.6, rows), 8),
        "类别": cats,
        "经度": np.round(lon, 7),
        "纬度": np.round(lat, 7),
    }, columns=HEADERS)


def ensure_file(base: Path, rows: int, seed: int) -> Path:
    """The GB18030 CSV in ``bench/out/`` (generated once per rows/seed/generator version)."""
    path = OUT / f"households_{rows}_s{seed}.csv"
    side = path.with_suffix(".json")
    params = {"rows": rows, "seed": seed, "version": FILE_VERSION, "base": BASE_TAG}
    if path.exists() and side.exists():
        meta = json.loads(side.read_text(encoding="utf-8"))
        if meta.get("params") == params and meta.get("bytes") == path.stat().st_size:
            return path
    t0 = time.perf_counter()
    frame = generate(base, rows, seed)
    frame.to_csv(path, index=False, encoding="gb18030")
    side.write_text(json.dumps({"params": params, "bytes": path.stat().st_size}), encoding="utf-8")
    _say(f"  generated {path.name} ({path.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t0:.1f} s")
    return path


# --------------------------------------------------------------------------- timing
class Clock:
    """Progress callback recording when each message arrived."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, str]] = []

    def __call__(self, frac: float, msg: str) -> None:
        self.marks.append((time.perf_counter(), msg))

    def spans(self, start: float, end: float) -> list[tuple[str, str, float]]:
        """(message, next message, seconds between them), from ``start`` to ``end``.

        ``validate`` announces some steps when they start (逐行校验, 校验坐标与几何) and
        each field when it is done (校验字段 X), so an interval is named by both ends.
        """
        marks = [(start, "(start)"), *self.marks, (end, "(end)")]
        return [(a, b, tb - ta) for (ta, a), (tb, b) in zip(marks, marks[1:], strict=False)]


def run_phases(base: Path, csv: Path, profile: Path | None = None) -> dict[str, Any]:
    """Read, map, validate and write in this process, each timed; optionally profiled."""
    from grid.ingest import auto_mapping, read_source, validate, write

    db = fresh_copy(base, "ingest_run.duckdb")
    store = open_store(db)
    out: dict[str, Any] = {"db": str(db)}
    prof = cProfile.Profile() if profile else None
    try:
        gc.collect()
        t0 = time.perf_counter()
        src = read_source(csv)
        t1 = time.perf_counter()
        mapping = auto_mapping(src.frame.columns, "households")
        t2 = time.perf_counter()
        v_clock = Clock()
        if prof:
            prof.enable()
        prep = validate(src, "households", store=store, mapping=mapping, mode="insert", progress=v_clock)
        t3 = time.perf_counter()
        if prep.problems:
            raise SystemExit(f"validation found {len(prep.problems)} problems, e.g. {prep.problems[0]}")
        w_clock = Clock()
        rep = write(store, prep, actor=operator("bench"), mode="insert", progress=w_clock)
        t4 = time.perf_counter()
        if prof:
            prof.disable()
        out.update({
            "encoding": src.encoding, "rows": len(src.frame), "mapping": mapping,
            "inserted": rep.inserted, "updated": rep.updated, "notes": len(rep.notes),
            "phases": {"read": t1 - t0, "map": t2 - t1, "validate": t3 - t2, "write": t4 - t3},
            "total": t4 - t0,
            "validate_steps": v_clock.spans(t2, t3), "write_steps": w_clock.spans(t3, t4),
            "households": store.count("households"),
            "outside_cells": int(store.scalar("SELECT count(*) FROM households WHERE cell_id IS NULL")),
            "peak_rss_bytes_this_process": peak_rss_bytes(),
        })
    finally:
        store.close()
    if prof and profile:
        prof.dump_stats(profile)
        out["profile"] = str(profile)
    return out


def run_child(db: str, csv: str) -> dict[str, Any]:
    """In a fresh process: open the store and run import_file; time and peak RSS."""
    from grid.ingest import import_file

    rss0 = peak_rss_bytes()
    t0 = time.perf_counter()
    with open_store(db) as store:
        rep = import_file(store, operator("bench"), "households", csv)
        n = store.count("households")
    t1 = time.perf_counter()
    return {"seconds": t1 - t0, "peak_rss_bytes": peak_rss_bytes(), "peak_rss_before_bytes": rss0,
            "inserted": rep.inserted, "households": n}


def run_subprocess(base: Path, csv: Path) -> dict[str, Any]:
    db = fresh_copy(base, "ingest_child.duckdb")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(db), str(csv)],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"the import subprocess failed:\n{proc.stderr}")
    res: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_seconds_with_startup"] = wall
    return res


def run_cli(base: Path, csv: Path) -> dict[str, Any]:
    db = fresh_copy(base, "ingest_cli.duckdb")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "grid", "import", "households", str(csv), "--db", str(db), "--json"],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"the CLI import failed:\n{proc.stderr[-3000:]}")
    doc = json.loads(proc.stdout)
    return {"wall_seconds": wall, "inserted": doc["inserted"]}


def top_functions(profile: Path, n: int = 25) -> list[dict[str, Any]]:
    """The profile's top functions by own time, with their cumulative time."""
    st = pstats.Stats(str(profile), stream=io.StringIO())
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rel = file.replace(str(ROOT) + os.sep, "")
        rows.append({"function": f"{rel}:{line}({func})", "calls": nc, "own_s": tt, "cum_s": ct})
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    return rows[:n]


def top_cumulative(profile: Path, n: int = 25) -> list[dict[str, Any]]:
    """The profile's functions in grid/ by cumulative time."""
    st = pstats.Stats(str(profile), stream=io.StringIO())
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        if f"{os.sep}grid{os.sep}" in file:
            rel = file.replace(str(ROOT) + os.sep, "")
            rows.append({"function": f"{rel}:{line}({func})", "calls": nc, "own_s": tt, "cum_s": ct})
    rows.sort(key=lambda r: r["cum_s"], reverse=True)
    return rows[:n]


# --------------------------------------------------------------------------- report
def print_report(doc: dict[str, Any]) -> None:
    ph = doc["phases"]
    rows = ph["rows"]
    print(f"\nhousehold import: {rows:,} rows, {doc['file_mib']:,.0f} MiB {ph['encoding']} CSV, "
          f"{doc['district']['cells']:,} cells  (cpus {doc['env']['cpus']}, load {doc['env']['load_before']} -> "
          f"{doc['env']['load_after']})")
    print("\nphases in this process")
    for name, sec in ph["phases"].items():
        print(f"  {name:<10} {sec:8.2f} s  {sec / ph['total']:6.1%}")
        steps = {"validate": ph["validate_steps"], "write": ph["write_steps"]}.get(name, [])
        for a, b, s in steps:
            print(f"      {s:8.2f} s  {a} -> {b}")
    print(f"  {'total':<10} {ph['total']:8.2f} s")
    print(f"  inserted {ph['inserted']:,}; households now {ph['households']:,}; outside every cell "
          f"{ph['outside_cells']:,}; peak RSS of this process {mib(ph['peak_rss_bytes_this_process'])}")
    ch = doc.get("child")
    if ch:
        print("\nend to end in a fresh process (open store + import_file)")
        print(f"  time {ch['seconds']:.2f} s (subprocess wall with interpreter start-up "
              f"{ch['wall_seconds_with_startup']:.2f} s)")
        print(f"  peak RSS {mib(ch['peak_rss_bytes'])} (after imports, before the import: "
              f"{mib(ch['peak_rss_before_bytes'])})")
    cli = doc.get("cli")
    if cli:
        print(f"\npython -m grid import households FILE --db DB --json: {cli['wall_seconds']:.2f} s wall")
    secs = ch["seconds"] if ch else ph["total"]
    print(f"\ngoal < {GOAL_SECONDS:.0f} s: {secs:.1f} s -> {'met' if secs < GOAL_SECONDS else 'MISSED'}")
    if ch:
        mem = ch["peak_rss_bytes"]
        print(f"goal < 3 GB ({mib(GOAL_MEMORY)}): {mib(mem)} -> {'met' if mem < GOAL_MEMORY else 'MISSED'}")
    if doc.get("profile_top"):
        print(f"\nprofile (cProfile, validate + write; {doc['profile']}): top functions by own time")
        for r in doc["profile_top"]:
            print(f"  {r['own_s']:8.2f} s own {r['cum_s']:8.2f} s cum {r['calls']:>10,}  {r['function']}")
        print("\ngrid/ functions by cumulative time")
        for r in doc["profile_grid"]:
            print(f"  {r['cum_s']:8.2f} s cum {r['own_s']:8.2f} s own {r['calls']:>10,}  {r['function']}")


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=1_000_000, help="households in the CSV (default 1,000,000)")
    p.add_argument("--seed", type=int, default=20261115, help="seed of the synthetic file")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--profile", action="store_true", help="cProfile validate + write (a separate, slower run)")
    p.add_argument("--no-cli", action="store_true", help="skip timing the CLI subprocess")
    p.add_argument("--no-memory", action="store_true", help="skip the fresh-process run (time and peak RSS)")
    p.add_argument("--child", nargs=2, metavar=("DB", "CSV"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(run_child(*args.child)))
        return 0
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    _say("preparing the district and the file")
    base = ensure_base()
    csv = ensure_file(base, args.rows, args.seed)
    with open_store(base, read_only=True) as s:
        district = {t: s.count(t) for t in ("admin_units", "cells", "stations", "people")}
    doc: dict[str, Any] = {
        "config": {"rows": args.rows, "seed": args.seed, "base": BASE_TAG, "file": str(csv)},
        "district": district, "file_mib": csv.stat().st_size / 2**20,
        "env": {"python": platform.python_version(), "duckdb": duckdb.__version__, "pandas": pd.__version__,
                "numpy": np.__version__, "shapely": shapely.__version__, "cpus": os.cpu_count(),
                "machine": platform.machine(), "load_before": load_before},
    }
    _say("timing the phases in this process")
    doc["phases"] = run_phases(base, csv)
    failed = doc["phases"]["households"] != args.rows
    if not args.no_memory:
        _say("end to end in a fresh process (time, peak RSS)")
        doc["child"] = run_subprocess(base, csv)
        failed |= doc["child"]["households"] != args.rows
    if not args.no_cli:
        _say("the CLI")
        doc["cli"] = run_cli(base, csv)
        failed |= doc["cli"]["inserted"] != args.rows
    if args.profile:
        _say("profiling validate + write (cProfile)")
        prof = OUT / f"ingest_{args.rows}.prof"
        run_phases(base, csv, profile=prof)
        doc["profile"] = str(prof)
        doc["profile_top"] = top_functions(prof)
        doc["profile_grid"] = top_cumulative(prof)
    doc["env"]["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for name in ("ingest_run.duckdb", "ingest_child.duckdb", "ingest_cli.duckdb"):
        for p in (OUT / name, OUT / (name + ".wal")):
            p.unlink(missing_ok=True)
    print_report(doc)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    if failed:
        print("\nERROR: not every row was imported", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
