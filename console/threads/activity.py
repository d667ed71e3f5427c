"""Thread.last_activity_at follows every message and run added to the thread.

Connected in ThreadsConfig.ready(), so the API, the engine and anything else that saves a new
Message or Run moves it, with one conditional UPDATE (never backwards, so replays are harmless).
Rows made with bulk_create bypass signals: create_thread sets the value itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models.signals import post_save

from console.runs.models import Run
from console.threads.models import Message, Thread


def touch(thread_id: str, at: datetime) -> None:
    Thread.objects.filter(pk=thread_id, last_activity_at__lt=at).update(last_activity_at=at)


def _on_save(sender: Any, instance: Message | Run, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        touch(instance.thread_id, instance.created_at)


def connect() -> None:
    post_save.connect(_on_save, sender=Message, dispatch_uid="thread-activity-message")
    post_save.connect(_on_save, sender=Run, dispatch_uid="thread-activity-run")
