"""The rough edges users hit (issue 14 §3), end to end through the app (Streamlit's AppTest):
the warden's due count and due list are the same households, and the overview's cells without
a warden are a plain count, not a change figure."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import ui
from grid import model, users
from grid.store import open_store
from tests.apptools import sign_in_demo

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def app_db(district_file, monkeypatch, tmp_path) -> Iterator[Path]:
    path = tmp_path / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    monkeypatch.setenv("WARMGRID_DB", str(path))
    monkeypatch.chdir(ROOT)
    ui._open.clear()
    import streamlit as st

    st.cache_data.clear()
    yield path
    ui._open.clear()


def _due_by_hand(path: Path, days: int) -> set[str]:
    """The warden's targets never visited or last visited more than ``days`` days ago, by SQL."""
    with open_store(path, read_only=True) as s:
        cells = users.get_user(s, "warden").scope  # type: ignore[union-attr]
        now = datetime.now()
        rows = s.query(
            "SELECT h.hh_id FROM households h LEFT JOIN (SELECT hh_id, max(visited_at) AS last FROM visits"
            " GROUP BY hh_id) v USING (hh_id) WHERE h.status = 'active' AND list_contains(?, h.cell_id)"
            " AND len(list_intersect(h.categories, ?)) > 0 AND (v.last IS NULL OR v.last < ?)",
            [list(cells), list(model.HARDSHIP), now - timedelta(days=days)])
    return set(rows["hh_id"])


def test_the_wardens_due_count_and_due_list_agree(app_db) -> None:
    want = _due_by_hand(app_db, 30)  # before the app holds the file
    at = sign_in_demo("warden")
    assert not at.exception, at.exception
    due = next(m for m in at.metric if m.label == "待走访")
    at.toggle(key="warden_wide").set_value(True).run()  # every column, with the household's number
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert 0 < len(want) < 200, "the test district has a due list shorter than the table's 200 rows"
    assert int(due.value.replace(",", "")) == len(table) == len(want)
    assert set(table["户编号"]) == want


def test_cells_without_a_warden_are_a_count_not_a_change(app_db) -> None:
    with open_store(app_db, read_only=True) as s:
        n = s.scalar("SELECT count(*) FROM cells WHERE warden_id IS NULL")
    assert n > 0, "the test district has cells without a warden"
    at = sign_in_demo("admin")
    assert not at.exception, at.exception
    cells = next(m for m in at.metric if m.label == "网格 Cells")
    assert not cells.proto.delta, "no delta arrow on a count"
    assert any(f"其中无网格员 {n:,} 个" in c.value for c in at.caption)


@pytest.mark.parametrize(("role", "page"), [("leader", "leader"), ("inspector", "audit"), ("committee", "overview")])
def test_downloaded_files_have_chinese_headers(app_db, downloads, role: str, page: str) -> None:
    """The CSV behind each figure carries the labels of grid.labels, never a column name (issue 14 §3.1)."""
    import io

    import pandas as pd

    from grid import labels

    with open_store(app_db, read_only=True) as s:
        raw = labels.raw_names(s)
    at = sign_in_demo(role)
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    got = downloads(at)
    assert got
    for label, data in got:
        assert not any(c in label for c in ("_", "(assistance")), label
        if data[:2] == b"PK" or data[:5] == b"%PDF-":  # the bulletin's Word and PDF files: not tables
            continue
        heads = list(pd.read_csv(io.BytesIO(data), nrows=1, encoding="utf-8-sig").columns)
        assert not [h for h in heads if h in raw or "_" in h], (label, heads)
