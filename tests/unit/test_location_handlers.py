"""POST/GET /v2/images/{id}/locations: checks, the worker's three orders, failures and reverts, on fakes."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import timedelta

import pytest

from shared.domain.context import RequestContext
from shared.domain.errors import Conflict, Forbidden, Invalid, NotFound
from shared.domain.image import Location
from shared.domain.status import ImageStatus
from shared.domain.tasks import TaskStatus
from shared.handlers import images, location_imports
from shared.handlers.heartbeat import Heartbeat
from shared.handlers.scrubbing import reap_jobs
from tests.conftest import admin, member, reader
from tests.helpers import BytesReader, event_types, image_row, outbox_events, run_imports, task_of

DATA = os.urandom(300_000)
SHA512 = hashlib.sha512(DATA).hexdigest()


def service(project: str = "p1") -> RequestContext:
    """A caller with the ``service`` role (how Nova or Cinder register data they placed)."""
    return RequestContext.from_roles("nova", project, ["service", "member", "reader"], request_id=f"req-{uuid.uuid4()}")


@pytest.fixture
def heartbeat(services):
    return Heartbeat(services.db, "test:worker", interval=60)


@pytest.fixture
def placed(services) -> str:
    """Data placed in the ``cheap`` store by someone else; its URL."""
    return services.stores.get("cheap").add(f"placed-{uuid.uuid4().hex}", BytesReader(DATA)).url


def hashed(algo: str, value: str) -> dict[str, str]:
    return {"os_hash_algo": algo, "os_hash_value": value}


def new_image(services, context=None):
    return images.create_image(services, context or member(), {"disk_format": "raw", "container_format": "bare"})


def register(services, context, image_id, body):
    return location_imports.add_location(services, context, image_id, location_imports.parse_location(services, body))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'url' is a required property"),
        ({"url": 5}, "5 is not of type 'string'"),
        ({"url": "memory://x", "validation_data": {"os_hash_algo": "sha512"}}, "'os_hash_value' is a dependency"),
        ({"url": "memory://x", "validation_data": {"checksum": "ab"}}, "'checksum' was unexpected"),
        ({"url": "memory://x", "validation_data": {"os_hash_algo": "sha3", "os_hash_value": "ab"}}, "is not one of"),
    ],
)
def test_the_body_is_checked_against_glances_schema(services, body, message) -> None:
    with pytest.raises(Invalid, match=message) as raised:
        location_imports.parse_location(services, body)
    assert str(raised.value).startswith("Provided object does not match schema 'location'")


def test_who_may_register_what(services, placed) -> None:
    image = new_image(services)
    with pytest.raises(Forbidden, match="http store must be enabled to use location API by normal user"):
        register(services, member(), image.id, {"url": placed})
    with pytest.raises(Forbidden, match="http store must be enabled"):
        register(services, admin(), image.id, {"url": placed})  # admin passes the policy, but is not a service
    with pytest.raises(Forbidden, match="add_image_location"):
        register(services, reader(), image.id, {"url": placed})
    with pytest.raises(NotFound):
        register(services, service("p2"), image.id, {"url": placed})  # another project's private image
    with pytest.raises(Invalid, match="is not a valid hexadecimal value"):
        register(services, service(), image.id, {"url": placed, "validation_data": hashed("sha512", "zz")})
    with pytest.raises(Invalid, match=r"is not the correct size for \(sha256\) \(should be \(32\) bytes\)"):
        register(services, service(), image.id, {"url": placed, "validation_data": hashed("sha256", "abcd")})
    with pytest.raises(Invalid, match="no configured store holds"):
        register(services, service(), image.id, {"url": "file:///etc/passwd"})
    with pytest.raises(Invalid, match="does not pass filtering"):
        register(services, service(), image.id, {"url": "http://169.254.169.254/latest/meta-data"})
    assert services.dispatcher.drain("imports") == []
    assert image_row(services, image.id).status is ImageStatus.QUEUED


def test_verified_registration_goes_through_importing(services, heartbeat, placed) -> None:
    image = new_image(services, service())
    task = register(services, service(), image.id, {"url": placed, "validation_data": hashed("sha512", SHA512)})
    assert (task.type, task.input) == (
        "location_import",
        {"image_id": image.id, "loc_url": placed, "validation_data": hashed("sha512", SHA512)},
    )
    with pytest.raises(Conflict, match="Image has active task"):
        register(services, service(), image.id, {"url": placed})
    assert run_imports(services, heartbeat) == ["succeeded"]
    done = image_row(services, image.id)
    assert (done.status, done.size, done.stores) == (ImageStatus.ACTIVE, len(DATA), ["cheap"])
    assert (done.checksum, done.os_hash_algo, done.os_hash_value) == (hashlib.md5(DATA).hexdigest(), "sha512", SHA512)
    assert "os_glance_import_task" not in done.properties
    finished = task_of(services, image.id)
    assert (finished.status, finished.result, finished.message) == (TaskStatus.SUCCESS, {"image_id": image.id}, "")
    statuses = [status for kind, _, status in outbox_events(services, image.id) if kind == "image.update"]
    assert statuses[-3:] == ["importing", "active", "active"]  # attached, hashed and activated, lock dropped
    assert location_imports.list_locations(services, admin(), image.id) == [
        {"url": placed, "metadata": {"store": "cheap"}}
    ]
    with pytest.raises(Forbidden, match="fetch_image_location"):
        location_imports.list_locations(services, member(), image.id)
    assert services.stores.get("cheap").get(placed).read_all() == DATA


def test_a_hash_that_does_not_match_reverts_and_keeps_the_data(services, heartbeat, placed) -> None:
    image = new_image(services, service())
    wrong = hashlib.sha512(b"other").hexdigest()
    register(services, service(), image.id, {"url": placed, "validation_data": hashed("sha512", wrong)})
    assert run_imports(services, heartbeat) == ["failed"]
    back = image_row(services, image.id)
    assert (back.status, back.active_locations, back.size, back.checksum, back.os_hash_algo) == (
        ImageStatus.QUEUED, [], None, None, None)  # fmt: skip
    assert "os_glance_import_task" not in back.properties
    failed = task_of(services, image.id)
    assert (
        failed.status is TaskStatus.FAILURE and f"not matched with actual os_hash_value: ({SHA512})" in failed.message
    )
    assert services.stores.get("cheap").get(placed).read_all() == DATA  # not glint's data: never deleted
    register(services, service(), image.id, {"url": placed})  # the image can be registered again
    assert run_imports(services, heartbeat) == ["succeeded"]


def test_unverified_registration_activates_then_hashes(services, heartbeat, placed) -> None:
    image = new_image(services, service())
    register(services, service(), image.id, {"url": placed})
    assert run_imports(services, heartbeat) == ["succeeded"]
    done = image_row(services, image.id)
    assert (done.status, done.os_hash_algo, done.os_hash_value) == (ImageStatus.ACTIVE, "sha512", SHA512)
    statuses = [status for kind, _, status in outbox_events(services, image.id) if kind == "image.update"]
    assert statuses[-3:] == ["active", "active", "active"]  # active at once (as Glance), then the hash, the lock


def test_without_secure_hash_the_callers_hash_is_taken(make_settings, services, heartbeat, placed) -> None:
    services.settings = make_settings(do_secure_hash=False)
    image = new_image(services, service())
    given = hashed("sha256", hashlib.sha256(b"trusted").hexdigest())
    register(services, service(), image.id, {"url": placed, "validation_data": given})
    assert run_imports(services, heartbeat) == ["succeeded"]
    done = image_row(services, image.id)
    assert (done.status, done.size, done.checksum) == (ImageStatus.ACTIVE, len(DATA), None)
    assert (done.os_hash_algo, done.os_hash_value) == (given["os_hash_algo"], given["os_hash_value"])


def test_missing_data_fails_the_task(services, heartbeat, placed) -> None:
    image = new_image(services, service())
    register(services, service(), image.id, {"url": placed.replace("placed-", "gone-")})
    assert run_imports(services, heartbeat) == ["failed"]
    assert image_row(services, image.id).status is ImageStatus.QUEUED
    assert "does not exist" in task_of(services, image.id).message


def test_data_of_another_image_cannot_be_registered(services, heartbeat) -> None:
    owner = new_image(services)
    images_url = services.stores.get("fast").add(f"{owner.id}.x", BytesReader(DATA)).url
    with services.db.transaction() as uow:
        row = uow.images.get(owner.id, for_update=True)
        row.locations.append(Location(url=images_url, store="fast"))
        uow.images.save(row)
    thief = new_image(services, service())
    with pytest.raises(Invalid, match=f"already holds the data of image {owner.id}"):
        register(services, service(), thief.id, {"url": images_url})


def test_a_registration_whose_worker_died_is_run_again(services, heartbeat, placed) -> None:
    image = new_image(services, service())
    register(services, service(), image.id, {"url": placed})
    [job_id] = services.dispatcher.drain("imports")
    now = services.clock()
    with services.db.transaction() as uow:
        uow.jobs.claim(job_id, "worker:dead", now - timedelta(minutes=5))
    assert reap_jobs(services, now).requeued == [job_id]
    assert run_imports(services, heartbeat) == ["succeeded"]
    assert image_row(services, image.id).status is ImageStatus.ACTIVE
    assert task_of(services, image.id).status is TaskStatus.SUCCESS


def test_only_queued_images_take_a_location(services, heartbeat, placed) -> None:
    image = new_image(services, service())
    register(services, service(), image.id, {"url": placed})
    run_imports(services, heartbeat)
    with pytest.raises(Conflict, match="not allowed to add locations if image status is active"):
        register(services, service(), image.id, {"url": placed})


def test_event_types_are_glances(services, heartbeat, placed) -> None:
    image = new_image(services, service())
    register(services, service(), image.id, {"url": placed})
    run_imports(services, heartbeat)
    kinds = event_types(services)
    flow = kinds[kinds.index("task.create") :]
    assert flow[:2] == ["task.create", "task.processing"]
    assert flow[-2:] == ["task.success", "task.run"]
    assert set(flow[2:-2]) == {"image.update"}  # Glance saves the image; no prepare/upload/activate here
