"""Notifiers that run side by side, and one killed with a backlog: every event, once, in order per image."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
from sqlalchemy import select

from shared.persistence.tables import outbox
from tests.e2e.conftest import BACKENDS, api
from tests.e2e.deployment import eventually

IMAGES, TAGS = 100, 9  # 100 x (create + 9 tag changes) = 1,000 events


def make_backlog(deployment) -> None:
    client = api(deployment)
    for n in range(IMAGES):
        image_id = client.create(name=f"backlog-{n}")["id"]
        for t in range(TAGS):
            assert client.http.put(f"{client.url}/v2/images/{image_id}/tags/t{t}").status_code == 204


def written(deployment) -> dict[str, list[str]]:
    """Each image's events as the outbox holds them (commit order): image id -> message ids."""
    with deployment.db.transaction(write=False) as uow:
        rows = uow.conn.execute(select(outbox.c.image_id, outbox.c.message_id).order_by(outbox.c.id)).all()
    per_image: dict[str, list[str]] = defaultdict(list)
    for image_id, message_id in rows:
        per_image[image_id].append(message_id)
    return per_image


def received(tap) -> dict[str, list[str]]:
    per_image: dict[str, list[str]] = defaultdict(list)
    for _, inner in tap.messages:
        per_image[inner["payload"]["id"]].append(inner["message_id"])
    return per_image


def first_seen(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_notifiers_publish_every_event_once_in_order(deploy, tap_for, backend) -> None:
    deployment = deploy(backend, start=("api",))
    tap = tap_for(deployment)
    make_backlog(deployment)
    deployment.spawn("notifier", "notifier")
    deployment.spawn("notifier-2", "notifier")
    expected = written(deployment)
    assert sum(map(len, expected.values())) == IMAGES * (1 + TAGS)
    tap.wait_until(lambda: len(tap.messages) >= IMAGES * (1 + TAGS), timeout=60)
    time.sleep(1)  # anything published twice would arrive now
    assert received(tap) == expected  # each event exactly once, each image's in commit order
    logs = "".join((deployment.logs / f"{name}.log").read_text() for name in ("notifier", "notifier-2"))
    assert logs.count("relay_lease_taken") == 1 and logs.count("relay_lease_standby") == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_notifier_killed_with_a_backlog_loses_nothing(deploy, tap_for, backend) -> None:
    deployment = deploy(backend, start=("api",), oslo_messaging_notifications={"batch_size": 50, "lease_seconds": 2})
    tap = tap_for(deployment)
    make_backlog(deployment)
    expected = written(deployment)
    deployment.spawn("notifier", "notifier")
    eventually(lambda: len(tap.messages) >= 100, 30, "the notifier to get going")
    deployment.kill("notifier")  # SIGKILL mid-backlog: no clean stop, the lease is left to run out
    assert len(tap.messages) < IMAGES * (1 + TAGS), "the backlog was gone before the kill"
    deployment.spawn("notifier", "notifier")
    tap.wait_until(lambda: sum(map(len, (first_seen(i) for i in received(tap).values()))) >= 1000, timeout=60)
    time.sleep(1)
    got = received(tap)
    assert {image: first_seen(ids) for image, ids in got.items()} == expected  # all of them, each image in order
    duplicates = sum(len(ids) - len(set(ids)) for ids in got.values())
    assert duplicates <= 50  # at most the batch in flight at the kill, published again with the same ids
