"""Tasks in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, false, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from shared.domain.tasks import Task, TaskStatus
from shared.persistence.tables import tasks

_FIELDS = (
    "type", "status", "owner", "input", "result", "message", "image_id", "request_id", "user_id", "expires_at",
    "created_at", "updated_at", "deleted", "deleted_at", "bytes_done", "bytes_total", "current_store",
)  # fmt: skip
TASK_SORT_KEYS = ("id", "type", "status", "created_at", "updated_at", "owner", "expires_at")


@dataclass(frozen=True)
class TaskQuery:
    owner: str | None  # None: every owner (admins)
    limit: int
    marker: str | None = None
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    status: str | None = None
    type: str | None = None


class TaskRepository:
    """Task rows inside one transaction. Expired tasks are invisible, as Glance deletes them lazily."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, task: Task) -> None:
        self.conn.execute(insert(tasks).values(id=task.id, **_values(task)))

    def get(self, task_id: str, now: datetime, *, for_update: bool = False) -> Task | None:
        stmt = select(tasks).where(tasks.c.id == task_id, *_live(now))
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).mappings().first()
        return _task(row) if row else None

    def save(self, task: Task) -> None:
        self.conn.execute(update(tasks).where(tasks.c.id == task.id).values(**_values(task)))

    def for_image(self, image_id: str, now: datetime) -> list[Task]:
        stmt = select(tasks).where(tasks.c.image_id == image_id, *_live(now)).order_by(tasks.c.created_at)
        return [_task(row) for row in self.conn.execute(stmt).mappings()]

    def list(self, query: TaskQuery, now: datetime, marker: Task | None = None) -> list[Task]:
        stmt = select(tasks).where(*_live(now))
        if query.owner is not None:
            stmt = stmt.where(tasks.c.owner == query.owner)
        if query.status:
            stmt = stmt.where(tasks.c.status == query.status)
        if query.type:
            stmt = stmt.where(tasks.c.type == query.type)
        column = tasks.c[query.sort_key]
        descending = query.sort_dir == "desc"
        if marker is not None:
            value = getattr(marker, query.sort_key)
            value = value.value if isinstance(value, TaskStatus) else value
            beyond = column < value if descending else column > value
            tie = tasks.c.id < marker.id if descending else tasks.c.id > marker.id
            stmt = stmt.where(or_(beyond, and_(column == value, tie)))
        order = (column.desc(), tasks.c.id.desc()) if descending else (column.asc(), tasks.c.id.asc())
        rows = self.conn.execute(stmt.order_by(*order).limit(query.limit)).mappings()
        return [_task(row) for row in rows]

    def set_progress(
        self, task_id: str, bytes_done: int, bytes_total: int | None, current_store: str | None, now: datetime
    ) -> None:
        """Progress of a running import; also keeps ``updated_at`` fresh, which keeps its import lock live."""
        self.conn.execute(
            update(tasks)
            .where(tasks.c.id == task_id, tasks.c.status == TaskStatus.PROCESSING.value)
            .values(bytes_done=bytes_done, bytes_total=bytes_total, current_store=current_store, updated_at=now)
        )


def _live(now: datetime) -> tuple:
    return (tasks.c.deleted == false(), or_(tasks.c.expires_at.is_(None), tasks.c.expires_at > now))


def _values(task: Task) -> dict[str, object]:
    values = {name: getattr(task, name) for name in _FIELDS}
    values["status"] = task.status.value
    return values


def _task(row: RowMapping) -> Task:
    values = {name: row[name] for name in _FIELDS}
    values["status"] = TaskStatus(values["status"])
    return Task(id=row["id"], **values)
