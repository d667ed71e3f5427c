"""How fast the API answers while Redis is down, and how fast it takes runs again once it is back.

    .venv/bin/python bench/outage.py [--requests 20]

Starts, as `make run` would, a private redis-server, a fresh SQLite database under a temporary
VAR_DIR and uvicorn serving console.asgi:application (no worker: runs stay queued). Then:
  1. creates an assistant and --requests threads;
  2. stops redis-server and times POST /v1/threads/{id}/runs (each must answer 503), plus GETs;
  3. starts redis-server again on the same port and times the first successful POST .../runs.
Prints p50/max per kind, in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
sys.path.insert(0, str(ROOT))

from console.launcher import find_redis_server, free_port, redis_answers  # noqa: E402


def _redis(binary: str, port: int, directory: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
    )
    while not redis_answers("127.0.0.1", port):
        time.sleep(0.02)
    return process


def _ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    binary = find_redis_server()
    assert binary, "redis-server is needed"
    var = Path(tempfile.mkdtemp(prefix="bench-outage-"))
    redis_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "VAR_DIR": str(var),
        "DATABASE_URL": "",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    redis_server = _redis(binary, redis_port, var)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    key = (
        subprocess.run(
            [PYTHON, "manage.py", "create_api_key", "--project", "bench"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    web = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "uvicorn",
            "console.asgi:application",
            "--port",
            str(web_port),
            "--log-level",
            "error",
        ],
        env=env,
        cwd=ROOT,
    )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{web_port}/v1/", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    try:
        while True:
            try:
                client.get("assistants")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assistant = client.post("assistants", json={"model": "m"}).json()["id"]
        threads = [client.post("threads", json={}).json()["id"] for _ in range(args.requests)]
        redis_server.terminate()
        redis_server.wait()
        refused, reads = [], []
        for thread in threads:
            started = time.monotonic()
            response = client.post(f"threads/{thread}/runs", json={"assistant_id": assistant})
            refused.append(time.monotonic() - started)
            assert response.status_code == 503, response.text
            started = time.monotonic()
            assert client.get(f"threads/{thread}/runs").status_code == 200
            reads.append(time.monotonic() - started)
        redis_server = _redis(binary, redis_port, var)
        started = time.monotonic()
        response = client.post(f"threads/{threads[0]}/runs", json={"assistant_id": assistant})
        back = time.monotonic() - started
        assert response.status_code == 200, response.text
        # A Redis that hangs rather than refuses (SIGSTOP): the request's client times out instead.
        redis_server.send_signal(signal.SIGSTOP)
        hung = []
        for thread in threads[1:6]:
            started = time.monotonic()
            response = client.post(f"threads/{thread}/runs", json={"assistant_id": assistant})
            hung.append(time.monotonic() - started)
            assert response.status_code == 503, response.text
        redis_server.send_signal(signal.SIGCONT)
        print(f"Redis hung (SIGSTOP): POST .../runs -> 503: {_ms(hung)}")
        print(f"Redis stopped: POST .../runs -> 503: {_ms(refused)}")
        print(f"Redis stopped: GET .../runs -> 200: {_ms(reads)}")
        print(f"Redis back: first POST .../runs -> 200 queued: {back * 1000:.1f} ms")
    finally:
        client.close()
        web.terminate()
        web.wait(timeout=20)
        redis_server.terminate()
        redis_server.wait(timeout=10)


if __name__ == "__main__":
    main()
