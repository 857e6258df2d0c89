"""Assistance by application, review, public notice and approval (逐级申请报批).

"申请救助者 … 由村居初核签署意见，各镇、街道在调查摸底的基础上审核、公示、签署意见后，报区审批"
(the seeds): an application (申请, by the household or a warden for it) is checked by the
community (社区初审), reviewed by the street (街道审核), posted on public notice (公示, 7 days
by default) and approved by the district (区审批); then it is given (发放) with a receipt, and
the assistance record it creates carries its ``app_id``. An application may be rejected at any
review step, with a reason. Objections (异议) raised during the notice are recorded and must be
settled before the district may approve: dismissed (不成立), or upheld (成立), which rejects the
application.

The flow is one table, :data:`TRANSITIONS`: each row a step from one state to another and the
access-policy action it needs (:mod:`grid.access`). Every step is one call here, one
transaction: the application's row, one ``application_events`` row and one ``audit_log`` row
(giving also writes the assistance record). A step out of order is refused with
:class:`~grid.errors.ApplicationStepError`, naming the application, its household and
programme, in Chinese and English; nothing is written.

Who takes which step (``GRANTS``): a warden or the street applies and records objections; the
street (``committee``) checks (until a community worker role exists), reviews, posts the notice,
settles objections and gives; the district office (``admin``) approves and may reject on
notice.

Checks when applying, all reported at once (:class:`~grid.errors.ValidationError`):

- the household exists, is registered (在册), lies in a cell of the actor's scope;
- eligibility: the household has one of the programme's target categories (a programme
  without target categories is open to every household);
- duplicates: no other application (not rejected) for the same household, programme and
  campaign, and no assistance record of the same programme (by name) and campaign for the
  household (without a campaign: no application of the programme still under way) — each
  named;
- the amount is positive and at most the programme's standard amount (``standard_yuan``):
  a standard is the programme's rule, not a case decision, so an application above it is
  refused (change the programme to change the rule); a larger record entered directly is
  flagged by :func:`grid.budgets.red_flags`;
- the remaining budget of the community and every unit above it (those that have a budget
  for the programme and campaign, :func:`grid.budgets.remaining_budgets`) covers the amount;
- a reason (申请理由) is given; no control characters in any text.

Examples
--------
>>> [s.name for s in steps_from("on_notice")]
['object', 'settle', 'uphold', 'approve', 'reject']
>>> step_of("check", "applied").target, step_of("check", "on_notice") is None
('community_checked', True)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from grid import audit, model
from grid.access import Actor, Scope, allowed, ensure, mask_households
from grid.budgets import programme_key, remaining_budgets
from grid.errors import ApplicationStepError, Problem, ValidationError, WarmGridError
from grid.store import Store
from grid.validators import (
    amount,
    check_characters,
    china_now,
    china_today,
    date_value,
    nonempty_text,
    phone,
    positive_int,
    record_time,
    visible,
)

__all__ = [
    "Step",
    "TRANSITIONS",
    "UNDER_REVIEW",
    "steps_from",
    "step_of",
    "steps_for",
    "new_form_key",
    "apply",
    "check",
    "review",
    "notice",
    "approve",
    "give",
    "reject",
    "object_to",
    "settle",
    "list_applications",
    "applicant_households",
    "application_detail",
    "status_counts",
    "default_contact",
]


@dataclass(frozen=True)
class Step:
    """One legal step: its name (:data:`grid.model.APPLICATION_STEPS`), the state it starts
    from (``None``: a new application), the state it leads to, and the action of the access
    policy it needs."""

    name: str
    source: str | None
    target: str
    action: str

    @property
    def zh(self) -> str:
        """The step's Chinese name."""
        return model.APPLICATION_STEPS[self.name].zh

    @property
    def en(self) -> str:
        """The step's English name."""
        return model.APPLICATION_STEPS[self.name].en


#: Every legal step: (name, from, to, action). Nothing else moves an application.
TRANSITIONS: tuple[Step, ...] = (
    Step("apply", None, "applied", "apply_assistance"),
    Step("check", "applied", "community_checked", "check_application"),
    Step("review", "community_checked", "street_reviewed", "review_application"),
    Step("notice", "street_reviewed", "on_notice", "notice_application"),
    Step("object", "on_notice", "on_notice", "record_objection"),
    Step("settle", "on_notice", "on_notice", "notice_application"),
    Step("uphold", "on_notice", "rejected", "notice_application"),
    Step("approve", "on_notice", "approved", "approve_application"),
    Step("give", "approved", "given", "give_assistance"),
    Step("reject", "applied", "rejected", "check_application"),
    Step("reject", "community_checked", "rejected", "review_application"),
    Step("reject", "street_reviewed", "rejected", "review_application"),
    Step("reject", "on_notice", "rejected", "approve_application"),
)
#: States in which an application is still under way (neither given nor rejected).
UNDER_REVIEW: tuple[str, ...] = ("applied", "community_checked", "street_reviewed", "on_notice", "approved")
_WHERE = "救助申请"
_ACCOUNT_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z \-]{5,39}")


def steps_from(status: str) -> list[Step]:
    """The steps legal from ``status``, in the table's order."""
    return [s for s in TRANSITIONS if s.source == status]


def step_of(name: str, status: str | None) -> Step | None:
    """The step ``name`` from ``status``, or None when it is not legal there."""
    return next((s for s in TRANSITIONS if s.name == name and s.source == status), None)


def _resource(cell: object) -> object:
    """What an action on an application's household is checked against: its cell (a household
    outside every cell only by an actor who holds everything)."""
    return str(cell) if isinstance(cell, str) else Scope.everything()


def steps_for(actor: Actor, status: str, cell: str | None) -> list[Step]:
    """The steps ``actor`` may take now on an application in ``status`` whose household is in ``cell``."""
    return [s for s in steps_from(status) if allowed(actor, s.action, _resource(cell))]


def new_form_key() -> str:
    """A fresh idempotency key for an application form about to be shown."""
    return uuid.uuid4().hex


def default_contact(community_name: str | None, street_name: str | None) -> str:
    """The notice's "where to object" line when none is given.

    >>> default_contact("镇海社区", "中华街道")
    '对公示对象如有异议，请于公示期内向镇海社区居委会或中华街道办事处反映（可实名或匿名）。'
    """
    who = "或".join(x for x in ((f"{community_name}居委会" if community_name else ""),
                                (f"{street_name}办事处" if street_name else "")) if x) or "所在社区居委会"
    return f"对公示对象如有异议，请于公示期内向{who}反映（可实名或匿名）。"


# --------------------------------------------------------------------------- reading one application
_ROW_SQL = """
SELECT a.app_id, a.hh_id, a.programme, a.campaign_id, a.unit_code, a.amount_yuan::DOUBLE AS amount_yuan, a.items,
       a.status, a.applied_at, a.notice_starts_on, a.notice_ends_on, a.decided_at, h.cell_id,
       p.name AS programme_name, p.kind AS programme_kind, p.notice_days,
       u.name AS community_name, s.name AS street_name,
       (SELECT count(*) FROM application_objections o WHERE o.app_id = a.app_id AND o.status = 'open')
           AS open_objections,
       (SELECT coalesce(max(seq), 0) FROM application_events e WHERE e.app_id = a.app_id) AS last_seq
FROM applications a
LEFT JOIN households h USING (hh_id)
LEFT JOIN programmes p ON p.code = a.programme
LEFT JOIN admin_units u ON u.code = a.unit_code
LEFT JOIN admin_units s ON s.code = u.parent_code
WHERE a.app_id IN (SELECT unnest(?::TEXT[]))
"""


def _rows(target: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    if isinstance(target, Store):
        frame = target.query(_ROW_SQL, [ids])
    else:
        frame = target.execute(_ROW_SQL, [ids]).df()
    out = {}
    for rec in frame.to_dict(orient="records"):
        rec = {k: (None if not isinstance(v, list) and pd.isna(v) else v) for k, v in rec.items()}
        out[str(rec["app_id"])] = rec
    return out


def _name(row: dict[str, Any]) -> tuple[str, str]:
    """How messages name an application: ``(Chinese, English)``."""
    prog = row.get("programme_name") or row.get("programme")
    return (f"申请 {row['app_id']}（住户 {row['hh_id']} · {prog}）",
            f"application {row['app_id']} (household {row['hh_id']}, {row.get('programme')})")


def _ids(app_ids: str | Iterable[str]) -> list[str]:
    ids = [app_ids] if isinstance(app_ids, str) else [str(a) for a in app_ids]
    ids = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not ids:
        raise ValidationError([Problem(_WHERE, None, "app_id", "", "请选择至少一份申请", "choose at least one application")])
    return ids


def _missing(app_id: str) -> Problem:
    return Problem(_WHERE, None, "app_id", visible(app_id), "没有这份申请（或不在您的范围内）",
                   "no such application (or it is outside your scope)")


def _illegal(row: dict[str, Any], name: str) -> Problem:
    status = str(row["status"])
    can = [s for s in steps_from(status)]
    zh_can = "、".join(s.zh for s in can) or "无（流程已结束）"
    en_can = ", ".join(s.name for s in can) or "none (the flow has ended)"
    zh, en = _name(row)
    return Problem(_WHERE, None, "status", str(row["app_id"]),
                   f"{zh}当前状态为“{model.label(status)}”，不能进行“{model.APPLICATION_STEPS[name].zh}”"
                   f"（现在可进行：{zh_can}）",
                   f"{en} is {status}; it cannot take the step {name!r} now (possible now: {en_can})")


def _text(value: str | None, field: str, problems: list[Problem], where: str, *, required: bool, max_len: int = 500,
          multiline: bool = True) -> str | None:
    if value is None or not str(value).strip():
        if required:
            problems.append(Problem(where, None, field, "", "请填写此项", "this field is required"))
        return None
    got = nonempty_text(str(value), max_len=max_len)
    if got.ok:
        got = check_characters(str(got.value), multiline=multiline)
    if not got.ok:
        problems.append(got.problem(where, None, field, visible(str(value)[:60])))
        return None
    return str(got.value)


# --------------------------------------------------------------------------- one step, many applications
@dataclass(frozen=True)
class _Done:
    """What a step's writer returns: its result and the note of the event (None: the user's note)."""

    result: Any = None
    note: str | None = None


Check = Callable[[dict[str, Any]], list[tuple[str, str]]]
Write = Callable[[Any, dict[str, Any], Step, datetime], _Done]


def _take(store: Store, actor: Actor, name: str, app_ids: str | Iterable[str], *, now: datetime | None,
          note: str | None, check: Check | None = None, write: Write | None = None) -> list[Any]:
    """Take step ``name`` on every application of ``app_ids`` in one transaction, or on none.

    The policy is asked first (a refusal is audited): the role must be able to take the step at
    all, then each application must be in the actor's scope and in a state the step starts from,
    and the actor allowed that state's action. ``check`` adds the step's own conditions (a
    notice not yet over, an objection open); ``write`` changes the application's row (by default
    only its status). Each application then gets one event row and one audit row.
    """
    if not any(allowed(actor, s.action) for s in TRANSITIONS if s.name == name):
        action = next(s.action for s in TRANSITIONS if s.name == name)
        ensure(actor, action, log=store)  # raises, and audits the refusal
    ids = _ids(app_ids)
    problems: list[Problem] = []
    text = _text(note, "note", problems, _WHERE, required=False)
    if problems:
        raise ValidationError(problems)
    at = china_now(now)
    seen = _rows(store, ids)
    missing = [_missing(i) for i in ids if i not in seen or seen[i]["cell_id"] not in actor.scope]
    if missing:
        raise ValidationError(missing)
    illegal = [_illegal(seen[i], name) for i in ids if step_of(name, seen[i]["status"]) is None]
    if illegal:
        raise ApplicationStepError(name, illegal)
    for i in ids:
        step = step_of(name, seen[i]["status"])
        assert step is not None
        ensure(actor, step.action, _resource(seen[i]["cell_id"]), log=store)
    results: list[Any] = []
    with store.transaction() as cur:
        rows = _rows(cur, ids)  # again, inside the one writer's transaction: nobody moved them meanwhile
        for i in ids:
            row = rows.get(i)
            if row is None:
                problems.append(_missing(i))
            elif step_of(name, row["status"]) is None:
                problems.append(_illegal(row, name))
            elif check is not None:
                zh, en = _name(row)
                problems += [Problem(_WHERE, None, name, i, f"{zh}{pz}", f"{en}: {pe}") for pz, pe in check(row)]
        if problems:
            raise ApplicationStepError(name, problems)
        for i in ids:
            row = rows[i]
            step = step_of(name, row["status"])
            assert step is not None
            if write is None:
                cur.execute("UPDATE applications SET status = ? WHERE app_id = ?", [step.target, i])
                done = _Done()
            else:
                done = write(cur, row, step, at)
            results.append(done.result)
            seq = int(row["last_seq"]) + 1
            cur.execute('INSERT INTO application_events (event_id, app_id, seq, "at", by_user, step, from_status,'
                        " to_status, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [f"{i}:{seq:02d}", i, seq, at, actor.name, name, step.source, step.target,
                         done.note if done.note is not None else text])
            audit.record(cur, actor, "update", object=f"application:{i}:{name}", row_count=1)
    return results


# --------------------------------------------------------------------------- apply
def apply(store: Store, actor: Actor, *, hh_id: str, programme: str, amount_yuan: float | str, reason: str,
          campaign_id: str | None = None, items: str | None = None, now: datetime | None = None,
          idempotency_key: str | None = None) -> str:
    """Apply for assistance for a household (申请); return the new application's id.

    The actor must be allowed to ``apply_assistance`` in the household's cell; a household
    outside its scope is refused as if it did not exist. The checks of the module's docstring
    are all made, and every problem is reported at once. With ``idempotency_key``, a second
    call with the same key returns the first application's id and writes nothing.

    Raises
    ------
    ValidationError
        Every problem, each naming the household and the programme.
    AccessDenied
        When the actor may not apply at all.
    """
    ensure(actor, "apply_assistance", log=store)
    at = china_now(now)
    hh = store.query("SELECT h.hh_id, h.cell_id, h.status, h.categories, c.community_code FROM households h"
                     " LEFT JOIN cells c USING (cell_id) WHERE h.hh_id = ?", [hh_id])
    prog = store.query("SELECT code, name, standard_yuan::DOUBLE AS standard_yuan, target_categories FROM programmes"
                       " WHERE code = ?", [programme])
    prog_name = str(prog["name"].iloc[0]) if len(prog) else str(programme)
    where = f"{_WHERE}（住户 {hh_id} · {prog_name}）"
    problems: list[Problem] = []
    community: str | None = None
    cats: list[str] = []
    cell = None if hh.empty or pd.isna(hh["cell_id"].iloc[0]) else str(hh["cell_id"].iloc[0])
    if hh.empty or cell not in actor.scope or not allowed(actor, "apply_assistance", _resource(cell)):
        problems.append(Problem(where, None, "hh_id", visible(str(hh_id)), "没有这一户（或不在您的范围内）",
                                "no such household (or it is outside your scope)"))
    else:
        status = str(hh["status"].iloc[0])
        cats = [str(c) for c in hh["categories"].iloc[0]]
        if status != "active":
            problems.append(Problem(where, None, "hh_id", str(hh_id), f"该户状态为“{model.label(status)}”，不在册的住户不能申请",
                                    f"the household is {status}; only registered households may apply"))
        if cell is None:
            problems.append(Problem(where, None, "hh_id", str(hh_id), "该户不在任何网格内，无法确定所属社区",
                                    "the household lies in no cell, so its community is unknown"))
        else:
            community = str(hh["community_code"].iloc[0])
    if prog.empty:
        problems.append(Problem(where, None, "programme", visible(str(programme)), "没有这个救助项目", "no such programme"))
    else:
        targets = [str(c) for c in prog["target_categories"].iloc[0]]
        if targets and not hh.empty and not set(targets) & set(cats):
            have = "、".join(model.label(c) for c in cats) or "无困难类别"
            want = "、".join(model.label(c) for c in targets)
            problems.append(Problem(where, None, "programme", str(programme),
                                    f"该户（{have}）不属于“{prog_name}”的救助对象（{want}）",
                                    f"the household ({', '.join(cats) or 'no category'}) is not among the targets of "
                                    f"{programme} ({', '.join(targets)})"))
    if campaign_id is not None:
        camp = store.query("SELECT unit_code FROM campaigns WHERE campaign_id = ?", [campaign_id])
        if camp.empty:
            problems.append(Problem(where, None, "campaign_id", visible(str(campaign_id)), "没有这个活动", "no such campaign"))
        elif community is not None:
            chain = store.query(
                "WITH RECURSIVE up(code, depth) AS (SELECT ?::TEXT, 0 UNION ALL SELECT a.parent_code, up.depth + 1"
                " FROM up JOIN admin_units a ON a.code = up.code WHERE a.parent_code IS NOT NULL AND up.depth < 8)"
                " SELECT code FROM up", [community])["code"].astype(str).tolist()
            if str(camp["unit_code"].iloc[0]) not in chain:
                problems.append(Problem(where, None, "campaign_id", str(campaign_id),
                                        f"该户不在活动 {campaign_id} 的单位范围内",
                                        f"the household is outside the unit of campaign {campaign_id}"))
    money = amount(amount_yuan)
    value: float | None = None
    if not money.ok or money.value is None:
        problems.append(money.problem(where, None, "amount_yuan", amount_yuan))
    elif money.value <= 0:
        problems.append(Problem(where, None, "amount_yuan", str(amount_yuan), "申请金额须大于 0",
                                "the amount must be more than 0"))
    else:
        value = float(money.value)
        std = None if prog.empty else prog["standard_yuan"].iloc[0]
        if std is not None and not pd.isna(std) and value > float(std) + 0.005:
            problems.append(Problem(where, None, "amount_yuan", f"{value:.2f}",
                                    f"超过“{prog_name}”的标准 {float(std):,.2f} 元；标准以上的金额不予受理",
                                    f"above the standard of {programme} ({float(std):,.2f} yuan); amounts above the "
                                    "standard are refused"))
    why = _text(reason, "reason", problems, where, required=True)
    goods = _text(items, "items", problems, where, required=False)
    with store.transaction() as cur:
        if idempotency_key:
            done = cur.execute("SELECT object_id FROM form_submissions WHERE idempotency_key = ? AND kind = ?",
                               [idempotency_key, "application"]).fetchone()
            if done is not None:
                return str(done[0])
        if not prog.empty and not hh.empty and cell in actor.scope:
            problems += _duplicates(cur, where, str(hh_id), str(programme), prog_name, campaign_id)
            if community is not None and value is not None:
                problems += _budget_problems(store, where, community, str(programme), campaign_id, value)
        if problems:
            raise ValidationError(problems)
        app_id = f"AP{at:%Y%m%d}{uuid.uuid4().hex[:6].upper()}"
        cur.execute("INSERT INTO applications (app_id, hh_id, programme, campaign_id, unit_code, amount_yuan, items,"
                    " reason, status, applied_at, applied_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'applied', ?, ?)",
                    [app_id, hh_id, programme, campaign_id, community, value, goods, why, at, actor.name])
        cur.execute('INSERT INTO application_events (event_id, app_id, seq, "at", by_user, step, from_status,'
                    " to_status, note) VALUES (?, ?, 1, ?, ?, 'apply', NULL, 'applied', ?)",
                    [f"{app_id}:01", app_id, at, actor.name, why])
        if idempotency_key:
            cur.execute("INSERT INTO form_submissions (idempotency_key, kind, object_id, username)"
                        " VALUES (?, 'application', ?, ?)", [idempotency_key, app_id, actor.name])
        audit.record(cur, actor, "create", object=f"application:{app_id}:apply", row_count=1)
    return app_id


def _duplicates(cur: Any, where: str, hh_id: str, programme: str, prog_name: str,
                campaign_id: str | None) -> list[Problem]:
    """Another application or assistance record for the same household, programme and campaign."""
    out: list[Problem] = []
    if campaign_id is None:
        rows = cur.execute("SELECT app_id, status FROM applications WHERE hh_id = ? AND programme = ?"
                           " AND campaign_id IS NULL AND list_contains(?, status) ORDER BY app_id",
                           [hh_id, programme, list(UNDER_REVIEW)]).fetchall()
    else:
        rows = cur.execute("SELECT app_id, status FROM applications WHERE hh_id = ? AND programme = ?"
                           " AND campaign_id = ? AND status <> 'rejected' ORDER BY app_id",
                           [hh_id, programme, campaign_id]).fetchall()
    for app_id, status in rows:
        out.append(Problem(where, None, "duplicate", str(app_id),
                           f"该户已有同一项目{'、同一活动' if campaign_id else '、尚未办结'}的申请 {app_id}"
                           f"（{model.label(str(status))}），不能重复申请",
                           f"the household already has application {app_id} ({status}) for this programme"
                           + (" and campaign" if campaign_id else " still under way")))
    if campaign_id is not None:
        keys = {programme_key(programme), programme_key(prog_name)}
        aid = cur.execute("SELECT aid_id, programme, given_at, giver_unit FROM assistance WHERE hh_id = ?"
                          " AND campaign_id = ? ORDER BY given_at, aid_id", [hh_id, campaign_id]).fetchall()
        for aid_id, prog, given_at, unit in aid:
            if programme_key(prog) in keys:
                out.append(Problem(where, None, "duplicate", str(aid_id),
                                   f"该户在本活动中已获“{prog}”救助（记录 {aid_id}，{pd.Timestamp(given_at).date()}，"
                                   f"{unit}），不能重复申请",
                                   f"the household was already given {programme} in this campaign (record {aid_id}, "
                                   f"{pd.Timestamp(given_at).date()}, {unit})"))
    return out


def _budget_problems(store: Store, where: str, community: str, programme: str, campaign_id: str | None,
                     value: float) -> list[Problem]:
    budgets = remaining_budgets(store, community, programme, campaign_id)
    out = []
    for row in budgets.itertuples(index=False):
        if value > float(row.remaining_yuan) + 0.005:
            out.append(Problem(where, None, "budget", f"{value:.2f}",
                               f"{row.unit_name}该项目预算 {row.budget_yuan:,.2f} 元，已占用 {row.committed_yuan:,.2f} 元，"
                               f"剩余 {max(row.remaining_yuan, 0):,.2f} 元，不足以支付 {value:,.2f} 元",
                               f"the budget of {row.unit_code} ({row.budget_yuan:,.2f} yuan) has "
                               f"{max(row.remaining_yuan, 0):,.2f} yuan left, less than {value:,.2f}"))
    return out


# --------------------------------------------------------------------------- the review steps
def check(store: Store, actor: Actor, app_ids: str | Iterable[str], *, note: str | None = None,
          now: datetime | None = None) -> None:
    """社区初审: applied → community_checked, for every application given (all or none)."""
    _take(store, actor, "check", app_ids, now=now, note=note)


def review(store: Store, actor: Actor, app_ids: str | Iterable[str], *, note: str | None = None,
           now: datetime | None = None) -> None:
    """街道审核: community_checked → street_reviewed, for every application given (all or none)."""
    _take(store, actor, "review", app_ids, now=now, note=note)


def notice(store: Store, actor: Actor, app_ids: str | Iterable[str], *, days: int | None = None,
           starts_on: date | str | None = None, contact: str | None = None, note: str | None = None,
           now: datetime | None = None) -> None:
    """张榜公示: street_reviewed → on_notice, for ``days`` days from ``starts_on`` (both inclusive).

    ``days`` defaults to the programme's ``notice_days`` (7), ``starts_on`` to today (China
    time) and ``contact`` (where to object) to :func:`default_contact` of the community and
    street. The notice may not start before the application was made, nor more than 30 days
    ahead.
    """
    problems: list[Problem] = []
    n: int | None = None
    if days is not None:
        got = positive_int(days, 1, 60)
        if not got.ok:
            problems.append(got.problem(_WHERE, None, "days", days))
        n = got.value
    today = china_today(now)
    start = today
    if starts_on is not None:
        got_d = date_value(starts_on)
        if not got_d.ok or got_d.value is None:
            problems.append(got_d.problem(_WHERE, None, "starts_on", starts_on))
        else:
            start = got_d.value
    if start > today + timedelta(days=30):
        problems.append(Problem(_WHERE, None, "starts_on", str(start), "公示开始日期不能晚于 30 天后",
                                "the notice cannot start more than 30 days ahead"))
    line = _text(contact, "contact", problems, _WHERE, required=False, max_len=200, multiline=False)
    if problems:
        raise ValidationError(problems)

    def cond(row: dict[str, Any]) -> list[tuple[str, str]]:
        if start < pd.Timestamp(row["applied_at"]).date():
            return [(f"公示开始日期 {start} 早于申请日期", f"the notice starts on {start}, before the application")]
        return []

    def write(cur: Any, row: dict[str, Any], step: Step, at: datetime) -> _Done:
        length = n if n is not None else int(row["notice_days"] or 7)
        cur.execute("UPDATE applications SET status = ?, notice_starts_on = ?, notice_ends_on = ?, notice_contact = ?"
                    " WHERE app_id = ?", [step.target, start, start + timedelta(days=length - 1),
                                          line or default_contact(row["community_name"], row["street_name"]),
                                          row["app_id"]])
        return _Done()

    _take(store, actor, "notice", app_ids, now=now, note=note, check=cond, write=write)


def approve(store: Store, actor: Actor, app_ids: str | Iterable[str], *, note: str | None = None,
            now: datetime | None = None) -> None:
    """区审批: on_notice → approved, once the notice is over (the day after its last day) and no
    objection is open."""
    today = china_today(now)

    def cond(row: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        ends = pd.Timestamp(row["notice_ends_on"]).date()
        if today <= ends:
            out.append((f"公示期至 {ends}，期满后方可审批", f"the notice runs until {ends}; approve after it"))
        if int(row["open_objections"]):
            out.append((f"有 {int(row['open_objections'])} 条异议尚未核实处理", f"{int(row['open_objections'])} "
                        "objection(s) not yet settled"))
        return out

    def write(cur: Any, row: dict[str, Any], step: Step, at: datetime) -> _Done:
        cur.execute("UPDATE applications SET status = ?, decided_at = ? WHERE app_id = ?",
                    [step.target, at, row["app_id"]])
        return _Done()

    _take(store, actor, "approve", app_ids, now=now, note=note, check=cond, write=write)


def reject(store: Store, actor: Actor, app_id: str, *, reason: str, now: datetime | None = None) -> None:
    """驳回 at the step the application is at (its community check, street review, or the
    district's decision on notice), with a reason."""
    problems: list[Problem] = []
    why = _text(reason, "reason", problems, _WHERE, required=True)
    if problems:
        raise ValidationError(problems)

    def write(cur: Any, row: dict[str, Any], step: Step, at: datetime) -> _Done:
        cur.execute("UPDATE applications SET status = ?, rejected_reason = ?, decided_at = ? WHERE app_id = ?",
                    [step.target, why, at, row["app_id"]])
        return _Done(note=why)

    _take(store, actor, "reject", app_id, now=now, note=None, write=write)


def give(store: Store, actor: Actor, app_id: str, *, receipt_ref: str, receiver_name: str | None = None,
         receiver_phone: str | None = None, receiver_account: str | None = None, giver_unit: str | None = None,
         funding_source: str | None = None, given_at: datetime | None = None, note: str | None = None,
         now: datetime | None = None) -> str:
    """发放: approved → given, with the receipt; creates the assistance record (``app_id`` set)
    and returns its ``aid_id``.

    The record carries the programme's name, kind (cash: ``amount_yuan``; goods and services:
    ``goods_value_yuan``), the application's campaign, amount and items, the receiver and the
    receipt. ``giver_unit`` defaults to the street of the household's community, ``given_at``
    to now; it may not be before the approval nor after today.
    """
    problems: list[Problem] = []
    ref = _text(receipt_ref, "receipt_ref", problems, _WHERE, required=True, max_len=100, multiline=False)
    who = _text(receiver_name, "receiver_name", problems, _WHERE, required=False, max_len=50, multiline=False)
    tel = None
    if receiver_phone is not None and str(receiver_phone).strip():
        got = phone(receiver_phone)
        if not got.ok:
            problems.append(got.problem(_WHERE, None, "receiver_phone", visible(str(receiver_phone))))
        tel = got.value
    acct = None
    if receiver_account is not None and str(receiver_account).strip():
        acct = str(receiver_account).strip()
        if not _ACCOUNT_RE.fullmatch(acct):
            problems.append(Problem(_WHERE, None, "receiver_account", visible(acct), "收款账号须为 6 至 40 位字母、数字",
                                    "the account is 6 to 40 letters and digits"))
    unit = _text(giver_unit, "giver_unit", problems, _WHERE, required=False, max_len=100, multiline=False)
    fund = _text(funding_source, "funding_source", problems, _WHERE, required=False, max_len=100, multiline=False)
    when = china_now(given_at if given_at is not None else now)
    stamp = record_time(when, today=china_today(now))
    if stamp.reason is not None:
        problems.append(Problem(_WHERE, None, "given_at", str(when), *stamp.reason))
    if problems:
        raise ValidationError(problems)

    def cond(row: dict[str, Any]) -> list[tuple[str, str]]:
        decided = pd.Timestamp(row["decided_at"]).to_pydatetime()
        if when < decided:
            return [(f"发放时间 {when:%Y-%m-%d %H:%M} 早于审批时间 {decided:%Y-%m-%d %H:%M}",
                     f"given at {when:%Y-%m-%d %H:%M}, before the approval at {decided:%Y-%m-%d %H:%M}")]
        return []

    def write(cur: Any, row: dict[str, Any], step: Step, at: datetime) -> _Done:
        aid_id = "G" + str(row["app_id"])[2:]
        kind = str(row["programme_kind"] or "cash")
        money = float(row["amount_yuan"])
        cur.execute("INSERT INTO assistance (aid_id, hh_id, campaign_id, programme, kind, amount_yuan, items,"
                    " goods_value_yuan, given_at, giver_unit, funding_source, app_id, receiver_name, receiver_phone,"
                    " receiver_account, receipt_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [aid_id, row["hh_id"], row["campaign_id"], row["programme_name"] or row["programme"], kind,
                     money if kind == "cash" else 0.0, row["items"], 0.0 if kind == "cash" else money, when,
                     unit or row["street_name"] or row["community_name"] or "街道", fund, row["app_id"], who, tel,
                     acct, ref])
        cur.execute("UPDATE applications SET status = ?, given_at = ?, receipt_ref = ? WHERE app_id = ?",
                    [step.target, when, ref, row["app_id"]])
        return _Done(aid_id)

    return str(_take(store, actor, "give", app_id, now=now, note=note, check=cond, write=write)[0])


# --------------------------------------------------------------------------- objections
def object_to(store: Store, actor: Actor, app_id: str, *, content: str, objector: str | None = None,
              now: datetime | None = None) -> str:
    """登记异议: record an objection to an application on notice; return the objection's id.

    ``objector`` is who objected as they gave it (a name, "匿名" or nothing). The application
    stays on notice; the district cannot approve it until the objection is settled."""
    problems: list[Problem] = []
    what = _text(content, "content", problems, _WHERE, required=True)
    who = _text(objector, "objector", problems, _WHERE, required=False, max_len=100, multiline=False)
    if problems:
        raise ValidationError(problems)

    def write(cur: Any, row: dict[str, Any], step: Step, at: datetime) -> _Done:
        n = cur.execute("SELECT count(*) FROM application_objections WHERE app_id = ?", [row["app_id"]]).fetchone()[0]
        oid = f"{row['app_id']}-O{int(n) + 1}"
        cur.execute("INSERT INTO application_objections (objection_id, app_id, raised_at, recorded_by, objector,"
                    " content, status) VALUES (?, ?, ?, ?, ?, ?, 'open')", [oid, row["app_id"], at, actor.name, who, what])
        return _Done(oid, f"异议 {oid}：{what}")

    return str(_take(store, actor, "object", app_id, now=now, note=None, write=write)[0])


def settle(store: Store, actor: Actor, objection_id: str, *, upheld: bool, note: str,
           now: datetime | None = None) -> None:
    """核实异议: dismiss it (不成立: the application stays on notice) or uphold it (成立: the
    application is rejected, the objection's finding its reason). ``note`` says what was found."""
    problems: list[Problem] = []
    found = _text(note, "note", problems, _WHERE, required=True)
    if problems:
        raise ValidationError(problems)
    obj = store.query("SELECT objection_id, app_id, status FROM application_objections WHERE objection_id = ?",
                      [objection_id])
    if obj.empty:
        raise ValidationError([Problem(_WHERE, None, "objection_id", visible(str(objection_id)), "没有这条异议",
                                       "no such objection")])
    app_id = str(obj["app_id"].iloc[0])
    step_name = "uphold" if upheld else "settle"

    def cond(row: dict[str, Any]) -> list[tuple[str, str]]:
        status = store.scalar("SELECT status FROM application_objections WHERE objection_id = ?", [objection_id])
        if status != "open":
            return [(f"异议 {objection_id} 已处理（{model.OBJECTION_STATUSES[str(status)].zh}）",
                     f"objection {objection_id} is already {status}")]
        return []

    def write(cur: Any, row: dict[str, Any], step: Step, at: datetime) -> _Done:
        cur.execute("UPDATE application_objections SET status = ?, settled_at = greatest(?, raised_at),"
                    " settled_by = ?, settlement = ? WHERE objection_id = ?",
                    ["upheld" if upheld else "dismissed", at, actor.name, found, objection_id])
        if upheld:
            cur.execute("UPDATE applications SET status = 'rejected', rejected_reason = ?, decided_at = ?"
                        " WHERE app_id = ?", [f"公示异议成立：{found}", at, row["app_id"]])
            return _Done(note=f"异议 {objection_id} 成立：{found}")
        return _Done(note=f"异议 {objection_id} 不成立：{found}")

    _take(store, actor, step_name, app_id, now=now, note=None, check=cond, write=write)


# --------------------------------------------------------------------------- reading
_LIST_SQL = """
SELECT a.app_id, a.hh_id, h.cell_id, a.unit_code AS community_code, u.name AS community_name, h.head_name,
       h.categories, a.programme, p.name AS programme_name, a.campaign_id, a.amount_yuan::DOUBLE AS amount_yuan,
       a.items, a.reason, a.status, a.applied_at, a.applied_by, a.notice_starts_on, a.notice_ends_on,
       a.notice_contact, a.decided_at, a.given_at, a.receipt_ref, a.rejected_reason,
       (SELECT count(*) FROM application_objections o WHERE o.app_id = a.app_id AND o.status = 'open')
           AS open_objections
FROM applications a
LEFT JOIN households h USING (hh_id)
LEFT JOIN programmes p ON p.code = a.programme
LEFT JOIN admin_units u ON u.code = a.unit_code
WHERE {cond}
ORDER BY a.applied_at DESC, a.app_id
"""


def list_applications(store: Store, actor: Actor, *, status: str | Iterable[str] | None = None,
                      community: str | None = None, programme: str | None = None, campaign_id: str | None = None,
                      limit: int | None = 5000) -> pd.DataFrame:
    """The applications of households in the actor's scope, newest first, masked for the actor.

    Columns ``app_id, hh_id, cell_id, community_code, community_name, head_name, categories,
    programme, programme_name, campaign_id, amount_yuan, items, reason, status, applied_at,
    applied_by, notice_starts_on, notice_ends_on, notice_contact, decided_at, given_at,
    receipt_ref, rejected_reason, open_objections``. An actor that may not see household rows
    gets none (use :func:`status_counts`); names are masked where it may not see them.
    """
    from grid.access import scope_sql

    cond, params = scope_sql(actor.scope, "h.cell_id")
    clauses = [cond]
    if status is not None:
        clauses.append("list_contains(?, a.status)")
        params.append([status] if isinstance(status, str) else list(status))
    for col, value in (("a.unit_code", community), ("a.programme", programme), ("a.campaign_id", campaign_id)):
        if value is not None:
            clauses.append(f"{col} = ?")
            params.append(value)
    sql = _LIST_SQL.format(cond=" AND ".join(clauses))
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    frame = _dates(store.query(sql, params))
    return mask_households(frame, actor).reset_index(drop=True)


def _dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories as lists, notice days as dates (DuckDB's DATE comes back as a timestamp)."""
    frame["categories"] = [[str(c) for c in (v if v is not None else [])] for v in frame["categories"]]
    for col in ("notice_starts_on", "notice_ends_on"):
        frame[col] = pd.Series([None if pd.isna(v) else pd.Timestamp(v).date() for v in frame[col]],
                               index=frame.index, dtype=object)
    return frame


def applicant_households(store: Store, actor: Actor, programme: str | None = None) -> pd.DataFrame:
    """The registered households the actor may apply for (those of its scope it may
    ``apply_assistance`` in), masked for it: ``hh_id, cell_id, address, head_name, categories``;
    with ``programme``, only its target households (every household for a programme without
    targets). Empty for an actor that may not apply."""
    from grid.access import scope_sql

    cols = ["hh_id", "cell_id", "address", "head_name", "categories"]
    if not allowed(actor, "apply_assistance"):
        return pd.DataFrame(columns=cols)
    cond, params = scope_sql(actor.scope, "cell_id")
    targets: list[str] = []
    if programme is not None:
        got = store.scalar("SELECT target_categories FROM programmes WHERE code = ?", [programme])
        targets = [str(c) for c in (got if got is not None else [])]
    if targets:
        cond += " AND list_has_any(categories, ?::TEXT[])"
        params.append(targets)
    frame = store.query(f"SELECT {', '.join(cols)} FROM households WHERE status = 'active' AND cell_id IS NOT NULL"
                        f" AND {cond} ORDER BY hh_id", params)
    frame["categories"] = [[str(c) for c in (v if v is not None else [])] for v in frame["categories"]]
    return mask_households(frame, actor).reset_index(drop=True)


def application_detail(store: Store, actor: Actor, app_id: str) -> dict[str, Any]:
    """One application for ``actor``: ``application`` (a dict, as :func:`list_applications`'s
    rows), ``events`` (``seq, at, by_user, step, from_status, to_status, note``), ``objections``
    (``objection_id, raised_at, recorded_by, objector, content, status, settled_at, settled_by,
    settlement``) and ``steps`` (the :class:`Step` s the actor may take now).

    Raises
    ------
    WarmGridError
        For an application that does not exist or is outside the actor's scope.
    """
    rows = store.query(_LIST_SQL.format(cond="a.app_id = ?"), [app_id])
    cell = None if rows.empty or pd.isna(rows["cell_id"].iloc[0]) else str(rows["cell_id"].iloc[0])
    if rows.empty or cell not in actor.scope or not allowed(actor, "view_households", _resource(cell)):
        raise WarmGridError(f"没有这份申请：{app_id}", f"no such application: {app_id}")
    app = mask_households(_dates(rows), actor).iloc[0].to_dict()
    events = store.query('SELECT seq, "at", by_user, step, from_status, to_status, note FROM application_events'
                         " WHERE app_id = ? ORDER BY seq", [app_id])
    objections = store.query("SELECT objection_id, raised_at, recorded_by, objector, content, status, settled_at,"
                             " settled_by, settlement FROM application_objections WHERE app_id = ?"
                             " ORDER BY raised_at, objection_id", [app_id])
    return {"application": app, "events": events, "objections": objections,
            "steps": steps_for(actor, str(app["status"]), cell)}


def status_counts(store: Store, scope: Scope, *, campaign_id: str | None = None) -> pd.DataFrame:
    """How many applications are in each state, and their amounts, per programme: aggregates of
    the households in ``scope`` (what any role that sees counts may see).

    Columns ``programme, programme_name, status, applications, amount_yuan``, every state of
    :data:`grid.model.APPLICATION_STATUSES` for every programme that has applications.
    """
    from grid.access import scope_sql

    cond, params = scope_sql(scope, "h.cell_id")
    if campaign_id is not None:
        cond += " AND a.campaign_id = ?"
        params.append(campaign_id)
    got = store.query("SELECT a.programme, p.name AS programme_name, a.status, count(*) AS applications,"
                      " sum(a.amount_yuan)::DOUBLE AS amount_yuan FROM applications a"
                      " LEFT JOIN households h USING (hh_id) LEFT JOIN programmes p ON p.code = a.programme"
                      f" WHERE {cond} GROUP BY ALL", params)
    progs = got[["programme", "programme_name"]].drop_duplicates("programme").sort_values("programme")
    grid_ = progs.merge(pd.DataFrame({"status": list(model.APPLICATION_STATUSES)}), how="cross")
    out = grid_.merge(got[["programme", "status", "applications", "amount_yuan"]], on=["programme", "status"],
                      how="left")
    out["applications"] = out["applications"].fillna(0).astype("int64")
    out["amount_yuan"] = out["amount_yuan"].fillna(0.0).astype(float)
    return out.reset_index(drop=True)

