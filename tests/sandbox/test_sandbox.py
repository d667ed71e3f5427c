"""The code_interpreter sandbox, with real bubblewrap and real processes (no mocks).

Needs `bwrap` (apt-get install -y bubblewrap) and the sandbox runtime virtualenv (SANDBOX_PYTHON, else
$VAR_DIR/sandbox-runtime; created here with `python -m console.sandbox.runtime` when missing).
"""

from __future__ import annotations

import os
import pathlib
import socket
import threading
import uuid

import pytest

from console.sandbox.service import SandboxLimits, SandboxManager, default_runtime_python
from tests.sandbox.helpers import make_manager, new_key
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(300)

REPO = pathlib.Path(__file__).resolve().parent.parent.parent
_make = make_manager


@pytest.fixture(scope="module")
def manager(runtime_python, tmp_path_factory):
    m = _make(tmp_path_factory.mktemp("sandbox"), runtime_python)
    m.prepare()
    yield m
    m.shutdown()


_key = new_key


def _uid_processes(uid: int, live: bool = False) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(status["Uid"].split()[0]) == uid and not (live and status["State"].strip().startswith("Z")):
            pids.append(int(entry))
    return pids


def _healthy(manager: SandboxManager) -> None:
    r = manager.execute(_key(), "6*7")
    assert r.error is None and r.logs == "42\n"


# ---------------------------------------------------------------------- results and state


def test_last_expression_repr_and_print(manager):
    key = _key()
    r = manager.execute(key, "1+1")
    assert (r.logs, r.error, r.killed, r.timed_out, r.files) == ("2\n", None, None, False, [])
    r = manager.execute(key, "print('hello')\nx = 'a'\nx * 3")
    assert r.logs == "hello\n'aaa'\n"
    r = manager.execute(key, "y = 1")  # an assignment shows nothing
    assert r.logs == ""
    r = manager.execute(key, "import sys\nprint('to stderr', file=sys.stderr)\nNone")
    assert r.logs == "to stderr\n"
    r = manager.execute(key, "import os\nos.system('echo from a subprocess')\n")
    assert "from a subprocess" in r.logs
    manager.close_session(key)


def test_errors_come_back_as_results(manager):
    key = _key()
    r = manager.execute(key, "print('before')\n1/0")
    assert r.error == "ZeroDivisionError: division by zero"
    assert r.logs.startswith("before\n") and "Traceback" in r.logs and "<cell-1>" in r.logs
    assert "kernel.py" not in r.logs
    assert r.killed is None
    r = manager.execute(key, "def f(:\n  pass")
    assert r.error is not None and r.error.startswith("SyntaxError")
    r = manager.execute(key, "raise SystemExit(3)")
    assert r.error is not None and r.killed is None
    assert manager.execute(key, "'still alive'").logs == "'still alive'\n"
    manager.close_session(key)


def test_state_persists_across_calls(manager):
    key = _key()
    manager.execute(key, "import math\ncounter = 10\ndef bump():\n    global counter\n    counter += 1")
    manager.execute(key, "bump()")
    r = manager.execute(key, "counter, math.sqrt(16)")
    assert r.logs == "(11, 4.0)\n"
    manager.close_session(key)


def test_files_in_and_out(manager, tmp_path):
    src = tmp_path / "upload-xyz"
    src.write_text("city,temp\nOslo,3\nRome,18\nCairo,30\n")
    key = _key()
    code = (
        "import pandas as pd\n"
        "df = pd.read_csv('/mnt/data/cities.csv')\n"
        "df['hot'] = df.temp > 15\n"
        "df.to_csv('/mnt/data/result.csv', index=False)\n"
        "int(df.temp.sum())"
    )
    r = manager.execute(key, code, input_files=[("cities.csv", src)])
    assert r.error is None, r.logs
    assert r.logs == "51\n"
    assert [f.name for f in r.files] == ["result.csv"]  # the input itself is not an output
    out = r.files[0]
    assert out.mime == "text/csv" and not out.is_image
    assert out.path.read_text().splitlines() == [
        "city,temp,hot",
        "Oslo,3,False",
        "Rome,18,True",
        "Cairo,30,True",
    ]
    # Unchanged files are not returned again; modified ones are.
    r = manager.execute(key, "open('/mnt/data/result.csv', 'a').write('x,1,True\\n')\nNone")
    assert [f.name for f in r.files] == ["result.csv"]
    r = manager.execute(key, "import os\nsorted(os.listdir('/mnt/data'))", input_files=[("cities.csv", src)])
    assert r.logs == "['cities.csv', 'result.csv']\n" and r.files == []
    manager.close_session(key)


def test_matplotlib_images(manager):
    key = _key()
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [4, 1, 9])\nplt.title('demo')\nplt.show()\n"
    r = manager.execute(key, code, timeout=60)
    assert r.error is None, r.logs
    assert len(r.files) == 1
    img = r.files[0]
    assert img.is_image and img.mime == "image/png" and img.name.endswith(".png")
    assert img.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A figure left open at the end of a cell is returned too (like Jupyter's inline display).
    r = manager.execute(key, "fig, ax = plt.subplots()\nax.bar(['a', 'b'], [1, 2]);")
    assert r.error is None, r.logs
    assert len(r.files) == 1 and r.files[0].is_image and r.files[0].name != img.name
    r = manager.execute(key, "import matplotlib\nmatplotlib.get_backend()")
    assert "mpl_backend" in r.logs
    manager.close_session(key)


# ---------------------------------------------------------------------- escape attempts


def test_cannot_read_host_secrets_or_project(manager):
    key = _key()
    targets = [
        "/etc/shadow",
        "/root",
        str(REPO / "console" / "settings.py"),
        str(pathlib.Path(os.path.realpath(REPO)) / "pyproject.toml"),
        str(manager.root / "slots"),
        str(default_runtime_python()),
    ]
    code = (
        "import os\n"
        f"for p in {targets!r}:\n"
        "    try:\n"
        "        print(p, 'LEAK', open(p).read()[:20] if os.path.isfile(p) else os.listdir(p))\n"
        "    except OSError as e:\n"
        "        print(p, 'blocked', type(e).__name__)\n"
    )
    r = manager.execute(key, code)
    assert r.error is None, r.logs
    assert "LEAK" not in r.logs
    assert r.logs.count("blocked") == len(targets)
    r = manager.execute(key, "import os\nsorted(os.listdir('/'))")
    top = set(eval(r.logs))
    assert {"usr", "mnt", "opt", "tmp", "proc", "dev", "etc"} <= top
    assert top <= {
        "bin",
        "sbin",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "dev",
        "etc",
        "mnt",
        "opt",
        "proc",
        "tmp",
        "usr",
    }
    r = manager.execute(key, "import os\nos.getuid() != 0 and os.geteuid() != 0")
    assert r.logs == "True\n"
    manager.close_session(key)


def test_no_network(manager):
    host = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    host.bind(("127.0.0.1", 0))
    host.listen(5)
    host.settimeout(0.5)
    port = host.getsockname()[1]
    key = _key()
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
        "    print('CONNECTED')\n"
        "except OSError as e:\n"
        "    print('connect failed', type(e).__name__)\n"
        "try:\n"
        "    socket.getaddrinfo('pypi.org', 443)\n"
        "    print('RESOLVED')\n"
        "except OSError as e:\n"
        "    print('resolve failed', type(e).__name__)\n"
        "import os\n"
        "sorted(os.listdir('/sys/class/net')) if os.path.exists('/sys/class/net') else 'no /sys'\n"
    )
    try:
        r = manager.execute(key, code, timeout=20)
        assert "CONNECTED" not in r.logs and "RESOLVED" not in r.logs, r.logs
        assert "connect failed" in r.logs and "resolve failed" in r.logs
        with pytest.raises(TimeoutError):
            host.accept()  # nothing ever reached the host's listener
    finally:
        host.close()
        manager.close_session(key)


def test_fork_bomb_is_contained(manager):
    other = _key()
    manager.execute(other, "survivor = 'ok'")
    key = _key()
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    r = manager.execute(key, code, timeout=3)
    assert r.timed_out and r.killed == "timeout"
    assert r.error == "Execution timed out after 3 s; the session was reset."
    # Every process of the bomb is gone, the other session and the host go on.
    assert manager.execute(other, "survivor").logs == "'ok'\n"
    _healthy(manager)
    r = manager.execute(key, "'fresh'")
    assert r.logs == "'fresh'\n"
    manager.close_session(key)
    manager.close_session(other)


def test_process_limit(manager):
    key = _key()
    code = (
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    for _ in range(1000):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    print('fork refused:', type(e).__name__)\n"
        "n < 100\n"
    )
    r = manager.execute(key, code, timeout=30)
    assert "fork refused: BlockingIOError" in r.logs and r.logs.endswith("True\n"), r.logs
    slot_uid = manager.uid_base + manager._sessions[key].slot
    if manager.privileged:
        # The sleeping children did not outlive their call: only the kernel runs (docs/sandbox.md).
        assert len(_uid_processes(slot_uid, live=True)) == 1
    manager.close_session(key)
    if manager.privileged:
        assert _uid_processes(slot_uid) == []  # the sleeping children went with the session


def test_memory_limit(manager):
    key = _key()
    r = manager.execute(key, "x = bytearray(10 * 1024**3)", timeout=30)
    assert r.error is not None and "MemoryError" in r.error
    r = manager.execute(key, "import numpy as np\na = np.ones(10 * 1024**3 // 8)", timeout=30)
    assert r.error is not None and "MemoryError" in r.error or r.killed is not None
    manager.close_session(key)
    _healthy(manager)


def test_cannot_write_outside_data(manager):
    marker = f"sandbox-marker-{uuid.uuid4().hex}"
    key = _key()
    code = (
        f"for p in ['/usr/{marker}', '/etc/passwd', '/opt/site-packages/{marker}', '/opt/kernel/kernel.py',"
        f" '/{marker}']:\n"
        "    try:\n"
        "        open(p, 'a').write('x')\n"
        "        print(p, 'WRITTEN')\n"
        "    except OSError as e:\n"
        "        print(p, 'blocked', type(e).__name__)\n"
        f"open('/tmp/{marker}', 'w').write('private tmpfs')\n"
        f"open('/mnt/data/{marker}', 'w').write('ok')\n"
    )
    r = manager.execute(key, code)
    assert r.error is None, r.logs
    assert "WRITTEN" not in r.logs and r.logs.count("blocked") == 5
    assert not os.path.exists(f"/usr/{marker}") and not os.path.exists(f"/tmp/{marker}")
    assert not os.path.exists(f"/{marker}")
    assert [f.name for f in r.files] == [marker]
    manager.close_session(key)


def test_file_size_limit(runtime_python, tmp_path):
    m = _make(tmp_path, runtime_python, limits=SandboxLimits(max_file_bytes=1 << 20))
    try:
        r = m.execute(_key(), "open('/mnt/data/big', 'wb').write(b'x' * (2 << 20))")
        assert r.error is not None and "File too large" in r.error
    finally:
        m.shutdown()


def test_timeout_kills_and_resets(manager):
    key = _key()
    manager.execute(key, "kept = 1")
    r = manager.execute(key, "import time\nprint('started', flush=True)\ntime.sleep(600)", timeout=2)
    assert r.timed_out and r.killed == "timeout" and r.logs == "started\n"
    assert r.error == "Execution timed out after 2 s; the session was reset."
    r = manager.execute(key, "'kept' in globals()")
    assert r.logs == "False\n"  # a fresh session
    r = manager.execute(key, "while True: pass", timeout=2)
    assert r.killed == "timeout"
    _healthy(manager)
    manager.close_session(key)


def test_output_flood_is_cut(manager):
    key = _key()
    r = manager.execute(key, "while True:\n    print('y' * 1000)", timeout=30)
    assert r.killed == "output" and not r.timed_out
    assert r.error is not None and "Output exceeded" in r.error
    assert manager.limits.max_output_bytes <= len(r.logs) < manager.limits.max_output_bytes + 200
    assert manager.execute(key, "'after flood'").logs == "'after flood'\n"
    manager.close_session(key)


def test_cpu_limit(runtime_python, tmp_path):
    m = _make(tmp_path, runtime_python, limits=SandboxLimits(cpu_seconds=1))
    try:
        r = m.execute(_key(), "while True: pass", timeout=30)
        assert r.killed == "cpu" and "CPU time limit" in (r.error or "")
    finally:
        m.shutdown()


def test_symlinks_never_followed_on_the_host(manager, tmp_path):
    secret = tmp_path / "host-secret.txt"
    secret.write_text("host secret")
    src = tmp_path / "input.csv"
    src.write_text("a\n1\n")
    key = _key()
    code = (
        "import os\n"
        f"os.symlink({str(secret)!r}, '/mnt/data/leak.txt')\n"
        f"os.symlink({str(secret)!r}, '/mnt/data/input.csv')\n"
        "os.mkfifo('/mnt/data/fifo')\n"
    )
    r = manager.execute(key, code)
    assert r.error is None, r.logs
    assert r.files == []  # symlinks and fifos are not files to return
    r = manager.execute(key, "open('/mnt/data/input.csv').read()", input_files=[("input.csv", src)])
    assert r.logs == "'a\\n1\\n'\n"
    assert secret.read_text() == "host secret"  # the copy replaced the link, it did not write through it
    manager.close_session(key)


def test_other_sessions_are_invisible(manager):
    a, b = _key(), _key()
    manager.execute(a, "secret = 'A only'\nopen('/mnt/data/a.txt', 'w').write('A')\nimport time")
    r = manager.execute(b, "import os\n(os.listdir('/mnt/data'), 'secret' in globals())")
    assert r.logs == "([], False)\n"
    # B sees only its own processes.
    r = manager.execute(b, "import os\nsorted(int(p) for p in os.listdir('/proc') if p.isdigit())")
    assert len(eval(r.logs)) <= 3
    assert manager.execute(a, "secret").logs == "'A only'\n"
    manager.close_session(a)
    manager.close_session(b)


def test_concurrent_sessions(manager):
    results: dict[int, str] = {}

    def work(i: int) -> None:
        key = f"thread_concurrent_{i}"
        manager.execute(key, f"v = {i}")
        results[i] = manager.execute(key, "import time; time.sleep(0.2); v * 10").logs
        manager.close_session(key)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {i: f"{i * 10}\n" for i in range(4)}


def test_sessions_survive_their_calling_thread(manager):
    key = _key()
    t = threading.Thread(target=manager.execute, args=(key, "alive = True"))
    t.start()
    t.join(60)
    # join() returns before the OS thread is gone; its exit is what would fire a parent-death signal.
    wait_until(
        lambda: not pathlib.Path(f"/proc/self/task/{t.native_id}").exists(), what="the calling thread exiting"
    )
    assert manager.execute(key, "alive").logs == "True\n"
    manager.close_session(key)


def test_idle_reaping_and_close(runtime_python, tmp_path):
    m = _make(tmp_path, runtime_python, idle_timeout=0.5)
    try:
        key = _key()
        m.execute(key, "x = 1")
        uid = m.uid_base + m._sessions[key].slot
        assert m.reap_idle() == 0
        wait_until(lambda: m.reap_idle() == 1, timeout=10, interval=0.1, what="the session going idle")
        assert m.session_keys() == []
        if m.privileged:
            assert _uid_processes(uid) == []
        assert list((tmp_path / "slots").glob("*/data")) == []
        assert m.execute(key, "'x' in globals()").logs == "False\n"
        m.close_session(key)
        assert m.session_keys() == []
    finally:
        m.shutdown()


def test_capacity_evicts_least_recently_used(runtime_python, tmp_path):
    m = _make(tmp_path, runtime_python, max_sessions=2)
    try:
        m.execute("t1", "a = 1")
        m.execute("t2", "b = 2")
        m.execute("t3", "c = 3")  # evicts t1
        assert sorted(m.session_keys()) == ["t2", "t3"]
        assert m.execute("t2", "b").logs == "2\n"
    finally:
        m.shutdown()
