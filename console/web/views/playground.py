"""Playground: send a message, watch the reply stream through the console's SSE proxy, act on tools."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from console.web import audit, demo, watching, wording
from console.web.access import project_for_user
from console.web.models import Role
from console.web.names import Names, first_user_title
from console.web.transcript import view_message, view_run
from console.web.upstream import UpstreamError, client_for, connection_for, relay_run_events
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

# "Can't add messages to thread_… while a run run_… is active.": the run the person may cancel.
BLOCKING_RUN = re.compile(r"while a run (run_[\w-]+) is active")


@login_required
@require_GET
@handles_upstream
def playground(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id)
    thread_id = request.GET.get("thread", "").strip()
    selected = request.GET.get("assistant", "").strip()
    with client_for(access.project) as client:
        assistants = client.list_all("assistants", cap=200)
        names = Names(client)
        names.seed("assistant", assistants)
        history: list[dict[str, Any]] = []
        title = ""
        if thread_id:
            client.get(f"threads/{thread_id}")
            messages = client.get(f"threads/{thread_id}/messages", {"limit": 20, "order": "desc"})["data"][
                ::-1
            ]
            history = [view_message(m, names) for m in messages]
            title = first_user_title(messages) or names.thread(thread_id)
            # "Continue in playground" keeps the assistant that last answered.
            selected = selected or next(
                (m["assistant_id"] for m in reversed(messages) if m.get("assistant_id")), ""
            )
            if not selected:  # no answer yet: the assistant of its latest run
                runs = client.get(f"threads/{thread_id}/runs", {"limit": 1})["data"]
                selected = runs[0]["assistant_id"] if runs else ""
        for assistant in assistants:
            assistant["demo"] = demo.answers(client.connection, assistant.get("model"))
    context = {
        "access": access,
        "assistants": assistants,
        "thread_id": thread_id,
        "thread_title": title,
        "history": history,
        "selected": selected,
        "selected_demo": any(a["demo"] for a in assistants if a["id"] == selected),
        "demo_label": demo.LABEL,
    }
    return render_page(request, "web/playground.html", context)


def _send_error(request: HtmxHttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The error under the form, which keeps what was typed (the transcript is left alone)."""
    response = render_page(request, "web/playground.html", context, partial="send-error", status=422)
    return reswap(retarget(response, "#send-error"), "innerHTML")


@login_required
@require_POST
@handles_upstream
def playground_send(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.EDITOR)
    assistant_id = request.POST.get("assistant_id", "").strip()
    thread_id = request.POST.get("thread_id", "").strip()
    text = request.POST.get("content", "").strip()
    error = "" if assistant_id else "Pick an assistant."
    error = error or ("" if text else "Type a message.")
    if error:
        return _send_error(request, {"access": access, "error": error})
    with client_for(access.project) as client:
        try:
            if not thread_id:
                thread_id = client.post("threads", {"metadata": {"source": "console-playground"}})["id"]
                audit.record(request, access.project, "thread.create", "thread", thread_id)
            client.post(f"threads/{thread_id}/messages", {"role": "user", "content": text})
            run = client.post(f"threads/{thread_id}/runs", {"assistant_id": assistant_id})
        except UpstreamError as exc:
            if exc.status not in (400, 404):
                raise
            blocking = BLOCKING_RUN.search(exc.message)
            return _send_error(
                request,
                {
                    "access": access,
                    "error": exc.plain,
                    "thread_id": thread_id,
                    "blocking_run": blocking.group(1) if blocking else "",
                },
            )
        assistant_name = Names(client).assistant(assistant_id)
        is_demo = demo.answers(client.connection, run.get("model"))
    watching.watch_run(access.project, thread_id, run, request.user.get_username())
    audit.record(
        request,
        access.project,
        "run.create",
        "run",
        run["id"],
        thread_id=thread_id,
        assistant_id=assistant_id,
    )
    context = {
        "access": access,
        "thread_id": thread_id,
        "run": run,
        "text": text,
        "assistant_id": assistant_id,
        "assistant_name": assistant_name,
        "demo": is_demo,
        "demo_label": demo.LABEL,
    }
    return render_page(request, "web/playground.html", context, partial="turn")


@login_required
@require_GET
@handles_upstream
def run_result(request: HtmxHttpRequest, project_id: int, thread_id: str, run_id: str) -> HttpResponse:
    """A finished turn as the thread page shows it: tool calls, then the run's messages, rendered."""
    access = project_for_user(request.user, project_id)
    with client_for(access.project) as client:
        run = client.get(f"threads/{thread_id}/runs/{run_id}")
        steps = client.get(f"threads/{thread_id}/runs/{run_id}/steps", {"limit": 100, "order": "asc"})
        messages = client.get(
            f"threads/{thread_id}/messages", {"limit": 100, "order": "asc", "run_id": run_id}
        )["data"]
        names = Names(client)
        context = {
            "access": access,
            "thread_id": thread_id,
            "run": view_run(run, steps["data"]),
            "messages": [view_message(m, names) for m in messages],
        }
    return render_page(request, "web/playground.html", context, partial="result")


def _frame(event: str, data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"event: {event}\ndata: {payload}\n\n".encode()


@login_required
@require_GET
async def run_stream(
    request: HtmxHttpRequest, project_id: int, thread_id: str, run_id: str
) -> HttpResponseBase:
    """The browser's SSE connection: relays the upstream run's events; the key stays here."""
    user = await request.auser()
    access = await sync_to_async(project_for_user)(user, project_id)
    connection = await sync_to_async(connection_for)(access.project)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in relay_run_events(connection, thread_id, run_id):
                yield chunk
        except UpstreamError as exc:
            yield _frame("console.error", {"message": exc.message})
            yield _frame("done", "[DONE]")

    response = StreamingHttpResponse(relay(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def run_action(request: HtmxHttpRequest, project_id: int, thread_id: str, run_id: str) -> HttpResponse:
    """The function calls a run waits on, and the form that submits their outputs."""
    need = Role.EDITOR if request.method == "POST" else Role.VIEWER
    access = project_for_user(request.user, project_id, need)
    with client_for(access.project) as client:
        run = client.get(f"threads/{thread_id}/runs/{run_id}")
        calls = ((run.get("required_action") or {}).get("submit_tool_outputs") or {}).get("tool_calls") or []
        context: dict[str, Any] = {"access": access, "thread_id": thread_id, "run": run, "calls": calls}
        if request.method == "GET" or run["status"] != "requires_action":
            return render_page(request, "web/playground.html", context, partial="action")
        outputs = [
            {"tool_call_id": c["id"], "output": request.POST.get(f"output_{c['id']}", "")} for c in calls
        ]
        try:
            run = client.post(
                f"threads/{thread_id}/runs/{run_id}/submit_tool_outputs", {"tool_outputs": outputs}
            )
        except UpstreamError as exc:
            if exc.status != 400:
                raise
            context["error"] = exc.plain
            return render_page(request, "web/playground.html", context, partial="action", status=422)
    audit.record(
        request,
        access.project,
        "run.submit_tool_outputs",
        "run",
        run_id,
        thread_id=thread_id,
        tool_call_ids=[o["tool_call_id"] for o in outputs],
    )
    context.update(run=run, resumed=True)
    return render_page(request, "web/playground.html", context, partial="action")


@login_required
@require_POST
@handles_upstream
def run_cancel(request: HtmxHttpRequest, project_id: int, thread_id: str, run_id: str) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.EDITOR)
    with client_for(access.project) as client:
        try:
            run = client.post(f"threads/{thread_id}/runs/{run_id}/cancel")
            message: str = f"The run is {wording.status_word(run['status']).lower()}."
        except UpstreamError as exc:
            if exc.status != 400:
                raise
            message = exc.plain
    audit.record(request, access.project, "run.cancel", "run", run_id, thread_id=thread_id)
    return HttpResponse(format_html('<span class="muted" role="status">{}</span>', message))
