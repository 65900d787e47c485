"""The ``glint`` command: ``up`` as a supervisor, schema checks, and configuration errors."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import requests

from tests.e2e.deployment import eventually, free_port, write_config


def glint(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GLINT_")}
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip


def children(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        try:
            kids = [int(k) for k in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except OSError:
            kids = []
        found.update(kids)
        todo += kids
    return found


def start_up(folder: Path) -> tuple[subprocess.Popen[str], list[str], int]:
    """``glint up`` in ``folder`` on a free port: the process, its output lines as they come, the port."""
    port = free_port()
    write_config(folder / "glint.toml", {"bind_port": port})
    env = {key: value for key, value in os.environ.items() if not key.startswith("GLINT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "--config", "glint.toml", "up"],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True).start()
    return process, lines, port


def test_up_runs_all_services_and_stops_them_on_ctrl_c(tmp_path: Path) -> None:
    process, lines, port = start_up(tmp_path)
    try:
        eventually(lambda: any("glint is up: http://127.0.0.1:" in line for line in lines), 60, "glint up's URL")
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 300

        def services_heard() -> set[str]:
            return {line.split("|")[0].strip() for line in list(lines) if "|" in line}

        # each service's first line may come after the API answers (a loaded machine starts the worker later)
        expected = {"api", "worker", "notifier", "scrubber"}
        eventually(lambda: expected <= services_heard(), 30, "a line from each service")
        assert (tmp_path / "glint-data" / "glint.db").exists()

        # a service that dies is started again
        notifier = [pid for pid in children(process.pid) if b"notifier" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        os.kill(notifier[0], signal.SIGKILL)
        eventually(lambda: any("notifier exited" in line for line in lines), 10, "the supervisor noticing")

        def notifier_back() -> bool:
            return any(
                b"notifier" in Path(f"/proc/{pid}/cmdline").read_bytes()
                for pid in children(process.pid)
                if Path(f"/proc/{pid}").exists()
            )

        eventually(notifier_back, 20, "the notifier restarted")

        before = children(process.pid)
        process.send_signal(signal.SIGINT)
        assert process.wait(40) == 0
        assert not [pid for pid in before if Path(f"/proc/{pid}").exists()], "children left running"
        assert any("stopped" in line for line in lines)
    finally:
        if process.poll() is None:
            process.kill()


def test_services_refuse_an_outdated_schema_until_upgraded(tmp_path: Path) -> None:
    refused = glint("api", cwd=tmp_path)
    assert refused.returncode != 0
    assert "glint db upgrade" in refused.stderr and "empty" in refused.stderr
    upgraded = glint("db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0 and re.search(r"empty -> \w+", upgraded.stdout)
    current = glint("db", "current", cwd=tmp_path)
    assert current.returncode == 0 and "run glint db upgrade" not in current.stdout


def test_configuration_errors_are_clear(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('scrub_time = "soon"\n[glance_store]\ndefault_backend = "nope"\n')
    result = glint("--config", "bad.toml", "scrubber", "--once", cwd=tmp_path)
    assert result.returncode != 0
    assert "scrub_time" in result.stderr
    glint("db", "upgrade", cwd=tmp_path)
    queues = glint("worker", "--queues", "uploads,exports", cwd=tmp_path)
    assert queues.returncode != 0 and "unknown queue(s) exports" in queues.stderr
    assert "Traceback" not in queues.stderr


def _described(pid: int) -> str:
    """A process's command line and state, for a failure message."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    return f"{command.strip()} (state {_state(pid)})"


def test_services_stop_when_glint_up_is_killed_outright(tmp_path: Path) -> None:
    process, lines, port = start_up(tmp_path)
    services: set[int] = set()
    try:
        eventually(lambda: any("glint is up: http://127.0.0.1:" in line for line in lines), 60, "glint up's URL")
        services = children(process.pid)  # the four services and the API's server processes
        assert len(services) >= 4
        process.kill()  # SIGKILL: no chance to stop the services itself
        process.wait(10)

        def left() -> list[int]:
            return [pid for pid in services if Path(f"/proc/{pid}").exists() and not _zombie(pid)]

        try:
            eventually(lambda: not left(), 40, "every service gone after its supervisor")
        except AssertionError as exc:
            running = {pid: _described(pid) for pid in left()}
            raise AssertionError(f"{exc}; still running: {running}\nglint up said:\n{''.join(lines[-60:])}") from None
        with socket.socket() as sock:
            # the API's port is free again: nothing listens on it. SO_REUSEADDR, as any server sets it, because
            # the readiness check's connection may have left a TIME_WAIT entry on the port, which blocks a
            # plain bind for a minute yet does not stop a server from listening there
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen()
    finally:
        if process.poll() is None:
            process.kill()
        for pid in services:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)


def _state(pid: int) -> str | None:
    """The process's state letter (R, S, Z...), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _zombie(pid: int) -> bool:
    return _state(pid) in (None, "Z")
