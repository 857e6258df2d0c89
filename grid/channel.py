"""The local channel through which the command line reaches a running app.

DuckDB lets one process open a database file while it is open for writing: while the
app runs, no other process can open the file, not even to read. So the process that
holds the file also takes the command line's jobs. When the app opens its store it
starts a :class:`Server` on a Unix domain socket beside the database file; when the
command line finds that socket alive it sends the job there (:func:`connect`,
:func:`submit`) instead of opening the file. The job runs inside the app, on the app's
own open store, so every write goes through the store's one writer
(``Store.transaction``) and the app's pages show the new rows on their next rerun.

This module is the transport only: where the socket lives, who may connect, how a job
and its files travel, and the server's threads. What a job *does* is the handler's
business (:class:`grid.cli.AppJobs` runs the command line's own commands).

Who can connect
---------------
The socket is ``DATABASE.sock`` beside the database file (its real path), mode 0600,
owned by the app's OS user. If that path is longer than a socket path may be (107
bytes), it is a hashed name in a private directory of mode 0700 instead
(``/run/user/UID/warmgrid`` or ``/tmp/warmgrid-UID``). The server then checks the
peer's credentials as the kernel reports them (``SO_PEERCRED``: pid, uid, gid) and
serves only the app's own uid and root: the people who could open the database file
themselves if the app were stopped. The client in turn checks the server's uid (its
own, the database file's owner's, or root) before it sends anything, so a socket
planted by another user in a shared folder receives nothing.

Protocol
--------
Frames: one byte of kind, a 4-byte big-endian length, then the payload (control
frames are JSON of at most 64 KiB, data frames at most 1 MiB).

1. client → ``H`` ``{"protocol": 1, "argv": [...], "inputs": {ARG: [{"name", "size"}, ...]},
   "stdin": N}``: the command line as typed, the files named by its input arguments
   (base names and sizes; a Shapefile's companions follow its ``.shp``) and the number
   of bytes of standard input;
2. server → ``A`` (admitted) or a refusal (``E`` text, then ``X``);
3. client → ``D`` frames: each input file's bytes in order, then standard input;
4. server → ``O`` / ``E`` frames (standard output and error, streamed as the job writes
   them), for each output file an ``F`` ``{"arg", "size"}`` followed by ``D`` frames,
   and last ``X`` ``{"status": N}``.

What the server never does: read or write a path the client names (input files are
written into a private temporary folder under their base names, outputs are written
there and sent back, and the client writes them where the user asked, atomically), hold
a whole input file in memory (it streams to disk), or accept more than
:data:`MAX_INPUT_BYTES` of input, more than :data:`MAX_STDIN` bytes of standard input,
or a control frame over 64 KiB.

Examples
--------
>>> len(bytes(socket_path("/srv/warmgrid/data/warmgrid.duckdb"))) <= MAX_SOCKET_PATH
True
>>> socket_path("/srv/warmgrid/data/warmgrid.duckdb").name
'warmgrid.duckdb.sock'
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import pwd
import shutil
import socket
import socketserver
import stat
import struct
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from grid.errors import WarmGridError

__all__ = [
    "PROTOCOL",
    "MAX_SOCKET_PATH",
    "MAX_INPUT_BYTES",
    "MAX_STDIN",
    "JOBS_AT_ONCE",
    "socket_path",
    "candidate_paths",
    "peer_credentials",
    "InputFile",
    "Request",
    "Job",
    "Refused",
    "Handler",
    "Server",
    "Link",
    "connect",
    "submit",
]

log = logging.getLogger(__name__)

#: Version of the frames and messages below; a server refuses any other.
PROTOCOL = 1
#: The longest socket path Linux accepts (``sun_path`` is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107
#: Input files of one job, all together (an import may be hundreds of MB).
MAX_INPUT_BYTES = 4 << 30
#: Standard input of one job (a password).
MAX_STDIN = 64 << 10
#: Jobs that run at the same time; later ones wait for a free slot (writes are serialised by the store anyway).
JOBS_AT_ONCE = 2
#: Connections open at once (running, waiting or sending); more are refused as busy.
MAX_CONNECTIONS = 32
#: Seconds a client may take between two frames of its request.
REQUEST_TIMEOUT = 120.0
#: Seconds the server waits for a client to read its output before giving up on it.
SEND_TIMEOUT = 600.0

_CHUNK = 1 << 20
_MAX_CONTROL = 64 << 10
_HEAD = struct.Struct(">cI")
_CRED = struct.Struct("3i")
_FLUSH_AT = 64 << 10
_DISK_MARGIN = 64 << 20


# --------------------------------------------------------------------------- where the socket is
def _runtime_dir(uid: int) -> Path:
    run = Path(f"/run/user/{uid}")
    return run / "warmgrid" if run.is_dir() else Path(f"/tmp/warmgrid-{uid}")


def _hashed_name(real: str) -> str:
    return hashlib.sha256(os.fsencode(real)).hexdigest()[:32] + ".sock"


def socket_path(db: str | os.PathLike[str], uid: int | None = None) -> Path:
    """Where the app serving ``db`` (running as ``uid``, default this process's) listens.

    ``DATABASE.sock`` beside the database's real path, or, when that is longer than
    :data:`MAX_SOCKET_PATH` bytes, a hashed name in the private runtime folder of ``uid``.

    >>> p = socket_path("/" + "d" * 120 + "/x.duckdb", uid=1000)
    >>> p.parent.name in ("warmgrid", "warmgrid-1000"), p.suffix, len(str(p)) <= MAX_SOCKET_PATH
    (True, '.sock', True)
    """
    real = os.path.realpath(os.fspath(db))
    beside = real + ".sock"
    if len(os.fsencode(beside)) <= MAX_SOCKET_PATH:
        return Path(beside)
    return _runtime_dir(os.getuid() if uid is None else uid) / _hashed_name(real)


def candidate_paths(db: str | os.PathLike[str]) -> list[Path]:
    """Where a client looks for the app serving ``db``: beside the file, else in the runtime
    folder of this user and of the database file's owner (the app's user, typically)."""
    real = os.path.realpath(os.fspath(db))
    uids = [os.getuid()]
    with contextlib.suppress(OSError):
        uids.append(os.stat(real).st_uid)
    return list(dict.fromkeys(socket_path(real, uid) for uid in uids))


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """``(pid, uid, gid)`` of the process at the other end of a Unix socket, as the kernel reports them."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    pid, uid, gid = _CRED.unpack(raw)
    return pid, uid, gid


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def _umask() -> int:
    """This process's umask, read without changing it (other threads may be creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


# --------------------------------------------------------------------------- frames
class _ProtocolError(WarmGridError):
    """A frame or message that does not follow the protocol."""

    def __init__(self, en: str) -> None:
        super().__init__(f"命令通道协议错误：{en}", f"channel protocol error: {en}")


class _Wire:
    """One connection: framed sends (thread-safe) and receives."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()
        self.broken = False

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        with self._send_lock:
            try:
                for start in range(0, max(len(payload), 1), _CHUNK):
                    part = payload[start:start + _CHUNK]
                    self.sock.sendall(_HEAD.pack(kind, len(part)) + part)
            except OSError:
                self.broken = True
                raise

    def send_json(self, kind: bytes, doc: Mapping[str, Any]) -> None:
        self.send(kind, json.dumps(doc, ensure_ascii=False).encode())

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            part = self.sock.recv(min(n - len(buf), _CHUNK))
            if not part:
                raise EOFError("the other end closed the connection")
            buf += part
        return bytes(buf)

    def recv(self) -> tuple[bytes, bytes]:
        kind, size = _HEAD.unpack(self._exact(_HEAD.size))
        if size > (_CHUNK if kind == b"D" else _MAX_CONTROL):
            raise _ProtocolError(f"frame {kind!r} of {size} bytes is too large")
        return kind, self._exact(size)

    def recv_json(self, want: bytes) -> dict[str, Any]:
        kind, payload = self.recv()
        if kind != want:
            raise _ProtocolError(f"expected a {want!r} frame, got {kind!r}")
        doc = json.loads(payload.decode())
        if not isinstance(doc, dict):
            raise _ProtocolError("a control frame is not a JSON object")
        return doc

    def recv_into(self, out: Any, size: int) -> None:
        """Receive ``size`` bytes of ``D`` frames into a binary file ``out``."""
        left = size
        while left > 0:
            kind, payload = self.recv()
            if kind != b"D" or len(payload) > left:
                raise _ProtocolError("file data does not match its declared size")
            out.write(payload)
            left -= len(payload)


class _Stream:
    """A job's standard output or error: text written by the command, sent as frames.

    Standard error is line-buffered (progress lines reach the user as they are written),
    standard output block-buffered like a pipe. Paths of the job's private folder are
    shown as the user typed them (:meth:`Job.show_as`).
    """

    def __init__(self, wire: _Wire, kind: bytes, *, line_buffered: bool) -> None:
        self._wire = wire
        self._kind = kind
        self._line = line_buffered
        self._buf = bytearray()
        self._subs: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    encoding = "utf-8"

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        n = len(s)
        for internal, shown in self._subs:
            s = s.replace(internal, shown)
        with self._lock:
            self._buf += s.encode("utf-8", "backslashreplace")
            due = len(self._buf) >= _FLUSH_AT or (self._line and "\n" in s)
        if due:
            self.flush()
        return n

    def flush(self) -> None:
        with self._lock:
            data, self._buf = bytes(self._buf), bytearray()
        if data and not self._wire.broken:
            self._wire.send(self._kind, data)

    def close(self) -> None:
        self.flush()


# --------------------------------------------------------------------------- requests and jobs
@dataclass(frozen=True)
class InputFile:
    """One file the client sends: its base name and size in bytes."""

    name: str
    size: int


@dataclass(frozen=True)
class Request:
    """What a client asks: the command line as typed, its input files per argument, and how
    many bytes of standard input follow."""

    argv: list[str]
    inputs: dict[str, list[InputFile]]
    stdin: int = 0

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Request:
        """Validate a request's JSON (types, names, sizes); raises :class:`Refused`."""
        if doc.get("protocol") != PROTOCOL:
            raise Refused(1, f"客户端协议版本 {doc.get('protocol')!r} 与应用的 {PROTOCOL} 不同，请使用同一版本的暖网。",
                          f"the client speaks protocol {doc.get('protocol')!r}, the app {PROTOCOL}: use the same "
                          "WarmGrid version for both.")
        argv, inputs, stdin = doc.get("argv"), doc.get("inputs", {}), doc.get("stdin", 0)
        if not isinstance(argv, list) or not all(isinstance(a, str) and "\x00" not in a for a in argv):
            raise Refused(2, "命令行参数无效。", "the command line is not a list of strings.")
        if not isinstance(stdin, int) or not 0 <= stdin <= MAX_STDIN:
            raise Refused(1, f"标准输入超过 {MAX_STDIN} 字节。", f"standard input is over {MAX_STDIN} bytes.")
        if not isinstance(inputs, dict):
            raise Refused(1, "输入文件清单无效。", "the list of input files is not valid.")
        files: dict[str, list[InputFile]] = {}
        total = 0
        for arg, items in inputs.items():
            if not isinstance(arg, str) or not isinstance(items, list) or not items:
                raise Refused(1, "输入文件清单无效。", "the list of input files is not valid.")
            names: set[str] = set()
            got: list[InputFile] = []
            for item in items:
                name = item.get("name") if isinstance(item, dict) else None
                size = item.get("size") if isinstance(item, dict) else None
                if not isinstance(name, str) or not _safe_name(name) or name in names:
                    raise Refused(1, f"文件名无效：{name!r}（只接受不含路径的文件名）。",
                                  f"invalid file name {name!r} (a base name without any folder is expected).")
                if not isinstance(size, int) or size < 0:
                    raise Refused(1, f"文件 {name} 的大小无效。", f"invalid size for {name}.")
                names.add(name)
                total += size
                got.append(InputFile(name, size))
            files[arg] = got
        if total > MAX_INPUT_BYTES:
            raise Refused(1, f"输入文件共 {total} 字节，超过上限 {MAX_INPUT_BYTES} 字节。",
                          f"the input files hold {total} bytes, over the limit of {MAX_INPUT_BYTES}.")
        return cls(list(argv), files, stdin)

    @property
    def input_bytes(self) -> int:
        return sum(f.size for fs in self.inputs.values() for f in fs)


def _safe_name(name: str) -> bool:
    """A base name: no folder, not ``.`` or ``..``, no NUL, at most 255 bytes."""
    try:
        raw = os.fsencode(name)
    except UnicodeError:
        return False
    return (0 < len(raw) <= 255 and name not in (".", "..") and "/" not in name and "\x00" not in name
            and os.path.basename(name) == name)


class Refused(WarmGridError):
    """A job the server will not run, with its exit status (1 refused, 2 wrong arguments)."""

    def __init__(self, status: int, zh: str, en: str | None = None) -> None:
        self.status = status
        super().__init__(zh, zh if en is None else en)

    def text(self) -> str:
        return str(self) if self.zh != self.en else self.zh


@dataclass
class Job:
    """One admitted job as the handler sees it.

    ``inputs`` holds, per argument, the received files in the job's private folder (the
    first is the file the argument names, the others its companions); ``outputs`` is
    filled by the handler with the files to send back (only after exit status 0).
    """

    request: Request
    pid: int
    uid: int
    user: str
    workdir: Path
    inputs: dict[str, list[Path]]
    stdin: str
    stdout: _Stream
    stderr: _Stream
    outputs: dict[str, Path] = field(default_factory=dict)

    def show_as(self, internal: str, shown: str) -> None:
        """Print ``internal`` (a path in the private folder) as ``shown`` in the job's output."""
        for s in (self.stdout, self.stderr):
            s._subs.append((internal, shown))
            s._subs.sort(key=lambda p: -len(p[0]))

    @property
    def disconnected(self) -> bool:
        """Whether the client went away while the job ran."""
        return self.stdout._wire.broken


class Handler(Protocol):
    """What a :class:`Server` runs: ``admit`` checks a request before any file is received
    (raising :class:`Refused`) and returns a plan; ``run`` runs it and returns the exit status."""

    def admit(self, request: Request) -> Any: ...

    def run(self, job: Job, plan: Any) -> int: ...


# --------------------------------------------------------------------------- the server
class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # a burst of clients waits in the backlog rather than timing out
    channel: Server


class _Connection(socketserver.BaseRequestHandler):
    server: _UnixServer

    def handle(self) -> None:
        self.server.channel._serve(self.request)


_LIVE: set[Server] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def stop_all() -> None:
    """Stop every job server of this process (at exit, and when the web server shuts down)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for server in live:
        server.stop(timeout=10.0)


class Server:
    """A job server on a Unix socket: one daemon thread accepting, one thread per connection,
    at most :data:`JOBS_AT_ONCE` jobs running (others wait their turn).

    Parameters
    ----------
    path : Path
        The socket (see :func:`socket_path`).
    handler : Handler
        What runs the jobs.
    allowed_uids : collection of int, optional
        Peers that may connect; default this process's uid and root.
    """

    def __init__(self, path: str | os.PathLike[str], handler: Handler, *,
                 allowed_uids: Sequence[int] | None = None, jobs_at_once: int = JOBS_AT_ONCE) -> None:
        self.path = Path(path)
        self.handler = handler
        self.allowed_uids = frozenset(allowed_uids if allowed_uids is not None else (os.getuid(), 0))
        self._slots = threading.BoundedSemaphore(jobs_at_once)
        self._srv: _UnixServer | None = None
        self._thread: threading.Thread | None = None
        self._inode: tuple[int, int] | None = None
        self._active = 0
        self._active_cv = threading.Condition()

    def __hash__(self) -> int:
        return id(self)

    @property
    def running(self) -> bool:
        return self._srv is not None

    # -- starting and stopping ------------------------------------------------------------
    def start(self) -> bool:
        """Bind the socket and start serving; False (and a warning in the log) when another live
        server holds the path or the folder is not private. A stale socket left by a crashed app
        is removed; a live one, or anything that is not a socket, never is."""
        if self._srv is not None:
            return True
        if not hasattr(socket, "SO_PEERCRED"):
            log.warning("no SO_PEERCRED on this system: the command line cannot reach the running app")
            return False
        try:
            self._prepare_path()
            srv = _UnixServer(str(self.path), _Connection)
        except (OSError, _Unsafe) as exc:
            log.warning("command-line channel not started at %s: %s", self.path,
                        exc.en if isinstance(exc, _Unsafe) else exc)
            return False
        try:
            os.chmod(self.path, 0o600)
            st = os.stat(self.path)
            self._inode = (st.st_dev, st.st_ino)
        except OSError as exc:
            srv.server_close()
            log.warning("command-line channel not started at %s: %s", self.path, exc)
            return False
        srv.channel = self
        self._srv = srv
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.25},
                                        name="warmgrid-cli-channel", daemon=True)
        self._thread.start()
        with _LIVE_LOCK:
            _LIVE.add(self)
        log.info("command-line channel listening at %s", self.path)
        return True

    def _prepare_path(self) -> None:
        if self.path.parent == _runtime_dir(os.getuid()):  # the fallback for long paths: a private folder
            _private_dir(self.path.parent)
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise _Unsafe(f"{self.path} exists and is not a socket; it is left alone")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(2.0)
        try:
            probe.connect(str(self.path))
        except (ConnectionRefusedError, FileNotFoundError):
            log.info("removing the stale socket %s", self.path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            return
        except OSError as exc:
            raise _Unsafe(f"{self.path} cannot be probed ({exc}); it is left alone") from exc
        finally:
            probe.close()
        raise _Unsafe(f"another process already serves {self.path}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, wait up to ``timeout`` seconds for running jobs, remove the socket."""
        srv, self._srv = self._srv, None
        if srv is None:
            return
        with _LIVE_LOCK:
            _LIVE.discard(self)
        srv.shutdown()
        srv.server_close()
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == self._inode:  # ours, not a successor's
                os.unlink(self.path)
        except OSError:
            pass
        with self._active_cv:
            self._active_cv.wait_for(lambda: self._active == 0, timeout=timeout)
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    # -- one connection -------------------------------------------------------------------
    def _serve(self, sock: socket.socket) -> None:
        wire = _Wire(sock)
        with self._active_cv:
            self._active += 1
            busy = self._active > MAX_CONNECTIONS
        try:
            pid, uid, _gid = peer_credentials(sock)
            if uid not in self.allowed_uids:
                log.warning("refused a command-line job from uid %s (pid %s)", uid, pid)
                raise Refused(1, f"应用只接受其系统用户 {_user_name(os.getuid())} 和 root 的命令，拒绝用户"
                                 f" {_user_name(uid)}。",
                              f"the app takes jobs only from its own OS user {_user_name(os.getuid())} and root, "
                              f"not from {_user_name(uid)}.")
            if busy:
                raise Refused(1, "应用正忙（同时连接过多），请稍后再试。", "the app is busy (too many connections); try again.")
            sock.settimeout(REQUEST_TIMEOUT)
            try:
                head = wire.recv_json(b"H")
            except EOFError:  # a probe (connect and close), or a client that found nothing to send
                return
            request = Request.parse(head)
            plan = self.handler.admit(request)
            free = shutil.disk_usage(tempfile.gettempdir()).free
            if request.input_bytes + _DISK_MARGIN > free:
                raise Refused(1, f"应用所在机器的临时目录空间不足（需要 {request.input_bytes} 字节）。",
                              f"not enough space in the app's temporary folder ({request.input_bytes} bytes needed).")
            wire.send(b"A")
            with _job_folder() as workdir:
                inputs = _receive_inputs(wire, request, workdir)
                buf = io.BytesIO()
                wire.recv_into(buf, request.stdin)
                stdin = buf.getvalue()
                status = self._run(wire, request, plan, pid, uid, workdir, inputs, stdin.decode("utf-8", "replace"))
            wire.send_json(b"X", {"status": status})  # after the private folder is gone
        except Refused as exc:
            _try_send_end(wire, exc.text(), exc.status)
        except (EOFError, TimeoutError, _ProtocolError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            log.warning("command-line job abandoned: %s", exc)
            _try_send_end(wire, str(exc if isinstance(exc, _ProtocolError) else _ProtocolError(str(exc))), 1)
        except OSError as exc:  # the client went away
            log.info("command-line client gone: %s", exc)
        finally:
            with self._active_cv:
                self._active -= 1
                self._active_cv.notify_all()

    def _run(self, wire: _Wire, request: Request, plan: Any, pid: int, uid: int, workdir: Path,
             inputs: dict[str, list[Path]], stdin: str) -> int:
        out = _Stream(wire, b"O", line_buffered=False)
        err = _Stream(wire, b"E", line_buffered=True)
        job = Job(request, pid, uid, _user_name(uid), workdir, inputs, stdin, out, err)
        if not self._slots.acquire(blocking=False):
            err.write("排队等待前面的任务完成 · waiting for the jobs ahead of this one\n")
            self._slots.acquire()
        if not self.running:  # the app began to stop while this job waited
            self._slots.release()
            raise Refused(1, "应用正在停止，任务未执行。", "the app is stopping; the job did not run.")
        try:
            sock = wire.sock
            sock.settimeout(SEND_TIMEOUT)
            try:
                status = int(self.handler.run(job, plan))
            except Exception as exc:  # a bug, not a refusal: say so, keep serving
                log.exception("command-line job failed")
                err.write(f"应用内部错误，任务未完成 · internal error in the app; the job did not finish: {exc!r}\n")
                status = 1
            out.flush()
            err.flush()
        finally:
            self._slots.release()
        # Output files travel whatever the status: writers write them whole or not at all, and a refused
        # command may leave one for the user (an import's review file, REVIEW.csv).
        for arg, path in job.outputs.items():
            if path.is_file():
                size = path.stat().st_size
                wire.send_json(b"F", {"arg": arg, "size": size})
                with open(path, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        wire.send(b"D", chunk)
        return status


class _Unsafe(WarmGridError):
    """The socket's path is not safe to serve on (taken, not a socket, a folder not private)."""

    def __init__(self, en: str) -> None:
        super().__init__(f"命令通道无法在此启动：{en}", en)


def _private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700, or check that it is this user's and private."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=False)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise _Unsafe(f"{path} is not a private folder of this user (mode 0700)")


@contextlib.contextmanager
def _job_folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="warmgrid-job-"))  # mode 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _receive_inputs(wire: _Wire, request: Request, workdir: Path) -> dict[str, list[Path]]:
    got: dict[str, list[Path]] = {}
    for i, (arg, files) in enumerate(request.inputs.items()):
        folder = workdir / "in" / str(i)
        folder.mkdir(parents=True)
        paths = []
        for f in files:
            path = folder / f.name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                wire.recv_into(out, f.size)
            paths.append(path)
        got[arg] = paths
    return got


def _try_send_end(wire: _Wire, message: str, status: int) -> None:
    with contextlib.suppress(OSError):
        wire.send(b"E", (message.rstrip("\n") + "\n").encode())
        wire.send_json(b"X", {"status": status})


# --------------------------------------------------------------------------- the client
@dataclass
class Link:
    """A connection to a live server, whose identity (``pid``, ``uid``) the client has checked."""

    sock: socket.socket
    path: Path
    pid: int
    uid: int

    def close(self) -> None:
        self.sock.close()


def connect(db: str | os.PathLike[str], *, timeout: float = 30.0) -> Link | None:
    """Connect to the app serving ``db``; None when no app serves it (no socket, or a stale one).

    Raises
    ------
    WarmGridError
        When a socket is there but this user may not use it, or when it is served by a
        process of a user who is neither this user, the database's owner nor root (nothing
        is sent to it).
    """
    real = os.path.realpath(os.fspath(db))
    for path in candidate_paths(real):
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISSOCK(st.st_mode):
            continue
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            sock.close()
            continue  # stale: the app that made it is gone
        except PermissionError:
            sock.close()
            owner = _user_name(st.st_uid)
            raise WarmGridError(
                f"数据库 {db} 正由运行中的应用使用，其命令通道只接受应用的系统用户 {owner} 和 root。"
                f"请以该用户运行本命令（例如 sudo -u {owner} ...）。",
                f"the database {db} is held by the running app, whose channel takes jobs only from its OS user "
                f"{owner} and root. Run this command as that user (for example sudo -u {owner} ...).") from None
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                continue
            raise WarmGridError(f"无法连接正在运行的应用（{path}）：{exc}",
                                f"cannot reach the running app at {path}: {exc}") from exc
        pid, uid, _gid = peer_credentials(sock)
        trusted = {os.getuid(), 0}
        with contextlib.suppress(OSError):
            trusted.add(os.stat(real).st_uid)
        if uid not in trusted:
            sock.close()
            raise WarmGridError(
                f"{path} 由用户 {_user_name(uid)} 的进程提供，既不是本用户、数据库文件的所有者，也不是 root；"
                "不向它发送任何内容。",
                f"{path} is served by a process of {_user_name(uid)}, who is neither you, the database file's "
                "owner nor root; nothing was sent to it.")
        sock.settimeout(None)
        return Link(sock, Path(path), pid, uid)
    return None


def submit(link: Link, argv: Sequence[str], inputs: Mapping[str, Sequence[Path]], outputs: Mapping[str, Path],
           stdin: bytes, stdout: Any, stderr: Any) -> int:
    """Send a job over ``link`` and relay its answer; return its exit status.

    ``inputs`` maps each input argument to the file it names followed by its companions
    (sent by base name); ``outputs`` maps each output argument to the path the user asked
    for, which receives the job's file atomically (a temporary file beside it, renamed
    when complete). ``stdout`` and ``stderr`` are text streams; the job's output reaches
    them as it is written.
    """
    wire = _Wire(link.sock)
    try:
        sizes = {arg: [(p, p.stat().st_size) for p in paths] for arg, paths in inputs.items()}
        try:
            wire.send_json(b"H", {"protocol": PROTOCOL, "argv": list(argv),
                                  "inputs": {arg: [{"name": p.name, "size": n} for p, n in files]
                                             for arg, files in sizes.items()},
                                  "stdin": len(stdin)})
            kind, payload = wire.recv()
            if kind == b"A":
                for files in sizes.values():
                    for p, n in files:
                        with open(p, "rb") as f:
                            sent = 0
                            while sent < n and (chunk := f.read(min(_CHUNK, n - sent))):
                                wire.send(b"D", chunk)
                                sent += len(chunk)
                            if sent != n:
                                raise WarmGridError(f"文件 {p} 在发送过程中被改动。",
                                                    f"{p} changed while it was being sent.")
                if stdin:
                    wire.send(b"D", stdin)
                kind, payload = wire.recv()
        except (BrokenPipeError, ConnectionResetError):  # the app refused and hung up: its reasons are still to read
            kind, payload = wire.recv()
        return _relay(wire, kind, payload, outputs, stdout, stderr)
    except (EOFError, ConnectionResetError, BrokenPipeError):
        stderr.write("应用在任务结束前断开了连接（应用可能已停止）；任务是否完成请查看审计日志。\n"
                     "The app closed the connection before the job ended (has it stopped?); "
                     "see the audit log for whether the job ran.\n")
        return 1
    except (_ProtocolError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        stderr.write(f"{exc if isinstance(exc, _ProtocolError) else _ProtocolError(str(exc))}\n")
        return 1
    finally:
        link.close()


def _relay(wire: _Wire, kind: bytes, payload: bytes, outputs: Mapping[str, Path], stdout: Any, stderr: Any) -> int:
    decoders = {b"O": codecs.getincrementaldecoder("utf-8")("replace"),
                b"E": codecs.getincrementaldecoder("utf-8")("replace")}
    streams = {b"O": stdout, b"E": stderr}
    while True:
        if kind in streams:
            text = decoders[kind].decode(payload)
            if text:
                streams[kind].write(text)
                if kind == b"E":
                    streams[kind].flush()
        elif kind == b"F":
            doc = json.loads(payload.decode())
            arg, size = doc.get("arg"), doc.get("size")
            if arg not in outputs or not isinstance(size, int) or size < 0:
                raise _ProtocolError(f"unexpected output file {arg!r}")
            _save(wire, outputs[arg], size)
        elif kind == b"X":
            for k, dec in decoders.items():
                if rest := dec.decode(b"", final=True):
                    streams[k].write(rest)
            stdout.flush()
            stderr.flush()
            return int(json.loads(payload.decode()).get("status", 1))
        else:
            raise _ProtocolError(f"unexpected frame {kind!r}")
        kind, payload = wire.recv()


def _save(wire: _Wire, target: Path, size: int) -> None:
    """Receive a file into ``target`` atomically, with the permissions a new file would get."""
    fd, tmp = tempfile.mkstemp(dir=target.parent or Path("."), prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            wire.recv_into(out, size)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
        folder = os.open(target.parent or Path("."), os.O_RDONLY)  # the rename itself reaches the disk
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
