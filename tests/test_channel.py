"""The command line while the app holds the database: every command reaches the app through its
job channel (grid.channel), the job runs on the app's own store, and the result is what the same
command gives on a file nobody holds.

Here the "app" is this test process: it opens a copy of the small district and starts the job
server exactly as ``ui.get_store`` does (``grid.cli.serve_jobs``), without Streamlit. The
command line runs in-process (``main(argv, io=CliIO.direct(...))``, which forwards like the real
program) or as a separate process, which then finds the file held by this one.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from argon2 import PasswordHasher

from grid import channel, users
from grid.cli import COMMAND_FILES, AppJobs, CliIO, _parser, main, serve_jobs
from grid.coverage import coverage_report
from grid.export import export_table
from grid.reports import bulletin_data, bulletin_pdf, bulletin_xlsx
from grid.store import Store, open_store
from tests.actors import EVERYTHING, OP

ROOT = Path(__file__).resolve().parent.parent
ME = __import__("pwd").getpwuid(os.getuid()).pw_name
OPERATOR = f"cli:{ME}"
VIA_APP = "the job runs in the app"


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture()
def app(district_file, tmp_path: Path):
    """A copy of the small district held open by this process, serving command-line jobs."""
    path = tmp_path / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    store = open_store(path)
    server = serve_jobs(store)
    assert server is not None and server.running
    yield store, path
    store.close()


def cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    """Run the command line as the program does (forwarding to a running app), capturing its streams."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), io=CliIO.direct(stdin=io.StringIO(stdin), stdout=out, stderr=err))
    return status, out.getvalue(), err.getvalue()


def jobs(store: Store) -> pd.DataFrame:
    return store.query("SELECT username, object FROM audit_log WHERE action = 'cli_job' ORDER BY log_id")


def job_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("warmgrid-job-*")}


def _inside_points(store: Store, n: int) -> list[tuple[str, float, float]]:
    cells = store.query("SELECT cell_id, ST_AsText(geom) AS wkt FROM cells ORDER BY cell_id LIMIT ?", [n])
    out = []
    for cell_id, wkt in cells.itertuples(index=False):
        p = shapely.from_wkt(wkt).representative_point()
        out.append((cell_id, p.x, p.y))
    return out


# --------------------------------------------------------------------------- the commands
def test_import_csv_through_the_app(app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, path = app
    # The app's temporary folders go to one of this test's own: another test run on the machine (or
    # another worker of this one) making a job folder in the shared /tmp meanwhile is not this job's.
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    before, gen0, folders = store.count("households"), store.generation, job_folders()
    pts = _inside_points(store, 3)
    csv = tmp_path / "新住户.csv"
    csv.write_text("户编号,户主姓名,地址,人口数,经度,纬度\n" + "".join(
        f"NEW{i},新户{i},新路{i}号,{i + 1},{x:.7f},{y:.7f}\n" for i, (_, x, y) in enumerate(pts)), encoding="utf-8")
    status, out, err = cli("import", "households", str(csv), "--db", str(path), "--json")
    assert status == 0, err
    assert VIA_APP in err
    doc = json.loads(out)
    assert doc["ok"] and doc["inserted"] == 3 and doc["file"] == "新住户.csv"
    assert "户编号 -> hh_id" in err and "%]" in err  # the header mapping and progress lines came back
    # The rows are in the app's own store, its generation moved (so the pages' caches renew) ...
    assert store.count("households") == before + 3 and store.generation > gen0
    # ... and the derived cell of each new household is the cell whose polygon holds it (shapely's answer).
    got = dict(store.query("SELECT hh_id, cell_id FROM households WHERE hh_id LIKE 'NEW%'").itertuples(index=False))
    assert got == {f"NEW{i}": cell for i, (cell, _, _) in enumerate(pts)}
    # Who did it: the imports log and the job's audit row name the OS user the kernel reported.
    assert store.scalar("SELECT username FROM imports ORDER BY imported_at DESC LIMIT 1") == OPERATOR
    j = jobs(store).iloc[-1]
    assert j.username == OPERATOR and j.object.startswith(f"import households {shlex.quote(str(csv))}")
    assert j.object.endswith("exit 0)")
    assert folders == set() and job_folders() == folders  # the job's private folder is gone


def test_import_shapefile_with_its_companion_files(app, tmp_path: Path) -> None:
    store, path = app
    (_, x, y), = _inside_points(store, 1)
    # In UTM metres, so the .prj must travel; Chinese names in GBK, so the .dbf and .cpg must.
    gdf = gpd.GeoDataFrame([{"站点编号": "SSHP1", "站点名称": "鼓浪屿龙头路卫生室", "站点类型": "卫生室", "服务半径": 300.0}],
                           geometry=[shapely.Point(x, y)], crs="EPSG:4326").to_crs("EPSG:32650")
    folder = tmp_path / "shp"
    folder.mkdir()
    gdf.to_file(folder / "站点.shp", encoding="GBK")  # GBK: four Chinese characters fit the 10-byte field names
    (folder / "其他.txt").write_text("not part of the shapefile")
    assert {p.suffix for p in folder.iterdir()} >= {".shp", ".shx", ".dbf", ".prj", ".cpg"}
    status, out, err = cli("import", "stations", str(folder / "站点.shp"), "--db", str(path))
    assert status == 0, err
    assert VIA_APP in err and "导入完成" in out
    row = store.query("SELECT name, type, radius_m, ST_X(geom) AS x, ST_Y(geom) AS y FROM stations"
                      " WHERE station_id = 'SSHP1'").iloc[0]
    assert row["name"] == "鼓浪屿龙头路卫生室" and row["radius_m"] == 300.0
    assert row["x"] == pytest.approx(x, abs=1e-7) and row["y"] == pytest.approx(y, abs=1e-7)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_equals_the_same_export_done_directly(app, tmp_path: Path, suffix: str) -> None:
    store, path = app
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / f"住户{suffix}"
    status, _, err = cli("export", "households", "--db", str(path), "--out", str(target))
    assert status == 0, err
    assert VIA_APP in err
    assert f"exported 3000 rows to {target}" in err and "warmgrid-job-" not in err  # the user's path, not the app's
    direct = tmp_path / f"direct{suffix}"
    export_table(store, OP, "households", direct)
    if suffix == ".csv":
        assert target.read_bytes() == direct.read_bytes()
    else:
        pd.testing.assert_frame_equal(pd.read_excel(target, dtype=str), pd.read_excel(direct, dtype=str))
    assert sorted(p.name for p in out_dir.iterdir()) == [target.name]  # no temporary file left beside it
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # an ordinary new file's mode


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pdf_body(data: bytes) -> bytes:
    return re.sub(rb"/ID \[<[0-9A-F]+><[0-9A-F]+>\]|/CreationDate \(D:[0-9Z]+\)", b"", data)


def test_bulletin_pdf_and_xlsx_equal_the_library(app, tmp_path: Path) -> None:
    import openpyxl

    store, path = app
    unit = str(store.scalar("SELECT code FROM admin_units WHERE level = 'district'"))
    args = ("--unit", unit, "--from", "2025-11-01", "--to", "2026-02-28", "--campaign", "C2025W")
    for suffix in (".pdf", ".xlsx"):
        target = tmp_path / f"情况通报{suffix}"
        status, _, err = cli("bulletin", "--db", str(path), *args, "--out", str(target))
        assert status == 0, err
        assert VIA_APP in err and f"written {target}" in err
        b = bulletin_data(store, unit, date(2025, 11, 1), date(2026, 2, 28), "C2025W", scope=EVERYTHING)
        direct = tmp_path / f"direct{suffix}"
        if suffix == ".pdf":
            bulletin_pdf(b, direct)
            data = target.read_bytes()
            assert data.startswith(b"%PDF") and _pdf_body(data) == _pdf_body(direct.read_bytes())
        else:
            bulletin_xlsx(b, direct)
            got, want = openpyxl.load_workbook(target), openpyxl.load_workbook(direct)
            assert got.sheetnames == want.sheetnames
            for name in want.sheetnames:
                assert [[c.value for c in r] for r in got[name].iter_rows()] == \
                    [[c.value for c in r] for r in want[name].iter_rows()]


def test_user_add_from_stdin_then_list_and_sign_in(app) -> None:
    store, path = app
    street = str(store.scalar("SELECT min(code) FROM admin_units WHERE level = 'street'"))
    secret = "liu-secret-9"
    status, _, err = cli("user", "add", "liu", "--role", "committee", "--scope", street, "--db", str(path),
                         "--password-stdin", stdin=secret + "\n")
    assert status == 0, err
    assert VIA_APP in err and "created user liu" in err
    user, _ = users.authenticate(store, "liu", secret)
    assert user.role == "committee" and user.scope == (street,)
    made = store.query("SELECT username FROM audit_log WHERE action = 'user_admin' AND object = 'create_user liu'")
    assert made["username"].tolist() == [OPERATOR]
    # The password went over the socket as standard input: it is in no audit row and no command line.
    assert store.scalar("SELECT count(*) FROM audit_log WHERE object LIKE ?", [f"%{secret}%"]) == 0
    status, out, err = cli("user", "list", "--db", str(path), "--json")
    assert status == 0, err
    listed = {u["username"]: u for u in json.loads(out)}
    assert listed["liu"]["role"] == "committee" and "pw_hash" not in listed["liu"]
    assert set(listed) == set(users.list_users(store)["username"])


def test_user_add_prompts_in_the_client(app, monkeypatch: pytest.MonkeyPatch) -> None:
    store, path = app
    asked: list[str] = []

    def getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return "prompted-pass-7"

    monkeypatch.setattr("getpass.getpass", getpass)
    status, _, err = cli("user", "add", "wuming", "--role", "inspector", "--db", str(path))
    assert status == 0, err
    assert len(asked) == 2  # asked twice, here in the client, before anything was sent
    assert users.authenticate(store, "wuming", "prompted-pass-7")[0].username == "wuming"


def test_coverage_json_equals_the_library(app) -> None:
    store, path = app
    status, out, err = cli("coverage", "--db", str(path), "--as-of", "2026-11-15")
    assert status == 0, err
    assert VIA_APP in err
    doc = json.loads(out)
    lib = coverage_report(store, as_of=date(2026, 11, 15), scope=EVERYTHING)
    for key in ("households", "station_gaps", "visits"):
        assert doc[key] == lib[key], key
    assert doc["wardens"]["cells_without_warden"] == lib["wardens"]["cells_without_warden"]


def test_refused_jobs_exit_1_with_both_languages_and_change_nothing(app, tmp_path: Path) -> None:
    store, path = app
    users, households = store.count("users"), store.count("households")
    status, _, err = cli("user", "add", "zhao", "--role", "warden", "--db", str(path), "--password-stdin",
                         stdin="short\n")
    assert status == 1
    assert re.search(r"[\u4e00-\u9fff]", err) and "password" in err.lower()
    bad = tmp_path / "hh.csv"
    bad.write_text("户编号,地址,人口数,经度,纬度\nZ1,某路1号,0,118.08,24.48\nZ2,,2,abc,24.48\n", encoding="utf-8")
    status, out, err = cli("import", "households", str(bad), "--db", str(path), "--json")
    assert status == 1
    assert "导入被拒绝" in err and "database is unchanged" in err
    assert "hh.csv 第2行" in err and "warmgrid-job-" not in err  # rows named in the user's file
    assert {(p["行 row"], p["字段 field"]) for p in json.loads(out)["problems"]} >= {(2, "人口数"), (3, "地址")}
    status, _, err = cli("bulletin", "--db", str(path), "--unit", "999999999999", "--from", "2025-11-01",
                         "--to", "2026-02-28", "--out", str(tmp_path / "b.pdf"))
    assert status == 1 and not (tmp_path / "b.pdf").exists()
    assert store.count("users") == users and store.count("households") == households
    assert [o.rsplit(", ", 1)[1] for o in jobs(store)["object"]] == ["exit 1)"] * 3


def test_a_missing_input_or_output_folder_is_refused_in_the_client(app, tmp_path: Path) -> None:
    store, path = app
    status, _, err = cli("import", "households", str(tmp_path / "none.csv"), "--db", str(path))
    assert status == 1 and "文件不存在" in err and "file not found" in err
    status, _, err = cli("export", "stations", "--db", str(path), "--out", str(tmp_path / "no" / "s.csv"))
    assert status == 1 and "folder not found" in err
    assert jobs(store).empty  # nothing was sent


def test_twenty_concurrent_jobs_lose_nothing(app) -> None:
    store, path = app
    users = store.count("users")
    results: list[tuple[int, str]] = []

    def add(i: int) -> None:
        status, _, err = cli("user", "add", f"worker{i:02d}", "--role", "inspector", "--db", str(path),
                             "--password-stdin", stdin=f"worker-pass-{i:02d}\n")
        results.append((status, err))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [r[0] for r in results] == [0] * 20, results
    names = store.query("SELECT username FROM users WHERE username LIKE 'worker%'")["username"]
    assert sorted(names) == [f"worker{i:02d}" for i in range(20)] and store.count("users") == users + 20
    assert len(jobs(store)) == 20


def test_a_separate_process_finds_the_file_held_and_goes_through_the_app(app, tmp_path: Path) -> None:
    store, path = app
    probe = subprocess.run([sys.executable, "-c", "import sys; from grid.store import is_held;"
                            " print(is_held(sys.argv[1]))", str(path)], capture_output=True, text=True, cwd=ROOT,
                           timeout=120)
    assert probe.stdout.strip() == "True", probe.stderr  # DuckDB would refuse that process the file
    r = subprocess.run([sys.executable, "-m", "grid", "user", "list", "--db", str(path), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert {u["username"] for u in json.loads(r.stdout)} == set(users.list_users(store)["username"])
    pid = int(jobs(store).iloc[-1].object.rsplit("(pid ", 1)[1].split(",")[0])
    assert pid > 0 and pid != os.getpid()  # the peer's pid as the kernel reported it
    # demo replaces files: never one the app holds.
    r = subprocess.run([sys.executable, "-m", "grid", "demo", "--db", str(path), "--force", "--households", "100"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 1 and "held by the running app" in r.stderr and "demo" in r.stderr
    assert store.count("households") == 3000 and path.exists()


# --------------------------------------------------------------------------- the protocol, raw
def _frame(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">cI", kind, len(payload)) + payload


def _read(sock: socket.socket) -> tuple[bytes, bytes]:
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            part = sock.recv(n - len(buf))
            if not part:
                raise EOFError
            buf += part
        return buf

    kind, size = struct.unpack(">cI", exact(5))
    return kind, exact(size)


def raw(sock_path: Path, request: dict[str, Any], data: bytes = b"") -> list[tuple[bytes, bytes]]:
    """Send a hand-made request as the module docstring describes it; every frame received."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(str(sock_path))
        try:
            s.sendall(_frame(b"H", json.dumps({"protocol": 1, **request}).encode()))
        except BrokenPipeError:  # refused at once: the reasons are still there to read
            pass
        frames = [_read(s)]
        if frames[0][0] == b"A" and data:
            s.sendall(_frame(b"D", data))
        while frames[-1][0] != b"X":
            frames.append(_read(s))
        return frames


def _status(frames: list[tuple[bytes, bytes]]) -> int:
    assert frames[-1][0] == b"X"
    return int(json.loads(frames[-1][1])["status"])


def _err(frames: list[tuple[bytes, bytes]]) -> str:
    return b"".join(p for k, p in frames if k == b"E").decode()


def test_file_names_with_folders_are_refused(app, tmp_path: Path) -> None:
    store, path = app
    sock = channel.socket_path(path)
    for name in ("../evil.csv", "/tmp/evil.csv", "..", "a/b.csv"):
        frames = raw(sock, {"argv": ["import", "households", name, "--db", str(path)],
                            "inputs": {"file": [{"name": name, "size": 3}]}})
        assert _status(frames) == 1 and "invalid file name" in _err(frames), name
        assert frames[0][0] != b"A"  # refused before a byte of the file was taken
    # A companion that is not the Shapefile's own, or a file the command does not read, is refused too.
    for inputs in ({"file": [{"name": "a.shp", "size": 1}, {"name": "b.dbf", "size": 1}]},
                   {"file": [{"name": "a.shp", "size": 1}, {"name": "a.exe", "size": 1}]},
                   {"file": [{"name": "other.shp", "size": 1}]},
                   {"out": [{"name": "a.csv", "size": 1}]}):
        frames = raw(sock, {"argv": ["import", "cells", "a.shp", "--db", str(path)], "inputs": inputs})
        assert _status(frames) == 1 and "do not match" in _err(frames), inputs
    assert jobs(store).empty


def test_sizes_are_limited_before_anything_is_received(app) -> None:
    _, path = app
    sock = channel.socket_path(path)
    frames = raw(sock, {"argv": ["import", "households", "big.csv", "--db", str(path)],
                        "inputs": {"file": [{"name": "big.csv", "size": channel.MAX_INPUT_BYTES + 1}]}})
    assert _status(frames) == 1 and "over the limit" in _err(frames) and frames[0][0] == b"E"
    frames = raw(sock, {"argv": ["user", "add", "x", "--role", "admin", "--password-stdin", "--db", str(path)],
                        "inputs": {}, "stdin": channel.MAX_STDIN + 1})
    assert _status(frames) == 1 and "standard input" in _err(frames)
    frames = raw(sock, {"argv": ["user", "list", "--db", str(path)], "inputs": {}, "stdin": 5})
    assert _status(frames) == 1 and "reads no standard input" in _err(frames)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:  # a control frame over 64 KiB
        s.settimeout(30)
        s.connect(str(sock))
        s.sendall(struct.pack(">cI", b"H", (64 << 10) + 1))
        kind, payload = _read(s)
        assert kind == b"E" and b"too large" in payload


def test_the_app_never_writes_where_the_client_says(app, tmp_path: Path) -> None:
    store, path = app
    victim = tmp_path / "victim"
    victim.mkdir()
    frames = raw(channel.socket_path(path), {"argv": ["export", "stations", "--db", "/nonexistent/x.duckdb",
                                                      "--out", str(victim / "s.csv")], "inputs": {}})
    assert _status(frames) == 0
    heads = [json.loads(p) for k, p in frames if k == b"F"]
    assert heads == [{"arg": "out", "size": sum(len(p) for k, p in frames if k == b"D")}]
    body = b"".join(p for k, p in frames if k == b"D")
    assert body.decode("utf-8-sig").count("\n") == store.count("stations") + 1
    assert list(victim.iterdir()) == []  # only a client writes there, and this one did not


def test_demo_a_bad_protocol_and_bad_arguments_are_refused(app) -> None:
    store, path = app
    sock = channel.socket_path(path)
    frames = raw(sock, {"argv": ["demo", "--db", str(path), "--force"], "inputs": {}})
    assert _status(frames) == 1 and "replaces the whole database file" in _err(frames)
    frames = raw(sock, {"argv": ["user", "list", "--db", str(path)], "inputs": {}, "protocol": 99})
    assert _status(frames) == 1 and "protocol 99" in _err(frames)
    frames = raw(sock, {"argv": ["gaps", "--db", str(path), "--station-type", "spaceport"], "inputs": {}})
    assert _status(frames) == 2 and "invalid choice" in _err(frames)
    assert store.count("households") == 3000


def test_a_client_that_goes_away_cancels_its_job_and_nothing_is_half_written(app, tmp_path: Path) -> None:
    store, path = app
    before = store.count("households")
    (_, x, y), = _inside_points(store, 1)
    data = f"户编号,地址,人口数,经度,纬度\nGONE1,去路1号,1,{x:.7f},{y:.7f}\n".encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:  # like Ctrl-C right after sending
        s.settimeout(30)
        s.connect(str(channel.socket_path(path)))
        s.sendall(_frame(b"H", json.dumps({"protocol": 1, "argv": ["import", "households", "gone.csv", "--db", "x"],
                                           "inputs": {"file": [{"name": "gone.csv", "size": len(data)}]}}).encode()))
        assert _read(s)[0] == b"A"
        s.sendall(_frame(b"D", data))
    deadline = time.monotonic() + 30
    while jobs(store).empty and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs(store).iloc[-1].object.endswith("client disconnected)")
    assert store.count("households") == before


NOBODY = 65534
_PEER_SCRIPT = r"""
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
body = json.dumps({"protocol": 1, "argv": ["user", "list", "--db", "x"], "inputs": {}}).encode()
try:
    s.sendall(struct.pack(">cI", b"H", len(body)) + body)
except BrokenPipeError:
    pass
out = []
while True:
    head = s.recv(5, socket.MSG_WAITALL)
    kind, size = struct.unpack(">cI", head)
    payload = s.recv(size, socket.MSG_WAITALL) if size else b""
    out.append([kind.decode(), payload.decode()])
    if kind == b"X":
        break
print(json.dumps(out))
"""


def _python_for_anyone() -> str:
    """A Python interpreter every user may run (this one may live under /root)."""
    for exe in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        path = Path(os.path.realpath(exe))
        if path.is_file() and all(p.stat().st_mode & 0o001 for p in (path, *path.parents)):
            return str(path)
    raise AssertionError("no Python interpreter that user nobody may run")


def test_only_the_apps_own_user_and_root_are_served(app) -> None:
    store, path = app
    folder = Path(tempfile.mkdtemp(prefix="wg-peer-"))
    try:
        os.chmod(folder, 0o755)
        sock = folder / "peer.sock"
        # A server that serves some other uid only: this process's uid is refused by its credentials.
        other = channel.Server(sock, AppJobs(store), allowed_uids=[os.getuid() + 4242])
        assert other.start()
        try:
            frames = raw(sock, {"argv": ["user", "list", "--db", str(path)], "inputs": {}})
            assert _status(frames) == 1 and f"not from {ME}" in _err(frames)
        finally:
            other.stop()
        # The same through the real client: the refusal reaches the user with exit status 1.
        db2 = folder / "other.duckdb"
        shutil.copyfile(path, db2)
        picky = channel.Server(channel.socket_path(db2), AppJobs(store), allowed_uids=[os.getuid() + 4242])
        assert picky.start()
        try:
            status, _, err = cli("user", "list", "--db", str(db2))
            assert status == 1 and "只接受" in err and f"not from {ME}" in err
        finally:
            picky.stop()
        assert not sock.exists()
        if os.geteuid() == 0:  # as root, also try a real process of another user against the app's own policy
            server = channel.Server(sock, AppJobs(store))
            assert server.start()
            try:
                os.chmod(sock, 0o666)  # let the file mode pass: the peer check alone must refuse
                r = subprocess.run([_python_for_anyone(), "-S", "-c", _PEER_SCRIPT, str(sock)], user=NOBODY,
                                   capture_output=True, text=True, timeout=60, cwd="/")
                assert r.returncode == 0, r.stderr
                frames = json.loads(r.stdout)
                assert frames[-1] == ["X", '{"status": 1}'] and "takes jobs only from its own OS user" in frames[0][1]
            finally:
                server.stop()
        assert jobs(store).empty
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- the server's life
def test_stderr_is_streamed_while_the_job_runs(tmp_path: Path) -> None:
    proceed = threading.Event()

    class Slow:
        def admit(self, request: channel.Request) -> None:
            return None

        def run(self, job: channel.Job, plan: None) -> int:
            job.stderr.write("[ 10.0%] 第一步 step one\n")
            assert proceed.wait(30), "the client never saw the first line"
            job.stdout.write("done\n")
            return 0

    server = channel.Server(tmp_path / "s.sock", Slow())
    assert server.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(20)
            s.connect(str(tmp_path / "s.sock"))
            s.sendall(_frame(b"H", json.dumps({"protocol": 1, "argv": [], "inputs": {}}).encode()))
            assert _read(s)[0] == b"A"
            kind, payload = _read(s)  # arrives while the job still waits: it was not held back to the end
            assert (kind, payload.decode()) == (b"E", "[ 10.0%] 第一步 step one\n")
            proceed.set()
            assert _read(s) == (b"O", b"done\n")
            assert _read(s) == (b"X", b'{"status": 0}')
    finally:
        server.stop()


def test_a_stale_socket_is_replaced_a_live_one_never_stolen(district_file, tmp_path: Path) -> None:
    path = tmp_path / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    sock = channel.socket_path(path)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sock))  # what a crashed app leaves behind: the file, nobody listening
    dead.close()
    assert sock.exists()
    store = open_store(path)
    try:
        first = serve_jobs(store)
        assert first is not None
        second = channel.Server(sock, AppJobs(store))
        assert not second.start()  # a live server keeps its socket
        status, out, err = cli("user", "list", "--db", str(path))
        assert status == 0 and VIA_APP in err and "warden" in out
    finally:
        store.close()
    assert not sock.exists()  # closing the store stopped the channel and removed its socket
    sock.write_text("not a socket")  # anything else at that path is left alone
    store = open_store(path)
    try:
        assert serve_jobs(store) is None and sock.read_text() == "not a socket"
    finally:
        store.close()


def test_without_the_app_the_command_opens_the_file_itself(district_file, tmp_path: Path) -> None:
    path = tmp_path / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    store = open_store(path)
    serve_jobs(store)
    store.close()
    status, out, err = cli("user", "list", "--db", str(path), "--json")
    assert status == 0 and VIA_APP not in err
    assert {u["username"] for u in json.loads(out)} >= {"admin", "warden"}


def test_a_long_path_gets_a_hashed_socket_in_a_private_folder(district_file, tmp_path: Path) -> None:
    deep = tmp_path / ("长路径" * 6) / ("x" * 60)
    deep.mkdir(parents=True)
    path = deep / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    assert len(os.fsencode(f"{path.resolve()}.sock")) > channel.MAX_SOCKET_PATH
    store = open_store(path)
    try:
        server = serve_jobs(store)
        assert server is not None
        assert len(os.fsencode(str(server.path))) <= channel.MAX_SOCKET_PATH
        assert server.path.parent != deep and server.path in channel.candidate_paths(path)
        assert server.path.parent.stat().st_mode & 0o777 == 0o700
        status, _, err = cli("coverage", "--db", str(path))
        assert status == 0 and VIA_APP in err
    finally:
        store.close()


def test_every_file_argument_is_in_the_table() -> None:
    """A new argument naming a file must be declared in COMMAND_FILES, or it would not travel."""
    parser = _parser()
    found: dict[str, set[str]] = {}

    def walk(p: Any, prefix: str) -> None:
        for action in p._actions:
            if action.choices and isinstance(action.choices, dict) and action.dest in (
                    "command", "user_command", "roads_command", "needs_command", "applications_command"):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}".strip())
            elif action.dest not in ("help", "db") and action.nargs != 0 and (
                    action.dest in ("file", "out", "path", "input", "output")
                    or re.search(r"\bFILE\b", f"{action.help or ''} {action.metavar or ''}")):
                found.setdefault(prefix, set()).add(action.dest)

    walk(parser, "")
    declared = {k: set(v.inputs) | set(v.outputs) for k, v in COMMAND_FILES.items()}
    assert found == {k: v for k, v in declared.items() if v}


def test_locating_by_address_through_the_app_brings_the_review_file_back(app, district, tmp_path: Path) -> None:
    """``--review-out`` comes back from a refused import (exit 1), and ``--review`` travels to the app."""
    store, path = app
    before = store.count("households")
    door = district.addresses[district.addresses["level"] == "door"].iloc[0]
    roll = tmp_path / "按地址.csv"
    roll.write_text("户编号,户主姓名,地址,人口数\n"
                    f"AD1,甲,{district.households['address'].iloc[0]},1\nAD2,乙,无此路1号,1\n", encoding="utf-8")
    review = tmp_path / "REVIEW.csv"
    status, out, err = cli("import", "households", str(roll), "--db", str(path), "--locate", "address",
                           "--review-out", str(review), "--json")
    assert status == 1 and VIA_APP in err and review.is_file() and "warmgrid-job-" not in err
    assert json.loads(out)["counts"]["review"] == 1 and store.count("households") == before
    filled = pd.read_csv(review, dtype=str, encoding="utf-8-sig")
    filled["选定地址编码"] = door["addr_id"]
    filled.to_csv(review, index=False, encoding="utf-8-sig")
    status, out, err = cli("import", "households", str(roll), "--db", str(path), "--locate", "address",
                           "--review", str(review))
    assert status == 0, err
    assert store.count("households") == before + 2
    assert store.scalar("SELECT addr_id FROM households WHERE hh_id = 'AD2'") == door["addr_id"]
