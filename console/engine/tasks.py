"""The run's Celery task: the one way into run execution.

The runs app enqueues it by name (`console.runs.lifecycle.enqueue`), so the runs app never
imports the engine; the engine imports the runs app.
"""

from celery import shared_task

from console.engine.executor import execute
from console.runs import lifecycle


@shared_task(name=lifecycle.EXECUTE_RUN_TASK, acks_late=True, ignore_result=True)
def execute_run(run_id: str) -> None:
    execute(run_id)
