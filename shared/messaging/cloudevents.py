"""CloudEvents 1.0 in structured JSON mode: the second event format, for consumers outside OpenStack."""

from __future__ import annotations

from typing import Any

from shared.persistence.outbox import OutboxMessage

CONTENT_TYPE = "application/cloudevents+json"


def cloudevent(message: OutboxMessage, publisher_id: str) -> dict[str, Any]:
    """One event: ``id`` is the oslo ``message_id`` (so duplicates drop by the same key in both
    formats), ``type`` is ``org.openstack.<event_type>``, ``subject`` the image id, ``time`` RFC 3339.
    ``priority`` (an extension attribute) keeps oslo's INFO/ERROR; an ERROR's data is its message.
    """
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": message.message_id,
        "type": f"org.openstack.{message.event_type}",
        "source": f"urn:openstack:{publisher_id}",
        "time": message.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "datacontenttype": "application/json" if isinstance(message.payload, dict) else "text/plain",
        "priority": message.priority.lower(),
        "data": message.payload,
    }
    if message.image_id is not None:
        event["subject"] = message.image_id
    return event
