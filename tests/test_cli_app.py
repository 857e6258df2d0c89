"""End to end: the real app (``streamlit run app.py``) holds the database file, and the command line,
run as separate processes on the same ``--db``, still imports, exports, prints the bulletin and adds
users: the jobs run inside the app (grid.channel). A browser session that was open before the jobs
sees the new households without a restart, and the new user signs in. Twenty concurrent ``user add``
jobs leave exactly twenty users. One app start for the whole file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely

from grid import channel
from grid.demo import DEMO_ACCOUNTS
from grid.store import open_store
from tests.browsing import app_server, chromium, copy_db, ensure_chromium, open_session

ROOT = Path(__file__).resolve().parent.parent
OPERATOR = "cli:" + __import__("pwd").getpwuid(os.getuid()).pw_name
HOUSEHOLDS = "住户 Households"


def grid_cli(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grid", *argv], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def _n(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def households_shown(s: Any, timeout: float = 60.0) -> int:
    """The overview's household count, once the card is there."""
    deadline = time.monotonic() + timeout
    while (shown := s.metrics().get(HOUSEHOLDS)) is None and time.monotonic() < deadline:
        s.page.wait_for_timeout(200)
    assert shown is not None, s.text()[:2000]
    return _n(shown)


def test_the_command_line_works_while_the_app_runs(district_file, tmp_path: Path) -> None:
    problem = ensure_chromium()
    if problem:
        pytest.fail(problem)
    db = copy_db(district_file[0], tmp_path / "app.duckdb")
    with open_store(db, read_only=True) as s:
        before = s.count("households")
        on_roll = int(s.scalar("SELECT count(*) FROM households WHERE status = 'active'"))
        cells = s.query("SELECT ST_AsText(geom) AS wkt FROM cells ORDER BY cell_id LIMIT 5")["wkt"]
        unit = str(s.scalar("SELECT code FROM admin_units WHERE level = 'district'"))
    points = [shapely.from_wkt(w).representative_point() for w in cells]
    csv = tmp_path / "昨晚的住户.csv"
    csv.write_text("户编号,户主姓名,地址,人口数,经度,纬度\n" + "".join(
        f"E2E{i},夜归{i},夜路{i}号,2,{p.x:.7f},{p.y:.7f}\n" for i, p in enumerate(points)), encoding="utf-8")
    admin, admin_pw = DEMO_ACCOUNTS["admin"]

    with app_server(db, log=tmp_path / "app.log") as server, chromium() as browser:
        with open_session(browser, server.url) as s:
            s.sign_in(admin, admin_pw)  # the app opened its store, and with it the channel
            s.page.locator("h1", has_text="覆盖总览").first.wait_for(timeout=60_000)
            s.wait_idle()
            assert households_shown(s) == on_roll
            assert channel.socket_path(db).exists()
            via = f"the running app (pid {server.pid}) holds the database"

            r = grid_cli("import", "households", str(csv), "--db", str(db), "--json")
            assert r.returncode == 0, r.stderr
            assert via in r.stderr and json.loads(r.stdout)["inserted"] == 5
            out = tmp_path / "住户.xlsx"
            r = grid_cli("export", "households", "--db", str(db), "--out", str(out))
            assert r.returncode == 0 and via in r.stderr, r.stderr
            exported = pd.read_excel(out, dtype=str)
            assert len(exported) == before + 5 and exported.iloc[:, 0].str.startswith("E2E").sum() == 5
            sheet = tmp_path / "情况通报.xlsx"  # the PDF's own tests are in test_bulletin: here, that it travels
            r = grid_cli("bulletin", "--db", str(db), "--unit", unit, "--from", "2025-11-01", "--to", "2026-02-28",
                         "--campaign", "C2025W", "--out", str(sheet))
            assert r.returncode == 0 and via in r.stderr, r.stderr
            assert pd.read_excel(sheet, sheet_name=0).shape[0] > 0
            r = grid_cli("user", "add", "office-admin", "--role", "admin", "--db", str(db), "--password-stdin",
                         stdin="office-pass-2026\n")
            assert r.returncode == 0 and via in r.stderr, r.stderr

            # Nothing lost: eight jobs at once, while the app serves the open session (test_channel has twenty
            # at once without a browser).
            t0 = time.monotonic()
            procs = [subprocess.Popen([sys.executable, "-m", "grid", "user", "add", f"night{i:02d}", "--role",
                                       "inspector", "--db", str(db), "--password-stdin"], cwd=ROOT, text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                     for i in range(8)]
            results = [p.communicate(f"night-pass-{i:02d}\n", timeout=300) for i, p in enumerate(procs)]
            assert [p.returncode for p in procs] == [0] * 8, [e for _, e in results]
            print(f"8 concurrent user add jobs through the app: {time.monotonic() - t0:.1f} s")
            r = grid_cli("user", "list", "--db", str(db), "--json")
            assert r.returncode == 0, r.stderr
            names = [u["username"] for u in json.loads(r.stdout)]
            assert sorted(n for n in names if n.startswith("night")) == [f"night{i:02d}" for i in range(8)]

            # The session that was open all along shows the new households on its next run.
            s.open_page("数据导入导出 Data", "数据导入导出")
            s.open_page("覆盖总览 Overview", "覆盖总览")
            assert households_shown(s) == on_roll + 5
        # The user added from the command line signs in to the same running app.
        with open_session(browser, server.url) as s:
            s.sign_in("office-admin", "office-pass-2026")
            s.page.locator("h1", has_text="覆盖总览").first.wait_for(timeout=60_000)
            s.wait_idle()
            assert households_shown(s) == on_roll + 5

    assert not channel.socket_path(db).exists()  # the stopped app took its socket away
    # After the app: every job is in the audit log under the OS user who ran it.
    with open_store(db, read_only=True) as s:
        assert s.count("households") == before + 5
        assert s.scalar("SELECT count(*) FROM users WHERE username LIKE 'night%'") == 8
        jobs = s.query("SELECT username, object FROM audit_log WHERE action = 'cli_job'")
        assert len(jobs) == 4 + 8 + 1 and set(jobs["username"]) == {OPERATOR}
        assert jobs["object"].str.endswith("exit 0)").all()
        assert s.scalar("SELECT username FROM imports WHERE file_name = '昨晚的住户.csv'") == OPERATOR
