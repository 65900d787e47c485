"""The scrubber's loop: the job reaper every ``reap_interval``, the scrub every ``wakeup_time``."""

from __future__ import annotations

import threading
import time

import structlog

from shared.handlers.scrubbing import reap_jobs, remove_orphaned_data, scrub_pending_deletes
from shared.services import Services

log = structlog.get_logger("glint.scrubber")


def scrub_once(services: Services) -> None:
    """One full pass: reap lost jobs, queue due deletes, remove orphaned staging data."""
    now = services.clock()
    reap_jobs(services, now)
    scrub_pending_deletes(services, now)
    remove_orphaned_data(services, now)


def run_scrubber(services: Services, stop: threading.Event) -> None:
    """Run until ``stop`` is set. A failing pass is logged and retried at the next interval."""
    settings = services.settings
    next_scrub = 0.0
    log.info("scrubber_started", wakeup_time=settings.wakeup_time, reap_interval=settings.jobs.reap_interval,
             delayed_delete=settings.delayed_delete, scrub_time=settings.scrub_time)  # fmt: skip
    while not stop.is_set():
        try:
            now = services.clock()
            reap_jobs(services, now)
            if time.monotonic() >= next_scrub:
                scrub_pending_deletes(services, now)
                remove_orphaned_data(services, now)
                next_scrub = time.monotonic() + settings.wakeup_time
        except Exception as exc:  # the database may be away; the next pass retries
            log.warning("scrub_pass_failed", error=str(exc))
        stop.wait(settings.jobs.reap_interval)
    log.info("scrubber_stopped")
