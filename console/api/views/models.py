"""GET /v1/models and GET /v1/models/{model}: what the configured providers serve (docs/api.md)."""

from __future__ import annotations

from django.http import HttpResponse

from console.api.endpoint import ApiRequest, async_api_view
from console.api.errors import error_response
from console.api.jsonresp import json_response
from console.providers.models import get_model, list_models


@async_api_view("GET")
async def models(request: ApiRequest) -> HttpResponse:
    return json_response({"object": "list", "data": await list_models()})


@async_api_view("GET")
async def model(request: ApiRequest, model_id: str) -> HttpResponse:
    found = await get_model(model_id)
    if found is None:
        return error_response(
            404,
            f"The model '{model_id}' does not exist or you do not have access to it.",
            code="model_not_found",
        )
    return json_response(found)
