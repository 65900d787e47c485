"""Fetching user-given URLs: Glance's filter, then resolved addresses, redirects and pinning."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.fetch import FetchFailed, FetchRefused, UriFilter, open_url

# The test server listens on 127.0.0.2; only that address is allowed, so localhost (127.0.0.1) is not.
LOOPBACK_ONLY = UriFilter(allowed_ports=(), allowed_networks=("127.0.0.2/32",))


class Handler(BaseHTTPRequestHandler):
    seen_hosts: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        Handler.seen_hosts.append(self.headers.get("Host", ""))
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.path.split("?to=", 1)[1])
            self.end_headers()
            return
        if self.path == "/missing":
            self.send_response(404)
            self.end_headers()
            return
        body = b"image data" * 100
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://example.com/x", True), ("https://example.com/x", True), ("http://example.com:80/x", True),
        ("http://example.com:8080/x", False), ("ftp://example.com/x", False), ("file:///etc/passwd", False),
        ("http:///x", False), ("example.com/x", False),
    ],
)  # fmt: skip
def test_glance_uri_filter_defaults(url: str, allowed: bool) -> None:
    if allowed:
        UriFilter().check_uri(url)
    else:
        with pytest.raises(FetchRefused):
            UriFilter().check_uri(url)


def test_allow_lists_win_over_deny_lists() -> None:
    only = UriFilter(allowed_hosts=("images.example.com",), disallowed_hosts=("images.example.com",))
    only.check_uri("http://images.example.com/x")
    with pytest.raises(FetchRefused):
        only.check_uri("http://other.example.com/x")
    with pytest.raises(FetchRefused):
        UriFilter(disallowed_hosts=("bad.example.com",)).check_uri("http://bad.example.com/x")


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.1.2.3", "169.254.169.254", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "0.0.0.0",
     "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1", "192.0.2.1"],
)  # fmt: skip
def test_internal_addresses_are_refused(address: str) -> None:
    with pytest.raises(FetchRefused):
        UriFilter().check_address(address)


def test_public_and_explicitly_allowed_addresses_pass() -> None:
    UriFilter().check_address("8.8.8.8")
    UriFilter().check_address("2001:4860:4860::8888")
    UriFilter(allowed_networks=("10.0.0.0/8",)).check_address("10.1.2.3")


def test_names_are_checked_after_resolution(server: int) -> None:
    with pytest.raises(FetchRefused, match="127.0.0.1"):
        open_url(f"http://localhost:{server}/x", UriFilter(allowed_ports=()))
    with pytest.raises(FetchRefused):
        open_url(f"http://127.0.0.2:{server}/x", UriFilter(allowed_ports=()))  # not allowed unless configured


def test_allowed_network_is_fetched(server: int) -> None:
    fetched = open_url(f"http://127.0.0.2:{server}/x", LOOPBACK_ONLY)
    assert (fetched.length, b"".join(fetched.chunks)) == (1000, b"image data" * 100)
    with pytest.raises(FetchFailed, match="404"):
        open_url(f"http://127.0.0.2:{server}/missing", LOOPBACK_ONLY)


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x", "http://localhost:{port}/x",
     "ftp://127.0.0.1/x", "http://[::1]:{port}/x"],
)  # fmt: skip
def test_redirects_are_checked_like_the_first_url(server: int, target: str) -> None:
    target = target.format(port=server)
    with pytest.raises(FetchRefused):
        open_url(f"http://127.0.0.2:{server}/redirect?to={target}", LOOPBACK_ONLY)


def test_redirect_within_the_rules_is_followed(server: int) -> None:
    fetched = open_url(f"http://127.0.0.2:{server}/redirect?to=/x", LOOPBACK_ONLY)
    assert b"".join(fetched.chunks) == b"image data" * 100


def test_redirect_loops_end(server: int) -> None:
    loop = f"http://127.0.0.2:{server}/redirect?to=http://127.0.0.2:{server}/redirect?to=/redirect?to=/redirect"
    with pytest.raises(FetchRefused, match="redirects"):
        open_url(loop, LOOPBACK_ONLY, max_redirects=1)


def test_the_connection_goes_to_the_address_that_was_checked(server: int, monkeypatch) -> None:
    """A name is resolved once per hop: a second, different answer (DNS rebinding) is never used."""
    answers = iter(["127.0.0.2", "169.254.169.254"])
    calls: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "images.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    Handler.seen_hosts.clear()
    fetched = open_url(f"http://images.test:{server}/x", LOOPBACK_ONLY)
    assert b"".join(fetched.chunks) == b"image data" * 100
    assert calls == ["images.test"]
    assert Handler.seen_hosts == [f"images.test:{server}"]  # the name is kept for the Host header
