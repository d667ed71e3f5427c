"""A store's files as people handle them: a failed one retried, removed or replaced, and files
already in the store found before they are uploaded again."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from console.web import audit
from console.web.access import project_for_user
from console.web.models import Role
from console.web.upstream import Client, UpstreamError, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream

FAILED_SHOWN = 100
# Store files looked at for duplicates, and chosen files checked, at most.
DUPLICATE_SCAN = 2000
MAX_CHECKED = 5000


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


def _sha256(client: Client, file_id: str) -> str:
    digest = hashlib.sha256()
    for chunk in client.download(file_id):
        digest.update(chunk)
    return digest.hexdigest()


def duplicates(client: Client, store_id: str, chosen: list[tuple[str, int, str]]) -> list[int]:
    """Which chosen files (name, size, SHA-256 or "") the store holds already: same name and content.

    Only files of the same name and size are compared, by downloading them once; a browser that could
    not hash (an insecure origin) is matched on name and size alone.
    """
    wanted = {(name, size) for name, size, _ in chosen}
    held: dict[tuple[str, int], list[str]] = {}
    for item in client.list_all(f"vector_stores/{store_id}/files", cap=DUPLICATE_SCAN):
        meta = client.get(f"files/{item['id']}")
        key = (str(meta.get("filename") or ""), int(meta.get("bytes") or 0))
        if key in wanted:
            held.setdefault(key, []).append(item["id"])
    hashes: dict[str, str] = {}
    found = []
    for index, (name, size, sha) in enumerate(chosen):
        candidates = held.get((name, size), [])
        if not candidates:
            continue
        if not sha:
            found.append(index)
            continue
        for file_id in candidates:
            if file_id not in hashes:
                hashes[file_id] = _sha256(client, file_id)
            if hashes[file_id] == sha:
                found.append(index)
                break
    return found


@login_required
@require_POST
@handles_upstream
def upload_check(request: HtmxHttpRequest, project_id: int, store_id: str) -> HttpResponse:
    """Before an upload: the indexes of the chosen files already in the store (same name and content)."""
    access = project_for_user(request.user, project_id, Role.EDITOR)
    names = request.POST.getlist("name")[:MAX_CHECKED]
    sizes = request.POST.getlist("size")
    shas = request.POST.getlist("sha256")
    chosen = []
    for i, name in enumerate(names):
        try:
            size = int(sizes[i])
        except (IndexError, ValueError):
            size = -1
        sha = shas[i].lower() if i < len(shas) and len(shas[i]) == 64 else ""
        chosen.append((name, size, sha))
    with client_for(access.project) as client:
        found = duplicates(client, store_id, chosen)
    return JsonResponse({"duplicates": found})
