"""Token usage per UTC day of a project's runs and forwarded requests (docs/api.md "Pass-through").

Runs keep their usage as JSON, whose aggregation differs across SQLite and PostgreSQL, so the day
sums are made here from (created_at, usage) pairs: one pass over the runs in the window.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.utils import timezone

from console.passthrough.models import ForwardedUsage
from console.projects.models import Project
from console.runs.models import Run

FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def daily_usage(project: Project, days: int, today: date | None = None) -> list[dict[str, Any]]:
    """One row per day, oldest first, the last being today (UTC); days without runs count zero."""
    today = today or timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    rows = {first + timedelta(days=n): {"runs": 0, **dict.fromkeys(FIELDS, 0)} for n in range(days)}
    for created_at, usage in Run.objects.filter(project=project, created_at__gte=start).values_list(
        "created_at", "usage"
    ).iterator(chunk_size=2000):
        row = rows.get(created_at.astimezone(UTC).date())
        if row is None:  # a run created after "today" began elsewhere: clock skew
            continue
        row["runs"] += 1
        for name in FIELDS:
            row[name] += _as_int((usage or {}).get(name))
    forwarded = ForwardedUsage.objects.filter(project=project, created_at__gte=start).values_list("created_at", *FIELDS)
    for created_at, *counts in forwarded.iterator(chunk_size=2000):
        row = rows.get(created_at.astimezone(UTC).date())
        if row is not None:
            for name, count in zip(FIELDS, counts, strict=True):
                row[name] += count
    return [
        {
            "object": "usage.day",
            "date": day.isoformat(),
            "start_time": int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()),
            **row,
        }
        for day, row in rows.items()
    ]


