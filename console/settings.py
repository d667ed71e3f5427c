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
# Former SECRET_KEYs, comma-separated: sessions and the console's stored upstream keys made under
# them stay readable after a rotation.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", "")
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
    "console.engine",
    "console.vector_stores",
    "console.retrieval",
    "console.passthrough",
    "console.conversations",
    "console.responses",
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
    "console.web.login_throttle.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.web.csp.ContentSecurityPolicyMiddleware",
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
                "console.web.views.common.project_switcher",
            ],
            # The console's status words, plain errors and name-then-id helper, on every template.
            "builtins": ["console.web.templatetags.console_words"],
        },
    }
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")))
}
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
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A restart or failover of the database (docs/reliability.md): the pool checks every connection
    # as it is borrowed (CONN_HEALTH_CHECKS), so broken ones are dropped, not handed out; reconnection
    # gives up after 4 s and starts afresh at the next request (psycopg_pool's own backoff would
    # wait up to 16 s more);
    # a borrower waits DB_POOL_TIMEOUT at most (web processes: 1 s, so a request answers 503 fast;
    # workers: 10 s, then their writes retry, console/engine/loop.py).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ.get("DB_POOL_MAX", "20")),
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
        "reconnect_timeout": 4.0,
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

# File bytes (console/files/storage.py): local files under MEDIA_ROOT, or S3-compatible object storage.
FILE_STORAGE = os.environ.get("FILE_STORAGE", "local").strip().lower() or "local"
if FILE_STORAGE not in {"local", "s3"}:
    raise ValueError(f"FILE_STORAGE must be 'local' or 's3', not {FILE_STORAGE!r}")
STORAGES: dict[str, dict] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if FILE_STORAGE == "s3":
    from boto3.s3.transfer import TransferConfig

    if not os.environ.get("S3_BUCKET"):
        raise ValueError("FILE_STORAGE=s3 needs S3_BUCKET")
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["S3_BUCKET"],
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
            "location": os.environ.get("S3_PREFIX", "").strip("/"),
            "region_name": os.environ.get("AWS_DEFAULT_REGION") or None,
            # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY come from the environment (boto3's own chain).
            "file_overwrite": True,
            "querystring_auth": False,
            # Parts of 8 MB, at most 4 in flight: a large upload stays a few tens of MB in memory.
            "transfer_config": TransferConfig(
                multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=4
            ),
            # S3File reads spill to disk past this, instead of holding a whole object in memory.
            "max_memory_size": 2 << 20,
        },
    }
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
# Redis may go away for a while (restart, failover): workers retry for ever, every 2 s at most, and
# survive a lost connection with tasks in flight (console/core/broker.py; docs/reliability.md).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_TRANSPORT = "console.core.broker:Transport"
CELERY_WORKER_CONSUMER = "console.core.broker:Consumer"
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
# Runs in flight keep going through a broker outage; their events and rows do not need the broker.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A Redis at maxmemory refuses the worker's own bookkeeping writes (acks): an error reply is then
# recovered from like a lost connection (the consumer reconnects), instead of stopping the worker.
CELERY_BROKER_CHANNEL_ERROR_RETRY = True
# Task modules outside the installed apps (autodiscovery finds the apps' own tasks.py).
CELERY_IMPORTS = ["console.engine.code_tasks"]

# An SSE reader whose client stops reading is disconnected once this many bytes of events wait for it
# (console/events/hub.py); the web server also cuts a response that makes no progress for
# WEB_SEND_TIMEOUT s (console/webserver.py).
SSE_READER_BUFFER_BYTES = int(os.environ.get("SSE_READER_BUFFER_BYTES", str(1 << 20)))

# Brute-force brakes, counted in Redis per client address and shared by every web process (README).
# /v1: past AUTH_FAILURE_LIMIT wrong API keys within AUTH_FAILURE_WINDOW s, 429 until the window ends.
AUTH_FAILURE_LIMIT = int(os.environ.get("AUTH_FAILURE_LIMIT", "20"))
AUTH_FAILURE_WINDOW = int(os.environ.get("AUTH_FAILURE_WINDOW", "60"))
# Console sign-in: past LOGIN_FAILURE_LIMIT wrong passwords within LOGIN_FAILURE_WINDOW s, locked out
# until the window ends. 0 turns either brake off.
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", "300"))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Console (docs/console.md): where the console reaches this server's own /v1, and its timeouts.
CONSOLE_SELF_URL = (
    os.environ.get("CONSOLE_SELF_URL", "").strip() or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/v1"
).rstrip("/")
CONSOLE_UPSTREAM_TIMEOUT = float(os.environ.get("CONSOLE_UPSTREAM_TIMEOUT", "15"))
CONSOLE_UPSTREAM_CONNECT_TIMEOUT = float(os.environ.get("CONSOLE_UPSTREAM_CONNECT_TIMEOUT", "3"))
CONSOLE_STREAM_IDLE_TIMEOUT = float(os.environ.get("CONSOLE_STREAM_IDLE_TIMEOUT", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line names the /v1 request it belongs to ("-" outside one): docs/api.md, "Request ids".
    "filters": {"request_id": {"()": "console.api.request_id.RequestIdFilter"}},
    "formatters": {
        "default": {"format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": "default"}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

CELERY_BEAT_SCHEDULE = {
    "purge-expired-files": {"task": "console.files.tasks.purge_expired_files", "schedule": 600.0},
}
# Thread retention per project (the console's Cleanup page); every deletion is in the audit log.
CELERY_BEAT_SCHEDULE["apply-thread-retention"] = {
    "task": "console.web.tasks.apply_retention",
    "schedule": float(os.environ.get("RETENTION_INTERVAL_SECONDS", "3600")),
}
# Runs (docs/reliability.md): the reaper fails runs of dead workers and re-enqueues lost queued runs.
# It runs in beat's own thread (console/runs/sweeper.py), not as a task a hung worker could block.
RUN_REAPER_INTERVAL = float(os.environ.get("RUN_REAPER_INTERVAL", "5"))
# Expired vector stores, and ingestions whose task vanished (unclaimed for INGEST_REQUEUE_AFTER
# seconds), are swept every INGEST_SWEEP_INTERVAL seconds, in beat's own thread too.
INGEST_SWEEP_INTERVAL = float(os.environ.get("INGEST_SWEEP_INTERVAL", "60"))
# Background and streamed responses are reaped and re-enqueued by the runs' rules, every
# RUN_REAPER_INTERVAL, by another of beat's threads (docs/api.md "Responses").
INGEST_REQUEUE_AFTER = float(os.environ.get("INGEST_REQUEUE_AFTER", "60"))
# A worker ingesting a file refreshes its claim every INGEST_HEARTBEAT_SECONDS; a claim not refreshed
# for INGEST_CLAIM_TIMEOUT seconds belongs to a dead worker, and the file is ingested again.
INGEST_HEARTBEAT_SECONDS = float(os.environ.get("INGEST_HEARTBEAT_SECONDS", "10"))
INGEST_CLAIM_TIMEOUT = float(os.environ.get("INGEST_CLAIM_TIMEOUT", "60"))

# Runs: a worker heartbeats every RUN_HEARTBEAT_SECONDS; the reaper (every RUN_REAPER_INTERVAL) fails
# a run whose heartbeat is older than RUN_HEARTBEAT_TIMEOUT. So a dead worker's run ends within
# timeout + interval (25 + 5 s). A queued run not enqueued for RUN_REQUEUE_AFTER s is enqueued again.
RUN_HEARTBEAT_SECONDS = float(os.environ.get("RUN_HEARTBEAT_SECONDS", "5"))
RUN_HEARTBEAT_TIMEOUT = float(os.environ.get("RUN_HEARTBEAT_TIMEOUT", "25"))
RUN_REQUEUE_AFTER = float(os.environ.get("RUN_REQUEUE_AFTER", "30"))
# The text a run streams is written to its message at most this often while it streams.
RUN_PARTIAL_SAVE_SECONDS = float(os.environ.get("RUN_PARTIAL_SAVE_SECONDS", "1"))
# How long a worker's database writes for a run (steps, messages, its end) retry while the database
# cannot be reached (a restart, a failover), before the run fails naming the database.
DB_OUTAGE_SECONDS = float(os.environ.get("DB_OUTAGE_SECONDS", "60"))
# A run's first text delta is streamed at once; later ones at most one per RUN_STREAM_COALESCE_MS
# (the tokens that arrived meanwhile go out together). 0 streams every provider read as it comes.
RUN_STREAM_COALESCE_MS = float(os.environ.get("RUN_STREAM_COALESCE_MS", "50"))
# How long a worker keeps retrying run events while Redis is away before it drops them and fails
# the runs concerned (docs/reliability.md).
EVENTS_PUBLISH_TIMEOUT = float(os.environ.get("EVENTS_PUBLISH_TIMEOUT", "30"))

# Model providers: 429, 5xx and connect errors are retried up to 4 times, waiting
# PROVIDER_RETRY_BACKOFF * 2^attempt seconds (capped at 8 s, or the provider's retry-after).
PROVIDER_RETRY_BACKOFF = float(os.environ.get("PROVIDER_RETRY_BACKOFF", "0.5"))
# A provider that sends nothing for this long fails the call (not retried): no response headers,
# no first chunk, or no data chunk mid-stream (keep-alive comments do not count). Embeddings too.
PROVIDER_READ_TIMEOUT = float(os.environ.get("PROVIDER_READ_TIMEOUT", "120"))

# Retrieval's knobs (docs/retrieval.md "Settings").
# Larger files fail with invalid_file (OpenAI capped a file at 5,000,000 tokens).
RETRIEVAL_MAX_FILE_TOKENS = int(os.environ.get("RETRIEVAL_MAX_FILE_TOKENS") or 5_000_000)
# PostgreSQL: matching rows ranked per full-text phase.
RETRIEVAL_TEXT_CANDIDATES = int(os.environ.get("RETRIEVAL_TEXT_CANDIDATES") or 5_000)
# Stores up to this many vectors are searched exactly; beyond it, by an index: HNSW on PostgreSQL, a
# binary-quantized scan with exact rescoring on SQLite.
RETRIEVAL_EXACT_VECTOR_LIMIT = int(os.environ.get("RETRIEVAL_EXACT_VECTOR_LIMIT") or 10_000)
# SQLite: bit-vector candidates rescored with the float vectors, per store and query vector.
RETRIEVAL_RESCORE_CANDIDATES = int(os.environ.get("RETRIEVAL_RESCORE_CANDIDATES") or 150)

# Model providers (docs/models.md, README "Configuration"), parsed once here.
from console.providers.quirks import parse as parse_quirks  # noqa: E402
from console.providers.routing import ProviderRoute, parse_routes  # noqa: E402

LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "").strip()
LLM_API_KEY = os.environ.get("LLM_API_KEY", "").strip()
LLM_PROVIDERS: tuple[ProviderRoute, ...] = parse_routes(os.environ.get("LLM_PROVIDERS", ""))
# The LLM_BASE_URL provider's departures from OpenAI (console/providers/quirks.py), e.g. llama-cpp-python.
LLM_QUIRKS: frozenset[str] = parse_quirks(os.environ.get("LLM_QUIRKS"))
# Set by the launcher when it starts the built-in demo model: the console labels the names it serves.
DEMO_MODEL_BASE_URL = os.environ.get("DEMO_MODEL_BASE_URL", "").strip()
# How long a console invite link (Members: add a person) stays usable.
CONSOLE_INVITE_HOURS = int(os.environ.get("CONSOLE_INVITE_HOURS", "72"))
# Connections to providers, per worker or server process: at most this many at once.
PROVIDER_MAX_CONNECTIONS = int(os.environ.get("PROVIDER_MAX_CONNECTIONS", "2000"))
# GET /v1/models: how long each provider may take to list its models, and how long a list is kept.
MODELS_TIMEOUT = float(os.environ.get("MODELS_TIMEOUT", "3"))
MODELS_CACHE_SECONDS = float(os.environ.get("MODELS_CACHE_SECONDS", "60"))
# /v1 paths this server does not implement go to the model's provider (docs/api.md); 0: 404 instead.
PASSTHROUGH = env_bool("PASSTHROUGH", True)

# Embeddings for vector stores (docs/retrieval.md).
EMBEDDINGS_BASE_URL = os.environ.get("EMBEDDINGS_BASE_URL", "").strip()
EMBEDDINGS_MODEL = os.environ.get("EMBEDDINGS_MODEL", "").strip()
EMBEDDINGS_API_KEY = os.environ.get("EMBEDDINGS_API_KEY", "").strip()
EMBEDDINGS_DIMENSIONS: int | None = int(os.environ.get("EMBEDDINGS_DIMENSIONS", "0").strip() or 0) or None
EMBEDDINGS_LOCAL = os.environ.get("EMBEDDINGS_LOCAL", "").strip().lower() in {
    "1",
    "true",
    "yes",
    "on",
    "local",
}

# code_interpreter: wall-clock limit of one call (the sandbox's own limits: docs/sandbox.md).
CODE_INTERPRETER_TIMEOUT = float(os.environ.get("CODE_INTERPRETER_TIMEOUT", "60"))


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


# The code_interpreter sandbox (docs/sandbox.md), read by console/sandbox/service.py.
SANDBOX_ROOT = Path(os.environ.get("SANDBOX_ROOT") or VAR_DIR / "sandbox")
SANDBOX_PYTHON = Path(
    os.environ.get("SANDBOX_PYTHON", "").strip() or VAR_DIR / "sandbox-runtime" / "bin" / "python"
)
SANDBOX_IDLE_TIMEOUT = env_float("SANDBOX_IDLE_TIMEOUT", 3600)
SANDBOX_MAX_SESSIONS = env_int("SANDBOX_MAX_SESSIONS", 32)
SANDBOX_UID_BASE = env_int("SANDBOX_UID_BASE", 61000)
SANDBOX_BWRAP = os.environ.get("SANDBOX_BWRAP") or "bwrap"
SANDBOX_OUTBOX_TTL = env_float("SANDBOX_OUTBOX_TTL", 3600)
SANDBOX_THREADS = env_int("SANDBOX_THREADS", 2)
_MB = 1 << 20
# The fields of console.sandbox.common.SandboxLimits.
SANDBOX_LIMITS = {
    "memory_bytes": env_int("SANDBOX_MEMORY_MB", 1024) * _MB,
    "cpu_seconds": env_int("SANDBOX_CPU_SECONDS", 900),
    "max_procs": env_int("SANDBOX_MAX_PROCS", 64),
    "max_file_bytes": env_int("SANDBOX_MAX_FILE_MB", 100) * _MB,
    "max_open_files": env_int("SANDBOX_MAX_OPEN_FILES", 1024),
    "max_output_bytes": env_int("SANDBOX_MAX_OUTPUT_BYTES", 1 << 20),
    "tmp_bytes": env_int("SANDBOX_TMP_MB", 256) * _MB,
    "max_data_bytes": env_int("SANDBOX_MAX_DATA_MB", 1024) * _MB,
    "max_output_files": env_int("SANDBOX_MAX_OUTPUT_FILES", 64),
}
