"""The only code that talks to model providers: OpenAI-compatible Chat Completions over httpx.

Streams chunks with tool-call deltas and usage (stream_options.include_usage), on the worker's
engine loop (console/engine/loop.py), through console/providers/http.py's client for that loop.
Connect errors, 429 and 5xx are retried (http.py's policy) until the first chunk arrives; after
that a dropped stream is an error, since output has already been shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from console.core.text import storable, storable_or_none
from console.providers import quirks
from console.providers.http import MAX_ATTEMPTS, async_client, headers_for, retry_delay, retryable
from console.providers.routing import NoProvider, route_for

log = logging.getLogger(__name__)


class ProviderError(Exception):
    """A provider call that failed for good. `code` is the run's last_error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class Chunk:
    content: str | None = None
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, int] | None = None


def _parse_chunk(payload: dict[str, Any]) -> Chunk:
    chunk = Chunk(usage=payload.get("usage"))
    for choice in payload.get("choices") or []:
        delta = choice.get("delta") or {}
        chunk.content = storable_or_none(delta.get("content") or None)
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            chunk.tool_calls.append(
                ToolCallDelta(
                    index=call.get("index", 0),
                    id=call.get("id"),
                    name=storable_or_none(function.get("name")),
                    arguments=storable(function.get("arguments") or ""),
                )
            )
        chunk.finish_reason = choice.get("finish_reason")
    return chunk


class _SSEData:
    """Splits an event stream's bytes into its `data:` payloads, by hand: httpx's aiter_lines
    costs more per token."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, piece: bytes) -> list[bytes]:
        buffer = self.buffer + piece
        found = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if line.startswith(b"data:"):
                found.append(line[5:].strip())
        self.buffer = buffer[start:]
        return found

    def rest(self) -> list[bytes]:
        return [self.buffer[5:].strip()] if self.buffer.startswith(b"data:") else []


async def _error_message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(await response.aread())
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    except (orjson.JSONDecodeError, httpx.HTTPError):
        pass
    return f"HTTP {response.status_code}"


async def stream_chat(
    body: dict[str, Any], after_tool_outputs: bool = False
) -> AsyncGenerator[list[Chunk], None]:
    """Streams a chat completion for body["model"]; raises ProviderError when it cannot.

    The request is reshaped for the provider's quirks (console/providers/quirks.py);
    after_tool_outputs says the run already had tool outputs back.

    Yields the chunks of each network read together: when several tokens are already waiting,
    the caller handles (and publishes) them as one.
    """
    try:
        route = route_for(body["model"])
    except NoProvider as exc:
        raise ProviderError("server_error", str(exc)) from None
    request = {**body, "model": route.model, "stream": True, "stream_options": {"include_usage": True}}
    # Uncompressed, so the body is read raw: httpx's decoder chain costs CPU on every chunk.
    headers = {**headers_for(route.api_key), "Accept-Encoding": "identity"}
    request = quirks.adapt(request, route.quirks, after_tool_outputs)
    fixer = quirks.StreamFixer.for_request(request, route.quirks)
    url = f"{route.base_url}/chat/completions"
    content = orjson.dumps(request)

    for attempt in range(MAX_ATTEMPTS):
        last = attempt == MAX_ATTEMPTS - 1
        yielded = False
        try:
            async with async_client().stream("POST", url, content=content, headers=headers) as response:
                if response.status_code >= 400:
                    message = await _error_message(response)
                    status = response.status_code
                    if retryable(status) and not last:
                        log.warning("provider answered %s; retrying", status)
                        await asyncio.sleep(retry_delay(attempt, response.headers.get("retry-after")))
                        continue
                    if status == 429:
                        raise ProviderError(
                            "rate_limit_exceeded", f"The model provider is rate limiting: {message}"
                        )
                    if status in (400, 404, 413, 422):
                        raise ProviderError(
                            "invalid_prompt", f"The model provider refused the request: {message}"
                        )
                    raise ProviderError(
                        "server_error", f"The model provider failed (HTTP {status}): {message}"
                    )
                lines = _SSEData()
                finished = False
                if fixer is not None:  # a retry starts the answer afresh
                    fixer = quirks.StreamFixer.for_request(request, route.quirks)
                encoded = response.headers.get("content-encoding", "identity") != "identity"
                async for piece in response.aiter_bytes() if encoded else response.aiter_raw():
                    chunks, finished = _chunks(lines.feed(piece))
                    if fixer is not None:
                        fixer.apply(chunks)
                    if chunks:
                        yielded = True
                        yield chunks
                    if finished:
                        break
                if not finished:
                    chunks, finished = _chunks(lines.rest())
                    if fixer is not None:
                        fixer.apply(chunks)
                    if chunks:
                        yield chunks
                if not finished:
                    raise ProviderError(
                        "server_error", "The model provider's stream ended before it was complete."
                    )
                return
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # httpx-aiohttp reports a connection the server closed as a ConnectTimeout, mid-stream too.
            if yielded:
                raise ProviderError(
                    "server_error", f"The connection to the model provider failed mid-stream: {exc!r}"
                ) from None
            if last:
                raise ProviderError("server_error", f"Could not reach the model provider: {exc}") from None
            await asyncio.sleep(retry_delay(attempt))
        except (httpx.TransportError, orjson.JSONDecodeError) as exc:
            if yielded or last:
                raise ProviderError(
                    "server_error", f"The connection to the model provider failed mid-stream: {exc!r}"
                ) from None
            await asyncio.sleep(retry_delay(attempt))


def _chunks(payloads: list[bytes]) -> tuple[list[Chunk], bool]:
    """The parsed chunks among payloads, and whether the stream's [DONE] came."""
    chunks: list[Chunk] = []
    for data in payloads:
        if data == b"[DONE]":
            return chunks, True
        chunks.append(_parse_chunk(orjson.loads(data)))
    return chunks, False
