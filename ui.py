"""App plumbing shared by app.py and the pages: where the database is, opening it
once per process (building the demo district on first run, with progress), and
analyses cached by their inputs. Pages import from here and from grid/ and
maps/; nothing here computes an analysis itself."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path

import streamlit as st

from grid import access, model
from grid.coverage import Overview, OverviewInputs, overview_from, overview_inputs
from grid.demo import DemoConfig, build_demo_file
from grid.errors import WarmGridError
from grid.store import Store, open_store

__all__ = [
    "db_path",
    "get_store",
    "cached_overview",
    "shared_overview_inputs",
    "shared_overview",
    "OVERVIEW_DEFAULTS",
    "show_error",
    "basemap_setting",
    "PAGES",
    "ROLE_PAGES",
    "current_user",
    "require_user",
    "require_page",
    "sign_in",
    "sign_in_sso",
    "sign_out",
    "allowed_cells",
]

#: Every page: key -> (file, title). A page missing from ROLE_PAGES is shown to nobody.
PAGES: dict[str, tuple[str, str]] = {
    "overview": ("pages/overview.py", "覆盖总览 Overview"),
    "my_cells": ("pages/my_cells.py", "我的网格 My cells"),
    "data": ("pages/data.py", "数据导入导出 Data"),
    "audit": ("pages/audit.py", "审计日志 Audit log"),
    "campaigns": ("pages/campaigns.py", "走访活动 Campaigns"),
    "leader": ("pages/leader.py", "救助分布 Assistance"),
}
#: The pages each role sees (the menu is not the guard: every query takes the scope too).
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "admin": ("overview", "campaigns", "data", "audit", "leader"),
    "leader": ("overview", "leader"),
    "committee": ("overview", "campaigns", "leader"),
    "warden": ("my_cells",),
    "inspector": ("audit", "overview", "leader"),
}
#: Minutes of inactivity after which a session signs out.
SESSION_MINUTES_ENV = "WARMGRID_SESSION_MINUTES"

#: Environment variable naming the database file.
DB_ENV = "WARMGRID_DB"
#: Environment variable with the demo's number of households (first run only).
DEMO_HOUSEHOLDS_ENV = "WARMGRID_DEMO_HOUSEHOLDS"
#: Basemap: ``none`` (default, offline), ``osm`` or ``tianditu`` (tiles from the network).
BASEMAP_ENV = "WARMGRID_BASEMAP"
#: The Tianditu key, when ``WARMGRID_BASEMAP=tianditu``.
TIANDITU_KEY_ENV = "WARMGRID_TIANDITU_KEY"
_BUILD_LOCK = threading.Lock()


def basemap_setting() -> tuple[str, str]:
    """The configured basemap and Tianditu key (``("none", "")`` unless configured)."""
    from maps.layers import BASEMAPS

    name = os.environ.get(BASEMAP_ENV, "none").strip().lower() or "none"
    if name not in BASEMAPS:
        st.warning(f"未知的底图设置 {BASEMAP_ENV}={name}，已改用无底图。"
                   f" Unknown basemap {name!r}; using none. Choose one of {sorted(BASEMAPS)}.")
        name = "none"
    key = os.environ.get(TIANDITU_KEY_ENV, "")
    if name == "tianditu" and not key:
        st.warning(f"使用天地图需要设置 {TIANDITU_KEY_ENV}；已改用无底图。"
                   f" Tianditu needs {TIANDITU_KEY_ENV}; using none.")
        name = "none"
    return name, key


def db_path() -> Path:
    """The database file: ``$WARMGRID_DB`` or ``data/warmgrid.duckdb`` beside this file."""
    env = os.environ.get(DB_ENV)
    return Path(env) if env else Path(__file__).resolve().parent / "data" / "warmgrid.duckdb"


def show_error(exc: WarmGridError) -> None:
    """Show a WarmGrid error in both languages and stop the page."""
    st.error(f"{exc.zh}\n\n{exc.en}")
    st.stop()


@st.cache_resource(show_spinner=False)
def _open(path: str) -> Store:
    return open_store(path)


def get_store() -> Store:
    """The process's store, building the demo district first if the file is missing."""
    path = db_path()
    try:
        if not path.exists():
            with _BUILD_LOCK:
                if not path.exists():
                    n = int(os.environ.get(DEMO_HOUSEHOLDS_ENV, "50000"))
                    bar = st.progress(0.0, text="首次运行：正在生成演示区 · First run: building the demo district")

                    def progress(frac: float, msg: str) -> None:
                        bar.progress(min(max(frac, 0.0), 1.0),
                                     text=f"首次运行：正在生成演示区 · building the demo district — {msg}")

                    build_demo_file(path, DemoConfig(households=n), progress=progress)
                    bar.empty()
        store = _open(str(path))
        _inputs_future(store)  # start reading the overview's inputs (no wait)
        return store
    except WarmGridError as exc:
        show_error(exc)
        raise  # unreachable: st.stop() raises


# The overview's inputs (every household, station, cell ...) are read once per store and data
# generation and shared by every session and scope: a change of radius, station type or date
# then recomputes only what depends on it. They are read in the background as soon as the
# store opens, so the first overview does not wait for them.
_INPUTS: dict[tuple[str, int, int], Future[OverviewInputs]] = {}
_INPUTS_LOCK = threading.Lock()
_INPUTS_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warmgrid-inputs")
_INPUTS_KEEP = 2


#: The overview page's default settings (its first view for everyone).
OVERVIEW_DEFAULTS: dict[str, int] = {"visit_days": 90, "warden_target": 400}
_DEFAULT_TYPE = next(iter(model.STATION_TYPES))
#: The whole-district overview with the default settings (what every district-wide user sees
#: first), computed in the background right after the inputs: (cells, as_of, overview).
_DEFAULTS: dict[tuple[str, int, int], Future[tuple[frozenset[str], date, Overview]]] = {}


def _default_overview(inputs: Future[OverviewInputs]) -> tuple[frozenset[str], date, Overview]:
    got = inputs.result()  # already read: the pool's one worker ran that job first
    cells, today = frozenset(got.cells_m["cell_id"]), date.today()
    return cells, today, overview_from(got, _DEFAULT_TYPE, as_of=today, cells=cells,
                                       visit_days=OVERVIEW_DEFAULTS["visit_days"],
                                       warden_target=OVERVIEW_DEFAULTS["warden_target"])


def _inputs_future(store: Store) -> Future[OverviewInputs]:
    key = (store.path, id(store), store.generation)
    with _INPUTS_LOCK:
        fut = _INPUTS.get(key)
        if fut is None or (fut.done() and fut.exception() is not None):
            fut = _INPUTS_POOL.submit(overview_inputs, store)
            _INPUTS[key] = fut
            _DEFAULTS[key] = _INPUTS_POOL.submit(_default_overview, fut)
            while len(_INPUTS) > _INPUTS_KEEP:  # the oldest (an earlier generation or store) goes
                old = next(iter(_INPUTS))
                _INPUTS.pop(old)
                _DEFAULTS.pop(old, None)
        return fut


def shared_overview_inputs(store: Store) -> OverviewInputs:
    """The overview's inputs for the store's current data (read once, shared; read-only)."""
    return _inputs_future(store).result()


def shared_overview(store: Store, station_type: str, *, radius: float | None, warden_target: int, visit_days: int,
                    as_of: date, cells: frozenset[str] | None) -> Overview:
    """:func:`grid.coverage.overview_from` on the shared inputs; the district-wide default view
    comes from the background computation."""
    inputs = shared_overview_inputs(store)
    if (station_type == _DEFAULT_TYPE and radius is None and cells is not None
            and {"warden_target": warden_target, "visit_days": visit_days} == OVERVIEW_DEFAULTS):
        with _INPUTS_LOCK:
            pending = _DEFAULTS.get((store.path, id(store), store.generation))
        if pending is not None and pending.exception() is None:  # waits while it is being computed
            d_cells, d_day, ov = pending.result()
            if d_cells == cells and d_day == as_of:
                return ov
    return overview_from(inputs, station_type, radius=radius, warden_target=warden_target, visit_days=visit_days,
                         as_of=as_of, cells=cells)


@st.cache_data(show_spinner="正在计算覆盖情况 · computing coverage…", max_entries=32)
def cached_overview(path: str, generation: int, scope_key: str, cells: frozenset[str] | None, station_type: str,
                    radius: float | None, warden_target: int, visit_days: int, as_of: date) -> Overview:
    """:func:`grid.coverage.overview` for a scope, cached by its inputs, the scope and the store's generation."""
    return shared_overview(_open(path), station_type, radius=radius, warden_target=warden_target,
                           visit_days=visit_days, as_of=as_of, cells=cells)


@st.cache_data(show_spinner=False, max_entries=256)
def _cells_for(path: str, generation: int, scope_key: str, _user: access.User) -> frozenset[str] | None:
    cells = access.cells_in_scope(_open(path), _user)
    return cells


def allowed_cells(store: Store, user: access.User) -> frozenset[str]:
    """The cells a user may see (none without a scope), cached by scope and data generation."""
    cells = _cells_for(store.path, store.generation, access.scope_key(user), user)
    return cells if cells is not None else frozenset()


def _session_minutes() -> int:
    try:
        return max(1, int(os.environ.get(SESSION_MINUTES_ENV, "30")))
    except ValueError:
        return 30


def current_user() -> access.User | None:
    """The signed-in user, or None (also after the session has expired)."""
    user = st.session_state.get("user")
    seen = st.session_state.get("user_seen")
    if user is None or seen is None:
        return None
    if datetime.now() - seen > timedelta(minutes=_session_minutes()):
        sign_out(expired=True)
        return None
    st.session_state["user_seen"] = datetime.now()
    return user  # type: ignore[no-any-return]


def require_user() -> access.User:
    """The signed-in user; stops the page when there is none."""
    user = current_user()
    if user is None:
        st.warning("请先登录 · Please sign in.")
        st.stop()
    return user


def require_page(key: str) -> access.User:
    """The signed-in user, if their role may see page ``key``; otherwise the page stops.

    The menu only lists a role's pages; this is the guard for a page reached another way.
    """
    user = require_user()
    if key not in ROLE_PAGES.get(user.role, ()):
        st.error("您的角色无权查看此页面 · Your role may not see this page.")
        st.stop()
    return user


def sign_in(store: Store, username: str, password: str) -> access.User:
    """Check the password and start a session (raises access errors with both languages)."""
    user = access.authenticate(store, username, password)
    st.session_state["user"] = user
    st.session_state["user_seen"] = datetime.now()
    return user


def sign_in_sso(store: Store, email: str) -> access.User:
    """Start a session for a user signed in by the OpenID Connect provider.

    The provider's e-mail must be a WarmGrid username; its role and scope come from
    the users table, so an unknown or disabled account is refused.
    """
    user = access.get_user(store, email) if email else None
    if user is None:
        access.audit(store, email or None, "login_failed", object="sso_unknown_user")
        raise WarmGridError(f"统一身份认证账号 {email} 未在暖网中登记，请联系管理员。",
                            f"the SSO account {email} is not registered in WarmGrid; ask an administrator.")
    access.audit(store, user, "login", object="sso")
    st.session_state["user"] = user
    st.session_state["user_seen"] = datetime.now()
    return user


def sign_out(expired: bool = False) -> None:
    """End the session (and say so when it expired)."""
    user = st.session_state.pop("user", None)
    st.session_state.pop("user_seen", None)
    if user is not None and not expired:
        access.audit(get_store(), user, "logout")
    if expired:
        st.session_state["expired"] = True
