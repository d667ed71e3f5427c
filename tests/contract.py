"""Checks responses against docs/openapi/assistants-v2.yaml, the contract (OpenAI's spec, cut to our operations)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from jsonschema import Draft202012Validator

SPEC_PATH = Path(__file__).resolve().parents[1] / "docs" / "openapi" / "assistants-v2.yaml"
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
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
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
    for pattern, template in _routes():
        if pattern.match(path):
            if (method, template) in EXTENSIONS:
                return EXTENSIONS[(method, template)]
            operation = spec()["paths"][template].get(method)
            if operation is None:
                return None
            content = operation["responses"].get(str(status), {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref")
            return ref.rsplit("/", 1)[-1] if ref else None
    return None


def validate(schema_name: str, body: Any) -> None:
    document = spec()
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
        validate(name, response.json())


def check_event(event: str, data: Any) -> None:
    """A stream event (name and parsed data) must match the spec's AssistantStreamEvent."""
    validate("AssistantStreamEvent", {"event": event, "data": data})
