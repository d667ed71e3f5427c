"""Both long-running processes freeze their start-up objects, so full collections stay short."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator

import pytest
from celery.signals import worker_ready


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_the_web_application_freezes_what_it_built(unfrozen: None):
    import console.asgi

    importlib.reload(console.asgi)
    assert gc.get_freeze_count() > 50_000  # Django, the models, the URL conf, the schemas


def test_a_worker_freezes_once_ready(unfrozen: None):
    import console.celery  # noqa: F401  (connects the worker_ready handler)

    worker_ready.send(sender=None)
    frozen = gc.get_freeze_count()
    assert frozen > 50_000
    # A full collection now walks only what was made since: a fraction of the process.
    assert len(gc.get_objects()) < frozen / 2
