"""Reading zips (grid.sources): every member name is checked before anything is
extracted, extraction stays in a private temporary folder and under a size
limit, and a zipped GBK Shapefile is read with the same encoding detection as a
loose one."""

from __future__ import annotations

import io
import stat
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

from grid import sources
from grid.errors import WarmGridError
from grid.ingest import import_file, read_source, read_upload, zip_datasets
from tests.actors import OP

MB = 1024 * 1024
POINT = (118.09, 24.48)  # Xiamen, inside the small district


@pytest.fixture()
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every temporary folder the code makes goes here, so the tests can see what is left."""
    t = tmp_path / "tmp"
    t.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(t))
    return t


@pytest.fixture()
def ogr_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path pyogrio is asked to read."""
    import pyogrio

    calls: list[str] = []
    real = pyogrio.read_dataframe

    def spy(path: Any, *args: Any, **kw: Any) -> Any:
        calls.append(str(path))
        return real(path, *args, **kw)

    monkeypatch.setattr(pyogrio, "read_dataframe", spy)
    return calls


def _shapefile(folder: Path, stem: str, name: str, *, station_id: str = "SZ1", cpg: bool = False) -> Path:
    """A one-station Shapefile with a GBK .dbf (and no .cpg unless asked)."""
    folder.mkdir(parents=True, exist_ok=True)
    gdf = gpd.GeoDataFrame([{"站点编号": station_id, "站点名称": name, "站点类型": "卫生室"}],
                           geometry=[shapely.Point(*POINT)], crs="EPSG:4326")
    shp = folder / f"{stem}.shp"
    gdf.to_file(shp, engine="pyogrio", encoding="GB18030")
    if not cpg:
        shp.with_suffix(".cpg").unlink(missing_ok=True)
    return shp


def _zip_shapefile(zf: zipfile.ZipFile, shp: Path, prefix: str) -> None:
    for f in sorted(shp.parent.glob(shp.stem + ".*")):
        zf.write(f, prefix + f.name)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tree(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


# ------------------------------------------------------------------ what a zip should do
def test_a_zipped_gbk_shapefile_in_a_folder_is_read_with_its_encoding(tmp_path, private_tmp) -> None:
    shp = _shapefile(tmp_path / "src", "卫生室", "鼓浪屿龙头路卫生室")
    z = tmp_path / "站点.zip"
    with zipfile.ZipFile(z, "w") as zf:
        _zip_shapefile(zf, shp, "数据/")
    src = read_source(z)
    assert src.format == "shp" and src.encoding == "GB18030"
    assert src.frame["站点名称"].tolist() == ["鼓浪屿龙头路卫生室"]
    assert src.name == "站点.zip/数据/卫生室.shp" and src.member == "数据/卫生室.shp"
    import hashlib

    assert src.sha256 == hashlib.sha256(z.read_bytes()).hexdigest()  # the import log records the zip itself
    assert list(private_tmp.iterdir()) == []  # the extracted files are gone


def test_a_windows_zip_with_gbk_member_names_is_listed_in_chinese(tmp_path, private_tmp) -> None:
    """Windows in China writes names in GBK without the UTF-8 flag; zipfile alone shows cp437 mojibake."""
    shp = _shapefile(tmp_path / "src", "st", "思明卫生室")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _zip_shapefile(zf, shp, "XXXX/")  # 4 ASCII bytes, replaced by the 4 GBK bytes of 数据
    raw = buf.getvalue().replace(b"XXXX/", "数据/".encode("gbk"))
    z = tmp_path / "win.zip"
    z.write_bytes(raw)
    assert zipfile.ZipFile(z).namelist()[0] != "数据/st.dbf"  # what zipfile makes of it
    assert zip_datasets(z) == ["数据/st.shp"]
    assert read_source(z, member="数据/st.shp").frame["站点名称"].tolist() == ["思明卫生室"]


def test_a_zipped_csv_is_read_with_encoding_detection(tmp_path) -> None:
    z = _zip(tmp_path / "hh.zip", {"住户.csv": "户编号,地址\nH1,中山路1号\n".encode("gbk"),
                                   "__MACOSX/._住户.csv": b"\x00\x05\x16\x07"})
    src = read_source(z)
    assert (src.format, src.encoding, src.name) == ("csv", "gb18030", "hh.zip/住户.csv")
    assert src.frame.to_dict("records") == [{"户编号": "H1", "地址": "中山路1号"}]


def test_several_shapefiles_the_caller_chooses_one(tmp_path) -> None:
    a = _shapefile(tmp_path / "a", "甲", "甲卫生室", station_id="SA")
    b = _shapefile(tmp_path / "b", "乙", "乙卫生室", station_id="SB")
    z = tmp_path / "两个.zip"
    with zipfile.ZipFile(z, "w") as zf:
        _zip_shapefile(zf, a, "一/")
        _zip_shapefile(zf, b, "二/")
        zf.writestr("说明.txt", "两个图层")
    assert zip_datasets(z) == ["一/甲.shp", "二/乙.shp"]  # the .txt beside Shapefiles is not a dataset
    with pytest.raises(WarmGridError) as err:
        read_source(z)
    assert "一/甲.shp" in err.value.zh and "二/乙.shp" in err.value.en and "--member" in err.value.en
    assert read_source(z, member="二/乙.shp").frame["站点编号"].tolist() == ["SB"]
    with pytest.raises(WarmGridError, match="choose one of: 一/甲.shp, 二/乙.shp"):
        read_source(z, member="三/丙.shp")


def test_a_shapefile_without_its_dbf_is_named(tmp_path) -> None:
    shp = _shapefile(tmp_path / "s", "x", "无属性")
    z = tmp_path / "x.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in shp.parent.iterdir():
            if f.suffix != ".dbf":
                zf.write(f, f.name)
    with pytest.raises(WarmGridError) as err:
        read_source(z)
    assert "x.zip" in err.value.zh and "x.shp" in err.value.zh and ".dbf" in err.value.en


def test_a_zip_without_a_dataset_and_a_file_that_is_not_a_zip(tmp_path) -> None:
    with pytest.raises(WarmGridError, match="holds no .shp file"):
        read_source(_zip(tmp_path / "e.zip", {"readme.md": b"nothing"}))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(WarmGridError) as err:
        read_source(bad)
    assert "不是有效的 zip 文件" in err.value.zh and "not a valid zip file" in err.value.en


def test_an_upload_name_never_becomes_a_path(tmp_path, private_tmp) -> None:
    src = read_upload("..\\..\\..\\etc\\住户.csv", "户编号,地址\nH1,中山路1号\n".encode())
    assert src.name == "住户.csv" and src.frame["户编号"].tolist() == ["H1"]
    assert list(private_tmp.iterdir()) == [] and not (tmp_path.parent / "etc").exists()
    with pytest.raises(WarmGridError, match="U\\+202E"):
        read_upload("住户\u202ecsv.csv", b"a\n1\n")


# ------------------------------------------------------------------ hostile member names
def _outside_target(tmp_path: Path) -> Path:
    """A real Shapefile outside every temporary folder: the server file an attacker wants read."""
    return _shapefile(tmp_path / "x", "PWNED", "服务器上的文件", station_id="PWNED")


def test_a_traversal_member_is_refused_and_the_outside_file_never_read(tmp_path, private_tmp, ogr_calls) -> None:
    target = _outside_target(tmp_path)
    before = _tree(tmp_path / "x")
    climb = "../" * 40 + str(target.with_suffix(""))[1:]  # ../../../../tmp/.../x/PWNED from any depth
    z = _zip(tmp_path / "evil.zip", {climb + ".shp": b"", climb + ".shx": b"", climb + ".dbf": b""})
    for read in (lambda: read_source(z), lambda: read_upload("evil.zip", z.read_bytes()),
                 lambda: zip_datasets(z)):
        with pytest.raises(WarmGridError) as err:
            read()
        assert "evil.zip" in err.value.zh and "PWNED.shp" in err.value.zh
        assert "“..”" in err.value.zh and "'..'" in err.value.en and "nothing was extracted" in err.value.en
    assert ogr_calls == []  # nothing was read at all, inside or outside
    assert list(private_tmp.iterdir()) == []
    assert _tree(tmp_path / "x") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip", "tmp", "x"]


UNSAFE = [
    ("absolute", "/tmp/x/PWNED.shp", "absolute path"),
    ("drive letter", "C:/x/PWNED.shp", "drive letter"),
    ("drive-relative", "C:PWNED.shp", "drive letter"),
    ("stream", "PWNED.shp:hidden", "colon"),
    ("backslash climb", "..\\..\\..\\tmp\\x\\PWNED.shp", "'..'"),
    ("folder then climb", "数据/../../PWNED.shp", "'..'"),
    ("NUL", "PWNED.shp\x00.txt", "U+0000"),  # zipfile itself cuts the name at the NUL: "PWNED.shp"
    ("bidi override", "PWNED\u202eplc.shp", "U+202E"),
    ("line break", "PWNED\n.shp", "U+000A"),
]


@pytest.mark.parametrize(("case", "name", "reason"), UNSAFE, ids=[c[0] for c in UNSAFE])
def test_unsafe_member_names_refuse_the_whole_zip(tmp_path, private_tmp, ogr_calls, case, name, reason) -> None:
    good = _shapefile(tmp_path / "ok", "ok", "正常站点")
    buf = io.BytesIO()
    placeholder = name.replace("\x00", "#")  # zipfile will not write a NUL: put it into the bytes afterwards
    with zipfile.ZipFile(buf, "w") as zf:
        _zip_shapefile(zf, good, "")
        zf.writestr(placeholder, b"x")
    z = tmp_path / "z.zip"
    z.write_bytes(buf.getvalue().replace(placeholder.encode(), name.encode()))
    with pytest.raises(WarmGridError) as err:
        read_source(z, member="ok.shp")  # even when the chosen dataset is a good one
    assert reason in err.value.en and "whole zip is refused" in err.value.en and "z.zip" in err.value.zh
    for ch in "\x00\u202e\n":
        assert ch not in err.value.zh + err.value.en  # shown as a code point, never raw
    assert ogr_calls == [] and list(private_tmp.iterdir()) == []


def test_a_symlink_member_is_refused(tmp_path, private_tmp, ogr_calls) -> None:
    target = _outside_target(tmp_path)
    z = tmp_path / "link.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for suffix in (".shp", ".shx", ".dbf"):
            info = zipfile.ZipInfo(f"link{suffix}")
            info.create_system = 3  # Unix
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, str(target.with_suffix(suffix)))  # a link's content is its target
    with pytest.raises(WarmGridError) as err:
        read_source(z)
    assert "symbolic link" in err.value.en and "符号链接" in err.value.zh
    assert ogr_calls == [] and list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("second", ["a.csv", "A.CSV", "./a.csv"])
def test_duplicate_member_names_are_refused(tmp_path, second) -> None:
    z = tmp_path / "dup.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.csv", "户编号\nH1\n")
        with pytest.warns(UserWarning) if second == "a.csv" else _nothing():
            zf.writestr(second, "户编号\nEVIL\n")
    with pytest.raises(WarmGridError, match="two members named"):
        read_source(z)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# ------------------------------------------------------------------ size limits
def _wide_csv(size: int) -> bytes:
    line = b"0" * 1023 + b"\n"
    return b"a\n" + line * (size // len(line))


def test_a_member_over_the_limit_is_refused_on_its_declared_size(tmp_path, private_tmp, monkeypatch) -> None:
    copies: list[str] = []
    real = sources._copy_limited
    monkeypatch.setattr(sources, "_copy_limited", lambda *a: copies.append(a[5]) or real(*a))
    z = _zip(tmp_path / "bomb.zip", {"bomb.csv": _wide_csv(5 * MB)})
    assert z.stat().st_size < 100_000  # 5 MB that compress to a few KB
    with pytest.raises(WarmGridError) as err:
        read_source(z, max_unzipped=1 * MB)
    assert "bomb.zip" in err.value.zh and "bomb.csv" in err.value.zh
    assert "over the limit of 1.0 MB" in err.value.en and "nothing was extracted" in err.value.en
    assert copies == [] and list(private_tmp.iterdir()) == []
    # The setting: an environment variable read at each call.
    monkeypatch.setenv(sources.MAX_UNZIPPED_ENV, "1")
    with pytest.raises(WarmGridError, match=sources.MAX_UNZIPPED_ENV):
        read_source(z)
    monkeypatch.setenv(sources.MAX_UNZIPPED_ENV, "6")
    assert len(read_source(z).frame) == 5 * MB // 1024
    assert copies == ["bomb.csv"]
    monkeypatch.setenv(sources.MAX_UNZIPPED_ENV, "lots")
    with pytest.raises(WarmGridError, match="positive number"):
        read_source(z)


def test_the_default_limit_is_500_mb(monkeypatch) -> None:
    monkeypatch.delenv(sources.MAX_UNZIPPED_ENV, raising=False)
    assert sources.max_unzipped_bytes() == 500 * MB


def _lie_about_size(raw: bytes, declared: int) -> bytes:
    """Set the uncompressed size of a one-member zip to ``declared`` in both headers."""
    data = bytearray(raw)
    struct.pack_into("<I", data, 22, declared)  # local file header
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)  # central directory
    return bytes(data)


def test_a_member_whose_declared_size_lies_is_refused(tmp_path, private_tmp) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("lie.csv", _wide_csv(5 * MB))
    z = tmp_path / "lie.zip"
    z.write_bytes(_lie_about_size(buf.getvalue(), 1000))
    assert zipfile.ZipFile(z).getinfo("lie.csv").file_size == 1000  # passes the declared-size check
    with pytest.raises(WarmGridError) as err:
        read_source(z, max_unzipped=1 * MB)
    assert "lie.zip" in err.value.zh and "lie.csv" in err.value.zh and "false sizes" in err.value.en
    assert list(private_tmp.iterdir()) == []


def test_extraction_counts_the_bytes_really_written_and_stops_at_the_limit() -> None:
    """A stream that yields more than its member declared: the copy stops as the total passes the limit."""
    written = io.BytesIO()
    with pytest.raises(WarmGridError) as err:
        sources._copy_limited(io.BytesIO(b"\0" * (5 * MB)), written, 0, 1 * MB + 10, "z.zip", "big.dbf")
    assert "went past the limit" in err.value.en and "big.dbf" in err.value.zh
    assert len(written.getvalue()) <= 1 * MB + 10  # nothing past the limit reached the disk
    # The running total carries across members: 0.6 MB already written leaves 0.4 MB.
    with pytest.raises(WarmGridError):
        sources._copy_limited(io.BytesIO(b"\0" * (MB // 2)), io.BytesIO(), 6 * MB // 10, 1 * MB, "z.zip", "b")
    assert sources._copy_limited(io.BytesIO(b"\0" * 100), io.BytesIO(), 5, 105, "z.zip", "c") == 105


# ------------------------------------------------------------------ into the database
def test_a_zipped_gbk_shapefile_imports_intact(db, tmp_path) -> None:
    lon, lat = db.query("SELECT ST_X(geom) x, ST_Y(geom) y FROM households LIMIT 1").iloc[0]
    gdf = gpd.GeoDataFrame([{"站点编号": "SZIP1", "站点名称": "厦港社区卫生服务站", "站点类型": "卫生室"}],
                           geometry=[shapely.Point(lon, lat)], crs="EPSG:4326")
    folder = tmp_path / "s"
    folder.mkdir()
    gdf.to_file(folder / "站点.shp", engine="pyogrio", encoding="GB18030")
    (folder / "站点.cpg").unlink(missing_ok=True)
    z = tmp_path / "站点.zip"
    with zipfile.ZipFile(z, "w") as zf:
        _zip_shapefile(zf, folder / "站点.shp", "数据/")
    rep = import_file(db, OP, "stations", z)
    assert rep.inserted == 1 and rep.file == "站点.zip/数据/站点.shp"
    assert db.scalar("SELECT name FROM stations WHERE station_id = 'SZIP1'") == "厦港社区卫生服务站"
    assert db.scalar("SELECT file_name FROM imports ORDER BY import_id DESC LIMIT 1") == "站点.zip/数据/站点.shp"
