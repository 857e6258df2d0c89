"""Every map builder escapes the text it is given, on the server (folium's tooltips, popups and
Leaflet's layer control insert text as HTML): built from a database whose every free-text
column starts with a payload, no map's HTML holds a payload raw — only escaped. And no text is
evaluated as a template (branca compiled rendered map text as Jinja2 again: maps/rendered.py):
template payloads come out as written."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date

import pytest

from grid import coverage
from grid.access import Scope
from grid.assistance import load_assistance_inputs, measures
from grid.campaigns import audit_campaign, campaign_frames, list_campaigns
from grid.hotspots import cell_values, gi_star, weights
from grid.planning import make_plan, plan_points
from grid.store import Store, open_store
from grid.visits import warden_households
from maps.assistance import assistance_map, hotspot_map
from maps.overview import overview_map
from maps.plan import audit_map, plan_map
from maps.warden import warden_map
from tests.actors import EVERYTHING, OP, as_warden
from tests.hostile import HTML_PAYLOADS, TEMPLATE_EVALUATED, TEMPLATE_PAYLOADS, seed

#: What must never appear in a map's HTML: the payloads' markup, raw (inside JSON too).
RAW = ("<img src=x", "<script>window", "<svg onload", 'onerror="window')


@pytest.fixture(scope="module")
def hostile(district_file, tmp_path_factory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("maps") / "m.duckdb"
    shutil.copyfile(district_file[0], path)
    s = open_store(path)
    seed(s, HTML_PAYLOADS + TEMPLATE_PAYLOADS)
    yield s
    s.close()


def _html(m: object) -> str:
    return m.get_root().render()  # type: ignore[attr-defined,no-any-return]


def _check(html: str) -> None:
    # folium writes its data as JSON with <, > and & as \u003c, \u003e, \u0026: undo that first, or a raw
    # payload in the data would go unseen.
    text = html.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&").replace('\\"', '"')
    for raw in RAW:
        assert raw not in text, raw
    assert "&lt;img src=x" in text or "&lt;svg" in text or "&lt;script&gt;" in text, "the payloads reached the map"
    for evaluated in TEMPLATE_EVALUATED:
        assert evaluated not in text, f"a name was evaluated as a template: {evaluated}"
    assert "{{ lipsum.__name__ }}" in text or "{% if true %}WG{% endif %}-IF" in text, "template payloads reached it"


def test_the_overview_maps(hostile: Store) -> None:
    ov = coverage.overview(hostile, "clinic", scope=EVERYTHING)
    _check(_html(overview_map(ov, "share_outside", all_station_types=True)))
    _check(_html(overview_map(ov, "households", counts_only=True)))


def test_the_warden_map(hostile: Store) -> None:
    cells = sorted(hostile.query("SELECT cell_id FROM cells ORDER BY cell_id LIMIT 3")["cell_id"])
    actor = as_warden(cells)
    shown = warden_households(hostile, actor, date(2026, 11, 20))
    shown["label"] = shown["address"].astype(str) + " · " + shown["head_name"].fillna("").astype(str)
    cell_gdf = Scope.of_cells(cells).restrict(coverage.load_cells(hostile))
    _check(_html(warden_map(cell_gdf, shown, coverage.load_stations(hostile), coverage.load_patrol_areas(hostile))))


def test_the_campaign_maps(hostile: Store) -> None:
    campaign = str(list_campaigns(hostile)["campaign_id"].iloc[0])
    area = str(hostile.scalar("SELECT code FROM admin_units WHERE level = 'street' ORDER BY code LIMIT 1"))
    cells = coverage.load_cells(hostile)
    plan = make_plan(hostile, OP, campaign, area, min_per=0, max_per=1000)
    items = plan_points(hostile, plan).assign(label=lambda d: d["address"])
    _check(_html(plan_map(cells, items, plan.visitors, f"{plan.campaign_name} · {plan.area_name}")))
    data = campaign_frames(hostile, campaign, area, scope=EVERYTHING)
    au = audit_campaign(data.targets, data.visits, data.assistance)
    pos = data.targets[["hh_id", "lon", "lat"]].set_index("hh_id")
    om = au.omissions.join(pos, on="hh_id").assign(reason=lambda d: d["zh"])
    du = au.duplicates.join(pos, on="hh_id").assign(reason=lambda d: d["zh"])
    _check(_html(audit_map(cells, om, du, f"{data.campaign['name']}：遗漏")))


def test_the_assistance_maps(hostile: Store) -> None:
    hh, aid = load_assistance_inputs(hostile)
    by_cell = measures(hh, aid, "cell")
    by_cell = by_cell[by_cell["cell_id"].notna()]
    cells = coverage.load_cells(hostile)
    units = cells.merge(by_cell, on="cell_id")
    _check(_html(assistance_map(units, "total_yuan", "救助总额（元）", k=5, unit_label="网格")))
    vals = cell_values(by_cell, "total_yuan", cells["cell_id"])
    metric = coverage.load_cells(hostile, metric=True)
    gi = gi_star(vals, weights(metric[metric["cell_id"].isin(set(vals.index))]), permutations=99, seed=1)
    _check(_html(hotspot_map(cells.assign(households=10), gi, "救助总额")))
