"""The worker's Celery app and how to run it."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import celeryd_init
from celery.worker import WorkController

from services.worker.tasks import WorkerRuntime, register_tasks
from shared.bootstrap import bootstrap
from shared.config.settings import Settings
from shared.messaging.celery_app import make_celery, queue_name


def create_worker_app(settings: Settings, runtime: WorkerRuntime | None = None) -> Celery:
    """The Celery app with glint's tasks registered; services are built in the worker process, at the first
    task unless ``runtime`` has built them already."""
    app = make_celery(settings)
    register_tasks(app, runtime or WorkerRuntime(settings, bootstrap))
    return app


def run_worker(settings: Settings, queues: list[str], concurrency: int) -> int:
    """Consume ``queues`` with ``concurrency`` threads until stopped (SIGTERM or SIGINT); returns the exit code:
    0 after a stop, non-zero after an error the worker cannot recover from (``Celery.worker_main`` drops it, so a
    worker refused by its broker exited 0 and systemd's ``Restart=on-failure`` left it down; the worker instance
    holds it, reached through the ``celeryd_init`` signal)."""
    runtime = WorkerRuntime(settings, bootstrap)
    app = create_worker_app(settings, runtime)
    # Built before the first message, not by the first job (threads, no fork): the database pool, the stores
    # and the dispatcher's loading. A 1 GiB upload's first job waited 32 ms from queued to running for them;
    # 0.2-3 ms now, as later jobs. Connects to nothing.
    runtime.services  # noqa: B018  (a property that builds them)
    workers: list[WorkController] = []

    def remember(sender: str, instance: WorkController, **_: object) -> None:
        if instance.app is app:
            workers.append(instance)

    celeryd_init.connect(remember, weak=False)
    try:
        app.worker_main(
            [
                "worker",
                "--queues", ",".join(queue_name(settings, queue) for queue in queues),
                "--concurrency", str(concurrency),
                "--pool", "threads",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", settings.logging.level,
                # A node name of this process's own: on RabbitMQ a worker's remote-control queue is exclusive to its
                # node name, and a second worker of the same queues on the host was refused it and exited.
                "--hostname", f"glint-{'+'.join(queues)}-{os.getpid()}@%h",
            ]
        )  # fmt: skip
    finally:
        celeryd_init.disconnect(remember)
    return (workers[0].exitcode or 0) if workers else 1
