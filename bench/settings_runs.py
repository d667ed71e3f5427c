"""Settings for bench/runs.py's "redis options" passes: the product's settings, except that Celery's broker
gets the plain REDIS_URL (BENCH_BROKER_URL) while console/events/stream.py gets REDIS_URL with redis-py
query options (socket_timeout, max_connections) that kombu would reject. Changes nothing else."""

import os

from console.settings import *  # noqa: F403

CELERY_BROKER_URL = os.environ.get("BENCH_BROKER_URL", CELERY_BROKER_URL)  # noqa: F405
