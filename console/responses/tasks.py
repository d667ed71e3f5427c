"""Thin Celery tasks for responses: ids in, the engine out. (Beat reaps them in a thread of its own.)"""

from celery import shared_task

from console.engine.response_executor import execute
from console.responses import lifecycle


@shared_task(name=lifecycle.EXECUTE_RESPONSE_TASK, acks_late=True, ignore_result=True)
def execute_response(response_id: str) -> None:
    execute(response_id)
