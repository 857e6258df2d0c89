"""The bulletin's pictures, drawn offline with matplotlib (no tiles, no network): a map of the
unit's communities shaded by the coverage of their vulnerable households, and a bar chart of the
same coverage and the needs' resolution rate by community.

Both are PNG bytes (150 dpi, no timestamp in the file, so the same figures give the same bytes)
with Chinese labels in Noto Sans CJK SC. :func:`bulletin_figures` returns them as
:class:`~grid.bulletin_text.Figure` for :func:`grid.bulletin_text.compose`.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pandas as pd

from grid.bulletin_text import Figure, rate

if TYPE_CHECKING:
    from grid.reports import Bulletin

__all__ = ["coverage_map", "coverage_chart", "bulletin_figures"]

_FONT = ["Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
_DPI = 150


def _fonts() -> list[str]:
    """The families of :data:`_FONT` installed here (matplotlib warns about each one missing)."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in _FONT if f in have] or ["DejaVu Sans"]


def _rc() -> Any:
    return {"font.family": _fonts(), "axes.unicode_minus": False, "text.parse_math": False, "svg.hashsalt": "warmgrid",
            "figure.dpi": _DPI, "savefig.dpi": _DPI}


def _printable(text: object) -> str:
    """A name as a label: without control characters (which have no glyph); mathtext is off (``_rc``)."""
    return "".join(ch for ch in str(text) if ch.isprintable())


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
    return buf.getvalue()


def _ratio(png: bytes) -> float:
    import struct

    w, h = struct.unpack(">II", png[16:24])  # the PNG's IHDR
    return h / w


def coverage_map(shapes: Any, by_community: pd.DataFrame, title: str) -> bytes | None:
    """A map of the communities shaded by 困难户走访覆盖率, each labelled with its name and rate.

    ``shapes`` is a GeoDataFrame (WGS84) with ``community_code`` and ``geometry``; ``by_community``
    the bulletin's per-community frame. ``None`` when there is nothing to draw.
    """
    if shapes is None or len(shapes) == 0:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colors

    g = shapes.merge(by_community[["community_code", "community_name", "coverage", "vulnerable"]],
                     on="community_code", how="left").to_crs("EPSG:32650")
    g["value"] = pd.to_numeric(g["coverage"], errors="coerce")
    with matplotlib.rc_context(_rc()):
        minx, miny, maxx, maxy = g.total_bounds
        aspect = (maxy - miny) / max(maxx - minx, 1.0)
        width = 6.2
        fig, ax = plt.subplots(figsize=(width, min(max(width * aspect, 3.0), 7.5)))
        cmap = plt.get_cmap("RdYlGn")
        norm = colors.Normalize(vmin=0.0, vmax=1.0)
        has = g["value"].notna()
        g[has].plot(ax=ax, column="value", cmap=cmap, norm=norm, edgecolor="#555555", linewidth=0.6)
        if (~has).any():
            g[~has].plot(ax=ax, color="#dddddd", edgecolor="#555555", linewidth=0.6, hatch="//")
        if "street_code" in g.columns and g["street_code"].nunique() > 1:
            g.dissolve("street_code").boundary.plot(ax=ax, color="#222222", linewidth=1.4)
        for r in g.itertuples(index=False):
            p = r.geometry.representative_point()
            ax.annotate(f"{_printable(r.community_name)}\n{rate(r.value) if pd.notna(r.value) else '无困难户'}", (p.x, p.y),
                        ha="center", va="center", fontsize=7.5, color="#111111",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
        ax.set_axis_off()
        ax.set_aspect("equal")
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        bar = fig.colorbar(sm, ax=ax, fraction=0.035, pad=0.02, format=lambda v, _: f"{v * 100:.0f}%")
        bar.set_label("困难户走访覆盖率", fontsize=8)
        bar.ax.tick_params(labelsize=7)
        # a scale bar of a round length, about a fifth of the width
        span = maxx - minx
        length = next((v for v in (100, 200, 500, 1000, 2000, 5000, 10000) if v >= span / 5), 10000)
        x0, y0 = minx + span * 0.03, miny + (maxy - miny) * 0.03
        ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=2)
        ax.text(x0 + length / 2, y0 + (maxy - miny) * 0.015, f"{length:,} 米" if length < 1000 else
                f"{length // 1000} 千米", ha="center", va="bottom", fontsize=7)
        return _png(fig)


def coverage_chart(by_community: pd.DataFrame, title: str) -> bytes | None:
    """Horizontal bars of 困难户走访覆盖率 and 诉求办结率 by community (lowest coverage at the top)."""
    frame = by_community[by_community["vulnerable"] > 0]
    if len(frame) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    frame = frame.assign(_c=frame["coverage"].astype(float)).sort_values(["_c", "community_code"],
                                                                          ascending=[False, True])
    cov = frame["_c"].to_numpy()
    res = pd.to_numeric(frame["resolution_rate"], errors="coerce").to_numpy(dtype=float)
    names = [_printable(n) for n in frame["community_name"]]
    with matplotlib.rc_context(_rc()):
        fig, ax = plt.subplots(figsize=(6.2, 0.42 * len(frame) + 1.1))
        y = np.arange(len(frame))
        ax.barh(y - 0.2, cov * 100, height=0.38, color="#2b8a3e", label="困难户走访覆盖率")
        ax.barh(y + 0.2, np.nan_to_num(res) * 100, height=0.38, color="#1971c2", label="诉求办结率")
        for i, (c, r) in enumerate(zip(cov, res, strict=True)):
            ax.text(c * 100 + 1, i - 0.2, f"{c * 100:.1f}%", va="center", fontsize=7)
            ax.text((0 if np.isnan(r) else r * 100) + 1, i + 0.2, "无诉求" if np.isnan(r) else f"{r * 100:.1f}%",
                    va="center", fontsize=7)
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 112)
        ax.set_xticks([0, 20, 40, 60, 80, 100], ["0", "20%", "40%", "60%", "80%", "100%"], fontsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7.5, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
        return _png(fig)


def bulletin_figures(b: Bulletin) -> list[Figure]:
    """图1 the coverage map and 图2 the chart of the bulletin (those that can be drawn)."""
    out: list[Figure] = []
    png = coverage_map(b.shapes, b.by_community, f"{b.unit_name}各社区困难户走访覆盖率")
    if png is not None:
        out.append(Figure(f"图{len(out) + 1}　{b.unit_name}各社区困难户走访覆盖率", png, _ratio(png)))
    png = coverage_chart(b.by_community, "各社区困难户走访覆盖率和诉求办结率")
    if png is not None:
        out.append(Figure(f"图{len(out) + 1}　各社区困难户走访覆盖率和诉求办结率", png, _ratio(png)))
    return out
