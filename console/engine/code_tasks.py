"""Thin Celery task: a code_interpreter call sent to the worker that holds the thread's session."""

from celery import shared_task

from console.engine import code_tool
from console.sandbox import routing


# Not acks_late: the task is bound to one process's memory; redelivered elsewhere it would be wrong.
@shared_task(ignore_result=True)
def run_code_in_session(run_id: str, code: str, reply_key: str) -> None:
    routing.reply(reply_key, code_tool.run_code_in_session(run_id, code))
