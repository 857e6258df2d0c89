"""数据导入导出 — upload a file, map its headers, validate every row, import it; export any table.

The page only composes :mod:`grid.ingest` and :mod:`grid.export`:

1. **Upload** (CSV, XLSX/XLS, GeoJSON, a zipped Shapefile, GeoPackage, GeoParquet):
   :func:`grid.ingest.read_upload` reads the bytes; a zip's members are checked and
   extracted there (:mod:`grid.sources`), as for the command line. A zip holding
   several datasets (:func:`grid.ingest.zip_datasets`) offers a choice.
2. **Settings and header mapping**: kind, coordinate system, insert/upsert, swap and
   repair options; :func:`~grid.ingest.auto_mapping` shown as an editable table whose
   edits become the mapping overrides.
3. **校验 Validate**: :func:`~grid.ingest.validate` against the app's store; every
   problem as a table with a CSV download, or the notes and the rows ready.
4. **导入 Import**: enabled only after a clean validation of the same file, settings
   and database generation; :func:`~grid.ingest.write` in the store's transaction,
   which commits the rows, the import's log row and its audit row together.
5. **导出 Export**: :func:`grid.export.export_table` into a temporary file, offered as
   a download (audited when made: the bytes reach the browser with the button). Every
   table is offered; ``users`` comes without password hashes or sign-in state
   (:data:`grid.export.USER_EXPORT_COLUMNS`), as from the command line.

Only roles the access policy lets view the ``data`` page (administrators) get
past ``ui.require_page``; the import and export functions ask the policy again.

The uploaded file is read once per upload (keyed on the SHA-256 of its bytes), and a
validation is kept in session state under a key of the file, every setting and the
store's generation, so a re-run never re-validates and an import (which bumps the
generation) cannot be repeated from a stale validation. Any commit moves the
generation, audit rows included, so an export between validating and importing
asks for the validation again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import ui
from grid import access, labels
from grid import crs as crs_mod
from grid.errors import Problem, ValidationError, WarmGridError
from grid.export import download, export_table
from grid.ingest import (
    KINDS,
    ImportReport,
    Prepared,
    Source,
    ambiguous_categories,
    auto_mapping,
    problems_frame,
    read_upload,
    validate,
    write,
    zip_datasets,
)
from grid.model import HARDSHIP
from grid.store import TABLES
from ui import get_store, require_page

log = logging.getLogger(__name__)

#: File types offered by the uploader (a zip holds a Shapefile, or one other data file).
UPLOAD_TYPES = ["csv", "txt", "xlsx", "xlsm", "xls", "geojson", "json", "zip", "gpkg", "parquet", "geoparquet"]
#: Problems shown on the page (all of them are in the CSV download).
MAX_SHOWN = 5_000
IGNORE = "(忽略 ignore)"
AUTO_CRS = "auto"
EPSG_CRS = "epsg"

#: Export formats: key -> (label, suffix, MIME type).
EXPORT_FORMATS: dict[str, tuple[str, str, str]] = {
    "csv": ("CSV（UTF-8，Excel 可直接打开）", ".csv", "text/csv"),
    "xlsx": ("Excel XLSX", ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "geojson": ("GeoJSON", ".geojson", "application/geo+json"),
    "gpkg": ("GeoPackage", ".gpkg", "application/geopackage+sqlite3"),
    "parquet": ("GeoParquet", ".parquet", "application/vnd.apache.parquet"),
}
#: Tables offered for export (``users`` without password hashes: grid.export.table_frame leaves them out).
EXPORT_TABLES = list(TABLES)
_TABLE_ZH = {k.table: k.zh for k in KINDS.values()} | {
    "pairings": "结对帮扶", "audit_log": "操作日志", "household_history": "住户变动记录", "imports": "导入记录",
    "users": "用户",
}


def _error(exc: BaseException) -> None:
    """Show an error in Chinese and English, escaped (never a traceback); the page goes on."""
    if not isinstance(exc, WarmGridError):  # a bug or an unforeseen reader/database error: log it
        log.exception("data page")
    ui.error(exc)


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- reading
@dataclass
class Upload:
    """An uploaded file as read, with the key of its bytes."""

    key: str
    name: str
    sha256: str
    source: Source
    inner: str | None = None  # the dataset chosen inside a zip


def _upload() -> Upload | None:
    """The uploaded file, read once per distinct content (and .shp chosen inside a zip)."""
    up = st.file_uploader("上传文件 Upload a file", type=UPLOAD_TYPES, key="data_file",
                          help="CSV/TXT（UTF-8 或 GBK）、Excel、GeoJSON、"
                               "Shapefile（.shp/.shx/.dbf/.prj/.cpg 打包为 zip）、GeoPackage、GeoParquet")
    if up is None:
        return None
    hashes: dict[str, str] = st.session_state.setdefault("data_hashes", {})
    if up.file_id not in hashes:
        hashes.clear()
        hashes[up.file_id] = hashlib.sha256(up.getvalue()).hexdigest()
    sha = hashes[up.file_id]
    inner = None
    if up.name.lower().endswith(".zip"):
        found = zip_datasets(up.getvalue(), name=up.name)  # every member checked; an unsafe zip stops here
        if len(found) > 1:
            inner = st.selectbox("压缩包中有多个数据文件，请选择 Several datasets in the zip", found,
                                 key="data_zip_member")
    key = _key(sha, up.name, inner)
    cached: Upload | None = st.session_state.get("data_upload")
    if cached is not None and cached.key == key:
        return cached
    st.session_state.pop("data_upload", None)
    with st.spinner("正在读取文件 · reading the file…"):
        src = read_upload(up.name, up.getvalue(), member=inner)
    got = Upload(key, src.name, sha, src, inner)  # src.name: the browser's name, checked (and the zip's member)
    st.session_state["data_upload"] = got
    return got


# --------------------------------------------------------------------------- mapping
def _field_label(kind: str, name: str) -> str:
    f = KINDS[kind].field(name)
    return f"{f.zh} · {name}" + (" *" if f.required else "")


def _mapping_editor(upload: Upload, kind: str) -> dict[str, str]:
    """The header mapping as an editable table; returns ``{column: field or ""}`` for every column."""
    frame = upload.source.frame
    auto = auto_mapping(frame.columns, kind)
    labels = {_field_label(kind, f.name): f.name for f in KINDS[kind].fields}
    sample = frame.head(1)
    table = pd.DataFrame({
        "列 column": [str(c) for c in frame.columns],
        "映射到 field": [_field_label(kind, auto[c]) if c in auto else IGNORE for c in frame.columns],
        "示例 sample": ["" if sample.empty else str(sample[c].iloc[0]) for c in frame.columns],
    })
    edited = st.data_editor(
        table, key=f"data_map_{upload.key}_{kind}", hide_index=True, width="stretch",
        disabled=["列 column", "示例 sample"],
        column_config={"映射到 field": st.column_config.SelectboxColumn(
            "映射到 field", options=[IGNORE, *labels], required=True,
            help="* 为必填字段 · * marks a required field")},
    )
    return {col: labels.get(str(lab), "") for col, lab in zip(frame.columns, edited["映射到 field"], strict=True)}


def _category_answers(upload: Upload, kind: str, mapping: dict[str, str]) -> dict[str, str] | None:
    """Ask what the file's ambiguous category words (低保, 五保, ...) mean, as the header mapping is
    confirmed: ``{word: code}`` once every word is answered, else None (validation waits)."""
    found_key = _key(upload.key, kind, sorted(mapping.items()))
    found: dict[str, tuple[str, ...]] | None = st.session_state.get("data_ambiguous", {}).get(found_key)
    if found is None:
        found = ambiguous_categories(upload.source, kind, mapping)
        st.session_state["data_ambiguous"] = {found_key: found}
    if not found:
        return {}
    st.markdown("**困难类别确认 Categories to confirm**")
    st.caption("文件中有的类别可指两类，系统不作猜测，请确认本文件中的含义 · some categories in the file may "
               "mean two things; the app does not guess — say what this file means")
    answers: dict[str, str] = {}
    for i, (term, choices) in enumerate(found.items()):
        picked = st.selectbox(
            ui.md("「{}」指 · '{}' means", term, term), list(choices), index=None,
            key=f"data_cat_{found_key}_{i}", placeholder="请选择 · choose",
            format_func=lambda c: f"{HARDSHIP[c].zh} · {HARDSHIP[c].en}")
        if picked is not None:
            answers[term] = picked
    if len(answers) < len(found):
        st.info("请先确认上面的类别，再校验 · confirm the categories above, then validate")
        return None
    return answers


# --------------------------------------------------------------------------- import
def _bar(text: str) -> tuple[Any, Any]:
    bar = st.progress(0.0, text=text)

    def say(frac: float, msg: str) -> None:
        bar.progress(min(max(float(frac), 0.0), 1.0), text=f"{text} — {msg}")

    return bar, say


def _show_problems(store: Any, actor: access.Actor, problems: list[Problem], upload: Upload) -> None:
    n = len(problems)
    st.error(f"发现 {n:,} 个问题，请修改文件后重新上传；数据库未作任何修改。\n\n"
             f"{n:,} problem(s) found; fix the file and upload it again. The database is unchanged.")
    table = problems_frame(problems)
    if n > MAX_SHOWN:
        st.caption(f"下表列出前 {MAX_SHOWN:,} 个问题，全部问题见下载文件 · the first {MAX_SHOWN:,} are shown; "
                   "the download has every problem.")
    st.dataframe(table.head(MAX_SHOWN), hide_index=True, width="stretch")
    st.download_button("下载问题清单 CSV · Download the problems (CSV)",
                       lambda: download(store, actor, "problems", table, ".csv", detail=upload.name),
                       file_name=f"{Path(upload.name).stem}_problems.csv", mime="text/csv", on_click="ignore",
                       key="data_problems_csv")


def _import_section(store: Any, actor: access.Actor) -> None:
    st.subheader("导入 · Import")
    upload: Upload | None = None
    try:
        upload = _upload()
    except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
        _error(exc)
    c = st.columns(3)
    kind = c[0].selectbox("数据类型 Kind", list(KINDS), index=list(KINDS).index("households"), key="data_kind",
                          format_func=lambda k: f"{KINDS[k].zh} · {k}")
    crs_choice = c[1].selectbox(
        "坐标系 Coordinate system", [AUTO_CRS, *crs_mod.CRS_CHOICES, EPSG_CRS], key="data_crs",
        format_func=lambda k: "文件自带坐标系，否则 WGS84 · the file's own, else WGS84" if k == AUTO_CRS else
        "其他 EPSG 代码 · another EPSG code" if k == EPSG_CRS else
        f"{crs_mod.CRS_CHOICES[k][0]} · {crs_mod.CRS_CHOICES[k][1]}")
    mode = c[2].radio("导入方式 Mode", ["insert", "upsert"], key="data_mode", horizontal=True,
                      format_func=lambda m: "仅新增 insert" if m == "insert" else "新增或更新 upsert",
                      help="insert：编号已存在则报错；upsert：已存在的按文件更新 · insert refuses existing ids; "
                           "upsert updates them")
    crs: str | None = None if crs_choice == AUTO_CRS else crs_choice
    if crs_choice == EPSG_CRS:
        code = st.text_input("EPSG 代码 EPSG code", placeholder="EPSG:4547", key="data_epsg")
        try:
            crs = crs_mod.parse_crs(code) if code.strip() else None
        except WarmGridError as exc:
            _error(exc)
            return
        if crs is None:
            st.info("请填写 EPSG 代码 · enter an EPSG code")
            return
    c2 = st.columns(2)
    fix_swaps = c2[0].checkbox("自动交换颠倒的经纬度 Fix swapped longitude/latitude", key="data_fix_swaps")
    repair = c2[1].checkbox("自动修复无效多边形 Repair invalid polygons", key="data_repair")
    if upload is None:
        st.info("请上传文件 · upload a file to begin")
        return

    src = upload.source
    st.markdown(ui.md("格式 format: **{}** · 编码 encoding: **{}** · {} 行 rows" + (" · 文件坐标系 file CRS: **{}**"
                                                                             if src.file_crs else "{}"),
                      src.format, src.encoding or "—", f"{len(src.frame):,}", src.file_crs or ""))

    st.markdown("**表头映射 Header mapping**（可修改 · editable）")
    mapping = _mapping_editor(upload, kind)
    doubled = pd.Series([f for f in mapping.values() if f]).value_counts()
    doubled = doubled[doubled > 1]
    if len(doubled):
        names = "、".join(KINDS[kind].field(f).zh for f in doubled.index)
        st.error(ui.md("多个列映射到同一字段：{}。请每个字段只选一列。\n\n"
                       "several columns map to the same field: {}. Choose one column per field.",
                       names, ", ".join(doubled.index)))
        return

    categories = _category_answers(upload, kind, mapping)

    with st.expander(f"预览前 20 行 · Preview (first 20 of {len(src.frame):,} rows)", expanded=True):
        preview = src.frame.head(20).copy()
        if src.geoms is not None:
            preview["几何 geometry"] = [None if g is None else g.geom_type for g in src.geoms[:20]]
        preview.index = src.rows[:len(preview)]
        st.dataframe(preview, width="stretch")

    settings = _key(upload.key, kind, crs, mode, fix_swaps, repair, sorted(mapping.items()),
                    sorted((categories or {}).items()), store.generation)
    checked: dict[str, Any] | None = st.session_state.get("data_checked")
    if checked is not None and checked["key"] != settings:
        checked = None

    buttons = st.columns(2)
    if buttons[0].button("校验 Validate", type="primary", key="data_validate", width="stretch",
                         disabled=categories is None):
        st.session_state.pop("data_checked", None)
        st.session_state.pop("data_report", None)
        bar, say = _bar("正在校验 · validating")
        checked = {"key": settings, "prep": None, "problems": [], "dry": None}
        try:
            prep: Prepared = validate(src, kind, store=store, mapping=mapping, crs=crs, mode=mode,
                                      fix_swaps=fix_swaps, repair=repair, progress=say, category_map=categories)
            checked["prep"], checked["problems"] = prep, prep.problems
            if not prep.problems:
                checked["dry"] = write(store, prep, actor=actor, mode=mode, dry_run=True)
        except ValidationError as exc:  # file-level problems (a required column missing, ...)
            checked["problems"] = exc.problems
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            _error(exc)
            checked = None
        bar.empty()
        if checked is not None:
            st.session_state["data_checked"] = checked

    ready = checked is not None and not checked["problems"] and checked["prep"] is not None
    if checked is not None:
        if checked["problems"]:
            _show_problems(store, actor, checked["problems"], upload)
        else:
            prep = checked["prep"]
            dry: ImportReport = checked["dry"]
            st.success(f"校验通过：{len(prep.frame):,} 行可以导入（将新增 {dry.inserted:,}，更新 {dry.updated:,}，"
                       f"未变 {dry.unchanged:,}）。\n\n{len(prep.frame):,} rows ready (would insert "
                       f"{dry.inserted:,}, update {dry.updated:,}, leave {dry.unchanged:,} unchanged).")
            if prep.notes:
                st.warning(f"{len(prep.notes):,} 条提示 · note(s)")
                st.dataframe(problems_frame(prep.notes).head(MAX_SHOWN), hide_index=True, width="stretch")

    clicked = buttons[1].button("导入 Import", key="data_import", disabled=not ready, width="stretch",
                                help=None if ready else "先校验当前文件和设置，且无问题 · "
                                                        "validate this file and these settings first")
    if clicked and ready and checked is not None:  # a click on a button that went stale since does nothing
        bar, say = _bar("正在导入 · importing")
        try:  # rows, import log and audit row commit together
            rep = write(store, checked["prep"], actor=actor, mode=mode, progress=say)
        except Exception as exc:  # noqa: BLE001 - rolled back; shown to the user, never a traceback
            bar.empty()
            _error(exc)
            return
        st.cache_data.clear()
        st.session_state.pop("data_checked", None)
        st.session_state["data_report"] = (upload.key, rep.text(), rep.inserted, rep.updated, rep.unchanged)
        st.rerun()  # redraw with the import button disabled (the store's generation moved on)
    report = st.session_state.get("data_report")
    if report is not None and report[0] == upload.key:
        _, text, added, updated, unchanged = report
        st.success(f"导入完成：新增 {added:,} 行，更新 {updated:,} 行，未变 {unchanged:,} 行。\n\n"
                   f"Imported: {added:,} added, {updated:,} updated, {unchanged:,} unchanged.")
        shown = st.columns(3)
        shown[0].metric("新增 added", f"{added:,}")
        shown[1].metric("更新 updated", f"{updated:,}")
        shown[2].metric("未变 unchanged", f"{unchanged:,}")
        with st.expander("导入报告 · report"):
            st.code(text, language=None)


# --------------------------------------------------------------------------- export
def _export_section(store: Any, actor: access.Actor) -> None:
    st.subheader("导出 · Export")
    c = st.columns(3)
    table = c[0].selectbox("数据表 Table", EXPORT_TABLES, key="data_export_table",
                           format_func=lambda t: _TABLE_ZH.get(t) or labels.TABLES.get(t, t))
    fmt = c[1].selectbox("格式 Format", list(EXPORT_FORMATS), key="data_export_format",
                         format_func=lambda f: EXPORT_FORMATS[f][0])
    crs = c[2].selectbox("坐标系 Coordinate system", ["wgs84", "gcj02", "bd09"], key="data_export_crs",
                         format_func=lambda k: f"{crs_mod.CRS_CHOICES[k][0]} · {crs_mod.CRS_CHOICES[k][1]}",
                         help="高德地图请用 GCJ-02，百度地图请用 BD-09 · GCJ-02 for Amap, BD-09 for Baidu")
    if st.button("生成导出文件 Prepare the export", key="data_export_go"):
        st.session_state.pop("data_export", None)
        _, suffix, mime = EXPORT_FORMATS[fmt]
        try:
            with st.spinner("正在导出 · exporting…"), tempfile.TemporaryDirectory(prefix="warmgrid_export_") as tmp:
                out = Path(tmp) / f"{table}{suffix}"
                n = export_table(store, actor, table, out, crs=crs)  # audited when made
                data = out.read_bytes()
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            _error(exc)
        else:
            file_name = f"{table}_{crs}_{date.today():%Y%m%d}{suffix}"
            st.session_state["data_export"] = (_key(table, fmt, crs, store.generation), file_name, data, mime, n)
    # Shown while the table, format, CRS and data (the store's generation, moved on by the audit row) stay put.
    ready = st.session_state.get("data_export")
    if ready is not None and ready[0] == _key(table, fmt, crs, store.generation):
        _, file_name, data, mime, n = ready
        st.download_button(f"下载 {file_name}（{n:,} 行）· Download ({n:,} rows)", data, file_name=file_name, mime=mime,
                           on_click="ignore", key="data_export_download", type="primary")


store = get_store()
actor = require_page("data")  # the menu is not the guard: roles without this page stop here
st.title("数据导入导出 · Data import and export")
_import_section(store, actor)
st.divider()
_export_section(store, actor)
