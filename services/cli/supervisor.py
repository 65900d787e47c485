"""``glint up``: the four services as child processes, their output interleaved, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field

from services.cli.parent import SUPERVISOR_PID
from shared.config.settings import Settings

SERVICES = ("api", "worker", "notifier", "scrubber")
STOP_ORDER = ("api", "worker", "scrubber", "notifier")  # the notifier last, to relay the final events
COLORS = {"api": "36", "worker": "33", "notifier": "35", "scrubber": "32"}
STOP_TIMEOUT = 15.0
READY_TIMEOUT = 60.0
RELAY_READ = 65536  # a pipe's capacity: a child writing faster than this per RELAY_EVERY_S waits for the relay
RELAY_EVERY_S = 0.01


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    reader: threading.Thread | None = field(default=None, repr=False)


class Supervisor:
    """Starts, watches and stops the services; restarts one that dies, with a growing delay."""

    def __init__(self, settings: Settings, config_file: str | None) -> None:
        self.settings = settings
        self.config_file = config_file
        self.children = {name: Child(name) for name in SERVICES}
        self.stopping = threading.Event()
        self.tty = sys.stdout.isatty()
        self._print_lock = threading.Lock()

    def run(self) -> int:
        """Run until SIGINT or SIGTERM; returns the exit code."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for child in self.children.values():
            self._spawn(child)
        threading.Thread(target=self._announce_when_ready, daemon=True).start()
        while not self.stopping.is_set():
            for child in self.children.values():
                process = child.process
                if process is not None and process.poll() is not None and not self.stopping.is_set():
                    self._say("glint", f"{child.name} exited with status {process.returncode}; restarting")
                    delay = (
                        min(30.0, 2.0 ** min(child.restarts, 5)) if time.monotonic() - child.started_at < 60 else 1.0
                    )
                    child.restarts += 1
                    if self.stopping.wait(delay):
                        break
                    self._spawn(child)
            self.stopping.wait(0.5)
        return self._stop_all()

    # -- children ------------------------------------------------------------------------------
    def _spawn(self, child: Child) -> None:
        command = [sys.executable, "-m", "services.cli"]
        if self.config_file:
            command += ["--config", os.path.abspath(self.config_file)]
        command.append(child.name)
        env = dict(os.environ)
        env["GLINT_DATA_DIR"] = str(self.settings.data_dir)
        env["GLINT_LOGGING__FORMAT"] = "console" if self.tty else "json"
        env["PYTHONUNBUFFERED"] = "1"
        env[SUPERVISOR_PID] = str(os.getpid())  # the child stops when this process dies (services/cli/parent.py)
        child.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        child.started_at = time.monotonic()
        child.reader = threading.Thread(target=self._relay_output, args=(child, child.process), daemon=True)
        child.reader.start()

    def _relay_output(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        """Relay the child's lines, gathered for ``RELAY_EVERY_S`` at a time: a line at a time, the API's line
        per request woke this process once per request (60-200 µs of CPU each, measured on the two-core
        machine). A partial line waits for its end; what is left at the child's exit is relayed then."""
        assert process.stdout is not None
        fd = process.stdout.fileno()
        pending = b""
        while chunk := os.read(fd, RELAY_READ):
            *lines, pending = (pending + chunk).split(b"\n")
            self._say_all(child.name, [line.decode("utf-8", "replace") for line in lines])
            time.sleep(RELAY_EVERY_S)
        if pending:
            self._say_all(child.name, [pending.decode("utf-8", "replace")])

    def _stop_all(self) -> int:
        self._say("glint", "stopping")
        for name in STOP_ORDER:
            process = self.children[name].process
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._say("glint", f"{name} did not stop in {STOP_TIMEOUT:.0f}s; killing it")
                process.kill()
                process.wait()
        for child in self.children.values():
            if child.reader is not None:
                child.reader.join(timeout=2)
        self._say("glint", "stopped")
        return 0

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self.stopping.set()

    # -- output -----------------------------------------------------------------------------
    def _announce_when_ready(self) -> None:
        url = self.settings.api_url
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and not self.stopping.is_set():
            try:
                urllib.request.urlopen(url + "/versions", timeout=1).close()
            except Exception:
                time.sleep(0.2)
                continue
            self._say("glint", f"glint is up: {url}  (data in {self.settings.data_dir}; Ctrl-C stops it)")
            return
        if not self.stopping.is_set():
            self._say("glint", f"the API did not answer on {url} within {READY_TIMEOUT:.0f}s")

    def _say(self, name: str, line: str) -> None:
        self._say_all(name, [line])

    def _say_all(self, name: str, lines: list[str]) -> None:
        if not lines:
            return
        label = f"{name:<8}|"
        if self.tty and name in COLORS:
            label = f"\033[{COLORS[name]}m{label}\033[0m"
        text = "".join(f"{label} {line}\n" for line in lines)
        with self._print_lock:
            sys.stdout.write(text)
            sys.stdout.flush()
