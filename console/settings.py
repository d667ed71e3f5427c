"""Settings, read from environment variables only (see README "Configuration")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    # Generated once and kept under ./var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "console.projects",
    "console.assistants",
    "console.threads",
    "console.files",
    "console.runs",
    "console.vector_stores",
    "console.retrieval",
    "console.web",
]

# The console's middleware; /v1 runs only console.api.middleware.ApiErrorMiddleware (console/asgi.py).
MIDDLEWARE = [
    "console.api.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"
WSGI_APPLICATION = "console.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The search index needs FTS5 and the sqlite-vec extension; Python's own sqlite3 may be built
    # without extension loading, so Django's backend uses the bundled SQLite of pysqlite3-binary.
    try:
        import sys

        import pysqlite3

        sys.modules["sqlite3"] = pysqlite3
    except ImportError:  # pragma: no cover - keeps the stdlib module (full-text only, no vectors)
        pass
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE avoids lock-upgrade deadlocks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    # Django's psycopg pool: a request or task borrows a connection and returns it when done, so
    # connections are bounded per process (DB_POOL_MAX) however many threads serve streams or runs.
    # Pooling and persistent connections exclude each other.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ.get("DB_POOL_MAX", "20")),
        "timeout": 30,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_ROOT.mkdir(parents=True, exist_ok=True)
# Uploads larger than this spill from memory to a temporary file next to MEDIA_ROOT,
# so a finished upload is moved into place instead of copied.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = str(MEDIA_ROOT / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024
# OpenAI's per-file limit; a larger upload gets 413.
FILE_MAX_BYTES = int(os.environ.get("FILE_MAX_BYTES", str(512 * 1024 * 1024)))

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Console (docs/console.md): where the console reaches this server's own /v1, and its timeouts.
CONSOLE_SELF_URL = os.environ.get("CONSOLE_SELF_URL", "")
CONSOLE_UPSTREAM_TIMEOUT = float(os.environ.get("CONSOLE_UPSTREAM_TIMEOUT", "15"))
CONSOLE_UPSTREAM_CONNECT_TIMEOUT = float(os.environ.get("CONSOLE_UPSTREAM_CONNECT_TIMEOUT", "3"))
CONSOLE_STREAM_IDLE_TIMEOUT = float(os.environ.get("CONSOLE_STREAM_IDLE_TIMEOUT", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

CELERY_BEAT_SCHEDULE = {
    "purge-expired-files": {"task": "console.files.tasks.purge_expired_files", "schedule": 600.0},
}
CELERY_BEAT_SCHEDULE["reap-runs"] = {"task": "console.runs.tasks.reap_runs", "schedule": 10.0}
CELERY_BEAT_SCHEDULE["expire-vector-stores"] = {
    "task": "console.vector_stores.tasks.expire_vector_stores",
    "schedule": 60.0,
}

# Runs: a worker heartbeats every RUN_HEARTBEAT_SECONDS; the reaper (every 10 s) fails a run whose
# heartbeat is older than RUN_HEARTBEAT_TIMEOUT. So a dead worker's run ends within timeout + 10 s.
RUN_HEARTBEAT_SECONDS = float(os.environ.get("RUN_HEARTBEAT_SECONDS", "5"))
RUN_HEARTBEAT_TIMEOUT = float(os.environ.get("RUN_HEARTBEAT_TIMEOUT", "30"))
# A run's first text delta is streamed at once; later ones at most one per RUN_STREAM_COALESCE_MS
# (the tokens that arrived meanwhile go out together). 0 streams every provider read as it comes.
RUN_STREAM_COALESCE_MS = float(os.environ.get("RUN_STREAM_COALESCE_MS", "50"))
# How long a worker keeps retrying run events while Redis is away before it drops them and fails
# the runs concerned (docs/reliability.md).
EVENTS_PUBLISH_TIMEOUT = float(os.environ.get("EVENTS_PUBLISH_TIMEOUT", "30"))

# Model providers: 429, 5xx and connect errors are retried up to 4 times, waiting
# PROVIDER_RETRY_BACKOFF * 2^attempt seconds (capped at 8 s, or the provider's retry-after).
PROVIDER_RETRY_BACKOFF = float(os.environ.get("PROVIDER_RETRY_BACKOFF", "0.5"))

# code_interpreter: wall-clock limit of one call (the sandbox's own limits: docs/sandbox.md).
CODE_INTERPRETER_TIMEOUT = float(os.environ.get("CODE_INTERPRETER_TIMEOUT", "60"))
