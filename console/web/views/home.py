"""Sign-in landing: the projects you belong to, and each project's overview."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from console.web import costs
from console.web.access import landing_project, project_for_user, projects_for
from console.web.models import BatchWatch, RunWatch
from console.web.upstream import Client, UpstreamError, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

COUNT_CAP = 1000
RECENT_THREADS = 10
USAGE_DAYS = 30


@require_GET
def healthz(request: HtmxHttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    if not request.GET.get("all") and (project := landing_project(request.user)) is not None:
        return redirect("overview", project_id=project.pk)
    return render(request, "web/home.html", {"projects": projects_for(request.user)})


def _count(client: Client, path: str) -> str:
    n = len(client.list_all(path, cap=COUNT_CAP))
    return f"{COUNT_CAP}+" if n >= COUNT_CAP else str(n)


def _usage_from_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tokens per day of the runs seen: the fallback for an upstream without GET /v1/usage."""
    per_day: dict[str, Counter[str]] = {}
    for run in runs:
        usage = run.get("usage") or {}
        day = per_day.setdefault(
            datetime.fromtimestamp(run["created_at"], UTC).strftime("%Y-%m-%d"), Counter()
        )
        for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
            day[name] += int(usage.get(name) or 0)
    return [
        {"date": d, "start_time": int(datetime.strptime(d, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()), **c}
        for d, c in sorted(per_day.items())[-USAGE_DAYS:]
    ]


def _usage_chart(client: Client, runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Per-day token usage for the chart, and whether it covers every run (not only recent ones)."""
    try:
        days = client.get("usage", {"days": USAGE_DAYS, "group_by": "model"})["data"]
    except UpstreamError as exc:
        if exc.status not in (404, 400):
            raise
        return _usage_from_runs(runs), False
    keys = ("date", "start_time", "prompt_tokens", "completion_tokens", "total_tokens", "models")
    return [{k: day.get(k, 0) for k in keys} for day in days], True


@login_required
@require_GET
@handles_upstream
def overview(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id)
    with client_for(access.project) as client:
        counts = {
            "assistants": _count(client, "assistants"),
            "threads": _count(client, "threads"),
            "files": _count(client, "files"),
        }
        # The API has no project-wide run list: look at the runs of the most recent threads.
        threads = client.get("threads", {"limit": RECENT_THREADS})["data"]
        runs: list[dict[str, Any]] = []
        for thread in threads:
            runs.extend(client.get(f"threads/{thread['id']}/runs", {"limit": 10})["data"])
        chart, complete = _usage_chart(client, runs)
    prices = costs.prices_for(access.project)
    for day in chart:
        # Cents as a float for the chart (uPlot); null where no model of the day has a price.
        value = costs.day_cost(prices, day) if day.get("models") else None
        day["cost"] = float(value) if value is not None else None
        day["cost_text"] = costs.money(value)
        day.pop("models", None)
    for run in runs:
        run["cost"] = costs.money(costs.run_cost(prices, run))
    runs.sort(key=lambda r: r["created_at"], reverse=True)
    by_status = Counter(run["status"] for run in runs)
    active_runs = [
        r for r in runs if r["status"] in ("queued", "in_progress", "requires_action", "cancelling")
    ]
    jobs = BatchWatch.objects.filter(project=access.project).exclude(
        status__in=["completed", "cancelled", "failed"]
    )
    watched = RunWatch.objects.filter(project=access.project).exclude(status__in=RunWatch.TERMINAL)
    run_jobs = list(watched.order_by("-created_at")[:20])
    context = {
        "access": access,
        "counts": counts,
        "by_status": sorted(by_status.items()),
        "recent_runs": runs[:10],
        "active_runs": [r for r in active_runs if r["id"] not in {w.run_id for w in run_jobs}],
        "jobs": list(jobs[:20]),
        "run_jobs": run_jobs,
        "chart": chart,
        "chart_complete": complete,
        "chart_has_data": any(day["total_tokens"] for day in chart),
        "chart_has_cost": any(day["cost"] is not None for day in chart),
    }
    return render_page(request, "web/overview.html", context)
