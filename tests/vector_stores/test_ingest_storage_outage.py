"""Ingestion waits out an object-storage outage: a file whose bytes cannot be read because S3 is
unreachable is retried (bounded by DB_OUTAGE_SECONDS) and completes once S3 is back; an outage
longer than the bound fails that file with a last_error that says so. S3 is moto's server behind
a relay the test cuts (the server keeps its data, as a real store does)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from console.vector_stores import ingest
from console.vector_stores.models import AUTO_CHUNKING, VectorStore, VectorStoreFile
from tests.s3 import moto_server
from tests.tcp_relay import Relay
from tests.vector_stores.conftest import make_files
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def relayed_s3(settings) -> Iterator[Relay]:  # type: ignore[no-untyped-def]
    with moto_server() as s3:
        target = urlsplit(s3.endpoint_url)
        relay = Relay((target.hostname or "127.0.0.1", target.port or 80))
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": s3.bucket,
                    "endpoint_url": f"http://127.0.0.1:{relay.port}",
                    "access_key": "test",
                    "secret_key": "test",
                    "region_name": "us-east-1",
                    "file_overwrite": True,
                    "querystring_auth": False,
                },
            },
        }
        yield relay
        relay.close()


def _pending(owner, text: bytes) -> VectorStoreFile:  # type: ignore[no-untyped-def]
    store = VectorStore.objects.create(project=owner.project)
    (file_id,) = make_files(owner.project, [("notes.txt", text)])
    return VectorStoreFile.objects.create(store=store, file_id=file_id, chunking_strategy=AUTO_CHUNKING)


def test_it_waits_out_an_object_storage_outage(owner, relayed_s3):
    row = _pending(owner, b"Refunds are possible within thirty days.")
    relayed_s3.cut = True
    worker = threading.Thread(target=ingest.ingest, args=(row.store_id, row.file_id))
    worker.start()
    # The file's bytes were asked for and refused (botocore retries a few times itself, then ours).
    wait_until(lambda: relayed_s3.refused >= 1, what="a refused read of the file's bytes")
    row.refresh_from_db()
    assert row.status == "in_progress"
    relayed_s3.cut = False
    worker.join(timeout=60)
    assert not worker.is_alive()
    row.refresh_from_db()
    assert (row.status, row.last_error) == ("completed", None)
    assert row.usage_bytes > 0


def test_an_outage_past_the_bound_fails_the_file_saying_so(owner, relayed_s3, settings):
    settings.DB_OUTAGE_SECONDS = 2
    row = _pending(owner, b"Shipping takes a week.")
    relayed_s3.cut = True
    ingest.ingest(row.store_id, row.file_id)
    row.refresh_from_db()
    assert row.status == "failed"
    assert row.last_error["code"] == "server_error"
    assert "the database or the file storage stayed unreachable for 2 s" in row.last_error["message"]
