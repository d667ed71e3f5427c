"""Assistants: list and search, create, detail with in-place edit, duplicate, delete."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from console.web import assistant_documents, assistant_form, audit, demo
from console.web.access import ProjectAccess, project_for_user
from console.web.models import Role
from console.web.upstream import Client, UpstreamError, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

PAGE = 20
# Search filters pages client-side of the API (which has no search); scan at most this many.
SEARCH_SCAN = 500


def _get_assistant_for_user(
    request: HtmxHttpRequest, project_id: int, assistant_id: str, need: Role = Role.VIEWER
) -> tuple[ProjectAccess, Client, dict[str, Any]]:
    access = project_for_user(request.user, project_id, need)
    client = client_for(access.project)
    return access, client, client.get(f"assistants/{assistant_id}")


def _matches(assistant: dict[str, Any], q: str) -> bool:
    haystack = " ".join(
        str(assistant.get(k) or "") for k in ("id", "name", "description", "model", "instructions")
    )
    return q.lower() in haystack.lower()


def _vector_stores(client: Client) -> list[dict[str, Any]]:
    try:
        return client.get("vector_stores", {"limit": 100})["data"]
    except UpstreamError:
        return []  # an upstream without vector stores: the picker stays empty


def _model_names(client: Client) -> list[str]:
    """What GET /v1/models lists, offered in the model field (which still takes any name)."""
    try:
        return [m["id"] for m in client.get("models")["data"] if isinstance(m.get("id"), str)]
    except (UpstreamError, KeyError, TypeError, AttributeError):
        return []  # an upstream without /models: the field is free text only


@login_required
@require_GET
@handles_upstream
def assistants(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id)
    q = request.GET.get("q", "").strip()
    after = request.GET.get("after") or None
    with client_for(access.project) as client:
        if q:
            found = [a for a in client.list_all("assistants", cap=SEARCH_SCAN) if _matches(a, q)]
            start = next((i + 1 for i, a in enumerate(found) if a["id"] == after), 0) if after else 0
            rows, has_more = found[start : start + PAGE], len(found) > start + PAGE
        else:
            page = client.get("assistants", {"limit": PAGE, "after": after})
            rows, has_more = page["data"], page["has_more"]
    context = {
        "access": access,
        "rows": rows,
        "has_more": has_more,
        "q": q,
        "next_after": rows[-1]["id"] if rows else "",
    }
    # "load more" and the search box both replace or extend only the rows.
    return render_page(request, "web/assistants.html", context, partial="rows" if after else "results")


def _form_context(
    access: ProjectAccess,
    client: Client,
    form: assistant_form.AssistantForm,
    assistant: dict[str, Any] | None,
    saved: bool = False,
) -> dict[str, Any]:
    model = (assistant or {}).get("model") or form.values.get("model")
    return {
        "access": access,
        "form": form,
        "assistant": assistant,
        "saved": saved,
        "vector_stores": _vector_stores(client) if access.can_edit else [],
        "model_names": demo.model_names(_model_names(client)) if access.can_edit else [],
        "used_documents": assistant_documents.used_documents(client, assistant) if assistant else [],
        "demo": demo.answers(client.connection, model) if model else False,
        "demo_label": demo.LABEL,
    }


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def assistant_new(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.EDITOR)
    with client_for(access.project) as client:
        if request.method == "GET":
            form = assistant_form.blank()
            return render_page(request, "web/assistant_new.html", _form_context(access, client, form, None))
        form, body = assistant_form.parse(request.POST)
        if form.is_valid:
            try:
                created = client.post("assistants", body)
                created = assistant_documents.add_new_store(request, access.project, client, created)
            except UpstreamError as exc:
                if exc.status != 400:
                    raise
                assistant_form.attach_api_error(form, exc.param, exc.plain)
            else:
                audit.record(
                    request,
                    access.project,
                    "assistant.create",
                    "assistant",
                    created["id"],
                    name=created.get("name"),
                )
                url = reverse("assistant", args=[project_id, created["id"]])
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        context = _form_context(access, client, form, None)
    return render_page(request, "web/assistant_new.html", context, partial="assistant-form", status=422)


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def assistant(request: HtmxHttpRequest, project_id: int, assistant_id: str) -> HttpResponse:
    need = Role.EDITOR if request.method == "POST" else Role.VIEWER
    access, client, found = _get_assistant_for_user(request, project_id, assistant_id, need)
    with client:
        if request.method == "GET":
            context = _form_context(access, client, assistant_form.from_assistant(found), found)
            return render_page(request, "web/assistant.html", context, partial="assistant-form")
        form, body = assistant_form.parse(request.POST)
        status, saved = 422, False
        if form.is_valid:
            try:
                found = client.post(f"assistants/{assistant_id}", body)
                found = assistant_documents.add_new_store(request, access.project, client, found)
            except UpstreamError as exc:
                if exc.status != 400:
                    raise
                assistant_form.attach_api_error(form, exc.param, exc.plain)
            else:
                changed = sorted(k for k in body if k != "tool_resources")
                audit.record(
                    request, access.project, "assistant.update", "assistant", assistant_id, fields=changed
                )
                form, status, saved = assistant_form.from_assistant(found), 200, True
        context = _form_context(access, client, form, found, saved=saved)
    return render_page(request, "web/assistant.html", context, partial="assistant-form", status=status)


@login_required
@require_POST
@handles_upstream
def assistant_duplicate(request: HtmxHttpRequest, project_id: int, assistant_id: str) -> HttpResponse:
    access, client, found = _get_assistant_for_user(request, project_id, assistant_id, Role.EDITOR)
    body = {
        k: found.get(k)
        for k in (
            "model",
            "description",
            "instructions",
            "tools",
            "tool_resources",
            "metadata",
            "temperature",
            "top_p",
            "response_format",
        )
    }
    body["name"] = f"{found.get('name') or found['id']} (copy)"[:256]
    with client:
        copy = client.post("assistants", body)
    audit.record(request, access.project, "assistant.duplicate", "assistant", copy["id"], source=assistant_id)
    url = reverse("assistant", args=[project_id, copy["id"]])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def assistant_delete(request: HtmxHttpRequest, project_id: int, assistant_id: str) -> HttpResponse:
    access, client, found = _get_assistant_for_user(request, project_id, assistant_id, Role.ADMIN)
    with client:
        if request.method == "GET":
            return render_page(request, "web/assistant_delete.html", {"access": access, "assistant": found})
        client.delete(f"assistants/{assistant_id}")
    audit.record(
        request, access.project, "assistant.delete", "assistant", assistant_id, name=found.get("name")
    )
    url = reverse("assistants", args=[project_id])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
