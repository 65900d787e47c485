"""SocketBody and ChunkedBody over gunicorn's body readers and a real socket pair: the bytes of the body, no more."""

from __future__ import annotations

import os
import random
import socket
import threading
import time

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


def test_what_the_application_left_of_a_chunked_body_is_drained_by_gunicorn_up_to_the_next_request(pair) -> None:
    server, client = pair
    body_bytes, next_request = os.urandom(300_000), b"GET /versions HTTP/1.1\r\nHost: x\r\n\r\n"
    wsgi_input, unreader = chunked_body(server, client)
    sender = send_later(client, chunked(body_bytes, 70_000, trailers=b"X-Trailer: 1\r\n") + next_request)
    reader = ChunkedBody.of({"wsgi.input": wsgi_input})
    assert reader is not None
    assert reader.read(100_000) == body_bytes[:100_000]  # then the handler answers without reading on (a 413)
    while wsgi_input.read(8192):  # what gunicorn does before reading the next request
        pass
    sender.join()
    assert not wsgi_input.failed
    assert unreader.read(len(next_request)) == next_request


def test_a_chunked_body_arriving_a_piece_at_a_time_still_fills_the_whole_buffer(pair) -> None:
    """Each piece arrives on its own, the reader waiting for it: chunks and size lines cut anywhere."""
    server, client = pair
    wsgi_input, _ = chunked_body(server, client)
    pieces = [b"5\r\nhel", b"lo", b"\r\n5\r\n", b"wor", b"ld\r\n0\r\n", b"\r\n"]

    def send() -> None:
        for piece in pieces:
            client.sendall(piece)
            time.sleep(0.05)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    reader = ChunkedBody.of({"wsgi.input": wsgi_input})
    assert reader is not None
    buffer = memoryview(bytearray(10))
    assert reader.readinto(buffer) == 10 and bytes(buffer) == b"helloworld"
    assert reader.readinto(buffer) == 0
    sender.join()


@pytest.mark.parametrize("seed", range(6))
def test_a_chunked_body_of_any_chunk_sizes_cut_anywhere_reads_back_whole(pair, seed: int) -> None:
    """Chunks of random sizes (extensions on some), sent in writes of random sizes, read into buffers of random
    sizes: the body's bytes exactly, and the pipelined request after it left where gunicorn finds it."""
    server, client = pair
    rng = random.Random(seed)
    body_bytes, next_request = rng.randbytes(rng.randrange(1, 2 * MiB)), b"GET /versions HTTP/1.1\r\nHost: x\r\n\r\n"
    wire, at = b"", 0
    while at < len(body_bytes):
        size = rng.choice([1, 2, 9, 300, 4097, 65536, 70_001, 300_000])
        piece, at = body_bytes[at : at + size], at + size
        wire += b"%x%b\r\n%b\r\n" % (len(piece), rng.choice([b"", b";a=b", b" ;x"]), piece)
    wire += b"0\r\n" + rng.choice([b"", b"X-Trailer: 1\r\n"]) + b"\r\n" + next_request
    wsgi_input, unreader = chunked_body(server, client)

    def send() -> None:
        at = 0
        while at < len(wire):
            size = rng.choice([1, 7, 100, 8192, 65536, 1 << 20])
            client.sendall(wire[at : at + size])
            at += size

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    reader = ChunkedBody.of({"wsgi.input": wsgi_input})
    assert reader is not None
    got = bytearray()
    while True:
        buffer = memoryview(bytearray(random.Random(len(got)).choice([1, 1000, 65536, 4 * MiB])))
        count = reader.readinto(buffer)
        if not count:
            break
        assert count == len(buffer) or len(got) + count == len(body_bytes)  # whole buffers until the end
        got += buffer[:count]
    sender.join()
    assert got == body_bytes
    assert unreader.read(len(next_request)) == next_request


def test_a_chunked_body_already_read_from_or_another_body_is_left_to_the_stream(pair) -> None:
    server, client = pair
    wsgi_input, _ = chunked_body(server, client)
    client.sendall(chunked(b"abcdef", 2))
    assert wsgi_input.read(1) == b"a"
    assert ChunkedBody.of({"wsgi.input": wsgi_input}) is None  # gunicorn holds the rest of a chunk
    length, _ = gunicorn_body(server, 10, b"")
    assert ChunkedBody.of({"wsgi.input": length}) is None
    assert ChunkedBody.of({"wsgi.input": None}) is None
