"""Garbage collector settings for the long-running processes (web server, Celery worker).

A full (generation 2) collection walks every tracked object. After start-up that is about 100,000
objects (Django, the models, Celery, pydantic schemas), and a walk took 30-60 ms under load: a pause
of the whole process, which showed as the slowest streamed runs' first tokens. Freezing what exists
once start-up is done moves those objects out of the collector's sight for good (they live as long
as the process anyway), so later full collections only walk what was made since.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Call once a process has imported and built everything it needs to serve."""
    gc.collect()
    gc.freeze()
