"""The one base class for request and response schemas, and the field types they share."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from jsonschema import SchemaError
from jsonschema.validators import validator_for
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

METADATA_MAX_PAIRS = 16
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 512


class ApiModel(BaseModel):
    """Strict and closed: an unknown field is a 400, and "1" is not a number."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def check_map_limits(name: str, value: dict[str, Any], max_pairs: int, key_max: int, value_max: int) -> None:
    """OpenAI's limits on a small key-value map (metadata, attributes): pairs, key length, string length."""
    if len(value) > max_pairs:
        raise PydanticCustomError(
            "object_above_max_properties",
            "Invalid '{name}': too many properties. Expected an object with at most {max} properties, "
            "but got an object with {n} properties instead.",
            {"name": name, "max": max_pairs, "n": len(value)},
        )
    for key, item in value.items():
        if len(key) > key_max:
            raise PydanticCustomError(
                "string_above_max_length",
                "Invalid '{name}': key '{key}' is too long. Expected a key with maximum length {max}, "
                "but got a key with length {n} instead.",
                {"name": name, "key": key[:80], "max": key_max, "n": len(key)},
            )
        if isinstance(item, str) and len(item) > value_max:
            raise PydanticCustomError(
                "string_above_max_length",
                "Invalid '{name}.{key}': string too long. Expected a string with maximum length {max}, "
                "but got a string with length {n} instead.",
                {"name": name, "key": key, "max": value_max, "n": len(item)},
            )


def _check_metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is not None:
        check_map_limits("metadata", value, METADATA_MAX_PAIRS, METADATA_KEY_MAX, METADATA_VALUE_MAX)
    return value


Metadata = Annotated[dict[str, str] | None, AfterValidator(_check_metadata)]


def _check_json_schema(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        validator_for(value).check_schema(value)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise PydanticCustomError(
            "invalid_json_schema",
            "Invalid schema: {reason}{where}.",
            {"reason": exc.message, "where": f" (at '{where}')" if where else ""},
        ) from None
    return value


JsonSchema = Annotated[dict[str, Any] | None, AfterValidator(_check_json_schema)]
FunctionName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$", max_length=64)]

Temperature = Annotated[float | None, Field(ge=0, le=2)]
TopP = Annotated[float | None, Field(ge=0, le=1)]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high"]
ObjectIds = list[str]


class DeletedObject(ApiModel):
    id: str
    object: str
    deleted: bool
