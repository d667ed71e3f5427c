"""console.settings with ApiErrorMiddleware swapped for the sync-and-async copy in bench/api_middleware.py."""

from console.settings import *  # noqa: F403
from console.settings import MIDDLEWARE as _CONSOLE_MIDDLEWARE

MIDDLEWARE = [
    "bench.api_middleware.DualApiErrorMiddleware" if m == "console.api.middleware.ApiErrorMiddleware" else m
    for m in _CONSOLE_MIDDLEWARE
]
