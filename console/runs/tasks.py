"""Thin Celery tasks: ids in, services out. A run's execution task is console.engine.tasks."""

from celery import shared_task

from console.runs.services import reap_runs as reap


@shared_task(ignore_result=True)
def reap_runs() -> dict[str, int]:
    return reap()
