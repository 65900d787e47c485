"""``glint events tail``: the live event stream, for operators and for debugging.

On RabbitMQ and Redis it subscribes to the events exchange with a queue of
its own (exclusive, deleted when it stops), so it shows what consumers get.
On the embedded bus a subscriber's queue files would outlive a tail that is
killed, so there it follows the outbox, which holds the same events in the
same order.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kombu

from shared.config.settings import Settings
from shared.domain.clock import oslo_timestamp
from shared.messaging.cloudevents import CONTENT_TYPE
from shared.messaging.connections import broker_connection
from shared.persistence.database import Database
from shared.persistence.outbox import OutboxMessage


@dataclass(frozen=True)
class SeenEvent:
    """One event as the tail shows it, whatever format it travelled in."""

    message_id: str
    event_type: str
    priority: str
    time: str
    payload: Any

    @property
    def image_id(self) -> str | None:
        """The image the event is about (a task event names only its task: None)."""
        if isinstance(self.payload, dict):
            if self.event_type.startswith("task."):
                return None
            return self.payload.get("image_id") or self.payload.get("id")
        return next((word for word in str(self.payload).split() if len(word) == 36 and word.count("-") == 4), None)

    def line(self) -> str:
        """``time priority event_type image_id detail`` on one line."""
        payload = self.payload
        if not isinstance(payload, dict):
            detail = str(payload)
        elif "bytes_sent" in payload:
            detail = f"bytes_sent={payload['bytes_sent']} to {payload.get('receiver_tenant_id')}"
        elif "member_id" in payload:
            detail = f"member={payload['member_id']} status={payload['status']}"
        else:
            detail = f"status={payload.get('status')}" + (f" name={payload['name']}" if payload.get("name") else "")
        return f"{self.time}  {self.priority:<5}  {self.event_type:<20}  {self.image_id or '-':<36}  {detail}"

    def as_json(self) -> str:
        return json.dumps({"message_id": self.message_id, "event_type": self.event_type, "priority": self.priority,
                           "timestamp": self.time, "payload": self.payload})  # fmt: skip


def from_wire(body: Any) -> SeenEvent | None:
    """An oslo (v1 or v2 envelope) or CloudEvents message; None for anything else on the exchange."""
    if isinstance(body, (bytes, str)):
        body = json.loads(body)
    if not isinstance(body, dict):
        return None
    if body.get("specversion") == "1.0":
        return SeenEvent(body["id"], body["type"].removeprefix("org.openstack."), body.get("priority", "info").upper(),
                         body["time"], body.get("data"))  # fmt: skip
    if "oslo.message" in body:
        body = json.loads(body["oslo.message"])
    if "event_type" not in body:
        return None
    return SeenEvent(body["message_id"], body["event_type"], body["priority"], body["timestamp"], body["payload"])


def from_outbox(message: OutboxMessage) -> SeenEvent:
    return SeenEvent(message.message_id, message.event_type, message.priority, oslo_timestamp(message.created_at),
                     message.payload)  # fmt: skip


def matcher(types: tuple[str, ...], image_id: str | None) -> Callable[[SeenEvent], bool]:
    """Event types as exact names, groups (``task``) or globs (``image.*``); and/or one image id."""

    def wanted(event: SeenEvent) -> bool:
        if image_id and event.image_id != image_id:
            return False
        return not types or any(
            event.event_type == t or event.event_type.split(".", 1)[0] == t or fnmatch.fnmatch(event.event_type, t)
            for t in types
        )

    return wanted


def follow_bus(settings: Settings, show: Callable[[SeenEvent], None], ready: Callable[[], None],
               stop: threading.Event) -> None:  # fmt: skip
    """Subscribe to ``<topic>.*`` on the events exchange until ``stop``; the queue goes when we do."""
    connection = broker_connection(settings.events_url, settings.bus_dir)
    exchange = kombu.Exchange(settings.control_exchange, type="topic", durable=False, auto_delete=False)
    bindings = [kombu.binding(exchange, routing_key=f"{topic}.*")
                for topic in settings.oslo_messaging_notifications.topics]  # fmt: skip
    queue = kombu.Queue(f"glint-events-tail-{uuid.uuid4().hex[:8]}", bindings=bindings, durable=False,
                        exclusive=connection.kind == "amqp", auto_delete=True)  # fmt: skip

    def received(body: Any, message: kombu.Message) -> None:
        event = from_wire(message.body if message.content_type == CONTENT_TYPE else body)
        if event is not None:
            show(event)
        message.ack()

    with kombu.Connection(connection.url, transport_options=connection.transport_options, connect_timeout=5) as conn:
        with conn.Consumer([queue], callbacks=[received], accept=["application/json", CONTENT_TYPE]):
            ready()  # bound: every event from now on reaches the queue
            try:
                while not stop.is_set():
                    try:
                        conn.drain_events(timeout=0.5)
                    except TimeoutError:
                        pass
            finally:
                queue(conn.default_channel).delete()


def follow_outbox(settings: Settings, show: Callable[[SeenEvent], None], ready: Callable[[], None],
                  stop: threading.Event) -> None:  # fmt: skip
    """Poll the outbox for rows newer than the newest at start, until ``stop``."""
    db = Database(settings.database_url)
    with db.transaction(write=False) as uow:
        last = uow.outbox.last_id()
    ready()
    try:
        while not stop.is_set():
            with db.transaction(write=False) as uow:
                rows = uow.outbox.after(last, 500)
            for row in rows:
                show(from_outbox(row))
                last = row.id
            if not rows:
                stop.wait(settings.oslo_messaging_notifications.poll_interval)
    finally:
        db.dispose()


def source(settings: Settings) -> str:
    """Where the tail reads: ``bus`` on RabbitMQ and Redis, ``outbox`` on the embedded bus."""
    return "outbox" if broker_connection(settings.events_url, settings.bus_dir).kind == "embedded" else "bus"


def tail(settings: Settings, types: tuple[str, ...], image_id: str | None, as_json: bool,
         write: Callable[[str], None], ready: Callable[[], None], stop: threading.Event) -> None:  # fmt: skip
    """Show the matching events, one per line (or as JSON), until ``stop``; ``ready`` once following."""
    wanted = matcher(types, image_id)

    def show(event: SeenEvent) -> None:
        if wanted(event):
            write(event.as_json() if as_json else event.line())

    (follow_bus if source(settings) == "bus" else follow_outbox)(settings, show, ready, stop)
