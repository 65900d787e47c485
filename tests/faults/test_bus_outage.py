"""The notification bus down while images change: the API goes on, the events wait in the outbox, and once
the bus is back every one of them arrives, each image's in commit order.

The bus is a broker of the test's own (tests/faults/private_brokers.py), killed before the first event and
started again after the changes; a consumer reads Glance's ``notifications.info`` queue, which the notifier
declares (``declare_queues = "true"``) so that events wait for a listener.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import kombu
import pytest
from sqlalchemy import func, select

from shared.persistence.tables import outbox
from tests.e2e.conftest import api
from tests.e2e.deployment import eventually
from tests.faults.test_notifiers import first_seen, written

IMAGES, TAGS = 20, 4


def unsent(deployment) -> int:
    with deployment.db.transaction(write=False) as uow:
        return uow.conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar()


def drain(url: str, count: int, timeout: float = 60) -> dict[str, list[str]]:
    """Read ``notifications.info`` until ``count`` messages came: image id -> message ids, in arrival order."""
    per_image: dict[str, list[str]] = defaultdict(list)
    exchange = kombu.Exchange("glance", type="topic", durable=False)
    queue = kombu.Queue("notifications.info", exchange, routing_key="notifications.info", durable=False)
    deadline = time.monotonic() + timeout
    with kombu.Connection(url) as connection:
        with connection.SimpleQueue(queue) as simple:
            while sum(map(len, per_image.values())) < count and time.monotonic() < deadline:
                try:
                    message = simple.get(timeout=1)
                except simple.Empty:
                    continue
                body = message.payload
                inner = json.loads(body["oslo.message"]) if "oslo.message" in body else body
                per_image[inner["payload"]["id"]].append(inner["message_id"])
                message.ack()
    return per_image


@pytest.mark.parametrize("bus", ["redis", "rabbitmq"])
def test_events_written_while_the_bus_is_down_arrive_in_order(deploy, private_broker, bus: str) -> None:
    broker = private_broker
    deployment = deploy(f"postgres+{bus}", start=("api", "notifier"), transport_url=broker.url,
                        oslo_messaging_notifications={"declare_queues": "true"})  # fmt: skip
    broker.kill()
    client = api(deployment)
    for n in range(IMAGES):
        image_id = client.create(name=f"outage-{n}")["id"]
        for t in range(TAGS):
            assert client.http.put(f"{client.url}/v2/images/{image_id}/tags/t{t}").status_code == 204
        if n % 2:
            assert client.delete(image_id).status_code == 204
    expected = written(deployment)
    total = sum(map(len, expected.values()))
    time.sleep(3)  # the notifier keeps retrying meanwhile
    assert deployment.processes["notifier"].poll() is None, deployment.log("notifier")
    assert unsent(deployment) == total  # nothing marked sent without the broker's confirm
    broker.start()
    got = drain(broker.url, total)
    assert {image: first_seen(ids) for image, ids in got.items()} == expected  # every event, each image in order
    eventually(lambda: unsent(deployment) == 0, 30, "every outbox row marked sent")
