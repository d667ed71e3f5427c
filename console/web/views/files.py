"""Files: list by purpose, upload, download, delete, and where each file is used."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.web import audit
from console.web.access import project_for_user
from console.web.models import Role
from console.web.upstream import Client, UpstreamError, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

PURPOSES = ["assistants", "vision", "batch", "fine-tune", "user_data", "evals"]
PAGE = 25


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def files(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    need = Role.EDITOR if request.method == "POST" else Role.VIEWER
    access = project_for_user(request.user, project_id, need)
    purpose = request.GET.get("purpose", "")
    after = request.GET.get("after") or None
    upload_error = ""
    with client_for(access.project) as client:
        if request.method == "POST":
            uploads = request.FILES.getlist("file")
            purpose = request.POST.get("purpose", "assistants")
            if not uploads:
                upload_error = "Choose at least one file."
            for upload in uploads:
                try:
                    created = client.upload_file(upload, purpose)
                except UpstreamError as exc:
                    if exc.status is None or exc.status >= 500:
                        raise
                    upload_error = exc.plain.prefixed(f"{upload.name} could not be uploaded.")
                    break
                audit.record(
                    request,
                    access.project,
                    "file.upload",
                    "file",
                    created["id"],
                    filename=created.get("filename"),
                )
            if not upload_error and not request.htmx:
                return redirect(
                    reverse("files", args=[project_id]) + (f"?purpose={purpose}" if purpose else "")
                )
        page = client.get(
            "files", {"limit": PAGE, "after": after, "purpose": purpose or None, "order": "desc"}
        )
    rows = page["data"]
    context = {
        "access": access,
        "rows": rows,
        "has_more": page["has_more"],
        "purpose": purpose,
        "purposes": PURPOSES,
        "next_after": rows[-1]["id"] if rows else "",
        "upload_error": upload_error,
    }
    status = 422 if upload_error else 200
    return render_page(
        request, "web/files.html", context, partial="rows" if after else "results", status=status
    )


@login_required
@require_GET
@handles_upstream
def file_download(request: HtmxHttpRequest, project_id: int, file_id: str) -> HttpResponseBase:
    access = project_for_user(request.user, project_id)
    client = client_for(access.project)
    meta = client.get(f"files/{file_id}")
    body = client.download(file_id)
    first = next(body, b"")  # fail here, as a page, rather than mid-download

    def chunks():  # type: ignore[no-untyped-def]
        try:
            yield first
            yield from body
        finally:
            client.__exit__()

    response = StreamingHttpResponse(chunks(), content_type="application/octet-stream")
    inline = request.GET.get("inline") == "1" and meta.get("filename", "").lower().endswith(
        (".png", ".jpg", ".jpeg", ".gif", ".webp")
    )
    if inline:
        response["Content-Type"] = "image/" + meta["filename"].rsplit(".", 1)[-1].lower().replace(
            "jpg", "jpeg"
        )
    response["Content-Disposition"] = (
        content_disposition_header(not inline, meta.get("filename") or file_id) or "attachment"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
@handles_upstream
def file_delete(request: HtmxHttpRequest, project_id: int, file_id: str) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.ADMIN)
    with client_for(access.project) as client:
        client.delete(f"files/{file_id}")
    audit.record(request, access.project, "file.delete", "file", file_id)
    if request.htmx:
        return HttpResponse("")  # the row swaps itself out
    return redirect("files", project_id)


USAGE_NAMES = 10


def _names(client: Client, kind: str, ids: list[str]) -> list[dict[str, str]]:
    """Display names for the first few ids (one call each); the rest are shown by id."""
    named = []
    for n, object_id in enumerate(ids):
        name = ""
        if n < USAGE_NAMES:
            try:
                name = client.get(f"{kind}/{object_id}").get("name") or ""
            except UpstreamError as exc:
                if not exc.not_found:
                    raise
        named.append({"id": object_id, "name": name or object_id})
    return named


@login_required
@require_GET
@handles_upstream
def file_usage(request: HtmxHttpRequest, project_id: int, file_id: str) -> HttpResponse:
    """Which assistants and vector stores use a file: one call to GET /v1/files/{id}/usage (an extension)."""
    access = project_for_user(request.user, project_id)
    unsupported = False
    with client_for(access.project) as client:
        meta = client.get(f"files/{file_id}")
        try:
            usage = client.get(f"files/{file_id}/usage")
        except UpstreamError as exc:
            if exc.status not in (404, 405):
                raise
            usage, unsupported = {"assistants": [], "vector_stores": []}, True
        assistants = _names(client, "assistants", usage.get("assistants") or [])
        stores = _names(client, "vector_stores", usage.get("vector_stores") or [])
    context = {
        "access": access,
        "file": meta,
        "assistants": assistants,
        "stores": stores,
        "unsupported": unsupported,
    }
    return render_page(request, "web/file_usage.html", context, partial="usage")
