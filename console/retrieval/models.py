"""The search index's rows. Full-text and vector indexes live beside this table (see schema.py)."""

from __future__ import annotations

from django.db import models


class Chunk(models.Model):
    """One token window of one file in one vector store.

    A file in two stores is indexed twice, so deleting it from one store never touches the
    other, and each store's search reads only its own rows.
    """

    vector_store_id = models.CharField(max_length=64, db_index=True)
    file_id = models.CharField(max_length=64, db_index=True)
    position = models.IntegerField()
    text = models.TextField()
    tokens = models.IntegerField()
    attributes = models.JSONField(default=dict)
    filename = models.CharField(max_length=512)

    class Meta:
        indexes = [
            models.Index(fields=["vector_store_id", "file_id", "position"], name="retrieval_chunk_file")
        ]

    def __str__(self) -> str:
        return f"{self.vector_store_id}/{self.file_id}#{self.position}"
