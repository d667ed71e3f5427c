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

from console.web.access import project_for_user, projects_for
from console.web.models import BatchWatch
from console.web.upstream import Client, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

COUNT_CAP = 1000
RECENT_THREADS = 10


@require_GET
def healthz(request: HtmxHttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    projects = projects_for(request.user)
    if len(projects) == 1 and not request.GET.get("all"):
        return redirect("overview", project_id=projects[0][0].pk)
    return render(request, "web/home.html", {"projects": projects})


def _count(client: Client, path: str) -> str:
    n = len(client.list_all(path, cap=COUNT_CAP))
    return f"{COUNT_CAP}+" if n >= COUNT_CAP else str(n)


def _usage_chart(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Total tokens per day for the runs seen, as bars scaled to the busiest day."""
    per_day: Counter[str] = Counter()
    for run in runs:
        usage = run.get("usage") or {}
        day = datetime.fromtimestamp(run["created_at"], UTC).strftime("%Y-%m-%d")
        per_day[day] += int(usage.get("total_tokens") or 0)
    top = max(per_day.values(), default=0) or 1
    return [{"day": d, "tokens": t, "pct": round(100 * t / top)} for d, t in sorted(per_day.items())[-14:]]


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
    runs.sort(key=lambda r: r["created_at"], reverse=True)
    by_status = Counter(run["status"] for run in runs)
    active_runs = [r for r in runs if r["status"] in ("queued", "in_progress", "requires_action", "cancelling")]
    jobs = BatchWatch.objects.filter(project=access.project).exclude(status__in=["completed", "cancelled", "failed"])
    context = {
        "access": access,
        "counts": counts,
        "by_status": sorted(by_status.items()),
        "recent_runs": runs[:10],
        "active_runs": active_runs,
        "jobs": list(jobs[:20]),
        "chart": _usage_chart(runs),
    }
    return render_page(request, "web/overview.html", context)
