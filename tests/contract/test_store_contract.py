"""Every store driver, and the fake, behave the same.

Reading is the contract of every store, the read-only ``http`` store
included (``readable``); writing is the contract of the others (``store``).
"""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.config.stores import HttpStoreSettings, S3StoreSettings
from shared.fetch import UriFilter
from shared.stores.base import Store, StoredObject
from shared.stores.errors import DataNotFound, StorageWriteDenied, StoreError
from shared.stores.filesystem import FileStore
from shared.stores.http import HttpStore
from shared.stores.s3 import S3Store
from tests.fakes.stores import MemoryStore
from tests.helpers import BytesReader
from tests.servers import empty_bucket, s3_store_options
from tests.webserver import WebServer

DATA = os.urandom(3 * 1024 * 1024 + 17)


def _writable(kind: str, tmp_path: Path, servers, s3_threads: int = 10, name: str = "fast") -> Iterator[Store]:
    if kind == "file":
        yield FileStore(name, tmp_path / name, chunk_size=64 * 1024)
    elif kind == "memory":
        yield MemoryStore(name)
    else:
        options = s3_store_options(servers.need("s3"), f"glint-{uuid.uuid4().hex[:12]}",
                                   s3_store_large_object_chunk_size=5, s3_store_thread_pools=s3_threads)  # fmt: skip
        s3 = S3Store(name, S3StoreSettings(**options))
        yield s3
        empty_bucket(s3)


@pytest.fixture(params=["file", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, servers) -> Iterator[Store]:
    yield from _writable(request.param, tmp_path, servers)


Put = Callable[[str, bytes], str]


@pytest.fixture(params=["file", "memory", "s3", "http"])
def readable(request: pytest.FixtureRequest, tmp_path: Path, servers) -> Iterator[tuple[Store, Put]]:
    """A store and a way to put data where it can read it (for ``http``: a real web server)."""
    if request.param == "http":
        server = WebServer()
        # 127.0.0.2 is a loopback address: refused by default, allowed here on purpose.
        web = HttpStore("web", HttpStoreSettings(type="http", http_timeout=5), UriFilter(allowed_ports=(),
                        allowed_networks=("127.0.0.0/8",)))  # fmt: skip
        yield web, server.put
        server.close()
        return
    for writable in _writable(request.param, tmp_path, servers):

        def put(key: str, data: bytes, into: Store = writable) -> str:
            return into.add(key, BytesReader(data)).url

        yield writable, put


def test_every_store_reads_whole_and_ranges(readable: tuple[Store, Put]) -> None:
    store, put = readable
    url = put("r1", DATA)
    assert store.handles(url) and store.get_size(url) == len(DATA)
    assert store.get(url).read_all() == DATA
    part = store.get(url, offset=1000, length=5000)
    assert (part.size, part.offset, part.length) == (len(DATA), 1000, 5000) and part.read_all() == DATA[1000:6000]
    assert store.get(url, offset=len(DATA) - 10, length=100).read_all() == DATA[-10:]
    assert store.get(url, offset=len(DATA)).read_all() == b""


def test_every_store_says_when_data_is_missing(readable: tuple[Store, Put]) -> None:
    store, put = readable
    url = put("present", b"x")
    missing = url.replace("present", "absent")
    with pytest.raises(DataNotFound):
        store.get(missing)
    with pytest.raises(DataNotFound):
        store.get_size(missing)


def test_the_http_store_reads_only_what_the_filter_allows(tmp_path: Path) -> None:
    server = WebServer()
    try:
        url = server.put("img", b"data")
        strict = HttpStore("web", HttpStoreSettings(type="http"), UriFilter(allowed_ports=()))
        with pytest.raises(StoreError, match="not allowed|refused|loopback|non-global"):
            strict.get(url)  # 127.0.0.2 is loopback: refused unless the operator allows it
        web = HttpStore("web", HttpStoreSettings(type="http"), UriFilter(allowed_ports=(),
                        allowed_networks=("127.0.0.0/8",)))  # fmt: skip
        for foreign in ("file:///etc/passwd", "s3://host/bucket/k", "memory://fast/k"):
            assert not web.handles(foreign)
        with pytest.raises(StorageWriteDenied):
            web.add("k", BytesReader(b"x"))
        web.delete(url)  # the data is not glint's: deleting is a no-op
        assert web.get(url).read_all() == b"data" and list(web.list_keys()) == []
    finally:
        server.close()


def test_add_then_read_whole_and_ranges(store: Store) -> None:
    progress: list[int] = []
    stored = store.add("k1", BytesReader(DATA), progress=progress.append)
    assert stored.size == len(DATA) and sum(progress) == len(DATA)
    assert stored.metadata == {"store": "fast"}
    assert store.handles(stored.url) and stored.url == store.url_for("k1")
    assert store.get_size(stored.url) == len(DATA)
    whole = store.get(stored.url)
    assert (whole.size, whole.offset, whole.length) == (len(DATA), 0, len(DATA))
    assert whole.read_all() == DATA
    part = store.get(stored.url, offset=1000, length=5000)
    assert (part.offset, part.length) == (1000, 5000) and part.read_all() == DATA[1000:6000]
    tail = store.get(stored.url, offset=len(DATA) - 10, length=100)
    assert tail.length == 10 and tail.read_all() == DATA[-10:]


def test_keys_are_listed_and_replaced_atomically(store: Store) -> None:
    store.add("a", BytesReader(b"one"))
    store.add("b", BytesReader(b"two"))
    store.add("a", BytesReader(b"three"))
    assert sorted(key for key, _ in store.list_keys()) == ["a", "b"]
    assert store.get(store.url_for("a")).read_all() == b"three"


def test_a_failed_write_leaves_nothing(store: Store) -> None:
    class Broken(BytesReader):
        def read(self, size: int = -1, /) -> bytes:
            if self.pos > 100_000:
                raise OSError("connection reset")
            return super().read(size)

    with pytest.raises(OSError):
        store.add("k", Broken(DATA))
    assert list(store.list_keys()) == []
    with pytest.raises(DataNotFound):
        store.get(store.url_for("k"))


def test_delete_is_idempotent(store: Store) -> None:
    stored = store.add("k", BytesReader(b"x"))
    store.delete(stored.url)
    store.delete(stored.url)
    with pytest.raises(DataNotFound):
        store.get_size(stored.url)
    assert list(store.list_keys()) == []


@pytest.mark.parametrize("keep_source", [False, True])
def test_adopting_a_sibling_stores_object(store: Store, keep_source: bool, tmp_path: Path, servers) -> None:
    """A store of the same kind hands an object over without glint copying it, or says it cannot (None)."""
    kind = {FileStore: "file", MemoryStore: "memory", S3Store: "s3"}[type(store)]
    for source in _writable(kind, tmp_path, servers, name="staging"):
        url = source.add("staged", BytesReader(DATA)).url
        store.add("k", BytesReader(b"an older copy"))
        adopted = store.adopt("k", source, url, keep_source=keep_source)
        if adopted is None:  # the caller streams a copy; nothing changed
            assert (
                source.get(url).read_all() == DATA
                and store.get(store.url_for("k") or "").read_all() == b"an older copy"
            )
            continue
        assert (adopted.url, adopted.size) == (store.url_for("k"), len(DATA))
        assert store.get(adopted.url).read_all() == DATA and [key for key, _ in store.list_keys()] == ["k"]
        if keep_source:
            assert source.get(url).read_all() == DATA
            source.delete(url)  # the source goes when the caller is done; the adopted copy stays
            assert store.get(adopted.url).read_all() == DATA
        with pytest.raises(DataNotFound):
            source.get_size(url)


def test_foreign_urls_are_refused(store: Store) -> None:
    for url in ("file:///etc/passwd", "memory://other/k", "http://example.com/k", "file:///tmp/../etc/x",
                "s3://elsewhere/bucket/k"):  # fmt: skip
        assert not store.handles(url)
        with pytest.raises(StoreError):
            store.get(url)
    with pytest.raises(StoreError):
        store.url_for("../escape")


def test_large_objects_are_written_in_parts_and_abandoned_parts_are_removed(store: Store) -> None:
    """Above one part (5 MiB for the S3 store here) the data goes up in parts."""
    big = os.urandom(12 * 1024 * 1024 + 5)
    stored = store.add("big", BytesReader(big, step=1024 * 1024))
    assert stored.size == len(big)
    assert store.get(stored.url, offset=6 * 1024 * 1024, length=100).read_all() == big[6 * 1024 * 1024 :][:100]
    assert store.remove_stale_parts(older_than=4102444800.0) == 0  # nothing abandoned
    assert store.get_size(stored.url) == len(big)


class Generated:
    """``size`` pseudo-random bytes made on the fly, 1 MiB per read, hashed as they go: nothing kept."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.md5 = hashlib.md5()
        self.block = os.urandom(1024 * 1024)

    def read(self, size: int = -1, /) -> bytes:
        chunk = self.block[: min(self.left, len(self.block))]
        self.block = hashlib.sha512(self.block[:64]).digest() + self.block[64:]  # vary the data a little
        self.left -= len(chunk)
        self.md5.update(chunk)
        return chunk


def _peak_mib(operation: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        operation()
        return tracemalloc.get_traced_memory()[1] / (1024 * 1024)
    finally:
        tracemalloc.stop()


def _write_and_read_back(store: Store, size: int) -> float:
    """Stream ``size`` generated bytes into ``store`` and back; the peak of Python memory meanwhile, in MiB."""
    source, readback = Generated(size), hashlib.md5()
    stored: list[StoredObject] = []

    def write() -> None:
        stored.append(store.add(f"flat-{size}", source))

    def read() -> None:
        for chunk in store.get(stored[0].url).chunks:
            readback.update(chunk)

    peak = max(_peak_mib(write), _peak_mib(read))
    assert stored[0].size == size and readback.hexdigest() == source.md5.hexdigest()
    store.delete(stored[0].url)
    return peak


@pytest.mark.parametrize("kind", ["file", "s3"])  # the in-memory fake keeps its objects in memory, by design
def test_memory_stays_flat_whatever_the_size(kind: str, tmp_path: Path, servers) -> None:
    """Writing and reading back 32 MiB and 160 MiB take the same memory (S3: the parts in flight, at most)."""
    for store in _writable(kind, tmp_path, servers, s3_threads=4):  # 32 MiB already fills 4 threads' parts
        store.add("warm-up", BytesReader(b"x"))  # the client and the bucket exist before anything is measured
        small, large = (_write_and_read_back(store, size * 1024 * 1024) for size in (32, 160))
        print(f"{kind}: peak {small:.1f} MiB for 32 MiB, {large:.1f} MiB for 160 MiB")
        # S3: the parts in flight and one read ahead (part size x (threads + 1)), with half as much again
        # for botocore's request buffers; file: a couple of 1 MiB chunks.
        bound = 5 * (4 + 1) * 1.5 if kind == "s3" else 4
        assert large < bound + 12, (small, large)
        assert large < small * 1.5 + 4, (small, large)  # five times the data, not five times the memory


def test_a_failed_large_write_leaves_nothing(store: Store) -> None:
    class BreaksLate(BytesReader):
        def read(self, size: int = -1, /) -> bytes:
            if self.pos > 11 * 1024 * 1024:
                raise OSError("connection reset")
            return super().read(size)

    with pytest.raises(OSError):
        store.add("late", BreaksLate(os.urandom(16 * 1024 * 1024), step=1024 * 1024))
    assert list(store.list_keys()) == []
    assert store.remove_stale_parts(older_than=4102444800.0) == 0  # no unfinished upload left behind
