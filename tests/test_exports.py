"""Every file the product writes, and every place that exports or shows a household:

- no spreadsheet (.xlsx or .csv) carries a formula, whatever text the database holds
  (a database seeded with formula-like text in every free-text column: ``=HYPERLINK(...)``,
  ``=1+1``, ``+1``, ``-1+2``, ``@SUM(A1)``, a leading tab or carriage return);
- every export path writes exactly one audit row and masks as the access policy says,
  table-driven over the library's paths and, through the app, the code behind each page's
  download buttons.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook

from grid import access, users
from grid.access import Actor, Scope
from grid.campaigns import list_campaigns, plannable_areas
from grid.errors import AccessDenied, WarmGridError
from grid.export import download, export_table
from grid.household_file import household_card
from grid.planning import load_plan, make_plan, save_plan, visit_sheets_bytes
from grid.reports import bulletin_file
from grid.sheetsafe import TRIGGERS, is_dangerous, neutralise, restore
from grid.store import TABLES, Store, open_store
from grid.visits import warden_households
from tests.actors import OP
from tests.apptools import sign_in_demo
from tests.hostile import FORMULA_PAYLOADS, seed

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


# --------------------------------------------------------------------------- checkers
def formula_cells(data: bytes) -> list[str]:
    """The cells of a workbook that a spreadsheet would run: formula cells, and text starting with a trigger."""
    wb = load_workbook(io.BytesIO(data))
    bad = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" or (isinstance(cell.value, str) and is_dangerous(cell.value)):
                    bad.append(f"{ws.title}!{cell.coordinate}={cell.value!r}")
    return bad


def dangerous_fields(data: bytes) -> list[str]:
    """CSV fields that start with ``= + - @``, tab or CR and are not a number."""
    text = data.decode("utf-8-sig")
    return [f for row in csv.reader(io.StringIO(text, newline="")) for f in row
            if f and f.startswith(TRIGGERS) and not _NUMBER.fullmatch(f)]


def guarded(data: bytes, suffix: str) -> int:
    """How many values carry the apostrophe guard (proves the payloads were there)."""
    if suffix == ".csv":
        text = data.decode("utf-8-sig")
        return sum(1 for row in csv.reader(io.StringIO(text, newline="")) for f in row if f.startswith("'") and is_dangerous(f[1:]))
    wb = load_workbook(io.BytesIO(data))
    return sum(1 for ws in wb.worksheets for row in ws.iter_rows() for c in row
               if isinstance(c.value, str) and c.value.startswith("'") and is_dangerous(c.value[1:]))


def assert_safe(data: bytes, suffix: str, where: str) -> None:
    if suffix == ".xlsx":
        assert formula_cells(data) == [], where
    else:
        assert dangerous_fields(data) == [], where


# --------------------------------------------------------------------------- the rule itself
@pytest.mark.parametrize("text", FORMULA_PAYLOADS)
def test_the_issues_payloads_are_neutralised_and_restored(text: str) -> None:
    if _NUMBER.fullmatch(text):
        assert neutralise(text) == text
    else:
        assert neutralise(text) == "'" + text and restore(neutralise(text)) == text


def test_real_numbers_stay_numbers() -> None:
    assert [neutralise(v) for v in (-1, 2.5, "-12.5", "+86", "1e5")] == [-1, 2.5, "-12.5", "+86", "1e5"]


# --------------------------------------------------------------------------- a hostile database
@pytest.fixture(scope="module")
def hostile(district_file, tmp_path_factory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("formulas") / "h.duckdb"
    shutil.copyfile(district_file[0], path)
    s = open_store(path)
    seeded = seed(s, FORMULA_PAYLOADS)
    assert len(seeded) >= 20, seeded
    for p in FORMULA_PAYLOADS:  # an anonymous visitor's sign-in attempt reaches the audit log
        with pytest.raises(WarmGridError):
            users.authenticate(s, p, "wrong password 1")
    yield s
    s.close()


EXPORTED = [t for t in TABLES]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("table", EXPORTED)
def test_no_exported_table_carries_a_formula(hostile: Store, tmp_path: Path, table: str, suffix: str) -> None:
    out = tmp_path / f"{table}{suffix}"
    export_table(hostile, OP, table, out)
    assert_safe(out.read_bytes(), suffix, table)


def test_the_seeded_formulas_were_exported_with_their_guard(hostile: Store, tmp_path: Path) -> None:
    """Not vacuous: the payloads are in the files, neutralised (and they import back unchanged)."""
    n = 0
    for table in ("households", "cells", "people", "visits", "assistance", "audit_log"):
        for suffix in (".csv", ".xlsx"):
            out = tmp_path / f"{table}{suffix}"
            export_table(hostile, OP, table, out)
            n += guarded(out.read_bytes(), suffix)
    assert n > 100


def test_the_bulletin_workbook_carries_no_formula(hostile: Store, tmp_path: Path) -> None:
    unit = str(hostile.scalar("SELECT code FROM admin_units WHERE level = 'district'"))
    campaign = str(list_campaigns(hostile)["campaign_id"].iloc[0])
    out = tmp_path / "通报.xlsx"
    bulletin_file(hostile, OP, unit, date(2025, 11, 1), date(2026, 2, 28), out, campaign)
    data = out.read_bytes()
    assert formula_cells(data) == []
    assert guarded(data, ".xlsx") > 0  # unit, community and campaign names were formula-like
    assert str(load_workbook(io.BytesIO(data)).worksheets[0]["A1"].value).startswith("'")  # the title cell


def test_the_visit_sheets_carry_no_formula(hostile: Store) -> None:
    campaign = str(list_campaigns(hostile)["campaign_id"].iloc[0])
    area = str(plannable_areas(hostile, Scope.everything())["code"].iloc[-1])
    plan = make_plan(hostile, OP, campaign, area, min_per=0, max_per=1000)
    save_plan(hostile, OP, plan)
    data = visit_sheets_bytes(hostile, OP, plan)
    assert formula_cells(data) == [] and guarded(data, ".xlsx") > 0


def test_the_audit_csv_carries_no_formula(hostile: Store) -> None:
    """Finding 11.2: a sign-in attempt under a formula name reached the inspector's audit CSV."""
    from grid import audit

    inspector = Actor("i", "inspector", Scope.everything())
    data = download(hostile, inspector, "audit_log", audit.read(hostile), ".csv")
    assert dangerous_fields(data) == [] and guarded(data, ".csv") >= len(FORMULA_PAYLOADS) - 1


# --------------------------------------------------------------------------- export paths: audit and masking
@dataclass(frozen=True)
class ExportPath:
    """One place that exports or shows households: who asks, what it gives, what the audit log must say."""

    name: str
    role: str
    run: Callable[[Store, Actor, dict[str, Any]], Any]
    action: str | None  # the audit row's action (None: refused)
    shows_names: str  # "full", "masked" or "none": what names the result holds


def _names(result: Any) -> list[str]:
    if isinstance(result, bytes):
        if result[:2] == b"PK":
            wb = load_workbook(io.BytesIO(result))
            return [str(r[2]) for ws in wb.worksheets for r in ws.iter_rows(min_row=4, values_only=True) if r[2]]
        frame = pd.read_csv(io.BytesIO(result), dtype=str)
    elif isinstance(result, dict):
        frame = pd.DataFrame([result["details"]])
    else:
        frame = result
    col = next((c for c in ("head_name", "户主姓名", "户主") if c in frame.columns), None)
    return [] if col is None else [str(v) for v in frame[col].dropna()]


def _ctx(store: Store) -> dict[str, Any]:
    warden = users.get_user(store, "warden")
    committee = users.get_user(store, "committee")
    assert warden is not None and committee is not None
    w_cells = sorted(access.actor_for(store, warden).scope.cells or ())
    own = str(store.scalar("SELECT min(hh_id) FROM households WHERE cell_id = ? AND head_name IS NOT NULL",
                           [w_cells[0]]))
    other = str(store.scalar("SELECT min(hh_id) FROM households WHERE NOT list_contains(?, cell_id)", [w_cells]))
    c_scope = access.actor_for(store, committee).scope
    campaign = str(list_campaigns(store)["campaign_id"].iloc[0])
    area = str(plannable_areas(store, c_scope)["code"].iloc[0])
    plan_id = save_plan(store, OP, make_plan(store, OP, campaign, area, min_per=0, max_per=1000))
    district = str(store.scalar("SELECT code FROM admin_units WHERE level = 'district'"))
    households = store.query("SELECT hh_id, cell_id, head_name, phone FROM households ORDER BY hh_id LIMIT 300")
    return {"own": own, "other": other, "plan": load_plan(store, plan_id), "district": district,
            "households": households}


def _sheet(s: Store, a: Actor, c: dict[str, Any]) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "t.xlsx"
        export_table(s, a, "households", out)
        return pd.read_excel(out, dtype=str)


def _bulletin(s: Store, a: Actor, c: dict[str, Any]) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        bulletin_file(s, a, c["district"], date(2025, 11, 1), date(2026, 2, 28), Path(tmp) / "b.xlsx")
    return pd.DataFrame()


PATHS: list[ExportPath] = [
    ExportPath("a table, by an administrator", "admin", _sheet, "export", "full"),
    ExportPath("a table, by a committee", "committee", _sheet, None, "none"),
    ExportPath("the gap list, by a committee", "committee",
               lambda s, a, c: download(s, a, "gap_list", c["households"][["hh_id", "cell_id"]], ".csv"),
               "export", "none"),
    ExportPath("the gap list, by a warden", "warden",
               lambda s, a, c: download(s, a, "gap_list", c["households"][["hh_id"]], ".csv"), None, "none"),
    ExportPath("the visit sheets, by the committee (in full, for the visitor at the door)", "committee",
               lambda s, a, c: visit_sheets_bytes(s, a, c["plan"]), "export", "full"),
    ExportPath("the visit sheets, by the committee, asked masked", "committee",
               lambda s, a, c: visit_sheets_bytes(s, a, c["plan"], full=False), "export", "masked"),
    ExportPath("the visit sheets, by an administrator", "admin",
               lambda s, a, c: visit_sheets_bytes(s, a, c["plan"]), "export", "full"),
    ExportPath("the visit sheets, by a leader", "leader",
               lambda s, a, c: visit_sheets_bytes(s, a, c["plan"]), None, "none"),
    ExportPath("an own household's card, by its warden", "warden",
               lambda s, a, c: household_card(s, a, c["own"]), "view_household", "full"),
    ExportPath("another cell's household card, by a warden", "warden",
               lambda s, a, c: household_card(s, a, c["other"]), None, "none"),
    ExportPath("a household card, by a committee", "committee",
               lambda s, a, c: household_card(s, a, c["own"]), None, "none"),
    ExportPath("the warden's list", "warden", lambda s, a, c: warden_households(s, a, date(2026, 11, 20)), None,
               "full"),
    ExportPath("the warden's list, as a committee", "committee",
               lambda s, a, c: warden_households(s, a, date(2026, 11, 20)), None, "masked"),
    ExportPath("the warden's list, as a leader", "leader",
               lambda s, a, c: warden_households(s, a, date(2026, 11, 20)), None, "none"),
    ExportPath("coverage by community, by a leader", "leader",
               lambda s, a, c: download(s, a, "coverage_by_community", pd.DataFrame({"n": [1]}), ".csv"),
               "export", "none"),
    ExportPath("the audit log, by an inspector", "inspector",
               lambda s, a, c: download(s, a, "audit_log", pd.DataFrame({"n": [1]}), ".csv"), "export", "none"),
    ExportPath("the audit log, by a committee", "committee",
               lambda s, a, c: download(s, a, "audit_log", pd.DataFrame({"n": [1]}), ".csv"), None, "none"),
    ExportPath("the bulletin, by a leader", "leader", _bulletin, "export", "none"),
    ExportPath("the bulletin, by a warden", "warden", _bulletin, None, "none"),
]


@pytest.fixture()
def demo_db(district_file, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "d.duckdb"
    shutil.copyfile(district_file[0], path)
    s = open_store(path)
    yield s
    s.close()


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_every_export_path_audits_and_masks(demo_db: Store, path: ExportPath) -> None:
    ctx = _ctx(demo_db)
    user = users.get_user(demo_db, path.role)
    assert user is not None
    actor = access.actor_for(demo_db, user)
    before = int(demo_db.scalar("SELECT max(log_id) FROM audit_log"))
    if path.action is None and path.shows_names == "none" and path.name not in ("the warden's list, as a leader",):
        with pytest.raises((AccessDenied, WarmGridError)):
            path.run(demo_db, actor, ctx)
        rows = demo_db.query("SELECT action FROM audit_log WHERE log_id > ?", [before])["action"].tolist()
        assert "export" not in rows and "view_household" not in rows
        return
    result = path.run(demo_db, actor, ctx)
    rows = demo_db.query("SELECT username, action FROM audit_log WHERE log_id > ? ORDER BY log_id", [before])
    if path.action is None:
        assert rows.empty, rows
    else:
        assert rows.values.tolist() == [[path.role, path.action]], rows
    names = _names(result)
    if path.shows_names == "full":
        assert names and not any("*" in n for n in names)
    elif path.shows_names == "masked":
        assert names and all("*" in n for n in names)
    else:
        assert names == []


# --------------------------------------------------------------------------- the code behind the pages' buttons
def _page_downloads(role: str, page: str, downloads: Any, prepare: Callable[[Any], None] | None = None
                    ) -> tuple[list[tuple[str, bytes]], pd.DataFrame]:
    import ui

    at = sign_in_demo(role)
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    if prepare is not None:
        prepare(at)
    store = ui._open(str(ui.db_path()))
    before = int(store.scalar("SELECT max(log_id) FROM audit_log"))
    got = downloads(at)
    rows = store.query("SELECT username, action, object FROM audit_log WHERE log_id > ? ORDER BY log_id", [before])
    return got, rows


# The leader's page: four figures' CSVs and the bulletin as Word, PDF and Excel.
@pytest.mark.parametrize(("role", "page", "n"), [("committee", "overview", 2), ("leader", "overview", 1),
                                                 ("inspector", "overview", 1), ("leader", "leader", 7),
                                                 ("inspector", "audit", 1)])
def test_each_page_download_is_made_when_clicked_and_audited_once(app_db, downloads, role: str, page: str,
                                                                  n: int) -> None:
    got, rows = _page_downloads(role, page, downloads)
    assert len(got) == n
    assert rows["action"].tolist() == ["export"] * n and set(rows["username"]) == {role}
    for label, data in got:
        if ".docx" in label:  # the bulletin's Word draft: a document, no cells to run
            import docx

            assert docx.Document(io.BytesIO(data)).paragraphs, label
        elif data[:4] == b"%PDF":
            assert ".pdf" in label
        elif data[:2] == b"PK":
            assert formula_cells(data) == [], label
        else:
            assert dangerous_fields(data) == [], label
    if page == "overview" and role != "committee":  # counts only: no household list to download
        assert not any("名单" in label for label, _ in got)


def test_the_committees_visit_sheets_download_is_full_and_audited_as_such(app_db, downloads) -> None:
    """Finding 11.8 asked for masked visit sheets; issue 14 §3.6: the visitor at the door needs the full name
    and phone, so the page's sheets print in full, and the audit row says they did (``:full``)."""
    with open_store(app_db) as s:
        committee = users.get_user(s, "committee")
        assert committee is not None
        scope = access.actor_for(s, committee).scope
        campaign = str(list_campaigns(s)["campaign_id"].iloc[0])
        area = str(plannable_areas(s, scope)["code"].iloc[0])
        save_plan(s, OP, make_plan(s, OP, campaign, area, min_per=0, max_per=1000))
    got, rows = _page_downloads("committee", "campaigns", downloads)
    sheets = [data for label, data in got if "走访单" in label]
    assert len(sheets) == 1
    names = _names(sheets[0])
    assert names and not any("*" in n for n in names)
    # the page's other downloads are the bulletin's three files (its 情况通报 tab), each audited once
    bulletin = rows["object"].str.startswith("bulletin:")
    assert sorted(o.rsplit(".", 1)[1] for o in rows.loc[bulletin, "object"]) == ["docx", "pdf", "xlsx"]
    rows = rows[~bulletin]
    assert rows[["username", "action"]].values.tolist() == [["committee", "export"]]
    assert rows["object"].iloc[0].startswith("visit_sheets:") and ":full:" in rows["object"].iloc[0]
