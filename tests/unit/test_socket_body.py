"""SocketBody over gunicorn's own body reader and a real socket pair: the bytes of the body and no more."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.unreader import SocketUnreader
from werkzeug.exceptions import ClientDisconnected

from services.api.socket_body import SocketBody

MiB = 1024 * 1024


def gunicorn_body(sock: socket.socket, length: int, read_ahead: bytes) -> tuple[Body, SocketUnreader]:
    """A body as gunicorn hands it over: ``read_ahead`` is what it read from the socket with the headers."""
    unreader = SocketUnreader(sock)
    unreader.unread(read_ahead)
    return Body(LengthReader(unreader, length)), unreader


@pytest.fixture
def pair():
    left, right = socket.socketpair()
    yield left, right
    left.close()
    right.close()


def send_later(sock: socket.socket, data: bytes) -> threading.Thread:
    sender = threading.Thread(target=sock.sendall, args=(data,), daemon=True)
    sender.start()
    return sender


def test_reads_the_body_and_leaves_a_pipelined_request_to_gunicorn(pair) -> None:
    server, client = pair
    body_bytes, next_request = os.urandom(3 * MiB + 17), b"GET /versions HTTP/1.1\r\nHost: x\r\n\r\n"
    head = body_bytes[:1000]
    sender = send_later(client, body_bytes[1000:] + next_request)
    wsgi_input, unreader = gunicorn_body(server, len(body_bytes), head)
    wsgi_input.read(10)  # something read a little through gunicorn first
    reader = SocketBody.of({"gunicorn.socket": server, "wsgi.input": wsgi_input})
    assert reader is not None
    got = body_bytes[:10] + b"".join(iter(lambda: reader.read(MiB), b""))
    sender.join()
    assert got == body_bytes
    assert wsgi_input.read(1024) == b""  # gunicorn's drain finds the body consumed
    assert unreader.read(len(next_request)) == next_request  # and the next request where it belongs


def test_readinto_fills_the_caller_s_buffer_and_leaves_the_next_request_to_gunicorn(pair) -> None:
    server, client = pair
    body_bytes, next_request = os.urandom(2 * MiB + 5), b"GET /versions HTTP/1.1\r\nHost: x\r\n\r\n"
    sender = send_later(client, body_bytes[700:] + next_request)
    wsgi_input, unreader = gunicorn_body(server, len(body_bytes), body_bytes[:700])
    reader = SocketBody.of({"gunicorn.socket": server, "wsgi.input": wsgi_input})
    assert reader is not None
    buffer = memoryview(bytearray(MiB))
    counts, got = [], b""
    while count := reader.readinto(buffer):
        counts.append(count)
        got += bytes(buffer[:count])
    sender.join()
    assert got == body_bytes
    assert counts == [700, MiB, MiB - 700 + 5]  # what came with the headers, then the socket in full buffers
    assert unreader.read(len(next_request)) == next_request


def test_read_ahead_past_the_body_stays_with_gunicorn(pair) -> None:
    server, _ = pair
    wsgi_input, unreader = gunicorn_body(server, 5, b"12345GET / HTTP/1.1\r\n")
    reader = SocketBody.of({"gunicorn.socket": server, "wsgi.input": wsgi_input})
    assert reader is not None
    assert reader.read() == b"12345"
    assert reader.read(10) == b""
    assert unreader.read(4) == b"GET "


@pytest.mark.parametrize("style", ["read", "readinto"])
def test_a_client_gone_midway_is_a_disconnect_and_the_connection_is_not_reused(pair, style: str) -> None:
    server, client = pair
    client.sendall(b"x" * 1000)
    client.close()
    wsgi_input, _ = gunicorn_body(server, MiB, b"")
    reader = SocketBody.of({"gunicorn.socket": server, "wsgi.input": wsgi_input})
    assert reader is not None
    buffer = bytearray(MiB)

    def next_read() -> bytes:
        if style == "read":
            return reader.read(MiB)
        return bytes(buffer[: reader.readinto(memoryview(buffer))])

    assert next_read() == b"x" * 1000  # what arrived before the close
    with pytest.raises(ClientDisconnected):
        next_read()
    assert wsgi_input.failed


def test_other_bodies_are_left_to_the_stream(pair) -> None:
    server, _ = pair
    chunked = Body(ChunkedReader(None, SocketUnreader(server)))
    assert SocketBody.of({"gunicorn.socket": server, "wsgi.input": chunked}) is None
    length, _ = gunicorn_body(server, 10, b"")
    assert SocketBody.of({"wsgi.input": length}) is None  # not served by gunicorn
