"""Where the real servers for integration and end-to-end tests are.

Each server's URL comes from the environment:

    GLINT_TEST_POSTGRES_URL   e.g. postgresql://postgres@127.0.0.1:5432/postgres
    GLINT_TEST_REDIS_URL      e.g. redis://127.0.0.1:6379/0
    GLINT_TEST_RABBITMQ_URL   e.g. amqp://guest:guest@127.0.0.1:5672//
    GLINT_TEST_S3_URL         e.g. http://ACCESSKEY:SECRET@127.0.0.1:7480 (Ceph RGW: ../shared/tools/ceph-up.sh)

When one is not set and a Docker engine answers, the server is started with
testcontainers for the test session. Otherwise the tests that need it skip,
saying why; with GLINT_TEST_REQUIRE_SERVERS=1 (CI) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

ENV = {
    "postgres": "GLINT_TEST_POSTGRES_URL",
    "redis": "GLINT_TEST_REDIS_URL",
    "rabbitmq": "GLINT_TEST_RABBITMQ_URL",
    "s3": "GLINT_TEST_S3_URL",
}


def require_servers() -> bool:
    return os.environ.get("GLINT_TEST_REQUIRE_SERVERS") == "1"


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when servers are required."""
    if require_servers():
        pytest.fail(f"{reason} (GLINT_TEST_REQUIRE_SERVERS=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextmanager
def _container(kind: str) -> Iterator[str]:
    if kind == "postgres":
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg") as pg:
            yield pg.get_connection_url()
    elif kind == "redis":
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as redis:
            yield f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
    elif kind == "s3":
        from testcontainers.minio import MinioContainer

        with MinioContainer() as minio:
            config = minio.get_config()
            yield f"http://{config['access_key']}:{config['secret_key']}@{config['endpoint']}"
    else:
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3-alpine") as rabbit:
            yield f"amqp://guest:guest@{rabbit.get_container_host_ip()}:{rabbit.get_exposed_port(5672)}//"


class ServerPool:
    """Resolves each kind of server once per session: environment, then testcontainers, else None."""

    def __init__(self) -> None:
        self._urls: dict[str, str | None] = {}
        self._stack: list[Any] = []

    def url(self, kind: str) -> str | None:
        if kind not in self._urls:
            url = os.environ.get(ENV[kind])
            if not url and docker_available():
                manager = _container(kind)
                url = manager.__enter__()
                self._stack.append(manager)
            self._urls[kind] = url or None
        return self._urls[kind]

    def need(self, kind: str) -> str:
        url = self.url(kind)
        if url is None:
            unavailable(f"no {kind} server: set {ENV[kind]} (or make a Docker engine reachable for testcontainers)")
        assert url is not None
        return url

    def close(self) -> None:
        while self._stack:
            self._stack.pop().__exit__(None, None, None)


def fresh_postgres_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """A new, empty database on the server of ``admin_url``; returns its URL and a function that drops it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from shared.persistence.database import normalise_url

    admin = normalise_url(admin_url)
    name = f"glint_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return url, drop


def s3_store_options(url: str, bucket: str, **extra: object) -> dict[str, object]:
    """The [enabled_backends.<name>] options of an s3 store on the server of ``url`` (with credentials)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return {
        "type": "s3",
        "s3_store_host": f"{parts.scheme}://{parts.hostname}:{parts.port}",
        "s3_store_access_key": parts.username or "",
        "s3_store_secret_key": parts.password or "",
        "s3_store_bucket": bucket,
        "s3_store_create_bucket_on_put": True,
        **extra,
    }


def empty_bucket(store: object) -> None:
    """Delete every object, every unfinished upload, and the bucket of an S3Store."""
    client = store.client  # type: ignore[attr-defined]
    bucket = store.bucket  # type: ignore[attr-defined]
    try:
        for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
        client.delete_bucket(Bucket=bucket)
    except Exception:  # the bucket was never created
        pass
