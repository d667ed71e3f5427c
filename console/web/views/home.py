"""Sign-in landing: the projects you belong to, and each project's overview."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from console.web import audit, costs
from console.web.access import landing_project, project_for_user, projects_for
from console.web.models import BatchWatch, ProjectSettings, Role, RunWatch
from console.web.names import title_of
from console.web.upstream import Client, UpstreamError, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

COUNT_CAP = 1000
GLANCE = 100
MONTH_RUNS_CAP = 10000
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
    rows = []
    descriptions = dict(ProjectSettings.objects.values_list("project_id", "description"))
    for project, role in projects_for(request.user):
        rows.append(
            {
                "project": project,
                "role": role,
                "description": descriptions.get(project.pk, ""),
                **_glance(project),
            }
        )
    return render(request, "web/home.html", {"rows": rows})


def _glance(project: Any) -> dict[str, Any]:
    """A project's size at a glance for the project list: one short page of each kind, "100+" beyond."""
    counts: dict[str, str] = {}
    try:
        with client_for(project) as client:
            for kind in ("assistants", "vector_stores", "threads"):
                page = client.get(kind, {"limit": GLANCE})
                counts[kind] = f"{GLANCE}+" if page["has_more"] else str(len(page["data"]))
    except UpstreamError as exc:
        return {"counts": {}, "unreachable": exc.plain}
    return {"counts": counts, "unreachable": ""}


@login_required
@require_POST
def project_description(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """An admin says in one line what the project is for (shown on the project list)."""
    access = project_for_user(request.user, project_id, Role.ADMIN)
    text = " ".join(request.POST.get("description", "").split())[:300]
    ProjectSettings.objects.update_or_create(
        project=access.project, defaults={"description": text, "updated_at": timezone.now()}
    )
    audit.record(
        request, access.project, "project.describe", "project", str(access.project.pk), description=text
    )
    if request.htmx:
        return render(
            request, "web/overview.html#description", {"access": access, "description": text, "saved": True}
        )
    return redirect("overview", project_id=access.project.pk)


def _capped(n: int) -> str:
    return f"{COUNT_CAP}+" if n >= COUNT_CAP else str(n)


def _count(client: Client, path: str) -> str:
    return _capped(len(client.list_all(path, cap=COUNT_CAP)))


def first_steps(
    assistants: list[dict[str, Any]], stores: list[dict[str, Any]], threads: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The path through an empty project: each step, whether it is done, and where to do it."""
    with_documents = [s for s in stores if (s.get("file_counts") or {}).get("total")]
    return [
        {
            "key": "assistant",
            "label": "Create an assistant",
            "done": bool(assistants),
            "url": "assistant_new",
            "help": "Give it a name, a model and instructions.",
        },
        {
            "key": "documents",
            "label": "Add documents",
            "done": bool(with_documents),
            "url": "vector_stores",
            "help": "Upload the files it should answer from, and pick them on the assistant's page.",
        },
        {
            "key": "playground",
            "label": "Try it in the playground",
            "done": bool(threads),
            "url": "playground",
            "help": "Ask it what your users would ask, and see its sources.",
        },
    ]


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


def _month_runs(client: Client) -> list[dict[str, Any]] | None:
    """This month's runs (GET /v1/runs, this server's extension); None from an upstream without it."""
    start = costs.month_start(datetime.now(UTC))
    try:
        return client.list_all("runs", {"created_after": start}, cap=MONTH_RUNS_CAP)
    except UpstreamError as exc:
        if exc.status not in (404, 400):
            raise
        return None


@login_required
@require_GET
@handles_upstream
def overview(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id)
    with client_for(access.project) as client:
        assistants = client.list_all("assistants", cap=COUNT_CAP)
        stores = client.list_all("vector_stores", cap=COUNT_CAP)
        counts = {
            "assistants": _capped(len(assistants)),
            "threads": _count(client, "threads"),
            "files": _count(client, "files"),
            "stores": _capped(len(stores)),
        }
        # The API has no project-wide run list: look at the runs of the most recent threads.
        threads = client.get("threads", {"limit": RECENT_THREADS, "include[]": "summary"})["data"]
        runs: list[dict[str, Any]] = []
        for thread in threads:
            runs.extend(client.get(f"threads/{thread['id']}/runs", {"limit": 10})["data"])
        chart, complete = _usage_chart(client, runs)
        month_runs = _month_runs(client)
    prices = costs.prices_for(access.project)
    for day in chart:
        # Cents as a float for the chart (uPlot); null where no model of the day has a price.
        value = costs.day_cost(prices, day) if day.get("models") else None
        day["cost"] = float(value) if value is not None else None
        day["cost_text"] = costs.money(value)
        day.pop("models", None)
    names = {a["id"]: a.get("name") or "" for a in assistants}
    titles = {t["id"]: ((t.get("summary") or {}).get("first_user_message") or "") for t in threads}
    for run in runs:
        run["cost"] = costs.money(costs.run_cost(prices, run))
        run["assistant_name"] = names.get(run.get("assistant_id") or "", "")
        run["thread_title"] = title_of(titles.get(run["thread_id"], ""))
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
    steps = first_steps(assistants, stores, threads)
    month = None
    if month_runs is not None:
        month = costs.by_assistant(prices, month_runs, {a["id"]: a.get("name") or "" for a in assistants})
    context = {
        "access": access,
        "counts": counts,
        "steps": steps,
        "month": month,
        "steps_left": sum(not step["done"] for step in steps),
        "description": ProjectSettings.objects.filter(project=access.project)
        .values_list("description", flat=True)
        .first()
        or "",
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
