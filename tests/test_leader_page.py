"""The leaders' assistance page: it renders for every role that has it, the
warden cannot reach it, and no figure of a small (suppressed) unit reaches the
map HTML or a download."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from grid import access, labels
from grid.assistance import load_assistance_inputs, measures
from grid.store import open_store
from maps.styled import STYLE_KEY
from tests.apptools import sign_in_demo

ROOT = Path(__file__).resolve().parent.parent
PAGE = "views/leader.py"


def _map_features(at: AppTest) -> list[list[dict[str, Any]]]:
    """The GeoJSON features of each map component on the page (JSON-decoded json_args)."""
    maps: list[list[dict[str, Any]]] = []

    def walk(node: object) -> None:
        if type(node).__name__ == "UnknownElement":
            args = json.loads(getattr(node.proto, "json_args", "") or "{}")  # type: ignore[attr-defined]
            text = json.dumps(args, ensure_ascii=False)
            html = "\n".join(v for v in args.values() if isinstance(v, str))
            dec = json.JSONDecoder()
            feats = []
            for mt in re.finditer(r'\{"geometry":', html):  # folium writes features with sorted keys
                obj, _ = dec.raw_decode(html, mt.start())
                if obj.get("type") == "Feature":
                    feats.append(obj)
            if feats or "leaflet" in text.lower():
                maps.append(feats)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return maps


def _map_text(at: AppTest) -> str:
    parts = []

    def walk(node: object) -> None:
        if type(node).__name__ == "UnknownElement":
            args = json.loads(getattr(node.proto, "json_args", "") or "{}")  # type: ignore[attr-defined]
            parts.append(json.dumps(args, ensure_ascii=False))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def _figures(row: Any) -> set[str]:
    """How a unit's figures could be written: integers and rounded floats, plain and with thousands commas."""
    out: set[str] = set()
    for c in ("total_yuan", "cash_yuan", "per_household", "per_person", "per_vulnerable", "people"):
        v = float(row[c])
        if v != v or v == 0:
            continue
        if v == int(v):
            out |= {f"{int(v)}", f"{int(v):,}"}
        out |= {f"{v:.2f}", f"{v:,.2f}"}
    return {s for s in out if len(s) >= 3}  # short numbers occur everywhere (coordinates, styles)


@pytest.mark.parametrize("role", ["leader", "admin", "committee", "inspector"])
def test_the_page_renders_for_its_roles(app_db, role) -> None:
    assert access.allowed(access.Actor("x", role, access.Scope.everything()), "view_page", "leader")
    at = sign_in_demo(role)
    at.switch_page(PAGE).run()
    assert not at.exception, (role, at.exception)
    assert not at.error, (role, [e.value for e in at.error])
    assert len(_map_features(at)) >= 1
    assert any("基尼" in m.label for m in at.metric)
    assert len(at.get("download_button")) >= 3


def test_the_warden_cannot_reach_it(app_db) -> None:
    assert not access.allowed(access.Actor("x", "warden", access.Scope.everything()), "view_page", "leader")
    at = sign_in_demo("warden")
    direct = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    for name in ("user", "user_seen", "user_fp"):
        direct.session_state[name] = at.session_state[name]
    direct.run()
    assert any("无权查看" in e.value for e in direct.error)
    assert not direct.metric and not _map_features(direct)


def test_no_suppressed_figure_in_the_map(app_db) -> None:
    k = 100
    with open_store(app_db, read_only=True) as s:
        hh, aid = load_assistance_inputs(s)
    by_cell = measures(hh, aid, "cell")
    by_cell = by_cell[by_cell["cell_id"].notna()]
    small = by_cell[by_cell["households"] < k]
    shown = by_cell[by_cell["households"] >= k]
    assert len(small) >= 2 and len(shown) >= 2  # the small district has both kinds at k = 100

    at = sign_in_demo("leader")
    at.switch_page(PAGE).run()
    at.selectbox(key="leader_level").set_value("cell")
    at.selectbox(key="leader_measure").set_value("total_yuan")
    at.number_input(key="leader_k").set_value(k).run()
    assert not at.exception, at.exception

    maps = _map_features(at)
    choropleth = next(feats for feats in maps if feats and "unit" in feats[0]["properties"])
    by_id = {f["properties"]["unit"]: f["properties"] for f in choropleth}
    assert set(by_cell["cell_id"]) <= set(by_id)
    for row in small.itertuples(index=False):
        props = by_id[row.cell_id]
        hidden = f"&lt;{k}"  # "<k", HTML-escaped like every text that reaches the map
        assert props["households"] == hidden and props["value"] == hidden, props
        numbers = {v for key, v in props.items() if key not in ("unit", "name", "_fill", STYLE_KEY)}
        assert set(props.get(STYLE_KEY, {})) <= {"fillColor"}, props  # a style carries a colour, never a figure
        assert numbers == {hidden}, props
    for row in shown.itertuples(index=False):  # the shown units do carry their figures
        assert by_id[row.cell_id]["households"] == f"{row.households:,}"
        assert by_id[row.cell_id]["value"] == f"{row.total_yuan:,.0f}"
    # No figure of a suppressed cell anywhere in any map's HTML (unless a shown cell has the same figure).
    tokens = set(re.findall(r"(?<![\d.,])\d[\d,]*(?:\.\d+)?(?![\d,]|\.\d)", _map_text(at)))
    shown_figs = set().union(*(_figures(r) for _, r in shown.iterrows()))
    for _, row in small.iterrows():
        for fig in _figures(row) - shown_figs:
            assert fig not in tokens, (row["cell_id"], fig)
    # The hot-spot map gives suppressed cells no class either.
    hot = next(feats for feats in maps if feats and "class" in feats[0]["properties"])
    hot_by_id = {f["properties"]["cell_id"]: f["properties"] for f in hot}
    for cid in small["cell_id"]:
        assert hot_by_id[cid]["class"] == f"&lt;{k}"



def test_levels_drill_down_and_campaign(app_db) -> None:
    at = sign_in_demo("leader")
    at.switch_page(PAGE).run()
    street = at.selectbox(key="leader_street").options[1]
    at.selectbox(key="leader_street").set_value(street.split("（")[-1].rstrip("）")).run()
    assert not at.exception, at.exception
    communities = at.selectbox(key="leader_community").options
    assert 1 < len(communities) < 8  # only the street's communities are offered
    at.selectbox(key="leader_campaign").set_value(at.selectbox(key="leader_campaign").options[-1].split("（")[-1]
                                                   .rstrip("）"))
    for level in ("street", "community", "h3:7", "h3:8", "h3:9", "cell"):
        at.selectbox(key="leader_level").set_value(level).run()
        assert not at.exception, (level, at.exception)
        assert _map_features(at), level


def test_hot_spots_and_measures_are_computed_once_per_data_and_settings(app_db, monkeypatch) -> None:
    """A rerun (another k, another level and back) reuses the Gi* and the measures already computed;
    another measure or seed computes Gi* again, once; new data computes again (issue 18 §1)."""
    import grid.assistance
    import grid.hotspots

    calls = {"gi": 0, "measures": 0}
    real_gi, real_measures = grid.hotspots.gi_star, grid.assistance.measures

    def gi(*a: Any, **kw: Any) -> Any:
        calls["gi"] += 1
        return real_gi(*a, **kw)

    def meas(*a: Any, **kw: Any) -> Any:
        calls["measures"] += 1
        return real_measures(*a, **kw)

    monkeypatch.setattr(grid.hotspots, "gi_star", gi)  # the page imports them anew on each run
    monkeypatch.setattr(grid.assistance, "measures", meas)
    import streamlit as st

    st.cache_data.clear()
    at = sign_in_demo("leader")
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert calls == {"gi": 1, "measures": 1}  # at the cell level the choropleth's measures serve Gi* too
    at.number_input(key="leader_k").set_value(7).run()
    at.selectbox(key="leader_level").set_value("street").run()
    assert calls == {"gi": 1, "measures": 2}  # the street level is new; the cells' Gi* is reused
    at.selectbox(key="leader_level").set_value("cell").run()
    assert calls == {"gi": 1, "measures": 2}
    at.selectbox(key="leader_measure").set_value("total_yuan").run()
    assert calls == {"gi": 2, "measures": 2}
    at.number_input(key="leader_seed").set_value(3).run()
    assert calls == {"gi": 3, "measures": 2}
    assert not at.exception, at.exception


def test_no_suppressed_figure_in_the_downloads(app_db, downloads) -> None:
    """The CSV behind every figure: a cell under k households shows "<k", never its numbers."""
    k = 100
    with open_store(app_db, read_only=True) as s:
        hh, aid = load_assistance_inputs(s)
    by_cell = measures(hh, aid, "cell")
    small = by_cell[by_cell["cell_id"].notna() & (by_cell["households"] < k)]
    at = sign_in_demo("leader")
    at.switch_page(PAGE).run()
    at.selectbox(key="leader_level").set_value("cell")
    at.selectbox(key="leader_measure").set_value("total_yuan")
    at.number_input(key="leader_k").set_value(k).run()
    assert not at.exception, at.exception
    got = downloads(at)
    assert len(got) >= 3
    texts = [data.decode("utf-8-sig") for label, data in got if "CSV" in label]  # not the bulletin's files
    total = labels.column("total_yuan")  # the downloads carry Chinese headers (grid.labels)
    choropleth = next(t for t in texts if total in t.splitlines()[0] and labels.column("cell_id") in t.splitlines()[0])
    rows = {line.split(",")[0]: line for line in choropleth.splitlines()[1:]}
    for row in small.itertuples(index=False):
        line = rows[row.cell_id]
        assert f"<{k}" in line
        assert f"{row.total_yuan}" not in line and f"{row.households}," not in line


def test_the_gini_is_explained_and_every_map_has_a_legend(app_db) -> None:
    """Beside the Gini, one sentence says what it means and whether it is high; both maps carry a legend."""
    import numpy as np

    from grid.assistance import gini, gini_sentence

    with open_store(app_db, read_only=True) as s:
        hh, aid = load_assistance_inputs(s)
    by_cell = measures(hh, aid, "cell")
    v = by_cell.loc[by_cell["cell_id"].notna() & (by_cell["households"] >= 5), "per_vulnerable"].astype(float)
    v = v[np.isfinite(v)].to_numpy()
    at = sign_in_demo("leader")
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    (metric,) = [m for m in at.metric if "基尼" in m.label]
    assert metric.value == f"{gini(v):.2f}"
    sentence = gini_sentence(gini(v), len(v), "网格", "困难户户均救助（元）")
    shown = [md.value.replace("\\", "") for md in at.markdown]
    assert sentence in shown
    maps = _map_text(at)
    assert maps.count('<details class=\\"wg-legend\\"') == 2, maps.count("wg-legend")  # one per map


def test_the_first_view_is_computed_when_a_leader_signs_in(app_db, monkeypatch) -> None:
    """Signing in starts the page's first view (whole scope, by cell, 困难户户均救助, seed 0) in the
    background; opening the page then computes nothing more, and shows the same as a fresh computation."""
    import grid.assistance
    import grid.hotspots
    import ui
    import ui_assistance
    from grid import users
    from grid.hotspots import cell_values, gi_star, weights

    calls = {"gi": 0, "measures": 0}
    real_gi, real_measures = grid.hotspots.gi_star, grid.assistance.measures
    monkeypatch.setattr(grid.hotspots, "gi_star", lambda *a, **kw: calls.__setitem__("gi", calls["gi"] + 1)
                        or real_gi(*a, **kw))
    monkeypatch.setattr(grid.assistance, "measures", lambda *a, **kw: calls.__setitem__(
        "measures", calls["measures"] + 1) or real_measures(*a, **kw))
    started = []
    real_prefetch = ui_assistance.prefetch
    monkeypatch.setattr(ui_assistance, "prefetch", lambda store, actor: started.append(real_prefetch(store, actor)))
    at = sign_in_demo("leader")
    assert len(started) == 1 and started[0] is not None
    started[0].result(timeout=120)
    assert calls == {"gi": 1, "measures": 1}
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert calls == {"gi": 1, "measures": 1}  # the page found it done
    # What was computed ahead is what the page's settings ask for.
    store = ui._open(str(app_db))
    leader = access.actor_for(store, users.get_user(store, "leader"))
    cells = ui_assistance.scope_cells(store, leader)
    hh, aid = grid.assistance.load_assistance_inputs(store)
    by_cell = real_measures(*grid.assistance.for_cells(hh, aid, cells), "cell")
    vals = cell_values(by_cell[by_cell["cell_id"].notna()], "per_vulnerable", sorted(cells))
    from grid.coverage import load_cells

    cm = load_cells(store, metric=True)
    gi = gi_star(vals, weights(cm[cm["cell_id"].isin(set(vals.index))], "queen"), permutations=999, seed=0)
    got_vals, got_gi = ui_assistance.hotspots(store, None, cells, "per_vulnerable", 0, cm)
    import pandas as pd

    pd.testing.assert_series_equal(got_vals, vals)
    pd.testing.assert_frame_equal(got_gi, gi)


def test_no_prefetch_for_whom_may_not_see_the_page(app_db) -> None:
    import ui
    import ui_assistance
    from grid import users

    store = ui._open(str(app_db))
    warden = access.actor_for(store, users.get_user(store, "warden"))
    assert not access.allowed(warden, "view_page", "leader")
    assert ui_assistance.prefetch(store, warden) is None


def test_signing_in_does_not_import_esda() -> None:
    """Signing in starts the assistance page's first view in the background (``ui_assistance.prefetch``):
    importing what that needs must not import esda and libpysal (1.5 s), which the sign-in click would
    wait for; they load in the worker when Gi* is first computed."""
    import subprocess
    import sys

    code = "import sys, ui_assistance, grid.hotspots; print(sorted({'esda', 'libpysal'} & set(sys.modules)))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.stdout.split() == ["[]"], res.stdout
