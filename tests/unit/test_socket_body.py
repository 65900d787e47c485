"""SocketBody and ChunkedBody over gunicorn's body readers and a real socket pair: the bytes of the body, no more."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from gunicorn.config import Config
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.message import Request
from gunicorn.http.unreader import SocketUnreader
from werkzeug.exceptions import ClientDisconnected

from services.api.errors import ApiError
from services.api.socket_body import ChunkedBody, SocketBody

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


def chunked(data: bytes, size: int, extension: bytes = b"", trailers: bytes = b"") -> bytes:
    """``data`` in chunked transfer coding, ``size`` bytes to a chunk."""
    pieces = [data[at : at + size] for at in range(0, len(data), size)]
    return (
        b"".join(b"%x%b\r\n%b\r\n" % (len(piece), extension, piece) for piece in pieces) + b"0\r\n" + trailers + b"\r\n"
    )


def chunked_body(sock: socket.socket, client: socket.socket) -> tuple[Body, SocketUnreader]:
    """The body of a chunked PUT as gunicorn hands it over: its request parsed from the socket, the head and
    perhaps some of the body read with it."""
    client.sendall(b"PUT /v2/images/x/file HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    unreader = SocketUnreader(sock)
    request = Request(Config(), unreader, ("127.0.0.1", 1))
    assert isinstance(request.body.reader, ChunkedReader)
    return request.body, unreader


def test_a_chunked_body_fills_whole_buffers_across_chunks_and_leaves_the_next_request_to_gunicorn(pair) -> None:
    server, client = pair
    body_bytes, next_request = os.urandom(MiB + 3), b"GET /versions HTTP/1.1\r\nHost: x\r\n\r\n"
    wire = chunked(body_bytes, 64 * 1024 + 1, extension=b";name=value", trailers=b"X-Trailer: 1\r\n")
    wsgi_input, unreader = chunked_body(server, client)
    sender = send_later(client, wire + next_request)
    reader = ChunkedBody.of({"wsgi.input": wsgi_input})
    assert reader is not None
    buffer = memoryview(bytearray(256 * 1024))
    counts, got = [], b""
    while count := reader.readinto(buffer):
        counts.append(count)
        got += bytes(buffer[:count])
    sender.join()
    assert got == body_bytes
    assert counts == [256 * 1024] * 4 + [3]  # each read a whole buffer, whatever the chunks
    assert reader.readinto(buffer) == 0
    assert wsgi_input.read(1024) == b"" and not wsgi_input.failed  # gunicorn's drain finds the body consumed
    assert unreader.read(len(next_request)) == next_request  # and the next request where it belongs


def test_read_returns_as_much_as_asked_from_a_chunked_body(pair) -> None:
    server, client = pair
    body_bytes = os.urandom(100_000)
    wsgi_input, _ = chunked_body(server, client)
    sender = send_later(client, chunked(body_bytes, 7000))
    reader = ChunkedBody.of({"wsgi.input": wsgi_input})
    assert reader is not None
    assert reader.read(65536) == body_bytes[:65536]
    assert reader.read() == body_bytes[65536:]
    assert reader.read(10) == b""
    sender.join()


@pytest.mark.parametrize(
    "wire",
    [b"5\r\nhello\r\nzz\r\nabc\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"5;=\r\nhello\r\n0\r\n\r\n"],
    ids=["size", "terminator", "extension"],
)
def test_a_malformed_chunk_is_a_400_and_the_connection_is_not_reused(pair, wire: bytes) -> None:
    server, client = pair
    wsgi_input, _ = chunked_body(server, client)
    client.sendall(wire)
    reader = ChunkedBody.of({"wsgi.input": wsgi_input})
    assert reader is not None
    with pytest.raises(ApiError) as raised:
        reader.read(MiB)
    assert raised.value.status == 400
    assert "Malformed chunked request body" in str(raised.value)
    assert wsgi_input.failed


def test_a_client_gone_mid_chunk_is_a_disconnect_and_the_connection_is_not_reused(pair) -> None:
    server, client = pair
    wsgi_input, _ = chunked_body(server, client)
    client.sendall(b"10000\r\n" + b"x" * 1000)
    client.close()
    reader = ChunkedBody.of({"wsgi.input": wsgi_input})
    assert reader is not None
    with pytest.raises(ClientDisconnected):
        reader.readinto(memoryview(bytearray(MiB)))
    assert wsgi_input.failed


def test_a_chunked_body_already_read_from_or_another_body_is_left_to_the_stream(pair) -> None:
    server, client = pair
    wsgi_input, _ = chunked_body(server, client)
    client.sendall(chunked(b"abcdef", 2))
    assert wsgi_input.read(1) == b"a"
    assert ChunkedBody.of({"wsgi.input": wsgi_input}) is None  # gunicorn holds the rest of a chunk
    length, _ = gunicorn_body(server, 10, b"")
    assert ChunkedBody.of({"wsgi.input": length}) is None
    assert ChunkedBody.of({"wsgi.input": None}) is None
