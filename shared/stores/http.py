"""The ``http`` store: read-only, for images whose data stays at a URL.

Reads go through the same filtered, address-pinned fetch as web-download,
so a registered URL cannot point glint at an internal service.
"""

from __future__ import annotations

from collections.abc import Iterator

from shared.config.stores import HttpStoreSettings
from shared.fetch import FetchFailed, FetchRefused, UriFilter, open_url
from shared.stores.base import ImageData, Progress, Readable, Store, StoredObject
from shared.stores.errors import DataNotFound, StorageWriteDenied, StoreError, TransientStoreError


class HttpStore(Store):
    """Image data at http(s) URLs; glint never writes or deletes it."""

    read_only = True

    def __init__(self, name: str, options: HttpStoreSettings, uri_filter: UriFilter) -> None:
        super().__init__(name)
        self.options = options
        self.uri_filter = uri_filter

    def handles(self, url: str) -> bool:
        return url.startswith(("http://", "https://"))

    def add(
        self, key: str, source: Readable, *, progress: Progress | None = None, read_back: bool = False
    ) -> StoredObject:
        raise StorageWriteDenied(f"store {self.name} is read-only")

    def get(self, url: str, offset: int = 0, length: int | None = None) -> ImageData:
        size = self.get_size(url)
        offset = min(offset, size)
        length = size - offset if length is None else max(0, min(length, size - offset))
        if length == 0:
            return ImageData(chunks=iter(()), size=size, offset=offset, length=0)
        whole = offset == 0 and length == size
        fetched = self._open(url, None if whole else (offset, offset + length - 1))
        if not whole and fetched.status != 206:
            raise StoreError(f"{url} does not serve byte ranges")
        return ImageData(chunks=fetched.chunks, size=size, offset=offset, length=length, close=fetched.close)

    def get_size(self, url: str) -> int:
        fetched = self._open(url, None)
        fetched.close()
        if fetched.length is None:
            raise StoreError(f"{url} does not say how large it is")
        return fetched.length

    def delete(self, url: str) -> None:
        """Nothing to delete: the data is not glint's."""

    def list_keys(self) -> Iterator[tuple[str, float]]:
        return iter(())

    def _open(self, url: str, byte_range: tuple[int, int] | None):  # type: ignore[no-untyped-def]
        try:
            return open_url(url, self.uri_filter, timeout=self.options.http_timeout,
                            insecure=self.options.https_insecure, byte_range=byte_range)  # fmt: skip
        except FetchRefused as exc:
            raise StoreError(exc.message) from None
        except FetchFailed as exc:
            if " answered 404" in str(exc):
                raise DataNotFound(str(exc)) from None
            raise TransientStoreError(str(exc)) from None
