"""Debian packages `make run` needs from the host: installed with apt-get when we may (root), else named.

redis-server is handled the same way in console/launcher.py; bubblewrap and the demo model's build
tools are here.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def apt_install(packages: list[str]) -> bool:
    """Installs Debian packages when we may (root with apt-get); False when we may not or it failed."""
    if not packages:
        return True
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return False
    print(f"Installing {' '.join(packages)} with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, env=env)
    return done.returncode == 0


def ensure_bubblewrap() -> str | None:
    """Makes sure code_interpreter's sandbox tool is present. None when it is; else why it is not,
    for the start banner (the rest of the product works without it)."""
    bwrap = os.environ.get("SANDBOX_BWRAP") or "bwrap"
    if shutil.which(bwrap):
        return None
    if bwrap == "bwrap" and apt_install(["bubblewrap"]) and shutil.which(bwrap):
        return None
    return (
        f"code_interpreter is off: its sandbox needs bubblewrap ({bwrap}), which is not installed "
        "(Debian/Ubuntu: sudo apt-get install bubblewrap; see docs/sandbox.md)."
    )
