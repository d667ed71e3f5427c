from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.http import content_disposition_header

from console.api.endpoint import ApiRequest, api_view
from console.api.errors import ApiError, invalid_request
from console.api.jsonresp import json_response
from console.api.pagination import list_response, page_from_query
from console.api.schemas.base import DeletedObject
from console.api.schemas.files import FileObject
from console.api.validation import flag_param, quote_choices
from console.cleanup import services as cleanup
from console.core.errors import StorageFull, is_storage_full
from console.files import services, storage
from console.files.models import PURPOSES, File
from console.vector_stores.file_usage import file_usage as file_usage_of

DOWNLOAD_BLOCK = 256 * 1024
FORM_FIELDS = {"file", "purpose", "expires_after[anchor]", "expires_after[seconds]"}
EXPIRY_MIN, EXPIRY_MAX = 3600, 2_592_000


class SizeLimitUploadHandler(FileUploadHandler):
    """Counts bytes as they stream in and stops the upload at the limit."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.FILE_MAX_BYTES:
            raise ApiError(
                413,
                f"File too large: files may be at most {settings.FILE_MAX_BYTES // (1024 * 1024)} MB.",
                param="file",
                code="file_too_large",
            )
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _render(file: File) -> HttpResponse:
    return json_response(FileObject.of(file).model_dump(mode="json"))


def _expiry_seconds(form: Any) -> int | None:
    anchor = form.get("expires_after[anchor]")
    seconds = form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise invalid_request(
            f"Invalid value: '{anchor}'. Supported values are: 'created_at'.",
            param="expires_after.anchor",
            code="invalid_value",
        )
    if seconds is None or not seconds.isdigit():
        raise invalid_request(
            "Invalid 'expires_after.seconds': expected an integer.",
            param="expires_after.seconds",
            code="invalid_type",
        )
    value = int(seconds)
    if not EXPIRY_MIN <= value <= EXPIRY_MAX:
        raise invalid_request(
            f"Invalid 'expires_after.seconds': expected a value between {EXPIRY_MIN} and {EXPIRY_MAX}, "
            f"but got {value} instead.",
            param="expires_after.seconds",
            code="invalid_value",
        )
    return value


def _measure_chunked_body(request: HttpRequest) -> None:
    """Django's multipart parser reads nothing without a Content-Length, as with a chunked upload.

    Under ASGI the handler has already spooled the whole body to a file, so its length is known.
    """
    if request.META.get("CONTENT_LENGTH"):
        return
    stream = getattr(request, "_stream", None)
    if stream is None or not getattr(stream, "seekable", lambda: False)():
        return
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    request.META["CONTENT_LENGTH"] = str(size)


def _discard_spooled(request: HttpRequest) -> None:
    """Removes the temporary file the upload was being written to when the disk filled up."""
    for handler in request.upload_handlers:
        spooled = getattr(handler, "file", None)
        if isinstance(spooled, TemporaryUploadedFile):
            with contextlib.suppress(OSError):
                spooled.close()  # a NamedTemporaryFile: closing it removes it
            with contextlib.suppress(OSError):
                os.unlink(spooled.temporary_file_path())


def _upload(request: ApiRequest) -> HttpResponse:
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise ApiError(
            415,
            f"Invalid Content-Type header ({request.content_type}), expected multipart/form-data.",
            code="unsupported_content_type",
        )
    _measure_chunked_body(request)
    request.upload_handlers = [SizeLimitUploadHandler(request), *request.upload_handlers]
    try:
        form, uploads = request.POST, request.FILES
    except (MultiPartParserError, BadRequest) as exc:
        # No boundary, a cut-off body, too many parts...: the client's request, not our error.
        raise invalid_request(f"Invalid multipart/form-data body: {exc}".rstrip(": ") + ".") from None
    except OSError as exc:
        if not is_storage_full(exc):
            raise
        _discard_spooled(request)
        raise StorageFull() from exc
    for name, values in list(form.lists()):
        if any("\x00" in value for value in values):
            raise invalid_request(
                f"Invalid '{name}': string contains the null character (U+0000), which is not allowed.",
                param=name,
                code="invalid_value",
            )
    for name in list(form.keys()) + list(uploads.keys()):
        if name not in FORM_FIELDS:
            raise invalid_request(f"Unrecognized request argument supplied: {name}", param=name)
    upload = uploads.get("file")
    if upload is None:
        raise invalid_request(
            "Missing required parameter: 'file'.", param="file", code="missing_required_parameter"
        )
    if upload.name and "\x00" in upload.name:
        raise invalid_request(
            "Invalid 'file': its filename contains the null character (U+0000), which is not allowed.",
            param="file",
            code="invalid_value",
        )
    purpose = form.get("purpose")
    if not purpose:
        raise invalid_request(
            "Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter"
        )
    if purpose not in PURPOSES:
        raise invalid_request(
            f"Invalid value: '{purpose}'. Supported values are: {quote_choices(PURPOSES)}.",
            param="purpose",
            code="invalid_value",
        )
    if upload.size is not None and upload.size > settings.FILE_MAX_BYTES:
        raise ApiError(413, "File too large.", param="file", code="file_too_large")
    file = services.create_file(
        request.project,
        source=upload,
        source_path=getattr(upload, "temporary_file_path", lambda: None)(),
        filename=upload.name or "upload",
        purpose=purpose,
        size=upload.size or 0,
        expires_after_seconds=_expiry_seconds(form),
    )
    return _render(file)


@api_view("GET", "POST")
def files(request: ApiRequest) -> HttpResponse:
    if request.method == "POST":
        return _upload(request)
    page = page_from_query(request.GET, default_limit=10_000, max_limit=10_000, allow_before=False)
    purpose = request.GET.get("purpose") or None
    queryset = services.list_files(request.project, purpose)
    if flag_param(request, "unattached"):
        # An extension: only files nothing refers to (docs/api.md).
        queryset = queryset.filter(pk__in=cleanup.unattached_files(request.project).values("pk"))
    return list_response(queryset, page, FileObject.of)


@api_view("GET", "DELETE")
def file(request: ApiRequest, file_id: str) -> HttpResponse:
    if request.method == "DELETE":
        services.delete_file(request.project, file_id)
        return json_response(DeletedObject(id=file_id, object="file", deleted=True).model_dump())
    return _render(services.get_file(request.project, file_id))


async def _blocks(storage_name: str) -> AsyncIterator[bytes]:
    blocks = storage.blocks(storage_name, DOWNLOAD_BLOCK)
    try:
        while block := await asyncio.to_thread(next, blocks, b""):
            yield block
    finally:
        await asyncio.to_thread(blocks.close)


@api_view("GET")
def file_content(request: ApiRequest, file_id: str) -> StreamingHttpResponse:
    stored = services.get_file(request.project, file_id)
    # An async iterator: under ASGI, Django reads a sync one (as FileResponse gives) whole into memory first.
    response = StreamingHttpResponse(_blocks(stored.storage_name), content_type="application/octet-stream")
    response["Content-Length"] = str(stored.bytes)
    disposition = content_disposition_header(as_attachment=True, filename=stored.filename)
    if disposition:
        response["Content-Disposition"] = disposition
    return response


@api_view("GET")
def file_usage(request: ApiRequest, file_id: str) -> HttpResponse:
    """An extension beyond OpenAI: the assistants and vector stores that use a file, by id."""
    usage = file_usage_of(request.project, file_id)
    return json_response({"object": "file.usage", "id": file_id, **usage})
