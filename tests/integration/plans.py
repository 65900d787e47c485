"""The query plan behind an image list, as the database shows it (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's
EXPLAIN), one step per line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from shared.domain.queries import ImageQuery
from shared.persistence.database import Database


@contextmanager
def list_statement_sent(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT behind the first page listed in the block, as sent, with its parameters."""
    sent: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT IMAGES.ID") and not sent:
            sent.append((statement, parameters))

    event.listen(db.read_engine, "before_cursor_execute", capture)
    try:
        yield sent
    finally:
        event.remove(db.read_engine, "before_cursor_execute", capture)


def plan(db: Database, query: ImageQuery) -> str:
    """The plan of the statement that lists the first page of ``query``."""
    with list_statement_sent(db) as sent, db.transaction(write=False) as uow:
        uow.images.list(query, None)
    [(statement, parameters)] = sent
    explain = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        return "\n".join(str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters))
