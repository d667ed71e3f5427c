"""A web server process as `make run` starts each one: `python -m console.webserver --fd N`, on the test's
database and Redis, with settings of the test's choosing. Its memory and sockets are its own, so tests
can measure them and cut them off."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.db import connection

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class WebProcess:
    url: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def open_sockets(self) -> int:
        """TCP connections this process holds (its listening socket aside)."""
        fds = Path(f"/proc/{self.process.pid}/fd")
        count = 0
        for fd in fds.iterdir():
            try:
                if os.readlink(fd).startswith("socket:"):
                    count += 1
            except OSError:
                continue
        return count


def database_url() -> str:
    """A DATABASE_URL naming the test database pytest-django created (call with database access)."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + name))


@contextmanager
def web_process(**env: str) -> Iterator[WebProcess]:
    """Starts one web process (needs the test database and the private Redis set up)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    home = Path(tempfile.mkdtemp(prefix="webproc-", dir=os.environ.get("VAR_DIR")))
    log = home / "web.log"
    full_env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "VAR_DIR": str(home / "var"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SECRET_KEY": "webproc-test",
        "DB_POOL_MAX": "4",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "console.webserver", "--fd", str(listener.fileno())],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
        )
    listener.close()
    url = f"http://127.0.0.1:{port}"
    web = WebProcess(url=url, host="127.0.0.1", port=port, process=process, log=log)
    try:

        def answers() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(f"{url}/v1/assistants", timeout=2).status_code == 401
            except httpx.HTTPError:
                return False

        wait_until(answers, timeout=60, what="the web process to start")
        yield web
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(home, ignore_errors=True)
