"""Create the sandbox's Python runtime: a dedicated virtualenv with numpy, pandas and matplotlib.

    python -m console.sandbox.runtime [VENV_DIR]

VENV_DIR defaults to SANDBOX_PYTHON's virtualenv or $VAR_DIR/sandbox-runtime. It is the same as
    python3 -m venv VENV_DIR && VENV_DIR/bin/pip install numpy pandas matplotlib
and does nothing when the virtualenv already has those packages. The sandbox binds the base interpreter
and this virtualenv's site-packages read-only; nothing in it is ever writable from inside.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

PACKAGES = ("numpy", "pandas", "matplotlib")


def default_venv() -> pathlib.Path:
    from console.sandbox.service import default_runtime_python

    return default_runtime_python().parent.parent


def ensure_runtime(venv: pathlib.Path, python: str = sys.executable) -> pathlib.Path:
    """Create `venv` with PACKAGES unless it already imports them; returns its python."""
    venv = pathlib.Path(venv)
    exe = venv / "bin" / "python"
    check = "import " + ", ".join(PACKAGES)
    if exe.exists() and subprocess.run([str(exe), "-c", check], capture_output=True).returncode == 0:
        return exe
    # The interpreter must be a real installation (not a virtualenv) so the sandbox can bind its prefix.
    base = subprocess.run(
        [python, "-c", "import sys; print(getattr(sys, '_base_executable', '') or sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run([base or python, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(exe), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PACKAGES], check=True
    )
    return exe


def main(argv: list[str]) -> int:
    venv = pathlib.Path(argv[0]) if argv else default_venv()
    print(ensure_runtime(venv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
