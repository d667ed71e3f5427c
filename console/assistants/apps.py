from django.apps import AppConfig


class AssistantsConfig(AppConfig):
    name = "console.assistants"
