"""The web server process bounds idle and slow connections: a request's headers must arrive within
WEB_HEADER_TIMEOUT, an idle keep-alive connection is closed after WEB_KEEP_ALIVE_TIMEOUT, and past
WEB_MAX_CONNECTIONS new requests get 503. Real sockets against `python -m console.webserver`."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from tests.waiting import wait_until
from tests.webproc import WebProcess, web_process

pytestmark = pytest.mark.timeout(180)


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed this connection (EOF or reset), without blocking."""
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def _connect(web: WebProcess) -> socket.socket:
    return socket.create_connection((web.host, web.port), timeout=10)


@pytest.fixture
def guarded_web(transactional_db, redis_url):  # type: ignore[no-untyped-def]
    with web_process(WEB_HEADER_TIMEOUT="2", WEB_KEEP_ALIVE_TIMEOUT="1") as web:
        yield web


def test_it_cuts_idle_and_slowloris_connections_within_the_header_timeout(guarded_web, owner):
    idle = [_connect(guarded_web) for _ in range(100)]
    slow = [_connect(guarded_web) for _ in range(100)]
    stop = threading.Event()

    def trickle() -> None:
        # A header byte per socket every 0.2 s, the request never complete: the classic slowloris.
        for sock in slow:
            sock.sendall(b"GET /v1/assistants HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: ")
        while not stop.wait(0.2):
            for sock in slow:
                try:
                    sock.sendall(b"a")
                except OSError:
                    continue

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        # Meanwhile the server answers everyone else.
        r = httpx.get(f"{guarded_web.url}/v1/assistants", headers={"Authorization": f"Bearer {owner.key}"})
        assert r.status_code == 200
        # 2 s of header timeout, with room for a busy machine.
        wait_until(lambda: all(_closed_by_server(s) for s in idle), timeout=15, what="idle sockets cut")
        wait_until(lambda: all(_closed_by_server(s) for s in slow), timeout=15, what="slowloris sockets cut")
    finally:
        stop.set()
        sender.join()
        for sock in idle + slow:
            sock.close()
    wait_until(lambda: guarded_web.open_sockets() < 20, timeout=15, what="the server to let them go")


def test_it_closes_an_idle_keep_alive_connection(guarded_web, owner):
    sock = _connect(guarded_web)
    try:
        sock.sendall(
            b"GET /v1/assistants HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {owner.key}\r\n\r\n".encode()
        )
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first[:100]
        wait_until(lambda: _closed_by_server(sock), timeout=15, what="the keep-alive connection closed")
    finally:
        sock.close()


def test_it_answers_503_past_its_connection_cap(transactional_db, redis_url, owner):
    with web_process(WEB_MAX_CONNECTIONS="20", WEB_HEADER_TIMEOUT="120") as web:
        held = [_connect(web) for _ in range(25)]
        try:
            wait_until(lambda: web.open_sockets() >= 25, timeout=15, what="the connections accepted")
            r = httpx.get(f"{web.url}/v1/assistants", headers={"Authorization": f"Bearer {owner.key}"})
            assert r.status_code == 503
        finally:
            for sock in held:
                sock.close()
        wait_until(
            lambda: (
                httpx.get(
                    f"{web.url}/v1/assistants", headers={"Authorization": f"Bearer {owner.key}"}
                ).status_code
                == 200
            ),
            timeout=15,
            what="the server to serve again",
        )
