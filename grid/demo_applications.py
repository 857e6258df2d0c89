"""The demo district's assistance programmes, budgets and applications (逐级申请报批), with a
few planted red flags (截留、挪用) for the diversion checks to find.

What is generated (deterministic: its own random stream from the demo's seed):

- Programmes: 情暖万家 (``qnwj``, 500 yuan, the winter campaign's target categories, needs an
  application from 2026-11-01: the winter of 2025 was recorded before the procedure), 大病救助
  (``dbjz``, at most 10,000 yuan, serious illness, for one-off medical costs above 20,000 yuan),
  临时救助 (``lsjz``, at most 3,000 yuan, every household), 春节慰问物资 (``cjwp``, goods, at
  most 200 yuan, no application) and 困难党员慰问 (``dyhy``, at most 500 yuan, party members in
  hardship, no application).
- Applications of the current campaign C2026W (which started on 2026-11-01; the demo's today
  is 2026-11-15) for about 45 % of its target households, at every step: given (about 35 %),
  approved, on notice (posted 2026-11-10 for 7 days, so still on notice today), reviewed by
  the street, checked by the community, just applied, and rejected at the check or at the
  review (with reasons); one objection, open, on an application on notice. A handful of 大病救助
  and 临时救助 applications outside any campaign. Every step is an ``application_events`` row;
  every given application has its assistance record (``app_id`` set, with receiver and receipt).
  The demo's history has no audit rows: the audit log records what users do in the product.
- Budgets: 情暖万家 C2026W per street (500 yuan for every target household of the street) and
  for the district (their sum); 大病救助 and 临时救助 for the district, outside campaigns.
- Planted red flags, one of each kind (:data:`grid.budgets.REASONS`), in
  :attr:`DemoApplications.planted`: a household registered as moved away on 2026-10-20 that
  was given 临时救助 on 2026-11-03 (``not_active``); 情暖万家 given to a target household by the
  civil affairs bureau without an application (``no_application``); 800 yuan of festival goods
  against a standard of 200 (``above_standard``); two households' 情暖万家 signed for with the
  same bank account (``shared_receiver``); and a community whose own 情暖万家 budget is 400 yuan
  short of what it gave, so its last gift is beyond it (``budget_overrun``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from grid.applications import default_contact

__all__ = ["PROGRAMMES", "DemoApplications", "generate_applications"]

_QNWJ = "qnwj"
#: The demo's programmes (the columns of ``programmes``).
PROGRAMMES: list[dict[str, Any]] = [
    dict(code="qnwj", name="情暖万家", kind="cash", standard_yuan=500.0, needs_approval=True,
         approval_from=date(2026, 11, 1), notice_days=7,
         description="春节前对困难家庭每户发放慰问金 500 元（区慈善总会、镇街慈善分会筹资）"),
    dict(code="dbjz", name="大病救助", kind="cash", standard_yuan=10_000.0, needs_approval=True, approval_from=None,
         notice_days=7, description="肿瘤、尿毒症、白血病等重大疾病及意外造成一次性医疗费用 2 万元以上的困难家庭",
         target_categories=["serious_illness"]),
    dict(code="lsjz", name="临时救助", kind="cash", standard_yuan=3_000.0, needs_approval=True, approval_from=None,
         notice_days=7, description="因意外事件、突发重大疾病等导致基本生活暂时困难的家庭"),
    dict(code="cjwp", name="春节慰问物资", kind="goods", standard_yuan=200.0, needs_approval=False,
         approval_from=None, notice_days=7, description="大米、食用油等节日慰问物资，随走访发放，无须申请"),
    dict(code="dyhy", name="困难党员慰问", kind="cash", standard_yuan=500.0, needs_approval=False,
         approval_from=None, notice_days=7, description="区委组织部对困难党员的节日慰问", target_categories=["party_hardship"]),
]

_REASONS = ["春节前家庭生活困难，申请“情暖万家”慰问金", "老人独居、收入低，申请节日慰问", "低保家庭，冬季开支大，申请慰问",
            "家中有重病患者，生活拮据", "特困供养对象，申请春节慰问"]
_REJECT_CHECK = "经入户核实，家庭收入已超过本项目救助标准"
_REJECT_REVIEW = "经街道核查，该户本年度已通过其他渠道获得同类救助"
_OBJECTION = "反映该户子女在外地有稳定收入，家庭经济条件较好，请核实"
# Days before the demo's today (D) of each step, per final state (None: the step is not taken).
# Keys: apply, check, review, notice (its first day), approve, give; "reject" marks where it was refused.
_TIMELINE: dict[str, dict[str, int | None]] = {
    "given": dict(apply=14, check=12, review=11, notice=10, approve=3, give=2),
    "approved": dict(apply=14, check=12, review=11, notice=10, approve=2, give=None),
    "on_notice": dict(apply=11, check=8, review=7, notice=5, approve=None, give=None),
    "street_reviewed": dict(apply=9, check=5, review=3, notice=None, approve=None, give=None),
    "community_checked": dict(apply=6, check=2, review=None, notice=None, approve=None, give=None),
    "applied": dict(apply=1, check=None, review=None, notice=None, approve=None, give=None),
    "rejected_check": dict(apply=10, check=8),
    "rejected_review": dict(apply=12, check=10, review=9),
}
_SHARES = [("given", 0.35), ("approved", 0.10), ("on_notice", 0.20), ("street_reviewed", 0.10),
           ("community_checked", 0.10), ("applied", 0.09), ("rejected_check", 0.03), ("rejected_review", 0.03)]


@dataclass
class DemoApplications:
    """The frames written to the tables of the same names, and what was planted."""

    programmes: pd.DataFrame
    budgets: pd.DataFrame
    applications: pd.DataFrame
    events: pd.DataFrame
    objections: pd.DataFrame
    assistance: pd.DataFrame
    history: pd.DataFrame
    moved: list[str] = field(default_factory=list)
    #: reason code (:data:`grid.budgets.REASONS`) -> the households planted with it.
    planted: dict[str, list[str]] = field(default_factory=dict)


def _at(rng: np.random.Generator, day: date) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(minutes=int(rng.integers(8 * 60 + 30, 17 * 60)))


def generate_applications(rng: np.random.Generator, *, households: pd.DataFrame, communities: pd.DataFrame,
                          district_code: str, wardens: dict[str, str], targets: list[str], aid_count: int,
                          as_of: date, committee_street: str | None) -> DemoApplications:
    """Generate the demo's programmes, budgets, applications and planted red flags.

    Parameters
    ----------
    rng : Generator
        The stream to draw from (the demo gives this its own).
    households : DataFrame
        ``hh_id, community_code, categories, head_name, phone`` (all active).
    communities : DataFrame
        ``code, name, parent_code, street_name``.
    district_code : str
        The district (the district-wide budgets' unit).
    wardens : dict
        Community code -> a warden's person id (who applies for its households).
    targets : list of str
        The campaign's target categories.
    aid_count : int
        How many assistance records exist (new direct records are numbered after them).
    as_of : date
        The demo's today.
    committee_street : str, optional
        The street of the demo's committee account (its steps are by ``committee``).
    """
    comm = communities.set_index("code")
    hh = households.sort_values("hh_id").reset_index(drop=True)
    cats = [set(c) for c in hh["categories"]]
    is_target = np.array([bool(c & set(targets)) for c in cats], dtype=bool)
    by_id = hh.set_index("hh_id")
    hh_ids = hh["hh_id"].astype(str).tolist()
    hh_comm = dict(zip(hh_ids, hh["community_code"].astype(str), strict=True))
    parent = dict(zip(comm.index.astype(str), comm["parent_code"].astype(str), strict=True))

    apps: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    aid: list[dict[str, Any]] = []
    n_app = [0]

    def street_of(community: str) -> str:
        return parent[community]

    def committee(community: str) -> str:
        s = street_of(community)
        return "committee" if s == committee_street else f"committee:{s}"

    def add(hh_id: str, programme: str, campaign: str | None, value: float, state: str, offsets: dict[str, Any],
            reason: str) -> dict[str, Any]:
        n_app[0] += 1
        app_id = f"AP{n_app[0]:07d}"
        community = hh_comm[hh_id]
        who_apply = wardens.get(community, f"community:{community}")
        steps: list[tuple[str, str | None, str, datetime, str, str | None]] = []
        at = {k: (None if v is None else _at(rng, as_of - timedelta(days=int(v)))) for k, v in offsets.items()}
        applied = at["apply"]
        assert applied is not None
        steps.append(("apply", None, "applied", applied, who_apply, reason))
        status = "applied"
        rec: dict[str, Any] = dict(app_id=app_id, hh_id=hh_id, programme=programme, campaign_id=campaign,
                                   unit_code=community, amount_yuan=value, items=None, reason=reason,
                                   applied_at=at["apply"], applied_by=who_apply, notice_starts_on=None,
                                   notice_ends_on=None, notice_contact=None, decided_at=None, given_at=None,
                                   receipt_ref=None, rejected_reason=None)
        flow = [("check", "community_checked", f"community:{community}"),
                ("review", "street_reviewed", committee(community)),
                ("notice", "on_notice", committee(community)), ("approve", "approved", "admin"),
                ("give", "given", committee(community))]
        for step, target, by in flow:
            when = at.get(step)
            if when is None:
                break
            note = None
            if step == "notice":
                start = when.date()
                rec.update(notice_starts_on=start, notice_ends_on=start + timedelta(days=6),
                           notice_contact=default_contact(str(comm.loc[community, "name"]),
                                                          str(comm.loc[community, "street_name"])))
                note = "张榜公示 7 天"
            if step == "approve":
                rec["decided_at"] = when
            if step == "give":
                rec.update(given_at=when, receipt_ref=f"{programme.upper()}-{when:%Y%m%d}-{n_app[0]:05d}")
            steps.append((step, status, target, when, by, note))
            status = target
        if state.startswith("rejected"):
            where = "check" if state == "rejected_check" else "review"
            when = _at(rng, as_of - timedelta(days=int(offsets[where]) - 1))
            why = _REJECT_CHECK if where == "check" else _REJECT_REVIEW
            by = f"community:{community}" if where == "check" else committee(community)
            if where == "check":
                steps = steps[:1]
                status = "applied"
            else:
                steps = steps[:2]
                status = "community_checked"
            steps.append(("reject", status, "rejected", when, by, why))
            status = "rejected"
            rec.update(rejected_reason=why, decided_at=when, notice_starts_on=None, notice_ends_on=None,
                       notice_contact=None, given_at=None, receipt_ref=None)
        rec["status"] = status
        for seq, (step, src, dst, when, by, note) in enumerate(steps, start=1):
            events.append(dict(event_id=f"{app_id}:{seq:02d}", app_id=app_id, seq=seq, at=when, by_user=by,
                               step=step, from_status=src, to_status=dst, note=note))
        apps.append(rec)
        return rec

    def given_aid(rec: dict[str, Any], name: str, kind: str = "cash", receiver: dict[str, Any] | None = None) -> None:
        street = str(comm.loc[rec["unit_code"], "street_name"])
        r = receiver or {}
        aid.append(dict(aid_id="G" + rec["app_id"][2:], hh_id=rec["hh_id"], campaign_id=rec["campaign_id"],
                        programme=name, kind=kind, amount_yuan=rec["amount_yuan"], items=None, goods_value_yuan=0.0,
                        given_at=rec["given_at"], giver_unit=f"{street}党工委", funding_source="区慈善总会",
                        app_id=rec["app_id"], receiver_name=r.get("name", by_id.loc[rec["hh_id"], "head_name"]),
                        receiver_phone=r.get("phone", by_id.loc[rec["hh_id"], "phone"]),
                        receiver_account=r.get("account", f"62170{int(rec['app_id'][2:]):011d}"),
                        receipt_ref=rec["receipt_ref"]))

    # -- who is left for the plants, and the campaign's applicants --------------------------------
    order = rng.permutation(len(hh))
    target_pos = [int(i) for i in order if is_target[i]]
    other_pos = [int(i) for i in order if not is_target[i]]
    reserved = {"no_application": target_pos[:1], "above_standard": target_pos[1:2]}
    pool = target_pos[2:]
    n_apps = int(round(0.45 * len(pool)))
    chosen = pool[:n_apps]
    counts = [int(np.floor(share * n_apps)) for _, share in _SHARES]
    if n_apps >= len(_SHARES):
        counts = [max(1, c) for c in counts]
    counts[0] += n_apps - sum(counts)  # the rest are given
    states = [s for (s, _), k in zip(_SHARES, counts, strict=True) for _ in range(max(k, 0))][:n_apps]
    for pos, state in zip(chosen, states, strict=True):
        hh_id = hh_ids[pos]
        offsets = dict(_TIMELINE[state])
        reason = _REASONS[int(rng.integers(len(_REASONS)))]
        rec = add(hh_id, _QNWJ, "C2026W", 500.0, state, offsets, reason)
        if rec["status"] == "given":
            given_aid(rec, "情暖万家")

    # -- 大病救助 and 临时救助, outside campaigns ------------------------------------------------------
    sick = [int(i) for i in other_pos + target_pos[2 + n_apps:] if "serious_illness" in cats[int(i)]]
    for k, pos in enumerate(sick[:max(1, len(sick) // 15)] if sick else []):
        state = ("given", "approved", "on_notice", "street_reviewed")[k % 4]
        rec = add(hh_ids[pos], "dbjz", None, float(5_000 + 500 * int(rng.integers(0, 11))), state,
                  dict(_TIMELINE[state]), "家庭成员患重病住院，一次性医疗费用超过 2 万元，申请大病救助")
        if rec["status"] == "given":
            given_aid(rec, "大病救助")
    used = {a["hh_id"] for a in apps}
    spare = [int(i) for i in other_pos if hh_ids[int(i)] not in used]
    moved_pos = next((i for i in spare if not cats[i]), spare[0] if spare else None)
    temp = [i for i in spare if i != moved_pos][:max(2, len(hh) // 2000)]
    for k, pos in enumerate(temp):
        state = ("given", "on_notice", "applied")[k % 3]
        rec = add(hh_ids[pos], "lsjz", None, float(800 + 100 * int(rng.integers(0, 23))), state,
                  dict(_TIMELINE[state]), "家中突发意外，基本生活暂时困难，申请临时救助")
        if rec["status"] == "given":
            given_aid(rec, "临时救助")

    planted: dict[str, list[str]] = {}
    history: list[dict[str, Any]] = []
    moved: list[str] = []
    next_aid = [aid_count]

    def direct(hh_id: str, programme: str, kind: str, value: float, when: datetime, unit: str, items: str | None,
               campaign: str | None) -> None:
        next_aid[0] += 1
        aid.append(dict(aid_id=f"A{next_aid[0]:07d}", hh_id=hh_id, campaign_id=campaign, programme=programme,
                        kind=kind, amount_yuan=value if kind == "cash" else 0.0, items=items,
                        goods_value_yuan=value if kind != "cash" else 0.0, given_at=when, giver_unit=unit,
                        funding_source="区财政", app_id=None, receiver_name=None, receiver_phone=None,
                        receiver_account=None, receipt_ref=None))

    # not_active: registered as moved on 2026-10-20, given 临时救助 on 2026-11-03 through a full application.
    if moved_pos is not None:
        m = hh_ids[moved_pos]
        offsets = dict(apply=34, check=33, review=32, notice=31, approve=23, give=12)
        rec = add(m, "lsjz", None, 1_000.0, "given", offsets, "家中突发火灾，申请临时救助")
        given_aid(rec, "临时救助")
        history.append(dict(hh_id=m, changed_at=datetime(2026, 10, 20, 10, 0), change="status", old_value="active",
                            new_value="moved", source="户籍迁出登记（演示）"))
        moved.append(m)
        planted["not_active"] = [m]
    # no_application: 情暖万家 of the campaign given by the civil affairs bureau without an application.
    if reserved["no_application"]:
        y = hh_ids[reserved["no_application"][0]]
        direct(y, "情暖万家", "cash", 500.0, datetime(2026, 11, 9, 10, 30), "区民政局", None, "C2026W")
        planted["no_application"] = [y]
    # above_standard: festival goods worth 800 yuan against a standard of 200.
    if reserved["above_standard"]:
        z = hh_ids[reserved["above_standard"][0]]
        unit = str(comm.loc[str(by_id.loc[z, "community_code"]), "name"]) + "居委会"
        direct(z, "春节慰问物资", "goods", 800.0, datetime(2026, 11, 10, 15, 0), unit, "米面油礼包（4 份）", "C2026W")
        planted["above_standard"] = [z]

    # shared_receiver and budget_overrun among the campaign's given applications.
    given = [a for a in aid if a["app_id"] is not None and a["programme"] == "情暖万家"]
    per_comm: dict[str, list[dict[str, Any]]] = {}
    for a in given:
        per_comm.setdefault(str(by_id.loc[a["hh_id"], "community_code"]), []).append(a)
    plants = {planted[k][0] for k in ("no_application", "above_standard") if k in planted}
    plant_comms = {str(by_id.loc[h, "community_code"]) for h in plants}
    ranked = sorted(per_comm, key=lambda c: (-len(per_comm[c]), c))
    budget_extra: list[dict[str, Any]] = []
    over = next((c for c in ranked if len(per_comm[c]) >= 2 and c not in plant_comms), None)
    share = next((c for c in ranked if c != over and len(per_comm[c]) >= 2), None)
    if share is not None:
        pair = sorted(per_comm[share], key=lambda a: a["aid_id"])[:2]
        for a in pair:
            a.update(receiver_name="陈建国（代领）", receiver_phone=None, receiver_account="6217 0010 0000 8888 123")
        planted["shared_receiver"] = sorted(a["hh_id"] for a in pair)
    if over is not None:
        gifts = sorted(per_comm[over], key=lambda a: (a["given_at"], a["aid_id"]))
        total = float(sum(a["amount_yuan"] for a in gifts))
        budget_extra.append(dict(unit_code=over, programme=_QNWJ, campaign_id="C2026W", amount_yuan=total - 400.0))
        planted["budget_overrun"] = [gifts[-1]["hh_id"]]

    # -- receivers: one phone per receiver (phones repeat in the synthetic roll; keep the first) ----
    seen_phones: set[str] = set()
    for a in sorted(aid, key=lambda a: a["aid_id"]):
        p = a.get("receiver_phone")
        if p is None:
            continue
        if p in seen_phones:
            a["receiver_phone"] = None
        seen_phones.add(p)

    # -- budgets -----------------------------------------------------------------------------------
    hh_street = hh["community_code"].map(lambda c: street_of(str(c)))
    budgets: list[dict[str, Any]] = []
    for street in sorted(set(communities["parent_code"].astype(str))):
        n_t = int((is_target & (hh_street == street).to_numpy()).sum())
        if n_t:
            budgets.append(dict(unit_code=street, programme=_QNWJ, campaign_id="C2026W", amount_yuan=500.0 * n_t))
    district = district_code
    if budgets:
        budgets.append(dict(unit_code=district, programme=_QNWJ, campaign_id="C2026W",
                            amount_yuan=float(sum(b["amount_yuan"] for b in budgets))))
    for code in ("dbjz", "lsjz"):
        asked = sum(a["amount_yuan"] for a in apps if a["programme"] == code and a["status"] != "rejected")
        budgets.append(dict(unit_code=district, programme=code, campaign_id=None,
                            amount_yuan=float(max(50_000.0, np.ceil(asked * 1.5 / 10_000) * 10_000))))
    budgets += budget_extra
    budget_frame = pd.DataFrame(budgets, columns=["unit_code", "programme", "campaign_id", "amount_yuan"])
    budget_frame["set_at"] = datetime(2026, 10, 25, 9, 0)
    budget_frame["set_by"] = "admin"

    # -- the one objection -------------------------------------------------------------------------
    objections = pd.DataFrame(columns=["objection_id", "app_id", "raised_at", "recorded_by", "objector", "content",
                                       "status", "settled_at", "settled_by", "settlement"])
    on_notice = [a for a in apps if a["status"] == "on_notice" and a["programme"] == _QNWJ]
    if on_notice:
        target_app = on_notice[0]
        when = _at(rng, as_of - timedelta(days=2))
        oid = f"{target_app['app_id']}-O1"
        who = wardens.get(target_app["unit_code"], f"community:{target_app['unit_code']}")
        objections = pd.DataFrame([dict(objection_id=oid, app_id=target_app["app_id"], raised_at=when,
                                         recorded_by=who, objector="匿名", content=_OBJECTION, status="open",
                                         settled_at=None, settled_by=None, settlement=None)])
        seq = 1 + max(e["seq"] for e in events if e["app_id"] == target_app["app_id"])
        events.append(dict(event_id=f"{target_app['app_id']}:{seq:02d}", app_id=target_app["app_id"], seq=seq, at=when,
                           by_user=who, step="object", from_status="on_notice", to_status="on_notice",
                           note=f"异议 {oid}：{_OBJECTION}"))

    programmes = pd.DataFrame(PROGRAMMES)
    programmes["target_categories"] = [list(targets) if p["code"] in (_QNWJ, "cjwp") else
                                       list(p.get("target_categories") or []) for p in PROGRAMMES]
    app_cols = ["app_id", "hh_id", "programme", "campaign_id", "unit_code", "amount_yuan", "items", "reason", "status",
                "applied_at", "applied_by", "notice_starts_on", "notice_ends_on", "notice_contact", "decided_at",
                "given_at", "receipt_ref", "rejected_reason"]
    aid_cols = ["aid_id", "hh_id", "campaign_id", "programme", "kind", "amount_yuan", "items", "goods_value_yuan",
                "given_at", "giver_unit", "funding_source", "app_id", "receiver_name", "receiver_phone",
                "receiver_account", "receipt_ref"]
    return DemoApplications(
        programmes=programmes[["code", "name", "kind", "standard_yuan", "target_categories", "needs_approval",
                               "approval_from", "notice_days", "description"]],
        budgets=budget_frame,
        applications=pd.DataFrame(apps, columns=app_cols),
        events=pd.DataFrame(events, columns=["event_id", "app_id", "seq", "at", "by_user", "step", "from_status",
                                             "to_status", "note"]).sort_values("event_id").reset_index(drop=True),
        objections=objections,
        assistance=pd.DataFrame(aid, columns=aid_cols).sort_values("aid_id").reset_index(drop=True),
        history=pd.DataFrame(history, columns=["hh_id", "changed_at", "change", "old_value", "new_value", "source"]),
        moved=moved,
        planted=planted,
    )
