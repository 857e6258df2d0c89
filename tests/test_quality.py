"""The code stays ruff- and mypy-clean, and .ci/run runs the README's test command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy", "grid", "maps", "ui.py", "app.py", "main.py", "views", "bench"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^(pip install .*)$", readme, flags=re.M)
    test_cmd = [c for c in commands if "pytest" in c]
    app_cmd = [c for c in commands if "streamlit run app.py" in c]
    assert len(set(test_cmd)) == 1 and len(set(app_cmd)) == 1, commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd[0] in ci.splitlines()
    assert '"$rc" -eq 5' in ci


def test_grid_never_imports_the_ui() -> None:
    for path in (ROOT / "grid").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(streamlit|folium)", text, flags=re.M), path
    for path in (ROOT / "maps").glob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+streamlit", path.read_text(encoding="utf-8"), flags=re.M), path
