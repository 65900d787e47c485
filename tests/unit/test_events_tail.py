"""``glint events tail``'s reading of the three wire formats, and its filters."""

from __future__ import annotations

import json
import uuid

from services.cli.events import from_wire, matcher

IMAGE = str(uuid.uuid4())
INNER = {"message_id": "m1", "publisher_id": "image.localhost", "event_type": "image.update", "priority": "INFO",
         "payload": {"id": IMAGE, "name": "n", "status": "active"}, "timestamp": "2026-11-22 07:00:00.5",
         "_unique_id": "u"}  # fmt: skip


def test_every_wire_format_reads_the_same() -> None:
    v2 = from_wire({"oslo.version": "2.0", "oslo.message": json.dumps(INNER)})
    v1 = from_wire(INNER)
    cloud = from_wire(json.dumps({"specversion": "1.0", "id": "m1", "type": "org.openstack.image.update",
                                  "source": "urn:openstack:image.localhost", "subject": IMAGE,
                                  "time": "2026-11-22T07:00:00.500000Z", "priority": "info",
                                  "data": INNER["payload"]}))  # fmt: skip
    assert v1 == v2
    assert (cloud.message_id, cloud.event_type, cloud.priority, cloud.payload) == ("m1", "image.update", "INFO",
                                                                                   INNER["payload"])  # fmt: skip
    assert v2.image_id == IMAGE and v2.line().split()[2:] == ["INFO", "image.update", IMAGE, "status=active", "name=n"]
    assert from_wire({"something": "else"}) is None


def test_filters_by_type_group_glob_and_image() -> None:
    event = from_wire(INNER)
    text = f"Failed to upload image data for image {IMAGE} due to internal error: full"
    error = from_wire({**INNER, "priority": "ERROR", "event_type": "image.upload", "payload": text})
    task = from_wire({**INNER, "event_type": "task.success", "payload": {"id": "t1", "type": "api_image_import"}})
    assert error.image_id == IMAGE and task.image_id is None
    assert [matcher(types, None)(event) for types in [(), ("image.update",), ("image",), ("image.*",), ("task",),
                                                       ("image.upload", "task")]] == [True, True, True, True, False,
                                                                                      False]  # fmt: skip
    assert matcher(("task",), None)(task) and not matcher((), IMAGE)(task)
    assert matcher(("image.upload",), IMAGE)(error) and not matcher((), str(uuid.uuid4()))(event)
