"""The one way console pages reach the Assistants API: httpx, explicit timeouts, keys kept server-side.

By default a project's upstream is this server's own /v1 (CONSOLE_SELF_URL), called with a project
key the console created for itself on first use. An admin may point a project at another
Assistants-compatible server instead. Keys are stored Fernet-encrypted and leave this module only
as an Authorization header.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.core.proxies import direct_mounts
from console.projects.models import ApiKey, Project
from console.projects.services import create_api_key
from console.web import crypto, wording
from console.web.models import Upstream

log = logging.getLogger(__name__)

HEADERS = {"OpenAI-Beta": "assistants=v2", "User-Agent": "assistants-console"}


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: building one loads the CA bundle (~20 ms), once per process is enough."""
    return httpx.create_ssl_context()


def _timeout() -> httpx.Timeout:
    return httpx.Timeout(settings.CONSOLE_UPSTREAM_TIMEOUT, connect=settings.CONSOLE_UPSTREAM_CONNECT_TIMEOUT)


def self_url() -> str:
    return settings.CONSOLE_SELF_URL.rstrip("/")


class UpstreamError(Exception):
    """A failed call, with a message fit for the page; `param` names the field the API blamed."""

    def __init__(
        self, message: str, status: int | None = None, param: str | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code

    @property
    def plain(self) -> wording.Plain:
        """The error as a sentence for people, the API's code and message as its details."""
        return wording.plain(self.message, self.code, self.param)

    @property
    def is_unavailable(self) -> bool:
        return self.status is None or self.status >= 500

    @property
    def not_found(self) -> bool:
        return self.status == 404


class UpstreamTimeout(UpstreamError):
    """The API did not answer within CONSOLE_UPSTREAM_TIMEOUT (pages answer 504)."""


@dataclass(frozen=True)
class Connection:
    base_url: str
    key: str
    is_self: bool

    def __repr__(self) -> str:  # never print the key
        return f"Connection({self.base_url!r}, is_self={self.is_self})"


def _key_is_live(row: Upstream) -> bool:
    return (
        row.api_key_id is not None
        and ApiKey.objects.filter(pk=row.api_key_id, revoked_at__isnull=True).exists()
    )


def _reencrypt(row: Upstream) -> None:
    """A key still under a SECRET_KEY_FALLBACKS secret moves to the current SECRET_KEY on first use."""
    if not getattr(settings, "SECRET_KEY_FALLBACKS", None):
        return
    rotated = crypto.rotate(row.key_encrypted)
    if rotated is not None and crypto.decrypt_current(row.key_encrypted) is None:
        Upstream.objects.filter(pk=row.pk, key_encrypted=row.key_encrypted).update(key_encrypted=rotated)
        row.key_encrypted = rotated


def connection_for(project: Project) -> Connection:
    row = Upstream.objects.filter(project=project).first()
    if row is not None:
        _reencrypt(row)
    if row is not None and not row.is_self:
        key = crypto.decrypt(row.key_encrypted)
        if key is None:
            raise UpstreamError(
                "The upstream key can no longer be decrypted (SECRET_KEY changed?). An admin must set it again."
            )
        return Connection(row.base_url.rstrip("/"), key, is_self=False)
    key = crypto.decrypt(row.key_encrypted) if row is not None and _key_is_live(row) else None
    if key is None:
        key = _new_self_key(project)
    return Connection(self_url(), key, is_self=True)


def _new_self_key(project: Project) -> str:
    with transaction.atomic():
        api_key, raw = create_api_key(project, name="console (server-held)")
        Upstream.objects.update_or_create(
            project=project,
            defaults={
                "base_url": "",
                "key_encrypted": crypto.encrypt(raw),
                "api_key": api_key,
                "key_hint": api_key.redacted[-4:],
                "updated_at": timezone.now(),
            },
        )
    return raw


def set_remote(project: Project, base_url: str, key: str) -> Upstream:
    row, _ = Upstream.objects.update_or_create(
        project=project,
        defaults={
            "base_url": base_url.rstrip("/"),
            "key_encrypted": crypto.encrypt(key),
            "api_key": None,
            "key_hint": key[-4:] if len(key) >= 8 else "",
            "updated_at": timezone.now(),
        },
    )
    return row


def use_self(project: Project) -> None:
    Upstream.objects.filter(project=project).delete()


def _error_from(response: httpx.Response) -> UpstreamError:
    message, param, code = f"The API answered {response.status_code}.", None, None
    try:
        body = response.json()
        error = body.get("error") or {}
        message = error.get("message") or message
        param, code = error.get("param"), error.get("code")
    except (ValueError, AttributeError):
        pass
    if response.status_code >= 500:
        message = f"The API failed ({response.status_code}): {message}"
    elif response.status_code == 401:
        message = "The API rejected the console's key. An admin should check the upstream settings."
    return UpstreamError(message, response.status_code, param, code)


def _transport_error(exc: httpx.HTTPError) -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout("The API did not answer in time. Try again in a moment.")
    return UpstreamError("The API cannot be reached right now. Try again in a moment.")


class Client:
    """A short-lived sync client for one page request."""

    def __init__(self, connection: Connection, transport: httpx.BaseTransport | None = None):
        self.connection = connection
        self._http = httpx.Client(
            base_url=connection.base_url + "/",
            headers={**HEADERS, "Authorization": f"Bearer {connection.key}"},
            timeout=_timeout(),
            transport=transport,
            verify=_tls(),
            mounts=None if transport else direct_mounts([connection.base_url]),
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path.lstrip("/"), **kwargs)
        except httpx.HTTPError as exc:
            log.warning("upstream %s %s failed: %s", method, path, type(exc).__name__)
            raise _transport_error(exc) from None
        if response.status_code >= 400:
            raise _error_from(response)
        try:
            return response.json()
        except ValueError:
            raise UpstreamError(
                "The API answered with something that is not JSON.", response.status_code
            ) from None

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request(
            "GET", path, params={k: v for k, v in (params or {}).items() if v not in (None, "")}
        )

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=body or {})

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def upload(
        self, filename: str, content: Any, purpose: str, content_type: str = "application/octet-stream"
    ) -> Any:
        return self.request(
            "POST",
            "files",
            data={"purpose": purpose},
            files={"file": (filename, content, content_type)},
            timeout=httpx.Timeout(300, connect=settings.CONSOLE_UPSTREAM_CONNECT_TIMEOUT),
        )

    def upload_file(self, upload: Any, purpose: str = "assistants") -> Any:
        """A file a browser sent (Django's UploadedFile), under its own name and type."""
        return self.upload(
            upload.name or "upload", upload, purpose, upload.content_type or "application/octet-stream"
        )

    def download(self, file_id: str) -> Iterator[bytes]:
        """The file's bytes, streamed; the caller must exhaust or close the iterator."""
        try:
            with self._http.stream(
                "GET", f"files/{file_id}/content", timeout=httpx.Timeout(300, connect=5)
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_from(response)
                yield from response.iter_bytes()
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from None

    def list_all(
        self, path: str, params: dict[str, Any] | None = None, cap: int = 10000
    ) -> list[dict[str, Any]]:
        """Every item of a list endpoint, page by page (exports need the whole thread)."""
        items: list[dict[str, Any]] = []
        query = {"limit": 100, **(params or {})}
        while len(items) < cap:
            page = self.get(path, query)
            items.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                break
            query["after"] = page["data"][-1]["id"]
        return items


def client_for(project: Project) -> Client:
    return Client(connection_for(project))


async def relay_run_events(connection: Connection, thread_id: str, run_id: str) -> AsyncIterator[bytes]:
    """The raw SSE bytes of a run's event stream (GET .../events), as they arrive.

    An upstream without the events extension gets polled instead: one `thread.run.*` frame per
    status change and the final messages at the end, so the page still finishes.
    """
    timeout = httpx.Timeout(
        settings.CONSOLE_STREAM_IDLE_TIMEOUT, connect=settings.CONSOLE_UPSTREAM_CONNECT_TIMEOUT
    )
    headers = {**HEADERS, "Authorization": f"Bearer {connection.key}", "Accept": "text/event-stream"}
    async with httpx.AsyncClient(
        base_url=connection.base_url + "/",
        headers=headers,
        timeout=timeout,
        verify=_tls(),
        mounts=direct_mounts([connection.base_url]),
    ) as http:
        try:
            async with http.stream("GET", f"threads/{thread_id}/runs/{run_id}/events") as response:
                if response.status_code == 404 and not connection.is_self:
                    await response.aread()
                    async for frame in _poll_run(http, thread_id, run_id):
                        yield frame
                    return
                if response.status_code >= 400:
                    await response.aread()
                    raise _error_from(response)
                async for chunk in response.aiter_raw():
                    yield chunk
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from None


async def _poll_run(http: httpx.AsyncClient, thread_id: str, run_id: str) -> AsyncIterator[bytes]:
    import asyncio
    import json

    last = None
    while True:
        response = await http.get(f"threads/{thread_id}/runs/{run_id}")
        if response.status_code >= 400:
            raise _error_from(response)
        run = response.json()
        if run["status"] != last:
            last = run["status"]
            yield f"event: thread.run.{last}\ndata: {json.dumps(run)}\n\n".encode()
        if last in ("completed", "failed", "cancelled", "expired", "incomplete", "requires_action"):
            messages = (
                await http.get(f"threads/{thread_id}/messages", params={"run_id": run_id, "order": "asc"})
            ).json()
            for message in messages.get("data", []):
                yield f"event: thread.message.completed\ndata: {json.dumps(message)}\n\n".encode()
            yield b"event: done\ndata: [DONE]\n\n"
            return
        await asyncio.sleep(0.5)
