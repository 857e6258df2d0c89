"""The coverage audit of a campaign: 全覆盖、不遗漏、不重复, household by household.

A campaign (``campaigns``: a named drive with dates, a unit and target hardship
categories) must visit every target household (全覆盖), help every one of them
(不遗漏), and help nobody twice for the same purpose (不重复). This module reads
what happened and says, for each target household, whether it was visited and
helped, and lists every omission and every duplicate with a reason code and
words in Chinese and English, plus counts per cell, community and street.

Definitions
-----------
Target households
    Active households (``status = 'active'``) whose categories intersect the
    campaign's ``target_categories``, inside the campaign's unit. A household
    is placed by its derived cell (cell -> community -> street -> district,
    following ``admin_units.parent_code``); one outside every cell is placed
    by the community polygon containing it. The campaign's unit (and the
    optional ``area``) may be any admin unit code or a cell id. An empty
    ``target_categories`` targets nobody. Status and categories are today's
    (``households``), not as they were during the campaign.
Campaign visits
    Visits to a target household that carry the campaign's id
    (``visits.campaign_id``) **or** are dated within the campaign (from
    ``starts_on`` 00:00 to the end of ``ends_on``), whatever their tag. Why
    both: a warden's everyday visit log (民情日志) is usually not tagged with a
    campaign, yet a household called on during the drive has been reached —
    全覆盖 asks whether the household was reached, not how the form was filled
    in; and a visit explicitly recorded for the campaign counts even when
    dated a little outside it (a preparatory call, a late entry). Each visit
    row carries ``tagged`` and ``in_dates``, so the basis is explainable.
Campaign assistance
    ``assistance`` rows with the campaign's id (only those say they were given
    *for* this campaign). A target is *helped* when it has at least one.
Omission (遗漏)
    One row per target household and reason: ``not_visited`` (no campaign
    visit) and/or ``not_helped`` (no campaign assistance).
Duplicate (重复)
    A target household with more than one campaign assistance record under
    the same programme (the same purpose; programme names compared after
    Unicode NFKC normalisation and trimming): ``two_units`` when two or more
    giver units are involved, ``same_unit_twice`` when one unit gave it more
    than once. One row per household and programme.

:func:`audit_campaign` is pure (frames in, frames out); :func:`campaign_frames`
reads its inputs from a store; :func:`cli_audit` is the JSON document of
``python -m grid audit``.

Examples
--------
>>> import pandas as pd
>>> targets = pd.DataFrame({"hh_id": ["a", "b", "c"], "cell_id": ["c1"] * 3,
...                         "community_code": ["k"] * 3, "street_code": ["s"] * 3})
>>> visits = pd.DataFrame({"visit_id": ["v1"], "hh_id": ["a"], "visitor_id": ["w"],
...                        "visited_at": pd.to_datetime(["2025-12-01"])})
>>> aid = pd.DataFrame({"aid_id": ["x1", "x2", "x3"], "hh_id": ["a", "a", "b"],
...                     "programme": ["情暖万家"] * 3, "amount_yuan": [500.0] * 3,
...                     "goods_value_yuan": [0.0] * 3, "giver_unit": ["街道", "民政局", "街道"],
...                     "given_at": pd.to_datetime(["2025-12-01", "2025-12-05", "2025-12-02"])})
>>> audit = audit_campaign(targets, visits, aid)
>>> audit.omissions[["hh_id", "reason"]].values.tolist()
[['b', 'not_visited'], ['c', 'not_visited'], ['c', 'not_helped']]
>>> audit.duplicates[["hh_id", "reason", "aid_ids"]].values.tolist()
[['a', 'two_units', ['x1', 'x2']]]
>>> audit.households["status"].tolist()
['duplicate', 'not_visited', 'not_reached']
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from grid import audit as audit_log
from grid import model
from grid.access import Actor, Scope, cells_in_scope, ensure
from grid.errors import Problem, ValidationError, WarmGridError
from grid.store import Store
from grid.validators import check_characters, date_value, nonempty_text, visible

__all__ = [
    "REASONS",
    "STATUSES",
    "CampaignData",
    "Audit",
    "load_campaign",
    "campaign_frames",
    "audit_campaign",
    "cli_audit",
    "list_campaigns",
    "plannable_areas",
    "create_campaign",
]

#: Reason codes of omissions and duplicates: code -> (Chinese, English).
REASONS: dict[str, tuple[str, str]] = {
    "not_visited": ("活动期间未走访（未做到全覆盖）",
                    "not visited during the campaign (全覆盖: every target household is visited)"),
    "not_helped": ("符合条件但活动中未获救助（遗漏）",
                   "eligible but not helped in the campaign (不遗漏: nobody eligible is left without help)"),
    "two_units": ("同一用途（同一项目）由两个及以上单位重复救助",
                  "helped for the same purpose (programme) by two or more units (不重复)"),
    "same_unit_twice": ("同一单位对同一项目重复发放",
                        "the same unit gave the same programme more than once (不重复)"),
}

#: A target household's status, in order of precedence: code -> (Chinese, English).
#: ``duplicate`` is shown only for a household visited and helped; the
#: ``duplicate`` column of :attr:`Audit.households` flags every duplicate.
STATUSES: dict[str, tuple[str, str]] = {
    "not_reached": ("未走访、未救助", "neither visited nor helped"),
    "not_visited": ("已救助、未走访", "helped but not visited"),
    "not_helped": ("已走访、未救助", "visited but not helped"),
    "duplicate": ("已走访、已救助，但有重复救助", "visited and helped, but helped twice for the same purpose"),
    "ok": ("已走访、已救助", "visited and helped"),
}

_CELL_RE = re.compile(r"[0-9]{13,18}")
_ADMIN_RE = re.compile(r"[0-9]{12}")
_UNIT_KEYS = ("cell_id", "community_code", "street_code")


@dataclass
class CampaignData:
    """The inputs of :func:`audit_campaign` for one campaign, as read from a store.

    Attributes
    ----------
    campaign : dict
        :func:`load_campaign`.
    area : str or None
        The area the frames are restricted to (``None``: the campaign's unit).
    targets : DataFrame
        ``hh_id, cell_id, community_code, street_code, address, categories, lon, lat``
        (``categories`` a list of codes), ordered by ``hh_id``.
    visits : DataFrame
        Campaign visits of the targets: ``visit_id, hh_id, visitor_id,
        campaign_id, visited_at, tagged, in_dates``.
    assistance : DataFrame
        Campaign assistance of the targets: ``aid_id, hh_id, programme, kind,
        amount_yuan, goods_value_yuan, items, given_at, giver_unit, funding_source``.
    """

    campaign: dict[str, Any]
    area: str | None
    targets: pd.DataFrame
    visits: pd.DataFrame
    assistance: pd.DataFrame


@dataclass
class Audit:
    """The result of :func:`audit_campaign`.

    Attributes
    ----------
    households : DataFrame
        One row per target household: the target's columns, then ``visited,
        visits, first_visit, visitor_ids, helped, aids, aid_ids, cash_yuan,
        goods_value_yuan, programmes, giver_units, duplicate, status``.
    omissions : DataFrame
        ``hh_id, reason, zh, en, cell_id, community_code, street_code``: one row
        per household and reason (``not_visited`` before ``not_helped``).
    duplicates : DataFrame
        ``hh_id, programme, reason, zh, en, aid_ids, units, amounts_yuan,
        given_at, value_yuan, excess_yuan, cell_id, community_code,
        street_code``: one row per household and programme; the list columns
        are aligned with ``aid_ids`` (in order of giving); ``value_yuan`` is the
        cash plus goods value of all those aids, ``excess_yuan`` the value
        beyond the first.
    by_cell, by_community, by_street : DataFrame
        Per unit (rows with no unit keep a missing key, so the rows add up to
        the totals): ``targets, visited, helped, reached, not_visited,
        not_helped, omissions, duplicates, duplicate_households, visit_rate,
        help_rate, reach_rate``.
    totals : dict
        The same counts and rates for all targets (plain Python numbers).
    """

    households: pd.DataFrame
    omissions: pd.DataFrame
    duplicates: pd.DataFrame
    by_cell: pd.DataFrame
    by_community: pd.DataFrame
    by_street: pd.DataFrame
    totals: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- reading
def load_campaign(store: Store, campaign_id: str) -> dict[str, Any]:
    """One campaign as a dict.

    Parameters
    ----------
    store : Store
    campaign_id : str

    Returns
    -------
    dict
        ``campaign_id, name, unit_code, starts_on, ends_on`` (``datetime.date``),
        ``target_categories`` (list of str) and ``budget_yuan`` (float or None).

    Raises
    ------
    WarmGridError
        If no campaign has this id.
    """
    frame = store.query(
        "SELECT campaign_id, name, unit_code, starts_on, ends_on, target_categories,"
        " budget_yuan::DOUBLE AS budget_yuan FROM campaigns WHERE campaign_id = ?",
        [campaign_id],
    )
    if frame.empty:
        raise WarmGridError(f"未知的活动编号：{campaign_id}", f"unknown campaign id: {campaign_id}")
    row = frame.iloc[0]
    budget = row["budget_yuan"]
    return {
        "campaign_id": str(row["campaign_id"]),
        "name": str(row["name"]),
        "unit_code": str(row["unit_code"]),
        "starts_on": pd.Timestamp(row["starts_on"]).date(),
        "ends_on": pd.Timestamp(row["ends_on"]).date(),
        "target_categories": [str(c) for c in _as_list(row["target_categories"])],
        "budget_yuan": None if budget is None or pd.isna(budget) else float(budget),
    }


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    return list(value)


def _ancestors(store: Store, code: str) -> list[str] | None:
    """``code`` and every unit above it (a cell's community first), or None if unknown."""
    if _CELL_RE.fullmatch(code):
        community = store.scalar("SELECT community_code FROM cells WHERE cell_id = ?", [code])
        if community is None:
            return None
        chain = [code]
        start = str(community)
    elif _ADMIN_RE.fullmatch(code):
        if store.scalar("SELECT count(*) FROM admin_units WHERE code = ?", [code]) == 0:
            return None
        chain = []
        start = code
    else:
        return None
    frame = store.query(
        "WITH RECURSIVE up(code, depth) AS ("
        " SELECT ?::TEXT, 0"
        " UNION ALL SELECT a.parent_code, up.depth + 1 FROM up JOIN admin_units a ON a.code = up.code"
        " WHERE a.parent_code IS NOT NULL AND up.depth < 8"
        ") SELECT code FROM up ORDER BY depth",
        [start],
    )
    return chain + [str(c) for c in frame["code"]]


def _unknown_area(code: str, what_zh: str, what_en: str) -> WarmGridError:
    return WarmGridError(
        f"{what_zh} {code} 不是已知的行政区划代码（12位）或网格编号",
        f"{what_en} {code} is not a known admin unit code (12 digits) or cell id",
    )


#: Target households of a campaign within a unit and an area. Parameters:
#: $cats (TEXT[]), $unit, $area (a unit or cell id; the unit again when no area).
_TARGETS_SQL = """
WITH RECURSIVE
unit_down(code) AS (
    SELECT $unit::TEXT
    UNION SELECT a.code FROM admin_units a JOIN unit_down d ON a.parent_code = d.code
),
area_down(code) AS (
    SELECT $area::TEXT
    UNION SELECT a.code FROM admin_units a JOIN area_down d ON a.parent_code = d.code
),
eligible AS (
    SELECT hh_id, geom, cell_id, address, categories FROM households
    WHERE status = 'active' AND list_has_any(categories, $cats::TEXT[])
),
fallback AS (
    SELECT e.hh_id, min(a.code) AS community_code
    FROM eligible e JOIN admin_units a
      ON a.level = 'community' AND a.geom IS NOT NULL AND ST_Intersects(a.geom, e.geom)
    WHERE e.cell_id IS NULL
    GROUP BY e.hh_id
),
placed AS (
    SELECT e.hh_id, e.cell_id, coalesce(c.community_code, f.community_code) AS community_code,
           e.address, e.categories, ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat
    FROM eligible e
    LEFT JOIN cells c ON c.cell_id = e.cell_id
    LEFT JOIN fallback f ON f.hh_id = e.hh_id
)
SELECT p.hh_id, p.cell_id, p.community_code, cu.parent_code AS street_code, p.address, p.categories,
       p.lon, p.lat
FROM placed p LEFT JOIN admin_units cu ON cu.code = p.community_code
WHERE (p.cell_id = $unit OR p.community_code IN (SELECT code FROM unit_down))
  AND (p.cell_id = $area OR p.community_code IN (SELECT code FROM area_down))
ORDER BY p.hh_id
"""


def campaign_frames(store: Store, campaign_id: str, area: str | None = None, *, scope: Scope) -> CampaignData:
    """Read the target households, visits and assistance of a campaign.

    Parameters
    ----------
    store : Store
    campaign_id : str
    area : str, optional
        Restrict to an area inside the campaign's unit: a 12-digit admin unit
        code (street or community) or a cell id.
    scope : Scope
        The caller's: only target households in its cells are read (those
        outside every cell only by :meth:`~grid.access.Scope.everything`).

    Returns
    -------
    CampaignData
        See the module's definitions of targets, campaign visits and campaign
        assistance. Visits and assistance are those of the target households.

    Raises
    ------
    WarmGridError
        For an unknown campaign, a campaign unit or area that is not a known
        admin unit or cell, or an area outside the campaign's unit.
    """
    camp = load_campaign(store, campaign_id)
    unit = camp["unit_code"]
    unit_chain = _ancestors(store, unit)
    if unit_chain is None:
        raise _unknown_area(unit, f"活动 {campaign_id} 的单位", f"the unit of campaign {campaign_id},")
    if area is not None:
        area = str(area).strip()
        area_chain = _ancestors(store, area)
        if area_chain is None:
            raise _unknown_area(area, "区域", "area")
        if unit not in area_chain and area not in unit_chain:
            raise WarmGridError(
                f"区域 {area} 不在活动 {campaign_id} 的单位 {unit} 范围内",
                f"area {area} is outside the unit {unit} of campaign {campaign_id}",
            )
    targets = store.query(
        _TARGETS_SQL, {"cats": camp["target_categories"], "unit": unit, "area": area or unit}
    )
    targets = scope.restrict(targets).reset_index(drop=True)
    targets["categories"] = [[str(c) for c in _as_list(v)] for v in targets["categories"]]
    ids = targets["hh_id"].tolist()
    start = pd.Timestamp(camp["starts_on"]).to_pydatetime()
    end = (pd.Timestamp(camp["ends_on"]) + pd.Timedelta(days=1)).to_pydatetime()
    visits = store.query(
        "SELECT visit_id, hh_id, visitor_id, campaign_id, visited_at,"
        " coalesce(campaign_id = $cid, false) AS tagged,"
        " (visited_at >= $start AND visited_at < $end) AS in_dates"
        " FROM visits"
        " WHERE hh_id IN (SELECT unnest($ids::TEXT[]))"
        "   AND (campaign_id = $cid OR (visited_at >= $start AND visited_at < $end))"
        " ORDER BY hh_id, visited_at, visit_id",
        {"cid": campaign_id, "start": start, "end": end, "ids": ids},
    )
    assistance = store.query(
        "SELECT aid_id, hh_id, programme, kind, amount_yuan::DOUBLE AS amount_yuan,"
        " goods_value_yuan::DOUBLE AS goods_value_yuan, items, given_at, giver_unit, funding_source"
        " FROM assistance"
        " WHERE campaign_id = $cid AND hh_id IN (SELECT unnest($ids::TEXT[]))"
        " ORDER BY hh_id, given_at, aid_id",
        {"cid": campaign_id, "ids": ids},
    )
    return CampaignData(campaign=camp, area=area, targets=targets, visits=visits, assistance=assistance)


# --------------------------------------------------------------------------- the audit
def _check_columns(df: pd.DataFrame, name: str, cols: Iterable[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise WarmGridError(f"{name} 缺少列：{missing}", f"{name} lacks columns: {missing}")


def _at(values: pd.Series, ids: pd.Series, fill: Any = None) -> np.ndarray:
    """``values`` (indexed by ``hh_id``) looked up for each of ``ids``; ``fill`` where absent."""
    if fill is None:
        return np.asarray(values.reindex(ids.to_numpy()).to_numpy())
    return np.asarray(values.reindex(ids.to_numpy(), fill_value=fill).to_numpy())


def _among(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Boolean mask: which ``values`` are in ``index`` (unique). A hash look-up, much faster than
    ``Series.isin`` on Arrow-backed strings."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(index.get_indexer(values) >= 0)


def _lists(frame: pd.DataFrame, column: str, ids: pd.Series) -> list[list[Any]]:
    """For each of ``ids``, the list of ``frame[column]`` in its rows (in frame order; ``[]`` if none).

    A dict of lists: pandas' ``groupby().agg(list)`` is about 20 times slower.
    """
    groups: dict[Any, list[Any]] = {}
    for key, value in zip(frame["hh_id"].tolist(), frame[column].tolist(), strict=True):
        groups.setdefault(key, []).append(value)
    return [groups.get(i, []) for i in ids.tolist()]


def _purpose(programme: Any) -> str:
    """The programme as compared for duplicates: NFKC-normalised and trimmed."""
    return unicodedata.normalize("NFKC", str(programme)).strip()


def _money(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def _duplicate_words(reason: str, programme: str, units: list[str], amounts: list[float]) -> tuple[str, str]:
    n = len(units)
    total = _money(float(sum(amounts)))
    distinct = list(dict.fromkeys(units))
    if reason == "two_units":
        zh = f"{REASONS[reason][0]}：「{programme}」由{'、'.join(distinct)}共发放{n}次，合计{total}元"
        en = f"{REASONS[reason][1]}: '{programme}' given {n} times by {', '.join(distinct)}, {total} yuan in all"
    else:
        zh = f"{REASONS[reason][0]}：{distinct[0]}发放「{programme}」{n}次，合计{total}元"
        en = f"{REASONS[reason][1]}: {distinct[0]} gave '{programme}' {n} times, {total} yuan in all"
    return zh, en


def _rates(frame: pd.DataFrame) -> pd.DataFrame:
    t = frame["targets"].to_numpy(dtype=float)
    for col, num in (("visit_rate", "visited"), ("help_rate", "helped"), ("reach_rate", "reached")):
        frame[col] = np.where(t > 0, frame[num].to_numpy(dtype=float) / np.where(t > 0, t, 1.0), 0.0)
    return frame


#: The columns :func:`audit_campaign` adds to each target household, in order.
_AUDIT_COLUMNS = ("visited", "visits", "first_visit", "visitor_ids", "helped", "aids", "aid_ids", "cash_yuan",
                  "goods_value_yuan", "programmes", "giver_units", "duplicate", "status")

_COUNTS = ("targets", "visited", "helped", "reached", "not_visited", "not_helped", "omissions",
           "duplicates", "duplicate_households")


def _summary(households: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Counts per unit; ``keys[0]`` is the unit, the others its parents (carried along)."""
    h = households.assign(
        _v=households["visited"].astype(np.int64), _h=households["helped"].astype(np.int64),
        _r=(households["visited"] & households["helped"]).astype(np.int64),
        _d=households["duplicate"].astype(np.int64),
    )
    out = h.groupby(keys, dropna=False, sort=True).agg(
        targets=("hh_id", "size"), visited=("_v", "sum"), helped=("_h", "sum"), reached=("_r", "sum"),
        duplicates=("_dups", "sum"), duplicate_households=("_d", "sum"),
    ).reset_index()
    out["not_visited"] = out["targets"] - out["visited"]
    out["not_helped"] = out["targets"] - out["helped"]
    out["omissions"] = out["not_visited"] + out["not_helped"]
    for col in _COUNTS:
        out[col] = out[col].astype(np.int64)
    return _rates(out[[*keys, *_COUNTS]].copy())


def audit_campaign(targets: pd.DataFrame, visits: pd.DataFrame, assistance: pd.DataFrame) -> Audit:
    """Audit a campaign: who was visited and helped, omissions, duplicates, summaries.

    Pure: frames in, frames out. The ``visits`` and ``assistance`` given are
    taken to be the campaign's (see :func:`campaign_frames`); rows of
    households that are not targets are ignored.

    Parameters
    ----------
    targets : DataFrame
        The target households: ``hh_id, cell_id, community_code, street_code``
        and any other columns to carry along (``address``, ``categories``).
        ``hh_id`` must be unique.
    visits : DataFrame
        ``visit_id, hh_id, visitor_id, visited_at``.
    assistance : DataFrame
        ``aid_id, hh_id, programme, amount_yuan, goods_value_yuan, giver_unit,
        given_at``.

    Returns
    -------
    Audit
        See :class:`Audit`.

    Raises
    ------
    WarmGridError
        If a frame lacks a column or ``targets`` repeats an ``hh_id``.
    """
    _check_columns(targets, "targets", ("hh_id", *_UNIT_KEYS))
    _check_columns(visits, "visits", ("visit_id", "hh_id", "visitor_id", "visited_at"))
    _check_columns(assistance, "assistance", ("aid_id", "hh_id", "programme", "amount_yuan",
                                              "goods_value_yuan", "giver_unit", "given_at"))
    if targets["hh_id"].duplicated().any():
        dups = sorted(targets.loc[targets["hh_id"].duplicated(), "hh_id"].astype(str).unique())[:5]
        raise WarmGridError(f"目标住户编号重复：{dups}", f"targets repeat hh_id: {dups}")
    hh = targets.sort_values("hh_id", kind="stable").reset_index(drop=True)
    ids = hh["hh_id"]
    units = hh.set_index("hh_id")[list(_UNIT_KEYS)]

    # -- visits -------------------------------------------------------------------------
    target_index = pd.Index(ids)
    v = visits.loc[_among(visits["hh_id"], target_index), ["visit_id", "hh_id", "visitor_id", "visited_at"]].copy()
    v["visited_at"] = pd.to_datetime(v["visited_at"])
    n_visits = v["hh_id"].value_counts()
    first_visit = v.groupby("hh_id")["visited_at"].min()
    who = (v.dropna(subset=["visitor_id"]).astype({"visitor_id": str})
           .drop_duplicates(["hh_id", "visitor_id"]).sort_values(["hh_id", "visitor_id"]))
    hh["visits"] = _at(n_visits, ids, 0).astype(np.int64)
    hh["visited"] = hh["visits"] > 0
    hh["first_visit"] = pd.to_datetime(_at(first_visit, ids))
    hh["visitor_ids"] = _lists(who, "visitor_id", ids)

    # -- assistance ---------------------------------------------------------------------
    a = assistance.loc[_among(assistance["hh_id"], target_index)].copy()
    a["given_at"] = pd.to_datetime(a["given_at"])
    a["amount_yuan"] = pd.to_numeric(a["amount_yuan"]).fillna(0.0).astype(float)
    a["goods_value_yuan"] = pd.to_numeric(a["goods_value_yuan"]).fillna(0.0).astype(float)
    a["giver_unit"] = a["giver_unit"].fillna("").astype(str)
    a["programme"] = a["programme"].fillna("").astype(str)
    a["purpose"] = [_purpose(p) for p in a["programme"]]
    a = a.sort_values(["hh_id", "given_at", "aid_id"], kind="stable").reset_index(drop=True)
    by_hh = a.groupby("hh_id")
    progs = a.drop_duplicates(["hh_id", "purpose"]).sort_values(["hh_id", "purpose"])
    givers = a.drop_duplicates(["hh_id", "giver_unit"]).sort_values(["hh_id", "giver_unit"])
    hh["aids"] = _at(a["hh_id"].value_counts(), ids, 0).astype(np.int64)
    hh["helped"] = hh["aids"] > 0
    hh["aid_ids"] = _lists(a, "aid_id", ids)
    hh["cash_yuan"] = _at(by_hh["amount_yuan"].sum(), ids, 0.0).astype(float)
    hh["goods_value_yuan"] = _at(by_hh["goods_value_yuan"].sum(), ids, 0.0).astype(float)
    hh["programmes"] = _lists(progs, "purpose", ids)
    hh["giver_units"] = _lists(givers, "giver_unit", ids)

    # -- duplicates: the same purpose more than once --------------------------------------
    a["value_yuan"] = a["amount_yuan"] + a["goods_value_yuan"]
    size = a.groupby(["hh_id", "purpose"])["aid_id"].transform("size")
    rep = a[size > 1]
    dup_rows: list[dict[str, Any]] = []
    for (hh_id, purpose), g in rep.groupby(["hh_id", "purpose"], sort=True):
        unit_list = g["giver_unit"].tolist()
        amounts = [float(x) for x in g["value_yuan"]]
        reason = "two_units" if len(set(unit_list)) > 1 else "same_unit_twice"
        zh, en = _duplicate_words(reason, str(purpose), unit_list, amounts)
        dup_rows.append({
            "hh_id": hh_id, "programme": purpose, "reason": reason, "zh": zh, "en": en,
            "aid_ids": g["aid_id"].astype(str).tolist(), "units": unit_list, "amounts_yuan": amounts,
            "given_at": g["given_at"].tolist(), "value_yuan": float(sum(amounts)),
            "excess_yuan": float(sum(amounts[1:])),
        })
    dup_cols = ["hh_id", "programme", "reason", "zh", "en", "aid_ids", "units", "amounts_yuan",
                "given_at", "value_yuan", "excess_yuan"]
    duplicates = pd.DataFrame(dup_rows, columns=dup_cols)
    for key in _UNIT_KEYS:
        duplicates[key] = _at(units[key], duplicates["hh_id"]) if len(duplicates) else pd.Series(dtype=object)
    hh["duplicate"] = _among(ids, pd.Index(duplicates["hh_id"].unique()))
    hh["status"] = np.select(
        [~hh["visited"] & ~hh["helped"], ~hh["visited"], ~hh["helped"], hh["duplicate"]],
        ["not_reached", "not_visited", "not_helped", "duplicate"], default="ok",
    )

    # -- omissions ------------------------------------------------------------------------
    parts = []
    for reason, mask in (("not_visited", ~hh["visited"]), ("not_helped", ~hh["helped"])):
        part = hh.loc[mask, ["hh_id", *_UNIT_KEYS]].assign(reason=reason, zh=REASONS[reason][0],
                                                           en=REASONS[reason][1])
        parts.append(part)
    omissions = pd.concat(parts, ignore_index=True)
    omissions["_order"] = omissions["reason"].map({"not_visited": 0, "not_helped": 1})
    omissions = omissions.sort_values(["hh_id", "_order"], kind="stable").reset_index(drop=True)
    omissions = omissions[["hh_id", "reason", "zh", "en", *_UNIT_KEYS]]

    # -- summaries ------------------------------------------------------------------------
    hh["_dups"] = _at(duplicates["hh_id"].value_counts(), ids, 0).astype(np.int64)
    by_cell = _summary(hh, ["cell_id", "community_code", "street_code"])
    by_community = _summary(hh, ["community_code", "street_code"])
    by_street = _summary(hh, ["street_code"])
    hh = hh[[c for c in targets.columns if c not in _AUDIT_COLUMNS] + list(_AUDIT_COLUMNS)]
    n = len(hh)
    totals: dict[str, Any] = {
        "targets": n,
        "visited": int(hh["visited"].sum()),
        "helped": int(hh["helped"].sum()),
        "reached": int((hh["visited"] & hh["helped"]).sum()),
        "not_visited": int((~hh["visited"]).sum()),
        "not_helped": int((~hh["helped"]).sum()),
        "omissions": len(omissions),
        "duplicates": len(duplicates),
        "duplicate_households": int(hh["duplicate"].sum()),
    }
    for rate, num in (("visit_rate", "visited"), ("help_rate", "helped"), ("reach_rate", "reached")):
        totals[rate] = totals[num] / n if n else 0.0
    return Audit(households=hh, omissions=omissions, duplicates=duplicates, by_cell=by_cell,
                 by_community=by_community, by_street=by_street, totals=totals)


# --------------------------------------------------------------------------- the CLI document
def _plain(value: Any) -> Any:
    """A JSON-ready copy: Python numbers and strings, ISO dates, None for NaN/NaT."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [_plain(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _records(frame: pd.DataFrame, names: dict[str, str], key: str) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict(orient="records"):
        code = rec[key]
        rec = {key: code, "name": names.get(str(code)) if isinstance(code, str) else None,
               **{k: v for k, v in rec.items() if k != key}}
        for rate in ("visit_rate", "help_rate", "reach_rate"):
            rec[rate] = round(float(rec[rate]), 6)
        out.append(_plain(rec))
    return out


def cli_audit(store: Store, campaign_id: str, area: str | None = None, *, scope: Scope) -> dict[str, Any]:
    """The audit of a campaign as one JSON-ready document (``python -m grid audit --json``).

    Parameters
    ----------
    store : Store
    campaign_id : str
    area : str, optional
        A 12-digit admin unit code (street or community) or a cell id inside
        the campaign's unit.

    Returns
    -------
    dict
        ``campaign`` (id, name, unit_code, starts_on, ends_on as ISO dates,
        target_categories, budget_yuan, area), ``targets``, ``visited``,
        ``helped``, ``reached``, ``not_visited``, ``not_helped``,
        ``duplicate_households``, ``visit_rate``, ``help_rate``;
        ``omissions``: ``[{hh_id, reason, zh, en}]``; ``duplicates``:
        ``[{hh_id, reason, programme, aid_ids, units, amounts_yuan,
        value_yuan, excess_yuan, zh, en}]`` (``units`` and ``amounts_yuan``
        aligned with ``aid_ids``); ``by_street`` and ``by_community``: the
        summaries with each unit's name. Only plain Python values: it passes
        ``json.dumps(doc, allow_nan=False)``.

    Raises
    ------
    WarmGridError
        As :func:`campaign_frames`.
    """
    data = campaign_frames(store, campaign_id, area, scope=scope)
    audit = audit_campaign(data.targets, data.visits, data.assistance)
    names = {str(k): str(v) for k, v in store.query("SELECT code, name FROM admin_units")
             .itertuples(index=False)}
    t = audit.totals
    doc: dict[str, Any] = {
        "campaign": {**data.campaign, "area": data.area},
        "targets": t["targets"],
        "visited": t["visited"],
        "helped": t["helped"],
        "reached": t["reached"],
        "not_visited": t["not_visited"],
        "not_helped": t["not_helped"],
        "duplicate_households": t["duplicate_households"],
        "visit_rate": round(float(t["visit_rate"]), 6),
        "help_rate": round(float(t["help_rate"]), 6),
        "omissions": audit.omissions[["hh_id", "reason", "zh", "en"]].to_dict(orient="records"),
        "duplicates": audit.duplicates[["hh_id", "reason", "programme", "aid_ids", "units", "amounts_yuan",
                                        "value_yuan", "excess_yuan", "zh", "en"]].to_dict(orient="records"),
        "by_street": _records(audit.by_street, names, "street_code"),
        "by_community": _records(audit.by_community, names, "community_code"),
    }
    return dict(_plain(doc))


# --------------------------------------------------------------------------- managing campaigns
def list_campaigns(store: Store) -> pd.DataFrame:
    """Every campaign, newest first: ``campaign_id, name, unit_code, starts_on, ends_on``."""
    return store.query("SELECT campaign_id, name, unit_code, starts_on, ends_on FROM campaigns"
                       " ORDER BY starts_on DESC, campaign_id")


def plannable_areas(store: Store, scope: Scope) -> pd.DataFrame:
    """The streets and communities that hold cells of ``scope`` (for a campaign's unit or a plan's area).

    Columns ``code, name, level, label`` (``label``: the name with its level in
    Chinese), streets first.
    """
    cond = "TRUE" if scope.is_everything else "c.cell_id IN (SELECT unnest(?::TEXT[]))"
    params = [] if scope.is_everything else [scope.cell_list()]
    frame = store.query(
        "SELECT DISTINCT a.code, a.name, a.level FROM admin_units a JOIN cells c"
        " ON a.code = c.community_code OR a.code = (SELECT parent_code FROM admin_units WHERE code = c.community_code)"
        f" WHERE {cond} ORDER BY a.level DESC, a.code", params)
    frame["label"] = frame["name"] + "（" + frame["level"].map(model.label) + "）"
    return frame


def create_campaign(store: Store, actor: Actor, *, campaign_id: str, name: str, unit_code: str,
                    starts_on: date | str, ends_on: date | str, targets: Iterable[str],
                    budget_yuan: float | None = None) -> str:
    """Create a campaign, with its audit row, in one transaction; return its id.

    The actor must be allowed to ``manage_campaigns`` over every cell of the unit.

    Raises
    ------
    ValidationError
        Once, with every problem: an empty or over-long id or name, control
        characters, an end before the start, no or unknown target categories,
        a negative budget, an id that exists.
    AccessDenied
        When the unit is outside the actor's scope.
    """
    problems: list[Problem] = []

    def text(field: str, value: str, max_len: int) -> str:
        check = nonempty_text(value, max_len=max_len)
        if check.ok:
            check = check_characters(str(check.value))
        if not check.ok:
            problems.append(check.problem("走访活动", None, field, visible(str(value))))
            return ""
        return str(check.value)

    cid = text("campaign_id", campaign_id, 64)
    title = text("name", name, 200)
    start, end = date_value(starts_on), date_value(ends_on)
    for field_name, check, raw in (("starts_on", start, starts_on), ("ends_on", end, ends_on)):
        if not check.ok:
            problems.append(check.problem("走访活动", None, field_name, raw))
    if start.ok and end.ok and end.value < start.value:  # type: ignore[operator]
        problems.append(Problem("走访活动", None, "ends_on", str(end.value), "结束日期早于开始日期",
                                "the end is before the start"))
    cats = [str(c) for c in targets]
    if not cats:
        problems.append(Problem("走访活动", None, "target_categories", "", "请选择至少一个对象类别",
                                "choose at least one target category"))
    for c in cats:
        if c not in model.HARDSHIP:
            problems.append(Problem("走访活动", None, "target_categories", c, "未知的困难类别",
                                    "unknown hardship category"))
    if budget_yuan is not None and not (budget_yuan >= 0):
        problems.append(Problem("走访活动", None, "budget_yuan", str(budget_yuan), "预算不能为负",
                                "the budget cannot be negative"))
    unit = str(unit_code).strip()
    unit_cells = cells_in_scope(store, [unit])
    if not unit_cells:
        problems.append(Problem("走访活动", None, "unit_code", unit, "没有这个单位（或其下没有网格）",
                                "no such unit (or it holds no cell)"))
    if problems:
        raise ValidationError(problems)
    ensure(actor, "manage_campaigns", Scope.of_cells(unit_cells), log=store)
    with store.transaction() as cur:
        if cur.execute("SELECT count(*) FROM campaigns WHERE campaign_id = ?", [cid]).fetchone() != (0,):
            raise ValidationError([Problem("走访活动", None, "campaign_id", cid, "活动编号已存在",
                                           "this campaign id exists")])
        cur.execute("INSERT INTO campaigns (campaign_id, name, unit_code, starts_on, ends_on, target_categories,"
                    " budget_yuan) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [cid, title, unit, start.value, end.value, cats, budget_yuan or None])
        audit_log.record(cur, actor, "create", object=f"campaign:{cid}", row_count=1)
    return cid
