"""Where a file is used: an extension beyond OpenAI (GET /v1/files/{id}/usage)."""

from __future__ import annotations

from console.assistants.models import Assistant
from console.files.services import get_file
from console.projects.models import Project
from console.vector_stores.models import VectorStoreFile


def file_usage(project: Project, file_id: str) -> dict[str, list[str]]:
    """Which of the project's vector stores hold the file, and which assistants use it.

    An assistant uses a file through code_interpreter's file_ids, or through a file_search vector
    store that holds it. Tool resources are JSON, and JSON containment is not portable across the
    databases, so assistants are matched here from their (id, tool_resources) pairs.
    """
    get_file(project, file_id)
    stores = list(
        VectorStoreFile.objects.filter(file_id=file_id, store__project=project)
        .order_by("store__created_at", "store_id")
        .values_list("store_id", flat=True)
    )
    held = set(stores)
    assistants = []
    rows = (
        Assistant.objects.filter(project=project)
        .order_by("created_at", "id")
        .values_list("id", "tool_resources")
    )
    for assistant_id, resources in rows.iterator(chunk_size=2000):
        resources = resources or {}
        code_files = (resources.get("code_interpreter") or {}).get("file_ids") or []
        search_stores = (resources.get("file_search") or {}).get("vector_store_ids") or []
        if file_id in code_files or held.intersection(search_stores):
            assistants.append(assistant_id)
    return {"assistants": assistants, "vector_stores": stores}
