"""The transactional outbox: events written with the change that caused them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from shared.domain.events import Event
from shared.persistence.tables import outbox

_INSERT = insert(outbox).inline()  # built once; inline: no RETURNING of the new id, which nothing reads


@dataclass(frozen=True)
class OutboxMessage:
    """An event as stored, ready to be relayed."""

    id: int
    message_id: str
    event_type: str
    priority: str
    payload: dict[str, Any] | str
    image_id: str | None
    request_id: str | None
    created_at: datetime


class OutboxRepository:
    """Outbox rows inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_all(self, events: Sequence[Event], *, request_id: str | None) -> None:
        rows = [
            {
                "message_id": event.message_id,
                "event_type": event.event_type,
                "priority": event.priority,
                "payload": event.payload,
                "image_id": event.image_id,
                "request_id": request_id,
                "created_at": event.occurred_at,
            }
            for event in events
        ]
        self.conn.execute(_INSERT, rows[0] if len(rows) == 1 else rows)  # most operations record one event

    def unpublished(self, limit: int) -> list[OutboxMessage]:
        """The oldest events not yet relayed, in commit order per image."""
        stmt = select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(limit)
        return [
            OutboxMessage(**{key: row[key] for key in OutboxMessage.__dataclass_fields__})
            for row in self.conn.execute(stmt).mappings()
        ]

    def after(self, last_id: int, limit: int) -> list[OutboxMessage]:
        """Events written after row ``last_id``, relayed or not, oldest first (for following the stream)."""
        stmt = select(outbox).where(outbox.c.id > last_id).order_by(outbox.c.id).limit(limit)
        return [
            OutboxMessage(**{key: row[key] for key in OutboxMessage.__dataclass_fields__})
            for row in self.conn.execute(stmt).mappings()
        ]

    def last_id(self) -> int:
        """The newest row's id (0 when empty)."""
        return self.conn.execute(select(func.max(outbox.c.id))).scalar() or 0

    def mark_published(self, ids: Sequence[int], now: datetime) -> None:
        if ids:
            self.conn.execute(update(outbox).where(outbox.c.id.in_(list(ids))).values(published_at=now))

    def prune(self, published_before: datetime) -> int:
        """Forget events relayed before ``published_before``."""
        result = self.conn.execute(delete(outbox).where(outbox.c.published_at < published_before))
        return result.rowcount
