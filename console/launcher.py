"""`make run`: one command that starts the whole product on embedded defaults.

Migrates, makes sure Redis answers (a private redis-server, supervised too, when none is
configured), creates the first admin and API key on first start, then runs WEB_CONCURRENCY web
server processes on one listening socket, a Celery worker and Celery beat. console/supervisor.py
restarts whichever of them dies, with a bounded backoff, and leaves the others running; Ctrl-C or
SIGTERM stops them all. Each process is one ProcessSpec: another supervised process is one more spec.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from console.supervisor import ProcessSpec, Supervisor, log
from console.system_packages import apt_install

DEFAULT_REDIS = ("127.0.0.1", 6379)
REDIS_INSTALL_HINT = (
    "Redis is needed and none was found. Install it (Debian/Ubuntu: `sudo apt-get install redis-server`, "
    "macOS: `brew install redis`) or point REDIS_URL at one, then run this again."
)


def redis_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something on host:port answers PING like Redis."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def find_redis_server() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in ("/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def install_redis_server() -> str | None:
    """Installs Debian's redis-server when we may (root with apt-get); otherwise gives up."""
    return find_redis_server() if apt_install(["redis-server"]) else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_argv(binary: str, data_dir: Path, port: int) -> list[str]:
    """A redis-server for this product alone, on loopback. Its append-only file (fsync every second)
    in data_dir keeps the queued Celery tasks and run events through a restart of it."""
    return [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
        "--appendfsync", "everysec", "--dir", str(data_dir), "--logfile", str(data_dir / "redis.log"),
    ]  # fmt: skip


def start_private_redis(binary: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Starts a private redis-server on a free port (outside supervision); returns it and its URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(redis_argv(binary, data_dir, port), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not redis_answers("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"redis-server did not start; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def private_redis_spec(var_dir: Path) -> ProcessSpec | None:
    """Sets REDIS_URL. Returns the spec of a private redis-server when none is configured or found."""
    if os.environ.get("REDIS_URL"):
        return None
    # PRIVATE_REDIS=1: a Redis of our own even when another one answers on the default port.
    if os.environ.get("PRIVATE_REDIS", "") not in ("1", "true") and redis_answers(*DEFAULT_REDIS):
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/0"
        return None
    binary = find_redis_server() or install_redis_server()
    if binary is None:
        log(REDIS_INSTALL_HINT)
        raise SystemExit(1)
    data_dir = var_dir / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    log(f"Starting a private Redis at {os.environ['REDIS_URL']} (data in {data_dir})")
    return ProcessSpec(
        name="redis",
        argv=redis_argv(binary, data_dir, port),
        ready=lambda: redis_answers("127.0.0.1", port),
        stop_last=True,
    )


def web_concurrency() -> int:
    value = os.environ.get("WEB_CONCURRENCY", "")
    if value:
        return max(1, int(value))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def listen(host: str, port: int) -> socket.socket:
    """The web servers' one listening socket: bound here, inherited by each web process."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


def http_answers(port: int, path: str = "/healthz") -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def process_specs(var_dir: Path, listener: socket.socket, port: int) -> list[ProcessSpec]:
    """The product's own processes, in start order (after the private Redis, if any)."""
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "console"]
    specs = [
        ProcessSpec(
            name="worker",
            # No mingle/gossip: a restarted worker takes work at once; run liveness is in the database.
            argv=[*celery, "worker", "--pool", "threads", "--concurrency", os.environ.get("WORKER_CONCURRENCY", "200"),
                  "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
            stop_timeout=10,
            # A hung worker (stopped, wedged) is restarted, not only a dead one (docs/reliability.md).
            liveness_file=var_dir / "run" / "worker.alive",
            liveness_timeout=float(os.environ.get("WORKER_LIVENESS_TIMEOUT", "20")),
        ),
        # Beat on its own: the sweeper and the reaper must not depend on the worker being alive.
        ProcessSpec(
            name="beat",
            argv=[*celery, "beat", "--loglevel", "WARNING", "--schedule", str(var_dir / "celerybeat-schedule")],
        ),
    ]  # fmt: skip
    fd = listener.fileno()
    for number in range(1, web_concurrency() + 1):
        specs.append(
            ProcessSpec(
                name=f"web-{number}",
                argv=[python, "-m", "console.webserver", "--fd", str(fd)],
                pass_fds=(fd,),
                ready=lambda: http_answers(port),
                ready_timeout=60,
            )
        )
    return specs


def bootstrap() -> list[str]:
    """Migrates; on first start creates the admin user and a default project key. Returns lines to print."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)

    from django.contrib.auth import get_user_model

    from console.projects.services import create_api_key, get_or_create_project

    user_model = get_user_model()
    if user_model.objects.filter(is_superuser=True).exists():
        return [
            "Admin login: use your existing admin (reset with `python manage.py changepassword admin`).",
            "API key: create one with `python manage.py create_api_key --project NAME`.",
        ]
    password = secrets.token_urlsafe(12)
    user_model.objects.create_superuser("admin", "", password)
    _, raw_key = create_api_key(get_or_create_project("Default"), name="created by make run")
    return [
        f"Admin login: admin / {password}   (shown once; change it in the console)",
        f"API key (project 'Default'): {raw_key}   (shown once; only a hash is stored)",
    ]


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    from django.conf import settings

    var_dir = Path(settings.VAR_DIR)
    specs: list[ProcessSpec] = []
    redis = private_redis_spec(var_dir)
    if redis is not None:
        specs.append(redis)
    # The built-in demo model (console/demo_model.py) first: it loads its weights while we migrate,
    # and the processes after it get the provider settings that route to it.
    from console import demo_model, system_packages

    demo, model_line = demo_model.process_spec(var_dir)
    if demo is not None:
        specs.append(demo)
    sandbox_line = system_packages.ensure_bubblewrap()
    supervisor = Supervisor([])
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    try:
        try:
            listener = listen(host, port)
        except OSError as exc:
            log(f"Cannot listen on {host}:{port} ({exc.strerror}); set PORT (or HOST) to another one.")
            return 1
        credentials = bootstrap()
        from django.db import connections

        connections.close_all()
        for spec in specs + process_specs(var_dir, listener, port):
            supervisor.add(spec)
        supervisor.start_all()
        if supervisor.stopping:
            return 0
        shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
        log("")
        log(f"Assistants server running at http://{shown_host}:{port}/")
        log(f"OpenAI SDK base_url:         http://{shown_host}:{port}/v1")
        for line in credentials:
            log(line)
        for notice in (model_line, sandbox_line):
            if notice:
                log(notice)
        log("Press Ctrl-C to stop.")
        log("")
        supervisor.run_until_stopped()
        log("Stopping ...")
        return 0
    finally:
        supervisor.stop_all()


if __name__ == "__main__":
    sys.exit(main())
