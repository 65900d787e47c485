"""A real web server for web-download and http-store tests: sized blobs (optionally slow), files put by
the test (served with byte ranges), redirects and 404s."""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ADDRESS = "127.0.0.2"  # allowed explicitly in the tests' config; 127.0.0.1 (localhost) stays refused


def blob(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def blob_md5(size: int, seed: int = 7) -> str:
    return hashlib.md5(blob(size, seed)).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"])
            self.end_headers()
            return
        if parts.path.startswith("/files/"):
            self._file(self.server.files.get(parts.path[len("/files/") :]))  # type: ignore[attr-defined]
            return
        if not parts.path.startswith("/blob/"):
            self.send_response(404)
            self.end_headers()
            return
        data = blob(int(parts.path.rsplit("/", 1)[1]), int(query.get("seed", 7)))
        pause = float(query.get("pause", 0))  # seconds between 1 MiB chunks
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for start in range(0, len(data), 1024 * 1024):
            try:
                self.wfile.write(data[start : start + 1024 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                return
            time.sleep(pause)

    def _file(self, data: bytes | None) -> None:
        if data is None:
            self.send_response(404)
            self.end_headers()
            return
        start, end = 0, len(data) - 1
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if ranged:
            start, end = int(ranged[1]), min(int(ranged[2] or end), end)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.wfile.write(data[start : end + 1])

    def log_message(self, *args: object) -> None:
        pass


class WebServer:
    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer((ADDRESS, 0), _Handler)
        self.httpd.files = {}  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.url = f"http://{ADDRESS}:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def put(self, name: str, data: bytes) -> str:
        """Serve ``data`` at the returned URL (byte ranges honoured)."""
        self.httpd.files[name] = data  # type: ignore[attr-defined]
        return f"{self.url}/files/{name}"

    def remove(self, name: str) -> None:
        self.httpd.files.pop(name, None)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.close()
