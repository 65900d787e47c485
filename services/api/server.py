"""Serving the API with gunicorn: threaded workers, one app per worker process."""

from __future__ import annotations

import socket
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from shared.config.settings import Settings


class StructlogGunicornLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger without its own handlers: its lines go through glint's structlog setup."""

    def setup(self, cfg: Any) -> None:
        self.error_log.handlers = []
        self.error_log.propagate = True
        self.error_log.setLevel(cfg.loglevel.upper())
        self.access_log.handlers = []
        self.access_log.propagate = False


class ApiServer(BaseApplication):  # type: ignore[misc]
    """gunicorn running ``create_app(settings)`` in each worker (built after the fork)."""

    def __init__(self, settings: Settings, *, workers: int | None = None, threads: int = 16) -> None:
        self.settings = settings
        processes = workers or settings.workers
        # One listening socket per process (SO_REUSEPORT), so that the kernel spreads new connections over
        # them. On one shared socket, whichever process woke first took a whole burst of connections, and a
        # kept-alive client stays where it was accepted: measured, 8 clients' creates ran on one process
        # (one core) in some runs and on both in others, 360-650 per second.
        reuse_port = processes > 1 and settings.bind_port != 0 and hasattr(socket, "SO_REUSEPORT")
        if reuse_port:
            refuse_if_taken(settings.bind_host, settings.bind_port)
        self.options: dict[str, Any] = {
            "bind": f"{settings.bind_host}:{settings.bind_port}",
            "workers": processes,
            "reuse_port": reuse_port,
            "worker_class": "services.api.worker_class.GlintThreadWorker",
            "threads": threads,
            "timeout": 120,
            "graceful_timeout": 20,
            "keepalive": 5,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": settings.logging.level.lower(),
            "proc_name": "glint-api",
            "control_socket_disable": True,  # one fixed path per user: it would collide between instances
            "logger_class": StructlogGunicornLogger,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        from services.api.app import create_app

        return create_app(self.settings)


def refuse_if_taken(host: str, port: int) -> None:
    """Exit with a clear message when something listens on ``host:port`` already.

    Sockets that all set SO_REUSEPORT share a port: without this check a second glint started on the same
    port would quietly take half of the first one's connections instead of failing to start.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]  # fmt: skip
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn's own: past TIME_WAIT only
        try:
            probe.bind(address)
        except OSError as exc:
            raise SystemExit(f"glint API: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
