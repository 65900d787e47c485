"""The Celery dispatcher's hold-off after a failed send."""

from __future__ import annotations

import pytest
from celery.app import backends as celery_backends

from shared.config.settings import Settings
from shared.domain.clock import utcnow
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.messaging.celery_app import make_celery
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


@pytest.fixture
def backend_loads(monkeypatch) -> list[str]:
    """Each time Celery loads its result backend (what made the first send of a process slow)."""
    loads: list[str] = []
    real = celery_backends.by_url

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        loads.append(str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(celery_backends, "by_url", counted)
    return loads


def test_prepare_loads_what_the_first_send_needs_so_that_the_send_does_not(tmp_path, backend_loads) -> None:
    settings = Settings(data_dir=tmp_path)  # the embedded bus
    dispatcher = CeleryDispatcher(make_celery(settings), settings)
    dispatcher.prepare()
    assert len(backend_loads) == 1
    dispatcher.dispatch(job())
    dispatcher.dispatch(job())
    assert len(backend_loads) == 1  # the sends found it loaded


def test_prepare_connects_to_nothing(tmp_path, backend_loads) -> None:
    settings = Settings(data_dir=tmp_path, transport_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    app = make_celery(settings)
    CeleryDispatcher(app, settings).prepare()  # a broker that is down fails sends, not this
    assert len(backend_loads) == 1 and app.amqp._producer_pool is not None
