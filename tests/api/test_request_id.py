"""x-request-id: on every /v1 response (errors, early refusals and streams too), and in the logs."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import httpx
import pytest

from console.api.request_id import RequestIdFilter
from console.providers.routing import ProviderRoute
from tests.fakeprovider import UPSTREAM_REQUEST_ID, Text
from tests.waiting import wait_until


class _Lines(logging.Handler):
    """Formats records as the product's log handler does (settings.LOGGING), request id included."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.addFilter(RequestIdFilter())
        self.setFormatter(logging.Formatter("%(name)s request_id=%(request_id)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = _Lines()
    logger = logging.getLogger("console")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(previous)


def _request_id(response: httpx.Response) -> str:
    value = response.headers.get("x-request-id", "")
    assert value.startswith("req_") and len(value) == 36, response.headers
    return value


def test_it_sends_a_unique_id_on_success_and_errors(api, anonymous_api):
    ok = api.post("assistants", json={"model": "gpt-4o"})
    missing = api.get("assistants/asst_nope")
    unauthenticated = anonymous_api.get("assistants")
    unknown_url = api.get("assistants/asst_nope/no-such-thing")
    assert (ok.status_code, missing.status_code, unauthenticated.status_code) == (200, 404, 401)
    assert unknown_url.status_code == 404
    ids = {_request_id(r) for r in (ok, missing, unauthenticated, unknown_url)}
    assert len(ids) == 4


def test_it_sends_one_on_a_body_refused_before_django(api, settings):
    settings.FILE_MAX_BYTES = 1024
    r = api.post(
        "files",
        files={"file": ("big.txt", b"x" * (3 * 1024 * 1024))},
        data={"purpose": "assistants"},
    )
    assert r.status_code == 413
    _request_id(r)


def test_it_sends_one_on_a_stream(api, provider):
    provider.script(Text("Hello"))
    assistant = api.post("assistants", json={"model": "fake-model"}).json()
    thread = api.post("threads", json={"messages": [{"role": "user", "content": "hi"}]}).json()
    with api.stream(
        "POST", f"threads/{thread['id']}/runs", json={"assistant_id": assistant["id"], "stream": True}
    ) as r:
        assert r.status_code == 200
        _request_id(r)
        assert r.read().endswith(b"data: [DONE]\n\n")


def test_the_sdk_reads_it(sdk):
    assistant = sdk.beta.assistants.with_raw_response.create(model="gpt-4o")
    assert assistant.request_id and assistant.request_id.startswith("req_")
    import openai

    with pytest.raises(openai.NotFoundError) as caught:
        sdk.beta.assistants.retrieve("asst_missing")
    assert caught.value.request_id and caught.value.request_id.startswith("req_")


def test_its_log_lines_name_it_and_the_clients_id(api, log_lines):
    r = api.get("assistants/asst_nope", headers={"X-Client-Request-Id": "my-app-42"})
    request_id = _request_id(r)
    expected = f"request_id={request_id} GET /v1/assistants/asst_nope 404"
    # The request's line is written once its response has gone out.
    line = wait_until(lambda: next((line for line in log_lines if expected in line), None), what=expected)
    assert line.endswith("client_request_id=my-app-42"), line


def test_an_error_it_causes_is_logged_with_it(api, provider, settings, log_lines):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    settings.LLM_PROVIDERS = (ProviderRoute(match="gone-*", base_url=dead),)
    r = api.post("chat/completions", json={"model": "gone-model", "messages": []})
    assert r.status_code == 502, r.text
    request_id = _request_id(r)
    warnings = [line for line in log_lines if "console.api.views.passthrough" in line]
    assert warnings and all(f"request_id={request_id}" in line for line in warnings), log_lines


def test_passthrough_relays_the_providers_id_under_its_own_name(api, provider):
    provider.script(Text("Hi"))
    r = api.post(
        "chat/completions", json={"model": "fake-model", "messages": [{"role": "user", "content": "x"}]}
    )
    assert r.status_code == 200
    assert len(r.headers.get_list("x-request-id")) == 1
    assert _request_id(r) != UPSTREAM_REQUEST_ID
    assert r.headers["x-upstream-request-id"] == UPSTREAM_REQUEST_ID
