"""Shared fixtures: a small generated district, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.demo import DemoConfig, DemoDistrict, build_demo_file
from grid.store import Store, open_store

#: The small district every test reads: 3,000 households, 4 streets, 8 communities.
SMALL = DemoConfig(households=3_000, seed=11, streets=3, communities=8, target_per_cell=150)


@pytest.fixture(scope="session")
def district_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoDistrict]:
    path = tmp_path_factory.mktemp("district") / "small.duckdb"
    d = build_demo_file(path, SMALL)
    return path, d


@pytest.fixture(scope="session")
def district(district_file: tuple[Path, DemoDistrict]) -> DemoDistrict:
    return district_file[1]


@pytest.fixture(scope="session")
def store(district_file: tuple[Path, DemoDistrict]) -> Store:
    s = open_store(district_file[0], read_only=True)
    yield s
    s.close()


@pytest.fixture()
def db(district_file: tuple[Path, DemoDistrict], tmp_path: Path) -> Store:
    """A writable copy of the small district."""
    import shutil

    path = tmp_path / "db.duckdb"
    shutil.copyfile(district_file[0], path)
    s = open_store(path)
    yield s
    s.close()


@pytest.fixture()
def app_db(district_file: tuple[Path, DemoDistrict], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A copy of the small district that the app opens (``WARMGRID_DB``), with fresh caches."""
    import shutil

    import streamlit as st

    import ui

    path = tmp_path / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    monkeypatch.setenv("WARMGRID_DB", str(path))
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    ui._open.clear()
    st.cache_data.clear()
    yield path
    ui._open.clear()


@pytest.fixture()
def fresh_store() -> Store:
    s = open_store(":memory:")
    yield s
    s.close()
