"""`manage.py create_api_key`, run in-process so it writes to the test database the live server reads."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command

from console.projects.models import ApiKey, Project


def _run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue().splitlines()


def test_it_prints_the_key_alone_on_the_last_line(transactional_db):
    lines = _run("--project", "alpha")
    raw = lines[-1]
    assert raw.startswith("sk-proj-")
    assert raw == raw.strip() and " " not in raw
    assert len(raw) > len("sk-proj-") + 40
    assert all(raw not in line for line in lines[:-1])
    assert "alpha" in "\n".join(lines[:-1])


def test_it_creates_the_project_when_needed(transactional_db):
    assert not Project.objects.filter(name="fresh").exists()
    _run("--project", "fresh")
    project = Project.objects.get(name="fresh")
    assert ApiKey.objects.filter(project=project).count() == 1


def test_it_reuses_an_existing_project(transactional_db):
    first = _run("--project", "shared")[-1]
    second = _run("--project", "shared", "--name", "ci")[-1]
    assert first != second
    assert Project.objects.filter(name="shared").count() == 1
    project = Project.objects.get(name="shared")
    keys = ApiKey.objects.filter(project=project).order_by("pk")
    assert keys.count() == 2
    assert keys.last().name == "ci"


def test_it_stores_only_a_sha256_hash(transactional_db):
    raw = _run("--project", "hashed")[-1]
    key = ApiKey.objects.get(project__name="hashed")
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    stored_values = [str(getattr(key, f.attname)) for f in ApiKey._meta.concrete_fields]
    assert all(raw not in value for value in stored_values)
    # What is kept for display is redacted.
    assert key.redacted == f"{raw[:8]}****{raw[-4:]}"
    assert raw[8:-4] not in key.redacted


def test_it_requires_a_project(transactional_db):
    with pytest.raises(CommandError, match="--project"):
        call_command("create_api_key", stdout=io.StringIO())
    assert ApiKey.objects.count() == 0


def test_the_key_works_against_the_live_server(live_url, transactional_db):
    raw = _run("--project", "live")[-1]
    headers = {"Authorization": f"Bearer {raw}", "OpenAI-Beta": "assistants=v2"}
    with httpx.Client(base_url=f"{live_url}/v1/", headers=headers, timeout=30) as client:
        r = client.post("assistants", json={"model": "gpt-4o", "name": "via cli key"})
        assert r.status_code == 200, r.text
        assert client.get("assistants").json()["data"][0]["id"] == r.json()["id"]
    project = Project.objects.get(name="live")
    assert project.assistants.get().name == "via cli key"
    assert ApiKey.objects.get(project=project).last_used_at is not None


def test_keys_of_different_projects_see_different_objects(live_url, transactional_db):
    one, two = _run("--project", "one")[-1], _run("--project", "two")[-1]
    with httpx.Client(base_url=f"{live_url}/v1/", headers={"Authorization": f"Bearer {one}"}) as client:
        created = client.post("assistants", json={"model": "m"}).json()["id"]
    with httpx.Client(base_url=f"{live_url}/v1/", headers={"Authorization": f"Bearer {two}"}) as client:
        assert client.get(f"assistants/{created}").status_code == 404
        assert client.get("assistants").json()["data"] == []


def test_the_command_line_prints_the_key_last(tmp_path):
    """The real entry point, against a private SQLite database so nothing touches the developer's data."""
    env = {**os.environ, "VAR_DIR": str(tmp_path), "DATABASE_URL": "", "MEDIA_ROOT": str(tmp_path / "media")}
    manage = [sys.executable, str(Path(__file__).resolve().parents[1] / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "--verbosity", "0"], env=env, check=True, capture_output=True, timeout=120
    )

    keys = []
    for _ in range(2):
        done = subprocess.run(
            [*manage, "create_api_key", "--project", "cli"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.strip().splitlines()
        assert lines[-1].startswith("sk-proj-") and " " not in lines[-1]
        assert all(lines[-1] not in line for line in lines[:-1])
        keys.append(lines[-1])

    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        projects = db.execute("SELECT id FROM projects_project WHERE name = 'cli'").fetchall()
        assert len(projects) == 1
        rows = db.execute("SELECT * FROM projects_apikey WHERE project_id = ?", projects[0]).fetchall()
    assert len(rows) == 2
    for key in keys:
        assert all(key not in str(value) for row in rows for value in row)
        assert any(hashlib.sha256(key.encode()).hexdigest() in row for row in rows)
