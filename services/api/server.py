"""Serving the API with gunicorn: threaded workers, one app per worker process."""

from __future__ import annotations

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
        self.options: dict[str, Any] = {
            "bind": f"{settings.bind_host}:{settings.bind_port}",
            "workers": workers or settings.workers,
            "worker_class": "gthread",
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
