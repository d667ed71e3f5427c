"""Thin Celery tasks: ids in, services out."""

from celery import shared_task

from console.vector_stores import ingest, services


@shared_task(name=ingest.INGEST_FILE_TASK, acks_late=True, ignore_result=True)
def ingest_file(vector_store_id: str, file_id: str) -> None:
    ingest.ingest(vector_store_id, file_id)


@shared_task(ignore_result=True)
def expire_stores_and_requeue_ingestion() -> dict[str, int]:
    """Expires vector stores past their expires_after, and re-queues ingestion whose claim went stale."""
    return {"expired": services.expire_stores(), "requeued": ingest.requeue_stale()}
