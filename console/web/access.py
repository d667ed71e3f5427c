"""Who may do what: every console view resolves its project through project_for_user()."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from console.projects.models import Project
from console.web.models import ROLE_RANK, Membership, Role


@dataclass
class ProjectAccess:
    project: Project
    role: Role

    @property
    def can_edit(self) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[Role.EDITOR]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def role_for(user: Any, project: Project) -> Role | None:
    if not user.is_authenticated:
        return None
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    membership = Membership.objects.filter(user=user, project=project).only("role").first()
    return Role(membership.role) if membership else None


def projects_for(user: Any) -> list[tuple[Project, Role]]:
    if getattr(user, "is_superuser", False):
        return [(p, Role.ADMIN) for p in Project.objects.order_by("name")]
    memberships = Membership.objects.filter(user=user).select_related("project").order_by("project__name")
    return [(m.project, Role(m.role)) for m in memberships]


def project_for_user(user: Any, project_id: int, need: Role = Role.VIEWER) -> ProjectAccess:
    """404 for projects the user is not in (their existence is not disclosed); 403 for too low a role."""
    project = Project.objects.filter(pk=project_id).first()
    role = role_for(user, project) if project else None
    if project is None or role is None:
        raise Http404("No such project.")
    if ROLE_RANK[role] < ROLE_RANK[need]:
        raise PermissionDenied(f"This needs the {need.label.lower()} role; you are a {role.label.lower()}.")
    return ProjectAccess(project=project, role=role)


def remember_project(user: Any, project: Project) -> None:
    """Where this user lands next time they sign in."""
    from django.utils import timezone

    from console.web.models import UserPreference

    UserPreference.objects.update_or_create(
        user=user, defaults={"last_project": project, "updated_at": timezone.now()}
    )


def landing_project(user: Any) -> Project | None:
    """The project a user lands in: the one last used (if still theirs), else their only one."""
    from console.web.models import UserPreference

    projects = projects_for(user)
    pref = UserPreference.objects.filter(user=user).only("last_project_id").first()
    if pref is not None and pref.last_project_id:
        for project, _ in projects:
            if project.pk == pref.last_project_id:
                return project
    return projects[0][0] if len(projects) == 1 else None
