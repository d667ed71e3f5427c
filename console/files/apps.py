from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "console.files"
