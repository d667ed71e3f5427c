import os
from typing import Any

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _freeze_startup_objects(**_: Any) -> None:
    # Imported here: Django is not set up when this module loads.
    from console.core.gc_tuning import freeze_startup_objects

    freeze_startup_objects()
