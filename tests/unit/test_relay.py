"""The notifier's relay: oslo envelope, order, priorities, disabled notifications, bus failures."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

import pytest

from shared.domain.clock import utcnow
from shared.domain.events import image_upload_failed
from shared.handlers import images
from shared.handlers.relay import relay_once
from tests.conftest import member
from tests.fakes.messaging import RecordingPublisher
from tests.helpers import outbox_events

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$")


def make_events(services, count=3):
    image = images.create_image(services, member(), {"name": "a"})
    for i in range(count - 1):
        images.add_tag(services, member(), image.id, f"t{i}")
    return image


def test_envelope_and_order(services) -> None:
    image = make_events(services)
    publisher = RecordingPublisher()
    assert relay_once(services, publisher) == 3
    assert outbox_events(services) == []  # all marked sent
    keys = [key for key, _ in publisher.published]
    assert keys == ["notifications.info"] * 3
    inner = [json.loads(body["oslo.message"]) for _, body in publisher.published]
    assert all(body["oslo.version"] == "2.0" for _, body in publisher.published)
    assert [m["event_type"] for m in inner] == ["image.create", "image.update", "image.update"]
    assert [m["payload"]["tags"] for m in inner] == [[], ["t0"], ["t0", "t1"]]
    first = inner[0]
    assert list(first) == ["message_id", "publisher_id", "event_type", "priority", "payload", "timestamp",
                           "_unique_id"]  # fmt: skip
    assert first["publisher_id"] == "image.localhost" and first["priority"] == "INFO"
    assert TIMESTAMP.match(first["timestamp"])
    assert uuid.UUID(first["message_id"]).hex == first["_unique_id"]
    assert set(first["payload"]) == {
        "id", "name", "status", "created_at", "updated_at", "min_disk", "min_ram", "protected", "checksum",
        "owner", "disk_format", "container_format", "size", "virtual_size", "is_public", "visibility",
        "properties", "tags", "deleted", "deleted_at",
    }  # fmt: skip
    assert first["payload"]["id"] == image.id
    assert relay_once(services, publisher) == 0


def test_bus_failure_keeps_order_and_rows(services) -> None:
    make_events(services, count=4)
    publisher = RecordingPublisher()
    publisher.fail_after = 2
    with pytest.raises(ConnectionError):
        relay_once(services, publisher)
    assert len(outbox_events(services)) == 2
    publisher.fail_after = None
    relay_once(services, publisher)
    types = [json.loads(body["oslo.message"])["payload"]["tags"] for _, body in publisher.published]
    assert types == [[], ["t0"], ["t0", "t1"], ["t0", "t1", "t2"]]


def test_disabled_notifications_and_drivers(make_settings, services) -> None:
    make_events(services)
    services.settings = make_settings(disabled_notifications=["image.update"])
    publisher = RecordingPublisher()
    assert relay_once(services, publisher) == 3
    assert [json.loads(b["oslo.message"])["event_type"] for _, b in publisher.published] == ["image.create"]

    make_events(services)
    services.settings = make_settings(disabled_notifications=["image"])  # a group: everything before the dot
    assert relay_once(services, publisher) == 3 and len(publisher.published) == 1

    make_events(services, count=1)
    services.settings = make_settings(oslo_messaging_notifications={"driver": "messaging"})
    relay_once(services, publisher)
    assert publisher.published[-1][1]["event_type"] == "image.create"  # v1: no envelope


def test_cloudevents_format(make_settings, services) -> None:
    image = make_events(services, count=2)
    services.settings = make_settings(oslo_messaging_notifications={"format": "cloudevents"})
    with services.db.transaction() as uow:
        uow.record(image_upload_failed(image.id, utcnow(), "Image storage media is full"))
    publisher = RecordingPublisher()
    assert relay_once(services, publisher) == 3
    assert publisher.content_types == ["application/cloudevents+json"] * 3
    assert [key for key, _ in publisher.published] == ["notifications.info"] * 2 + ["notifications.error"]
    created, _, failed = (body for _, body in publisher.published)
    assert set(created) == {"specversion", "id", "type", "source", "subject", "time", "datacontenttype",
                            "priority", "data"}  # fmt: skip
    assert (created["specversion"], created["type"], created["source"], created["subject"]) == (
        "1.0", "org.openstack.image.create", "urn:openstack:image.localhost", image.id
    )  # fmt: skip
    assert uuid.UUID(created["id"]) and created["data"]["id"] == image.id and created["priority"] == "info"
    assert datetime.strptime(created["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert (failed["type"], failed["priority"], failed["datacontenttype"]) == ("org.openstack.image.upload", "error",
                                                                               "text/plain")  # fmt: skip
    assert failed["data"].endswith("due to internal error: Image storage media is full")
