"""``glint events tail``: what an operator sees of the live event stream, filtered, on every bus."""

from __future__ import annotations

import json
import signal
import subprocess
import threading

import pytest

from tests.e2e.conftest import BACKENDS, api
from tests.e2e.deployment import eventually


def follow(deployment, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(deployment.command("events", "tail", *args), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=deployment._env())  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True).start()
    eventually(lambda: "Ctrl-C stops" in process.stderr.readline(), 30, "events tail to start")
    return process, lines


@pytest.mark.parametrize("backend", BACKENDS)
def test_tail_shows_the_events_of_one_image_and_type(deploy, backend) -> None:
    deployment = deploy(backend, oslo_messaging_notifications={"format": "cloudevents"} if "rabbit" in backend else {})
    client = api(deployment)
    everything, every_line = follow(deployment, "--json")
    other = client.create(name="other")["id"]
    image_id = client.create(name="watched")["id"]
    updates, update_lines = follow(deployment, "--image", image_id, "--type", "image.update")
    try:
        for target, name in ((image_id, "renamed"), (other, "x")):
            assert client.patch(target, [{"op": "replace", "path": "/name", "value": name}]).status_code == 200
        assert client.upload(image_id, b"z" * 1000).status_code == 204
        eventually(lambda: len(update_lines) >= 3, 30, f"three image.update lines (got {update_lines})")
        eventually(lambda: sum('"image.activate"' in line for line in every_line) == 1, 30, "image.activate")
    finally:
        for process in (everything, updates):
            process.send_signal(signal.SIGINT)
            assert process.wait(15) == 0
    assert all(" image.update " in line and image_id in line for line in update_lines)
    assert [line.split("status=")[1].split()[0] for line in update_lines] == ["queued", "saving", "active"]
    seen = [json.loads(line) for line in every_line]
    assert [(e["event_type"], e["payload"]["id"]) for e in seen[:2]] == [("image.create", other),
                                                                        ("image.create", image_id)]  # fmt: skip
    assert len({e["message_id"] for e in seen}) == len(seen)
