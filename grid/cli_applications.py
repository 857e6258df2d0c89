"""The command line of assistance by application, budgets and programmes (part of :mod:`grid.cli`).

Commands
--------
applications apply|check|review|notice|approve|give|reject|object|settle
    take a step of an application (:mod:`grid.applications`); an illegal step exits with
    status 1 and says why in Chinese and English
applications list|show
    applications as JSON (``list`` with filters; ``show`` with its events and objections)
applications notice-list
    the public notice list (公示名单) of a community and programme, as A4 PDF or XLSX
applications flags
    the red flags (疑点) of assistance, household by household, as JSON
budgets
    every budget against what is under review, approved and given (JSON); ``--set`` sets one
programmes
    the programmes (JSON); ``--set CODE`` defines or changes one

The actor of every command is the command line's operator (:func:`grid.access.operator`).
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from grid import model

if TYPE_CHECKING:
    from grid.cli import CliIO

__all__ = ["add_parsers", "run_applications", "run_budgets", "run_programmes"]


def add_parsers(sub: Any) -> None:
    """Add ``applications``, ``budgets`` and ``programmes`` to the command line's subparsers."""
    ap = sub.add_parser("applications", help="assistance applications / 救助申请（申请、初审、审核、公示、审批、发放）")
    aps = ap.add_subparsers(dest="applications_command", required=True)

    def step(name: str, help_: str, *, many: bool = True) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = aps.add_parser(name, help=help_)
        if many:
            p.add_argument("app_ids", nargs="+", metavar="APP", help="application ids")
        p.add_argument("--db", required=True)
        return p

    a = step("apply", "apply for a household / 提交申请", many=False)
    a.add_argument("--household", required=True, dest="hh_id")
    a.add_argument("--programme", required=True, help="a programme's code (python -m grid programmes)")
    a.add_argument("--amount", required=True, help="yuan")
    a.add_argument("--reason", required=True, help="申请理由")
    a.add_argument("--campaign", default=None)
    a.add_argument("--items", default=None, help="goods asked for, if any")
    a.add_argument("--json", action="store_true", help="print the new application as JSON")
    for name, what in (("check", "community check / 社区初审"), ("review", "street review / 街道审核"),
                       ("approve", "district approval / 区级审批")):
        step(name, what).add_argument("--note", default=None)
    n = step("notice", "post on public notice / 张榜公示")
    n.add_argument("--days", type=int, default=None, help="days of notice (default: the programme's, 7)")
    n.add_argument("--from", dest="starts_on", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default today)")
    n.add_argument("--contact", default=None, help="where to object (default: the community and street)")
    n.add_argument("--note", default=None)
    g = step("give", "give and record the receipt / 发放", many=False)
    g.add_argument("app_id", metavar="APP")
    g.add_argument("--receipt", required=True, help="the receipt's reference / 签收凭证号")
    g.add_argument("--receiver-name", default=None)
    g.add_argument("--receiver-phone", default=None)
    g.add_argument("--receiver-account", default=None, help="bank account the money went to")
    g.add_argument("--giver-unit", default=None)
    g.add_argument("--funding-source", default=None)
    g.add_argument("--given-at", type=datetime.fromisoformat, default=None, help="YYYY-MM-DD[THH:MM] (default now)")
    g.add_argument("--note", default=None)
    r = step("reject", "reject with a reason / 驳回", many=False)
    r.add_argument("app_id", metavar="APP")
    r.add_argument("--reason", required=True)
    o = step("object", "record an objection / 登记公示异议", many=False)
    o.add_argument("app_id", metavar="APP")
    o.add_argument("--content", required=True)
    o.add_argument("--objector", default=None, help="who objected (a name, 匿名, or nothing)")
    s = step("settle", "settle an objection / 核实异议", many=False)
    s.add_argument("objection_id", metavar="OBJECTION")
    s.add_argument("--outcome", required=True, choices=["dismissed", "upheld"])
    s.add_argument("--note", required=True, help="what was found / 核实情况")
    li = step("list", "list applications (JSON) / 申请列表", many=False)
    li.add_argument("--status", default=None, choices=list(model.APPLICATION_STATUSES))
    li.add_argument("--community", default=None)
    li.add_argument("--programme", default=None)
    li.add_argument("--campaign", default=None)
    li.add_argument("--json", action="store_true", help="print JSON (the default and only format)")
    sh = step("show", "one application with its steps (JSON) / 申请详情", many=False)
    sh.add_argument("app_id", metavar="APP")
    sh.add_argument("--json", action="store_true", help="print JSON (the default and only format)")
    nl = step("notice-list", "the public notice list / 公示名单（A4 PDF 或 XLSX）", many=False)
    nl.add_argument("--community", required=True, help="a 12-digit community code")
    nl.add_argument("--programme", required=True)
    nl.add_argument("--out", required=True, help="FILE.pdf or FILE.xlsx")
    nl.add_argument("--contact", default=None, help="where to object (default: as posted)")
    nl.add_argument("--as-of", type=date.fromisoformat, default=None, help="only notices running on YYYY-MM-DD")
    fl = step("flags", "red flags of assistance (JSON) / 救助核查疑点", many=False)
    fl.add_argument("--campaign", default=None)
    fl.add_argument("--json", action="store_true", help="print JSON (the default and only format)")

    b = sub.add_parser("budgets", help="budgets against what was approved and given / 预算执行")
    b.add_argument("--db", required=True)
    b.add_argument("--campaign", default=None)
    b.add_argument("--json", action="store_true", help="print JSON (the default and only format)")
    b.add_argument("--set", action="store_true", help="set a budget (with --unit, --programme, --amount)")
    b.add_argument("--unit", default=None, help="a 12-digit district, street or community code")
    b.add_argument("--programme", default=None)
    b.add_argument("--amount", default=None, help="yuan")

    p = sub.add_parser("programmes", help="assistance programmes / 救助项目")
    p.add_argument("--db", required=True)
    p.add_argument("--json", action="store_true", help="print JSON (the default and only format)")
    p.add_argument("--set", default=None, metavar="CODE", help="define or change the programme CODE")
    p.add_argument("--name", default=None)
    p.add_argument("--kind", default="cash", choices=list(model.AID_KINDS))
    p.add_argument("--standard", default=None, help="the most per application, yuan (none: no limit)")
    p.add_argument("--targets", nargs="*", default=[], metavar="CATEGORY", choices=list(model.HARDSHIP),
                   help="target hardship categories (none: every household)")
    p.add_argument("--no-approval", action="store_true", help="assistance needs no application")
    p.add_argument("--approval-from", type=date.fromisoformat, default=None,
                   help="YYYY-MM-DD: records given before needed no application")
    p.add_argument("--notice-days", type=int, default=7)
    p.add_argument("--description", default=None)


def _say(io: CliIO, zh: str, en: str) -> None:
    print(f"{zh} · {en}", file=io.stderr)


def _records(frame: Any) -> list[dict[str, Any]]:
    return list(frame.to_dict(orient="records"))


def run_applications(args: argparse.Namespace, io: CliIO) -> int:
    """``python -m grid applications ...``; raises WarmGridError (exit status 1) when refused."""
    from grid import access
    from grid import applications as A
    from grid.cli import to_json

    op = access.operator(io.operator)
    cmd = args.applications_command
    reads = cmd in ("list", "show", "flags")
    with io.open_store(args.db, read_only=reads, create=False) as store:
        if cmd == "apply":
            app_id = A.apply(store, op, hh_id=args.hh_id, programme=args.programme, amount_yuan=args.amount,
                             reason=args.reason, campaign_id=args.campaign, items=args.items)
            if args.json:
                print(to_json(A.application_detail(store, op, app_id)["application"]), file=io.stdout)
            else:
                print(app_id, file=io.stdout)
            _say(io, f"已提交申请 {app_id}", f"application {app_id} made")
        elif cmd in ("check", "review", "approve"):
            getattr(A, cmd)(store, op, args.app_ids, note=args.note)
            step = A.step_of(cmd, {"check": "applied", "review": "community_checked", "approve": "on_notice"}[cmd])
            assert step is not None
            _say(io, f"已完成{step.zh}：{len(args.app_ids)} 份", f"{step.en}: {len(args.app_ids)} application(s)")
        elif cmd == "notice":
            A.notice(store, op, args.app_ids, days=args.days, starts_on=args.starts_on, contact=args.contact,
                     note=args.note)
            _say(io, f"已张榜公示 {len(args.app_ids)} 份", f"{len(args.app_ids)} application(s) on public notice")
        elif cmd == "give":
            aid_id = A.give(store, op, args.app_id, receipt_ref=args.receipt, receiver_name=args.receiver_name,
                            receiver_phone=args.receiver_phone, receiver_account=args.receiver_account,
                            giver_unit=args.giver_unit, funding_source=args.funding_source, given_at=args.given_at,
                            note=args.note)
            print(aid_id, file=io.stdout)
            _say(io, f"已发放，救助记录 {aid_id}", f"given: assistance record {aid_id}")
        elif cmd == "reject":
            A.reject(store, op, args.app_id, reason=args.reason)
            _say(io, f"已驳回 {args.app_id}", f"{args.app_id} rejected")
        elif cmd == "object":
            oid = A.object_to(store, op, args.app_id, content=args.content, objector=args.objector)
            print(oid, file=io.stdout)
            _say(io, f"已登记异议 {oid}", f"objection {oid} recorded")
        elif cmd == "settle":
            A.settle(store, op, args.objection_id, upheld=args.outcome == "upheld", note=args.note)
            _say(io, f"异议 {args.objection_id} 已核实：{'成立，申请已驳回' if args.outcome == 'upheld' else '不成立'}",
                 f"objection {args.objection_id} {args.outcome}")
        elif cmd == "list":
            frame = A.list_applications(store, op, status=args.status, community=args.community,
                                        programme=args.programme, campaign_id=args.campaign, limit=None)
            print(to_json(_records(frame)), file=io.stdout)
        elif cmd == "show":
            d = A.application_detail(store, op, args.app_id)
            print(to_json({"application": d["application"], "events": _records(d["events"]),
                           "objections": _records(d["objections"]), "steps": [s.name for s in d["steps"]]}),
                  file=io.stdout)
        elif cmd == "notice-list":
            from grid.notice import notice_file

            missing = notice_file(store, op, args.community, args.programme, args.out, contact=args.contact,
                                  as_of=args.as_of)
            if missing:
                print(f"字体缺少这些字：{''.join(missing)} · the font lacks these characters", file=io.stderr)
            _say(io, f"已生成 {args.out}", f"written {args.out}")
        elif cmd == "flags":
            from grid.budgets import REASONS, red_flags_for

            flags = red_flags_for(store, op.scope, args.campaign)
            counts = flags["reason"].value_counts()
            print(to_json({"campaign": args.campaign, "flags": len(flags),
                           "by_reason": {r: int(counts.get(r, 0)) for r in REASONS},
                           "households": int(flags["hh_id"].nunique()), "rows": _records(flags)}), file=io.stdout)
    return 0


def run_budgets(args: argparse.Namespace, io: CliIO) -> int:
    """``python -m grid budgets``: print the budgets (JSON), or ``--set`` one."""
    from grid import access
    from grid.budgets import budgets_for, set_budget
    from grid.cli import to_json
    from grid.errors import WarmGridError

    op = access.operator(io.operator)
    if args.set:
        if not (args.unit and args.programme and args.amount is not None):
            raise WarmGridError("设定预算需要 --unit、--programme 和 --amount。",
                                "setting a budget needs --unit, --programme and --amount.")
        with io.open_store(args.db, create=False) as store:
            set_budget(store, op, unit_code=args.unit, programme=args.programme, amount_yuan=args.amount,
                       campaign_id=args.campaign)
        _say(io, f"已设定 {args.unit} 的预算", f"budget of {args.unit} set")
        return 0
    with io.open_store(args.db, read_only=True, create=False) as store:
        frame = budgets_for(store, op.scope, args.campaign)
    print(to_json({"campaign": args.campaign, "budgets": _records(frame)}), file=io.stdout)
    return 0


def run_programmes(args: argparse.Namespace, io: CliIO) -> int:
    """``python -m grid programmes``: print the programmes (JSON), or ``--set CODE`` one."""
    from grid import access
    from grid.budgets import load_programmes, set_programme
    from grid.cli import to_json
    from grid.errors import WarmGridError

    op = access.operator(io.operator)
    if args.set is not None:
        if not args.name:
            raise WarmGridError("设定救助项目需要 --name。", "defining a programme needs --name.")
        with io.open_store(args.db, create=False) as store:
            code = set_programme(store, op, code=args.set, name=args.name, kind=args.kind, standard_yuan=args.standard,
                                 targets=args.targets, needs_approval=not args.no_approval,
                                 approval_from=args.approval_from, notice_days=args.notice_days,
                                 description=args.description)
        _say(io, f"已设定救助项目 {code}", f"programme {code} set")
        return 0
    with io.open_store(args.db, read_only=True, create=False) as store:
        print(to_json(_records(load_programmes(store))), file=io.stdout)
    return 0
