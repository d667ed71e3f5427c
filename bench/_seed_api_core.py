"""Seeds the API-core benchmark's data through the ORM; run by bench/api_core.py with its env.

Prints one JSON line: the ids the load generator needs.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from console.assistants.models import Assistant  # noqa: E402
from console.core.ids import new_id  # noqa: E402
from console.projects.services import get_or_create_project  # noqa: E402
from console.threads.models import Message, Thread  # noqa: E402

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000"))
# About the size of a chat turn: a couple of sentences.
TEXT = (
    "Could you summarise the attached quarterly report and list the three biggest risks it mentions, "
    "with one sentence of explanation each? Keep it under two hundred words."
)


def main() -> None:
    project = get_or_create_project("bench")
    assistant = Assistant.objects.create(
        project=project,
        model="gpt-4o-mini",
        name="Bench assistant",
        description="Answers questions about quarterly reports.",
        instructions="You are a careful financial analyst. " * 20,
        tools=[{"type": "code_interpreter"}, {"type": "file_search", "file_search": {"max_num_results": 20}}],
        tool_resources={"code_interpreter": {"file_ids": []}},
        metadata={"team": "finance", "env": "bench"},
        temperature=1.0,
        top_p=1.0,
        response_format="auto",
    )
    now = timezone.now()
    with transaction.atomic():
        big = Thread.objects.create(project=project, metadata={"purpose": "list"})
        post = Thread.objects.create(project=project, metadata={"purpose": "post"})
        rows = []
        for index in range(MESSAGES):
            at = now - timedelta(seconds=MESSAGES - index)
            rows.append(
                Message(
                    id=new_id("msg_"),
                    thread=big,
                    created_at=at,
                    role="user" if index % 2 == 0 else "assistant",
                    status="completed",
                    content=[{"type": "text", "text": {"value": f"{index}: {TEXT}", "annotations": []}}],
                    attachments=[],
                    metadata={},
                    completed_at=at,
                )
            )
        Message.objects.bulk_create(rows, batch_size=1000)
    print(orjson.dumps({"assistant": assistant.id, "list_thread": big.id, "post_thread": post.id}).decode())


if __name__ == "__main__":
    main()
