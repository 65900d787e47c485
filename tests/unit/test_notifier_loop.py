"""The notifier's loop: a steady stream of events goes out in batches, every event once and in order."""

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
    try:
        ends = time.monotonic() + 0.6
        while time.monotonic() < ends:  # one create after another, as a client's loop sends them
            created.append(images.create_image(services, member(), {"name": str(len(created))}).id)
        deadline = time.monotonic() + 10
        while outbox_events(services) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(10)
    sent = [json.loads(body["oslo.message"])["payload"]["id"] for _, body in publisher.published]
    assert sent == created  # each image.create once, in the order of the creates
    # polled again at once after each batch, the loop took one or two events at a time
    assert len(batches) <= len(created) / 3, batches
