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


@pytest.fixture(autouse=True)
def _district_file_untouched(request: pytest.FixtureRequest):
    """The session's district is shared by every test: one that writes to it fails, by name.

    A test that needs to write (an import, an export's audit row) works on a copy
    (``db``, ``app_db`` or ``shutil.copyfile``); writing to the shared file makes the
    next test's counts depend on the order the tests ran in.
    """
    if "district_file" not in request.fixturenames:
        yield
        return
    path = request.getfixturevalue("district_file")[0]
    before = (path.stat().st_mtime_ns, path.stat().st_size)
    yield
    after = (path.stat().st_mtime_ns, path.stat().st_size)
    assert after == before, f"{request.node.nodeid} wrote to the shared district file {path}: use a copy"


@pytest.fixture(autouse=True)
def _background_work_ends_with_the_test():
    """The app's background work (the overview's inputs, the assistance page's prefetch, writing the kept
    view) started by a test is finished before the next test starts: a query of one test's store still
    running in the next one made that one's new database fail to checkpoint."""
    yield
    import sys
    import threading

    ui = sys.modules.get("ui")
    if ui is not None:
        for wanted in list(ui._WANTED.values()):  # nothing waits out its delay after the test
            wanted.set()
    for name, pool in (("ui", "_INPUTS_POOL"), ("ui_assistance", "_POOL")):
        module = sys.modules.get(name)
        if module is not None:
            getattr(module, pool).submit(lambda: None).result(timeout=300)  # one worker: runs after the rest
    for t in threading.enumerate():
        if t.name == "warmgrid-keep-view":
            t.join(timeout=60)


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
    import ui_assistance
    import ui_campaigns
    import ui_map
    import ui_warden

    ui._open.clear()
    ui_assistance._FUTURES.clear()
    ui.cached_overview.clear()
    ui_warden._cached.clear()
    for cached in (ui_campaigns._scope_cells, ui_campaigns._audit, ui_campaigns._setup, ui_campaigns._plan):
        cached.clear()
    ui_map._CACHE.clear()
    st.cache_data.clear()
    yield path
    ui._open.clear()


@pytest.fixture()
def fresh_store() -> Store:
    s = open_store(":memory:")
    yield s
    s.close()


@pytest.fixture()
def downloads(monkeypatch: pytest.MonkeyPatch):
    """What the page's download buttons give when clicked: ``fetch(at) -> [(label, bytes), ...]``.

    A deferred button (its data a callable, made only when clicked) runs the very
    callable the page registered, as Streamlit does on a click; a button with its
    bytes already made returns those bytes.
    """
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    deferred: dict[str, object] = {}
    stored: dict[str, bytes] = {}
    real_add = MediaFileManager.add_deferred
    real_load = MemoryMediaFileStorage.load_and_get_id

    def add(self, data_callable, *args, **kwargs):  # type: ignore[no-untyped-def]
        file_id = real_add(self, data_callable, *args, **kwargs)
        deferred[file_id] = data_callable
        return file_id

    def load(self, path_or_data, mimetype, kind, filename=None):  # type: ignore[no-untyped-def]
        file_id = real_load(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, bytes):
            stored[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", add)
    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", load)

    def fetch(at):  # type: ignore[no-untyped-def]
        out = []
        for b in at.get("download_button"):
            proto = b.proto
            if proto.HasField("deferred_file_id"):
                data = deferred[proto.deferred_file_id]()  # type: ignore[operator]
                out.append((proto.label, data.encode() if isinstance(data, str) else bytes(data)))
            else:
                out.append((proto.label, stored[proto.url.rsplit("/", 1)[-1].split(".")[0]]))
        return out

    return fetch


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (its hook names each test's group)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A module's tests that share a module-scoped fixture run on one worker (``--dist loadgroup``).

    Such a fixture (a browser walk of every page, an app server, a 20,000-household
    district) is built once per worker that runs one of its tests; spread over two
    workers it would be built, and its work done, twice. Tests without one stay free
    to go to whichever worker is idle. An explicit ``xdist_group`` mark wins.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        module = item.nodeid.split("::", 1)[0]
        shared = any(d.scope == "module" and str(d.baseid).split("::", 1)[0] == module
                     for defs in info.name2fixturedefs.values() for d in defs)
        if shared:
            item.add_marker(pytest.mark.xdist_group(module))
