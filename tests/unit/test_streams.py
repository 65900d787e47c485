"""HashingReader: the same digests as hashlib whatever the chunk sizes, the cap, and bounded hand-off."""

from __future__ import annotations

import hashlib
import io
import os
import random

import pytest

from shared.domain.errors import TooLarge
from shared.stores import streams
from shared.stores.streams import ChunkReader, HashingReader
from tests.helpers import SlowDigest


def chunks_of(data: bytes, sizes: list[int]) -> list[bytes]:
    out, at = [], 0
    for size in sizes:
        out.append(data[at : at + size])
        at += size
    return [chunk for chunk in out if chunk]


@pytest.mark.parametrize("algo", ["sha512", "sha256"])
def test_digests_match_hashlib_with_small_and_large_chunks_interleaved(algo: str) -> None:
    rng = random.Random(7)
    sizes = [rng.choice([1, 4096, 100_000, streams.PARALLEL_MIN, 1024 * 1024 + 3]) for _ in range(60)]
    data = os.urandom(sum(sizes))
    reader = HashingReader(ChunkReader(chunks_of(data, sizes)), hash_algo=algo)
    read = b"".join(iter(lambda: reader.read(1024 * 1024), b""))
    assert read == data and reader.size == len(data)
    assert reader.checksum == hashlib.md5(data).hexdigest()
    assert reader.hash_value == hashlib.new(algo, data).hexdigest()
    assert reader._threads is None  # the hash threads stop once the digests are asked for


def test_no_more_than_in_flight_chunks_wait_for_hashing() -> None:
    seen: list[int] = []
    block = os.urandom(streams.PARALLEL_MIN)
    reader = HashingReader(ChunkReader([block] * 50), on_read=lambda n: seen.append(len(reader._pending)))
    while reader.read(len(block)):
        pass
    assert max(seen) <= streams.IN_FLIGHT
    assert reader.checksum == hashlib.md5(block * 50).hexdigest()


def test_the_cap_is_enforced_before_the_data_is_passed_on() -> None:
    block = os.urandom(streams.PARALLEL_MIN)
    reader = HashingReader(ChunkReader([block] * 3), cap=2 * len(block) + 10)
    assert reader.read() == block and reader.read() == block
    with pytest.raises(TooLarge):
        reader.read()
    assert reader._threads is None and reader.size == 3 * len(block)


def read_in_rotation(reader: HashingReader, buffers: int, size: int) -> bytes:
    """Read through ``buffers`` buffers in turn, scribbling over each one just before it is read into again."""
    views = [memoryview(bytearray(size)) for _ in range(buffers)]
    got, turn = [], 0
    while True:
        view = views[turn % buffers]
        view[:] = b"\xff" * size
        count = reader.readinto(view)
        if not count:
            return b"".join(got)
        got.append(bytes(view[:count]))
        turn += 1


@pytest.mark.parametrize("source_kind", ["readinto", "read only"])
def test_readinto_hashes_the_caller_s_memory_while_the_caller_keeps_to_holds(source_kind: str) -> None:
    data = os.urandom(12 * streams.PARALLEL_MIN + 5)
    source = io.BytesIO(data) if source_kind == "readinto" else ChunkReader(chunks_of(data, [100_000] * 20 + [10**7]))
    reader = HashingReader(source)
    reader._md5 = SlowDigest(reader._md5)  # type: ignore[assignment]
    assert read_in_rotation(reader, reader.holds + 1, streams.PARALLEL_MIN) == data
    assert reader.checksum == hashlib.md5(data).hexdigest()
    assert reader.hash_value == hashlib.sha512(data).hexdigest()


def test_a_caller_reusing_memory_too_soon_would_change_the_digest() -> None:
    """The control for the test above: one buffer fewer than ``holds`` asks for, and the hash is wrong."""
    data = os.urandom(12 * streams.PARALLEL_MIN)
    reader = HashingReader(io.BytesIO(data))
    reader._md5 = SlowDigest(reader._md5)  # type: ignore[assignment]
    assert read_in_rotation(reader, reader.holds, streams.PARALLEL_MIN) == data
    assert reader.checksum != hashlib.md5(data).hexdigest()


def test_readinto_past_the_cap_is_refused_with_no_hashing_left() -> None:
    block = os.urandom(streams.PARALLEL_MIN)
    reader = HashingReader(io.BytesIO(block * 3), cap=2 * len(block) + 10)
    view = memoryview(bytearray(len(block)))
    assert reader.readinto(view) == reader.readinto(view) == len(block)
    with pytest.raises(TooLarge):
        reader.readinto(view)
    assert reader._threads is None and reader.size == 3 * len(block)


def test_a_source_failing_in_readinto_leaves_no_thread_reading_the_caller_s_memory() -> None:
    class Failing(io.BytesIO):
        def readinto(self, view) -> int:  # type: ignore[no-untyped-def,override]
            if self.tell() >= 2 * streams.PARALLEL_MIN:
                raise ConnectionResetError("the client went away")
            return super().readinto(view)

    reader = HashingReader(Failing(os.urandom(4 * streams.PARALLEL_MIN)))
    reader._md5 = SlowDigest(reader._md5)  # type: ignore[assignment]
    views = [memoryview(bytearray(streams.PARALLEL_MIN)) for _ in range(3)]
    assert reader.readinto(views[0]) == reader.readinto(views[1]) == streams.PARALLEL_MIN
    assert reader._pending  # both still being hashed
    with pytest.raises(ConnectionResetError):
        reader.readinto(views[2])
    assert reader._threads is None and not reader._pending


def test_a_chunk_reader_gives_no_more_than_asked() -> None:
    told: list[int] = []
    reader = ChunkReader([b"a" * 25, b"b" * 5], on_read=told.append)
    assert [reader.read(10) for _ in range(5)] == [b"a" * 10, b"a" * 10, b"a" * 5, b"b" * 5, b""]
    assert told == [25, 5]  # each chunk once, as it is taken
    assert ChunkReader([b"c" * 3]).read() == b"c" * 3
