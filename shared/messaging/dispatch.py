"""Sending jobs to their queues."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from celery import Celery

from shared.config.settings import Settings
from shared.domain.jobs import Job
from shared.messaging.celery_app import queue_name


class JobDispatcher(Protocol):
    """Sends "run job X" to the job's queue. Raises on failure; the reaper re-sends lost jobs."""

    def dispatch(self, job: Job) -> None: ...


class BusUnavailable(ConnectionError):
    """The last send failed a moment ago; this one was not tried (the reaper sends the job later)."""


class CeleryDispatcher:
    """Sends a job as a Celery task message carrying only the job id.

    A failed send costs the caller Celery's publish retries (about 1.5 s); so that an API request does not pay
    that again and again while the broker is down, sends in the ``hold_off`` seconds after a failure raise
    :class:`BusUnavailable` at once. The jobs stay in the job table either way.
    """

    def __init__(self, app: Celery, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.settings = settings
        self.hold_off = settings.jobs.dispatch_hold_off
        self._clock = clock
        self._retry_at = 0.0

    def prepare(self) -> None:
        """Load now what Celery loads at a process's first send (its result backend, found by scanning every
        installed package's entry points, and the producer pool): 60-200 ms on the two-core machine, which
        the first upload or delete of each API process paid. Connects to nothing: a broker that is down
        fails the sends, not this."""
        self.app.backend  # noqa: B018  (a property: loading it is the point)
        self.app.amqp.producer_pool  # noqa: B018

    def dispatch(self, job: Job) -> None:
        if self._clock() < self._retry_at:
            raise BusUnavailable(f"the job bus failed less than {self.hold_off:g}s ago; not tried")
        try:
            self.app.send_task(job.task_name, args=[job.id], queue=queue_name(self.settings, job.queue))
        except Exception:
            self._retry_at = self._clock() + self.hold_off
            raise
