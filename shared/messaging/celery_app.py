"""The Celery application shared by the API (to send jobs) and the worker (to run them)."""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from shared.config.settings import Settings
from shared.domain.jobs import QUEUE_OF
from shared.messaging.connections import broker_connection


def queue_name(settings: Settings, queue: str) -> str:
    return f"{settings.jobs.queue_prefix}{queue}"


def make_celery(settings: Settings) -> Celery:
    """A Celery app on the configured bus: late acks, one message prefetched, no result backend.

    Late acknowledgement plus ``task_reject_on_worker_lost`` gives an
    interrupted job back to the broker where the broker can do that; where it
    cannot (the embedded bus), the scrubber's reaper re-sends it.
    """
    connection = broker_connection(settings.transport_url, settings.bus_dir)
    app = Celery("glint", broker=connection.url, set_as_current=False)
    embedded = connection.kind == "embedded"
    app.conf.update(
        broker_transport_options=connection.transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # After a reconnect Celery lowers the prefetch count, then raises it step by step from the thread that
        # acks a task. With the threads pool that basic.qos call waits for its reply on the AMQP connection
        # the consumer thread is reading at the same time, which py-amqp does not support; a worker was seen
        # to stop consuming after a RabbitMQ restart (tests/faults/test_broker_restart.py). Without the
        # reduction, a message or two may be fetched early after a reconnect, which costs nothing here.
        worker_enable_prefetch_count_reduction=False,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_serializer="json",
        accept_content=["json"],
        task_queues=[_queue(queue_name(settings, name)) for name in QUEUE_OF.values()],
        task_default_queue=queue_name(settings, "uploads"),
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_enable_remote_control=not embedded,
        worker_send_task_events=False,
        task_send_sent_event=False,
        enable_utc=True,
    )
    return app


def _queue(name: str) -> Queue:
    """A queue with its own direct exchange and routing key, so a job reaches exactly one queue."""
    return Queue(name, Exchange(name, type="direct"), routing_key=name)
