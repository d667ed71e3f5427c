"""The console's own state: who may do what in which project, what they changed, and where the API is."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from console.projects.models import ApiKey, Project


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"


# Higher rank includes everything below it.
ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="one_membership_per_user_project")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project}: {self.role}"


class AuditLog(models.Model):
    """One row per change made through the console."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audit_log", null=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32, blank=True, default="")
    object_id = models.CharField(max_length=128, blank=True, default="")
    detail = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["project", "-created_at"], name="audit_page")]


class Upstream(models.Model):
    """Where a project's console pages send their API calls.

    Without a row the upstream is this server's own /v1 with a key the console created for itself.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="console_upstream")
    # Empty base_url means "this server" (CONSOLE_SELF_URL).
    base_url = models.URLField(max_length=500, blank=True, default="")
    # Fernet token of the raw key; never the key itself.
    key_encrypted = models.TextField()
    # For a self upstream, the ApiKey row the raw key belongs to (revoking it forces a new one).
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    key_hint = models.CharField(max_length=32, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    @property
    def is_self(self) -> bool:
        return not self.base_url


class BatchWatch(models.Model):
    """Progress of a vector store file batch the console started, kept up to date by a Celery task."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    vector_store_id = models.CharField(max_length=64)
    batch_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=20, default="in_progress")
    in_progress = models.IntegerField(default=0)
    completed = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    cancelled = models.IntegerField(default=0)
    total = models.IntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    @property
    def is_done(self) -> bool:
        return self.status in ("completed", "cancelled", "failed")


class RunWatch(models.Model):
    """A run the console started (playground or retry), followed to its end by a Celery task."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    thread_id = models.CharField(max_length=64)
    run_id = models.CharField(max_length=64, unique=True)
    assistant_id = models.CharField(max_length=64)
    model = models.CharField(max_length=256, blank=True, default="")
    status = models.CharField(max_length=20, default="queued")
    # Why the run did not complete (its last_error or incomplete_details), or why watching it failed.
    last_error = models.TextField(blank=True, default="")
    total_tokens = models.IntegerField(null=True, blank=True)
    # Set on a retry: the run this one repeats.
    retry_of = models.CharField(max_length=64, blank=True, default="")
    created_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The run's own times, as the upstream reports them.
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project", "-created_at"], name="runwatch_page")]

    TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")

    @property
    def is_done(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def can_retry(self) -> bool:
        return self.status in ("failed", "cancelled", "expired", "incomplete")

    @property
    def duration(self) -> str:
        """From the request to the end (or to now while it runs), in words a person reads at a glance."""
        seconds = ((self.finished_at or timezone.now()) - self.created_at).total_seconds()
        seconds = max(0.0, seconds)
        if seconds < 60:
            return f"{seconds:.1f} s"
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


class UserPreference(models.Model):
    """Where a user lands after signing in: the project they last opened."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="console_preference"
    )
    last_project = models.ForeignKey(
        Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)


class ModelPrice(models.Model):
    """What a project pays its provider per million tokens of one model, as an admin entered it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=256)
    input_per_million = models.DecimalField(max_digits=12, decimal_places=4)
    output_per_million = models.DecimalField(max_digits=12, decimal_places=4)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "model"], name="one_price_per_project_model")
        ]


class UploadSession(models.Model):
    """A multi-file upload into a vector store, recorded as it happens so a closed tab loses nothing sent.

    The browser announces every file first (one UploadItem each); each file is attached to the store as
    soon as its upload finishes, so reopening the store shows what arrived and what did not. A Celery
    task (console.web.tasks.watch_upload) follows the arrived files' ingestion.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    vector_store_id = models.CharField(max_length=64)
    # uploading -> completed (every file arrived or failed, ingestion over) or incomplete (files never
    # arrived: the tab closed or the network went away for good).
    status = models.CharField(max_length=20, default="uploading")
    created_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # The last file that arrived (or the creation): a session quiet for long is given up on.
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project", "vector_store_id", "-created_at"], name="upload_page")]

    @property
    def is_done(self) -> bool:
        return self.status in ("completed", "incomplete")


class UploadItem(models.Model):
    """One announced file of an upload session."""

    WAITING, INGESTING, COMPLETED, FAILED, MISSING = (
        "waiting",
        "in_progress",
        "completed",
        "failed",
        "missing",
    )

    session = models.ForeignKey(UploadSession, on_delete=models.CASCADE, related_name="items")
    index = models.IntegerField()
    name = models.CharField(max_length=512)
    # Set when the file arrived; status then follows its vector store file (in_progress -> completed/failed).
    file_id = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=20, default=WAITING)
    error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "index"], name="one_item_per_index")]
        ordering = ["index"]


class ProjectSettings(models.Model):
    """Console-level settings of a project, set by its admins."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="console_settings")
    # Threads with no message or run for this many days are deleted by beat (console.web.tasks.apply_retention).
    thread_retention_days = models.PositiveIntegerField(null=True, blank=True)
    # One line on the project list saying what the project is for.
    description = models.CharField(max_length=300, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)


class Invite(models.Model):
    """A one-time link through which a person added by an admin sets their own password.

    Only a SHA-256 of the token is stored; the link is shown once, to the admin who made it.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and timezone.now() < self.expires_at
