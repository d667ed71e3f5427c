"""/v1/responses: create (JSON, stream, background), retrieve (and resume its stream), delete,
cancel, input items, input token counts."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from console.api import response_sse
from console.api.endpoint import ApiRequest, api_view, async_api_view
from console.api.errors import ApiError, invalid_request
from console.api.jsonresp import json_response
from console.api.pagination import page_from_query, page_response
from console.api.response_input import input_items
from console.api.schemas.responses import CreateResponseRequest, ResponseOptions
from console.api.sse import sse_response
from console.api.validation import parse_body, quote_choices, reject_nul
from console.responses import services
from console.responses.lifecycle import CONTEXT_MESSAGE
from console.responses.models import Response
from console.responses.objects import response_object

INCLUDABLE = [
    "code_interpreter_call.outputs",
    "computer_call_output.output.image_url",
    "file_search_call.results",
    "message.input_image.image_url",
    "message.output_text.logprobs",
    "reasoning.encrypted_content",
    "web_search_call.action.sources",
    "web_search_call.results",
]


def _check_include(values: list[str]) -> None:
    for value in values:
        if value not in INCLUDABLE:
            raise invalid_request(
                f"Invalid value: '{value}'. Supported values are: {quote_choices(INCLUDABLE)}.",
                param="include",
                code="invalid_value",
            )


def _params(body: ResponseOptions, model: str) -> services.ResponseParams:
    conversation = body.conversation
    params = services.ResponseParams(
        model=model,
        input=input_items(body.input),
        instructions=body.instructions,
        previous_response_id=body.previous_response_id,
        conversation_id=conversation
        if isinstance(conversation, str) or conversation is None
        else conversation.id,
        tools=[tool.model_dump(exclude_none=True) for tool in body.tools or []],
        parallel_tool_calls=True if body.parallel_tool_calls is None else body.parallel_tool_calls,
        truncation=body.truncation or "disabled",
    )
    choice = body.tool_choice
    if choice is not None:
        params.tool_choice = choice if isinstance(choice, str) else choice.model_dump()
    if body.text is not None:
        params.text = body.text.model_dump(exclude_none=True, by_alias=True)
    if body.reasoning is not None:
        params.reasoning = body.reasoning.model_dump(exclude_none=True)
    return params


def _create(request: ApiRequest) -> tuple[Response, bool]:
    reject_nul(request, {})
    body, _ = parse_body(request, CreateResponseRequest)
    _check_include(body.include or [])
    params = _params(body, body.model)
    params.store = True if body.store is None else body.store
    params.background = bool(body.background)
    params.max_output_tokens = body.max_output_tokens
    params.max_tool_calls = body.max_tool_calls
    params.temperature = body.temperature
    params.top_p = body.top_p
    params.metadata = body.metadata or {}
    params.user = body.user
    params.safety_identifier = body.safety_identifier
    if not params.input and not params.previous_response_id and not params.conversation_id:
        raise invalid_request(
            "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
        )
    return services.create_response(request.project, params), bool(body.stream)


@async_api_view("POST")
async def responses(request: ApiRequest) -> HttpResponseBase:
    created, streamed = await sync_to_async(_create)(request)
    if streamed:
        # sse_response hands the request thread's database connection back: from that thread.
        return await sync_to_async(sse_response)(response_sse.frames(created.id))
    if created.background:
        return json_response(response_object(created))
    final = await response_sse.final_object(created.id)
    if final is None:  # deleted meanwhile
        raise ApiError(404, f"Response with id '{created.id}' not found.")
    error = final.get("error") or {}
    if final["status"] == "failed" and error.get("message") == CONTEXT_MESSAGE:
        raise invalid_request(CONTEXT_MESSAGE, param="input", code="context_length_exceeded")
    return json_response(final)


def _starting_after(request: HttpRequest) -> int | None:
    raw = request.GET.get("starting_after")
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request(
            "Invalid type for 'starting_after': expected an integer, but got a string instead.",
            param="starting_after",
            code="invalid_type",
        ) from None
    return value


@api_view("GET", "DELETE")
def response(request: ApiRequest, response_id: str) -> HttpResponseBase:
    if request.method == "DELETE":
        services.delete_response(request.project, response_id)
        return json_response({"id": response_id, "object": "response", "deleted": True})
    _check_include(request.GET.getlist("include[]") + request.GET.getlist("include"))
    found = services.get_response(request.project, response_id)
    if (request.GET.get("stream") or "").lower() == "true":
        return sse_response(response_sse.frames(found.id, _starting_after(request)))
    return json_response(response_object(found))


@api_view("POST")
def cancel(request: ApiRequest, response_id: str) -> HttpResponse:
    return json_response(response_object(services.cancel_response(request.project, response_id)))


@api_view("GET")
def response_input_items(request: ApiRequest, response_id: str) -> HttpResponse:
    page = page_from_query(request.GET)
    _check_include(request.GET.getlist("include[]") + request.GET.getlist("include"))
    items = services.input_items(request.project, response_id)
    if page.order == "desc":
        items = list(reversed(items))
    ids = [item["id"] for item in items]
    start = 0
    if page.after:
        if page.after not in ids:
            raise invalid_request(f"No item found with id '{page.after}' for cursor 'after'.", param="after")
        start = ids.index(page.after) + 1
    end = len(items)
    if page.before:
        if page.before not in ids:
            raise invalid_request(
                f"No item found with id '{page.before}' for cursor 'before'.", param="before"
            )
        end = ids.index(page.before)
    window = items[start:end]
    return page_response(window[: page.limit], len(window) > page.limit)


@api_view("POST")
def input_tokens(request: ApiRequest) -> HttpResponse:
    body, _ = parse_body(request, ResponseOptions)
    params = _params(body, body.model or "")
    if params.previous_response_id and params.conversation_id:
        raise invalid_request(
            "Mutually exclusive parameters: Ensure you are only providing one of: "
            "'previous_response_id' or 'conversation'.",
            code="mutually_exclusive_parameters",
        )
    count = services.count_input_tokens(request.project, params)
    return json_response({"object": "response.input_tokens", "input_tokens": count})
