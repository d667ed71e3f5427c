"""Project administration in the console: members, the upstream connection, and the audit log."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_http_methods

from console.web import audit, upstream
from console.web.access import project_for_user
from console.web.models import AuditLog, Membership, Role, Upstream
from console.web.views.common import HtmxHttpRequest, render_page

AUDIT_PAGE = 50


@login_required
@require_http_methods(["GET", "POST"])
def members(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.ADMIN)
    error, status = "", 200
    if request.method == "POST":
        action = request.POST.get("action", "add")
        username = request.POST.get("username", "").strip()
        role = request.POST.get("role", Role.VIEWER)
        user = get_user_model().objects.filter(username=username).first()
        if role not in Role.values:
            error = "Pick a role."
        elif user is None:
            error = f"No user named “{username}”. Create users in the admin site first."
        elif action == "remove":
            Membership.objects.filter(project=access.project, user=user).delete()
            audit.record(request, access.project, "member.remove", "user", str(user.pk), username=username)
        else:
            _, created = Membership.objects.update_or_create(
                project=access.project, user=user, defaults={"role": role}
            )
            audit.record(
                request,
                access.project,
                "member.add" if created else "member.role",
                "user",
                str(user.pk),
                username=username,
                role=role,
            )
        status = 422 if error else 200
    rows = Membership.objects.filter(project=access.project).select_related("user").order_by("user__username")
    context = {"access": access, "rows": rows, "roles": Role.choices, "error": error}
    return render_page(request, "web/members.html", context, partial="members", status=status)


@login_required
@require_http_methods(["GET", "POST"])
def upstream_settings(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.ADMIN)
    errors: dict[str, str] = {}
    saved = ""
    if request.method == "POST":
        if request.POST.get("action") == "self":
            upstream.use_self(access.project)
            audit.record(request, access.project, "upstream.self", "upstream")
            saved = "The console now uses this server's own API."
        else:
            base_url = request.POST.get("base_url", "").strip().rstrip("/")
            key = request.POST.get("key", "").strip()
            if not base_url.startswith(("http://", "https://")):
                errors["base_url"] = "Enter the server's base URL, such as https://example.com/v1."
            if not key:
                errors["key"] = "Enter the API key for that server."
            if not errors:
                # Try the connection before saving it, so a typo does not break every page.
                probe = upstream.Client(upstream.Connection(base_url, key, is_self=False))
                try:
                    with probe:
                        probe.get("assistants", {"limit": 1})
                except upstream.UpstreamError as exc:
                    errors["form"] = f"Could not use that server: {exc.message}"
                else:
                    upstream.set_remote(access.project, base_url, key)
                    audit.record(request, access.project, "upstream.remote", "upstream", base_url=base_url)
                    saved = f"The console now uses {base_url}."
    row = Upstream.objects.filter(project=access.project).first()
    context = {
        "access": access,
        "row": row,
        "self_url": upstream.self_url(),
        "errors": errors,
        "saved": saved,
        "values": {"base_url": request.POST.get("base_url", "")},
    }
    return render_page(
        request, "web/upstream.html", context, partial="upstream-form", status=422 if errors else 200
    )


@login_required
@require_GET
def audit_log(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.ADMIN)
    rows = AuditLog.objects.filter(project=access.project).order_by("-created_at", "-id")
    before = request.GET.get("before")
    if before and before.isdigit():
        rows = rows.filter(id__lt=int(before))
    page = list(rows[: AUDIT_PAGE + 1])
    context = {
        "access": access,
        "rows": page[:AUDIT_PAGE],
        "has_more": len(page) > AUDIT_PAGE,
        "next_before": page[AUDIT_PAGE - 1].id if len(page) > AUDIT_PAGE else "",
    }
    return render_page(request, "web/audit.html", context, partial="rows" if before else None)
