"""Kept-alive connections to the API: requests back to back, after a pause, and pipelined, all answered in
order on the one connection (the API's worker serves a busy connection's requests on one thread)."""

from __future__ import annotations

import http.client
import json
import socket
import time

from tests.e2e.conftest import api


def test_back_to_back_paused_and_pipelined_requests_on_one_connection(deploy) -> None:
    deployment = deploy("embedded", start=("api",))
    headers = dict(api(deployment).http.headers)
    host, port = deployment.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    created = []
    for pause in (0, 0, 0, 0.2, 0, 0.05):  # 0.2 s: well past the wait, the connection was back with the poller
        time.sleep(pause)
        conn.request("POST", "/v2/images", body=json.dumps({"disk_format": "raw", "container_format": "bare"}),
                     headers={**headers, "Content-Type": "application/json"})  # fmt: skip
        response = conn.getresponse()
        assert response.status == 201, response.read()
        created.append(json.loads(response.read())["id"])
        sock = conn.sock
        conn.request("GET", f"/v2/images/{created[-1]}", headers=headers)
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["id"] == created[-1]
        assert conn.sock is sock  # the same connection all along
    conn.close()

    with socket.create_connection((host, int(port)), timeout=10) as raw:  # two requests in one send
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        raw.sendall("".join(f"GET /v2/images/{image_id} HTTP/1.1\r\nHost: {host}\r\n{head}\r\n"
                            for image_id in created[:2]).encode())  # fmt: skip
        buffered = b""
        for image_id in created[:2]:
            status, body, buffered = read_response(raw, buffered)
            assert status == 200 and json.loads(body)["id"] == image_id


def read_response(sock: socket.socket, buffered: bytes) -> tuple[int, bytes, bytes]:
    """One response with a Content-Length from ``sock``: its status, its body and the bytes after it."""
    while b"\r\n\r\n" not in buffered:
        buffered += sock.recv(65536)
    head, _, rest = buffered.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(lines[0].split()[1]), rest[:length], rest[length:]
