"""What `make run` needs from the host: bubblewrap for code_interpreter, found or explained."""

from __future__ import annotations

import shutil

from console.system_packages import ensure_bubblewrap


def test_it_finds_bubblewrap_when_installed(monkeypatch):
    monkeypatch.delenv("SANDBOX_BWRAP", raising=False)
    assert shutil.which("bwrap"), "bubblewrap must be installed (.ci/run installs it)"
    assert ensure_bubblewrap() is None


def test_it_says_code_interpreter_is_off_without_bubblewrap(monkeypatch, tmp_path):
    # A configured sandbox tool that does not exist is never installed with apt-get.
    monkeypatch.setenv("SANDBOX_BWRAP", str(tmp_path / "missing-bwrap"))
    notice = ensure_bubblewrap()
    assert notice is not None
    assert notice.startswith("code_interpreter is off")
    assert "missing-bwrap" in notice and "apt-get install bubblewrap" in notice
