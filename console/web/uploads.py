"""Upload sessions: files sent one by one into a vector store, each attached as soon as it arrives.

console.web.watching.start_upload() records every announced file; arrive() uploads one through the API and attaches it to the
store at once; refresh() (the watch task's poll) follows the arrived files' ingestion and decides
when the session is over. A session whose remaining files stay away for STALL_SECONDS is closed as
incomplete: those files show as not arrived, and everything that did arrive stays in the store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from console.web.models import UploadItem, UploadSession
from console.web.upstream import Client, UpstreamError, client_for

MAX_FILES = 10000

STALL_SECONDS = 600


def arrive(client: Client, item: UploadItem, upload: Any, content_type: str) -> UploadItem:
    """Uploads one file and attaches it to the session's store; failures are kept on the item."""
    session = item.session
    try:
        created = client.upload(item.name or "upload", upload, "assistants", content_type)
    except UpstreamError as exc:
        item.status, item.error = UploadItem.FAILED, exc.message
        item.save(update_fields=["status", "error"])
        raise
    item.file_id = created["id"]
    try:
        client.post(f"vector_stores/{session.vector_store_id}/files", {"file_id": created["id"]})
    except UpstreamError as exc:
        item.status, item.error = (
            UploadItem.FAILED,
            f"Uploaded as {created['id']}, but not attached: {exc.message}",
        )
        item.save(update_fields=["file_id", "status", "error"])
        raise
    item.status, item.error = UploadItem.INGESTING, ""
    item.save(update_fields=["file_id", "status", "error"])
    UploadSession.objects.filter(pk=session.pk).update(updated_at=timezone.now())
    return item


def _ids_with_status(client: Client, store_id: str, status: str) -> set[str]:
    return {f["id"] for f in client.list_all(f"vector_stores/{store_id}/files", {"filter": status})}


def refresh(session: UploadSession) -> UploadSession:
    """One poll: ingestion status of the arrived files, and whether the session is over."""
    ingesting = list(session.items.filter(status=UploadItem.INGESTING))
    if ingesting:
        try:
            with client_for(session.project) as client:
                pending = _ids_with_status(client, session.vector_store_id, "in_progress")
                failed = _ids_with_status(client, session.vector_store_id, "failed")
        except UpstreamError:
            return session  # try again at the next poll
        for item in ingesting:
            if item.file_id in pending:
                continue
            item.status = UploadItem.FAILED if item.file_id in failed else UploadItem.COMPLETED
            if item.status == UploadItem.FAILED:
                item.error = "Ingestion failed (see the file in the store)."
            item.save(update_fields=["status", "error"])
    statuses = set(session.items.values_list("status", flat=True))
    stalled = timezone.now() - session.updated_at > timedelta(seconds=STALL_SECONDS)
    if UploadItem.INGESTING not in statuses and (UploadItem.WAITING not in statuses or stalled):
        if UploadItem.WAITING in statuses:
            session.items.filter(status=UploadItem.WAITING).update(status=UploadItem.MISSING)
            session.status = "incomplete"
        else:
            session.status = "completed"
        session.finished_at = timezone.now()
        session.save(update_fields=["status", "finished_at"])
    return session


def counts(session: UploadSession) -> dict[str, int]:
    found = dict.fromkeys(("waiting", "in_progress", "completed", "failed", "missing"), 0)
    for row in session.items.values("status").order_by():
        found[row["status"]] = found.get(row["status"], 0) + 1
    return found


def view(session: UploadSession) -> dict[str, Any]:
    """What the store page shows of a session: counts, and the names that have not arrived."""
    found = counts(session)
    total = sum(found.values())
    arrived = (
        found["in_progress"]
        + found["completed"]
        + sum(1 for _ in session.items.filter(status=UploadItem.FAILED).exclude(file_id="").values("pk"))
    )
    not_arrived = list(
        session.items.filter(status__in=(UploadItem.WAITING, UploadItem.MISSING)).values_list(
            "name", flat=True
        )[:500]
    )
    failed = list(session.items.filter(status=UploadItem.FAILED).values("name", "error")[:200])
    return {
        "session": session,
        "counts": found,
        "total": total,
        "arrived": arrived,
        "not_arrived": not_arrived,
        "failed": failed,
    }
