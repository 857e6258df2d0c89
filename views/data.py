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
   Households may be **located by their address** (按地址定位): the rows without coordinates
   are matched against the standard-address register (:mod:`grid.locate`); each row that
   needs review is shown with its candidates on a small map (:func:`maps.locate.review_map`),
   where a candidate is picked or the point placed by a click; the answers count as a
   review file's, and the file is validated again with them.
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
from streamlit_folium import st_folium

import ui
from grid import access, geocode, labels
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
from grid.locate import Location, load_register, locate_source
from grid.model import GEOCODE_METHODS, HARDSHIP
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
                          format_func=lambda k: KINDS[k].zh)
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
    locate, threshold = _locate_settings(store, kind)
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

    answers: dict[str, dict[str, Any]] = st.session_state.setdefault("data_answers", {}).setdefault(upload.key, {})
    settings = _key(upload.key, kind, crs, mode, fix_swaps, repair, sorted(mapping.items()),
                    sorted((categories or {}).items()), store.generation, locate, threshold,
                    sorted((k, sorted(v.items())) for k, v in answers.items()) if locate else None)
    checked: dict[str, Any] | None = st.session_state.get("data_checked")
    if checked is not None and checked["key"] != settings:
        checked = None

    buttons = st.columns(2)
    if buttons[0].button("校验 Validate", type="primary", key="data_validate", width="stretch",
                         disabled=categories is None):
        st.session_state.pop("data_checked", None)
        st.session_state.pop("data_report", None)
        bar, say = _bar("正在校验 · validating")
        checked = {"key": settings, "prep": None, "problems": [], "dry": None, "loc": None}
        try:
            loc = None
            if locate:
                say(0.02, "按地址定位 locating by address")
                loc = locate_source(load_register(store), src, mapping, crs=crs, answers=_answers_frame(answers),
                                    answers_crs="wgs84", threshold=threshold)
                checked["loc"] = loc
                st.session_state["data_last_loc"] = (upload.key, loc)
            prep: Prepared = validate(src, kind, store=store, mapping=mapping, crs=crs, mode=mode,
                                      fix_swaps=fix_swaps, repair=repair, progress=say, category_map=categories,
                                      locate=loc)
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
    loc_done: Location | None = checked.get("loc") if checked is not None else None
    last = st.session_state.get("data_last_loc")
    shown_loc = loc_done or (last[1] if locate and last is not None and last[0] == upload.key else None)
    if shown_loc is not None:  # kept while rows are confirmed one by one (each answer asks for a new validation)
        _location_section(shown_loc, answers)
        if loc_done is None:
            st.info(f"已确认 {len(answers):,} 行；确认完后请重新校验 · {len(answers):,} rows confirmed: validate again "
                    "when done")
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

    if ready and loc_done is not None and len(loc_done.located):
        ready = st.checkbox(f"我已核对按地址定位的 {len(loc_done.located):,} 行，确认导入 · I have checked the "
                            f"{len(loc_done.located):,} rows located by address", key=f"data_locate_ok_{settings}")
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
        st.session_state.pop("data_last_loc", None)  # the located rows are in the database now
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


# --------------------------------------------------------------------------- locating by address
def _locate_settings(store: Any, kind: str) -> tuple[bool, float]:
    """Whether to place households without coordinates through the address register, and the least score."""
    if kind != "households":
        return False, geocode.DEFAULT_THRESHOLD
    size = store.count("addresses")
    c = st.columns(2)
    on = c[0].checkbox(
        "按标准地址定位无坐标的住户 · Locate rows without coordinates by their address", key="data_locate",
        disabled=size == 0,
        help=f"标准地址库有 {size:,} 条；无坐标的行按地址匹配，不确定的逐行人工确认 · the register holds {size:,} "
             "entries; rows without coordinates are matched by address, doubtful ones confirmed one by one"
        if size else "尚未导入标准地址（数据类型选“标准地址”导入）· no address register yet (import one as 标准地址)")
    threshold = float(c[1].slider("自动定位最低得分 · least score of an automatic match", 60, 100,
                                  int(geocode.DEFAULT_THRESHOLD), key="data_threshold", disabled=not on))
    return bool(on and size), threshold


def _answers_frame(answers: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The page's answers as a review file's (:func:`grid.locate.review_answers`)."""
    return pd.DataFrame([{"file": "页面确认 page", "row": k + 1, "hh_id": hh, "addr_id": a.get("addr_id"),
                          "lon": a.get("lon"), "lat": a.get("lat")} for k, (hh, a) in enumerate(answers.items())],
                        columns=["file", "row", "hh_id", "addr_id", "lon", "lat"])


def _method(code: Any) -> str:
    term = GEOCODE_METHODS.get(str(code))
    return term.zh if term is not None else "—"


def _location_section(loc: Location, answers: dict[str, dict[str, Any]]) -> None:
    """What locating by address found; each row to review with its candidates on a map, to pick or click."""
    st.markdown("**按地址定位 · Located by address**")
    c = loc.counts()
    m = st.columns(4)
    m[0].metric("自带坐标 with coordinates", f"{c['with_coordinates']:,}")
    m[1].metric("自动定位 located", f"{c['exact'] + c['normalised'] + c['fuzzy']:,}")
    m[2].metric("人工确认 chosen", f"{c['manual']:,}")
    m[3].metric("待确认 to review", f"{c['review']:,}")
    if len(loc.located):
        with st.expander(f"已定位的 {len(loc.located):,} 行 · located rows"):
            shown = pd.DataFrame({"行号": loc.located["row"], "户编号": loc.located["hh_id"],
                                  "地址": loc.located["address"], "定位方式": loc.located["method"].map(_method),
                                  "匹配得分": loc.located["score"], "地址编码": loc.located["addr_id"]})
            st.dataframe(shown.head(MAX_SHOWN), hide_index=True, width="stretch")
    if not len(loc.review):
        return
    review = loc.review.reset_index(drop=True)
    st.warning(f"{len(review):,} 行未能自动定位（不作猜测），请逐行选定候选地址或在地图上点选位置，再重新校验。\n\n"
               f"{len(review):,} rows were not located automatically (no guessing): pick a candidate or click the "
               "map for each, then validate again.")
    table = pd.DataFrame({"行号": review["row"], "户编号": review["hh_id"], "地址": review["address"],
                          "原因": review["reason_zh"], "候选数": review["candidates"].map(len),
                          "已确认": ["是" if str(h) in answers else "" for h in review["hh_id"]]})
    st.dataframe(table.head(MAX_SHOWN), hide_index=True, width="stretch")
    pos = st.selectbox("逐行确认 · Row to confirm", list(range(len(review))), key="data_review_row",
                       format_func=lambda k: f"第 {int(review.loc[k, 'row'])} 行 · {review.loc[k, 'hh_id']} · "
                                             f"{review.loc[k, 'address']}")
    r = review.loc[int(pos or 0)]
    hh = str(r["hh_id"])
    cands: list[dict[str, Any]] = [cd for cd in r["candidates"] if cd.get("lon") is not None]
    click_key = f"data_review_click_{hh}"
    clicked: tuple[float, float] | None = st.session_state.get(click_key)
    options = [cd["addr_id"] for cd in cands] + ["__click__"]
    labels_ = {cd["addr_id"]: f"候选{k + 1}：{cd['address']}（{cd['addr_id']}，得分 {float(cd['score']):.0f}）"
               for k, cd in enumerate(cands)}
    labels_["__click__"] = "在地图上点选位置 · place the point by clicking the map"
    pick = st.radio("选定位置 · Choose", options, key=f"data_review_pick_{hh}", format_func=lambda o: labels_[o])
    chosen = None
    if pick == "__click__":
        chosen = clicked
    else:
        hit = next((cd for cd in cands if cd["addr_id"] == pick), None)
        chosen = (float(hit["lon"]), float(hit["lat"])) if hit else None
    basemap, key = ui.basemap_setting()
    fmap = _review_map(str(r["address"]), cands, chosen, basemap, key)
    got = st_folium(fmap, height=320, use_container_width=True, returned_objects=["last_clicked"],
                    key=f"data_review_map_{hh}")
    last = (got or {}).get("last_clicked") if isinstance(got, dict) else None
    if isinstance(last, dict) and last.get("lat") is not None and last.get("lng") is not None:
        point = (float(last["lng"]), float(last["lat"]))
        if point != clicked:
            st.session_state[click_key] = point
            clicked = point
    if pick == "__click__":
        st.caption(ui.md("点选的位置 · clicked: {}", "—" if clicked is None else f"{clicked[0]:.6f}, {clicked[1]:.6f}"))
    if st.button("确认此行 · Confirm this row", key=f"data_review_ok_{hh}",
                 disabled=pick == "__click__" and clicked is None):
        if pick == "__click__" and clicked is not None:
            answers[hh] = {"addr_id": None, "lon": clicked[0], "lat": clicked[1]}
        else:
            answers[hh] = {"addr_id": pick, "lon": None, "lat": None}
        st.rerun()


def _review_map(address: str, cands: list[dict[str, Any]], chosen: tuple[float, float] | None, basemap: str,
                key: str) -> Any:
    from maps.locate import review_map

    return review_map(address, cands, chosen=chosen, basemap=basemap, tianditu_key=key)


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
