from django.urls import path, re_path

from console.api.views import (
    activity,
    assistants,
    conversations,
    files,
    models,
    passthrough,
    responses,
    runs,
    threads,
    usage,
    vector_stores,
)

urlpatterns = [
    path("assistants", assistants.assistants),
    path("assistants/<str:assistant_id>", assistants.assistant),
    path("threads", threads.threads),
    path("threads/runs", runs.create_thread_and_run),
    path("threads/<str:thread_id>", threads.thread),
    path("threads/<str:thread_id>/messages", threads.messages),
    path("threads/<str:thread_id>/messages/<str:message_id>", threads.message),
    path("threads/<str:thread_id>/runs", runs.runs),
    path("threads/<str:thread_id>/runs/<str:run_id>", runs.run_detail),
    path("threads/<str:thread_id>/runs/<str:run_id>/cancel", runs.cancel),
    path("threads/<str:thread_id>/runs/<str:run_id>/submit_tool_outputs", runs.submit_tool_outputs),
    path("threads/<str:thread_id>/runs/<str:run_id>/events", runs.events),
    path("threads/<str:thread_id>/runs/<str:run_id>/steps", runs.steps),
    path("threads/<str:thread_id>/runs/<str:run_id>/steps/<str:step_id>", runs.step),
    path("files", files.files),
    path("files/<str:file_id>", files.file),
    path("files/<str:file_id>/content", files.file_content),
    path("files/<str:file_id>/usage", files.file_usage),  # extension
    path("usage", usage.usage),  # extension
    path("models", models.models),
    path("models/<path:model_id>", models.model),
    path("runs", activity.runs),  # extension
    path("file_batches", activity.file_batches),  # extension
    path("responses", responses.responses),
    path("responses/input_tokens", responses.input_tokens),
    path("responses/compact", passthrough.passthrough),  # not served: forwarded
    path("responses/<str:response_id>", responses.response),
    path("responses/<str:response_id>/cancel", responses.cancel),
    path("responses/<str:response_id>/input_items", responses.response_input_items),
    path("conversations", conversations.conversations),
    path("conversations/<str:conversation_id>", conversations.conversation),
    path("conversations/<str:conversation_id>/items", conversations.items),
    path("conversations/<str:conversation_id>/items/<str:item_id>", conversations.item),
    path("vector_stores", vector_stores.vector_stores),
    path("vector_stores/<str:vector_store_id>", vector_stores.vector_store),
    path("vector_stores/<str:vector_store_id>/search", vector_stores.search),
    path("vector_stores/<str:vector_store_id>/files", vector_stores.files),
    path("vector_stores/<str:vector_store_id>/files/<str:file_id>", vector_stores.file),
    path("vector_stores/<str:vector_store_id>/files/<str:file_id>/content", vector_stores.file_content),
    path("vector_stores/<str:vector_store_id>/file_batches", vector_stores.file_batches),
    path("vector_stores/<str:vector_store_id>/file_batches/<str:batch_id>", vector_stores.file_batch),
    path(
        "vector_stores/<str:vector_store_id>/file_batches/<str:batch_id>/cancel",
        vector_stores.cancel_file_batch,
    ),
    path(
        "vector_stores/<str:vector_store_id>/file_batches/<str:batch_id>/files",
        vector_stores.file_batch_files,
    ),
    # Everything else goes to the model's provider (PASSTHROUGH=0: 404).
    re_path(r"^.*$", passthrough.passthrough),
]
