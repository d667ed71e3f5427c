"""bench/settings_lean.py plus Django's PostgreSQL connection pool (needs psycopg-pool, i.e. psycopg[pool]).

Connections then belong to a per-process pool instead of to threads: a request borrows one and returns it
when it finishes, so neither a new thread per request nor a burst of 64 clients opens new connections.
"""

import os

from bench.settings_lean import *  # noqa: F403
from bench.settings_lean import DATABASES

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The pool and persistent connections exclude each other.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 2, "max_size": int(os.environ.get("DB_POOL_MAX", "20")), "timeout": 30}
    }
