"""Stopping a service loop cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for loops that sleep with ``event.wait(seconds)``."""
    event = threading.Event()

    def _handler(signum, _frame):  # type: ignore[no-untyped-def]
        event.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return event
