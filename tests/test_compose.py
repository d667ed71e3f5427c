"""docker-compose.yml: its structure checked without docker, and `docker compose config` where docker is."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # PyYAML resolves the `<<: *app` merges, so each service reads as compose sees it.
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _console_source() -> str:
    return "\n".join(path.read_text() for path in (ROOT / "console").rglob("*.py"))


def _named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """Named volume -> mount point (bind mounts, which start with . or /, are left out)."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, _, target = entry.partition(":")
        if not source.startswith((".", "/", "~")):
            mounts[source] = target.split(":")[0]
    return mounts


def test_it_describes_web_workers_beat_redis_and_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {*APP_SERVICES, "redis", "postgres"} <= set(services)
    for name, service in services.items():
        assert ("image" in service) != ("build" in service), f"{name}: exactly one of image and build"
    for name in APP_SERVICES:
        assert services[name]["build"] == ".", name
    assert (ROOT / "Dockerfile").exists()
    assert services["postgres"]["image"].startswith("pgvector/pgvector")
    assert services["redis"]["image"].startswith("redis")

    worker = services["worker"]["command"]
    assert worker[:4] == ["celery", "-A", "console", "worker"] and "threads" in worker
    assert services["beat"]["command"][:4] == ["celery", "-A", "console", "beat"]
    # The web service runs the image's default command (migrate, then the ASGI server).
    assert "command" not in services["web"]
    assert "8000:8000" in services["web"]["ports"]
    assert "EXPOSE 8000" in (ROOT / "Dockerfile").read_text()


BOTO3_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}


def test_it_wires_the_app_to_postgres_and_redis(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres = services["postgres"]["environment"]
    source = _console_source()
    for name in APP_SERVICES:
        env = services[name]["environment"]
        database = urlsplit(env["DATABASE_URL"])
        assert database.scheme == "postgresql" and database.hostname == "postgres", name
        assert (database.username, database.password) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
        )
        assert database.path == f"/{postgres['POSTGRES_DB']}"
        redis = urlsplit(env["REDIS_URL"])
        assert redis.scheme == "redis" and redis.hostname == "redis", name
        # No default secret: compose refuses to start without one.
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
        # Every variable handed to the app is one the app reads (a typo would be silently ignored);
        # the AWS_* credentials are read by boto3 itself.
        for key in set(env) - BOTO3_ENV:
            assert re.search(rf"['\"]{key}['\"]", source), f"{name}: console/ never reads {key}"


def test_it_starts_the_app_after_its_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        for target, rule in depends_on.items() if isinstance(depends_on, dict) else []:
            assert target in services, f"{name} depends on an unknown service {target}"
            if rule.get("condition") == "service_healthy":
                assert "healthcheck" in services[target], (
                    f"{name} waits for {target}, which has no healthcheck"
                )
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert "redis" in services[name]["depends_on"], name


def test_it_declares_and_shares_its_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services.items():
        mounts = _named_volumes(service)
        assert set(mounts) <= declared, f"{name} mounts undeclared volumes {set(mounts) - declared}"
        used |= set(mounts)
    assert declared == used, f"declared but never mounted: {declared - used}"

    # Uploads written by web are read by workers on other machines: file bytes live in S3, not a volume.
    assert (
        services["web"]["environment"]["FILE_STORAGE"]
        == services["worker"]["environment"]["FILE_STORAGE"]
        == "s3"
    )
    assert services["worker"]["environment"]["SANDBOX_ROOT"] in _named_volumes(services["worker"]).values()
    assert "/var/lib/postgresql/data" in _named_volumes(services["postgres"]).values()


def test_it_parses_with_docker_compose() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed: only the structure checks above ran")
    if subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed: only the structure checks above ran")
    result = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={"SECRET_KEY": "x", "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert result.returncode == 0, result.stderr


def test_it_restarts_and_health_checks_every_service():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, service in services.items():
        if (
            service.get("restart") == "on-failure"
        ):  # a one-shot job (creating the bucket) has nothing to check
            continue
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    assert "--appendonly" in services["redis"]["command"]


def _app_services(compose):  # type: ignore[no-untyped-def]
    return {name: s for name, s in compose["services"].items() if name in {"web", "worker", "beat"}}


def test_it_wires_every_app_service_to_minio_as_s3():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["minio"]["image"].startswith("minio/minio")
    bucket_job = services["minio-bucket"]
    assert "mc mb --ignore-existing" in " ".join(bucket_job["command"])
    for name, service in _app_services(compose).items():
        env = service["environment"]
        assert env["FILE_STORAGE"] == "s3", name
        assert env["S3_ENDPOINT_URL"].endswith("http://minio:9000}"), name
        assert env["S3_BUCKET"] == "${S3_BUCKET:-assistants}" == bucket_job["environment"]["BUCKET"], name
        assert env["AWS_ACCESS_KEY_ID"] == services["minio"]["environment"]["MINIO_ROOT_USER"], name
        assert env["AWS_SECRET_ACCESS_KEY"] == services["minio"]["environment"]["MINIO_ROOT_PASSWORD"], name
        assert {"AWS_DEFAULT_REGION", "S3_PREFIX"} <= set(env), name
        assert service["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully", name
        # File bytes are no longer shared through a volume.
        assert not any(str(v).endswith(":/data/media") for v in service.get("volumes", [])), name


def test_it_stays_valid_and_scalable_without_docker():
    """What `docker compose config` would reject, and what would stop `--scale worker=N`."""
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            assert source.startswith(("/", ".")) or source in declared, f"{name}: undeclared volume {source}"
        depends = service.get("depends_on", [])
        for target in depends if isinstance(depends, list) else depends.keys():
            assert target in services, f"{name} depends on unknown service {target}"
    # Every ${...} is a variable with an optional :-/-/:? part (docker compose's interpolation).
    for expression in re.findall(r"(?<!\$)\$\{([^}]*)\}", text):
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(?:(?::?-|:?\?)[^}]*)?", expression), expression
    # Scaled services must not pin a container name or a host port.
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
