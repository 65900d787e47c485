"""Streams that data flows through on its way into a store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from shared.domain.errors import TooLarge
from shared.stores.base import Readable


class HashingReader:
    """Reads from ``source`` while counting bytes and computing md5 and the multihash.

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

    def read(self, size: int = -1, /) -> bytes:
        data = self.source.read(size)
        if data:
            self.size += len(data)
            if self.cap is not None and self.size > self.cap:
                raise TooLarge(f"Image exceeds the storage quota: the size cap is {self.cap} bytes")
            self._md5.update(data)
            self._multihash.update(data)
            if self.on_read:
                self.on_read(len(data))
        return data

    @property
    def checksum(self) -> str:
        return self._md5.hexdigest()

    @property
    def hash_value(self) -> str:
        return self._multihash.hexdigest()


class ChunkReader:
    """A Readable over an iterator of chunks (each read returns the next chunk, whatever size is asked)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)

    def read(self, size: int = -1, /) -> bytes:
        return next(self._chunks, b"")
