from pathlib import Path

import django.contrib.admin
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path, re_path
from django.views.static import serve

from console.web.views import (
    activity,
    admin,
    assistants,
    cleanup,
    files,
    home,
    jobs,
    playground,
    prices,
    store_files,
    threads,
    vector_stores,
)

P = "p/<int:project_id>/"
ADMIN_STATIC = Path(django.contrib.admin.__file__).resolve().parent / "static" / "admin"

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", home.healthz, name="healthz"),
    # The console's few static files, served by Django itself so `make run` needs no web server in front.
    # The Django admin site's own CSS and JS (superusers still use it), from the installed Django.
    re_path(r"^static/admin/(?P<path>.*)$", serve, {"document_root": ADMIN_STATIC}),
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.BASE_DIR / "static"}),
    path("login", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("invite/<str:token>", admin.invite, name="invite"),
    path(P, home.overview, name="overview"),
    path(P + "description", home.project_description, name="project_description"),
    path(P + "assistants", assistants.assistants, name="assistants"),
    path(P + "assistants/new", assistants.assistant_new, name="assistant_new"),
    path(P + "assistants/<str:assistant_id>", assistants.assistant, name="assistant"),
    path(
        P + "assistants/<str:assistant_id>/duplicate",
        assistants.assistant_duplicate,
        name="assistant_duplicate",
    ),
    path(P + "assistants/<str:assistant_id>/delete", assistants.assistant_delete, name="assistant_delete"),
    path(P + "threads", threads.threads, name="threads"),
    path(P + "threads/<str:thread_id>", threads.thread, name="thread"),
    path(P + "threads/<str:thread_id>/runs", threads.thread_runs, name="thread_runs"),
    path(P + "threads/<str:thread_id>/export.<str:fmt>", threads.thread_export, name="thread_export"),
    path(P + "threads/<str:thread_id>/delete", threads.thread_delete, name="thread_delete"),
    path(P + "threads/<str:thread_id>/runs/<str:run_id>/stream", playground.run_stream, name="run_stream"),
    path(P + "threads/<str:thread_id>/runs/<str:run_id>/action", playground.run_action, name="run_action"),
    path(P + "threads/<str:thread_id>/runs/<str:run_id>/cancel", playground.run_cancel, name="run_cancel"),
    path(P + "threads/<str:thread_id>/runs/<str:run_id>/result", playground.run_result, name="run_result"),
    path(P + "playground", playground.playground, name="playground"),
    path(P + "playground/send", playground.playground_send, name="playground_send"),
    path(P + "files", files.files, name="files"),
    path(P + "files/<str:file_id>/download", files.file_download, name="file_download"),
    path(P + "files/<str:file_id>/delete", files.file_delete, name="file_delete"),
    path(P + "files/<str:file_id>/usage", files.file_usage, name="file_usage"),
    path(P + "vector_stores", vector_stores.vector_stores, name="vector_stores"),
    path(P + "vector_stores/<str:store_id>", vector_stores.vector_store, name="vector_store"),
    path(
        P + "vector_stores/<str:store_id>/delete",
        vector_stores.vector_store_delete,
        name="vector_store_delete",
    ),
    path(
        P + "vector_stores/<str:store_id>/upload",
        vector_stores.vector_store_upload,
        name="vector_store_upload",
    ),
    path(P + "vector_stores/<str:store_id>/batches", vector_stores.batch_create, name="batch_create"),
    path(
        P + "vector_stores/<str:store_id>/files/<str:file_id>",
        store_files.store_file_action,
        name="store_file_action",
    ),
    path(P + "vector_stores/<str:store_id>/uploads", vector_stores.upload_start, name="upload_start"),
    path(P + "vector_stores/<str:store_id>/uploads/check", store_files.upload_check, name="upload_check"),
    path(P + "uploads/<int:session_id>", vector_stores.upload_session, name="upload_session"),
    path(P + "batches/<str:batch_id>", vector_stores.batch, name="batch"),
    path(P + "batches/<str:batch_id>/cancel", vector_stores.batch_cancel, name="batch_cancel"),
    path(P + "batches/<str:batch_id>/retry", vector_stores.batch_retry, name="batch_retry"),
    path(P + "jobs", jobs.jobs, name="jobs"),
    path(P + "jobs/runs/<str:run_id>/retry", jobs.run_retry, name="run_retry"),
    path(P + "activity", activity.activity, name="activity"),
    path(
        P + "activity/<str:thread_id>/<str:run_id>/cancel", activity.activity_cancel, name="activity_cancel"
    ),
    path(P + "activity/<str:thread_id>/<str:run_id>/rerun", activity.activity_rerun, name="activity_rerun"),
    path(P + "cleanup", cleanup.cleanup, name="cleanup"),
    path(P + "cleanup/retention", cleanup.retention, name="retention"),
    path(P + "cleanup/threads", cleanup.bulk_delete_threads, name="cleanup_threads"),
    path(P + "cleanup/files", cleanup.orphan_files, name="cleanup_files"),
    path(P + "cleanup/vector_stores", cleanup.unused_vector_stores, name="cleanup_vector_stores"),
    path(P + "prices", prices.prices, name="prices"),
    path(P + "members", admin.members, name="members"),
    path(P + "upstream", admin.upstream_settings, name="upstream"),
    path(P + "audit", admin.audit_log, name="audit"),
]
