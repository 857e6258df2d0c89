"""Road lines in every GIS format and coordinate system the importer takes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString

from grid import crs as crs_mod
from grid.ingest import import_file
from tests.actors import OP

#: Two streets crossing at (118.081, 24.481) in WGS84.
A = [(118.080, 24.481), (118.082, 24.481)]
B = [(118.081, 24.480), (118.081, 24.482)]


def _frame(lines: list[list[tuple[float, float]]], crs: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"编号": ["a", "b"], "名称": ["东西路", "南北路"], "等级": ["主干道", "支路"]},
                            geometry=[LineString(c) for c in lines], crs=crs)


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "parquet"])
def test_lines_in_a_projected_cgcs2000_file(fresh_store, tmp_path: Path, fmt: str) -> None:
    """A survey office's CGCS2000 Gauss-Kruger file (EPSG:4547) comes in as WGS84, noded."""
    gdf = _frame([A, B], "EPSG:4326").to_crs("EPSG:4547")
    path = tmp_path / f"roads.{fmt}"
    if fmt == "parquet":
        gdf.to_parquet(path)
    else:
        gdf.to_file(path, encoding="utf-8")
    rep = import_file(fresh_store, OP, "roads", path)
    assert rep.inserted == 2
    got = fresh_store.query("SELECT road_id, name, ST_AsWKB(geom) AS wkb FROM roads ORDER BY road_id")
    assert got["name"].tolist() == ["东西路", "南北路"]
    geoms = shapely.from_wkb([bytes(b) for b in got["wkb"]])
    assert shapely.distance(geoms[0], LineString(A)) < 1e-6
    shared = {tuple(c) for c in geoms[0].coords} & {tuple(c) for c in geoms[1].coords}
    assert len(shared) == 1
    assert np.allclose(next(iter(shared)), (118.081, 24.481), atol=1e-6)


@pytest.mark.parametrize("code", ["gcj02", "bd09"])
def test_lines_from_amap_or_baidu_are_converted(fresh_store, tmp_path: Path, code: str) -> None:
    def shift(c: list[tuple[float, float]]) -> list[tuple[float, float]]:
        lon, lat = crs_mod.from_wgs84(np.array([p[0] for p in c]), np.array([p[1] for p in c]), code)
        return list(zip(np.asarray(lon).tolist(), np.asarray(lat).tolist(), strict=True))

    path = tmp_path / "roads.geojson"
    _frame([shift(A), shift(B)], "EPSG:4326").to_file(path, driver="GeoJSON")
    import_file(fresh_store, OP, "roads", path, crs=code)
    wkb = fresh_store.scalar("SELECT ST_AsWKB(geom) FROM roads WHERE road_id = 'a'")
    line = shapely.from_wkb(bytes(wkb))
    assert shapely.hausdorff_distance(line, LineString(A)) < 2e-7  # within the stored 1e-7 degree precision
