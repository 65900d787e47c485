"""Jobs: the asynchronous work glint queues (uploads, imports, deletes) and their status table.

A job row is the truth; a queue message only says "look at job X". Workers
claim a job with a compare-and-set from ``queued`` to ``running``, so a
duplicate message does nothing, and the scrubber's reaper gives a job whose
holder stopped heart-beating back to the queue.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from shared.domain.errors import DomainError


class JobKind(StrEnum):
    UPLOAD = "upload"
    IMPORT = "import"
    DELETE = "delete"
    STAGE = "stage"  # PUT /stage: done by the API itself; a job so that an interrupted stage is reaped


class JobStatus(StrEnum):
    RECEIVING = "receiving"  # the API is still streaming the request body into staging
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the work no longer applies (the image was deleted or restored)


J = JobStatus

JOB_TRANSITIONS: MappingProxyType[JobStatus, frozenset[JobStatus]] = MappingProxyType(
    {
        J.RECEIVING: frozenset({J.QUEUED, J.SUCCEEDED, J.FAILED, J.CANCELLED}),  # succeeded: a stage, done by the API
        J.QUEUED: frozenset({J.RUNNING, J.FAILED, J.CANCELLED}),
        J.RUNNING: frozenset({J.SUCCEEDED, J.FAILED, J.CANCELLED, J.QUEUED}),
        J.SUCCEEDED: frozenset(),
        J.FAILED: frozenset(),
        J.CANCELLED: frozenset(),
    }
)
TERMINAL = frozenset(status for status, targets in JOB_TRANSITIONS.items() if not targets)
LIVE = frozenset(JobStatus) - TERMINAL

QUEUE_OF: MappingProxyType[JobKind, str] = MappingProxyType(
    {JobKind.UPLOAD: "uploads", JobKind.IMPORT: "imports", JobKind.DELETE: "deletes"}
)
TASK_NAME_OF: MappingProxyType[JobKind, str] = MappingProxyType(
    {JobKind.UPLOAD: "images.upload", JobKind.IMPORT: "images.import", JobKind.DELETE: "images.delete"}
)


class InvalidJobTransition(DomainError):
    """A job status change the job table does not allow."""


@dataclass(eq=False)
class Job:
    """One unit of asynchronous work on one image."""

    kind: JobKind
    image_id: str
    status: JobStatus
    created_at: datetime
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    dispatch_count: int = 0
    owner: str | None = None
    request_id: str | None = None
    error: str | None = None
    updated_at: datetime | None = None
    dispatched_at: datetime | None = None
    heartbeat_at: datetime | None = None
    bytes_done: int = 0
    bytes_total: int | None = None

    @property
    def queue(self) -> str:
        return QUEUE_OF[self.kind]

    @property
    def task_name(self) -> str:
        return TASK_NAME_OF[self.kind]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def set_status(self, target: JobStatus, now: datetime, error: str | None = None) -> None:
        """Move to ``target`` if the job table allows it; raises InvalidJobTransition otherwise."""
        if target not in JOB_TRANSITIONS[self.status]:
            raise InvalidJobTransition(f"job {self.id}: {self.status} -> {target} is not allowed")
        self.status = target
        self.updated_at = now
        if error is not None:
            self.error = error
