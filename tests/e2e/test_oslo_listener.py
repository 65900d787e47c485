"""A real OpenStack consumer: an oslo.messaging notification listener, in its own process, on RabbitMQ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import kombu

from tests.e2e.conftest import api
from tests.e2e.deployment import eventually
from tests.helpers import image_bytes

ROOT = Path(__file__).resolve().parents[2]
IMAGE_KEYS = {"id", "name", "status", "created_at", "updated_at", "min_disk", "min_ram", "protected", "checksum",
              "owner", "disk_format", "container_format", "size", "virtual_size", "is_public", "visibility",
              "properties", "tags", "deleted", "deleted_at"}  # fmt: skip
TASK_KEYS = {"id", "type", "status", "result", "owner", "message", "expires_at", "created_at", "updated_at",
             "deleted", "deleted_at"}  # fmt: skip
MEMBER_KEYS = {"image_id", "member_id", "status", "created_at", "updated_at", "deleted", "deleted_at"}


def test_an_oslo_listener_gets_glance_events(deploy, servers) -> None:
    exchange, pool = f"glance-{uuid.uuid4().hex[:8]}", f"listener-{uuid.uuid4().hex[:8]}"
    deployment = deploy("postgres+rabbitmq", control_exchange=exchange, default_publisher_id="image.glint-test")
    url = servers.need("rabbitmq").replace("amqp://", "rabbit://")
    listener = subprocess.Popen([sys.executable, "-m", "tests.oslo_listener", url, exchange, pool], cwd=ROOT,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(listener.stdout.readline, "")), daemon=True).start()
    try:
        eventually(lambda: "ready\n" in lines, 30, "the oslo.messaging listener to listen")
        client = api(deployment)
        image_id = client.create(name="seen")["id"]
        assert client.upload(image_id, image_bytes(100_000)).status_code == 204
        patch = [{"op": "replace", "path": "/name", "value": "renamed"}]
        assert client.patch(image_id, patch).status_code == 200
        assert client.http.post(f"{client.url}/v2/images/{image_id}/members", json={"member": "p2"}).ok
        assert client.action(image_id, "deactivate").status_code == 204
        assert client.action(image_id, "reactivate").status_code == 204
        assert client.delete(image_id).status_code == 204

        imported = client.create(name="imported")["id"]
        assert client.http.put(f"{client.url}/v2/images/{imported}/stage", data=image_bytes(50_000),
                               headers={"Content-Type": "application/octet-stream"}).status_code == 204  # fmt: skip
        assert client.http.post(f"{client.url}/v2/images/{imported}/import",
                                json={"method": {"name": "glance-direct"}}).status_code == 202  # fmt: skip

        def events() -> list[dict]:
            return [json.loads(line) for line in lines if line.startswith("{")]

        eventually(lambda: any(e["event_type"] == "task.run" for e in events()), 60, "the import's task.run")
        eventually(lambda: any(e["event_type"] == "image.delete" for e in events()), 30, "image.delete")
    finally:
        listener.stdin.close()
        listener.wait(30)
        with kombu.Connection(servers.need("rabbitmq")) as conn:
            kombu.Queue(pool, kombu.Exchange(exchange, type="topic", durable=False))(conn.default_channel).delete()

    got = events()
    assert {e["publisher_id"] for e in got} == {"image.glint-test"}
    assert all(e["metadata"]["message_id"] and e["metadata"]["timestamp"] for e in got)
    mine = [e for e in got if about(e, image_id)]
    assert [(e["event_type"], e["payload"].get("status")) for e in mine if e["event_type"] != "image.send"] == [
        ("image.create", "queued"),
        ("image.update", "saving"),
        ("image.prepare", "saving"),
        ("image.upload", "active"),
        ("image.activate", "active"),
        ("image.update", "active"),
        ("image.update", "active"),  # the rename
        ("image.member.create", "pending"),
        ("image.update", "deactivated"),
        ("image.update", "active"),
        ("image.delete", "pending_delete"),
    ]
    for event in mine:
        expected = MEMBER_KEYS if event["event_type"].startswith("image.member") else IMAGE_KEYS
        extra = {"os_glance_importing_to_stores", "os_glance_failed_import"} if event["event_type"] in (
            "image.prepare", "image.upload") else set()  # fmt: skip
        if event["event_type"] == "image.prepare":
            extra.add("backend")
        assert set(event["payload"]) == expected | extra, event["event_type"]
    assert mine[-1]["payload"]["deleted"] is True and mine[-1]["payload"]["deleted_at"]

    tasks = [e for e in got if e["event_type"].startswith("task.")]
    assert [e["event_type"] for e in tasks] == ["task.create", "task.processing", "task.success", "task.run"]
    assert all(set(e["payload"]) == TASK_KEYS and e["payload"]["type"] == "api_image_import" for e in tasks)
    flow = [e["event_type"] for e in got if e["event_type"].startswith("task.") or (
        isinstance(e["payload"], dict) and e["payload"].get("id") == imported)]  # fmt: skip
    assert flow[flow.index("task.create") :][:2] == ["task.create", "task.processing"]
    assert {"image.prepare", "image.upload", "image.activate"} <= set(flow) and flow[-1] == "task.run"


def about(event: dict, image_id: str) -> bool:
    payload = event["payload"]
    return isinstance(payload, dict) and image_id in (payload.get("id"), payload.get("image_id"))
