from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from console.projects.models import ApiKey, Project
from console.projects.services import delete_project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]

    # Through the service: it stops the project's keys first and survives API traffic racing the delete.
    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        delete_project(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for project in queryset:
            delete_project(project)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["redacted", "project", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["project"]
    readonly_fields = ["key_hash", "redacted", "created_at", "last_used_at"]
