"""The planning page, driven headless as the street committee: the figures it shows are the library's."""

from __future__ import annotations

import ui
from grid.network_plan import communities_in_scope, planning_inputs, regrid_for
from grid.siting import building_candidates, site
from tests.actors import as_role
from tests.apptools import sign_in_demo


def test_committee_sites_new_clinics_and_redraws_a_community(app_db) -> None:
    at = sign_in_demo("committee")
    at.switch_page("views/network.py").run()
    assert not at.exception, at.exception
    store = ui._open(str(app_db))
    street = str(store.scalar("SELECT scope[1] FROM users WHERE username = 'committee'"))
    from grid.access import cells_in_scope

    actor = as_role("committee", cells_in_scope(store, [street]))
    # Straight line, the form's defaults: two new clinics among generated building sites.
    if at.sidebar.radio:
        at.sidebar.radio[0].set_value("straight").run()
    next(b for b in at.button if "求解" in b.label).click().run()
    assert not at.exception, at.exception
    inputs = planning_inputs(store, actor, distance="straight")
    want = site(inputs.households, inputs.stations, building_candidates(inputs.households), "clinic", k=2,
                radius=300.0)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["覆盖困难户 · Covered"] == f"{want.covered_after:,.0f}"
    assert metrics["其中困难户 · Vulnerable out of reach"] == f"{want.what_if['vulnerable_outside_after']:,}"
    text = " ".join(m.value for m in at.markdown).replace("\\", "")  # Markdown escapes (\\+)
    assert want.proposals["sentence"].iloc[0] in text
    # Redraw the first community of the street: the before/after table shows the library's figures.
    code = communities_in_scope(store, actor.scope)["code"].iloc[0]
    next(b for b in at.button if "生成方案" in b.label).click().run()
    assert not at.exception, at.exception
    res = regrid_for(store, actor, code)
    table = next(d.value for d in at.dataframe if "指标" in d.value.columns)
    assert table.set_index("指标").loc["网格数", "方案"] == res.after["cells"]
