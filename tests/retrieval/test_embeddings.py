from __future__ import annotations

import json

import httpx
import pytest

from console.retrieval.embeddings import (
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    get_embedder,
    local_embeddings_installed,
)


def _provider(calls: list[dict], failures: list[int] | None = None) -> httpx.MockTransport:
    pending = list(failures or [])

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append({"url": str(request.url), "auth": request.headers.get("authorization"), "body": body})
        if pending:
            return httpx.Response(pending.pop(0), json={"error": {"message": "busy"}})
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0]}
            for i, t in enumerate(body["input"])
        ]
        return httpx.Response(
            200, json={"object": "list", "data": list(reversed(data)), "model": body["model"]}
        )

    return httpx.MockTransport(handler)


def test_it_posts_to_the_embeddings_endpoint() -> None:
    calls: list[dict] = []
    embedder = OpenAIEmbedder(
        "http://emb.test/v1/", "text-embedding-3-small", "sk-x", 3, transport=_provider(calls)
    )
    assert embedder.embed(["a", "bbb"]) == [[1.0, 1.0, 0.0], [3.0, 1.0, 0.0]]
    assert calls[0]["url"] == "http://emb.test/v1/embeddings"
    assert calls[0]["auth"] == "Bearer sk-x"
    assert calls[0]["body"] == {
        "model": "text-embedding-3-small",
        "input": ["a", "bbb"],
        "encoding_format": "float",
        "dimensions": 3,
    }
    assert embedder.dimensions == 3


def test_it_batches_inputs() -> None:
    calls: list[dict] = []
    embedder = OpenAIEmbedder("http://emb.test/v1", "m", transport=_provider(calls))
    vectors = embedder.embed([str(i) for i in range(300)])
    assert len(vectors) == 300
    assert [len(c["body"]["input"]) for c in calls] == [128, 128, 44]
    assert "dimensions" not in calls[0]["body"] and calls[0]["auth"] is None
    assert embedder.dimensions == 3


def test_it_retries_busy_providers() -> None:
    calls: list[dict] = []
    embedder = OpenAIEmbedder("http://emb.test/v1", "m", transport=_provider(calls, [429, 503]), backoff=0)
    assert len(embedder.embed(["x"])) == 1
    assert len(calls) == 3


def test_it_gives_up_after_bounded_retries() -> None:
    calls: list[dict] = []
    embedder = OpenAIEmbedder("http://emb.test/v1", "m", transport=_provider(calls, [500] * 10), backoff=0)
    with pytest.raises(EmbeddingError):
        embedder.embed(["x"])
    assert len(calls) == 4


def test_it_does_not_retry_client_errors() -> None:
    calls: list[dict] = []
    embedder = OpenAIEmbedder("http://emb.test/v1", "m", transport=_provider(calls, [400]), backoff=0)
    with pytest.raises(EmbeddingError, match="400"):
        embedder.embed(["x"])
    assert len(calls) == 1


def test_it_is_configured_by_settings(settings) -> None:
    settings.EMBEDDINGS_BASE_URL = ""
    settings.EMBEDDINGS_MODEL = ""
    settings.EMBEDDINGS_LOCAL = ""
    assert get_embedder() is None

    settings.EMBEDDINGS_BASE_URL = "http://emb.test/v1"
    settings.EMBEDDINGS_MODEL = "nomic-embed-text"
    settings.EMBEDDINGS_DIMENSIONS = "256"
    embedder = get_embedder()
    assert isinstance(embedder, OpenAIEmbedder)
    assert (embedder.name, embedder.dimensions, embedder.url) == (
        "nomic-embed-text",
        256,
        "http://emb.test/v1/embeddings",
    )


@pytest.mark.skipif(not local_embeddings_installed(), reason="the local-embeddings extra is not installed")
def test_it_embeds_locally(settings) -> None:
    settings.EMBEDDINGS_BASE_URL = ""
    settings.EMBEDDINGS_MODEL = ""
    settings.EMBEDDINGS_LOCAL = "1"
    embedder = get_embedder()
    assert isinstance(embedder, LocalEmbedder)
    vectors = embedder.embed(["How do I reset my password?", "Password reset steps", "Banana bread recipe"])
    assert [len(v) for v in vectors] == [384] * 3

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))  # normalised vectors

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
