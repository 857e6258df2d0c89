"""Line charts as Vega-Lite specifications, drawn by ``st.vega_lite_chart`` (no Altair on the server).

``st.line_chart`` builds an Altair chart and validates it against Vega-Lite's JSON schema on
every run: about half a second per chart at this product's sizes (the assistance page draws
two, on every change of level or measure). The specification below is what such a chart
needs -- the series folded into long form, one coloured line each, the axes titled -- written
as a plain dict, so a rerun costs what serialising the rows costs.

Examples
--------
>>> import pandas as pd
>>> data, spec = line_spec(pd.DataFrame({"k": [0, 1], "覆盖需求": [3.0, 5.0]}), x="k", y=["覆盖需求"],
...                        x_label="新增站点数", y_label="覆盖需求")
>>> data.columns.tolist(), spec["encoding"]["x"]["type"], spec["encoding"]["y"]["title"]
(['k', 'series', 'value'], 'quantitative', '覆盖需求')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

__all__ = ["line_chart", "line_spec"]


def _x_type(values: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(values):
        return "temporal"
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "quantitative"
    return "ordinal"


def line_spec(frame: pd.DataFrame, *, x: str, y: Sequence[str], x_label: str | None = None,
              y_label: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows in long form (``x``, ``series``, ``value``) and the Vega-Lite specification of one line
    per column of ``y`` against ``x``, in the order of ``y``; missing values leave a gap."""
    long = frame.melt(id_vars=[x], value_vars=list(y), var_name="series", value_name="value")
    spec = {
        "mark": {"type": "line", "tooltip": True},
        "encoding": {
            "x": {"field": x, "type": _x_type(frame[x]), "title": x_label if x_label is not None else x},
            "y": {"field": "value", "type": "quantitative", "title": y_label if y_label is not None else ""},
            "color": {"field": "series", "type": "nominal", "title": None, "sort": list(y),
                      "legend": {"orient": "bottom"} if len(y) > 1 else None},
        },
    }
    return long, spec


def line_chart(frame: pd.DataFrame, *, x: str, y: Sequence[str], x_label: str | None = None,
               y_label: str | None = None) -> None:
    """Draw :func:`line_spec` across the page's width."""
    data, spec = line_spec(frame, x=x, y=y, x_label=x_label, y_label=y_label)
    st.vega_lite_chart(data, spec, width="stretch")
