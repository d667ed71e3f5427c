from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _forget_key(sender: Any, instance: Any, **kwargs: Any) -> None:
    """However a key goes (revoked, deleted alone, or with its project, in the admin or in code), no
    process keeps trusting its cached copy."""
    from console.projects.services import forget_keys

    if kwargs.get("signal") is post_save and instance.revoked_at is None:
        return
    forget_keys([instance.key_hash])


class ProjectsConfig(AppConfig):
    name = "console.projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console.projects.models import ApiKey

        post_save.connect(_forget_key, sender=ApiKey, dispatch_uid="forget-saved-key")
        post_delete.connect(_forget_key, sender=ApiKey, dispatch_uid="forget-deleted-key")
