"""Vector stores: list, create, detail with files, rename, delete, and batch uploads with live progress."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from console.web import audit, batches, uploads, watching
from console.web.access import ProjectAccess, project_for_user
from console.web.models import BatchWatch, Role, UploadItem, UploadSession
from console.web.names import Names
from console.web.upstream import Client, UpstreamError, client_for
from console.web.views import store_files
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

PAGE = 20
FILES_PAGE = 50


def _get_store_for_user(
    request: HtmxHttpRequest, project_id: int, store_id: str, need: Role = Role.VIEWER
) -> tuple[ProjectAccess, Client, dict[str, Any]]:
    access = project_for_user(request.user, project_id, need)
    client = client_for(access.project)
    try:
        return access, client, client.get(f"vector_stores/{store_id}")
    except UpstreamError:
        client.__exit__()
        raise


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def vector_stores(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    need = Role.EDITOR if request.method == "POST" else Role.VIEWER
    access = project_for_user(request.user, project_id, need)
    after = request.GET.get("after") or None
    error = ""
    with client_for(access.project) as client:
        if request.method == "POST":
            name = request.POST.get("name", "").strip()
            try:
                store = client.post("vector_stores", {"name": name} if name else {})
            except UpstreamError as exc:
                if exc.status != 400:
                    raise
                error = exc.plain
            else:
                audit.record(
                    request, access.project, "vector_store.create", "vector_store", store["id"], name=name
                )
                url = reverse("vector_store", args=[project_id, store["id"]])
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        page = client.get("vector_stores", {"limit": PAGE, "after": after})
    rows = page["data"]
    context = {
        "access": access,
        "rows": rows,
        "has_more": page["has_more"],
        "error": error,
        "next_after": rows[-1]["id"] if rows else "",
    }
    return render_page(
        request,
        "web/vector_stores.html",
        context,
        partial="rows" if after else None,
        status=422 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def vector_store(request: HtmxHttpRequest, project_id: int, store_id: str) -> HttpResponse:
    need = Role.EDITOR if request.method == "POST" else Role.VIEWER
    access, client, store = _get_store_for_user(request, project_id, store_id, need)
    after = request.GET.get("after") or None
    status_filter = request.GET.get("filter", "")
    error, saved = "", False
    with client:
        if request.method == "POST":
            try:
                store = client.post(f"vector_stores/{store_id}", {"name": request.POST.get("name", "")})
                saved = True
                audit.record(
                    request,
                    access.project,
                    "vector_store.update",
                    "vector_store",
                    store_id,
                    name=store.get("name"),
                )
            except UpstreamError as exc:
                if exc.status != 400:
                    raise
                error = exc.plain
            return render_page(
                request,
                "web/vector_store.html",
                {"access": access, "store": store, "error": error, "saved": saved},
                partial="store-name",
                status=422 if error else 200,
            )
        page = client.get(
            f"vector_stores/{store_id}/files",
            {"limit": FILES_PAGE, "after": after, "filter": status_filter or None},
        )
        names = Names(client)
        # Failed files come first, each with its reason and what can be done about it.
        failed = [] if after or status_filter else store_files.failed_files(client, store_id)
        rows = [{**f, "filename": names.file(f["id"])} for f in page["data"]]
        failed = [{**f, "filename": names.file(f["id"])} for f in failed]
    watches = BatchWatch.objects.filter(project=access.project, vector_store_id=store_id).order_by(
        "-created_at"
    )[:5]
    sessions = UploadSession.objects.filter(project=access.project, vector_store_id=store_id).order_by(
        "-created_at"
    )[:5]
    context = {
        "access": access,
        "store": store,
        "rows": rows,
        "failed_rows": failed,
        "live": bool(store.get("file_counts", {}).get("in_progress"))
        or any(not w.is_done for w in watches)
        or any(not s.is_done for s in sessions),
        "has_more": page["has_more"],
        "filter": status_filter,
        "next_after": rows[-1]["id"] if rows else "",
        "watches": watches,
        "uploads": [uploads.view(session) for session in sessions],
    }
    partial = "file-rows" if after else ("store-live" if request.GET.get("live") else None)
    return render_page(request, "web/vector_store.html", context, partial=partial)


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def vector_store_delete(request: HtmxHttpRequest, project_id: int, store_id: str) -> HttpResponse:
    access, client, store = _get_store_for_user(request, project_id, store_id, Role.ADMIN)
    with client:
        if request.method == "GET":
            return render_page(request, "web/vector_store_delete.html", {"access": access, "store": store})
        client.delete(f"vector_stores/{store_id}")
    audit.record(request, access.project, "vector_store.delete", "vector_store", store_id)
    url = reverse("vector_stores", args=[project_id])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_POST
@handles_upstream
def vector_store_upload(request: HtmxHttpRequest, project_id: int, store_id: str) -> HttpResponse:
    """One file of a batch upload; the browser sends them one by one to show each file's progress."""
    access, client, _ = _get_store_for_user(request, project_id, store_id, Role.EDITOR)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": "No file was sent."}, status=400)
    if request.POST.get("session"):
        return _upload_into_session(request, access, client, store_id, upload)
    with client:
        try:
            created = client.upload_file(upload)
        except UpstreamError as exc:
            return JsonResponse(
                {"error": exc.message}, status=400 if exc.status and exc.status < 500 else 502
            )
    audit.record(
        request, access.project, "file.upload", "file", created["id"], filename=created.get("filename")
    )
    return JsonResponse({"id": created["id"], "filename": created.get("filename")})


def _upload_into_session(
    request: HtmxHttpRequest, access: ProjectAccess, client: Client, store_id: str, upload: Any
) -> HttpResponse:
    """One announced file of an upload session: uploaded, then attached to the store at once."""
    session_id, index = request.POST.get("session", ""), request.POST.get("index", "")
    item = (
        UploadItem.objects.filter(
            session__project=access.project,
            session__vector_store_id=store_id,
            session_id=int(session_id) if session_id.isdigit() else 0,
            index=int(index) if index.isdigit() else -1,
        )
        .select_related("session")
        .first()
    )
    if item is None:
        client.__exit__()
        return JsonResponse({"error": "This upload is not part of that session."}, status=400)
    with client:
        try:
            uploads.arrive(client, item, upload, upload.content_type or "application/octet-stream")
        except UpstreamError as exc:
            if item.file_id:
                audit.record(request, access.project, "file.upload", "file", item.file_id, filename=item.name)
            return JsonResponse(
                {"error": item.error or exc.message}, status=400 if exc.status and exc.status < 500 else 502
            )
    audit.record(request, access.project, "file.upload", "file", item.file_id, filename=item.name)
    audit.record(
        request,
        access.project,
        "vector_store_file.create",
        "vector_store",
        store_id,
        file_id=item.file_id,
        upload_session=item.session_id,
    )
    return JsonResponse({"id": item.file_id, "filename": item.name, "status": item.status})


@login_required
@require_POST
@handles_upstream
def upload_start(request: HtmxHttpRequest, project_id: int, store_id: str) -> HttpResponse:
    """The browser announces the files it is about to send; each then arrives on its own request."""
    access, client, _ = _get_store_for_user(request, project_id, store_id, Role.EDITOR)
    client.__exit__()
    names = request.POST.getlist("name")[: uploads.MAX_FILES]
    if not names:
        return JsonResponse({"error": "No files were chosen."}, status=400)
    session = watching.start_upload(access.project, store_id, names, request.user.get_username())
    audit.record(
        request,
        access.project,
        "upload.start",
        "vector_store",
        store_id,
        files=len(names),
        upload_session=session.pk,
    )
    return JsonResponse(
        {
            "session": session.pk,
            "files": len(names),
            "status_url": reverse("upload_session", args=[project_id, session.pk]),
        }
    )


@login_required
@require_GET
def upload_session(request: HtmxHttpRequest, project_id: int, session_id: int) -> HttpResponse:
    """What arrived, what did not, and how ingestion goes; the page polls this until the session ends."""
    access = project_for_user(request.user, project_id, Role.VIEWER)
    session = get_object_or_404(UploadSession, project=access.project, pk=session_id)
    return render_page(
        request, "web/vector_store.html", {"access": access, "up": uploads.view(session)}, partial="upload"
    )


def _start_batch(
    request: HtmxHttpRequest, access: ProjectAccess, client: Client, store_id: str, file_ids: list[str]
) -> BatchWatch:
    return watching.start_batch(request, access.project, client, store_id, file_ids)


@login_required
@require_POST
@handles_upstream
def batch_create(request: HtmxHttpRequest, project_id: int, store_id: str) -> HttpResponse:
    access, client, _ = _get_store_for_user(request, project_id, store_id, Role.EDITOR)
    file_ids = [f for f in request.POST.getlist("file_id") if f]
    if not file_ids:
        return HttpResponse('<p class="error" role="alert">No files were uploaded.</p>', status=422)
    with client:
        watch = _start_batch(request, access, client, store_id, file_ids)
    return render_page(request, "web/vector_store.html", {"access": access, "watch": watch}, partial="batch")


def _get_watch_for_user(
    request: HtmxHttpRequest, project_id: int, batch_id: str, need: Role
) -> tuple[ProjectAccess, BatchWatch]:
    access = project_for_user(request.user, project_id, need)
    return access, get_object_or_404(BatchWatch, project=access.project, batch_id=batch_id)


@login_required
@require_GET
def batch(request: HtmxHttpRequest, project_id: int, batch_id: str) -> HttpResponse:
    """The progress the watch task recorded; the page polls this every second until the batch ends."""
    access, watch = _get_watch_for_user(request, project_id, batch_id, Role.VIEWER)
    return render_page(request, "web/vector_store.html", {"access": access, "watch": watch}, partial="batch")


@login_required
@require_POST
@handles_upstream
def batch_cancel(request: HtmxHttpRequest, project_id: int, batch_id: str) -> HttpResponse:
    access, watch = _get_watch_for_user(request, project_id, batch_id, Role.EDITOR)
    with client_for(access.project) as client:
        try:
            client.post(f"vector_stores/{watch.vector_store_id}/file_batches/{batch_id}/cancel")
        except UpstreamError as exc:
            if exc.status != 400:
                raise
    audit.record(request, access.project, "file_batch.cancel", "file_batch", batch_id)
    watch = batches.refresh(watch)
    return render_page(request, "web/vector_store.html", {"access": access, "watch": watch}, partial="batch")


@login_required
@require_POST
@handles_upstream
def batch_retry(request: HtmxHttpRequest, project_id: int, batch_id: str) -> HttpResponse:
    """A new batch with the files that failed in this one."""
    access, watch = _get_watch_for_user(request, project_id, batch_id, Role.EDITOR)
    with client_for(access.project) as client:
        failed = client.list_all(
            f"vector_stores/{watch.vector_store_id}/file_batches/{batch_id}/files", {"filter": "failed"}
        )
        if not failed:
            return render_page(
                request, "web/vector_store.html", {"access": access, "watch": watch}, partial="batch"
            )
        new = _start_batch(request, access, client, watch.vector_store_id, [f["id"] for f in failed])
    return render_page(request, "web/vector_store.html", {"access": access, "watch": new}, partial="batch")
