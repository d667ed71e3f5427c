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


def daily_usage(
    project: Project, days: int, today: date | None = None, by_model: bool = False
) -> list[dict[str, Any]]:
    """One row per day, oldest first, the last being today (UTC); days without runs count zero.

    With by_model, each day also has `models`: the same counts per model (what cost is computed from).
    """
    today = today or timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    rows: dict[date, dict[str, Any]] = {
        first + timedelta(days=n): {
            "runs": 0,
            **dict.fromkeys(FIELDS, 0),
            **({"models": {}} if by_model else {}),
        }
        for n in range(days)
    }
    for created_at, usage, model in (
        Run.objects.filter(project=project, created_at__gte=start)
        .values_list("created_at", "usage", "model")
        .iterator(chunk_size=2000)
    ):
        row = rows.get(created_at.astimezone(UTC).date())
        if row is None:  # a run created after "today" began elsewhere: clock skew
            continue
        targets = [row]
        if by_model:
            targets.append(row["models"].setdefault(model, {"runs": 0, **dict.fromkeys(FIELDS, 0)}))
        for target in targets:
            target["runs"] += 1
            for name in FIELDS:
                target[name] += _as_int((usage or {}).get(name))
    forwarded = ForwardedUsage.objects.filter(project=project, created_at__gte=start).values_list(
        "created_at", "model", *FIELDS
    )
    for created_at, model, *counts in forwarded.iterator(chunk_size=2000):
        row = rows.get(created_at.astimezone(UTC).date())
        if row is None:
            continue
        targets = [row]
        if by_model:  # forwarded requests are not runs: they add tokens (and cost), not run counts
            targets.append(row["models"].setdefault(model, {"runs": 0, **dict.fromkeys(FIELDS, 0)}))
        for target in targets:
            for name, count in zip(FIELDS, counts, strict=True):
                target[name] += count
    return [
        {
            "object": "usage.day",
            "date": day.isoformat(),
            "start_time": int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()),
            **row,
        }
        for day, row in rows.items()
    ]
