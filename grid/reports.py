"""The bulletin (情况通报) of a unit's visiting and assistance work over a period.

One call, :func:`bulletin_data`, gathers every figure of the bulletin from a
store; :func:`bulletin_xlsx` and :func:`bulletin_pdf` write it as an Excel
workbook set up for A4 printing and as a PDF with an embedded CJK font.

Definitions
-----------
Unit
    A 12-digit ``admin_units`` code (district, street or community). Its
    households are those whose derived cell belongs to a community at or below
    the unit (``cells.community_code``, then ``admin_units.parent_code`` up the
    chain). Households outside every cell are not in any unit's bulletin.
Period
    ``since`` 00:00 up to the end of ``until`` (both dates inclusive).
Visits, aid, needs
    Visits dated in the period, assistance given in the period and needs
    raised in the period, of the unit's households (whatever their status
    today: a visit to a household that has since moved away still happened).
``households_visited``, ``people_visited``
    Distinct households with at least one visit in the period, and the sum of
    their ``size``.
``cash_yuan``, ``goods_yuan``, ``total_yuan``
    Sums of ``amount_yuan`` and ``goods_value_yuan`` of the period's aid,
    rounded to the fen.
``needs_raised``, ``needs_resolved``, ``resolution_rate``
    Needs raised in the period; those of them resolved or answered (``resolved_at``,
    set when a need is resolved or answered and kept after its follow-up closes it)
    before the end of the period (a need settled after the period is not counted as
    settled in it); the second over the first (``None`` when no need was raised).
    :mod:`grid.needs_report` gives the same figures with on-time and overdue counts.
``households``, ``vulnerable``, ``vulnerable_visited``, ``coverage``
    Active households today, those with at least one hardship category, the
    vulnerable ones visited in the period, and ``vulnerable_visited /
    vulnerable`` (``None`` when there are none).
Largest gaps (问题清单)
    Communities ranked by the number of vulnerable households **not** visited
    in the period (most first; ties by the lower coverage, then the code):
    a count says how much work is left, where a rate would put a tiny
    community with one unvisited household at the top.
Comparisons (同比、环比)
    The same figures over the same dates a year before (同比; 29 February becomes the 28th) and
    over the period of the same length just before (环比), and with a campaign the previous
    campaign's audit within the unit (the latest one ending before this one starts). A period in
    which the unit's households have no visit, aid or need has no figures (``None``), and the
    bulletin says so rather than compare with zeros.
Ranking (排名)
    A district's streets, or a street's communities, by the coverage of their vulnerable
    households (best first; ties by more vulnerable households, then the code), with the
    resolution rate and aid per vulnerable household beside it.
Problems (存在问题)
    Omissions and duplicates (with a campaign); vulnerable households not visited in the period;
    vulnerable households outside the reach of the station type with the most stations;
    needs raised up to the end of the period, open and past their due date at ``as_of``
    (:func:`grid.needs_report.as_of_for`); cells without a warden. Each in total and per community.
Campaign
    With ``campaign_id``, the campaign's coverage audit
    (:func:`grid.campaigns.audit_campaign`) restricted to the unit: its target
    households, omissions (遗漏) and duplicates (重复). The audit uses the
    campaign's own dates and definitions, not the bulletin's period.

Examples
--------
>>> from datetime import date
>>> period_words(date(2025, 12, 1), date(2026, 1, 31))
'2025年12月1日至2026年1月31日'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from grid import audit
from grid.access import Actor, Scope, cells_in_scope, ensure
from grid.campaigns import audit_campaign, campaign_frames
from grid.errors import AccessDenied, WarmGridError
from grid.store import Store

__all__ = [
    "HEADLINE_LABELS",
    "COLUMN_LABELS",
    "Bulletin",
    "bulletin_data",
    "bulletin_xlsx",
    "bulletin_pdf",
    "bulletin_file",
    "bulletin_bytes",
    "bulletin_units",
    "bulletin_docx",
    "bulletin_document",
    "BULLETIN_FORMATS",
    "PROBLEM_LABELS",
    "Comparison",
    "period_words",
]

#: Headline figures in print order: key -> Chinese label.
HEADLINE_LABELS: dict[str, str] = {
    "households": "在册住户（户）",
    "vulnerable": "困难住户（户）",
    "visits": "走访次数（次）",
    "households_visited": "走访住户（户）",
    "people_visited": "走访人数（人）",
    "vulnerable_visited": "走访困难住户（户）",
    "coverage": "困难住户走访覆盖率",
    "households_helped": "受助住户（户）",
    "cash_yuan": "发放慰问金（元）",
    "goods_yuan": "发放物资折款（元）",
    "total_yuan": "救助合计（元）",
    "needs_raised": "收集诉求（件）",
    "needs_resolved": "办结诉求（件）",
    "resolution_rate": "诉求办结率",
    "targets": "活动对象（户）",
    "targets_visited": "活动对象已走访（户）",
    "targets_helped": "活动对象已救助（户）",
    "target_coverage": "活动对象走访覆盖率",
    "omissions": "遗漏（条）",
    "duplicates": "重复救助（条）",
}

#: Column headers of the tables: column -> Chinese header.
COLUMN_LABELS: dict[str, str] = {
    "street_code": "街道代码",
    "street_name": "街道",
    "community_code": "社区代码",
    "community_name": "社区",
    "programme": "项目",
    "records": "笔数",
    "hh_id": "住户编号",
    "reason": "原因",
    "zh": "说明",
    "unvisited_vulnerable": "未走访困难户（户）",
    "aid_ids": "救助记录",
    "value_yuan": "金额（元）",
    "excess_yuan": "重复金额（元）",
    "station_label": "站点类型",
    "stations": "站点数（全区）",
    "radius_m": "服务半径（米）",
    "covered": "覆盖住户（户）",
    "service_coverage": "住户覆盖率",
    "vulnerable_covered": "覆盖困难户（户）",
    "covered_straight": "按直线半径覆盖（户）",
    "covered_walk": "按步行距离覆盖（户）",
    "overstated": "直线高估（户）",
    "overstated_vulnerable": "其中困难户（户）",
    "off_network": "不在路网上（户）",
    **{k: v for k, v in HEADLINE_LABELS.items()},
}


_ADMIN_RE = re.compile(r"[0-9]{12}")
_COUNTS = ("households", "vulnerable", "visits", "households_visited", "people_visited", "vulnerable_visited",
           "households_helped", "needs_raised", "needs_resolved")
_MONEY = ("cash_yuan", "goods_yuan", "total_yuan")
_TABLE_COLUMNS = ("households", "vulnerable", "visits", "households_visited", "people_visited",
                  "vulnerable_visited", "coverage", "households_helped", "cash_yuan", "goods_yuan", "total_yuan",
                  "needs_raised", "needs_resolved", "resolution_rate")


@dataclass
class Bulletin:
    """Everything printed in a bulletin; see the module's definitions.

    Attributes
    ----------
    unit_code, unit_name, unit_level : str
        The unit reported on.
    since, until : date
        The period, both inclusive.
    title : str
        ``"<unit>关于<period or campaign>走访慰问工作的情况通报"``.
    reporting_unit : str
        填报单位 (the unit's name unless given).
    report_date : date
        填报日期 (today unless given).
    headline : dict
        Plain Python numbers keyed as :data:`HEADLINE_LABELS` (the campaign
        keys only with a campaign); rates are floats in [0, 1] or ``None``.
    programmes : DataFrame
        ``programme, records, households_helped, cash_yuan, goods_yuan,
        total_yuan``: the period's aid by programme, largest first.
    by_street, by_community : DataFrame
        One row per street / community of the unit (those without households
        too): the codes and names, then the counts, sums and rates of the
        headline. The rows add up to the headline.
    gaps : DataFrame
        The communities with the most unvisited vulnerable households:
        ``community_code, community_name, street_name, vulnerable,
        vulnerable_visited, unvisited_vulnerable, coverage``.
    campaign : dict or None
        :func:`grid.campaigns.load_campaign` of the chosen campaign.
    omissions, duplicates : DataFrame
        The campaign audit's omissions and duplicates within the unit (empty
        without a campaign), with ``community_name``.
    """

    unit_code: str
    unit_name: str
    unit_level: str
    since: date
    until: date
    title: str
    reporting_unit: str
    report_date: date
    headline: dict[str, Any]
    programmes: pd.DataFrame
    by_street: pd.DataFrame
    by_community: pd.DataFrame
    gaps: pd.DataFrame
    campaign: dict[str, Any] | None = None
    omissions: pd.DataFrame = field(default_factory=pd.DataFrame)
    duplicates: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: ``walk`` or ``straight``: how :attr:`service` counts a household as covered.
    distance: str = "straight"
    #: Service-station coverage of the unit's households, one row per station type present:
    #: ``type, station_label, stations, radius_m, households, covered, service_coverage,
    #: vulnerable_covered`` by ``distance``, and, where the district has a street network,
    #: ``covered_straight, covered_walk, overstated, overstated_vulnerable, off_network``.
    service: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: 同比 / 环比 / 上一活动: see :class:`Comparison` (``figures`` is ``None`` where no data exists).
    comparisons: list[Comparison] = field(default_factory=list)
    #: ``street`` or ``community``: the level :attr:`ranking` ranks (``None`` for one community).
    ranking_level: str | None = None
    #: The units of :attr:`ranking_level` ranked by coverage (best first): ``rank, code, name,
    #: vulnerable, vulnerable_visited, coverage, needs_raised, needs_resolved, resolution_rate,
    #: total_yuan, per_vulnerable_yuan``.
    ranking: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The counts of the gaps (存在问题): see :data:`PROBLEM_LABELS`.
    problems: dict[str, Any] = field(default_factory=dict)
    #: The gaps per community: ``street_name, community_name, unvisited_vulnerable,
    #: overdue_needs, cells, cells_without_warden``.
    problems_by_community: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The communities' polygons (WGS84 GeoDataFrame: ``community_code, street_code, geometry``) for the map.
    shapes: Any = None


@dataclass
class Comparison:
    """One comparison of the bulletin: the same figures over another period or campaign.

    ``kind`` is ``yoy`` (同比: the same dates a year before), ``mom`` (环比: the period of the same
    length just before) or ``campaign`` (the previous campaign of the unit); ``label`` names it in
    Chinese; ``figures`` holds the headline keys (counts, money, rates) for that period, or ``None``
    when the store holds no visit, aid or need of the unit's households in it.
    """

    kind: str
    label: str
    since: date
    until: date
    figures: dict[str, Any] | None
    campaign_name: str | None = None


#: The gaps counted in :attr:`Bulletin.problems`: key -> Chinese label.
PROBLEM_LABELS: dict[str, str] = {
    "omissions": "活动对象遗漏（条）",
    "duplicates": "重复救助（条）",
    "unvisited_vulnerable": "期间未走访的困难住户（户）",
    "uncovered_vulnerable": "服务站点半径外的困难住户（户）",
    "overdue_needs": "超期未办结诉求（件）",
    "cells_without_warden": "未配备网格员的网格（个）",
}


# --------------------------------------------------------------------------- data
def period_words(since: date, until: date) -> str:
    """The period in Chinese, e.g. ``2025年12月1日至2026年1月31日``."""

    def one(d: date) -> str:
        return f"{d.year}年{d.month}月{d.day}日"

    return one(since) if since == until else f"{one(since)}至{one(until)}"


#: Per-community figures of a unit over a period. Parameters: $unit, $start, $end.
_COMMUNITY_SQL = """
WITH RECURSIVE
down(code) AS (
    SELECT $unit::TEXT
    UNION SELECT a.code FROM admin_units a JOIN down d ON a.parent_code = d.code
),
communities AS (
    SELECT a.code AS community_code, a.name AS community_name, a.parent_code AS street_code
    FROM admin_units a WHERE a.level = 'community' AND a.code IN (SELECT code FROM down)
),
hh AS (
    SELECT h.hh_id, h.size, h.status = 'active' AS active,
           h.status = 'active' AND len(h.categories) > 0 AS vulnerable, c.community_code
    FROM households h JOIN cells c ON c.cell_id = h.cell_id
    WHERE c.community_code IN (SELECT community_code FROM communities)
),
v AS (
    SELECT hh_id, count(*) AS visits FROM visits
    WHERE visited_at >= $start AND visited_at < $end GROUP BY hh_id
),
aid AS (
    SELECT hh_id, sum(amount_yuan) AS cash, sum(goods_value_yuan) AS goods FROM assistance
    WHERE given_at >= $start AND given_at < $end GROUP BY hh_id
),
n AS (
    SELECT hh_id, count(*) AS raised,
           count(*) FILTER (WHERE resolved_at < $end) AS resolved
    FROM needs WHERE raised_at >= $start AND raised_at < $end GROUP BY hh_id
),
per_community AS (
    SELECT hh.community_code,
           count(*) FILTER (WHERE hh.active) AS households,
           count(*) FILTER (WHERE hh.vulnerable) AS vulnerable,
           coalesce(sum(v.visits), 0) AS visits,
           count(v.hh_id) AS households_visited,
           coalesce(sum(hh.size) FILTER (WHERE v.hh_id IS NOT NULL), 0) AS people_visited,
           count(*) FILTER (WHERE hh.vulnerable AND v.hh_id IS NOT NULL) AS vulnerable_visited,
           count(aid.hh_id) AS households_helped,
           coalesce(sum(aid.cash), 0) AS cash,
           coalesce(sum(aid.goods), 0) AS goods,
           coalesce(sum(n.raised), 0) AS needs_raised,
           coalesce(sum(n.resolved), 0) AS needs_resolved
    FROM hh LEFT JOIN v USING (hh_id) LEFT JOIN aid USING (hh_id) LEFT JOIN n USING (hh_id)
    GROUP BY hh.community_code
)
SELECT c.street_code, s.name AS street_name, c.community_code, c.community_name,
       coalesce(p.households, 0)::BIGINT AS households,
       coalesce(p.vulnerable, 0)::BIGINT AS vulnerable,
       coalesce(p.visits, 0)::BIGINT AS visits,
       coalesce(p.households_visited, 0)::BIGINT AS households_visited,
       coalesce(p.people_visited, 0)::BIGINT AS people_visited,
       coalesce(p.vulnerable_visited, 0)::BIGINT AS vulnerable_visited,
       coalesce(p.households_helped, 0)::BIGINT AS households_helped,
       round(coalesce(p.cash, 0), 2)::DOUBLE AS cash_yuan,
       round(coalesce(p.goods, 0), 2)::DOUBLE AS goods_yuan,
       coalesce(p.needs_raised, 0)::BIGINT AS needs_raised,
       coalesce(p.needs_resolved, 0)::BIGINT AS needs_resolved
FROM communities c
LEFT JOIN per_community p USING (community_code)
LEFT JOIN admin_units s ON s.code = c.street_code
ORDER BY c.community_code
"""

#: The period's aid of a unit's households by programme. Parameters: $unit, $start, $end.
_PROGRAMME_SQL = """
WITH RECURSIVE down(code) AS (
    SELECT $unit::TEXT
    UNION SELECT a.code FROM admin_units a JOIN down d ON a.parent_code = d.code
)
SELECT a.programme, count(*)::BIGINT AS records, count(DISTINCT a.hh_id)::BIGINT AS households_helped,
       round(sum(a.amount_yuan), 2)::DOUBLE AS cash_yuan,
       round(sum(a.goods_value_yuan), 2)::DOUBLE AS goods_yuan,
       round(sum(a.amount_yuan + a.goods_value_yuan), 2)::DOUBLE AS total_yuan
FROM assistance a JOIN households h USING (hh_id) JOIN cells c ON c.cell_id = h.cell_id
WHERE c.community_code IN (SELECT code FROM down) AND a.given_at >= $start AND a.given_at < $end
GROUP BY a.programme
ORDER BY total_yuan DESC, a.programme
"""


def _unit_figures(store: Store, unit_code: str, since: date, until: date) -> pd.DataFrame:
    """The per-community figures (with rates) of a unit over a period."""
    start = datetime.combine(since, datetime.min.time())
    end = datetime.combine(until + timedelta(days=1), datetime.min.time())
    return _add_rates(store.query(_COMMUNITY_SQL, {"unit": unit_code, "start": start, "end": end}))


def _sum_headline(community: pd.DataFrame) -> dict[str, Any]:
    """The headline counts, money and rates of the rows of a per-community frame."""
    headline: dict[str, Any] = {c: int(community[c].sum()) for c in _COUNTS}
    for c in ("cash_yuan", "goods_yuan"):
        headline[c] = round(float(community[c].sum()), 2)
    headline["total_yuan"] = round(headline["cash_yuan"] + headline["goods_yuan"], 2)
    headline["coverage"] = _rate(headline["vulnerable_visited"], headline["vulnerable"])
    headline["resolution_rate"] = _rate(headline["needs_resolved"], headline["needs_raised"])
    return headline


def _year_before(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def _comparisons(store: Store, unit_code: str, since: date, until: date, campaign: dict[str, Any] | None,
                 scope: Scope) -> list[Comparison]:
    """同比, 环比 and (with a campaign) the previous campaign of the same unit, where data exists."""
    out = []
    length = (until - since).days + 1
    prev_until = since - timedelta(days=1)
    periods = [("yoy", "上年同期", _year_before(since), _year_before(until)),
               ("mom", "上一周期", prev_until - timedelta(days=length - 1), prev_until)]
    for kind, label, a, z in periods:
        frame = _unit_figures(store, unit_code, a, z)
        h = _sum_headline(frame)
        has_data = h["visits"] + h["households_helped"] + h["needs_raised"] > 0
        out.append(Comparison(kind, label, a, z, h if has_data else None))
    if campaign is not None:
        prev = store.query(
            "SELECT campaign_id, name, starts_on, ends_on FROM campaigns WHERE ends_on < ? AND campaign_id <> ?"
            " ORDER BY ends_on DESC, campaign_id LIMIT 5", [campaign["starts_on"], campaign["campaign_id"]])
        figures: dict[str, Any] | None = None
        row = None
        for r in prev.itertuples(index=False):
            try:
                data = campaign_frames(store, str(r.campaign_id), area=unit_code, scope=scope)
            except WarmGridError:  # the unit lies outside that campaign's unit
                continue
            aud = audit_campaign(data.targets, data.visits, data.assistance)
            row, t = r, aud.totals
            figures = {"targets": int(t["targets"]), "targets_visited": int(t["visited"]),
                       "targets_helped": int(t["helped"]), "target_coverage": _rate(t["visited"], t["targets"]),
                       "omissions": len(aud.omissions), "duplicates": len(aud.duplicates)}
            break
        if row is not None:
            out.append(Comparison("campaign", "上一活动", pd.Timestamp(row.starts_on).date(),
                                  pd.Timestamp(row.ends_on).date(), figures, campaign_name=str(row.name)))
        else:
            out.append(Comparison("campaign", "上一活动", since, until, None))
    return out


def _ranking(community: pd.DataFrame, street: pd.DataFrame, unit_level: str) -> tuple[str | None, pd.DataFrame]:
    """The streets (of a district) or communities (of a street) ranked by vulnerable coverage, best first."""
    cols = ["rank", "code", "name", "vulnerable", "vulnerable_visited", "coverage", "needs_raised",
            "needs_resolved", "resolution_rate", "total_yuan", "per_vulnerable_yuan"]
    if unit_level == "district" and len(street) > 1:
        level, frame = "street", street.rename(columns={"street_code": "code", "street_name": "name"})
    elif len(community) > 1:
        level, frame = "community", community.rename(columns={"community_code": "code", "community_name": "name"})
    else:
        return None, pd.DataFrame(columns=cols)
    frame = frame.assign(
        per_vulnerable_yuan=[round(t / v, 2) if v else None for t, v in zip(frame["total_yuan"], frame["vulnerable"],
                                                                             strict=True)],
        _cov=frame["coverage"].astype(float).fillna(-1.0))
    frame = frame.sort_values(["_cov", "vulnerable", "code"], ascending=[False, False, True], kind="stable")
    frame = frame.assign(rank=range(1, len(frame) + 1))
    frame["per_vulnerable_yuan"] = frame["per_vulnerable_yuan"].astype(object)
    return level, frame[cols].reset_index(drop=True)


def _problems(store: Store, unit_code: str, until: date, community: pd.DataFrame,
              service: pd.DataFrame, headline: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    """The counts of 存在问题, in total and per community."""
    from grid import needs_report

    codes = list(community["community_code"])
    cells = store.query(
        "SELECT community_code, count(*)::BIGINT AS cells,"
        " count(*) FILTER (WHERE warden_id IS NULL OR trim(warden_id) = '')::BIGINT AS cells_without_warden"
        " FROM cells WHERE community_code IN (SELECT unnest(?::TEXT[])) GROUP BY community_code", [codes])
    cell_ids = cells_in_scope(store, [unit_code])
    frame = needs_report.load_frame(store, Scope.of_cells(cell_ids), None, until)
    as_of = needs_report.as_of_for(until)
    overdue = needs_report.figures_by(frame, as_of, "community_code")
    per = community[["street_name", "community_code", "community_name"]].assign(
        unvisited_vulnerable=community["vulnerable"] - community["vulnerable_visited"])
    per = per.merge(overdue[["community_code", "overdue_open"]].rename(columns={"overdue_open": "overdue_needs"})
                    if len(overdue) else pd.DataFrame(columns=["community_code", "overdue_needs"]),
                    on="community_code", how="left")
    per = per.merge(cells, on="community_code", how="left")
    for c in ("overdue_needs", "cells", "cells_without_warden"):
        per[c] = per[c].fillna(0).astype("int64")
    # The station type with the most stations (the unit's main 服务载体; the first such in the model's order).
    main = service.assign(vulnerable_uncovered=service["vulnerable"] - service["vulnerable_covered"],
                          _order=range(len(service))) \
        .sort_values(["stations", "_order"], ascending=[False, True]) if len(service) else service
    problems: dict[str, Any] = {
        "omissions": headline.get("omissions"),
        "duplicates": headline.get("duplicates"),
        "unvisited_vulnerable": int(per["unvisited_vulnerable"].sum()),
        "uncovered_vulnerable": int(main["vulnerable_uncovered"].iloc[0]) if len(main) else None,
        "uncovered_station": str(main["station_label"].iloc[0]) if len(main) else None,
        "uncovered_radius_m": float(main["radius_m"].iloc[0]) if len(main) else None,
        "overdue_needs": int(needs_report.headline(frame, as_of)["overdue_open"]),
        "cells": int(per["cells"].sum()),
        "cells_without_warden": int(per["cells_without_warden"].sum()),
    }
    return problems, per.drop(columns="community_code")


def _rate(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


def _add_rates(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["total_yuan"] = (out["cash_yuan"] + out["goods_yuan"]).round(2)
    out["coverage"] = [_rate(a, b) for a, b in zip(out["vulnerable_visited"], out["vulnerable"], strict=True)]
    out["resolution_rate"] = [_rate(a, b) for a, b in zip(out["needs_resolved"], out["needs_raised"],
                                                          strict=True)]
    for c in ("coverage", "resolution_rate"):
        out[c] = out[c].astype(object)
    return out


def bulletin_data(
    store: Store,
    unit_code: str,
    since: date,
    until: date,
    campaign_id: str | None = None,
    *,
    scope: Scope,
    reporting_unit: str | None = None,
    report_date: date | None = None,
    top_gaps: int = 10,
    distance: str | None = None,
) -> Bulletin:
    """Gather the figures of the bulletin of a unit over a period.

    Parameters
    ----------
    store : Store
        An open WarmGrid database.
    unit_code : str
        A 12-digit admin unit code (district, street or community).
    scope : Scope
        The caller's: every cell of the unit must lie in it
        (:class:`~grid.errors.AccessDenied` otherwise).
    since, until : date
        The period, both days included.
    campaign_id : str, optional
        Add this campaign's audit (targets, omissions, duplicates) within the unit.
    reporting_unit : str, optional
        填报单位; the unit's name by default.
    report_date : date, optional
        填报日期; today by default.
    top_gaps : int
        How many communities :attr:`Bulletin.gaps` lists (those with no
        unvisited vulnerable household are left out).
    distance : str, optional
        ``walk`` or ``straight`` for :attr:`Bulletin.service`; by default walking
        where the district has a street network.

    Returns
    -------
    Bulletin
        See the module's definitions.

    Raises
    ------
    WarmGridError
        For an unknown unit, ``since`` after ``until``, or (with a campaign) an
        unknown campaign or a unit outside the campaign's unit.
    """
    unit_code = str(unit_code).strip()
    if isinstance(since, datetime) or isinstance(until, datetime):
        since, until = pd.Timestamp(since).date(), pd.Timestamp(until).date()
    if since > until:
        raise WarmGridError(f"起始日期 {since} 晚于截止日期 {until}", f"the period starts ({since}) after it ends ({until})")
    unit = store.query("SELECT code, name, level FROM admin_units WHERE code = ?", [unit_code]) \
        if _ADMIN_RE.fullmatch(unit_code) else pd.DataFrame()
    if unit.empty:
        raise WarmGridError(f"{unit_code} 不是已知的行政区划代码（12位）",
                            f"{unit_code} is not a known admin unit code (12 digits)")
    unit_name, unit_level = str(unit["name"].iloc[0]), str(unit["level"].iloc[0])
    if not scope.covers(Scope.of_cells(cells_in_scope(store, [unit_code]))):
        raise AccessDenied("view_counts", unit_code, f"单位 {unit_name}（{unit_code}）不在您的范围内。",
                           f"the unit {unit_name} ({unit_code}) is outside your scope.")
    start = datetime.combine(since, datetime.min.time())
    end = datetime.combine(until + timedelta(days=1), datetime.min.time())
    params = {"unit": unit_code, "start": start, "end": end}

    community = _unit_figures(store, unit_code, since, until)
    sums = {c: "sum" for c in (*_COUNTS, "cash_yuan", "goods_yuan")}
    street = community.groupby(["street_code", "street_name"], sort=True, dropna=False).agg(sums).reset_index()
    street = _add_rates(street)
    for frame in (community, street):
        for c in _COUNTS:
            frame[c] = frame[c].astype("int64")
        for c in _MONEY:
            frame[c] = frame[c].astype(float).round(2)
    community = community[["street_code", "street_name", "community_code", "community_name", *_TABLE_COLUMNS]]
    street = street[["street_code", "street_name", *_TABLE_COLUMNS]]

    headline = _sum_headline(community)

    programmes = store.query(_PROGRAMME_SQL, params)

    gaps = community.assign(unvisited_vulnerable=community["vulnerable"] - community["vulnerable_visited"])
    gaps = gaps[gaps["unvisited_vulnerable"] > 0].assign(_cov=gaps["coverage"].astype(float))
    gaps = gaps.sort_values(["unvisited_vulnerable", "_cov", "community_code"], ascending=[False, True, True],
                            kind="stable").head(max(int(top_gaps), 0))
    gaps = gaps[["community_code", "community_name", "street_name", "vulnerable", "vulnerable_visited",
                 "unvisited_vulnerable", "coverage"]].reset_index(drop=True)

    campaign: dict[str, Any] | None = None
    omissions = pd.DataFrame(columns=["hh_id", "reason", "zh", "community_code", "community_name"])
    duplicates = pd.DataFrame(columns=["hh_id", "programme", "reason", "zh", "value_yuan", "excess_yuan",
                                       "community_code", "community_name"])
    if campaign_id is not None:
        data = campaign_frames(store, campaign_id, area=unit_code, scope=scope)
        audit = audit_campaign(data.targets, data.visits, data.assistance)
        campaign = data.campaign
        names = dict(zip(community["community_code"], community["community_name"], strict=True))
        omissions = audit.omissions.assign(community_name=audit.omissions["community_code"].map(names))
        omissions = omissions[list(omissions.columns.intersection(
            ["hh_id", "reason", "zh", "community_code", "community_name"], sort=False))]
        duplicates = audit.duplicates.assign(community_name=audit.duplicates["community_code"].map(names))
        t = audit.totals
        headline.update({
            "targets": int(t["targets"]), "targets_visited": int(t["visited"]),
            "targets_helped": int(t["helped"]),
            "target_coverage": _rate(t["visited"], t["targets"]),
            "omissions": len(audit.omissions), "duplicates": len(audit.duplicates),
        })
    mode, service = _service_coverage(store, set(community["community_code"]), distance)
    comparisons = _comparisons(store, unit_code, since, until, campaign, scope)
    ranking_level, ranking = _ranking(community, street, unit_level)
    problems, problems_by_community = _problems(store, unit_code, until, community, service, headline)
    what = f"“{campaign['name']}”" if campaign is not None else period_words(since, until)
    shapes = _community_shapes(store, list(community["community_code"]))
    return Bulletin(
        unit_code=unit_code, unit_name=unit_name, unit_level=unit_level, since=since, until=until,
        title=f"{unit_name}关于{what}走访慰问工作的情况通报",
        reporting_unit=reporting_unit or unit_name, report_date=report_date or date.today(),
        headline=headline, programmes=programmes, by_street=street.reset_index(drop=True),
        by_community=community.reset_index(drop=True), gaps=gaps, campaign=campaign,
        omissions=omissions.reset_index(drop=True), duplicates=duplicates.reset_index(drop=True),
        distance=mode, service=service, comparisons=comparisons, ranking_level=ranking_level, ranking=ranking,
        problems=problems, problems_by_community=problems_by_community.reset_index(drop=True), shapes=shapes,
    )


def _community_shapes(store: Store, codes: list[str]) -> Any:
    """The communities' polygons: their own where stored, else the union of their cells."""
    import geopandas as gpd
    import shapely

    df = store.query(
        "SELECT a.code AS community_code, a.parent_code AS street_code,"
        " ST_AsWKB(coalesce(a.geom, (SELECT ST_Union_Agg(c.geom) FROM cells c WHERE c.community_code = a.code)))"
        " AS wkb FROM admin_units a WHERE a.code IN (SELECT unnest(?::TEXT[])) ORDER BY a.code", [codes])
    df = df[df["wkb"].notna()]
    geoms = [shapely.from_wkb(bytes(w)) for w in df["wkb"]]
    return gpd.GeoDataFrame(df.drop(columns="wkb"), geometry=geoms, crs="EPSG:4326")


def _service_coverage(store: Store, communities: set[str], distance: str | None) -> tuple[str, pd.DataFrame]:
    """Coverage of the unit's active households by each station type (every station counts)."""
    from grid import model
    from grid.coverage import compare_coverage, load_households, load_stations, station_gaps
    from grid.network import attach, check_distance, default_distance, load_network

    mode = check_distance(distance) if distance is not None else default_distance(store)
    hh = load_households(store)
    hh = hh[hh["community_code"].isin(communities)].reset_index(drop=True)
    st = load_stations(store)
    net = load_network(store) if default_distance(store) == "walk" else None
    if mode == "walk" and net is None:
        raise WarmGridError("没有可步行的道路网，无法按步行距离统计覆盖", "there is no street network to count coverage "
                            "by walking")
    if net is not None and len(hh):
        hh, st = attach(net, hh), attach(net, st)
    rows = []
    for t in model.STATION_TYPES:
        if not (st["type"] == t).any():
            continue
        row: dict[str, Any] = {"type": t, "station_label": model.STATION_TYPES[t].zh,
                               "stations": int((st["type"] == t).sum()),
                               "radius_m": float(st.loc[st["type"] == t, "radius_m"].max()),
                               "households": int(len(hh)),
                               "vulnerable": int(hh["vulnerable"].sum()) if len(hh) else 0}
        if net is not None and len(hh):
            c = compare_coverage(hh, st, t, net)
            gaps = c.walk_gaps if mode == "walk" else c.straight_gaps
            row.update({k: c.as_dict()[k] for k in ("covered_straight", "covered_walk", "overstated",
                                                    "overstated_vulnerable", "off_network")})
        else:
            gaps = station_gaps(hh, st, t)
        row["covered"] = int(len(hh) - len(gaps))
        row["service_coverage"] = _rate(row["covered"], len(hh))
        row["vulnerable_covered"] = int(hh["vulnerable"].sum() - gaps["vulnerable"].sum()) if len(hh) else 0
        rows.append(row)
    cols = ["type", "station_label", "stations", "radius_m", "households", "covered", "service_coverage",
            "vulnerable", "vulnerable_covered"] + (["covered_straight", "covered_walk", "overstated", "overstated_vulnerable",
                                      "off_network"] if net is not None else [])
    return mode, pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- xlsx
def bulletin_xlsx(b: Bulletin, path: str | Path) -> Path:
    """Write the bulletin as an Excel workbook set up for A4 printing (:mod:`grid.bulletin_xlsx`)."""
    from grid.bulletin_xlsx import write_xlsx

    return write_xlsx(b, path)


# --------------------------------------------------------------------------- pdf
def bulletin_pdf(b: Bulletin, path: str | Path, font_path: str | Path | None = None) -> list[str]:
    """Write the bulletin as an A4 PDF laid out after GB/T 9704-2012 (:mod:`grid.bulletin_pdf`),
    with the map and chart and its fonts embedded as subsets.

    Parameters
    ----------
    b : Bulletin
    path : str or Path
        The ``.pdf`` file; written to a temporary name and renamed.
    font_path : str or Path, optional
        A TrueType/OpenType font or collection with Chinese glyphs, used for every face; by default
        Noto Serif CJK (body, title), Noto Sans CJK Bold (headings) and
        :func:`grid.pdfdoc.find_cjk_font` for the glyphs they lack. Noto CJK SC covers the CJK
        extension B characters used in names, such as 𠮷 (U+20BB7).

    Returns
    -------
    list of str
        The characters of the bulletin the font has no glyph for (printed as blanks); empty when
        everything shows.

    Raises
    ------
    WarmGridError
        If no CJK font is found (see :func:`grid.pdfdoc.find_cjk_font`) or ``font_path``
        has no Chinese glyphs.
    """
    from grid.bulletin_pdf import write_pdf

    missing, _ = write_pdf(bulletin_document(b), path, font_path)
    return missing


def bulletin_document(b: Bulletin) -> Any:
    """The :class:`grid.bulletin_text.Document` of a bulletin, with its map and chart."""
    from grid.bulletin_figures import bulletin_figures
    from grid.bulletin_text import compose

    return compose(b, bulletin_figures(b))


def bulletin_docx(b: Bulletin, path: str | Path) -> Path:
    """Write the bulletin as a Word document (:mod:`grid.bulletin_docx`) an office edits before issuing it."""
    from grid.bulletin_docx import write_docx

    return write_docx(bulletin_document(b), path)


#: The bulletin's file formats: suffix -> (Chinese name, MIME type).
BULLETIN_FORMATS: dict[str, tuple[str, str]] = {
    ".docx": ("Word 文档", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ".pdf": ("PDF", "application/pdf"),
    ".xlsx": ("Excel 表格", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def bulletin_file(store: Store, actor: Actor, unit_code: str, since: date, until: date, path: str | Path,
                  campaign_id: str | None = None, *, distance: str | None = None) -> list[str]:
    """Write the bulletin of a unit to ``path`` (``.docx``, ``.pdf`` or ``.xlsx``, by its suffix) for
    ``actor``, with its audit row.

    The actor must be allowed to download the ``bulletin``, and the unit must
    lie in its scope. ``distance`` (``walk`` or ``straight``; by default walking
    where the district has a street network) is how its service coverage counts
    (:func:`bulletin_data`). Returns the characters the PDF's font lacks (none
    for a workbook or a Word document, whose reader draws them with its own fonts).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in BULLETIN_FORMATS:
        raise WarmGridError(f"通报只能导出为 .docx、.pdf 或 .xlsx：{path}",
                            f"the bulletin is written as .docx, .pdf or .xlsx: {path}")
    ensure(actor, "download", "bulletin", log=store)
    b = bulletin_data(store, unit_code, since, until, campaign_id, scope=actor.scope, distance=distance)
    missing: list[str] = []
    if suffix == ".xlsx":
        bulletin_xlsx(b, path)
    elif suffix == ".docx":
        bulletin_docx(b, path)
    else:
        missing = bulletin_pdf(b, path)
    audit.record(store, actor, "export", object=f"bulletin:{unit_code}:{since}:{until}:{b.distance}{suffix}",
                 scope=[unit_code])
    return missing


def bulletin_bytes(store: Store, actor: Actor, unit_code: str, since: date, until: date, suffix: str,
                   campaign_id: str | None = None, *, distance: str | None = None) -> bytes:
    """:func:`bulletin_file` into memory, for a page's download button: the file's bytes (audited
    the same way, when the button is pressed)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"bulletin{suffix}"
        bulletin_file(store, actor, unit_code, since, until, out, campaign_id, distance=distance)
        return out.read_bytes()


def bulletin_units(store: Store, scope: Scope) -> pd.DataFrame:
    """The units a bulletin may be written for within ``scope``: ``code, name, level, parent_code``
    of the district, streets and communities whose every cell lies in it (district first)."""
    units = store.query("SELECT code, name, level, parent_code FROM admin_units"
                        " WHERE level IN ('district', 'street', 'community') ORDER BY code")
    keep = []
    for code in units["code"]:
        cells = cells_in_scope(store, [code])
        keep.append(bool(cells) and scope.covers(Scope.of_cells(cells)))
    out = units[keep].assign(_o=lambda f: f["level"].map({"district": 0, "street": 1, "community": 2}))
    return out.sort_values(["_o", "code"]).drop(columns="_o").reset_index(drop=True)
