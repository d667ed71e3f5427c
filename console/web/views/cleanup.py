"""Cleanup (admins): thread retention, bulk thread deletion by filter with a dry run, orphan files, unused stores.

Deletions go through the API (DELETE /v1/...), one object at a time, and each is written to the
audit log. The lists come from this server's extensions (docs/api.md): GET /v1/threads with
last_activity_before, GET /v1/files?unattached=true and GET /v1/vector_stores?unused=true.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.projects.models import Project
from console.web import audit
from console.web.access import ProjectAccess, project_for_user
from console.web.models import ProjectSettings, Role
from console.web.upstream import Client, UpstreamError, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

COUNT_CAP = 10000
# Deleted per click; a bigger selection is finished by clicking again (the count says what is left).
BULK_MAX = 1000
PREVIEW = 10
MAX_RETENTION_DAYS = 3650


def _settings(access: ProjectAccess) -> ProjectSettings:
    row, _ = ProjectSettings.objects.get_or_create(project=access.project)
    return row


@login_required
@require_GET
def cleanup(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.ADMIN)
    # rows None: the file and store lists load in their own requests; deleted None: nothing deleted yet.
    context = {
        "access": access,
        "settings": _settings(access),
        "filters": _thread_filters(request)[0],
        "rows": None,
        "deleted": None,
    }
    return render_page(request, "web/cleanup.html", context)


@login_required
@require_POST
def retention(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.ADMIN)
    row = _settings(access)
    raw = request.POST.get("days", "").strip()
    error = ""
    if raw and (not raw.isdigit() or not 1 <= int(raw) <= MAX_RETENTION_DAYS):
        error = (
            f"Enter a whole number of days from 1 to {MAX_RETENTION_DAYS}, or leave it empty to keep threads."
        )
    else:
        row.thread_retention_days = int(raw) if raw else None
        row.updated_at = timezone.now()
        row.save()
        audit.record(
            request,
            access.project,
            "retention.set",
            "project",
            str(access.project.pk),
            thread_retention_days=row.thread_retention_days,
        )
    context = {"access": access, "settings": row, "retention_error": error, "retention_saved": not error}
    return render_page(
        request, "web/cleanup.html", context, partial="retention", status=422 if error else 200
    )


def _day(raw: str) -> int | None:
    try:
        return int(datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None


def _thread_filters(request: HtmxHttpRequest) -> tuple[dict[str, str], dict[str, Any]]:
    data = request.POST if request.method == "POST" else request.GET
    form = {
        name: data.get(name, "").strip()
        for name in ("idle_days", "created_before", "q", "assistant", "mk", "mv")
    }
    params: dict[str, Any] = {"q": form["q"] or None, "assistant_id": form["assistant"] or None}
    if form["idle_days"].isdigit():
        params["last_activity_before"] = int(time.time()) - int(form["idle_days"]) * 86400
    if (day := _day(form["created_before"])) is not None:
        params["created_before"] = day
    if form["mk"]:
        params[f"metadata[{form['mk']}]"] = form["mv"]
    return form, params


def _matching(client: Client, params: dict[str, Any], cap: int) -> list[dict[str, Any]]:
    return client.list_all("threads", {**params, "order": "asc"}, cap=cap)


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def bulk_delete_threads(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """GET: the dry run (how many threads the filter matches, and a few of them). POST: delete them."""
    access = project_for_user(request.user, project_id, Role.ADMIN)
    form, params = _thread_filters(request)
    context: dict[str, Any] = {"access": access, "filters": form, "deleted": None}
    if not any(form[k] for k in ("idle_days", "created_before", "q", "assistant", "mk")):
        context["bulk_error"] = "Set at least one filter: this deletes every thread it matches."
        return render_page(request, "web/cleanup.html", context, partial="bulk", status=422)
    with client_for(access.project) as client:
        if request.method == "GET":
            rows = _matching(client, params, COUNT_CAP)
            context.update(
                dry_run=True, count=len(rows), capped=len(rows) >= COUNT_CAP, preview=rows[:PREVIEW]
            )
            return render_page(request, "web/cleanup.html", context, partial="bulk")
        ids = [thread["id"] for thread in _matching(client, params, BULK_MAX)]
        filters = {k: v for k, v in form.items() if v}
        deleted, failed = _delete_each(
            request, access.project, client, "threads", "thread", ids, filters=filters
        )
        remaining = len(_matching(client, params, COUNT_CAP))
    context.update(deleted=deleted, failed=failed, remaining=remaining)
    return render_page(request, "web/cleanup.html", context, partial="bulk")


def _delete_each(
    request: HtmxHttpRequest,
    project: Project,
    client: Client,
    path: str,
    kind: str,
    ids: list[str],
    **why: Any,
) -> tuple[int, list[str]]:
    """Deletes each object through the upstream API and audits each deletion; one already gone is
    skipped, one that fails is reported. Returns (deleted, failures)."""
    deleted, failed = 0, list[str]()
    for object_id in ids:
        try:
            client.delete(f"{path}/{object_id}")
        except UpstreamError as exc:
            if not exc.not_found:
                failed.append(f"{object_id}: {exc.message}")
            continue
        deleted += 1
        audit.record(request, project, f"{kind}.delete", kind, object_id, bulk=True, **why)
    return deleted, failed


def _bulk_list(
    request: HtmxHttpRequest, project_id: int, *, path: str, flag: str, kind: str, partial: str
) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.ADMIN)
    deleted, failed = 0, list[str]()
    with client_for(access.project) as client:
        if request.method == "POST":
            ids = request.POST.getlist("id")[:BULK_MAX]
            deleted, failed = _delete_each(request, access.project, client, path, kind, ids, reason=flag)
        try:
            rows = client.list_all(path, {flag: "true"}, cap=BULK_MAX)
            supported = True
        except UpstreamError as exc:
            if exc.status not in (400, 404) or client.connection.is_self:
                raise
            rows, supported = [], False
    context = {
        "access": access,
        "rows": rows,
        "deleted": deleted,
        "failed": failed,
        "supported": supported,
        "posted": request.method == "POST",
    }
    return render_page(request, "web/cleanup.html", context, partial=partial)


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def orphan_files(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    return _bulk_list(
        request, project_id, path="files", flag="unattached", kind="file", partial="orphan-files"
    )


@login_required
@require_http_methods(["GET", "POST"])
@handles_upstream
def unused_vector_stores(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    return _bulk_list(
        request, project_id, path="vector_stores", flag="unused", kind="vector_store", partial="unused-stores"
    )
