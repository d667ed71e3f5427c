"""Run status transitions, each one a compare-and-swap on the row, each announced on the run's stream."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from console.events import stream
from console.payloads.objects import message_object, run_object, step_object, thread_object
from console.runs.models import Run, RunStep
from console.threads.models import Message, Thread

log = logging.getLogger(__name__)

# OpenAI expired runs left queued or waiting for tool outputs after ten minutes.
RUN_EXPIRY = timedelta(minutes=10)
WORKING = ("in_progress", "cancelling")
# Defined in console.engine.tasks, which imports this module; so sent by name.
EXECUTE_RUN_TASK = "console.engine.tasks.execute_run"


def announce_created(run: Run, thread: Thread | None = None) -> None:
    events: list[tuple[str, Any]] = []
    if thread is not None:
        events.append(("thread.created", thread_object(thread)))
    data = run_object(run)
    events.append(("thread.run.created", data))
    events.append(("thread.run.queued", data))
    stream.publish_many(run.id, events)
    # In Redis before the task is sent, so the worker's events can only come after these.
    stream.flush()


def enqueue(run: Run) -> None:
    """Sends the run to a worker once the transaction commits."""
    transaction.on_commit(functools.partial(current_app.send_task, EXECUTE_RUN_TASK, args=(run.id,)))


def claim(run_id: str) -> Run | None:
    """queued -> in_progress, for exactly one worker."""
    now = timezone.now()
    claimed = Run.objects.filter(pk=run_id, status="queued").update(
        status="in_progress",
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    if not claimed:
        return None
    run = Run.objects.get(pk=run_id)
    stream.publish(run.id, "thread.run.in_progress", run_object(run))
    return run


def heartbeat_many(run_ids: list[str]) -> dict[str, str]:
    """Marks the worker holding these runs alive; returns their statuses (a gone run is left out)."""
    Run.objects.filter(pk__in=run_ids, status__in=WORKING).update(heartbeat_at=timezone.now())
    return dict(Run.objects.filter(pk__in=run_ids).values_list("id", "status"))


def _close_open_parts(run: Run, step_status: str, message_reason: str | None) -> list[tuple[str, Any]]:
    """Ends the steps and messages a stopped run left in progress; returns their events."""
    now = timezone.now()
    events: list[tuple[str, Any]] = []
    stamp = {"cancelled": "cancelled_at", "failed": "failed_at", "expired": "expired_at"}[step_status]
    for step in RunStep.objects.filter(run=run, status="in_progress"):
        step.status = step_status
        setattr(step, stamp, now)
        if step_status == "failed":
            step.last_error = run.last_error
        step.save()
        events.append((f"thread.run.step.{step_status}", step_object(step)))
    if message_reason:
        for message in Message.objects.filter(run_id=run.id, status="in_progress"):
            message.status = "incomplete"
            message.incomplete_at = now
            message.incomplete_details = {"reason": message_reason}
            message.save()
            events.append(("thread.message.incomplete", message_object(message)))
    return events


def finish(run: Run, status: str, *, from_statuses: tuple[str, ...] = WORKING, **fields: Any) -> bool:
    """Moves a run to a terminal status if it is still in one of from_statuses; announces it and ends the stream."""
    now = timezone.now()
    stamp = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at", "incomplete": None, "expired": None}[
        status
    ]
    values: dict[str, Any] = {"status": status, "required_action": None, **fields}
    if stamp:
        values[stamp] = now
    with transaction.atomic():
        if not Run.objects.filter(pk=run.pk, status__in=from_statuses).update(**values):
            return False
        run.refresh_from_db()
        step_status = {"failed": "failed", "cancelled": "cancelled", "expired": "expired"}.get(status)
        reason = {"failed": "run_failed", "cancelled": "run_cancelled", "expired": "run_expired"}.get(status)
        events = _close_open_parts(run, step_status, reason) if step_status else []
    data = run_object(run)
    # A failed run carries its last_error; no `error` event follows, as with OpenAI (that event
    # means the stream itself broke, and the Node SDK's stream helper throws on it).
    events.append((f"thread.run.{status}", data))
    stream.publish_many(run.id, events)
    stream.end_segment(run.id, final=True)
    return True


def fail(run: Run, code: str, message: str, *, from_statuses: tuple[str, ...] = WORKING) -> bool:
    log.info("run %s failed: %s", run.pk, message)
    return finish(run, "failed", from_statuses=from_statuses, last_error={"code": code, "message": message})


def cancel_or_fail(run: Run, code: str, message: str) -> None:
    """A run that was being cancelled ends cancelled; otherwise it fails."""
    if not finish(run, "cancelled", from_statuses=("cancelling",)):
        fail(run, code, message)
