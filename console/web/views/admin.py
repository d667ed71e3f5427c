"""Project administration in the console: members, the upstream connection, and the audit log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from console.web import audit, invites, upstream
from console.web.access import ProjectAccess, project_for_user
from console.web.models import AuditLog, Membership, Role, Upstream
from console.web.views.common import HtmxHttpRequest, render_page

AUDIT_PAGE = 50


def _member_change(request: HtmxHttpRequest, access: ProjectAccess) -> tuple[str, str, Any]:
    """A role changed, a person removed, or a new invite link: (error, new link token, its person)."""
    action = request.POST.get("action", "role")
    membership = (
        Membership.objects.filter(project=access.project, user_id=request.POST.get("user_id") or 0)
        .select_related("user")
        .first()
    )
    if membership is None:
        return "That person is no longer a member of this project.", "", None
    user = membership.user
    if action == "remove":
        membership.delete()
        audit.record(request, access.project, "member.remove", "user", str(user.pk), username=user.username)
    elif action == "reinvite":
        if user.has_usable_password():
            return f"{person_name(user)} has set a password already.", "", None
        token = invites.issue(access.project, user, request.user.get_username())
        audit.record(request, access.project, "member.invite", "user", str(user.pk), username=user.username)
        return "", token, user
    else:
        role = request.POST.get("role", "")
        if role not in Role.values:
            return "Pick a role.", "", None
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(
            request, access.project, "member.role", "user", str(user.pk), username=user.username, role=role
        )
    return "", "", None


def person_name(user: Any) -> str:
    return user.get_full_name() or user.email or user.username


@login_required
@require_http_methods(["GET", "POST"])
def members(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.ADMIN)
    error, status = "", 200
    values = {"name": "", "email": "", "role": Role.VIEWER}
    link, invited = "", None
    if request.method == "POST":
        if request.POST.get("action", "add") == "add":
            values = {k: request.POST.get(k, "").strip() for k in values}
            try:
                added = invites.add_person(
                    access.project,
                    values["name"],
                    values["email"],
                    values["role"],
                    request.user.get_username(),
                )
            except invites.InviteError as exc:
                error = str(exc)
            else:
                audit.record(
                    request,
                    access.project,
                    "member.add",
                    "user",
                    str(added.user.pk),
                    username=added.user.username,
                    role=values["role"],
                    invited=bool(added.token),
                )
                link, invited = added.token, added.user
                values = {"name": "", "email": "", "role": Role.VIEWER}
        else:
            error, link, invited = _member_change(request, access)
        status = 422 if error else 200
    rows = list(
        Membership.objects.filter(project=access.project).select_related("user").order_by("user__username")
    )
    waiting = invites.pending(access.project)
    for row in rows:
        row.person = person_name(row.user)  # type: ignore[attr-defined]
        row.invite = waiting.get(row.user_id) if not row.user.has_usable_password() else None  # type: ignore[attr-defined]
    context = {
        "access": access,
        "rows": rows,
        "roles": Role.choices,
        "error": error,
        "values": values,
        "invite_url": request.build_absolute_uri(reverse("invite", args=[link])) if link else "",
        "invited": person_name(invited) if invited is not None else "",
        "invite_hours": settings.CONSOLE_INVITE_HOURS,
    }
    return render_page(request, "web/members.html", context, partial="members", status=status)


@require_http_methods(["GET", "POST"])
def invite(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """The invited person sets their password, and is signed in to the project."""
    found = invites.find(token)
    if found is None:
        return render(request, "web/invite.html", {"expired": True}, status=410)
    form = SetPasswordForm(found.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = invites.redeem(found, form.cleaned_data["new_password1"])
        except invites.InviteError:
            return render(request, "web/invite.html", {"expired": True}, status=410)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        audit.record(request, found.project, "member.joined", "user", str(user.pk), username=user.username)
        return redirect("overview", project_id=found.project.pk)
    context = {"form": form, "invite": found, "person": person_name(found.user)}
    return render(request, "web/invite.html", context, status=422 if request.method == "POST" else 200)


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
