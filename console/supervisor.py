"""A small process supervisor for `make run`: starts a list of processes and keeps them running.

Each process is described by a `ProcessSpec` (name, argv, environment, readiness check). A process
that dies is logged with its exit status or signal and started again after a bounded backoff
(1 s doubling to 30 s, back to 1 s once it has run for STABLE_SECONDS); the others keep running.
Every child runs in its own process group (and is told to die with the supervisor, on Linux), so
stopping a child stops whatever it started, and nothing outlives the supervisor.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
# A process that ran at least this long before dying is restarted after BACKOFF_START again.
STABLE_SECONDS = 60.0
POLL_SECONDS = 0.2
# How long a process with a liveness probe may take to start probing.
LIVENESS_STARTUP_SECONDS = 120.0


def log(message: str) -> None:
    print(message, flush=True)


@dataclass
class ProcessSpec:
    """One supervised process: what to run, and how to tell it is ready."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    # False: the child gets `env` alone, not the supervisor's environment with `env` on top.
    inherit_env: bool = True
    # Descriptors the child inherits at the same numbers (e.g. a listening socket).
    pass_fds: tuple[int, ...] = ()
    # Called until it returns True after a (re)start; later processes wait for it at first start.
    ready: Callable[[], bool] | None = None
    ready_timeout: float = 30.0
    # Where the child's stdout/stderr go; None: the supervisor's own.
    log_file: Path | None = None
    stop_timeout: float = 10.0
    # Stopped after all the others (e.g. the Redis they use while shutting down).
    stop_last: bool = False
    # A liveness probe: the child (told the path in LIVENESS_FILE) touches this file while it is
    # alive; one whose file is older than liveness_timeout (or never appears within
    # LIVENESS_STARTUP_SECONDS) is hung, not dead, and is killed and restarted.
    liveness_file: Path | None = None
    liveness_timeout: float = 20.0


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"killed by signal {name}"
    return f"exit status {code}"


def _die_with_parent() -> None:
    """In the child before exec: its own session and process group; SIGKILL when the supervisor dies."""
    os.setsid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class Supervised:
    """A spec and its current process, with the restart bookkeeping."""

    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.backoff = BACKOFF_START
        self.restart_at: float | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        spec = self.spec
        env = {**os.environ, **spec.env} if spec.inherit_env else dict(spec.env)
        if spec.liveness_file is not None:
            spec.liveness_file.parent.mkdir(parents=True, exist_ok=True)
            spec.liveness_file.unlink(missing_ok=True)
            env["LIVENESS_FILE"] = str(spec.liveness_file)
        if spec.log_file:
            spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        output = open(spec.log_file, "ab") if spec.log_file else None  # noqa: SIM115 - handed to the child
        try:
            self.process = subprocess.Popen(
                list(spec.argv),
                env=env,
                pass_fds=spec.pass_fds,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - the supervisor starts no threads
            )
        finally:
            if output:
                output.close()
        self.started_at = time.monotonic()
        self.restart_at = None

    def wait_ready(self) -> bool:
        if self.spec.ready is None:
            return True
        deadline = time.monotonic() + self.spec.ready_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if self.spec.ready():
                return True
            time.sleep(0.1)
        return False

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def silent_for(self) -> float | None:
        """Seconds since the child last showed it is alive, when that is past its bound (it is hung)."""
        spec = self.spec
        if spec.liveness_file is None or self.process is None or self.restart_at is not None:
            return None
        if self.process.poll() is not None:
            return None  # dead, not hung: reap() handles it
        try:
            age = time.time() - spec.liveness_file.stat().st_mtime
        except FileNotFoundError:
            ran = time.monotonic() - self.started_at
            return ran if ran > LIVENESS_STARTUP_SECONDS else None
        return age if age > spec.liveness_timeout else None

    def reap(self) -> int | None:
        """The exit code if the process has died since the last look (its group is then killed)."""
        if self.process is None or self.restart_at is not None:
            return None
        code = self.process.poll()
        if code is None:
            return None
        # Whatever it started (and left behind) goes with it.
        self.signal_group(signal.SIGKILL)
        ran = time.monotonic() - self.started_at
        if ran >= STABLE_SECONDS:
            self.backoff = BACKOFF_START
        self.restart_at = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX)
        return code


class Supervisor:
    """Runs specs in order (waiting for each one's readiness at first start) until stopped."""

    def __init__(self, specs: Sequence[ProcessSpec] = ()) -> None:
        self.children = [Supervised(spec) for spec in specs]
        self.stopping = False

    def add(self, spec: ProcessSpec) -> None:
        self.children.append(Supervised(spec))

    def start_all(self) -> None:
        for child in self.children:
            if self.stopping:
                return
            child.start()
            log(f"{child.spec.name} started (pid {child.pid}).")
            if not child.wait_ready():
                log(f"{child.spec.name} is not ready after {child.spec.ready_timeout:.0f} s; going on.")

    def request_stop(self, *_: object) -> None:
        self.stopping = True

    def check(self) -> None:
        """One round: logs and schedules the restart of dead processes, restarts those that are due."""
        now = time.monotonic()
        for child in self.children:
            silent = child.silent_for()
            if silent is not None and not self.stopping:
                log(
                    f"{child.spec.name} (pid {child.pid}) stopped answering its liveness probe "
                    f"(no sign of life for {silent:.0f} s); killing it."
                )
                child.signal_group(signal.SIGKILL)
                assert child.process is not None
                child.process.wait(timeout=10)
            code = child.reap()
            if code is not None:
                log(
                    f"{child.spec.name} (pid {child.pid}) died: {describe_exit(code)}; "
                    f"restarting in {child.restart_at - now:.0f} s."  # type: ignore[operator]
                )
            if child.restart_at is not None and now >= child.restart_at and not self.stopping:
                child.start()
                child.restarts += 1
                log(f"{child.spec.name} restarted (pid {child.pid}).")

    def run_until_stopped(self) -> None:
        while not self.stopping:
            self.check()
            time.sleep(POLL_SECONDS)

    def stop_all(self) -> None:
        """SIGTERM to every process group, last started first; SIGKILL to whatever is left after its timeout."""
        self.stopping = True
        ordered = list(reversed(self.children))
        self._stop([c for c in ordered if not c.spec.stop_last])
        self._stop([c for c in ordered if c.spec.stop_last])

    def _stop(self, children: list[Supervised]) -> None:
        running = [c for c in children if c.process is not None and c.process.poll() is None]
        for child in running:
            child.signal_group(signal.SIGTERM)
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=child.spec.stop_timeout)
            except subprocess.TimeoutExpired:
                log(
                    f"{child.spec.name} (pid {child.pid}) did not stop in {child.spec.stop_timeout:.0f} s; killing it."
                )
            # The group too: a child's own children must not outlive it.
            child.signal_group(signal.SIGKILL)
            try:
                child.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
