"""Benchmark of visit planning: 5,000 target households, 200 visitors.

What is measured
----------------
Input: ``--households`` (5,000) points sampled from the households of the
default demo district (``grid.demo``, 50,000 households in clustered
buildings over about 20 km² around Xiamen), in the district's UTM metres; and
``--visitors`` (200) visitors whose start points are the district's stations
(党群服务站, clinics, ...), two visitors per station as offices are shared.
The points are cached in ``bench/out/plan_{N}_{V}_s{seed}.npz``.

Each contender runs in a fresh subprocess, so its peak memory (``VmHWM`` of
``/proc/self/status``, which includes the interpreter, numpy, pandas and
OR-Tools) is its own:

- **product**: :func:`grid.planning.assign` (capacitated clustering by
  min-cost flow, bounds: an even split unless ``--min/--max``), then
  :func:`grid.planning.route` for every visitor;
- **naive**: round-robin assignment by list order (household ``k`` goes to
  visitor ``k mod V``, households in ``hh_id`` order), routed the same way;
- **start** (``--ablation``): the same min-cost flow on the distance from
  each visitor's start only, no clustering rounds (what the clustering adds).

Reported: time of assignment and of routing, peak memory, total walking
distance (sum of the open routes from each start), the ratio of each
total to the product's, and two route-quality checks on the product's
routes: the nearest-neighbour tours' total (routes are never longer), and
``--check`` routes re-solved with OR-Tools for 2 s each (the gap of the
default search limit). Goal (from the issue): the product under 60 s.

How to run
----------
From the repository root::

    python bench/planning.py
    python bench/planning.py --ablation --json bench/out/plan_5000.json
    python bench/planning.py --households 2000 --visitors 80 --min 20 --max 30
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
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

OUT = ROOT / "bench" / "out"


def _vmhwm_mib() -> float:
    """Peak resident memory of this process (VmHWM), MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_points(households: int, visitors: int, seed: int) -> Path:
    """Sample the households and the visitors' starts from the demo district (cached)."""
    path = OUT / f"plan_{households}_{visitors}_s{seed}.npz"
    if path.exists():
        return path
    from grid.crs import to_metric, utm_epsg
    from grid.demo import DemoConfig, generate

    d = generate(DemoConfig(households=max(50_000, households), seed=seed))
    crs = utm_epsg(float(d.households["lon"].mean()), float(d.households["lat"].mean()))
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(d.households), households, replace=False))
    hh = d.households.iloc[pick]
    hx, hy = to_metric(hh["lon"].to_numpy(), hh["lat"].to_numpy(), crs)
    st = d.stations.sort_values(["type", "station_id"], key=lambda s: s != "party_service" if s.name == "type"
                                else s)
    per = 2
    n_st = -(-visitors // per)
    st = st.iloc[np.arange(n_st) % len(st)]
    sx, sy = to_metric(st["lon"].to_numpy(), st["lat"].to_numpy(), crs)
    vx, vy = np.repeat(sx, per)[:visitors], np.repeat(sy, per)[:visitors]
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(path, hh_id=hh["hh_id"].to_numpy(dtype=str), hx=hx, hy=hy, vx=vx, vy=vy)
    return path


def _frames(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    z = np.load(path)
    hh = pd.DataFrame({"hh_id": z["hh_id"].astype(object), "x_m": z["hx"], "y_m": z["hy"]})
    vis = pd.DataFrame({"visitor_id": [f"V{i:04d}" for i in range(len(z["vx"]))], "x_m": z["vx"], "y_m": z["vy"]})
    return hh, vis


def _route_all(hh: pd.DataFrame, vis: pd.DataFrame, assignment: pd.DataFrame
               ) -> tuple[list[float], list[float], list[tuple[np.ndarray, np.ndarray]]]:
    from grid.planning import nearest_neighbour_route, route, route_length

    xy = hh.set_index("hh_id")[["x_m", "y_m"]]
    groups = assignment.groupby("visitor_id")["hh_id"].apply(list).to_dict()
    totals, nn_totals, cases = [], [], []
    for vid, sx, sy in zip(vis["visitor_id"], vis["x_m"], vis["y_m"], strict=True):
        ids = groups.get(vid, [])
        pts = xy.loc[ids].to_numpy(dtype=float) if ids else np.zeros((0, 2))
        start = np.array([sx, sy], dtype=float)
        _, _, total = route(start, pts)
        totals.append(total)
        nn_totals.append(route_length(start, pts, nearest_neighbour_route(start, pts)) if len(pts) else 0.0)
        cases.append((start, pts))
    return totals, nn_totals, cases


def worker(path: Path, method: str, min_per: int | None, max_per: int | None, check: int) -> dict[str, Any]:
    """One contender, timed, in this (fresh) process."""
    from grid.planning import assign, plan_bounds, route

    hh, vis = _frames(path)
    lo, hi = plan_bounds(len(hh), len(vis), min_per, max_per)
    t0 = time.perf_counter()
    if method == "product":
        a = assign(hh, vis, lo, hi)
    elif method == "start":
        a = _start_only(hh, vis, lo, hi)
    elif method == "naive":
        order = hh.sort_values("hh_id", kind="stable")
        a = pd.DataFrame({"hh_id": order["hh_id"].to_numpy(),
                          "visitor_id": vis["visitor_id"].to_numpy()[np.arange(len(order)) % len(vis)]})
    else:
        raise SystemExit(f"unknown method {method}")
    t1 = time.perf_counter()
    totals, nn_totals, cases = _route_all(hh, vis, a)
    t2 = time.perf_counter()
    counts = a.groupby("visitor_id").size().reindex(vis["visitor_id"], fill_value=0)
    once = bool(a["hh_id"].is_unique and set(a["hh_id"]) == set(hh["hh_id"]))
    out: dict[str, Any] = {
        "method": method, "households": len(hh), "visitors": len(vis), "min_per": lo, "max_per": hi,
        "assign_s": t1 - t0, "route_s": t2 - t1, "total_s": t2 - t0, "peak_mib": _vmhwm_mib(),
        "total_km": sum(totals) / 1000.0, "nn_total_km": sum(nn_totals) / 1000.0,
        "route_km_mean": float(np.mean(totals)) / 1000.0, "route_km_max": float(np.max(totals)) / 1000.0,
        "per_visitor_min": int(counts.min()), "per_visitor_max": int(counts.max()),
        "assigned_once": once, "nn_wins": int(sum(t > n + 1e-6 for t, n in zip(totals, nn_totals, strict=True))),
    }
    if check:
        # Re-solve the longest-list routes with a long OR-Tools search: the gap of the default limit.
        sizes = np.array([len(c[1]) for c in cases])
        picks = np.argsort(-sizes, kind="stable")[:check]
        base = sum(totals[i] for i in picks)
        long = sum(route(cases[i][0], cases[i][1], time_limit_s=2.0, exact_max=0)[2] for i in picks)
        out["check_routes"] = len(picks)
        out["check_default_km"] = base / 1000.0
        out["check_2s_km"] = long / 1000.0
    return out


def _start_only(hh: pd.DataFrame, vis: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    """Ablation: the capacitated min-cost flow on the distance from each start only."""
    from grid import planning

    hxy = hh[["x_m", "y_m"]].to_numpy(dtype=float)
    sxy = vis[["x_m", "y_m"]].to_numpy(dtype=float)
    v = len(vis)
    got = planning._solve_capacitated(hxy, sxy, sxy, np.full(v, lo, dtype=np.int64),
                                      np.full(v, hi, dtype=np.int64))
    return pd.DataFrame({"hh_id": hh["hh_id"].to_numpy(), "visitor_id": vis["visitor_id"].to_numpy()[got]})


def _run(path: Path, method: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(path), "--method", method,
           "--check", str(args.check if method == "product" else 0)]
    if args.min is not None:
        cmd += ["--min", str(args.min)]
    if args.max is not None:
        cmd += ["--max", str(args.max)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
        raise SystemExit(f"{method} failed")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--households", type=int, default=5_000)
    ap.add_argument("--visitors", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--min", type=int, default=None)
    ap.add_argument("--max", type=int, default=None)
    ap.add_argument("--check", type=int, default=10, help="routes re-solved for 2 s each (0: none)")
    ap.add_argument("--ablation", action="store_true", help="also the start-distance-only flow")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--method", default="product", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(Path(args.worker), args.method, args.min, args.max, args.check)))
        return 0

    t = time.perf_counter()
    path = make_points(args.households, args.visitors, args.seed)
    prep = time.perf_counter() - t
    z = np.load(path)
    from scipy.spatial import ConvexHull

    hull_km2 = ConvexHull(np.column_stack([z["hx"], z["hy"]])).volume / 1e6
    methods = ["product", "naive"] + (["start"] if args.ablation else [])
    results = {m: _run(path, m, args) for m in methods}
    prod = results["product"]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"visit planning: {args.households:,} households over {hull_km2:.1f} km² (convex hull), "
          f"{args.visitors} visitors at {len(np.unique(np.column_stack([z['vx'], z['vy']]), axis=0))} start points; "
          f"{prod['min_per']}..{prod['max_per']} households each")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {load[0]:.2f}; points {'cached' if prep < 1 else f'generated in {prep:.1f} s'}")
    head = f"{'method':<34}{'assign s':>9}{'route s':>9}{'total s':>9}{'peak MiB':>10}{'walk km':>10}{'ratio':>8}"
    print(head)
    print("-" * len(head))
    names = {"product": "product (capacitated clustering)", "naive": "naive round-robin by list order",
             "start": "flow on start distance only"}
    for m, r in results.items():
        print(f"{names[m]:<34}{r['assign_s']:>9.2f}{r['route_s']:>9.2f}{r['total_s']:>9.2f}{r['peak_mib']:>10.0f}"
              f"{r['total_km']:>10.1f}{r['total_km'] / prod['total_km']:>7.2f}x")
    print(f"product: every household assigned once: {prod['assigned_once']}; households per visitor "
          f"{prod['per_visitor_min']}..{prod['per_visitor_max']}; route mean {prod['route_km_mean']:.2f} km, "
          f"max {prod['route_km_max']:.2f} km")
    print(f"routes vs nearest-neighbour tours: {prod['total_km']:.1f} km vs {prod['nn_total_km']:.1f} km "
          f"({(1 - prod['total_km'] / prod['nn_total_km']) * 100:.1f} % shorter; NN longer or equal on all "
          f"{args.visitors}: {prod['nn_wins'] == 0})")
    if "check_routes" in prod:
        gap = (prod["check_default_km"] / prod["check_2s_km"] - 1) * 100
        print(f"default search vs 2 s OR-Tools on the {prod['check_routes']} largest routes: "
              f"{prod['check_default_km']:.2f} km vs {prod['check_2s_km']:.2f} km (gap {gap:+.2f} %)")
    goal = prod["total_s"] < 60
    print(f"goal (< 60 s): {'met' if goal else 'MISSED'} ({prod['total_s']:.1f} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        doc = {"households": args.households, "visitors": args.visitors, "seed": args.seed, "hull_km2": hull_km2,
               "load": load[0], "results": results}
        Path(args.json).write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
