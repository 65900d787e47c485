"""kombu's filesystem transport, made safe for separately started processes.

The stock transport creates a message file and then writes it, so a
consumer polling the folder can move and read a half-written file; and it
moves claimed files through the system temporary directory, which may be on
another filesystem (a copy, not an atomic move). Here a message is written
under a hidden name and renamed into place, and a consumer claims it by
renaming it into a claim folder beside the queue folder. A consumer that
dies after claiming loses the message; glint's job reaper re-sends the job.
A consumer that finds no message waits for one to be renamed into the
folder (:class:`FolderWatch`) instead of sleeping a polling interval; one
that may not take more until it settles a message (its prefetch limit)
waits for that ack.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from queue import Empty
from typing import Any

from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

from shared.messaging.folder_watch import FolderWatch

_sequence = itertools.count()


class QoS(virtual.QoS):
    """Prefetch accounting that wakes the channel's transport when a message is settled: a consumer held
    back by its prefetch limit may take the next message at once."""

    def ack(self, delivery_tag: Any) -> None:
        super().ack(delivery_tag)
        self._wake()

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        super().reject(delivery_tag, requeue)
        self._wake()

    def _wake(self) -> None:
        transport = self.channel.connection  # None once the channel is closed
        if isinstance(transport, Transport):
            transport.wake()


class Channel(filesystem.Channel):
    """A filesystem channel with atomic puts and claims."""

    QoS = QoS

    def _put(self, queue: str, payload: dict, **kwargs: object) -> None:
        stamp = f"{time.monotonic_ns():020d}{next(_sequence) % 1000:03d}"
        name = f"{stamp}_{uuid.uuid4().hex}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        temp = os.path.join(self.data_folder_out, f".{name}.tmp")
        with open(temp, "wb") as handle:
            handle.write(str_to_bytes(dumps(payload)))
        os.rename(temp, final)

    def _get(self, queue: str) -> dict:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.startswith(".") or name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.claim_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                with open(claimed, "rb") as handle:
                    payload = handle.read()
            finally:
                os.unlink(claimed)
            return loads(bytes_to_str(payload))
        raise Empty()

    @cached_property
    def claim_folder(self) -> str:
        folder = self.transport_options.get("claim_folder") or os.path.join(self.data_folder_in, ".claimed")
        os.makedirs(folder, exist_ok=True)
        return folder


class Transport(filesystem.Transport):
    """The filesystem transport with :class:`Channel`, waking consumers when a message arrives."""

    Channel = Channel
    WATCHED_POLL_S = 1.0  # with a watch, the folder is looked at this often anyway (a safety net, not the way in)

    _watch: FolderWatch | None = None

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        """Deliver one message; raise ``TimeoutError`` when none came within ``timeout`` seconds."""
        started = time.monotonic()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                pass
            left = None if timeout is None else timeout - (time.monotonic() - started)
            if left is not None and left <= 0:
                raise TimeoutError()
            if self._watch is None:  # made on the first empty look: files landing after it are seen
                self._watch = FolderWatch(self.client.transport_options["data_folder_in"])
                continue
            interval = self.WATCHED_POLL_S if self._watch.watching or self._held_back() else self.polling_interval
            self._watch.wait(interval if left is None else min(interval, left))

    def _held_back(self) -> bool:
        """True when a consumer may not take a message before it settles one (woken by :meth:`wake`)."""
        return any(channel._consumers and not channel.qos.can_consume() for channel in self.channels)

    def wake(self) -> None:
        """End a wait in :meth:`drain_events` (a message was settled: there may be room for the next)."""
        if self._watch is not None:
            self._watch.wake()

    def close_connection(self, connection: Any) -> None:
        super().close_connection(connection)
        if self._watch is not None:
            self._watch.close()
            self._watch = None
