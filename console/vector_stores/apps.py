from typing import Any

from django.apps import AppConfig
from django.db.models.signals import pre_delete


def _forget_deleted_file(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A deleted file leaves every vector store, chunks included."""
    from console.vector_stores.services import forget_file

    forget_file(instance.pk)


class VectorStoresConfig(AppConfig):
    name = "console.vector_stores"

    def ready(self) -> None:
        from console.files.models import File

        pre_delete.connect(
            _forget_deleted_file, sender=File, dispatch_uid="vector_stores.forget_deleted_file"
        )
