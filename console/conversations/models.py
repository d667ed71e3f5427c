"""The conversation items a thread's messages cannot hold.

A conversation is a thread (console/threads): its user and assistant messages are the thread's
Message rows, so the Assistants API sees them. Every other item (function calls, their outputs,
system and developer messages) is a ConversationItem of the same thread, ordered with the
messages by (created_at, id).
"""

from __future__ import annotations

from django.db import models

from console.core.models import ApiObject
from console.threads.models import Thread


class ConversationItem(ApiObject):
    # The id is given per type (fc_, fco_, msg_), as OpenAI's items have.
    id_prefix = "item_"

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="conversation_items")
    type = models.CharField(max_length=32)
    # The item as the API shows it, without its id.
    body = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["thread", "created_at", "id"], name="conv_item_page")]
