"""Checks responses against the contract: OpenAI's spec cut to our operations, in
docs/openapi/assistants-v2.yaml (Assistants) and docs/openapi/responses.yaml (Responses, Conversations)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from jsonschema import Draft202012Validator

SPEC_PATH = Path(__file__).resolve().parents[1] / "docs" / "openapi" / "assistants-v2.yaml"
RESPONSES_SPEC_PATH = SPEC_PATH.with_name("responses.yaml")
# Our extensions beyond the spec, and which schema their bodies follow.
EXTENSIONS = {("get", "/threads"): "ListThreadsResponse"}


def _nullable(node: Any) -> Any:
    """The spec mixes OpenAPI 3.0's `nullable: true` into 3.1 schemas; JSON Schema needs it spelled out."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if isinstance(node.get("type"), str) and "$ref" not in node and "allOf" not in node:
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def spec() -> dict[str, Any]:
    document = _nullable(yaml.safe_load(SPEC_PATH.read_text()))
    schemas = document["components"]["schemas"]
    # OpenAI's service answered an empty list with null first_id/last_id (the SDK types them Optional),
    # while the spec says string. We follow the service.
    for name, schema in schemas.items():
        if name.startswith("List") and "first_id" in schema.get("properties", {}):
            for key in ("first_id", "last_id"):
                schema["properties"][key] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    schemas["ListThreadsResponse"] = {
        "type": "object",
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/ThreadObject"}},
            "first_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "last_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "has_more": {"type": "boolean"},
        },
        "required": ["object", "data", "first_id", "last_id", "has_more"],
    }
    return document


@functools.cache
def responses_spec() -> dict[str, Any]:
    document = _nullable(yaml.safe_load(RESPONSES_SPEC_PATH.read_text()))
    # As for the Assistants lists: an empty page has null first_id/last_id.
    for schema in document["components"]["schemas"].values():
        if isinstance(schema, dict) and "first_id" in schema.get("properties", {}):
            for key in ("first_id", "last_id"):
                schema["properties"][key] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    # OpenAI's service answers `usage: null` until a response ends (the SDKs type it Optional);
    # the spec says object. We follow the service.
    response = next(
        p
        for p in document["components"]["schemas"]["Response"]["allOf"]
        if "usage" in p.get("properties", {})
    )
    response["properties"]["usage"] = {
        "anyOf": [{"$ref": "#/components/schemas/ResponseUsage"}, {"type": "null"}]
    }
    return document


def _document(path: str) -> dict[str, Any]:
    return responses_spec() if path.startswith(("/responses", "/conversations")) else spec()


@functools.cache
def _routes(responses: bool) -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in (responses_spec() if responses else spec())["paths"]:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        routes.append((re.compile(pattern), template))
    # Literal segments beat parameters: /threads/runs before /threads/{thread_id}.
    routes.sort(key=lambda r: r[1].count("{"))
    return routes


def schema_for(method: str, path: str, status: int) -> str | None:
    """The component schema name the spec promises for this response."""
    if status >= 400:
        return "ErrorResponse"
    method = method.lower()
    document = _document(path)
    for pattern, template in _routes(document is responses_spec()):
        if pattern.match(path):
            if (method, template) in EXTENSIONS:
                return EXTENSIONS[(method, template)]
            operation = document["paths"][template].get(method)
            if operation is None:
                return None
            content = operation["responses"].get(str(status), {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref")
            return ref.rsplit("/", 1)[-1] if ref else None
    return None


def validate(schema_name: str, body: Any, document: dict[str, Any] | None = None) -> None:
    document = document or spec()
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    errors = sorted(Draft202012Validator(root).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        details = "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])
        raise AssertionError(f"response does not match {schema_name}: {details}")


def check_response(response: httpx.Response) -> None:
    """httpx event hook: every JSON body must match its schema in the contract."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        assert response.status_code < 400, f"error without a JSON envelope: {response.status_code}"
        return
    response.read()
    path = response.request.url.path.removeprefix("/v1")
    name = schema_for(response.request.method, path, response.status_code)
    if name:
        validate(name, response.json(), _document(path))


def check_event(event: str, data: Any) -> None:
    """A stream event (name and parsed data) must match the spec's AssistantStreamEvent."""
    validate("AssistantStreamEvent", {"event": event, "data": data})


def check_response_event(data: Any) -> None:
    """A Responses stream event's data (its `type` names it) must match the spec's ResponseStreamEvent."""
    validate("ResponseStreamEvent", data, responses_spec())
