"""The committee's campaign page, driven headless: audit figures, a plan made and saved."""

from __future__ import annotations

from pathlib import Path

import ui
from grid import access
from grid.campaigns import audit_campaign, campaign_frames
from grid.planning import plan_setup, suggest_bounds
from tests.actors import EVERYTHING
from tests.actors import OP as EVERYTHING_OP
from tests.apptools import sign_in_demo

ROOT = Path(__file__).resolve().parent.parent


def test_committee_audits_and_plans_its_street(app_db) -> None:
    at = sign_in_demo("committee")
    at.switch_page("views/campaigns.py").run()
    assert not at.exception, at.exception
    store = ui._open(str(app_db))
    street = str(store.scalar("SELECT scope[1] FROM users WHERE username = 'committee'"))
    at.sidebar.selectbox[-2].set_value("C2025W")
    at.sidebar.selectbox[-1].set_value(street).run()
    assert not at.exception, at.exception
    data = campaign_frames(store, "C2025W", street, scope=EVERYTHING)
    au = audit_campaign(data.targets, data.visits, data.assistance)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["对象户 Targets"] == f"{int(au.totals['targets']):,}"
    assert metrics["重复 Duplicates"] == f"{int(au.totals['duplicate_households']):,}"
    # Make a plan for the current campaign in this street, with the suggested bounds and every visitor offered.
    at.sidebar.selectbox[-2].set_value("C2026W").run()
    n_offered, offered = plan_setup(store, EVERYTHING_OP, "C2026W", street)
    # Every candidate visits by default; switched off, each can be chosen (all chosen to begin with).
    everyone = next(t for t in at.toggle if t.label.startswith("走访人 Visitors"))
    assert everyone.value is True and f"全部 {len(offered):,} 名" in everyone.label
    assert not [m for m in at.multiselect if m.label == "走访人 Visitors"]
    lo, hi = suggest_bounds(n_offered, len(offered))
    assert [int(n.value) for n in at.number_input if "per visitor" in n.label] == [lo, hi]
    everyone.set_value(False).run()
    chooser = next(m for m in at.multiselect if m.label == "走访人 Visitors")
    assert sorted(chooser.value) == sorted(offered["visitor_id"])
    chooser.set_value(list(offered["visitor_id"])[:2]).run()
    assert "走访人 2 名" in " ".join(c.value for c in at.caption)
    next(t for t in at.toggle if t.label.startswith("走访人 Visitors")).set_value(True).run()
    next(b for b in at.button if "生成计划" in b.label).click().run()
    assert not at.exception, at.exception
    assert store.count("plans") == 1
    n_targets = len(campaign_frames(store, "C2026W", street, scope=EVERYTHING).targets)
    assert store.count("plan_items") == n_targets
    maps = [e.proto.json_args for e in at.main if type(e).__name__ == "UnknownElement"]
    assert any("L.polyline" in args or "LineString" in args for args in maps)  # the routes are drawn


def test_wardens_and_leaders_have_no_campaign_page() -> None:
    for role in ("warden", "leader"):
        assert not access.allowed(access.Actor("x", role, access.Scope.everything()), "view_page", "campaigns")


def test_the_audit_and_the_plan_are_computed_once_per_data_generation(app_db, monkeypatch) -> None:
    import ui_campaigns
    from grid.planning import load_plan, make_plan, move_household, save_plan

    store = ui._open(str(app_db))
    street = str(store.scalar("SELECT scope[1] FROM users WHERE username = 'committee'"))
    pid = save_plan(store, EVERYTHING_OP, make_plan(store, EVERYTHING_OP, "C2026W", street, min_per=0, max_per=1000))
    calls = {"audit": 0, "points": 0}

    def counted(name: str, real):  # type: ignore[no-untyped-def]
        def f(*a, **k):  # type: ignore[no-untyped-def]
            calls[name] += 1
            return real(*a, **k)
        return f

    monkeypatch.setattr(ui_campaigns, "campaign_frames", counted("audit", ui_campaigns.campaign_frames))
    monkeypatch.setattr(ui_campaigns, "plan_points", counted("points", ui_campaigns.plan_points))
    at = sign_in_demo("committee")
    at.switch_page("views/campaigns.py").run()
    at.sidebar.selectbox[-2].set_value("C2026W")
    at.sidebar.selectbox[-1].set_value(street).run()
    assert not at.exception, at.exception
    seen = dict(calls)
    for _ in range(3):
        at.run()  # a rerun (any click) or a returning visit: nothing recomputed
    assert calls == seen and seen["audit"] >= 1 and seen["points"] >= 1
    # A write makes a new data generation: the page shows it at once.
    plan = load_plan(store, pid)
    hh, to = str(plan.items["hh_id"].iloc[0]), str(plan.visitors["visitor_id"].iloc[-1])
    move_household(store, EVERYTHING_OP, pid, hh, to)
    at.run()
    assert not at.exception, at.exception
    assert calls["audit"] == seen["audit"] + 1 and calls["points"] == seen["points"] + 1
    # The plan's table now lists the household under the visitor it was moved to (named once, with the id).
    rows = [" ".join(map(str, r)) for df in at.dataframe for r in df.value.astype(str).itertuples(index=False)
            if hh in tuple(r) and any(f"（{v}）" in " ".join(map(str, r)) for v in plan.visitors["visitor_id"])]
    assert len(rows) == 1 and f"（{to}）" in rows[0] and rows[0].count(f"（{to}）") == 1, rows


def test_a_household_is_moved_from_one_visitor_to_another_on_the_page(app_db) -> None:
    from grid.planning import load_plan, make_plan, save_plan

    store = ui._open(str(app_db))
    street = str(store.scalar("SELECT scope[1] FROM users WHERE username = 'committee'"))
    pid = save_plan(store, EVERYTHING_OP, make_plan(store, EVERYTHING_OP, "C2026W", street, min_per=0, max_per=1000))
    plan = load_plan(store, pid)
    counts = plan.items["visitor_id"].value_counts()
    frm, to = str(counts.index[0]), str(plan.visitors["visitor_id"][plan.visitors["visitor_id"] != counts.index[0]]
                                       .iloc[-1])
    theirs = plan.items[plan.items["visitor_id"] == frm].sort_values("seq")
    hh = str(theirs["hh_id"].iloc[-1])
    at = sign_in_demo("committee")
    at.switch_page("views/campaigns.py").run()
    at.sidebar.selectbox[-2].set_value("C2026W")
    at.sidebar.selectbox[-1].set_value(street).run()
    at.selectbox(key="plan_pick").set_value(pid).run()
    at.selectbox(key=f"move_from:{pid}").set_value(frm).run()
    assert not at.exception, at.exception
    # Only the chosen visitor's households are offered, in walking order; the visitor is not a target.
    picker = at.selectbox(key=f"move_hh:{pid}:{frm}")
    assert picker.options == [f"{h} · {a}" for h, a in zip(theirs["hh_id"], theirs["address"].astype(str),
                                                             strict=True)]
    assert picker.label == f"住户 Household（{len(theirs):,} 户）"
    targets = at.selectbox(key=f"move_to:{pid}")
    assert frm not in " ".join(targets.options) and len(targets.options) == len(plan.visitors) - 1
    picker.set_value(hh)
    targets.set_value(to)
    at.button(key=f"move:{pid}").click().run()
    assert not at.exception, at.exception
    moved = load_plan(store, pid).items.set_index("hh_id")["visitor_id"]
    before = plan.items.set_index("hh_id")["visitor_id"]
    assert moved[hh] == to and (moved.sort_index() != before.sort_index()).sum() == 1
    assert any("已调整" in t.value and hh in t.value for t in at.toast), [t.value for t in at.toast]
