"""Thin Celery tasks: ids in, services out."""

from celery import shared_task

from console.vector_stores import ingest, services


@shared_task(acks_late=True, ignore_result=True)
def ingest_file(vector_store_id: str, file_id: str) -> None:
    ingest.ingest(vector_store_id, file_id)


@shared_task(ignore_result=True)
def expire_vector_stores() -> dict[str, int]:
    return {"expired": services.expire_stores(), "requeued": ingest.requeue_stale()}
