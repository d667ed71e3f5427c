from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from console.api import sse
from console.api.endpoint import ApiRequest, api_view
from console.api.errors import invalid_request
from console.api.jsonresp import json_response
from console.api.pagination import list_response, page_from_query
from console.api.schemas.runs import (
    FILE_SEARCH_CONTENT,
    CreateRunRequest,
    CreateThreadAndRunRequest,
    ModifyRunRequest,
    RunOptions,
    SubmitToolOutputsRequest,
)
from console.api.schemas.tools import normalize_response_format, normalize_tool, normalize_tool_resources
from console.api.validation import parse_body, quote_choices
from console.api.views.threads import new_message
from console.events import stream
from console.payloads.objects import run_object, step_object
from console.runs import services
from console.runs.models import Run


def _include_content(request: HttpRequest) -> bool:
    values = request.GET.getlist("include[]") + request.GET.getlist("include")
    for value in values:
        if value != FILE_SEARCH_CONTENT:
            raise invalid_request(
                f"Invalid value: '{value}'. Supported values are: {quote_choices([FILE_SEARCH_CONTENT])}.",
                param="include",
                code="invalid_value",
            )
    return bool(values)


def _params(body: RunOptions, sent: set[str]) -> services.RunParams:
    params = services.RunParams(assistant_id=body.assistant_id)
    for name in (
        "model",
        "instructions",
        "metadata",
        "temperature",
        "top_p",
        "max_prompt_tokens",
        "max_completion_tokens",
        "parallel_tool_calls",
        "reasoning_effort",
    ):
        setattr(params, name, getattr(body, name))
    if isinstance(body, CreateRunRequest):
        params.additional_instructions = body.additional_instructions
    if body.tools is not None:
        params.tools = [normalize_tool(tool) for tool in body.tools]
    if body.truncation_strategy is not None:
        params.truncation_strategy = body.truncation_strategy.model_dump()
    if body.tool_choice is not None:
        choice = body.tool_choice
        params.tool_choice = choice if isinstance(choice, str) else choice.model_dump(exclude_none=True)
    if body.response_format is not None:
        params.response_format = normalize_response_format(body.response_format)
    return params


def _render(run: Run) -> HttpResponse:
    return json_response(run_object(run))


def _stream(run_id: str, after: str = stream.START) -> HttpResponseBase:
    return sse.sse_response(sse.frames(run_id, after))


@api_view("GET", "POST")
def runs(request: ApiRequest, thread_id: str) -> HttpResponseBase:
    if request.method == "GET":
        page = page_from_query(request.GET)
        return list_response(services.list_runs(request.project, thread_id), page, run_object)
    _include_content(request)
    body, sent = parse_body(request, CreateRunRequest)
    created = services.create_run(
        request.project,
        thread_id,
        _params(body, sent),
        [new_message(m) for m in body.additional_messages or []],
    )
    return _stream(created.id) if body.stream else _render(created)


@api_view("POST")
def create_thread_and_run(request: ApiRequest) -> HttpResponseBase:
    body, sent = parse_body(request, CreateThreadAndRunRequest)
    thread_body = body.thread
    # Run-level tool_resources become the new thread's, over any the thread body gives.
    resources = (
        body.tool_resources
        if body.tool_resources is not None
        else (thread_body.tool_resources if thread_body else None)
    )
    _, created = services.create_thread_and_run(
        request.project,
        _params(body, sent),
        messages=[new_message(m) for m in (thread_body.messages if thread_body else [])],
        tool_resources=normalize_tool_resources(resources),
        metadata=(thread_body.metadata if thread_body else None) or {},
    )
    return _stream(created.id) if body.stream else _render(created)


@api_view("GET", "POST")
def run_detail(request: ApiRequest, thread_id: str, run_id: str) -> HttpResponseBase:
    if request.method == "GET":
        return _render(services.get_run(request.project, thread_id, run_id))
    body, _ = parse_body(request, ModifyRunRequest)
    return _render(services.update_run(request.project, thread_id, run_id, body.metadata))


@api_view("POST")
def cancel(request: ApiRequest, thread_id: str, run_id: str) -> HttpResponseBase:
    return _render(services.cancel_run(request.project, thread_id, run_id))


@api_view("POST")
def submit_tool_outputs(request: ApiRequest, thread_id: str, run_id: str) -> HttpResponseBase:
    body, _ = parse_body(request, SubmitToolOutputsRequest)
    services.get_run(request.project, thread_id, run_id)  # 404 before touching the stream
    after = stream.last_id(run_id) if body.stream else stream.START
    resumed = services.submit_tool_outputs(
        request.project, thread_id, run_id, [(o.tool_call_id, o.output) for o in body.tool_outputs]
    )
    return _stream(resumed.id, after) if body.stream else _render(resumed)


@api_view("GET")
def events(request: ApiRequest, thread_id: str, run_id: str) -> HttpResponseBase:
    """Extension: every event of a live or finished run, from its start, for any number of readers."""
    found = services.get_run(request.project, thread_id, run_id)
    return sse.sse_response(sse.frames(found.id, stream.START, until_final=True))


@api_view("GET")
def steps(request: ApiRequest, thread_id: str, run_id: str) -> HttpResponseBase:
    include = _include_content(request)
    page = page_from_query(request.GET)
    queryset = services.list_steps(request.project, thread_id, run_id)
    return list_response(queryset, page, lambda s: step_object(s, include_content=include))


@api_view("GET")
def step(request: ApiRequest, thread_id: str, run_id: str, step_id: str) -> HttpResponseBase:
    include = _include_content(request)
    found = services.get_step(request.project, thread_id, run_id, step_id)
    return json_response(step_object(found, include_content=include))
