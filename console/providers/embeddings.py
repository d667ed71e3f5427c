"""OpenAI-compatible `POST {base}/embeddings`, with the providers' one retry policy (http.py).

Sync: embeddings are made by ingestion tasks and by search in sync views.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from django.conf import settings

from console.providers.http import MAX_ATTEMPTS, headers_for, retry_delay, retryable, sync_client, timeout

log = logging.getLogger(__name__)


class EmbeddingError(Exception):
    """The provider failed for good (after retries), or answered with something unusable."""


def create_embeddings(base_url: str, api_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """The provider's answer to `body`, parsed; raises EmbeddingError when there is none."""
    url = base_url.rstrip("/") + "/embeddings"
    headers = headers_for(api_key)
    for attempt in range(MAX_ATTEMPTS):
        last = attempt == MAX_ATTEMPTS - 1
        try:
            response = sync_client().post(url, json=body, headers=headers, timeout=timeout())
        except httpx.ReadTimeout:
            # Not retried: a stalled provider fails the call within PROVIDER_READ_TIMEOUT.
            raise EmbeddingError(
                f"The embeddings provider sent nothing for {settings.PROVIDER_READ_TIMEOUT:g} s"
                " (PROVIDER_READ_TIMEOUT)."
            ) from None
        except httpx.TransportError as exc:
            if last:
                raise EmbeddingError(f"The embeddings provider could not be reached: {exc}") from exc
            _wait(attempt, None)
            continue
        if retryable(response.status_code):
            if last:
                raise EmbeddingError(f"The embeddings provider answered {response.status_code}.")
            _wait(attempt, response.headers.get("retry-after"))
            continue
        if response.status_code >= 400:
            raise EmbeddingError(
                f"The embeddings provider answered {response.status_code}: {response.text[:300]}"
            )
        try:
            answer = response.json()
        except ValueError as exc:
            raise EmbeddingError("The embeddings provider sent an unreadable answer.") from exc
        if not isinstance(answer, dict):
            raise EmbeddingError("The embeddings provider sent an unreadable answer.")
        return answer
    raise AssertionError("unreachable")


def _wait(attempt: int, retry_after: str | None) -> None:
    delay = retry_delay(attempt, retry_after)
    log.warning("embeddings provider busy or unreachable; retrying in %.1fs", delay)
    time.sleep(delay)
