"""The machine's own limits, measured in the same run as glint: hashing, disk writes, loopback HTTP."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
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


def disk_write_rate(folder: Path, size: int) -> float:
    """MiB/s writing ``size`` bytes to a new file and fsyncing it (what "active" costs glint)."""
    block = os.urandom(CHUNK)
    path = folder / "bench-disk-write"
    started = time.perf_counter()
    with open(path, "wb") as handle:
        for _ in range(size // CHUNK):
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    elapsed = time.perf_counter() - started
    path.unlink()
    return size / CHUNK / elapsed


def loopback_http_rate(folder: Path, size: int) -> float:
    """MiB/s of a plain HTTP download of a ``size``-byte file over loopback (Python's own server)."""
    path = folder / "bench-http-file"
    with open(path, "wb") as handle:
        for _ in range(size // CHUNK):
            handle.write(os.urandom(CHUNK))
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.perf_counter()
        with requests.get(f"http://127.0.0.1:{server.server_port}/{path.name}", stream=True, timeout=60) as response:
            got = sum(len(chunk) for chunk in response.iter_content(CHUNK))
        elapsed = time.perf_counter() - started
    finally:
        server.shutdown()
        path.unlink()
    assert got == size
    return size / CHUNK / elapsed
