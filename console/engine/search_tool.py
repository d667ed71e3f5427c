"""The file_search tool: the model's query runs against the vector stores of the assistant and thread.

Results go back to the model as numbered sources with markers such as 【0:1†guide.md】; the reply's
markers become file_citation annotations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from console.assistants.models import Assistant
from console.engine.annotations import Markers
from console.runs.models import Run
from console.threads.models import Thread

DEFAULT_MAX_RESULTS = 20
DEFAULT_RANKER = "default_2024_08_21"


@dataclass
class SearchResult:
    details: dict[str, Any]  # the step's file_search object: ranking_options and results
    for_model: str
    citations: dict[str, str] = field(default_factory=dict)  # marker -> file_id


def query_from_arguments(arguments: str) -> str:
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        return arguments.strip()
    if isinstance(parsed, dict):
        query = parsed.get("query")
        if isinstance(query, list):
            return " ".join(str(q) for q in query)
        return str(query or "")
    return str(parsed)


def store_ids(run: Run) -> list[str]:
    ids: list[str] = []
    assistant = Assistant.objects.filter(pk=run.assistant_id).only("tool_resources").first()
    thread = Thread.objects.filter(pk=run.thread_id).only("tool_resources").first()
    for owner in (assistant, thread):
        if owner is not None:
            ids += (owner.tool_resources.get("file_search") or {}).get("vector_store_ids", [])
    return list(dict.fromkeys(ids))


def settings_of(run: Run) -> tuple[int, str, float]:
    """max_num_results, ranker and score_threshold from the run's file_search tool."""
    tool: dict[str, Any] = next((t for t in run.tools if t["type"] == "file_search"), {})
    options = (tool.get("file_search") or {}).get("ranking_options") or {}
    max_results = (tool.get("file_search") or {}).get("max_num_results") or DEFAULT_MAX_RESULTS
    return (
        int(max_results),
        options.get("ranker") or DEFAULT_RANKER,
        float(options.get("score_threshold") or 0.0),
    )


def run_search(run: Run, arguments: str, call_number: int) -> SearchResult:
    from console.retrieval.search import search
    from console.vector_stores.models import VectorStore
    from console.vector_stores.services import touch

    query = query_from_arguments(arguments)
    max_results, ranker, threshold = settings_of(run)
    ranking = {"ranker": ranker, "score_threshold": threshold}
    usable = [
        store.pk
        for store in VectorStore.objects.filter(project_id=run.project_id, pk__in=store_ids(run))
        if not store.is_expired()
    ]
    if not usable or not query:
        note = "No files are attached for search." if not usable else "The search query was empty."
        return SearchResult(details={"ranking_options": ranking, "results": []}, for_model=note)
    hits = search(usable, query, max_num_results=max_results, score_threshold=threshold, ranker=ranker)
    touch(usable)
    results = []
    citations: dict[str, str] = {}
    sources = []
    for index, hit in enumerate(hits):
        marker = f"【{call_number}:{index}†{hit.filename}】"
        citations[marker] = hit.file_id
        results.append(
            {
                "file_id": hit.file_id,
                "file_name": hit.filename,
                "score": round(min(max(hit.score, 0.0), 1.0), 6),
                "content": [{"type": "text", "text": hit.text}],
            }
        )
        sources.append(f"{marker}\n{hit.text}")
    if not sources:
        return SearchResult(details={"ranking_options": ranking, "results": []}, for_model="No results.")
    header = (
        f"Search results for {query!r}. When you use a source, cite it by writing its marker exactly "
        f"as shown, e.g. {next(iter(citations))}."
    )
    return SearchResult(
        details={"ranking_options": ranking, "results": results},
        for_model=header + "\n\n" + "\n\n".join(sources),
        citations=citations,
    )


def for_model_from_details(details: dict[str, Any], call_number: int) -> str:
    """The tool output the model saw, rebuilt from a stored step (for later turns' history)."""
    parts = []
    for index, result in enumerate(details.get("results", [])):
        text = "".join(c.get("text", "") for c in result.get("content", []))
        parts.append(f"【{call_number}:{index}†{result['file_name']}】\n{text}")
    return "\n\n".join(parts) or "No results."


def citation_markers(citations: dict[str, str]) -> Markers:
    """A source's marker in the reply becomes a file_citation annotation."""
    return {marker: ("file_citation", file_id) for marker, file_id in citations.items()}
