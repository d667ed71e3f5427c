from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.assistants.models import Assistant
from console.files.models import File
from console.projects.models import Project
from console.threads.models import Thread


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    projects = [
        {
            "project": project,
            "assistants": Assistant.objects.filter(project=project).count(),
            "threads": Thread.objects.filter(project=project).count(),
            "files": File.objects.filter(project=project).count(),
        }
        for project in Project.objects.order_by("name")
    ]
    return render(request, "web/home.html", {"projects": projects})
