"""GCJ-02 / BD-09 conversions against published vectors, exact round trips, EPSG path, parse_crs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from grid import crs
from grid.crs import (
    CRS_CHOICES,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    parse_crs,
    to_metric,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from grid.errors import WarmGridError

_R = 6371008.8  # mean Earth radius (m)


def _metres(lon1: object, lat1: object, lon2: object, lat2: object) -> np.ndarray:
    """Haversine distance in metres (NaN where an input is NaN)."""
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dl = np.radians(np.asarray(lon2, float) - np.asarray(lon1, float))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _R * np.arcsin(np.sqrt(a))


# ---------------------------------------------------------------------------
# Reference vectors from independent implementations, as (lon, lat) pairs.
# ---------------------------------------------------------------------------

# googollee/eviltransform, python/test.py and go/transform_test.go, TESTS
# (published there as wgsLat, wgsLng, gcjLat, gcjLng; reordered to lon, lat).
EVILTRANSFORM_WGS_GCJ = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]

# wandergis/coordtransform README.md ("result" block of the usage example).
WANDERGIS_WGS_GCJ = [((116.404, 39.915), (116.41024449916938, 39.91640428150164))]
WANDERGIS_GCJ_BD = [((116.404, 39.915), (116.41036949371029, 39.92133699351021))]
# ...and its one-step inverses (approximate by construction: see test below).
WANDERGIS_BD_GCJ_ONE_STEP = [((116.404, 39.915), (116.39762729119315, 39.90865673957631))]
WANDERGIS_GCJ_WGS_ONE_STEP = [((116.404, 39.915), (116.39775550083061, 39.91359571849836))]

# dromara/hutool, hutool-core/src/test/java/cn/hutool/core/util/CoordinateUtilTest.java,
# wgs84toBd09Test2 (the value there is attributed to https://tool.lu/coordinate/).
HUTOOL_WGS_BD = [((122.99395597, 44.99804071), (123.00636516028885, 45.00636909189589))]

# hujiulong/gcoord, test/fixtures/china-cities.json: WGS84, GCJ02, BD09 of city
# centres across China (7 decimals). Its GCJ-02 <-> BD-09 pairs follow the BD-09
# formula to < 1 cm. Its WGS84 column is consistently ~0.47 m west and ~0.47 m
# south of what the published GCJ-02 algorithm gives (0.64-0.69 m in all),
# i.e. it comes from a source that differs from the algorithm by that much; the
# same shift appears in the "api" value of the R package's tests. So those pairs
# are checked to 1 m, and the algorithm itself against the vectors above.
GCOORD_CITIES = {
    # name: (WGS84, GCJ02, BD09)
    "驻马店 Zhumadian": ((114.0164322, 33.0133556), (114.022306, 33.0115324), (114.0287781, 33.0176697)),
    "那曲 Nagqu": ((92.0499619, 31.4784436), (92.0512438, 31.4762063), (92.0576832, 31.4824421)),
    "酒泉 Jiuquan": ((98.4937175, 39.7319946), (98.4943595, 39.7328234), (98.5008441, 39.7388949)),
    "锡林浩特 Xilinhot": ((116.0414035, 43.9312805), (116.0482308, 43.9334573), (116.0546232, 43.9397782)),
    "沈阳 Shenyang": ((123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013)),
    "钦州 Qinzhou": ((108.6503952, 21.9828281), (108.6541485, 21.9799392), (108.6607283, 21.9856319)),
    "汕头 Shantou": ((116.6775114, 23.3567569), (116.6819735, 23.3540964), (116.6885014, 23.3598884)),
    "西昌 Xichang": ((102.2658401, 27.8850446), (102.2673386, 27.8816151), (102.2738428, 27.8876621)),
    "泉州 Quanzhou": ((118.6711365, 24.8770487), (118.6756787, 24.8741363), (118.6821251, 24.8804872)),
    "金昌 Jinchang": ((102.1860478, 38.5196469), (102.1880474, 38.5200925), (102.194653, 38.5258128)),
    "邯郸 Handan": ((114.533216, 36.6255626), (114.5389684, 36.6256603), (114.5455966, 36.6313231)),
    "毕节 Bijie": ((105.2884121, 27.2873271), (105.2916458, 27.2839591), (105.2982343, 27.2896767)),
}

WGS_GCJ = EVILTRANSFORM_WGS_GCJ + WANDERGIS_WGS_GCJ


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ)
def test_wgs84_to_gcj02_matches_published_vectors(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = wgs84_to_gcj02(*wgs)
    assert _metres(lon, lat, *gcj) < 0.5
    # They were produced with the same formula, so they agree to float precision.
    assert abs(float(lon) - gcj[0]) < 1e-9 and abs(float(lat) - gcj[1]) < 1e-9


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ)
def test_gcj02_to_wgs84_recovers_published_vectors(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = gcj02_to_wgs84(*gcj)
    assert _metres(lon, lat, *wgs) < 1e-3


@pytest.mark.parametrize(("gcj", "bd"), WANDERGIS_GCJ_BD)
def test_gcj02_to_bd09_matches_published_vectors(gcj: tuple[float, float], bd: tuple[float, float]) -> None:
    assert _metres(*gcj02_to_bd09(*gcj), *bd) < 1e-3
    assert _metres(*bd09_to_gcj02(*bd), *gcj) < 1e-3


@pytest.mark.parametrize(("wgs", "bd"), HUTOOL_WGS_BD)
def test_wgs84_to_bd09_matches_published_vectors(wgs: tuple[float, float], bd: tuple[float, float]) -> None:
    assert _metres(*wgs84_to_bd09(*wgs), *bd) < 1e-3
    assert _metres(*bd09_to_wgs84(*bd), *wgs) < 1e-3


@pytest.mark.parametrize(
    ("convert", "src", "approx"),
    [(bd09_to_gcj02, *WANDERGIS_BD_GCJ_ONE_STEP[0]), (gcj02_to_wgs84, *WANDERGIS_GCJ_WGS_ONE_STEP[0])],
)
def test_exact_inverses_stay_close_to_one_step_reference(convert, src, approx) -> None:  # type: ignore[no-untyped-def]
    # The reference inverses are one-step approximations; the exact inverse
    # differs from them, but by less than their error.
    d = float(_metres(*convert(*src), *approx))
    assert 1e-3 < d < 0.5


@pytest.mark.parametrize("name", sorted(GCOORD_CITIES))
def test_gcoord_cities(name: str) -> None:
    wgs, gcj, bd = GCOORD_CITIES[name]
    assert _metres(*gcj02_to_bd09(*gcj), *bd) < 0.05
    assert _metres(*bd09_to_gcj02(*bd), *gcj) < 0.05
    assert _metres(*wgs84_to_gcj02(*wgs), *gcj) < 1.0
    assert _metres(*bd09_to_wgs84(*bd), *wgs) < 1.0


def test_gcoord_wgs84_column_is_shifted_consistently() -> None:
    # The documented ~0.67 m shift is the same everywhere (not noise in our code).
    wgs = np.array([v[0] for v in GCOORD_CITIES.values()])
    gcj = np.array([v[1] for v in GCOORD_CITIES.values()])
    d = _metres(*wgs84_to_gcj02(wgs[:, 0], wgs[:, 1]), gcj[:, 0], gcj[:, 1])
    assert 0.6 < d.min() and d.max() < 0.72


# ---------------------------------------------------------------------------
# Round trips over China
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def china_grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.arange(73.0, 135.01, 0.37), np.arange(18.0, 53.51, 0.29))
    return lon.ravel(), lat.ravel()


PAIRS = [
    (wgs84_to_gcj02, gcj02_to_wgs84),
    (gcj02_to_bd09, bd09_to_gcj02),
    (wgs84_to_bd09, bd09_to_wgs84),
]


@pytest.mark.parametrize(("forward", "inverse"), PAIRS, ids=["gcj02", "bd09", "wgs84-bd09"])
def test_round_trips_are_exact(forward, inverse, china_grid) -> None:  # type: ignore[no-untyped-def]
    lon, lat = china_grid
    assert lon.size > 10_000
    fwd = forward(lon, lat)
    # The offset is real (hundreds of metres) ...
    assert _metres(*fwd, lon, lat).min() > 10
    # ... and both compositions reproduce the input to a micrometre.
    assert _metres(*inverse(*fwd), lon, lat).max() < 1e-6
    assert _metres(*forward(*inverse(lon, lat)), lon, lat).max() < 1e-6


def test_inverse_beats_the_one_step_formula(china_grid) -> None:  # type: ignore[no-untyped-def]
    lon, lat = china_grid
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    d_lon, d_lat = crs._gcj_offset(g_lon, g_lat)
    one_step = _metres(g_lon - d_lon, g_lat - d_lat, lon, lat)
    exact = _metres(*gcj02_to_wgs84(g_lon, g_lat), lon, lat)
    assert one_step.max() > 1.0 > 1e-6 > exact.max()


# ---------------------------------------------------------------------------
# Outside China, shapes, NaN
# ---------------------------------------------------------------------------

ALL = [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84]

OUTSIDE = [
    (2.3522, 48.8566),  # Paris
    (139.6917, 35.6895),  # Tokyo: east of the box
    (-74.006, 40.7128),  # New York
    (151.2093, -33.8688),  # Sydney
    (0.0, 0.0),
    (100.0, 0.5),  # south of the box
    (71.9, 40.0),  # west of the box
    (120.0, 56.0),  # north of the box
]


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_points_outside_china_are_untouched(fn) -> None:  # type: ignore[no-untyped-def]
    lon = np.array([p[0] for p in OUTSIDE])
    lat = np.array([p[1] for p in OUTSIDE])
    out_lon, out_lat = fn(lon, lat)
    np.testing.assert_array_equal(out_lon, lon)
    np.testing.assert_array_equal(out_lat, lat)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_shapes_follow_the_inputs(fn) -> None:  # type: ignore[no-untyped-def]
    lon, lat = fn(118.08, 24.48)
    assert isinstance(lon, np.ndarray) and lon.shape == () and lat.shape == ()
    lon, lat = fn([118.08, 118.1], [24.48, 24.5])
    assert lon.shape == (2,) and lat.shape == (2,)
    grid_lon = np.full((2, 3), 118.08)
    lon, lat = fn(grid_lon, 24.48)  # broadcast
    assert lon.shape == (2, 3) and lat.shape == (2, 3)
    assert lat.dtype == np.float64
    lon, lat = fn(np.array([]), np.array([]))
    assert lon.shape == (0,)
    # Elements agree with scalar calls, and inputs are not modified.
    arr = np.array([118.08, 116.4])
    before = arr.copy()
    v_lon, v_lat = fn(arr, np.array([24.48, 39.9]))
    s_lon, s_lat = fn(116.4, 39.9)
    assert v_lon[1] == s_lon and v_lat[1] == s_lat
    np.testing.assert_array_equal(arr, before)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_nan_in_nan_out(fn) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lon, lat = fn([np.nan, 118.08, 118.08], [24.48, np.nan, 24.48])
        assert np.isnan(lon[0]) and np.isnan(lat[1])
        assert np.isfinite(lon[2]) and np.isfinite(lat[2])
        ref_lon, ref_lat = fn(118.08, 24.48)
        assert lon[2] == ref_lon and lat[2] == ref_lat
        lon, lat = fn(np.full(3, np.nan), np.full(3, np.nan))
        assert np.isnan(lon).all() and np.isnan(lat).all()


# ---------------------------------------------------------------------------
# to_wgs84 / from_wgs84
# ---------------------------------------------------------------------------

XIAMEN = (np.array([118.08, 118.15, 117.9]), np.array([24.48, 24.52, 24.6]))


@pytest.mark.parametrize("name", ["EPSG:32650", "EPSG:4547", "epsg:4548", "3857", "EPSG:4490"])
def test_epsg_round_trip(name: str) -> None:
    lon, lat = XIAMEN
    x, y = from_wgs84(lon, lat, name)
    back = to_wgs84(x, y, name)
    assert _metres(*back, lon, lat).max() < 1e-6


def test_epsg_agrees_with_to_metric_and_known_values() -> None:
    lon, lat = XIAMEN
    x, y = from_wgs84(lon, lat, "EPSG:32650")
    mx, my = to_metric(lon, lat, "EPSG:32650")
    np.testing.assert_allclose(x, mx)
    np.testing.assert_allclose(y, my)
    # CGCS2000 / 3-degree Gauss-Kruger CM 114E: false easting 500 km on the meridian.
    x, y = from_wgs84(114.0, 23.0, "EPSG:4547")
    assert abs(float(x) - 500_000.0) < 1e-6 and 2_500_000 < float(y) < 2_600_000
    lon2, lat2 = to_wgs84(float(x), float(y), "4547")
    assert abs(float(lon2) - 114.0) < 1e-9 and abs(float(lat2) - 23.0) < 1e-9


@pytest.mark.parametrize("name", ["wgs84", "cgcs2000", "EPSG:4326", "国家2000"])
def test_wgs84_and_cgcs2000_are_identity(name: str) -> None:
    lon, lat = XIAMEN
    out_lon, out_lat = to_wgs84(lon, lat, name)
    np.testing.assert_array_equal(out_lon, lon)
    np.testing.assert_array_equal(out_lat, lat)
    out_lon, out_lat = from_wgs84(lon, lat, name)
    np.testing.assert_array_equal(out_lon, lon)


def test_named_systems_dispatch() -> None:
    lon, lat = XIAMEN
    np.testing.assert_array_equal(from_wgs84(lon, lat, "高德")[0], wgs84_to_gcj02(lon, lat)[0])
    np.testing.assert_array_equal(from_wgs84(lon, lat, "BD-09")[1], wgs84_to_bd09(lon, lat)[1])
    g = wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(to_wgs84(*g, "火星坐标")[0], gcj02_to_wgs84(*g)[0])
    b = wgs84_to_bd09(lon, lat)
    assert _metres(*to_wgs84(*b, "百度"), lon, lat).max() < 1e-6


def test_to_wgs84_refuses_unknown_crs() -> None:
    with pytest.raises(WarmGridError):
        to_wgs84(1.0, 2.0, "mercator-ish")


# ---------------------------------------------------------------------------
# parse_crs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wgs84", "wgs84"), ("WGS-84", "wgs84"), ("WGS 84", "wgs84"), ("GPS", "wgs84"), ("gps", "wgs84"),
        ("EPSG:4326", "wgs84"), ("4326", "wgs84"), ("地球坐标", "wgs84"),
        ("cgcs2000", "cgcs2000"), ("CGCS2000", "cgcs2000"), ("CGCS-2000", "cgcs2000"), ("天地图", "cgcs2000"),
        ("国家2000", "cgcs2000"), ("EPSG:4490", "cgcs2000"),
        ("gcj02", "gcj02"), ("GCJ-02", "gcj02"), ("gcj_02", "gcj02"), ("高德", "gcj02"), ("高德地图", "gcj02"),
        ("火星坐标", "gcj02"), ("国测局", "gcj02"), ("腾讯", "gcj02"), ("Amap", "gcj02"),
        ("bd09", "bd09"), ("BD-09", "bd09"), ("bd09ll", "bd09"), ("百度", "bd09"), ("百度地图", "bd09"),
        ("Baidu", "bd09"),
        ("EPSG:4547", "EPSG:4547"), ("epsg:4547", "EPSG:4547"), ("4547", "EPSG:4547"), (" EPSG: 4547 ", "EPSG:4547"),
        ("epsg:32650", "EPSG:32650"), ("ＥＰＳＧ：４５４９", "EPSG:4549"),  # full-width
    ],
)
def test_parse_crs_accepts(text: str, expected: str) -> None:
    assert parse_crs(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "  ", "xyz", "mars2", "bd09mc", "百度墨卡托", "EPSG:99999", "EPSG:1234", "EPSG:5773", "EPSG:", "4547a", None, 4547],
)
def test_parse_crs_refuses(text: object) -> None:
    with pytest.raises(WarmGridError) as info:
        parse_crs(text)  # type: ignore[arg-type]
    err = info.value
    for code in CRS_CHOICES:
        assert code in err.zh and code in err.en
    assert "坐标系" in err.zh and "EPSG" in err.zh and "EPSG" in err.en


def test_parse_crs_says_why_an_epsg_code_is_refused() -> None:
    with pytest.raises(WarmGridError, match="does not know"):
        parse_crs("EPSG:99999")
    with pytest.raises(WarmGridError, match="not a geographic or projected"):
        parse_crs("EPSG:5773")  # EGM96 height: vertical


def test_crs_choices_have_both_labels() -> None:
    assert set(CRS_CHOICES) == {"wgs84", "cgcs2000", "gcj02", "bd09"}
    for code, (zh, en) in CRS_CHOICES.items():
        assert zh and en and parse_crs(code) == code
