"""The bulletin from the app, in headless Chromium: the leader's page offers it as Word, PDF and
Excel for a unit and period in the leader's scope, and the committee's campaign page as well; a
download is a file that opens (python-docx, poppler, openpyxl), and each one is in the audit log.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from grid import access
from grid.demo import DEMO_ACCOUNTS
from grid.store import open_store
from tests.browsing import HEADINGS, app_server, chromium, ensure_chromium, open_session

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "screenshots"
BUTTONS = {".docx": "下载Word 文档（.docx）", ".pdf": "下载PDF（.pdf）", ".xlsx": "下载Excel 表格（.xlsx）"}


@pytest.fixture()
def app_db(district_file, tmp_path: Path) -> Path:
    path = tmp_path / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    return path


def _download(page, name: str, dest: Path) -> Path:  # type: ignore[no-untyped-def]
    with page.expect_download(timeout=240_000) as info:
        page.get_by_role("button", name=name).click()
    out = dest / info.value.suggested_filename
    info.value.save_as(out)
    return out


def test_the_leader_downloads_the_bulletin(app_db: Path, tmp_path: Path) -> None:
    problem = ensure_chromium()
    if problem:
        pytest.fail(problem)
    with open_store(app_db, read_only=True) as s:
        district = str(s.scalar("SELECT code FROM admin_units WHERE level = 'district'"))
        streets = s.query("SELECT code, name FROM admin_units WHERE level = 'street' ORDER BY code")
    got: dict[str, Path] = {}
    with app_server(app_db) as server, chromium() as browser:
        with open_session(browser, server.url, width=1400, height=1000) as sess:
            sess.sign_in(*DEMO_ACCOUNTS["leader"])
            sess.open_page(access.PAGES["leader"], HEADINGS["leader"])
            sess.page.get_by_text("情况通报（Word / PDF / Excel）").first.click()
            for name in BUTTONS.values():
                sess.page.get_by_role("button", name=name).wait_for(timeout=60_000)
            # the units offered are the leader's: the district, its streets and communities
            sess.page.get_by_label("通报单位 Unit").click()
            options = sess.page.get_by_role("option").all_inner_texts()
            assert any(streets["name"].iloc[0] in o for o in options) and len(options) >= 1 + len(streets)
            sess.page.keyboard.press("Escape")
            sess.page.wait_for_timeout(300)
            sess.screenshot(ARTIFACTS / "leader_bulletin.png")
            got[".docx"] = _download(sess.page, BUTTONS[".docx"], tmp_path)
            got[".pdf"] = _download(sess.page, BUTTONS[".pdf"], tmp_path)
        with open_session(browser, server.url, width=1400, height=1000) as sess:  # the committee's page too
            sess.sign_in(*DEMO_ACCOUNTS["committee"])
            sess.open_page(access.PAGES["campaigns"], HEADINGS["campaigns"])
            sess.page.get_by_role("tab", name="情况通报 Bulletin").click()
            for name in BUTTONS.values():
                sess.page.get_by_role("button", name=name).wait_for(timeout=60_000)
            got[".xlsx"] = _download(sess.page, BUTTONS[".xlsx"], tmp_path)

    import docx
    from openpyxl import load_workbook

    assert re.fullmatch(rf"情况通报_{district}_\d{{8}}-\d{{8}}\.docx", got[".docx"].name)
    d = docx.Document(str(got[".docx"]))
    heads = [p.text for p in d.paragraphs if p.style is not None and p.style.name == "Heading 1"]
    assert heads[:5] == ["一、总体情况", "二、同比环比比较", "三、排名情况", "四、存在问题", "五、下步工作"]
    assert got[".pdf"].read_bytes().startswith(b"%PDF")
    pdftotext = shutil.which("pdftotext")
    assert pdftotext
    text = subprocess.run([pdftotext, "-enc", "UTF-8", str(got[".pdf"]), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode("utf-8")
    assert "一、总体情况" in text and "附件1" in text
    wb = load_workbook(got[".xlsx"])
    assert wb.sheetnames[0] == "通报正文"
    with open_store(app_db, read_only=True) as s:
        rows = s.query("SELECT username AS actor, object FROM audit_log WHERE action = 'export' AND object LIKE 'bulletin:%'"
                       " ORDER BY log_id")
    assert [(a, o.rsplit(".", 1)[1]) for a, o in zip(rows["actor"], rows["object"], strict=True)] == \
        [("leader", "docx"), ("leader", "pdf"), ("committee", "xlsx")]
    assert rows["object"].iloc[0].startswith(f"bulletin:{district}:")
