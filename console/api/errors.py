"""OpenAI's error envelope. Every /v1 error response is built here."""

from __future__ import annotations

from django.http import HttpResponse

from console.api.jsonresp import json_response


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def response(self) -> HttpResponse:
        return error_response(self.status, self.message, type=self.type, param=self.param, code=self.code)


def error_response(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> HttpResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return json_response(body, status=status)


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"


def server_error() -> HttpResponse:
    return error_response(500, SERVER_ERROR_MESSAGE, type="server_error")
