import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, celeryd_after_setup, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _freeze_startup_objects(**_: Any) -> None:
    # Imported here: Django is not set up when this module loads.
    from console.core.gc_tuning import freeze_startup_objects

    freeze_startup_objects()
    from console.engine.liveness import start_probe

    start_probe()


@beat_init.connect
def _start_sweeps(**_: Any) -> None:
    """Beat reaps runs and responses and re-queues lost ingestion in threads of its own
    (console/core/sweeps.py): a task would wait behind the hung worker it must catch."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from django.conf import settings

    from console.core import sweeps
    from console.responses.lifecycle import reap_responses
    from console.runs import sweeper
    from console.vector_stores.tasks import expire_stores_and_requeue_ingestion

    sweeper.start()
    sweeps.start("response-reaper", lambda: settings.RUN_REAPER_INTERVAL, reap_responses)
    sweeps.start(
        "ingestion-sweep",
        lambda: settings.INGEST_SWEEP_INTERVAL,
        expire_stores_and_requeue_ingestion,
    )


@celeryd_after_setup.connect
def _consume_own_queue(sender: str, instance: Any, **_: Any) -> None:
    """Each worker process also consumes a queue of its own: code_interpreter calls for the sessions it holds."""
    from console.sandbox.routing import start_worker_queue

    instance.app.amqp.queues.select_add(start_worker_queue(sender))


@worker_shutdown.connect
def _stop_own_queue(**_: Any) -> None:
    from console.sandbox.routing import stop_worker_queue

    stop_worker_queue()
