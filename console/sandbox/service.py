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

The manager's parts: bwrap.py (the command line, the runtime), slots.py (leases, uids), files.py
(/mnt/data in and out); common.py holds what they share.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import pathlib
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from console.sandbox.budget import Cgroups, DataDisk, leftovers, running
from console.sandbox.bwrap import BwrapMixin
from console.sandbox.common import (
    MAX_FRAME,
    ExecResult,
    OutputFile,
    Runtime,
    SandboxError,
    SandboxLimits,
    Session,
    close_fd,
    frame,
)
from console.sandbox.files import FilesMixin
from console.sandbox.slots import SlotsMixin, uid_processes

__all__ = ["ExecResult", "OutputFile", "SandboxError", "SandboxLimits", "SandboxManager", "get_manager"]

logger = logging.getLogger(__name__)
_BASE_DIR = pathlib.Path(__file__).resolve().parent.parent.parent
# How often a call checks its session's CPU time (with cgroups).
BUDGET_POLL_SECONDS = 0.1
# What a session runs between calls: bwrap, bwrap's init in the session's pid namespace, the kernel.
SESSION_PROCESSES = 3


class SandboxManager(SlotsMixin, FilesMixin, BwrapMixin):
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
        self._sessions: dict[str, Session] = {}
        self._own_slots: set[int] = set()
        self._runtime: Runtime | None = None
        self._runtime_lock = threading.RLock()
        # bwrap --die-with-parent uses PR_SET_PDEATHSIG, which fires when the *thread* that forked it
        # exits: spawn every kernel from one long-lived thread so sessions outlive short-lived callers.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawn")
        self._reaper: threading.Thread | None = None
        self._stop_reaper = threading.Event()
        # Session-wide budgets where the host allows them (budget.py); else per-process rlimits only.
        self._cgroups = Cgroups(f"sandbox-{self.uid_base}") if self.privileged else None
        self._disk = DataDisk() if self.privileged else None
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
                    sess = Session(session_key)
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

    def _execute_locked(self, sess: Session, code: str, inputs: list, timeout: float) -> ExecResult:
        if sess.proc is None:
            self._start(sess)
        assert sess.data_dir is not None
        if inputs:
            self._copy_inputs(sess, inputs)
        before = self._snapshot(sess.data_dir)
        logs, error, killed = self._call(sess, code, timeout)
        if killed is None:
            self._stop_leftovers(sess)
        after = self._snapshot(sess.data_dir)
        files = self._collect(sess.data_dir, before, after)
        over = sum(size for _, size, _ in after.values()) > self.limits.max_data_bytes
        if killed is None and not sess.disk and over:
            killed = "disk"
            error = (
                f"Files in /mnt/data exceed {self.limits.max_data_bytes // (1 << 20)} MB; "
                "the session was reset."
            )
        if killed is not None:
            self._stop(sess)
        return ExecResult(logs=logs, files=files, error=error, timed_out=killed == "timeout", killed=killed)

    def _call(self, sess: Session, code: str, timeout: float) -> tuple[str, str | None, str | None]:
        """Send one cell and wait for its answer; returns (logs, error, killed)."""
        cap = self.limits.max_output_bytes
        pending = frame({"code": code})
        out = bytearray()
        out_total = 0
        resp = bytearray()
        result: dict | None = None
        killed: str | None = None
        error: str | None = None
        deadline = time.monotonic() + timeout
        group = sess.group
        oom_before = group.oom_kills() if group is not None else 0
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
                if group is not None and group.cpu_seconds() > self.limits.cpu_seconds:
                    killed = "cpu"  # the session's processes together used up its CPU time
                    break
                for key, _ in sel.select(min(remaining, BUDGET_POLL_SECONDS)):
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
                            if size > MAX_FRAME:
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
        if group is not None and group.oom_kills() > oom_before:
            mb = self.limits.memory_bytes >> 20
            if killed in ("killed", "crashed"):
                killed = "memory"
            elif killed is None:
                note = f"A process was stopped: this session's processes used more than {mb} MB of memory."
                error = f"{error}\n{note}" if error else note
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

    def _death_reason(self, sess: Session, out: bytearray) -> str:
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

    def _death_message(self, killed: str, sess: Session) -> str:
        rc = sess.proc.returncode if sess.proc is not None else None
        if killed == "cpu":
            return f"CPU time limit ({self.limits.cpu_seconds} s) exceeded; the session was reset."
        if killed == "memory":
            mb = self.limits.memory_bytes >> 20
            return f"Memory limit ({mb} MB for the session's processes) exceeded; the session was reset."
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

    def _start(self, sess: Session) -> None:
        runtime = self._get_runtime()
        self._acquire_slot(sess)
        assert sess.data_dir is not None
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            args = self._bwrap_args(runtime, sess, req_r, resp_w)
            if self._cgroups is not None:
                sess.group = self._cgroups.create(sess.slot, self.limits.memory_bytes, self.limits.max_procs)
                if sess.group is not None:
                    args = sess.group.wrap(args)
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
                close_fd(fd)
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

    def _stop(self, sess: Session) -> None:
        proc = sess.proc
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                logger.warning("sandbox process %s did not exit", proc.pid)
            self._kill_uid(sess)
        if sess.group is not None:
            sess.group.destroy()
            sess.group = None
        for fd in (sess.req_w, sess.resp_r, sess.out_r):
            close_fd(fd)
        sess.req_w = sess.resp_r = sess.out_r = -1
        sess.proc = None
        sess.ready = False
        sess.inputs = {}
        self._release_slot(sess)

    def _stop_leftovers(self, sess: Session) -> None:
        """Ends every process the call left behind: between calls a session runs its kernel only."""
        if sess.group is not None:
            pids = sess.group.pids()
            if len(pids) <= SESSION_PROCESSES:
                return  # the usual case: nothing was left behind, no need to look at each process
        elif self.privileged and sess.slot >= 0:
            pids = uid_processes(sess.uid)
        else:
            return
        killed = leftovers(pids)
        for pid in killed:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while killed and time.monotonic() < deadline:
            killed = [pid for pid in killed if running(pid)]  # the kernel reaps its own zombies later
            if killed:
                time.sleep(0.005)

    def _maybe_reap(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = any(now - s.last_used > self.idle_timeout for s in self._sessions.values())
        if due:
            self.reap_idle()

    def _get_runtime(self) -> Runtime:
        with self._runtime_lock:
            if self._runtime is None:
                self._runtime = self._probe_runtime()
                self._build_font_cache()
            return self._runtime

    def _build_font_cache(self) -> None:
        """Run matplotlib once in a sandbox to build its font list; later sessions copy it."""
        cache = self.root / "runtime" / "mplcache"
        marker = self.root / "runtime" / "mplcache.done"
        if marker.exists():
            return
        sess = Session("__fontcache__")
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


# ---------------------------------------------------------------------- process-wide singleton

_manager: SandboxManager | None = None
_manager_lock = threading.Lock()


def default_runtime_python() -> pathlib.Path:
    """SANDBOX_PYTHON, else the runtime virtualenv $VAR_DIR/sandbox-runtime (for scripts without Django)."""
    explicit = os.environ.get("SANDBOX_PYTHON", "").strip()
    if explicit:
        return pathlib.Path(explicit)
    return pathlib.Path(os.environ.get("VAR_DIR") or _BASE_DIR / "var") / "sandbox-runtime" / "bin" / "python"


def manager_from_settings() -> SandboxManager:
    """A SandboxManager configured from the SANDBOX_* settings (parsed once in console/settings.py)."""
    from django.conf import settings

    python = pathlib.Path(settings.SANDBOX_PYTHON)
    if not python.exists():
        logger.warning(
            "sandbox runtime %s not found (python -m console.sandbox.runtime creates it); "
            "using the server's own interpreter, without numpy/pandas/matplotlib",
            python,
        )
        python = pathlib.Path(sys.executable)
    return SandboxManager(
        pathlib.Path(settings.SANDBOX_ROOT),
        idle_timeout=settings.SANDBOX_IDLE_TIMEOUT,
        python=python,
        limits=SandboxLimits(**settings.SANDBOX_LIMITS),
        max_sessions=settings.SANDBOX_MAX_SESSIONS,
        uid_base=settings.SANDBOX_UID_BASE,
        bwrap=settings.SANDBOX_BWRAP,
        outbox_ttl=settings.SANDBOX_OUTBOX_TTL,
        threads=settings.SANDBOX_THREADS,
    )


def get_manager() -> SandboxManager:
    """The process-wide SandboxManager, configured from settings on first use."""
    global _manager
    with _manager_lock:
        if _manager is None or _manager._pid != os.getpid():
            _manager = manager_from_settings()
            _manager.start_reaper()
            atexit.register(_manager.shutdown)
        return _manager
