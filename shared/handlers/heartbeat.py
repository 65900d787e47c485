"""Keeping the jobs a process holds alive in the database, from one background thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog

from shared.domain.clock import utcnow
from shared.persistence.database import Database

log = structlog.get_logger(__name__)


@dataclass
class HeldJob:
    """A job this process is working on; ``advance`` reports progress in bytes, ``working_on`` the stores."""

    job_id: str
    bytes_done: int = 0
    bytes_total: int | None = None
    task_id: str | None = None  # an import's task, whose progress is shown through the API
    _reported: tuple[int, str | None] = (-1, None)
    _stores: list[str] = field(default_factory=list)

    def advance(self, count: int) -> None:
        self.bytes_done += count

    @contextmanager
    def working_on(self, store: str) -> Iterator[None]:
        """Show ``store`` as being read or written for the duration of the block (several may be at once)."""
        self._stores.append(store)
        try:
            yield
        finally:
            self._stores.remove(store)

    @property
    def current_store(self) -> str | None:
        return ",".join(dict.fromkeys(self._stores)) or None


class Heartbeat:
    """Every ``interval`` seconds, stamps ``heartbeat_at`` (and progress) on the jobs held here.

    The scrubber's reaper presumes a job whose heartbeat is older than
    ``stale_after`` lost and gives it back to the queue (or fails it), so
    holding a job here is what keeps it from being taken away.
    """

    def __init__(self, db: Database, owner: str, interval: float) -> None:
        self.db = db
        self.owner = owner
        self.interval = interval
        self._held: dict[str, HeldJob] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @contextmanager
    def hold(self, job_id: str, bytes_total: int | None = None, task_id: str | None = None) -> Iterator[HeldJob]:
        """Keep ``job_id`` (and its task's progress) alive for the duration of the block."""
        held = HeldJob(job_id, bytes_total=bytes_total, task_id=task_id)
        with self._lock:
            self._held[job_id] = held
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="glint-heartbeat", daemon=True)
                self._thread.start()
        try:
            yield held
        finally:
            with self._lock:
                self._held.pop(job_id, None)

    def stop(self) -> None:
        self._stop.set()

    def beat(self) -> None:
        """One heartbeat now (the thread calls this; tests may too)."""
        with self._lock:
            held = list(self._held.values())
        if not held:
            return
        now = utcnow()
        with self.db.transaction() as uow:
            uow.jobs.heartbeat([job.job_id for job in held], self.owner, now)
            for job in held:
                current = (job.bytes_done, job.current_store)
                if current != job._reported:
                    uow.jobs.set_progress(job.job_id, job.bytes_done, job.bytes_total)
                    job._reported = current
                if job.task_id is not None:
                    uow.tasks.set_progress(job.task_id, job.bytes_done, job.bytes_total, job.current_store, now)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # the database may be briefly away; the next beat retries
                log.warning("heartbeat_failed", owner=self.owner, error=str(exc))
