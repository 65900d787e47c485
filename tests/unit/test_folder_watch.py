"""The folder watch, and the embedded bus's consumers waking on it instead of polling."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import kombu
import pytest

from shared.messaging.connections import broker_connection
from shared.messaging.folder_watch import FolderWatch
from shared.messaging.fs_transport import Channel, Transport

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")


def land(folder: Path, name: str, after: float = 0.0) -> threading.Timer:
    """Write ``name`` under a hidden name and rename it into ``folder``, as the bus does, ``after`` seconds on."""

    def write() -> None:
        hidden = folder / f".{name}.tmp"
        hidden.write_bytes(b"{}")
        os.rename(hidden, folder / name)

    timer = threading.Timer(after, write)
    timer.start()
    return timer


@linux_only
def test_a_file_renamed_in_while_waiting_wakes_the_waiter(tmp_path: Path) -> None:
    watch = FolderWatch(str(tmp_path))
    assert watch.watching
    land(tmp_path, "one.msg", after=0.1)
    assert watch.wait(60) is True
    assert watch.wait(0.05) is False  # that arrival was taken: nothing more until another lands
    watch.close()


@linux_only
def test_a_file_that_landed_before_the_wait_is_not_missed(tmp_path: Path) -> None:
    watch = FolderWatch(str(tmp_path))
    land(tmp_path, "early.msg").join()
    land(tmp_path, "second.msg").join()
    assert watch.wait(60) is True  # both arrivals at once
    assert watch.wait(0.05) is False
    watch.close()


def test_without_a_watch_wait_sleeps_its_timeout(tmp_path: Path) -> None:
    watch = FolderWatch(str(tmp_path / "missing"))
    assert not watch.watching
    assert watch.wait(0.01) is False
    watch.close()


@pytest.mark.parametrize("folder", ["present", "missing"])
def test_a_wake_from_another_thread_ends_the_wait(tmp_path: Path, folder: str) -> None:
    (tmp_path / "present").mkdir()
    watch = FolderWatch(str(tmp_path / folder))
    waker = threading.Timer(0.1, watch.wake)
    waker.start()
    assert watch.wait(60) is True
    watch.wake()  # before the wait: the next wait ends at once
    watch.wake()
    assert watch.wait(60) is True
    assert watch.wait(0.05) is False  # both wakes were taken by that one wait
    waker.join()
    watch.close()


@linux_only
def test_an_embedded_bus_consumer_gets_a_message_sent_while_it_waits(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(Transport, "WATCHED_POLL_S", 600.0)  # only the watch can wake it within the timeout
    looks: list[str] = []
    original_get = Channel._get

    def counted_get(channel: Channel, queue: str) -> dict:
        looks.append(queue)
        return original_get(channel, queue)

    monkeypatch.setattr(Channel, "_get", counted_get)
    connection = broker_connection("", tmp_path / "bus")
    queue = kombu.Queue("watched", kombu.Exchange("watched", type="direct"), routing_key="watched")
    got: list[dict] = []
    with kombu.Connection(connection.url, transport_options=connection.transport_options) as consumer_conn:
        with consumer_conn.Consumer([queue], callbacks=[lambda body, message: (got.append(body), message.ack())],
                                    accept=["json"]):  # fmt: skip
            with pytest.raises(TimeoutError):
                consumer_conn.drain_events(timeout=0.05)  # empty: the watch is on from here

            def send() -> None:
                with kombu.Connection(connection.url, transport_options=connection.transport_options) as conn:
                    conn.Producer().publish({"n": 1}, exchange=queue.exchange, routing_key="watched",
                                            declare=[queue], serializer="json")  # fmt: skip

            timer = threading.Timer(0.2, send)
            timer.start()
            looks.clear()
            consumer_conn.drain_events(timeout=60)
            timer.join()
    assert got == [{"n": 1}]
    assert len(looks) <= 3  # one look, a wait, a look that finds it: not a loop of looks (or a spurious wake)


@linux_only
def test_a_consumer_at_its_prefetch_limit_takes_the_next_message_once_it_acks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(Transport, "WATCHED_POLL_S", 600.0)  # only the ack can end the wait within the timeout
    waits: list[bool] = []
    original_wait = FolderWatch.wait

    def recorded_wait(watch: FolderWatch, timeout: float) -> bool:
        waits.append(original_wait(watch, timeout))
        return waits[-1]

    monkeypatch.setattr(FolderWatch, "wait", recorded_wait)
    connection = broker_connection("", tmp_path / "bus")
    queue = kombu.Queue("held", kombu.Exchange("held", type="direct"), routing_key="held")
    got: list[kombu.Message] = []
    with kombu.Connection(connection.url, transport_options=connection.transport_options) as conn:
        channel = conn.channel()
        channel.basic_qos(0, 1, False)  # one message at a time, as a worker of concurrency 1 takes them
        with kombu.Consumer(channel, [queue], callbacks=[lambda body, message: got.append(message)], accept=["json"]):
            producer = conn.Producer()
            for n in (1, 2):
                producer.publish({"n": n}, exchange=queue.exchange, routing_key="held", declare=[queue],
                                 serializer="json")  # fmt: skip
            conn.drain_events(timeout=5)
            assert [m.payload for m in got] == [{"n": 1}]
            acker = threading.Timer(0.2, got[0].ack)  # the task ends on another thread
            acker.start()
            waits.clear()
            conn.drain_events(timeout=60)
            acker.join()
    assert [m.payload for m in got] == [{"n": 1}, {"n": 2}]
    assert waits and all(waits)  # each wait was ended by the ack, none ran out its time
