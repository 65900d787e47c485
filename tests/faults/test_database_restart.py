"""PostgreSQL restarted under load: 503 (never 500) while it is away, recovery by itself, nothing half-written."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import requests

from tests.e2e.conftest import api
from tests.e2e.deployment import eventually
from tests.faults.consistency import assert_consistent
from tests.faults.private_postgres import private_postgres
from tests.helpers import image_bytes


def load(deployment, stop: threading.Event, statuses: Counter, lock: threading.Lock) -> None:
    client = api(deployment)
    image_id = None
    while not stop.is_set():
        for op in ("create", "upload", "list"):
            try:
                if op == "create":
                    response = client.http.post(f"{client.url}/v2/images", timeout=10,
                                                json={"disk_format": "raw", "container_format": "bare"})  # fmt: skip
                    image_id = response.json()["id"] if response.status_code == 201 else None
                elif op == "upload" and image_id:
                    response = client.upload(image_id, image_bytes(20_000))
                else:
                    op = "list"
                    response = client.http.get(f"{client.url}/v2/images?limit=5", timeout=10)
            except requests.RequestException as exc:
                with lock:
                    statuses[(op, type(exc).__name__)] += 1
                continue
            with lock:
                statuses[(op, response.status_code)] += 1


@pytest.mark.parametrize("bus", ["redis", "rabbitmq"])
def test_postgres_restart_under_load(deploy, bus: str) -> None:
    with private_postgres() as pg:
        deployment = deploy(f"postgres+{bus}", database={"connection": pg.url}, jobs={"staging_grace": 2},
                            api={"upload_completion_wait": 30})  # fmt: skip
        statuses: Counter = Counter()
        lock, stop = threading.Lock(), threading.Event()
        clients = [threading.Thread(target=load, args=(deployment, stop, statuses, lock)) for _ in range(4)]
        for thread in clients:
            thread.start()
        time.sleep(3)
        pg.stop()
        down = requests.get(f"{deployment.url}/v2/images", headers=api(deployment).http.headers, timeout=10)
        time.sleep(3)
        pg.start()
        eventually(lambda: requests.get(f"{deployment.url}/v2/images", headers=api(deployment).http.headers,
                                        timeout=10).status_code == 200, 30, "the API to recover by itself")  # fmt: skip
        time.sleep(3)
        stop.set()
        for thread in clients:
            thread.join()
        print(f"during a PostgreSQL restart: {sorted(statuses.items(), key=str)}")
        assert down.status_code == 503 and down.json()["title"] == "Service Unavailable"
        assert not [key for key in statuses if isinstance(key[1], int) and key[1] >= 500 and key[1] != 503]
        assert statuses[("create", 503)] + statuses[("list", 503)] > 0  # the outage was seen
        assert statuses[("upload", 204)] > 0 and statuses[("create", 201)] > 0  # and work went on around it

        rows = assert_consistent(deployment, timeout=90)
        assert "active" in rows.values()
