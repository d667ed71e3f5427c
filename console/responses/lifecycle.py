"""Response status transitions, each a compare-and-swap on the row, as a run's are (console/runs/lifecycle.py).

A response's stream carries Responses events with increasing `sequence_number`s; the API writes
the first ones (`response.created`, and `response.queued` for background responses), the worker
the rest. When nobody can write the end (a dead worker, Redis away), readers end the stream from
the row (console/api/response_sse.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from console.core.errors import Unavailable
from console.core.requeue import requeue_lost
from console.events import stream
from console.passthrough.models import ForwardedUsage
from console.responses.models import WORKING, Response

log = logging.getLogger(__name__)

EXECUTE_RESPONSE_TASK = "console.responses.tasks.execute_response"
# Too long for the model with truncation disabled: a synchronous request answers 400 with it.
CONTEXT_MESSAGE = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)
_SEND_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
TERMINAL_EVENTS = {
    "completed": "response.completed",
    "failed": "response.failed",
    "incomplete": "response.incomplete",
    "cancelled": "response.cancelled",
}


def first_sequence(background: bool) -> int:
    """The worker's first sequence_number: after the API's created (and queued) events."""
    return 2 if background else 1


def enqueue(response: Response) -> None:
    try:
        current_app.send_task(
            EXECUTE_RESPONSE_TASK, args=(response.id,), retry=True, retry_policy=_SEND_RETRY
        )
    except Exception as exc:
        log.warning("could not queue response %s: %s", response.pk, exc)
        raise Unavailable(stream.UNAVAILABLE_MESSAGE) from exc


def claim(response_id: str) -> Response | None:
    """queued -> in_progress, for exactly one worker."""
    now = timezone.now()
    claimed = Response.objects.filter(pk=response_id, status="queued").update(
        status="in_progress",
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    if not claimed:
        return None
    return Response.objects.get(pk=response_id)


def heartbeat_many(response_ids: list[str]) -> dict[str, str]:
    """Marks the worker holding these responses alive; returns their statuses (a gone one is left out)."""
    Response.objects.filter(pk__in=response_ids, status__in=WORKING).update(heartbeat_at=timezone.now())
    return dict(Response.objects.filter(pk__in=response_ids).values_list("id", "status"))


def finish(
    response: Response, status: str, *, from_statuses: tuple[str, ...] = WORKING, **fields: Any
) -> bool:
    values: dict[str, Any] = {"status": status, **fields}
    if status == "completed":
        values["completed_at"] = timezone.now()
    if not Response.objects.filter(pk=response.pk, status__in=from_statuses).update(**values):
        return False
    response.refresh_from_db()
    return True


def error_object(code: str, message: str) -> dict[str, str]:
    # The Response object's error codes are few; a provider's refusal reads best as invalid_prompt.
    return {"code": code, "message": message}


def record_usage(response: Response) -> None:
    """Tokens go in the project's usage beside runs' (GET /v1/usage and the console's costs)."""
    usage = response.usage or {}
    if not usage.get("total_tokens"):
        return
    ForwardedUsage.objects.create(
        project_id=response.project_id,
        path="/v1/responses",
        model=response.model,
        prompt_tokens=usage.get("input_tokens", 0),
        completion_tokens=usage.get("output_tokens", 0),
        total_tokens=usage.get("total_tokens", 0),
    )


def reap_responses() -> dict[str, int]:
    """As reap_runs: fails responses whose worker stopped heartbeating (cancelled if they were being
    cancelled), and enqueues again queued responses whose task vanished."""
    now = timezone.now()
    counts = {"dead": 0, "requeued": 0}
    stale = now - timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT)
    message = (
        "The worker executing this response stopped responding "
        f"(no heartbeat for {settings.RUN_HEARTBEAT_TIMEOUT:g} s)."
    )
    for response in Response.objects.filter(status__in=WORKING, heartbeat_at__lt=stale):
        if finish(response, "cancelled", from_statuses=("cancelling",)) or finish(
            response, "failed", error=error_object("server_error", message)
        ):
            counts["dead"] += 1
            if not response.store:
                response.delete()
    counts["requeued"] = requeue_lost(Response, EXECUTE_RESPONSE_TASK, now)
    return counts
