"""OpenAI's attribute filters compiled to a SQL condition on retrieval_chunk (alias `c`).

Comparisons are typed, as in OpenAI's service: a number compares only with numbers, a string
only with strings (byte order), a boolean only equals booleans; `gt`/`lt` on a boolean match
nothing. A key the chunk lacks fails every comparison, so `ne` and `nin` match it.
Both backends evaluate the same rules, so a filter selects the same chunks on either.
"""

from __future__ import annotations

from typing import Any

COMPARISONS = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
MAX_DEPTH = 16


class FilterError(ValueError):
    pass


def compile_filter(spec: dict[str, Any] | None, vendor: str) -> tuple[str, list[Any]]:
    """("(...)", params) for a WHERE clause; ("1=1", []) when there is no filter."""
    if spec is None or spec == {}:
        return "1=1", []
    params: list[Any] = []
    sql = _compile(spec, vendor, params, 0)
    return sql, params


def _compile(spec: Any, vendor: str, params: list[Any], depth: int) -> str:
    if not isinstance(spec, dict):
        raise FilterError("A filter must be an object.")
    if depth > MAX_DEPTH:
        raise FilterError("Filters are nested too deeply.")
    kind = spec.get("type", "eq")
    if kind in ("and", "or"):
        parts = spec.get("filters")
        if not isinstance(parts, list) or not parts:
            raise FilterError(f"An '{kind}' filter needs a non-empty 'filters' list.")
        joined = f" {kind.upper()} ".join(_compile(part, vendor, params, depth + 1) for part in parts)
        return f"({joined})"
    key = spec.get("key")
    if not isinstance(key, str) or not key:
        raise FilterError("A comparison filter needs a string 'key'.")
    if "value" not in spec:
        raise FilterError("A comparison filter needs a 'value'.")
    value = spec["value"]
    if kind in ("in", "nin"):
        if not isinstance(value, list) or not value:
            raise FilterError(f"An '{kind}' filter needs a non-empty list 'value'.")
        anyof = " OR ".join(_compare(vendor, "eq", key, item, params) for item in value)
        return f"({anyof})" if kind == "in" else f"(NOT ({anyof}))"
    if kind not in COMPARISONS:
        raise FilterError(f"Unknown filter type '{kind}'.")
    if kind == "ne":
        return f"(NOT {_compare(vendor, 'eq', key, value, params)})"
    return _compare(vendor, kind, key, value, params)


def _compare(vendor: str, kind: str, key: str, value: Any, params: list[Any]) -> str:
    """A condition that is true or false, never NULL (so NOT works on missing keys)."""
    op = COMPARISONS[kind]
    if isinstance(value, bool):
        if kind != "eq":
            return "(1=0)"
        return _bool_eq(vendor, key, value, params)
    if isinstance(value, int | float):
        return _typed(vendor, key, "number", op, value, params)
    if isinstance(value, str):
        return _typed(vendor, key, "string", op, value, params)
    raise FilterError("A filter value must be a string, number or boolean.")


def _sqlite_path(key: str) -> str:
    if '"' in key:
        raise FilterError("Filter keys cannot contain double quotes.")
    return f'$."{key}"'


def _bool_eq(vendor: str, key: str, value: bool, params: list[Any]) -> str:
    if vendor == "sqlite":
        params.append(_sqlite_path(key))
        return f"(COALESCE(json_type(c.attributes, %s) = '{'true' if value else 'false'}', 0))"
    params.append(key)
    return f"(COALESCE(c.attributes -> %s = '{'true' if value else 'false'}'::jsonb, false))"


def _typed(vendor: str, key: str, kind: str, op: str, value: Any, params: list[Any]) -> str:
    if vendor == "sqlite":
        path = _sqlite_path(key)
        types = "('integer', 'real')" if kind == "number" else "('text')"
        params.extend([path, path, value])
        return f"(COALESCE(json_type(c.attributes, %s) IN {types} AND json_extract(c.attributes, %s) {op} %s, 0))"
    # CASE, not AND: PostgreSQL may evaluate AND's operands in any order, and the cast must only
    # see numbers.
    if kind == "number":
        params.extend([key, key, value])
        return (
            "(CASE WHEN jsonb_typeof(c.attributes -> %s) = 'number'"
            f" THEN (c.attributes ->> %s)::numeric {op} %s::numeric ELSE false END)"
        )
    params.extend([key, key, value])
    return (
        "(CASE WHEN jsonb_typeof(c.attributes -> %s) = 'string'"
        f' THEN (c.attributes ->> %s) COLLATE "C" {op} %s ELSE false END)'
    )
