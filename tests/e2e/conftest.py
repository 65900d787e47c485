"""Deployments of the four services as processes, on each combination of real parts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.deployment import SERVICES, Api, Deployment, EventTap, free_port
from tests.servers import fresh_postgres_database

BACKENDS = ["embedded", "postgres+redis", "postgres+rabbitmq"]


@pytest.fixture
def deploy(tmp_path: Path, servers, request) -> Iterator[Callable[..., Deployment]]:
    """``deploy(backend, start=SERVICES, **config)``: a running deployment, stopped after the test."""
    made: list[Deployment] = []
    drops: list[Callable[[], None]] = []

    def build(backend: str = "embedded", start: tuple[str, ...] = SERVICES, **config: Any) -> Deployment:
        root = tmp_path / f"deployment-{len(made)}"
        root.mkdir()
        settings: dict[str, Any] = {
            "data_dir": str(root / "data"),
            "bind_port": free_port(),
            "workers": 2,
            "jobs": {"queue_prefix": f"e2e-{uuid.uuid4().hex[:8]}-", "heartbeat_interval": 1, "stale_after": 4,
                     "reap_interval": 1, "redispatch_after": 10},
            "worker": {"concurrency": 2},
            "oslo_messaging_notifications": {"declare_queues": "false", "poll_interval": 0.05},
            "logging": {"format": "json"},
        }  # fmt: skip
        if backend != "embedded":
            bus = backend.split("+")[1]
            url, drop = fresh_postgres_database(servers.need("postgres"))
            drops.append(drop)
            settings["database"] = {"connection": url}
            settings["transport_url"] = servers.need(bus)
        for key, value in config.items():
            if isinstance(value, dict):
                settings.setdefault(key, {}).update(value)
            else:
                settings[key] = value
        deployment = Deployment(root, settings)
        made.append(deployment)
        upgraded = deployment.run("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        if start:
            deployment.start(*start)
        return deployment

    yield build
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for deployment in made:
        deployment.stop()
        if failed:
            for path in sorted(deployment.logs.glob("*.log")):
                print(f"----- {path.stem} log -----\n{deployment.log(path.stem)}")
    for drop in drops:
        drop()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def tap_for() -> Iterator[Callable[[Deployment], EventTap]]:
    taps: list[EventTap] = []

    def build(deployment: Deployment) -> EventTap:
        tap = EventTap(deployment.settings)
        taps.append(tap)
        return tap

    yield build
    for tap in taps:
        tap.close()


def api(deployment: Deployment, **kwargs: Any) -> Api:
    return Api(deployment.url, **kwargs)


@pytest.fixture(scope="session")
def web() -> Iterator[Any]:
    """A local web server for web-download (127.0.0.2, which the import configs below allow)."""
    from tests.webserver import serve

    yield from serve()


# web-download may reach the test web server (and nothing else internal).
ALLOW_TEST_WEB = {"import_filtering_opts": {"allowed_ports": [], "allowed_networks": ["127.0.0.2/32"]}}
