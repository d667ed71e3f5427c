"""A store's failed files, and what a person does about one: retry it, remove it, or replace it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from console.web import audit
from console.web.access import project_for_user
from console.web.models import Role
from console.web.upstream import Client, UpstreamError, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream

FAILED_SHOWN = 100
ACTIONS = ("retry", "remove", "replace")


def failed_files(client: Client, store_id: str) -> list[dict[str, Any]]:
    return list(
        client.get(f"vector_stores/{store_id}/files", {"filter": "failed", "limit": FAILED_SHOWN})["data"]
    )


@login_required
@require_POST
@handles_upstream
def store_file_action(request: HtmxHttpRequest, project_id: int, store_id: str, file_id: str) -> HttpResponse:
    """Retry reads the same file again; Remove takes it out of the store (the file stays); Replace adds
    the uploaded file in its place."""
    access = project_for_user(request.user, project_id, Role.EDITOR)
    action = request.POST.get("action", "")
    message = ""
    with client_for(access.project) as client:
        try:
            if action == "replace":
                upload = request.FILES.get("file")
                if upload is None:
                    message = "Choose the file to put in its place."
                else:
                    created = client.upload_file(upload)
                    client.post(f"vector_stores/{store_id}/files", {"file_id": created["id"]})
                    client.delete(f"vector_stores/{store_id}/files/{file_id}")
                    audit.record(
                        request,
                        access.project,
                        "vector_store_file.replace",
                        "file",
                        file_id,
                        vector_store_id=store_id,
                        replacement=created["id"],
                    )
            elif action in ("retry", "remove"):
                client.delete(f"vector_stores/{store_id}/files/{file_id}")
                if action == "retry":
                    client.post(f"vector_stores/{store_id}/files", {"file_id": file_id})
                audit.record(
                    request,
                    access.project,
                    f"vector_store_file.{action}",
                    "file",
                    file_id,
                    vector_store_id=store_id,
                )
            else:
                message = "Pick retry, remove or replace."
        except UpstreamError as exc:
            if exc.status is None or exc.status >= 500:
                raise
            message = str(exc.plain)
    if not request.htmx:
        return redirect("vector_store", project_id, store_id)
    # The store's live section reloads itself (counts, failed files, file list).
    response = HttpResponse(status=422 if message else 200, content=message)
    return trigger_client_event(response, "store-changed") if not message else response
