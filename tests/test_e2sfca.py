"""E2SFCA against a hand-worked example and a plain loop over its two steps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from grid.e2sfca import BANDS, band_weight, cell_access, e2sfca


def test_a_hand_worked_example() -> None:
    """Four demand points on a line (2, 1, 1 and 3 vulnerable households at 0, 400, 800 and 2,000 m) and
    two stations (capacity 2 at 0 m, 1 at 900 m).

    Step 1: R1 = 2 / (2×1.00 + 1×0.68 + 1×0.22) = 2 / 2.9;  R2 = 1 / (2×0.22 + 1×0.68 + 1×1.00) = 1 / 2.12.
    Step 2: A = R1 + 0.22 R2 at 0 m; 0.68 (R1 + R2) at 400 m; 0.22 R1 + R2 at 800 m; nothing at 2,000 m.
    """
    dem = np.array([[0.0, 0.0], [400.0, 0.0], [800.0, 0.0], [2000.0, 0.0]])
    P = np.array([2.0, 1.0, 1.0, 3.0])
    sup = np.array([[0.0, 0.0], [900.0, 0.0]])
    S = np.array([2.0, 1.0])
    A, R = e2sfca(dem, P, sup, S)
    r1, r2 = 2 / 2.9, 1 / 2.12
    np.testing.assert_allclose(R, [r1, r2])
    np.testing.assert_allclose(A, [r1 + 0.22 * r2, 0.68 * (r1 + r2), 0.22 * r1 + r2, 0.0])
    # Every unit of supply with demand in reach is shared out: sum of P * A is the supply.
    assert float((P * A).sum()) == pytest.approx(3.0)


def test_equals_a_plain_loop_over_the_two_steps() -> None:
    rng = np.random.default_rng(2)
    dem = rng.uniform(0, 3000, (60, 2))
    P = rng.integers(1, 5, 60).astype(float)
    sup = rng.uniform(0, 3000, (7, 2))
    S = rng.integers(1, 4, 7).astype(float)
    A, R = e2sfca(dem, P, sup, S)
    d = np.hypot(*(dem[:, None, :] - sup[None, :, :]).transpose(2, 0, 1))
    R2 = np.zeros(7)
    for j in range(7):
        den = sum(band_weight(d[i, j]) * P[i] for i in range(60))
        R2[j] = S[j] / den if den > 0 else 0.0
    A2 = np.array([sum(band_weight(d[i, j]) * R2[j] for j in range(7)) for i in range(60)])
    np.testing.assert_allclose(R, R2)
    np.testing.assert_allclose(A, A2)


def test_equals_pysal_access_on_the_same_cost_table() -> None:
    """The ``access`` package (PySAL) computes E2SFCA from a table of every origin-destination cost."""
    from access import Access, weights

    rng = np.random.default_rng(7)
    dem = rng.uniform(0, 2500, (80, 2))
    P = rng.integers(1, 6, 80).astype(float)
    sup = rng.uniform(0, 2500, (9, 2))
    S = rng.integers(1, 5, 9).astype(float)
    A, _R = e2sfca(dem, P, sup, S)
    d = np.hypot(*(dem[:, None, :] - sup[None, :, :]).transpose(2, 0, 1))
    cost = pd.DataFrame({"origin": np.repeat(np.arange(80), 9), "dest": np.tile(np.arange(9), 80),
                         "cost": d.reshape(-1)})
    acc = Access(demand_df=pd.DataFrame({"id": np.arange(80), "P": P}), demand_index="id", demand_value="P",
                 supply_df=pd.DataFrame({"id": np.arange(9), "S": S}), supply_index="id", supply_value="S",
                 cost_df=cost, cost_origin="origin", cost_dest="dest", cost_name="cost")
    got = acc.enhanced_two_stage_fca(name="e2sfca", cost="cost", max_cost=1000.0,
                                     weight_fn=weights.step_fn({u: w for u, w in BANDS}))
    theirs = got.iloc[:, 0].reindex(np.arange(80)).fillna(0.0).to_numpy(dtype=float)
    np.testing.assert_allclose(A, theirs, rtol=1e-9, atol=1e-12)


def test_bands_follow_the_life_circles() -> None:
    assert [b[0] for b in BANDS] == [300.0, 500.0, 1000.0]
    assert band_weight([300.0, 300.0001, 1000.0, 1000.0001]).tolist() == [1.0, 0.68, 0.22, 0.0]


def test_cells_are_ranked_scarcest_first() -> None:
    hh = pd.DataFrame({"hh_id": list("abcdef"), "cell_id": ["c1", "c1", "c2", "c2", "c3", "c3"],
                       "x_m": [0.0, 0.0, 400.0, 400.0, 5000.0, 5000.0], "y_m": 0.0,
                       "vulnerable": [True, True, True, False, True, False], "community_code": "x"})
    st = pd.DataFrame({"station_id": ["s"], "type": ["clinic"], "x_m": [0.0], "y_m": [0.0], "capacity": [None]})
    out = cell_access(hh, st, "clinic")
    r = 1 / (2 * 1.0 + 1 * 0.68)
    got = out.set_index("cell_id")
    assert got.loc["c1", "access"] == pytest.approx(r)
    assert got.loc["c2", "access"] == pytest.approx(0.68 * r)
    assert got.loc["c3", "access"] == 0.0 and got.loc["c3", "reachable"] == 0
    assert out["cell_id"].tolist() == ["c3", "c2", "c1"] and out["rank"].tolist() == [1, 2, 3]


def test_the_command_line_per_cell(district_file, capsys) -> None:
    from grid.cli import main

    assert main(["access2sfca", "--db", str(district_file[0]), "--station-type", "clinic", "--distance", "straight",
                 "--supply", "count", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    cells = pd.DataFrame(doc["cells"])
    assert doc["bands"][0] == {"upto_m": 300.0, "weight": 1.0}
    assert cells["rank"].tolist() == list(range(1, len(cells) + 1))
    # Each station's one unit of supply is shared out among the vulnerable households it reaches.
    total = float((cells["access"].fillna(0) * cells["vulnerable"]).sum())
    from grid.coverage import load_stations
    from grid.store import open_store

    with open_store(district_file[0], read_only=True) as s:
        n = int((load_stations(s)["type"] == "clinic").sum())
    assert 0 < total <= n + 1e-6
