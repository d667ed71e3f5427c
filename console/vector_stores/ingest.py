"""Ingestion of one vector store file: parse, chunk, embed when configured, index.

A file ends `completed`, or `failed` with last_error; it never holds up the other files of its
store or batch. The row is claimed with a compare-and-swap before the work and finished with one
after it, so a file cancelled, re-added or removed meanwhile keeps no stale chunks.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TypeVar

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from console.core import database
from console.core.errors import is_storage_full
from console.files import storage
from console.vector_stores.models import VectorStoreFile

log = logging.getLogger(__name__)

T = TypeVar("T")

SERVER_ERROR_MESSAGE = "An internal error occurred while processing the file."
DISK_FULL_MESSAGE = (
    "The file could not be processed: the server's disk is full (no space left to write its data)."
)


class Discarded(Exception):
    """The file was cancelled, removed or re-added while we worked on it."""


def _unclaimed_or_stale(now: datetime) -> Q:
    """Files nobody works on: never claimed, or claimed by a worker that stopped refreshing alive_at
    (it died) INGEST_CLAIM_TIMEOUT seconds ago."""
    stale = now - timedelta(seconds=settings.INGEST_CLAIM_TIMEOUT)
    return Q(claimed_at__isnull=True) | Q(alive_at__lt=stale) | Q(alive_at__isnull=True, claimed_at__lt=stale)


def _claim(store_id: str, file_id: str) -> datetime | None:
    now = timezone.now()
    claimed = (
        VectorStoreFile.objects.filter(store_id=store_id, file_id=file_id, status="in_progress")
        .filter(_unclaimed_or_stale(now))
        .update(claimed_at=now, alive_at=now)
    )
    return now if claimed else None


@contextlib.contextmanager
def _kept_alive(store_id: str, file_id: str, claim: datetime) -> Iterator[None]:
    """Refreshes the claim's alive_at every INGEST_HEARTBEAT_SECONDS while the file is worked on, so a
    long ingestion is never taken for a dead one, and a dead worker's file is taken over quickly."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.INGEST_HEARTBEAT_SECONDS):
                try:
                    VectorStoreFile.objects.filter(
                        store_id=store_id, file_id=file_id, status="in_progress", claimed_at=claim
                    ).update(alive_at=timezone.now())
                except Exception:  # the database is away for a moment: the next beat tries again
                    log.warning("could not refresh the claim on %s", file_id, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"ingest-alive-{file_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _still_ours(store_id: str, file_id: str, claim: datetime) -> bool:
    return VectorStoreFile.objects.filter(
        store_id=store_id, file_id=file_id, status="in_progress", claimed_at=claim
    ).exists()


def _index(row: VectorStoreFile, claim: datetime) -> int:
    """Returns the file's usage in bytes: the size of its extracted text."""
    from console.retrieval.chunking import chunk_text
    from console.retrieval.embeddings import get_embedder
    from console.retrieval.index import index_file
    from console.retrieval.parsing import extract_text

    # With object storage the parser reads a temporary local copy, deleted once the text is out.
    with storage.local_path(row.file.storage_name) as path:
        text = extract_text(path, row.file.filename)
    static = row.chunking_strategy["static"]
    chunks = chunk_text(
        text, max_tokens=static["max_chunk_size_tokens"], overlap=static["chunk_overlap_tokens"]
    )
    # Embedding is the slow, paid part: skip it for a file cancelled while it was parsed.
    if not _still_ours(row.store_id, row.file_id, claim):
        raise Discarded
    embedder = get_embedder()
    embeddings = embedder.embed([chunk.text for chunk in chunks]) if embedder is not None and chunks else None
    index_file(row.store_id, row.file_id, row.file.filename, chunks, row.attributes, embeddings)
    return len(text.encode())


def _finish(row: VectorStoreFile, claim: datetime, status: str, **fields: object) -> bool:
    from console.retrieval import index

    done = VectorStoreFile.objects.filter(pk=row.pk, status="in_progress", claimed_at=claim).update(
        status=status, **fields
    )
    if not done:
        current = VectorStoreFile.objects.filter(pk=row.pk).values_list("status", flat=True).first()
        if current is None or current != "in_progress":
            # Removed or cancelled meanwhile. (A re-added file is in_progress again: its new task reindexes it.)
            index.delete_file(row.store_id, row.file_id)
        return False
    if status != "completed":
        index.delete_file(row.store_id, row.file_id)
        return True
    attributes = VectorStoreFile.objects.filter(pk=row.pk).values_list("attributes", flat=True).first()
    if attributes is not None and attributes != row.attributes:
        index.update_attributes(row.store_id, row.file_id, attributes)
    return True


def _transient() -> tuple[type[BaseException], ...]:
    """Errors of a dependency that may come back (a database restart, object storage away): retried.
    (A file missing from storage is not one: it fails at once, see _index.)"""
    found: tuple[type[BaseException], ...] = (*database.UNREACHABLE, ConnectionError, TimeoutError)
    try:
        from botocore.exceptions import BotoCoreError
    except ImportError:  # pragma: no cover - boto3 is a dependency; keep working without it
        return found
    return (*found, BotoCoreError)


def _outage_message(exc: BaseException) -> str:
    return (
        "The file could not be processed: the database or the file storage stayed unreachable for "
        f"{settings.DB_OUTAGE_SECONDS:g} s ({type(exc).__name__}: {str(exc)[:200]})."
    )


class _Retrying:
    """A bounded backoff over DB_OUTAGE_SECONDS: 1 s doubling to 10 s between attempts."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.delay = 1.0

    def wait(self, exc: BaseException) -> bool:
        """Waits before the next attempt; False once the bound is spent."""
        if time.monotonic() - self.started >= settings.DB_OUTAGE_SECONDS:
            return False
        log.warning("ingestion: a dependency is unreachable (%r); retrying in %.0f s", exc, self.delay)
        database.drop_broken_connections()
        connection.close()  # a broken connection is not reused
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, 10.0)
        return True


def _retried(retrying: _Retrying, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    while True:
        try:
            return fn(*args, **kwargs)
        except _transient() as exc:
            if not retrying.wait(exc):
                raise


def ingest(store_id: str, file_id: str) -> None:
    """Ingests one file. A database or storage error is retried (the whole file, keeping the claim)
    for up to DB_OUTAGE_SECONDS; then the file fails with a last_error that says so."""
    from console.retrieval.embeddings import EmbeddingError
    from console.retrieval.parsing import ParseError

    retrying = _Retrying()
    claim = _retried(retrying, _claim, store_id, file_id)
    if claim is None:
        return  # finished, cancelled, removed, or another worker has it
    while True:
        try:
            row = (
                VectorStoreFile.objects.filter(store_id=store_id, file_id=file_id)
                .select_related("file")
                .first()
            )
            if row is None:
                return
            with _kept_alive(store_id, file_id, claim):
                usage = _index(row, claim)
        except Discarded:
            _retried(retrying, _finish, row, claim, "cancelled")
        except ParseError as exc:
            _retried(
                retrying, _finish, row, claim, "failed", last_error={"code": exc.code, "message": exc.message}
            )
        except EmbeddingError as exc:  # retried already (console/providers/http.py's policy)
            log.warning("ingesting %s into %s: %s", file_id, store_id, exc)
            _retried(
                retrying,
                _finish,
                row,
                claim,
                "failed",
                last_error={"code": "server_error", "message": str(exc)},
            )
        except _transient() as exc:
            if retrying.wait(exc):
                continue
            log.error("ingesting %s into %s failed: %r", file_id, store_id, exc)
            error = {"code": "server_error", "message": _outage_message(exc)}
            _retried(_Retrying(), _finish, row, claim, "failed", last_error=error)
        except Exception as exc:
            log.exception("ingesting %s into %s failed", file_id, store_id)
            message = DISK_FULL_MESSAGE if is_storage_full(exc) else SERVER_ERROR_MESSAGE
            _retried(
                retrying,
                _finish,
                row,
                claim,
                "failed",
                last_error={"code": "server_error", "message": message},
            )
        else:
            _retried(retrying, _finish, row, claim, "completed", usage_bytes=usage, last_error=None)
        return


# The task is sent by name, so this module (which the task calls) never imports the task module.
INGEST_FILE_TASK = "console.vector_stores.tasks.ingest_file"


def send(store_id: str, file_id: str, *, retry: bool = True) -> None:
    """Queues the ingestion of one file now."""
    current_app.send_task(INGEST_FILE_TASK, args=(store_id, file_id), retry=retry)


_send_failed_at = -1e9


def _send_after_commit(store_id: str, file_id: str) -> None:
    global _send_failed_at
    if time.monotonic() - _send_failed_at < 5:
        return  # the queue just failed us: do not spend a request's time on each file of a batch
    try:
        send(store_id, file_id, retry=False)
    except Exception:
        _send_failed_at = time.monotonic()
        raise


def enqueue(store_id: str, file_id: str) -> None:
    """Queues the ingestion of one file once the current transaction commits. Robust: a queue that
    went away after the request checked it must not turn a committed request into a 500;
    requeue_stale sends the task again later."""
    transaction.on_commit(functools.partial(_send_after_commit, store_id, file_id), robust=True)


def requeue_stale(now: datetime | None = None) -> int:
    """Re-enqueues files whose task may have been lost: never claimed INGEST_REQUEUE_AFTER seconds
    after they were added (Redis lost its data), or claimed by a worker that died (its claim went
    stale). The claim keeps a duplicate task from doing the work twice."""
    now = now or timezone.now()
    unclaimed = now - timedelta(seconds=settings.INGEST_REQUEUE_AFTER)
    pending = (
        VectorStoreFile.objects.filter(status="in_progress")
        .filter(_unclaimed_or_stale(now))
        .exclude(claimed_at__isnull=True, created_at__gte=unclaimed)
    )
    count = 0
    for store_id, file_id in pending.values_list("store_id", "file_id"):
        try:
            send(store_id, file_id)
        except Exception:  # the broker is away: the next sweep tries again
            log.warning(
                "could not enqueue ingestion of %s again; retrying at the next sweep", file_id, exc_info=True
            )
            break
        count += 1
    return count
