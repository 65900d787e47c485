"""The database handle: one engine per process, and transactions as units of work.

SQLite is configured so that concurrent writers queue instead of failing:
WAL journal, a busy timeout, and ``BEGIN IMMEDIATE`` for every write
transaction, so a writer takes the write lock before it reads and never has
to upgrade a read lock (the upgrade is what SQLite refuses with "database is
locked" regardless of the timeout).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from shared.domain.errors import Unavailable
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
            with (self.engine if write else self.read_engine).connect() as conn:
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

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def _short(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
