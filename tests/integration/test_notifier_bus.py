"""The notifier relaying the outbox to a real bus, as an OpenStack consumer would receive it."""

from __future__ import annotations

import json
import uuid

import kombu
import pytest

from services.notifier.main import make_publisher
from shared.handlers import images
from shared.handlers.relay import relay_once
from shared.messaging.connections import broker_connection
from tests.conftest import member


@pytest.mark.parametrize("bus", ["embedded", "redis", "rabbitmq"])
def test_relay_to_bus_with_declared_queues(bus, servers, make_settings, services) -> None:
    """With queues declared, messages wait in ``<topic>.<priority>`` for a listener that comes later."""
    topic = f"glint-test-{uuid.uuid4().hex[:8]}"
    exchange = f"glance-test-{uuid.uuid4().hex[:8]}"
    services.settings = make_settings(
        transport_url="" if bus == "embedded" else servers.need(bus),
        control_exchange=exchange,
        oslo_messaging_notifications={"topics": topic, "declare_queues": "true"},
    )
    image = images.create_image(services, member(), {"name": "evented"})
    images.add_tag(services, member(), image.id, "t")
    publisher = make_publisher(services.settings)
    try:
        assert relay_once(services, publisher) == 2
    finally:
        publisher.close()

    connection = broker_connection(services.settings.events_url, services.settings.bus_dir)
    queue = kombu.Queue(f"{topic}.info", kombu.Exchange(exchange, type="topic", durable=False),
                        routing_key=f"{topic}.info", durable=False)  # fmt: skip
    received = []
    with kombu.Connection(connection.url, transport_options=connection.transport_options) as conn:
        simple = conn.SimpleQueue(queue)
        for _ in range(2):
            message = simple.get(timeout=5)
            received.append(message)
            message.ack()
        simple.close()
        if bus != "embedded":
            channel = conn.default_channel
            queue(channel).delete()
            kombu.Exchange(exchange, type="topic")(channel).delete()
    inner = [json.loads(message.payload["oslo.message"]) for message in received]
    assert [message.payload["oslo.version"] for message in received] == ["2.0", "2.0"]
    assert [m["event_type"] for m in inner] == ["image.create", "image.update"]
    assert [m["payload"]["tags"] for m in inner] == [[], ["t"]]
    assert all(m["publisher_id"] == "image.localhost" and m["priority"] == "INFO" for m in inner)
    assert received[0].content_type == "application/json"
