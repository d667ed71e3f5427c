"""One web server process of `make run`: uvicorn serving console.asgi on a listening socket it inherits.

The launcher binds the port once and starts WEB_CONCURRENCY of these, each supervised on its own;
they share the socket (the kernel hands each new connection to one of them), so a process that dies
or stalls costs only its own connections, and the port keeps accepting while it is restarted.

    python -m console.webserver --fd N

Connections are bounded (README "Configuration", docs/deploy.md):
- WEB_HEADER_TIMEOUT: a request's line and headers must arrive within this many seconds of the
  connection opening (or of the previous response ending); a slowloris client is cut then. uvicorn
  has keep-alive timeouts but none for reading headers, hence the protocol class below.
- WEB_KEEP_ALIVE_TIMEOUT: an idle keep-alive connection is closed after this long.
- WEB_SEND_TIMEOUT: a response the client stops reading (its socket buffers full) is cut once it
  has made no progress for this long; an SSE reader that falls behind is disconnected and can
  resume with GET …/events. Its buffer is bounded meanwhile by the transport's high-water mark.
- WEB_MAX_CONNECTIONS: past this many connections or requests in one process, new requests get 503.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import struct
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


HEADER_TIMEOUT = _seconds("WEB_HEADER_TIMEOUT", 10)
KEEP_ALIVE_TIMEOUT = _seconds("WEB_KEEP_ALIVE_TIMEOUT", 5)
SEND_TIMEOUT = _seconds("WEB_SEND_TIMEOUT", 30)
MAX_CONNECTIONS = int(_seconds("WEB_MAX_CONNECTIONS", 2000))


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header-read timeout and a stalled-send timeout."""

    header_timeout = HEADER_TIMEOUT
    send_timeout = SEND_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        _cancel(self._header_timer)
        self._header_timer = None
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        idle = self.cycle is None or self.cycle.response_complete  # no pipelined request under way
        if idle and not self.transport.is_closing():
            self._arm_header_timer()  # the next request's headers are due within the same bound

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.send_timeout, self._cut)

    def resume_writing(self) -> None:
        super().resume_writing()
        _cancel(self._send_timer)
        self._send_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        _cancel(self._header_timer)
        self._header_timer = None
        _cancel(self._send_timer)
        self._send_timer = None
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        _cancel(self._header_timer)
        self._header_timer = self.loop.call_later(self.header_timeout, self._cut)

    def timeout_keep_alive_handler(self) -> None:
        if self.flow.write_paused:
            self._cut()  # the last response is still stuck: do not leave it to the kernel to flush
        else:
            super().timeout_keep_alive_handler()

    def _cut(self) -> None:
        """Drops the connection with a reset: a graceful close would leave what the client never read
        in the kernel's send buffer (FIN_WAIT1) for minutes, and buffered in this process until then."""
        self._header_timer = self._send_timer = None
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


def _cancel(timer: asyncio.TimerHandle | None) -> None:
    if timer is not None:
        timer.cancel()
    return None


def config(app: Any = "console.asgi:application", **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=GuardedProtocol,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
        timeout_keep_alive=int(KEEP_ALIVE_TIMEOUT),
        limit_concurrency=MAX_CONNECTIONS,
        **options,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True, help="an inherited listening TCP socket")
    args = parser.parse_args()
    # socket(fileno=) reads the family from the descriptor (uvicorn's own --fd assumes AF_UNIX, which
    # would leave TCP_NODELAY off).
    sock = socket.socket(fileno=args.fd)
    uvicorn.Server(config()).run(sockets=[sock])


if __name__ == "__main__":
    main()
