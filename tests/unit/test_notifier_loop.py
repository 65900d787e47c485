"""The notifier's loop: a steady stream of events goes out in batches, every event once and in order; when it waits."""

from __future__ import annotations

import json
import threading
import time

import pytest

from services.notifier import main as notifier
from shared.handlers import images
from tests.conftest import member
from tests.fakes.messaging import RecordingPublisher
from tests.helpers import outbox_events


def test_a_steady_stream_of_events_is_relayed_in_batches(services, monkeypatch: pytest.MonkeyPatch) -> None:
    publisher = RecordingPublisher()
    monkeypatch.setattr(notifier, "make_publisher", lambda settings: publisher)
    batches: list[int] = []

    def counted(services, publisher) -> int:  # type: ignore[no-untyped-def]
        relayed = relay(services, publisher)
        if relayed:
            batches.append(relayed)
        return relayed

    relay = notifier.relay_once
    monkeypatch.setattr(notifier, "relay_once", counted)
    stop = threading.Event()
    loop = threading.Thread(target=notifier.run_notifier, args=(services, stop))
    loop.start()
    created = []
    started = time.monotonic()
    try:
        while time.monotonic() < started + 0.6:  # one create after another, as a client's loop sends them
            created.append(images.create_image(services, member(), {"name": str(len(created))}).id)
        deadline = time.monotonic() + 10
        while outbox_events(services) and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        loop.join(10)
    sent = [json.loads(body["oslo.message"])["payload"]["id"] for _, body in publisher.published]
    assert sent == created  # each image.create once, in the order of the creates
    # a batch at most every GATHER_S, however fast the creates came (polled again at once after each batch,
    # the loop took one or two events at a time: a batch per create or two)
    assert len(batches) <= elapsed / notifier.GATHER_S + 2, (len(created), batches)


class _Waits(threading.Event):
    """A stop event that records how long the loop asks to wait, without waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.asked.append(timeout if timeout is not None else -1.0)
        return self.is_set()


def test_the_loop_waits_after_a_batch_that_emptied_the_outbox_and_not_after_a_full_one(
    services, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = services.settings.oslo_messaging_notifications
    results = iter([3, 0, options.batch_size, options.batch_size, 1])
    stop = _Waits()

    def relay(services, publisher) -> int:  # type: ignore[no-untyped-def]
        relayed = next(results, None)
        if relayed is None:
            stop.set()
            return 0
        return relayed

    monkeypatch.setattr(notifier, "make_publisher", lambda settings: RecordingPublisher())
    monkeypatch.setattr(notifier, "relay_once", relay)
    notifier.run_notifier(services, stop)
    gather, idle = min(notifier.GATHER_S, options.poll_interval), options.poll_interval
    # 3: gather; 0: idle; two full batches: at once (a backlog is left); 1: gather; nothing: idle, stopped
    assert stop.asked == [gather, idle, gather, idle]
