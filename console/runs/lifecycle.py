"""Run status transitions, each one a compare-and-swap on the row, each announced on the run's stream."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from console.core.errors import Unavailable
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


class NotOwned(Exception):
    """The run is no longer executing here: reaped, expired or otherwise ended meanwhile."""


@contextlib.contextmanager
def owned(run: Run) -> Iterator[None]:
    """A transaction in which the run is surely still executing: its row is locked (a reaper or a
    cancel waits for the commit) and its status checked. Raises NotOwned if it is not; then nothing
    written in the block is kept. Events to send once the writes are in go via transaction.on_commit."""
    with transaction.atomic():
        status = Run.objects.select_for_update().filter(pk=run.pk).values_list("status", flat=True).first()
        if status not in WORKING:
            raise NotOwned(run.pk)
        yield


def announce_created(run: Run, thread: Thread | None = None) -> None:
    """Writes a new run's first events; raises Unavailable (quickly) if Redis is away."""
    events: list[tuple[str, Any]] = []
    if thread is not None:
        events.append(("thread.created", thread_object(thread)))
    data = run_object(run)
    events.append(("thread.run.created", data))
    events.append(("thread.run.queued", data))
    # In Redis before the task is sent, so the worker's events can only come after these.
    stream.publish_now(run.id, events)


# Sending a task tries three times, 0.2 s apart: a pooled broker connection may predate a Redis
# restart, and a Redis that is down must still get a request its 503 within 2 s.
_SEND_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def enqueue(run: Run) -> None:
    """Sends the run's task now (call it after the run is committed); Unavailable if the queue is down."""
    try:
        current_app.send_task(EXECUTE_RUN_TASK, args=(run.id,), retry=True, retry_policy=_SEND_RETRY)
    except Exception as exc:
        log.warning("could not queue run %s: %s", run.pk, exc)
        raise Unavailable(stream.UNAVAILABLE_MESSAGE) from exc


def fail_unqueued(run: Run) -> None:
    """A committed run whose task could not be sent fails at once (queued -> failed), so its
    thread is not blocked; its stream ends if Redis takes the events."""
    message = "The run could not be queued: the queue (Redis) was unavailable."
    values = {
        "status": "failed",
        "failed_at": timezone.now(),
        "last_error": {"code": "server_error", "message": message},
    }
    if not Run.objects.filter(pk=run.pk, status="queued").update(**values):
        return
    run.refresh_from_db()
    # Redis away: the events are not needed, readers end the stream from the database.
    with contextlib.suppress(Unavailable):
        stream.publish_now(run.id, ending_events(run), end=True)


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
    stamp = {
        "completed": "completed_at",
        "failed": "failed_at",
        "cancelled": "cancelled_at",
        "incomplete": None,
        "expired": None,
    }[status]
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
    events += ending_events(run)
    stream.publish_many(run.id, events)
    stream.end_segment(run.id, final=True)
    return True


def ending_events(run: Run, *, stream_broke: bool = False) -> list[tuple[str, Any]]:
    """The event a run's stream segment ends with for its status.

    A failed run carries its last_error; no `error` event follows, as with OpenAI (that event means
    the stream itself broke, and the Node SDK's stream helper throws on it). Only a stream that did
    break (its events were lost, and it ends from the database) adds one after a failure."""
    events: list[tuple[str, Any]] = [(f"thread.run.{run.status}", run_object(run))]
    if stream_broke and run.status == "failed" and run.last_error:
        error = {
            "message": run.last_error["message"],
            "type": "server_error",
            "param": None,
            "code": run.last_error["code"],
        }
        events.append(("error", error))
    return events


def fail(run: Run, code: str, message: str, *, from_statuses: tuple[str, ...] = WORKING) -> bool:
    log.info("run %s failed: %s", run.pk, message)
    return finish(run, "failed", from_statuses=from_statuses, last_error={"code": code, "message": message})


def cancel_or_fail(run: Run, code: str, message: str) -> None:
    """A run that was being cancelled ends cancelled; otherwise it fails."""
    if not finish(run, "cancelled", from_statuses=("cancelling",)):
        fail(run, code, message)
