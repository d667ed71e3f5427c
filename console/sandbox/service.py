"""The code_interpreter sandbox: one bubblewrap-isolated Python kernel per session (thread).

What runs where (see docs/sandbox.md):
  * this module runs in the server/worker process and owns every session's kernel;
  * each kernel is `bwrap ... [setpriv --reuid UID ...] python kernel.py` with no network, a private
    /proc, /tmp and /dev, a read-only Python runtime, and one read-write directory at /mnt/data;
  * the kernel (kernel.py) reads code cells from a pipe and answers on another one (length-prefixed
    JSON); the cell's stdout/stderr go to a third pipe that this module reads and caps.

Running as root (the usual container case) every live session gets its own host uid
(SANDBOX_UID_BASE + slot) so RLIMIT_NPROC counts that session alone and a cleanup can kill every process
of that uid. Slots are leased with flock() on files under SANDBOX_ROOT, so several worker processes on
one host can share a root. Running as a normal user, bwrap makes an unprivileged user namespace instead
(the host must allow that); then all sessions share the user's uid for RLIMIT_NPROC.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import mimetypes
import os
import pathlib
import selectors
import shutil
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
_KERNEL_FILES = ("kernel.py", "mpl_backend.py")
_MAX_FRAME = 1 << 20
_MAX_WALK_ENTRIES = 10_000
_BASE_DIR = pathlib.Path(__file__).resolve().parent.parent.parent


class SandboxError(RuntimeError):
    """The sandbox itself cannot work (bwrap or the runtime is missing, startup failed).

    Problems caused by the user's code never raise: they come back in ExecResult.
    """


@dataclass
class OutputFile:
    name: str  # path relative to /mnt/data, e.g. "out.csv" or "plots/a.png"
    path: pathlib.Path  # a private copy on the host, safe to read; removed after outbox_ttl
    mime: str
    is_image: bool


@dataclass
class ExecResult:
    logs: str
    files: list[OutputFile]
    error: str | None
    timed_out: bool
    killed: str | None  # why the session died: "timeout", "output", "cpu", "disk", "crashed", ... or None


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int = 1024 << 20  # RLIMIT_AS of every process in the sandbox
    cpu_seconds: int = 900  # RLIMIT_CPU of every process (the kernel's counts over the session's life)
    max_procs: int = 64  # RLIMIT_NPROC: processes + threads of the session
    max_file_bytes: int = 100 << 20  # RLIMIT_FSIZE: largest file the code may write
    max_open_files: int = 1024  # RLIMIT_NOFILE
    max_output_bytes: int = 1 << 20  # stdout+stderr of one call; past it the session is killed
    tmp_bytes: int = 256 << 20  # size of the private tmpfs /tmp (and of /dev/shm)
    max_data_bytes: int = 1024 << 20  # total size of /mnt/data checked after each call
    max_output_files: int = 64  # files returned by one call


@dataclass(frozen=True)
class _Runtime:
    python: str  # interpreter path inside the sandbox
    base_prefix: str  # host path of the base installation
    remap: bool  # base installation bound at /opt/python (it is not under /usr)
    site_packages: str | None  # host path of the runtime virtualenv's site-packages


@dataclass(eq=False)
class _Session:
    key: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)
    closed: bool = False
    proc: subprocess.Popen | None = None
    slot: int = -1
    slot_fd: int = -1
    uid: int = 65534
    data_dir: pathlib.Path | None = None
    req_w: int = -1
    resp_r: int = -1
    out_r: int = -1
    ready: bool = False
    inputs: dict[str, tuple[str, int, int]] = field(default_factory=dict)


def _frame(msg: dict) -> bytes:
    body = json.dumps(msg).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def _close_fd(fd: int) -> None:
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)


def _uid_has_processes(uid: int) -> bool:
    """Whether any process (zombies included) runs under `uid`; reads /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    for entry in entries:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    return True
            except OSError:
                continue
    return False


def _safe_name(name: str) -> str:
    base = os.path.basename(str(name).replace("\\", "/")).strip()
    base = base.replace("\x00", "")
    if base in ("", ".", ".."):
        raise ValueError(f"invalid input file name: {name!r}")
    return base


class SandboxManager:
    def __init__(
        self,
        root: pathlib.Path,
        idle_timeout: float = 3600,
        *,
        python: str | os.PathLike[str] | None = None,
        limits: SandboxLimits | None = None,
        max_sessions: int = 32,
        uid_base: int = 61000,
        bwrap: str = "bwrap",
        outbox_ttl: float = 3600,
        threads: int = 2,
    ) -> None:
        self.root = pathlib.Path(root).resolve()
        self.idle_timeout = float(idle_timeout)
        self.python = str(python) if python else sys.executable
        self.limits = limits or SandboxLimits()
        self.max_sessions = int(max_sessions)
        self.uid_base = int(uid_base)
        self.outbox_ttl = float(outbox_ttl)
        self.threads = int(threads)
        self.privileged = os.geteuid() == 0
        self._pid = os.getpid()
        if self.privileged and self.uid_base <= 65535 < self.uid_base + self.max_sessions:
            raise SandboxError("SANDBOX_UID_BASE + SANDBOX_MAX_SESSIONS must not cover uids 65534/65535")
        if self.privileged and self.uid_base < 1000:
            raise SandboxError("SANDBOX_UID_BASE must be >= 1000")
        found = shutil.which(bwrap)
        self.bwrap = found or bwrap
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._own_slots: set[int] = set()
        self._runtime: _Runtime | None = None
        self._runtime_lock = threading.RLock()
        # bwrap --die-with-parent uses PR_SET_PDEATHSIG, which fires when the *thread* that forked it
        # exits: spawn every kernel from one long-lived thread so sessions outlive short-lived callers.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawn")
        self._reaper: threading.Thread | None = None
        self._stop_reaper = threading.Event()
        for sub in ("slots", "outbox", "kernel", "runtime"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._install_kernel()

    # ------------------------------------------------------------------ public interface

    def execute(
        self,
        session_key: str,
        code: str,
        input_files: list[tuple[str, pathlib.Path]] | tuple = (),
        timeout: float = 60,
    ) -> ExecResult:
        """Run one code cell in the session `session_key`, starting the session if needed."""
        timeout = float(timeout) if timeout and timeout > 0 else 60.0
        self._maybe_reap()
        while True:
            with self._lock:
                sess = self._sessions.get(session_key)
                if sess is None:
                    sess = _Session(session_key)
                    self._sessions[session_key] = sess
            with sess.lock:
                if sess.closed:
                    continue  # closed by close_session/reap between our lookup and the lock
                try:
                    return self._execute_locked(sess, code, list(input_files), timeout)
                finally:
                    sess.last_used = time.monotonic()

    def close_session(self, session_key: str) -> None:
        with self._lock:
            sess = self._sessions.pop(session_key, None)
        if sess is None:
            return
        with sess.lock:
            sess.closed = True
            self._stop(sess)

    def reap_idle(self) -> int:
        """Close sessions idle longer than idle_timeout; returns how many were closed."""
        now = time.monotonic()
        with self._lock:
            idle = [s for s in self._sessions.values() if now - s.last_used > self.idle_timeout]
        closed = 0
        for sess in idle:
            if not sess.lock.acquire(blocking=False):
                continue  # busy right now, so not idle
            try:
                if sess.closed or time.monotonic() - sess.last_used <= self.idle_timeout:
                    continue
                with self._lock:
                    if self._sessions.get(sess.key) is sess:
                        del self._sessions[sess.key]
                sess.closed = True
                self._stop(sess)
                closed += 1
            finally:
                sess.lock.release()
        self._clean_outbox()
        return closed

    def close_all(self) -> None:
        with self._lock:
            keys = list(self._sessions)
        for key in keys:
            with contextlib.suppress(Exception):
                self.close_session(key)

    def session_keys(self) -> list[str]:
        with self._lock:
            return [k for k, s in self._sessions.items() if s.proc is not None]

    def start_reaper(self, interval: float | None = None) -> None:
        """Call reap_idle() every `interval` seconds from a daemon thread."""
        if self._reaper is not None:
            return
        every = interval or max(1.0, min(60.0, self.idle_timeout / 4))

        def loop() -> None:
            while not self._stop_reaper.wait(every):
                try:
                    self.reap_idle()
                except Exception:  # pragma: no cover - keep the reaper alive
                    logger.exception("sandbox reaper failed")

        self._reaper = threading.Thread(target=loop, name="sandbox-reaper", daemon=True)
        self._reaper.start()

    def shutdown(self) -> None:
        self._stop_reaper.set()
        self.close_all()
        self._spawner.shutdown(wait=False)

    def prepare(self) -> None:
        """Probe the runtime and build matplotlib's font cache once (else the first plot takes ~1 s)."""
        self._get_runtime()

    # ------------------------------------------------------------------ execution

    def _execute_locked(self, sess: _Session, code: str, inputs: list, timeout: float) -> ExecResult:
        if sess.proc is None:
            self._start(sess)
        assert sess.data_dir is not None
        if inputs:
            self._copy_inputs(sess, inputs)
        before = self._snapshot(sess.data_dir)
        logs, error, killed = self._call(sess, code, timeout)
        after = self._snapshot(sess.data_dir)
        files = self._collect(sess.data_dir, before, after)
        if killed is None and sum(size for _, size, _ in after.values()) > self.limits.max_data_bytes:
            killed = "disk"
            error = (
                f"Files in /mnt/data exceed {self.limits.max_data_bytes // (1 << 20)} MB; "
                "the session was reset."
            )
        if killed is not None:
            self._stop(sess)
        return ExecResult(logs=logs, files=files, error=error, timed_out=killed == "timeout", killed=killed)

    def _call(self, sess: _Session, code: str, timeout: float) -> tuple[str, str | None, str | None]:
        """Send one cell and wait for its answer; returns (logs, error, killed)."""
        cap = self.limits.max_output_bytes
        pending = _frame({"code": code})
        out = bytearray()
        out_total = 0
        resp = bytearray()
        result: dict | None = None
        killed: str | None = None
        error: str | None = None
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(sess.out_r, selectors.EVENT_READ, "out")
        sel.register(sess.resp_r, selectors.EVENT_READ, "resp")
        sel.register(sess.req_w, selectors.EVENT_WRITE, "req")
        try:
            while result is None and killed is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    killed = "timeout"
                    break
                for key, _ in sel.select(remaining):
                    if key.data == "req":
                        try:
                            n = os.write(sess.req_w, pending)
                        except BlockingIOError:
                            continue
                        except OSError:  # the kernel is gone; its exit shows up on the response pipe
                            n = len(pending)
                        pending = pending[n:]
                        if not pending:
                            sel.unregister(sess.req_w)
                    elif key.data == "out":
                        try:
                            chunk = os.read(sess.out_r, 65536)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            sel.unregister(sess.out_r)
                            continue
                        out_total += len(chunk)
                        if len(out) < cap:
                            out += chunk[: cap - len(out)]
                        if out_total > cap:
                            killed = "output"
                            break
                    else:
                        try:
                            chunk = os.read(sess.resp_r, 65536)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            killed = self._death_reason(sess, out)
                            break
                        resp += chunk
                        while len(resp) >= 4 and result is None:
                            (size,) = struct.unpack(">I", resp[:4])
                            if size > _MAX_FRAME:
                                killed = "protocol"
                                break
                            if len(resp) < 4 + size:
                                break
                            try:
                                msg = json.loads(bytes(resp[4 : 4 + size]))
                            except ValueError:
                                msg = None
                            del resp[: 4 + size]
                            if not isinstance(msg, dict):
                                killed = "protocol"
                            elif msg.get("ready") and not sess.ready:
                                sess.ready = True
                            else:
                                result = msg
                        if killed:
                            break
        finally:
            sel.close()
        if result is not None:
            # Everything the cell printed was written before its answer: drain what is left.
            while out_total <= cap:
                try:
                    chunk = os.read(sess.out_r, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out_total += len(chunk)
                if len(out) < cap:
                    out += chunk[: cap - len(out)]
            if out_total > cap:
                killed = "output"
            else:
                err = result.get("error")
                error = str(err) if err else None
        logs = out.decode("utf-8", errors="replace")
        if out_total > cap:
            logs += f"\n[output truncated: more than {cap} bytes]"
        if killed == "timeout":
            error = f"Execution timed out after {timeout:g} s; the session was reset."
        elif killed == "output":
            error = f"Output exceeded {cap} bytes; execution was stopped and the session was reset."
        elif killed == "protocol":
            error = "The sandbox kernel sent an invalid reply; the session was reset."
        elif killed is not None:
            error = self._death_message(killed, sess)
        return logs, error, killed

    def _death_reason(self, sess: _Session, out: bytearray) -> str:
        assert sess.proc is not None
        try:
            rc = sess.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "crashed"
        if not sess.ready:
            text = out.decode("utf-8", errors="replace").strip()
            self._stop(sess)
            raise SandboxError(f"the sandbox failed to start (exit status {rc}): {text[-2000:]}")
        if rc == 128 + signal.SIGXCPU or rc == -signal.SIGXCPU:
            return "cpu"
        if rc in (128 + signal.SIGKILL, -signal.SIGKILL):
            return "killed"
        if rc == 0:
            return "exited"
        return "crashed"

    def _death_message(self, killed: str, sess: _Session) -> str:
        rc = sess.proc.returncode if sess.proc is not None else None
        if killed == "cpu":
            return f"CPU time limit ({self.limits.cpu_seconds} s) exceeded; the session was reset."
        if killed == "exited":
            return "The Python process exited; the session was reset."
        if killed == "killed":
            return "The Python process was killed; the session was reset."
        if rc is not None and rc > 128:
            try:
                name = signal.Signals(rc - 128).name
            except ValueError:
                name = str(rc - 128)
            return f"The Python process died ({name}); the session was reset."
        return f"The Python process died (exit status {rc}); the session was reset."

    # ------------------------------------------------------------------ session lifecycle

    def _start(self, sess: _Session) -> None:
        runtime = self._get_runtime()
        self._acquire_slot(sess)
        assert sess.data_dir is not None
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            args = self._bwrap_args(runtime, sess, req_r, resp_w)
            fut = self._spawner.submit(
                subprocess.Popen,
                args,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(req_r, resp_w),
                cwd="/",
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                start_new_session=True,
            )
            sess.proc = fut.result()
        except BaseException as exc:
            for fd in (req_r, req_w, resp_r, resp_w, out_r, out_w):
                _close_fd(fd)
            self._release_slot(sess)
            if isinstance(exc, OSError):
                raise SandboxError(f"cannot start bubblewrap ({self.bwrap}): {exc}") from exc
            raise
        for fd in (req_r, resp_w, out_w):
            os.close(fd)
        for fd in (req_w, resp_r, out_r):
            os.set_blocking(fd, False)
        sess.req_w, sess.resp_r, sess.out_r = req_w, resp_r, out_r
        sess.ready = False
        sess.inputs = {}

    def _stop(self, sess: _Session) -> None:
        proc = sess.proc
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                logger.warning("sandbox process %s did not exit", proc.pid)
            self._kill_uid(sess)
        for fd in (sess.req_w, sess.resp_r, sess.out_r):
            _close_fd(fd)
        sess.req_w = sess.resp_r = sess.out_r = -1
        sess.proc = None
        sess.ready = False
        sess.inputs = {}
        self._release_slot(sess)

    def _kill_uid(self, sess: _Session) -> None:
        """Kill every process of the session's dedicated uid and wait until they are gone.

        Dying processes still count against RLIMIT_NPROC of that uid, so the slot is only handed out
        again once none is left.
        """
        if self.privileged and sess.slot >= 0:
            self._kill_uid_and_wait(sess.uid)

    def _kill_uid_and_wait(self, uid: int) -> None:
        deadline = time.monotonic() + 5
        self._kill_uid_processes(uid)
        while _uid_has_processes(uid) and time.monotonic() < deadline:
            time.sleep(0.01)
            self._kill_uid_processes(uid)

    def _kill_uid_processes(self, uid: int) -> None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["kill", "-9", "-1"],
                user=uid,
                group=uid,
                extra_groups=[],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=5,
                env={"PATH": "/usr/bin:/bin"},
                cwd="/",
            )

    def _acquire_slot(self, sess: _Session) -> None:
        for attempt in range(2):
            for i in range(self.max_sessions):
                with self._lock:
                    if i in self._own_slots:
                        continue
                    self._own_slots.add(i)
                slot_dir = self.root / "slots" / str(i)
                fd = -1
                try:
                    slot_dir.mkdir(exist_ok=True, mode=0o700)
                    fd = os.open(slot_dir / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    _close_fd(fd)
                    with self._lock:
                        self._own_slots.discard(i)
                    continue
                sess.slot, sess.slot_fd = i, fd
                sess.uid = self.uid_base + i if self.privileged else os.getuid()
                if self.privileged:
                    self._kill_uid_and_wait(sess.uid)  # leftovers of a crashed server process
                self._prepare_slot_dir(sess, slot_dir)
                return
            if attempt == 0 and not self._evict_one(sess):
                break
        raise SandboxError(f"all {self.max_sessions} sandbox sessions are busy; try again later")

    def _evict_one(self, current: _Session) -> bool:
        """Stop this process's least recently used idle session to free its slot."""
        with self._lock:
            candidates = sorted(
                (s for s in self._sessions.values() if s is not current and s.proc is not None),
                key=lambda s: s.last_used,
            )
        for sess in candidates:
            if sess.lock.acquire(blocking=False):
                try:
                    if sess.proc is None:
                        continue
                    logger.info("sandbox: evicting idle session %s", sess.key)
                    self._stop(sess)
                    return True
                finally:
                    sess.lock.release()
        return False

    def _prepare_slot_dir(self, sess: _Session, slot_dir: pathlib.Path) -> None:
        data = slot_dir / "data"
        if data.exists() or data.is_symlink():
            shutil.rmtree(data, ignore_errors=True)
        data.mkdir(mode=0o700)
        etc = slot_dir / "etc"
        etc.mkdir(exist_ok=True, mode=0o755)
        uid = sess.uid if self.privileged else 65534
        (etc / "passwd").write_text(f"root:x:0:0::/:/bin/false\nsandbox:x:{uid}:{uid}::/tmp:/bin/false\n")
        (etc / "group").write_text(f"root:x:0:\nsandbox:x:{uid}:\n")
        (etc / "hosts").write_text("127.0.0.1 localhost sandbox\n::1 localhost\n")
        for name in ("passwd", "group", "hosts"):
            os.chmod(etc / name, 0o644)
        if self.privileged:
            os.chown(data, sess.uid, sess.uid)
        sess.data_dir = data

    def _release_slot(self, sess: _Session) -> None:
        if sess.slot < 0:
            return
        if sess.data_dir is not None:
            shutil.rmtree(sess.data_dir, ignore_errors=True)
        _close_fd(sess.slot_fd)
        with self._lock:
            self._own_slots.discard(sess.slot)
        sess.slot, sess.slot_fd, sess.data_dir = -1, -1, None

    def _maybe_reap(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = any(now - s.last_used > self.idle_timeout for s in self._sessions.values())
        if due:
            self.reap_idle()

    # ------------------------------------------------------------------ bubblewrap

    def _bwrap_args(self, rt: _Runtime, sess: _Session, req_fd: int, resp_fd: int) -> list[str]:
        assert sess.data_dir is not None
        lim = self.limits
        a = [
            self.bwrap,
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
        ]
        if self.privileged:
            # bwrap as real root drops every capability but these two, which setpriv uses to become the
            # session's uid and then drops as well.
            a += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            a += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
        a += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = "/" + name
            if os.path.islink(host):
                a += ["--symlink", os.readlink(host), host]
            elif os.path.isdir(host):
                a += ["--ro-bind", host, host]
        a += ["--perms", "0755", "--dir", "/opt", "--perms", "0755", "--dir", "/mnt"]
        a += ["--ro-bind", str(sess.data_dir.parent / "etc"), "/etc"]
        if rt.remap:
            a += ["--ro-bind", rt.base_prefix, "/opt/python"]
        if rt.site_packages:
            a += ["--ro-bind", rt.site_packages, "/opt/site-packages"]
        a += ["--ro-bind", str(self.root / "kernel"), "/opt/kernel"]
        mplcache = self.root / "runtime" / "mplcache"
        if any(mplcache.glob("fontlist*.json")):
            a += ["--ro-bind", str(mplcache), "/opt/mplcache"]
        a += ["--proc", "/proc", "--dev", "/dev"]
        a += ["--perms", "1777", "--size", str(lim.tmp_bytes), "--tmpfs", "/tmp"]
        a += ["--perms", "1777", "--size", str(lim.tmp_bytes), "--tmpfs", "/dev/shm"]
        a += ["--bind", str(sess.data_dir), "/mnt/data", "--chdir", "/mnt/data"]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "USER": "sandbox",
            "MPLBACKEND": "module://mpl_backend",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": str(self.threads),
            "OPENBLAS_NUM_THREADS": str(self.threads),
            "MKL_NUM_THREADS": str(self.threads),
        }
        if rt.remap:
            env["PYTHONHOME"] = "/opt/python"
            env["LD_LIBRARY_PATH"] = "/opt/python/lib"
        a.append("--clearenv")
        for k, v in env.items():
            a += ["--setenv", k, v]
        if self.privileged:
            a += [
                "setpriv",
                f"--reuid={sess.uid}",
                f"--regid={sess.uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
            ]
        kernel_limits = {
            "cpu_seconds": lim.cpu_seconds,
            "memory_bytes": lim.memory_bytes,
            "max_procs": lim.max_procs,
            "max_file_bytes": lim.max_file_bytes,
            "max_open_files": lim.max_open_files,
        }
        # With a runtime virtualenv, -S keeps the base installation's own site-packages out of sys.path;
        # kernel.py then adds /opt/site-packages (with its .pth files) like a virtualenv would.
        flags = "-S" if rt.site_packages else "-s"
        a += [rt.python, flags, "/opt/kernel/kernel.py", str(req_fd), str(resp_fd), json.dumps(kernel_limits)]
        return a

    def _install_kernel(self) -> None:
        src_dir = pathlib.Path(__file__).resolve().parent
        dst_dir = self.root / "kernel"
        for name in _KERNEL_FILES:
            src = (src_dir / name).read_bytes()
            dst = dst_dir / name
            if not dst.exists() or dst.read_bytes() != src:
                tmp = dst_dir / f".{name}.{os.getpid()}.tmp"
                tmp.write_bytes(src)
                os.chmod(tmp, 0o644)
                os.replace(tmp, dst)
        os.chmod(dst_dir, 0o755)

    def _get_runtime(self) -> _Runtime:
        with self._runtime_lock:
            if self._runtime is None:
                self._runtime = self._probe_runtime()
                self._build_font_cache()
            return self._runtime

    def _probe_runtime(self) -> _Runtime:
        if shutil.which(self.bwrap) is None:
            raise SandboxError(
                f"bubblewrap ({self.bwrap}) is not installed: apt-get install -y bubblewrap (see docs/sandbox.md)"
            )
        probe = (
            "import json, os, sys, sysconfig;"
            "print(json.dumps({'prefix': os.path.realpath(sys.prefix),"
            " 'base_prefix': os.path.realpath(sys.base_prefix),"
            " 'exe': os.path.realpath(getattr(sys, '_base_executable', None) or sys.executable),"
            " 'purelib': os.path.realpath(sysconfig.get_paths()['purelib'])}))"
        )
        try:
            out = subprocess.run(
                [self.python, "-c", probe], capture_output=True, text=True, timeout=30, check=True
            ).stdout
            info = json.loads(out)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            raise SandboxError(f"cannot run the sandbox runtime {self.python}: {exc}") from exc
        base = info["base_prefix"]
        remap = not (base == "/usr" or base.startswith("/usr/"))
        exe = info["exe"]
        if remap:
            python = "/opt/python/" + os.path.relpath(exe, base)
        else:
            python = exe
        site = info["purelib"] if info["prefix"] != base else None
        return _Runtime(python=python, base_prefix=base, remap=remap, site_packages=site)

    def _build_font_cache(self) -> None:
        """Run matplotlib once in a sandbox to build its font list; later sessions copy it."""
        cache = self.root / "runtime" / "mplcache"
        marker = self.root / "runtime" / "mplcache.done"
        if marker.exists():
            return
        sess = _Session("__fontcache__")
        try:
            self._start(sess)
            code = (
                "import os\n"
                "os.environ['MPLCONFIGDIR'] = '/mnt/data/mpl'\n"
                "try:\n"
                "    import matplotlib.font_manager\n"
                "except ImportError:\n"
                "    pass\n"
            )
            self._call(sess, code, 120)
            assert sess.data_dir is not None
            built = sess.data_dir / "mpl"
            cache.mkdir(exist_ok=True)
            if built.is_dir() and not built.is_symlink():
                for f in built.iterdir():
                    if f.name.startswith("fontlist") and f.name.endswith(".json") and f.is_file():
                        shutil.copyfile(f, cache / f.name, follow_symlinks=False)
                        os.chmod(cache / f.name, 0o644)
            os.chmod(cache, 0o755)
            marker.write_text("ok\n")
        except SandboxError:
            raise
        except Exception:  # pragma: no cover - a missing cache only makes the first plot slower
            logger.exception("sandbox: could not build matplotlib's font cache")
        finally:
            self._stop(sess)

    # ------------------------------------------------------------------ files

    def _copy_inputs(self, sess: _Session, inputs: list) -> None:
        assert sess.data_dir is not None
        dfd = os.open(sess.data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for name, src in inputs:
                safe = _safe_name(name)
                st = os.stat(src)
                sig = (str(src), st.st_size, st.st_mtime_ns)
                if sess.inputs.get(safe) == sig:
                    with contextlib.suppress(OSError):
                        cur = os.stat(safe, dir_fd=dfd, follow_symlinks=False)
                        if stat.S_ISREG(cur.st_mode) and cur.st_size == st.st_size:
                            continue
                # Never follow what the sandbox may have left at that name (a symlink to a host path).
                for _ in range(3):
                    with contextlib.suppress(FileNotFoundError):
                        cur = os.stat(safe, dir_fd=dfd, follow_symlinks=False)
                        if stat.S_ISDIR(cur.st_mode):
                            shutil.rmtree(os.path.join(sess.data_dir, safe), ignore_errors=True)
                        else:
                            os.unlink(safe, dir_fd=dfd)
                    try:
                        fd = os.open(
                            safe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dfd
                        )
                        break
                    except FileExistsError:
                        continue
                else:
                    raise SandboxError(f"cannot place input file {safe!r}")
                try:
                    with open(src, "rb") as fsrc, open(fd, "wb", closefd=False) as fdst:
                        shutil.copyfileobj(fsrc, fdst, 1 << 20)
                    if self.privileged:
                        os.fchown(fd, sess.uid, sess.uid)
                finally:
                    os.close(fd)
                sess.inputs[safe] = sig
        finally:
            os.close(dfd)

    @staticmethod
    def _snapshot(data_dir: pathlib.Path) -> dict[str, tuple[int, int, int]]:
        """Regular files under data_dir -> (mtime_ns, size, inode); never follows symlinks."""
        found: dict[str, tuple[int, int, int]] = {}
        seen = 0
        try:
            for dirpath, _dirs, files, dirfd in os.fwalk(data_dir, follow_symlinks=False):
                for name in files:
                    seen += 1
                    try:
                        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISREG(st.st_mode):
                        rel = os.path.relpath(os.path.join(dirpath, name), data_dir)
                        found[rel] = (st.st_mtime_ns, st.st_size, st.st_ino)
                if seen > _MAX_WALK_ENTRIES:
                    break
        except OSError:
            pass
        return found

    def _collect(self, data_dir: pathlib.Path, before: dict, after: dict) -> list[OutputFile]:
        changed = sorted(rel for rel, sig in after.items() if before.get(rel) != sig)
        changed = changed[: self.limits.max_output_files]
        if not changed:
            return []
        outbox = self.root / "outbox" / uuid.uuid4().hex
        outbox.mkdir(mode=0o700)
        files: list[OutputFile] = []
        for rel in changed:
            dest = outbox / rel
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                if not self._copy_out(data_dir, rel, dest):
                    continue
            except OSError:
                continue
            ext = os.path.splitext(rel)[1].lower()
            mime = mimetypes.guess_type(rel)[0] or "application/octet-stream"
            files.append(OutputFile(name=rel, path=dest, mime=mime, is_image=ext in IMAGE_EXTENSIONS))
        return files

    def _copy_out(self, data_dir: pathlib.Path, rel: str, dest: pathlib.Path) -> bool:
        """Copy data_dir/rel to dest, refusing symlinks at every step (the sandbox owns data_dir)."""
        parts = rel.split(os.sep)
        fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for part in parts[:-1]:
                nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nfd
            src = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        finally:
            os.close(fd)
        try:
            if not stat.S_ISREG(os.fstat(src).st_mode):
                return False
            limit = self.limits.max_file_bytes
            with open(src, "rb", closefd=False) as fsrc, open(dest, "wb") as fdst:
                copied = 0
                while copied <= limit:
                    chunk = fsrc.read(1 << 20)
                    if not chunk:
                        break
                    fdst.write(chunk)
                    copied += len(chunk)
            return True
        finally:
            os.close(src)

    def _clean_outbox(self) -> None:
        cutoff = time.time() - self.outbox_ttl
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.root / "outbox"):
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        shutil.rmtree(entry.path, ignore_errors=True)


# ---------------------------------------------------------------------- process-wide singleton

_manager: SandboxManager | None = None
_manager_lock = threading.Lock()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def default_var_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("VAR_DIR") or _BASE_DIR / "var")


def default_runtime_python() -> pathlib.Path:
    """SANDBOX_PYTHON, else the runtime virtualenv $VAR_DIR/sandbox-runtime."""
    explicit = os.environ.get("SANDBOX_PYTHON", "").strip()
    if explicit:
        return pathlib.Path(explicit)
    return default_var_dir() / "sandbox-runtime" / "bin" / "python"


def limits_from_env() -> SandboxLimits:
    d = SandboxLimits()
    mb = 1 << 20
    return SandboxLimits(
        memory_bytes=_env_int("SANDBOX_MEMORY_MB", d.memory_bytes // mb) * mb,
        cpu_seconds=_env_int("SANDBOX_CPU_SECONDS", d.cpu_seconds),
        max_procs=_env_int("SANDBOX_MAX_PROCS", d.max_procs),
        max_file_bytes=_env_int("SANDBOX_MAX_FILE_MB", d.max_file_bytes // mb) * mb,
        max_open_files=_env_int("SANDBOX_MAX_OPEN_FILES", d.max_open_files),
        max_output_bytes=_env_int("SANDBOX_MAX_OUTPUT_BYTES", d.max_output_bytes),
        tmp_bytes=_env_int("SANDBOX_TMP_MB", d.tmp_bytes // mb) * mb,
        max_data_bytes=_env_int("SANDBOX_MAX_DATA_MB", d.max_data_bytes // mb) * mb,
        max_output_files=_env_int("SANDBOX_MAX_OUTPUT_FILES", d.max_output_files),
    )


def manager_from_env() -> SandboxManager:
    root = pathlib.Path(os.environ.get("SANDBOX_ROOT") or default_var_dir() / "sandbox")
    python = default_runtime_python()
    if not python.exists():
        logger.warning(
            "sandbox runtime %s not found (python -m console.sandbox.runtime creates it); "
            "using the server's own interpreter, without numpy/pandas/matplotlib",
            python,
        )
        python = pathlib.Path(sys.executable)
    return SandboxManager(
        root,
        idle_timeout=_env_float("SANDBOX_IDLE_TIMEOUT", 3600),
        python=python,
        limits=limits_from_env(),
        max_sessions=_env_int("SANDBOX_MAX_SESSIONS", 32),
        uid_base=_env_int("SANDBOX_UID_BASE", 61000),
        bwrap=os.environ.get("SANDBOX_BWRAP") or "bwrap",
        outbox_ttl=_env_float("SANDBOX_OUTBOX_TTL", 3600),
        threads=_env_int("SANDBOX_THREADS", 2),
    )


def get_manager() -> SandboxManager:
    """The process-wide SandboxManager, configured from the environment on first use."""
    global _manager
    with _manager_lock:
        if _manager is None or _manager._pid != os.getpid():
            _manager = manager_from_env()
            _manager.start_reaper()
            atexit.register(_manager.shutdown)
        return _manager
