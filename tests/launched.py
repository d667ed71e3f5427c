"""The product started as `make run` starts it: `python -m console.launcher` in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_launcher(**settings: str) -> subprocess.Popen[str]:
    """The launcher with this environment's variables plus `settings`, its output on a pipe.

    The test process's own Django settings module and Redis are never passed on: the launcher reads
    its configuration from the environment as on a fresh machine.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")
    }
    # Its own sandbox uids: a slot's uid is cleared of processes when leased, so sharing the test
    # process's range would kill the test's own code_interpreter sessions.
    env.update(PYTHONUNBUFFERED="1", SANDBOX_UID_BASE="63000", **settings)
    return subprocess.Popen(
        [sys.executable, "-m", "console.launcher"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
