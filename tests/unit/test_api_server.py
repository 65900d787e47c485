"""The API server's listening sockets: one per process where it can, and never a port another server holds."""

from __future__ import annotations

import socket

import pytest

from services.api.server import ApiServer, refuse_if_taken
from tests.e2e.deployment import free_port


@pytest.mark.parametrize(("workers", "port", "expected"), [(2, None, True), (1, None, False), (2, 0, False)])
def test_each_process_listens_on_its_own_socket_when_there_are_several(make_settings, workers, port, expected):
    settings = make_settings(bind_host="127.0.0.1", bind_port=free_port() if port is None else port)
    server = ApiServer(settings, workers=workers)
    assert server.options["reuse_port"] is expected  # port 0: each process would get a port of its own


@pytest.mark.parametrize("reuse_port", [False, True])
def test_a_port_something_listens_on_is_refused(reuse_port: bool) -> None:
    with socket.socket() as taken:
        if reuse_port:  # another glint's API process: its socket would share the port with ours
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match=f"cannot listen on 127.0.0.1:{port}"):
            refuse_if_taken("127.0.0.1", port)


def test_a_free_port_is_left_free() -> None:
    port = free_port()
    refuse_if_taken("127.0.0.1", port)
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # the probe did not keep it
