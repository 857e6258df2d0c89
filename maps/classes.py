"""Colour classes of a choropleth whose legend never runs into itself.

Quantile breaks of real data tie (many units with the same value) and, printed to two
decimals, distinct breaks can read the same ("0.99 – 0.99" twice). :func:`classify` makes
classes a reader can tell apart:

* the upper bounds are the quantiles of the shown values, with equal quantiles merged
  (tied data gives fewer classes, never an empty or repeated one);
* they are printed at the fewest decimals that keep every printed bound distinct, starting
  from what the spread of the values calls for (whole yuan for amounts in the hundreds, two
  decimals for ratios near 1) — and, should even six more decimals not separate two bounds,
  the classes they close are merged;
* values are classed against the printed bounds (a value shown as 570 is never in the
  class "200 – 570" while 570.4 is), the lowest bound is rounded down and the highest up,
  so every value lies inside the range its class prints;
* a share (a fraction in [0, 1]) keeps fixed fifths printed as percentages.

Pure numbers in, numbers and strings out: no folium here.

Examples
--------
>>> c = classify([0.985, 0.986, 0.9902, 0.9903, 0.9948, 0.9949, 1.02], k=5)
>>> c.labels()
['0.985 – 0.987', '0.987 – 0.99', '0.99 – 0.993', '0.993 – 0.995', '0.995 – 1.02']
>>> classify([1, 1, 1, 1, 2, 3]).labels()
['1', '1 – 2', '2 – 3']
>>> classify([200.0, 570.06, 633.58, 1650.0], k=2).labels()
['200 – 602', '602 – 1,650']
>>> classify([0.1, 0.5], share=True).labels()[:2]
['0% – 20%', '20% – 40%']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Classes", "classify", "bounds_text", "SHARE_BOUNDS"]

#: The fixed classes of a share: fifths.
SHARE_BOUNDS: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0)
#: How many decimals beyond the spread's own may be added to separate two bounds.
_EXTRA_DECIMALS = 6
#: The most decimals the spread may ask for: values closer than this are one value on a legend
#: (a spread of 1e-300 would otherwise ask for 300 decimals, which round to nothing).
_MAX_START_DECIMALS = 9


@dataclass(frozen=True)
class Classes:
    """Choropleth classes: ``lower`` and the strictly increasing ``uppers`` as printed.

    Class ``i`` holds the values ``v`` with ``uppers[i-1] < v <= uppers[i]`` (the first:
    ``lower <= v <= uppers[0]``), compared at ``decimals`` decimals.
    """

    lower: float
    uppers: tuple[float, ...]
    decimals: int
    share: bool = False

    def __len__(self) -> int:
        return len(self.uppers)

    def fmt(self, value: float) -> str:
        """A bound as the legend prints it: thousands separators, the classes' decimals
        (trailing zeros dropped), or a percentage for a share."""
        if self.share:
            return f"{value * 100:.0f}%"
        text = f"{value:,.{self.decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text == "-0" else text

    def labels(self) -> list[str]:
        """One label per class: ``"lo – hi"``, or one number for a class of a single value."""
        if not self.uppers:
            return []
        out = []
        lows = (self.lower, *self.uppers[:-1])
        for lo, hi in zip(lows, self.uppers, strict=True):
            a, b = self.fmt(lo), self.fmt(hi)
            out.append(a if a == b else f"{a} – {b}")
        return out

    def index(self, value: float | None) -> int | None:
        """The class of ``value`` (``None`` for a missing value or when there are no classes)."""
        if value is None or not np.isfinite(value) or not self.uppers:
            return None
        v = float(value) if self.share else round(float(value), self.decimals)
        for i, hi in enumerate(self.uppers):
            if v <= hi:
                return i
        return len(self.uppers) - 1


def _start_decimals(span: float, scale: float) -> int:
    """Decimals that the spread of the values calls for: two significant figures of it."""
    ref = span if span > 0 else abs(scale)
    if ref <= 0 or not np.isfinite(ref):
        return 0
    return min(_MAX_START_DECIMALS, max(0, 1 - math.floor(math.log10(ref))))


def _round(x: np.ndarray, d: int) -> np.ndarray:
    return np.round(np.asarray(x, dtype=float), d)


def classify(values: Iterable[float] | np.ndarray, k: int = 5, share: bool = False) -> Classes:
    """Classes of ``values`` (NaN ignored): at most ``k`` quantile classes, or fifths for a share.

    Parameters
    ----------
    values : array-like of float
        The values that will be shown (hidden units left out by the caller).
    k : int
        The most classes wanted (the legend may have fewer when values tie).
    share : bool
        The values are fractions: fixed fifths, printed as percentages.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    v = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    v = v[np.isfinite(v)]
    if share:
        return Classes(lower=0.0, uppers=SHARE_BOUNDS[:k], decimals=2, share=True)
    if len(v) == 0:
        return Classes(lower=0.0, uppers=(), decimals=0)
    lo, hi = float(v.min()), float(v.max())
    qs = np.unique(np.quantile(v, np.linspace(0, 1, k + 1)[1:]))
    start = _start_decimals(hi - lo, hi)
    for d in range(start, start + _EXTRA_DECIMALS + 1):
        printed = _round(qs, d)
        if len(printed) < 2 or bool(np.all(np.diff(printed) > 0)):
            break
    uppers: list[float] = []
    for b in printed:
        if not uppers or b > uppers[-1]:
            uppers.append(float(b))
    step = 10.0 ** -d
    top = math.ceil(round(hi / step, 6)) * step
    uppers[-1] = max(uppers[-1], round(top, d))
    bottom = round(math.floor(round(lo / step, 6)) * step, d)
    return Classes(lower=bottom, uppers=tuple(uppers), decimals=d)


def bounds_text(classes: Classes) -> Sequence[str]:
    """The printed bounds, lowest first (for tests and tables)."""
    return [classes.fmt(classes.lower), *(classes.fmt(u) for u in classes.uppers)]
