"""App plumbing shared by main.py and the pages: where the database is, opening it
once per process (building the demo district on first run, with progress), who is
signed in (re-read from the database on every run), safe text for the screen, and
analyses cached by their inputs. Pages import from here and from grid/ and maps/;
nothing here computes an analysis itself.

User text never reaches the screen as Markdown: Streamlit renders Markdown in
``st.markdown``, ``st.caption``, ``st.error`` and other messages, titles and widget
labels (an image written ``![p](http://…)`` would be fetched). Pages put data into
such text only through :func:`md` (or :func:`esc`), which backslash-escapes every
ASCII punctuation character, and show errors through :func:`error`."""

from __future__ import annotations

import gc
import logging
import os
import re
import string
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import streamlit as st

import ui_map
from grid import access, audit, model, users
from grid.access import Actor, Scope
from grid.channel import Server
from grid.cli import serve_jobs
from grid.coverage import Overview, OverviewInputs, overview_from, overview_inputs
from grid.demo import DemoConfig, build_demo_file
from grid.errors import StoreError, WarmGridError
from grid.network import Network, default_distance, load_network
from grid.store import Store, open_store
from ui_map import MapPayload

__all__ = [
    "db_path",
    "get_store",
    "cached_overview",
    "shared_network",
    "shared_overview_inputs",
    "shared_overview",
    "OVERVIEW_DEFAULTS",
    "esc",
    "md",
    "error",
    "show_error",
    "basemap_setting",
    "PAGES",
    "current_actor",
    "require_actor",
    "require_page",
    "sign_in",
    "sign_in_sso",
    "sign_out",
    "client_address",
    "bulletin_downloads",
    "notify",
    "show_notices",
]

#: Every page: key (:data:`grid.access.PAGES`) -> file. Who sees which is the access policy's
#: decision (``grid.access.GRANTS``): the menu lists :func:`grid.access.pages_for` the actor, and
#: every page asks again (:func:`require_page`).
PAGES: dict[str, str] = {key: f"views/{key}.py" for key in access.PAGES}
#: Minutes of inactivity after which a session signs out.
SESSION_MINUTES_ENV = "WARMGRID_SESSION_MINUTES"

#: Environment variable naming the database file.
DB_ENV = "WARMGRID_DB"
#: Set to 1 to build the demo district into a missing ``WARMGRID_DB`` file (the default path needs nothing).
DEMO_ENV = "WARMGRID_DEMO"
#: Environment variable with the demo's number of households (first run only).
DEMO_HOUSEHOLDS_ENV = "WARMGRID_DEMO_HOUSEHOLDS"
#: Basemap: ``none`` (default, offline), ``osm`` or ``tianditu`` (tiles from the network).
BASEMAP_ENV = "WARMGRID_BASEMAP"
#: The Tianditu key, when ``WARMGRID_BASEMAP=tianditu``.
TIANDITU_KEY_ENV = "WARMGRID_TIANDITU_KEY"
_BUILD_LOCK = threading.Lock()


def _basemap_env() -> tuple[str, str, str | None]:
    """``(basemap, Tianditu key, warning or None)`` from the environment, without showing anything."""
    from maps.layers import BASEMAPS

    name = os.environ.get(BASEMAP_ENV, "none").strip().lower() or "none"
    key = os.environ.get(TIANDITU_KEY_ENV, "")
    if name not in BASEMAPS:
        return "none", key, (f"未知的底图设置 {BASEMAP_ENV}={name}，已改用无底图。"
                             f" Unknown basemap {name!r}; using none. Choose one of {sorted(BASEMAPS)}.")
    if name == "tianditu" and not key:
        return "none", key, (f"使用天地图需要设置 {TIANDITU_KEY_ENV}；已改用无底图。"
                             f" Tianditu needs {TIANDITU_KEY_ENV}; using none.")
    return name, key, None


def basemap_setting() -> tuple[str, str]:
    """The configured basemap and Tianditu key (``("none", "")`` unless configured)."""
    name, key, warning = _basemap_env()
    if warning:
        st.warning(warning)
    return name, key


def default_db_path() -> Path:
    """``data/warmgrid.duckdb`` beside this file: where the demo district is built on first run."""
    return Path(__file__).resolve().parent / "data" / "warmgrid.duckdb"


def db_path() -> Path:
    """The database file: ``$WARMGRID_DB`` or :func:`default_db_path`."""
    env = os.environ.get(DB_ENV)
    return Path(env) if env else default_db_path()


_MD_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")


def esc(value: object) -> str:
    r"""``value`` as text that Markdown shows literally: every ASCII punctuation character escaped.

    >>> esc("![p](http://example.org/p.png)")
    '\\!\\[p\\]\\(http\\:\\/\\/example\\.org\\/p\\.png\\)'
    >>> esc(None), esc(3)
    ('', '3')
    """
    if value is None:
        return ""
    return _MD_SPECIAL.sub(r"\\\1", str(value))


def md(template: str, *args: object, **kwargs: object) -> str:
    r"""``template.format`` with every argument escaped (:func:`esc`): Markdown from our text and user data.

    >>> md("**{}** · {n} 人", "*张三*", n=3)
    '**\\*张三\\*** · 3 人'
    """
    return template.format(*(esc(a) for a in args), **{k: esc(v) for k, v in kwargs.items()})


#: Minimum height of anything a finger taps (WCAG 2.5.5, Apple's and Android's guidelines: 44 px).
TOUCH_PX = 44

#: The phone styles (:func:`phone_css`): touch targets of :data:`TOUCH_PX`, and below 640 px a compact
#: title, tighter margins and tabs that fit one row.
PHONE_CSS = f"""<style>
.stButton button, .stFormSubmitButton button, .stDownloadButton button, .stLinkButton a,
[role="tab"], .react-aria-ComboBox > [role="group"], .stTextInput input, .stDateInput input,
.stTimeInput input, .stNumberInput input {{ min-height: {TOUCH_PX}px; }}
.stLinkButton a {{ display: inline-flex; align-items: center; }}
@media (max-width: 640px) {{
  h1 {{ font-size: 1.3rem !important; line-height: 1.3 !important; padding: 0 0 0.15rem 0 !important; }}
  [data-testid="stMainBlockContainer"] {{ padding: 3.9rem 0.6rem 2rem 0.6rem !important; }}
  [role="tab"] {{ padding: 0 0.5rem !important; }}
  [data-testid="stMetricValue"] {{ font-size: 1.2rem !important; }}
  [data-testid="stMetric"] {{ padding: 0 !important; }}
}}
</style>"""


def phone_css() -> None:
    """Style the page for a phone held in one hand (:data:`PHONE_CSS`); nothing shows."""
    st.html(PHONE_CSS)


def error(exc: BaseException) -> None:
    """Show an error in Chinese and English, its text escaped (it may quote a file's values)."""
    if isinstance(exc, WarmGridError):
        st.error(esc(exc.zh) + "\n\n" + esc(exc.en))
    else:
        st.error(md("意外错误，未作任何修改：{}: {}\n\nUnexpected error; nothing was changed: {}: {}",
                    type(exc).__name__, exc, type(exc).__name__, exc))


def show_error(exc: WarmGridError) -> None:
    """Show a WarmGrid error in both languages (escaped) and stop the page."""
    error(exc)
    st.stop()


#: Environment variable: ``off`` keeps the app from taking command-line jobs (grid.channel).
CLI_CHANNEL_ENV = "WARMGRID_CLI_CHANNEL"
_CHANNELS: dict[int, Server] = {}


def _release(store: Store) -> None:
    server = _CHANNELS.pop(id(store), None)
    if server is not None:
        server.stop()


#: Modules the first pages import or compile on their first use, imported while the sign-in form
#: waits instead: Streamlit's emoji pattern (compiled on the first ``st.info``, ``st.warning``... of
#: the process: 0.6 s), and the downloads' writers (grid.export, 0.2 s). Every one is imported by a
#: page anyway: this only moves when.
WARM_IMPORTS = ("streamlit.emojis", "grid.export", "grid.hotspots", "maps.plan", "maps.warden")


def _warm_imports() -> None:
    import importlib

    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except Exception:  # the page that needs it will say what is wrong
            logging.getLogger(__name__).exception("importing %s ahead of need failed", name)


@st.cache_resource(show_spinner=False, on_release=_release)
def _open(path: str) -> Store:
    threading.Thread(target=_warm_imports, name="warmgrid-warm-imports", daemon=True).start()
    store = open_store(path)
    # The command line cannot open a file this process holds: it sends its jobs here instead.
    if os.environ.get(CLI_CHANNEL_ENV, "on").strip().lower() not in ("off", "0", "no", "false"):
        server = serve_jobs(store)
        if server is not None:
            _CHANNELS[id(store)] = server
    return store


def _demo_wanted(path: Path) -> bool:
    return path.resolve() == default_db_path().resolve() or os.environ.get(DEMO_ENV, "").strip() == "1"


def get_store() -> Store:
    """The process's store, building the demo district first if the file is missing.

    The demo (with its published passwords) is built only at :func:`default_db_path`
    or when ``WARMGRID_DEMO=1``; a ``WARMGRID_DB`` naming a missing file otherwise
    stops the app with a message.
    """
    path = db_path()
    try:
        if not path.exists():
            if not _demo_wanted(path):
                raise StoreError(
                    f"数据库文件不存在：{path}。请检查 {DB_ENV} 设置；若要在此生成演示区，请设置 {DEMO_ENV}=1。",
                    f"the database file does not exist: {path}. Check {DB_ENV}; to build the demo district "
                    f"there, set {DEMO_ENV}=1.")
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


# The overview's inputs (every household, station, cell ... and the street network, with every
# household joined to it) are read once per store and data generation and shared by every
# session and scope: a change of radius, station type, distance mode or date then recomputes
# only what depends on it. They are read in the background as soon as the store opens, so the
# first overview does not wait for them.
_INPUTS: dict[tuple[str, int, int], Future[OverviewInputs]] = {}
_INPUTS_LOCK = threading.Lock()
_INPUTS_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warmgrid-inputs")
_INPUTS_KEEP = 2
# Set when something needs the inputs (or another generation's work waits behind them).
_WANTED: dict[tuple[str, int, int], threading.Event] = {}
#: Seconds the inputs wait to be read after the default view came from disk, unless a page asks for
#: them first: reading them (2.4 s of the server's time at 1,000,000 households) would otherwise
#: compete with sending the first page the view it was kept for.
INPUTS_DELAY_S = 5.0


#: The overview page's default settings (its first view for everyone).
OVERVIEW_DEFAULTS: dict[str, int] = {"visit_days": 90, "warden_target": 400}
_DEFAULT_TYPE = next(iter(model.STATION_TYPES))
#: The whole-district overview with the default settings (what every district-wide user sees
#: first), computed in the background right after the inputs: (as_of, overview).
_DEFAULTS: dict[tuple[str, int, int], Future[tuple[date, Overview]]] = {}
_PREPARED: dict[tuple[str, int, int], Future[None]] = {}


def _default_overview(got: OverviewInputs) -> tuple[date, Overview]:
    today = date.today()
    return today, overview_from(got, _DEFAULT_TYPE, scope=Scope.everything(), as_of=today,
                                visit_days=OVERVIEW_DEFAULTS["visit_days"],
                                warden_target=OVERVIEW_DEFAULTS["warden_target"],
                                distance=default_distance(got.network))


def _overview_map_key(path: str, generation: int, ov: Overview, *, scope_key: str, counts_only: bool,
                      visit_days: int, warden_target: int, as_of: date, measure: str, basemap: str,
                      tianditu_key: str, all_types: bool) -> tuple[Any, ...]:
    return ("overview", path, generation, scope_key, counts_only, ov.station_type, ov.radius, ov.distance,
            warden_target, visit_days, as_of, measure, basemap, tianditu_key, all_types)


def overview_map_payload(path: str, generation: int, ov: Overview, *, scope_key: str, counts_only: bool,
                         visit_days: int, warden_target: int, as_of: date, measure: str, basemap: str,
                         tianditu_key: str, all_types: bool, network: Network | None) -> MapPayload:
    """The overview's map of ``ov`` (computed for the store's data ``generation``), rendered once per
    process for these inputs and shared by every session (:mod:`ui_map`): a rerun or a returning
    visit sends the same script without rendering 2.7 MB again (1,000,000 households)."""
    from maps.overview import overview_map

    key = _overview_map_key(path, generation, ov, scope_key=scope_key, counts_only=counts_only, visit_days=visit_days,
                            warden_target=warden_target, as_of=as_of, measure=measure, basemap=basemap,
                            tianditu_key=tianditu_key, all_types=all_types)
    return ui_map.cached_payload(key, lambda: overview_map(
        ov, measure, basemap=basemap, tianditu_key=tianditu_key, all_station_types=all_types,
        counts_only=counts_only, network=network if ov.distance == "walk" else None))


def _default_map_settings(today: date) -> dict[str, Any]:
    """How the administrator's first view is drawn (the overview page's defaults), as JSON values."""
    from grid.coverage import CELL_MEASURES

    basemap, key, _warning = _basemap_env()
    return {"station_type": _DEFAULT_TYPE, "as_of": today.isoformat(), "scope": Scope.everything().key,
            "counts_only": False, "measure": next(iter(CELL_MEASURES)), "basemap": basemap, "tianditu_key": key,
            "all_types": False, **OVERVIEW_DEFAULTS}


def _default_map_key(store: Store, generation: int, ov: Overview, settings: dict[str, Any]) -> tuple[Any, ...]:
    return _overview_map_key(store.path, generation, ov, scope_key=settings["scope"], counts_only=False,
                             visit_days=settings["visit_days"], warden_target=settings["warden_target"],
                             as_of=date.fromisoformat(settings["as_of"]), measure=settings["measure"],
                             basemap=settings["basemap"], tianditu_key=settings["tianditu_key"], all_types=False)


def _default_map(store: Store, generation: int, today: date, ov: Overview) -> tuple[dict[str, Any], MapPayload] | None:
    """Render the map of the district-wide default overview as an administrator first sees it
    (``None`` if that failed: only a head start, the page renders the map itself)."""
    try:
        settings = _default_map_settings(today)
        payload = overview_map_payload(
            store.path, generation, ov, scope_key=settings["scope"], counts_only=False,
            visit_days=settings["visit_days"], warden_target=settings["warden_target"], as_of=today,
            measure=settings["measure"], basemap=settings["basemap"], tianditu_key=settings["tianditu_key"],
            all_types=False, network=shared_network(store))
        return settings, payload
    except Exception:
        logging.getLogger(__name__).exception("rendering the default overview map in the background failed")
        return None


def _kept_default(store: Store, generation: int) -> tuple[str | None, tuple[date, Overview] | None]:
    """The default view kept on disk for the store's data, today and this code (:mod:`grid.view_cache`):
    ``(data fingerprint, (day, overview))``, its map put in the map cache; ``(fingerprint, None)`` when
    none is kept, ``(None, None)`` when keeping is off or fails (logged)."""
    from grid import view_cache

    folder = view_cache.view_dir(store.path)
    if folder is None or not view_cache.has_views(folder):
        return None, None  # nothing to look for: no fingerprint (0.2 s) ahead of the first view
    try:
        data = view_cache.fingerprint(store)
        today = date.today()
        settings = _default_map_settings(today)
        got = view_cache.load_view(folder, view_cache.key_for(data, settings))
        if got is None:
            return data, None
        ov, payload = got
        ui_map.keep_payload(_default_map_key(store, generation, ov, settings), ui_map.payload_from_json(payload))
        return data, (today, ov)
    except Exception:
        logging.getLogger(__name__).exception("reading the kept default overview failed: computing it")
        return None, None


def _keep_default(store: Store, generation: int, data: str | None, today: date, ov: Overview,
                  drawn: tuple[dict[str, Any], MapPayload] | None) -> None:
    """Keep the default view on disk when the data are still what the fingerprint ``data`` saw."""
    from grid import view_cache

    folder = view_cache.view_dir(store.path)
    if folder is None or drawn is None:
        return
    try:
        # The app is the database's one writer and every committed change of data makes a new
        # generation: unchanged since the inputs were read, the data are what the view counted.
        if store.generation != generation:
            return
        now = view_cache.fingerprint(store)
        if (data is not None and now != data) or store.generation != generation:
            return  # written to meanwhile: what was computed may mix both
        settings, payload = drawn
        data = now
        view_cache.save_view(folder, view_cache.key_for(data, settings), ov, ui_map.payload_json(payload))
    except Exception:
        logging.getLogger(__name__).exception("keeping the default overview on disk failed")


#: Seconds after the default view is drawn before it is written to disk (grid.view_cache).
KEEP_DELAY_S = 3.0


def _prepare(store: Store, generation: int, inputs: Future[OverviewInputs],
             default: Future[tuple[date, Overview]], wanted: threading.Event | None = None) -> None:
    """The background work when a store opens or its data change, in order: the default view kept on disk
    (if any; then the inputs wait until ``wanted`` is set or :data:`INPUTS_DELAY_S` has passed), the
    shared inputs, the default view and its map (unless kept; then kept for the next start), the
    collector settled. Each future gets its result or the exception that stopped it."""
    data, kept = _kept_default(store, generation)
    if kept is not None:
        default.set_result(kept)
        if wanted is not None:
            wanted.wait(INPUTS_DELAY_S)
    try:
        got = _read_inputs(store)
    except BaseException as exc:
        inputs.set_exception(exc)
        if not default.done():
            default.set_exception(exc)
        return
    inputs.set_result(got)
    if kept is None:
        try:
            today, ov = _default_overview(got)
        except BaseException as exc:
            default.set_exception(exc)
            return
        default.set_result((today, ov))
        drawn = _default_map(store, generation, today, ov)
        # Written a little later, in a thread of its own: serialising 1,000,000 households' gaps (0.7 s)
        # would otherwise compete with sending the first page its map.
        keeper = threading.Timer(KEEP_DELAY_S, _keep_default, args=(store, generation, data, today, ov, drawn))
        keeper.daemon = True
        keeper.name = "warmgrid-keep-view"
        keeper.start()
    _settle_heap()


# The street network, built once per store and data generation (0.15 s at 1,000,000 households):
# the overview's inputs join every household to it, the warden's page its own households.
_NETWORKS: dict[tuple[str, int, int], Network | None] = {}
_NETWORKS_LOCK = threading.Lock()


def shared_network(store: Store) -> Network | None:
    """The store's walking network for its current data (``None`` without walkable roads); built once, shared."""
    key = (store.path, id(store), store.generation)
    with _NETWORKS_LOCK:
        if key in _NETWORKS:
            return _NETWORKS[key]
    net = load_network(store) if default_distance(store) == "walk" else None
    with _NETWORKS_LOCK:
        net = _NETWORKS.setdefault(key, net)  # another thread may have built it meanwhile: keep one
        while len(_NETWORKS) > _INPUTS_KEEP:
            _NETWORKS.pop(next(iter(_NETWORKS)))
    return net


def _read_inputs(store: Store) -> OverviewInputs:
    net = shared_network(store)
    return overview_inputs(store, walking=net is not None, network=net)


# The collector's full passes scan every object it tracks: with a district's inputs, Streamlit and
# the caches in memory that was 0.05-0.3 s of each change of radius (a pass or two per map; the
# 1,000,000-household demo, gc callbacks). Once the shared inputs and the default view are made,
# everything alive is moved out of its sight (``gc.freeze``): such objects are still freed when
# nothing refers to them; only reference cycles among them wait for the next settling, which
# first hands every frozen object back and collects (after a change of data, in this worker).
_SETTLED_ONCE = False


def _settle_heap() -> None:
    """Freeze what is alive now, collecting first whenever something was frozen before."""
    global _SETTLED_ONCE
    if _SETTLED_ONCE:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
    _SETTLED_ONCE = True


def _inputs_future(store: Store) -> Future[OverviewInputs]:
    key = (store.path, id(store), store.generation)
    with _INPUTS_LOCK:
        fut = _INPUTS.get(key)
        if fut is None or (fut.done() and fut.exception() is not None):
            fut = Future()
            default: Future[tuple[date, Overview]] = Future()
            for earlier in _WANTED.values():  # the one worker: nothing ahead of this may wait idle
                earlier.set()
            wanted = _WANTED[key] = threading.Event()
            _INPUTS[key], _DEFAULTS[key] = fut, default
            _PREPARED[key] = _INPUTS_POOL.submit(_prepare, store, store.generation, fut, default, wanted)
            while len(_INPUTS) > _INPUTS_KEEP:  # the oldest (an earlier generation or store) goes
                old = next(iter(_INPUTS))
                _INPUTS.pop(old)
                _DEFAULTS.pop(old, None)
                _PREPARED.pop(old, None)
                _WANTED.pop(old, None)
        return fut


def want_inputs(store: Store) -> None:
    """Read the overview's inputs for the store's current data now, not after :data:`INPUTS_DELAY_S`
    (work that cannot run without them is waiting)."""
    with _INPUTS_LOCK:
        wanted = _WANTED.get((store.path, id(store), store.generation))
    if wanted is not None:
        wanted.set()


def background_work(store: Store) -> Future[None] | None:
    """The overview's background work for the store's current data (:func:`_prepare`), if started:
    other work started ahead of need (``ui_assistance.prefetch``) waits for it rather than compete
    with the first page everyone opens."""
    with _INPUTS_LOCK:
        return _PREPARED.get((store.path, id(store), store.generation))


def shared_overview_inputs(store: Store) -> OverviewInputs:
    """The overview's inputs for the store's current data (read once, shared; read-only)."""
    fut = _inputs_future(store)
    want_inputs(store)
    return fut.result()


def _whole_district(inputs: OverviewInputs, scope: Scope) -> bool:
    """Whether ``scope`` counts exactly what everything counts (every cell, no household outside a cell)."""
    if scope.is_everything:
        return True
    cells = inputs.cells_m["cell_id"]
    return (len(scope.cells or ()) == len(cells) and bool(cells.isin(scope.cells or ()).all())
            and not inputs.households["cell_id"].isna().any())


def _pending_default(store: Store, as_of: date, distance: str | None) -> Overview | None:
    """The district-wide default view of the store's current data for ``as_of`` (waiting while it is
    being computed), or ``None`` (another day or distance, or its computation failed)."""
    with _INPUTS_LOCK:
        pending = _DEFAULTS.get((store.path, id(store), store.generation))
    if pending is None or pending.exception() is not None:
        return None
    d_day, ov = pending.result()
    return ov if d_day == as_of and (distance is None or distance == ov.distance) else None


def shared_overview(store: Store, station_type: str, *, scope: Scope, radius: float | None, warden_target: int,
                    visit_days: int, as_of: date, distance: str | None = None) -> Overview:
    """:func:`grid.coverage.overview_from` on the shared inputs; the district-wide default view
    comes from the background computation. ``distance`` defaults to walking where the district
    has a street network (:func:`grid.network.default_distance`)."""
    defaults = (station_type == _DEFAULT_TYPE and radius is None
                and {"warden_target": warden_target, "visit_days": visit_days} == OVERVIEW_DEFAULTS)
    if defaults and scope.is_everything:  # without waiting for the inputs: the default view may be kept on disk
        ov = _pending_default(store, as_of, distance)
        if ov is not None:
            return ov
    inputs = shared_overview_inputs(store)
    distance = distance or default_distance(inputs.network)
    if defaults and distance == default_distance(inputs.network) and _whole_district(inputs, scope):
        ov = _pending_default(store, as_of, distance)
        if ov is not None:
            return ov
    return overview_from(inputs, station_type, scope=scope, radius=radius, warden_target=warden_target,
                         visit_days=visit_days, as_of=as_of, distance=distance)


# A resource, not data: st.cache_data would pickle the overview into the cache and unpickle a copy
# on every rerun (139 MB and about 1 s at 1,000,000 households). Pages treat it as read-only
# (with pandas' copy-on-write a derived frame never writes into it).
@st.cache_resource(show_spinner="正在计算覆盖情况 · computing coverage…", max_entries=6)
def cached_overview(path: str, generation: int, scope_key: str, _scope: Scope, station_type: str,
                    radius: float | None, warden_target: int, visit_days: int, as_of: date,
                    distance: str | None = None) -> Overview:
    """:func:`grid.coverage.overview` for a scope, cached by its inputs, the scope's key and the store's generation.

    ``distance``: ``walk`` or ``straight`` (default: walking where the district has a street network).
    """
    return shared_overview(_open(path), station_type, scope=_scope, radius=radius, warden_target=warden_target,
                           visit_days=visit_days, as_of=as_of, distance=distance)


@st.cache_data(show_spinner=False, max_entries=256)
def _scope_for(path: str, generation: int, role: str, codes: tuple[str, ...]) -> Scope:
    store = _open(path)
    return access.actor_for(store, users.User("_", role, codes)).scope


def _session_minutes() -> int:
    try:
        return max(1, int(os.environ.get(SESSION_MINUTES_ENV, "30")))
    except ValueError:
        return 30


def client_address() -> str:
    """The signed-in browser's address as Streamlit sees it (``local`` when unknown)."""
    try:
        ip = st.context.ip_address
    except Exception:  # no script context (tests)
        ip = None
    return str(ip) if ip else users.LOCAL


def _start_session(user: users.User, fp: str) -> None:
    st.session_state["user"] = user.username
    st.session_state["user_fp"] = fp
    st.session_state["user_seen"] = datetime.now()


def current_actor() -> Actor | None:
    """Whoever is signed in, as re-read from the database now, or None.

    The account is read again on every page run: a disabled account or a
    changed password ends the session at once, and a changed role or scope
    takes effect at once. A session idle for ``WARMGRID_SESSION_MINUTES`` ends too.
    """
    name = st.session_state.get("user")
    seen = st.session_state.get("user_seen")
    if not isinstance(name, str) or seen is None:
        return None
    if datetime.now() - seen > timedelta(minutes=_session_minutes()):
        sign_out(expired=True)
        return None
    store = get_store()
    user = users.session_user(store, name, str(st.session_state.get("user_fp", "")))
    if user is None:
        sign_out(revoked=True)
        return None
    st.session_state["user_seen"] = datetime.now()
    scope = _scope_for(store.path, store.generation, user.role, user.scope)
    return Actor(user.username, user.role, scope, user)


def require_actor() -> Actor:
    """The signed-in actor; stops the page when there is none."""
    actor = current_actor()
    if actor is None:
        st.warning("请先登录 · Please sign in.")
        st.stop()
    return actor


def require_page(key: str) -> Actor:
    """The signed-in actor, if the access policy lets it view page ``key``; otherwise the page stops.

    The menu lists only the actor's pages; this is the guard for a page reached another way.
    """
    actor = require_actor()
    try:
        access.ensure(actor, "view_page", key, log=get_store())
    except WarmGridError as exc:
        show_error(exc)
    return actor


def sign_in(store: Store, username: str, password: str) -> Actor:
    """Check the password and start a session (raises access errors with both languages)."""
    user, fp = users.authenticate(store, username, password, client=client_address())
    _start_session(user, fp)
    return access.actor_for(store, user)


def sign_in_sso(store: Store, email: str) -> Actor:
    """Start a session for a user signed in by the OpenID Connect provider.

    The provider's e-mail must be a WarmGrid username; its role and scope come from
    the users table, so an unknown or disabled account is refused.
    """
    user = users.get_user(store, email) if email else None
    if user is None:
        audit.record(store, email or None, "login_failed", object="sso_unknown_user", client=client_address())
        raise WarmGridError(f"统一身份认证账号 {email} 未在暖网中登记，请联系管理员。",
                            f"the SSO account {email} is not registered in WarmGrid; ask an administrator.")
    audit.record(store, user, "login", object="sso", client=client_address())
    fp = users.fingerprint(store.scalar("SELECT password_hash FROM users WHERE username = ?", [user.username]))
    _start_session(user, fp)
    return access.actor_for(store, user)


def sign_out(expired: bool = False, revoked: bool = False) -> None:
    """End the session (and say why on the sign-in page when it expired or the account changed)."""
    name = st.session_state.pop("user", None)
    st.session_state.pop("user_seen", None)
    st.session_state.pop("user_fp", None)
    if isinstance(name, str) and not expired and not revoked:
        audit.record(get_store(), name, "logout")
    if expired:
        st.session_state["expired"] = True
    if revoked:
        st.session_state["revoked"] = True


# --------------------------------------------------------------------------- the bulletin, downloaded
@st.cache_data(show_spinner=False, max_entries=32)
def _bulletin_units(path: str, generation: int, scope_key: str, _store: Store, _scope: Scope) -> list[tuple[str, str]]:
    from grid.reports import bulletin_units

    units = bulletin_units(_store, _scope)
    level = {"district": "区", "street": "街道", "community": "社区"}
    return [(str(r.code), f"{r.name} · {level.get(str(r.level), '')}") for r in units.itertuples(index=False)]


def bulletin_downloads(store: Store, actor: Actor, *, key: str, campaign: str | None = None) -> None:
    """The 情况通报 of a unit and period the actor chooses within its scope, as three download
    buttons (Word, PDF, Excel). Each file is made, and its audit row written, only when its button
    is pressed (:func:`grid.reports.bulletin_bytes`); nothing shows for a role that may not
    download the bulletin. ``campaign`` preselects a campaign (its dates become the period)."""
    from grid.campaigns import list_campaigns
    from grid.reports import BULLETIN_FORMATS, bulletin_bytes

    if not access.allowed(actor, "download", "bulletin"):
        return
    units = _bulletin_units(str(db_path()), store.generation, actor.scope.key, store, actor.scope)
    if not units:
        st.info("您的范围内没有可出具通报的单位。 · No unit in your scope to report on.")
        return
    names = dict(units)
    camps = list_campaigns(store).sort_values("starts_on", ascending=False)
    camp_names = dict(zip(camps["campaign_id"], camps["name"], strict=True))
    starts = dict(zip(camps["campaign_id"], camps["starts_on"], strict=True))
    ends = dict(zip(camps["campaign_id"], camps["ends_on"], strict=True))
    none = ""
    c1, c2, c3 = st.columns([3, 3, 2])
    unit = c1.selectbox("通报单位 Unit", list(names), format_func=names.__getitem__, key=f"{key}_bulletin_unit")
    options = [none, *camp_names]
    pick = c2.selectbox("走访活动（可不选）Campaign", options, key=f"{key}_bulletin_campaign",
                        index=options.index(campaign) if campaign in options else 0,
                        format_func=lambda c: "（不选活动）" if c == none else f"{camp_names[c]}（{c}）")
    if pick:
        default = (_as_date(starts[pick]), _as_date(ends[pick]))
    else:
        today = date.today()
        default = (date(today.year, today.month, 1) - timedelta(days=62), today)
    period = c3.date_input("统计期间 Period", value=default, key=f"{key}_bulletin_period_{pick or 'none'}")
    if not isinstance(period, tuple) or len(period) != 2:
        st.caption("请选择起止两个日期 · choose the first and the last day")
        return
    since, until = period
    cols = st.columns(len(BULLETIN_FORMATS))
    def make(suffix: str) -> Callable[[], bytes]:
        return lambda: bulletin_bytes(store, actor, unit, since, until, suffix, pick or None)

    for col, (suffix, (label, mime)) in zip(cols, BULLETIN_FORMATS.items(), strict=True):
        col.download_button(
            f"下载{label}（{suffix}）", make(suffix),
            file_name=f"情况通报_{unit}_{since:%Y%m%d}-{until:%Y%m%d}{suffix}", mime=mime,
            key=f"{key}_bulletin{suffix}", on_click="ignore", icon=":material/download:")
    st.caption("文件在点击时生成并记入审计日志；Word 文档可修改后印发。 · Each file is made when its button is "
               "pressed and logged; edit the Word draft before issuing it.")


def _as_date(value: object) -> date:
    import pandas as pd

    return pd.Timestamp(value).date()  # type: ignore[arg-type]


_NOTICES = "_notices"


def notify(message: str) -> None:
    """Confirm something done, on the next run: kept in the session, so it survives the ``st.rerun()``
    that usually follows a write, and shown once as a toast by :func:`show_notices`.

    ``message`` is our own text (it may carry an id): it is escaped when shown.
    """
    st.session_state.setdefault(_NOTICES, []).append(message)


def show_notices() -> None:
    """Show (once) every confirmation :func:`notify` kept, as toasts; main.py calls this on every run."""
    for message in st.session_state.pop(_NOTICES, None) or []:
        st.toast(esc(message))
