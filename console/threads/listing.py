"""The thread list people read: ordered by last activity, each thread with a short summary.

Backs `GET /v1/threads?order_by=last_activity&include[]=summary` (an extension, docs/api.md).
Last activity is Thread.last_activity_at (the newest message or run, kept by threads.activity),
read through the (project, last_activity_at, id) index, so the first page of a project with 10,000
threads costs one index walk (bench/thread_list.py). Summaries are computed for the page's rows only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from console.runs.models import Run
from console.threads.models import Message, Thread
from console.threads.services import message_text_matches

PREVIEW_CHARS = 200
SNIPPET_CHARS = 160


def page_by_last_activity(
    threads: QuerySet[Thread], *, limit: int, descending: bool, after: Thread | None
) -> tuple[list[Thread], bool]:
    """One page in last-activity order (ties broken by id), continuing after the `after` thread."""
    rows = threads
    if after is not None:
        anchor = after.last_activity_at
        if descending:
            rows = rows.filter(Q(last_activity_at__lt=anchor) | Q(last_activity_at=anchor, id__lt=after.pk))
        else:
            rows = rows.filter(Q(last_activity_at__gt=anchor) | Q(last_activity_at=anchor, id__gt=after.pk))
    ordering = ("-last_activity_at", "-id") if descending else ("last_activity_at", "id")
    page = list(rows.order_by(*ordering)[: limit + 1])
    return page[:limit], len(page) > limit


@dataclass
class Summary:
    first_user_message: str | None
    last_activity_at: int
    message_count: int
    assistant_ids: list[str]
    last_run: dict[str, Any] | None
    snippet: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_user_message": self.first_user_message,
            "last_activity_at": self.last_activity_at,
            "message_count": self.message_count,
            "assistant_ids": self.assistant_ids,
            "last_run": self.last_run,
            "snippet": self.snippet,
        }


def text_of(content: list[dict[str, Any]] | None) -> str:
    return "\n".join(
        str((part.get("text") or {}).get("value") or "")
        for part in content or []
        if part.get("type") == "text"
    )


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1].rstrip() + "…"


def snippet(text: str, query: str) -> str | None:
    """About SNIPPET_CHARS of text around the first case-insensitive match of query, on one line."""
    flat = " ".join(text.split())
    at = flat.lower().find(" ".join(query.split()).lower())
    if at < 0:
        return None
    start = max(0, at - (SNIPPET_CHARS - len(query)) // 2)
    end = min(len(flat), start + SNIPPET_CHARS)
    start = max(0, end - SNIPPET_CHARS)
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")


def summaries(threads: list[Thread], text: str | None = None) -> dict[str, Summary]:
    """The summary of each of these threads (a page of them), in a fixed number of queries."""
    ids = [t.pk for t in threads]
    if not ids:
        return {}
    first_user = (
        Message.objects.filter(thread=OuterRef("pk"), role="user")
        .order_by("created_at", "id")
        .values("content")[:1]
    )
    count = (
        Message.objects.filter(thread=OuterRef("pk"))
        .order_by()
        .values("thread")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows = {
        row["pk"]: row
        for row in Thread.objects.filter(pk__in=ids)
        .annotate(first_user=Subquery(first_user), n=Subquery(count))
        .values("pk", "last_activity_at", "first_user", "n")
    }
    assistants: dict[str, list[str]] = {pk: [] for pk in ids}
    last_runs: dict[str, dict[str, Any]] = {}
    for run in (
        Run.objects.filter(thread_id__in=ids)
        .order_by("created_at", "id")
        .values("id", "thread_id", "assistant_id", "status", "created_at", "model", "last_error")
    ):
        if run["assistant_id"] not in assistants[run["thread_id"]]:
            assistants[run["thread_id"]].append(run["assistant_id"])
        last_runs[run["thread_id"]] = {
            "id": run["id"],
            "status": run["status"],
            "assistant_id": run["assistant_id"],
            "created_at": int(run["created_at"].timestamp()),
            "last_error": run["last_error"],
        }
    snippets = _snippets(ids, text) if text else {}
    out: dict[str, Summary] = {}
    for pk in ids:
        row = rows[pk]
        first = row["first_user"]
        if isinstance(first, str):  # a JSON subquery may come back undecoded
            first = json.loads(first)
        out[pk] = Summary(
            first_user_message=_preview(text_of(first)) if first is not None else None,
            last_activity_at=int(row["last_activity_at"].timestamp()),
            message_count=row["n"] or 0,
            assistant_ids=assistants[pk],
            last_run=last_runs.get(pk),
            snippet=snippets.get(pk),
        )
    return out


def _snippets(ids: list[str], text: str) -> dict[str, str]:
    """The first matching message's text around the match, per thread (messages oldest first)."""
    found: dict[str, str] = {}
    messages = (
        Message.objects.filter(thread_id__in=ids)
        .filter(message_text_matches(text))
        .order_by("thread_id", "created_at", "id")
        .values_list("thread_id", "content")
    )
    for thread_id, content in messages.iterator():
        if thread_id in found:
            continue
        if (piece := snippet(text_of(content), text)) is not None:
            found[thread_id] = piece
    return found
