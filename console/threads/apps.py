from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    name = "console.threads"

    def ready(self) -> None:
        from console.threads import activity

        activity.connect()
