"""Fakes for the bus: a job dispatcher and a notification publisher that record what they send."""

from __future__ import annotations

from typing import Any

from shared.domain.jobs import Job


class RecordingDispatcher:
    """Records each job sent, as (queue, task name, job id). ``fail`` makes sends raise."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail = False

    def dispatch(self, job: Job) -> None:
        if self.fail:
            raise ConnectionError("the bus is down")
        self.sent.append((job.queue, job.task_name, job.id))

    def drain(self, queue: str) -> list[str]:
        """The job ids sent to ``queue`` since the last drain, in order."""
        taken = [job_id for q, _, job_id in self.sent if q == queue]
        self.sent = [item for item in self.sent if item[0] != queue]
        return taken


class RecordingPublisher:
    """Records each published (routing key, body). ``fail_after`` makes later publishes raise."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.content_types: list[str] = []
        self.fail_after: int | None = None
        self.closed = False

    def publish(self, body: dict[str, Any], routing_key: str, *, content_type: str = "application/json") -> None:
        if self.fail_after is not None and len(self.published) >= self.fail_after:
            raise ConnectionError("the bus is down")
        self.published.append((routing_key, body))
        self.content_types.append(content_type)

    def close(self) -> None:
        self.closed = True
