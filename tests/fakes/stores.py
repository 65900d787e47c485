"""A store that keeps objects in memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from shared.stores.base import ImageData, Progress, Readable, Store, StoredObject
from shared.stores.errors import DataNotFound, StoreError

PREFIX = "memory://"


class MemoryStore(Store):
    """Objects in a dict, keyed by ``memory://<store>/<key>`` URLs.

    ``fail_next`` makes the next writes raise, to exercise failure paths.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.objects: dict[str, tuple[bytes, float]] = {}
        self.fail_next: list[Exception] = []
        self._lock = threading.Lock()

    def url_for(self, key: str) -> str:
        if not key or "/" in key:
            raise StoreError(f"invalid object key {key!r}")
        return f"{PREFIX}{self.name}/{key}"

    def handles(self, url: str) -> bool:
        return url.startswith(f"{PREFIX}{self.name}/")

    def add(
        self, key: str, source: Readable, *, progress: Progress | None = None, read_back: bool = False
    ) -> StoredObject:
        url = self.url_for(key)
        if self.fail_next:
            raise self.fail_next.pop(0)
        parts = []
        while chunk := source.read(65536):
            parts.append(chunk)
            if progress:
                progress(len(chunk))
        data = b"".join(parts)
        with self._lock:
            self.objects[url] = (data, time.time())
        return StoredObject(url=url, size=len(data), metadata={"store": self.name})

    def get(self, url: str, offset: int = 0, length: int | None = None) -> ImageData:
        data = self._data(url)
        offset = min(offset, len(data))
        length = len(data) - offset if length is None else max(0, min(length, len(data) - offset))
        view = data[offset : offset + length]
        chunks = iter([view[i : i + 65536] for i in range(0, len(view), 65536)])
        return ImageData(chunks=chunks, size=len(data), offset=offset, length=length)

    def get_size(self, url: str) -> int:
        return len(self._data(url))

    def delete(self, url: str) -> None:
        if not self.handles(url):
            raise StoreError(f"{url} is not in store {self.name}")
        with self._lock:
            self.objects.pop(url, None)

    def list_keys(self) -> Iterator[tuple[str, float]]:
        with self._lock:
            items = list(self.objects.items())
        for url, (_, modified) in items:
            yield url.rsplit("/", 1)[1], modified

    def _data(self, url: str) -> bytes:
        if not self.handles(url):
            raise StoreError(f"{url} is not in store {self.name}")
        with self._lock:
            found = self.objects.get(url)
        if found is None:
            raise DataNotFound(f"{url} does not exist")
        return found[0]
