"""The words of the bulletin (情况通报): figures as printed, the prose drafted from them, and the
document every writer lays out.

:func:`compose` turns a :class:`~grid.reports.Bulletin` into a :class:`Document`: the title, the
issuing organ (发文机关) and date, the body in five sections — 一、总体情况, 二、同比环比比较,
三、排名情况, 四、存在问题, 五、下步工作 — with a map and a chart, the list of annexes (附件说明),
the signature, and the annexes' tables. The Word, PDF and Excel writers
(:mod:`grid.bulletin_docx`, :mod:`grid.bulletin_pdf`, :mod:`grid.reports`) lay out the same
document, so the three files say the same thing. The prose is a draft: an office edits the .docx
before issuing it.

How figures are printed
-----------------------
Counts with thousands separators (``50,000``); money in whole yuan with separators
(``557,970元``; a table's header carries 元), in the prose with 万元 in brackets from 10,000 yuan
(``557,970元（55.80万元）``); rates as percentages with one decimal (``85.3%``); changes of a rate
in percentage points (``提高3.2个百分点``); a missing figure as ``—``. Codes never reach the page:
reasons and station types are printed by their Chinese names.

Examples
--------
>>> count(50000), money(557970.0), money(1234.5), rate(0.853), rate(None)
('50,000', '557,970', '1,235', '85.3%', '—')
>>> money_words(557970.0), money_words(880.0)
('557,970元（55.80万元）', '880元')
>>> change_words(120, 100, "户"), change_words(0.5, 0.62, None, rate=True)
('增加20户（增长20.0%）', '下降12.0个百分点')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from grid.reports import Bulletin

__all__ = ["RATE_KEYS", "count", "money", "money_words", "rate", "change_words", "cell_text", "date_words",
           "tokens", "break_lines", "balanced_lines", "Paragraph", "Figure", "Table", "Annex", "Document", "SECTION_TITLES", "compose"]

#: Keys printed as percentages.
RATE_KEYS = frozenset({"coverage", "resolution_rate", "target_coverage", "service_coverage"})

#: The five body sections, in order.
SECTION_TITLES: tuple[str, ...] = ("一、总体情况", "二、同比环比比较", "三、排名情况", "四、存在问题", "五、下步工作")


# --------------------------------------------------------------------------- figures as printed
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def _whole(x: Any) -> int:
    """Rounded half away from zero (``round`` rounds 1,234.5 to the even 1,234)."""
    return int(Decimal(str(float(x))).quantize(Decimal(1), ROUND_HALF_UP))


def count(n: Any) -> str:
    """A count with thousands separators; ``—`` for none."""
    return "—" if _missing(n) else f"{_whole(n):,}"


def money(yuan: Any) -> str:
    """Yuan rounded to the yuan, with thousands separators (the unit is in the header); ``—`` for none."""
    return "—" if _missing(yuan) else f"{_whole(yuan):,}"


def money_words(yuan: Any) -> str:
    """Money in a sentence: ``557,970元（55.80万元）``, ``880元``."""
    if _missing(yuan):
        return "—"
    v = float(yuan)
    text = f"{money(v)}元"
    return f"{text}（{v / 10_000:.2f}万元）" if abs(v) >= 10_000 else text


def rate(r: Any) -> str:
    """A share as a percentage with one decimal; ``—`` for none."""
    return "—" if _missing(r) else f"{float(r) * 100:.1f}%"


def change_words(now: Any, before: Any, unit: str | None, *, rate: bool = False) -> str:
    """How ``now`` compares with ``before``: ``增加20户（增长20.0%）``, ``持平``, ``提高3.2个百分点``."""
    if _missing(now) or _missing(before):
        return "无可比数据"
    diff = float(now) - float(before)
    if rate:
        pts = diff * 100
        if abs(pts) < 0.05:
            return "持平"
        return f"{'提高' if pts > 0 else '下降'}{abs(pts):.1f}个百分点"
    if abs(diff) < 0.5:
        return "持平"
    word = "增加" if diff > 0 else "减少"
    amount = f"{count(abs(diff))}{unit or ''}"
    if float(before) > 0:
        return f"{word}{amount}（{'增长' if diff > 0 else '下降'}{abs(diff) / float(before) * 100:.1f}%）"
    return f"{word}{amount}"


def cell_text(key: str, value: Any) -> str:
    """A figure in a table cell: rates as percentages, money and counts with separators, ``—`` for none."""
    if _missing(value):
        return "—"
    if isinstance(value, (list, tuple)):
        return "、".join(map(str, value))
    if key in RATE_KEYS:
        return rate(value)
    if key.endswith("_yuan"):
        return money(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)) and not isinstance(value, bool) or hasattr(value, "dtype"):
        try:
            f = float(value)
        except (TypeError, ValueError):
            return str(value)
        return f"{f:,.0f}" if f.is_integer() or key.endswith("_m") else f"{f:,.2f}"
    return str(value)


def date_words(d: date) -> str:
    """``2026年3月5日``."""
    return f"{d.year}年{d.month}月{d.day}日"


def period_words(since: date, until: date) -> str:
    """The period in Chinese, e.g. ``2025年12月1日至2026年1月31日``."""
    return date_words(since) if since == until else f"{date_words(since)}至{date_words(until)}"


# --------------------------------------------------------------------------- line breaking
_RUN = re.compile(r"[0-9A-Za-z][0-9A-Za-z.,:/+\-_%‰]*")
_NO_START = set("，。、；：？！）》〉】」』”’%％,.;:?!)]·—")
_NO_END = set("（《〈【「『“‘([")


def tokens(text: str) -> list[str]:
    """Unbreakable pieces: runs of digits/Latin, single characters; closing marks glued to what
    precedes them, opening marks to what follows."""
    raw: list[str] = []
    i = 0
    while i < len(text):
        m = _RUN.match(text, i)
        if m:
            raw.append(m.group())
            i = m.end()
        else:
            raw.append(text[i])
            i += 1
    out: list[str] = []
    carry = ""
    for t in raw:
        if t[0] in _NO_START and out and not carry:
            out[-1] += t
        elif t in _NO_END:
            carry += t
        else:
            out.append(carry + t)
            carry = ""
    if carry:
        out.append(carry)
    return out


def break_lines(text: str, width: float, measure: Any) -> list[str]:
    """``text`` broken into lines no wider than ``width`` (by ``measure(str) -> float``), never
    inside a number or word (unless one alone is wider than a line).

    >>> break_lines("合计557,970元，办结率85.3%。", 9, len)
    ['合计557,970', '元，办结率', '85.3%。']
    """
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for tok in tokens(para):
            if measure(line + tok) <= width or not line:
                if not line and measure(tok) > width:  # one piece wider than the line: break it
                    for ch in tok:
                        if line and measure(line + ch) > width:
                            lines.append(line)
                            line = ""
                        line += ch
                    continue
                line += tok
            else:
                lines.append(line)
                line = tok.lstrip()
        lines.append(line)
    return lines


def balanced_lines(parts: list[str], width: float, measure: Any) -> list[str]:
    """A title's ``parts`` joined into as few lines as fit ``width``, as even as possible, broken only
    between parts (a part alone wider than a line is broken by :func:`break_lines`).

    >>> balanced_lines(["思明区", "关于", "2026年度", "走访慰问工作的", "情况通报"], 12, len)
    ['思明区关于2026年度', '走访慰问工作的情况通报']
    """
    pieces: list[str] = []
    for p in parts:
        pieces += break_lines(p, width, measure) if measure(p) > width else [p]
    n = len(pieces)

    def splits(start: int, left: int) -> Any:
        if left == 1:
            yield ["".join(pieces[start:])]
            return
        for cut in range(start + 1, n - left + 2):
            for rest in splits(cut, left - 1):
                yield ["".join(pieces[start:cut]), *rest]

    for k in range(1, min(n, 6) + 1):
        best: tuple[float, list[str]] | None = None
        for lines in splits(0, k):
            widths = [measure(x) for x in lines]
            if max(widths) <= width and (best is None or max(widths) - min(widths) < best[0]):
                best = (max(widths) - min(widths), lines)
        if best is not None:
            return best[1]
    return pieces


# --------------------------------------------------------------------------- the document
@dataclass
class Paragraph:
    """A body paragraph (first line indented two characters), or a heading when ``level`` is 1 or 2."""

    text: str
    level: int = 0


@dataclass
class Figure:
    """A picture (PNG bytes) with its caption below it; ``height_ratio`` is height / width."""

    caption: str
    png: bytes
    height_ratio: float


@dataclass
class Table:
    """A table: ``frame`` holds the raw values, ``labels`` the printed header of each column (same
    order), ``keys`` each column's key (how :func:`cell_text` prints it); ``note`` is printed below."""

    caption: str
    frame: pd.DataFrame
    keys: list[str]
    labels: list[str]
    note: str | None = None

    def text_rows(self) -> list[list[str]]:
        """Every row as printed."""
        return [[cell_text(k, v) for k, v in zip(self.keys, rec, strict=True)]
                for rec in self.frame.itertuples(index=False)]

    def numeric(self) -> list[bool]:
        """Which columns hold figures (right-aligned, never wrapped)."""
        return [k in RATE_KEYS or k.endswith(("_yuan", "_m")) or k in _COUNT_KEYS for k in self.keys]


@dataclass
class Annex:
    """An annex (附件 n): a title and its tables; ``landscape`` for a wide one."""

    title: str
    tables: list[Table]
    landscape: bool = False
    #: The title in the pieces it may be broken between.
    title_parts: list[str] = field(default_factory=list)


@dataclass
class Document:
    """The bulletin as laid out: see the module's docstring."""

    title: str
    organ: str
    date: str
    scope_line: str
    body: list[Paragraph | Figure | Table]
    annexes: list[Annex] = field(default_factory=list)
    #: The title in the pieces it may be broken between (a name is never broken inside).
    title_parts: list[str] = field(default_factory=list)


#: Header labels of annex columns: key -> Chinese header.
LABELS: dict[str, str] = {
    "rank": "名次", "name": "单位", "street_name": "街道", "community_name": "社区", "programme": "救助项目",
    "records": "笔数", "hh_id": "住户编号", "zh": "问题说明", "households": "在册住户（户）",
    "vulnerable": "困难住户（户）", "visits": "走访（次）", "households_visited": "走访住户（户）",
    "people_visited": "走访人数（人）", "vulnerable_visited": "走访困难户（户）", "coverage": "困难户走访覆盖率",
    "households_helped": "受助住户（户）", "cash_yuan": "慰问金（元）", "goods_yuan": "物资折款（元）",
    "total_yuan": "救助合计（元）", "needs_raised": "收集诉求（件）", "needs_resolved": "办结诉求（件）",
    "resolution_rate": "诉求办结率", "unvisited_vulnerable": "未走访困难户（户）", "value_yuan": "救助金额（元）",
    "excess_yuan": "重复金额（元）", "station_label": "站点类型", "stations": "站点数（个）",
    "radius_m": "服务半径（米）", "covered": "覆盖住户（户）", "service_coverage": "住户覆盖率",
    "vulnerable_covered": "覆盖困难户（户）", "covered_straight": "按直线覆盖（户）", "covered_walk": "按步行覆盖（户）",
    "overstated": "直线高估（户）", "per_vulnerable_yuan": "困难户户均救助（元）", "overdue_needs": "超期未办结诉求（件）",
    "cells": "网格（个）", "cells_without_warden": "无网格员网格（个）",
}
_COUNT_KEYS = frozenset({"rank", "records", "households", "vulnerable", "visits", "households_visited",
                         "people_visited", "vulnerable_visited", "households_helped", "needs_raised", "needs_resolved",
                         "unvisited_vulnerable", "stations", "covered", "vulnerable_covered", "covered_straight",
                         "covered_walk", "overstated", "overdue_needs", "cells", "cells_without_warden"})


def _table(caption: str, frame: pd.DataFrame, keys: list[str], note: str | None = None) -> Table:
    keys = [k for k in keys if k in frame.columns]
    return Table(caption, frame[keys].reset_index(drop=True), keys, [LABELS.get(k, k) for k in keys], note)


# --------------------------------------------------------------------------- prose
def _level_words(b: Bulletin) -> str:
    return {"street": "街道", "community": "社区"}.get(b.ranking_level or "", "单位")


def overview(b: Bulletin) -> list[str]:
    """一、总体情况: the headline paragraphs."""
    h = b.headline
    out = [
        f"{period_words(b.since, b.until)}，{b.unit_name}在册住户{count(h['households'])}户，其中困难住户"
        f"{count(h['vulnerable'])}户。期间共走访住户{count(h['households_visited'])}户"
        f"{count(h['people_visited'])}人，走访{count(h['visits'])}次；走访困难住户{count(h['vulnerable_visited'])}户，"
        f"困难住户走访覆盖率{rate(h['coverage'])}。救助住户{count(h['households_helped'])}户，发放慰问金"
        f"{money_words(h['cash_yuan'])}、物资折款{money_words(h['goods_yuan'])}，合计{money_words(h['total_yuan'])}。"
        f"收集群众诉求{count(h['needs_raised'])}件，已解决或答复{count(h['needs_resolved'])}件，"
        f"办结率{rate(h['resolution_rate'])}。"
    ]
    if b.campaign is not None:
        out.append(
            f"“{b.campaign['name']}”活动对象（{'、'.join(_category_names(b.campaign))}）共{count(h['targets'])}户，"
            f"已走访{count(h['targets_visited'])}户，走访覆盖率{rate(h['target_coverage'])}；已救助"
            f"{count(h['targets_helped'])}户。核查发现遗漏{count(h['omissions'])}条、重复救助{count(h['duplicates'])}条"
            f"（按活动起止日期核查，见附件）。")
    if len(b.service):
        how = "按步行距离" if b.distance == "walk" else "按直线半径"
        parts = [f"{r.station_label}（{r.radius_m:,.0f}米内）{rate(r.service_coverage)}"
                 for r in b.service.itertuples(index=False)]
        out.append(f"服务站点覆盖情况（{how}计，住户覆盖率）：{'，'.join(parts)}。")
    if len(b.programmes):
        top = b.programmes.iloc[0]
        out.append(f"分项目看，救助金额最多的是“{top['programme']}”，{count(top['households_helped'])}户、"
                   f"{money_words(top['total_yuan'])}，各项目明细见附件1。")
    return out


def _category_names(campaign: dict[str, Any]) -> list[str]:
    from grid import model

    cats = campaign.get("target_categories") or []
    return [model.label(c) for c in cats] or ["无"]


def comparison(b: Bulletin) -> list[str]:
    """二、同比环比比较: one paragraph per comparison, saying plainly where there is no data."""
    h = b.headline
    out = []
    for c in b.comparisons:
        if c.kind == "campaign":
            if c.figures is None:
                out.append("上一期走访活动：本单位此前没有可比的走访活动记录，不作比较。")
                continue
            f = c.figures
            out.append(
                f"与上一期活动“{c.campaign_name}”（{period_words(c.since, c.until)}）相比，活动对象"
                f"{change_words(h['targets'], f['targets'], '户')}；活动对象走访覆盖率{rate(h['target_coverage'])}，"
                f"{change_words(h['target_coverage'], f['target_coverage'], None, rate=True)}；遗漏"
                f"{count(h['omissions'])}条（上一期{count(f['omissions'])}条），重复救助{count(h['duplicates'])}条"
                f"（上一期{count(f['duplicates'])}条）。")
            continue
        what = f"{c.label}（{period_words(c.since, c.until)}）"
        if c.figures is None:
            out.append(f"{what}：系统中没有本单位该时段的走访、救助和诉求记录，不作比较。")
            continue
        f = c.figures
        out.append(
            f"与{what}相比，走访住户{change_words(h['households_visited'], f['households_visited'], '户')}；"
            f"困难住户走访覆盖率{change_words(h['coverage'], f['coverage'], None, rate=True)}；救助住户"
            f"{change_words(h['households_helped'], f['households_helped'], '户')}，救助金额"
            f"{change_words(h['total_yuan'], f['total_yuan'], '元')}；收集诉求"
            f"{change_words(h['needs_raised'], f['needs_raised'], '件')}，办结率"
            f"{change_words(h['resolution_rate'], f['resolution_rate'], None, rate=True)}。")
    if b.comparisons and all(c.figures is None for c in b.comparisons):
        out.append("以上比较待积累历史数据后开展。")
    return out


def ranking(b: Bulletin) -> list[str]:
    """三、排名情况: the best and the weakest on coverage, resolution and aid per vulnerable household."""
    r = b.ranking
    level = _level_words(b)
    if b.ranking_level is None or len(r) < 2:
        return ["统计范围内只有一个社区，不作排名。"]
    out = []
    cov = r[r["vulnerable"] > 0]
    if len(cov) >= 2:
        best, worst = cov.iloc[0], cov.iloc[-1]
        out.append(f"按困难住户走访覆盖率排名（附件2），{len(cov)}个{level}中{best['name']}最高，为"
                   f"{rate(best['coverage'])}；{worst['name']}最低，为{rate(worst['coverage'])}，"
                   f"还有{count(worst['vulnerable'] - worst['vulnerable_visited'])}户困难住户期间未走访。")
    res = r[r["needs_raised"] > 0].assign(_r=lambda f: f["resolution_rate"].astype(float))
    res = res.sort_values(["_r", "needs_raised", "code"], ascending=[False, False, True], kind="stable")
    if len(res) >= 2:
        best, worst = res.iloc[0], res.iloc[-1]
        out.append(f"按诉求办结率，{best['name']}最高（{count(best['needs_resolved'])}/{count(best['needs_raised'])}件，"
                   f"{rate(best['resolution_rate'])}），{worst['name']}最低（{count(worst['needs_resolved'])}/"
                   f"{count(worst['needs_raised'])}件，{rate(worst['resolution_rate'])}）。")
    per = r[r["vulnerable"] > 0].assign(_p=lambda f: f["per_vulnerable_yuan"].astype(float))
    per = per.sort_values(["_p", "code"], ascending=[False, True], kind="stable")
    if len(per) >= 2:
        best, worst = per.iloc[0], per.iloc[-1]
        out.append(f"按困难住户户均救助金额，{best['name']}最高（{money(best['per_vulnerable_yuan'])}元），"
                   f"{worst['name']}最低（{money(worst['per_vulnerable_yuan'])}元）。")
    if not out:
        out.append(f"各{level}均无困难住户和诉求记录，不作排名。")
    return out


def problems(b: Bulletin) -> list[tuple[str, str]]:
    """四、存在问题: ``(key, sentence)`` for each gap found (count above zero), largest concern first."""
    p = b.problems
    by = b.problems_by_community
    out: list[tuple[str, str]] = []

    def worst(col: str) -> str:
        if by.empty or int(by[col].max()) <= 0:
            return ""
        row = by.sort_values([col, "community_name"], ascending=[False, True], kind="stable").iloc[0]
        return f"，其中{row['community_name']}最多（{count(row[col])}）"

    if p.get("omissions"):
        out.append(("omissions", f"活动对象有遗漏。“{b.campaign['name'] if b.campaign else ''}”核查出遗漏"
                                 f"{count(p['omissions'])}条（未走访或未救助，逐户名单见附件），需逐户核实补漏。"))
    if p.get("duplicates"):
        out.append(("duplicates", f"存在重复救助。同一住户同一用途被两次以上救助{count(p['duplicates'])}条，"
                                  "需核实是否多头发放。"))
    if p.get("unvisited_vulnerable"):
        out.append(("unvisited_vulnerable", f"困难住户走访不到位。期间仍有{count(p['unvisited_vulnerable'])}户困难住户"
                                            f"未走访{worst('unvisited_vulnerable')}。"))
    if p.get("uncovered_vulnerable"):
        how = "步行" if b.distance == "walk" else "直线"
        out.append(("uncovered_vulnerable", f"服务覆盖有盲区。{count(p['uncovered_vulnerable'])}户困难住户在"
                                            f"{p['uncovered_station']}服务半径（{how}{count(p['uncovered_radius_m'])}米）"
                                            "之外。"))
    if p.get("overdue_needs"):
        out.append(("overdue_needs", f"诉求办理不及时。截至{date_words(b.until)}，超期未办结诉求"
                                     f"{count(p['overdue_needs'])}件{worst('overdue_needs')}。"))
    if p.get("cells_without_warden"):
        out.append(("cells_without_warden", f"网格力量有空缺。{count(p['cells'])}个网格中有"
                                            f"{count(p['cells_without_warden'])}个未配备网格员"
                                            f"{worst('cells_without_warden')}。"))
    if b.campaign is None:
        out.append(("no_campaign", "本通报未选择走访活动，未开展遗漏、重复核查。"))
    return out


#: 下步工作 by the problem it answers.
_ACTIONS: dict[str, str] = {
    "omissions": "对遗漏的{n}条逐户建立台账，由社区网格员限期补访、补发，街道复核销号。",
    "duplicates": "对{n}条重复救助逐条核实发放单位和用途，确属重复的予以纠正，并在发放前开展跨部门比对。",
    "unvisited_vulnerable": "按“五必访”要求，对{n}户未走访困难住户制定走访计划，落实领导挂点、干部包户，做到全覆盖。",
    "uncovered_vulnerable": "对服务半径外的{n}户困难住户安排上门服务或流动服务，研究增设服务站点。",
    "overdue_needs": "对{n}件超期诉求逐件督办，明确责任单位和办结时限，办结后及时回访。",
    "cells_without_warden": "尽快为{n}个无网格员网格配齐网格员，暂由所在社区指定专人负责。",
    "no_campaign": "下一期走访活动结束后，按活动开展遗漏、重复核查并通报结果。",
}


def actions(b: Bulletin) -> list[str]:
    """五、下步工作: one suggested action per problem found, then the standing ones."""
    out = []
    for key, _ in problems(b):
        n = b.problems.get(key)
        out.append(_ACTIONS[key].format(n=count(n) if n is not None else ""))
    out.append("坚持动态管理，定期核对困难群众名单，做到应访尽访、应助尽助、不重不漏。")
    return out


# --------------------------------------------------------------------------- the annexes
def annexes(b: Bulletin) -> list[Annex]:
    """The annexes: aid by programme; the ranking; figures by community; the gaps; the campaign's lists."""
    out = [Annex("救助项目明细", [_table("按救助项目统计", b.programmes,
                                           ["programme", "records", "households_helped", "cash_yuan", "goods_yuan",
                                            "total_yuan"])])]
    if b.ranking_level is not None:
        level = _level_words(b)
        out.append(Annex(f"各{level}排名", [_table(
            f"各{level}按困难户走访覆盖率排名", b.ranking,
            ["rank", "name", "vulnerable", "vulnerable_visited", "coverage", "needs_raised", "needs_resolved",
             "resolution_rate", "total_yuan", "per_vulnerable_yuan"],
            note="覆盖率 = 期间走访过的困难住户 ÷ 现有困难住户；办结率 = 期间收集的诉求中已解决或答复的 ÷ 收集的诉求。")],
            landscape=True))
    out.append(Annex("各社区走访救助统计", [_table(
        "各社区走访救助统计", b.by_community,
        ["street_name", "community_name", "households", "vulnerable", "households_visited", "vulnerable_visited",
         "coverage", "households_helped", "total_yuan", "needs_raised", "needs_resolved", "resolution_rate"],
        note="各社区合计等于总体情况中的数字；住户按所在网格归属社区。")], landscape=True))
    gap_tables = [_table("各社区存在问题统计", b.problems_by_community,
                         ["street_name", "community_name", "unvisited_vulnerable", "overdue_needs", "cells",
                          "cells_without_warden"])]
    if len(b.service):
        how = "按步行距离" if b.distance == "walk" else "按直线半径"
        gap_tables.append(_table(f"服务站点覆盖（{how}计）", b.service,
                                 ["station_label", "stations", "radius_m", "households", "covered", "service_coverage",
                                  "vulnerable", "vulnerable_covered"]))
    out.append(Annex("存在问题统计", gap_tables, landscape=len(gap_tables) > 1))
    if b.campaign is not None:
        name = f"“{b.campaign['name']}”"
        out.append(Annex(f"{name}遗漏和重复救助清单", [
            _table("遗漏清单", b.omissions, ["hh_id", "community_name", "zh"]),
            _table("重复救助清单", b.duplicates, ["hh_id", "community_name", "programme", "zh", "value_yuan",
                                                 "excess_yuan"]),
        ], title_parts=[name, "遗漏和", "重复救助清单"]))
    return out


def compose(b: Bulletin, figures: list[Figure] | None = None) -> Document:
    """The bulletin as a :class:`Document` (``figures`` go into 三、排名情况: the map, then the chart)."""
    body: list[Paragraph | Figure | Table] = []
    body.append(Paragraph(SECTION_TITLES[0], 1))
    body += [Paragraph(t) for t in overview(b)]
    body.append(Paragraph(SECTION_TITLES[1], 1))
    body += [Paragraph(t) for t in comparison(b)]
    body.append(Paragraph(SECTION_TITLES[2], 1))
    body += [Paragraph(t) for t in ranking(b)]
    body += list(figures or [])
    body.append(Paragraph(SECTION_TITLES[3], 1))
    body += [Paragraph(f"（{'一二三四五六七八九十'[i]}）{t}") for i, (_, t) in enumerate(problems(b))] \
        or [Paragraph("本期未发现突出问题。")]
    body.append(Paragraph(SECTION_TITLES[4], 1))
    body += [Paragraph(f"（{'一二三四五六七八九十'[i]}）{t}") for i, t in enumerate(actions(b))]
    if b.campaign is not None:
        name = str(b.campaign["name"])
        cut = name.find("·") + 1
        what = [f"“{name[:cut]}", f"{name[cut:]}”"] if 0 < cut < len(name) else [f"“{name}”"]
    else:
        words = period_words(b.since, b.until)
        cut = words.find("至") + 1
        what = [words[:cut], words[cut:]] if cut > 0 else [words]
    parts = [b.unit_name, "关于", *what, "走访慰问工作的", "情况通报"]
    if "".join(parts) != b.title:
        parts = [b.title]
    return Document(
        title_parts=parts,
        title=b.title, organ=b.reporting_unit, date=date_words(b.report_date),
        scope_line=f"统计期间：{period_words(b.since, b.until)}　统计范围：{b.unit_name}",
        body=body, annexes=annexes(b))
