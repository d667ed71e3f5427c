from __future__ import annotations

import pytest

from console.retrieval.embeddings import (
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    get_embedder,
    local_embeddings_installed,
)
from tests.fakeprovider import Error


@pytest.fixture
def fake(provider_server, settings):  # type: ignore[no-untyped-def]
    """The fake provider (tests/fakeprovider.py) serves /v1/embeddings; retries do not wait."""
    provider_server.reset()
    settings.PROVIDER_RETRY_BACKOFF = 0
    yield provider_server
    provider_server.reset()


def test_it_posts_to_the_embeddings_endpoint(fake) -> None:
    embedder = OpenAIEmbedder(fake.base_url + "/", "text-embedding-3-small", "sk-x", 3)
    assert embedder.embed(["a", "bbb"]) == [[1.0, 1.0, 0.0], [3.0, 1.0, 0.0]]
    [call] = fake.calls
    assert call["path"] == "/v1/embeddings"
    assert call["auth"] == "Bearer sk-x"
    assert call["body"] == {
        "model": "text-embedding-3-small",
        "input": ["a", "bbb"],
        "encoding_format": "float",
        "dimensions": 3,
    }
    assert embedder.dimensions == 3


def test_it_batches_inputs(fake) -> None:
    embedder = OpenAIEmbedder(fake.base_url, "m", "sk-y")
    vectors = embedder.embed([str(i) for i in range(300)])
    assert len(vectors) == 300
    assert [len(c["body"]["input"]) for c in fake.calls] == [128, 128, 44]
    assert "dimensions" not in fake.calls[0]["body"] and fake.calls[0]["auth"] == "Bearer sk-y"
    assert embedder.dimensions == 3


def test_it_retries_busy_providers(fake) -> None:
    fake.script(Error(429), Error(503))
    embedder = OpenAIEmbedder(fake.base_url, "m", "sk-x")
    assert len(embedder.embed(["x"])) == 1
    assert len(fake.calls) == 3


def test_it_gives_up_after_bounded_retries(fake) -> None:
    fake.script(Error(500, times=10))
    embedder = OpenAIEmbedder(fake.base_url, "m", "sk-x")
    with pytest.raises(EmbeddingError):
        embedder.embed(["x"])
    assert len(fake.calls) == 4


def test_it_does_not_retry_client_errors(fake) -> None:
    fake.script(Error(400))
    embedder = OpenAIEmbedder(fake.base_url, "m", "sk-x")
    with pytest.raises(EmbeddingError, match="400"):
        embedder.embed(["x"])
    assert len(fake.calls) == 1


def test_it_is_configured_by_settings(settings) -> None:
    settings.EMBEDDINGS_BASE_URL = ""
    settings.EMBEDDINGS_MODEL = ""
    settings.EMBEDDINGS_LOCAL = False
    assert get_embedder() is None

    settings.EMBEDDINGS_BASE_URL = "http://emb.test/v1"
    settings.EMBEDDINGS_MODEL = "nomic-embed-text"
    settings.EMBEDDINGS_DIMENSIONS = 256
    embedder = get_embedder()
    assert isinstance(embedder, OpenAIEmbedder)
    assert (embedder.name, embedder.dimensions, embedder.url) == (
        "nomic-embed-text",
        256,
        "http://emb.test/v1/embeddings",
    )


def test_it_embeds_locally(settings) -> None:
    assert local_embeddings_installed(), "the local-embeddings extra is missing (make test installs it)"
    settings.EMBEDDINGS_BASE_URL = ""
    settings.EMBEDDINGS_MODEL = ""
    settings.EMBEDDINGS_LOCAL = True
    embedder = get_embedder()
    assert isinstance(embedder, LocalEmbedder)
    vectors = embedder.embed(["How do I reset my password?", "Password reset steps", "Banana bread recipe"])
    assert [len(v) for v in vectors] == [384] * 3

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))  # normalised vectors

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
