"""When the API's worker serves a kept-alive connection's next request on the same thread: over gunicorn's own
connection objects and a real socket pair."""

from __future__ import annotations

import socket
import time

import pytest
from gunicorn.config import Config
from gunicorn.workers.gthread import TConn

from services.api.worker_class import next_request_ready


@pytest.fixture
def conn():
    server, client = socket.socketpair()
    connection = TConn(Config(), server, ("127.0.0.1", 1), ("127.0.0.1", 2))
    connection.init()
    yield connection, client
    server.close()
    client.close()


def test_a_request_on_the_socket_is_ready(conn) -> None:
    connection, client = conn
    client.sendall(b"GET /versions HTTP/1.1\r\nHost: x\r\n\r\n")
    assert next_request_ready(connection, 0.5)


def test_a_request_read_ahead_with_the_previous_one_is_ready(conn) -> None:
    connection, _ = conn
    connection.parser.unreader.unread(b"GET /versions HTTP/1.1\r\n")  # nothing left on the socket
    assert next_request_ready(connection, 0.0)


def test_a_quiet_connection_goes_back_to_the_poller_after_the_wait(conn) -> None:
    connection, _ = conn
    started = time.monotonic()
    assert not next_request_ready(connection, 0.05)
    assert 0.04 <= time.monotonic() - started < 1  # waited, but only that long


def test_a_closed_peer_is_ready_so_that_gunicorn_sees_the_end(conn) -> None:
    connection, client = conn
    client.close()
    assert next_request_ready(connection, 0.5)  # the read that follows finds no data and closes


def test_http2_connections_are_left_to_gunicorn(conn) -> None:
    connection, client = conn
    client.sendall(b"data")
    connection.is_http2 = True
    assert not next_request_ready(connection, 0.5)
