"""One file per household (一户一档): everything the product holds on one household, in one place.

:func:`household_card` reads, for one actor, a household's details, members, the history of its
categories and status, its visits, its needs with their flow (every step of ``need_events``), its
applications for assistance with their steps, and the assistance it received — masked as the
access policy says and audited once. The ``*_table`` functions turn each part into what a screen
shows: Chinese headers, codes in words, dates as dates; never a raw column name.

Examples
--------
>>> from grid.demo import DemoConfig, build_demo
>>> from grid.store import open_store
>>> from grid.access import Actor, Scope
>>> store = open_store(":memory:")
>>> _ = build_demo(store, DemoConfig(households=300, seed=5, streets=1, communities=2, target_per_cell=100))
>>> admin = Actor("admin", "admin", Scope.everything())
>>> hh = store.scalar("SELECT hh_id FROM needs ORDER BY need_id LIMIT 1")
>>> card = household_card(store, admin, hh)
>>> sorted(card)
['applications', 'assistance', 'details', 'history', 'members', 'need_events', 'needs', 'visits']
>>> list(need_table(card["needs"], card["need_events"], {}).columns)
['上报时间', '类别', '诉求内容', '状态', '办理单位', '办理期限', '办结时间', '满意度', '流转']
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from grid import audit, masking, model
from grid.access import Actor, allowed, cell_resource, mask_households
from grid.errors import WarmGridError
from grid.needs import unit_label
from grid.store import Store

__all__ = [
    "household_card",
    "member_table",
    "history_table",
    "visit_table",
    "need_table",
    "application_table",
    "aid_table",
]


def household_card(store: Store, actor: Actor, hh_id: str) -> dict[str, Any]:
    """One file per household (一户一档), for ``actor``.

    Returns a dict of ``details`` (a dict), and frames ``members``, ``history`` (categories and
    status), ``visits``, ``needs`` with ``need_events`` (every step of every need, oldest first),
    ``applications`` (with their steps as text) and ``assistance``.

    The actor must be allowed to ``view_household`` in the household's cell; any other household
    is refused as if it did not exist. Personal data — the head's and the members' names, ID
    numbers and phones, and who received assistance — is masked as the policy says
    (:func:`grid.access.mask_households`), and the view writes one ``view_household`` audit row.

    Raises
    ------
    WarmGridError
        For a household that does not exist or that the actor may not open.
    """
    cur = store.cursor()
    det = cur.execute("SELECT hh_id, cell_id, address, size, categories, head_name, phone, id_number, status,"
                      " ST_X(geom) AS lon, ST_Y(geom) AS lat FROM households WHERE hh_id = ?", [hh_id]).df()
    cell = None if det.empty or pd.isna(det["cell_id"].iloc[0]) else str(det["cell_id"].iloc[0])
    if det.empty or not allowed(actor, "view_household", cell_resource(cell)):
        raise WarmGridError(f"没有这一户：{hh_id}", f"no such household: {hh_id}")
    visits = cur.execute("SELECT v.visit_id, v.visited_at, v.visitor_id, p.name AS visitor_name, v.place,"
                         " v.situation FROM visits v LEFT JOIN people p ON p.person_id = v.visitor_id"
                         " WHERE v.hh_id = ? ORDER BY v.visited_at DESC", [hh_id]).df()
    needs = cur.execute("SELECT need_id, raised_at, category, description, status, unit_code, due_at, resolved_at,"
                        " satisfaction FROM needs WHERE hh_id = ?"
                        " ORDER BY list_contains(?::TEXT[], status) DESC, raised_at DESC",
                        [hh_id, list(model.OPEN_NEED_STATUSES)]).df()
    events = cur.execute('SELECT e.need_id, e."at", e.step, e.from_status, e.to_status, e.unit_code, e.by_user,'
                         " e.note FROM need_events e JOIN needs n USING (need_id) WHERE n.hh_id = ?"
                         ' ORDER BY e.need_id, e."at", e.event_id', [hh_id]).df()
    apps = cur.execute("SELECT a.app_id, a.applied_at, a.programme, coalesce(p.name, a.programme) AS programme_name,"
                       " a.amount_yuan, a.items, a.reason, a.status, a.notice_starts_on, a.notice_ends_on,"
                       " a.decided_at, a.given_at, a.rejected_reason,"
                       " (SELECT string_agg(e.step, ',' ORDER BY e.seq) FROM application_events e"
                       "  WHERE e.app_id = a.app_id) AS steps"
                       " FROM applications a LEFT JOIN programmes p ON p.code = a.programme"
                       " WHERE a.hh_id = ? ORDER BY a.applied_at DESC", [hh_id]).df()
    aid = cur.execute("SELECT given_at, programme, kind, amount_yuan, items, goods_value_yuan, giver_unit, app_id,"
                      " receiver_name, receiver_phone FROM assistance WHERE hh_id = ? ORDER BY given_at DESC",
                      [hh_id]).df()
    members = cur.execute("SELECT member_id, name AS 姓名, relation, id_number, birth_year, disability, phone"
                          " FROM members WHERE hh_id = ? ORDER BY relation <> 'head', birth_year, member_id",
                          [hh_id]).df()
    history = cur.execute("SELECT changed_at, change, old_value, new_value, source FROM household_history"
                          " WHERE hh_id = ? ORDER BY changed_at DESC", [hh_id]).df()
    audit.record(store, actor, "view_household", object=hh_id, row_count=1)
    details = mask_households(det, actor).iloc[0].to_dict()
    hidden = not allowed(actor, "view_personal", cell)
    members = masking.mask_rows(members, pd.Series(hidden, index=members.index, dtype=bool)).rename(
        columns={"姓名": "name"})
    if hidden:
        aid = aid.assign(receiver_name=aid["receiver_name"].map(_masked(masking.mask_name)),
                         receiver_phone=aid["receiver_phone"].map(_masked(masking.mask_phone)))
    return {"details": details, "members": members, "history": history, "visits": visits, "needs": needs,
            "need_events": events, "applications": apps, "assistance": aid}


def _masked(mask: Any) -> Any:
    return lambda v: mask(v) if isinstance(v, str) else v


def _when(values: pd.Series, fmt: str = "%Y-%m-%d %H:%M") -> pd.Series:
    return pd.to_datetime(values).dt.strftime(fmt).fillna("—")


def _word(value: object) -> str:
    return model.label(value) if isinstance(value, str) and value else "—"


def _text(value: object) -> str:
    return value if isinstance(value, str) and value else "—"


def member_table(members: pd.DataFrame) -> pd.DataFrame:
    """A card's members as shown: Chinese headers, relations and disability grades in words.

    >>> m = pd.DataFrame({"member_id": ["H1-1"], "name": ["王*"], "relation": ["head"], "id_number": [None],
    ...                   "birth_year": [1950], "disability": ["grade2"], "phone": [None]})
    >>> member_table(m).iloc[0].to_dict()
    {'姓名': '王*', '与户主关系': '户主', '出生年份': 1950, '身份证号': '—', '残疾': '二级残疾', '电话': '—'}
    """
    return pd.DataFrame({
        "姓名": members["name"],
        "与户主关系": members["relation"].map(model.label),
        "出生年份": members["birth_year"],
        "身份证号": members["id_number"].fillna("—"),
        "残疾": members["disability"].map(_word),
        "电话": members["phone"].fillna("—"),
    })


_CHANGES = {"added": "建档", "categories": "困难类别", "status": "在册状态"}


def history_table(history: pd.DataFrame) -> pd.DataFrame:
    """A card's history of categories and status as shown: dates, what changed, from and to, in words.

    >>> h = pd.DataFrame({"changed_at": pd.to_datetime(["2026-03-01"]), "change": ["categories"],
    ...                   "old_value": ["dibao_urban"], "new_value": ["dibao_urban,disabled"], "source": ["x.csv"]})
    >>> history_table(h).iloc[0].to_dict()
    {'日期': '2026-03-01', '变动': '困难类别', '原为': '城市低保', '改为': '城市低保、残疾', '来源': 'x.csv'}
    """
    def words(v: Any) -> str:
        if not isinstance(v, str) or not v:
            return "—"
        return "、".join(model.label(c) for c in v.split(","))

    return pd.DataFrame({
        "日期": _when(history["changed_at"], "%Y-%m-%d"),
        "变动": history["change"].map(_CHANGES),
        "原为": history["old_value"].map(words),
        "改为": history["new_value"].map(words),
        "来源": history["source"].fillna("—"),
    })


def visit_table(visits: pd.DataFrame) -> pd.DataFrame:
    """A card's visits as shown: when, who visited (their name, else their id), where, what they found.

    >>> v = pd.DataFrame({"visit_id": ["V1"], "visited_at": pd.to_datetime(["2026-11-02 09:30"]),
    ...                   "visitor_id": ["P7"], "visitor_name": [None], "place": ["入户走访"], "situation": ["正常"]})
    >>> visit_table(v).iloc[0].to_dict()
    {'走访时间': '2026-11-02 09:30', '走访人': 'P7', '地点': '入户走访', '走访情况': '正常'}
    """
    who = visits["visitor_name"].where(visits["visitor_name"].notna(), visits["visitor_id"])
    return pd.DataFrame({
        "走访时间": _when(visits["visited_at"]),
        "走访人": who.map(_text),
        "地点": visits["place"].map(_text),
        "走访情况": visits["situation"].map(_text),
    })


def need_table(needs: pd.DataFrame, events: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """A card's needs as shown, each with its flow: the steps it has taken, oldest first.

    ``names`` gives units' display names (:func:`grid.needs.unit_names`).

    >>> n = pd.DataFrame({"need_id": ["N1"], "raised_at": pd.to_datetime(["2026-10-01 10:00"]),
    ...     "category": ["medical"], "description": ["配药"], "status": ["closed"], "unit_code": ["c1"],
    ...     "due_at": pd.to_datetime(["2026-10-10"]), "resolved_at": pd.to_datetime(["2026-10-05 16:00"]),
    ...     "satisfaction": ["satisfied"]})
    >>> e = pd.DataFrame({"need_id": ["N1"] * 5, "step": ["raise", "assign", "start", "resolve", "close"]})
    >>> need_table(n, e, {"c1": "一网格网格员"}).iloc[0].to_dict()["流转"]
    '上报 → 分拨 → 开始处置 → 办结 → 回访'
    """
    flow = events.groupby("need_id", sort=False)["step"].agg(lambda s: " → ".join(_word(x) for x in s))
    return pd.DataFrame({
        "上报时间": _when(needs["raised_at"]),
        "类别": needs["category"].map(_word),
        "诉求内容": needs["description"].map(_text),
        "状态": needs["status"].map(_word),
        "办理单位": needs["unit_code"].map(lambda u: unit_label(u if isinstance(u, str) else None, names)),
        "办理期限": _when(needs["due_at"], "%Y-%m-%d"),
        "办结时间": _when(needs["resolved_at"]),
        "满意度": needs["satisfaction"].map(_word),
        "流转": needs["need_id"].map(flow).fillna("—"),
    })


def application_table(apps: pd.DataFrame) -> pd.DataFrame:
    """A card's applications for assistance as shown: programme, amount, state, notice, the steps taken.

    >>> a = pd.DataFrame({"app_id": ["A1"], "applied_at": pd.to_datetime(["2026-11-01"]), "programme": ["p"],
    ...     "programme_name": ["冬季慰问"], "amount_yuan": [500.0], "items": [None], "reason": ["生活困难"],
    ...     "status": ["on_notice"], "notice_starts_on": pd.to_datetime(["2026-11-10"]),
    ...     "notice_ends_on": pd.to_datetime(["2026-11-16"]), "decided_at": [pd.NaT], "given_at": [pd.NaT],
    ...     "rejected_reason": [None], "steps": ["apply,check,review,notice"]})
    >>> row = application_table(a).iloc[0].to_dict()
    >>> row["状态"], row["公示期"], row["金额（元）"], row["流程"]
    ('公示中', '2026-11-10 至 2026-11-16', '500.00', '申请 → 社区初审 → 街道审核 → 张榜公示')
    """
    notice = [f"{a:%Y-%m-%d} 至 {b:%Y-%m-%d}" if pd.notna(a) and pd.notna(b) else "—"
              for a, b in zip(pd.to_datetime(apps["notice_starts_on"]), pd.to_datetime(apps["notice_ends_on"]),
                              strict=True)]
    return pd.DataFrame({
        "申请时间": _when(apps["applied_at"], "%Y-%m-%d"),
        "救助项目": apps["programme_name"].map(_text),
        "金额（元）": apps["amount_yuan"].map(lambda v: f"{float(v):,.2f}" if pd.notna(v) else "—"),
        "物资": apps["items"].map(_text),
        "申请理由": apps["reason"].map(_text),
        "状态": apps["status"].map(_word),
        "公示期": notice,
        "审批时间": _when(apps["decided_at"], "%Y-%m-%d"),
        "发放时间": _when(apps["given_at"], "%Y-%m-%d"),
        "驳回理由": apps["rejected_reason"].map(_text),
        "流程": apps["steps"].map(lambda s: " → ".join(_word(x) for x in s.split(",")) if isinstance(s, str) else "—"),
    })


def aid_table(aid: pd.DataFrame) -> pd.DataFrame:
    """A card's assistance received as shown: when, programme, kind, money, goods, who gave, who signed.

    >>> a = pd.DataFrame({"given_at": pd.to_datetime(["2026-01-20"]), "programme": ["春节慰问"], "kind": ["cash"],
    ...     "amount_yuan": [800.0], "items": [None], "goods_value_yuan": [None], "giver_unit": ["民政办"],
    ...     "app_id": [None], "receiver_name": ["王*"], "receiver_phone": [None]})
    >>> aid_table(a).iloc[0].to_dict()["金额（元）"], aid_table(a).iloc[0].to_dict()["按申请"]
    ('800.00', '否')
    """
    def money(v: object) -> str:
        return f"{float(v):,.2f}" if isinstance(v, (int, float)) and pd.notna(v) else "—"  # type: ignore[arg-type]

    return pd.DataFrame({
        "发放时间": _when(aid["given_at"], "%Y-%m-%d"),
        "救助项目": aid["programme"].map(_text),
        "方式": aid["kind"].map(_word),
        "金额（元）": aid["amount_yuan"].map(lambda v: money(float(v)) if pd.notna(v) else "—"),
        "物资": aid["items"].map(_text),
        "物资折价（元）": aid["goods_value_yuan"].map(lambda v: money(float(v)) if pd.notna(v) else "—"),
        "发放单位": aid["giver_unit"].map(_text),
        "按申请": aid["app_id"].map(lambda v: "是" if isinstance(v, str) and v else "否"),
        "签收人": aid["receiver_name"].map(_text),
    })
