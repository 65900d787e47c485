"""HashingReader: the same digests as hashlib whatever the chunk sizes, the cap, and bounded hand-off."""

from __future__ import annotations

import hashlib
import os
import random

import pytest

from shared.domain.errors import TooLarge
from shared.stores import streams
from shared.stores.streams import ChunkReader, HashingReader


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
    while reader.read(1):
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
