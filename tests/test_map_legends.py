"""Choropleth legends a leader can read: classes whose printed bounds are distinct and strictly
increasing even for tied data, every value inside the class it is coloured by, units named on
hover (escaped), the hot-spot legend counting its cells, and the Gini said in one sentence."""

from __future__ import annotations

import html
import json
import re

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as hs

from grid.assistance import GINI_LEVELS, gini_level, gini_sentence
from maps.assistance import HOTSPOT_COLOURS, assistance_map, hotspot_map
from maps.classes import bounds_text, classify


def _num(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


def _check_classes(values: list[float]) -> None:
    c = classify(values)
    printed = [_num(t) for t in bounds_text(c)]
    uppers = printed[1:]
    assert all(b > a for a, b in zip(uppers, uppers[1:], strict=False)), bounds_text(c)
    assert printed[0] <= uppers[0]
    labels = c.labels()
    assert len(set(labels)) == len(labels) == len(c)
    # Every value is inside the printed range of the class it is put in, and above the class below.
    for v in values:
        i = c.index(v)
        assert i is not None
        shown = round(v, c.decimals)
        assert printed[i] <= shown <= uppers[i] + 1e-12, (v, i, bounds_text(c))
        if i > 0:
            assert shown > printed[i], (v, i, bounds_text(c))


# --------------------------------------------------------------------------- classes
def test_the_issues_case_no_longer_prints_the_same_bound_twice() -> None:
    """Ratios near 1 gave "0.99 – 0.99" twice at two decimals."""
    ratios = [0.9851, 0.9866, 0.9874, 0.9902, 0.9906, 0.9911, 0.9948, 0.9952, 1.0013, 1.0207]
    c = classify(ratios)
    assert len(set(bounds_text(c))) == len(bounds_text(c))
    assert "0.99 – 0.99" not in c.labels()
    _check_classes(ratios)


def test_values_a_hair_apart_are_one_class_not_a_nan_bound() -> None:
    """Found by hypothesis: 0 and 3.2e-308 asked for 315 decimals, and the top bound printed "nan"."""
    c = classify([0.0, 3.213884502663593e-308])
    assert bounds_text(c) == ["0", "0"] and c.labels() == ["0"]
    _check_classes([0.0, 3.213884502663593e-308])
    _check_classes([1.0, 1.0 + 1e-12, 2.0])


def test_ties_merge_classes_instead_of_repeating_them() -> None:
    values = [500.0] * 40 + [650.0] * 10 + [1000.0]
    c = classify(values)
    assert c.labels() == ["500", "500 – 650", "650 – 1,000"]
    _check_classes(values)
    assert classify([7.0] * 12).labels() == ["7"]
    assert classify([]).labels() == [] and classify([np.nan]).labels() == []


def test_amounts_print_in_whole_yuan_and_shares_in_fifths() -> None:
    c = classify([200.0, 570.06, 633.58, 692.97, 766.63, 1650.0])
    assert all("." not in t for t in bounds_text(c)), c.labels()
    assert c.labels()[-1].endswith("1,650")
    assert classify([0.05, 0.5, 0.95], share=True).labels() == [
        "0% – 20%", "20% – 40%", "40% – 60%", "60% – 80%", "80% – 100%"]


@settings(max_examples=200, deadline=None)
@given(hs.lists(hs.sampled_from([0.0, 0.5, 0.99, 0.991, 0.9912, 1.0, 3.0, 250.0, 250.4, 1e4]), min_size=1,
                max_size=40),
       hs.lists(hs.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=20))
def test_printed_bounds_are_always_distinct_and_increasing(ties: list[float], free: list[float]) -> None:
    _check_classes(ties + free)


# --------------------------------------------------------------------------- maps
def _squares(n: int) -> list[shapely.Polygon]:
    return [shapely.box(118.0 + 0.01 * i, 24.4, 118.01 + 0.01 * i, 24.41) for i in range(n)]


def _features(page: str) -> list[dict[str, object]]:
    """The GeoJSON features in a rendered map (folium writes them as JSON with sorted keys)."""
    dec = json.JSONDecoder()
    out = []
    for mt in re.finditer(r'\{"geometry":', page):
        obj, _ = dec.raw_decode(page, mt.start())
        if obj.get("type") == "Feature":
            out.append(obj["properties"])
    return out


def _legend_texts(m: object) -> list[str]:
    page = m.get_root().render()  # type: ignore[attr-defined]
    block = re.search(r"<details class=\"wg-legend\".*?</details>", page, re.S)
    assert block, "the map has no legend"
    items = re.findall(r"</span>\s*(.*?)</div>", block.group(0), re.S)
    return [html.unescape(t.strip()) for t in items]


def test_the_choropleth_legend_and_tooltips() -> None:
    names = ["<b>甲</b>社区", "乙社区", "丙社区", "丁社区", "戊社区", "己社区"]
    units = gpd.GeoDataFrame({"community_code": [f"35020300100{i}" for i in range(6)], "name": names,
                              "households": [50, 60, 70, 80, 90, 3],
                              "ratio": [0.9851, 0.9902, 0.9906, 0.9948, 1.0207, 0.5]},
                             geometry=_squares(6), crs="EPSG:4326")
    m = assistance_map(units, "ratio", "救助占比 / 困难户占比", k=5, unit_label="社区")
    legend = _legend_texts(m)
    classes = [t for t in legend if "–" in t and "户" not in t]
    assert len(set(classes)) == len(classes) >= 3
    assert any("<5" in t for t in legend)  # the hidden unit's class
    page = m.get_root().render()
    # The tooltip names the unit first (as 社区), and the name is escaped on the server.
    assert re.search(r'let fields = \["name", "unit", "households", "value"\];', page)
    assert re.search(r'let aliases = \["\\u793e\\u533a", ', page)  # "社区"
    props = {p["unit"]: p for p in _features(page)}
    assert props["350203001000"]["name"] == "&lt;b&gt;甲&lt;/b&gt;社区"
    assert [props[f"35020300100{i}"]["name"] for i in range(1, 6)] == names[1:]


def test_a_hexagon_is_named_after_the_community_at_its_centre() -> None:
    cell = h3.latlng_to_cell(24.405, 118.005, 9)
    units = gpd.GeoDataFrame({"h3_cell": [cell], "households": [40], "total_yuan": [1000.0]},
                             geometry=[None], crs="EPSG:4326")
    places = gpd.GeoDataFrame({"name": ["<i>镇海</i>社区"]}, geometry=_squares(1), crs="EPSG:4326")
    page = assistance_map(units, "total_yuan", "救助总额（元）", unit_label="六边形", places=places).get_root().render()
    (props,) = _features(page)
    assert props["name"] == "&lt;i&gt;镇海&lt;/i&gt;社区一带" and props["unit"] == cell
    bare = assistance_map(units, "total_yuan", "救助总额（元）", unit_label="六边形").get_root().render()
    assert _features(bare)[0]["name"] == cell  # without communities a hexagon is known by its id


def test_the_hotspot_legend_counts_the_classes_it_shows() -> None:
    cells = gpd.GeoDataFrame({"cell_id": [f"c{i}" for i in range(5)], "name": [f"第{i}网格" for i in range(5)],
                              "households": [40, 40, 40, 40, 2]}, geometry=_squares(5), crs="EPSG:4326")
    gi = pd.DataFrame({"cell_id": ["c0", "c1", "c2", "c3", "c4"],
                       "class": ["hot_95", "hot_95", "not_significant", "cold_99", "hot_99"]})
    legend = _legend_texts(hotspot_map(cells, gi, "困难户户均救助", k=5))
    assert "热点（95% 置信）：2 个网格 · hot spot (95 % confidence)" in legend
    assert "冷点（99% 置信）：1 个网格 · cold spot (99 % confidence)" in legend
    assert "不显著：1 个网格 · not significant" in legend
    assert not any(t.startswith("热点（99%") for t in legend)  # c4 is hidden (<5 households): no class shown
    assert not any("90%" in t for t in legend)  # classes the map does not have are not listed
    assert set(HOTSPOT_COLOURS) >= {"hot_95", "cold_99"}


# --------------------------------------------------------------------------- Gini
@pytest.mark.parametrize(("g", "reading", "high"), [
    (0.071, "高度平均", False), (0.0, "高度平均", False), (0.199, "比较平均", False), (0.25, "比较平均", False),
    (0.35, "相对合理", False), (0.45, "差距较大", True), (0.62, "差距悬殊", True)])
def test_the_gini_reading(g: float, reading: str, high: bool) -> None:
    assert gini_level(g) == (reading, high)
    text = gini_sentence(g, 124, "网格", "困难户户均救助（元）")
    assert text.startswith(f"基尼系数 {g:.2f}：") and f"属于{reading}" in text
    assert "124 个网格" in text and "困难户户均救助" in text and "（元）" not in text
    # The thresholds used are stated in the sentence itself.
    for lower, name, _ in GINI_LEVELS[1:]:
        assert f"{lower:g}" in text and name in text
    assert ("偏高" in text) == high
    assert text.count("。") == 1 and text.endswith("。")


def test_the_gini_sentence_when_there_is_nothing_to_compare() -> None:
    assert "无法计算" in gini_sentence(float("nan"), 0, "社区", "救助总额（元）")
    assert "无法计算" in gini_sentence(0.3, 1, "街道", "救助总额（元）")
