"""Interoperable import end to end: every method, its task and events, SSRF refusals, a killed worker."""

from __future__ import annotations

import hashlib
import time

import pytest

from tests.e2e.conftest import ALLOW_TEST_WEB, BACKENDS, api
from tests.e2e.deployment import Api, eventually
from tests.helpers import image_bytes
from tests.webserver import blob_md5

ADMIN = {"project": "boss", "roles": "admin,member,reader"}


def import_(client: Api, image_id: str, **body) -> int:
    return client.http.post(f"{client.url}/v2/images/{image_id}/import", json=body).status_code


def tasks_of(client: Api, image_id: str) -> list[dict]:
    return client.http.get(f"{client.url}/v2/images/{image_id}/tasks").json()["tasks"]


def settled(client: Api, image_id: str, timeout: float = 120) -> dict:
    """Wait for the image's newest import task to end; returns it."""
    found: dict = {}

    def done() -> bool:
        nonlocal found
        tasks = tasks_of(client, image_id)
        found = tasks[-1] if tasks else {}
        return bool(found) and found["status"] in ("success", "failure")

    eventually(done, timeout, "the import task to end")
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_import_method(deploy, tap_for, web, backend) -> None:
    deployment = deploy(backend, **ALLOW_TEST_WEB)
    tap = tap_for(deployment)
    client, boss = api(deployment), api(deployment, **ADMIN)

    data = image_bytes(3_000_000)
    direct = client.create(name="direct")["id"]
    staged = client.http.put(f"{client.url}/v2/images/{direct}/stage", data=data,
                             headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert staged.status_code == 204
    assert client.show(direct).json()["status"] == "uploading"
    assert import_(client, direct, method={"name": "glance-direct"}, stores=["fast", "cheap"]) == 202
    task = settled(client, direct)
    assert (task["status"], task["result"]) == ("success", {"image_id": direct})
    shown = client.show(direct).json()
    assert (shown["status"], sorted(shown["stores"].split(","))) == ("active", ["cheap", "fast"])
    assert shown["checksum"] == hashlib.md5(data).hexdigest() and shown["os_glance_importing_to_stores"] == ""
    assert client.download(direct).content == data

    downloaded = client.create(name="web")["id"]
    assert import_(client, downloaded, method={"name": "web-download", "uri": f"{web.url}/blob/2000000"}) == 202
    assert settled(client, downloaded)["status"] == "success"
    assert client.show(downloaded).json()["checksum"] == blob_md5(2_000_000)

    assert import_(client, downloaded, method={"name": "copy-image"}, stores=["cheap"]) == 403  # admin only
    assert import_(boss, downloaded, method={"name": "copy-image"}, stores=["cheap"]) == 202
    copy = settled(boss, downloaded)
    assert copy["status"] == "success" and copy["owner"] == "boss"  # the task belongs to the caller, as in Glance
    assert sorted(client.show(downloaded).json()["stores"].split(",")) == ["cheap", "fast"]
    task_view = boss.http.get(f"{boss.url}/v2/tasks/{copy['id']}").json()
    assert task_view["message"] == "Copied 1 MiB" and task_view["result"] == {"image_id": downloaded}
    assert deployment.staging_files() == []

    ids = (direct, *(t["id"] for t in tasks_of(client, direct)))
    tap.wait_until(lambda: any(e["event_type"] == "task.run" for e in tap.events_for(*ids)))
    flow = [e["event_type"] for e in tap.events_for(*ids) if e["event_type"] != "image.send"]  # sent after the flow
    flow = flow[flow.index("task.create") :]
    assert flow[:3] == ["task.create", "task.processing", "image.update"]
    assert flow[-3:] == ["image.update", "task.success", "task.run"]
    assert flow.count("image.prepare") == 2 and flow.count("image.upload") == 2 and flow.count("image.activate") == 1
    run = [e for e in tap.events_for(*ids) if e["event_type"] == "task.run"][0]
    assert run["payload"]["status"] == "pending"  # Glance's task.run carries the stale status


def test_web_download_cannot_reach_internal_addresses(deploy, web) -> None:
    strict = api(deploy("embedded", import_filtering_opts={"allowed_ports": []}))
    for uri in [f"{web.url}/blob/10", "http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data/",
                "http://10.0.0.1/x", "http://192.168.1.1/x", f"http://localhost:{web.port}/blob/10",
                "http://[::1]:9/x", "file:///etc/passwd"]:  # fmt: skip
        image_id = strict.create()["id"]
        response = strict.http.post(f"{strict.url}/v2/images/{image_id}/import",
                                    json={"method": {"name": "web-download", "uri": uri}})  # fmt: skip
        assert response.status_code == 400, uri
        assert response.json()["message"].startswith("URI for web-download does not pass filtering")
        assert strict.show(image_id).json()["status"] == "queued"

    allowed_deployment = deploy("embedded", **ALLOW_TEST_WEB)
    allowed = api(allowed_deployment)
    for target in ["http://169.254.169.254/latest/meta-data/", f"http://127.0.0.1:{web.port}/blob/10",
                   f"http://localhost:{web.port}/blob/10", "http://10.0.0.1/x"]:  # fmt: skip
        image_id = allowed.create()["id"]
        assert (
            import_(allowed, image_id, method={"name": "web-download", "uri": f"{web.url}/redirect?to={target}"}) == 202
        )
        task = settled(allowed, image_id)
        assert task["status"] == "failure" and "not allowed" in task["message"], target
        shown = allowed.show(image_id).json()
        assert (shown["status"], shown["os_glance_failed_import"]) == ("queued", "fast")
        assert "os_glance_import_task" not in shown
    assert allowed_deployment.store_files() == [] and allowed_deployment.staging_files() == []


@pytest.mark.parametrize("backend", ["embedded", "postgres+rabbitmq"])
def test_a_killed_worker_does_not_leave_an_import_stuck(deploy, web, backend) -> None:
    size = 16 * 1024 * 1024
    deployment = deploy(backend, wakeup_time=1, jobs={"staging_grace": 3}, **ALLOW_TEST_WEB)
    client = api(deployment)
    image_id = client.create()["id"]
    assert import_(client, image_id, method={"name": "web-download", "uri": f"{web.url}/blob/{size}?pause=0.4"}) == 202

    def downloading() -> bool:
        tasks = tasks_of(client, image_id)
        return bool(tasks) and tasks[0]["status"] == "processing"

    eventually(downloading, 60, "the import to start")
    time.sleep(1.5)
    running = tasks_of(client, image_id)[0]["progress"]  # glint's addition: visible to the image's owner
    assert (running["bytes_total"], running["current_store"]) == (size, "os_glance_staging_store")
    assert 0 < running["bytes_done"] < size
    deployment.kill("worker")
    assert tasks_of(client, image_id)[0]["status"] == "processing"
    deployment.start("worker")  # the scrubber re-sends the job once its heartbeat is stale
    task = settled(client, image_id, timeout=180)
    assert task["status"] == "success"
    shown = client.show(image_id).json()
    assert (shown["status"], shown["checksum"]) == ("active", blob_md5(size))
    assert len(deployment.store_files()) == 1
    # the killed worker's partial download is removed by the scrubber once it is older than staging_grace
    eventually(lambda: deployment.staging_files() == [], 30, "the partial download to be removed")


def test_a_killed_import_fails_cleanly_after_max_attempts(deploy, web) -> None:
    deployment = deploy("embedded", wakeup_time=1, jobs={"max_attempts": 1, "staging_grace": 3}, **ALLOW_TEST_WEB)
    client = api(deployment)
    image_id = client.create()["id"]
    assert import_(client, image_id, method={"name": "web-download", "uri": f"{web.url}/blob/8388608?pause=0.5"}) == 202
    eventually(lambda: bool(tasks_of(client, image_id)) and tasks_of(client, image_id)[0]["status"] == "processing",
               60, "the import to start")  # fmt: skip
    time.sleep(1)
    deployment.kill("worker")
    task = settled(client, image_id, timeout=60)
    assert task["status"] == "failure"
    shown = client.show(image_id).json()
    assert shown["status"] == "queued" and "os_glance_import_task" not in shown
    deployment.start("worker")
    assert import_(client, image_id, method={"name": "web-download", "uri": f"{web.url}/blob/1000"}) == 202
    assert settled(client, image_id)["status"] == "success"
    eventually(lambda: deployment.staging_files() == [], 30, "the partial download to be removed")


def test_glance_download_from_another_region(deploy) -> None:
    region_one = deploy("embedded")
    source = api(region_one)
    data = image_bytes(1_500_000)
    remote = source.create(name="golden", hw_cpu_policy="dedicated", os_distro="cirros", foo="bar")["id"]
    assert source.upload(remote, data).status_code == 204

    region_two = deploy("embedded", enabled_import_methods=["glance-direct", "glance-download"],
                        glance_download={"endpoints": {"RegionOne": region_one.url}})  # fmt: skip
    local = api(region_two)
    assert local.http.get(f"{local.url}/v2/info/import").json()["import-methods"]["value"] == [
        "glance-direct",
        "glance-download",
    ]
    image_id = local.http.post(f"{local.url}/v2/images", json={"name": "copy"}).json()["id"]
    missing = local.http.post(f"{local.url}/v2/images/{image_id}/import",
                              json={"method": {"name": "glance-download", "glance_region": "RegionOne"}})  # fmt: skip
    assert missing.status_code == 400
    body = {"method": {"name": "glance-download", "glance_region": "RegionOne", "glance_image_id": remote}}
    assert import_(local, image_id, **body) == 202
    assert settled(local, image_id)["status"] == "success"
    shown = local.show(image_id).json()
    assert (shown["status"], shown["checksum"], shown["disk_format"]) == (
        "active",
        hashlib.md5(data).hexdigest(),
        "raw",
    )
    assert (shown["hw_cpu_policy"], shown["os_distro"], "foo" in shown) == ("dedicated", "cirros", False)
    assert local.download(image_id).content == data

    unknown = local.http.post(f"{local.url}/v2/images", json={"name": "nowhere"}).json()["id"]
    body = {"method": {"name": "glance-download", "glance_region": "RegionTwo", "glance_image_id": remote}}
    assert import_(local, unknown, **body) == 202
    task = settled(local, unknown)
    assert task["status"] == "failure" and "no image endpoint is configured for region RegionTwo" in task["message"]


def test_images_registered_by_url(deploy, web) -> None:
    """An http store: data registered by URL, read through glint, copied into a store, fallen over from."""
    deployment = deploy("embedded", enabled_backends={"fast": {"type": "file"}, "web": {"type": "http"}},
                        **ALLOW_TEST_WEB)  # fmt: skip
    client, boss = api(deployment), api(deployment, **ADMIN)
    stores = client.http.get(f"{client.url}/v2/info/stores").json()["stores"]
    assert stores == [{"id": "fast", "default": "true"}, {"id": "web", "read-only": "true"}]

    data = image_bytes(2_500_000)
    url = web.put(f"registered-{time.time_ns()}", data)
    image_id = client.create(name="by-url")["id"]
    body = {
        "url": url,
        "validation_data": {"os_hash_algo": "sha512", "os_hash_value": hashlib.sha512(data).hexdigest()},
    }
    assert client.http.post(f"{client.url}/v2/images/{image_id}/locations", json=body).status_code == 202
    task = settled(client, image_id)
    assert (task["type"], task["status"], task["input"]["loc_url"]) == ("location_import", "success", url)
    shown = client.show(image_id).json()
    assert (shown["status"], shown["size"], shown["stores"]) == ("active", len(data), "web")
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert client.download(image_id).content == data
    part = client.download(image_id, Range="bytes=1000-1999")
    assert (part.status_code, part.content) == (206, data[1000:2000])
    assert client.http.get(f"{client.url}/v2/images/{image_id}/locations").status_code == 403  # service only
    assert boss.http.get(f"{boss.url}/v2/images/{image_id}/locations").json() == [
        {"url": url, "metadata": {"store": "web"}}
    ]

    internal = client.create(name="internal")["id"]
    refused = client.http.post(f"{client.url}/v2/images/{internal}/locations",
                               json={"url": "http://169.254.169.254/latest/meta-data"})  # fmt: skip
    assert refused.status_code == 400 and "does not pass filtering" in refused.text

    assert import_(boss, image_id, method={"name": "copy-image"}, stores=["fast"]) == 202
    assert settled(boss, image_id)["status"] == "success"
    assert client.show(image_id).json()["stores"] == "web,fast"
    web.remove(url.rsplit("/", 1)[1])  # the web copy disappears: downloads fall over to the next location
    assert client.download(image_id).content == data

    assert client.delete(image_id).status_code == 204
    eventually(lambda: deployment.store_files() == [], 30, "the fast copy to be purged")
    assert client.show(image_id).status_code == 404
