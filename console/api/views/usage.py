"""GET /v1/usage?days=N: tokens per UTC day of the project's runs. An extension beyond OpenAI."""

from __future__ import annotations

from django.http import HttpResponse

from console.api.endpoint import ApiRequest, api_view
from console.api.errors import invalid_request
from console.api.jsonresp import json_response
from console.api.pagination import int_param
from console.runs.usage import FIELDS, daily_usage

DEFAULT_DAYS, MAX_DAYS = 30, 366


@api_view("GET")
def usage(request: ApiRequest) -> HttpResponse:
    days = int_param(request.GET, "days", DEFAULT_DAYS, MAX_DAYS)
    group_by = request.GET.get("group_by") or None
    if group_by not in (None, "model"):
        raise invalid_request(
            f"Invalid value: '{group_by}'. Supported values are: 'model'.",
            param="group_by",
            code="invalid_value",
        )
    data = daily_usage(request.project, days, by_model=group_by == "model")
    totals = {name: sum(row[name] for row in data) for name in ("runs", *FIELDS)}
    return json_response({"object": "list", "data": data, "days": days, "totals": totals})
