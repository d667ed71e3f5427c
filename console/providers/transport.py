"""httpx's connections to model providers: a lean HTTP/1.1 transport on an asyncio.Protocol.

Why: the worker streams Chat Completions token by token, and every token used to pass httpx ->
httpcore -> h11 -> asyncio.StreamReader, with an asyncio.timeout around each read. That stack cost
about 45 us of CPU per streamed chunk; most of it was per-chunk bookkeeping, not HTTP. This module is
an httpx.AsyncBaseTransport (httpx's documented extension point) that speaks HTTP/1.1 itself, so the
client API stays httpx (AsyncClient, Request/Response, aiter_bytes, httpx's exceptions and its
Content-Encoding decoding) while the per-chunk path is: data_received appends the bytes to a list and
wakes one future; the body stream joins what is there, decodes the chunked framing with bytes.find
and yields it. No timer, exception or regex per chunk.

What it does:
- HTTP/1.1 over TCP (TCP_NODELAY) or TLS (loop.create_connection(ssl=...), SNI, ALPN http/1.1;
  default context from httpx.create_ssl_context(), which honours SSL_CERT_FILE / SSL_CERT_DIR).
- Request bodies from request.stream, framed with chunked encoding when httpx chose it; write flow
  control (pause_writing / resume_writing) under the write timeout.
- Responses: 1xx interim responses skipped (101 is returned, its connection is never reused); bodies
  framed by HEAD/204/304, Transfer-Encoding: chunked (extensions and trailers accepted and dropped),
  Content-Length, or else read until the peer closes. A body the peer cuts short is an error.
- Timeouts from request.extensions["timeout"]: connect -> ConnectTimeout, write -> WriteTimeout,
  read -> ReadTimeout once no byte has arrived for `read` seconds while a read waits. One timer per
  connection, rescheduled lazily when it fires, never per chunk.
- Keep-alive pool keyed by (scheme, host, port), bounded by limits.max_keepalive_connections and
  limits.keepalive_expiry. Connections the peer closed are skipped; when a reused connection dies
  before any byte of the response (a stale keep-alive), the request is sent once more on a fresh
  connection, if its body can be replayed (a bytes body, as stream_chat sends).
- Failures are httpx's exceptions with request=: ConnectError/ConnectTimeout before the request is
  sent, ReadError/WriteError/RemoteProtocolError/ReadTimeout/WriteTimeout after; so callers that
  retry connect errors and treat other TransportErrors as mid-stream failures keep working.
- A cancelled read or write closes its connection; only a fully read body of a reusable response
  (HTTP/1.1, no Connection: close, not read-until-close) returns its connection to the pool.

What it does not do: HTTP/2, Unix sockets, protocol upgrades (a 101's connection is closed), and
limits.max_connections (connections are opened as requests need them; the providers' own limits and
the worker's concurrency bound them). Proxies never reach it: httpx mounts its own proxy transports for
the proxy environment variables, ahead of the client's transport. A ProviderTransport belongs to one
event loop, like the one httpx.AsyncClient per loop that console.providers.chat keeps.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import cast

import httpx

_MAX_HEAD = 64 * 1024  # bytes of status line and headers
_MAX_LINE = 4 * 1024  # a chunk-size line
_MAX_TRAILERS = 16 * 1024
_HEX = b"0123456789abcdefABCDEF"
_JOIN_BELOW = 256 * 1024  # a request body piece smaller than this is copied to go out with the head
_PAUSE_AT = 64  # unread data_received pieces before reading pauses
_TIMER_SLACK = 0.001  # a timer may fire this early (the loop's clock resolution)

# Body framings
_EMPTY, _LENGTH, _CHUNKED, _UNTIL_CLOSE = 0, 1, 2, 3


class _Disconnected(Exception):
    """The connection closed (or was reset) before any byte of the response arrived."""

    def __init__(self, error: type[httpx.TransportError], message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message

    def to_httpx(self, request: httpx.Request) -> httpx.TransportError:
        return self.error(self.message, request=request)


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection. Received bytes wait in `parts` until the reader takes them."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int], registry: set[_Connection]
    ) -> None:
        self.loop = loop
        self.key = key
        self.registry = registry
        self.transport: asyncio.Transport | None = None
        self.parts: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None
        self.eof = False  # no more bytes will come: the peer closed, the connection was lost or aborted
        self.error: BaseException | None = None  # why the connection was lost, if it was an error
        self.reading_paused = False
        self.write_paused = False
        self.drain: asyncio.Future[None] | None = None
        self.read_timeout: float | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.wait_started = 0.0
        self.timed_out = False
        self.idle_since = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; uvloop's do not subclass asyncio.Transport, so no isinstance check.
        self.transport = cast(asyncio.Transport, transport)
        self.registry.add(self)  # so that the transport's aclose() can drop it

    def data_received(self, data: bytes) -> None:
        parts = self.parts
        parts.append(data)
        if self.waiter is not None:
            self._wake()
        elif len(parts) >= _PAUSE_AT and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> None:
        # Returning None lets the transport close itself; connection_lost follows.
        self.eof = True
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.error is None:
            self.error = exc
        self._forget()
        self._wake()
        self._drained()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._drained()

    # used by the transport and the body stream

    def _wake(self) -> None:
        """Resolves the reader's pending wait, if any."""
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _drained(self) -> None:
        """Resolves the writer's pending drain, if any."""
        drain, self.drain = self.drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _forget(self) -> None:
        """No more bytes will come: out of the registry, its read timer stopped."""
        self.eof = True
        self.registry.discard(self)
        self._stop_timer()

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def take(self) -> bytes:
        """Everything received and not yet read (call only when `parts` is not empty)."""
        parts = self.parts
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        if self.reading_paused and not self.eof and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return data

    async def wait(self, request: httpx.Request) -> None:
        """Waits until bytes arrive, the peer closes, or the read timeout passes with neither."""
        loop = self.loop
        waiter = loop.create_future()
        self.waiter = waiter
        timeout = self.read_timeout
        if timeout is not None:
            self.wait_started = now = loop.time()
            if self.timer is None:
                self.timer = loop.call_at(now + timeout, self._timer_fired)
        try:
            await waiter
        except BaseException:  # cancelled: the connection is mid-exchange, so it cannot be reused
            self.waiter = None
            self.abort()
            raise
        if self.timed_out:
            self.abort()
            raise httpx.ReadTimeout(f"no data from the provider for {timeout} s", request=request)

    def _timer_fired(self) -> None:
        self.timer = None
        waiter = self.waiter
        timeout = self.read_timeout
        if waiter is None or waiter.done() or timeout is None:
            return  # not waiting now; the next wait() schedules a timer again
        due = self.wait_started + timeout
        if self.loop.time() + _TIMER_SLACK >= due:
            self.timed_out = True
            self.waiter = None
            waiter.set_result(None)
        else:  # the current wait began after this timer was set
            self.timer = self.loop.call_at(due, self._timer_fired)

    def prepare(self, read_timeout: float | None) -> None:
        self.read_timeout = read_timeout
        self.timed_out = False
        self._stop_timer()

    async def write(self, data: bytes, timeout: float | None, request: httpx.Request) -> None:
        transport = self.transport
        if self.eof or transport is None or transport.is_closing():
            raise _Disconnected(httpx.WriteError, "the connection to the provider closed")
        transport.write(data)
        if not self.write_paused:
            return
        drain = self.loop.create_future()
        self.drain = drain
        try:
            async with asyncio.timeout(timeout):
                await drain
        except TimeoutError:
            self.abort()
            raise httpx.WriteTimeout(
                f"could not write to the provider for {timeout} s", request=request
            ) from None
        except BaseException:
            self.abort()
            raise
        if self.eof and self.write_paused:
            raise _Disconnected(httpx.WriteError, "the connection to the provider closed during the write")

    def close(self) -> None:
        """Closes an idle connection gracefully."""
        self._forget()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drops a connection at once, whatever is in flight on it."""
        self._forget()
        if self.transport is not None:
            self.transport.abort()


class _Body(httpx.AsyncByteStream):
    """A response body: yields what has arrived at each wake-up, decoded from its framing."""

    def __init__(
        self,
        owner: ProviderTransport,
        conn: _Connection,
        request: httpx.Request,
        framing: int,
        length: int,
        reusable: bool,
    ) -> None:
        self.owner = owner
        self.conn: _Connection | None = conn
        self.request = request
        self.framing = framing
        self.length = length
        self.remaining = length  # _LENGTH: bytes still due. _CHUNKED: see _chunked()
        self.reusable = reusable
        self.done = framing == _EMPTY
        self.rest = b""  # _CHUNKED: an incomplete size line, CRLF or trailer section

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        conn = self.conn
        if conn is None:
            raise StopAsyncIteration
        while not self.done:
            if conn.parts:
                data = conn.take()
                framing = self.framing
                if framing == _CHUNKED:
                    data = self._chunked(data)
                elif framing == _LENGTH:
                    data = self._sized(data)
                if data:
                    return data
            elif conn.eof:
                self._ended(conn)
            else:
                await conn.wait(self.request)
        raise StopAsyncIteration

    def _sized(self, data: bytes) -> bytes:
        remaining = self.remaining
        size = len(data)
        if size < remaining:
            self.remaining = remaining - size
            return data
        if size > remaining:  # bytes after the body: the connection's framing is lost
            self.reusable = False
            data = data[:remaining]
        self.remaining = 0
        self.done = True
        return data

    def _chunked(self, data: bytes) -> bytes:
        # self.remaining: > 0 bytes of chunk data still due; 0 a size line is next; -1 the CRLF after
        # chunk data is next; -2 in the trailer section (after the last, zero-size chunk).
        if self.rest:
            data = self.rest + data
            self.rest = b""
        out: list[bytes] = []
        remaining = self.remaining
        pos = 0
        end = len(data)
        while pos < end:
            if remaining > 0:
                stop = pos + remaining
                if stop <= end:
                    out.append(data[pos:stop])
                    pos = stop
                    remaining = -1
                else:
                    out.append(data[pos:])
                    remaining -= end - pos
                    pos = end
            elif remaining == -1:
                if data.startswith(b"\r\n", pos):
                    pos += 2
                elif data.startswith(b"\n", pos):
                    pos += 1
                elif end - pos < 2 and data[pos] == 13:  # a CR; its LF has not arrived yet
                    break
                else:
                    raise self._protocol_error("missing CRLF after chunk data")
                remaining = 0
            elif remaining == 0:
                newline = data.find(b"\n", pos)
                if newline < 0:
                    if end - pos > _MAX_LINE:
                        raise self._protocol_error("chunk size line too long")
                    break
                line = data[pos:newline]
                semicolon = line.find(b";")
                size = (line[:semicolon] if semicolon >= 0 else line).strip(b" \t\r")
                if not size or len(size) > 16 or size.strip(_HEX):
                    raise self._protocol_error(f"invalid chunk size line {line[:40]!r}")
                pos = newline + 1
                remaining = int(size, 16) or -2
            else:
                newline = data.find(b"\n", pos)
                if newline < 0:
                    if end - pos > _MAX_TRAILERS:
                        raise self._protocol_error("trailer section too long")
                    break
                line = data[pos:newline]
                pos = newline + 1
                if not line or line == b"\r":
                    self.done = True
                    if pos < end:  # bytes after the body: the connection's framing is lost
                        self.reusable = False
                    pos = end
        self.remaining = remaining
        if pos < end:
            self.rest = data[pos:]
        if len(out) == 1:
            return out[0]
        return b"".join(out)

    def _protocol_error(self, message: str) -> httpx.RemoteProtocolError:
        self.reusable = False
        if self.conn is not None:
            self.conn.abort()
        return httpx.RemoteProtocolError(message, request=self.request)

    def _ended(self, conn: _Connection) -> None:
        """The peer closed; all it sent has been read."""
        if conn.error is not None:
            raise httpx.ReadError(str(conn.error) or repr(conn.error), request=self.request)
        if self.framing == _UNTIL_CLOSE:
            self.done = True
            return
        if self.framing == _LENGTH:
            detail = f"received {self.length - self.remaining} bytes, expected {self.length}"
        else:
            detail = "incomplete chunked read"
        raise httpx.RemoteProtocolError(
            f"peer closed connection without sending complete message body ({detail})", request=self.request
        )

    async def aclose(self) -> None:
        conn = self.conn
        if conn is None:
            return
        self.conn = None
        if not self.done and conn.parts and self.framing in (_CHUNKED, _LENGTH):
            # The rest of the body may already be here (typically the chunked terminator after the
            # reader stopped at the stream's last event): finish it, so the connection can be reused.
            try:
                data = conn.take()
                if self.framing == _CHUNKED:
                    self._chunked(data)
                else:
                    self._sized(data)
            except httpx.RemoteProtocolError:
                self.done = False
        if self.done and self.reusable and not self.rest and not conn.parts and not conn.eof:
            self.owner._release(conn)
        else:
            conn.abort()


class ProviderTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 for httpx.AsyncClient on asyncio.Protocol connections; see the module docstring."""

    def __init__(self, limits: httpx.Limits | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        limits = limits or httpx.Limits()
        self.max_idle = limits.max_keepalive_connections
        self.keepalive_expiry = limits.keepalive_expiry
        self._ssl_context = ssl_context
        if ssl_context is not None:
            ssl_context.set_alpn_protocols(["http/1.1"])
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._connections: set[_Connection] = set()
        self._closed = False

    def _ssl(self) -> ssl.SSLContext:
        """The TLS context, made (and told to offer only HTTP/1.1) at the first https connection."""
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()  # certifi, or SSL_CERT_FILE / SSL_CERT_DIR
            self._ssl_context.set_alpn_protocols(["http/1.1"])
        return self._ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        if self._closed:
            raise RuntimeError("the transport is closed")
        key = (scheme, url.raw_host.decode("ascii"), url.port or (443 if scheme == "https" else 80))
        timeouts: dict[str, float | None] = request.extensions.get("timeout") or {}
        conn = self._checkout(key)
        if conn is not None:
            try:
                return await self._exchange(conn, request, timeouts)
            except _Disconnected as exc:
                if not isinstance(request.stream, httpx.ByteStream):
                    raise exc.to_httpx(request) from None
                # A stale keep-alive connection: once more, on a fresh one.
        conn = await self._connect(key, request, timeouts)
        try:
            return await self._exchange(conn, request, timeouts)
        except _Disconnected as exc:
            raise exc.to_httpx(request) from None

    def _checkout(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        expiry = self.keepalive_expiry
        while idle:
            conn = idle.pop()
            self._idle_count -= 1
            if conn.eof or conn.parts or (expiry is not None and conn.loop.time() - conn.idle_since > expiry):
                conn.close()
                continue
            return conn
        return None

    def _release(self, conn: _Connection) -> None:
        """Puts a connection whose response was fully read back in the pool."""
        if self._closed or (self.max_idle is not None and self._idle_count >= self.max_idle):
            conn.close()
            return
        now = conn.loop.time()
        conn.idle_since = now
        idle = self._idle.setdefault(conn.key, [])
        expiry = self.keepalive_expiry
        while idle and (idle[0].eof or (expiry is not None and now - idle[0].idle_since > expiry)):
            idle.pop(0).close()
            self._idle_count -= 1
        idle.append(conn)
        self._idle_count += 1

    async def _connect(
        self, key: tuple[str, str, int], request: httpx.Request, timeouts: dict[str, float | None]
    ) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        conn = _Connection(loop, key, self._connections)
        factory: Callable[[], asyncio.Protocol] = lambda: conn  # noqa: E731
        timeout = timeouts.get("connect")
        try:
            async with asyncio.timeout(timeout):
                if scheme == "https":
                    sni = request.extensions.get("sni_hostname") or host
                    await loop.create_connection(factory, host, port, ssl=self._ssl(), server_hostname=sni)
                else:
                    await loop.create_connection(factory, host, port)
        except TimeoutError:  # before OSError: TimeoutError is one
            conn.abort()
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}", request=request) from None
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            conn.abort()
            raise httpx.ConnectError(str(exc) or repr(exc), request=request) from exc
        except BaseException:
            conn.abort()
            raise
        if self._closed:
            conn.abort()
            raise RuntimeError("the transport is closed")
        assert conn.transport is not None
        sock = conn.transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    async def _exchange(
        self, conn: _Connection, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> httpx.Response:
        """Sends the request on conn and reads the response head; any failure drops conn."""
        conn.prepare(timeouts.get("read"))
        try:
            keep = await self._send(conn, request, timeouts.get("write"))
            return await self._receive(conn, request, keep)
        except BaseException:
            conn.abort()
            raise

    async def _send(self, conn: _Connection, request: httpx.Request, timeout: float | None) -> bool:
        """Writes the request; returns False when it asked for the connection to close."""
        head = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        chunked = False
        keep = True
        for name, value in request.headers.raw:
            if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name or b":" in name:
                raise httpx.LocalProtocolError(f"invalid request header {name!r}", request=request)
            lower = name.lower()
            if lower == b"transfer-encoding":
                chunked = value.strip().lower() == b"chunked"
            elif lower == b"connection" and b"close" in value.lower():
                keep = False
            head += (name, b": ", value, b"\r\n")
        head.append(b"\r\n")
        pending = b"".join(head)  # sent with a small first piece of the body, in one segment
        stream = request.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise RuntimeError("ProviderTransport needs an async request stream")
        async for piece in stream:
            if not piece:
                continue
            if chunked:
                piece = b"%x\r\n%b\r\n" % (len(piece), piece)
            if pending:
                if len(piece) < _JOIN_BELOW:
                    piece = pending + piece
                else:  # not worth copying a large body for
                    await conn.write(pending, timeout, request)
                pending = b""
            await conn.write(piece, timeout, request)
        if chunked:
            pending += b"0\r\n\r\n"
        if pending:
            await conn.write(pending, timeout, request)
        return keep

    async def _receive(self, conn: _Connection, request: httpx.Request, keep: bool) -> httpx.Response:
        data = b""
        received = False
        while True:
            if conn.parts:
                received = True
                data = data + conn.take() if data else conn.take()
                while True:
                    data = data.lstrip(b"\r\n")  # tolerate blank lines before a status line
                    parsed = _parse_head(data, request)
                    if parsed is None:
                        break
                    version, status, reason, headers, body_start = parsed
                    data = data[body_start:]
                    if status < 100 or status >= 200 or status == 101:
                        if data:
                            conn.parts.insert(0, data)
                        return self._response(conn, request, keep, version, status, reason, headers)
                    # 1xx interim response (100 Continue, 103 Early Hints): the real one follows
            elif conn.eof:
                if received:
                    raise httpx.RemoteProtocolError(
                        "peer closed connection without sending a complete response head", request=request
                    )
                error = conn.error
                if error is not None:
                    raise _Disconnected(httpx.ReadError, str(error) or repr(error))
                raise _Disconnected(
                    httpx.RemoteProtocolError, "Server disconnected without sending a response."
                )
            else:
                await conn.wait(request)

    def _response(
        self,
        conn: _Connection,
        request: httpx.Request,
        keep: bool,
        version: bytes,
        status: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> httpx.Response:
        keep = keep and version == b"HTTP/1.1"
        length: int | None = None
        transfer: bytes | None = None
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-length":
                for item in value.split(b","):
                    item = item.strip()
                    if not item.isdigit() or (length is not None and int(item) != length):
                        raise httpx.RemoteProtocolError(f"invalid Content-Length {value!r}", request=request)
                    length = int(item)
            elif lower == b"transfer-encoding":
                transfer = value if transfer is None else transfer + b"," + value
            elif lower == b"connection" and b"close" in value.lower():
                keep = False
        if request.method == "HEAD" or status in (204, 304) or status < 200:
            framing, length = _EMPTY, 0
            keep = keep and status != 101
        elif transfer is not None:
            if transfer.rsplit(b",", 1)[-1].strip().lower() == b"chunked":
                framing = _CHUNKED
                keep = keep and length is None  # both framings: a smuggling risk, do not reuse
            else:
                framing, keep = _UNTIL_CLOSE, False
            length = 0
        elif length is not None:
            framing = _LENGTH if length else _EMPTY
        else:
            framing, length, keep = _UNTIL_CLOSE, 0, False
        body = _Body(self, conn, request, framing, length, keep)
        return httpx.Response(
            status,
            headers=headers,
            stream=body,
            extensions={"http_version": version, "reason_phrase": reason},
        )

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        self._idle_count = 0
        for conn in list(self._connections):
            conn.abort()
        self._connections.clear()


def _parse_head(
    data: bytes, request: httpx.Request
) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]], int] | None:
    """(version, status, reason, headers, where the body starts), or None if the head is incomplete."""
    crlf = data.find(b"\n\r\n")
    lf = data.find(b"\n\n")
    if crlf < 0 and lf < 0:
        if len(data) > _MAX_HEAD:
            raise httpx.RemoteProtocolError("response head too long", request=request)
        return None
    if crlf >= 0 and (lf < 0 or crlf < lf):
        end, body_start = crlf, crlf + 3
    else:
        end, body_start = lf, lf + 2
    if end > _MAX_HEAD:
        raise httpx.RemoteProtocolError("response head too long", request=request)
    lines = data[:end].split(b"\n")
    status_line = lines[0].rstrip(b"\r")
    fields = status_line.split(b" ", 2)
    version = fields[0]
    if (
        len(fields) < 2
        or len(version) != 8
        or not version.startswith(b"HTTP/1.")
        or not version[7:].isdigit()
        or len(fields[1]) != 3
        or not fields[1].isdigit()
    ):
        raise httpx.RemoteProtocolError(f"malformed status line {status_line[:100]!r}", request=request)
    reason = fields[2] if len(fields) > 2 else b""
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):  # obsolete line folding: continues the previous field
            if not headers:
                raise httpx.RemoteProtocolError("malformed response header", request=request)
            name, value = headers[-1]
            headers[-1] = (name, (value + b" " + line.strip(b" \t")).strip(b" "))
            continue
        colon = line.find(b":")
        name = line[:colon]
        if colon <= 0 or name != name.strip() or b" " in name or b"\t" in name:
            raise httpx.RemoteProtocolError(f"malformed response header {line[:100]!r}", request=request)
        headers.append((name, line[colon + 1 :].strip(b" \t")))
    return version, int(fields[1]), reason, headers, body_start


def async_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The provider transport, keeping up to limits.max_keepalive_connections idle connections for
    limits.keepalive_expiry seconds; limits.max_connections is not enforced (see the module docstring)."""
    return ProviderTransport(limits=limits)
