"""What deploy/ ships agrees with the app: ports, upload limits, the service's user, the nightly backups.

The proxy itself is run in front of the app in tests/test_deploy_browser.py; here the
files are read as an administrator would install them, and the nightly script is run
for real against a small database.
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from grid import backup as bk

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def _unit(name: str) -> configparser.ConfigParser:
    p = configparser.ConfigParser(strict=False, interpolation=None)
    p.optionxform = str  # type: ignore[assignment,method-assign]
    text = (DEPLOY / "systemd" / name).read_text(encoding="utf-8")
    p.read_string(text.replace("\\\n", " "))
    return p


def test_the_proxy_accepts_exactly_the_uploads_the_app_accepts() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    limit_mb = config["server"]["maxUploadSize"]
    nginx = (DEPLOY / "nginx" / "warmgrid.conf").read_text(encoding="utf-8")
    sizes = re.findall(r"^\s*client_max_body_size\s+(\d+)m;", nginx, re.MULTILINE)
    assert sizes == [str(limit_mb)]


def test_the_service_runs_the_app_unprivileged_on_the_proxys_upstream_and_restarts_it() -> None:
    unit = _unit("warmgrid.service")["Service"]
    assert unit["User"] not in ("", "root") and unit["Group"] not in ("", "root")
    assert unit["Restart"] == "on-failure"
    assert unit["NoNewPrivileges"] == "true" and unit["ProtectSystem"] == "strict"
    argv = unit["ExecStart"].split()
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4] == "app.py"
    opts = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert opts["--server.address"] == "127.0.0.1"  # only nginx reaches it
    assert opts["--browser.gatherUsageStats"] == "false" and opts["--server.headless"] == "true"
    nginx = (DEPLOY / "nginx" / "warmgrid.conf").read_text(encoding="utf-8")
    upstream = re.search(r"upstream warmgrid_app \{[^}]*?server ([\d.]+):(\d+);", nginx)
    assert upstream is not None and upstream.groups() == ("127.0.0.1", opts["--server.port"])
    db = next(line.split("=", 2)[2] for line in (DEPLOY / "systemd" / "warmgrid.service").read_text().splitlines()
              if line.startswith("Environment=WARMGRID_DB="))
    assert db.startswith("/var/lib/" + unit["StateDirectory"] + "/")  # the service's own writable folder
    backup = _unit("warmgrid-backup.service")["Service"]
    assert backup["User"] == unit["User"]  # the channel serves only the app's own user
    timer = _unit("warmgrid-backup.timer")["Timer"]
    assert timer["OnCalendar"] and timer["Persistent"] == "true"
    toml = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert toml["browser"]["gatherUsageStats"] is False


def test_streamlit_reads_the_shipped_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit itself, started in the repository (as the unit's WorkingDirectory is), takes the file's
    settings: no file watcher, and no full garbage collection after every rerun of every session (it
    walks the whole server's heap each time)."""
    from streamlit import config

    monkeypatch.chdir(ROOT)
    config.get_config_options(force_reparse=True)
    try:
        assert config.get_option("runner.postScriptGC") is False
        assert config.get_where_defined("runner.postScriptGC") == str(ROOT / ".streamlit" / "config.toml")
        assert config.get_option("server.fileWatcherType") == "none"
        assert config.get_option("browser.gatherUsageStats") is False
    finally:
        config.get_config_options(force_reparse=True)


def test_the_nightly_script_keeps_the_newest_backups_and_removes_stale_parts(
        district_file: tuple[Path, Any], tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    old = ["warmgrid-20261128-023000.wgbackup", "warmgrid-20261129-023000.wgbackup",
           "warmgrid-20261130-023000.wgbackup"]
    for name in old:
        (folder / name).write_bytes(b"an older backup")
    keep_me = folder / "notes.txt"  # not a backup: never touched
    keep_me.write_text("office notes")
    stale = folder / ".warmgrid-backup-abc123.part"  # left by a run killed two days ago
    stale.mkdir()
    (stale / "archive.part").write_bytes(b"half")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    fresh = folder / ".warmgrid-backup-def456.part"  # perhaps a run still going: left alone
    fresh.mkdir()
    env = {**os.environ, "WARMGRID_DB": str(district_file[0]), "WARMGRID_BACKUP_DIR": str(folder),
           "WARMGRID_BACKUP_KEEP": "2", "PYTHON": sys.executable}
    proc = subprocess.run(["sh", str(DEPLOY / "backup-nightly.sh")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in folder.iterdir())
    new = [n for n in names if n.endswith(bk.SUFFIX) and n not in old]
    assert len(new) == 1 and re.fullmatch(r"warmgrid-\d{8}-\d{6}\.wgbackup", new[0])
    assert names == sorted([new[0], old[-1], "notes.txt", fresh.name])
    manifest = bk.read_manifest(folder / new[0])
    assert manifest.tables["households"][0] == 3_000

    bad = subprocess.run(["sh", str(DEPLOY / "backup-nightly.sh")], env={**env, "WARMGRID_BACKUP_KEEP": "0"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "at least 1" in bad.stderr
