"""The only module that talks to DuckDB.

It opens (or creates) a WarmGrid database file with the spatial extension
loaded from the installed PyPI package — never downloaded — checks that the
file is a WarmGrid database of a schema version this code understands, applies
migrations, hands each thread its own cursor, serialises writes through one
lock and one transaction, and recomputes derived facts (metric coordinates,
cell areas, which cell each household is in).

A process has one DuckDB instance (:class:`_Host`): the spatial extension is
loaded into it once, and each open database file is ATTACHed to it, so opening
a store costs milliseconds, not the extension's 0.27 s. Catalogue queries
therefore name ``database_name = current_database()``.

Examples
--------
>>> store = open_store(":memory:")
>>> store.schema_version()
10
>>> store.count("households")
0
>>> store.close()
"""

from __future__ import annotations

import importlib.metadata
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from grid import model
from grid.crs import WGS84, utm_epsg
from grid.errors import (
    DatabaseLockedError,
    ExtensionMissingError,
    NotWarmGridDatabaseError,
    ReadOnlyError,
    SchemaTooNewError,
    StoreError,
)

__all__ = [
    "SCHEMA_VERSION",
    "APPLICATION",
    "TABLES",
    "Store",
    "open_store",
    "is_held",
    "spatial_extension_path",
]

#: The schema version this code writes and reads.
SCHEMA_VERSION = 10
#: Value of ``warmgrid_meta.application`` in every WarmGrid database.
APPLICATION = "warmgrid"
#: The tables of the data contract (an allow-list for table names in SQL).
TABLES: tuple[str, ...] = (
    "admin_units",
    "people",
    "cells",
    "households",
    "stations",
    "patrol_areas",
    "campaigns",
    "pairings",
    "visits",
    "needs",
    "assistance",
    "users",
    "audit_log",
    "household_history",
    "imports",
    "form_submissions",
    "plans",
    "plan_visitors",
    "plan_items",
    "login_throttle",
    "roads",
    "members",
    "need_events",
    "need_photos",
    "need_time_limits",
    "programmes",
    "budgets",
    "applications",
    "application_events",
    "application_objections",
    "addresses",
)

_SPATIAL_PACKAGE = "duckdb-extension-spatial"

def household_cells(cur: duckdb.DuckDBPyConnection) -> Any:
    """``hh_id, cell_id`` of every household as its cursor sees them, by :func:`grid.cell_assign.cells_of_xy`.

    An Arrow table (1,000,000 households: about 1 s, against 2.0 s for DuckDB's ``ST_Intersects``
    join; see ``bench/coverage.py``).

    >>> s = open_store(":memory:")
    >>> cur = s.cursor()
    >>> _ = cur.execute("INSERT INTO cells (cell_id, name, community_code, geom) VALUES"
    ...               " ('350203001001001', 'a', '350203001001', ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))'))")
    >>> _ = cur.execute("INSERT INTO households (hh_id, geom, address, size) VALUES"
    ...               " ('h1', ST_Point(0.5, 0.5), 'x', 1), ('h2', ST_Point(3, 3), 'y', 1)")
    >>> sorted(household_cells(cur).to_pylist(), key=lambda r: r["hh_id"])
    [{'hh_id': 'h1', 'cell_id': '350203001001001'}, {'hh_id': 'h2', 'cell_id': None}]
    >>> s.close()
    """
    import pyarrow as pa
    import shapely

    from grid.cell_assign import cells_of_xy

    hh = cur.execute("SELECT hh_id, ST_X(geom) AS x, ST_Y(geom) AS y FROM households").to_arrow_table()
    cells = cur.execute("SELECT cell_id, ST_AsWKB(geom) AS wkb FROM cells").to_arrow_table()
    found = cells_of_xy(hh["x"].to_numpy(zero_copy_only=False), hh["y"].to_numpy(zero_copy_only=False),
                        shapely.from_wkb(cells["wkb"].to_numpy(zero_copy_only=False)),
                        cells["cell_id"].to_numpy(zero_copy_only=False))
    return pa.table({"hh_id": hh["hh_id"], "cell_id": pa.array(found, type=pa.string())})


def spatial_extension_path() -> Path:
    """Return the path of the spatial extension shipped by the PyPI package.

    Raises
    ------
    ExtensionMissingError
        If ``duckdb-extension-spatial`` is not installed, its version differs
        from duckdb's, or the extension file is not where the package puts it.
    """
    want = duckdb.__version__
    install = f"pip install {_SPATIAL_PACKAGE}=={want}"
    try:
        have = importlib.metadata.version(_SPATIAL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ExtensionMissingError(
            f"缺少 DuckDB 空间扩展包 {_SPATIAL_PACKAGE}（版本须为 {want}，与 duckdb 相同）。请运行：{install}",
            f"The DuckDB spatial extension package {_SPATIAL_PACKAGE} is not installed "
            f"(version {want}, the same as duckdb, is needed). Run: {install}",
        ) from None
    if have != want:
        raise ExtensionMissingError(
            f"{_SPATIAL_PACKAGE} 的版本是 {have}，而 duckdb 是 {want}，两者必须相同。请运行：{install}",
            f"{_SPATIAL_PACKAGE} is version {have} but duckdb is {want}; they must match. Run: {install}",
        )
    try:
        root = Path(str(resources.files("duckdb_extension_spatial")))
    except ModuleNotFoundError:  # metadata present but the module is gone
        root = Path("/nonexistent")
    path = root / "extensions" / f"v{want}" / "spatial.duckdb_extension"
    if not path.is_file():
        found = sorted(root.glob("extensions/**/spatial.duckdb_extension")) if root.is_dir() else []
        if len(found) == 1:
            return found[0]
        raise ExtensionMissingError(
            f"在 {root} 中找不到空间扩展文件 spatial.duckdb_extension。请重新安装：{install}",
            f"spatial.duckdb_extension was not found under {root}. Reinstall: {install}",
        )
    return path


def _fill(text: str) -> str:
    """SQL text with the vocabularies of :mod:`grid.model` filled in: ``{NAME}`` becomes the tuple
    of its codes (``('a', 'b')``), and ``{HARDSHIP_LIST}`` the list of hardship codes."""

    def tup(vocab: dict[str, Any]) -> str:
        return "(" + ", ".join(f"'{c}'" for c in vocab) + ")"

    fills = {"{HARDSHIP_LIST}": "[" + ", ".join(f"'{c}'" for c in model.HARDSHIP) + "]"}
    fills["{NEED_TIME_LIMIT_ROWS}"] = ", ".join(f"('{c}', {int(d)}, 'default')" for c, d in model.NEED_TIME_LIMITS.items())
    for name in model.__all__:
        vocab = getattr(model, name)
        if isinstance(vocab, dict) and vocab and all(isinstance(v, model.Term) for v in vocab.values()):
            fills["{" + name + "}"] = tup(vocab)
    for key, value in fills.items():
        text = text.replace(key, value)
    return text


def _schema_sql() -> str:
    """The schema text with the vocabularies filled in from :mod:`grid.model`."""
    return _fill(resources.files("grid").joinpath("schema.sql").read_text(encoding="utf-8"))


def _migration(name: str) -> str:
    return _fill(resources.files("grid").joinpath("migrations", name).read_text(encoding="utf-8"))


#: Migrations: version -> SQL that brings the previous version to it.
_MIGRATIONS: dict[int, Any] = {
    1: _schema_sql,
    2: lambda: _migration("0002_household_history.sql"),
    3: lambda: _migration("0003_access.sql"),
    4: lambda: _migration("0004_plans.sql"),
    5: lambda: _migration("0005_sign_in.sql"),
    6: lambda: _migration("0006_roads.sql"),
    7: lambda: _migration("0007_needs_flow.sql"),
    8: lambda: _migration("0008_members.sql"),
    9: lambda: _migration("0009_applications.sql"),
    10: lambda: _migration("0010_addresses.sql"),
}


def _is_locked(exc: BaseException) -> bool:
    return "lock" in str(exc).lower()


class _Host:
    """The process's one DuckDB instance, with the spatial extension loaded once (0.27 s each time
    otherwise); every open database is ATTACHed to it under an alias of its own.

    A file open twice in one process is attached once and counted: it is DETACHed (checkpointed,
    its lock released) when the last store on it closes. A file attached for writing serves a
    read-only store too; one attached read-only cannot be opened for writing until it is closed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._files: dict[str, list[Any]] = {}  # resolved path -> [alias, read_only, stores]

    def attached(self, path: str) -> bool:
        """Whether ``path`` is open in this process already."""
        with self._lock:
            return _file_key(path) in self._files

    def attach(self, path: str, read_only: bool) -> tuple[duckdb.DuckDBPyConnection, str, str]:
        """A connection on the host using ``path``'s database: ``(connection, alias, key)``."""
        memory = path == ":memory:"
        key = f":memory:{secrets.token_hex(8)}" if memory else _file_key(path)
        with self._lock:
            if self._con is None:
                con = _connect(":memory:", read_only=False)
                _load_spatial(con)
                self._con = con
            entry = self._files.get(key)
            if entry is not None and entry[1] and not read_only:
                raise StoreError(
                    f"数据库 {path} 已在本程序中以只读方式打开，关闭后才能以可写方式打开。",
                    f"the database {path} is open read-only in this process; close it before opening it for "
                    "writing.",
                )
            if entry is None:
                alias = f"wg_{secrets.token_hex(8)}"
                literal = path.replace("'", "''")  # ATTACH takes no bound parameters
                cur = self._con.cursor()
                try:
                    cur.execute(f"ATTACH '{literal}' AS {alias}" + (" (READ_ONLY)" if read_only else ""))
                except duckdb.Error as exc:
                    raise _open_error(path, exc) from exc
                finally:
                    cur.close()
                entry = self._files[key] = [alias, read_only, 0]
            entry[2] += 1
            con = self._con.cursor()
            con.execute(f"USE {entry[0]}")
            return con, str(entry[0]), key

    def cursor(self, alias: str) -> duckdb.DuckDBPyConnection:
        """A new connection on the host, using the database ``alias``."""
        with self._lock:
            assert self._con is not None
            cur = self._con.cursor()
        cur.execute(f"USE {alias}")
        return cur

    def release(self, key: str) -> None:
        """One store on ``key`` closed: DETACH the database when it was the last."""
        with self._lock:
            entry = self._files.get(key)
            if entry is None:
                return
            entry[2] -= 1
            if entry[2] > 0 or self._con is None:
                return
            del self._files[key]
            cur = self._con.cursor()
            try:
                cur.execute(f"DETACH {entry[0]}")
            finally:
                cur.close()


def _file_key(path: str) -> str:
    return str(Path(path).resolve())


_HOST = _Host()


def _open_error(path: str, exc: BaseException) -> StoreError:
    """The error to raise for a database file DuckDB could not open."""
    if _is_locked(exc):
        return DatabaseLockedError(
            f"数据库文件 {path} 正被另一个程序（例如正在运行的 WarmGrid 应用）占用，无法打开。"
            "请先关闭该程序，或在应用中操作。",
            f"The database file {path} is held by another process (for example a running "
            "WarmGrid app) and cannot be opened. Stop that process first, or do this in the app.",
        )
    if "not a valid duckdb database" in str(exc).lower():
        return NotWarmGridDatabaseError(
            f"{path} 不是 DuckDB 数据库文件，未做任何修改。",
            f"{path} is not a DuckDB database file; nothing was changed.",
        )
    return StoreError(f"无法打开数据库 {path}：{exc}", f"cannot open database {path}: {exc}")


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    # Never fetch an extension from the network, even implicitly.
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    try:
        return duckdb.connect(path, read_only=read_only, config=config)
    except duckdb.IOException as exc:
        raise _open_error(path, exc) from exc


def is_held(path: str | Path) -> bool:
    """Whether another process holds the database file, so that it cannot be opened here (even read-only).

    A missing file, or one that is not a DuckDB database, is not held.
    """
    try:
        con = duckdb.connect(str(path), read_only=True, config={"autoinstall_known_extensions": False,
                                                                 "autoload_known_extensions": False})
    except duckdb.IOException as exc:
        return _is_locked(exc)
    except duckdb.Error:
        return False
    con.close()
    return False


def _inspect(con: duckdb.DuckDBPyConnection, path: str) -> int | None:
    """Return the schema version of an existing WarmGrid database, ``None`` if empty.

    Raises if the database holds tables but is not WarmGrid's, or is newer.
    """
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
    if not tables:
        return None
    if "warmgrid_meta" not in tables:
        raise NotWarmGridDatabaseError(
            f"{path} 是 DuckDB 数据库，但不是 WarmGrid 数据库（没有 warmgrid_meta 表），未做任何修改。",
            f"{path} is a DuckDB database but not a WarmGrid one (no warmgrid_meta table); "
            "nothing was changed.",
        )
    meta = dict(con.execute("SELECT key, value FROM warmgrid_meta").fetchall())
    if meta.get("application") != APPLICATION or "schema_version" not in meta:
        raise NotWarmGridDatabaseError(
            f"{path} 的 warmgrid_meta 表不属于 WarmGrid，未做任何修改。",
            f"{path} has a warmgrid_meta table that is not WarmGrid's; nothing was changed.",
        )
    version = int(meta["schema_version"])
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{path} 的数据结构版本为 {version}，比本程序支持的版本 {SCHEMA_VERSION} 新。"
            "请升级 WarmGrid；未做任何修改。",
            f"{path} has schema version {version}, newer than the {SCHEMA_VERSION} this WarmGrid "
            "understands. Upgrade WarmGrid; nothing was changed.",
        )
    return version


class Store:
    """An open WarmGrid database.

    Reads go through :meth:`query` (or :meth:`cursor` for DuckDB's relational
    API), each thread on its own cursor. Writes go through :meth:`transaction`,
    which holds the store's single write lock for one DuckDB transaction.
    ``generation`` counts committed transactions: caches key on it.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, read_only: bool, alias: str, key: str) -> None:
        self._con = con
        self._alias = alias  # the database's name on the process's DuckDB instance (:class:`_Host`)
        self._key = key
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        self._local = threading.local()
        self.generation = 0
        self._owner: Store | None = None  # set on a read-only view of another store
        self._close_hooks: list[Callable[[], None]] = []
        self._closed = False

    # ----------------------------------------------------------------- reading
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor on the database."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            # A cursor left idle holds nothing: the database closes when the store does.
            cur = _HOST.cursor(self._alias)
            self._local.cursor = cur
        return cur

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a read query with bound parameters and return a DataFrame."""
        cur = getattr(self._local, "tx", None) or self.cursor()
        return cur.execute(sql, params or []).df()

    def query_flat(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """:meth:`query` for flat columns (text, numbers, booleans) through Arrow: the same frame, faster.

        DuckDB's ``.df()`` converts text columns value by value; going through an
        Arrow table keeps pandas' Arrow-backed strings as they come (1,000,000
        households with three text columns: 0.4 s instead of 1.1 s). Use it only
        for columns whose pandas dtype is the same both ways (not for lists,
        blobs, decimals or timestamps).
        """
        cur = getattr(self._local, "tx", None) or self.cursor()
        return cur.execute(sql, params or []).to_arrow_table().to_pandas()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        """Run a query and return the first column of its first row (or ``None``)."""
        cur = getattr(self._local, "tx", None) or self.cursor()
        row = cur.execute(sql, params or []).fetchone()
        return None if row is None else row[0]

    def meta(self, key: str) -> str | None:
        """A value of ``warmgrid_meta``."""
        value = self.scalar("SELECT value FROM warmgrid_meta WHERE key = ?", [key])
        return None if value is None else str(value)

    def schema_version(self) -> int:
        """The database's schema version."""
        return int(self.meta("schema_version") or 0)

    def metric_crs(self) -> str:
        """The metric CRS for distances in this district (a UTM zone).

        Chosen from the data's centroid on the first :meth:`refresh_derived`;
        before any data, the UTM zone of the demo district.
        """
        return self.meta("metric_crs") or utm_epsg(118.08, 24.48)

    def count(self, table: str) -> int:
        """Number of rows in an allow-listed table."""
        return int(self.scalar(f"SELECT count(*) FROM {_table(table)}"))

    # ----------------------------------------------------------------- writing
    @contextmanager
    def transaction(self, *, data: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the write lock and one transaction; commit on success, roll back on error.

        Nested use in the same thread joins the outer transaction. ``data=False``
        marks bookkeeping (sign-in state, the audit log) that no analysis reads:
        committing it leaves :attr:`generation`, and so every cached analysis, alone.
        """
        if self.read_only:
            raise ReadOnlyError(
                f"数据库 {self.path} 以只读方式打开，不能写入。",
                f"the database {self.path} was opened read-only; it cannot be written.",
            )
        with self._lock:
            outer = getattr(self._local, "tx", None)
            if outer is not None:
                yield outer
                return
            cur = _HOST.cursor(self._alias)
            cur.execute("BEGIN TRANSACTION")
            self._local.tx = cur
            try:
                yield cur
                cur.execute("COMMIT")
                if data:
                    self.generation += 1
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                self._local.tx = None
                cur.close()

    def set_meta(self, key: str, value: str) -> None:
        """Insert or replace a value of ``warmgrid_meta``."""
        with self.transaction() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO warmgrid_meta (key, value) VALUES (?, ?)", [key, value]
            )

    def refresh_derived(self) -> None:
        """Recompute every derived column from its inputs, in one transaction.

        - ``warmgrid_meta.metric_crs``: the UTM zone of the data's centroid, if unset;
        - ``households.x_m/y_m`` and ``stations.x_m/y_m``: metric coordinates;
        - ``cells.area_m2``;
        - ``households.cell_id``: the cell whose polygon contains the point
          (on a shared edge, the lowest ``cell_id``); ``NULL`` when outside every cell.
        """
        with self.transaction() as cur:
            if self.meta("metric_crs") is None:
                row = cur.execute(
                    "SELECT avg(ST_X(geom)), avg(ST_Y(geom)) FROM ("
                    " SELECT ST_Centroid(geom) AS geom FROM cells UNION ALL"
                    " SELECT geom FROM households)"
                ).fetchone()
                if row is not None and row[0] is not None:
                    cur.execute(
                        "INSERT OR REPLACE INTO warmgrid_meta VALUES ('metric_crs', ?)",
                        [utm_epsg(float(row[0]), float(row[1]))],
                    )
            crs = self.metric_crs()
            for table in ("households", "stations"):
                cur.execute(
                    f"UPDATE {table} SET x_m = ST_X(p), y_m = ST_Y(p) FROM ("
                    f" SELECT rowid AS rid, ST_Transform(geom, ?, ?, always_xy := true) AS p FROM {table}"
                    f") t WHERE {table}.rowid = t.rid",
                    [WGS84, crs],
                )
            cur.execute(
                "UPDATE cells SET area_m2 = ST_Area(ST_Transform(geom, ?, ?, always_xy := true))",
                [WGS84, crs],
            )
            cur.register("_hh_cell", household_cells(cur))
            try:
                cur.execute(
                    "UPDATE households SET cell_id = m.cell_id FROM _hh_cell m"
                    " WHERE households.hh_id = m.hh_id AND households.cell_id IS DISTINCT FROM m.cell_id"
                )
            finally:
                cur.unregister("_hh_cell")

    # ---------------------------------------------------------------- copying
    def table_sums(self, cur: duckdb.DuckDBPyConnection | None = None) -> dict[str, tuple[int, str]]:
        """Every table of the database (the data contract's and ``warmgrid_meta``): its rows and a checksum.

        The checksum is the sum, as a decimal string, of the lower 64 bits of the MD5 of each row's
        text: independent of the rows' order, and changed by any change of a value, a row added,
        removed or repeated. ``cur`` reads inside that cursor's transaction (a snapshot).

        >>> s = open_store(":memory:")
        >>> sums = s.table_sums()
        >>> sums["users"], sums["warmgrid_meta"][0]
        ((0, '0'), 2)
        >>> s.close()
        """
        cur = cur or getattr(self._local, "tx", None) or self.cursor()
        names = [r[0] for r in cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            " AND schema_name = 'main' AND NOT temporary ORDER BY table_name").fetchall()]
        out: dict[str, tuple[int, str]] = {}
        for name in names:
            row = cur.execute(f"SELECT count(*), coalesce(sum(md5_number_lower(CAST(t AS VARCHAR))), 0)::VARCHAR"
                              f" FROM {_quote(name)} AS t").fetchone()
            assert row is not None
            out[name] = (int(row[0]), str(row[1]))
        return out

    def copy_to(self, path: str | Path) -> tuple[float, dict[str, tuple[int, str]]]:
        """Copy the whole database as it is at one moment into the new file ``path``, while writers carry on.

        One read transaction (DuckDB's snapshot isolation) sees every table at the same moment;
        ``COPY FROM DATABASE`` writes the schema (constraints, indexes, sequences) and every row
        into ``path``, attached for the copy and detached (so complete on disk) before this returns.
        Writes committed meanwhile by other threads are not in the copy and are not held up.

        Returns the moment of the snapshot (seconds since the epoch, UTC) and :meth:`table_sums`
        as they were at that moment.

        >>> import tempfile, pathlib
        >>> s = open_store(":memory:")
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "copy.duckdb"
        >>> moment, sums = s.copy_to(target)
        >>> c = open_store(target, read_only=True); c.table_sums() == sums
        True
        >>> c.close(); s.close()
        """
        target = Path(path)
        if target.exists():
            raise StoreError(f"复制目标已存在：{target}", f"the copy's target already exists: {target}")
        alias = f"warmgrid_copy_{secrets.token_hex(8)}"
        cur = _HOST.cursor(self._alias)
        try:
            # ATTACH takes no bound parameters: the path is a quoted literal.
            literal = str(target).replace("'", "''")
            cur.execute(f"ATTACH '{literal}' AS {alias} (READ_WRITE)")
            try:
                cur.execute("BEGIN TRANSACTION")
                try:
                    row = cur.execute("SELECT current_database(), epoch(now())").fetchone()
                    assert row is not None
                    source, moment = str(row[0]), float(row[1])
                    sums = self.table_sums(cur)
                    cur.execute(f"COPY FROM DATABASE {_quote(source)} TO {alias}")
                    cur.execute("COMMIT")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
            finally:
                cur.execute(f"DETACH {alias}")
        finally:
            cur.close()
        return moment, sums

    # ------------------------------------------------------------------- misc
    def read_only_view(self) -> Store:
        """This open database, read-only: its own cursors, every write refused (:class:`ReadOnlyError`).

        What a command that opens the file read-only gets when the file is already open
        in this process (the job channel of a running app). Closing the view leaves the
        database open.

        >>> s = open_store(":memory:")
        >>> v = s.read_only_view()
        >>> v.count("users"), v.read_only
        (0, True)
        >>> v.close(); s.count("users")
        0
        >>> s.close()
        """
        view = Store(self._con, self.path, True, self._alias, self._key)
        view._owner = self
        view.generation = self.generation
        return view

    def on_close(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` when the store closes, before the database does (e.g. stop a job server)."""
        self._close_hooks.append(hook)

    def close(self) -> None:
        """Close the database (a read-only view closes only itself). Closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        hooks, self._close_hooks = self._close_hooks, []
        for hook in hooks:
            hook()
        cur = getattr(self._local, "cursor", None)
        if cur is not None:
            cur.close()
            self._local.cursor = None
        if self._owner is None:
            self._con.close()
            _HOST.release(self._key)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quote(name: str) -> str:
    """An SQL identifier, double-quoted (for names read from the catalog)."""
    return '"' + name.replace('"', '""') + '"'


def _table(name: str) -> str:
    if name not in TABLES:
        raise StoreError(f"未知的表：{name}", f"unknown table: {name}")
    return name


def _load_spatial(con: duckdb.DuckDBPyConnection) -> None:
    path = spatial_extension_path()
    con.execute(f"LOAD '{path.as_posix()}'")


def _check_version(version: int | None, spath: str, read_only: bool, as_is: bool) -> None:
    """Refuse an empty file read-only, and a read-only open of an older schema (unless ``as_is``)."""
    if version is None and read_only:
        raise NotWarmGridDatabaseError(
            f"{spath} 是空的 DuckDB 数据库，不是 WarmGrid 数据库。",
            f"{spath} is an empty DuckDB database, not a WarmGrid one.",
        )
    if version is not None and version < SCHEMA_VERSION and read_only and not as_is:
        raise StoreError(
            f"{spath} 的数据结构版本为 {version}，需要升级到 {SCHEMA_VERSION}；请先以可写方式打开一次"
            "（例如启动应用）。",
            f"{spath} has schema version {version} and needs upgrading to {SCHEMA_VERSION}; open it "
            "once for writing first (for example by starting the app).",
        )


def open_store(path: str | Path, *, read_only: bool = False, create: bool = True, as_is: bool = False) -> Store:
    """Open a WarmGrid database, creating or migrating it as needed.

    Parameters
    ----------
    path : str or Path
        The database file, or ``":memory:"``.
    read_only : bool
        Open without the right to write (another reader may share the file).
    create : bool
        Create the schema when the file is new or empty. When false, a missing
        file is an error.
    as_is : bool
        With ``read_only``: open a database of an older schema version as it is, without
        asking for its upgrade (to check a backup's contents before restoring it).

    Raises
    ------
    ExtensionMissingError, NotWarmGridDatabaseError, SchemaTooNewError,
    DatabaseLockedError, StoreError
        With a message in Chinese and English; the file is left unchanged.
    """
    spath = str(path)
    memory = spath == ":memory:"
    exists = not memory and Path(spath).exists()
    spatial_extension_path()  # fail early, before touching the file
    if not memory and not exists and (read_only or not create):
        raise StoreError(f"数据库文件不存在：{spath}", f"database file not found: {spath}")
    shared = exists and _HOST.attached(spath)  # open in this process already: inspected through it
    version: int | None = None
    if exists and not shared:
        # Inspect read-only first, so a foreign or newer file is never modified.
        probe = _connect(spath, read_only=True)
        try:
            version = _inspect(probe, spath)
        finally:
            probe.close()
        _check_version(version, spath, read_only, as_is)
    con, alias, key = _HOST.attach(spath, read_only)
    try:
        if shared:
            version = _inspect(con, spath)
            _check_version(version, spath, read_only, as_is)
        store = Store(con, spath, read_only, alias, key)
        if not read_only and (version or 0) < SCHEMA_VERSION:
            _migrate(store, version or 0)
        return store
    except BaseException:
        con.close()
        _HOST.release(key)
        raise


def _migrate(store: Store, version: int) -> None:
    with store.transaction() as cur:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            step = _MIGRATIONS[target]
            cur.execute(step() if callable(step) else step)
        cur.execute(
            "INSERT OR REPLACE INTO warmgrid_meta VALUES ('application', ?), ('schema_version', ?)",
            [APPLICATION, str(SCHEMA_VERSION)],
        )
    # Write the new schema into the file itself at once. Left in the write-ahead log, a table with a
    # GEOMETRY column cannot be replayed by the next open's first (extension-less) connection if the
    # process then dies without closing the file: DuckDB fails with an internal error.
    store.cursor().execute("CHECKPOINT")
