"""Cursor pagination in OpenAI's shape: limit, order, after, before -> first_id, last_id, has_more."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import HttpResponse
from pydantic import BaseModel

from console.api.errors import invalid_request
from console.api.jsonresp import json_response

RowT = TypeVar("RowT", bound=Model)


@dataclass(frozen=True)
class Page:
    limit: int = 20
    order: str = "desc"
    after: str | None = None
    before: str | None = None


def int_param(query: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request(
            f"Invalid type for '{name}': expected an integer, but got a string instead.",
            param=name,
            code="invalid_type",
        ) from None
    if value < 1:
        raise invalid_request(
            f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    if value > maximum:
        raise invalid_request(
            f"Invalid '{name}': integer above maximum value. Expected a value <= {maximum}, "
            f"but got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )
    return value


def page_from_query(
    query: Mapping[str, str], *, default_limit: int = 20, max_limit: int = 100, allow_before: bool = True
) -> Page:
    order = query.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise invalid_request(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    return Page(
        limit=int_param(query, "limit", default_limit, max_limit),
        order=order,
        after=query.get("after") or None,
        before=(query.get("before") or None) if allow_before else None,
    )


def _cursor_filter(queryset: QuerySet[Any], cursor_id: str, newer: bool, param: str, key: str) -> Q:
    anchor = queryset.filter(**{key: cursor_id}).values_list("created_at", flat=True).first()
    if anchor is None:
        raise invalid_request(f"No object found with id '{cursor_id}' for cursor '{param}'.", param=param)
    if newer:
        return Q(created_at__gt=anchor) | Q(**{"created_at": anchor, f"{key}__gt": cursor_id})
    return Q(created_at__lt=anchor) | Q(**{"created_at": anchor, f"{key}__lt": cursor_id})


def paginate(queryset: QuerySet[RowT], page: Page, key: str = "pk") -> tuple[list[RowT], bool]:
    """One page in the requested order, and whether more lie beyond it in that direction.

    Rows are ordered by (created_at, key); `key` is the field holding the object's public id.
    """
    descending = page.order == "desc"
    base = queryset
    if page.after:
        # "after" continues in list order: older items when descending.
        queryset = queryset.filter(_cursor_filter(base, page.after, not descending, "after", key))
    if page.before:
        queryset = queryset.filter(_cursor_filter(base, page.before, descending, "before", key))
    if page.before and not page.after:
        # Walk backwards from the cursor, then restore list order.
        ordering = ("created_at", key) if descending else ("-created_at", f"-{key}")
        rows = list(queryset.order_by(*ordering)[: page.limit + 1])
        has_more = len(rows) > page.limit
        return list(reversed(rows[: page.limit])), has_more
    ordering = ("-created_at", f"-{key}") if descending else ("created_at", key)
    rows = list(queryset.order_by(*ordering)[: page.limit + 1])
    return rows[: page.limit], len(rows) > page.limit


def page_response(data: list[dict[str, Any]], has_more: bool) -> HttpResponse:
    """OpenAI's list envelope around rendered objects."""
    return json_response(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }
    )


def list_response(
    queryset: QuerySet[RowT], page: Page, render: Callable[[RowT], BaseModel | dict[str, Any]]
) -> HttpResponse:
    """A page of rows, each rendered by a response schema or by a builder of console.payloads."""
    rows, has_more = paginate(queryset, page)
    data = []
    for row in rows:
        rendered = render(row)
        data.append(rendered if isinstance(rendered, dict) else rendered.model_dump(mode="json"))
    return page_response(data, has_more)
