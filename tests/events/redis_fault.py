"""Fault injection from outside: a redis-server of a test's own, stopped and started again, and
every client connection of a Redis dropped at once."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from console.launcher import find_redis_server, free_port, redis_answers


def drop_clients(url: str) -> int:
    """CLIENT KILL TYPE normal: every ordinary connection but the caller's is closed by Redis."""
    admin = redis.Redis.from_url(url)
    try:
        return int(admin.client_kill_filter(_type="normal", skipme=True))
    finally:
        admin.close()


class PrivateRedis:
    """A redis-server on a fixed loopback port that a test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        binary = find_redis_server()
        assert binary, "redis-server must be installed (.ci/run installs it)"
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not redis_answers("127.0.0.1", self.port):
            assert self.process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
