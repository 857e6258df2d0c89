"""The code stays ruff- and mypy-clean, and .ci/run runs the README's test command."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy", "grid", "maps", "ui.py", "ui_map.py", "ui_needs.py", "ui_warden.py", "ui_campaigns.py", "ui_charts.py", "app.py", "main.py", "views", "bench"],
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


#: Streamlit calls whose text is Markdown (messages, titles, labels, help texts).
_MARKDOWN_SINKS = {"markdown", "caption", "success", "info", "warning", "error", "write", "title", "header",
                   "subheader", "toast", "metric", "expander", "tabs", "button", "download_button", "selectbox",
                   "radio", "checkbox", "toggle", "text_input", "number_input", "date_input", "multiselect", "slider",
                   "text_area", "form_submit_button", "time_input", "file_uploader", "popover", "link_button"}
#: Names of the pages' own values (labels of our vocabularies, settings, counts) an f-string may show.
_OUR_NAMES = {"label", "m_label", "measure", "level", "visit_days", "what", "file_name", "k", "n", "button_label", "reach"}


def _our_value(node: ast.FormattedValue) -> bool:
    v = node.value
    if node.format_spec is not None:  # a number formatted for display
        return True
    if isinstance(v, ast.Name) and (v.id in _OUR_NAMES or v.id.isupper()):
        return True
    if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "label":
        return True  # model.label: our vocabulary
    if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "len":
        return True
    while isinstance(v, ast.Subscript):  # LEVELS[x], DISTANCES[d][0]: a module constant's entry
        v = v.value
    return isinstance(v, ast.Name) and v.id.isupper()


def test_views_put_data_into_markdown_only_escaped() -> None:
    """User text never reaches Markdown raw: in a Markdown sink an f-string shows only our own values;
    anything else goes through ui.md or ui.esc (which escape every ASCII punctuation character)."""
    bad = []
    for path in [*(ROOT / "views").glob("*.py"), ROOT / "main.py", ROOT / "ui_needs.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in _MARKDOWN_SINKS):
                continue
            if isinstance(node.func.value, ast.Name) and node.func.value.id == "ui":
                continue  # ui.error & co. escape what they show
            args = list(node.args[:1]) + [k.value for k in node.keywords if k.arg in ("label", "body", "help")]
            for a in args:
                if isinstance(a, ast.JoinedStr):
                    bad += [f"{path.name}:{node.lineno}: {ast.unparse(v)}" for v in a.values
                            if isinstance(v, ast.FormattedValue) and not _our_value(v)]
                elif isinstance(a, ast.Name) and (a.id in _OUR_NAMES or a.id.isupper()):
                    continue  # our own value, or a module constant
                elif isinstance(a, (ast.BinOp, ast.Name, ast.Subscript, ast.Attribute)):
                    bad.append(f"{path.name}:{node.lineno}: {ast.unparse(a)}")
    assert bad == [], bad


def test_views_only_compose() -> None:
    """No SQL and no writes in views/: reading and writing is the library's (grid/)."""
    pattern = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\s|\.(query|scalar|execute|transaction|cursor)\(|"
                         r"audit\.record\(")
    bad = [f"{p.name}:{i}: {line.strip()}" for p in [*(ROOT / "views").glob("*.py"), ROOT / "ui_needs.py"]
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1) if pattern.search(line)]
    assert bad == [], bad
