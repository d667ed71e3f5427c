from django.apps import AppConfig


class VectorStoresConfig(AppConfig):
    name = "console.vector_stores"
