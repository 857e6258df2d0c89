"""Coordinate reference systems: the metric projection used for distances.

Stored geometries are WGS84 (EPSG:4326, x = longitude). Distances and areas
are computed in the UTM zone of the district's centroid.

Examples
--------
>>> utm_epsg(118.08, 24.48)
'EPSG:32650'
"""

from __future__ import annotations

import math

import numpy as np
import pyproj

from grid.errors import WarmGridError

__all__ = ["WGS84", "utm_epsg", "to_metric"]

#: The CRS of every stored geometry.
WGS84 = "EPSG:4326"


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
