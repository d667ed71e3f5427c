"""A full disk where file bytes go: uploads answer 507 in OpenAI's envelope, nothing half-written is
kept or listed, and the space is there again for the next upload. The disk is a small tmpfs mounted
for the test (root only), under a web process of its own."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.files.models import File
from tests.webproc import web_process

pytestmark = pytest.mark.timeout(180)

DISK_BYTES = 3 << 20


def _mount(size: int) -> Path:
    path = Path(tempfile.mkdtemp(prefix="full-disk-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    return path


def _unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False)
    path.rmdir()


@pytest.fixture
def small_disk() -> Iterator[Path]:
    path = _mount(DISK_BYTES)
    try:
        yield path
    finally:
        _unmount(path)


def _stored_bytes(root: Path) -> list[tuple[str, int]]:
    return [
        (str(p.relative_to(root)), p.stat().st_size)
        for p in root.rglob("*")
        if p.is_file() and p.name != "ballast"
    ]


def _upload(web, key: str, size: int) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{web.url}/v1/files",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": ("big.bin", os.urandom(size))},
        data={"purpose": "assistants"},
        timeout=60,
    )


def _assert_storage_full(r: httpx.Response) -> None:
    assert r.status_code == 507, r.text
    error = r.json()["error"]
    assert error["type"] == "server_error" and error["code"] == "storage_full"
    assert "storage is full" in error["message"]


@pytest.mark.parametrize("spool_on_full_disk", [False, True], ids=["media-full", "media-and-tmp-full"])
def test_it_answers_507_for_an_upload_larger_than_the_free_space(
    transactional_db, redis_url, owner, small_disk, tmp_path, spool_on_full_disk
):
    # The request body is spooled to TMPDIR past 2 MB; the multipart parser writes to MEDIA_ROOT/tmp.
    tmpdir = small_disk / "tmp-spool" if spool_on_full_disk else tmp_path
    tmpdir.mkdir(exist_ok=True)
    with web_process(MEDIA_ROOT=str(small_disk), TMPDIR=str(tmpdir)) as web:
        _assert_storage_full(_upload(web, owner.key, 5 << 20))
        assert _stored_bytes(small_disk) == []
        assert not File.objects.exists()
        listed = httpx.get(f"{web.url}/v1/files", headers={"Authorization": f"Bearer {owner.key}"})
        assert listed.json()["data"] == []
        # The space is free again: a file that fits goes in.
        r = _upload(web, owner.key, 1 << 20)
        assert r.status_code == 200, r.text
        assert File.objects.get().bytes == 1 << 20


def test_it_answers_507_when_the_last_bytes_do_not_fit(
    transactional_db, redis_url, owner, small_disk, tmp_path
):
    """A small upload (kept in memory until it is stored) hits the full disk as its bytes are written."""
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * (DISK_BYTES - (256 << 10)))
    with web_process(MEDIA_ROOT=str(small_disk), TMPDIR=str(tmp_path)) as web:
        _assert_storage_full(_upload(web, owner.key, 1 << 20))
        assert _stored_bytes(small_disk) == []
        assert not File.objects.exists()
        ballast.unlink()
        assert _upload(web, owner.key, 1 << 20).status_code == 200
