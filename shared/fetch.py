"""Fetching URLs given by users without letting them reach what they should not.

Every hop (the URL and each redirect) passes Glance's ``[import_filtering_opts]``
scheme, host and port lists; then the host name is resolved and every
address it resolves to is checked: loopback, link-local (169.254.169.254
included), private, multicast, reserved and unspecified addresses are
refused (any address that is not globally routable) unless a network in
``allowed_networks`` contains them. The
connection goes to the address that was checked (the host name is kept for
the Host header, TLS server name and certificate check), so a DNS answer
that changes between check and connect cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import urllib3

from shared.domain.errors import Invalid
from shared.stores.streams import ChunkReader

REDIRECTS = (301, 302, 303, 307, 308)
DEFAULT_PORTS = {"http": 80, "https": 443}
READ_CHUNK = 1024 * 1024


class FetchRefused(Invalid):
    """The URL, or a redirect it led to, is not allowed."""


class FetchFailed(Exception):
    """The server could not be reached or answered with an error."""


@dataclass(frozen=True)
class UriFilter:
    """Glance's import URI filter, plus glint's check of the resolved addresses."""

    allowed_schemes: Sequence[str] = ("http", "https")
    disallowed_schemes: Sequence[str] = ()
    allowed_hosts: Sequence[str] = ()
    disallowed_hosts: Sequence[str] = ()
    allowed_ports: Sequence[int] = (80, 443)
    disallowed_ports: Sequence[int] = ()
    allowed_networks: Sequence[str] = ()
    _networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        networks = tuple(ipaddress.ip_network(net, strict=False) for net in self.allowed_networks)
        object.__setattr__(self, "_networks", networks)

    def check_uri(self, url: str) -> tuple[str, str, int]:
        """(scheme, host, port) of an allowed URL; FetchRefused otherwise. Glance's ``validate_import_uri``."""
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        try:
            explicit_port = parts.port
        except ValueError:
            raise FetchRefused(f"URI {url} has an invalid port") from None
        if not scheme or not _allowed(scheme, self.allowed_schemes, self.disallowed_schemes):
            raise FetchRefused(f"URI {url} is not allowed: scheme")
        if not host or not _allowed(host, self.allowed_hosts, self.disallowed_hosts):
            raise FetchRefused(f"URI {url} is not allowed: host")
        if explicit_port is not None and not _allowed(explicit_port, self.allowed_ports, self.disallowed_ports):
            raise FetchRefused(f"URI {url} is not allowed: port")
        return scheme, host, explicit_port or DEFAULT_PORTS.get(scheme, 0)

    def check_address(self, address: str) -> None:
        ip = ipaddress.ip_address(address)
        if any(ip in network for network in self._networks):
            return
        mapped = ip.version == 6 and ip.ipv4_mapped is not None  # ::ffff:127.0.0.1 must not slip through
        if not ip.is_global or ip.is_multicast or mapped:
            raise FetchRefused(f"the address {address} is not allowed (not a public network address)")

    def resolve(self, host: str, port: int) -> str:
        """One address of ``host`` that passes, after checking every address it resolves to."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchFailed(f"cannot resolve {host}: {exc}") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:
            self.check_address(address)  # all must pass: a name may not hide an internal address among others
        return addresses[0]


def _allowed(value: object, allowed: Sequence[object], disallowed: Sequence[object]) -> bool:
    if allowed:
        return value in allowed
    return value not in disallowed


@dataclass
class Fetched:
    """An open response: its final URL, length (None when unknown) and body chunks."""

    url: str
    length: int | None
    status: int
    chunks: Iterator[bytes]
    close: object


def open_url(
    url: str,
    uri_filter: UriFilter,
    *,
    timeout: float = 30.0,
    max_redirects: int = 5,
    headers: dict[str, str] | None = None,
    insecure: bool = False,
    byte_range: tuple[int, int] | None = None,
) -> Fetched:
    """GET ``url`` with every hop filtered and pinned to its checked address. Raises FetchRefused/FetchFailed."""
    request_headers = dict(headers or {})
    if byte_range is not None:
        request_headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
    for _hop in range(max_redirects + 1):
        scheme, host, port = uri_filter.check_uri(url)
        address = uri_filter.resolve(host, port)
        response = _get(scheme, host, port, address, url, request_headers, timeout, insecure)
        if response.status in REDIRECTS and response.headers.get("Location"):
            response.release_conn()
            url = urljoin(url, response.headers["Location"])
            continue
        if response.status >= 400:
            response.release_conn()
            raise FetchFailed(f"{url} answered {response.status}")
        length = response.headers.get("Content-Length")
        return Fetched(
            url=url,
            length=int(length) if length and length.isdigit() else None,
            status=response.status,
            chunks=_body(response),
            close=response.release_conn,
        )
    raise FetchRefused(f"{url}: more than {max_redirects} redirects")


def reader(fetched: Fetched) -> ChunkReader:
    """A Readable over a fetched body."""
    return ChunkReader(fetched.chunks)


def _get(
    scheme: str, host: str, port: int, address: str, url: str, headers: dict[str, str], timeout: float, insecure: bool
) -> urllib3.BaseHTTPResponse:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = host if port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    timeouts = urllib3.Timeout(connect=min(timeout, 10.0), read=timeout)
    pool: urllib3.HTTPConnectionPool
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address, port, timeout=timeouts, server_hostname=host, assert_hostname=False if insecure else host,
            cert_reqs="CERT_NONE" if insecure else "CERT_REQUIRED", retries=False,
        )  # fmt: skip
    elif scheme == "http":
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeouts, retries=False)
    else:
        raise FetchRefused(f"cannot fetch {scheme} URLs")
    try:
        return pool.urlopen(
            "GET", path, headers={**headers, "Host": host_header}, redirect=False, preload_content=False,
            assert_same_host=False,
        )  # fmt: skip
    except urllib3.exceptions.HTTPError as exc:
        raise FetchFailed(f"cannot fetch {url}: {exc}") from None


def _body(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    try:
        yield from response.stream(READ_CHUNK)
    except urllib3.exceptions.HTTPError as exc:
        raise FetchFailed(f"the download broke off: {exc}") from None
    finally:
        response.release_conn()
