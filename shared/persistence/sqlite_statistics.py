"""Keeping SQLite's query planner statistics current as the data grows (``ANALYZE``).

Without statistics SQLite guesses that an indexed equality matches a handful
of rows. For a member's default image list (``owner = ? OR visibility = ?
OR shared with the project``, newest first) it then reads every matching row
through the owner and visibility indexes and sorts them all, rather than
walking the ``(created_at, id)`` index newest first and stopping at the page:
with 10,000 images of one project, 9.7 ms for a page of 25 instead of 0.4 ms
(in process). With statistics it picks whichever plan the data favours, the
walk when the project owns most images, the index lookups when it sees few.
PostgreSQL keeps its own statistics (autovacuum); this is for SQLite alone.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import structlog
from sqlalchemy.engine import Engine

log = structlog.get_logger(__name__)

ANALYZE_EVERY = 500  # write transactions of one process between two refreshes
FIRST = 64  # and while the data is young, after 64, 128, 256 ... of them (a page's plan turns early)
ANALYSIS_LIMIT = 1000  # rows sampled per index: a few milliseconds whatever the size of the database


class SqliteStatistics:
    """Refreshes the statistics after every ``every`` write transactions committed by this process, and
    after the 64th, 128th, 256th ... (the powers of two from ``FIRST``), so that a young database has them early.

    ``gate`` is the writer gate: ``ANALYZE`` writes its results to the database like any writer.
    """

    def __init__(
        self, engine: Engine, gate: Callable[[], AbstractContextManager[None]], every: int = ANALYZE_EVERY
    ) -> None:
        self._engine = engine
        self._gate = gate
        self._every = every
        self._writes = itertools.count(1)
        self._running = threading.Lock()

    def written(self) -> None:
        """Count one committed write transaction; refresh the statistics when their turn has come."""
        count = next(self._writes)
        due = count % self._every == 0 or (count >= FIRST and count & (count - 1) == 0)
        if due and self._running.acquire(blocking=False):
            try:
                self.refresh()
            finally:
                self._running.release()

    def refresh(self) -> None:
        """Run ``ANALYZE`` on a sample of every index now. A failure is logged: the planner keeps the old."""
        try:
            with self._gate(), self._engine.connect() as conn, conn.begin():
                conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
                conn.exec_driver_sql("ANALYZE")
        except Exception as exc:  # a busy or read-only database: the queries still run, on the old plans
            log.warning("sqlite_analyze_failed", error=str(exc))
