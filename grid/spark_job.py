"""The province's coverage on Apache Spark: the product's functions, one street per group.

``python -m grid province coverage --parquet DIR --out OUT`` runs
:func:`run_coverage`:

1. Spark reads ``DIR/households`` (Hive-partitioned by ``street_code``) and
   ``groupBy("street_code").applyInArrow`` hands each street's households to
   :func:`grid.province.household_coverage`, which reads the street's stations
   and roads (its halo) from ``DIR`` itself: ``OUT/household_coverage/``.
2. A second grouped pass turns each street's rows into per-cell and
   per-community tables (:func:`grid.province.unit_coverage`, with
   :func:`grid.coverage.patrol_cover` per cell): ``OUT/cell_coverage/`` and
   ``OUT/community_coverage/``.
3. The global pass (:func:`grid.province.global_pass`) runs on the driver over
   the per-cell table: Gini per station type, Gi* hot spots:
   ``OUT/cell_hotspots/`` and ``OUT/summary.json``.

Everything is written into a fresh folder beside ``OUT`` that replaces ``OUT``
only when the whole job succeeded (:func:`grid.parquet_io.replace_dir`): a rerun
writes the same files, never duplicates, and a failure leaves the previous
result as it was. A street whose partition fails fails the job, and the error
names it. Spark prints its own progress bar; a line per finished street is
printed as each street's marker appears (``OUT/_progress``).

pyspark is imported only here and only when a job runs. The data folder must be
readable at the same path by every executor (a shared or distributed file
system); Python on the executors needs WarmGrid's requirements.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from grid.errors import WarmGridError

__all__ = ["JAVA_PACKAGE", "java_or_error", "spark_session", "run_coverage", "COVERAGE_SCHEMA", "UNIT_SCHEMA"]

#: Debian's Java runtime for Spark.
JAVA_PACKAGE = "openjdk-17-jre-headless"
COVERAGE_SCHEMA = ("hh_id string, station_type string, covered boolean, nearest_station_id string, "
                   "distance_m double, status string, cell_id string, community_code string, vulnerable boolean, "
                   "street_code string")
UNIT_SCHEMA = ("level string, unit_code string, station_type string, households long, vulnerable long, "
               "outside long, vulnerable_outside long, share_outside double, area_m2 double, "
               "patrol_fraction double, street_code string")
_FAILED = "WARMGRID-STREET-FAILED"
#: The household-coverage columns the per-unit pass reads (:func:`grid.province.unit_coverage`).
_UNIT_INPUT = ("hh_id", "cell_id", "community_code", "vulnerable", "covered", "station_type", "street_code")


def _arrow_schema(ddl: str) -> Any:
    """The Arrow schema of a Spark DDL string of ``name type`` pairs (string, boolean, double, long)."""
    import pyarrow as pa

    types = {"string": pa.string(), "boolean": pa.bool_(), "double": pa.float64(), "long": pa.int64()}
    return pa.schema([(name, types[kind]) for name, kind in (f.split(" ") for f in ddl.split(", "))])


def java_or_error() -> str:
    """The ``java`` Spark will run (``JAVA_HOME`` or the PATH), or an error saying what to install."""
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return str(Path(home, "bin", "java"))
    found = shutil.which("java")
    if found:
        return found
    raise WarmGridError(f"运行 Spark 需要 Java 17：请安装 Debian 的 {JAVA_PACKAGE}（apt-get install {JAVA_PACKAGE}）",
                        f"Spark needs Java 17: install Debian's {JAVA_PACKAGE} (apt-get install {JAVA_PACKAGE})")


def spark_session(master: str = "local[2]", *, shuffle_partitions: int = 8, app_name: str = "warmgrid-province",
                  driver_memory: str = "1g") -> Any:
    """A SparkSession for the job (Python workers run this interpreter, WarmGrid on their path)."""
    java_or_error()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    root = str(Path(__file__).resolve().parents[1])
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName(app_name)
            .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
            .config("spark.sql.shuffle.partitions", str(max(1, shuffle_partitions)))
            .config("spark.sql.adaptive.enabled", "false")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "true")
            .config("spark.driver.memory", driver_memory)
            .config("spark.executorEnv.PYTHONPATH", os.environ["PYTHONPATH"])
            .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
            .config("spark.sql.execution.pyarrow.udf.enabled", "true")
            .getOrCreate())


# --------------------------------------------------------------------------- on the executors
def _peak_rss_mb(pid: int | str = "self") -> float:
    """Peak RSS (MB) of a process: ``VmHWM`` (a forked worker's ``ru_maxrss`` would start at its parent's)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _coverage_group(root: str, meta: dict[str, Any], distance: str, radius: float | None, max_leg: float,
                    progress: str, key: Any, table: Any) -> Any:
    """One street: its households in, its coverage rows out (runs in a Python worker)."""
    import pyarrow as pa

    street = str(key[0].as_py())
    started, cpu = time.perf_counter(), time.process_time()
    try:
        from grid.parquet_io import _frame, read_partition
        from grid.province import household_coverage, partition_network

        hh = _frame(table.drop(["street_code"]), geometry=False).sort_values("hh_id", kind="stable")
        hh = hh.reset_index(drop=True)
        st = read_partition(root, "stations", street, geometry=False)
        if not len(st):
            st = st.assign(station_id=[], type=[], x_m=[], y_m=[], radius_m=[])
        net = None
        if distance == "walk":
            roads = read_partition(root, "roads", street)
            if len(roads):
                roads = roads[roads["walkable"].astype(bool).to_numpy()]
            net = partition_network(roads, meta["metric_crs"])
        cov = household_coverage(hh, st, meta["station_types"], halo_m=float(meta["halo_m"]), distance=distance,
                                 network=net, radius=radius, max_leg=max_leg,
                                 straight_exact=bool(meta.get("straight_nearest_exact")))
        cov["street_code"] = street
        out = pa.Table.from_pandas(cov, schema=_arrow_schema(COVERAGE_SCHEMA), preserve_index=False)
        Path(progress, f"{street}.json").write_text(json.dumps({
            "street": street, "households": int(len(hh)), "seconds": time.perf_counter() - started,
            "cpu_s": time.process_time() - cpu,
            "peak_rss_mb": _peak_rss_mb(), "pid": os.getpid()}), encoding="utf-8")
        return out
    except Exception as exc:
        raise RuntimeError(f"{_FAILED}[{street}] {type(exc).__name__}: {exc}") from exc


def _unit_group(root: str, meta: dict[str, Any], key: Any, table: Any) -> Any:
    """One street: its coverage rows in, its per-cell and per-community rows out.

    The rows may be only each household's first row and its rows out of reach
    (:data:`_UNIT_INPUT`): :func:`grid.province.unit_coverage` counts households
    from one row each and gaps from the rows not covered.
    """
    import geopandas as gpd
    import pandas as pd
    import pyarrow as pa

    street = str(key[0].as_py())
    try:
        from grid.coverage import patrol_cover
        from grid.parquet_io import _frame, read_partition
        from grid.province import unit_coverage

        cov = _frame(table, geometry=False)
        types = meta["station_types"]
        cells = unit_coverage(cov, "cell_id", types).assign(level="cell")
        comms = unit_coverage(cov, "community_code", types).assign(level="community")
        cg = read_partition(root, "cells", street)
        crs = meta["metric_crs"]
        if len(cg):
            cells_m = gpd.GeoDataFrame(cg[["cell_id"]], geometry=list(cg["geometry"]), crs="EPSG:4326").to_crs(crs)
            pg = read_partition(root, "patrol_areas", street)
            patrols_m = gpd.GeoDataFrame(pg[["area_id"]] if len(pg) else pd.DataFrame({"area_id": []}),
                                         geometry=list(pg["geometry"]) if len(pg) else [], crs="EPSG:4326").to_crs(crs)
            cover = patrol_cover(cells_m, patrols_m).set_index("cell_id")
            cells["area_m2"] = cells["unit_code"].map(cover["area_m2"]).astype(float)
            cells["patrol_fraction"] = cells["unit_code"].map(cover["fraction"]).astype(float)
        else:
            cells["area_m2"] = cells["patrol_fraction"] = float("nan")
        comms["area_m2"] = comms["patrol_fraction"] = float("nan")
        out = pd.concat([cells, comms], ignore_index=True).assign(street_code=street)
        schema = _arrow_schema(UNIT_SCHEMA)
        return pa.Table.from_pandas(out[schema.names], schema=schema, preserve_index=False)
    except Exception as exc:
        raise RuntimeError(f"{_FAILED}[{street}] {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------- on the driver
def _grouped(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``fn(key, table)`` as a plain two-argument function: pyspark 4.3's ``applyInArrow`` fails on a
    ``functools.partial`` (inferring its type hints raises, then it reads an unset variable)."""

    def apply(key, table):  # type: ignore[no-untyped-def]  # no hints: pyspark then takes key and Table
        return fn(key, table)

    return apply


def _failure(exc: BaseException) -> WarmGridError:
    text = str(exc)
    m = re.search(re.escape(_FAILED) + r"\[([^\]]+)\] ([^\n]*)", text)
    if m:
        return WarmGridError(f"街道 {m.group(1)} 的分区计算失败，作业已停止（未写入任何结果）：{m.group(2)}",
                             f"the partition of street {m.group(1)} failed; the job stopped and wrote nothing: "
                             f"{m.group(2)}")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return WarmGridError(f"Spark 作业失败（未写入任何结果）：{first}", f"the Spark job failed (nothing written): {first}")


class _Progress:
    """Print a line per finished street as its marker file appears."""

    def __init__(self, folder: Path, total: int, say: Callable[[str], None]) -> None:
        self.folder, self.total, self.say = folder, total, say
        self.seen: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="warmgrid-progress", daemon=True)

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.poll()

    def poll(self) -> None:
        for f in sorted(self.folder.glob("*.json")):
            street = f.stem
            if street in self.seen:
                continue
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # still being written
            self.seen[street] = doc
            self.say(f"街道 {street} 完成 {doc['households']:,} 户（{len(self.seen)}/{self.total}）"
                     f" · street {street} done: {doc['households']:,} households ({len(self.seen)}/{self.total}),"
                     f" {doc['seconds']:.1f} s")


def run_coverage(parquet: str | Path, out: str | Path, *, master: str = "local[2]", distance: str = "straight",
                 radius: float | None = None, max_leg: float | None = None, station_type: str = "party_service",
                 permutations: int = 999, seed: int = 0, fdr: float = 0.10, spark: Any = None,
                 say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the province's coverage on Spark; return the summary (also ``OUT/summary.json``).

    ``spark`` is a SparkSession to use (kept open); by default one is made for
    ``master`` and stopped at the end.
    """
    import geopandas as gpd
    import pyarrow.parquet as pq

    from grid import model
    from grid.network import MAX_LEG_M, check_distance
    from grid.parquet_io import read_layer, read_meta, replace_dir
    from grid.province import global_pass

    check_distance(distance)
    if station_type not in model.STATION_TYPES:
        raise WarmGridError(f"未知的站点类型：{station_type}", f"unknown station type: {station_type}")
    root = str(Path(parquet).resolve())
    meta = read_meta(root)
    leg = MAX_LEG_M if max_leg is None else float(max_leg)
    if leg > float(meta["halo_m"]):
        raise WarmGridError(f"--max-leg {leg} 米超过分区缓冲区 {meta['halo_m']} 米", f"--max-leg {leg} m exceeds the "
                            f"partitions' halo of {meta['halo_m']} m")
    say = say or (lambda s: print(s, file=sys.stderr, flush=True))
    streets = list(meta["streets"])
    own = spark is None
    t0 = time.perf_counter()
    if own:
        spark = spark_session(master, shuffle_partitions=min(max(len(streets), 1), 2000))
    else:
        spark.conf.set("spark.sql.shuffle.partitions", str(min(max(len(streets), 1), 2000)))
    timings: dict[str, float] = {}
    try:
        with replace_dir(out) as tmp:
            progress = tmp / "_progress"
            progress.mkdir()
            hh = spark.read.option("basePath", f"{root}/households").parquet(f"{root}/households")
            hh = hh.select("hh_id", "cell_id", "community_code", "x_m", "y_m", "vulnerable", "street_code")
            cov = hh.groupBy("street_code").applyInArrow(
                _grouped(partial(_coverage_group, root, meta, distance, radius, leg, str(progress))), COVERAGE_SCHEMA)
            t1 = time.perf_counter()
            try:
                with _Progress(progress, len(streets), say):
                    cov.write.mode("overwrite").partitionBy("street_code").parquet(str(tmp / "household_coverage"))
                timings["households_s"] = time.perf_counter() - t1
                t1 = time.perf_counter()
                rows = spark.read.parquet(str(tmp / "household_coverage"))
                from pyspark.sql import functions as F

                # What unit_coverage reads: a row per household (its first type's) and every row out of
                # reach, in the columns it uses; the shuffle moves about a third of the rows.
                first = meta["station_types"][0] if meta["station_types"] else ""
                needed = rows.select(*_UNIT_INPUT).where(~F.col("covered") | (F.col("station_type") == first))
                units = needed.groupBy("street_code").applyInArrow(_grouped(partial(_unit_group, root, meta)),
                                                                    UNIT_SCHEMA)
                units.write.mode("overwrite").partitionBy("level", "street_code").parquet(str(tmp / "_units"))
                timings["units_s"] = time.perf_counter() - t1
                totals = rows.groupBy("station_type").agg(
                    F.count("*").alias("households"),
                    F.sum(F.col("covered").cast("long")).alias("covered"),
                    F.sum((~F.col("covered")).cast("long")).alias("outside"),
                    F.sum((~F.col("covered") & F.col("vulnerable")).cast("long")).alias("vulnerable_outside"),
                    F.sum((F.col("status") == "beyond_halo").cast("long")).alias("beyond_halo"),
                    F.sum((F.col("status") == "off_network").cast("long")).alias("off_network"),
                ).toPandas()
            except Exception as exc:
                _settle(spark)
                if isinstance(exc, WarmGridError):
                    raise
                raise _failure(exc) from None
            for level, name in (("cell", "cell_coverage"), ("community", "community_coverage")):
                src = tmp / "_units" / f"level={level}"
                if src.exists():
                    os.replace(src, tmp / name)
            shutil.rmtree(tmp / "_units", ignore_errors=True)
            # The global pass: every cell at once, on the driver.
            t1 = time.perf_counter()
            per_cell = _read_table(tmp / "cell_coverage")
            cells = read_layer(root, "cells")
            cells_m = gpd.GeoDataFrame(cells[["cell_id"]], geometry=list(cells["geometry"]),
                                       crs="EPSG:4326").to_crs(meta["metric_crs"]) if len(cells) else cells
            glob = global_pass(per_cell, cells_m, station_type=station_type, permutations=permutations, seed=seed,
                               fdr=fdr)
            hot = glob["hotspots"].pop("cells", None)
            if hot is not None:
                (tmp / "cell_hotspots").mkdir()
                import pyarrow as pa

                pq.write_table(pa.Table.from_pandas(hot, preserve_index=False),
                               tmp / "cell_hotspots" / "part-0.parquet")
            timings["global_s"] = time.perf_counter() - t1
            finished = {s: d for s, d in _markers(progress).items()}
            shutil.rmtree(progress, ignore_errors=True)
            by_type = []
            for t in meta["station_types"]:
                row = totals[totals["station_type"] == t]
                vals = {c: int(row[c].iloc[0]) if len(row) else 0 for c in
                        ("households", "covered", "outside", "vulnerable_outside", "beyond_halo", "off_network")}
                by_type.append({"type": t, "label": model.STATION_TYPES[t].zh, **vals})
            timings["total_s"] = time.perf_counter() - t0
            final = Path(out).resolve()
            summary = {
                "parquet": root, "out": str(final), "master": master, "distance": distance, "radius": radius,
                "halo_m": meta["halo_m"], "streets": len(streets), "households": meta["households"],
                "station_gaps": by_type, **glob,
                "files": {"household_coverage": str(final / "household_coverage"),
                          "cell_coverage": str(final / "cell_coverage"),
                          "community_coverage": str(final / "community_coverage"),
                          "cell_hotspots": str(final / "cell_hotspots") if hot is not None else None,
                          "summary": str(final / "summary.json")},
                "timings": timings,
                "python_worker_peak_rss_mb": max((d.get("peak_rss_mb", 0.0) for d in finished.values()), default=0.0),
                # CPU seconds the Python workers spent on the streets (first pass): a per-core
                # throughput that a loaded machine does not distort as it distorts wall time.
                "worker_cpu_s": sum(d.get("cpu_s", 0.0) for d in finished.values()),
            }
            (tmp / "summary.json").write_text(_to_json(summary), encoding="utf-8")
        return summary
    finally:
        if own:
            spark.stop()


def _settle(spark: Any, wait_s: float = 20.0) -> None:
    """Cancel what is still running and wait until no stage is active (so nothing writes into the
    staging folder after it is removed)."""
    sc = spark.sparkContext
    sc.cancelAllJobs()
    tracker = sc.statusTracker()
    end = time.monotonic() + wait_s
    while time.monotonic() < end and tracker.getActiveStageIds():
        time.sleep(0.2)


def _to_json(doc: Any) -> str:
    """Strict JSON (NaN as null; numpy numbers as numbers)."""
    import math

    def clean(o: Any) -> Any:
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if hasattr(o, "item") and not isinstance(o, (str, bytes)):
            o = o.item()
        if isinstance(o, float) and not math.isfinite(o):
            return None
        return o

    return json.dumps(clean(doc), ensure_ascii=False, indent=1, allow_nan=False, default=str)


def _markers(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for f in folder.glob("*.json"):
        try:
            out[f.stem] = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return out


def _read_table(folder: Path) -> Any:
    """A Hive-partitioned Parquet folder Spark wrote, as a pandas frame (partition columns as text)."""
    import pyarrow.dataset as ds

    if not folder.exists():
        import pandas as pd

        return pd.DataFrame(columns=["unit_code", "station_type", "households", "share_outside"])
    import pyarrow as pa

    part = ds.partitioning(pa.schema([("street_code", pa.string())]), flavor="hive")
    data = ds.dataset(str(folder), format="parquet", partitioning=part)
    df = data.to_table().to_pandas()
    for c in df.columns:
        if str(df[c].dtype) in ("string", "str") or df[c].dtype == object:
            df[c] = df[c].astype(object)
    return df.sort_values(["unit_code", "station_type"]).reset_index(drop=True)
