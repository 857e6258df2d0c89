"""Reading files: CSV, XLSX/XLS, GeoJSON, Shapefile, GeoPackage and GeoParquet, and
any of them inside a zip — encodings detected, nothing read from outside the file.

:func:`read_source` reads a file on disk, :func:`read_upload` the bytes of an
uploaded file (under the name the browser gave, which never becomes a path),
and :func:`zip_datasets` lists what a zip offers. :mod:`grid.ingest` maps,
validates and writes what they read (``from grid.ingest import read_source,
Source`` keeps working).

**Zips.** A zip usually holds a Shapefile (``.shp``, ``.shx``, ``.dbf``, ideally
``.prj`` and ``.cpg``), possibly in a folder; it may instead hold one CSV,
Excel, GeoJSON, GeoPackage or GeoParquet file. Every member name is checked
before anything is extracted: absolute paths, ``..`` components, drive letters
and colons, control characters, links and other special files, encrypted
members and duplicate names refuse the whole zip. Only the chosen dataset (and
a Shapefile's companion files) is extracted, member by member, under names
made here (never the member's path) into a private temporary folder that is
removed after reading; the bytes actually written are counted and extraction
stops as soon as they pass the limit, which is also checked first against the
members' declared sizes. The limit is ``WARMGRID_MAX_UNZIPPED_MB`` (MiB,
default 500), read at each call, or the ``max_unzipped`` argument (bytes).
The extracted ``.shp`` gets the same ``.dbf`` encoding detection as a loose
one (a GBK ``.dbf`` without ``.cpg`` is read as GBK).

Examples
--------
>>> import io, zipfile
>>> buf = io.BytesIO()
>>> with zipfile.ZipFile(buf, "w") as zf:
...     zf.writestr("../../etc/x.csv", "a\\n1\\n")
>>> zip_datasets(buf.getvalue(), name="x.zip")
Traceback (most recent call last):
...
grid.errors.WarmGridError: x.zip 中的文件 ../../etc/x.csv 不安全：路径含有“..”。已拒绝整个压缩包，未解压任何文件。
x.zip: the member ../../etc/x.csv is unsafe: its path holds '..'. The whole zip is refused; nothing was extracted.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from grid import validators
from grid.errors import Problem, WarmGridError

__all__ = [
    "FORMATS",
    "MAX_UNZIPPED_ENV",
    "DEFAULT_MAX_UNZIPPED_MB",
    "Source",
    "csv_frame",
    "decode_text",
    "detect_encoding",
    "max_unzipped_bytes",
    "read_source",
    "read_upload",
    "zip_datasets",
]

#: Formats by file suffix (a zip holds one of the others).
FORMATS: dict[str, str] = {
    ".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls",
    ".geojson": "geojson", ".json": "geojson", ".shp": "shp", ".zip": "zip",
    ".gpkg": "gpkg", ".parquet": "geoparquet", ".geoparquet": "geoparquet",
    ".osm": "osm", ".pbf": "osm",
}

#: The environment variable that sets the most a zip may extract to, in MiB.
MAX_UNZIPPED_ENV = "WARMGRID_MAX_UNZIPPED_MB"
#: The limit when the variable is not set.
DEFAULT_MAX_UNZIPPED_MB = 500

_MIB = 1024 * 1024
_CHUNK = _MIB
#: A zip with more members than this is refused (a listing bomb).
_MAX_MEMBERS = 10_000
#: A Shapefile's companion files extracted with its .shp (.shx and .dbf are required).
_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qpj")


@dataclass
class Source:
    """A file as read: raw values, geometries, user row numbers and how it was read.

    ``member`` is the dataset's name inside a zip (``path`` is then the zip);
    :attr:`name` names both, as messages and the import log show them.
    """

    path: Path
    format: str
    frame: pd.DataFrame
    rows: np.ndarray  # the user's row numbers
    geoms: list[BaseGeometry | None] | None = None
    encoding: str | None = None
    file_crs: str | None = None
    sha256: str = ""
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    member: str | None = None

    @property
    def name(self) -> str:
        """The file's name, and the member's for a zip: ``住户.zip/数据/住户.shp``."""
        return self.path.name if self.member is None else f"{self.path.name}/{self.member}"


def detect_encoding(data: bytes) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` or ``gb18030``, by strict decoding; never guesses.

    >>> detect_encoding("户主".encode("gbk"))
    'gb18030'

    Raises
    ------
    WarmGridError
        If the bytes are neither valid UTF-8 nor valid GB18030.
    """
    return decode_text(data)[0]


def decode_text(data: bytes) -> tuple[str, str]:
    """The encoding :func:`detect_encoding` names and the text it decodes, decoded once.

    >>> decode_text("\\ufeff户主".encode("utf-8"))
    ('utf-8-sig', '户主')
    >>> decode_text("户主".encode("gb18030"))
    ('gb18030', '户主')

    Raises
    ------
    WarmGridError
        If the bytes are neither valid UTF-8 nor valid GB18030.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return "utf-8-sig", data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _decode_error(exc, "UTF-8") from None
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return "gb18030", data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise _decode_error(exc, "UTF-8 / GB18030") from None


def csv_frame(text: str) -> pd.DataFrame:
    """A CSV's text as a frame of strings: every value as written, ``""`` for an empty one.

    What :func:`pandas.read_csv` gives with ``dtype=str, keep_default_na=False``, read by
    Arrow's multithreaded parser when the text is one pandas would read the same way: a
    header of distinct, non-empty names, and every row with as many fields. Anything else
    (short or long rows, repeated or empty names, a file Arrow refuses) is read by pandas
    itself, whose frame or error is the answer. ``tests/test_csv_frame.py`` holds the two
    readers to the same frames.

    >>> csv_frame('户编号,户主姓名\\nH1,"张, 三"\\nH2,\\n').values.tolist()
    [['H1', '张, 三'], ['H2', '']]

    Raises
    ------
    pandas.errors.EmptyDataError
        If the text holds no header.
    """
    fast = _csv_frame_arrow(text)
    if fast is not None:
        return fast
    # pandas' C parser reads bytes: given text, it re-encodes it piece by piece through a wrapper.
    return pd.read_csv(io.BytesIO(text.encode("utf-8")), encoding="utf-8", dtype=str, keep_default_na=False,
                       skipinitialspace=False)


def _csv_frame_arrow(text: str) -> pd.DataFrame | None:
    """:func:`csv_frame` by Arrow, or ``None`` where pandas might read the text otherwise."""
    import csv

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    # pandas' C parser reads NUL, and a carriage return that ends no line ("\r" but not "\r\n")
    # in a file of other line ends, in its own ways.
    if "\x00" in text or ("\r" in text and text.count("\r") != text.count("\r\n")):
        return None
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), None)
    except csv.Error:
        return None
    # pandas renames repeated names ("a.1") and empty ones ("Unnamed: 0"), and skips lines of
    # spaces, which in a file of one column Arrow would read as values.
    if not header or len(header) < 2 or len(set(header)) != len(header) or "" in header:
        return None
    # A last row of quoted sentinels comes out whole only if the text ends outside any quotes:
    # pandas refuses a file that ends inside a quoted value, Arrow would read it.
    sentinel = "\x01\x02"
    utf8 = (text + "\n" + ",".join([f'"{sentinel}"'] * len(header)) + "\n").encode("utf-8")
    try:
        table = pacsv.read_csv(
            pa.py_buffer(utf8),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False,
                quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # a row of another length, among others: pandas reads it or says why
    del utf8
    if table.column_names != header or any(t != pa.string() for t in table.schema.types):
        return None
    last = table.slice(table.num_rows - 1)
    if table.num_rows == 0 or not all(pc.all(pc.equal(c, sentinel)).as_py() for c in last.columns):
        return None
    return table.slice(0, table.num_rows - 1).to_pandas()


def _decode_error(exc: UnicodeDecodeError, tried: str) -> WarmGridError:
    return WarmGridError(
        f"文件编码无法识别：既不是 UTF-8 也不是 GB18030（第 {exc.start} 字节）。请另存为 UTF-8 或 GBK 编码。",
        f"cannot read the file's encoding: neither {tried} (byte {exc.start}). Save it as UTF-8 or GBK.",
    )


def max_unzipped_bytes() -> int:
    """The most a zip may extract to, in bytes: ``WARMGRID_MAX_UNZIPPED_MB`` MiB (default 500).

    Read at every call, so a changed setting applies to the next upload.

    >>> max_unzipped_bytes() == DEFAULT_MAX_UNZIPPED_MB * 1024 * 1024 or MAX_UNZIPPED_ENV in os.environ
    True

    Raises
    ------
    WarmGridError
        If the variable is set to something that is not a positive number.
    """
    raw = os.environ.get(MAX_UNZIPPED_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_UNZIPPED_MB * _MIB
    try:
        mb = float(raw)
    except ValueError:
        mb = float("nan")
    if not math.isfinite(mb) or mb <= 0:
        raise WarmGridError(f"环境变量 {MAX_UNZIPPED_ENV} 应为正数（单位 MB），这里是 {raw!r}",
                            f"{MAX_UNZIPPED_ENV} must be a positive number of MB; it is {raw!r}")
    return int(mb * _MIB)


def no_rows(name: str) -> WarmGridError:
    """The error for a file without data rows (a header alone, or nothing at all)."""
    return WarmGridError(f"{name} 没有数据行（只有表头，或是空文件），未导入任何内容。",
                         f"no rows: {name} has no data rows (only a header, or nothing at all); nothing was imported.")


# --------------------------------------------------------------------------- entry points
def read_source(path: str | Path, *, sheet: str | int | None = None, member: str | None = None,
                max_unzipped: int | None = None, assume_sidewalks: bool = True) -> Source:
    """Read a file into a :class:`Source` (no validation beyond what reading needs).

    Parameters
    ----------
    path : str or Path
        A CSV/TXT, XLSX/XLSM/XLS, GeoJSON, Shapefile (``.shp``), GeoPackage or
        GeoParquet file, or a ``.zip`` holding one (see the module's notes).
    sheet : str or int, optional
        The worksheet of an Excel file (default: the first).
    member : str, optional
        The dataset to read in a zip that holds several (as :func:`zip_datasets`
        lists them).
    max_unzipped : int, optional
        The most a zip may extract to, in bytes (default: :func:`max_unzipped_bytes`).
    assume_sidewalks : bool
        For an OpenStreetMap extract (``.osm``, ``.osm.pbf``, read as its road
        ways by :func:`grid.roads.read_osm`): the tag rule's setting.

    Raises
    ------
    WarmGridError
        If the format is unknown, the file cannot be read at all, holds no data
        rows, or is a zip that is unsafe, too large or ambiguous.
    """
    p = Path(path)
    return _read(p, p, sheet=sheet, member=member, max_unzipped=max_unzipped, assume_sidewalks=assume_sidewalks)


def read_upload(name: str, data: bytes, *, sheet: str | int | None = None, member: str | None = None,
                max_unzipped: int | None = None) -> Source:
    r"""Read an uploaded file's bytes, shown under the (browser-given) ``name``.

    The bytes go to a private temporary folder under a name made here (only
    the suffix of ``name`` is used), are read as :func:`read_source` reads a
    file, and the folder is removed. The :class:`Source` is named after the
    last component of ``name``.

    >>> read_upload("C:\\Users\\me\\住户.csv", "户编号,地址\nH1,中山路1号\n".encode("gbk")).name
    '住户.csv'
    """
    shown = Path(_upload_name(name))
    with tempfile.TemporaryDirectory(prefix="warmgrid_upload_") as tmp:
        actual = Path(tmp) / f"upload{shown.suffix.lower()}"
        actual.write_bytes(data)
        return _read(actual, shown, sheet=sheet, member=member, max_unzipped=max_unzipped)


def zip_datasets(source: str | Path | bytes, *, name: str | None = None) -> list[str]:
    """The datasets a zip offers (its ``.shp`` files, else its other data files), sorted.

    Every member name is checked first, so an unsafe zip is refused here.
    ``source`` is a path or the zip's bytes; ``name`` names it in messages.

    Raises
    ------
    WarmGridError
        If it is not a zip, or any member is unsafe (see the module's notes).
    """
    if isinstance(source, bytes):
        label = validators.visible(name or "zip")
        with _open_zip(io.BytesIO(source), label) as (_, members):
            return _datasets(members)
    p = Path(source)
    with p.open("rb") as fh, _open_zip(fh, validators.visible(name or p.name)) as (_, members):
        return _datasets(members)


def _upload_name(name: str) -> str:
    base = PurePosixPath(str(name).replace("\\", "/")).name
    if base in ("", ".", ".."):
        raise WarmGridError(f"上传的文件名无效：{validators.visible(str(name))!r}",
                            f"the uploaded file has no usable name: {validators.visible(str(name))!r}")
    return base


def _read(actual: Path, shown: Path, *, sheet: str | int | None, member: str | None,
          max_unzipped: int | None, assume_sidewalks: bool = True) -> Source:
    """Read ``actual``, naming it ``shown`` in every message and in the :class:`Source`."""
    bad = validators.find_control(shown.name)
    if bad is not None:
        raise WarmGridError(f"文件名含有不允许的字符 {bad[1]}：{validators.visible(shown.name)}",
                            f"the file name holds a forbidden character {bad[1]}: {validators.visible(shown.name)}")
    fmt = FORMATS.get(shown.suffix.lower())
    if fmt is None:
        raise WarmGridError(
            f"不支持的文件格式：{shown.name}（支持 {', '.join(sorted(FORMATS))}）",
            f"unsupported file format: {shown.name} (supported: {', '.join(sorted(FORMATS))})",
        )
    if not actual.exists():
        raise WarmGridError(f"文件不存在：{shown}", f"file not found: {shown}")
    if fmt == "zip":
        limit = max_unzipped if max_unzipped is not None else max_unzipped_bytes()
        src = _read_zip(actual, shown, sheet=sheet, member=member, limit=limit)
    else:
        if member is not None:
            raise WarmGridError(f"{shown.name} 不是 zip 压缩包，不能选择其中的文件 {member}",
                                f"{shown.name} is not a zip; there is no member {member} to choose")
        data = actual.read_bytes()
        src = (_read_osm(actual, assume_sidewalks=assume_sidewalks) if fmt == "osm"
               else _read_file(actual, fmt, data, sheet, shown.name))
        src.path = shown
        src.sha256 = hashlib.sha256(data).hexdigest()
    if len(src.frame) == 0:
        raise no_rows(src.name)
    return src


def _read_file(p: Path, fmt: str, data: bytes, sheet: str | int | None, label: str) -> Source:
    """One plain (not zipped) file; ``label`` names it in messages and problems."""
    try:
        if fmt == "csv":
            enc, text = decode_text(data)
            try:
                frame = csv_frame(text)
            except pd.errors.EmptyDataError:
                raise no_rows(label) from None
            src = Source(p, fmt, frame, np.arange(len(frame)) + 2, encoding=enc)
        elif fmt in ("xlsx", "xls"):
            if fmt == "xlsx":
                frame = pd.read_excel(io.BytesIO(data), sheet_name=sheet or 0, dtype=object, engine="openpyxl")
            else:
                frame = _read_xls(data, sheet)
            frame = frame.dropna(how="all")
            src = Source(p, fmt, frame.reset_index(drop=True), frame.index.to_numpy() + 2)
        elif fmt == "geojson":
            src = _read_geojson(p, data, label)
        else:
            src = _read_ogr(p, fmt, label)
    except WarmGridError:
        raise
    except Exception as exc:  # a reader's own error: say which file
        raise WarmGridError(f"无法读取文件 {label}：{exc}", f"cannot read {label}: {exc}") from exc
    src.frame.columns = [str(c).strip() for c in src.frame.columns]
    return src


# --------------------------------------------------------------------------- plain formats
def _read_osm(p: Path, *, assume_sidewalks: bool) -> Source:
    """An OpenStreetMap extract's pedestrian-usable ways (:func:`grid.roads.read_osm`)."""
    from grid import roads

    try:
        ways = roads.read_osm(p, assume_sidewalks=assume_sidewalks)
    except WarmGridError:
        raise
    except Exception as exc:  # osmium's own error: say which file
        raise WarmGridError(f"无法读取 OpenStreetMap 文件 {p.name}：{exc}", f"cannot read the OSM file {p.name}: {exc}") \
            from exc
    frame = pd.DataFrame({"road_id": ways.ids, "kind": ways.kind, "name": ways.name,
                          "walkable": ways.walkable, "layer": ways.layer}, dtype=object)
    src = Source(p, "osm", frame, np.arange(len(frame)) + 1, geoms=list(ways.geoms), encoding="utf-8")
    src.notes = list(ways.notes)
    return src


def _read_xls(data: bytes, sheet: str | int | None) -> pd.DataFrame:
    """A legacy .xls sheet with xlrd: numbers stay numbers, dates become datetimes."""
    import xlrd

    book = xlrd.open_workbook(file_contents=data)
    ws = book.sheet_by_name(sheet) if isinstance(sheet, str) else book.sheet_by_index(sheet or 0)
    rows = []
    for r in range(ws.nrows):
        row = []
        for c in range(ws.ncols):
            cell = ws.cell(r, c)
            if cell.ctype == xlrd.XL_CELL_DATE:
                row.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
            elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                row.append(None)
            else:
                row.append(cell.value)
        rows.append(row)
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows[1:], columns=[str(h) for h in rows[0]], dtype=object)


def _short(v: Any, n: int = 60) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= n else s[: n - 1] + "…"


def _read_geojson(p: Path, data: bytes, label: str) -> Source:
    enc, text = decode_text(data)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WarmGridError(f"{label} 不是有效的 GeoJSON：{exc}", f"{label} is not valid GeoJSON: {exc}") from exc
    feats = doc.get("features") if isinstance(doc, dict) and doc.get("type") == "FeatureCollection" else None
    if feats is None:
        if isinstance(doc, dict) and doc.get("type") == "Feature":
            feats = [doc]
        else:
            raise WarmGridError(f"{label} 不是 GeoJSON 要素集合", f"{label} is not a GeoJSON FeatureCollection")
    props, geoms, problems = [], [], []
    for i, f in enumerate(feats, start=1):
        props.append(dict(f.get("properties") or {}) if isinstance(f, dict) else {})
        g = f.get("geometry") if isinstance(f, dict) else None
        geom, reason = _geometry_from_geojson(g)
        if reason:
            shown = validators.visible(_short(json.dumps(g, ensure_ascii=False)))
            problems.append(Problem(label, i, "geometry", shown, *reason))
        geoms.append(geom)
    file_crs = None
    crs_name = ((doc.get("crs") or {}).get("properties") or {}).get("name") if isinstance(doc, dict) else None
    if crs_name:
        m = re.search(r"EPSG::?(\d+)", str(crs_name))
        file_crs = f"EPSG:{m.group(1)}" if m and m.group(1) not in ("4326", "4490") else None
    frame = pd.DataFrame(props)
    return Source(p, "geojson", frame, np.arange(len(frame)) + 1, geoms=geoms, encoding=enc,
                  file_crs=file_crs, problems=problems)


def _geometry_from_geojson(g: Any) -> tuple[BaseGeometry | None, tuple[str, str] | None]:
    """Build a geometry, refusing unclosed rings and non-finite coordinates first."""
    if g is None:
        return None, None
    if not isinstance(g, dict) or "type" not in g:
        return None, ("几何对象格式错误", "malformed geometry object")
    rings: list[Any] = []
    if g["type"] == "Polygon":
        rings = list(g.get("coordinates") or [])
    elif g["type"] == "MultiPolygon":
        rings = [r for poly in (g.get("coordinates") or []) for r in poly]
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            return None, ("多边形的环少于 4 个点", "a polygon ring has fewer than 4 points")
        if ring[0] != ring[-1]:
            return None, ("多边形未闭合（首尾点不同）", "polygon ring is not closed (first and last points differ)")
    try:
        flat = np.asarray(_flatten(g.get("coordinates")), dtype=float)
    except (TypeError, ValueError):
        return None, ("坐标不是数字", "coordinates are not numbers")
    if flat.size and not np.isfinite(flat).all():
        return None, ("坐标含有 NaN 或无穷大", "coordinates contain NaN or infinity")
    try:
        return shapely.geometry.shape(g), None
    except Exception as exc:  # shapely's own refusal
        return None, (f"无法解析几何对象：{exc}", f"cannot parse geometry: {exc}")


def _flatten(c: Any) -> list[float]:
    if isinstance(c, (int, float)) or c is None:
        return [float("nan") if c is None else float(c)]
    out: list[float] = []
    for x in c:
        out.extend(_flatten(x))
    return out


def _dbf_encoding(shp: Path, label: str) -> str | None:
    """The encoding of a shapefile's attributes: its .cpg, else detected from the .dbf bytes."""
    cpg = shp.with_suffix(".cpg")
    if cpg.exists():
        return None  # GDAL honours .cpg itself
    dbf = shp.with_suffix(".dbf")
    if not dbf.exists():
        return None
    raw = dbf.read_bytes()
    header_len = int.from_bytes(raw[8:10], "little") if len(raw) > 10 else 0
    body = raw[header_len:]
    try:
        body.decode("ascii")
        return None
    except UnicodeDecodeError:
        pass
    for enc in ("utf-8", "gb18030"):
        try:
            body.decode(enc)
            return "UTF-8" if enc == "utf-8" else "GB18030"
        except UnicodeDecodeError:
            continue
    raise WarmGridError(
        f"{label} 的 .dbf 编码无法识别（既不是 UTF-8 也不是 GBK），请附上 .cpg 文件说明编码。",
        f"cannot tell the encoding of the .dbf of {label} (neither UTF-8 nor GBK); add a .cpg file naming it.",
    )


def _read_ogr(p: Path, fmt: str, label: str) -> Source:
    import geopandas as gpd
    import pyogrio

    encoding = None
    if fmt == "geoparquet":
        gdf = gpd.read_parquet(p)
    else:
        kwargs: dict[str, Any] = {}
        if fmt == "shp":
            encoding = _dbf_encoding(p, label)
            if encoding:
                kwargs["encoding"] = encoding
        gdf = pyogrio.read_dataframe(p, **kwargs)
    file_crs = None
    if gdf.crs is not None:
        epsg = gdf.crs.to_epsg()
        if epsg and epsg not in (4326, 4490):
            file_crs = f"EPSG:{epsg}"
        elif epsg is None:  # a CRS with no EPSG code (e.g. a custom .prj): let pyproj convert it now
            gdf = gdf.to_crs("EPSG:4326")
    geoms = list(gdf.geometry.to_numpy()) if gdf.geometry is not None else None
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    problems = []
    for i, g in enumerate(geoms or [], start=1):
        if g is not None and not g.is_empty:
            coords = shapely.get_coordinates(g)
            if not np.isfinite(coords).all():
                problems.append(Problem(label, i, "geometry", "", "坐标含有 NaN 或无穷大",
                                        "coordinates contain NaN or infinity"))
                geoms[i - 1] = None  # type: ignore[index]
    return Source(p, fmt, frame.reset_index(drop=True), np.arange(len(frame)) + 1, geoms=geoms,
                  encoding=encoding or ("cpg" if p.with_suffix(".cpg").exists() else None),
                  file_crs=file_crs, problems=problems)


# --------------------------------------------------------------------------- zips
class _ZipListing:
    """An open zip whose every member name has been checked: ``(zipfile, {name: info})``."""

    def __init__(self, fileobj: IO[bytes], label: str) -> None:
        self.fileobj = fileobj
        self.label = label
        self.zf: zipfile.ZipFile | None = None

    def __enter__(self) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
        label = self.label
        try:
            self.zf = zipfile.ZipFile(self.fileobj)
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
            raise WarmGridError(f"{label} 不是有效的 zip 文件：{exc}", f"{label} is not a valid zip file: {exc}") from exc
        if len(infos) > _MAX_MEMBERS:
            raise WarmGridError(f"{label} 中有 {len(infos):,} 个文件，超过上限 {_MAX_MEMBERS:,}，已拒绝。",
                                f"{label} holds {len(infos):,} members, more than {_MAX_MEMBERS:,}; refused.")
        members: dict[str, zipfile.ZipInfo] = {}
        seen: dict[str, str] = {}
        for info in infos:
            raw = _member_name(info)
            shown = validators.visible(raw)
            why = _unsafe(info, raw)
            if why is not None:
                raise WarmGridError(
                    f"{label} 中的文件 {shown} 不安全：{why[0]}。已拒绝整个压缩包，未解压任何文件。",
                    f"{label}: the member {shown} is unsafe: {why[1]}. The whole zip is refused; nothing was extracted.")
            name = "/".join(part for part in raw.split("/") if part not in ("", "."))
            key = unicodedata.normalize("NFC", name).casefold()
            if key in seen:
                raise WarmGridError(
                    f"{label} 中有重名文件：{shown}（与 {seen[key]} 相同）。已拒绝整个压缩包，未解压任何文件。",
                    f"{label} holds two members named {shown} (same as {seen[key]}). The whole zip is refused; "
                    "nothing was extracted.")
            seen[key] = shown
            if not info.is_dir() and name:
                members[name] = info
        return self.zf, members

    def __exit__(self, *exc: object) -> None:
        if self.zf is not None:
            self.zf.close()


def _open_zip(fileobj: IO[bytes], label: str) -> _ZipListing:
    return _ZipListing(fileobj, label)


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's full name as stored (a NUL and what follows kept), decoded, with ``/`` separators.

    Without the zip's UTF-8 flag, names are bytes in the creator's code page:
    Windows in China writes GBK, which :mod:`zipfile` decodes as cp437.
    """
    name = info.orig_filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            raw = b""
        if raw and not raw.isascii():
            for enc in ("utf-8", "gb18030"):
                try:
                    name = raw.decode(enc)
                    break
                except UnicodeDecodeError:
                    continue
    return name.replace("\\", "/")


def _unsafe(info: zipfile.ZipInfo, name: str) -> tuple[str, str] | None:
    """Why a member must not be extracted, or None."""
    if validators.visible(name) != name:  # anywhere in a name, tabs and line breaks included
        code = next(f"U+{ord(c):04X}" for c in name if validators.visible(c) != c)
        return f"名称含有控制字符 {code}", f"its name holds the control character {code}"
    if not name.strip("/"):
        return "名称为空", "its name is empty"
    if name.startswith("/"):
        return "使用了绝对路径", "it has an absolute path"
    if re.match(r"[A-Za-z]:", name) or ":" in name:
        return "含有盘符或冒号（如 C:）", "it holds a drive letter or a colon (like C:)"
    parts = name.split("/")
    if ".." in parts:
        return "路径含有“..”", "its path holds '..'"
    if any(len(p.encode("utf-8")) > 255 for p in parts):
        return "名称过长", "a part of its name is too long"
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return "是符号链接", "it is a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "不是普通文件", "it is not a regular file"
    if info.flag_bits & 0x1:
        return "已加密，无法读取", "it is encrypted"
    return None


def _ignored(name: str) -> bool:
    """macOS metadata in zips: ``__MACOSX/`` folders and ``._`` files."""
    parts = name.split("/")
    return parts[0] == "__MACOSX" or parts[-1].startswith("._")


def _datasets(members: dict[str, zipfile.ZipInfo]) -> list[str]:
    files = [n for n in members if not _ignored(n)]
    shps = sorted(n for n in files if n.lower().endswith(".shp"))
    if shps:
        return shps
    return sorted(n for n in files if FORMATS.get(PurePosixPath(n).suffix.lower(), "zip") not in ("zip", "shp"))


def _choose(label: str, members: dict[str, zipfile.ZipInfo], member: str | None) -> str:
    found = _datasets(members)
    if member is not None:
        chosen = "/".join(part for part in member.replace("\\", "/").split("/") if part not in ("", "."))
        fmt = FORMATS.get(PurePosixPath(chosen).suffix.lower())
        if chosen in members and fmt not in (None, "zip"):
            return chosen
        listed = "、".join(found) or "—"
        raise WarmGridError(f"{label} 中没有可读取的文件 {validators.visible(member)}（可选：{listed}）",
                            f"{label} holds no readable member {validators.visible(member)} "
                            f"(choose one of: {', '.join(found) or '-'})")
    if not found:
        raise WarmGridError(
            f"{label} 中没有 .shp 文件或其他可读取的数据文件（压缩包应包含 .shp、.shx、.dbf，最好还有 .prj、.cpg；"
            "或一个 CSV、Excel、GeoJSON、GeoPackage、GeoParquet 文件）",
            f"{label} holds no .shp file nor another data file (a zipped Shapefile needs .shp, .shx, .dbf, "
            "ideally .prj and .cpg; or zip one CSV, Excel, GeoJSON, GeoPackage or GeoParquet file)")
    if len(found) > 1:
        raise WarmGridError(
            f"{label} 中有 {len(found)} 个数据文件：{'、'.join(found)}。请选择其中一个（命令行用 --member）。",
            f"{label} holds {len(found)} datasets: {', '.join(found)}. Choose one (--member on the command line).")
    return found[0]


def _parts_of(label: str, members: dict[str, zipfile.ZipInfo], chosen: str) -> list[tuple[str, str]]:
    """``(member, file name to write)`` for the chosen dataset and, for a .shp, its companion files."""
    path = PurePosixPath(chosen)
    if path.suffix.lower() != ".shp":
        return [(chosen, f"data{path.suffix.lower()}")]
    folder, stem = str(path.parent), path.stem.casefold()
    found: dict[str, str] = {}
    for name in members:
        q = PurePosixPath(name)
        if str(q.parent) == folder and q.stem.casefold() == stem and q.suffix.lower() in _SIDECARS:
            found.setdefault(q.suffix.lower(), name)
    missing = [s for s in (".shx", ".dbf") if s not in found]
    if missing:
        raise WarmGridError(f"{label} 中的 {chosen} 缺少同名的 {'、'.join(missing)} 文件",
                            f"{label}: {chosen} lacks its {' and '.join(missing)} file")
    return [(found[s], f"data{s}") for s in _SIDECARS if s in found]


def _copy_limited(src: IO[bytes], dst: IO[bytes], used: int, limit: int, label: str, member: str) -> int:
    """Copy in chunks, counting the bytes; refuse as soon as the running total passes ``limit``.

    Returns the new total. Nothing past the limit is written.
    """
    while True:
        chunk = src.read(_CHUNK)
        if not chunk:
            return used
        used += len(chunk)
        if used > limit:
            raise WarmGridError(
                f"{label} 解压 {member} 时超过上限 {_mb(limit)}（{MAX_UNZIPPED_ENV}），已停止并拒绝。",
                f"{label}: extracting {member} went past the limit of {_mb(limit)} ({MAX_UNZIPPED_ENV}); "
                "stopped and refused.")
        dst.write(chunk)


def _mb(n: int) -> str:
    return f"{n / _MIB:,.1f} MB"


def _read_zip(actual: Path, shown: Path, *, sheet: str | int | None, member: str | None, limit: int) -> Source:
    label = shown.name
    with actual.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
        fh.seek(0)
        with _open_zip(fh, label) as (zf, members):
            chosen = _choose(label, members, member)
            parts = _parts_of(label, members, chosen)
            declared = sum(members[m].file_size for m, _ in parts)
            if declared > limit:
                raise WarmGridError(
                    f"{label} 中的 {chosen} 解压后为 {_mb(declared)}，超过上限 {_mb(limit)}（{MAX_UNZIPPED_ENV}），"
                    "已拒绝，未解压任何文件。",
                    f"{label}: {chosen} is {_mb(declared)} uncompressed, over the limit of {_mb(limit)} "
                    f"({MAX_UNZIPPED_ENV}); refused, nothing was extracted.")
            with tempfile.TemporaryDirectory(prefix="warmgrid_zip_") as tmp:
                folder = Path(tmp)
                used = 0
                for name, target in parts:
                    try:
                        with zf.open(members[name]) as stream, (folder / target).open("xb") as dst:
                            used = _copy_limited(stream, dst, used, limit, label, name)
                    except WarmGridError:
                        raise
                    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                            NotImplementedError, RuntimeError) as exc:
                        raise WarmGridError(
                            f"{label} 中的 {name} 无法解压（压缩包损坏、大小不符或压缩方式不受支持）：{exc}",
                            f"{label}: cannot extract {name} (a damaged zip, false sizes or an unsupported "
                            f"compression): {exc}") from exc
                inner = folder / parts[0][1]
                fmt = FORMATS[inner.suffix]
                src = _read_file(inner, fmt, inner.read_bytes() if fmt not in ("shp", "gpkg", "geoparquet") else b"",
                                 sheet, f"{label}/{chosen}")
    src.path, src.member, src.sha256 = shown, chosen, digest
    return src
