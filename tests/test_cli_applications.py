"""``python -m grid applications|budgets|programmes``: the steps, the notice list, the red flags and
the budgets from the command line equal the library's; an illegal step exits with status 1 and a
message in Chinese and English."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grid.budgets import budgets_for, red_flags_for
from grid.cli import main
from grid.store import open_store
from tests.actors import EVERYTHING

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def dbfile(district_file, tmp_path) -> Path:
    path = tmp_path / "cli.duckdb"
    shutil.copyfile(district_file[0], path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def _one(db: Path, sql: str, params: list[object] | None = None) -> object:
    with open_store(db, read_only=True) as s:
        return s.scalar(sql, params or [])


def test_an_application_through_every_step(dbfile: Path, capsys) -> None:
    db = str(dbfile)
    hh = str(_one(dbfile, "SELECT min(hh_id) FROM households WHERE status = 'active' AND cell_id IS NOT NULL"
                          " AND hh_id NOT IN (SELECT hh_id FROM applications)"))
    status, out, err = run(capsys, "applications", "apply", "--db", db, "--household", hh, "--programme", "lsjz",
                           "--amount", "800", "--reason", "家中失火")
    assert status == 0, err
    app = out.strip()
    assert app.startswith("AP") and "已提交申请" in err and "application" in err
    for step in ("check", "review"):
        status, _, err = run(capsys, "applications", step, app, "--db", db, "--note", "同意")
        assert status == 0, err
    status, _, err = run(capsys, "applications", "notice", app, "--db", db, "--days", "5", "--contact", "请致电街道")
    assert status == 0, err
    status, oid, err = run(capsys, "applications", "object", app, "--db", db, "--content", "有收入", "--objector", "匿名")
    assert status == 0, err
    status, _, err = run(capsys, "applications", "approve", app, "--db", db)
    assert status == 1 and "objection" in err and "异议" in err and "the notice runs until" in err
    status, _, err = run(capsys, "applications", "settle", oid.strip(), "--db", db, "--outcome", "dismissed",
                         "--note", "核实无收入")
    assert status == 0 and "不成立" in err
    status, out, _ = run(capsys, "applications", "show", app, "--db", db, "--json")
    doc = json.loads(out)
    assert doc["application"]["status"] == "on_notice" and doc["application"]["notice_contact"] == "请致电街道"
    assert [e["step"] for e in doc["events"]] == ["apply", "check", "review", "notice", "object", "settle"]
    assert all(e["by_user"].startswith("cli:") for e in doc["events"])
    assert doc["objections"][0]["status"] == "dismissed" and set(doc["steps"]) >= {"approve", "reject"}
    with open_store(dbfile, read_only=True) as s:
        rows = s.query("SELECT username, object FROM audit_log WHERE object LIKE ? ORDER BY log_id", [f"%{app}%"])
    assert rows["object"].tolist() == [f"application:{app}:{s}" for s in
                                       ("apply", "check", "review", "notice", "object", "settle")]
    assert rows["username"].str.startswith("cli:").all()


def test_approve_give_reject_and_uphold(dbfile: Path, capsys) -> None:
    db = str(dbfile)
    with open_store(dbfile, read_only=True) as s:
        ready = s.query("SELECT app_id FROM applications a WHERE status = 'on_notice' AND NOT EXISTS (SELECT 1 FROM"
                        " application_objections o WHERE o.app_id = a.app_id) ORDER BY app_id LIMIT 2")["app_id"].tolist()
        objected = str(s.scalar("SELECT objection_id FROM application_objections"))
        checked = str(s.scalar("SELECT min(app_id) FROM applications WHERE status = 'community_checked'"))
    status, _, err = run(capsys, "applications", "approve", ready[0], "--db", db, "--note", "同意")
    assert status == 0, err
    status, out, err = run(capsys, "applications", "give", ready[0], "--db", db, "--receipt", "QZ-001",
                           "--receiver-name", "张三", "--receiver-phone", "13800138000")
    assert status == 0, err
    aid = out.strip()
    assert _one(dbfile, "SELECT app_id FROM assistance WHERE aid_id = ?", [aid]) == ready[0]
    status, _, err = run(capsys, "applications", "reject", ready[1], "--db", db, "--reason", "区级复核不符合条件")
    assert status == 0, err
    assert _one(dbfile, "SELECT rejected_reason FROM applications WHERE app_id = ?", [ready[1]]) == "区级复核不符合条件"
    status, _, err = run(capsys, "applications", "settle", objected, "--db", db, "--outcome", "upheld",
                         "--note", "子女确有稳定收入")
    assert status == 0 and "成立" in err
    app = str(_one(dbfile, "SELECT app_id FROM application_objections WHERE objection_id = ?", [objected]))
    assert _one(dbfile, "SELECT status FROM applications WHERE app_id = ?", [app]) == "rejected"
    status, _, err = run(capsys, "applications", "approve", checked, "--db", db)
    assert status == 1 and "不能进行“区级审批”" in err and "cannot take the step 'approve'" in err


def test_an_illegal_step_exits_1_with_both_languages(dbfile: Path) -> None:
    given = str(_one(dbfile, "SELECT min(app_id) FROM applications WHERE status = 'given'"))
    r = subprocess.run([sys.executable, "-m", "grid", "applications", "check", given, "--db", str(dbfile)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 1
    assert "当前状态为“已发放”，不能进行“社区初审”" in r.stderr and "it cannot take the step 'check' now" in r.stderr
    assert _one(dbfile, "SELECT count(*) FROM application_events WHERE app_id = ? AND step = 'check'", [given]) == 1


def test_notice_list_files(dbfile: Path, tmp_path: Path, capsys) -> None:
    community = str(_one(dbfile, "SELECT unit_code FROM applications WHERE status = 'on_notice' AND programme = 'qnwj'"
                                 " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"))
    for suffix in (".pdf", ".xlsx"):
        out = tmp_path / f"公示{suffix}"
        status, _, err = run(capsys, "applications", "notice-list", "--db", str(dbfile), "--community", community,
                             "--programme", "qnwj", "--out", str(out))
        assert status == 0, err
        assert out.stat().st_size > 1000 and "已生成" in err
    assert _one(dbfile, "SELECT count(*) FROM audit_log WHERE action = 'export' AND object LIKE 'notice_list:%'") == 2
    status, _, err = run(capsys, "applications", "notice-list", "--db", str(dbfile), "--community", community,
                         "--programme", "dbjz", "--out", str(tmp_path / "x.pdf"))
    assert status == 1 and "nothing to post" in err and not (tmp_path / "x.pdf").exists()


def test_flags_budgets_and_lists_equal_the_library(district_file, store, district, capsys) -> None:
    db = str(district_file[0])
    status, out, err = run(capsys, "applications", "flags", "--db", db, "--json")
    assert status == 0, err
    doc = json.loads(out)
    lib = red_flags_for(store, EVERYTHING)
    assert doc["flags"] == len(lib) and [r["aid_id"] for r in doc["rows"]] == lib["aid_id"].tolist()
    assert doc["by_reason"] == {r: len(h) for r, h in district.planted_flags.items()}
    status, out, _ = run(capsys, "budgets", "--db", db, "--json")
    got = json.loads(out)["budgets"]
    want = budgets_for(store, EVERYTHING)
    assert [(b["unit_code"], b["programme"], b["given_yuan"], b["remaining_yuan"]) for b in got] == list(
        zip(want["unit_code"], want["programme"], want["given_yuan"], want["remaining_yuan"], strict=True))
    status, out, _ = run(capsys, "budgets", "--db", db, "--campaign", "C2026W", "--json")
    assert {b["campaign_id"] for b in json.loads(out)["budgets"]} == {"C2026W"}
    status, out, _ = run(capsys, "applications", "list", "--db", db, "--status", "on_notice", "--json")
    rows = json.loads(out)
    assert len(rows) == int((district.applications["status"] == "on_notice").sum())
    assert {r["notice_ends_on"] for r in rows} == {"2026-11-16"}  # a date, not a time
    status, out, _ = run(capsys, "programmes", "--db", db, "--json")
    assert [p["code"] for p in json.loads(out)] == sorted(["cjwp", "dbjz", "dyhy", "lsjz", "qnwj", "ghsnw", "cszk"])


def test_budgets_and_programmes_are_set(dbfile: Path, capsys) -> None:
    db = str(dbfile)
    status, _, err = run(capsys, "programmes", "--db", db, "--set", "zxjz", "--name", "助学救助", "--standard", "2000",
                         "--targets", "dibao_urban", "tekun", "--approval-from", "2026-12-01")
    assert status == 0, err
    status, _, err = run(capsys, "budgets", "--db", db, "--set", "--unit", "350203001000", "--programme", "zxjz",
                         "--amount", "30000")
    assert status == 0, err
    status, out, _ = run(capsys, "budgets", "--db", db, "--json")
    row = next(b for b in json.loads(out)["budgets"] if b["programme"] == "zxjz")
    assert (row["unit_code"], row["budget_yuan"], row["remaining_yuan"]) == ("350203001000", 30000.0, 30000.0)
    status, _, err = run(capsys, "budgets", "--db", db, "--set", "--unit", "350203001000")
    assert status == 1 and "--programme" in err
    status, _, err = run(capsys, "programmes", "--db", db, "--set", "bad code", "--name", "x")
    assert status == 1 and "code" in err
