"""The demo districts the benchmarks run on, built once into ``bench/out`` and reused."""

from __future__ import annotations

import time
from pathlib import Path

from grid.demo import DemoConfig, build_demo_file
from grid.store import open_store

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ensure_demo"]


def ensure_demo(households: int, seed: int) -> Path:
    """The demo database for ``households`` and ``seed`` in bench/out, built if needed.

    A file is reused while its ``demo_households`` and ``demo_seed`` match and it
    has the demo accounts and streets (files from before those existed are rebuilt).
    """
    path = ROOT / "bench" / "out" / f"demo_{households}.duckdb"
    if path.exists():
        try:
            with open_store(path) as s:
                same = (s.meta("demo_households") == str(households) and s.meta("demo_seed") == str(seed)
                        and s.scalar("SELECT count(*) FROM users WHERE username = 'warden'") == 1
                        and s.scalar("SELECT count(*) FROM roads") > 0)
        except Exception as exc:  # a broken or foreign file in our own scratch folder
            print(f"  {path} unusable ({exc}); rebuilding", flush=True)
            same = False
        if same:
            print(f"  reusing {path.relative_to(ROOT)}", flush=True)
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"  building the demo district with {households:,} households into {path.relative_to(ROOT)} ...",
          flush=True)
    t0 = time.perf_counter()
    build_demo_file(path, DemoConfig(households=households, seed=seed), force=True)
    print(f"  built in {time.perf_counter() - t0:.1f} s", flush=True)
    return path
