from django.apps import AppConfig


class PassthroughConfig(AppConfig):
    name = "console.passthrough"
