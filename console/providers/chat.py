"""The only code that talks to model providers: OpenAI-compatible Chat Completions over httpx.

Streams chunks with tool-call deltas and usage (stream_options.include_usage), on the worker's
engine loop (console/engine/loop.py), through console/providers/http.py's client for that loop.
Connect errors, 429 and 5xx are retried (http.py's policy) until the first chunk arrives; after
that a dropped stream is an error, since output has already been shown. A request the provider
cannot stream (a quirk, console/providers/quirks.py) is made whole and replayed as chunks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from django.conf import settings

from console.core.text import storable, storable_or_none
from console.providers import quirks
from console.providers.http import (
    MAX_ATTEMPTS,
    async_client,
    headers_for,
    retry_delay,
    retryable,
    until_idle,
)
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


def _error_text(body: bytes, status: int) -> str:
    try:
        payload = orjson.loads(body)
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    except orjson.JSONDecodeError:
        pass
    return f"HTTP {status}"


async def _error_message(response: httpx.Response) -> str:
    try:
        return _error_text(await response.aread(), response.status_code)
    except httpx.HTTPError:
        return f"HTTP {response.status_code}"


def _status_error(status: int, message: str) -> ProviderError:
    """The run's error for a provider's final HTTP error answer."""
    if status == 429:
        return ProviderError("rate_limit_exceeded", f"The model provider is rate limiting: {message}")
    if status in (400, 404, 413, 422):
        return ProviderError("invalid_prompt", f"The model provider refused the request: {message}")
    return ProviderError("server_error", f"The model provider failed (HTTP {status}): {message}")


def _replay(payload: Any) -> list[Chunk]:
    """A whole (non-streamed) chat completion as the chunks its stream would have carried."""
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not choices:
        raise ProviderError("server_error", "The model provider's answer had no choices.")
    choice = choices[0]
    message = choice.get("message") or {}
    chunks = []
    if message.get("content"):
        chunks.append(Chunk(content=storable(message["content"])))
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        delta = ToolCallDelta(
            index=index,
            id=call.get("id"),
            name=storable_or_none(function.get("name")),
            arguments=storable(function.get("arguments") or ""),
        )
        chunks.append(Chunk(tool_calls=[delta]))
    chunks.append(Chunk(finish_reason=choice.get("finish_reason"), usage=payload.get("usage")))
    return chunks


async def _complete(url: str, request: dict[str, Any], headers: dict[str, str]) -> list[Chunk]:
    """One chat completion without streaming (for a provider that cannot stream this request),
    under the same retry policy as a stream."""
    content = orjson.dumps(request)
    for attempt in range(MAX_ATTEMPTS):
        last = attempt == MAX_ATTEMPTS - 1
        try:
            response = await async_client().post(url, content=content, headers=headers)
        except httpx.TransportError as exc:
            if last:
                raise ProviderError("server_error", f"Could not reach the model provider: {exc!r}") from None
            await asyncio.sleep(retry_delay(attempt))
            continue
        status = response.status_code
        if status >= 400:
            if retryable(status) and not last:
                log.warning("provider answered %s; retrying", status)
                await asyncio.sleep(retry_delay(attempt, response.headers.get("retry-after")))
                continue
            raise _status_error(status, _error_text(response.content, status))
        try:
            return _replay(orjson.loads(response.content))
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            raise ProviderError(
                "server_error", "The model provider's answer was not a chat completion."
            ) from None
    raise AssertionError("unreachable")


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
    query = quirks.first_search(request, route.quirks, after_tool_outputs)
    if query is not None:
        search = ToolCallDelta(index=0, name="file_search", arguments=orjson.dumps({"query": query}).decode())
        yield [Chunk(tool_calls=[search]), Chunk(finish_reason="tool_calls")]
        return
    request = quirks.adapt(request, route.quirks, after_tool_outputs)
    fixer = quirks.StreamFixer.for_request(request, route.quirks)
    url = f"{route.base_url}/chat/completions"
    if not quirks.streams(request, route.quirks):
        whole = {key: value for key, value in request.items() if key != "stream_options"}
        chunks = await _complete(url, {**whole, "stream": False}, headers)
        if any(chunk.tool_calls or chunk.content for chunk in chunks):
            if fixer is not None:
                fixer.apply(chunks)
            yield chunks
            return
        # It chose to answer in text, which that mode cannot produce (always empty): the text is
        # asked for again, without tools, and streams.
        request = quirks.without_tools(request)
    content = orjson.dumps(request)

    idle = settings.PROVIDER_READ_TIMEOUT
    client = async_client()
    for attempt in range(MAX_ATTEMPTS):
        last = attempt == MAX_ATTEMPTS - 1
        yielded = False
        stall = _Stall(idle)
        try:
            http_request = client.build_request("POST", url, content=content, headers=headers)
            async with asyncio.timeout(idle):
                response = await client.send(http_request, stream=True)
            stall.headers = True
            try:
                if response.status_code >= 400:
                    async with asyncio.timeout(idle):
                        message = await _error_message(response)
                    status = response.status_code
                    if retryable(status) and not last:
                        log.warning("provider answered %s; retrying", status)
                        await asyncio.sleep(retry_delay(attempt, response.headers.get("retry-after")))
                        continue
                    raise _status_error(status, message)
                lines = _SSEData()
                finished = False
                if fixer is not None:  # a retry starts the answer afresh
                    fixer = quirks.StreamFixer.for_request(request, route.quirks)
                encoded = response.headers.get("content-encoding", "identity") != "identity"
                raw = response.aiter_bytes() if encoded else response.aiter_raw()
                # Idle bound between data lines: bytes that carry none (comments) do not move it.
                async for piece in until_idle(raw, idle):
                    stall.bytes = True
                    chunks, finished = _chunks(lines.feed(piece))
                    stall.chunks += len(chunks)
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
                closing = fixer.closing_text() if fixer is not None else ""
                if closing:
                    yield [Chunk(content=closing)]
                return
            finally:
                await response.aclose()
        except (TimeoutError, httpx.ReadTimeout):
            # A stall is not retried: the run must end within PROVIDER_READ_TIMEOUT of it.
            raise ProviderError("server_error", stall.message()) from None
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


class _Stall:
    """How far a provider's answer got, to say which way it stalled."""

    def __init__(self, idle: float) -> None:
        self.idle = idle
        self.headers = False
        self.bytes = False
        self.chunks = 0

    def message(self) -> str:
        bound = f"{self.idle:g} s (PROVIDER_READ_TIMEOUT)"
        if not self.headers:
            return f"The model provider did not respond: no response headers within {bound}."
        if self.chunks:
            return f"The model provider stalled mid-stream: no data for {bound} after {self.chunks} chunks."
        if self.bytes:
            return f"The model provider sent only keep-alive comments, no data, for {bound}."
        return f"The model provider sent response headers but no data for {bound}."


def _chunks(payloads: list[bytes]) -> tuple[list[Chunk], bool]:
    """The parsed chunks among payloads, and whether the stream's [DONE] came."""
    chunks: list[Chunk] = []
    for data in payloads:
        if data == b"[DONE]":
            return chunks, True
        chunks.append(_parse_chunk(orjson.loads(data)))
    return chunks, False
