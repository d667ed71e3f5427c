"""Work queued in the database whose task vanished (Redis lost it) is sent again: runs and responses.

Each row is stamped first (a conditional update: one sweeper wins), so the count never depends on
whether a worker claims it before the send; a send that fails is retried by the sweep after
RUN_REQUEUE_AFTER.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db.models import Q

log = logging.getLogger(__name__)


def requeue_lost(model: Any, task_name: str, now: datetime) -> int:
    """Sends `task_name` again for each `queued` row of `model` not heartbeated (nor created) for
    RUN_REQUEUE_AFTER seconds; returns how many were sent."""
    cutoff = now - timedelta(seconds=settings.RUN_REQUEUE_AFTER)
    lost = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    count = 0
    for pk in model.objects.filter(lost, status="queued").values_list("pk", flat=True):
        if not model.objects.filter(lost, pk=pk, status="queued").update(heartbeat_at=now):
            continue
        try:
            current_app.send_task(task_name, args=(pk,))
        except Exception:  # the broker is away
            log.warning("could not enqueue %s again; retrying at a later sweep", pk, exc_info=True)
            break
        log.info("%s was queued with no task; enqueued it again", pk)
        count += 1
    return count
