"""A deterministic embedder for tests: words hashed into buckets, with a few synonyms folded."""

from __future__ import annotations

import hashlib
import math
import re

from console.retrieval.chunking import TextChunk
from console.retrieval.index import index_file

SYNONYMS = {"feline": "cat", "felines": "cat", "cats": "cat", "kitten": "cat", "canine": "dog", "dogs": "dog"}


class HashEmbedder:
    name = "hash-test"

    def __init__(self, dimensions: int = 64) -> None:
        self.dimensions = dimensions
        self.calls = 0

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in re.findall(r"\w+", text.lower()):
            word = SYNONYMS.get(word, word)
            bucket = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big") % self.dimensions
            vector[bucket] += 1.0
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]


def add(
    store: str,
    file_id: str,
    texts: list[str],
    attributes: dict | None = None,
    embedder: HashEmbedder | None = None,
    filename: str | None = None,
) -> int:
    chunks = [TextChunk(text=text, tokens=len(text.split())) for text in texts]
    embeddings = embedder.embed(texts) if embedder else None
    return index_file(store, file_id, filename or f"{file_id}.txt", chunks, attributes or {}, embeddings)
