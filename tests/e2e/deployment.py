"""glint's four services as separate processes, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import kombu
import requests

from shared.config import Settings, load_settings
from shared.messaging.connections import broker_connection
from shared.persistence.database import Database
from tests.helpers import image_bytes

SERVICES = ("api", "worker", "notifier", "scrubber")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return str(value)


def write_config(path: Path, config: dict[str, Any]) -> None:
    """Write ``config`` as TOML; nested dicts become (dotted) tables."""
    path.write_text("\n".join(_table_lines(config, "")) + "\n")


def _table_lines(table: dict[str, Any], name: str) -> list[str]:
    lines = [f"\n[{name}]"] if name else []
    lines += [f"{key} = {_toml(value)}" for key, value in table.items() if not isinstance(value, dict)]
    for key, value in table.items():
        if isinstance(value, dict):
            lines += _table_lines(value, f"{name}.{key}" if name else key)
    return lines


class Deployment:
    """A config file, a data directory and the service processes started from them."""

    def __init__(self, root: Path, config: dict[str, Any]) -> None:
        self.root = root
        self.config_file = root / "glint.toml"
        write_config(self.config_file, config)
        self.settings: Settings = load_settings(self.config_file, {})
        self.url = self.settings.api_url
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = root / "logs"
        self.logs.mkdir(exist_ok=True)
        self._db: Database | None = None

    # -- processes ---------------------------------------------------------------------------
    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "services.cli", "--config", str(self.config_file), *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a one-off glint command (``db upgrade``, ``scrubber --once``...)."""
        return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout,
                              env=self._env())  # fmt: skip

    def start(self, *services: str, env: dict[str, str] | None = None) -> None:
        for service in services or SERVICES:
            self.spawn(service, service, env=env)
        if "api" in (services or SERVICES):
            self.wait_ready()

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        """Start ``glint ARGS`` as process ``name`` (a second notifier: ``spawn("notifier-2", "notifier")``),
        with ``env`` added to its environment (``GLINT_TEST_CRASH_AT``...)."""
        log = open(self.logs / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            self.command(*args), stdout=log, stderr=subprocess.STDOUT, env={**self._env(), **(env or {})},
            start_new_session=True,
        )  # fmt: skip

    def wait_exit(self, service: str, timeout: float = 60) -> int:
        """Wait for the service to end by itself (a crash point); returns its exit code."""
        process = self.processes.pop(service)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(f"{service} did not end within {timeout}s:\n{self.log(service)}") from None

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes["api"].poll() is not None:
                raise RuntimeError(f"the API exited:\n{self.log('api')}")
            try:
                if requests.get(f"{self.url}/versions", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"the API did not answer within {timeout}s:\n{self.log('api')}")

    def kill(self, service: str) -> None:
        """SIGKILL the service and everything it started (no chance to clean up)."""
        process = self.processes.pop(service)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        """SIGTERM every service at once, then wait (a Celery worker on AMQP takes seconds to notice)."""
        running = {name: p for name, p in self.processes.items() if p.poll() is None}
        for process in running.values():
            os.killpg(process.pid, signal.SIGTERM)
        for process in running.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
        if self._db is not None:
            self._db.dispose()

    def pids(self, service: str) -> list[int]:
        """The service's process and all its descendants."""
        found, todo = [], [self.processes[service].pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            todo += [int(child) for child in children]
        return found

    def log(self, service: str) -> str:
        path = self.logs / f"{service}.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def _env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("GLINT_")}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    # -- inspection ---------------------------------------------------------------------------
    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database_url)
        return self._db

    def jobs_of(self, image_id: str) -> list[Any]:
        from sqlalchemy import select

        from shared.persistence.tables import jobs

        with self.db.transaction(write=False) as uow:
            rows = uow.conn.execute(select(jobs.c.id).where(jobs.c.image_id == image_id)).scalars().all()
            return [uow.jobs.get(job_id) for job_id in rows]

    def store_files(self, store: str = "fast") -> list[Path]:
        return sorted(p for p in self.settings.store_dir(store).iterdir() if not p.name.startswith("."))

    def staging_files(self) -> list[Path]:
        return sorted(p for p in self.settings.staging_dir.iterdir() if p.is_file())


class Api:
    """Plain HTTP against glint with keystonemiddleware's identity headers."""

    def __init__(self, url: str, project: str = "p1", roles: str = "member,reader", user: str = "u1") -> None:
        self.url = url
        self.http = requests.Session()
        self.http.headers.update(
            {"X-Identity-Status": "Confirmed", "X-User-Id": user, "X-Project-Id": project, "X-Roles": roles,
             "Accept": "application/json"}
        )  # fmt: skip

    def create(self, **body: Any) -> dict[str, Any]:
        response = self.http.post(f"{self.url}/v2/images", json={"disk_format": "raw", "container_format": "bare",
                                                                  **body})  # fmt: skip
        assert response.status_code == 201, response.text
        return response.json()

    def show(self, image_id: str) -> requests.Response:
        return self.http.get(f"{self.url}/v2/images/{image_id}")

    def upload(self, image_id: str, data: bytes | Iterable[bytes], **headers: str) -> requests.Response:
        return self.http.put(f"{self.url}/v2/images/{image_id}/file", data=data,
                             headers={"Content-Type": "application/octet-stream", **headers})  # fmt: skip

    def patch(self, image_id: str, changes: list[dict[str, Any]]) -> requests.Response:
        """PATCH with the v2.1 JSON-patch media type."""
        return self.http.patch(f"{self.url}/v2/images/{image_id}", data=json.dumps(changes),
                               headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})  # fmt: skip

    def download(self, image_id: str, **headers: str) -> requests.Response:
        return self.http.get(f"{self.url}/v2/images/{image_id}/file", headers=headers, stream=True)

    def delete(self, image_id: str) -> requests.Response:
        return self.http.delete(f"{self.url}/v2/images/{image_id}")

    def action(self, image_id: str, name: str) -> requests.Response:
        return self.http.post(f"{self.url}/v2/images/{image_id}/actions/{name}")

    def wait_for(self, image_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.show(image_id)
            if response.status_code == 200:
                body = response.json()
                if body["status"] in statuses:
                    return body
            time.sleep(0.1)
        raise AssertionError(f"image {image_id} is {body.get('status')}, not one of {statuses}, after {timeout}s")


class EventTap:
    """A subscriber bound to the ``glance`` exchange before anything happens; collects oslo messages."""

    def __init__(self, settings: Settings) -> None:
        self.connection = broker_connection(settings.events_url, settings.bus_dir)
        exchange = kombu.Exchange(settings.control_exchange, type="topic", durable=False)
        self.queue = kombu.Queue(f"tap-{uuid.uuid4().hex[:8]}", exchange, routing_key="notifications.*",
                                 durable=False, auto_delete=True)  # fmt: skip
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._consume, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the event tap did not bind"

    def _consume(self) -> None:
        with kombu.Connection(self.connection.url, transport_options=self.connection.transport_options) as conn:

            def on_message(body: dict[str, Any], message: kombu.Message) -> None:
                inner = json.loads(body["oslo.message"])
                self.messages.append((message.delivery_info.get("routing_key", ""), inner))
                message.ack()

            with conn.Consumer([self.queue], callbacks=[on_message], accept=["json"]):
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        conn.drain_events(timeout=0.2)
                    except TimeoutError:
                        pass
            # auto_delete removes a queue on Redis only when it is empty: one left bound to the exchange
            # got a copy of every later event on the shared server, unread, for good
            self.queue.bind(conn.default_channel).delete()

    def events_for(self, *ids: str) -> list[dict[str, Any]]:
        """Events about these ids (an image's and its tasks': task events name the task, not the image)."""
        return [inner for _, inner in self.messages if _image_id(inner) in ids]

    def wait_until(self, check: Callable[[], bool], timeout: float = 30) -> None:
        eventually(check, timeout, f"the expected events (got {[m['event_type'] for _, m in self.messages]})")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def eventually(check: Callable[[], bool], timeout: float = 30, what: str = "the condition") -> None:
    """Wait until ``check()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def _image_id(inner: dict[str, Any]) -> str | None:
    payload = inner["payload"]
    if isinstance(payload, dict):
        return payload.get("id") or payload.get("image_id")
    return next((word for word in str(payload).split() if len(word) == 36 and word.count("-") == 4), None)


def varied_chunks(total: int, chunk: int = 1024 * 1024, seed: bytes = b"glint") -> Iterator[bytes]:
    """``total`` bytes of varied data without holding them: one random block, salted per chunk, its first
    sector zeros so that no format inspector takes it for a disk image (see tests.helpers.image_bytes)."""
    block = bytearray(image_bytes(chunk))
    sent, n = 0, 0
    while sent < total:
        size = min(chunk, total - sent)
        block[:8] = n.to_bytes(8, "big")
        yield bytes(block[:size])
        sent += size
        n += 1
