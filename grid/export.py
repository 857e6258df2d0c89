"""Files out: any table or analysis result to CSV (UTF-8 with BOM, so Excel opens
it), XLSX (ids and phone numbers as text), GeoJSON, GeoPackage and GeoParquet.

Tables are written with the same Chinese headers the importer reads, so an
export imports back to the same rows. Text that a spreadsheet would run as a
formula is neutralised in every .csv and .xlsx (:mod:`grid.sheetsafe`).

:func:`export_table` and :func:`download` are what users reach: they ask the
access policy first and write the audit row themselves. Coordinates are WGS84 unless asked
otherwise (``crs="gcj02"`` for users who put points on Amap; ``bd09``; an EPSG
code). CSV and XLSX carry points as 经度/纬度 columns and polygons as WKT.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> export_frame(pd.DataFrame({"a": [1]}), out)
1
>>> out.read_bytes()[:3] == b"\\xef\\xbb\\xbf"
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from grid import audit, model
from grid import crs as crs_mod
from grid import labels as label_words
from grid.access import Actor, ensure
from grid.errors import WarmGridError
from grid.ingest import KINDS
from grid.sheetsafe import neutralise, neutralise_frame
from grid.store import TABLES, Store

__all__ = ["EXPORT_FORMATS", "USER_EXPORT_COLUMNS", "export_frame", "export_bytes", "table_frame", "export_table",
           "download"]

#: Formats by suffix.
EXPORT_FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson", ".gpkg": "gpkg", ".parquet": "geoparquet"}

#: The only columns of ``users`` any export writes (an allow-list, so a column added later stays out):
#: never the password hash, nor the sign-in state (failed attempts, lock-out), which tells an
#: attacker which accounts are being guessed at.
USER_EXPORT_COLUMNS = ("user_id", "username", "display_name", "role", "scope", "person_id", "disabled",
                       "created_at", "last_login")

#: Columns that must stay text in spreadsheets (ids, codes, phones).
_TEXT_HINTS = ("_id", "code", "phone", "id_number", "身份证", "电话", "编号", "编码", "代码", "网格")


def _format(path: Path) -> str:
    fmt = EXPORT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise WarmGridError(f"不支持的导出格式：{path.name}（可选 {', '.join(EXPORT_FORMATS)}）",
                            f"unsupported export format: {path.name} (one of {', '.join(EXPORT_FORMATS)})")
    return fmt


def _convert(geoms: np.ndarray, crs: str) -> np.ndarray:
    if crs in ("wgs84", "cgcs2000"):
        return geoms

    def conv(xy: np.ndarray) -> np.ndarray:
        x, y = crs_mod.from_wgs84(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([x, y])

    return np.array([None if g is None else shapely.transform(g, conv) for g in geoms], dtype=object)


def export_frame(frame: pd.DataFrame, path: str | Path, *, geometry: str | None = None, crs: str = "wgs84",
                 sheet: str = "数据") -> int:
    """Write a frame (optionally with a shapely ``geometry`` column in WGS84) to ``path``.

    Returns the number of rows written. The file is written to a temporary name
    and renamed, so a failed export never leaves half a file.
    """
    out = Path(path)
    fmt = _format(out)
    crs = crs_mod.parse_crs(crs)
    df = frame.copy()
    geoms = None
    if geometry is not None:
        geoms = _convert(df.pop(geometry).to_numpy(), crs)
    tmp = out.with_name(f".{out.stem}.part{out.suffix}")
    try:
        if fmt in ("csv", "xlsx"):
            if geoms is not None:
                if all(g is None or g.geom_type == "Point" for g in geoms):
                    df["经度"] = [None if g is None else g.x for g in geoms]
                    df["纬度"] = [None if g is None else g.y for g in geoms]
                else:
                    df["WKT"] = [None if g is None else g.wkt for g in geoms]
            if fmt == "csv":
                # CR LF between rows, as spreadsheets write: a field holding a CR or LF is then quoted.
                neutralise_frame(_flat_lists(df)).to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n")
            else:
                _write_xlsx(df, tmp, sheet)
        else:
            if geoms is None:
                raise WarmGridError(f"{fmt} 需要几何字段", f"{fmt} needs a geometry")
            epsg = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490"}.get(crs, crs if crs.startswith("EPSG:") else None)
            flat = df.copy()
            for c in flat.columns:
                if flat[c].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
                    flat[c] = flat[c].map(lambda v: ",".join(map(str, v)) if v is not None else None)
            gdf = gpd.GeoDataFrame(flat, geometry=gpd.GeoSeries(list(geoms)), crs=epsg)
            if fmt == "geojson":
                gdf.to_file(tmp, driver="GeoJSON", engine="pyogrio")
            elif fmt == "gpkg":
                gdf.to_file(tmp, driver="GPKG", engine="pyogrio", layer=out.stem)
            else:
                gdf.to_parquet(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return len(df)


def export_bytes(frame: pd.DataFrame, suffix: str, *, geometry: str | None = None, crs: str = "wgs84",
                 sheet: str = "数据") -> bytes:
    """:func:`export_frame` into memory (for download buttons): the file's bytes."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"export{suffix}"
        export_frame(frame, path, geometry=geometry, crs=crs, sheet=sheet)
        return path.read_bytes()


def _write_xlsx(df: pd.DataFrame, path: Path, sheet: str) -> None:
    """Write ``df`` as one sheet, streamed (openpyxl's write-only mode: rows are not kept in memory).

    Every text goes through :func:`grid.sheetsafe.neutralise` on its way in, so no
    cell is left that a spreadsheet would run (the whole-workbook walk of
    :func:`grid.sheetsafe.neutralise_workbook` has nothing left to do here); id
    and phone columns are typed as text (``@``) so that they stay text when
    someone edits and saves the file.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet[:31])
    for i, c in enumerate(df.columns):
        ws.column_dimensions[get_column_letter(i + 1)].width = max(10, min(40, len(str(c)) * 2 + 4))
    ws.freeze_panes = "A2"
    ws.append([neutralise(str(c)) for c in df.columns])
    text_cols = {i for i, c in enumerate(df.columns) if any(h in str(c) for h in _TEXT_HINTS)}

    def as_text(v: Any) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=v)
        cell.number_format = "@"  # keep ids and phones as text when someone edits and saves
        return cell

    for row in df.itertuples(index=False):
        values: list[Any] = []
        for i, v in enumerate(row):
            if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
                values.append(as_text(None) if i in text_cols else None)
            elif i in text_cols or isinstance(v, (list, tuple, np.ndarray)):
                text = neutralise("、".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else str(v))
                values.append(as_text(text) if i in text_cols else text)
            elif isinstance(v, str):
                values.append(neutralise(v))
            elif isinstance(v, pd.Timestamp):
                values.append(v.to_pydatetime())
            elif isinstance(v, (np.integer,)):
                values.append(int(v))
            elif isinstance(v, (np.floating,)):
                values.append(float(v))
            else:
                values.append(v)
        ws.append(values)
    wb.save(path)


def table_frame(store: Store, table: str, *, labels: bool = True) -> tuple[pd.DataFrame, str | None]:
    """A table as a frame with its geometry (shapely, WGS84) and importer headers.

    Returns ``(frame, geometry column or None)``. With ``labels``, columns are
    renamed to the Chinese headers the importer maps back, and hardship
    categories are written as Chinese labels. ``users`` comes with
    :data:`USER_EXPORT_COLUMNS` only: never a password hash. Binary columns (a photo's
    bytes in ``need_photos``) are left out.
    """
    if table not in TABLES:
        raise WarmGridError(f"未知的表：{table}", f"unknown table: {table}")
    cols = store.query("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database()"
                       " AND schema_name = 'main' AND table_name = ?"
                       " ORDER BY column_index", [table])
    if table == "users":
        cols = cols[cols["column_name"].isin(USER_EXPORT_COLUMNS)]
    cols = cols[cols["data_type"] != "BLOB"]  # a photo's bytes are no spreadsheet cell (need_photos)
    has_geom = (cols["data_type"] == "GEOMETRY").any()
    # Column names come from DuckDB's catalogue; quoted, since some are keywords (``at``).
    select = ", ".join(
        f'ST_AsWKB("{c}") AS "{c}"' if t == "GEOMETRY" else f'"{c}"'
        for c, t in zip(cols["column_name"], cols["data_type"], strict=True) if c not in ("x_m", "y_m"))
    key = KINDS[table].key if table in KINDS else cols["column_name"].iloc[0]
    df = store.query(f'SELECT {select} FROM {table} ORDER BY "{key}"')
    geom = None
    if has_geom:  # the table's (first) geometry column: ``geom``, or e.g. ``start_geom`` of plan_visitors
        geom = str(cols.loc[cols["data_type"] == "GEOMETRY", "column_name"].iloc[0])
        df[geom] = [None if b is None or b is pd.NA or isinstance(b, float) else shapely.from_wkb(bytes(b))
                    for b in df[geom]]
    if labels and table in KINDS:
        spec = KINDS[table]
        rename = {}
        for f in spec.fields:
            if f.name in df.columns:
                rename[f.name] = f.zh
                if f.parse == "categories":
                    df[f.name] = df[f.name].map(lambda v: "、".join(model.label(c) for c in v) if v is not None else "")
        if "cell_id" in df.columns and table == "households":
            rename["cell_id"] = "所属网格"
        # Columns an import does not read (``updated_at``, ``active`` ...) get their label too.
        rename.update({c: label_words.column(c) for c in df.columns if c not in rename and c != geom})
        df = df.rename(columns=rename)
    elif labels:
        df = labelled_frame(df, keep=geom)
    return df, geom


def labelled_frame(df: pd.DataFrame, *, keep: str | None = None) -> pd.DataFrame:
    """A table outside the importer's kinds, as a file shows it: :func:`grid.labels.labelled`, its
    geometry column (``keep``) left as it is."""
    geom = df.pop(keep) if keep is not None and keep in df.columns else None
    out = label_words.labelled(_flat_lists(df))
    if geom is not None:
        out[keep] = geom.to_numpy()
    return out


def export_table(store: Store, actor: Actor, table: str, path: str | Path, *, crs: str = "wgs84") -> int:
    """Export one table of the data contract, with its audit row; returns the number of rows.

    The actor must be allowed to ``export_table`` the table.
    """
    ensure(actor, "export_table", table, log=store)
    df, geom = table_frame(store, table)
    n = export_frame(df, path, geometry=geom, crs=crs)
    audit.record(store, actor, "export", object=f"{table}{Path(path).suffix.lower()} ({crs})", row_count=n)
    return n


def download(store: Store, actor: Actor, what: str, frame: pd.DataFrame, suffix: str = ".csv", *,
             detail: str = "", geometry: str | None = None, crs: str = "wgs84", sheet: str = "数据") -> bytes:
    """A page's figures or list as file bytes for a download button, with its audit row.

    The actor must be allowed to ``download`` ``what`` (a key of
    :data:`grid.access.DOWNLOADS`). ``frame`` is what the page shows, already
    in the actor's scope and masked for it; text is made formula-safe
    (:func:`export_frame`). Pass this as a callable to the button so the
    file is made, and the audit row written, only when the user asks for it.
    """
    ensure(actor, "download", what, log=store)
    data = export_bytes(frame, suffix, geometry=geometry, crs=crs, sheet=sheet)
    audit.record(store, actor, "export", object=f"{what}:{detail}" if detail else what, row_count=len(frame))
    return data


def _flat_lists(df: pd.DataFrame) -> pd.DataFrame:
    """Lists and arrays in cells as ``、``-joined text (as the .xlsx writer does)."""
    out = df
    for c in df.columns:
        if df[c].dtype == object and df[c].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            if out is df:
                out = df.copy()
            out[c] = df[c].map(lambda v: "、".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else v)
    return out
