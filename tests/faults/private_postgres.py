"""A PostgreSQL server of the test's own (initdb + pg_ctl on a free port), so that a fault test can stop
and start it without touching the machine's shared server. Skips (or fails in CI) without the binaries."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.deployment import free_port
from tests.servers import unavailable


class PrivatePostgres:
    """``url`` for a ``glint`` database; ``stop()`` and ``start()`` as often as the test likes."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir, self.root, self.port = bin_dir, root, port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/glint"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "server.log"), "-w", "start",
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or ([shutil.which("initdb")] if shutil.which(
        "initdb") else [])  # fmt: skip
    if not found:
        unavailable("no PostgreSQL server binaries (initdb, pg_ctl) to run a private server")
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="glint-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = PrivatePostgres(bin_dir, root, free_port())
    server._run("initdb", "-D", str(root / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    server.start()
    try:
        server._run("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "glint")
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(root, ignore_errors=True)
