"""oslo.messaging's notification wire format (``messagingv2``), built from an outbox row."""

from __future__ import annotations

import json
import uuid
from typing import Any

from shared.domain.clock import oslo_timestamp
from shared.persistence.outbox import OutboxMessage


def notification(message: OutboxMessage, publisher_id: str) -> dict[str, Any]:
    """The inner message, keys in oslo's order. ``_unique_id`` derives from the stable ``message_id``."""
    return {
        "message_id": message.message_id,
        "publisher_id": publisher_id,
        "event_type": message.event_type,
        "priority": message.priority,
        "payload": message.payload,
        "timestamp": oslo_timestamp(message.created_at),
        "_unique_id": uuid.UUID(message.message_id).hex,
    }


def envelope(inner: dict[str, Any]) -> dict[str, str]:
    """The version 2.0 envelope: the inner message as a JSON string."""
    return {"oslo.version": "2.0", "oslo.message": json.dumps(inner)}


def routing_key(topic: str, priority: str) -> str:
    return f"{topic}.{priority.lower()}"


def is_disabled(event_type: str, disabled: list[str]) -> bool:
    """Glance's ``disabled_notifications``: an exact type, or its group (the text before the first dot)."""
    return event_type in disabled or event_type.split(".", 1)[0] in disabled
