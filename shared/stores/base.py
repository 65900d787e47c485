"""The store driver interface: what every driver (and the test fake) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

Progress = Callable[[int], None]


class Readable(Protocol):
    """Anything with ``read(n)``: a file, a request body, a hashing wrapper."""

    def read(self, size: int = -1, /) -> bytes: ...


def read_into(source: Readable, view: memoryview) -> int:
    """Fill ``view`` from ``source`` as far as one read goes; the bytes taken (0 at the end).

    A source with ``readinto(view)`` (a socket body, a hashing wrapper over one) reads straight into
    ``view``; any other is read and copied. A source may go on reading the memory of its last
    ``holds`` reads after they return (a hashing wrapper hashes them on threads): the caller leaves
    that memory unchanged until that many more reads have returned.
    """
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        return int(readinto(view))
    data = source.read(len(view))
    view[: len(data)] = data
    return len(data)


def holds(source: Readable) -> int:
    """How many of its latest reads ``source`` may still be reading after they return (see :func:`read_into`)."""
    return int(getattr(source, "holds", 0))


@dataclass(frozen=True)
class StoredObject:
    """Where ``add`` put the data, and how much there is."""

    url: str
    size: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImageData:
    """An open read of ``length`` bytes, from ``offset``, of an object of ``size`` bytes.

    ``file`` is set when the bytes come from a local file positioned at
    ``offset``, so that a server can send it without copying it through Python.
    """

    chunks: Iterator[bytes]
    size: int
    offset: int
    length: int
    file: BinaryIO | None = None
    close: Callable[[], None] = lambda: None

    def read_all(self) -> bytes:
        try:
            return b"".join(self.chunks)
        finally:
            self.close()


class Store(ABC):
    """A named place that holds image data, addressed by URLs it hands out.

    Writes are atomic: a reader sees all of an object or none of it.
    Deleting what is already gone succeeds. Errors are ``StoreError``
    subclasses; only ``TransientStoreError`` is worth retrying.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    def add(
        self, key: str, source: Readable, *, progress: Progress | None = None, read_back: bool = False
    ) -> StoredObject:
        """Stream ``source`` to its end into the object ``key``; replaces an object of that key.

        ``read_back``: the caller reads the object again soon (a staged glance-direct import is inspected
        at import); a store that keeps written data in memory only for that case then keeps it."""

    @abstractmethod
    def get(self, url: str, offset: int = 0, length: int | None = None) -> ImageData:
        """Open ``length`` bytes (all when None) from ``offset``. Raises DataNotFound."""

    @abstractmethod
    def get_size(self, url: str) -> int:
        """The size of the object. Raises DataNotFound."""

    @abstractmethod
    def delete(self, url: str) -> None:
        """Remove the object; succeeds when it is already gone."""

    @abstractmethod
    def list_keys(self) -> Iterator[tuple[str, float]]:
        """Every complete object as ``(key, modified time as a Unix timestamp)``."""

    @abstractmethod
    def handles(self, url: str) -> bool:
        """True when ``url`` points into this store."""

    def remove_stale_parts(self, older_than: float) -> int:
        """Remove partial writes abandoned before ``older_than`` (Unix time); returns how many."""
        return 0

    def url_for(self, key: str) -> str | None:
        """The URL ``add(key, ...)`` would give, when the driver's URLs are predictable."""
        return None

    def adopt(self, key: str, source: Store, source_url: str, *, keep_source: bool = False) -> StoredObject | None:
        """Take the object at ``source_url`` of ``source`` without copying it through glint, when the driver can.

        Returns None when it cannot (the caller then streams a copy). The
        source object is gone afterwards, unless ``keep_source``: then both
        exist, and the caller removes the source once the copy is recorded
        (a crash in between leaves the source for the next attempt). An
        object already under ``key`` is replaced.
        """
        return None
