"""Fault tests run the services as processes, like the end-to-end tests, with the same fixtures."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import deploy, pytest_runtest_makereport, tap_for  # noqa: F401
from tests.faults.private_brokers import PrivateRabbit, PrivateRedis


@pytest.fixture
def private_broker(servers, tmp_path: Path, bus: str) -> Iterator[PrivateRedis | PrivateRabbit]:
    """A started broker of the test's own for the ``bus`` parameter ("redis" or "rabbitmq"), which the test
    may kill and start again; killed at teardown. Checks for PostgreSQL first, so that a run without it skips
    before a broker is started for nothing."""
    servers.need("postgres")
    broker = (PrivateRedis if bus == "redis" else PrivateRabbit)(tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()
