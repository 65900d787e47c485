"""The job dispatcher and the notification publisher: the fakes and the real adapters on every bus."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kombu
import pytest

from shared.domain.clock import utcnow
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.messaging.celery_app import make_celery, queue_name
from shared.messaging.connections import BrokerConnection, broker_connection
from shared.messaging.dispatch import CeleryDispatcher
from shared.messaging.notifications import KombuNotificationPublisher
from tests.fakes.messaging import RecordingDispatcher, RecordingPublisher

BUSES = ["fake", "embedded", "redis", "rabbitmq"]


def bus_url(kind: str, servers: Any) -> str:
    return {"embedded": "", "redis": servers.need("redis") if kind == "redis" else "",
            "rabbitmq": servers.need("rabbitmq") if kind == "rabbitmq" else ""}[kind]  # fmt: skip


def drain(connection: BrokerConnection, queue: kombu.Queue, expect: int, timeout: float = 5.0) -> list[kombu.Message]:
    got: list[kombu.Message] = []
    with kombu.Connection(connection.url, transport_options=connection.transport_options) as conn:
        with conn.Consumer([queue], callbacks=[lambda body, message: (got.append(message), message.ack())],
                           accept=["application/json", "application/cloudevents+json"]):  # fmt: skip
            deadline = time.monotonic() + timeout
            while len(got) < expect and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    pass
            if len(got) >= expect:  # anything more that arrives shortly is a duplicate
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    pass
    return got


@pytest.fixture(params=BUSES)
def job_bus(request, servers, make_settings) -> tuple[Any, Callable[[str], list[str]]]:
    """A dispatcher and a function returning the job ids that reached a queue (by plain queue name)."""
    if request.param == "fake":
        fake = RecordingDispatcher()
        yield fake, lambda queue, expect=1: fake.drain(queue)
        return
    settings = make_settings(transport_url=bus_url(request.param, servers),
                             jobs={"queue_prefix": f"t{uuid.uuid4().hex[:8]}-"})  # fmt: skip
    app = make_celery(settings)
    connection = broker_connection(settings.transport_url, settings.bus_dir)

    def arrived(queue: str, expect: int = 1) -> list[str]:
        name = queue_name(settings, queue)
        messages = drain(connection, kombu.Queue(name, kombu.Exchange(name, type="direct"), routing_key=name),
                         expect=expect, timeout=3 if expect else 0.5)  # fmt: skip
        found = []
        for message in messages:
            args, _kwargs, _embed = message.decode()
            found.append(args[0])
            assert message.headers["task"] in ("images.upload", "images.delete", "images.import")
        return found

    yield CeleryDispatcher(app, settings), arrived
    if request.param != "embedded":
        with app.connection_for_write() as conn:
            for queue in ("uploads", "imports", "deletes"):
                try:
                    conn.default_channel.queue_delete(queue_name(settings, queue))
                except Exception:
                    pass


def test_a_job_reaches_exactly_its_queue(job_bus) -> None:
    dispatcher, arrived = job_bus
    job = Job(kind=JobKind.DELETE, image_id=str(uuid.uuid4()), status=JobStatus.QUEUED, created_at=utcnow())
    dispatcher.dispatch(job)
    assert arrived("deletes") == [job.id]
    assert arrived("uploads", expect=0) == []
    assert arrived("imports", expect=0) == []


@pytest.fixture(params=BUSES)
def event_bus(request, servers, tmp_path: Path) -> tuple[Any, Callable[[int], list[tuple[str, dict, str]]]]:
    """A publisher and a function returning what a subscriber bound to ``notifications.*`` received."""
    if request.param == "fake":
        fake = RecordingPublisher()
        yield (
            fake,
            lambda count: [
                (key, body, kind) for (key, body), kind in zip(fake.published, fake.content_types, strict=True)
            ],
        )
        return
    connection = broker_connection(bus_url(request.param, servers), tmp_path / "bus")
    exchange_name = f"glance-test-{uuid.uuid4().hex[:8]}"
    exchange = kombu.Exchange(exchange_name, type="topic", durable=False)
    listener = kombu.Queue(f"listener-{uuid.uuid4().hex[:8]}", exchange, routing_key="notifications.*",
                           durable=False, auto_delete=True)  # fmt: skip
    with kombu.Connection(connection.url, transport_options=connection.transport_options) as conn:
        listener(conn.default_channel).declare()  # bound before anything is published
    publisher = KombuNotificationPublisher(connection, exchange_name, declare_queues=False)

    def received(count: int) -> list[tuple[str, dict, str]]:
        messages = drain(connection, listener, expect=count)
        for message in messages:
            assert message.properties.get("delivery_mode") == 2 or request.param != "rabbitmq"
        return [(message.delivery_info["routing_key"], json.loads(message.body), message.content_type)
                for message in messages]  # fmt: skip

    yield publisher, received
    publisher.close()


def test_events_arrive_in_order_with_their_routing_keys(event_bus) -> None:
    publisher, received = event_bus
    sent = [({"oslo.version": "2.0", "oslo.message": json.dumps({"n": n})}, "notifications.info") for n in range(5)]
    sent.append(({"oslo.version": "2.0", "oslo.message": json.dumps({"n": "error"})}, "notifications.error"))
    for body, key in sent:
        publisher.publish(body, key)
    assert received(len(sent)) == [(key, body, "application/json") for body, key in sent]


def test_a_body_keeps_the_content_type_it_was_published_with(event_bus) -> None:
    publisher, received = event_bus
    event = {"specversion": "1.0", "id": str(uuid.uuid4()), "type": "org.openstack.image.create", "data": {"é": 1}}
    publisher.publish(event, "notifications.info", content_type="application/cloudevents+json")
    assert received(1) == [("notifications.info", event, "application/cloudevents+json")]
