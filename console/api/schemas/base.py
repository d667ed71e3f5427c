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


def _check_metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > METADATA_MAX_PAIRS:
        raise PydanticCustomError(
            "object_above_max_properties",
            "Invalid 'metadata': too many properties. Expected an object with at most {max} properties, "
            "but got an object with {n} properties instead.",
            {"max": METADATA_MAX_PAIRS, "n": len(value)},
        )
    for key, item in value.items():
        if len(key) > METADATA_KEY_MAX:
            raise PydanticCustomError(
                "string_above_max_length",
                "Invalid 'metadata': key '{key}' is too long. Expected a key with maximum length {max}, "
                "but got a key with length {n} instead.",
                {"key": key[:80], "max": METADATA_KEY_MAX, "n": len(key)},
            )
        if len(item) > METADATA_VALUE_MAX:
            raise PydanticCustomError(
                "string_above_max_length",
                "Invalid 'metadata.{key}': string too long. Expected a string with maximum length {max}, "
                "but got a string with length {n} instead.",
                {"key": key, "max": METADATA_VALUE_MAX, "n": len(item)},
            )
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
