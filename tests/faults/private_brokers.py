"""Brokers of the test's own (a Redis, a RabbitMQ node) on free ports, so a fault test can kill and start
them without touching the machine's shared servers. Each skips (or fails in CI) without its binaries."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import redis

from tests.e2e.deployment import eventually, free_port
from tests.servers import unavailable

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class PrivateRedis:
    """No persistence: what is queued in it dies with it."""

    def __init__(self, root: Path) -> None:
        if shutil.which("redis-server") is None:
            unavailable("no redis-server binary to run a private broker")
        self.port, self.process = free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.DEVNULL)  # fmt: skip
        eventually(self._answers, 10, "the private Redis to answer")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False


class PrivateRabbit:
    """A RabbitMQ node of its own (name, ports, data directory); its data directory outlives a kill, so
    durable queues and what they persisted come back with it."""

    def __init__(self, root: Path) -> None:
        if not os.path.exists(RABBITMQ_SERVER):
            unavailable(f"no {RABBITMQ_SERVER} to run a private broker")
        self.root, self.port, self.process = root, free_port(), None
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.env = {**os.environ, "HOME": str(root), "RABBITMQ_NODENAME": f"glint-{uuid.uuid4().hex[:8]}@localhost",
                    "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(free_port()),
                    "RABBITMQ_MNESIA_BASE": str(root / "mnesia"), "RABBITMQ_LOG_BASE": str(root / "log"),
                    "RABBITMQ_PID_FILE": str(root / "pid"), "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "plugins"),
                    "RABBITMQ_CONFIG_FILE": str(root / "none")}  # fmt: skip

    def start(self) -> None:
        log = open(self.root / "server.out", "ab")
        self.process = subprocess.Popen([RABBITMQ_SERVER], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)  # fmt: skip
        eventually(lambda: _listening(self.port), 60, "the private RabbitMQ node to listen")

    def kill(self) -> None:
        """SIGKILL the node (the Erlang VM and its helpers; the machine's epmd is not in its group)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            eventually(lambda: not _listening(self.port), 10, "the private RabbitMQ node to go")
