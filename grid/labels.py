"""What users read instead of column names and codes: one dictionary for every screen and download.

:data:`COLUMNS` maps a column name of the store (``grid/schema.sql`` and its migrations) or of
an analysis frame (coverage, campaign audit, assistance measures, plans) to its Chinese and
English label; :func:`value` says a code in words (the vocabularies of :mod:`grid.model`, the
audit log's actions, yes/no); :func:`labelled` turns a frame into what a table or a downloaded
file shows: Chinese headers, codes in words, lengths in whole metres, money with two decimals.
Pages and downloads use these, so a header is written once for the whole product
(:func:`grid.household_file.visit_table` and the needs tables keep their own Chinese headers,
which agree with this dictionary).

The importer's headers (``grid.ingest.KINDS``) stay the importer's: a whole-table export keeps
them so the file imports back; the columns an import does not read (``updated_at``, ``active``)
take their labels from here.

Examples
--------
>>> column("leg_m"), column("visited_at", "en")
('路段长度（米）', 'visited at')
>>> value("cash"), value("not_a_code"), value(True)
('慰问金', 'not_a_code', '是')
>>> import pandas as pd
>>> labelled(pd.DataFrame({"visitor_id": ["P1"], "seq": [1], "leg_m": [548.8304], "kind": ["goods"]})
...          ).iloc[0].to_dict()
{'走访人编号': 'P1', '序号': 1, '路段长度（米）': 549, '方式': '物资'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from grid import model

__all__ = ["COLUMNS", "TABLES", "VALUES", "CODE_COLUMNS", "METRE_COLUMNS", "column", "bilingual", "value", "labelled",
           "raw_names", "code_values"]

#: Column name -> (Chinese, English).
COLUMNS: dict[str, tuple[str, str]] = {
    # households and people
    "hh_id": ("户编号", "household id"), "address": ("地址", "address"), "size": ("人口数", "household size"),
    "categories": ("困难类别", "categories"), "head_name": ("户主姓名", "head of household"),
    "id_number": ("身份证号", "ID number"), "phone": ("联系电话", "phone"), "status": ("状态", "status"),
    "updated_at": ("更新时间", "updated at"), "cell_id": ("网格编码", "cell id"), "name": ("名称", "name"),
    "person_id": ("人员编号", "person id"), "role": ("身份", "role"), "unit_code": ("单位", "unit"),
    "active": ("在岗", "active"), "member_id": ("成员编号", "member id"), "relation": ("与户主关系", "relation"),
    "birth_year": ("出生年份", "birth year"), "disability": ("残疾", "disability"),
    "changed_at": ("变动时间", "changed at"), "change": ("变动", "change"), "old_value": ("原为", "was"),
    "new_value": ("改为", "now"), "source": ("来源", "source"),
    # areas, cells, stations
    "code": ("代码", "code"), "level": ("级别", "level"), "parent_code": ("上级代码", "parent code"),
    "community_code": ("社区代码", "community code"), "community_name": ("社区", "community"),
    "addr_id": ("地址编码", "address id"), "parent_id": ("上级编码", "parent id"),
    "geocode_method": ("定位方式", "located by"), "geocode_score": ("匹配得分", "match score"),
    "street_code": ("街道代码", "street code"), "street_name": ("街道", "street"),
    "warden_id": ("网格员编号", "warden id"), "area_m2": ("面积（平方米）", "area (m²)"),
    "station_id": ("站点编号", "station id"), "type": ("类型", "type"), "radius_m": ("服务半径（米）", "radius (m)"),
    "capacity": ("容量", "capacity"), "area_id": ("区域编号", "area id"), "team": ("巡逻队", "team"),
    "kind": ("方式", "kind"), "members": ("人数", "members"), "road_id": ("道路编号", "road id"),
    "walkable": ("可步行", "walkable"), "layer": ("层", "layer"),
    # visits, needs
    "visit_id": ("走访记录编号", "visit id"), "visitor_id": ("走访人编号", "visitor id"),
    "visitor_name": ("走访人", "visitor"), "visited_at": ("走访时间", "visited at"), "place": ("地点", "place"),
    "situation": ("走访情况", "situation"), "created_at": ("创建时间", "created at"),
    "need_id": ("诉求编号", "need id"), "raised_at": ("上报时间", "raised at"),
    "resolved_at": ("办结时间", "resolved at"), "category": ("类别", "category"),
    "description": ("诉求内容", "description"), "assigned_at": ("分拨时间", "assigned at"),
    "due_at": ("办理期限", "due"), "satisfaction": ("满意度", "satisfaction"), "closed_at": ("回访时间", "closed at"),
    "escalated_at": ("升级时间", "escalated at"), "at": ("时间", "at"), "step": ("步骤", "step"),
    "by_user": ("操作人", "by"), "from_status": ("原状态", "from"), "to_status": ("新状态", "to"),
    "note": ("说明", "note"), "event_id": ("事件编号", "event id"), "open_needs": ("未办结诉求", "open needs"),
    "last_visit": ("上次走访", "last visit"), "days_since": ("距上次走访（天）", "days since"),
    "days_overdue": ("超期天数", "days overdue"), "bucket": ("队列", "queue"),
    "working_days": ("办理时限（工作日）", "working days"), "updated_by": ("更新人", "updated by"),
    # campaigns, assistance, applications
    "campaign_id": ("活动编号", "campaign id"), "campaign_name": ("活动", "campaign"),
    "starts_on": ("开始日期", "starts on"), "ends_on": ("结束日期", "ends on"),
    "target_categories": ("对象类别", "target categories"), "budget_yuan": ("预算（元）", "budget (yuan)"),
    "aid_id": ("救助记录编号", "aid id"), "programme": ("救助项目", "programme"),
    "programme_name": ("救助项目", "programme"), "amount_yuan": ("金额（元）", "amount (yuan)"),
    "items": ("物资", "goods"), "goods_value_yuan": ("物资折价（元）", "goods value (yuan)"),
    "given_at": ("发放时间", "given at"), "giver_unit": ("发放单位", "giver"),
    "funding_source": ("资金来源", "funding source"), "app_id": ("申请编号", "application id"),
    "receiver_name": ("签收人", "receiver"), "receiver_phone": ("签收人电话", "receiver's phone"),
    "receiver_account": ("收款账户", "receiver's account"), "receipt_ref": ("签收凭证", "receipt"),
    "reason": ("原因", "reason"), "applied_at": ("申请时间", "applied at"), "applied_by": ("申请人", "applied by"),
    "decided_at": ("审批时间", "decided at"), "rejected_reason": ("驳回理由", "reason for rejection"),
    "standard_yuan": ("标准（元）", "standard (yuan)"), "needs_approval": ("需审批", "needs approval"),
    "set_at": ("设定时间", "set at"), "set_by": ("设定人", "set by"), "aid_ids": ("记录", "records"),
    "units": ("发放单位", "givers"), "zh": ("原因", "reason"),
    # campaign audit (grid.campaigns.audit_campaign)
    "targets": ("对象户", "targets"), "visited": ("已走访", "visited"), "helped": ("已救助", "helped"),
    "reached": ("已走访且已救助", "visited and helped"), "duplicates": ("重复记录", "duplicate records"),
    "duplicate_households": ("重复户", "households with duplicates"), "not_visited": ("未走访", "not visited"),
    "not_helped": ("未救助", "not helped"), "omissions": ("遗漏", "omissions"),
    "visit_rate": ("走访率", "visit rate"), "help_rate": ("救助率", "help rate"),
    "reach_rate": ("走访且救助率", "visited and helped rate"),
    # plans
    "plan_id": ("计划编号", "plan id"), "seq": ("序号", "order"), "leg_m": ("路段长度（米）", "leg (m)"),
    "cum_m": ("累计路程（米）", "distance so far (m)"), "route_m": ("路程（米）", "route (m)"),
    "total_m": ("总路程（米）", "total (m)"), "planned": ("计划户数", "planned"), "households": ("住户", "households"),
    "start_source": ("出发点", "start"), "planning_date": ("计划日期", "planning date"),
    "created_by": ("制定人", "made by"), "area_code": ("区域代码", "area code"),
    "min_per_visitor": ("每人至少", "min per visitor"), "max_per_visitor": ("每人至多", "max per visitor"),
    "remaining": ("未走访", "remaining"), "share": ("完成率", "share done"),
    # assistance measures (grid.assistance.MEASURE_COLUMNS), hot spots, Lorenz, trend
    "people": ("人口", "people"), "vulnerable": ("困难户数", "vulnerable households"),
    "households_helped": ("受助户数", "households helped"), "cash_yuan": ("现金救助（元）", "cash (yuan)"),
    "goods_yuan": ("物资折价（元）", "goods (yuan)"), "total_yuan": ("救助总额（元）", "total aid (yuan)"),
    "per_household": ("户均救助（元）", "aid per household (yuan)"),
    "per_vulnerable": ("困难户户均救助（元）", "aid per vulnerable household (yuan)"),
    "per_person": ("人均救助（元）", "aid per person (yuan)"), "share_of_aid": ("救助金额占比", "share of aid"),
    "share_of_vulnerable": ("困难户占比", "share of vulnerable households"),
    "ratio": ("救助占比 / 困难户占比", "aid share / vulnerable share"),
    "value": ("数值", "value"), "z": ("Z 值", "z"), "p_sim": ("置换检验 p 值", "p (permutations)"),
    "p_norm": ("正态 p 值", "p (normal)"), "q": ("FDR q 值", "q (FDR)"), "class": ("类别", "class"),
    "cum_share_units": ("单元累计占比", "cumulative share of units"),
    "cum_share_value": ("累计占比", "cumulative share of the measure"), "gini": ("基尼系数", "Gini"),
    "month": ("月份", "month"), "h3_cell": ("H3 六边形", "H3 hexagon"),
    # audit log, users, imports
    "log_id": ("序号", "log id"), "logged_at": ("时间", "logged at"), "username": ("用户", "user"),
    "action": ("操作", "action"), "object": ("对象", "object"), "scope": ("范围", "scope"),
    "row_count": ("行数", "rows"), "client": ("客户端地址", "client"), "user_id": ("用户编号", "user id"),
    "display_name": ("显示名", "display name"), "disabled": ("已停用", "disabled"),
    "failed_logins": ("登录失败次数", "failed sign-ins"), "locked_until": ("锁定至", "locked until"),
    "last_login": ("上次登录", "last sign-in"), "import_id": ("导入编号", "import id"),
    "imported_at": ("导入时间", "imported at"), "file_name": ("文件名", "file"), "mode": ("导入方式", "import mode"),
    "crs": ("坐标系", "CRS"), "rows_read": ("读取行数", "rows read"), "inserted": ("新增", "added"),
    "updated": ("更新", "updated"), "unchanged": ("未变", "unchanged"),
    # the rest of the store's columns
    "added_at": ("添加时间", "added at"), "added_by": ("添加人", "added by"),
    "approval_from": ("审批起点金额（元）", "approval from (yuan)"), "blocked_until": ("限制至", "blocked until"),
    "content": ("内容", "content"), "data": ("数据", "data"), "failures": ("失败次数", "failures"),
    "geom": ("几何", "geometry"), "start_geom": ("出发点位置", "start"), "idempotency_key": ("提交标识", "form key"),
    "last_failure": ("上次失败", "last failure"), "mime_type": ("文件类型", "file type"),
    "notice_contact": ("异议受理联系方式", "objections to"), "notice_days": ("公示天数", "notice days"),
    "notice_starts_on": ("公示开始", "notice starts"), "notice_ends_on": ("公示结束", "notice ends"),
    "object_id": ("对象编号", "object id"), "objection_id": ("异议编号", "objection id"),
    "objector": ("异议人", "objector"), "pairing_id": ("结对编号", "pairing id"),
    "password_hash": ("密码摘要", "password hash"), "photo_id": ("照片编号", "photo id"),
    "recorded_by": ("登记人", "recorded by"), "rounds": ("轮次", "rounds"), "settled_at": ("核实时间", "settled at"),
    "settled_by": ("核实人", "settled by"), "settlement": ("核实情况", "settlement"),
    "sha256": ("校验值（SHA-256）", "SHA-256"), "size_bytes": ("大小（字节）", "size (bytes)"),
    "submitted_at": ("提交时间", "submitted at"), "succeeded_at": ("上次成功", "last success"),
    "x_m": ("平面坐标 X（米）", "x (m)"), "y_m": ("平面坐标 Y（米）", "y (m)"),
    # coverage
    "outside": ("服务范围外住户", "out of reach"), "vulnerable_outside": ("服务范围外困难户", "vulnerable out of reach"),
    "share_outside": ("服务范围外占比", "share out of reach"), "walk_m": ("步行距离（米）", "walk (m)"),
    "distance_m": ("距离（米）", "distance (m)"), "lon": ("经度", "longitude"), "lat": ("纬度", "latitude"),
}

#: Tables of the store, in words (the data page's export list).
TABLES: dict[str, str] = {
    "admin_units": "行政区划", "people": "人员", "cells": "网格", "households": "住户", "stations": "服务站点",
    "patrol_areas": "巡逻区域", "campaigns": "活动", "pairings": "结对帮扶", "visits": "走访记录", "needs": "诉求",
    "assistance": "救助慰问", "users": "用户", "audit_log": "操作日志", "household_history": "住户变动记录",
    "imports": "导入记录", "form_submissions": "表单提交记录", "plans": "走访计划", "plan_visitors": "计划走访人",
    "plan_items": "计划住户", "roads": "道路", "need_events": "诉求流转", "need_photos": "诉求照片",
    "need_time_limits": "诉求办理时限", "members": "家庭成员", "programmes": "救助项目", "applications": "救助申请",
    "application_events": "救助申请流程", "application_objections": "公示异议", "budgets": "救助预算",
    "login_throttle": "登录限制", "addresses": "标准地址",
}

#: Codes that are not in a :mod:`grid.model` vocabulary, in words: the audit log's actions, plan starts.
VALUES: dict[str, str] = {
    "login": "登录", "login_failed": "登录失败", "logout": "退出", "view_household": "查看户卡", "create": "新建",
    "update": "修改", "delete": "删除", "import": "导入", "export": "导出", "user_admin": "用户管理",
    "denied": "拒绝访问", "cli_job": "命令行任务",
    "own": "本人位置", "given": "指定起点", "station": "所属党群服务站", "unit": "所属单位中心",
}

#: Columns whose values are codes, shown in words by :func:`labelled`.
CODE_COLUMNS: frozenset[str] = frozenset({
    "status", "role", "kind", "category", "satisfaction", "step", "from_status", "to_status", "level", "type",
    "relation", "disability", "action", "start_source", "programme_kind", "mode", "categories", "geocode_method",
    "target_categories",
})
#: Columns of lengths in metres: shown to the whole metre.
METRE_COLUMNS: frozenset[str] = frozenset({"leg_m", "cum_m", "route_m", "total_m", "walk_m", "distance_m",
                                           "radius_m"})


def column(name: str, lang: str = "zh") -> str:
    """The label of a column (the name itself if it has none)."""
    pair = COLUMNS.get(name)
    if pair is None:
        return name
    return pair[0] if lang == "zh" else pair[1]


def bilingual(name: str) -> str:
    """``中文 · English`` for a column, as the pages that pair the languages show it.

    >>> bilingual("per_vulnerable")
    '困难户户均救助（元） · aid per vulnerable household (yuan)'
    """
    zh, en = COLUMNS.get(name, (name, name))
    return f"{zh} · {en}"


def value(code: Any) -> Any:
    """A code in words: :func:`grid.model.label`, then :data:`VALUES`; booleans as 是/否; anything else as is."""
    if isinstance(code, bool):
        return "是" if code else "否"
    if not isinstance(code, str):
        return code
    word = model.label(code)
    if word != code:
        return word
    if code in model.USER_ROLES:  # the accounts' roles (admin, committee ...) are a vocabulary of their own
        return model.USER_ROLES[code].zh
    return VALUES.get(code, code)


def _words(v: Any) -> Any:
    if isinstance(v, (list, tuple)) or (hasattr(v, "tolist") and not isinstance(v, str)):
        items = v.tolist() if hasattr(v, "tolist") else list(v)
        return "、".join(str(value(x)) for x in items) if isinstance(items, list) else value(items)
    return value(v)


def labelled(frame: pd.DataFrame, *, names: Mapping[str, Mapping[Any, Any]] | None = None,
             headers: Mapping[str, str] | None = None, codes: Iterable[str] | None = None) -> pd.DataFrame:
    """``frame`` as a table or a download shows it: Chinese headers, codes in words, metres rounded.

    Parameters
    ----------
    frame : DataFrame
    names : mapping, optional
        Column -> {code: name}: codes shown with their names, as ``名称（代码）`` (e.g. a community's
        code with its name). A code the mapping lacks is kept as is.
    headers : mapping, optional
        Column -> header, overriding :data:`COLUMNS` (a page's own wording).
    codes : iterable of str, optional
        The columns whose values are codes to say in words (default :data:`CODE_COLUMNS`).

    Examples
    --------
    >>> f = pd.DataFrame({"community_code": ["350203001001"], "targets": [12], "status": ["active"]})
    >>> labelled(f, names={"community_code": {"350203001001": "鹭江社区"}}).iloc[0].to_dict()
    {'社区代码': '鹭江社区（350203001001）', '对象户': 12, '状态': '在册'}
    """
    out = frame.copy()
    code_cols = CODE_COLUMNS if codes is None else frozenset(codes)
    for col in out.columns:
        key = str(col)
        if names and key in names:
            lookup = names[key]
            out[col] = out[col].map(lambda c, lk=lookup: f"{lk[c]}（{c}）" if c in lk else c)
        elif key in code_cols:
            out[col] = out[col].map(_words)
        elif key in METRE_COLUMNS:
            out[col] = pd.to_numeric(out[col], errors="coerce").round(0).astype("Int64")
        elif pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].map(value)
    heads = {c: (headers or {}).get(str(c), column(str(c))) for c in out.columns}
    return out.rename(columns=heads)


def raw_names(store: Any = None) -> frozenset[str]:
    """Every column name a user must never read on screen: the store's tables (when given) and
    :data:`COLUMNS`; for the tests that walk the pages."""
    names = set(COLUMNS)
    if store is not None:
        cols = store.query("SELECT DISTINCT column_name FROM duckdb_columns() WHERE database_name = current_database()"
                           " AND schema_name = 'main'"
                           " AND NOT internal AND table_name NOT LIKE 'duckdb_%' AND table_name NOT LIKE 'sqlite_%'"
                           " AND table_name NOT LIKE 'pragma_%'")
        names |= set(cols["column_name"])
    return frozenset(names)


def code_values() -> frozenset[str]:
    """Every code of the vocabularies (:mod:`grid.model`) and of :data:`VALUES`."""
    found: set[str] = set(VALUES)
    for vocab in (model.HARDSHIP, model.STATION_TYPES, model.PERSON_ROLES, model.USER_ROLES, model.NEED_CATEGORIES,
                  model.NEED_STATUSES, model.NEED_STEPS, model.SATISFACTION, model.DEPARTMENTS, model.RELATIONS,
                  model.DISABILITY_GRADES, model.AID_KINDS, model.PATROL_KINDS, model.HOUSEHOLD_STATUSES,
                  model.ADMIN_LEVELS, model.APPLICATION_STATUSES, model.APPLICATION_STEPS,
                  model.OBJECTION_STATUSES):
        found |= set(vocab)
    return frozenset(found)
