"""The assistant form's documents: a new store made and filled in place, and what an assistant uses.

Saving the form with files chosen (or a new store's name typed) creates the store, uploads the
files, adds them to it as one batch, and turns file search on with that store, so a person
gives an assistant its documents on one page.
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest

from console.web import audit, watching
from console.web.names import Names
from console.web.upstream import Client

MAX_LISTED_FILES = 20


def add_new_store(
    request: HttpRequest, project: Any, client: Client, assistant: dict[str, Any]
) -> dict[str, Any]:
    """After the assistant saved: the form's new store made, filled and given to it; the assistant as it is now.

    The assistant is saved first, so a form the API refuses leaves no store behind.
    """
    uploads: list[UploadedFile] = request.FILES.getlist("documents")
    store_name = " ".join(request.POST.get("new_store_name", "").split())
    if not uploads and not store_name:
        return assistant
    name = store_name or f"{assistant.get('name') or 'Assistant'} documents"
    store = client.post("vector_stores", {"name": name})
    audit.record(request, project, "vector_store.create", "vector_store", store["id"], name=name)
    file_ids = []
    for upload in uploads:
        created = client.upload_file(upload)
        audit.record(request, project, "file.upload", "file", created["id"], filename=created.get("filename"))
        file_ids.append(created["id"])
    if file_ids:
        watching.start_batch(request, project, client, store["id"], file_ids)
    # An assistant searches one store (OpenAI's limit): the new one takes the place of any picked.
    change: dict[str, Any] = {"tool_resources": {"file_search": {"vector_store_ids": [store["id"]]}}}
    tools = list(assistant.get("tools") or [])
    if not any(t.get("type") == "file_search" for t in tools):
        change["tools"] = [*tools, {"type": "file_search"}]
    return dict(client.post(f"assistants/{assistant['id']}", change))


def used_documents(client: Client, assistant: dict[str, Any]) -> list[dict[str, Any]]:
    """The stores an assistant searches, each with its files' names, for every role to read."""
    resources = assistant.get("tool_resources") or {}
    store_ids = (resources.get("file_search") or {}).get("vector_store_ids") or []
    names = Names(client)
    used = []
    for store_id in store_ids:
        page = client.get(f"vector_stores/{store_id}/files", {"limit": MAX_LISTED_FILES})
        used.append(
            {
                "id": store_id,
                "name": names.store(store_id),
                "files": [
                    {"id": f["id"], "name": names.file(f["id"]), "status": f["status"]} for f in page["data"]
                ],
                "more": page["has_more"],
            }
        )
    code_files = (resources.get("code_interpreter") or {}).get("file_ids") or []
    if code_files:
        used.append(
            {
                "id": "",
                "name": "Files for code interpreter",
                "files": [{"id": f, "name": names.file(f), "status": ""} for f in code_files],
                "more": False,
            }
        )
    return used
