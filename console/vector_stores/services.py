"""Vector stores, their files and file batches. Values arrive validated and in the stored shape.

Ingestion itself lives in console.vector_stores.ingest; here rows are created and tasks enqueued
once the transaction commits.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from console.core.errors import DomainError, NotFound
from console.events import stream
from console.files.services import require_files
from console.projects.models import Project
from console.vector_stores import ingest
from console.vector_stores.models import AUTO_CHUNKING, FileBatch, VectorStore, VectorStoreFile

# Stores a thread creates for itself (tool_resources.file_search.vector_stores, message attachments)
# expire a week after their last use, as OpenAI's did.
THREAD_STORE_EXPIRY = {"anchor": "last_active_at", "days": 7}


@dataclass
class NewFile:
    file_id: str
    chunking_strategy: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(AUTO_CHUNKING))
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Counts:
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    usage_bytes: int = 0

    @property
    def total(self) -> int:
        return self.in_progress + self.completed + self.failed + self.cancelled

    def as_dict(self) -> dict[str, int]:
        return {
            "in_progress": self.in_progress,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "total": self.total,
        }


def _counts(rows: QuerySet[VectorStoreFile], key: str, ids: Iterable[str]) -> dict[str, Counts]:
    result = {i: Counts() for i in ids}
    grouped = (
        rows.filter(**{f"{key}__in": list(result)})
        .values(key, "status")
        .annotate(n=Count("pk"), used=Sum("usage_bytes"))
        .order_by()
    )
    for entry in grouped:
        counts = result[entry[key]]
        setattr(counts, entry["status"], entry["n"])
        if entry["status"] == "completed":
            counts.usage_bytes += entry["used"] or 0
    return result


def store_counts(store_ids: Iterable[str]) -> dict[str, Counts]:
    return _counts(VectorStoreFile.objects.all(), "store_id", store_ids)


def batch_counts(batch_ids: Iterable[str]) -> dict[str, Counts]:
    return _counts(VectorStoreFile.objects.all(), "batch_id", batch_ids)


def store_status(store: VectorStore, counts: Counts) -> str:
    if store.is_expired():
        return "expired"
    return "in_progress" if counts.in_progress else "completed"


def batch_status(batch: FileBatch, counts: Counts) -> str:
    if batch.status in ("cancelled", "failed"):
        return batch.status
    return "in_progress" if counts.in_progress else "completed"


def _expires_at(expires_after: dict[str, Any] | None, anchor: datetime) -> datetime | None:
    return anchor + timedelta(days=expires_after["days"]) if expires_after else None


def expired_error(store_id: str) -> DomainError:
    return DomainError(f"Vector store {store_id} is expired. Create a new vector store and try again.")


def _writable(store: VectorStore) -> VectorStore:
    if store.is_expired():
        raise expired_error(store.id)
    return store


# Stores


def list_stores(project: Project) -> QuerySet[VectorStore]:
    return VectorStore.objects.filter(project=project)


def get_store(project: Project, store_id: str) -> VectorStore:
    store = VectorStore.objects.filter(project=project, pk=store_id).first()
    if store is None:
        raise NotFound("vector store", store_id)
    return store


def create_store(
    project: Project,
    *,
    name: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    expires_after: dict[str, Any] | None = None,
    files: list[NewFile] | None = None,
) -> VectorStore:
    files = files or []
    require_files(project, [f.file_id for f in files], "file_ids")
    now = timezone.now()
    with transaction.atomic():
        store = VectorStore.objects.create(
            project=project,
            created_at=now,
            name=name or "",
            description=description,
            metadata=metadata or {},
            last_active_at=now,
            expires_after=expires_after,
            expires_at=_expires_at(expires_after, now),
        )
        _add_files(store, files)
    return store


def update_store(project: Project, store_id: str, changes: dict[str, Any]) -> VectorStore:
    store = get_store(project, store_id)
    if "name" in changes:
        store.name = changes["name"] or ""
    if "metadata" in changes:
        store.metadata = changes["metadata"] or {}
    if "expires_after" in changes and not store.is_expired():
        store.expires_after = changes["expires_after"]
        store.expires_at = _expires_at(store.expires_after, store.last_active_at)
    store.save()
    return store


def delete_store(project: Project, store_id: str) -> None:
    from console.retrieval import index

    store = get_store(project, store_id)
    with transaction.atomic():
        store.delete()
    # Any ingestion still running finds its row gone and removes what it indexed.
    index.delete_store(store_id)


def touch(store_ids: Iterable[str]) -> None:
    """Marks stores as used now, which pushes back their expiry."""
    now = timezone.now()
    for store in VectorStore.objects.filter(pk__in=list(store_ids)).exclude(status="expired"):
        if store.is_expired():
            continue
        store.last_active_at = now
        store.expires_at = _expires_at(store.expires_after, now)
        store.save(update_fields=["last_active_at", "expires_at"])


def require_usable(project: Project, store_ids: Iterable[str], param: str) -> list[VectorStore]:
    """The project's stores, in the order given; a 400 naming `param` for a missing or expired one."""
    wanted = list(dict.fromkeys(store_ids))
    found = {s.id: s for s in VectorStore.objects.filter(project=project, pk__in=wanted)}
    for store_id in wanted:
        store = found.get(store_id)
        if store is None:
            raise DomainError(f"Invalid '{param}': no vector store found with id '{store_id}'.", param=param)
        if store.is_expired():
            raise DomainError(expired_error(store_id).message, param=param)
    return [found[i] for i in wanted]


def expire_stores(now: datetime | None = None) -> int:
    """Marks stores whose expires_at has passed as expired and drops their chunks. Returns how many."""
    from console.retrieval import index

    now = now or timezone.now()
    expired = 0
    for store_id in (
        VectorStore.objects.filter(expires_at__lte=now).exclude(status="expired").values_list("pk", flat=True)
    ):
        if (
            VectorStore.objects.filter(pk=store_id, expires_at__lte=now)
            .exclude(status="expired")
            .update(status="expired")
        ):
            index.delete_store(store_id)
            expired += 1
    return expired


# Files


def _enqueue(store_id: str, file_id: str) -> None:
    ingest.enqueue(store_id, file_id)


def _add_files(
    store: VectorStore, files: list[NewFile], batch: FileBatch | None = None
) -> list[VectorStoreFile]:
    """Attaches files in one transaction. Re-adding a file is idempotent: a file already pending or
    indexed is left as it is, and one that failed or was cancelled is ingested again."""
    if not files:
        return []
    stream.check_available()  # the queue down: 503 before anything is stored (Unavailable)
    wanted = {f.file_id: f for f in files}
    existing = {
        row.file_id: row for row in VectorStoreFile.objects.filter(store=store, file_id__in=list(wanted))
    }
    now = timezone.now()
    new_rows = []
    for index, (file_id, spec) in enumerate(wanted.items()):
        row = existing.get(file_id)
        if row is None:
            new_rows.append(
                VectorStoreFile(
                    store=store,
                    file_id=file_id,
                    batch=batch,
                    # A microsecond apart, so the files list in the order they were given.
                    created_at=now + timedelta(microseconds=index),
                    chunking_strategy=spec.chunking_strategy,
                    attributes=spec.attributes,
                )
            )
            _enqueue(store.id, file_id)
            continue
        # Targeted updates only: a worker may be finishing this row right now.
        retried = VectorStoreFile.objects.filter(pk=row.pk, status__in=("failed", "cancelled")).update(
            status="in_progress",
            last_error=None,
            usage_bytes=0,
            claimed_at=None,
            chunking_strategy=spec.chunking_strategy,
            attributes=spec.attributes,
        )
        if retried:
            _enqueue(store.id, file_id)
        if batch is not None:
            VectorStoreFile.objects.filter(pk=row.pk).update(batch=batch)
    VectorStoreFile.objects.bulk_create(new_rows)
    touch([store.id])
    return list(VectorStoreFile.objects.filter(store=store, file_id__in=list(wanted)).select_related("file"))


def add_file(project: Project, store_id: str, spec: NewFile) -> VectorStoreFile:
    store = _writable(get_store(project, store_id))
    require_files(project, [spec.file_id], "file_id")
    with transaction.atomic():
        (row,) = _add_files(store, [spec])
    return row


def list_files(project: Project, store_id: str, status: str | None = None) -> QuerySet[VectorStoreFile]:
    rows = VectorStoreFile.objects.filter(store=get_store(project, store_id))
    return rows.filter(status=status) if status else rows


def get_file(project: Project, store_id: str, file_id: str) -> VectorStoreFile:
    store = get_store(project, store_id)
    row = VectorStoreFile.objects.filter(store=store, file_id=file_id).first()
    if row is None:
        missing = NotFound("file", file_id)
        missing.message = f"No file found with id '{file_id}' in vector store '{store_id}'."
        raise missing
    return row


def update_file_attributes(
    project: Project, store_id: str, file_id: str, attributes: dict[str, Any] | None
) -> VectorStoreFile:
    from console.retrieval import index

    row = get_file(project, store_id, file_id)
    row.attributes = attributes or {}
    row.save(update_fields=["attributes"])
    # A file still being ingested picks the new attributes up when it finishes.
    index.update_attributes(store_id, file_id, row.attributes)
    return row


def remove_file(project: Project, store_id: str, file_id: str) -> None:
    """Detaches the file from the store and drops its chunks; the File itself stays."""
    from console.retrieval import index

    get_file(project, store_id, file_id).delete()
    index.delete_file(store_id, file_id)


def forget_file(file_id: str) -> None:
    """For a File being deleted: removes it from every store, with its chunks."""
    from console.retrieval import index

    store_ids = list(VectorStoreFile.objects.filter(file_id=file_id).values_list("store_id", flat=True))
    VectorStoreFile.objects.filter(file_id=file_id).delete()
    for store_id in store_ids:
        index.delete_file(store_id, file_id)


def file_content(project: Project, store_id: str, file_id: str) -> str:
    """The file's parsed text, rebuilt from its chunks."""
    from console.retrieval import index

    row = get_file(project, store_id, file_id)
    _writable(row.store)
    if row.status != "completed":
        return ""
    overlapping = row.chunking_strategy.get("static", {}).get("chunk_overlap_tokens", 1) > 0
    return join_windows(index.file_text(store_id, file_id), overlapping)


def join_windows(chunks: list[str], overlapping: bool = True, probe: int = 32) -> str:
    """Chunks are overlapping windows of one text: join them, keeping each overlap once."""
    text = ""
    for chunk in chunks:
        text += chunk[_overlap(text, chunk, probe) :] if overlapping else chunk
    return text


def _overlap(text: str, chunk: str, probe: int) -> int:
    """The length of the longest prefix of `chunk` that `text` ends with."""
    window = text[-len(chunk) :] if chunk else ""
    head = chunk[:probe]
    if len(head) == probe:
        # Fast path (C string search): the overlap is usually far longer than the probe.
        start = window.find(head)
        while start >= 0:
            if chunk.startswith(window[start:]):
                return len(window) - start
            start = window.find(head, start + 1)
    # Overlaps shorter than the probe: Knuth-Morris-Pratt over the window.
    prefix = [0] * len(chunk)
    k = 0
    for i in range(1, len(chunk)):
        while k and chunk[i] != chunk[k]:
            k = prefix[k - 1]
        if chunk[i] == chunk[k]:
            k += 1
        prefix[i] = k
    matched = 0
    for char in window:
        while matched and (matched == len(chunk) or chunk[matched] != char):
            matched = prefix[matched - 1]
        if matched < len(chunk) and chunk[matched] == char:
            matched += 1
    return matched


# Batches


def create_batch(project: Project, store_id: str, files: list[NewFile]) -> FileBatch:
    store = _writable(get_store(project, store_id))
    require_files(project, [f.file_id for f in files], "file_ids")
    with transaction.atomic():
        batch = FileBatch.objects.create(store=store)
        _add_files(store, files, batch)
    return batch


def get_batch(project: Project, store_id: str, batch_id: str) -> FileBatch:
    store = get_store(project, store_id)
    batch = FileBatch.objects.filter(store=store, pk=batch_id).first()
    if batch is None:
        raise NotFound("vector store file batch", batch_id)
    return batch


def cancel_batch(project: Project, store_id: str, batch_id: str) -> FileBatch:
    """Files not yet ingested end cancelled at once; a worker busy with one discards its work."""
    batch = get_batch(project, store_id, batch_id)
    status = batch_status(batch, batch_counts([batch.id])[batch.id])
    if status == "cancelled":
        return batch
    if status != "in_progress":
        raise DomainError(f"Cannot cancel vector store file batch {batch.id} with status '{status}'.")
    with transaction.atomic():
        FileBatch.objects.filter(pk=batch.pk).update(status="cancelled")
        VectorStoreFile.objects.filter(batch=batch, status="in_progress").update(status="cancelled")
    batch.refresh_from_db()
    return batch


def list_batch_files(
    project: Project, store_id: str, batch_id: str, status: str | None = None
) -> QuerySet[VectorStoreFile]:
    rows = VectorStoreFile.objects.filter(batch=get_batch(project, store_id, batch_id))
    return rows.filter(status=status) if status else rows


# Search


def search(
    project: Project,
    store_id: str,
    query: str | list[str],
    *,
    max_num_results: int = 10,
    score_threshold: float = 0.0,
    filters: dict[str, Any] | None = None,
    ranker: str = "auto",
) -> list[Any]:
    from console.retrieval.filters import FilterError
    from console.retrieval.search import search as search_index

    store = _writable(get_store(project, store_id))
    try:
        hits = search_index(
            [store.id],
            query,
            max_num_results=max_num_results,
            score_threshold=score_threshold,
            filters=filters,
            ranker=ranker,
        )
    except FilterError as exc:
        raise DomainError(f"Invalid 'filters': {exc}", param="filters") from None
    touch([store.id])
    return list(hits)


# Tool resources of assistants and threads


def resolve_tool_resources(
    project: Project, tool_resources: dict[str, Any], *, expires_after: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Checks tool_resources.file_search and creates the stores its `vector_stores` helper asks for.

    Returns tool_resources as stored: file_search holds only vector_store_ids.
    """
    file_search = tool_resources.get("file_search")
    if not file_search:
        return tool_resources
    param = "tool_resources.file_search"
    store_ids = list(file_search.get("vector_store_ids") or [])
    helpers = file_search.get("vector_stores") or []
    if store_ids and helpers:
        raise DomainError(
            f"Invalid '{param}': give either 'vector_store_ids' or 'vector_stores', not both.", param=param
        )
    require_usable(project, store_ids, f"{param}.vector_store_ids")
    for position, helper in enumerate(helpers):
        require_files(project, helper["file_ids"], f"{param}.vector_stores[{position}].file_ids")
    for helper in helpers:
        strategy = helper.get("chunking_strategy") or AUTO_CHUNKING
        store = create_store(
            project,
            metadata=helper.get("metadata"),
            expires_after=expires_after,
            files=[NewFile(file_id, strategy) for file_id in helper["file_ids"]],
        )
        store_ids.append(store.id)
    return {**tool_resources, "file_search": {"vector_store_ids": store_ids}}


def attach_to_thread(project: Project, tool_resources: dict[str, Any], file_ids: list[str]) -> dict[str, Any]:
    """Adds message attachments meant for file_search to the thread's store, creating the store if the
    thread has none. Returns the thread's tool_resources, updated when a store was created."""
    if not file_ids:
        return tool_resources
    store_ids = (tool_resources.get("file_search") or {}).get("vector_store_ids") or []
    files = [NewFile(file_id) for file_id in file_ids]
    current = VectorStore.objects.filter(project=project, pk__in=store_ids[:1]).first()
    if current is not None and not current.is_expired():
        _add_files(current, files)
        return tool_resources
    # None yet, or the one named was deleted or has expired: the thread gets a new one.
    store = create_store(project, expires_after=THREAD_STORE_EXPIRY, files=files)
    return {**tool_resources, "file_search": {"vector_store_ids": [store.id]}}
