from __future__ import annotations

import logging

import httpx
import orjson
import pytest
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory

from console.api.endpoint import api_view
from console.api.errors import SERVER_ERROR_MESSAGE
from console.api.middleware import ApiErrorMiddleware
from console.assistants.models import Assistant
from console.threads.models import Thread

BAD_JSON = "We could not parse the JSON body of your request."


def _error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "<html" not in r.text.lower()
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "nope"),
        ("POST", "nope"),
        ("GET", "assistants/asst_x/extra"),
        ("GET", "assistants/"),
        ("DELETE", "threads/thread_x/messages/msg_x/more"),
        ("GET", "chat/completions"),
    ],
)
def test_it_answers_unknown_urls_with_a_json_404(api, method, path, settings):
    settings.PASSTHROUGH = False  # else paths this server does not implement go to a provider
    r = api.request(method, path)
    error = _error(r, 404)
    assert error["message"] == f"Invalid URL ({method} /v1/{path})"
    assert error["type"] == "invalid_request_error"


def test_it_answers_the_bare_prefix_with_a_json_404(live_url, owner):
    r = httpx.get(f"{live_url}/v1", headers={"Authorization": f"Bearer {owner.key}"})
    error = _error(r, 404)
    assert error["message"] == "Invalid URL (GET /v1)"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "assistants"),
        ("DELETE", "assistants"),
        ("PATCH", "assistants/asst_x"),
        ("PUT", "threads"),
        ("DELETE", "threads/thread_x/messages"),
        ("PUT", "threads/thread_x/messages/msg_x"),
        ("POST", "files/file-x"),
        ("DELETE", "files/file-x/content"),
        ("POST", "files/file-x/content"),
    ],
)
def test_it_answers_a_wrong_method_with_a_json_405(api, method, path):
    r = api.request(method, path)
    error = _error(r, 405)
    assert error["message"] == f"Invalid method for URL ({method} /v1/{path})."
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize("body", [b"{", b'{"model": "m",}', b"not json", b"{'model': 'm'}", b"\xff\xfe"])
def test_it_rejects_malformed_json(api, body):
    r = api.post("assistants", content=body, headers={"Content-Type": "application/json"})
    error = _error(r, 400)
    assert error["message"].startswith(BAD_JSON)
    assert error["type"] == "invalid_request_error"
    assert Assistant.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "described"),
    [
        (b"[1, 2]", "an array"),
        (b'"model"', "a string"),
        (b"42", "an integer"),
        (b"null", "null"),
        (b"true", "a boolean"),
    ],
)
def test_it_rejects_a_json_body_that_is_not_an_object(api, body, described):
    r = api.post("threads", content=body, headers={"Content-Type": "application/json"})
    error = _error(r, 400)
    assert (
        error["message"] == f"Invalid type for request body: expected an object, but got {described} instead."
    )
    assert error["code"] == "invalid_type"
    assert Thread.objects.count() == 0


@pytest.mark.parametrize("path", ["assistants", "threads"])
def test_it_answers_multipart_on_a_json_endpoint_with_415(api, path):
    r = api.post(path, files={"file": ("a.txt", b"a")}, data={"model": "m"})
    error = _error(r, 415)
    assert error["code"] == "unsupported_content_type"
    assert "expected application/json" in error["message"]
    assert Assistant.objects.count() == 0 and Thread.objects.count() == 0


def test_it_answers_an_oversized_json_body_with_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    r = api.post("assistants", json={"model": "m", "instructions": "x" * 4096})
    error = _error(r, 413)
    assert error["type"] == "invalid_request_error"
    assert Assistant.objects.count() == 0
    # Bodies under the limit still go through.
    assert api.post("assistants", json={"model": "m"}).status_code == 200


# Unhandled exceptions, inside an api_view and anywhere else under /v1.


@api_view("GET", "POST")
def _exploding_view(request):  # type: ignore[no-untyped-def]
    raise RuntimeError("boom: secret internals")


def test_it_turns_an_unhandled_exception_into_a_server_error(owner, caplog):
    request = RequestFactory().get("/v1/explode", HTTP_AUTHORIZATION=f"Bearer {owner.key}")
    with caplog.at_level(logging.ERROR, logger="console.api.endpoint"):
        response = _exploding_view(request)
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    body = orjson.loads(response.content)
    assert body == {
        "error": {"message": SERVER_ERROR_MESSAGE, "type": "server_error", "param": None, "code": None}
    }
    assert b"secret internals" not in response.content
    assert any("boom: secret internals" in (r.exc_text or "") for r in caplog.records)


def test_it_still_authenticates_before_running_the_view(transactional_db):
    response = _exploding_view(RequestFactory().get("/v1/explode"))
    assert response.status_code == 401
    assert orjson.loads(response.content)["error"]["type"] == "invalid_request_error"
    response = _exploding_view(RequestFactory().get("/v1/explode", HTTP_AUTHORIZATION="Bearer sk-proj-wrong"))
    assert response.status_code == 401


def test_it_checks_the_method_before_running_the_view(owner):
    response = _exploding_view(
        RequestFactory().delete("/v1/explode", HTTP_AUTHORIZATION=f"Bearer {owner.key}")
    )
    assert response.status_code == 405
    assert (
        orjson.loads(response.content)["error"]["message"] == "Invalid method for URL (DELETE /v1/explode)."
    )


def _through_middleware(path: str, response: HttpResponse) -> HttpResponse:
    middleware = ApiErrorMiddleware(lambda request: response)
    return middleware(RequestFactory().get(path))


@pytest.mark.parametrize(
    ("status", "message", "error_type"),
    [
        (400, "Bad request.", "invalid_request_error"),
        (403, "Forbidden.", "invalid_request_error"),
        (404, "Invalid URL (GET /v1/somewhere)", "invalid_request_error"),
        (405, "Invalid method for URL (GET /v1/somewhere).", "invalid_request_error"),
        (413, "Request entity too large.", "invalid_request_error"),
        (418, "Invalid request.", "invalid_request_error"),
        (500, SERVER_ERROR_MESSAGE, "server_error"),
        (502, SERVER_ERROR_MESSAGE, "server_error"),
    ],
)
def test_the_middleware_wraps_non_json_errors_under_v1(status, message, error_type):
    html = HttpResponse(
        "<html><body>Django error page</body></html>", status=status, content_type="text/html"
    )
    response = _through_middleware("/v1/somewhere", html)
    expected_status = 500 if status >= 500 else status
    assert response.status_code == expected_status
    assert response["Content-Type"].startswith("application/json")
    body = orjson.loads(response.content)
    assert body["error"]["message"] == message
    assert body["error"]["type"] == error_type
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_the_middleware_leaves_json_errors_and_successes_alone():
    json_error = JsonResponse({"error": {"message": "mine"}}, status=400)
    assert _through_middleware("/v1/x", json_error) is json_error
    ok = HttpResponse("<html>fine</html>", status=200, content_type="text/html")
    assert _through_middleware("/v1/x", ok) is ok


def test_the_middleware_leaves_the_console_alone():
    page = HttpResponse("<html>Not found</html>", status=404, content_type="text/html")
    assert _through_middleware("/assistants/missing", page) is page


def test_the_middleware_turns_exceptions_under_v1_into_server_errors(caplog):
    middleware = ApiErrorMiddleware(lambda request: HttpResponse())
    with caplog.at_level(logging.ERROR, logger="console.api.middleware"):
        response = middleware.process_exception(RequestFactory().get("/v1/x"), RuntimeError("kaboom"))
    assert response is not None and response.status_code == 500
    assert orjson.loads(response.content)["error"]["type"] == "server_error"
    assert middleware.process_exception(RequestFactory().get("/healthz"), RuntimeError("kaboom")) is None
