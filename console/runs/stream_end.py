"""How a run's stream ends when its `done` never reached Redis: from the database, the source of truth."""

from __future__ import annotations

from typing import Any

from console.runs import lifecycle
from console.runs.models import TERMINAL_STATUSES, Run


def ending(run_id: str, *, until_final: bool) -> list[tuple[str, Any]] | None:
    """The events a stream reader should end with if the run is over (or, for a reader of one
    segment, waits for tool outputs); None while it still runs."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return None
    if run.status in TERMINAL_STATUSES or (not until_final and run.status == "requires_action"):
        return lifecycle.ending_events(run, stream_broke=True)
    return None
