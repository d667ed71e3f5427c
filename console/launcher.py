"""`make run`: one command that starts the whole product on embedded defaults.

Migrates, makes sure Redis answers (starting a private redis-server when none is configured),
creates the first admin and API key on first start, then runs the ASGI web server and one Celery
worker, and supervises them: Ctrl-C, or either one dying, stops everything.
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

DEFAULT_REDIS = ("127.0.0.1", 6379)
REDIS_INSTALL_HINT = (
    "Redis is needed and none was found. Install it (Debian/Ubuntu: `sudo apt-get install redis-server`, "
    "macOS: `brew install redis`) or point REDIS_URL at one, then run this again."
)


def log(message: str) -> None:
    print(message, flush=True)


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
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return None
    log("Installing redis-server with apt-get ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=False, env=env)
    return find_redis_server()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_private_redis(binary: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server for this product alone, on a free loopback port, keeping nothing on disk."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(data_dir), "--logfile", str(data_dir / "redis.log")],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not redis_answers("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"redis-server did not start; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def ensure_redis(var_dir: Path) -> subprocess.Popen[bytes] | None:
    """Sets REDIS_URL. Returns the private redis-server process when one had to be started."""
    if os.environ.get("REDIS_URL"):
        return None
    if redis_answers(*DEFAULT_REDIS):
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/0"
        return None
    binary = find_redis_server() or install_redis_server()
    if binary is None:
        log(REDIS_INSTALL_HINT)
        raise SystemExit(1)
    process, url = start_private_redis(binary, var_dir / "redis")
    os.environ["REDIS_URL"] = url
    log(f"Started a private Redis at {url}")
    return process


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


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    from django.conf import settings

    var_dir = Path(settings.VAR_DIR)
    redis_process = ensure_redis(var_dir)
    children: list[subprocess.Popen[bytes]] = []

    # -- the built-in demo model and the sandbox's bubblewrap (console/demo_model.py) -------------
    # Started first (it loads its weights while we migrate); sets LLM_BASE_URL for the children.
    from console import demo_model, system_packages

    demo, model_line = demo_model.launch(var_dir)
    if demo is not None:
        children.append(demo.process)
    sandbox_line = system_packages.ensure_bubblewrap()
    # ---------------------------------------------------------------------------------------------

    def stop_all(*_: object) -> None:
        for child in children + ([redis_process] if redis_process else []):
            if child.poll() is None:
                child.terminate()
        for child in children + ([redis_process] if redis_process else []):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()

    try:
        credentials = bootstrap()
        python = sys.executable
        children.append(
            subprocess.Popen(
                [python, "-m", "uvicorn", "console.asgi:application", "--host", host, "--port", port,
                 "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5"]
            )
        )
        children.append(
            subprocess.Popen(
                [python, "-m", "celery", "-A", "console", "worker", "--beat", "--pool", "threads",
                 "--concurrency", os.environ.get("WORKER_CONCURRENCY", "200"), "--loglevel", "WARNING",
                 "--schedule", str(var_dir / "celerybeat-schedule")]
            )
        )
        if demo is not None and not demo_model.wait_ready(demo):
            # The rest of the product goes on without it.
            children.remove(demo.process)
            demo.process.kill()
            model_line = f"Model: the built-in demo model did not start; see {var_dir / 'demo-model' / 'server.log'}."
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
        signal.signal(signal.SIGTERM, _interrupt)
        while True:
            for child in children:
                code = child.poll()
                if code is not None:
                    log(f"{' '.join(map(str, child.args[1:3]))} exited with status {code}; stopping.")  # type: ignore[index]
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        log("Stopping ...")
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
