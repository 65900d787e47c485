"""A worker SIGKILLed at each step of an upload, an import and a delete (its crash points): the job ends
after a plain worker is back, and the image, its task and the stores agree.

Each round arms one point (``GLINT_TEST_CRASH_AT``), runs the operation that reaches it, waits for the worker
to die there, starts an unarmed worker and waits for the operation to end. ``GLINT_FAULT_ROUNDS`` sets the
number of rounds (default: each point once); the deployment is checked for consistency after all of them.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading

import pytest
from sqlalchemy import select

from shared.domain.jobs import JobKind, JobStatus
from shared.persistence.tables import images
from tests.e2e.conftest import BACKENDS, api
from tests.e2e.deployment import Api, Deployment, eventually
from tests.faults.consistency import assert_consistent
from tests.helpers import image_bytes

POINTS = ["upload.stored", "import.begun", "import.staged", "import.stored", "import.recorded",
          "delete.purged_one", "delete.purged"]  # fmt: skip
ROUNDS = int(os.environ.get("GLINT_FAULT_ROUNDS", len(POINTS)))
STORES = ["fast", "cheap"]
KIND = {"upload": JobKind.UPLOAD, "import": JobKind.IMPORT, "delete": JobKind.DELETE}


def stage_and_import(client: Api, image_id: str, data: bytes) -> None:
    staged = client.http.put(f"{client.url}/v2/images/{image_id}/stage", data=data,
                             headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert staged.status_code == 204, staged.text
    started = client.http.post(f"{client.url}/v2/images/{image_id}/import",
                               json={"method": {"name": "glance-direct"}, "stores": STORES})  # fmt: skip
    assert started.status_code == 202, started.text


def image_status(deployment: Deployment, image_id: str) -> str:
    with deployment.db.transaction(write=False) as uow:
        return uow.conn.execute(select(images.c.status).where(images.c.id == image_id)).scalar_one()


def crash_round(deployment: Deployment, client: Api, point: str, n: int) -> None:
    """One operation, its worker killed at ``point``, then finished by a fresh worker."""
    operation = point.split(".")[0]
    data = image_bytes(2 * 1024 * 1024 + n)
    deployment.start("worker", env={"GLINT_TEST_CRASH_AT": point})
    image_id = client.create(name=f"{point} #{n}")["id"]
    upload: dict = {}
    if operation == "upload":
        thread = threading.Thread(target=lambda: upload.setdefault("response", client.upload(image_id, data)))
        thread.start()
    else:
        stage_and_import(client, image_id, data)
        if operation == "delete":  # the armed worker imports; it dies purging
            eventually(lambda: image_status(deployment, image_id) == "active", 60, f"round {n}: the import")
            assert client.delete(image_id).status_code == 204
    assert deployment.wait_exit("worker") == -signal.SIGKILL, f"round {n}: the worker did not die at {point}"
    deployment.start("worker")

    if operation == "upload":
        thread.join(timeout=120)
        assert upload["response"].status_code == 204, f"{point}: {upload['response'].text}"

    def jobs() -> list:
        return [job for job in deployment.jobs_of(image_id) if job.kind is KIND[operation]]

    eventually(lambda: all(job.is_terminal for job in jobs()), 120, f"round {n} ({point}): the job to end")
    assert [(job.status, job.attempts) for job in jobs()] == [(JobStatus.SUCCEEDED, 2)], point
    if operation in ("upload", "import"):
        assert image_status(deployment, image_id) == "active", point
        shown = client.show(image_id).json()
        assert (shown["size"], shown["checksum"]) == (len(data), hashlib.md5(data).hexdigest()), point
        assert client.download(image_id).content == data, point
    else:
        assert image_status(deployment, image_id) == "deleted", point
    if operation == "import":
        [task] = client.http.get(f"{client.url}/v2/images/{image_id}/tasks").json()["tasks"]
        assert task["status"] == "success", (point, task)
        assert sorted(shown["stores"].split(",")) == sorted(STORES), point
        assert not {"os_glance_import_task", "os_glance_failed_import"} & {k for k, v in shown.items() if v}, point
    deployment.kill("worker")  # idle now; the next round starts its own armed worker


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_worker_killed_at_every_step_leaves_nothing_behind(deploy, backend) -> None:
    deployment = deploy(backend, start=("api", "notifier", "scrubber"), delayed_delete=True, scrub_time=0,
                        wakeup_time=1, jobs={"staging_grace": 3})  # fmt: skip
    client = api(deployment)
    for n in range(ROUNDS):
        crash_round(deployment, client, POINTS[n % len(POINTS)], n)
    statuses = assert_consistent(deployment)
    assert list(statuses.values()).count("active") == sum(not POINTS[n % len(POINTS)].startswith("delete")
                                                            for n in range(ROUNDS))  # fmt: skip
