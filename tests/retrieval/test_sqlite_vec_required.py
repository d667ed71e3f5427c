"""A SQLite where sqlite-vec cannot load is refused at start-up, with a message saying what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_refuses_to_start_without_sqlite_vec(tmp_path: Path) -> None:
    broken = tmp_path / "site" / "sqlite_vec"
    broken.mkdir(parents=True)
    # A sqlite-vec wheel built for another platform: importable, but its extension does not load.
    (broken / "__init__.py").write_text(
        "def load(connection):\n    raise OSError('sqlite_vec/vec0.so: wrong ELF class')\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{ROOT}",
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": "",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "sqlite-vec could not be loaded into SQLite (sqlite_vec/vec0.so: wrong ELF class)" in result.stderr
    assert "pip install -e ." in result.stderr
