"""Jobs: the background work the console started (file batch ingestions and runs), with retry."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from console.web import audit, uploads, watching
from console.web.access import ProjectAccess, project_for_user
from console.web.models import BatchWatch, Role, RunWatch, UploadSession
from console.web.upstream import UpstreamError, client_for
from console.web.views.common import HtmxHttpRequest, handles_upstream, render_page

JOBS_SHOWN = 100


def _render_jobs(
    request: HtmxHttpRequest, access: ProjectAccess, error: str = "", status: int = 200
) -> HttpResponse:
    batches = list(BatchWatch.objects.filter(project=access.project).order_by("-created_at")[:JOBS_SHOWN])
    runs = list(RunWatch.objects.filter(project=access.project).order_by("-created_at")[:JOBS_SHOWN])
    sessions = list(UploadSession.objects.filter(project=access.project).order_by("-created_at")[:JOBS_SHOWN])
    upload_rows = [uploads.view(session) for session in sessions]
    active = (
        any(not w.is_done for w in batches)
        or any(not w.is_done for w in runs)
        or any(not s.is_done for s in sessions)
    )
    context = {
        "access": access,
        "rows": batches,
        "runs": runs,
        "uploads": upload_rows,
        "active": active,
        "error": error,
    }
    return render_page(request, "web/jobs.html", context, partial="jobs", status=status)


@login_required
@require_GET
def jobs(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """Newest first; the page polls itself while anything is still running."""
    access = project_for_user(request.user, project_id)
    return _render_jobs(request, access)


@login_required
@require_POST
@handles_upstream
def run_retry(request: HtmxHttpRequest, project_id: int, run_id: str) -> HttpResponse:
    """Runs the same assistant on the same thread again, and watches the new run."""
    access = project_for_user(request.user, project_id, Role.EDITOR)
    watch = get_object_or_404(RunWatch, project=access.project, run_id=run_id)
    with client_for(access.project) as client:
        try:
            run = client.post(f"threads/{watch.thread_id}/runs", {"assistant_id": watch.assistant_id})
        except UpstreamError as exc:
            if exc.status not in (400, 404):
                raise
            return _render_jobs(
                request, access, error=exc.plain.prefixed("Could not retry the run."), status=422
            )
    watching.watch_run(access.project, watch.thread_id, run, request.user.get_username(), retry_of=run_id)
    audit.record(
        request,
        access.project,
        "run.retry",
        "run",
        run["id"],
        thread_id=watch.thread_id,
        assistant_id=watch.assistant_id,
        retry_of=run_id,
    )
    if not request.htmx:
        return redirect("jobs", project_id)
    return _render_jobs(request, access)
