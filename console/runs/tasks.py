"""Thin Celery tasks: ids in, services out."""

from celery import shared_task

from console.engine.executor import execute
from console.runs.services import reap_runs as reap


@shared_task(acks_late=True, ignore_result=True)
def execute_run(run_id: str) -> None:
    execute(run_id)


@shared_task(ignore_result=True)
def reap_runs() -> dict[str, int]:
    return reap()
