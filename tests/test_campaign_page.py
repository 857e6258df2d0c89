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
    chooser = next(m for m in at.multiselect if m.label == "走访人 Visitors")
    assert sorted(chooser.value) == sorted(offered["visitor_id"])
    lo, hi = suggest_bounds(n_offered, len(offered))
    assert [int(n.value) for n in at.number_input if "per visitor" in n.label] == [lo, hi]
    next(b for b in at.button if "生成计划" in b.label).click().run()
    assert not at.exception, at.exception
    assert store.count("plans") == 1
    n_targets = len(campaign_frames(store, "C2026W", street, scope=EVERYTHING).targets)
    assert store.count("plan_items") == n_targets
    maps = [e.proto.json_args for e in at.main if type(e).__name__ == "UnknownElement"]
    assert any("L.polyline" in args for args in maps)  # the routes are drawn


def test_wardens_and_leaders_have_no_campaign_page() -> None:
    for role in ("warden", "leader"):
        assert not access.allowed(access.Actor("x", role, access.Scope.everything()), "view_page", "campaigns")
