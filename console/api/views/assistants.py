from __future__ import annotations

from django.http import HttpResponse

from console.api.endpoint import ApiRequest, api_view
from console.api.jsonresp import json_response
from console.api.pagination import list_response, page_from_query
from console.api.schemas.assistants import AssistantObject, CreateAssistantRequest, ModifyAssistantRequest
from console.api.schemas.base import DeletedObject
from console.api.schemas.tools import normalize_response_format, normalize_tool, normalize_tool_resources
from console.api.validation import parse_body
from console.assistants import services
from console.assistants.models import Assistant


def _fields(body: CreateAssistantRequest | ModifyAssistantRequest, sent: set[str]) -> dict[str, object]:
    fields: dict[str, object] = {
        name: getattr(body, name) for name in services.EDITABLE_FIELDS if name in sent
    }
    if "tools" in fields:
        fields["tools"] = [normalize_tool(tool) for tool in body.tools]
    if "tool_resources" in fields:
        fields["tool_resources"] = normalize_tool_resources(body.tool_resources)
    if "response_format" in fields and body.response_format is not None:
        fields["response_format"] = normalize_response_format(body.response_format)
    return fields


def _render(assistant: Assistant) -> HttpResponse:
    return json_response(AssistantObject.of(assistant).model_dump(mode="json"))


@api_view("GET", "POST")
def assistants(request: ApiRequest) -> HttpResponse:
    if request.method == "GET":
        page = page_from_query(request.GET)
        return list_response(services.list_assistants(request.project), page, AssistantObject.of)
    body, sent = parse_body(request, CreateAssistantRequest)
    return _render(services.create_assistant(request.project, _fields(body, sent)))


@api_view("GET", "POST", "DELETE")
def assistant(request: ApiRequest, assistant_id: str) -> HttpResponse:
    if request.method == "GET":
        return _render(services.get_assistant(request.project, assistant_id))
    if request.method == "DELETE":
        services.delete_assistant(request.project, assistant_id)
        return json_response(
            DeletedObject(id=assistant_id, object="assistant.deleted", deleted=True).model_dump()
        )
    body, sent = parse_body(request, ModifyAssistantRequest)
    return _render(services.update_assistant(request.project, assistant_id, _fields(body, sent)))
