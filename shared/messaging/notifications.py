"""Publishing notifications to the bus with kombu, as oslo.messaging's RabbitMQ driver does."""

from __future__ import annotations

import json
from typing import Any, Protocol

import kombu

from shared.messaging.connections import BrokerConnection


class NotificationPublisher(Protocol):
    """Publishes one message; returns only once the bus has it (confirmed where the bus confirms)."""

    def publish(self, body: dict[str, Any], routing_key: str, *, content_type: str = "application/json") -> None: ...

    def close(self) -> None: ...


class KombuNotificationPublisher:
    """Topic exchange (``glance`` by default, not durable, like oslo's), JSON bodies, persistent messages.

    With ``declare_queues`` the queue named after each routing key is
    declared and bound, so messages wait for a listener that is not there yet.
    """

    def __init__(self, connection: BrokerConnection, exchange: str, *, declare_queues: bool) -> None:
        options = dict(connection.transport_options)
        if connection.kind == "amqp":
            options["confirm_publish"] = True
        self._connection = kombu.Connection(connection.url, transport_options=options, connect_timeout=5)
        self._exchange = kombu.Exchange(exchange, type="topic", durable=False, auto_delete=False)
        self._declare_queues = declare_queues
        self._producer: kombu.Producer | None = None

    def publish(self, body: dict[str, Any], routing_key: str, *, content_type: str = "application/json") -> None:
        """Publish ``body`` as JSON, labelled ``content_type``; returns once the broker confirmed it."""
        if self._producer is None:
            self._producer = kombu.Producer(self._connection.default_channel, exchange=self._exchange)
        declare: list[Any] = [self._exchange]
        if self._declare_queues:
            declare.append(kombu.Queue(routing_key, self._exchange, routing_key=routing_key, durable=False))
        try:
            self._producer.publish(
                json.dumps(body),
                exchange=self._exchange,
                routing_key=routing_key,
                content_type=content_type,
                content_encoding="utf-8",
                delivery_mode=2,
                declare=declare,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2},
            )
        except Exception:
            self._reset()
            raise

    def _reset(self) -> None:
        self._producer = None
        try:
            self._connection.close()
        except Exception:  # already broken; a new channel is opened on the next publish
            pass

    def close(self) -> None:
        self._reset()
