from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    name = "console.threads"
