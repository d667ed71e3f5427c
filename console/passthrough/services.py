"""Usage of forwarded /v1 requests (docs/api.md "Pass-through"): recorded per project."""

from __future__ import annotations

from typing import Any

from console.passthrough.models import ForwardedUsage
from console.projects.models import Project


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def normalise_usage(usage: Any) -> dict[str, int] | None:
    """Chat/completions/embeddings (prompt/completion_tokens) and Responses/audio (input/output_tokens)
    usage as prompt, completion and total tokens; None when there is none."""
    if not isinstance(usage, dict):
        return None
    prompt = _count(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion = _count(usage.get("completion_tokens", usage.get("output_tokens")))
    total = _count(usage.get("total_tokens")) or prompt + completion
    if not (prompt or completion or total):
        return None
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def record_usage(project: Project, path: str, model: str, usage: dict[str, int]) -> ForwardedUsage:
    return ForwardedUsage.objects.create(project=project, path=path[:200], model=model[:256], **usage)
