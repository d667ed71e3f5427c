"""Session slots: each live session leases a slot directory (flock), and as root a uid of its own.

Slots are leased with flock() on $SANDBOX_ROOT/slots/N/lock, so several worker processes on one host
can share a root; a slot is handed out again only once no process of its uid is left.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pathlib
import shutil
import subprocess
import threading
import time
from collections.abc import Callable

from console.sandbox.budget import DataDisk
from console.sandbox.common import (
    SandboxError,
    SandboxLimits,
    Session,
    close_fd,
)

logger = logging.getLogger(__name__)


def uid_processes(uid: int, first_only: bool = False) -> list[int]:
    """The processes (zombies included) that run under `uid`; reads /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found.append(int(entry))
                    if first_only:
                        break
            except OSError:
                continue
    return found


def uid_has_processes(uid: int) -> bool:
    return bool(uid_processes(uid, first_only=True))


class SlotsMixin:
    """Slot leasing and uid cleanup for SandboxManager."""

    root: pathlib.Path
    privileged: bool
    uid_base: int
    max_sessions: int
    _lock: threading.Lock
    _sessions: dict[str, Session]
    _own_slots: set[int]
    # Stopping a session is SandboxManager's (it also ends the kernel); the slots only call it.
    _stop: Callable[[Session], None]
    _disk: DataDisk | None
    limits: SandboxLimits

    def _kill_uid(self, sess: Session) -> None:
        """Kill every process of the session's dedicated uid and wait until they are gone.

        Dying processes still count against RLIMIT_NPROC of that uid, so the slot is only handed out
        again once none is left.
        """
        if self.privileged and sess.slot >= 0:
            self._kill_uid_and_wait(sess.uid)

    def _kill_uid_and_wait(self, uid: int) -> None:
        deadline = time.monotonic() + 5
        self._kill_uid_processes(uid)
        while uid_has_processes(uid) and time.monotonic() < deadline:
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

    def _acquire_slot(self, sess: Session) -> None:
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
                    close_fd(fd)
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

    def _evict_one(self, current: Session) -> bool:
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

    def _prepare_slot_dir(self, sess: Session, slot_dir: pathlib.Path) -> None:
        data = slot_dir / "data"
        if self._disk is not None:
            self._disk.unmount(slot_dir / "data.img", data)  # leftovers of a crashed server process
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
        # Its own disk of SANDBOX_MAX_DATA_MB when the host allows (budget.DataDisk), so writes stop at the cap.
        sess.disk = self._disk is not None and self._disk.mount(
            slot_dir / "data.img", data, self.limits.max_data_bytes, sess.uid
        )
        if self.privileged:
            os.chown(data, sess.uid, sess.uid)
        sess.data_dir = data

    def _release_slot(self, sess: Session) -> None:
        if sess.slot < 0:
            return
        if sess.data_dir is not None:
            if self._disk is not None:
                self._disk.unmount(sess.data_dir.parent / "data.img", sess.data_dir)
            shutil.rmtree(sess.data_dir, ignore_errors=True)
        sess.disk = False
        close_fd(sess.slot_fd)
        with self._lock:
            self._own_slots.discard(sess.slot)
        sess.slot, sess.slot_fd, sess.data_dir = -1, -1, None
