"""Task entry points. Each takes a job id, binds log context and calls one handler."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog
from celery import Celery, Task

from shared.config.settings import Settings
from shared.handlers.deletes import run_delete
from shared.handlers.heartbeat import Heartbeat
from shared.handlers.import_runs import run_import
from shared.handlers.uploads import run_upload
from shared.services import Services

log = structlog.get_logger("glint.worker")


@dataclass
class WorkerRuntime:
    """The services of this worker process, built on first use (after any fork)."""

    settings: Settings
    build: Callable[[Settings], Services]
    _services: Services | None = field(default=None, init=False)
    _heartbeat: Heartbeat | None = field(default=None, init=False)

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = self.build(self.settings)
        return self._services

    @property
    def heartbeat(self) -> Heartbeat:
        if self._heartbeat is None:
            owner = f"worker:{socket.gethostname()}:{os.getpid()}"
            self._heartbeat = Heartbeat(self.services.db, owner, self.settings.jobs.heartbeat_interval)
        return self._heartbeat


@contextmanager
def job_context(task: Task, job_id: str) -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job_id=job_id, task_id=task.request.id, task=task.name)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()


def register_tasks(app: Celery, runtime: WorkerRuntime) -> None:
    """Register glint's tasks on ``app``; they run against ``runtime``'s services."""

    @app.task(name="images.upload", bind=True, acks_late=True, shared=False)
    def upload(task: Task, job_id: str) -> str:
        """Move an upload's staged data into its store and activate the image.

        Idempotent: a job that is not ``queued`` (already done, or held by a
        live worker) is skipped. Store failures fail the job and put the
        image back to ``queued``; a worker that dies leaves the job to the
        scrubber's reaper.
        """
        with job_context(task, job_id):
            outcome = run_upload(runtime.services, job_id, runtime.heartbeat)
            log.info("task_done", outcome=outcome)
            return outcome

    @app.task(name="images.delete", bind=True, acks_late=True, shared=False)
    def delete(task: Task, job_id: str) -> str:
        """Purge a ``pending_delete`` image's data from every store and mark it ``deleted``. Idempotent."""
        with job_context(task, job_id):
            outcome = run_delete(runtime.services, job_id, runtime.heartbeat)
            log.info("task_done", outcome=outcome)
            return outcome

    @app.task(name="images.import", bind=True, acks_late=True, shared=False)
    def import_(task: Task, job_id: str) -> str:
        """Run an import: acquire the data (staged, downloaded, copied or from another region), write every
        target store, and finish the task. Idempotent; a failure reverts the import and fails its task."""
        with job_context(task, job_id):
            outcome = run_import(runtime.services, job_id, runtime.heartbeat)
            log.info("task_done", outcome=outcome)
            return outcome
