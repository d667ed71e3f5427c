"""The assistant edit form <-> the API's assistant body.

The API validates everything, JSON Schemas of function parameters included, and its messages are
shown next to the field they name (attach_api_error). The form also checks each function's
parameters locally, only so that several bad rows are reported at once, each on its own row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

FIELDS = {"model", "name", "description", "instructions", "temperature", "top_p", "response_format", "tools", "metadata",
          "tool_resources"}


@dataclass
class FunctionRow:
    name: str = ""
    description: str = ""
    parameters: str = ""
    strict: bool = False
    error: str = ""


@dataclass
class AssistantForm:
    values: dict[str, Any] = field(default_factory=dict)
    functions: list[FunctionRow] = field(default_factory=list)
    metadata: list[tuple[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def is_valid(self) -> bool:
        return not self.errors and not any(f.error for f in self.functions)


def from_assistant(assistant: dict[str, Any]) -> AssistantForm:
    tools = assistant.get("tools") or []
    response_format = assistant.get("response_format") or "auto"
    rf_type = response_format if isinstance(response_format, str) else response_format.get("type", "auto")
    rf_schema = ""
    if isinstance(response_format, dict) and response_format.get("json_schema"):
        rf_schema = json.dumps(response_format["json_schema"], indent=2)
    file_search_ids = ((assistant.get("tool_resources") or {}).get("file_search") or {}).get("vector_store_ids") or []
    form = AssistantForm(
        values={
            "model": assistant.get("model") or "",
            "name": assistant.get("name") or "",
            "description": assistant.get("description") or "",
            "instructions": assistant.get("instructions") or "",
            "temperature": "" if assistant.get("temperature") is None else assistant["temperature"],
            "top_p": "" if assistant.get("top_p") is None else assistant["top_p"],
            "code_interpreter": any(t.get("type") == "code_interpreter" for t in tools),
            "file_search": any(t.get("type") == "file_search" for t in tools),
            "vector_store_ids": list(file_search_ids),
            "response_format_type": rf_type,
            "response_format_schema": rf_schema,
        },
        metadata=sorted((assistant.get("metadata") or {}).items()),
    )
    for tool in tools:
        if tool.get("type") == "function":
            fn = tool.get("function") or {}
            form.functions.append(
                FunctionRow(
                    name=fn.get("name", ""),
                    description=fn.get("description") or "",
                    parameters=json.dumps(fn["parameters"], indent=2) if fn.get("parameters") is not None else "",
                    strict=bool(fn.get("strict")),
                )
            )
    return form


def _number(form: AssistantForm, post: QueryDict, name: str) -> float | None:
    raw = post.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        form.errors[name] = "Enter a number."
        return None


def parse(post: QueryDict) -> tuple[AssistantForm, dict[str, Any]]:
    """The submitted form and the API body it stands for (only valid when form.is_valid)."""
    names = post.getlist("function_name")
    descriptions = post.getlist("function_description")
    parameters = post.getlist("function_parameters")
    stricts = set(post.getlist("function_strict"))
    keys, values = post.getlist("metadata_key"), post.getlist("metadata_value")
    form = AssistantForm(
        values={
            "model": post.get("model", "").strip(),
            "name": post.get("name", ""),
            "description": post.get("description", ""),
            "instructions": post.get("instructions", ""),
            "temperature": post.get("temperature", "").strip(),
            "top_p": post.get("top_p", "").strip(),
            "code_interpreter": bool(post.get("code_interpreter")),
            "file_search": bool(post.get("file_search")),
            "vector_store_ids": post.getlist("vector_store_ids"),
            "response_format_type": post.get("response_format_type", "auto"),
            "response_format_schema": post.get("response_format_schema", ""),
        },
        metadata=[(k.strip(), v) for k, v in zip(keys, values, strict=False) if k.strip() or v.strip()],
    )
    tools: list[dict[str, Any]] = []
    if form.values["code_interpreter"]:
        tools.append({"type": "code_interpreter"})
    if form.values["file_search"]:
        tools.append({"type": "file_search"})
    for i, name in enumerate(names):
        row = FunctionRow(
            name=name.strip(),
            description=descriptions[i] if i < len(descriptions) else "",
            parameters=parameters[i] if i < len(parameters) else "",
            strict=str(i) in stricts,
        )
        form.functions.append(row)
        if not row.name and not row.parameters.strip():
            continue  # an empty row the user added and left
        function: dict[str, Any] = {"name": row.name}
        if row.description:
            function["description"] = row.description
        if row.parameters.strip():
            try:
                schema = json.loads(row.parameters)
                Draft202012Validator.check_schema(schema)
                if not isinstance(schema, dict):
                    raise SchemaError("The parameters must be a JSON object.")
                function["parameters"] = schema
            except json.JSONDecodeError as exc:
                row.error = f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            except SchemaError as exc:
                row.error = f"Not a valid JSON Schema: {exc.message}"
        if row.strict:
            function["strict"] = True
        tools.append({"type": "function", "function": function})

    body: dict[str, Any] = {
        "model": form.values["model"],
        "name": form.values["name"] or None,
        "description": form.values["description"] or None,
        "instructions": form.values["instructions"] or None,
        "temperature": _number(form, post, "temperature"),
        "top_p": _number(form, post, "top_p"),
        "tools": tools,
        "metadata": dict(form.metadata),
    }
    if form.values["file_search"]:
        body["tool_resources"] = {"file_search": {"vector_store_ids": form.values["vector_store_ids"]}}
    rf_type = form.values["response_format_type"]
    if rf_type == "json_schema":
        try:
            body["response_format"] = {"type": "json_schema", "json_schema": json.loads(form.values["response_format_schema"])}
        except json.JSONDecodeError as exc:
            form.errors["response_format"] = f"Not valid JSON: {exc.msg} (line {exc.lineno})."
    elif rf_type in ("auto", "text", "json_object"):
        body["response_format"] = "auto" if rf_type == "auto" else {"type": rf_type}
    if len(form.metadata) != len(dict(form.metadata)):
        form.errors["metadata"] = "Each metadata key may appear only once."
    return form, body


def attach_api_error(form: AssistantForm, param: str | None, message: str) -> None:
    """Puts the API's message next to the field it names (tools[2].function... -> that function row)."""
    param = param or ""
    if param.startswith("tools[") and "]" in param:
        try:
            index = int(param[6 : param.index("]")])
        except ValueError:
            index = -1
        offset = int(form.values.get("code_interpreter", False)) + int(form.values.get("file_search", False))
        if 0 <= index - offset < len(form.functions):
            form.functions[index - offset].error = message
            return
    top = param.split("[")[0].split(".")[0]
    form.errors[top if top in FIELDS else "form"] = message
