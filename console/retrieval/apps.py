from django.apps import AppConfig
from django.db.backends.signals import connection_created


class RetrievalConfig(AppConfig):
    name = "console.retrieval"

    def ready(self) -> None:
        from console.retrieval.schema import load_sqlite_vec

        connection_created.connect(load_sqlite_vec, dispatch_uid="retrieval.load_sqlite_vec")
