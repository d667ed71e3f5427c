"""`python manage.py move_files_to_storage`: local file bytes into S3 (moto's server), safely re-run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

from console.files import services, storage
from tests.s3 import moto_server

MANAGE = Path(__file__).resolve().parents[1] / "manage.py"


def _database_url() -> str:
    """This test database, for the command's own process."""
    if connection.vendor == "sqlite":
        return f"sqlite:///{connection.settings_dict['NAME']}"
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def _move(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MANAGE), "move_files_to_storage"],
        env=env,
        cwd=MANAGE.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_copies_local_files_into_s3_and_can_run_again(owner, tmp_path):
    kept = services.create_file(
        owner.project,
        source=io.BytesIO(b"kept bytes"),
        source_path=None,
        filename="a.txt",
        purpose="assistants",
        size=10,
    )
    lost = services.create_file(
        owner.project,
        source=io.BytesIO(b"lost"),
        source_path=None,
        filename="b.txt",
        purpose="assistants",
        size=4,
    )
    storage.delete(lost.storage_name)  # a row whose bytes are gone is reported, not fatal

    with moto_server() as s3:
        env = {
            **os.environ,
            **s3.env("moved"),
            "DATABASE_URL": _database_url(),
            "VAR_DIR": str(tmp_path / "var"),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        }
        first = _move(env)
        assert first.returncode == 0, first.stderr
        assert "copied 1, already in storage 0, missing locally 1" in first.stdout
        assert lost.pk in first.stderr
        body = s3.client().get_object(Bucket=s3.bucket, Key=f"moved/{kept.storage_name}")["Body"].read()
        assert body == b"kept bytes"

        again = _move(env)
        assert again.returncode == 0, again.stderr
        assert "copied 0, already in storage 1, missing locally 1" in again.stdout
    # The local copy stays until the operator removes it.
    assert storage.read_bytes(kept.storage_name) == b"kept bytes"


def test_it_refuses_to_run_without_object_storage(owner, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "VAR_DIR": str(tmp_path / "var"),
        "FILE_STORAGE": "local",
    }
    done = _move(env)
    assert done.returncode != 0
    assert "FILE_STORAGE is local" in done.stderr
