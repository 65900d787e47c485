"""Streams that data flows through on its way into a store."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from shared.domain.errors import TooLarge
from shared.stores.base import Readable, read_into

# Chunks this big are hashed on the two hash threads, beside the caller's write; smaller ones inline (a
# thread hand-off costs more than it saves). hashlib lets go of the GIL while it hashes a large buffer.
PARALLEL_MIN = 128 * 1024
IN_FLIGHT = 4  # chunks handed to the hash threads and not yet hashed, at most


class HashingReader:
    """Reads from ``source`` while counting bytes and computing md5 and the multihash.

    Large chunks are hashed on two threads of the reader's own (one per
    digest, so each sees the chunks in order) while the caller goes on
    with the chunk: the write to a store overlaps both hashes. At most
    ``IN_FLIGHT`` chunks wait for hashing, so memory stays flat. With
    ``readinto`` the chunks are the caller's own memory, which the
    caller leaves alone until ``holds`` more reads have returned.
    ``checksum`` and ``hash_value`` wait for the hashing to end.

    Raises TooLarge as soon as more than ``cap`` bytes have been read, so an
    oversized upload is refused before it fills the disk.
    """

    def __init__(
        self,
        source: Readable,
        *,
        hash_algo: str = "sha512",
        cap: int | None = None,
        on_read: Callable[[int], None] | None = None,
    ) -> None:
        self.source = source
        self.hash_algo = hash_algo
        self.cap = cap
        self.on_read = on_read
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._multihash = hashlib.new(hash_algo)
        self._threads: tuple[ThreadPoolExecutor, ThreadPoolExecutor] | None = None
        self._pending: deque[tuple[Future[None], Future[None]]] = deque()

    def read(self, size: int = -1, /) -> bytes:
        data = self.source.read(size)
        if data:
            self._took(data)
        return data

    def readinto(self, view: memoryview, /) -> int:
        """Read into ``view`` (see :func:`~shared.stores.base.read_into`). The bytes are hashed on the
        threads after this returns: the caller leaves the memory of the last ``holds`` reads unchanged."""
        try:
            count = read_into(self.source, view)
        except BaseException:
            self._wait(0)  # no thread left reading a caller's memory once this fails
            raise
        if count:
            self._took(view[:count])
        return count

    @property
    def holds(self) -> int:
        """Reads whose memory the hash threads may still be reading after they return."""
        return IN_FLIGHT

    def _took(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        if self.cap is not None and self.size > self.cap:
            self._wait(0)
            raise TooLarge(f"Image exceeds the storage quota: the size cap is {self.cap} bytes")
        self._hash(data)
        if self.on_read:
            self.on_read(len(data))

    def _hash(self, data: bytes | memoryview) -> None:
        if len(data) < PARALLEL_MIN:
            self._wait(0)  # earlier chunks first: each digest must see the bytes in order
            self._md5.update(data)
            self._multihash.update(data)
            return
        if self._threads is None:
            self._threads = (ThreadPoolExecutor(1, "md5"), ThreadPoolExecutor(1, self.hash_algo))
        md5, multihash = self._threads
        self._pending.append((md5.submit(self._md5.update, data), multihash.submit(self._multihash.update, data)))
        self._wait(IN_FLIGHT)

    def _wait(self, in_flight: int) -> None:
        """Wait until at most ``in_flight`` chunks are left to hash; with 0, also stop the threads."""
        while len(self._pending) > in_flight:
            for future in self._pending.popleft():
                future.result()
        if in_flight == 0 and self._threads is not None:
            for pool in self._threads:
                pool.shutdown()
            self._threads = None

    @property
    def checksum(self) -> str:
        self._wait(0)
        return self._md5.hexdigest()

    @property
    def hash_value(self) -> str:
        self._wait(0)
        return self._multihash.hexdigest()

    @property
    def digests(self) -> dict[str, str]:
        """``checksum``, ``hash_algo`` and ``hash_value``, as a stage records them and an import takes them."""
        return {"checksum": self.checksum, "hash_algo": self.hash_algo, "hash_value": self.hash_value}


class ChunkReader:
    """A Readable over an iterator of chunks: a read returns at most the size asked, from one chunk (the
    rest of a larger chunk comes with the next reads); ``on_read(n)`` is told the size of each chunk."""

    def __init__(self, chunks: Iterable[bytes], on_read: Callable[[int], None] | None = None) -> None:
        self._chunks = iter(chunks)
        self._on_read = on_read
        self._rest = b""

    def read(self, size: int = -1, /) -> bytes:
        chunk, self._rest = self._rest, b""
        if not chunk:
            chunk = next(self._chunks, b"")
            if chunk and self._on_read is not None:
                self._on_read(len(chunk))
        if 0 <= size < len(chunk):
            chunk, self._rest = chunk[:size], chunk[size:]
        return chunk
