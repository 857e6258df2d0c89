"""The data page (views/data.py), driven headless with AppTest: upload, header mapping,
validation, import and export, on a copy of the small district.

AppTest drives ``st.file_uploader`` (``set_value((name, bytes, mime))``) and a keyed
``st.data_editor`` through its edit state in session state, so the page is tested
through its real widgets: no test hook in the page. An administrator signs in through
the login form first (the page is for administrators only).
"""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from grid import audit, labels, users
from grid.export import table_frame
from grid.store import Store, open_store
from tests.apptools import sign_in

ROOT = Path(__file__).resolve().parent.parent
PAGE = "views/data.py"
ADMIN, PW = "数据管理员", "correct horse 9"


@pytest.fixture()
def app_env(district_file, monkeypatch, tmp_path) -> Iterator[Path]:
    """A copy of the small district (the session's read-only store holds the original)."""
    from ui import _open

    path = tmp_path / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    with open_store(path) as s:
        users.create_user(s, ADMIN, PW, "admin", [])
    monkeypatch.setenv("WARMGRID_DB", str(path))
    monkeypatch.chdir(ROOT)
    yield path
    _open.clear()


def _count(path: Path, table: str = "households") -> int:
    from ui import _open

    return _open(str(path)).count(table)


def _page() -> AppTest:
    at = sign_in(ADMIN, PW)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _households(store: Store, n: int = 20) -> pd.DataFrame:
    """``n`` new households (fresh ids) at the points of existing ones, with the importer's headers."""
    df, geom = table_frame(store, "households")
    assert geom == "geom"
    rows = df.iloc[:: max(len(df) // n, 1)].head(n).reset_index(drop=True)
    rows["户编号"] = [f"NEW{i:05d}" for i in range(len(rows))]
    # New households of new people: the stored ones' ID numbers would be refused (one number, one person).
    rows = rows.drop(columns=[c for c in ("id_number", "身份证号") if c in rows.columns])
    rows["经度"] = [g.x for g in rows["geom"]]
    rows["纬度"] = [g.y for g in rows["geom"]]
    # The row's last change is not an import column (the export writes it in words: 更新时间).
    return rows.drop(columns=["geom", *(c for c in ("updated_at", labels.column("updated_at")) if c in rows.columns)])


def _upload(at: AppTest, name: str, data: bytes) -> None:
    at.file_uploader(key="data_file").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception


def _texts(elements) -> str:
    # As the user reads it: Markdown's backslash escapes (ui.esc) taken off.
    return "\n".join(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(e.value)) for e in elements)


def test_the_data_page_renders(app_env) -> None:
    at = _page()
    assert any("数据导入导出" in t.value for t in at.title)
    assert not at.error
    assert at.file_uploader(key="data_file")
    assert at.selectbox(key="data_kind").value == "households"
    assert at.selectbox(key="data_crs").value == "auto"
    assert at.button(key="data_export_go")


def test_a_valid_csv_validates_and_imports(app_env, store) -> None:
    before = _count(app_env)
    new = _households(store)
    at = _page()
    _upload(at, "新增住户.csv", new.to_csv(index=False).encode("gb18030"))
    assert "gb18030" in _texts(at.markdown) and "csv" in _texts(at.markdown)
    assert at.data_editor(key=at.data_editor[0].key).value["映射到 field"].iloc[0] == "户编号 · hh_id *"
    assert at.button(key="data_import").disabled
    at.button(key="data_validate").click().run()
    assert not at.exception, at.exception
    assert not at.error, _texts(at.error)
    assert f"{len(new)} 行可以导入" in _texts(at.success)
    assert f"将新增 {len(new)}" in _texts(at.success)
    assert not at.button(key="data_import").disabled
    assert _count(app_env) == before  # validation writes nothing
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert not at.error, _texts(at.error)
    assert _count(app_env) == before + len(new)
    report = _texts(at.code)
    assert f"新增 {len(new)}" in report and "新增住户.csv" in report
    assert at.button(key="data_import").disabled  # the validation is stale now: no double import
    from ui import _open

    s = _open(str(app_env))
    assert s.scalar("SELECT count(*) FROM households WHERE hh_id LIKE 'NEW%' AND cell_id IS NOT NULL") == len(new)
    assert s.scalar("SELECT file_name FROM imports ORDER BY import_id DESC LIMIT 1") == "新增住户.csv"
    assert s.scalar("SELECT username FROM imports ORDER BY import_id DESC LIMIT 1") == ADMIN
    log = audit.read(s, action="import")
    assert log["username"].tolist() == [ADMIN] and log["row_count"].tolist() == [len(new)]
    assert log["object"].iloc[0] == "households:新增住户.csv"


def test_a_bad_csv_lists_every_problem_and_changes_nothing(app_env, store) -> None:
    before = _count(app_env)
    bad = _households(store, 6)
    bad.insert(1, "身份证号", "")  # new people: no number, but the second row's has a wrong check digit
    bad.loc[1, "身份证号"] = "350203195001010013"  # 35020319500101001 checks to X
    bad.loc[2, "地址"] = ""
    bad.loc[3, "户编号"] = store.scalar("SELECT min(hh_id) FROM households")  # already in the database
    bad["纬度"] = bad["纬度"].astype(object)
    bad.loc[4, "纬度"] = "北纬24度"
    at = _page()
    _upload(at, "bad.csv", bad.to_csv(index=False).encode("utf-8-sig"))
    at.button(key="data_validate").click().run()
    assert not at.exception, at.exception
    assert "发现 4 个问题" in _texts(at.error)
    problems = at.dataframe[-1].value
    assert list(zip(problems["行 row"], problems["字段 field"], strict=True)) == [
        (3, "身份证号"), (4, "地址"), (5, "户编号"), (6, "纬度")]
    assert at.download_button(key="data_problems_csv")
    assert at.button(key="data_import").disabled
    assert _count(app_env) == before


def test_mapping_edits_become_overrides(app_env, store) -> None:
    at = _page()
    _upload(at, "new.csv", _households(store, 3).to_csv(index=False).encode("utf-8"))
    editor = at.data_editor[0]
    cols = list(editor.value["列 column"])
    # Ignore the required 人口数 column: validation reports it missing.
    at.session_state[editor.key] = {"edited_rows": {cols.index("人口数"): {"映射到 field": "(忽略 ignore)"}},
                                    "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="data_validate").click().run()
    assert not at.exception, at.exception
    assert "缺少必填列“人口数”" in at.dataframe[-1].value["原因"].iloc[0]
    assert at.button(key="data_import").disabled


def test_a_zipped_shapefile_in_a_folder_without_cpg(app_env, store, tmp_path) -> None:
    """A GBK .dbf without .cpg inside a folder of the zip: extracted by the page, encoding detected."""
    rows = _households(store, 5)
    gdf = gpd.GeoDataFrame(rows.drop(columns=["经度", "纬度", "所属网格"]),
                           geometry=gpd.points_from_xy(rows["经度"], rows["纬度"]), crs="EPSG:4326")
    shp = tmp_path / "shp" / "住户.shp"
    shp.parent.mkdir()
    gdf.to_file(shp, engine="pyogrio", encoding="GB18030")
    shp.with_suffix(".cpg").unlink()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in shp.parent.iterdir():
            zf.write(f, f"数据/{f.name}")
    before = _count(app_env)
    at = _page()
    _upload(at, "住户.zip", buf.getvalue())
    assert not at.error, _texts(at.error)
    assert "GB18030" in _texts(at.markdown) and "shp" in _texts(at.markdown)
    at.button(key="data_validate").click().run()
    assert not at.error, _texts(at.error)
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert _count(app_env) == before + 5


def test_an_unreadable_file_is_an_error_not_a_traceback(app_env) -> None:
    at = _page()
    _upload(at, "broken.zip", b"not a zip at all")
    assert "不是有效的 zip 文件" in _texts(at.error) and "not a valid zip file" in _texts(at.error)
    _upload(at, "latin.csv", "户编号,地址\nA1,x\n".encode("gb18030") + b"\xff\xfe\xfa\n")
    assert "编码无法识别" in _texts(at.error)


def test_export_gives_a_download(app_env) -> None:
    at = _page()
    at.selectbox(key="data_export_table").set_value("households")
    at.selectbox(key="data_export_format").set_value("geojson")
    at.selectbox(key="data_export_crs").set_value("gcj02").run()
    at.button(key="data_export_go").click().run()
    assert not at.exception, at.exception
    assert not at.error, _texts(at.error)
    button = at.download_button(key="data_export_download")
    assert f"（{_count(app_env):,} 行）" in button.label and ".geojson" in button.label
    from ui import _open

    log = audit.read(_open(str(app_env)), action="export")
    assert log["username"].tolist() == [ADMIN] and log["row_count"].tolist() == [_count(app_env)]
    at.run()  # the download stays offered on a re-run
    assert at.download_button(key="data_export_download")
    # A table without geometry cannot be GeoJSON: said in both languages.
    at.selectbox(key="data_export_table").set_value("visits").run()
    at.button(key="data_export_go").click().run()
    assert not at.exception, at.exception
    assert "需要几何字段" in _texts(at.error) and "needs a geometry" in _texts(at.error)



def test_only_an_administrator_may_use_the_page(app_env) -> None:
    """The menu is not the guard: a committee member who reaches the page is refused.

    (Signed in by setting ``ui``'s session keys, as the login form would.)
    """
    from ui import _open

    store = _open(str(app_env))
    street = str(store.scalar("SELECT min(code) FROM admin_units WHERE level = 'street'"))
    users.create_user(store, "委员甲", PW, "committee", [street])
    _, fp = users.authenticate(store, "委员甲", PW)
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.session_state["user"] = "委员甲"
    at.session_state["user_fp"] = fp
    at.session_state["user_seen"] = datetime.now()
    at.run()
    assert not at.exception, at.exception
    assert at.error  # ui.require_page refuses the role
    assert not at.file_uploader and not at.button


# ------------------------------------------------------------------ refusals (issue 11, sections 3 and 4)
def _all_text(at: AppTest) -> str:
    parts = [_texts(at.markdown), _texts(at.error), _texts(at.success), _texts(at.info), _texts(at.code)]
    parts += [e.value.to_csv() for e in at.dataframe]
    return "\n".join(parts)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_header_without_rows_says_no_rows(app_env, tmp_path, suffix) -> None:
    header = ["户编号", "户主姓名", "地址", "人口数", "经度", "纬度"]
    path = tmp_path / f"空{suffix}"
    if suffix == ".csv":
        path.write_text(",".join(header) + "\n", encoding="utf-8")
    else:
        pd.DataFrame(columns=header).to_excel(path, index=False)
    before = _count(app_env)
    at = _page()
    _upload(at, path.name, path.read_bytes())
    if "data_validate" in [b.key for b in at.button]:  # today's page reads the file and fails on validating
        at.button(key="data_validate").click().run()
    assert not at.exception, at.exception
    errors = _texts(at.error)
    assert f"{path.name} 没有数据行" in errors and f"no rows: {path.name}" in errors, errors
    assert "意外错误" not in errors and "Exception" not in errors
    assert _count(app_env) == before


def test_a_zip_that_climbs_out_is_refused_and_the_server_file_never_shown(app_env, tmp_path) -> None:
    target = tmp_path / "x" / "PWNED.shp"  # a real Shapefile outside any upload folder
    target.parent.mkdir()
    gpd.GeoDataFrame([{"户编号": "PWNED1", "地址": "服务器上的文件", "人口数": 1}],
                     geometry=gpd.points_from_xy([118.09], [24.48]), crs="EPSG:4326").to_file(target, engine="pyogrio")
    climb = "../" * 40 + str(target.with_suffix(""))[1:]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):
            zf.writestr(climb + suffix, b"")
    at = _page()
    _upload(at, "evil.zip", buf.getvalue())
    assert not at.exception, at.exception
    errors = _texts(at.error)
    assert "不安全" in errors and "unsafe" in errors and "PWNED.shp" in errors
    assert "服务器上的文件" not in _all_text(at) and "PWNED1" not in _all_text(at)
    assert "data_validate" not in [b.key for b in at.button]


def test_a_zip_with_two_shapefiles_offers_the_choice(app_env, store, tmp_path) -> None:
    rows = _households(store, 4)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, part in enumerate((rows.head(1), rows.tail(3))):
            shp = tmp_path / f"s{i}" / f"住户{i}.shp"
            shp.parent.mkdir()
            gpd.GeoDataFrame(part.drop(columns=["经度", "纬度", "所属网格"]),
                             geometry=gpd.points_from_xy(part["经度"], part["纬度"]), crs="EPSG:4326"
                             ).to_file(shp, engine="pyogrio", encoding="GB18030")
            shp.with_suffix(".cpg").unlink()  # the encoding is detected from the .dbf
            for f in shp.parent.iterdir():
                zf.write(f, f"数据{i}/{f.name}")
    at = _page()
    _upload(at, "两批.zip", buf.getvalue())
    choice = at.selectbox(key="data_zip_member")
    assert choice.options == ["数据0/住户0.shp", "数据1/住户1.shp"]
    assert "1 行 rows" in _texts(at.markdown)
    choice.set_value("数据1/住户1.shp").run()
    assert not at.exception, at.exception
    assert "3 行 rows" in _texts(at.markdown) and "GB18030" in _texts(at.markdown)


def test_an_administrator_exports_users_without_password_hashes(app_env) -> None:
    at = _page()
    assert "用户" in at.selectbox(key="data_export_table").options  # the table in words; its value is `users`
    for fmt in ("csv", "xlsx"):
        at.selectbox(key="data_export_table").set_value("users")
        at.selectbox(key="data_export_format").set_value(fmt).run()
        at.button(key="data_export_go").click().run()
        assert not at.exception, at.exception
        assert not at.error, _texts(at.error)
        assert at.download_button(key="data_export_download")
        data = at.session_state["data_export"][2]
        assert data and b"$argon2" not in data and b"password_hash" not in data


def test_households_without_coordinates_are_located_confirmed_on_the_page_and_imported(app_env, district) -> None:
    """Rows with an address and no coordinates are placed through the register; a row the register
    cannot place without doubt is shown with its candidates, confirmed by choosing one, and imported."""
    from grid.geocode import parse

    before = _count(app_env)
    hh = district.households.iloc[3::211].head(5)
    door = district.addresses.loc[district.addresses["level"] == "door", "address"].iloc[0]
    road = parse(door).place
    roll = pd.DataFrame({"户编号": [f"PG{k}" for k in range(len(hh))] + ["PGR"],
                         "户主姓名": ["页面测试"] * (len(hh) + 1),
                         "地址": [a.replace("室", "") for a in hh["address"]] + [f"{road}<b>无号</b>"],
                         "人口数": [2] * (len(hh) + 1)})
    at = _page()
    _upload(at, "按地址.csv", roll.to_csv(index=False).encode("utf-8"))
    at.checkbox(key="data_locate").check().run()
    at.button(key="data_validate").click().run()
    assert not at.exception, at.exception
    assert "1 行未能自动定位" in _texts(at.warning)
    table = next(d.value for d in at.dataframe if "候选数" in d.value.columns)
    assert table["户编号"].tolist() == ["PGR"] and table["候选数"].iloc[0] >= 1
    assert at.button(key="data_import").disabled
    pick = at.radio(key="data_review_pick_PGR")
    assert len(pick.options) >= 2 and "点选" in pick.options[-1]
    assert "候选1" in pick.options[0] and pick.value != "__click__"  # the best candidate is preselected
    at.button(key="data_review_ok_PGR").click().run()
    assert not at.exception, at.exception
    assert "已确认 1 行" in _texts(at.info)
    at.button(key="data_validate").click().run()
    assert not at.exception, at.exception
    assert f"{len(roll)} 行可以导入" in _texts(at.success)
    ok = next(c for c in at.checkbox if "我已核对" in c.label)
    assert at.button(key="data_import").disabled  # not before the located rows are confirmed
    ok.check().run()
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    assert _count(app_env) == before + len(roll)
    from ui import _open

    got = _open(str(app_env)).query("SELECT hh_id, geocode_method, addr_id FROM households WHERE hh_id LIKE 'PG%'"
                                    " ORDER BY hh_id").set_index("hh_id")
    homes = dict(zip([f"PG{k}" for k in range(len(hh))], district.homes[hh["hh_id"]], strict=True))
    assert all(got.loc[h, "addr_id"] == a and got.loc[h, "geocode_method"] in ("exact", "normalised")
               for h, a in homes.items())
    assert got.loc["PGR", "geocode_method"] == "manual" and isinstance(got.loc["PGR", "addr_id"], str)
