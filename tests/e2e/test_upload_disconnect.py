"""A client that goes away in the middle of sending image data, or sends a malformed chunk, through the API's
body readers.

The API reads upload bodies straight from gunicorn's socket or chunk parser (services/api/socket_body.py).
A client that closes its connection part-way, with a length or chunked, must leave nothing behind: the
image back in ``queued``, no staged bytes, nothing in a store, and a later upload of the same image works.
A malformed chunk is a 400, with the same nothing left behind.
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.e2e.conftest import api
from tests.e2e.deployment import Deployment, eventually
from tests.helpers import image_bytes

DECLARED = 4 * 1024 * 1024
SENT = 300 * 1024


def send_raw(deployment: Deployment, path: str, headers: dict[str, str], framing: str, body: bytes) -> bytes:
    """Headers (with ``framing``: a Content-Length or Transfer-Encoding header), then ``body``, then the sending
    side closed (the server reads the end of the stream, as from a client that went away); returns what the
    server answered, once it has ended the request. Returning at once let the checks below find the image still
    ``queued`` before the server had even begun the upload, and the next upload meet it in ``saving`` (409), on
    a loaded machine."""
    host, port = deployment.url.removeprefix("http://").split(":")
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: {host}\r\n{head}Content-Type: application/octet-stream\r\n"
            f"{framing}\r\n\r\n".encode()
        )
        sock.sendall(body)
        sock.shutdown(socket.SHUT_WR)
        try:
            while data := sock.recv(65536):  # its answer, if any, then the end of the connection
                answer += data
        except ConnectionResetError:
            pass
    return answer


def send_part_and_close(deployment: Deployment, path: str, headers: dict[str, str], framing: str) -> None:
    """``SENT`` bytes of a body of ``DECLARED``, by its length or in one chunk, then the connection closed."""
    if framing == "length":
        send_raw(deployment, path, headers, f"Content-Length: {DECLARED}", image_bytes(SENT))
    else:
        send_raw(deployment, path, headers, "Transfer-Encoding: chunked", b"%x\r\n" % DECLARED + image_bytes(SENT))


@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("target", ["file", "stage"])
def test_a_client_gone_mid_upload_leaves_the_image_queued_and_nothing_stored(deploy, target: str, framing: str) -> None:
    deployment = deploy("embedded")
    client = api(deployment)
    image = client.create(name=f"cut-{target}")
    send_part_and_close(deployment, f"/v2/images/{image['id']}/{target}", dict(client.http.headers), framing)

    eventually(lambda: client.show(image["id"]).json()["status"] == "queued" and not deployment.staging_files(),
               timeout=30, what="the image back in queued with staging emptied")  # fmt: skip
    shown = client.show(image["id"]).json()
    assert shown["size"] is None and shown["checksum"] is None
    assert deployment.store_files() == []

    data = image_bytes(DECLARED)
    if target == "file":
        assert client.upload(image["id"], data).status_code == 204
        assert client.wait_for(image["id"], "active", "killed")["status"] == "active"
        downloaded = client.download(image["id"])
        assert downloaded.status_code == 200 and downloaded.content == data
    else:
        staged = client.http.put(f"{client.url}/v2/images/{image['id']}/stage", data=data,
                                 headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert staged.status_code == 204, staged.text
        assert client.wait_for(image["id"], "uploading")["size"] == DECLARED
        assert [path.stat().st_size for path in deployment.staging_files()] == [DECLARED]


@pytest.mark.parametrize("target", ["file", "stage"])
def test_a_malformed_chunk_is_a_400_and_leaves_the_image_queued_and_nothing_stored(deploy, target: str) -> None:
    deployment = deploy("embedded")
    client = api(deployment)
    image = client.create(name=f"bad-chunk-{target}")
    body = b"%x\r\n" % SENT + image_bytes(SENT) + b"\r\nzz\r\n" + image_bytes(100)  # "zz" is no chunk size
    answer = send_raw(deployment, f"/v2/images/{image['id']}/{target}", dict(client.http.headers),
                      "Transfer-Encoding: chunked", body)  # fmt: skip
    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:300]
    fault = json.loads(text)
    assert fault["code"] == "400 Bad Request" and "Invalid chunk size" in fault["message"]

    eventually(lambda: client.show(image["id"]).json()["status"] == "queued" and not deployment.staging_files(),
               timeout=30, what="the image back in queued with staging emptied")  # fmt: skip
    assert client.show(image["id"]).json()["size"] is None
    assert deployment.store_files() == []
