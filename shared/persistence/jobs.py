"""Jobs in SQL. Every status change is a compare-and-set on the status the caller expects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from shared.domain.errors import ConcurrentUpdate
from shared.domain.jobs import LIVE, Job, JobKind, JobStatus
from shared.persistence.tables import jobs

_FIELDS = (
    "kind", "image_id", "status", "payload", "attempts", "dispatch_count", "owner", "request_id", "error",
    "created_at", "updated_at", "dispatched_at", "heartbeat_at", "bytes_done", "bytes_total",
)  # fmt: skip


_INSERT_JOB = insert(jobs)  # built once; the values go in as parameters
_UPDATE_JOB = update(jobs).where(jobs.c.id == bindparam("_id"), jobs.c.status == bindparam("_status"))


class JobRepository:
    """Job rows inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, job: Job) -> None:
        job.updated_at = job.updated_at or job.created_at
        self.conn.execute(_INSERT_JOB, {"id": job.id, **_values(job)})

    def get(self, job_id: str) -> Job | None:
        row = self.conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return _job(row) if row else None

    def save(self, job: Job, *, expected_status: JobStatus) -> None:
        """Write the job if its stored status is still ``expected_status``; ConcurrentUpdate otherwise."""
        result = self.conn.execute(_UPDATE_JOB, {"_id": job.id, "_status": expected_status.value, **_values(job)})
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"job {job.id} is no longer {expected_status}")

    def claim(self, job_id: str, owner: str, now: datetime) -> Job | None:
        """Take a queued job for ``owner``: queued -> running. None when it is not queued (any more)."""
        result = self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
            .values(
                status=JobStatus.RUNNING.value,
                owner=owner,
                attempts=jobs.c.attempts + 1,
                heartbeat_at=now,
                updated_at=now,
            )
        )
        return self.get(job_id) if result.rowcount == 1 else None

    def heartbeat(self, job_ids: Sequence[str], owner: str, now: datetime) -> int:
        """Mark the live jobs ``owner`` holds as still being worked on."""
        if not job_ids:
            return 0
        result = self.conn.execute(
            update(jobs)
            .where(
                jobs.c.id.in_(list(job_ids)),
                jobs.c.owner == owner,
                jobs.c.status.in_([JobStatus.RECEIVING.value, JobStatus.RUNNING.value]),
            )
            .values(heartbeat_at=now)
        )
        return result.rowcount

    def mark_unsent(self, job_id: str) -> None:
        """Forget that a queued job was sent (the send failed), so the reaper sends it at once."""
        self.conn.execute(
            update(jobs).where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value).values(dispatched_at=None)
        )

    def set_progress(self, job_id: str, bytes_done: int, bytes_total: int | None) -> None:
        self.conn.execute(
            update(jobs).where(jobs.c.id == job_id).values(bytes_done=bytes_done, bytes_total=bytes_total)
        )

    def live_for_image(self, image_id: str, kind: JobKind | None = None) -> list[Job]:
        stmt = select(jobs).where(jobs.c.image_id == image_id, jobs.c.status.in_([s.value for s in LIVE]))
        if kind is not None:
            stmt = stmt.where(jobs.c.kind == kind.value)
        return [_job(row) for row in self.conn.execute(stmt).mappings()]

    def last_of(self, image_id: str, kind: JobKind, status: JobStatus) -> Job | None:
        """The image's job of ``kind`` in ``status`` that changed last (its latest finished stage, say)."""
        stmt = (
            select(jobs)
            .where(jobs.c.image_id == image_id, jobs.c.kind == kind.value, jobs.c.status == status.value)
            .order_by(jobs.c.updated_at.desc())
            .limit(1)
        )
        row = self.conn.execute(stmt).mappings().first()
        return None if row is None else _job(row)

    def stale(self, status: JobStatus, heartbeat_before: datetime, limit: int = 100) -> list[Job]:
        """Jobs in ``status`` whose holder has not heart-beaten since ``heartbeat_before``."""
        stmt = (
            select(jobs)
            .where(jobs.c.status == status.value, jobs.c.heartbeat_at < heartbeat_before)
            .order_by(jobs.c.heartbeat_at)
            .limit(limit)
        )
        return [_job(row) for row in self.conn.execute(stmt).mappings()]

    def waiting(self, dispatched_before: datetime, limit: int = 100) -> list[Job]:
        """Queued jobs last sent to their queue before ``dispatched_before`` (or never sent)."""
        stmt = (
            select(jobs)
            .where(
                jobs.c.status == JobStatus.QUEUED.value,
                (jobs.c.dispatched_at < dispatched_before) | jobs.c.dispatched_at.is_(None),
            )
            .order_by(jobs.c.created_at)
            .limit(limit)
        )
        return [_job(row) for row in self.conn.execute(stmt).mappings()]

    def staging_in_use(self) -> set[str]:
        """The staging keys to keep: the ids of live jobs and of their images (glance-direct stages under the
        image's id, and an import that died after activating its image still needs that data to finish)."""
        stmt = select(jobs.c.id, jobs.c.image_id).where(jobs.c.status.in_([s.value for s in LIVE]))
        return {key for row in self.conn.execute(stmt) for key in row if key}


def _values(job: Job) -> dict[str, object]:
    values = {name: getattr(job, name) for name in _FIELDS}
    values["kind"] = job.kind.value
    values["status"] = job.status.value
    return values


def _job(row: RowMapping) -> Job:
    values = {name: row[name] for name in _FIELDS}
    values["kind"] = JobKind(values["kind"])
    values["status"] = JobStatus(values["status"])
    values["payload"] = dict(values["payload"] or {})
    return Job(id=row["id"], **values)
