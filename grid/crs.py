"""Coordinate reference systems: the metric projection, and China's map coordinates.

Stored geometries are WGS84 (EPSG:4326, x = longitude). Distances and areas
are computed in the UTM zone of the district's centroid.

Data arrive in other systems too, and this module converts them:

- **CGCS2000** (EPSG:4490, 国家2000, used by Tianditu) — treated as identical to
  WGS84: the two differ by a few centimetres, far below what a grid map needs.
- **GCJ-02** (火星坐标, used by Amap/Gaode, Tencent and Apple maps in China) —
  WGS84 shifted by the public GCJ-02 algorithm (an offset of a few hundred
  metres computed on the Krasovsky ellipsoid).
- **BD-09** (used by Baidu Maps) — GCJ-02 with Baidu's further offset.
- Any **EPSG** code pyproj knows, e.g. the CGCS2000 3-degree Gauss-Kruger
  projections (EPSG:4534-4554) that surveying offices deliver.

As in every reference implementation of GCJ-02 and BD-09, points outside a
rough rectangle around China (:data:`CHINA_BOX`) are not shifted. The
rectangle includes some sea and neighbouring countries; that matters only
for data outside China, which WarmGrid does not manage.

The inverse conversions (:func:`gcj02_to_wgs84`, :func:`bd09_to_gcj02`) solve
the forward formula by fixed-point iteration, so converting back and forth
reproduces a point to about 1e-8 m (the widely copied one-step GCJ-02
inverse is off by 0.7 m typically and by up to 5 m inside China).

Every converter takes numbers, lists or numpy arrays and returns float numpy
arrays of the broadcast shape of its inputs (0-d arrays for scalars). NaN in
gives NaN out.

Examples
--------
>>> utm_epsg(118.08, 24.48)
'EPSG:32650'
>>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
>>> round(float(lon), 6), round(float(lat), 6)
(116.410244, 39.916404)
>>> lon, lat = gcj02_to_wgs84(lon, lat)
>>> round(float(lon), 9), round(float(lat), 9)
(116.404, 39.915)
>>> parse_crs("高德")
'gcj02'
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import pyproj
from pyproj.exceptions import CRSError

from grid.errors import WarmGridError

__all__ = [
    "WGS84",
    "CHINA_BOX",
    "CRS_CHOICES",
    "utm_epsg",
    "to_metric",
    "in_china_box",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "parse_crs",
    "to_wgs84",
    "from_wgs84",
]

#: The CRS of every stored geometry.
WGS84 = "EPSG:4326"

#: (lon_min, lat_min, lon_max, lat_max) of the rectangle inside which the
#: reference implementations apply the GCJ-02 and BD-09 offsets.
CHINA_BOX: tuple[float, float, float, float] = (72.004, 0.8293, 137.8347, 55.8271)

#: Coordinate systems offered in the app: code -> (Chinese label, English label).
#: :func:`parse_crs` also accepts any EPSG code, e.g. ``"EPSG:4547"``.
CRS_CHOICES: dict[str, tuple[str, str]] = {
    "wgs84": ("WGS84（GPS 原始坐标、奥维、OpenStreetMap）", "WGS84 (raw GPS, OpenStreetMap)"),
    "cgcs2000": ("CGCS2000（国家2000，天地图）", "CGCS2000 (China Geodetic 2000, Tianditu)"),
    "gcj02": ("GCJ-02（火星坐标：高德、腾讯地图）", "GCJ-02 (Amap/Gaode, Tencent maps)"),
    "bd09": ("BD-09（百度地图）", "BD-09 (Baidu Maps)"),
}

# GCJ-02 constants: the Krasovsky 1940 ellipsoid, as in the public algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09 constant.
_X_PI = math.pi * 3000.0 / 180.0

# Fixed-point iteration of the inverses: stop when the forward transform of the
# estimate reproduces the input to _TOL degrees (1e-12 deg is about 0.1 µm).
_TOL = 1e-12
_MAX_ITER = 50


def utm_epsg(lon: float, lat: float) -> str:
    """Return the EPSG code of the UTM zone containing (lon, lat).

    Raises
    ------
    WarmGridError
        If the coordinates are not finite longitude/latitude.
    """
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -84 <= lat <= 84):
        raise WarmGridError(
            f"坐标无效，无法选择投影：经度 {lon}，纬度 {lat}",
            f"invalid coordinates, cannot choose a projection: lon {lon}, lat {lat}",
        )
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


_TRANSFORMERS: dict[str, pyproj.Transformer] = {}


def to_metric(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 longitude/latitude arrays to the metric ``crs``.

    >>> x, y = to_metric(np.array([118.08]), np.array([24.48]), "EPSG:32650")
    >>> round(float(x[0])), round(float(y[0]))
    (609441, 2707798)
    """
    tr = _TRANSFORMERS.get(crs)
    if tr is None:
        tr = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
        _TRANSFORMERS[crs] = tr
    x, y = tr.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


# ---------------------------------------------------------------------------
# GCJ-02 and BD-09
# ---------------------------------------------------------------------------


def _arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Float arrays of the broadcast shape of ``lon`` and ``lat`` (copies)."""
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.array(x, dtype=float), np.array(y, dtype=float)


def in_china_box(lon: Any, lat: Any) -> np.ndarray:
    """Return whether each point lies in :data:`CHINA_BOX` (False for NaN).

    >>> in_china_box([118.08, 2.35], [24.48, 48.86]).tolist()
    [True, False]
    """
    x, y = _arrays(lon, lat)
    x0, y0, x1, y1 = CHINA_BOX
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (degrees of longitude, latitude) at WGS84 (lon, lat)."""
    x = lon - 105.0
    y = lat - 35.0
    xp = x * math.pi
    yp = y * math.pi
    common = (20.0 * np.sin(6.0 * xp) + 20.0 * np.sin(2.0 * xp)) * 2.0 / 3.0
    d_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(yp) + 40.0 * np.sin(yp / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(yp / 12.0) + 320.0 * np.sin(yp / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(xp) + 40.0 * np.sin(xp / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(xp / 12.0) + 300.0 * np.sin(xp / 30.0)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * math.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad) * math.pi)
    return d_lon, d_lat


def _gcj_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d_lon, d_lat = _gcj_offset(lon, lat)
    return lon + d_lon, lat + d_lat


def _bd_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_backward_estimate(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The usual one-step BD-09 -> GCJ-02 formula (off by up to about 0.2 m)."""
    x = lon - 0.0065
    y = lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


_Forward = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _invert(
    forward: _Forward, lon: np.ndarray, lat: np.ndarray, start: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(p) = (lon, lat)`` for p by fixed-point iteration from ``start``.

    Both offsets change by less than 3 % of a step per step, so each
    iteration gains at least a factor 30 in accuracy; a handful reach
    :data:`_TOL`. Iterations are bounded by :data:`_MAX_ITER`.
    """
    x, y = start
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        rx, ry = lon - fx, lat - fy
        x = x + rx
        y = y + ry
        if x.size == 0 or max(float(np.max(np.abs(rx))), float(np.max(np.abs(ry)))) < _TOL:
            break
    return x, y


def _apply_in_box(
    convert: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], lon: Any, lat: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``convert`` to the points in :data:`CHINA_BOX`; keep the others."""
    x, y = _arrays(lon, lat)
    inside = in_china_box(x, y)
    if inside.any():
        cx, cy = convert(x[inside], y[inside])
        x[inside] = cx
        y[inside] = cy
    return x, y


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 to GCJ-02 (火星坐标, Amap/Tencent).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude and latitude in degrees.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        GCJ-02 longitude and latitude, of the broadcast shape of the inputs.
        Points outside :data:`CHINA_BOX` and NaN are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02([116.404, 2.35], [39.915, 48.86])
    >>> lon.round(6).tolist(), lat.round(6).tolist()
    ([116.410244, 2.35], [39.916404, 48.86])
    """
    return _apply_in_box(_gcj_forward, lon, lat)


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to WGS84: the exact inverse of :func:`wgs84_to_gcj02`.

    Solved by fixed-point iteration until :func:`wgs84_to_gcj02` of the result
    reproduces the input to 1e-12 degrees (in practice 3 to 5 iterations).
    Whether a point is shifted is decided on the GCJ-02 input, as in the
    reference implementations.

    >>> lon, lat = gcj02_to_wgs84(116.41024449916938, 39.91640428150164)
    >>> round(float(lon), 10), round(float(lat), 10)
    (116.404, 39.915)
    """

    def convert(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d_lon, d_lat = _gcj_offset(x, y)
        return _invert(_gcj_forward, x, y, (x - d_lon, y - d_lat))

    return _apply_in_box(convert, lon, lat)


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to BD-09 (Baidu Maps).

    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.410369, 39.921337)
    """
    return _apply_in_box(_bd_forward, lon, lat)


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 to GCJ-02: the exact inverse of :func:`gcj02_to_bd09`.

    Starts from the usual one-step formula (up to 0.2 m off) and iterates
    until :func:`gcj02_to_bd09` of the result reproduces the input to 1e-12
    degrees.

    >>> lon, lat = bd09_to_gcj02(116.41036949371029, 39.92133699351021)
    >>> round(float(lon), 10), round(float(lat), 10)
    (116.404, 39.915)
    """

    def convert(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _invert(_bd_forward, x, y, _bd_backward_estimate(x, y))

    return _apply_in_box(convert, lon, lat)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 to BD-09 (through GCJ-02).

    >>> lon, lat = wgs84_to_bd09(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.416627, 39.9227)
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 to WGS84 (through GCJ-02): the exact inverse of :func:`wgs84_to_bd09`.

    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09(118.08, 24.48))
    >>> round(float(lon), 10), round(float(lat), 10)
    (118.08, 24.48)
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# ---------------------------------------------------------------------------
# Naming a coordinate system, and converting to and from WGS84
# ---------------------------------------------------------------------------

# Keys are normalised as in _normalise_name (case-folded, no spaces/dashes/underscores).
_ALIASES: dict[str, str] = {
    **dict.fromkeys(["wgs84", "wgs1984", "wgs", "gps", "地球坐标", "地球坐标系", "gps坐标", "原始坐标"], "wgs84"),
    **dict.fromkeys(
        ["cgcs2000", "cgcs", "国家2000", "2000国家大地坐标系", "国家2000坐标系", "2000坐标系", "天地图", "tianditu"],
        "cgcs2000",
    ),
    **dict.fromkeys(
        ["gcj02", "gcj", "火星坐标", "火星坐标系", "火星", "国测局", "国测局坐标", "国测局坐标系", "高德", "高德地图",
         "腾讯", "腾讯地图", "amap", "gaode", "autonavi", "tencent", "mars"],
        "gcj02",
    ),
    **dict.fromkeys(["bd09", "bd09ll", "bd", "百度", "百度地图", "百度坐标", "百度坐标系", "baidu"], "bd09"),
}

_EPSG_NAMED = {WGS84: "wgs84", "EPSG:4490": "cgcs2000"}
_EPSG_RE = re.compile(r"(?:epsg:?)?(\d{4,6})")


def _normalise_name(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s\-_]+", "", s)


def _unknown_crs(text: object, why_zh: str = "", why_en: str = "") -> WarmGridError:
    choices_zh = "、".join(f"{code}（{zh}）" for code, (zh, _) in CRS_CHOICES.items())
    choices_en = ", ".join(f"{code} ({en})" for code, (_, en) in CRS_CHOICES.items())
    return WarmGridError(
        f"无法识别的坐标系：{text!r}{why_zh}。可用：{choices_zh}，或 pyproj 认识的 EPSG 代码（如 EPSG:4547）。",
        f"unknown coordinate system: {text!r}{why_en}. Accepted: {choices_en}, "
        "or an EPSG code pyproj knows (e.g. EPSG:4547).",
    )


def parse_crs(text: str) -> str:
    """Normalise a user's name for a coordinate system.

    Parameters
    ----------
    text : str
        ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"`` in any case and
        spelling (``"WGS-84"``, ``"GCJ_02"``), Chinese and vendor names
        (``"GPS"``, ``"高德"``, ``"火星坐标"``, ``"腾讯"``, ``"百度"``,
        ``"天地图"``, ``"国家2000"``), or an EPSG code (``"EPSG:4547"``,
        ``"epsg:32650"``, ``"4547"``).

    Returns
    -------
    str
        One of the keys of :data:`CRS_CHOICES`, or ``"EPSG:<code>"``.
        EPSG:4326 is returned as ``"wgs84"`` and EPSG:4490 as ``"cgcs2000"``.

    Raises
    ------
    WarmGridError
        For an unknown name, or an EPSG code that pyproj does not know or that
        is not a geographic or projected (horizontal) system.

    Examples
    --------
    >>> [parse_crs(t) for t in ("GPS", "火星坐标", "百度", "天地图", "epsg:4547")]
    ['wgs84', 'gcj02', 'bd09', 'cgcs2000', 'EPSG:4547']
    """
    if not isinstance(text, str):
        raise _unknown_crs(text)
    key = _normalise_name(text)
    if key in _ALIASES:
        return _ALIASES[key]
    m = _EPSG_RE.fullmatch(key)
    if m is None:
        raise _unknown_crs(text)
    code = f"EPSG:{int(m.group(1))}"
    if code in _EPSG_NAMED:
        return _EPSG_NAMED[code]
    try:
        crs = pyproj.CRS.from_user_input(code)
    except CRSError:
        raise _unknown_crs(text, "（pyproj 不认识此 EPSG 代码）", " (pyproj does not know this EPSG code)") from None
    if not (crs.is_geographic or crs.is_projected):
        raise _unknown_crs(
            text,
            f"（{code} 是{crs.type_name}，不是平面或经纬度坐标系）",
            f" ({code} is a {crs.type_name}, not a geographic or projected system)",
        )
    return code


_PAIR_TRANSFORMERS: dict[tuple[str, str], pyproj.Transformer] = {}


def _transformer(src: str, dst: str) -> pyproj.Transformer:
    tr = _PAIR_TRANSFORMERS.get((src, dst))
    if tr is None:
        tr = pyproj.Transformer.from_crs(src, dst, always_xy=True)
        _PAIR_TRANSFORMERS[(src, dst)] = tr
    return tr


def to_wgs84(x: Any, y: Any, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates in ``crs`` to WGS84 longitude/latitude.

    Parameters
    ----------
    x, y : float or array_like
        Longitude/latitude for geographic systems, easting/northing (metres)
        for projected ones (axis order is always x, y).
    crs : str
        Anything :func:`parse_crs` accepts. ``"cgcs2000"`` (EPSG:4490) is
        treated as identical to WGS84: the two agree to a few centimetres.
        GCJ-02 and BD-09 use the exact inverses above; EPSG codes use pyproj.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        WGS84 longitude and latitude, of the broadcast shape of the inputs.

    Raises
    ------
    WarmGridError
        If ``crs`` is not recognised.

    Examples
    --------
    >>> lon, lat = to_wgs84(609441.0, 2707798.0, "EPSG:32650")
    >>> round(float(lon), 4), round(float(lat), 4)
    (118.08, 24.48)
    """
    code = parse_crs(crs)
    if code in ("wgs84", "cgcs2000"):
        return _arrays(x, y)
    if code == "gcj02":
        return gcj02_to_wgs84(x, y)
    if code == "bd09":
        return bd09_to_wgs84(x, y)
    xs, ys = _arrays(x, y)
    lon, lat = _transformer(code, WGS84).transform(xs, ys)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def from_wgs84(lon: Any, lat: Any, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 longitude/latitude to ``crs`` (the reverse of :func:`to_wgs84`).

    Used for export, e.g. GCJ-02 for Amap users or BD-09 for Baidu users.

    >>> lon, lat = from_wgs84(116.404, 39.915, "高德")
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.410244, 39.916404)
    """
    code = parse_crs(crs)
    if code in ("wgs84", "cgcs2000"):
        return _arrays(lon, lat)
    if code == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if code == "bd09":
        return wgs84_to_bd09(lon, lat)
    xs, ys = _arrays(lon, lat)
    x, y = _transformer(WGS84, code).transform(xs, ys)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
