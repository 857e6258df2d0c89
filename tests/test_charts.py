"""The pages' line charts (ui_charts): Vega-Lite specifications written by hand, held to Vega-Lite's own
schema (through Altair, which Streamlit ships) and to the rows they were given."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest

from ui_charts import line_spec


@pytest.mark.parametrize("x", [
    pd.Series([0.0, 0.25, 0.5, 1.0]),
    pd.Series(["2026-09", "2026-10", "2026-11", "2026-12"]),
    pd.Series(pd.to_datetime(["2026-09-01", "2026-10-01", "2026-11-01", "2026-12-01"])),
], ids=["numbers", "months as text", "dates"])
def test_a_line_per_series_in_long_form_and_a_valid_specification(x: pd.Series) -> None:
    frame = pd.DataFrame({"月份 month": x, "总额": [1.0, np.nan, 3.0, 4.0], "现金": [0.5, 0.5, 1.0, 2.0]})
    data, spec = line_spec(frame, x="月份 month", y=["总额", "现金"], x_label="月份", y_label="元 yuan")
    # Every value of every series, once, beside its x; a missing value stays missing (a gap in the line).
    assert len(data) == 2 * len(frame)
    for name in ("总额", "现金"):
        part = data[data["series"] == name]
        assert part["月份 month"].tolist() == frame["月份 month"].tolist()
        np.testing.assert_array_equal(part["value"].to_numpy(), frame[name].to_numpy())
    want = {"numbers": "quantitative", "dates": "temporal"}.get(
        "numbers" if pd.api.types.is_numeric_dtype(x) else "dates" if pd.api.types.is_datetime64_any_dtype(x)
        else "", "ordinal")
    assert spec["encoding"]["x"]["type"] == want
    assert spec["encoding"]["color"]["sort"] == ["总额", "现金"]
    assert (spec["encoding"]["x"]["title"], spec["encoding"]["y"]["title"]) == ("月份", "元 yuan")
    # Vega-Lite's schema accepts it (Altair validates on from_dict and to_dict).
    chart = alt.Chart.from_dict({**spec, "data": {"values": data.astype({"月份 month": str}).to_dict("records")}})
    assert chart.to_dict()["mark"]["type"] == "line"


def test_one_series_has_no_legend() -> None:
    _, spec = line_spec(pd.DataFrame({"k": [0, 1, 2], "覆盖需求": [1, 4, 6]}), x="k", y=["覆盖需求"])
    assert spec["encoding"]["color"]["legend"] is None
    alt.Chart.from_dict({**spec, "data": {"values": []}}).to_dict()
