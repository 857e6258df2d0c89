"""Files in: CSV, XLSX/XLS, GeoJSON, Shapefile, GeoPackage and GeoParquet into any
table of the data contract — encodings detected, Chinese and English headers
mapped, every row validated, coordinates converted to WGS84, written in one
transaction or not at all.

The steps are separate so the app can show each one (:func:`read_source`,
:func:`auto_mapping`, :func:`validate`, :func:`write`); :func:`import_file`
runs them all. Reading files (zips included) lives in :mod:`grid.sources`;
its names are importable from here too. Every problem is collected with its file, row (as the user
numbers it: the spreadsheet row, header = row 1; or the feature number),
field, value and reason in Chinese and English, and raised once as a
:class:`~grid.errors.ValidationError`. Nothing is written unless every row is
good; ``dry_run`` validates and reports without writing.

Two rules hold for every kind. No text field may hold a control character or
a bidirectional override (:func:`grid.validators.check_characters`; the
multi-line fields — a visit's situation, a need's description, an aid's
items — may hold tabs and line breaks). No visit, need
or assistance time may be after today in China Standard Time
(:func:`grid.validators.record_time`, the visit form's rule too).

Examples
--------
>>> KINDS["households"].table
'households'
>>> auto_mapping(["户主姓名", "身份证号", "经度", "纬度", "地址", "人口数", "户编号"], "households")["户主姓名"]
'head_name'
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from shapely.geometry.base import BaseGeometry

from grid import audit, model, validators, validators_columns
from grid import crs as crs_mod
from grid.access import Actor, ensure
from grid.cell_assign import cells_of_xy
from grid.errors import Problem, ValidationError, WarmGridError
from grid.sheetsafe import restore
from grid.sources import FORMATS, Source, _short, detect_encoding, no_rows, read_source, read_upload, zip_datasets
from grid.store import WGS84, Store
from grid.validators_columns import COLUMN_CHECKS

if TYPE_CHECKING:
    from grid.locate import Location

__all__ = [
    "Field",
    "Kind",
    "KINDS",
    "NEED_FLOW_FIELDS",
    "FORMATS",
    "Source",
    "Prepared",
    "ImportReport",
    "detect_encoding",
    "read_source",
    "read_upload",
    "zip_datasets",
    "auto_mapping",
    "ambiguous_categories",
    "check_category_map",
    "parse_category_map",
    "unresolved_error",
    "validate",
    "write",
    "import_file",
]

Progress = Callable[[float, str], None]


# --------------------------------------------------------------------------- kinds
@dataclass(frozen=True)
class Field:
    """One field of a kind: where it goes, what headers map to it, how it is parsed.

    ``parse`` is one of: ``text``, ``code12``, ``cell_code``, ``id_number``, ``phone``,
    ``categories``, ``date``, ``datetime``, ``amount``, ``size``, ``count``, ``year``, ``radius``,
    ``lon``, ``lat``, or ``enum:<vocabulary>``. ``store`` is false for fields only
    used for checks (a household's declared cell, which is derived, never stored).
    ``multiline`` fields may hold tabs and line breaks; no field may hold other
    control characters or bidirectional overrides.
    """

    name: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    parse: str = "text"
    store: bool = True
    multiline: bool = False


@dataclass(frozen=True)
class Kind:
    """A kind of file: the table it fills, its key, fields and geometry."""

    name: str
    zh: str
    table: str
    key: str
    fields: tuple[Field, ...]
    geometry: str | None = None  # "point", "polygon" or None
    geometry_required: bool = False
    refs: tuple[tuple[str, str, str], ...] = ()  # (field, table, column) that must exist

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _f(name: str, zh: str, en: str, *aliases: str, required: bool = False, parse: str = "text",
       store: bool = True, multiline: bool = False) -> Field:
    return Field(name, zh, en, tuple(aliases), required, parse, store, multiline)


_LON = _f("lon", "经度", "longitude", "经度", "lon", "lng", "longitude", "x", "经度坐标", parse="lon", store=False)
_LAT = _f("lat", "纬度", "latitude", "纬度", "lat", "latitude", "y", "纬度坐标", parse="lat", store=False)

#: A need's flow columns (:mod:`grid.needs`): a needs file gives a need's whole state, so a column the file
#: lacks is empty (a need without a unit is raised; without a resolution time, not settled).
NEED_FLOW_FIELDS: tuple[str, ...] = ("resolved_at", "unit_code", "assigned_at", "due_at", "satisfaction", "closed_at",
                                     "escalated_at")

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("admin_units", "行政区划", "admin_units", "code", (
        _f("code", "区划代码", "code", "区划代码", "统计用区划代码", "代码", "编码", "code", required=True,
           parse="code12"),
        _f("name", "名称", "name", "名称", "区划名称", "name", required=True),
        _f("level", "级别", "level", "级别", "层级", "level", required=True, parse="enum:ADMIN_LEVELS"),
        _f("parent_code", "上级代码", "parent code", "上级代码", "上级区划代码", "parent_code", "parent",
           parse="code12"),
    ), geometry="polygon"),
    Kind("cells", "网格", "cells", "cell_id", (
        _f("cell_id", "网格编码", "cell id", "网格编码", "网格代码", "网格编号", "网格id", "cell_id", "cell",
           required=True, parse="cell_code"),
        _f("name", "网格名称", "name", "网格名称", "名称", "name", required=True),
        _f("community_code", "社区代码", "community code", "社区代码", "所属社区代码", "社区编码",
           "community_code", required=True, parse="code12"),
        _f("warden_id", "网格员编号", "warden id", "网格员编号", "网格员", "网格长", "warden_id", "warden"),
    ), geometry="polygon", geometry_required=True),
    Kind("households", "住户", "households", "hh_id", (
        _f("hh_id", "户编号", "household id", "户编号", "户号", "家庭编号", "住户编号", "编号", "hh_id",
           "household_id", "id", required=True),
        _f("head_name", "户主姓名", "head of household", "户主姓名", "户主", "姓名", "head_name", "name"),
        _f("id_number", "身份证号", "ID number", "身份证号", "身份证号码", "公民身份号码", "证件号码",
           "id_number", "idcard", parse="id_number"),
        _f("phone", "联系电话", "phone", "联系电话", "电话", "手机", "手机号", "手机号码", "phone", "tel",
           parse="phone"),
        _f("address", "地址", "address", "地址", "家庭住址", "住址", "详细地址", "address", required=True),
        _f("size", "人口数", "household size", "人口数", "家庭人口", "户人数", "人数", "家庭人口数", "size",
           required=True, parse="size"),
        _f("categories", "困难类别", "categories", "类别", "困难类别", "救助类别", "人员类别", "户类别",
           "categories", "category", parse="categories"),
        _f("status", "状态", "status", "状态", "在册状态", "status", parse="enum:HOUSEHOLD_STATUSES"),
        _f("declared_cell", "所属网格", "declared cell", "所属网格", "网格", "cell_id", parse="text",
           store=False),
        _LON, _LAT,
        # Where the point came from (grid.locate): a file exported by WarmGrid carries them back.
        _f("addr_id", "地址编码", "address id", "地址编码", "标准地址编码", "addr_id"),
        _f("geocode_method", "定位方式", "located by", "定位方式", "geocode_method", parse="enum:GEOCODE_METHODS"),
        _f("geocode_score", "匹配得分", "match score", "匹配得分", "geocode_score", parse="score"),
    ), geometry="point", geometry_required=True),
    Kind("addresses", "标准地址", "addresses", "addr_id", (
        _f("addr_id", "地址编码", "address id", "地址编码", "标准地址编码", "地址代码", "地址id", "编码", "addr_id", "id",
           required=True),
        _f("address", "标准地址", "address", "标准地址", "标准地址名称", "地址", "地址名称", "address", required=True),
        _f("level", "层级", "level", "层级", "地址层级", "级别", "类型", "level", parse="enum:ADDRESS_LEVELS"),
        _f("parent_id", "上级编码", "parent id", "上级编码", "上级地址编码", "所属小区编码", "parent_id", "parent"),
        _f("community_code", "社区编码", "community code", "社区编码", "社区代码", "所属社区代码", "community_code",
           parse="code12"),
        _LON, _LAT,
    ), geometry="point"),
    Kind("people", "人员", "people", "person_id", (
        _f("person_id", "人员编号", "person id", "人员编号", "编号", "工号", "person_id", "id", required=True),
        _f("name", "姓名", "name", "姓名", "name", required=True),
        _f("role", "身份", "role", "身份", "角色", "人员类别", "role", required=True, parse="enum:PERSON_ROLES"),
        _f("unit_code", "单位代码", "unit code", "单位代码", "所属单位代码", "unit_code", parse="code12"),
        _f("phone", "联系电话", "phone", "联系电话", "电话", "手机", "phone", parse="phone"),
        _LON, _LAT,
    ), geometry="point"),
    Kind("stations", "服务站点", "stations", "station_id", (
        _f("station_id", "站点编号", "station id", "站点编号", "编号", "station_id", "id", required=True),
        _f("name", "站点名称", "name", "站点名称", "名称", "name", required=True),
        _f("type", "站点类型", "type", "站点类型", "类型", "type", required=True, parse="enum:STATION_TYPES"),
        _f("radius_m", "服务半径（米）", "radius (m)", "服务半径", "服务半径（米）", "服务半径(米)", "半径",
           "radius_m", "radius", parse="radius"),
        _f("capacity", "容量", "capacity", "容量", "床位", "capacity", parse="count"),
        _f("community_code", "社区代码", "community code", "社区代码", "所属社区代码", "community_code",
           parse="code12"),
        _LON, _LAT,
    ), geometry="point", geometry_required=True),
    Kind("patrol_areas", "巡逻区域", "patrol_areas", "area_id", (
        _f("area_id", "区域编号", "area id", "区域编号", "编号", "area_id", "id", required=True),
        _f("team", "巡逻队", "team", "巡逻队", "队伍", "队伍名称", "team", required=True),
        _f("kind", "类型", "kind", "类型", "kind", parse="enum:PATROL_KINDS"),
        _f("members", "人数", "members", "人数", "队员人数", "members", parse="count"),
        _f("community_code", "社区代码", "community code", "社区代码", "community_code", parse="code12"),
    ), geometry="polygon", geometry_required=True),
    Kind("campaigns", "活动", "campaigns", "campaign_id", (
        _f("campaign_id", "活动编号", "campaign id", "活动编号", "编号", "campaign_id", "id", required=True),
        _f("name", "活动名称", "name", "活动名称", "名称", "name", required=True),
        _f("unit_code", "组织单位代码", "unit code", "组织单位代码", "单位代码", "unit_code", required=True,
           parse="code12"),
        _f("starts_on", "开始日期", "starts on", "开始日期", "开始时间", "starts_on", "start", required=True,
           parse="date"),
        _f("ends_on", "结束日期", "ends on", "结束日期", "结束时间", "ends_on", "end", required=True,
           parse="date"),
        _f("target_categories", "对象类别", "target categories", "对象类别", "慰问对象", "target_categories",
           parse="categories"),
        _f("budget_yuan", "预算（元）", "budget (yuan)", "预算", "预算（元）", "预算(元)", "budget_yuan", "budget",
           parse="amount"),
    )),
    Kind("visits", "走访记录", "visits", "visit_id", (
        _f("visit_id", "记录编号", "visit id", "记录编号", "编号", "visit_id", "id", required=True),
        _f("hh_id", "户编号", "household id", "户编号", "户号", "hh_id", required=True),
        _f("visitor_id", "走访人编号", "visitor id", "走访人编号", "走访人", "visitor_id"),
        _f("campaign_id", "活动编号", "campaign id", "活动编号", "campaign_id"),
        _f("visited_at", "走访时间", "visited at", "走访时间", "走访日期", "时间", "visited_at", required=True,
           parse="datetime"),
        _f("place", "地点", "place", "地点", "place"),
        _f("situation", "情况", "situation", "情况", "走访情况", "民情", "situation", multiline=True),
    ), refs=(("hh_id", "households", "hh_id"),)),
    Kind("needs", "诉求", "needs", "need_id", (
        _f("need_id", "诉求编号", "need id", "诉求编号", "编号", "need_id", "id", required=True),
        _f("hh_id", "户编号", "household id", "户编号", "户号", "hh_id", required=True),
        _f("visit_id", "记录编号", "visit id", "记录编号", "visit_id"),
        _f("raised_at", "提出时间", "raised at", "提出时间", "登记时间", "raised_at", required=True,
           parse="datetime"),
        _f("resolved_at", "办结时间", "resolved at", "办结时间", "解决时间", "resolved_at", parse="datetime"),
        _f("category", "诉求类别", "category", "诉求类别", "类别", "category", required=True,
           parse="enum:NEED_CATEGORIES"),
        _f("description", "诉求内容", "description", "诉求内容", "内容", "description", multiline=True),
        _f("status", "办理状态", "status", "办理状态", "状态", "status", parse="enum:NEED_STATUSES"),
        _f("unit_code", "办理单位", "unit", "办理单位", "承办单位", "办理单位代码", "unit_code", parse="unit"),
        _f("assigned_at", "分拨时间", "assigned at", "分拨时间", "派单时间", "assigned_at", parse="datetime"),
        _f("due_at", "办理期限", "due", "办理期限", "期限", "due_at", parse="due"),
        _f("satisfaction", "满意度", "satisfaction", "满意度", "回访满意度", "评价", "satisfaction",
           parse="enum:SATISFACTION"),
        _f("closed_at", "回访时间", "closed at", "回访时间", "closed_at", parse="datetime"),
        _f("escalated_at", "升级时间", "escalated at", "升级时间", "escalated_at", parse="datetime"),
    ), refs=(("hh_id", "households", "hh_id"),)),
    Kind("assistance", "救助慰问", "assistance", "aid_id", (
        _f("aid_id", "记录编号", "aid id", "记录编号", "编号", "aid_id", "id", required=True),
        _f("hh_id", "户编号", "household id", "户编号", "户号", "hh_id", required=True),
        _f("campaign_id", "活动编号", "campaign id", "活动编号", "campaign_id"),
        _f("programme", "项目", "programme", "项目", "救助项目", "慰问项目", "programme", "program", required=True),
        _f("kind", "方式", "kind", "方式", "救助方式", "kind", parse="enum:AID_KINDS"),
        _f("amount_yuan", "金额（元）", "amount (yuan)", "金额", "金额（元）", "金额(元)", "慰问金", "amount_yuan",
           "amount", parse="amount"),
        _f("items", "物资", "items", "物资", "物品", "items", multiline=True),
        _f("goods_value_yuan", "物资折价（元）", "goods value (yuan)", "物资折价", "物资折价（元）", "物资价值",
           "goods_value_yuan", parse="amount"),
        _f("given_at", "发放时间", "given at", "发放时间", "发放日期", "given_at", required=True, parse="datetime"),
        _f("giver_unit", "发放单位", "giver unit", "发放单位", "慰问单位", "giver_unit", required=True),
        _f("funding_source", "资金来源", "funding source", "资金来源", "funding_source"),
    ), refs=(("hh_id", "households", "hh_id"),)),
    Kind("members", "家庭成员", "members", "member_id", (
        _f("member_id", "成员编号", "member id", "成员编号", "人员编号", "编号", "member_id", "id", required=True),
        _f("hh_id", "户编号", "household id", "户编号", "户号", "hh_id", required=True),
        _f("name", "姓名", "name", "姓名", "成员姓名", "name", required=True),
        _f("relation", "与户主关系", "relation to the head", "与户主关系", "关系", "家庭关系", "relation",
           required=True, parse="enum:RELATIONS"),
        _f("id_number", "身份证号", "ID number", "身份证号", "身份证号码", "公民身份号码", "id_number", parse="id_number"),
        _f("birth_year", "出生年份", "birth year", "出生年份", "出生年", "birth_year", parse="year"),
        _f("disability", "残疾等级", "disability grade", "残疾等级", "残疾", "disability", parse="enum:DISABILITY_GRADES"),
        _f("phone", "联系电话", "phone", "联系电话", "电话", "手机", "phone", parse="phone"),
    ), refs=(("hh_id", "households", "hh_id"),)),
    Kind("roads", "道路", "roads", "road_id", (
        _f("road_id", "道路编号", "road id", "道路编号", "道路id", "道路代码", "编号", "road_id", "osm_id", "id",
           required=True),
        _f("kind", "道路等级", "road class", "道路等级", "道路类型", "等级", "类型", "kind", "fclass", "highway",
           "class", "type"),
        _f("name", "道路名称", "name", "道路名称", "路名", "名称", "name"),
        _f("walkable", "可步行", "walkable", "可步行", "是否可步行", "步行", "walkable", "foot", parse="bool"),
        _f("layer", "层", "layer", "层", "层级", "所在层", "layer", "level", parse="level"),
        _f("bridge", "桥梁", "bridge", "桥梁", "是否桥梁", "桥", "bridge", "is_bridge", parse="bool", store=False),
        _f("tunnel", "隧道", "tunnel", "隧道", "是否隧道", "tunnel", "is_tunnel", parse="bool", store=False),
    ), geometry="line", geometry_required=True),
)}

#: Mainland China's rough extent (lon, lat): points outside are refused.
_CHINA = (73.0, 17.5, 135.5, 53.6)


# --------------------------------------------------------------------------- mapping
def _norm_header(h: str) -> str:
    h = str(h).strip().lower()
    h = re.sub(r"[（(][^)）]*[)）]", "", h)  # drop bracketed units: 金额(元)
    return re.sub(r"[\s_\-:：*]", "", h)


def auto_mapping(columns: Iterable[str], kind: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Map a file's column headers to a kind's fields: ``{column: field}``.

    Chinese and English headers are matched after normalising case, spaces,
    underscores and bracketed units. ``overrides`` (``{column: field}``, or
    ``{column: ""}`` to ignore a column) take precedence.
    """
    spec = _kind(kind)
    cols = list(columns)
    out: dict[str, str] = {}
    taken: set[str] = set()
    overrides = dict(overrides or {})
    for col, fname in overrides.items():
        if col not in cols:
            raise WarmGridError(f"映射中的列不存在：{col}", f"mapped column not in the file: {col}")
        if fname:
            if fname not in {f.name for f in spec.fields}:
                raise WarmGridError(f"“{spec.zh}”没有字段 {fname}", f"{kind} has no field {fname}")
            out[col] = fname
            taken.add(fname)
    for f in spec.fields:
        if f.name in taken:
            continue
        keys = {_norm_header(a) for a in (f.name, f.zh, f.en, *f.aliases)}
        for col in cols:
            if col in out or col in overrides:
                continue
            if _norm_header(col) in keys:
                out[col] = f.name
                taken.add(f.name)
                break
    return out


# --------------------------------------------------------------------------- ambiguous categories
def check_category_map(category_map: dict[str, str] | None) -> dict[str, str]:
    """The user's answers for ambiguous category words, each checked and turned into its code.

    Raises
    ------
    WarmGridError
        Naming every word that is not ambiguous and every answer that is not one of the word's meanings.

    Examples
    --------
    >>> check_category_map({"低保": "城市低保", "五保户": "wubao_home"})
    {'低保': 'dibao_urban', '五保户': 'wubao_home'}
    """
    out: dict[str, str] = {}
    bad: list[tuple[str, str]] = []
    for term, answer in (category_map or {}).items():
        c = validators.category_answer(term, answer)
        if c.value is None:
            assert c.reason is not None
            bad.append(c.reason)
        else:
            out[term] = c.value
    if bad:
        raise WarmGridError("；".join(z for z, _ in bad), "; ".join(e for _, e in bad))
    return out


def parse_category_map(items: Iterable[str]) -> dict[str, str]:
    """``["低保=城市低保", ...]`` (the command line's ``--category-map``) as a checked map.

    >>> parse_category_map(["低保=农村低保"])
    {'低保': 'dibao_rural'}
    """
    pairs: dict[str, str] = {}
    for item in items:
        term, eq, answer = item.partition("=")
        if not eq or not term.strip() or not answer.strip():
            raise WarmGridError(f"类别映射应写作 词=类别（如 低保=城市低保），这里是：{item}",
                                f"a category map is WORD=CATEGORY (e.g. 低保=城市低保); got: {item}")
        pairs[term.strip()] = answer.strip()
    return check_category_map(pairs)


def ambiguous_categories(source: Source, kind: str, mapping: dict[str, str] | None = None
                         ) -> dict[str, tuple[str, ...]]:
    """The ambiguous category words (低保, 五保, ...) in the file's category columns, with their
    meanings: what the user must confirm before the file can be imported.

    Examples
    --------
    >>> src = Source(Path("a.csv"), "csv", pd.DataFrame({"类别": ["低保、残疾", "城市低保"]}), np.array([2, 3]))
    >>> ambiguous_categories(src, "households")
    {'低保': ('dibao_urban', 'dibao_rural')}
    """
    spec = _kind(kind)
    mapping = mapping if mapping is not None else auto_mapping(source.frame.columns, kind)
    out: dict[str, tuple[str, ...]] = {}
    for col, fname in mapping.items():
        if fname and spec.field(fname).parse == "categories":
            for term, choices in validators.ambiguous_terms(source.frame[col].tolist()).items():
                out.setdefault(term, choices)
    return out


def unresolved_error(source: Source, unresolved: dict[str, tuple[str, ...]], *, hint_zh: str = "",
                     hint_en: str = "") -> WarmGridError:
    """The error for ambiguous category words the user has not answered: every word with its meanings."""
    zh = "；".join(f"「{t}」可指 " + " 或 ".join(f"{model.HARDSHIP[c].zh}（{c}）" for c in cs)
                  for t, cs in unresolved.items())
    en = "; ".join(f"{t!r} may mean " + " or ".join(f"{c} ({model.HARDSHIP[c].zh})" for c in cs)
                   for t, cs in unresolved.items())
    return WarmGridError(f"{source.name}：困难类别有歧义，请确认其含义后再导入（数据库未作任何修改）：{zh}。{hint_zh}",
                         f"{source.name}: ambiguous hardship categories; say what they mean and import again "
                         f"(the database is unchanged): {en}. {hint_en}")


def _kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise WarmGridError(f"未知的数据类型：{kind}（可选：{', '.join(KINDS)}）",
                            f"unknown kind: {kind} (one of: {', '.join(KINDS)})")
    return KINDS[kind]


# --------------------------------------------------------------------------- validation
@dataclass
class Prepared:
    """Validated rows, ready to write: one column per stored field, plus ``_wkb``."""

    kind: Kind
    source: Source
    mapping: dict[str, str]
    crs: str
    frame: pd.DataFrame
    problems: list[Problem]
    notes: list[Problem]


def _enum(vocab_name: str) -> Callable[[Any], tuple[Any, tuple[str, str] | None]]:
    vocab: dict[str, model.Term] = getattr(model, vocab_name)
    lookup: dict[str, str] = {}
    for code, term in vocab.items():
        for key in (code, term.zh, term.en):
            lookup[key.strip().lower()] = code
    extra = {"ADMIN_LEVELS": {"街道": "street", "镇": "street", "乡": "street", "社区": "community",
                              "村": "community", "居委会": "community", "村委会": "community"},
             "PERSON_ROLES": {"网格长": "warden", "专职网格员": "warden", "社区干部": "cadre", "村干部": "cadre",
                              "党员志愿者": "party_member"},
             "NEED_STATUSES": {"已办结": "resolved", "办结": "resolved", "解决": "resolved", "答复": "answered",
                               "未办结": "raised", "待办": "raised", "处理中": "raised", "办理中": "raised",
                               "open": "raised", "上报": "raised", "已上报": "raised"},
             "AID_KINDS": {"现金": "cash", "慰问金": "cash", "实物": "goods", "物资": "goods"},
             "ADDRESS_LEVELS": {"门牌号": "door", "门牌地址": "door", "楼": "building", "楼栋号": "building",
                                "幢": "building", "栋": "building", "楼宇": "building", "院落": "estate",
                                "小区/院落": "estate"}}.get(vocab_name, {})
    lookup.update(extra)

    def parse(v: Any) -> tuple[Any, tuple[str, str] | None]:
        key = str(v).strip().lower()
        if key in lookup:
            return lookup[key], None
        for term_key, code in lookup.items():  # labels with extra words: "党群服务站（中山）"
            if len(term_key) >= 2 and term_key in key:
                return code, None
        known = "、".join(t.zh for t in vocab.values())
        return None, (f"不在可选值中（可选：{known}）", f"not one of the allowed values ({', '.join(vocab)})")

    return parse


def _call(fn: Callable[..., Any], v: Any, *args: Any, **kwargs: Any) -> tuple[Any, tuple[str, str] | None]:
    """Adapt a validator's result to ``(value, reason)``."""
    res = fn(v, *args, **kwargs)
    if isinstance(res, tuple) and len(res) == 2:
        return res[0], res[1]
    return getattr(res, "value", None), getattr(res, "reason", None)


def _parser(kind: Kind, f: Field, category_map: dict[str, str] | None = None
            ) -> Callable[[Any], tuple[Any, tuple[str, str] | None]]:
    p = f.parse
    if p.startswith("enum:"):
        return _enum(p[5:])
    if p == "text":  # a leading ' that our exports put before a formula-like text is taken off again
        return lambda v: _call(validators.nonempty_text, restore(v) if isinstance(v, str) else v, 500)
    if p == "code12":
        def code12(v: Any) -> tuple[Any, tuple[str, str] | None]:
            s = _plain_digits(v)
            if s is None or not re.fullmatch(r"\d{12}", s):
                return None, ("区划代码须为 12 位数字", "an admin code must be 12 digits")
            return s, None
        return code12
    if p == "cell_code":
        def cell_code(v: Any) -> tuple[Any, tuple[str, str] | None]:
            s = _plain_digits(v)
            if s is None or not re.fullmatch(r"\d{13,18}", s):
                return None, ("网格编码须为 13–18 位数字（社区代码加网格序号）",
                              "a cell code must be 13-18 digits (community code + cell number)")
            return s, None
        return cell_code
    if p == "id_number":
        return lambda v: _call(validators.id_number, v)
    if p == "phone":
        return lambda v: _call(validators.phone, v)
    if p == "categories":
        return lambda v: _call(validators.categories, v, category_map)
    if p == "date":
        return lambda v: _call(validators.date_value, v, validators.EARLIEST_RECORD)
    if p == "datetime":  # every date-time field is a record's time: not before 2000, not after today
        today = validators.china_today()
        return lambda v: _call(validators.record_time, v, today=today)
    if p == "due":  # a due date may lie ahead; a date alone means the end of that day
        def due(v: Any) -> tuple[Any, tuple[str, str] | None]:
            val, why = _call(validators.datetime_value, v, validators.EARLIEST_RECORD)
            if why is None and isinstance(val, datetime) and val.time() == datetime.min.time():
                val = val.replace(hour=23, minute=59, second=59)
            return val, why
        return due
    if p == "unit":
        def unit(v: Any) -> tuple[Any, tuple[str, str] | None]:
            s = str(v).strip()
            for code, term in model.DEPARTMENTS.items():
                if s in (code, term.zh, term.en):
                    return code, None
            if re.fullmatch(r"[0-9]{12,18}", s):
                return s, None
            return None, ("办理单位须为社区、街道代码（12位）、网格编码或职能部门（" + "、".join(
                t.zh for t in model.DEPARTMENTS.values()) + "）",
                          "a unit is a community or street code (12 digits), a cell code or a department ("
                          + ", ".join(model.DEPARTMENTS) + ")")
        return unit
    if p == "amount":
        return lambda v: _call(validators.amount, v)
    if p == "score":
        def score(v: Any) -> tuple[Any, tuple[str, str] | None]:
            try:
                x = float(str(v).strip())
            except ValueError:
                return None, ("得分不是数字", "the score is not a number")
            if not (math.isfinite(x) and 0 <= x <= 100):
                return None, ("得分须在 0 到 100 之间", "the score must be between 0 and 100")
            return x, None
        return score
    if p == "size":
        return lambda v: _call(validators.positive_int, v, 1, 50)
    if p == "year":
        return lambda v: _call(validators.positive_int, v, 1900, validators.china_today().year)
    if p == "count":
        return lambda v: _call(validators.positive_int, v, 0, 1_000_000)
    if p == "radius":
        def radius(v: Any) -> tuple[Any, tuple[str, str] | None]:
            val, why = _call(validators.amount, v)
            if why is None and (val is None or float(val) <= 0 or float(val) > 20_000):
                return None, ("服务半径须在 0 到 20,000 米之间", "the radius must be between 0 and 20,000 m")
            return (float(val) if why is None else None), why
        return radius
    if p == "bool":
        def boolean(v: Any) -> tuple[Any, tuple[str, str] | None]:
            from grid.roads import parse_bool

            b = parse_bool(v)
            if b is None:
                return None, ("须为“是”或“否”", "must be yes or no")
            return b, None
        return boolean
    if p == "level":
        def level(v: Any) -> tuple[Any, tuple[str, str] | None]:
            from grid.roads import parse_level

            lv = parse_level(v)
            if lv is None:
                return None, ("层须为 -10 到 10 之间的整数（0 为地面，正数为桥梁或高架，负数为隧道）",
                              "the layer must be an integer from -10 to 10 (0 at grade, > 0 bridge, < 0 tunnel)")
            return lv, None
        return level
    if p in ("lon", "lat"):
        def coord(v: Any) -> tuple[Any, tuple[str, str] | None]:
            try:
                x = float(str(v).strip().replace("°", ""))
            except ValueError:
                return None, ("坐标不是数字", "the coordinate is not a number")
            if not math.isfinite(x):
                return None, ("坐标为 NaN 或无穷大", "the coordinate is NaN or infinite")
            return x, None
        return coord
    raise KeyError(p)


def _checked(f: Field, parse: Callable[[Any], tuple[Any, tuple[str, str] | None]]
             ) -> Callable[[Any], tuple[Any, tuple[str, str] | None]]:
    """``parse`` behind the control-character check that every text value of every field passes first."""
    multiline = f.multiline

    def run(v: Any) -> tuple[Any, tuple[str, str] | None]:
        if isinstance(v, str):
            c = validators.check_characters(v, multiline=multiline)
            if c.reason is not None:
                return None, c.reason
            v = c.value
        return parse(v)

    return run


def _shown(v: Any) -> str:
    """A value as a problem shows it: short, control characters as ``[U+XXXX]`` (around the first one)."""
    if isinstance(v, str):
        hit = validators.find_control(v, multiline=True) or validators.find_control(v)
        if hit is not None and hit[0] > 40:
            v = "…" + v[hit[0] - 20:]
        return validators.visible(_short(v))
    return _short(v)


def _plain_digits(v: Any) -> str | None:
    if isinstance(v, float):
        return None  # a code stored as a number has lost its leading zeros or digits
    s = str(v).strip()
    return s if s else None


def validate(source: Source, kind: str, *, store: Store | None = None, mapping: dict[str, str] | None = None,
             crs: str | None = None, mode: str = "insert", fix_swaps: bool = False, repair: bool = False,
             progress: Progress | None = None, category_map: dict[str, str] | None = None,
             locate: Location | None = None) -> Prepared:
    """Validate every row of ``source`` for ``kind``; collect every problem.

    Parameters
    ----------
    store : Store, optional
        Checks against the database: duplicate ids (insert mode), references
        (households of visits, ...), the district's extent.
    mapping : dict, optional
        ``{column: field}``; by default :func:`auto_mapping`.
    crs : str, optional
        The coordinates' system (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``,
        ``EPSG:nnnn``); by default the file's own, else WGS84.
    fix_swaps : bool
        Swap longitude and latitude back where they were swapped (reported).
    repair : bool
        Repair invalid polygons (reported with the area change) instead of refusing them.
    category_map : dict, optional
        What the file's ambiguous category words mean (``{"低保": "dibao_urban"}``, checked by
        :func:`check_category_map`); a row with an ambiguous word not given here is refused
        (:func:`ambiguous_categories` lists them, for the user to confirm).
    locate : grid.locate.Location, optional
        Households: where the rows without coordinates go (:func:`grid.locate.locate_source`). Its
        points are used (WGS84, inside the district), and each row still to review is a problem.

    Besides each field, the rules across rows: a key once in the file (and, in insert mode, new to
    the database); a household's head's name given (a new household needs one); an ID number is one
    person in one household (:func:`_check_identities`).
    """
    spec = _kind(kind)
    category_map = check_category_map(category_map)
    say = progress or (lambda f, m: None)
    if len(source.frame) == 0:
        raise no_rows(source.name)
    if mode not in ("insert", "upsert"):
        raise WarmGridError(f"未知的导入方式：{mode}", f"unknown mode: {mode} (insert or upsert)")
    mapping = mapping if mapping is not None else auto_mapping(source.frame.columns, kind)
    crs_code = crs_mod.parse_crs(crs) if crs else (source.file_crs or "wgs84")
    name = source.name
    problems: list[Problem] = list(source.problems)
    notes: list[Problem] = list(source.notes)
    rows = source.rows
    n = len(source.frame)
    by_field = {f: c for c, f in mapping.items() if f}

    # Required fields must be mapped at all.
    for f in spec.fields:
        if f.required and f.name not in by_field:
            problems.append(Problem(name, None, f.name, "", f"缺少必填列“{f.zh}”（可用表头：{'、'.join(f.aliases[:4])}）",
                                    f"required column '{f.en}' is missing (headers: {', '.join(f.aliases[:4])})"))
    if spec.geometry == "point" and spec.geometry_required and source.geoms is None and locate is None and not (
            "lon" in by_field and "lat" in by_field):
        problems.append(Problem(name, None, "经度/纬度", "", "缺少经度、纬度列（或几何字段）",
                                "longitude and latitude columns (or a geometry) are missing"))
    if spec.geometry == "line" and source.geoms is None:
        problems.append(Problem(name, None, "geometry", "", "道路需要带线几何的文件（GeoJSON、Shapefile、GeoPackage、"
                                "GeoParquet 或 OpenStreetMap .osm/.osm.pbf）", "roads need a file with line geometries "
                                "(GeoJSON, Shapefile, GeoPackage, GeoParquet or OpenStreetMap .osm/.osm.pbf)"))
    if spec.geometry == "polygon" and spec.geometry_required and source.geoms is None:
        problems.append(Problem(name, None, "geometry", "", "此类数据需要带多边形几何的文件（GeoJSON、Shapefile、"
                                "GeoPackage 或 GeoParquet）", "this kind needs a file with polygon geometries "
                                "(GeoJSON, Shapefile, GeoPackage or GeoParquet)"))
    if any(p.row is None for p in problems):
        raise ValidationError(problems)
    # Reported with the rows' problems (the file can be fixed in one go).
    if spec.name == "households" and mode == "insert" and "head_name" not in by_field:
        problems.append(Problem(name, None, "户主姓名", "", "缺少“户主姓名”列：新增住户须填写户主姓名",
                                "the column 'head of household' is missing: a new household needs its head's name"))

    out: dict[str, list[Any]] = {}
    say(0.05, "逐行校验 validating rows")
    for fi, f in enumerate(spec.fields):
        col = by_field.get(f.name)
        if col is None:
            continue
        raw = validators_columns.text_column_of(source.frame[col])
        parse = _parser(spec, f, category_map)
        if validators_columns.may_hold_control(raw, multiline=f.multiline):  # else the column is clean
            parse = _checked(f, parse)
        column_check = COLUMN_CHECKS.get(f.parse)
        if column_check is not None:  # the values in normal form settled for the whole column; the rest row by row
            settled, vals = column_check(raw)
            todo = np.flatnonzero(~settled)
        else:
            vals, todo = [None] * n, np.arange(n)
        blank = validators_columns.blank_column(raw)[todo]
        if f.required:
            for i in todo[blank].tolist():
                problems.append(Problem(name, int(rows[i]), f.zh, "", "必填项为空", "required value is empty"))
        def refuse(i: int, v: Any, why: tuple[str, str], zh: str = f.zh) -> None:
            problems.append(Problem(name, int(rows[i]), zh, _shown(v), *why))

        _parse_rows(raw, todo[~blank], parse, vals, refuse)
        out[f.name] = vals
        say(0.05 + 0.55 * (fi + 1) / len(spec.fields), f"校验字段 {f.zh}")
    # Object columns keep None as None (pandas would turn it into NaN or NaT).
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in out.items()}, index=range(n))

    # Keys: present and unique in the file; new in insert mode.
    key_col = frame.get(spec.key)
    if key_col is not None:
        keys = key_col.tolist()
        firsts, later, earlier = _repeats(keys)
        for i, j in zip(later.tolist(), earlier.tolist(), strict=True):
            problems.append(Problem(name, int(rows[i]), spec.field(spec.key).zh, _short(keys[i]),
                                    f"编号重复（与第 {int(rows[j])} 行相同）", f"duplicate id (same as row {int(rows[j])})"))
        if store is not None and mode == "insert" and len(firsts):
            existing = _existing(store, spec.table, spec.key, [keys[i] for i in firsts.tolist()])
            for i in (firsts.tolist() if existing else []):
                if keys[i] in existing:
                    problems.append(Problem(name, int(rows[i]), spec.field(spec.key).zh, _short(keys[i]),
                                            "数据库中已有此编号（如需更新请用 upsert 方式）",
                                            "this id is already in the database (use upsert to update)"))
    # References to other tables.
    if store is not None:
        for fname, table, column in spec.refs:
            if fname not in frame:
                continue
            wanted = {v for v in frame[fname] if v is not None}
            known = _existing(store, table, column, list(wanted))
            for i, v in enumerate(frame[fname]):
                if v is not None and v not in known:
                    problems.append(Problem(name, int(rows[i]), spec.field(fname).zh, _short(v),
                                            "数据库中没有这一户（请先导入住户）",
                                            "no such household in the database (import households first)"))
    _check_rows(spec, frame, rows, name, problems)
    if spec.name == "households":
        _check_head_names(source, frame, rows, by_field, store, mode, problems)
    if spec.name in ("households", "members") and "id_number" in frame:
        _check_identities(spec, frame, rows, name, store, problems, notes)

    # Geometry.
    say(0.65, "校验坐标与几何 checking coordinates and geometries")
    if spec.geometry is not None:
        frame["_wkb"] = _geometries(spec, source, frame, rows, crs_code, store, fix_swaps, repair, problems, notes)
    if spec.name == "households":
        _geocode_columns(frame, rows, name, locate, store, problems)
    if spec.name == "addresses" and "parent_id" in frame:
        _check_parents(frame, rows, name, store, problems)
    if kind == "stations" and "radius_m" in frame:
        defaults = frame["type"].map(lambda t: model.STATION_TYPES[t].radius_m if t in model.STATION_TYPES else None)
        frame["radius_m"] = frame["radius_m"].where(frame["radius_m"].notna(), defaults)
    elif kind == "stations" and "type" in frame:
        frame["radius_m"] = frame["type"].map(
            lambda t: model.STATION_TYPES[t].radius_m if t in model.STATION_TYPES else None)
    if kind == "roads":
        _road_columns(frame)
    problems.sort(key=lambda p: (p.row or 0, p.field))
    say(0.7, "校验完成 validated")
    return Prepared(spec, source, mapping, crs_code, frame, problems, notes)


_MISSING_POINT_EN = "the coordinates or geometry are missing"


def _geocode_columns(frame: pd.DataFrame, rows: np.ndarray, name: str, locate: Location | None,
                     store: Store | None, problems: list[Problem]) -> None:
    """Households: where each point came from (``geocode_method``, ``addr_id``, ``geocode_score``).

    A point from the file is ``coordinates`` (unless the file says, as WarmGrid's own export does);
    with ``locate``, the rows it places get their point and method, and each row it leaves to
    review is refused with the reason (instead of "the coordinates are missing").
    """
    n = len(frame)
    wkb = list(frame["_wkb"])
    given = frame["geocode_method"].tolist() if "geocode_method" in frame else [None] * n
    methods = [g if g is not None else ("coordinates" if wkb[i] is not None else None) for i, g in enumerate(given)]
    codes = frame["addr_id"].tolist() if "addr_id" in frame else [None] * n
    scores = frame["geocode_score"].tolist() if "geocode_score" in frame else [None] * n
    if locate is not None:
        points, pending = locate.points(), locate.pending()
        placed = {int(rows[i]) for i in (*points, *pending)}
        problems[:] = [p for p in problems
                       if not (p.row in placed and p.field == "geometry" and p.en == _MISSING_POINT_EN)]
        extent = _district_extent(store)
        for i, (lon, lat, method, score, code) in points.items():
            if wkb[i] is not None:
                continue
            if extent is not None and not _inside(extent, lon, lat):
                problems.append(Problem(name, int(rows[i]), "经度/纬度", f"{lon:.6f}, {lat:.6f}", "坐标不在本辖区范围内",
                                        "the point is outside the district's extent"))
                continue
            wkb[i] = shapely.to_wkb(shapely.Point(lon, lat))
            methods[i], codes[i], scores[i] = method, code, score
        for i, (zh, en) in pending.items():
            addr = frame["address"].iloc[i] if "address" in frame else ""
            problems.append(Problem(name, int(rows[i]), "地址", _shown(addr), f"未能按地址自动定位，须人工确认：{zh}",
                                    f"not located by its address; to review: {en}"))
        problems.extend(locate.problems)
    frame["_wkb"] = pd.Series(wkb, dtype=object)
    frame["geocode_method"] = pd.Series(methods, dtype=object)
    frame["addr_id"] = pd.Series(codes, dtype=object)
    frame["geocode_score"] = pd.Series(scores, dtype=object)


def _repeats(values: list[Any], usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each distinct value first occurs, and where it occurs again (None, NaN and rows not ``usable``
    left out).

    Returns ``(firsts, later, earlier)``: the positions of first occurrences, the positions of
    the repeats, both ascending, and for each repeat the position of its value's first
    occurrence. Values are compared as a dict compares keys.

    >>> firsts, later, earlier = _repeats(["a", None, "b", "a", "a", None])
    >>> firsts.tolist(), later.tolist(), earlier.tolist()
    ([0, 2], [3, 4], [0, 0])
    """
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    codes = codes.astype(np.int64, copy=True)
    if usable is not None:
        codes[~usable] = -1
    pos = np.flatnonzero(codes >= 0)
    c = codes[pos]
    kept, at = np.unique(c, return_index=True)
    first_pos = np.full(len(uniques), -1, dtype=np.int64)
    first_pos[kept] = pos[at]
    again = first_pos[c] != pos
    return np.sort(pos[at]), pos[again], first_pos[c[again]]


def _point_wkb(lon: np.ndarray, lat: np.ndarray) -> list[bytes]:
    """Each point's WKB (little-endian, 2D), as ``shapely.to_wkb(shapely.points(lon, lat))`` writes it,
    without making a million geometries: the 21 bytes laid out by numpy.

    >>> import shapely
    >>> _point_wkb(np.array([118.5, -0.0]), np.array([24.25, 0.0])) == list(
    ...     shapely.to_wkb(shapely.points([118.5, -0.0], [24.25, 0.0]), byte_order=1))
    True
    """
    buf = np.empty(len(lon), dtype=[("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
    buf["order"], buf["type"], buf["x"], buf["y"] = 1, 1, lon, lat
    return list(buf.view("V21").tolist())


def _parse_rows(raw: list[Any], todo: np.ndarray, parse: Callable[[Any], tuple[Any, tuple[str, str] | None]],
                vals: list[Any], refuse: Callable[[int, Any, tuple[str, str]], None]) -> None:
    """``parse`` each row of ``todo`` (none blank) into ``vals``; ``refuse(row, value, reason)`` the others.

    A text column (:class:`~grid.validators_columns.TextColumn`) is parsed once per distinct
    text (Arrow's dictionary encoding); other columns once per distinct (type, value), as far
    as 100,000 of them. A parser is a pure function of the value, so both give what one call
    per row would.
    """
    if len(todo) == 0:
        return
    if isinstance(raw, validators_columns.TextColumn):
        encoded = pc.dictionary_encode(raw.arrow.take(pa.array(todo)))
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        results = [parse(u) for u in encoded.dictionary.to_pylist()]
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        refused = np.fromiter((why is not None for _, why in results), dtype=bool, count=len(results))
        parsed = [val for val, _ in results]
        for i, c in zip(todo.tolist(), codes.tolist(), strict=True):
            vals[i] = parsed[c]
        for k in np.flatnonzero(refused[codes]).tolist():
            i = int(todo[k])
            vals[i] = None
            why = results[codes[k]][1]
            assert why is not None
            refuse(i, raw[i], why)
        return
    cache: dict[Any, tuple[Any, tuple[str, str] | None]] = {}
    for i in todo.tolist():
        v = raw[i]
        key = (type(v).__name__, v) if not isinstance(v, (list, dict)) else None
        res = cache.get(key) if key is not None else None
        if res is None:
            res = parse(v)
            if key is not None and len(cache) < 100_000:
                cache[key] = res
        val, why = res
        if why is not None:
            refuse(i, v, why)
        else:
            vals[i] = val


def _check_parents(frame: pd.DataFrame, rows: np.ndarray, name: str, store: Store | None,
                   problems: list[Problem]) -> None:
    """An address entry's parent (上级编码) is another entry, of this file or of the register."""
    keys = frame["addr_id"].tolist() if "addr_id" in frame else [None] * len(frame)
    own = {k for k in keys if k is not None}
    wanted = [p for p in frame["parent_id"] if p is not None and p not in own]
    known = _existing(store, "addresses", "addr_id", sorted(set(wanted))) if store is not None else set()
    for i, (k, par) in enumerate(zip(keys, frame["parent_id"], strict=True)):
        if par is None:
            continue
        if par == k:
            problems.append(Problem(name, int(rows[i]), "上级编码", _short(par), "上级编码不能是自身",
                                    "an entry cannot be its own parent"))
        elif par not in own and par not in known:
            problems.append(Problem(name, int(rows[i]), "上级编码", _short(par), "上级编码不在本文件中，也不在标准地址库中",
                                    "the parent id is neither in this file nor in the register"))


def _road_columns(frame: pd.DataFrame) -> None:
    """Roads: ``walkable`` from the road class where no column gives it; ``layer`` from 层, 桥梁, 隧道."""
    from grid.roads import kind_walkable

    n = len(frame)
    kinds = frame["kind"] if "kind" in frame else pd.Series([None] * n, dtype=object)
    given = frame["walkable"] if "walkable" in frame else pd.Series([None] * n, dtype=object)
    frame["walkable"] = [bool(w) if w is not None else kind_walkable(k)
                         for w, k in zip(given, kinds, strict=True)]
    layer = frame["layer"] if "layer" in frame else pd.Series([None] * n, dtype=object)
    bridge = frame.pop("bridge") if "bridge" in frame else pd.Series([None] * n, dtype=object)
    tunnel = frame.pop("tunnel") if "tunnel" in frame else pd.Series([None] * n, dtype=object)
    frame["layer"] = [int(lv) if lv is not None and (lv != 0 or not (b or t)) else (1 if b else -1 if t else 0)
                      for lv, b, t in zip(layer, bridge, tunnel, strict=True)]


def _check_rows(spec: Kind, frame: pd.DataFrame, rows: np.ndarray, name: str, problems: list[Problem]) -> None:
    """Rules across fields of one row."""
    if spec.name == "campaigns" and {"starts_on", "ends_on"} <= set(frame):
        for i, (a, b) in enumerate(zip(frame["starts_on"], frame["ends_on"], strict=True)):
            if a is not None and b is not None and b < a:
                problems.append(Problem(name, int(rows[i]), "结束日期", str(b), "结束日期早于开始日期",
                                        "the end date is before the start date"))
    if spec.name == "needs" and "raised_at" in frame:
        _check_needs(frame, rows, name, problems)
    if spec.name == "members" and {"id_number", "birth_year"} <= set(frame):
        for i, (idn, year) in enumerate(zip(frame["id_number"], frame["birth_year"], strict=True)):
            if idn is not None and year is not None and len(str(idn)) == 18 and int(str(idn)[6:10]) != int(year):
                problems.append(Problem(name, int(rows[i]), "出生年份", str(year),
                                        f"与身份证号中的出生年份 {str(idn)[6:10]} 不一致",
                                        f"differs from the birth year {str(idn)[6:10]} in the ID number"))
    if spec.name == "admin_units" and {"level", "parent_code"} <= set(frame):
        for i, (lv, par) in enumerate(zip(frame["level"], frame["parent_code"], strict=True)):
            if lv is not None and (lv == "district") != (par is None):
                problems.append(Problem(name, int(rows[i]), "上级代码", _short(par),
                                        "区须无上级代码，街道和社区须有上级代码",
                                        "a district has no parent code; streets and communities need one"))
    if spec.name == "cells" and {"cell_id", "community_code"} <= set(frame):
        for i, (c, cc) in enumerate(zip(frame["cell_id"], frame["community_code"], strict=True)):
            if c is not None and cc is not None and not c.startswith(cc):
                problems.append(Problem(name, int(rows[i]), "网格编码", c, f"网格编码须以社区代码 {cc} 开头",
                                        f"the cell code must start with its community code {cc}"))


def _check_head_names(source: Source, frame: pd.DataFrame, rows: np.ndarray, by_field: dict[str, str],
                      store: Store | None, mode: str, problems: list[Problem]) -> None:
    """A household's head's name (户主姓名) is never empty: a blank cell is refused; without the column
    (an upsert of some columns) a household new to the database is refused."""
    name = source.name
    col = by_field.get("head_name")
    if col is not None:
        for i in np.flatnonzero(validators_columns.blank_column(
                validators_columns.text_column_of(source.frame[col]))).tolist():
            problems.append(Problem(name, int(rows[i]), "户主姓名", "", "户主姓名为空",
                                    "the head of household's name is empty"))
        return
    if mode != "upsert" or "hh_id" not in frame:
        return  # insert mode without the column: refused for the whole file above
    keys = [k for k in frame["hh_id"] if k is not None]
    stored = _existing(store, "households", "hh_id", keys) if store is not None else set()
    for i, k in enumerate(frame["hh_id"]):
        if k is not None and k not in stored:
            problems.append(Problem(name, int(rows[i]), "户主姓名", "", "新增住户须填写户主姓名（文件中没有“户主姓名”列）",
                                    "a new household needs its head's name (the file has no head-of-household column)"))


def _person(text: Any) -> str | None:
    """A name as compared for identity: NFKC, without spaces (None when not given)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))
    return s or None


def _check_identities(spec: Kind, frame: pd.DataFrame, rows: np.ndarray, name: str, store: Store | None,
                      problems: list[Problem], notes: list[Problem]) -> None:
    """One ID number (身份证号) is one person, in one household.

    A person is registered in one household (户籍): the head of a household is a member of it (the
    ``members`` row of relation 户主 repeats the household's ID number), and nowhere else. So, within
    the file and against the database (households' heads and members alike):

    - the same ID number with two different names is refused (two people cannot share one number);
    - the same person in two households is refused, unless one of them has left the register
      (退出, 迁出): then the move is legitimate and only noted, for the user to confirm;
    - the same person twice in one household's members is refused.

    Stored rows the file replaces (the same key) are left out of the comparison.
    """
    is_hh = spec.name == "households"
    who = "head_name" if is_hh else "name"
    n = len(frame)
    ids = frame["id_number"].tolist()
    keys = frame[spec.key].tolist() if spec.key in frame else [None] * n
    hhs = frame["hh_id"].tolist() if "hh_id" in frame else [None] * n
    names = frame[who].tolist() if who in frame else [None] * n
    status = frame["status"].tolist() if is_hh and "status" in frame else [None] * n
    role = "户主" if is_hh else "成员"
    role_en = "head" if is_hh else "member"
    firsts, later, earlier = _repeats(ids, np.fromiter((k is not None for k in keys), dtype=bool, count=n))
    for i, j in zip(later.tolist(), earlier.tolist(), strict=True):
        idn = ids[i]
        r, rj = int(rows[i]), int(rows[j])
        a, b = _person(names[j]), _person(names[i])
        if a is not None and b is not None and a != b:
            problems.append(Problem(name, r, "身份证号", idn,
                                    f"与第 {rj} 行的身份证号相同，但姓名不同（第 {rj} 行“{names[j]}”，本行“{names[i]}”）："
                                    "一个身份证号只能属于一个人",
                                    f"the same ID number as row {rj} but another name (row {rj} '{names[j]}', this row "
                                    f"'{names[i]}'): one ID number belongs to one person"))
        elif hhs[i] == hhs[j]:
            problems.append(Problem(name, r, "身份证号", idn, f"与第 {rj} 行是同一人：同一人在本户登记了两次",
                                    f"the same person as row {rj}: listed twice in one household"))
        elif any(s is not None and s != "active" for s in (status[i], status[j])):
            notes.append(Problem(name, r, "身份证号", idn,
                                 f"与第 {rj} 行（户 {hhs[j]}）是同一人，其中一户已退出或迁出：请确认是迁入新户",
                                 f"the same person as row {rj} (household {hhs[j]}), one of which has left the "
                                 "register: confirm that the person moved"))
        else:
            problems.append(Problem(name, r, "身份证号", idn,
                                    f"与第 {rj} 行（户 {hhs[j]}）是同一人：同一人不能同时在两户（两户均在册）",
                                    f"the same person as row {rj} (household {hhs[j]}): one person cannot be in two "
                                    "registered households"))
    if store is None or not len(firsts):
        return
    at = np.concatenate([firsts, later])
    wanted = pd.DataFrame({"i": at, "idn": pd.Series([ids[i] for i in at.tolist()], dtype=object)})
    mine = pd.DataFrame({"k": [k for k in keys if k is not None]}, dtype=object)
    cur = store.cursor()
    cur.register("_ids", wanted)
    cur.register("_mine", mine)
    try:
        found = cur.execute(
            "SELECT w.i, 'households', h.hh_id, h.hh_id, h.head_name, h.status FROM _ids w"
            " JOIN households h ON h.id_number = w.idn"
            + (" WHERE h.hh_id NOT IN (SELECT k FROM _mine)" if is_hh else "")
            + " UNION ALL SELECT w.i, 'members', m.member_id, m.hh_id, m.name, h.status FROM _ids w"
            " JOIN members m ON m.id_number = w.idn LEFT JOIN households h ON h.hh_id = m.hh_id"
            + ("" if is_hh else " WHERE m.member_id NOT IN (SELECT k FROM _mine)")
            + " ORDER BY 1, 2, 3").fetchall()
    finally:
        cur.unregister("_ids")
        cur.unregister("_mine")
    told: set[int] = set()  # one problem per row: the first record that conflicts (a head before a member)
    for i, table, skey, shh, sname, sstatus in found:
        i = int(i)
        if i in told:
            continue
        before = len(problems) + len(notes)
        r, idn = int(rows[i]), ids[i]
        there = "户主" if table == "households" else "成员"
        there_en = "head" if table == "households" else "member"
        a, b = _person(sname), _person(names[i])
        if a is not None and b is not None and a != b:
            problems.append(Problem(name, r, "身份证号", idn,
                                    f"数据库中户 {shh} 的{there}“{sname}”已使用此身份证号，与本行{role}“{names[i]}”"
                                    "姓名不同：一个身份证号只能属于一个人",
                                    f"the database's {there_en} '{sname}' of household {shh} has this ID number, "
                                    f"another name than this row's {role_en} '{names[i]}': one ID number belongs to "
                                    "one person"))
        elif shh == hhs[i]:
            if table == spec.table:  # the same person twice among one household's members
                problems.append(Problem(name, r, "身份证号", idn, f"数据库中本户已有此人（成员编号 {skey}）",
                                        f"the household already lists this person (member {skey})"))
        elif sstatus is not None and sstatus != "active":
            notes.append(Problem(name, r, "身份证号", idn,
                                 f"此人是数据库中户 {shh}（已{model.label(sstatus)}）的{there}：请确认是迁入新户",
                                 f"this person is the {there_en} of household {shh} in the database, which has left "
                                 "the register: confirm that the person moved"))
        else:
            problems.append(Problem(name, r, "身份证号", idn,
                                    f"此人已是数据库中户 {shh}（在册）的{there}：同一人不能同时在两户",
                                    f"this person is already the {there_en} of household {shh} (registered) in the "
                                    "database: one person cannot be in two households"))
        if len(problems) + len(notes) > before:
            told.add(i)


def _check_needs(frame: pd.DataFrame, rows: np.ndarray, name: str, problems: list[Problem]) -> None:
    """A need's state must hold together (the rules of the ``needs`` table's CHECK constraints, with
    reasons): settled (resolved, answered, closed) exactly with a resolution time, closed exactly with
    a follow-up time and a satisfaction, assigned or in progress with a unit, an assignment time and a
    due date, raised or returned with none of them; times in order. Without a status column, the
    state is read from the times given."""
    n = len(frame)
    for c in NEED_FLOW_FIELDS:
        if c not in frame:
            frame[c] = pd.Series([None] * n, dtype=object)
    given = frame["status"] if "status" in frame else pd.Series([None] * n, dtype=object)
    status = []
    for s, res, unit, closed, sat in zip(given, frame["resolved_at"], frame["unit_code"], frame["closed_at"],
                                         frame["satisfaction"], strict=True):
        if s is None:
            s = ("closed" if closed is not None or sat is not None else "resolved" if res is not None
                 else "assigned" if unit is not None else "raised")
        status.append(s)
    frame["status"] = pd.Series(status, dtype=object)
    label = {"resolved_at": "办结时间", "unit_code": "办理单位", "assigned_at": "分拨时间", "due_at": "办理期限",
             "satisfaction": "满意度", "closed_at": "回访时间"}

    def need(i: int, col: str, zh: str, en: str) -> None:
        problems.append(Problem(name, int(rows[i]), label[col], "", zh, en))

    for i, r in enumerate(frame[["status", "raised_at", *NEED_FLOW_FIELDS]].itertuples(index=False)):
        st = r.status
        settled = st in model.SETTLED_NEED_STATUSES
        if r.raised_at is not None and r.resolved_at is not None and r.resolved_at < r.raised_at:
            problems.append(Problem(name, int(rows[i]), "办结时间", str(r.resolved_at), "办结时间早于提出时间",
                                    "resolved before it was raised"))
        if settled and r.resolved_at is None:
            need(i, "resolved_at", "已办结的诉求须填写办结时间", "a resolved need needs its resolution time")
        if not settled and r.resolved_at is not None:
            problems.append(Problem(name, int(rows[i]), "办理状态", st, "填写了办结时间但状态为未办结",
                                    "has a resolution time but its status is open"))
        if st == "closed":
            if r.closed_at is None:
                need(i, "closed_at", "已回访的诉求须填写回访时间", "a closed need needs its follow-up time")
            if r.satisfaction is None:
                need(i, "satisfaction", "已回访的诉求须填写满意度", "a closed need needs its satisfaction")
        elif r.closed_at is not None or r.satisfaction is not None:
            problems.append(Problem(name, int(rows[i]), "办理状态", st, "填写了回访时间或满意度但状态不是已回访",
                                    "has a follow-up but its status is not closed"))
        if st in ("assigned", "in_progress"):
            for col in ("unit_code", "assigned_at", "due_at"):
                if getattr(r, col) is None:
                    need(i, col, f"已分拨的诉求须填写{label[col]}", f"an assigned need needs its {col}")
        if st in ("raised", "returned"):
            for col in ("unit_code", "assigned_at", "due_at"):
                if getattr(r, col) is not None:
                    problems.append(Problem(name, int(rows[i]), label[col], _shown(getattr(r, col)),
                                            f"未分拨或已退回的诉求不能有{label[col]}",
                                            f"a raised or returned need has no {col}"))
        if (r.assigned_at is None) != (r.due_at is None) and st not in ("raised", "returned", "assigned",
                                                                        "in_progress"):
            need(i, "due_at", "分拨时间与办理期限须同时填写", "the assignment time and the due date go together")
        for a, b, zh, en in (("raised_at", "assigned_at", "分拨时间早于提出时间", "assigned before it was raised"),
                             ("assigned_at", "due_at", "办理期限早于分拨时间", "due before it was assigned"),
                             ("resolved_at", "closed_at", "回访时间早于办结时间", "followed up before it was settled")):
            x, y = getattr(r, a), getattr(r, b)
            if x is not None and y is not None and y < x:
                problems.append(Problem(name, int(rows[i]), label.get(b, b), str(y), zh, en))


def _existing(store: Store, table: str, column: str, values: list[Any]) -> set[Any]:
    if not values:
        return set()
    cur = store.cursor()
    cur.register("_wanted", pd.DataFrame({"v": values}))
    try:
        rows = cur.execute(f"SELECT DISTINCT t.{column} FROM {table} t JOIN _wanted w ON t.{column} = w.v").fetchall()
    finally:
        cur.unregister("_wanted")
    return {r[0] for r in rows}


def _district_extent(store: Store | None) -> tuple[float, float, float, float] | None:
    if store is None:
        return None
    row = store.cursor().execute(
        "SELECT min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), max(ST_YMax(geom)) FROM ("
        " SELECT geom FROM cells UNION ALL SELECT geom FROM admin_units WHERE geom IS NOT NULL)").fetchone()
    if row is None or row[0] is None:
        return None
    pad = 0.02  # about 2 km
    return (row[0] - pad, row[1] - pad, row[2] + pad, row[3] + pad)


def _inside(box: tuple[float, float, float, float], x: float, y: float) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _geometries(spec: Kind, source: Source, frame: pd.DataFrame, rows: np.ndarray, crs_code: str,
                store: Store | None, fix_swaps: bool, repair: bool, problems: list[Problem],
                notes: list[Problem]) -> list[bytes | None]:
    name = source.name
    n = len(frame)
    if spec.geometry == "line":
        return _line_geometries(source, rows, crs_code, store, problems)
    if spec.geometry == "point" and source.geoms is None and "lon" in frame and "lat" in frame:
        return _points_from_columns(spec, frame, rows, name, crs_code, store, fix_swaps, problems, notes)
    geoms: list[BaseGeometry | None] = list(source.geoms) if source.geoms is not None else [None] * n
    if spec.geometry == "point" and "lon" in frame and "lat" in frame:
        for i, (x, y) in enumerate(zip(frame["lon"], frame["lat"], strict=True)):
            if geoms[i] is None and x is not None and y is not None:
                geoms[i] = shapely.Point(x, y)
    want = ("Point",) if spec.geometry == "point" else ("Polygon", "MultiPolygon")
    extent = _district_extent(store)
    out: list[bytes | None] = [None] * n
    flagged = {p.row for p in problems}
    for i, g in enumerate(geoms):
        r = int(rows[i])
        if g is None:
            if spec.geometry_required and r not in flagged:
                problems.append(Problem(name, r, "geometry", "", "缺少坐标或几何对象",
                                        "the coordinates or geometry are missing"))
            continue
        if g.is_empty:
            problems.append(Problem(name, r, "geometry", g.geom_type.upper() + " EMPTY", "几何对象为空",
                                    "the geometry is empty"))
            continue
        if g.geom_type not in want:
            problems.append(Problem(name, r, "geometry", g.geom_type,
                                    f"几何类型错误：应为{'点' if spec.geometry == 'point' else '多边形'}",
                                    f"wrong geometry type: {g.geom_type}, expected {' or '.join(want)}"))
            continue
        if g.has_z:
            g = shapely.force_2d(g)
        if not np.isfinite(shapely.get_coordinates(g)).all():
            problems.append(Problem(name, r, "geometry", "", "坐标含有 NaN 或无穷大", "coordinates contain NaN or infinity"))
            continue
        g = _to_wgs84(g, crs_code)
        if spec.geometry == "point":
            x, y = g.x, g.y
            if not _inside(_CHINA, x, y):
                if _inside(_CHINA, y, x) and (extent is None or _inside(extent, y, x)):
                    if fix_swaps:
                        g = shapely.Point(y, x)
                        notes.append(Problem(name, r, "经度/纬度", f"{x:.6f}, {y:.6f}", "经纬度颠倒，已交换",
                                             "longitude and latitude were swapped; swapped back"))
                    else:
                        problems.append(Problem(name, r, "经度/纬度", f"{x:.6f}, {y:.6f}",
                                                "经度和纬度似乎填反了（可选择自动交换）",
                                                "longitude and latitude seem swapped (ask to fix swaps)"))
                        continue
                else:
                    problems.append(Problem(name, r, "经度/纬度", f"{x:.6f}, {y:.6f}", "坐标不在中国大陆范围内",
                                            "the point is outside mainland China"))
                    continue
            if extent is not None and not _inside(extent, g.x, g.y):
                problems.append(Problem(name, r, "经度/纬度", f"{g.x:.6f}, {g.y:.6f}", "坐标不在本辖区范围内",
                                        "the point is outside the district's extent"))
                continue
        else:
            if not g.is_valid:
                why = shapely.is_valid_reason(g)
                if repair:
                    fixed = shapely.make_valid(g)
                    polys = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
                    fixed = shapely.union_all(polys) if polys else shapely.Polygon()
                    if fixed.is_empty:
                        problems.append(Problem(name, r, "geometry", why, "多边形无法修复", "the polygon cannot be repaired"))
                        continue
                    change = (fixed.area - g.area) / g.area * 100 if g.area else float("nan")
                    notes.append(Problem(name, r, "geometry", why, f"已修复无效多边形，面积变化 {change:+.2f}%",
                                         f"repaired an invalid polygon; area changed by {change:+.2f}%"))
                    g = fixed
                else:
                    problems.append(Problem(name, r, "geometry", why, "多边形无效（自相交等），可选择自动修复",
                                            f"invalid polygon ({why}); ask to repair it"))
                    continue
            minx, miny, maxx, maxy = g.bounds
            if not (_inside(_CHINA, minx, miny) and _inside(_CHINA, maxx, maxy)):
                problems.append(Problem(name, r, "geometry", f"{minx:.4f},{miny:.4f}", "多边形不在中国大陆范围内",
                                        "the polygon is outside mainland China"))
                continue
        out[i] = shapely.to_wkb(g)
    return out


def _line_geometries(source: Source, rows: np.ndarray, crs_code: str, store: Store | None,
                     problems: list[Problem]) -> list[bytes | None]:
    """Road lines: one LINESTRING each, converted to WGS84, rounded to 1e-7 degrees, checked."""
    from grid.roads import round_line

    name = source.name
    geoms: list[BaseGeometry | None] = list(source.geoms) if source.geoms is not None else [None] * len(rows)
    extent = _district_extent(store)  # already padded by about 2 km
    flagged = {p.row for p in problems}
    out: list[bytes | None] = [None] * len(geoms)
    for i, g in enumerate(geoms):
        r = int(rows[i])
        if g is None:
            if r not in flagged:
                problems.append(Problem(name, r, "geometry", "", "缺少线几何", "the line geometry is missing"))
            continue
        if g.is_empty:
            problems.append(Problem(name, r, "geometry", g.geom_type.upper() + " EMPTY", "几何对象为空",
                                    "the geometry is empty"))
            continue
        if g.geom_type == "MultiLineString":
            merged = shapely.line_merge(g)
            if merged.geom_type != "LineString":
                problems.append(Problem(name, r, "geometry", f"MultiLineString ({len(shapely.get_parts(g))})",
                                        "多段线由互不相连的几段组成，请拆成每行一条线",
                                        "a multi-part line whose parts do not join; split it into one line per row"))
                continue
            g = merged
        if g.geom_type != "LineString":
            problems.append(Problem(name, r, "geometry", g.geom_type, "几何类型错误：应为线（LineString）",
                                    f"wrong geometry type: {g.geom_type}, expected LineString"))
            continue
        if g.has_z:
            g = shapely.force_2d(g)
        if not np.isfinite(shapely.get_coordinates(g)).all():
            problems.append(Problem(name, r, "geometry", "", "坐标含有 NaN 或无穷大", "coordinates contain NaN or infinity"))
            continue
        g = round_line(_to_wgs84(g, crs_code))
        if g.is_empty or g.length == 0:
            problems.append(Problem(name, r, "geometry", "", "线的长度为零（所有点重合）",
                                    "the line has zero length (all its points coincide)"))
            continue
        minx, miny, maxx, maxy = g.bounds
        if not (_inside(_CHINA, minx, miny) and _inside(_CHINA, maxx, maxy)):
            problems.append(Problem(name, r, "geometry", f"{minx:.4f},{miny:.4f}", "线不在中国大陆范围内",
                                    "the line is outside mainland China"))
            continue
        if extent is not None and not (_inside(extent, minx, miny) and _inside(extent, maxx, maxy)):
            problems.append(Problem(name, r, "geometry", f"{minx:.4f},{miny:.4f} – {maxx:.4f},{maxy:.4f}",
                                    "线超出本辖区范围 2 公里以上", "the line reaches more than 2 km outside the district"))
            continue
        out[i] = shapely.to_wkb(g)
    return out


def _points_from_columns(spec: Kind, frame: pd.DataFrame, rows: np.ndarray, name: str, crs_code: str,
                         store: Store | None, fix_swaps: bool, problems: list[Problem],
                         notes: list[Problem]) -> list[bytes | None]:
    """Points from longitude/latitude columns, checked and converted on whole arrays.

    The same checks as for geometries (inside mainland China, swapped, inside
    the district), vectorised: a million rows take about a second.
    """
    x = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
    present = np.isfinite(x) & np.isfinite(y)
    lon, lat = x.copy(), y.copy()
    if crs_code not in ("wgs84", "cgcs2000", "EPSG:4326", "EPSG:4490") and present.any():
        lon[present], lat[present] = crs_mod.to_wgs84(x[present], y[present], crs_code)

    def inside(box: tuple[float, float, float, float], a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a >= box[0]) & (a <= box[2]) & (b >= box[1]) & (b <= box[3])

    extent = _district_extent(store)
    in_china = inside(_CHINA, lon, lat)
    swapped = present & ~in_china & inside(_CHINA, lat, lon)
    if extent is not None:
        swapped &= inside(extent, lat, lon)
    flagged = {p.row for p in problems}
    ok = present & (in_china | (swapped & fix_swaps))
    for i in np.flatnonzero(swapped):
        r = int(rows[i])
        shown = f"{lon[i]:.6f}, {lat[i]:.6f}"
        if fix_swaps:
            notes.append(Problem(name, r, "经度/纬度", shown, "经纬度颠倒，已交换",
                                 "longitude and latitude were swapped; swapped back"))
        else:
            problems.append(Problem(name, r, "经度/纬度", shown, "经度和纬度似乎填反了（可选择自动交换）",
                                    "longitude and latitude seem swapped (ask to fix swaps)"))
    if fix_swaps:
        lon[swapped], lat[swapped] = lat[swapped].copy(), lon[swapped].copy()
    for i in np.flatnonzero(present & ~in_china & ~swapped):
        problems.append(Problem(name, int(rows[i]), "经度/纬度", f"{lon[i]:.6f}, {lat[i]:.6f}",
                                "坐标不在中国大陆范围内", "the point is outside mainland China"))
    if extent is not None:
        out = ok & ~inside(extent, lon, lat)
        for i in np.flatnonzero(out):
            problems.append(Problem(name, int(rows[i]), "经度/纬度", f"{lon[i]:.6f}, {lat[i]:.6f}",
                                    "坐标不在本辖区范围内", "the point is outside the district's extent"))
        ok &= ~out
    if spec.geometry_required:
        for i in np.flatnonzero(~present):
            if int(rows[i]) not in flagged:
                problems.append(Problem(name, int(rows[i]), "geometry", "", "缺少坐标或几何对象",
                                        "the coordinates or geometry are missing"))
    wkb = np.full(len(frame), None, dtype=object)
    if ok.any():
        wkb[ok] = _point_wkb(lon[ok], lat[ok])
    return list(wkb)


def _to_wgs84(g: BaseGeometry, crs_code: str) -> BaseGeometry:
    if crs_code in ("wgs84", "cgcs2000", "EPSG:4326", "EPSG:4490"):
        return g

    def conv(xy: np.ndarray) -> np.ndarray:
        lon, lat = crs_mod.to_wgs84(xy[:, 0], xy[:, 1], crs_code)
        return np.column_stack([lon, lat])

    return shapely.transform(g, conv)


# --------------------------------------------------------------------------- writing
@dataclass
class ImportReport:
    """What an import did (or would do, for a dry run)."""

    kind: str
    file: str
    format: str
    encoding: str | None
    crs: str
    mapping: dict[str, str]
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    notes: list[Problem] = field(default_factory=list)
    history: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {"kind": self.kind, "file": self.file, "format": self.format, "encoding": self.encoding,
                "crs": self.crs, "mapping": self.mapping, "rows": self.rows, "inserted": self.inserted,
                "updated": self.updated, "unchanged": self.unchanged, "dry_run": self.dry_run,
                "history_rows": self.history, "notes": [str(p) for p in self.notes]}

    def text(self) -> str:
        """A two-language summary for people."""
        head = "试导入（未写入）" if self.dry_run else "导入完成"
        en = "dry run (nothing written)" if self.dry_run else "imported"
        lines = [f"{head} · {en}: {self.file} → {self.kind}",
                 f"  读取 {self.rows} 行；新增 {self.inserted}，更新 {self.updated}，未变 {self.unchanged}"
                 f" · read {self.rows}; inserted {self.inserted}, updated {self.updated}, unchanged {self.unchanged}"]
        lines += [f"  注意 note: {p}" for p in self.notes]
        return "\n".join(lines)


def problems_frame(problems: Iterable[Problem]) -> pd.DataFrame:
    """Problems as a table (for display and download)."""
    return pd.DataFrame([{"文件 file": p.where, "行 row": p.row, "字段 field": p.field, "值 value": p.value,
                          "原因": p.zh, "reason": p.en} for p in problems],
                        columns=["文件 file", "行 row", "字段 field", "值 value", "原因", "reason"])



def _stored_fields(spec: Kind, frame: pd.DataFrame) -> list[str]:
    return [f.name for f in spec.fields if f.store and f.name in frame.columns]


def write(store: Store, prep: Prepared, *, actor: Actor, mode: str = "insert", dry_run: bool = False,
          progress: Progress | None = None) -> ImportReport:
    """Write validated rows, the import's log row and its audit row in one transaction;
    nothing is written on any error.

    The actor must be allowed to ``import`` into the kind's table.

    Raises
    ------
    ValidationError
        If ``prep`` holds any problem.
    AccessDenied
        If the actor may not import this kind.
    """
    say = progress or (lambda f, m: None)
    ensure(actor, "import", prep.kind.table, log=None if dry_run else store)
    if prep.problems:
        raise ValidationError(prep.problems)
    spec = prep.kind
    frame = prep.frame
    cols = _stored_fields(spec, frame)
    geo = "_wkb" in frame.columns
    rep = ImportReport(spec.name, prep.source.name, prep.source.format, prep.source.encoding, prep.crs,
                       prep.mapping, len(frame), dry_run=dry_run, notes=list(prep.notes))
    extra = [c for c in ("_wkb", "declared_cell") if c in frame.columns]
    stage = frame[cols + extra].copy()
    stage["_row"] = prep.source.rows
    cats = {c for c in cols if spec.field(c).parse == "categories"}
    for c in cats:
        stage[c] = [list(v) if v is not None else [] for v in stage[c]]
    touched = pd.DataFrame({"road_id": pd.Series(dtype=object), "_wkb": pd.Series(dtype=object)})
    if spec.name == "roads":
        say(0.7, "道路打断：交叉口插入共用节点 noding the roads")
        stage["_wkb"], touched = _node_roads(store, stage)
        if len(touched):
            rep.notes.append(Problem(prep.source.name, None, "geometry", f"{len(touched)}",
                                     f"库中已有 {len(touched)} 条道路与新道路平面相交，已在交叉处插入共用节点",
                                     f"{len(touched)} stored roads cross the new ones at grade and gain the "
                                     "crossing vertices"))
    key = spec.key
    cast = {c: "::TEXT[]" for c in cats}
    compare = " OR ".join(
        [f"list_sort(t.{c}) IS DISTINCT FROM list_sort(s.{c}::TEXT[])" if c in cats
         else f"t.{c} IS DISTINCT FROM s.{c}" for c in cols if c != key]
        # Geometries equal to 1e-9 degrees (0.1 mm) are unchanged: converting GCJ-02 and back is not bit-exact.
        + (["NOT coalesce(ST_Equals(ST_ReducePrecision(t.geom, 1e-9), ST_ReducePrecision(ST_GeomFromWKB(s._wkb), "
            "1e-9)), t.geom IS NULL AND s._wkb IS NULL)"]
           if geo else [])) or "FALSE"
    count_sql = (f"SELECT count(*) FILTER (WHERE t.{key} IS NULL),"
                 f" count(*) FILTER (WHERE t.{key} IS NOT NULL AND ({compare}))"
                 f" FROM _stage s LEFT JOIN {spec.table} t ON t.{key} = s.{key}")

    def count(cur: Any) -> None:
        """Added, updated and unchanged rows, against the database as the writing transaction sees it."""
        say(0.72, "比对数据库 comparing with the database")
        if cur.execute(f"SELECT NOT EXISTS (FROM {spec.table})").fetchone()[0]:
            rep.inserted, rep.updated = len(stage), 0  # an empty table: every row is new (no join to make)
        else:
            got = cur.execute(count_sql).fetchone()
            assert got is not None
            rep.inserted, rep.updated = int(got[0]), int(got[1])
        rep.unchanged = len(stage) - rep.inserted - rep.updated

    if dry_run:
        reader = store.cursor()
        reader.register("_stage", _staged(stage))
        try:
            count(reader)
        finally:
            reader.unregister("_stage")
        say(1.0, "完成 done")
        return rep
    target = cols + (["geom"] if geo else [])
    select = ", ".join("ST_GeomFromWKB(s._wkb)" if c == "geom" else f"s.{c}{cast.get(c, '')}" for c in target)
    if spec.name == "households":
        target, select = target + ["updated_at"], select + ", current_timestamp"
    # Households' derived columns are computed for the rows written, as they are written, when the
    # district's metric CRS is settled (Store.refresh_derived would recompute every household's, in
    # the transaction's own storage: 6 s of a 1,000,000-row import; tests/test_import_rules.py checks
    # both give the same columns). Otherwise refresh_derived chooses the CRS and computes them all.
    crs = store.meta("metric_crs") if spec.name == "households" and geo else None
    params: list[Any] = []
    if crs is not None:
        target += ["x_m", "y_m", "cell_id"]
        select += (", ST_X(ST_Transform(ST_GeomFromWKB(s._wkb), ?, ?, always_xy := true)),"
                   " ST_Y(ST_Transform(ST_GeomFromWKB(s._wkb), ?, ?, always_xy := true)), s._cell")
        params = [WGS84, crs, WGS84, crs]
    sql = (f"INSERT INTO {spec.table} ({', '.join(target)}) SELECT {select} FROM _stage s"
           f" LEFT JOIN {spec.table} t ON t.{key} = s.{key} WHERE t.{key} IS NULL OR ({compare})")
    # Every row new (counted in the writing transaction): no row of the table to join or compare.
    sql_all_new = f"INSERT INTO {spec.table} ({', '.join(target)}) SELECT {select} FROM _stage s"
    if mode == "upsert":
        sql += f" ON CONFLICT ({key}) DO UPDATE SET " + ", ".join(
            f"{c} = EXCLUDED.{c}" for c in target if c != key)
    with store.transaction() as cur:
        staged = _staged(stage)
        if crs is not None:  # the cells as this transaction sees them
            staged = _with_cells(cur, staged)
        cur.register("_stage", staged)
        try:
            count(cur)  # in the transaction that writes: the counts are those of this very write
            if spec.name == "households":
                rep.history = _history(cur, prep, cols)
            say(0.8, "写入 writing")
            if spec.name == "needs" and rep.inserted + rep.updated:
                _need_events(cur, compare, actor, prep.source.name)
            if rep.inserted + rep.updated:
                cur.execute(sql_all_new if rep.inserted == len(stage) else sql, params)
            if len(touched):
                cur.register("_touched", touched)
                try:
                    cur.execute("UPDATE roads SET geom = ST_GeomFromWKB(t._wkb) FROM _touched t"
                                " WHERE roads.road_id = t.road_id")
                finally:
                    cur.unregister("_touched")
            if rep.inserted + rep.updated and spec.name in ("households", "cells", "stations") and crs is None:
                say(0.9, "重算派生字段 recomputing derived columns")
                store.refresh_derived()
            if "declared_cell" in stage.columns:
                rep.notes += _declared_mismatches(cur, prep.source.name)
            cur.execute(
                "INSERT INTO imports (kind, file_name, sha256, mode, crs, rows_read, inserted, updated, unchanged,"
                " username) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [spec.name, prep.source.name, prep.source.sha256, mode, prep.crs, rep.rows, rep.inserted,
                 rep.updated, rep.unchanged, actor.name])
            audit.record(cur, actor, "import", object=f"{spec.name}:{prep.source.name}",
                         row_count=rep.inserted + rep.updated)
        finally:
            cur.unregister("_stage")
    say(1.0, "完成 done")
    return rep


def _staged(stage: pd.DataFrame) -> Any:
    """The rows to write as an Arrow table, which DuckDB scans in parallel without Python.

    DuckDB reads a frame's object columns value by value through Python, once per statement
    that scans it (the comparison, the history, the insert: 7 s for 1,000,000 households).
    A column Arrow cannot type (values of mixed kinds) keeps the frame as it is.
    """
    try:
        return pa.Table.from_pandas(stage, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return stage


def _with_cells(cur: Any, staged: Any) -> Any:
    """The staged households with ``_cell``: the cell of each point (``_wkb``), as ``Store.refresh_derived``
    would give it, among the cells as the cursor's transaction sees them."""
    wkb = (pa.array(staged["_wkb"].tolist(), type=pa.binary()) if isinstance(staged, pd.DataFrame)
           else staged.column("_wkb"))
    cur.register("_stage_points", pa.table({"_i": np.arange(len(wkb), dtype=np.int64), "_wkb": wkb}))
    try:  # DuckDB reads the points' WKB in parallel; the rows' order is kept by their index, not by the scan
        xy = cur.execute("SELECT ST_X(ST_GeomFromWKB(_wkb)) AS x, ST_Y(ST_GeomFromWKB(_wkb)) AS y"
                         " FROM _stage_points ORDER BY _i").to_arrow_table()
    finally:
        cur.unregister("_stage_points")
    cells = cur.execute("SELECT cell_id, ST_AsWKB(geom) AS wkb FROM cells").to_arrow_table()
    found = cells_of_xy(xy["x"].to_numpy(zero_copy_only=False), xy["y"].to_numpy(zero_copy_only=False),
                        shapely.from_wkb(cells["wkb"].to_numpy(zero_copy_only=False)),
                        cells["cell_id"].to_numpy(zero_copy_only=False))
    if isinstance(staged, pd.DataFrame):
        return staged.assign(_cell=pd.Series(found, index=staged.index, dtype=object))
    return staged.append_column("_cell", pa.array(found, type=pa.string()))


def _need_events(cur: Any, compare: str, actor: Actor, file_name: str) -> None:
    """The ``import`` events of imported needs (before they are written): a new need is raised at its
    ``raised_at`` and, when the file gives another state, reaches it at the last time the file gives
    (closed, resolved, assigned); a changed one changes now."""
    note = f"导入 {file_name}"[:200]
    new = "FROM _stage s LEFT JOIN needs t ON t.need_id = s.need_id WHERE t.need_id IS NULL"
    cur.execute('INSERT INTO need_events (need_id, "at", by_user, from_status, to_status, note, step)'
                f" SELECT s.need_id, s.raised_at, ?, NULL, 'raised', ?, 'import' {new}"
                " ORDER BY s.raised_at, s.need_id", [actor.name, note])
    cur.execute('INSERT INTO need_events (need_id, "at", by_user, from_status, to_status, note, step, unit_code)'
                " SELECT s.need_id, coalesce(s.closed_at, s.resolved_at, s.assigned_at, s.raised_at), ?, 'raised',"
                f" s.status, ?, 'import', s.unit_code {new} AND s.status <> 'raised'"
                " ORDER BY coalesce(s.closed_at, s.resolved_at, s.assigned_at, s.raised_at), s.need_id",
                [actor.name, note])
    cur.execute('INSERT INTO need_events (need_id, "at", by_user, from_status, to_status, note, step, unit_code)'
                " SELECT s.need_id, ?, ?, t.status, s.status, ?, 'import', s.unit_code"
                f" FROM _stage s JOIN needs t ON t.need_id = s.need_id WHERE ({compare}) ORDER BY s.need_id",
                [datetime.now(), actor.name, note])


def _node_roads(store: Store, stage: pd.DataFrame) -> tuple[list[bytes], pd.DataFrame]:
    """Node the new lines with each other and with the stored ones (:func:`grid.roads.node_lines`).

    Returns the new lines' WKB and the stored roads (``road_id, _wkb``) that gain a
    vertex; stored roads the file replaces (upsert) are left to the file.
    """
    from grid.roads import node_lines

    stored = store.query("SELECT road_id, ST_AsWKB(geom) AS wkb, layer FROM roads")
    stored = stored[~stored["road_id"].isin(set(stage["road_id"]))].reset_index(drop=True)
    new = list(shapely.from_wkb(list(stage["_wkb"])))
    old = list(shapely.from_wkb([bytes(b) for b in stored["wkb"]])) if len(stored) else []
    levels = np.concatenate([stage["layer"].to_numpy(dtype=np.int64), stored["layer"].to_numpy(dtype=np.int64)])
    noded = node_lines(new + old, levels)
    out = [bytes(shapely.to_wkb(g)) for g in noded[:len(new)]]
    changed = [k for k, (a, b) in enumerate(zip(old, noded[len(new):], strict=True))
               if not shapely.equals_exact(a, b, 0.0)]
    touched = pd.DataFrame({"road_id": stored["road_id"].take(changed).to_numpy(dtype=object),
                            "_wkb": [bytes(shapely.to_wkb(noded[len(new) + k])) for k in changed]})
    return out, touched


def _declared_mismatches(cur: Any, name: str, limit: int = 1000) -> list[Problem]:
    """Households whose declared cell (所属网格) is not the cell their point lies in."""
    rows = cur.execute(
        "SELECT s._row, s.declared_cell, h.cell_id FROM _stage s JOIN households h USING (hh_id)"
        " WHERE s.declared_cell IS NOT NULL AND s.declared_cell IS DISTINCT FROM h.cell_id"
        " AND s.declared_cell NOT IN (SELECT name FROM cells WHERE cell_id = h.cell_id)"
        " ORDER BY s._row LIMIT ?", [limit]).fetchall()
    return [Problem(name, int(r), "所属网格", str(d), f"表中所属网格与坐标所在网格（{c or '无'}）不一致，以坐标为准",
                    f"the declared cell differs from the cell the point lies in ({c or 'none'}); the point wins")
            for r, d, c in rows]


def _history(cur: Any, prep: Prepared, cols: list[str]) -> int:
    """Record added households and category/status changes (动态管理)."""
    src = prep.source.name
    n0 = cur.execute("SELECT count(*) FROM household_history").fetchone()[0]
    cur.execute(
        "INSERT INTO household_history SELECT s.hh_id, current_timestamp, 'added', NULL,"
        " array_to_string(coalesce(s.categories::TEXT[], []), ','), ?"
        " FROM _stage s ANTI JOIN households t ON t.hh_id = s.hh_id", [src]) if "categories" in cols else \
        cur.execute("INSERT INTO household_history SELECT s.hh_id, current_timestamp, 'added', NULL, NULL, ?"
                    " FROM _stage s ANTI JOIN households t ON t.hh_id = s.hh_id", [src])
    if "categories" in cols:
        cur.execute(
            "INSERT INTO household_history SELECT s.hh_id, current_timestamp, 'categories',"
            " array_to_string(t.categories, ','), array_to_string(s.categories::TEXT[], ','), ?"
            " FROM _stage s JOIN households t ON t.hh_id = s.hh_id"
            " WHERE list_sort(t.categories) IS DISTINCT FROM list_sort(s.categories::TEXT[])", [src])
    if "status" in cols:
        cur.execute(
            "INSERT INTO household_history SELECT s.hh_id, current_timestamp, 'status', t.status, s.status, ?"
            " FROM _stage s JOIN households t ON t.hh_id = s.hh_id"
            " WHERE s.status IS NOT NULL AND t.status IS DISTINCT FROM s.status", [src])
    n1 = cur.execute("SELECT count(*) FROM household_history").fetchone()[0]
    return int(n1 - n0)


def import_file(store: Store, actor: Actor, kind: str, path: str | Path, *, crs: str | None = None,
                mode: str = "insert", dry_run: bool = False, mapping: dict[str, str] | None = None,
                fix_swaps: bool = False, repair: bool = False, sheet: str | int | None = None,
                progress: Progress | None = None, source: Source | None = None,
                member: str | None = None, category_map: dict[str, str] | None = None,
                locate: Location | None = None) -> ImportReport:
    """Read, validate and write one file; all or nothing.

    ``source`` is the file already read by :func:`read_source` (it is not read again);
    ``member`` chooses the dataset in a zip that holds several; ``category_map`` says what the
    file's ambiguous category words mean (:func:`ambiguous_categories`; without an answer each row
    holding one is refused); ``locate`` places the households without coordinates
    (:func:`grid.locate.locate_source`). The report counts the rows added, updated and left unchanged, in the
    transaction that writes them.

    Raises
    ------
    ValidationError
        With every problem found, when any row is refused (nothing written).
    WarmGridError
        When the file cannot be read at all.
    """
    say = progress or (lambda f, m: None)
    say(0.0, "读取文件 reading the file")
    if source is None:
        source = read_source(path, sheet=sheet, member=member)
    cols = auto_mapping(source.frame.columns, kind, mapping)
    prep = validate(source, kind, store=store, mapping=cols, crs=crs, mode=mode, fix_swaps=fix_swaps,
                    repair=repair, progress=say, category_map=category_map, locate=locate)
    if prep.problems:
        raise ValidationError(prep.problems)
    return write(store, prep, actor=actor, mode=mode, dry_run=dry_run, progress=say)
