"""Cost from token counts and the per-model prices a project's admins entered (per million tokens).

A run or day whose model has no price has no cost (None): pages then show its tokens only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from console.projects.models import Project
from console.web.models import ModelPrice

MILLION = Decimal(1_000_000)
Prices = dict[str, tuple[Decimal, Decimal]]


def prices_for(project: Project) -> Prices:
    return {
        p.model: (p.input_per_million, p.output_per_million)
        for p in ModelPrice.objects.filter(project=project)
    }


def cost(prices: Prices, model: str | None, prompt_tokens: Any, completion_tokens: Any) -> Decimal | None:
    price = prices.get(model or "")
    if price is None:
        return None
    return (
        Decimal(int(prompt_tokens or 0)) * price[0] + Decimal(int(completion_tokens or 0)) * price[1]
    ) / MILLION


def run_cost(prices: Prices, run: dict[str, Any]) -> Decimal | None:
    usage = run.get("usage") or {}
    if not usage:
        return None
    return cost(prices, run.get("model"), usage.get("prompt_tokens"), usage.get("completion_tokens"))


def total(costs: list[Decimal | None]) -> Decimal | None:
    """The sum of the known costs; None when none is known."""
    known = [c for c in costs if c is not None]
    return sum(known, Decimal(0)) if known else None


def day_cost(prices: Prices, day: dict[str, Any]) -> Decimal | None:
    """A usage.day with `models` (GET /v1/usage?group_by=model)."""
    return total(
        [
            cost(prices, model, row.get("prompt_tokens"), row.get("completion_tokens"))
            for model, row in (day.get("models") or {}).items()
        ]
    )


def money(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def month_start(now: datetime) -> int:
    """The first instant of `now`'s month (UTC), in Unix seconds."""
    return int(now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())


def by_assistant(prices: Prices, runs: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
    """Where the money went: month-to-date cost and tokens per assistant, the costliest first."""
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        usage = run.get("usage") or {}
        key = run.get("assistant_id") or ""
        row = rows.setdefault(
            key, {"id": key, "name": names.get(key, ""), "runs": 0, "tokens": 0, "costs": []}
        )
        row["runs"] += 1
        row["tokens"] += int(usage.get("total_tokens") or 0)
        row["costs"].append(run_cost(prices, run))
    result = []
    for row in rows.values():
        value = total(row.pop("costs"))
        result.append({**row, "cost": value, "cost_text": money(value)})
    result.sort(key=lambda r: (r["cost"] or Decimal(0), r["tokens"]), reverse=True)
    every = [run_cost(prices, run) for run in runs if run.get("usage")]
    month_total = total(every)
    return {
        "rows": result,
        "total": money(month_total),
        "tokens": sum(r["tokens"] for r in result),
        "partial": None in every,
    }
