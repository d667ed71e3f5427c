"""Adding people from the console: an account, a membership, and a one-time link to set a password.

No mail server is needed: the admin copies the link and sends it however they like. The link holds a
random token; only its SHA-256 is stored, so the link cannot be shown again, only replaced.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from console.projects.models import Project
from console.web.models import Invite, Membership, Role


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lifetime() -> timedelta:
    return timedelta(hours=settings.CONSOLE_INVITE_HOURS)


@dataclass
class Added:
    user: Any
    created: bool  # a new account (else an existing one joined the project)
    token: str  # "" when the person already has a password and needs no link


class InviteError(ValueError):
    pass


def issue(project: Project, user: Any, created_by: str) -> str:
    """A fresh link for `user`; earlier unused links of theirs for this project stop working."""
    now = timezone.now()
    Invite.objects.filter(project=project, user=user, used_at__isnull=True).update(expires_at=now)
    token = secrets.token_urlsafe(32)
    Invite.objects.create(
        project=project,
        user=user,
        token_hash=_hash(token),
        created_by=created_by,
        expires_at=now + lifetime(),
    )
    return token


@transaction.atomic
def add_person(project: Project, name: str, email: str, role: str, created_by: str) -> Added:
    """Adds someone by name and e-mail with a role; a person without a password gets an invite link."""
    email = email.strip().lower()
    name = " ".join(name.split())
    if role not in Role.values:
        raise InviteError("Pick a role.")
    users = get_user_model().objects
    # Someone with an account already (made in the admin site, or in another project) just joins.
    user = users.filter(username__iexact=email).first() or (
        users.filter(email__iexact=email).first() if email else None
    )
    if user is None and ("@" not in email or len(email) > 150):
        raise InviteError("Enter the person's e-mail address.")
    created = user is None
    if user is None:
        first, _, last = name.partition(" ")
        user = users.create_user(username=email, email=email, first_name=first[:150], last_name=last[:150])
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if Membership.objects.filter(project=project, user=user).exists():
        raise InviteError(f"{name or email} is already a member of this project.")
    Membership.objects.create(project=project, user=user, role=role)
    token = "" if user.has_usable_password() else issue(project, user, created_by)
    return Added(user=user, created=created, token=token)


def find(token: str) -> Invite | None:
    """The invite a link names, while it is unused and unexpired."""
    invite = Invite.objects.select_related("user", "project").filter(token_hash=_hash(token)).first()
    return invite if invite is not None and invite.is_usable else None


def pending(project: Project) -> dict[int, Invite]:
    """Members who have not yet set a password through their link, by user id (their newest invite)."""
    rows = Invite.objects.filter(project=project, used_at__isnull=True).order_by("created_at")
    return {row.user_id: row for row in rows}


@transaction.atomic
def redeem(invite: Invite, password: str) -> Any:
    """Sets the password and spends the link (a second use, even at the same moment, finds it spent)."""
    spent = Invite.objects.filter(pk=invite.pk, used_at__isnull=True, expires_at__gt=timezone.now()).update(
        used_at=timezone.now()
    )
    if not spent:
        raise InviteError("This invite link was already used or has expired.")
    user = invite.user
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    return user
