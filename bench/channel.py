"""Benchmark of the command line's channel into a running app (grid.channel), in one run.

What is measured
----------------
1. **A small job, as a user runs it** (median of ``--runs`` subprocesses of
   ``python -m grid user list --db DB``): on a file nobody holds (the command opens it
   itself) against the same file held by this process with its job server running (the
   command goes through the socket). Both include the interpreter's start-up.
2. **The same job in-process** (median of ``--runs`` × 10): opening the file, listing
   the users and closing it, against :func:`grid.cli.main` forwarding to the server
   (connect, check credentials, send, run on the open store, relay the answer).
3. **A large input file through the socket**: ``--mb`` MB sent to a handler that
   only checks the bytes arrived (no import), giving the channel's throughput and this
   process's peak-memory growth (client and server both live here, so a whole copy of
   the file in memory would show).

The district is the small demo (3,000 households), built once into ``bench/out``.

How to run
----------
From the repository root::

    python bench/channel.py
    python bench/channel.py --runs 9 --mb 500
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_HERE = ROOT / "bench"
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from grid import channel  # noqa: E402
from grid.cli import CliIO, main, serve_jobs  # noqa: E402
from grid.demo import DemoConfig, build_demo_file  # noqa: E402
from grid.store import open_store  # noqa: E402


def _vm_hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _subprocess_job(db: Path) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "grid", "user", "list", "--db", str(db)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"user list failed: {r.stderr}")
    return elapsed


def _in_process(db: Path) -> float:
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    status = main(["user", "list", "--db", str(db)], io=CliIO.direct(stdout=out, stderr=err))
    elapsed = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"user list failed: {err.getvalue()}")
    return elapsed


class _Sink:
    """A handler that only checks the file arrived whole (measures the transport alone)."""

    def admit(self, request: channel.Request) -> None:
        return None

    def run(self, job: channel.Job, plan: Any) -> int:
        size = job.inputs["file"][0].stat().st_size
        job.stdout.write(f"{size}\n")
        return 0


def main_bench() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=200)
    args = ap.parse_args()
    base = ROOT / "bench" / "out" / "channel_small.duckdb"
    if not base.exists():
        base.parent.mkdir(parents=True, exist_ok=True)
        build_demo_file(base, DemoConfig(households=3_000, seed=11, streets=3, communities=8, target_per_cell=150))
    work = Path(tempfile.mkdtemp(prefix="wg-bench-"))
    try:
        db = work / "db.duckdb"
        shutil.copyfile(base, db)
        print(f"load average: {os.getloadavg()}")

        direct = [_subprocess_job(db) for _ in range(args.runs)]
        t0 = time.perf_counter()
        for _ in range(args.runs * 10):
            with open_store(db, read_only=True) as s:
                s.query("SELECT * FROM users")
        direct_in = (time.perf_counter() - t0) / (args.runs * 10)

        store = open_store(db)
        try:
            assert serve_jobs(store) is not None
            via = [_subprocess_job(db) for _ in range(args.runs)]
            via_in = statistics.median(_in_process(db) for _ in range(args.runs * 10))
        finally:
            store.close()

        print(f"user list, subprocess (interpreter included): direct {statistics.median(direct) * 1000:.0f} ms, "
              f"through the app {statistics.median(via) * 1000:.0f} ms "
              f"({statistics.median(via) / statistics.median(direct):.2f}x)")
        print(f"user list, in-process: open + query + close {direct_in * 1000:.1f} ms, "
              f"through the channel {via_in * 1000:.1f} ms ({via_in / direct_in:.2f}x)")

        big = work / "big.csv"
        with open(big, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(args.mb):
                f.write(block)
        sock = work / "sink.sock"
        server = channel.Server(sock, _Sink())
        assert server.start()
        try:
            try:  # reset the peak to the current size (Linux: "5" > clear_refs), so growth shows
                Path("/proc/self/clear_refs").write_text("5")
            except OSError:
                pass
            hwm0 = _vm_hwm()
            link = channel.Link(socket.socket(socket.AF_UNIX), sock, 0, 0)
            link.sock.connect(str(sock))
            out, err = io.StringIO(), io.StringIO()
            t0 = time.perf_counter()
            status = channel.submit(link, ["import", "x", str(big)], {"file": [big]}, {}, b"", out, err)
            elapsed = time.perf_counter() - t0
            grew = _vm_hwm() - hwm0
        finally:
            server.stop()
        assert status == 0 and out.getvalue().strip() == str(args.mb << 20), err.getvalue()
        print(f"{args.mb} MB input through the socket: {elapsed:.2f} s ({args.mb / elapsed:.0f} MB/s), "
              f"peak memory grew {grew / 2**20:.1f} MiB")
        print(f"load average: {os.getloadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main_bench()
