"""Getis-Ord Gi* hot and cold spots (grid.hotspots)."""

from __future__ import annotations

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from grid.coverage import load_cells
from grid.errors import WarmGridError
from grid.hotspots import CLASSES, HOT_CLASSES, bh_adjust, gi_star, need_help_coldspots, weights
from grid.store import Store

N = 10
CLUSTER = {(r, c) for r in range(1, 4) for c in range(1, 4)}  # 3x3 block of high values


def _cid(r: int, c: int) -> str:
    return f"r{r}c{c}"


@pytest.fixture(scope="module")
def lattice() -> gpd.GeoDataFrame:
    """A 10x10 lattice of unit squares, ids ``r{row}c{col}``."""
    rows = [(_cid(r, c), shapely.box(c, r, c + 1, r + 1)) for r in range(N) for c in range(N)]
    return gpd.GeoDataFrame({"cell_id": [i for i, _ in rows]}, geometry=[g for _, g in rows])


@pytest.fixture(scope="module")
def planted(lattice: gpd.GeoDataFrame) -> pd.Series:
    """Background noise in [1, 3) and a planted cluster of 20s."""
    rng = np.random.default_rng(1)
    values = pd.Series(rng.uniform(1, 3, len(lattice)), index=lattice["cell_id"].to_numpy())
    for r, c in CLUSTER:
        values[_cid(r, c)] = 20.0
    return values


def test_weights_queen_and_knn(lattice: gpd.GeoDataFrame) -> None:
    w = weights(lattice)
    assert list(w.id_order) == lattice["cell_id"].tolist()
    assert w.cardinalities[_cid(0, 0)] == 3 and w.cardinalities[_cid(5, 5)] == 8
    assert w.islands == []
    wk = weights(lattice, kind="knn", k=6)
    assert set(wk.cardinalities.values()) == {6}
    with pytest.raises(WarmGridError):
        weights(lattice, kind="rook")  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_gi_star_equals_esda(lattice: gpd.GeoDataFrame, planted: pd.Series) -> None:
    w = weights(lattice)
    ours = gi_star(planted, w, permutations=99, seed=3)
    ref = esda.G_Local(planted.to_numpy(), w, transform="B", permutations=99, star=True, seed=3, n_jobs=1)
    assert ours["cell_id"].tolist() == lattice["cell_id"].tolist()
    np.testing.assert_array_equal(ours["value"].to_numpy(), planted.to_numpy())
    np.testing.assert_array_equal(ours["z"].to_numpy(), ref.Zs)
    np.testing.assert_array_equal(ours["p_sim"].to_numpy(), ref.p_sim)
    np.testing.assert_array_equal(ours["p_norm"].to_numpy(), ref.p_norm)
    np.testing.assert_array_equal(ours["q"].to_numpy(), bh_adjust(ref.p_sim))
    assert list(ours.columns) == ["cell_id", "value", "z", "p_sim", "p_norm", "q", "class"]


def test_gi_star_reproducible(lattice: gpd.GeoDataFrame, planted: pd.Series) -> None:
    w = weights(lattice)
    a = gi_star(planted, w, permutations=99, seed=7)
    b = gi_star(planted, w, permutations=99, seed=7)
    pd.testing.assert_frame_equal(a, b)
    c = gi_star(planted, w, permutations=99, seed=8)
    assert not np.array_equal(a["p_sim"].to_numpy(), c["p_sim"].to_numpy())


def test_values_aligned_by_cell_id(lattice: gpd.GeoDataFrame, planted: pd.Series) -> None:
    w = weights(lattice)
    shuffled = planted.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(gi_star(shuffled, w, permutations=99), gi_star(planted, w, permutations=99))
    with pytest.raises(WarmGridError):
        gi_star(planted.drop(_cid(0, 0)), w, permutations=99)


def test_planted_cluster_is_hot_and_nothing_far_away(lattice: gpd.GeoDataFrame, planted: pd.Series) -> None:
    # 999 permutations: with 99 the smallest p_sim, 0.01, cannot survive BH over 100 cells at 5 %.
    res = gi_star(planted, weights(lattice), permutations=999, seed=0).set_index("cell_id")
    assert res.loc[_cid(2, 2), "class"] in HOT_CLASSES  # the cluster's centre
    hot = res.index[res["class"].isin(HOT_CLASSES)]
    assert len(hot) >= 5
    for cid in hot:
        r, c = (int(x) for x in cid[1:].split("c"))
        # Within the cluster or its first ring of neighbours.
        assert 0 <= r <= 4 and 0 <= c <= 4, cid
    far = [_cid(r, c) for r in range(6, N) for c in range(N)] + [_cid(r, c) for r in range(N) for c in range(6, N)]
    assert not res.loc[far, "class"].isin(HOT_CLASSES).any()


def test_bh_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.20, np.nan])
    # Sorted (m = 5): 0.005, 0.01, 0.03, 0.04, 0.20 -> p * m / rank:
    # 0.025, 0.025, 0.05, 0.05, 0.20; running minimum from the top leaves them as they are.
    expected = np.array([0.025, 0.05, 0.05, 0.025, 0.20, np.nan])
    np.testing.assert_allclose(bh_adjust(p), expected, rtol=0, atol=1e-15)
    # The running minimum matters: sorted 0.02, 0.029, 0.03 -> 0.06, 0.0435, 0.03 -> all 0.03.
    p2 = np.array([0.029, 0.02, 0.03])
    np.testing.assert_allclose(bh_adjust(p2), [0.03, 0.03, 0.03], atol=1e-15)
    np.testing.assert_allclose(bh_adjust([0.5, 0.9]), [0.9, 0.9], atol=1e-15)


def test_classes_from_q_and_sign(lattice: gpd.GeoDataFrame, planted: pd.Series) -> None:
    res = gi_star(planted, weights(lattice), permutations=999, seed=0, fdr=0.10)
    for _, row in res.iterrows():
        level = 99 if row.q < 0.01 else 95 if row.q < 0.05 else 90 if row.q < 0.10 else None
        if level is None:
            assert row["class"] == "not_significant"
        else:
            assert row["class"] == f"{'hot' if row.z > 0 else 'cold'}_{level}"
    strict = gi_star(planted, weights(lattice), permutations=999, seed=0, fdr=0.05)
    assert not strict["class"].isin(["hot_90", "cold_90"]).any()


def test_island_is_not_classified(lattice: gpd.GeoDataFrame, planted: pd.Series) -> None:
    extra = gpd.GeoDataFrame({"cell_id": ["island"]}, geometry=[shapely.box(50, 50, 51, 51)])
    cells = pd.concat([lattice, extra], ignore_index=True)
    w = weights(cells)
    assert w.islands == ["island"]
    res = gi_star(pd.concat([planted, pd.Series({"island": 2.0})]), w, permutations=99).set_index("cell_id")
    assert res.loc["island", "class"] == "no_neighbours"
    assert np.isnan(res.loc["island", ["z", "p_sim", "p_norm", "q"]].astype(float)).all()


def test_need_help_coldspots(lattice: gpd.GeoDataFrame, planted: pd.Series) -> None:
    w = weights(lattice)
    rng = np.random.default_rng(2)
    measures = pd.DataFrame(
        {"cell_id": planted.index, "need": planted.to_numpy(), "help": rng.uniform(1, 3, len(planted))}
    )
    res = need_help_coldspots(measures, "need", "help", w, permutations=999, seed=0)
    assert len(res) > 0
    assert res["need_class"].isin(HOT_CLASSES).all()
    assert not res["help_class"].isin(HOT_CLASSES).any()
    assert res["need_z"].is_monotonic_decreasing
    # Help planted on the same cluster: no longer a gap there.
    measures["help"] = planted.to_numpy()
    assert need_help_coldspots(measures, "need", "help", w, permutations=999, seed=0).empty


def test_district_households_per_cell(store: Store) -> None:
    cells = load_cells(store, metric=True)
    counts = store.query(
        "SELECT cell_id, count(*) AS households FROM households WHERE cell_id IS NOT NULL GROUP BY cell_id"
    ).set_index("cell_id")["households"]
    values = counts.reindex(cells["cell_id"], fill_value=0).astype(float)
    for kind in ("queen", "knn"):
        res = gi_star(values, weights(cells, kind=kind), permutations=99, seed=0)  # type: ignore[arg-type]
        assert len(res) == len(cells)
        assert set(res["class"]) <= set(CLASSES)
