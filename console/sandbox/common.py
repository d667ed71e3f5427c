"""What the sandbox modules share: its errors, results, limits and the per-session state."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
KERNEL_FILES = ("kernel.py", "mpl_backend.py")
MAX_FRAME = 1 << 20
MAX_WALK_ENTRIES = 10_000
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
    memory_bytes: int = 1024 << 20  # the session's memory (cgroup), and RLIMIT_AS of each process
    cpu_seconds: int = 900  # the session's CPU time (cgroup), and RLIMIT_CPU of each process
    max_procs: int = 64  # processes + threads of the session (cgroup pids.max, RLIMIT_NPROC)
    max_file_bytes: int = 100 << 20  # RLIMIT_FSIZE: largest file the code may write
    max_open_files: int = 1024  # RLIMIT_NOFILE
    max_output_bytes: int = 1 << 20  # stdout+stderr of one call; past it the session is killed
    tmp_bytes: int = 256 << 20  # size of the private tmpfs /tmp (and of /dev/shm)
    max_data_bytes: int = 1024 << 20  # size of /mnt/data (its own disk, else checked after each call)
    max_output_files: int = 64  # files returned by one call


@dataclass(frozen=True)
class Runtime:
    python: str  # interpreter path inside the sandbox
    base_prefix: str  # host path of the base installation
    remap: bool  # base installation bound at /opt/python (it is not under /usr)
    site_packages: str | None  # host path of the runtime virtualenv's site-packages


@dataclass(eq=False)
class Session:
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
    group: Any = None  # its budget.Group (cgroup), when the host gives it one
    disk: bool = False  # /mnt/data is a disk of its own (budget.DataDisk)


def frame(msg: dict) -> bytes:
    body = json.dumps(msg).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def close_fd(fd: int) -> None:
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)


def safe_name(name: str) -> str:
    base = os.path.basename(str(name).replace("\\", "/")).strip()
    base = base.replace("\x00", "")
    if base in ("", ".", ".."):
        raise ValueError(f"invalid input file name: {name!r}")
    return base
