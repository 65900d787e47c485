"""Fixtures shared by every tier: settings on a temporary data directory, real servers, fakes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings, load_settings
from shared.domain.context import RequestContext
from shared.domain.policy import Policy
from shared.persistence.database import Database
from shared.persistence.schema import upgrade
from shared.schemas import Schemas
from shared.services import Services
from shared.stores.registry import StoreRegistry
from tests.fakes.messaging import RecordingDispatcher
from tests.fakes.stores import MemoryStore
from tests.servers import ServerPool, fresh_postgres_database, require_servers


@pytest.fixture(scope="session")
def servers() -> Iterator[ServerPool]:
    pool = ServerPool()
    yield pool
    pool.close()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on ``tmp_path``, with ``GLINT_*``-style overrides given as a nested dict."""

    def build(overrides: dict[str, Any] | None = None, **top: Any) -> Settings:
        # No worker runs in unit tests: PUT /file answers once the job is queued.
        environ: dict[str, str] = {"GLINT_DATA_DIR": str(tmp_path / "data"), "GLINT_API__UPLOAD_COMPLETION_WAIT": "0"}
        for key, value in {**(overrides or {}), **top}.items():
            if isinstance(value, dict):
                for sub, subvalue in value.items():
                    environ[f"GLINT_{key.upper()}__{sub.upper()}"] = _env_value(subvalue)
            else:
                environ[f"GLINT_{key.upper()}"] = _env_value(value)
        return load_settings(None, environ)

    return build


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "glint.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture
def sqlite_db(tmp_path: Path, _sqlite_template: Path) -> Iterator[Database]:
    path = tmp_path / "glint.db"
    path.write_bytes(_sqlite_template.read_bytes())
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture
def postgres_db(servers: ServerPool) -> Iterator[Database]:
    url, drop = fresh_postgres_database(servers.need("postgres"))
    db = Database(url)
    upgrade(db.engine)
    yield db
    db.dispose()
    drop()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> Database:
    """The same test on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_db")


@pytest.fixture
def memory_stores() -> StoreRegistry:
    return StoreRegistry(
        {"fast": MemoryStore("fast"), "cheap": MemoryStore("cheap")}, "fast", MemoryStore("os_glance_staging_store")
    )


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def services(make_settings, sqlite_db, memory_stores, dispatcher) -> Services:
    """Handlers' dependencies: real SQLite, in-memory stores, a recording dispatcher."""
    settings = make_settings()
    return Services(
        settings=settings,
        db=sqlite_db,
        stores=memory_stores,
        dispatcher=dispatcher,
        policy=Policy.default(),
        schemas=Schemas(settings.image_format.disk_formats, settings.image_format.container_formats),
    )


def member(project: str = "p1", user: str = "u1") -> RequestContext:
    return RequestContext.from_roles(user, project, ["member", "reader"], request_id=f"req-{uuid.uuid4()}")


def reader(project: str = "p1", user: str = "u2") -> RequestContext:
    return RequestContext.from_roles(user, project, ["reader"], request_id=f"req-{uuid.uuid4()}")


def admin(project: str = "admin-project", user: str = "admin") -> RequestContext:
    return RequestContext.from_roles(user, project, ["admin"], request_id=f"req-{uuid.uuid4()}")


REAL_PART_TIERS = ("contract", "integration", "e2e")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Under GLINT_TEST_REQUIRE_SERVERS=1 (CI), a skipped test of a real-part tier is a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and require_servers() and any(f"/{tier}/" in str(item.path) for tier in REAL_PART_TIERS):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every real part must run: {report.longrepr}"
