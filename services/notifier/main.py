"""The notifier's loop: relay, sleep when idle, back off while the bus is away."""

from __future__ import annotations

import threading

import structlog

from shared.config.settings import Settings
from shared.handlers.relay import relay_once
from shared.messaging.connections import broker_connection
from shared.messaging.notifications import KombuNotificationPublisher
from shared.services import Services

log = structlog.get_logger("glint.notifier")

MAX_BACKOFF = 30.0


def make_publisher(settings: Settings) -> KombuNotificationPublisher:
    connection = broker_connection(settings.events_url, settings.bus_dir)
    declare = settings.oslo_messaging_notifications.declare_queues
    declare_queues = declare == "true" or (declare == "auto" and connection.kind != "embedded")
    return KombuNotificationPublisher(connection, settings.control_exchange, declare_queues=declare_queues)


def run_notifier(services: Services, stop: threading.Event) -> None:
    """Relay the outbox until ``stop`` is set."""
    settings = services.settings
    publisher = make_publisher(settings)
    idle = settings.oslo_messaging_notifications.poll_interval
    backoff = idle
    log.info("notifier_started", driver=settings.oslo_messaging_notifications.driver,
             exchange=settings.control_exchange)  # fmt: skip
    try:
        while not stop.is_set():
            try:
                relayed = relay_once(services, publisher)
            except Exception as exc:  # bus or database away: keep the events, retry with backoff
                log.warning("relay_failed", error=str(exc), retry_in=round(backoff, 1))
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = idle
            if relayed == 0:
                stop.wait(idle)
    finally:
        publisher.close()
        log.info("notifier_stopped")
