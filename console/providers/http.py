"""The HTTP clients every provider call uses (chat, embeddings, models, pass-through), and their
one retry policy.

Async calls (the worker's engine loop, the API's async views) use httpx's AsyncClient over
aiohttp (httpx-aiohttp): the same httpx API, at a fraction of httpx's own CPU per streamed chunk
(docs/benchmarks.md). Sync calls (embeddings, from tasks and sync views) use httpx.Client.
Both are plain clients built from settings: HTTP(S)_PROXY, NO_PROXY, SSL_CERT_FILE and
SSL_CERT_DIR apply (trust_env), except that loopback is never proxied; the connection limit and
pool timeout apply too.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator

import httpx
from django.conf import settings
from httpx_aiohttp import HttpxAiohttpClient

from console.core.proxies import direct_mounts
from console.providers.routing import configured_routes

MAX_ATTEMPTS = 4
BACKOFF_CAP = 8.0


def timeout() -> httpx.Timeout:
    """Every provider call's timeouts. `read` is PROVIDER_READ_TIMEOUT: the longest a provider may
    send nothing (no headers, no byte) before the call fails; streams also bound the time between
    data chunks by it (console/providers/chat.py), so keep-alive comments do not hold a run."""
    return httpx.Timeout(connect=10.0, read=settings.PROVIDER_READ_TIMEOUT, write=30.0, pool=30.0)


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)
_sync_client: httpx.Client | None = None
_sync_lock = threading.Lock()


def _limits() -> httpx.Limits:
    most = settings.PROVIDER_MAX_CONNECTIONS
    return httpx.Limits(max_connections=most, max_keepalive_connections=max(1, most // 4))


def _mounts() -> dict[str, None]:
    """Loopback providers (the demo model, a local Ollama...) are reached directly, never through
    HTTP(S)_PROXY (console/core/proxies.py)."""
    urls = [route.base_url for route in configured_routes()]
    return direct_mounts([*urls, settings.EMBEDDINGS_BASE_URL])


def async_client() -> httpx.AsyncClient:
    """This event loop's client (a client's connections belong to one loop)."""
    loop = asyncio.get_running_loop()
    found = _async_clients.get(loop)
    if found is None:
        found = HttpxAiohttpClient(timeout=timeout(), limits=_limits(), trust_env=True, mounts=_mounts())
        _async_clients[loop] = found
    return found


async def aclose_async_client() -> None:
    """Closes this event loop's client (a loop that ends without this leaves aiohttp warnings)."""
    found = _async_clients.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.aclose()


def sync_client() -> httpx.Client:
    global _sync_client
    with _sync_lock:
        if _sync_client is None:
            _sync_client = httpx.Client(timeout=timeout(), limits=_limits(), trust_env=True, mounts=_mounts())
        return _sync_client


async def until_idle(pieces: AsyncIterator[bytes], idle: float) -> AsyncIterator[bytes]:
    """An event stream's body as it comes; raises TimeoutError once `idle` seconds pass without a
    `data:` line (keep-alive comments alone do not hold a stream open)."""
    loop = asyncio.get_running_loop()
    source = pieces.__aiter__()
    deadline = loop.time() + idle
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                piece = await anext(source)
        except StopAsyncIteration:
            return
        if b"data:" in piece:
            deadline = loop.time() + idle
        yield piece


def headers_for(api_key: str, content_type: str | None = "application/json") -> dict[str, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def retryable(status: int) -> bool:
    return status == 429 or status >= 500


def retry_delay(attempt: int, retry_after: str | None = None) -> float:
    """Seconds to wait before attempt + 1: the provider's retry-after, else exponential backoff."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), BACKOFF_CAP)
        except ValueError:
            pass
    return min(settings.PROVIDER_RETRY_BACKOFF * (2**attempt), BACKOFF_CAP)
