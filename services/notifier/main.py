"""The notifier's loop: hold the relay lease, relay, prune, sleep when idle, back off while the bus is away."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from datetime import timedelta

import structlog

from shared.config.settings import Settings
from shared.handlers.relay import relay_once
from shared.messaging.connections import broker_connection
from shared.messaging.notifications import KombuNotificationPublisher
from shared.services import Services

log = structlog.get_logger("glint.notifier")

MAX_BACKOFF = 30.0
LEASE = "notifier"
PRUNE_EVERY = 60.0
# After a batch that emptied the outbox, the next poll waits this long (at most the idle interval) for
# more events: under a steady stream of requests, polling again at once relayed one or two events per
# batch, each batch a query, a transaction and a commit (PostgreSQL + Redis, 1000 sequential creates:
# 133-185 batches, most of one or two events; with the wait 30-35, and the notifier's CPU per event
# 0.74-0.84 -> 0.55-0.65 ms).
GATHER_S = 0.05


def make_publisher(settings: Settings) -> KombuNotificationPublisher:
    connection = broker_connection(settings.events_url, settings.bus_dir)
    declare = settings.oslo_messaging_notifications.declare_queues
    declare_queues = declare == "true" or (declare == "auto" and connection.kind != "embedded")
    return KombuNotificationPublisher(connection, settings.control_exchange, declare_queues=declare_queues)


class RelayLease:
    """The notifier lease, renewed once half of it has run out; only its holder relays.

    With several notifiers running, one relays and the others stand by; a
    standby takes over ``lease_seconds`` after the holder stopped renewing
    (at once after a clean stop). So in normal operation no event is sent
    twice and per-image order holds across notifiers.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ttl = services.settings.oslo_messaging_notifications.lease_seconds
        self._renew_at = 0.0
        self.held: bool | None = None  # not asked yet

    def hold(self) -> bool:
        """True while this process holds the lease (renewing it in the database when due)."""
        if self.held and time.monotonic() < self._renew_at:
            return True
        started = time.monotonic()
        with self.services.db.transaction() as uow:
            held = uow.leases.hold(LEASE, self.holder, self.services.clock(), self.ttl)
        if held != self.held:
            log.info("relay_lease_taken" if held else "relay_lease_standby", holder=self.holder)
        self.held = held
        self._renew_at = started + self.ttl / 2
        return held

    def release(self) -> None:
        if self.held:
            with self.services.db.transaction() as uow:
                uow.leases.release(LEASE, self.holder, self.services.clock())
            self.held = False


def run_notifier(services: Services, stop: threading.Event) -> None:
    """Relay the outbox until ``stop`` is set, while holding the relay lease."""
    settings = services.settings
    options = settings.oslo_messaging_notifications
    publisher = make_publisher(settings)
    lease = RelayLease(services)
    backoff = idle = options.poll_interval
    next_prune = 0.0
    log.info("notifier_started", driver=options.driver, format=options.format, exchange=settings.control_exchange,
             holder=lease.holder)  # fmt: skip
    try:
        while not stop.is_set():
            try:
                if not lease.hold():
                    stop.wait(min(lease.ttl / 3, 2.0))
                    continue
                relayed = relay_once(services, publisher)
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY
                    _prune(services, options.sent_retention)
            except Exception as exc:  # bus or database away: keep the events, retry with backoff
                log.warning("relay_failed", error=str(exc), retry_in=round(backoff, 1))
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = idle
            if relayed == 0:
                stop.wait(idle)
            elif relayed < options.batch_size:  # the outbox is empty for now: let the next batch gather
                stop.wait(min(GATHER_S, idle))
    finally:
        publisher.close()
        try:
            lease.release()
        except Exception as exc:  # the database is away: the lease simply runs out
            log.warning("relay_lease_not_released", error=str(exc))
        log.info("notifier_stopped")


def _prune(services: Services, retention: float) -> None:
    """Forget events relayed more than ``retention`` seconds ago."""
    with services.db.transaction() as uow:
        pruned = uow.outbox.prune(services.clock() - timedelta(seconds=retention))
    if pruned:
        log.info("outbox_pruned", rows=pruned)
