"""A session's budget covers the whole session: memory, CPU time and processes across all of its
processes (cgroups), disk during a call (/mnt/data is a disk of its own), and no process outlives its
call. Each limit is exceeded here and answers with a clear tool output. Root only, like the sandbox
tests: these parts need it (docs/sandbox.md describes the fallback without them)."""

from __future__ import annotations

import os
import pathlib

import pytest

from console.sandbox.service import SandboxLimits
from tests.sandbox.helpers import make_manager as _make
from tests.sandbox.helpers import new_key as _key

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(os.geteuid() != 0, reason="session budgets need root (cgroups, loop mounts)"),
]


def _state(pid: int) -> str | None:
    try:
        raw = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2]


def _budgeted(runtime_python, tmp_path, **limits):  # type: ignore[no-untyped-def]
    manager = _make(tmp_path, runtime_python, limits=SandboxLimits(**limits))
    if manager._cgroups is None or not manager._cgroups.available:
        manager.shutdown()
        pytest.skip("this host gives no cgroup for sandbox sessions")
    return manager


# Children that each stay under every per-process limit, and together go over the session's.
FORKS = """
import os, time
pids = []
for _ in range({n}):
    pid = os.fork()
    if pid == 0:
        {child}
        os._exit(0)
    pids.append(pid)
codes = [os.waitpid(pid, 0)[1] for pid in pids]
print('children killed:', sum(1 for c in codes if os.WIFSIGNALED(c)))
"""


def test_it_caps_the_memory_of_all_a_sessions_processes_together(runtime_python, tmp_path):
    m = _budgeted(runtime_python, tmp_path, memory_bytes=256 << 20)
    try:
        key = _key()
        child = "block = bytearray(150 << 20); time.sleep(3)"
        r = m.execute(key, FORKS.format(n=3, child=child), timeout=60)
        assert "children killed: " in r.logs and "children killed: 0" not in r.logs, r.logs
        assert r.error is not None and "used more than 256 MB of memory" in r.error, r.error
        assert r.killed is None
        assert m.execute(key, "'still here'").logs == "'still here'\n"
    finally:
        m.shutdown()


def test_it_caps_the_cpu_time_of_all_a_sessions_processes_together(runtime_python, tmp_path):
    m = _budgeted(runtime_python, tmp_path, cpu_seconds=2)
    try:
        # Three children of 1.5 s of CPU each: under RLIMIT_CPU each, 4.5 s together.
        child = "end = time.process_time() + 1.5\n        while time.process_time() < end: pass"
        r = m.execute(_key(), FORKS.format(n=3, child=child), timeout=60)
        assert r.killed == "cpu", (r.logs, r.error)
        assert r.error == "CPU time limit (2 s) exceeded; the session was reset."
    finally:
        m.shutdown()


def test_it_stops_what_a_call_leaves_running(runtime_python, tmp_path):
    m = _budgeted(runtime_python, tmp_path)
    try:
        key = _key()
        start = (
            "import subprocess, sys\np = subprocess.Popen([sys.executable, '-c', 'while True: pass'])\np.pid"
        )
        r = m.execute(key, start)
        assert r.error is None, r.error
        live = [pid for pid in m._sessions[key].group.pids() if _state(pid) not in ("Z", None)]
        assert len(live) == 3, live  # bwrap, its init, and the kernel: the spinner is gone
        gone = "import os\ntry:\n    os.kill(p.pid, 0)\nexcept ProcessLookupError:\n    print('gone')"
        assert m.execute(key, gone).logs == "gone\n"
    finally:
        m.shutdown()


def test_it_caps_processes_across_the_session(runtime_python, tmp_path):
    m = _budgeted(runtime_python, tmp_path, max_procs=16)
    try:
        code = (
            "import os, time\nn = 0\ntry:\n    for _ in range(100):\n        if os.fork() == 0:\n"
            "            time.sleep(30)\n            os._exit(0)\n        n += 1\n"
            "except OSError as e:\n    print('fork refused:', type(e).__name__)\nn < 16\n"
        )
        r = m.execute(_key(), code, timeout=30)
        assert "fork refused: BlockingIOError" in r.logs and r.logs.endswith("True\n"), r.logs
    finally:
        m.shutdown()


def test_it_stops_disk_writes_at_the_cap_during_the_call(runtime_python, tmp_path):
    m = _make(tmp_path, runtime_python, limits=SandboxLimits(max_data_bytes=32 << 20))
    try:
        key = _key()
        code = (
            "with open('/mnt/data/big.bin', 'wb') as f:\n"
            "    for _ in range(100):\n"
            "        f.write(b'x' * (1 << 20))\n"
        )
        r = m.execute(key, code, timeout=60)
        if not m._sessions[key].disk:
            pytest.skip("this host cannot give /mnt/data a disk of its own")
        assert r.error is not None and "No space left on device" in r.error, r.error
        assert r.killed is None
        size = (m._sessions[key].data_dir / "big.bin").stat().st_size
        assert size <= 34 << 20, size  # the cap, give or take the filesystem's own blocks
        # The session goes on: the space comes back once the file is removed.
        r = m.execute(key, "import os\nos.remove('/mnt/data/big.bin')\nopen('/mnt/data/a', 'w').write('ok')")
        assert r.error is None, r.error
    finally:
        m.shutdown()
