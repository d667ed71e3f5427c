"""Activity: every live run and file batch of the project, whoever started it, and the recent failures.

Reads this server's project-wide lists (GET /v1/runs and GET /v1/file_batches, extensions); the
page polls its own partial, and nothing here needs the page to stay open.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from console.web import audit, watching
from console.web.access import ProjectAccess, project_for_user
from console.web.models import Role
from console.web.names import Names
from console.web.upstream import Client, UpstreamError, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

LIVE = ("queued", "in_progress", "requires_action", "cancelling")
SINCE = {"1h": 3600, "24h": 86400, "7d": 7 * 86400}
FAILED_WINDOW = 86400
# Runs that ended without an answer: listed together, newest first, for a day.
ENDED_BADLY = ("failed", "expired", "cancelled")
# Rows given a name (thread titles cost a call each): the rest show their ids.
NAMED_ROWS = 25
SHOWN = 100
# What a run carries over to "run again": the run object's settings, sent back as overrides.
RERUN_FIELDS = (
    "model",
    "instructions",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
)


def _filters(request: HtmxHttpRequest) -> dict[str, str]:
    form = {name: request.GET.get(name, "").strip() for name in ("status", "assistant", "since")}
    if form["status"] not in LIVE:
        form["status"] = ""
    if form["since"] not in SINCE:
        form["since"] = ""
    return form


def _list(client: Client, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The first SHOWN items and whether there are more; ([], False) when the upstream lacks the list."""
    try:
        page = client.get(path, {"limit": SHOWN, **params})
    except UpstreamError as exc:
        if exc.status in (404, 400) and not client.connection.is_self:
            return [], False
        raise
    return page["data"], page["has_more"]


def _render(
    request: HtmxHttpRequest, access: ProjectAccess, error: str = "", status: int = 200
) -> HttpResponse:
    form = _filters(request)
    now = int(time.time())
    common: dict[str, Any] = {"assistant_id": form["assistant"] or None}
    if form["since"]:
        common["created_after"] = now - SINCE[form["since"]]
    with client_for(access.project) as client:
        live, live_more = _list(client, "runs", {"status": form["status"] or ",".join(LIVE), **common})
        failed, _ = _list(
            client,
            "runs",
            {
                "status": ",".join(ENDED_BADLY),
                **common,
                "created_after": max(common.get("created_after") or 0, now - FAILED_WINDOW),
            },
        )
        batches, _ = _list(client, "file_batches", {"status": "in_progress"})
        assistants = client.list_all("assistants", cap=200)
        supported = client.connection.is_self or bool(live or failed or batches)
        names = Names(client)
        names.seed("assistant", assistants)
        for run in (*live[:NAMED_ROWS], *failed[:NAMED_ROWS]):
            run["thread_title"] = names.thread(run["thread_id"])
        for batch in batches[:NAMED_ROWS]:
            batch["store_name"] = names.store(batch["vector_store_id"])
    by_id = {a["id"]: a.get("name") or a["id"] for a in assistants}
    for run in (*live, *failed):
        run["assistant_name"] = by_id.get(run.get("assistant_id") or "", run.get("assistant_id"))
        run["age"] = max(0, now - int(run.get("created_at") or now))
        run["ended_at"] = run.get("failed_at") or run.get("cancelled_at") or run.get("expires_at")
    context = {
        "access": access,
        "live": live,
        "live_more": live_more,
        "failed": failed,
        "batches": batches,
        "assistants": assistants,
        "form": form,
        "statuses": LIVE,
        "since": list(SINCE),
        "error": error,
        "supported": supported,
        "query": urlencode({k: v for k, v in form.items() if v}),
    }
    return render_page(request, "web/activity.html", context, partial="activity", status=status)


@login_required
@require_GET
@handles_upstream
def activity(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    return _render(request, project_for_user(request.user, project_id))


def _back(request: HtmxHttpRequest, access: ProjectAccess, error: str = "") -> HttpResponse:
    if not request.htmx:
        return redirect("activity", access.project.pk)
    return _render(request, access, error=error, status=422 if error else 200)


@login_required
@require_POST
@handles_upstream
def activity_cancel(request: HtmxHttpRequest, project_id: int, thread_id: str, run_id: str) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.EDITOR)
    with client_for(access.project) as client:
        try:
            client.post(f"threads/{thread_id}/runs/{run_id}/cancel")
        except UpstreamError as exc:
            if exc.status not in (400, 404):
                raise
            return _back(request, access, error=exc.plain.prefixed("Could not cancel the run."))
    audit.record(request, access.project, "run.cancel", "run", run_id, thread_id=thread_id)
    return _back(request, access)


def rerun_body(run: dict[str, Any]) -> dict[str, Any]:
    """A new run of the same assistant on the same thread with the same settings as `run`."""
    body: dict[str, Any] = {"assistant_id": run["assistant_id"]}
    for name in RERUN_FIELDS:
        if run.get(name) not in (None, {}, ""):
            body[name] = run[name]
    return body


@login_required
@require_POST
@handles_upstream
def activity_rerun(request: HtmxHttpRequest, project_id: int, thread_id: str, run_id: str) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.EDITOR)
    with client_for(access.project) as client:
        failed = client.get(f"threads/{thread_id}/runs/{run_id}")
        try:
            run = client.post(f"threads/{thread_id}/runs", rerun_body(failed))
        except UpstreamError as exc:
            if exc.status not in (400, 404):
                raise
            return _back(request, access, error=exc.plain.prefixed("Could not run it again."))
    watching.watch_run(access.project, thread_id, run, request.user.get_username(), retry_of=run_id)
    audit.record(
        request,
        access.project,
        "run.rerun",
        "run",
        run["id"],
        thread_id=thread_id,
        assistant_id=failed["assistant_id"],
        rerun_of=run_id,
    )
    return _back(request, access)
