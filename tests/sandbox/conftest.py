from __future__ import annotations

import pathlib
import shutil

import pytest

from console.sandbox.runtime import ensure_runtime
from console.sandbox.service import default_runtime_python


@pytest.fixture(scope="session")
def runtime_python() -> pathlib.Path:
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is not installed: apt-get install -y bubblewrap (see docs/sandbox.md)")
    python = default_runtime_python()
    return ensure_runtime(python.parent.parent)
