"""Threads: the team's inspection tool. List with filters, inspector, export, delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from console.web import audit, costs, demo
from console.web.access import ProjectAccess, project_for_user
from console.web.models import Role
from console.web.names import Names, first_user_title
from console.web.transcript import view_message, view_run
from console.web.upstream import Client, UpstreamError, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

THREADS_PAGE = 50
SORTS = ("last_activity", "created_at")
# A last run in one of these needs someone's attention: the row stands out.
ATTENTION = ("failed", "requires_action", "expired", "incomplete")
MESSAGES_PAGE = 30
RUNS_PAGE = 10


def _get_thread_for_user(
    request: HtmxHttpRequest, project_id: int, thread_id: str, need: Role = Role.VIEWER
) -> tuple[ProjectAccess, Client, dict[str, Any]]:
    access = project_for_user(request.user, project_id, need)
    client = client_for(access.project)
    try:
        thread = client.get(f"threads/{thread_id}")
    except UpstreamError:
        client.__exit__()
        raise
    return access, client, thread


def _metadata_filters(request: HtmxHttpRequest) -> list[tuple[str, str]]:
    keys, values = request.GET.getlist("mk"), request.GET.getlist("mv")
    return [(k.strip(), v) for k, v in zip(keys, values, strict=False) if k.strip()]


def _day_start(raw: str) -> int | None:
    """A date input (YYYY-MM-DD, read as UTC) as Unix seconds; None when empty or malformed."""
    try:
        return int(datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None


def _search(request: HtmxHttpRequest) -> tuple[dict[str, str], dict[str, Any]]:
    """The filter form's values as typed, and the upstream query they become (GET /v1/threads extensions)."""
    form = {name: request.GET.get(name, "").strip() for name in ("q", "assistant", "from", "to", "sort")}
    if form["sort"] not in SORTS:
        form["sort"] = ""
    params: dict[str, Any] = {
        "q": form["q"] or None,
        "assistant_id": form["assistant"] or None,
        "order_by": form["sort"] or "last_activity",
        "include[]": "summary",
    }
    start, end = _day_start(form["from"]), _day_start(form["to"])
    if start is not None:
        params["created_after"] = start
    if end is not None:
        params["created_before"] = end + 86400  # the "to" day is included
    return form, params


@login_required
@require_GET
@handles_upstream
def threads(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id)
    filters = _metadata_filters(request)
    form, search = _search(request)
    after = request.GET.get("after") or None
    params: dict[str, Any] = {"limit": THREADS_PAGE, "after": after, **search}
    params.update({f"metadata[{k}]": v for k, v in filters})
    with client_for(access.project) as client:
        page = client.get("threads", params)
        assistants = client.list_all("assistants", cap=200)
    names = {a["id"]: a.get("name") or a["id"] for a in assistants}
    rows = [_view_thread(t, names) for t in page["data"]]
    kept = [(k, v) for k, v in form.items() if v] + [p for f in filters for p in (("mk", f[0]), ("mv", f[1]))]
    context = {
        "access": access,
        "rows": rows,
        "has_more": page["has_more"],
        "filters": filters or [("", "")],
        "next_after": rows[-1]["id"] if rows else "",
        "query": urlencode(kept),
        "form": form,
        "assistants": assistants,
        "filtered": bool(kept),
    }
    return render_page(request, "web/threads.html", context, partial="rows" if after else "results")


def _view_thread(thread: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A list row: the summary (this server's extension) when the upstream sent one, the bare thread otherwise."""
    summary = thread.get("summary") or {}
    last_run = summary.get("last_run") or {}
    return {
        **thread,
        "summary": summary,
        "last_run": last_run,
        "assistants": [names.get(a, a) for a in summary.get("assistant_ids") or []],
        "attention": last_run.get("status") in ATTENTION,
    }


@login_required
@require_GET
@handles_upstream
def thread(request: HtmxHttpRequest, project_id: int, thread_id: str) -> HttpResponse:
    """The inspector's first screen: the thread and a page of messages; runs load in their own request."""
    access, client, found = _get_thread_for_user(request, project_id, thread_id)
    after = request.GET.get("after") or None
    with client:
        page = client.get(
            f"threads/{thread_id}/messages", {"limit": MESSAGES_PAGE, "order": "asc", "after": after}
        )
        names = Names(client)
        messages = [view_message(m, names) for m in page["data"]]
        title = first_user_title(page["data"]) if not after else ""
        if not title and not after:
            title = names.thread(thread_id)
        last_assistant = next(
            (m.get("assistant_id") for m in reversed(page["data"]) if m.get("assistant_id")), ""
        )
    context = {
        "access": access,
        "thread": found,
        "title": title,
        "last_assistant": last_assistant,
        "messages": messages,
        "has_more": page["has_more"],
        "next_after": messages[-1]["id"] if messages else "",
    }
    return render_page(request, "web/thread.html", context, partial="messages" if after else None)


@login_required
@require_GET
@handles_upstream
def thread_runs(request: HtmxHttpRequest, project_id: int, thread_id: str) -> HttpResponse:
    access, client, found = _get_thread_for_user(request, project_id, thread_id)
    after = request.GET.get("after") or None
    prices = costs.prices_for(access.project)
    with client:
        page = client.get(f"threads/{thread_id}/runs", {"limit": RUNS_PAGE, "after": after})
        runs = [
            view_run(
                run,
                client.get(f"threads/{thread_id}/runs/{run['id']}/steps", {"limit": 100, "order": "asc"})[
                    "data"
                ],
            )
            for run in page["data"]
        ]
        # The thread's total covers every run, not only this page's.
        every = page["data"] if not page["has_more"] else client.list_all(f"threads/{thread_id}/runs")
        names = Names(client)
        title = names.thread(thread_id)
        for run in runs:
            run["assistant_name"] = names.assistant(run.get("assistant_id"))
            run["demo"] = demo.answers(client.connection, run.get("model"))
    for run in runs:
        run["cost"] = costs.money(costs.run_cost(prices, run))
    run_costs = [costs.run_cost(prices, run) for run in every if run.get("usage")]
    context = {
        "access": access,
        "thread": found,
        "title": title,
        "runs": runs,
        "has_more": page["has_more"],
        "next_after": runs[-1]["id"] if runs else "",
        "thread_cost": costs.money(costs.total(run_costs)),
        "cost_partial": None in run_costs,
        "demo_label": demo.LABEL,
        "live_statuses": ("queued", "in_progress", "requires_action"),
        "thread_tokens": sum(int((run.get("usage") or {}).get("total_tokens") or 0) for run in every),
    }
    return render_page(request, "web/thread_runs.html", context, partial="runs")


def _when(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else ""


def _export_markdown(found: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    lines = [f"# Thread {found['id']}", "", f"Created {_when(found['created_at'])}", ""]
    if found.get("metadata"):
        lines += [f"- **{k}**: {v}" for k, v in found["metadata"].items()] + [""]
    for message in messages:
        lines += [f"## {message['role']} · {_when(message['created_at'])}", ""]
        for part in message.get("content") or []:
            if part["type"] == "text":
                lines += [part["text"]["value"], ""]
            elif part["type"] == "image_file":
                lines += [f"[image: {part['image_file']['file_id']}]", ""]
            elif part["type"] == "image_url":
                lines += [f"![image]({part['image_url']['url']})", ""]
        for attachment in message.get("attachments") or []:
            lines += [f"- attachment: {attachment['file_id']}"]
    return "\n".join(lines).rstrip() + "\n"


@login_required
@require_GET
@handles_upstream
def thread_export(request: HtmxHttpRequest, project_id: int, thread_id: str, fmt: str) -> HttpResponse:
    access, client, found = _get_thread_for_user(request, project_id, thread_id)
    with client:
        messages = client.list_all(f"threads/{thread_id}/messages", {"order": "asc"})
        if fmt == "json":
            runs = client.list_all(f"threads/{thread_id}/runs", {"order": "asc"})
            for run in runs:
                run["steps"] = client.list_all(
                    f"threads/{thread_id}/runs/{run['id']}/steps", {"order": "asc"}
                )
    name = slugify(thread_id)
    if fmt == "json":
        body = json.dumps({"thread": found, "messages": messages, "runs": runs}, indent=2)
        response = HttpResponse(body, content_type="application/json")
    else:
        response = HttpResponse(
            _export_markdown(found, messages), content_type="text/markdown; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{"json" if fmt == "json" else "md"}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def thread_delete(request: HtmxHttpRequest, project_id: int, thread_id: str) -> HttpResponse:
    access, client, found = _get_thread_for_user(request, project_id, thread_id, Role.ADMIN)
    with client:
        if request.method == "GET":
            title = Names(client).thread(thread_id)
            context = {"access": access, "thread": found, "title": title}
            return render_page(request, "web/thread_delete.html", context)
        client.delete(f"threads/{thread_id}")
    audit.record(request, access.project, "thread.delete", "thread", thread_id)
    url = reverse("threads", args=[project_id])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
