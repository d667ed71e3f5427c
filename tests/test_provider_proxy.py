"""Model and embedding calls honour HTTP(S)_PROXY, NO_PROXY and SSL_CERT_FILE; loopback never goes
through the proxy (console/core/proxies.py).

A real forward proxy (Debian's tinyproxy) runs on loopback with its own log; a fresh process
(the environment is read when the provider clients are made) makes one chat stream and one
embeddings call to the fake provider, and the proxy's log tells whether they went through it.
A provider to be reached through the proxy is named by this machine's host name, which resolves
to a loopback address (the proxy resolves it) but is not one by its name.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakeprovider import FakeProvider

ROOT = Path(__file__).resolve().parent.parent

CALLS = """
import asyncio, json
import django
django.setup()
from django.conf import settings
from console.providers.chat import stream_chat
from console.providers.embeddings import create_embeddings

async def chat():
    count = 0
    async for chunks in stream_chat({"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}):
        count += len(chunks)
    return count

answer = create_embeddings(settings.LLM_BASE_URL, settings.LLM_API_KEY, {"model": "m", "input": ["a"]})
print(json.dumps({"chunks": asyncio.run(chat()), "vectors": len(answer["data"])}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proxy:
    def __init__(self, log: Path, port: int) -> None:
        self.log = log
        self.url = f"http://127.0.0.1:{port}"

    def requests(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if "Request (file descriptor" in line]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    binary = shutil.which("tinyproxy") or (
        "/usr/bin/tinyproxy" if Path("/usr/bin/tinyproxy").exists() else None
    )
    assert binary, "tinyproxy must be installed (.ci/run installs it)"
    folder = tmp_path_factory.mktemp("tinyproxy")
    port = _free_port()
    log = folder / "tinyproxy.log"
    config = folder / "tinyproxy.conf"
    config.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 50\nAllow 127.0.0.1\n"
        f'LogLevel Info\nLogFile "{log}"\nPidFile "{folder / "tinyproxy.pid"}"\n'
    )
    process = subprocess.Popen(
        [binary, "-d", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, "tinyproxy exited"
            assert time.monotonic() < deadline, "tinyproxy did not start"
            time.sleep(0.05)
    yield Proxy(log, port)
    process.terminate()
    process.wait(timeout=10)


def _calls(base_url: str, tmp_path: Path, **env: str) -> dict[str, int]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if "proxy" not in k.lower() and not k.startswith(("LLM_", "SSL_CERT"))
    }
    result = subprocess.run(
        [sys.executable, "-c", CALLS],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": "",
            "LLM_BASE_URL": base_url,
            "LLM_API_KEY": "sk-proxy-test",
            "PROVIDER_RETRY_BACKOFF": "0",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def host_name() -> tuple[str, str]:
    """This machine's name and the loopback address it resolves to (Debian's /etc/hosts maps it)."""
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, None, socket.AF_INET)}
    loopback = sorted(a for a in addresses if ipaddress.ip_address(a).is_loopback)
    assert loopback, f"the host name {name!r} must resolve to a loopback address in /etc/hosts"
    return name, loopback[0]


@pytest.fixture(scope="module")
def named_provider(host_name: tuple[str, str]) -> Iterator[tuple[FakeProvider, str]]:
    """A fake provider on the host name's address, and its base URL by that name."""
    name, address = host_name
    with FakeProvider(host=address) as server:
        yield server, f"http://{name}:{server.port}/v1"


def _wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_it_sends_model_and_embedding_calls_through_the_http_proxy(proxy, named_provider, tmp_path):
    server, base_url = named_provider
    server.reset()
    before = len(proxy.requests())
    assert _calls(base_url, tmp_path, HTTP_PROXY=proxy.url) == {"chunks": 7, "vectors": 1}
    host = base_url.removeprefix("http://").removesuffix("/v1")
    _wait_for(lambda: len(proxy.requests()) >= before + 2, "the proxy logged no requests")
    logged = proxy.requests()[before:]
    assert any(f"POST http://{host}/v1/chat/completions" in line for line in logged), logged
    assert any(f"POST http://{host}/v1/embeddings" in line for line in logged), logged
    assert server.auth_headers == ["Bearer sk-proxy-test"]


def test_it_bypasses_the_proxy_for_no_proxy_hosts(proxy, named_provider, host_name, tmp_path):
    server, base_url = named_provider
    server.reset()
    before = len(proxy.requests())
    result = _calls(base_url, tmp_path, HTTP_PROXY=proxy.url, NO_PROXY=host_name[0])
    assert result == {"chunks": 7, "vectors": 1}
    assert len(server.requests) == 1 and len(server.calls) == 1
    assert len(proxy.requests()) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.2"])
def test_it_never_sends_loopback_through_the_proxy(proxy, host, tmp_path):
    with FakeProvider(host="127.0.0.1" if host == "localhost" else host) as server:
        before = len(proxy.requests())
        base_url = f"http://{host}:{server.port}/v1"
        result = _calls(base_url, tmp_path, HTTP_PROXY=proxy.url, HTTPS_PROXY=proxy.url, NO_PROXY="")
        assert result == {"chunks": 7, "vectors": 1}
        assert len(server.requests) == 1 and len(server.calls) == 1
        assert len(proxy.requests()) == before


def test_the_consoles_calls_to_its_own_api_skip_the_proxy(proxy, live_url, owner, monkeypatch):
    from console.web.upstream import Client, Connection

    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    before = len(proxy.requests())
    connection = Connection(base_url=f"{live_url}/v1", key=owner.key, is_self=True)
    with Client(connection) as client:
        assert client.request("GET", "assistants")["object"] == "list"
    assert len(proxy.requests()) == before


def _certificate(folder: Path, host: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake provider")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_it_reaches_an_https_provider_through_the_proxy_trusting_ssl_cert_file(proxy, host_name, tmp_path):
    name, address = host_name
    cert, key = _certificate(tmp_path, name)
    with FakeProvider(host=address, ssl_certfile=str(cert), ssl_keyfile=str(key)) as tls_provider:
        before = len(proxy.requests())
        base_url = f"https://{name}:{tls_provider.port}/v1"
        result = _calls(base_url, tmp_path, HTTPS_PROXY=proxy.url, SSL_CERT_FILE=str(cert))
        assert result == {"chunks": 7, "vectors": 1}
        _wait_for(lambda: len(proxy.requests()) > before, "the proxy logged no CONNECT")
        assert any(f"CONNECT {name}:{tls_provider.port}" in line for line in proxy.requests()[before:])
        assert tls_provider.auth_headers == ["Bearer sk-proxy-test"]
