"""Copies file bytes kept under MEDIA_ROOT into the configured storage (FILE_STORAGE=s3).

Safe to re-run: a file already in storage with the right size is skipped, so an interrupted copy
picks up where it stopped. Local files are left in place; delete MEDIA_ROOT/files yourself once
the copy is checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console.files import storage
from console.files.models import File


class Command(BaseCommand):
    help = "Copy existing local file bytes (MEDIA_ROOT) into the configured storage; safe to re-run."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--from",
            dest="source",
            default=str(settings.MEDIA_ROOT),
            help="local directory (default: MEDIA_ROOT)",
        )

    def handle(self, *args: Any, source: str, **options: Any) -> None:
        root = Path(source)
        if storage.is_local() and root.resolve() == Path(settings.MEDIA_ROOT).resolve():
            raise CommandError(
                "FILE_STORAGE is local: the files are already in MEDIA_ROOT (set FILE_STORAGE=s3)."
            )
        counts = {"copied": 0, "present": 0, "missing": 0}
        for file in File.objects.order_by("created_at", "id").only("pk", "storage_name", "bytes").iterator():
            name = file.storage_name
            if storage.exists(name) and storage.size(name) == file.bytes:
                counts["present"] += 1
                continue
            local = root / name
            if not local.is_file():
                counts["missing"] += 1
                self.stderr.write(f"{file.pk}: no local file at {local}")
                continue
            storage.delete(name)  # a partial object from an interrupted run
            stored = storage.save_path(name, local)
            if stored != name:
                raise CommandError(f"{file.pk}: storage stored {name!r} as {stored!r}")
            counts["copied"] += 1
        self.stdout.write(
            f"copied {counts['copied']}, already in storage {counts['present']}, missing locally {counts['missing']}"
        )
