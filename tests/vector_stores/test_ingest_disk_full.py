"""Ingestion on a full disk: with object storage, a parser reads a temporary local copy of the file;
when that copy cannot be written, that file alone fails, with a readable last_error, and the next
file that fits is ingested. The disk is a small tmpfs (root only); the storage is moto's S3 server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from console.vector_stores import ingest
from console.vector_stores.models import AUTO_CHUNKING, VectorStore, VectorStoreFile
from tests.api.test_disk_full import _mount, _unmount
from tests.s3 import moto_server
from tests.vector_stores.conftest import make_files

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def s3_storage(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with moto_server() as s3:
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": s3.bucket,
                    "endpoint_url": s3.endpoint_url,
                    "access_key": "test",
                    "secret_key": "test",
                    "region_name": "us-east-1",
                    "file_overwrite": True,
                    "querystring_auth": False,
                },
            },
        }
        yield


def test_it_fails_the_file_whose_copy_does_not_fit_and_ingests_the_next(owner, s3_storage, settings):
    disk = _mount(1 << 20)
    try:
        (disk / "ballast").write_bytes(b"\0" * (768 << 10))
        settings.FILE_UPLOAD_TEMP_DIR = str(disk)
        store = VectorStore.objects.create(project=owner.project)
        big, small = make_files(
            owner.project, [("big.txt", b"word " * 100_000), ("small.txt", b"a few words")]
        )
        rows = [
            VectorStoreFile.objects.create(store=store, file_id=file_id, chunking_strategy=AUTO_CHUNKING)
            for file_id in (big, small)
        ]
        for row in rows:
            ingest.ingest(row.store_id, row.file_id)
            row.refresh_from_db()
        assert rows[0].status == "failed"
        assert rows[0].last_error == {"code": "server_error", "message": ingest.DISK_FULL_MESSAGE}
        assert rows[1].status == "completed", rows[1].last_error
        assert sorted(p.name for p in disk.iterdir()) == ["ballast"]  # no partial copy left behind
    finally:
        _unmount(disk)
