"""Eight clients creating, patching, uploading, sharing and deleting at once: no 5xx, and at the end the
database, the store and the event stream agree. ``GLINT_SOAK_SECONDS`` sets the length (default 15)."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter

import pytest

from tests.e2e.conftest import api
from tests.e2e.deployment import eventually
from tests.faults.consistency import assert_consistent
from tests.helpers import image_bytes

SECONDS = float(os.environ.get("GLINT_SOAK_SECONDS", "15"))
CLIENTS = 8


def client_loop(deployment, n: int, deadline: float, statuses: Counter, lock: threading.Lock) -> None:
    client = api(deployment, project=f"soak-{n % 4}")  # two clients per project: they meet on shared rows
    rng = random.Random(n)
    mine: list[str] = []
    while time.monotonic() < deadline:
        op = rng.choice(["create", "create", "patch", "upload", "upload", "delete", "list", "show", "tag"])
        target = rng.choice(mine) if mine else None
        http, url = client.http, f"{client.url}/v2/images"
        if op == "create" or target is None:
            op = "create"
            response = http.post(url, json={"name": f"soak-{n}", "disk_format": "raw", "container_format": "bare"})
            if response.status_code == 201:
                mine.append(response.json()["id"])
        elif op == "patch":
            response = client.patch(
                target, [{"op": "add", "path": f"/k{rng.randrange(5)}", "value": str(rng.random())}]
            )
        elif op == "upload":
            response = http.put(f"{url}/{target}/file", data=image_bytes(rng.randrange(1, 65536)),
                                headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        elif op == "delete":
            response = http.delete(f"{url}/{target}")
            mine.remove(target)
        elif op == "tag":
            response = http.put(f"{url}/{target}/tags/t{rng.randrange(3)}")
        elif op == "show":
            response = http.get(f"{url}/{target}")
        else:
            response = http.get(f"{url}?limit=20")
        with lock:
            statuses[(op, response.status_code)] += 1


@pytest.mark.parametrize("backend", ["embedded", "postgres+rabbitmq"])
def test_eight_clients_at_once_leave_everything_consistent(deploy, tap_for, backend) -> None:
    deployment = deploy(backend)
    tap = tap_for(deployment)
    statuses: Counter = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=client_loop, args=(deployment, n, deadline, statuses, lock))
               for n in range(CLIENTS)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"soak on {backend}: {sum(statuses.values())} requests in {SECONDS:.0f}s: {sorted(statuses.items())}")
    assert not [key for key in statuses if key[1] >= 500]
    assert sum(count for (op, code), count in statuses.items() if op == "upload" and code == 204) > 0

    rows = assert_consistent(deployment)

    def last_status() -> dict[str, str]:
        latest: dict[str, str] = {}
        for event in tap.events_for(*rows):
            payload = event["payload"]
            if event["event_type"].startswith("image.") and isinstance(payload, dict) and "status" in payload:
                latest[payload["id"]] = payload["status"]
        return latest

    def agrees() -> bool:  # a deleted image's last event is image.delete: pending_delete, or deleted if it had no data
        got = last_status()
        return got.keys() == rows.keys() and all(
            got[i] == status or (status == "deleted" and got[i] == "pending_delete") for i, status in rows.items()
        )

    eventually(agrees, 30, "the event stream to end where the database is")
