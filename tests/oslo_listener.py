"""An oslo.messaging notification listener in its own process, as Ceilometer runs one.

``python -m tests.oslo_listener URL EXCHANGE POOL`` prints ``ready`` once it
listens, then one JSON line per notification (priority, publisher_id,
event_type, payload, metadata), until its standard input closes.
"""

from __future__ import annotations

import json
import sys
import threading

import oslo_messaging
from oslo_config import cfg

lock = threading.Lock()


class Endpoint:
    """Receives every priority glint sends (oslo calls the method named after it)."""

    def _emit(self, priority: str, publisher_id: str, event_type: str, payload, metadata) -> None:  # type: ignore[no-untyped-def]
        line = json.dumps({"priority": priority, "publisher_id": publisher_id, "event_type": event_type,
                           "payload": payload, "metadata": metadata})  # fmt: skip
        with lock:
            print(line, flush=True)

    def info(self, ctxt, publisher_id, event_type, payload, metadata):  # type: ignore[no-untyped-def]
        self._emit("INFO", publisher_id, event_type, payload, metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):  # type: ignore[no-untyped-def]
        self._emit("ERROR", publisher_id, event_type, payload, metadata)


def main(url: str, exchange: str, pool: str) -> None:
    conf = cfg.ConfigOpts()
    conf([], project="listener")
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    targets = [oslo_messaging.Target(topic="notifications", exchange=exchange)]
    listener = oslo_messaging.get_notification_listener(transport, targets, [Endpoint()], executor="threading",
                                                        pool=pool)  # fmt: skip
    conf.set_override("executor_thread_pool_size", 1)  # handle in arrival order (the default is 64 threads)
    listener.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes our input
    listener.stop()
    listener.wait()
    transport.cleanup()


if __name__ == "__main__":
    main(*sys.argv[1:4])
