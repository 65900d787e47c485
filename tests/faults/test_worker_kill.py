"""SIGKILL a worker in the middle of an upload job: the job still ends, and nothing is left behind."""

from __future__ import annotations

import hashlib
import shutil
import threading
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import BACKENDS, api
from tests.e2e.deployment import eventually, varied_chunks
from tests.helpers import image_bytes

MiB = 1024 * 1024
SIZE = 768 * MiB


@pytest.fixture
def other_filesystem(tmp_path: Path):
    """A staging directory on another filesystem than the stores, so the worker copies (and can be caught)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a filesystem other than the test's temporary directory")
    staging = shm / f"glint-staging-{uuid.uuid4().hex[:8]}"
    yield staging
    shutil.rmtree(staging, ignore_errors=True)


def start_upload(client, image_id):
    """PUT the image from a thread (PUT waits for the job to end); returns the thread and its result."""
    md5 = hashlib.md5()
    result = {}

    def body():
        for chunk in varied_chunks(SIZE, chunk=4 * MiB):
            md5.update(chunk)
            yield chunk

    def put():
        result["response"] = client.upload(image_id, body())

    thread = threading.Thread(target=put)
    thread.start()
    return thread, result, md5


def kill_worker_mid_job(deployment, image_id):
    def running():
        return any(job.status.value == "running" for job in deployment.jobs_of(image_id))

    eventually(running, timeout=120, what="the worker taking the upload job")
    deployment.kill("worker")
    [job] = deployment.jobs_of(image_id)
    assert job.status.value == "running", "the job ended before the worker could be killed"


@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_worker_job_completes_after_the_reaper(deploy, other_filesystem, backend) -> None:
    deployment = deploy(
        backend,
        os_glance_staging_store={"filesystem_store_datadir": str(other_filesystem)},
        wakeup_time=1,
        jobs={"staging_grace": 3},
    )
    client = api(deployment)
    image_id = client.create()["id"]
    thread, result, md5 = start_upload(client, image_id)
    kill_worker_mid_job(deployment, image_id)
    assert client.show(image_id).json()["status"] == "saving"

    deployment.start("worker")  # the running scrubber sees the stale heartbeat and re-sends the job
    thread.join(timeout=180)
    assert not thread.is_alive(), "the upload request never ended: the job was not taken up again"
    assert result["response"].status_code == 204, result["response"].text
    shown = client.show(image_id).json()
    assert (shown["status"], shown["size"], shown["checksum"]) == ("active", SIZE, md5.hexdigest())
    [job] = deployment.jobs_of(image_id)
    assert (job.status.value, job.attempts) == ("succeeded", 2)
    assert [path.name for path in deployment.store_files()] == [f"{image_id}.{job.id}"]
    assert list(other_filesystem.iterdir()) == []  # the staged data is removed once stored

    def partial_copies():
        return [p.name for p in deployment.settings.store_dir("fast").iterdir() if p.name.endswith(".part")]

    eventually(lambda: partial_copies() == [], what="the scrubber removing the killed worker's partial copy")


def test_killed_worker_job_fails_cleanly_after_max_attempts(deploy, other_filesystem) -> None:
    deployment = deploy(
        "embedded",
        os_glance_staging_store={"filesystem_store_datadir": str(other_filesystem)},
        jobs={"max_attempts": 1},
    )
    client = api(deployment)
    image_id = client.create()["id"]
    thread, result, _ = start_upload(client, image_id)
    kill_worker_mid_job(deployment, image_id)
    thread.join(timeout=120)
    assert not thread.is_alive(), "the upload request never ended: the job was not failed"
    assert result["response"].status_code == 503
    assert client.show(image_id).json()["status"] == "queued"
    assert deployment.store_files() == [] and list(other_filesystem.iterdir()) == []
    deployment.start("worker")
    assert client.upload(image_id, image_bytes(1000)).status_code == 204  # the image can be uploaded again
    assert client.show(image_id).json()["status"] == "active"
