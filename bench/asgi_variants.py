"""ASGI entry points used by the API-core measurements in docs/benchmarks.md.

`pooled` was the variant that reused request threads; that change now lives in console/asgi.py
(ReusedRequestThreads), so it is simply the application `make run` serves. Kept so the documented
commands still run.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

from console.asgi import ReusedRequestThreads, application  # noqa: E402

pooled = application
__all__ = ["ReusedRequestThreads", "pooled"]
