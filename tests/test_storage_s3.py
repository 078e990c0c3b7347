"""Uploads and release files in S3-compatible object storage: the settings' S3 stores
(CURATION_S3_BUCKET) against a real S3 endpoint over HTTP, moto's server run as a process
(moto is a dev dependency: these tests never skip). A seed file is uploaded, checked and
imported from the bucket; a release job stores every file in the bucket and the API streams
them back byte for byte, a 30 MB file without holding it in memory."""

import hashlib
import io
import json
import os
import runpy
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.files.storage import storages

from annotation.models import Seed, SeedImport
from config.settings import base as base_settings
from exports.models import Release
from exports.services import release_files_store

from .conftest import api_for
from .test_releases import released_world  # noqa: F401 - the fixture
from .test_workspace_seeds import confirm, good_lines, jsonl, start

pytestmark = pytest.mark.django_db

BUCKET = "codearena-test"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free local port, with dummy credentials in the environment."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto's server did not start: {log.read_text()}") from None
                time.sleep(0.1)
        with pytest.MonkeyPatch.context() as env:
            for key, value in CREDENTIALS.items():
                env.setenv(key, value)
            yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def s3_storages(endpoint: str) -> dict[str, Any]:
    """STORAGES exactly as config/settings/base.py builds them with CURATION_S3_BUCKET set."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CURATION_S3_BUCKET", BUCKET)
        env.setenv("AWS_S3_ENDPOINT_URL", endpoint)
        env.setenv("AWS_S3_REGION_NAME", "us-east-1")
        stores: dict[str, Any] = runpy.run_path(base_settings.__file__)["STORAGES"]
    return stores


@pytest.fixture
def bucket(s3_endpoint: str, settings: Any, tmp_path: Path) -> Iterator[Any]:
    """An empty bucket that the default and releases stores use; RELEASES_DIR and MEDIA_ROOT
    point at empty folders, which must stay empty."""
    s3 = boto3.resource("s3", endpoint_url=s3_endpoint)
    created = s3.Bucket(BUCKET)
    created.create()
    stores = s3_storages(s3_endpoint)
    assert stores["releases"]["BACKEND"] == "storages.backends.s3.S3Storage"
    settings.STORAGES = stores
    settings.RELEASES_DIR = tmp_path / "releases"
    settings.MEDIA_ROOT = tmp_path / "media"
    yield created
    created.objects.all().delete()
    created.delete()
    assert not (tmp_path / "releases").exists() and not (tmp_path / "media").exists()


def keys(bucket: Any, prefix: str) -> dict[str, bytes]:
    return {obj.key: obj.get()["Body"].read() for obj in bucket.objects.filter(Prefix=prefix).all()}


def body(res: Any) -> bytes:
    return b"".join(res.streaming_content)


def test_a_seed_file_is_uploaded_checked_and_imported_from_the_bucket(
    bucket, world, django_capture_on_commit_callbacks
):
    content = jsonl(good_lines(5))
    seed_import = start(world, content, django_capture_on_commit_callbacks)
    seed_import.refresh_from_db()
    assert seed_import.status == "checked", seed_import.error
    assert seed_import.check_report["new"] == 5
    stored = keys(bucket, "uploads/")
    assert stored == {f"uploads/{seed_import.file.name}": content}
    assert seed_import.file.name.startswith("seed-imports/")

    # A second upload of the same name gets its own key: uploads never overwrite each other.
    again = start(world, content, django_capture_on_commit_callbacks)
    assert again.file.name != seed_import.file.name
    assert len(keys(bucket, "uploads/")) == 2

    assert confirm(world, seed_import, django_capture_on_commit_callbacks).status_code == 202
    seed_import.refresh_from_db()
    assert seed_import.status == "done" and seed_import.report["new"] == 5
    assert Seed.objects.filter(campaign=world.campaign).count() == 5
    # Discarding the other one deletes its object.
    with django_capture_on_commit_callbacks(execute=True):
        res = api_for(world.curator).post(f"/api/v1/seed-imports/{again.pk}/discard/")
    assert res.status_code == 200
    assert f"uploads/{again.file.name}" not in keys(bucket, "uploads/")
    assert SeedImport.objects.get(pk=again.pk).status == "discarded"


def build_release(world: Any, capture: Any, name: str = "v1") -> Release:
    with capture(execute=True):
        res = api_for(world.curator).post(
            f"/api/v1/campaigns/{world.campaign.slug}/releases/",
            {"name": name, "size": 6, "seed": 1},
            format="json",
        )
    assert res.status_code == 202, res.content
    release = Release.objects.get(pk=res.json()["id"])
    assert release.status == "done", release.error
    return release


def test_a_release_is_stored_in_the_bucket_and_downloaded_byte_for_byte(
    bucket,
    released_world,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    # A build folder left by a worker killed long ago is removed by the next build; the
    # build's own folder goes once its files are stored.
    staging = Path(tempfile.gettempdir()) / "codearena-release-staging"
    leftover = staging / "999999-killed"
    (leftover / "v0").mkdir(parents=True, exist_ok=True)
    os.utime(leftover, (time.time() - 2 * 3600, time.time() - 2 * 3600))
    release = build_release(released_world, django_capture_on_commit_callbacks)
    assert not leftover.exists()
    assert not list(staging.glob(f"{release.pk}-*"))
    prefix = "releases/camp/v1/"
    stored = keys(bucket, prefix)
    assert sorted(stored) == sorted(prefix + name for name in release.files)
    manifest = json.loads(stored[prefix + "manifest.json"])
    assert set(manifest["files"]) == set(release.files) - {"manifest.json", "camp-v1.zip"}
    for name, meta in release.files.items():
        data = stored[prefix + name]
        assert hashlib.sha256(data).hexdigest() == meta["sha256"] and len(data) == meta["bytes"]
        if name in manifest["files"]:
            assert manifest["files"][name]["sha256"] == meta["sha256"], name

    curator = api_for(released_world.curator)
    detail = curator.get(f"/api/v1/releases/{release.pk}/").json()
    for f in detail["files"]:
        res = curator.get(f["url"])
        assert res.status_code == 200 and res.streaming
        assert body(res) == stored[prefix + f["name"]], f["name"]
        assert res["Content-Length"] == str(f["bytes"])
        flat = f["name"].replace("/", "-")
        assert res["Content-Disposition"] == f'attachment; filename="camp-v1-{flat}"'
    res = curator.get(f"/api/v1/releases/{release.pk}/files/benchmark.jsonl")
    assert res["Content-Type"] == "application/x-ndjson"

    res = curator.get(detail["download_url"])
    assert res.status_code == 200 and res["Content-Type"] == "application/zip"
    assert res["Content-Disposition"] == 'attachment; filename="camp-v1.zip"'
    data = body(res)
    assert data == stored[prefix + "camp-v1.zip"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        inside = archive.read("camp-v1/benchmark.jsonl")
    assert inside == stored[prefix + "benchmark.jsonl"]

    # A name the release did not write, or an object gone from the bucket: 404.
    assert curator.get(f"/api/v1/releases/{release.pk}/files/nope.txt").status_code == 404
    bucket.Object(prefix + "stats.json").delete()
    res = curator.get(f"/api/v1/releases/{release.pk}/files/stats.json")
    assert res.status_code == 404 and "missing from its storage" in res.json()["detail"]


def test_storing_again_replaces_the_files_and_drops_the_leftovers(bucket, tmp_path):
    source = tmp_path / "build"
    (source / "figures").mkdir(parents=True)
    (source / "a.jsonl").write_bytes(b"first\n")
    (source / "figures" / "x.svg").write_bytes(b"<svg/>")
    release_files_store(source=source, names=["a.jsonl", "figures/x.svg"], prefix="camp/r")
    assert keys(bucket, "releases/camp/r/") == {
        "releases/camp/r/a.jsonl": b"first\n",
        "releases/camp/r/figures/x.svg": b"<svg/>",
    }
    (source / "a.jsonl").write_bytes(b"second\n")
    release_files_store(source=source, names=["a.jsonl"], prefix="camp/r")
    assert keys(bucket, "releases/camp/r/") == {"releases/camp/r/a.jsonl": b"second\n"}


def test_a_large_file_is_streamed_from_the_bucket_not_held_in_memory(
    bucket,
    released_world,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    release = build_release(released_world, django_capture_on_commit_callbacks)
    curator = api_for(released_world.curator)
    # The release's zip replaced in the bucket by a 30 MB one (a release of ~100k samples).
    size = 30 * 2**20
    big = os.urandom(size)
    digest = hashlib.sha256(big).hexdigest()
    bucket.put_object(Key="releases/camp/v1/camp-v1.zip", Body=big)
    del big
    assert body(curator.get(f"/api/v1/releases/{release.pk}/files/stats.json"))  # warm clients

    tracemalloc.start()
    try:
        res = curator.get(f"/api/v1/releases/{release.pk}/download.zip")
        assert res.status_code == 200 and res["Content-Length"] == str(size)
        received, hashed, chunks = 0, hashlib.sha256(), 0
        for chunk in res.streaming_content:
            received += len(chunk)
            hashed.update(chunk)
            chunks += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == size and hashed.hexdigest() == digest
    assert chunks >= size // (64 * 1024)
    # Far below the file (and below the 8 MB that django-storages' S3File buffers in memory).
    assert peak < 4 * 2**20, peak


def test_the_local_store_follows_releases_dir(settings, tmp_path):
    settings.RELEASES_DIR = tmp_path / "one"
    store = storages["releases"]
    store.save("camp/r/a.txt", io.BytesIO(b"1"))
    store.save("camp/r/a.txt", io.BytesIO(b"2"))  # replaced, not renamed
    settings.RELEASES_DIR = tmp_path / "two"
    store.save("camp/r/a.txt", io.BytesIO(b"3"))
    assert (tmp_path / "one" / "camp" / "r" / "a.txt").read_bytes() == b"2"
    assert (tmp_path / "two" / "camp" / "r" / "a.txt").read_bytes() == b"3"
    assert sorted(p.name for p in (tmp_path / "one" / "camp" / "r").iterdir()) == ["a.txt"]
