"""The machine's own limits, measured in the same run as glint: hashing, disk writes, loopback HTTP."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import requests

CHUNK = 1024 * 1024


def hash_rate(name: str, size: int) -> float:
    """MiB/s of one hashlib algorithm over ``size`` bytes, in 1 MiB updates."""
    block = os.urandom(CHUNK)
    digest = hashlib.new(name)
    started = time.perf_counter()
    for _ in range(size // CHUNK):
        digest.update(block)
    return size / CHUNK / (time.perf_counter() - started)


def hash_limit(size: int) -> float:
    """The slower of md5 and sha512 over ``size`` bytes now, in MiB/s: an upload computes both."""
    return min(hash_rate("md5", size), hash_rate("sha512", size))


def disk_write_rate(folder: Path, size: int, tries: int = 3) -> float:
    """MiB/s writing ``size`` bytes to a new file and fsyncing it (what "active" costs glint); the best of
    ``tries``. The first write can be several times slower than the disk on a virtual machine: its page
    cache lands on memory the machine has not touched since boot (seen here: 232 MiB/s, then 1483, 1439)."""
    block = os.urandom(CHUNK)
    path = folder / "bench-disk-write"
    rates = []
    for _ in range(tries):
        started = time.perf_counter()
        with open(path, "wb") as handle:
            for _ in range(size // CHUNK):
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
        rates.append(size / CHUNK / (time.perf_counter() - started))
        path.unlink()
    return max(rates)


def random_file(path: Path, size: int, *, fsync: bool = False) -> None:
    """A new file of ``size`` random bytes (whole MiBs) at ``path``; on the disk before returning with ``fsync``."""
    with open(path, "wb") as handle:
        for _ in range(size // CHUNK):
            handle.write(os.urandom(CHUNK))
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())


def loopback_http_rate(folder: Path, size: int) -> float:
    """MiB/s of a plain HTTP download of a ``size``-byte file over loopback, the median of three transfers
    (see :class:`LoopbackFile`)."""
    with LoopbackFile(folder, size) as loopback:
        return statistics.median(loopback.transfer_rate() for _ in range(3))  # as for glint's download


class LoopbackFile:
    """A file of ``size`` random bytes in ``folder`` and a bare HTTP server over loopback that answers each
    request for it with ``sendfile(2)``: :meth:`transfer_rate` downloads it once, with the same client code as
    glint's download. Written once, so that a transfer can be measured just before each download."""

    def __init__(self, folder: Path, size: int) -> None:
        self.path, self.size = folder / "bench-http-file", size
        self._listener: socket.socket | None = None

    def __enter__(self) -> LoopbackFile:
        random_file(self.path, self.size, fsync=True)  # written back now, not while the downloads beside it are timed
        self._listener = socket.create_server(("127.0.0.1", 0))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._listener is not None:
            self._listener.close()
        self.path.unlink(missing_ok=True)

    def transfer_rate(self) -> float:
        """MiB/s of one download of the file over a new connection."""
        assert self._listener is not None, "used outside its with block"
        server = threading.Thread(target=self._serve, daemon=True)
        server.start()
        started = time.perf_counter()
        with requests.get(f"http://127.0.0.1:{self._listener.getsockname()[1]}/", stream=True, timeout=60) as got:
            received = sum(len(chunk) for chunk in got.iter_content(CHUNK))
        rate = self.size / CHUNK / (time.perf_counter() - started)
        server.join(10)
        assert received == self.size
        return rate

    def _serve(self) -> None:
        assert self._listener is not None
        connection, _ = self._listener.accept()
        with connection, open(self.path, "rb") as handle:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            connection.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                               f"Content-Length: {self.size}\r\nConnection: close\r\n\r\n".encode())  # fmt: skip
            connection.sendfile(handle)


@contextmanager
def serve_file(size: int) -> Iterator[str]:
    """A URL on a local web server (127.0.0.1, a thread) for a file of ``size`` random bytes: the
    web-download source."""
    folder = Path(tempfile.mkdtemp(prefix="glint-bench-web-"))
    random_file(folder / "image.raw", size)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/image.raw"
    finally:
        server.shutdown()
        shutil.rmtree(folder)


class StolenTime:
    """The share of the machine's CPU time the hypervisor gave to others while a block ran ("steal" in
    ``/proc/stat``): on a shared virtual machine every figure measured meanwhile shrinks with it (seen
    here: 6-21% during a 1 GiB upload that kept both cores busy, 0% when one core hashes alone). None
    where the kernel does not count it."""

    def __init__(self) -> None:
        self.share: float | None = None
        self._start: list[int] | None = None

    def __enter__(self) -> StolenTime:
        self._start = _cpu_times()
        return self

    def __exit__(self, *exc: object) -> None:
        end = _cpu_times()
        if self._start is None or end is None:
            return
        spent = [after - before for after, before in zip(end, self._start, strict=False)]
        if len(spent) > 7 and sum(spent) > 0:
            self.share = spent[7] / sum(spent)


def _cpu_times() -> list[int] | None:
    """The machine's CPU time counters (user, nice, system, idle, iowait, irq, softirq, steal, ...)."""
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    return [int(value) for value in fields[1:]] if fields and fields[0] == "cpu" else None
