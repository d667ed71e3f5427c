from django.apps import AppConfig


class ResponsesConfig(AppConfig):
    name = "console.responses"
