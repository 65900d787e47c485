"""Sending jobs to their queues."""

from __future__ import annotations

from typing import Protocol

from celery import Celery

from shared.config.settings import Settings
from shared.domain.jobs import Job
from shared.messaging.celery_app import queue_name


class JobDispatcher(Protocol):
    """Sends "run job X" to the job's queue. Raises on failure; the reaper re-sends lost jobs."""

    def dispatch(self, job: Job) -> None: ...


class CeleryDispatcher:
    """Sends a job as a Celery task message carrying only the job id."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def dispatch(self, job: Job) -> None:
        self.app.send_task(job.task_name, args=[job.id], queue=queue_name(self.settings, job.queue))
