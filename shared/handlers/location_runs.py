"""The worker half of ``POST /v2/images/{id}/locations``: check the URL, size and hash the data, activate.

Glance's ``location_import`` flow, in its order:

- ``do_secure_hash`` on, ``validation_data`` given: the location is
  attached and the image goes ``importing``; the data is read once to
  compute checksum and hash; a hash that differs from the caller's fails
  the task and reverts the image to ``queued``; otherwise it goes ``active``.
- ``do_secure_hash`` on, no ``validation_data``: the image goes ``active``
  with the location at once; checksum and hash are filled in afterwards
  (a read failure then only leaves them empty, as in Glance).
- ``do_secure_hash`` off: the caller's hash (if any) is taken as given and
  the image goes ``active``.

The data is never written, moved or deleted here: it stays where the URL
says. Every step re-reads the image and is safe to run again after a crash.
"""

from __future__ import annotations

import structlog

from shared.domain.events import image_updated
from shared.domain.image import Location
from shared.domain.jobs import Job
from shared.domain.status import ImageStatus
from shared.handlers.heartbeat import HeldJob
from shared.handlers.job_runs import retry_transient
from shared.services import Services
from shared.stores.base import Store
from shared.stores.errors import StoreError
from shared.stores.streams import ChunkReader, HashingReader

log = structlog.get_logger(__name__)
MiB = 1024 * 1024


class LocationFailed(Exception):
    """The location cannot be registered; the message is the task's."""


def register_location(services: Services, job: Job, held: HeldJob) -> None:
    """Attach the job's URL to its image and bring the image to ``active`` (raises LocationFailed, StoreError)."""
    payload = job.payload
    url, name = payload["url"], payload["store"]
    validation = payload.get("validation_data") or {}
    if name not in services.stores:
        raise LocationFailed(f"Invalid location: store {name} is no longer configured")
    store = services.stores.get(name)
    secure = services.settings.do_secure_hash
    algo = validation.get("os_hash_algo", services.settings.hashing_algorithm)
    verify_first = secure and bool(validation)
    with held.working_on(name):
        size = retry_transient(lambda: store.get_size(url))
        held.bytes_total = size
        _attach(services, job, name, size, target=ImageStatus.IMPORTING if verify_first else ImageStatus.ACTIVE,
                given=None if secure else validation, algo=algo if secure else None)  # fmt: skip
        if not secure:
            return
        try:
            checksum, value = retry_transient(lambda: _hash(store, url, algo, held))
        except StoreError as exc:
            if verify_first:
                raise LocationFailed(f"Hash calculation failed for image {job.image_id} data: {exc}") from None
            log.warning("location_hash_failed", url=url, error=str(exc))
            _set_hashes(services, job, None, None, None, activate=False)
            return
    if verify_first and value != validation["os_hash_value"]:
        raise LocationFailed(
            f"os_hash_value: ({validation['os_hash_value']}) not matched with actual os_hash_value: ({value})"
        )
    _set_hashes(services, job, checksum, algo, value, activate=verify_first)


def _attach(
    services: Services, job: Job, name: str, size: int, *, target: ImageStatus,
    given: dict[str, str] | None, algo: str | None,
) -> None:  # fmt: skip
    """One transaction: the location, the size, the hash algorithm (or the caller's hash), the new status."""
    url = job.payload["url"]
    with services.db.transaction(request_id=job.request_id) as uow:
        image = uow.images.get(job.image_id, for_update=True)
        if image is None or image.is_gone:
            raise LocationFailed("the image was deleted")
        if any(location.url == url for location in image.active_locations):
            return  # a rerun after a crash: attached already
        now = services.clock()
        image.locations.append(Location(url=url, store=name))
        image.size = size
        if given:
            image.os_hash_algo, image.os_hash_value = given["os_hash_algo"], given["os_hash_value"]
        elif algo:
            image.os_hash_algo = algo
        if image.status is ImageStatus.QUEUED:
            image.set_status(target, now)
        image.updated_at = now
        image.record(image_updated(image, now))
        uow.images.save(image)


def _hash(store: Store, url: str, algo: str, held: HeldJob) -> tuple[str, str]:
    """Read the data once: (md5 checksum, ``algo`` hash)."""
    data = store.get(url)
    held.bytes_done = 0
    hashing = HashingReader(ChunkReader(data.chunks), hash_algo=algo, on_read=held.advance)
    try:
        while hashing.read(MiB):
            pass
    finally:
        data.close()
    return hashing.checksum, hashing.hash_value


def _set_hashes(
    services: Services, job: Job, checksum: str | None, algo: str | None, value: str | None, *, activate: bool
) -> None:
    with services.db.transaction(request_id=job.request_id) as uow:
        image = uow.images.get(job.image_id, for_update=True)
        if image is None or image.is_gone:
            raise LocationFailed("the image was deleted")
        now = services.clock()
        image.checksum, image.os_hash_algo, image.os_hash_value = checksum, algo, value
        if activate and image.status is ImageStatus.IMPORTING:
            image.set_status(ImageStatus.ACTIVE, now)
        image.updated_at = now
        image.record(image_updated(image, now))
        uow.images.save(image)
