"""Broker URLs and transport options, from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kombu.transport import TRANSPORT_ALIASES

EMBEDDED_SCHEME = "glintfs"


@dataclass(frozen=True)
class BrokerConnection:
    """What kombu and Celery need to connect to one bus."""

    url: str
    transport_options: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``embedded``, ``redis`` or ``amqp``."""
        scheme = self.url.split("://", 1)[0]
        if scheme == EMBEDDED_SCHEME:
            return "embedded"
        if scheme.startswith("redis") or scheme == "rediss":
            return "redis"
        return "amqp"


def broker_connection(url: str, bus_dir: Path) -> BrokerConnection:
    """The connection for ``url``; an empty URL means the embedded bus under ``bus_dir``.

    ``rabbit://`` (oslo.messaging's spelling) is accepted for ``amqp://``.
    """
    if not url:
        TRANSPORT_ALIASES.setdefault(EMBEDDED_SCHEME, "shared.messaging.fs_transport:Transport")
        queue_dir = bus_dir / "queues"
        for folder in (queue_dir, bus_dir / "control", bus_dir / "claimed"):
            folder.mkdir(parents=True, exist_ok=True)
        return BrokerConnection(
            url=f"{EMBEDDED_SCHEME}://localhost/",
            transport_options={
                "data_folder_in": str(queue_dir),
                "data_folder_out": str(queue_dir),
                "control_folder": str(bus_dir / "control"),
                "claim_folder": str(bus_dir / "claimed"),
                "polling_interval": 0.05,
            },
        )
    if url.startswith("rabbit://"):
        url = "amqp://" + url[len("rabbit://") :]
    options: dict[str, Any] = {}
    if url.startswith("redis"):
        # No ack emulation: the job table, not the broker, is what makes a job survive (the reaper re-sends
        # lost ones within redispatch_after), and kombu's emulated acks crash a Celery worker whose Redis
        # goes away ("Unrecoverable error: 'NoneType' object has no attribute 'hostname'" on restore).
        options["ack_emulation"] = False
    return BrokerConnection(url=url, transport_options=options)
