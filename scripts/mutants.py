"""Show that the edge and atomicity tests catch the bugs they were written for.

Each mutant is a single-line change to the code. For each, on a scratch copy of
the committed tree (``git archive HEAD``; the working tree is never touched):
apply the change, run the tests meant to catch it (they must now FAIL), and —
where given — the tests that existed before them (to show the gap they close),
then restore the file. The unmutated tree is checked first: every listed test
passes on it.

Usage (from the repository)::

    python scripts/mutants.py            # every mutant
    python scripts/mutants.py M1 M11     # some of them

Prints one line per mutant and exits non-zero if a mutant survives the tests
meant to catch it. Takes a few minutes (each run builds the small test district).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NULL_TX = '__import__("contextlib").nullcontext(store.cursor())'
SPLIT = 'cur.execute("COMMIT"); cur.execute("BEGIN TRANSACTION"); '


@dataclass(frozen=True)
class Mutant:
    key: str
    file: str
    old: str  # must occur exactly once in ``file``
    new: str
    catch: tuple[str, ...]  # pytest arguments of the tests that must fail
    before: tuple[str, ...] = ()  # pytest arguments of the suite as it was, for comparison
    what: str = ""


COVERAGE_OLD = ("tests/test_coverage.py",)
VISITS_OLD = ("tests/test_coverage.py", "tests/test_visits.py")
AID_OLD = ("tests/test_assistance.py", "-k", "not aid_outside and not shares_sum")
ATOMIC = "tests/test_atomicity.py"

MUTANTS: list[Mutant] = [
    # 1. A household exactly at a station's radius.
    Mutant("M1", "grid/coverage.py", "covered |= dist <= r", "covered |= dist < r",
           ("tests/test_coverage_edges.py",), COVERAGE_OLD, "few radii: <= turned into <"),
    Mutant("M2", "grid/coverage.py", "bound = float(np.nextafter(r, np.inf))", "bound = float(r)",
           ("tests/test_coverage_edges.py",), COVERAGE_OLD, "few radii: cKDTree's strict bound (the code before)"),
    Mutant("M3", "grid/coverage.py", "tree.query_ball_point(sxy, r=radii,",
           "tree.query_ball_point(sxy, r=np.nextafter(radii, 0),",
           ("tests/test_coverage_edges.py",), COVERAGE_OLD, "many radii: a strict ball"),
    Mutant("M4", "grid/coverage.py", "(h.y_m - s.y_m) ^ 2 <= s.r ^ 2", "(h.y_m - s.y_m) ^ 2 < s.r ^ 2",
           ("tests/test_coverage_edges.py",), COVERAGE_OLD, "SQL: <= turned into <"),
    Mutant("M5", "grid/coverage.py", "ON h.x_m BETWEEN s.x_m - s.r AND s.x_m + s.r",
           "ON h.x_m > s.x_m - s.r AND h.x_m < s.x_m + s.r",
           ("tests/test_coverage_edges.py",), COVERAGE_OLD, "SQL: a strict bounding box"),
    # 2. A vulnerable household visited exactly N days ago.
    Mutant("M6", "grid/visits.py", "return np.isnan(d) | (d > days)", "return np.isnan(d) | (d >= days)",
           ("tests/test_visit_boundary.py",), VISITS_OLD, "the one overdue rule: > turned into >="),
    Mutant("M7", "grid/coverage.py", 'out = res.loc[overdue(res["days_since"], days)].copy()',
           'out = res.loc[res["last_visit"].isna() | (res["days_since"] >= days)].copy()',
           ("tests/test_visit_boundary.py",), VISITS_OLD, "visit_recency with its own rule, > turned into >="),
    Mutant("M8", "maps/warden.py", 'due = target & overdue(households["days_since"], visit_days)',
           'due = target & (households["days_since"].isna() | (households["days_since"] >= visit_days)).to_numpy()',
           ("tests/test_visit_boundary.py",), ("tests/test_offline_maps.py",), "the warden map with its own rule, >="),
    Mutant("M9", "grid/visits.py", 'out["days_since"] = days_since_visit(out["last_visit"], as_of)',
           'out["days_since"] = (pd.Timestamp(as_of) - out["last_visit"]).dt.days',
           ("tests/test_visit_boundary.py",), VISITS_OLD, "the due list floors to whole days (the code before)"),
    # 3. Aid to a household outside every cell.
    Mutant("M10", "grid/assistance.py",
           'total, vulnerable = float(out["total_yuan"].sum()), float(out["vulnerable"].sum())',
           'total, vulnerable = float(out.loc[out.index.notna(), "total_yuan"].sum()), float(out["vulnerable"].sum())',
           ("tests/test_assistance.py", "-k", "aid_outside or shares_sum"), AID_OLD,
           "the outside row left out of the aid share's denominator"),
    Mutant("M11", "grid/assistance.py",
           'total, vulnerable = float(out["total_yuan"].sum()), float(out["vulnerable"].sum())',
           'total, vulnerable = float(out["total_yuan"].sum()), float(out.loc[out.index.notna(), "vulnerable"].sum())',
           ("tests/test_assistance.py", "-k", "aid_outside or shares_sum"), AID_OLD,
           "the outside row left out of the vulnerable share's denominator"),
    # 4. Atomicity.
    Mutant("M12", "grid/visits.py", "    with store.transaction() as cur:\n        done = _claim(",
           f"    with {NULL_TX} as cur:\n        done = _claim(",
           (ATOMIC, "-k", "log"), ("tests/test_visits.py",), "log_visit without its transaction"),
    Mutant("M13", "grid/planning.py",
           '        audit.record(cur, actor, "create", f"plans:{plan_id}", [plan.area_code], len(items))',
           f'        {SPLIT}audit.record(cur, actor, "create", f"plans:{{plan_id}}", [plan.area_code], len(items))',
           (ATOMIC, "-k", "save"), ("tests/test_planning.py",), "save_plan commits before its audit row"),
    Mutant("M14", "grid/planning.py", "    with store.transaction() as cur:\n        row = _plan_row(store, plan_id)",
           f"    with {NULL_TX} as cur:\n        row = _plan_row(store, plan_id)",
           (ATOMIC, "-k", "move"), ("tests/test_planning.py",), "move_household without its transaction"),
    Mutant("M15", "grid/ingest.py", "    with store.transaction() as cur:\n        cur.register(\"_stage\", stage)",
           f"    with {NULL_TX} as cur:\n        cur.register(\"_stage\", stage)",
           (ATOMIC, "-k", "import"), ("tests/test_ingest.py", "-k", "rolls_everything_back"),
           "the import writes without its transaction"),
    Mutant("M16", "grid/users.py",
           '        audit.record(cur, by, "user_admin", object=f"create_user {username}", scope=list(codes))',
           f'        {SPLIT}audit.record(cur, by, "user_admin", object=f"create_user {{username}}", scope=list(codes))',
           (ATOMIC, "-k", "create"), ("tests/test_users.py",), "create_user commits before its audit row"),
    Mutant("M17", "grid/visits.py", "    with store.transaction() as cur:\n        row = cur.execute(\"SELECT n.raised_at",
           f"    with {NULL_TX} as cur:\n        row = cur.execute(\"SELECT n.raised_at",
           (ATOMIC, "-k", "resolve"), ("tests/test_visits.py",), "resolve_need without its transaction"),
    Mutant("M18", "grid/store.py", '                cur.execute("ROLLBACK")\n',
           '                cur.execute("COMMIT")\n',
           (ATOMIC, "-k", "partial_writes"), ("tests/test_store.py",), "the store commits on error"),
    Mutant("M19", "grid/store.py", '                cur.execute("ROLLBACK")\n',
           '                cur.execute("ROLLBACK"); self.generation += 1\n',
           (ATOMIC, "-k", "partial_writes or meta"), ("tests/test_store.py",),
           "a rolled-back transaction moves the generation"),
    Mutant("M20", "grid/store.py", "        with self.transaction() as cur:\n            if self.meta(\"metric_crs\")",
           "        with __import__(\"contextlib\").nullcontext(self.cursor()) as cur:\n"
           "            if self.meta(\"metric_crs\")",
           (ATOMIC, "-k", "refresh"), ("tests/test_store.py",), "refresh_derived without its transaction"),
    Mutant("M21", "grid/users.py", '            audit.record(cur, user, "login", client=where)\n',
           f'            {SPLIT}audit.record(cur, user, "login", client=where)\n',
           (ATOMIC, "-k", "sign"), ("tests/test_users.py",), "a sign-in commits its update before its audit row"),
    # 5. Issue 11's findings: each fix undone by one line must fail its tests.
    Mutant("M22", "maps/layers.py", "        return str(Markup.escape(value))", "        return value",
           ("tests/test_map_escaping.py",), (), "map text no longer escaped"),
    Mutant("M23", "ui.py", "    return _MD_SPECIAL.sub(", "    return str(value) or _MD_SPECIAL.sub(",
           ("tests/test_app.py", "-k", "never_markdown"), (), "user text no longer Markdown-escaped"),
    Mutant("M24", "grid/sheetsafe.py", "    if isinstance(value, str) and is_dangerous(value):",
           "    if False:", ("tests/test_exports.py", "-k", "audit_csv or visit_sheets or bulletin"), (),
           "formula text written as it is"),
    Mutant("M25", "grid/access.py", '        "view_households": IN_SCOPE,\n        "manage_campaigns"',
           '        "view_households": IN_SCOPE,\n        "view_personal": IN_SCOPE,\n        "manage_campaigns"',
           ("tests/test_access.py", "-k", "cells"), (), "committees see personal data unmasked"),
    Mutant("M26", "grid/access.py", "    out = frame if col is None else actor.scope.restrict(frame, col)",
           "    out = frame", ("tests/test_access.py", "-k", "mask_households"), (),
           "masking keeps rows outside the scope"),
    Mutant("M27", "grid/users.py", "    if row is None or bool(row[6]) or fingerprint(row[5]) != fp:",
           "    if row is None or bool(row[6]):", ("tests/test_users.py", "-k", "session"), (),
           "a changed password keeps its sessions"),
    Mutant("M28", "grid/users.py", "                if failures % ROUND == 0:", "                if False:",
           ("tests/test_users.py", "-k", "blocks_grow"), (), "wrong passwords are never slowed down"),
]


def pytest(cwd: Path, args: tuple[str, ...]) -> tuple[int, float]:
    t0 = time.perf_counter()
    rc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider", *args],
                        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    return rc, time.perf_counter() - t0


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTANTS if not argv or m.key in argv]
    survivors = 0
    with tempfile.TemporaryDirectory(prefix="warmgrid-mutants-") as tmp:
        work = Path(tmp) / "tree"
        work.mkdir()
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
        for args in sorted({a for m in chosen for a in (m.catch, m.before) if a}):
            rc, _ = pytest(work, args)
            if rc != 0:
                print(f"the unmutated tree fails {' '.join(args)} (exit {rc}): fix that first")
                return 2
        for m in chosen:
            path = work / m.file
            text = path.read_text(encoding="utf-8")
            if text.count(m.old) != 1:
                print(f"{m.key}: the line to change is not found exactly once in {m.file} (code changed?)")
                survivors += 1
                continue
            line = text[: text.index(m.old)].count("\n") + 1
            path.write_text(text.replace(m.old, m.new), encoding="utf-8")
            try:
                rc, secs = pytest(work, m.catch)
                caught = rc == 1  # 1: tests failed (not 2-5: collection or usage errors)
                old = ""
                if m.before:
                    brc, _ = pytest(work, m.before)
                    old = "; suite before: " + ("caught" if brc == 1 else "missed" if brc == 0 else f"exit {brc}")
            finally:
                path.write_text(text, encoding="utf-8")
            survivors += not caught
            print(f"{m.key} {m.file}:{line} {m.what}: {'CAUGHT' if caught else f'SURVIVED (exit {rc})'}"
                  f" by {' '.join(m.catch)} ({secs:.0f} s){old}", flush=True)
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
