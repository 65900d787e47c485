"""The unit of work: the repositories of one transaction, and what happens at its end."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

from shared.domain.events import Event
from shared.persistence.images import ImageRepository
from shared.persistence.jobs import JobRepository
from shared.persistence.leases import LeaseRepository
from shared.persistence.members import MemberRepository
from shared.persistence.outbox import OutboxRepository
from shared.persistence.tasks import TaskRepository


class UnitOfWork:
    """Repositories sharing one connection and transaction.

    Handlers record events on images; ``flush_events`` writes them to the
    outbox inside the same transaction, in the order they were recorded.
    Work that must only happen once the data is committed (sending a job
    to its queue) is registered with ``after_commit``.
    """

    def __init__(self, conn: Connection, *, request_id: str | None, lock_rows: bool, read_only: bool = False) -> None:
        self.conn = conn
        self.request_id = request_id
        self.images = ImageRepository(conn, lock_rows=lock_rows, read_only=read_only)
        self.jobs = JobRepository(conn)
        self.leases = LeaseRepository(conn)
        self.members = MemberRepository(conn)
        self.tasks = TaskRepository(conn)
        self.outbox = OutboxRepository(conn)
        self._after_commit: list[Callable[[], None]] = []
        self._events: list[Event] = []

    def record(self, event: Event) -> None:
        """Keep an event that belongs to no saved image (a membership change) for the outbox."""
        self._events.append(event)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after a successful commit (never after a rollback)."""
        self._after_commit.append(callback)

    def flush_events(self) -> None:
        """Write every recorded event to the outbox, in recording order."""
        events = [event for image in self.images.seen for event in image.events] + self._events
        events.sort(key=lambda event: event.sequence)  # the order they were recorded in, whatever recorded them
        self._events = []
        if events:
            self.outbox.add_all(events, request_id=self.request_id)
        for image in self.images.seen:
            image.events.clear()

    def run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()
