"""`make run`'s launcher, end to end: it starts everything, prints a working key, and stops cleanly."""

from __future__ import annotations

import re
import signal
import time

import httpx
import pytest

from console.launcher import find_redis_server, free_port, redis_answers, start_private_redis
from tests.launched import start_launcher


def test_it_starts_a_private_redis(tmp_path):
    binary = find_redis_server()
    assert binary, "redis-server must be installed (.ci/run installs it)"
    process, url = start_private_redis(binary, tmp_path / "redis")
    try:
        port = int(re.search(r":(\d+)/", url).group(1))
        assert redis_answers("127.0.0.1", port)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.timeout(120)
def test_it_starts_the_product_and_prints_url_login_and_key(tmp_path):
    port = free_port()
    process = start_launcher(
        VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL="",
        PORT=str(port),
        # Its own Redis, never the machine's; the demo model is tested by tests/test_real_model.py.
        PRIVATE_REDIS="1",
        EMBEDDED_MODEL="0",
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(output)
        assert f"http://localhost:{port}/" in text, text
        assert re.search(r"Admin login: admin / \S+", text), text
        key = re.search(r"API key \(project 'Default'\): (sk-proj-\S+)", text).group(1)

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"{base}/v1/assistants", headers={"Authorization": f"Bearer {key}"})
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["object"] == "list"
        assert httpx.get(f"{base}/v1/assistants").status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert code == 0
