"""Request bodies: JSON decoding and pydantic errors turned into OpenAI's messages."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from pydantic import BaseModel, ValidationError

from console.api.errors import ApiError, invalid_request

M = TypeVar("M", bound=BaseModel)

_TYPE_NAMES = {
    "string_type": "a string",
    "str_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a decimal",
    "bool_type": "a boolean",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "an array",
    "none_required": "null",
}

# Messages we raise ourselves (PydanticCustomError) are already complete sentences.
CUSTOM_ERROR_CODES = {
    "object_above_max_properties",
    "string_above_max_length",
    "invalid_function_parameters",
    "invalid_value",
    "invalid_json_schema",
}


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "an unknown value"


def quote_choices(choices: list[str]) -> str:
    quoted = [f"'{c}'" for c in choices]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _clean_loc(data: Any, loc: tuple[Any, ...], error_type: str) -> list[str | int]:
    """Drop pydantic's union-member labels from a location, keeping only real keys and indexes."""
    path: list[str | int] = []
    current = data
    tag_skipped = False
    for position, element in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(current, list) and isinstance(element, int):
            path.append(element)
            current = current[element] if element < len(current) else None
            tag_skipped = False
        elif isinstance(current, dict) and not tag_skipped and current.get("type") == element and not last:
            tag_skipped = True  # a tagged union's tag label, not a key
        elif isinstance(current, dict) and element in current:
            path.append(element)
            current = current[element]
            tag_skipped = False
        elif isinstance(current, dict) and last and error_type in ("missing", "extra_forbidden"):
            path.append(element)
        # else: a union member label such as 'str' or 'list[...]'
    return path


def format_path(path: list[str | int]) -> str:
    out = ""
    for element in path:
        if isinstance(element, int):
            out += f"[{element}]"
        else:
            out += f".{element}" if out else str(element)
    return out


def _expected_choices(ctx: dict[str, Any]) -> list[str]:
    raw = str(ctx.get("expected", ctx.get("expected_tags", "")))
    parts = [p.strip().strip("'") for p in raw.replace(" or ", ",").split(",")]
    return [p for p in parts if p]


def error_from_validation(exc: ValidationError, data: Any) -> ApiError:
    errors = exc.errors()
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    if extra:
        path = _clean_loc(data, extra[0]["loc"], "extra_forbidden")
        return invalid_request(
            f"Unrecognized request argument supplied: {format_path(path)}", param=format_path(path)
        )
    cleaned = []
    for error in errors:
        path = _clean_loc(data, error["loc"], error["type"])
        cleaned.append((format_path(path), len(path), error))
    deepest = max(depth for _, depth, _ in cleaned)
    candidates = [(p, e) for p, depth, e in cleaned if depth == deepest]
    # A union member that took the value's type but refused its contents explains the problem best.
    param, err = next(((p, e) for p, e in candidates if e["type"] not in _TYPE_NAMES), candidates[0])
    etype = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if all(e["type"] in _TYPE_NAMES for _, e in candidates) and len(candidates) > 1:
        expected = [_TYPE_NAMES[e["type"]] for _, e in candidates]
        return invalid_request(
            f"Invalid type for '{param}': expected one of {', '.join(dict.fromkeys(expected))}, "
            f"but got {describe(value)} instead.",
            param=param,
            code="invalid_type",
        )
    return _single_error(param, etype, value, ctx, err["msg"])


def _single_error(param: str, etype: str, value: Any, ctx: dict[str, Any], msg: str) -> ApiError:
    if etype in CUSTOM_ERROR_CODES:
        return invalid_request(msg, param=param, code=etype)
    if etype == "missing":
        return invalid_request(
            f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
        )
    if etype == "union_tag_not_found":
        full = f"{param}.type" if param else "type"
        return invalid_request(
            f"Missing required parameter: '{full}'.", param=full, code="missing_required_parameter"
        )
    if etype == "union_tag_invalid":
        full = f"{param}.type" if param else "type"
        return invalid_request(
            f"Invalid value: '{ctx.get('tag')}'. Supported values are: {quote_choices(_expected_choices(ctx))}.",
            param=full,
            code="invalid_value",
        )
    if etype in {"literal_error", "enum"}:
        return invalid_request(
            f"Invalid value: {_show(value)}. Supported values are: {quote_choices(_expected_choices(ctx))}.",
            param=param,
            code="invalid_value",
        )
    if etype in _TYPE_NAMES:
        return invalid_request(
            f"Invalid type for '{param}': expected {_TYPE_NAMES[etype]}, but got {describe(value)} instead.",
            param=param,
            code="invalid_type",
        )
    if etype == "string_too_long":
        return invalid_request(
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{ctx.get('max_length')}, but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )
    if etype == "string_too_short":
        return invalid_request(
            f"Invalid '{param}': string too short. Expected a string with minimum length "
            f"{ctx.get('min_length')}, but got a string with length {len(value)} instead.",
            param=param,
            code="string_below_min_length",
        )
    if etype == "too_long":
        return invalid_request(
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{ctx.get('max_length')}, but got an array with length {len(value)} instead.",
            param=param,
            code="array_above_max_length",
        )
    if etype == "too_short":
        return invalid_request(
            f"Invalid '{param}': array too short. Expected an array with minimum length "
            f"{ctx.get('min_length')}, but got an array with length {len(value)} instead.",
            param=param,
            code="array_below_min_length",
        )
    if etype in {"less_than_equal", "less_than", "greater_than_equal", "greater_than"}:
        kind = "integer" if isinstance(value, int) else "decimal"
        above = etype.startswith("less")
        bound = ctx.get("le", ctx.get("lt", ctx.get("ge", ctx.get("gt"))))
        op = {"less_than_equal": "<=", "less_than": "<", "greater_than_equal": ">=", "greater_than": ">"}[
            etype
        ]
        return invalid_request(
            f"Invalid '{param}': {kind} {'above maximum' if above else 'below minimum'} value. "
            f"Expected a value {op} {bound}, but got {value} instead.",
            param=param,
            code=f"{kind}_{'above_max' if above else 'below_min'}_value",
        )
    if etype == "string_pattern_mismatch":
        return invalid_request(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches the pattern "
            f"'{ctx.get('pattern')}'.",
            param=param,
            code="invalid_value",
        )
    text = msg.removeprefix("Value error, ")
    return invalid_request(f"Invalid '{param}': {text}", param=param, code="invalid_value")


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else orjson.dumps(value).decode()


def json_body(request: HttpRequest) -> Any:
    """The decoded JSON body; an empty body is an empty object, as the SDK sends for bodiless POSTs."""
    content_type = request.content_type or ""
    if content_type.startswith("multipart/"):
        raise ApiError(
            415,
            f"Invalid Content-Type header ({content_type}), expected application/json.",
            code="unsupported_content_type",
        )
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, "Request body too large.", code="request_too_large") from None
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid "
            "JSON. If you have trouble figuring out how to fix this, please contact us through our help center "
            "at help.openai.com.)"
        ) from None


def parse_body(request: HttpRequest, model: type[M]) -> tuple[M, set[str]]:
    """Validates the JSON body; returns the model and the set of fields the client sent."""
    data = json_body(request)
    if not isinstance(data, dict):
        raise invalid_request(
            f"Invalid type for request body: expected an object, but got {describe(data)} instead.",
            code="invalid_type",
        )
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise error_from_validation(exc, data) from None
    return parsed, set(data)


def flag_param(request: HttpRequest, name: str) -> bool:
    """A true/false query parameter of an extension; anything else is a 400 naming it."""
    raw = (request.GET.get(name) or "").strip().lower()
    if raw in ("", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise invalid_request(
        f"Invalid value: '{raw}'. Supported values are: 'true' and 'false'.", param=name, code="invalid_value"
    )


_NUL_ESCAPE = b"\\u0000"


def _nul_param(value: Any, path: list[str | int]) -> list[str | int] | None:
    """Where in a decoded JSON value a string (or an object key) holds U+0000."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return [*path, key]
            found = _nul_param(item, [*path, key])
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_param(item, [*path, index])
            if found is not None:
                return found
    return None


def _nul_error(param: str) -> ApiError:
    param = param.replace("\x00", "\\u0000")
    return invalid_request(
        f"Invalid '{param}': string contains the null character (U+0000), which is not allowed.",
        param=param,
        code="invalid_value",
    )


def reject_nul(request: HttpRequest, path_params: dict[str, Any]) -> None:
    """U+0000 anywhere in a request (path, query, JSON body) is a 400 naming the parameter, on
    every database: PostgreSQL cannot store it in text, and no OpenAI field needs it."""
    for name, value in path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise _nul_error(name)
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            raise _nul_error(name)
    if request.method not in ("POST", "PUT", "PATCH") or (request.content_type or "").startswith(
        "multipart/"
    ):
        return  # multipart bodies are read by their own view, as they stream in
    try:
        raw = request.body
    except RequestDataTooBig:
        return  # json_body answers 413
    if _NUL_ESCAPE not in raw:
        return  # a raw NUL byte is not valid JSON: json_body answers 400
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    found = _nul_param(data, [])
    if found is not None:
        raise _nul_error(format_path(found) or "body")
