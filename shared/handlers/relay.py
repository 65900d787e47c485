"""Relaying the outbox to the bus: publish in commit order, mark sent only after the bus has it."""

from __future__ import annotations

import structlog

from shared.config.settings import NotificationSettings
from shared.messaging import oslo
from shared.messaging.cloudevents import CONTENT_TYPE, cloudevent
from shared.messaging.notifications import NotificationPublisher
from shared.persistence.outbox import OutboxMessage
from shared.services import Services

log = structlog.get_logger(__name__)


def relay_once(services: Services, publisher: NotificationPublisher) -> int:
    """Publish one batch of unsent events in outbox order; returns how many rows were handled.

    A publish failure stops the batch: what was published is marked sent,
    the rest waits for the next call, so per-image order holds. A crash
    between publishing and marking republishes the same ``message_id``
    (at least once; consumers drop duplicates by id).
    """
    settings = services.settings
    options = settings.oslo_messaging_notifications
    with services.db.transaction(write=False) as uow:
        batch = uow.outbox.unpublished(options.batch_size)
    if not batch:
        return 0
    handled: list[int] = []
    error: Exception | None = None
    for message in batch:
        if options.driver != "noop" and not oslo.is_disabled(message.event_type, settings.disabled_notifications):
            try:
                _deliver(options, publisher, message, settings.default_publisher_id)
            except Exception as exc:  # the bus is away: keep order, retry from this message
                error = exc
                break
            log.info("event_published", message_id=message.message_id, event_type=message.event_type,
                     image_id=message.image_id, request_id=message.request_id)  # fmt: skip
        handled.append(message.id)
    if handled:
        with services.db.transaction() as uow:
            uow.outbox.mark_published(handled, services.clock())
    if error is not None:
        raise error
    return len(handled)


def _deliver(
    options: NotificationSettings, publisher: NotificationPublisher, message: OutboxMessage, publisher_id: str
) -> None:
    """One event in the configured format, to ``<topic>.<priority>`` for each topic (or to the log)."""
    if options.format == "cloudevents":
        body, content_type = cloudevent(message, publisher_id), CONTENT_TYPE
    else:
        inner = oslo.notification(message, publisher_id)
        body = oslo.envelope(inner) if options.driver == "messagingv2" else inner
        content_type = "application/json"
    if options.driver == "log":
        log.info("notification", **body)
        return
    for topic in options.topics:
        publisher.publish(body, oslo.routing_key(topic, message.priority), content_type=content_type)
