"""console.providers.transport: httpx.AsyncClient over ProviderTransport against scripted raw servers.

Every test runs real sockets on loopback: a small asyncio server writes exactly the bytes the test
scripts, and the client is httpx's own AsyncClient with the transport under test.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.providers.transport import ProviderTransport, async_transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Request:
    def __init__(self, line: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.line = line
        self.headers = headers
        self.body = body

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class Server:
    """A raw HTTP server on 127.0.0.1 (TLS with ssl_context); handler scripts each connection."""

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.connections = 0
        self.requests: list[Request] = []
        self.closed: list[asyncio.Event] = []  # per connection: set when the client closed it
        self.handlers: list[asyncio.Task[Any]] = []
        self.port = 0

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for task in self.handlers:
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    def url(self, path: str = "/") -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        closed = asyncio.Event()
        self.closed.append(closed)
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # (a cancelled handler task makes Python 3.11's start_server log an error)
        finally:
            writer.close()
            closed.set()

    async def read(self, reader: asyncio.StreamReader) -> Request | None:
        """One request off the connection, or None when the client closed it."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head[:-4].split(b"\r\n")
        headers = [(k, v.strip()) for k, _, v in (line.partition(b":") for line in lines[1:])]
        request = Request(lines[0], headers, b"")
        length = request.header(b"content-length")
        if length is not None:
            request.body = await reader.readexactly(int(length))
        elif request.header(b"transfer-encoding") == b"chunked":
            body = bytearray()
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
                body += await reader.readexactly(size + 2)
                if size == 0:
                    break
                del body[-2:]
            request.body = bytes(body[:-2])
        self.requests.append(request)
        return request


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it where the worker runs
    pass
else:
    LOOPS["uvloop"] = uvloop.new_event_loop  # the worker's engine loop (console/engine/loop.py)

_loop_factory = asyncio.new_event_loop


@pytest.fixture(autouse=True, params=sorted(LOOPS))
def event_loop_kind(request: pytest.FixtureRequest) -> None:
    """Every test runs on asyncio's own loop and on uvloop, whose transports differ."""
    global _loop_factory
    _loop_factory = LOOPS[request.param]


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    with asyncio.Runner(loop_factory=_loop_factory) as runner:
        return runner.run(asyncio.wait_for(main(), 30))


def client(transport: ProviderTransport | None = None, **timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport or ProviderTransport(), timeout=httpx.Timeout(10.0, **timeout), trust_env=False
    )


async def answer_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
    """Keep-alive: answers every request on the connection with OK."""
    while await server.read(reader) is not None:
        writer.write(OK)
        await writer.drain()


def test_content_length_body_and_keep_alive_reuse():
    async def main() -> None:
        async with Server(answer_each) as server, client() as http:
            first = await http.get(server.url("/a"))
            second = await http.get(server.url("/b"))
            assert (first.status_code, first.content, second.content) == (200, b"ok", b"ok")
            assert first.http_version == "HTTP/1.1" and first.reason_phrase == "OK"
            assert server.connections == 1
            assert [r.line for r in server.requests] == [b"GET /a HTTP/1.1", b"GET /b HTTP/1.1"]

    run(main)


def test_chunked_pieces_arrive_before_the_response_ends():
    async def main() -> None:
        got_first = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await writer.drain()
            await got_first.wait()  # the next piece only once the client has the first one
            writer.write(b"6\r\nsecond\r\n")
            await asyncio.sleep(0.05)
            writer.write(b"5\r\nthird\r\n0\r\n\r\n")
            await writer.drain()
            await answer_each(reader, writer, server)

        async with Server(handler) as server, client() as http:
            pieces = []
            async with http.stream("GET", server.url()) as response:
                async for piece in response.aiter_bytes():
                    pieces.append(piece)
                    got_first.set()
            assert pieces == [b"first", b"second", b"third"]
            assert (await http.get(server.url())).content == b"ok"
            assert server.connections == 1

    run(main)


def test_chunk_extensions_and_trailers_then_reuse():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                b'5;name=value\r\nhello\r\n6 ; x="y"\r\n world\r\nA\r\n0123456789\r\n'
                b"0;end\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n"
            )
            await answer_each(reader, writer, server)

        async with Server(handler) as server, client() as http:
            response = await http.get(server.url())
            assert response.content == b"hello world0123456789"
            assert (await http.get(server.url())).content == b"ok"
            assert server.connections == 1

    run(main)


def test_chunked_body_split_at_every_byte():
    body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n10\r\n" + b"x" * 16
    body += b"\r\n0\r\nTrailer: 1\r\n\r\n"

    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            for i in range(len(body)):
                writer.write(body[i : i + 1])
                await writer.drain()
                await asyncio.sleep(0.001)
            await answer_each(reader, writer, server)

        async with Server(handler) as server, client() as http:
            assert (await http.get(server.url())).content == b"abc" + b"x" * 16
            assert (await http.get(server.url())).content == b"ok"
            assert server.connections == 1

    run(main)


def test_read_until_close_is_not_reused():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall ")
            await writer.drain()
            await asyncio.sleep(0.02)
            writer.write(b"until close")
            await writer.drain()

        async with Server(handler) as server, client() as http:
            assert (await http.get(server.url())).content == b"all until close"
            assert (await http.get(server.url())).content == b"all until close"
            assert server.connections == 2

    run(main)


def test_connection_close_is_not_reused():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            while await server.read(reader) is not None:
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()

        async with Server(handler) as server, client() as http:
            for _ in range(2):
                assert (await http.get(server.url())).content == b"ok"
            assert server.connections == 2

    run(main)


def test_no_body_responses_keep_the_connection():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await server.read(reader)  # HEAD: the Content-Length describes a body that is not sent
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            await answer_each(reader, writer, server)

        async with Server(handler) as server, client() as http:
            assert (await http.get(server.url())).status_code == 204
            head = await http.head(server.url())
            assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "1000")
            assert (await http.get(server.url())).content == b"ok"
            assert server.connections == 1

    run(main)


def test_a_pooled_connection_the_server_closed_is_skipped():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(OK)
            await writer.drain()  # then closes the idle keep-alive connection

        async with Server(handler) as server, client() as http:
            assert (await http.get(server.url())).content == b"ok"
            await server.closed[0].wait()
            await asyncio.sleep(0.05)
            assert (await http.get(server.url())).content == b"ok"
            assert server.connections == 2

    run(main)


def test_a_stale_keep_alive_connection_is_retried_once_on_a_new_one():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(OK)
            await writer.drain()
            if server.connections == 1:
                await server.read(reader)  # the keep-alive timed out just as this request came: no answer

        async with Server(handler) as server, client() as http:
            assert (await http.get(server.url())).content == b"ok"
            second = await http.post(server.url("/again"), content=b"payload")
            assert second.content == b"ok"
            assert server.connections == 2
            assert [r.body for r in server.requests] == [b"", b"payload", b"payload"]

    run(main)


def test_a_stale_connection_with_a_body_that_cannot_be_replayed_fails():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(OK)
            await writer.drain()
            await server.read(reader)

        async def body() -> AsyncIterator[bytes]:
            yield b"once"

        async with Server(handler) as server, client() as http:
            await http.get(server.url())
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                await http.post(server.url(), content=body())
            assert server.connections == 1

    run(main)


def test_keepalive_limits():
    async def main() -> None:
        async with Server(answer_each) as server:
            async with client(async_transport(httpx.Limits(max_keepalive_connections=0))) as http:
                await http.get(server.url())
                await http.get(server.url())
                assert server.connections == 2
            async with client(async_transport(httpx.Limits(keepalive_expiry=0.05))) as http:
                await http.get(server.url())
                await asyncio.sleep(0.1)
                await http.get(server.url())
                assert server.connections == 4

    run(main)


def test_read_timeout_when_the_server_stalls_mid_body():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nsome\r\n")
            await writer.drain()
            await reader.read()  # stalls until the client gives up and closes the connection

        async with Server(handler) as server, client(read=0.3) as http:
            pieces = []
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                async with http.stream("GET", server.url()) as response:
                    async for piece in response.aiter_bytes():
                        pieces.append(piece)
            assert pieces == [b"some"]
            # Not before the read timeout (a lower bound only: a slow machine cannot break it).
            assert time.monotonic() - started >= 0.25
            await asyncio.wait_for(server.closed[0].wait(), 5)  # the connection was dropped

    run(main)


def test_read_timeout_counts_from_the_last_byte_not_the_first():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(8):  # 0.8 s in all, never more than 0.1 s apart
                await asyncio.sleep(0.1)
                writer.write(b"1\r\n.\r\n")
            writer.write(b"0\r\n\r\n")
            await answer_each(reader, writer, server)

        async with Server(handler) as server, client(read=0.35) as http:
            assert (await http.get(server.url())).content == b"." * 8

    run(main)


def test_read_timeout_waiting_for_the_response_head():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            await asyncio.sleep(10)

        async with Server(handler) as server, client(read=0.2) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(server.url())

    run(main)


def test_write_timeout_when_the_server_does_not_read():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await asyncio.sleep(10)

        async with Server(handler) as server, client(write=0.3) as http:
            with pytest.raises(httpx.WriteTimeout):
                await http.post(server.url(), content=b"x" * (64 * 1024 * 1024))

    run(main)


def test_connect_error_on_a_closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main() -> None:
        async with client() as http:
            with pytest.raises(httpx.ConnectError) as caught:
                await http.get(f"http://127.0.0.1:{port}/")
            assert caught.value.request.url.port == port

    run(main)


def test_connect_timeout():
    async def main() -> None:
        # 192.0.2.0/24 (TEST-NET-1) is not routed: the SYN goes unanswered (or the host says unreachable).
        async with client(connect=0.2) as http:
            with pytest.raises((httpx.ConnectTimeout, httpx.ConnectError)):
                await http.get("http://192.0.2.1:9/")

    run(main)


@pytest.mark.parametrize(
    "response,body,error",
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab",
            b"helloab",
            "incomplete chunked read",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", b"hello", "received 5 bytes, expected 10"),
    ],
)
def test_peer_closing_mid_body_is_an_error(response: bytes, body: bytes, error: str):
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(response)
            await writer.drain()

        async with Server(handler) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError, match=error):
                await http.get(server.url())
            pieces = []
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                async with http.stream("GET", server.url()) as streamed:
                    async for piece in streamed.aiter_bytes():
                        pieces.append(piece)
            assert b"".join(pieces) == body

    run(main)


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 OK\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_responses_are_protocol_errors(response: bytes):
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(response)
            await writer.drain()
            await asyncio.sleep(1)

        async with Server(handler) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url())

    run(main)


def test_server_closing_without_a_response():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)

        async with Server(handler) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                await http.get(server.url())

    run(main)


def test_interim_100_continue_is_skipped():
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.02)
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + b"HTTP/1.1 201 Created\r\n")
            await writer.drain()
            await asyncio.sleep(0.02)
            writer.write(b"Content-Length: 4\r\n\r\ndone")
            await answer_each(reader, writer, server)

        async with Server(handler) as server, client() as http:
            response = await http.post(server.url(), content=b"x")
            assert (response.status_code, response.content) == (201, b"done")
            assert "link" not in response.headers
            assert (await http.get(server.url())).content == b"ok"
            assert server.connections == 1

    run(main)


def test_request_line_headers_and_bodies_reach_the_server():
    async def main() -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"one,"
            await asyncio.sleep(0.01)
            yield b""
            yield b"two,"
            yield b"three"

        async with Server(answer_each) as server, client() as http:
            await http.post(
                server.url("/v1/chat/completions?x=1&y=%20"),
                content=b'{"a": 1}',
                headers={"Authorization": "Bearer sk-1", "X-Custom": "value"},
            )
            await http.put(server.url("/upload"), content=chunks())
            first, second = server.requests
            assert first.line == b"POST /v1/chat/completions?x=1&y=%20 HTTP/1.1"
            assert first.header(b"host") == f"127.0.0.1:{server.port}".encode()
            assert first.header(b"authorization") == b"Bearer sk-1"
            assert first.header(b"x-custom") == b"value"
            assert first.header(b"content-length") == b"8"
            assert first.body == b'{"a": 1}'
            assert second.line == b"PUT /upload HTTP/1.1"
            assert second.header(b"transfer-encoding") == b"chunked"
            assert second.body == b"one,two,three"
            assert server.connections == 1

    run(main)


def test_header_injection_is_refused():
    async def main() -> None:
        async with Server(answer_each) as server, client() as http:
            with pytest.raises(httpx.LocalProtocolError):
                await http.get(server.url(), headers={"X-Bad": "a\r\nInjected: yes"})
            assert server.requests == []

    run(main)


def test_gzip_content_encoding_is_decoded_by_httpx():
    payload = b"data: hello\n\n" * 100

    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            compressed = gzip.compress(payload)
            half = len(compressed) // 2
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (compressed[:half], compressed[half:]):
                writer.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                await writer.drain()
                await asyncio.sleep(0.01)
            writer.write(b"0\r\n\r\n")
            await answer_each(reader, writer, server)

        async with Server(handler) as server, client() as http:
            async with http.stream("GET", server.url()) as response:
                decoded = b"".join([piece async for piece in response.aiter_bytes()])
            assert decoded == payload

    run(main)


def _self_signed(directory: Path) -> tuple[Path, Path, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file, pem


def test_tls_with_a_trusted_self_signed_certificate(tmp_path: Path):
    cert_file, key_file, pem = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)

    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecure\r\n0\r\n\r\n")
            await answer_each(reader, writer, server)

        async with Server(handler, ssl_context=server_context) as server:
            trusting = ssl.create_default_context(cadata=pem.decode())
            async with client(ProviderTransport(ssl_context=trusting)) as http:
                assert (await http.get(server.url())).content == b"secure"
                assert (await http.get(server.url())).content == b"ok"
                assert server.connections == 1
            async with client() as http:  # the default context does not trust it
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await http.get(server.url())

    run(main)


def test_cancelling_mid_body_closes_the_connection():
    async def main() -> None:
        streaming = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
            await server.read(reader)
            if server.connections == 1:
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nsome\r\n")
                await writer.drain()
                await reader.read()  # until the client closes the connection
                return
            writer.write(OK)
            await answer_each(reader, writer, server)

        async with Server(handler) as server, client() as http:

            async def read_forever() -> None:
                async with http.stream("GET", server.url()) as response:
                    async for _ in response.aiter_bytes():
                        streaming.set()

            task = asyncio.create_task(read_forever())
            await streaming.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(server.closed[0].wait(), 5)
            assert (await http.get(server.url())).content == b"ok"
            assert server.connections == 2

    run(main)


def test_closing_the_client_closes_its_connections():
    async def main() -> None:
        async with Server(answer_each) as server:
            http = client()
            await http.get(server.url())
            await http.aclose()
            await asyncio.wait_for(server.closed[0].wait(), 5)

    run(main)
