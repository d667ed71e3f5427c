"""Session-wide budgets: memory, CPU time, process count and disk across all of a session's processes.

- **cgroups** (memory, pids, CPU time): each session gets a cgroup of its own, named after its uid
  slot, below the server's own cgroup. cgroups v2 when the unified hierarchy has the memory, pids and
  cpu controllers for us; otherwise the v1 memory, pids and cpuacct hierarchies (as on hosts that
  still mount v1). The session's first process writes itself into the group before it execs bwrap,
  so every process the session ever starts is counted. Memory: the group's limit (swap included when
  the host has the file); past it the kernel's OOM killer ends a process of that session only. Processes:
  pids.max. CPU time: the group's usage, read during each call; past the budget the session is reset.
- **disk** (/mnt/data): a sparse ext4 image of SANDBOX_MAX_DATA_MB, loop-mounted at the session's
  directory, so a write past the cap fails at once with ENOSPC inside the call.

Each part needs root and the host's support; whatever is missing falls back (docs/sandbox.md): the
per-process rlimits the kernel sets on itself (RLIMIT_AS, RLIMIT_CPU, RLIMIT_NPROC per session uid,
RLIMIT_FSIZE) and the size check of /mnt/data after each call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

logger = logging.getLogger(__name__)

CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")
_V1_CONTROLLERS = ("memory", "pids", "cpuacct")
_V2_CONTROLLERS = {"memory", "pids", "cpu"}
# Writes the shell's own pid into each cgroup.procs named before "--", then execs the rest.
_JOIN = 'while [ "$1" != "--" ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'


def _own_path(controller: str | None) -> str | None:
    """This process's cgroup path in the hierarchy of `controller` (None: the v2 unified one)."""
    try:
        lines = pathlib.Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if (controller is None and names == "") or (
            controller is not None and controller in names.split(",")
        ):
            return path
    return None


@dataclass
class Group:
    """One session's cgroup: one directory (v2) or one per controller (v1)."""

    dirs: dict[str, pathlib.Path]  # controller (or "unified") -> directory
    version: int

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def wrap(self, argv: list[str]) -> list[str]:
        """argv, started inside this group."""
        return ["/bin/sh", "-c", _JOIN, "sh", *self.procs_files(), "--", *argv]

    def _file(self, controller: str, v1: str, v2: str) -> pathlib.Path:
        if self.version == 2:
            return self.dirs["unified"] / v2
        return self.dirs[controller] / v1

    def cpu_seconds(self) -> float:
        try:
            if self.version == 2:
                for line in (self.dirs["unified"] / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) / 1e6
                return 0.0
            return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            return 0.0

    def oom_kills(self) -> int:
        """How many processes the OOM killer ended in this group (v1 before 4.13 kernels: failures)."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = self._file("memory", name, name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def pids(self) -> list[int]:
        # Every process joins every hierarchy's group, so one of them lists them all.
        procs = self.dirs["unified" if self.version == 2 else "pids"] / "cgroup.procs"
        try:
            return [int(p) for p in procs.read_text().split()]
        except (OSError, ValueError):
            return []

    def kill(self, keep: set[int] = frozenset()) -> int:  # type: ignore[assignment]
        """SIGKILLs every process of the group but `keep`; returns how many it signalled."""
        killed = 0
        for pid in self.pids():
            if pid not in keep:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
        return killed

    def destroy(self) -> None:
        deadline = time.monotonic() + 5
        while self.kill() and time.monotonic() < deadline:
            time.sleep(0.01)
        for directory in self.dirs.values():
            for _ in range(100):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # processes still leaving it
                    time.sleep(0.01)


class Cgroups:
    """Creates session groups below the server's own cgroup, if this host lets it."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.version = 0
        self.parents: dict[str, pathlib.Path] = {}
        self.swap_limited = False
        if os.geteuid() != 0:
            return
        unified = self._v2_parent()
        if unified is not None:
            self.version, self.parents = 2, {"unified": unified}
            return
        parents = {}
        for controller in _V1_CONTROLLERS:
            own = _own_path(controller)
            base = CGROUP_ROOT / controller
            if own is None or not (base / "cgroup.procs").exists():
                return
            parents[controller] = base / own.lstrip("/")
        if all(os.access(p, os.W_OK) for p in parents.values()):
            self.version, self.parents = 1, parents

    def _v2_parent(self) -> pathlib.Path | None:
        for base in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
            own = _own_path(None)
            if own is None:
                return None
            parent = base / own.lstrip("/")
            try:
                available = set((parent / "cgroup.controllers").read_text().split())
            except OSError:
                continue
            if not _V2_CONTROLLERS <= available:
                continue
            try:
                # Controllers reach child groups only through the parent's subtree_control.
                (parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
            except OSError:
                continue
            return parent
        return None

    @property
    def available(self) -> bool:
        return self.version > 0

    def create(self, slot: int, memory_bytes: int, max_procs: int) -> Group | None:
        if not self.available:
            return None
        name = f"{self.prefix}-{slot}"
        dirs = {controller: parent / name for controller, parent in self.parents.items()}
        group = Group(dirs=dirs, version=self.version)
        group.destroy()  # leftovers of a crashed server process
        try:
            for directory in dirs.values():
                directory.mkdir(exist_ok=True)
            if self.version == 2:
                unified = dirs["unified"]
                (unified / "memory.max").write_text(str(memory_bytes))
                with contextlib.suppress(OSError):
                    (unified / "memory.swap.max").write_text("0")
                (unified / "pids.max").write_text(str(max_procs))
            else:
                (dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
                with contextlib.suppress(OSError):  # only with swap accounting
                    (dirs["memory"] / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                (dirs["pids"] / "pids.max").write_text(str(max_procs))
        except OSError as exc:
            logger.warning("sandbox: cannot set up a cgroup (%s); per-process limits only", exc)
            group.destroy()
            return None
        return group


class DataDisk:
    """A session's /mnt/data as a loop-mounted ext4 image of a fixed size (root only)."""

    def __init__(self) -> None:
        self.mkfs = shutil.which("mkfs.ext4") or next(
            (p for p in ("/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4") if os.access(p, os.X_OK)), None
        )
        self.available = os.geteuid() == 0 and self.mkfs is not None and os.path.exists("/dev/loop-control")

    def mount(self, image: pathlib.Path, target: pathlib.Path, size: int, uid: int) -> bool:
        if not self.available or self.mkfs is None:
            return False
        self.unmount(image, target)
        try:
            with open(image, "wb") as handle:
                # ext4 keeps a few percent for itself: room for them, so the files get the whole cap.
                handle.truncate(size + size // 32 + (4 << 20))
            subprocess.run(
                [
                    self.mkfs,
                    "-q",
                    "-F",
                    "-m",
                    "0",
                    "-O",
                    "^has_journal",
                    "-E",
                    f"root_owner={uid}:{uid}",
                    str(image),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            subprocess.run(
                ["mount", "-o", "loop,nosuid,nodev", str(image), str(target)],
                check=True,
                capture_output=True,
                timeout=60,
            )
            os.chmod(target, 0o700)
            lost = target / "lost+found"
            if lost.is_dir():
                lost.rmdir()
        except (OSError, subprocess.SubprocessError) as exc:
            logger.warning(
                "sandbox: cannot mount a disk for /mnt/data (%s); its size is checked after calls", exc
            )
            self.unmount(image, target)
            self.available = False
            return False
        return True

    def unmount(self, image: pathlib.Path, target: pathlib.Path) -> None:
        if os.path.ismount(target):
            subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=60, check=False)
        with contextlib.suppress(FileNotFoundError):
            image.unlink()


def _stat(pid: int) -> tuple[str, int] | None:
    """(command name, start time in clock ticks) of a process, or None once it is gone."""
    try:
        raw = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return name, int(fields[19])  # field 22 of stat(5): starttime


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        raw = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2] != "Z"


def leftovers(pids: list[int]) -> list[int]:
    """The processes among a session's that are neither bwrap nor its kernel (the oldest of the rest):
    whatever a call started and left running."""
    found = [(pid, stat) for pid in pids if (stat := _stat(pid)) is not None]
    others = sorted((start, pid) for pid, (name, start) in found if name != "bwrap")
    return [pid for _, pid in others[1:]]
