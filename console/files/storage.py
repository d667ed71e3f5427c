"""File bytes, through Django's storage API: local files under MEDIA_ROOT, or S3 (FILE_STORAGE=s3).

This is the only module that knows where bytes live. Everything else names a file by its storage
name ("files/<project>/<file id>") and reads or writes it through these functions, which keep memory
flat: uploads stream (S3: multipart, a few parts in flight), downloads are read in blocks, and a
caller that needs a real path (a parser) gets a temporary copy that is deleted when it is done.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File as DjangoFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage

from console.core.errors import StorageFull, is_storage_full

BLOCK = 256 * 1024


def storage() -> Storage:
    return default_storage


def is_local() -> bool:
    # default_storage is a lazy proxy; isinstance sees the configured backend's class.
    return isinstance(default_storage, FileSystemStorage)


class _Source(DjangoFile):
    """Any readable binary stream, as Django's storage API expects one."""

    def __init__(self, source: IO[bytes], size: int) -> None:
        super().__init__(source)
        self._known_size = size

    @property
    def size(self) -> int:  # type: ignore[override]
        return self._known_size


def save(name: str, source: IO[bytes], *, source_path: str | None = None, size: int | None = None) -> str:
    """Stores `source` under `name` (which must be new) and returns the stored name.

    `source_path`, when given, is a file on disk holding the same bytes that may be consumed: local
    storage moves it into place, S3 uploads it in parts read from disk one at a time.

    A full disk raises StorageFull, with whatever part was written removed.
    """
    try:
        return _save(name, source, source_path=source_path, size=size)
    except OSError as exc:
        if not is_storage_full(exc):
            raise
        delete(name)
        raise StorageFull() from exc


def _save(name: str, source: IO[bytes], *, source_path: str | None, size: int | None) -> str:
    if source_path and os.path.exists(source_path):
        if is_local():
            target = Path(settings.MEDIA_ROOT) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source_path, target)
            return name
        return _s3_upload_file(name, source_path)
    with contextlib.suppress(AttributeError, OSError, ValueError):
        source.seek(0)
    if size is None:
        size = _measure(source)
    return storage().save(name, _Source(source, size))


def _s3_key(name: str) -> str:
    from storages.utils import clean_name, safe_join

    return safe_join(storage().location, clean_name(name))  # type: ignore[attr-defined]


def _s3_upload_file(name: str, path: str) -> str:
    """Uploads a file on disk. boto3 reads each part from disk as it sends it; given an open file
    object instead, it would read every part into memory up front."""
    backend = storage()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    backend.bucket.Object(_s3_key(name)).upload_file(  # type: ignore[attr-defined]
        path,
        ExtraArgs={"ContentType": content_type},
        Config=backend.transfer_config,  # type: ignore[attr-defined]
    )
    return name


def _measure(source: IO[bytes]) -> int:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        here = source.tell()
        end = source.seek(0, os.SEEK_END)
        source.seek(here)
        return end - here
    return 0


def save_path(name: str, path: Path) -> str:
    """Stores the local file at `path` under `name`, leaving `path` in place."""
    if not is_local():
        return _s3_upload_file(name, str(path))
    with open(path, "rb") as handle:
        return save(name, handle, size=path.stat().st_size)


def delete(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        storage().delete(name)


def exists(name: str) -> bool:
    return storage().exists(name)


def size(name: str) -> int:
    return storage().size(name)


def read_bytes(name: str) -> bytes:
    """The whole file; for small files only (images sent to a model)."""
    return b"".join(blocks(name))


def blocks(name: str, block: int = BLOCK) -> Generator[bytes, None, None]:
    """The file's bytes in blocks of at most `block`, streamed from wherever they are stored."""
    body = _s3_body(name)
    if body is not None:
        try:
            yield from body.iter_chunks(block)
        finally:
            body.close()
        return
    with storage().open(name, "rb") as handle:
        while chunk := handle.read(block):
            yield chunk


def _s3_body(name: str) -> Any:
    """The streaming body of an S3 object, or None with local storage.

    django-storages' S3File downloads a whole object before the first read; a GET streams it.
    """
    backend = storage()
    if is_local():
        return None
    s3 = backend.connection.meta.client  # type: ignore[attr-defined]
    return s3.get_object(Bucket=backend.bucket_name, Key=_s3_key(name))["Body"]  # type: ignore[attr-defined]


@contextlib.contextmanager
def local_path(name: str, suffix: str = "") -> Iterator[Path]:
    """A path on this machine holding the file's bytes, for code that needs one (parsers, the sandbox).

    Local storage gives the stored file itself; otherwise a temporary copy, deleted on exit.
    """
    if is_local():
        yield Path(storage().path(name))
        return
    handle = tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR, suffix=suffix, delete=False)
    try:
        with handle:
            for chunk in blocks(name, 1 << 20):
                handle.write(chunk)
        yield Path(handle.name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)


def copy_to(name: str, target: Path) -> None:
    """Writes the file's bytes to `target` (a new local file)."""
    with open(target, "wb") as out:
        for chunk in blocks(name, 1 << 20):
            out.write(chunk)
