"""Project-wide lists for the console's Activity page (extensions, docs/api.md):

GET /v1/runs           every run of the project, filtered by status, assistant and creation time;
GET /v1/file_batches   every vector store file batch of the project, optionally only those in progress.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from console.api.endpoint import ApiRequest, api_view
from console.api.errors import invalid_request
from console.api.pagination import list_response, page_from_query, page_response, paginate
from console.api.schemas.vector_stores import VectorStoreFileBatchObject
from console.api.validation import quote_choices
from console.api.views.threads import time_param
from console.payloads.objects import run_object
from console.runs import activity as run_activity
from console.vector_stores import activity as batch_activity
from console.vector_stores import services as vector_stores


def _statuses(request: HttpRequest) -> list[str]:
    """`status` repeated or comma-separated."""
    values = [s.strip() for raw in request.GET.getlist("status") for s in raw.split(",") if s.strip()]
    for value in values:
        if value not in run_activity.STATUSES:
            raise invalid_request(
                f"Invalid value: '{value}'. Supported values are: {quote_choices(list(run_activity.STATUSES))}.",
                param="status",
                code="invalid_value",
            )
    return values


@api_view("GET")
def runs(request: ApiRequest) -> HttpResponse:
    page = page_from_query(request.GET)
    queryset = run_activity.list_project_runs(
        request.project,
        statuses=_statuses(request),
        assistant_id=request.GET.get("assistant_id", "").strip() or None,
        created_after=time_param(request, "created_after"),
        created_before=time_param(request, "created_before"),
    )
    return list_response(queryset, page, run_object)


@api_view("GET")
def file_batches(request: ApiRequest) -> HttpResponse:
    page = page_from_query(request.GET)
    status = request.GET.get("status") or None
    if status not in (None, "in_progress"):
        raise invalid_request(
            f"Invalid value: '{status}'. Supported values are: 'in_progress'.",
            param="status",
            code="invalid_value",
        )
    queryset = batch_activity.list_project_batches(request.project, in_progress_only=status == "in_progress")
    rows, has_more = paginate(queryset, page)
    counts = vector_stores.batch_counts([row.id for row in rows])
    data = [VectorStoreFileBatchObject.of(row, counts[row.id]).model_dump(mode="json") for row in rows]
    return page_response(data, has_more)
