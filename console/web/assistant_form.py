"""The assistant edit form <-> the API's assistant body, built from Django forms and formsets.

The API validates everything, JSON Schemas of function parameters included, and its messages are
shown next to the field they name (attach_api_error). The forms check what a browser can get wrong
(numbers, lengths, JSON) so that every bad field is reported at once, each next to its own row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import QueryDict
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

FIELDS = {
    "model",
    "name",
    "description",
    "instructions",
    "temperature",
    "top_p",
    "response_format",
    "tools",
    "metadata",
    "tool_resources",
}
RESPONSE_FORMATS = [
    ("auto", "auto"),
    ("text", "text"),
    ("json_object", "JSON object"),
    ("json_schema", "JSON schema"),
]


class IdListField(forms.Field):
    """Several values under one name (the vector store picker, or hidden inputs without one)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        return [str(v) for v in value or [] if v]


class MainForm(forms.Form):
    model = forms.CharField(max_length=256, error_messages={"required": "Enter a model."})
    name = forms.CharField(max_length=256, required=False)
    description = forms.CharField(max_length=512, required=False)
    instructions = forms.CharField(required=False, strip=False)
    # Ranges are the API's to check: its message then names the field.
    temperature = forms.FloatField(required=False, error_messages={"invalid": "Enter a number."})
    top_p = forms.FloatField(required=False, error_messages={"invalid": "Enter a number."})
    code_interpreter = forms.BooleanField(required=False)
    file_search = forms.BooleanField(required=False)
    vector_store_ids = IdListField(required=False)
    response_format_type = forms.ChoiceField(choices=RESPONSE_FORMATS, required=False)
    response_format_schema = forms.CharField(required=False, strip=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("response_format_type") == "json_schema":
            try:
                data["response_format_json"] = json.loads(data.get("response_format_schema") or "")
            except json.JSONDecodeError as exc:
                self.add_error("response_format_schema", f"Not valid JSON: {exc.msg} (line {exc.lineno}).")
        return data


class FunctionForm(forms.Form):
    name = forms.CharField(max_length=64)
    description = forms.CharField(required=False)
    parameters = forms.CharField(required=False, strip=False)
    strict = forms.BooleanField(required=False)

    def clean_parameters(self) -> dict[str, Any] | None:
        raw = self.cleaned_data.get("parameters") or ""
        if not raw.strip():
            return None
        try:
            schema = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        if not isinstance(schema, dict):
            raise forms.ValidationError("Not a valid JSON Schema: the parameters must be a JSON object.")
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise forms.ValidationError(f"Not a valid JSON Schema: {exc.message}") from None
        return schema


class MetadataForm(forms.Form):
    key = forms.CharField(max_length=64)
    value = forms.CharField(max_length=512, required=False, strip=False)


class BaseMetadataFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        keys = [f.cleaned_data["key"] for f in self.forms if f.cleaned_data.get("key")]
        if len(keys) != len(set(keys)):
            raise forms.ValidationError("Each metadata key may appear only once.")
        if len(keys) > 16:
            raise forms.ValidationError("Metadata holds at most 16 pairs.")


FunctionFormSet = forms.formset_factory(FunctionForm, extra=0)
MetadataFormSet = forms.formset_factory(MetadataForm, formset=BaseMetadataFormSet, extra=0)


@dataclass
class AssistantForm:
    """The three forms the page shows as one, plus messages the API sent back."""

    main: MainForm
    functions: forms.BaseFormSet  # type: ignore[type-arg]
    metadata: forms.BaseFormSet  # type: ignore[type-arg]
    api_errors: dict[str, str] = field(default_factory=dict)
    # The function forms' indexes, in the order their tools were sent (tools[i] -> a row).
    sent_functions: list[int] = field(default_factory=list)

    @property
    def values(self) -> dict[str, Any]:
        main = self.main
        if main.is_bound:
            raw = {name: main[name].value() for name in main.fields}
        else:
            raw = {name: main.initial.get(name, f.initial) for name, f in main.fields.items()}
        # Inputs show "" for nothing, never "None".
        return {name: "" if value is None else value for name, value in raw.items()}

    @property
    def errors(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if self.main.is_bound:
            for name, messages in self.main.errors.items():
                key = "response_format" if name == "response_format_schema" else name
                found[key if key in FIELDS or key == "response_format" else "form"] = str(messages[0])
            if self.metadata.non_form_errors():
                found["metadata"] = str(self.metadata.non_form_errors()[0])
            for row in self.metadata.forms:
                for messages in row.errors.values():
                    found.setdefault("metadata", str(messages[0]))
        return {**found, **self.api_errors}

    @property
    def is_valid(self) -> bool:
        return (
            self.main.is_valid()
            and self.functions.is_valid()
            and self.metadata.is_valid()
            and not self.api_errors
        )


def _forms(
    data: QueryDict | None = None,
    *,
    main: dict[str, Any] | None = None,
    functions: list[dict[str, Any]] | None = None,
    metadata: list[dict[str, Any]] | None = None,
) -> AssistantForm:
    return AssistantForm(
        main=MainForm(data, initial=main or {}),
        functions=FunctionFormSet(data, initial=functions, prefix="functions"),
        metadata=MetadataFormSet(data, initial=metadata, prefix="metadata"),
    )


def blank() -> AssistantForm:
    return _forms(main={"model": "gpt-4o", "response_format_type": "auto"})


def from_assistant(assistant: dict[str, Any]) -> AssistantForm:
    tools = assistant.get("tools") or []
    response_format = assistant.get("response_format") or "auto"
    rf_type = response_format if isinstance(response_format, str) else response_format.get("type", "auto")
    rf_schema = ""
    if isinstance(response_format, dict) and response_format.get("json_schema"):
        rf_schema = json.dumps(response_format["json_schema"], indent=2)
    file_search_ids = ((assistant.get("tool_resources") or {}).get("file_search") or {}).get(
        "vector_store_ids"
    ) or []
    functions = []
    for tool in tools:
        if tool.get("type") == "function":
            fn = tool.get("function") or {}
            functions.append(
                {
                    "name": fn.get("name", ""),
                    "description": fn.get("description") or "",
                    "parameters": json.dumps(fn["parameters"], indent=2)
                    if fn.get("parameters") is not None
                    else "",
                    "strict": bool(fn.get("strict")),
                }
            )
    return _forms(
        main={
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
        functions=functions,
        metadata=[{"key": k, "value": v} for k, v in sorted((assistant.get("metadata") or {}).items())],
    )


def parse(post: QueryDict) -> tuple[AssistantForm, dict[str, Any]]:
    """The submitted form and the API body it stands for (only meaningful when form.is_valid)."""
    form = _forms(post)
    if not form.is_valid:
        return form, {}
    data = form.main.cleaned_data
    tools: list[dict[str, Any]] = []
    if data["code_interpreter"]:
        tools.append({"type": "code_interpreter"})
    # Picking documents to search is asking for file search.
    file_search = bool(data["file_search"] or data["vector_store_ids"])
    if file_search:
        tools.append({"type": "file_search"})
    for index, row in enumerate(form.functions.forms):
        if not row.has_changed():
            continue  # a row the user added and left empty
        function: dict[str, Any] = {"name": row.cleaned_data["name"]}
        if row.cleaned_data.get("description"):
            function["description"] = row.cleaned_data["description"]
        if row.cleaned_data.get("parameters") is not None:
            function["parameters"] = row.cleaned_data["parameters"]
        if row.cleaned_data.get("strict"):
            function["strict"] = True
        tools.append({"type": "function", "function": function})
        form.sent_functions.append(index)
    body: dict[str, Any] = {
        "model": data["model"],
        "name": data["name"] or None,
        "description": data["description"] or None,
        "instructions": data["instructions"] or None,
        "temperature": data["temperature"],
        "top_p": data["top_p"],
        "tools": tools,
        "metadata": {
            row.cleaned_data["key"]: row.cleaned_data["value"]
            for row in form.metadata.forms
            if row.has_changed() and row.cleaned_data.get("key")
        },
    }
    if file_search:
        body["tool_resources"] = {"file_search": {"vector_store_ids": data["vector_store_ids"]}}
    rf_type = data.get("response_format_type") or "auto"
    if rf_type == "json_schema":
        body["response_format"] = {"type": "json_schema", "json_schema": data["response_format_json"]}
    else:
        body["response_format"] = "auto" if rf_type == "auto" else {"type": rf_type}
    return form, body


def attach_api_error(form: AssistantForm, param: str | None, message: str) -> None:
    """Puts the API's message next to the field it names (tools[2].function... -> that function row)."""
    param = param or ""
    if param.startswith("tools[") and "]" in param:
        try:
            index = int(param[6 : param.index("]")])
        except ValueError:
            index = -1
        values = form.main.cleaned_data if hasattr(form.main, "cleaned_data") else {}
        offset = int(bool(values.get("code_interpreter"))) + int(
            bool(values.get("file_search") or values.get("vector_store_ids"))
        )
        if 0 <= index - offset < len(form.sent_functions):
            form.functions.forms[form.sent_functions[index - offset]].add_error(None, message)
            form.api_errors["_functions"] = message
            return
    top = param.split("[")[0].split(".")[0]
    form.api_errors[top if top in FIELDS else "form"] = message
