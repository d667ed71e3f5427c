"""Names for ids, fetched once per object per request: pages show names first and ids second.

Threads have no name in the API: a thread is titled by its first user message, as people remember
it ("My parcel never came…"), and by "Conversation of <day>" when it has none.
"""

from __future__ import annotations

from typing import Any

from console.web.upstream import Client, UpstreamError

TITLE_CHARS = 80


def title_of(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


def text_of(message: dict[str, Any]) -> str:
    return "\n".join(
        p["text"]["value"] for p in message.get("content") or [] if p.get("type") == "text" and p.get("text")
    )


def first_user_title(messages: list[dict[str, Any]]) -> str:
    """The title of a thread whose messages (oldest first) these are; "" when no user wrote yet."""
    for message in messages:
        if message.get("role") == "user" and (text := text_of(message).strip()):
            return title_of(text)
    return ""


class Names:
    """Looks names up through the page's client; a deleted object is named as such."""

    def __init__(self, client: Client):
        self.client = client
        self.cache: dict[tuple[str, str], str] = {}

    def _get(self, kind: str, path: str, object_id: str, field: str) -> str:
        key = (kind, object_id)
        if key not in self.cache:
            try:
                self.cache[key] = str(self.client.get(f"{path}/{object_id}").get(field) or "")
            except UpstreamError as exc:
                if not exc.not_found:
                    raise
                self.cache[key] = f"{object_id} (deleted)"
        return self.cache[key]

    def file(self, file_id: str) -> str:
        return self._get("file", "files", file_id, "filename") or file_id

    def assistant(self, assistant_id: str | None) -> str:
        return self._get("assistant", "assistants", assistant_id, "name") if assistant_id else ""

    def store(self, store_id: str) -> str:
        return self._get("store", "vector_stores", store_id, "name")

    def thread(self, thread_id: str) -> str:
        key = ("thread", thread_id)
        if key not in self.cache:
            try:
                page = self.client.get(f"threads/{thread_id}/messages", {"limit": 5, "order": "asc"})
                self.cache[key] = first_user_title(page["data"])
            except UpstreamError as exc:
                if not exc.not_found:
                    raise
                self.cache[key] = ""
        return self.cache[key]

    def seed(self, kind: str, objects: list[dict[str, Any]], field: str = "name") -> None:
        """Names already at hand (a list the page fetched anyway) need no further call."""
        for obj in objects:
            self.cache[(kind, obj["id"])] = str(obj.get(field) or "")
