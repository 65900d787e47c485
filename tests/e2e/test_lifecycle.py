"""An image from creation to deletion, over HTTP, against the four services as processes."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.conftest import BACKENDS, api
from tests.e2e.deployment import eventually, varied_chunks
from tests.helpers import image_bytes

MiB = 1024 * 1024
IMAGE_MB = int(os.environ.get("GLINT_TEST_IMAGE_MB", "1024"))
RSS_LIMIT_MB = 250


def peak_rss_mb(pids: list[int]) -> float:
    """The largest peak resident set (VmHWM) among ``pids``, in MiB."""
    peaks = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=0.0)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_large_image_lifecycle(deploy, tap_for, backend) -> None:
    deployment = deploy(backend)
    tap = tap_for(deployment)
    client = api(deployment)
    size = IMAGE_MB * MiB
    image = client.create(name="large", foo="bar")
    image_id = image["id"]

    md5, sha512 = hashlib.md5(), hashlib.sha512()
    head = b""

    def body():
        nonlocal head
        for chunk in varied_chunks(size):
            md5.update(chunk)
            sha512.update(chunk)
            head = head or chunk[:4096]
            yield chunk

    response = client.upload(image_id, body())  # chunked transfer, as glanceclient sends it
    assert response.status_code == 204, response.text
    shown = client.wait_for(image_id, "active", timeout=120)
    assert (shown["size"], shown["checksum"]) == (size, md5.hexdigest())
    assert (shown["os_hash_algo"], shown["os_hash_value"]) == ("sha512", sha512.hexdigest())
    assert shown["stores"] == "fast" and shown["foo"] == "bar"

    download = client.download(image_id)
    assert download.status_code == 200
    assert download.headers["Content-MD5"] == md5.hexdigest()
    assert int(download.headers["Content-Length"]) == size
    got_md5, got_size = hashlib.md5(), 0
    for chunk in download.iter_content(MiB):
        got_md5.update(chunk)
        got_size += len(chunk)
    assert (got_size, got_md5.hexdigest()) == (size, md5.hexdigest())

    ranged = client.download(image_id, Range="bytes=100-4095")
    assert ranged.status_code == 206 and ranged.content == head[100:4096]
    assert ranged.headers["Content-Range"] == f"bytes 100-4095/{size}"

    api_peak = peak_rss_mb(deployment.pids("api"))
    worker_peak = peak_rss_mb(deployment.pids("worker"))
    print(f"peak RSS after a {IMAGE_MB} MiB upload and download: api {api_peak:.0f} MiB, worker {worker_peak:.0f} MiB")
    assert api_peak < RSS_LIMIT_MB and worker_peak < RSS_LIMIT_MB

    assert client.action(image_id, "deactivate").status_code == 204
    assert client.download(image_id).status_code == 403
    assert client.action(image_id, "reactivate").status_code == 204
    assert client.download(image_id, Range="bytes=0-0").status_code == 206

    assert client.delete(image_id).status_code == 204
    assert client.show(image_id).status_code == 404

    def jobs():
        return sorted((job.kind.value, job.status.value) for job in deployment.jobs_of(image_id))

    eventually(lambda: jobs() == [("delete", "succeeded"), ("upload", "succeeded")], what="the purge job")
    assert deployment.store_files() == [] and deployment.staging_files() == []

    tap.wait_until(lambda: {"image.delete": 1, "image.send": 3}.items() <= Counter(
        e["event_type"] for e in tap.events_for(image_id)).items())  # fmt: skip
    events = tap.events_for(image_id)
    sends = sorted((e["priority"], e["payload"]["bytes_sent"]) for e in events if e["event_type"] == "image.send")
    assert sends == [("INFO", 1), ("INFO", 3996), ("INFO", size)]  # each download, when it ended
    assert all(e["payload"]["receiver_tenant_id"] == e["payload"]["owner_id"] for e in events
               if e["event_type"] == "image.send")  # fmt: skip
    seen = [(e["event_type"], e["priority"], e["payload"]["status"]) for e in events if e["event_type"] != "image.send"]
    assert seen == [
        ("image.create", "INFO", "queued"),
        ("image.update", "INFO", "saving"),
        ("image.prepare", "INFO", "saving"),
        ("image.upload", "INFO", "active"),
        ("image.activate", "INFO", "active"),
        ("image.update", "INFO", "active"),
        ("image.update", "INFO", "deactivated"),
        ("image.update", "INFO", "active"),
        ("image.delete", "INFO", "pending_delete"),
    ]
    assert {key for key, inner in tap.messages if _for(inner, image_id)} == {"notifications.info"}
    assert len({e["message_id"] for e in events}) == len(seen) + len(sends)


def _for(inner, image_id):
    return isinstance(inner["payload"], dict) and inner["payload"].get("id") == image_id


@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_upload_returns_the_image_to_queued(deploy, tap_for, backend) -> None:
    deployment = deploy(backend)
    tap = tap_for(deployment)
    client = api(deployment)
    image_id = client.create()["id"]
    response = client.upload(image_id, image_bytes(5000), **{"x-openstack-image-size": "4000"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Size mismatch: expected 4000 bytes, got 5000 bytes")
    assert client.show(image_id).json()["status"] == "queued"
    assert deployment.staging_files() == [] and deployment.store_files() == []
    tap.wait_until(lambda: len(tap.events_for(image_id)) >= 5)
    seen = [(e["event_type"], e["priority"]) for e in tap.events_for(image_id)]
    assert seen == [("image.create", "INFO"), ("image.update", "INFO"), ("image.prepare", "INFO"),
                    ("image.upload", "ERROR"), ("image.update", "INFO")]  # fmt: skip
    error = tap.events_for(image_id)[3]
    assert isinstance(error["payload"], str) and "Size mismatch" in error["payload"]
    assert [key for key, inner in tap.messages if inner is error] == ["notifications.error"]
    retry = client.upload(image_id, image_bytes(4000))
    assert retry.status_code == 204
    assert client.show(image_id).json()["status"] == "active"


@pytest.mark.parametrize("backend", ["embedded", "postgres+rabbitmq"])
def test_delayed_delete_scrubber_and_restore(deploy, backend) -> None:
    deployment = deploy(backend, delayed_delete=True, wakeup_time=3600)
    client = api(deployment)
    data = image_bytes(200_000)
    image_id = client.create()["id"]
    assert client.upload(image_id, data).status_code == 204
    assert client.delete(image_id).status_code == 204
    assert client.show(image_id).status_code == 404
    assert len(deployment.store_files()) == 1  # kept until the scrubber runs

    restored = deployment.run("scrubber", "--restore", image_id)
    assert restored.returncode == 0, restored.stderr
    assert client.show(image_id).json()["status"] == "active"
    assert client.download(image_id).content == data
    again = deployment.run("scrubber", "--restore", image_id)
    assert again.returncode != 0 and "not pending_delete" in again.stderr

    assert client.delete(image_id).status_code == 204
    scrub = deployment.run("scrubber", "--once")
    assert scrub.returncode == 0, scrub.stderr
    eventually(lambda: deployment.store_files() == [], what="the purge after the scrubber's pass")
    with deployment.db.transaction(write=False) as uow:
        assert uow.images.get(image_id).status.value == "deleted"
