"""The database handle: one engine per process, and transactions as units of work.

SQLite is configured so that concurrent writers queue instead of failing:
WAL journal, a busy timeout, and ``BEGIN IMMEDIATE`` for every write
transaction, so a writer takes the write lock before it reads and never has
to upgrade a read lock (the upgrade is what SQLite refuses with "database is
locked" regardless of the timeout). Before that, glint's writers queue on a
gate of their own (:class:`WriterGate`), which wakes the next one the moment
the last commits: SQLite's busy handler polls, sleeping 1, 2, 5, 10 ms and
more between tries while the lock sits free.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from shared.domain.errors import Unavailable
from shared.persistence.planner_statistics import PlannerStatistics
from shared.persistence.uow import UnitOfWork

SQLITE_BUSY_TIMEOUT_S = 30
PING_AFTER_IDLE_S = 1.0  # a pooled server connection idle this long is checked before use
_BEGIN = {"DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}


def normalise_url(url: str) -> URL:
    """Pick the psycopg 3 driver for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, *, autocommit: bool = False) -> Engine:
    """Create the engine for ``url``; SQLite gets WAL, a busy timeout and explicit BEGINs. ``autocommit``
    (server databases): every statement is its own transaction, for ``Database.read_engine``."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        if autocommit:
            engine = create_engine(parsed, pool_size=5, max_overflow=20, isolation_level="AUTOCOMMIT")
        else:
            engine = create_engine(parsed, pool_size=10, max_overflow=20)
        _ping_when_idle(engine)
        return engine

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.connection.driver_connection.execute(_BEGIN[mode])  # straight to sqlite3: no statement events

    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it has been idle for ``PING_AFTER_IDLE_S`` or more.

    SQLAlchemy's ``pool_pre_ping`` checks every checkout: one more round trip per transaction, a fifth of
    a show on PostgreSQL. A connection in steady use is known to work; one that sat idle may have been
    closed by a server restart or a network timeout, and is replaced before the transaction starts. A
    connection lost while in use fails its transaction (503) and makes the pool replace all the others.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # new, or in steady use
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection lost: {exc}") from exc  # the pool connects anew


class WriterGate:
    """One write transaction at a time on a SQLite database, across the threads and processes of glint.

    Within a process a lock queues the threads; across processes an ``flock`` on a file beside the
    database does (the kernel drops it when its holder dies, even by SIGKILL). Both hand over the moment
    the holder lets go, where SQLite's own busy handler would find the lock taken and sleep before trying
    again (1, 2, 5, 10 ms and up): with 8 clients creating images, two sleeps per create, measured. A
    thread already inside a write transaction passes straight through (SQLite decides, as before); so
    does a writer that is not glint's (the sqlite3 shell, say), which SQLite's busy timeout still covers.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path  # None: a database in memory, one process; the thread lock alone
        self._lock = threading.Lock()
        self._inside = threading.local()
        self._fd: int | None = None
        self._fd_pid = 0

    @property
    def held_here(self) -> bool:
        """True while this thread holds the gate (inside a write transaction)."""
        return getattr(self._inside, "held", False)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the gate for the duration of the block."""
        if self.held_here:
            yield
            return
        if not self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_S):
            raise Unavailable("database unavailable: waited too long for the other writers")
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without the GIL
            self._inside.held = True
            try:
                yield
            finally:
                self._inside.held = False
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def _file(self) -> int | None:
        if self.path is None:
            return None
        if self._fd is None or self._fd_pid != os.getpid():  # a child's own: an inherited one is its parent's lock
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                return None  # a folder glint may not write to: SQLite's own locking decides, and reports it
            self._fd_pid = os.getpid()
        return self._fd


def _gate_path(url: str) -> str | None:
    database = make_url(url).database
    return None if not database or database == ":memory:" else f"{database}.writers"


class Database:
    """Opens transactions. Build one per process, after any fork."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # Read-only units of work on PostgreSQL run without BEGIN and COMMIT, each statement its own
        # transaction: under READ COMMITTED (its default) each statement of a transaction sees its own
        # snapshot anyway, so this changes nothing a reader can see and saves two round trips per read
        # (show 1.27-1.65 -> 1.01-1.45 ms, list 25 3.5-3.6 -> 2.6 ms, in process). A pool of their own:
        # switching a pooled connection to autocommit and back on every checkout cost more than it saved.
        # (A server whose default is REPEATABLE READ would give a reader one snapshot: not done there.)
        postgres = self.engine.dialect.name == "postgresql"
        self.read_engine = make_engine(url, autocommit=True) if postgres else self.engine
        self.writer_gate = WriterGate(_gate_path(url)) if self.is_sqlite else None
        self.statistics = PlannerStatistics.for_engine(self.engine, lambda: self._gate(True))

    @contextmanager
    def transaction(self, *, write: bool = True, request_id: str | None = None) -> Iterator[UnitOfWork]:
        """One transaction as a unit of work.

        On normal exit the events recorded on loaded images are written to
        the outbox, the transaction commits, and then the ``after_commit``
        callbacks run (sending jobs to their queues). On an exception it
        rolls back and nothing runs. A database that cannot be reached
        raises Unavailable.
        """
        try:
            with self._gate(write), (self.engine if write else self.read_engine).connect() as conn:
                if self.is_sqlite and write:
                    conn = conn.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    uow = UnitOfWork(
                        conn, request_id=request_id, lock_rows=write and not self.is_sqlite, read_only=not write
                    )
                    yield uow
                    uow.flush_events()
        except OperationalError as exc:
            raise Unavailable(f"database unavailable: {_short(exc)}") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise Unavailable(f"database connection lost: {_short(exc)}") from exc
            raise
        uow.run_after_commit()
        if write and not (self.writer_gate is not None and self.writer_gate.held_here):  # not inside another write
            self.statistics.written()

    def _gate(self, write: bool) -> AbstractContextManager[None]:
        return self.writer_gate.held() if write and self.writer_gate is not None else nullcontext()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def _short(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
