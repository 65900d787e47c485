"""Tasks: the user-visible record of an import (Glance's ``api_image_import``, legacy ``import``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from shared.domain.errors import DomainError


class TaskStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILURE = "failure"


T = TaskStatus
TASK_TRANSITIONS: MappingProxyType[TaskStatus, frozenset[TaskStatus]] = MappingProxyType(
    {
        T.PENDING: frozenset({T.PROCESSING, T.FAILURE}),
        T.PROCESSING: frozenset({T.SUCCESS, T.FAILURE}),
        T.SUCCESS: frozenset(),
        T.FAILURE: frozenset(),
    }
)
TASK_TYPES = ("import", "api_image_import", "location_import")


class InvalidTaskTransition(DomainError):
    """A task status change the task table does not allow."""


@dataclass(eq=False)
class Task:
    """One task. ``succeed`` and ``fail`` set ``expires_at`` (now + time to live), as Glance does."""

    type: str
    owner: str | None
    created_at: datetime
    updated_at: datetime
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: TaskStatus = TaskStatus.PENDING
    input: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    message: str = ""
    image_id: str | None = None
    request_id: str | None = None
    user_id: str | None = None
    expires_at: datetime | None = None
    deleted: bool = False
    deleted_at: datetime | None = None
    bytes_done: int = 0
    bytes_total: int | None = None
    current_store: str | None = None

    @property
    def is_terminal(self) -> bool:
        return not TASK_TRANSITIONS[self.status]

    def set_status(self, target: TaskStatus, now: datetime) -> None:
        if target not in TASK_TRANSITIONS[self.status]:
            raise InvalidTaskTransition(f"task {self.id}: {self.status} -> {target} is not allowed")
        self.status = target
        self.updated_at = now

    def succeed(self, result: dict[str, Any], now: datetime, ttl: timedelta) -> None:
        self.set_status(TaskStatus.SUCCESS, now)
        self.result = result
        self.expires_at = now + ttl

    def fail(self, message: str, now: datetime, ttl: timedelta) -> None:
        self.set_status(TaskStatus.FAILURE, now)
        self.message = message
        self.expires_at = now + ttl
