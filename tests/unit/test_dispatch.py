"""The Celery dispatcher's hold-off after a failed send."""

from __future__ import annotations

import pytest

from shared.config.settings import Settings
from shared.domain.clock import utcnow
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.messaging.dispatch import BusUnavailable, CeleryDispatcher


class FlakyApp:
    """Stands in for the Celery app: records sends, failing while ``down``."""

    def __init__(self) -> None:
        self.down = True
        self.sent: list[tuple[str, list[str], str]] = []
        self.tries = 0

    def send_task(self, name: str, args: list[str], queue: str) -> None:
        self.tries += 1
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        self.sent.append((name, args, queue))


def job() -> Job:
    return Job(kind=JobKind.UPLOAD, image_id="i-1", status=JobStatus.QUEUED, created_at=utcnow())


def test_sends_right_after_a_failure_are_not_tried(tmp_path) -> None:
    now = [100.0]
    app = FlakyApp()
    dispatcher = CeleryDispatcher(app, Settings(data_dir=tmp_path, jobs={"dispatch_hold_off": 2}), lambda: now[0])
    with pytest.raises(ConnectionRefusedError):
        dispatcher.dispatch(job())
    app.down = False
    now[0] += 1.9
    with pytest.raises(BusUnavailable):
        dispatcher.dispatch(job())
    assert app.tries == 1
    now[0] += 0.2
    queued = job()
    dispatcher.dispatch(queued)
    assert app.sent == [("images.upload", [queued.id], "uploads")]


def test_no_hold_off_tries_every_send(tmp_path) -> None:
    app = FlakyApp()
    dispatcher = CeleryDispatcher(app, Settings(data_dir=tmp_path, jobs={"dispatch_hold_off": 0}))
    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            dispatcher.dispatch(job())
    assert app.tries == 3
