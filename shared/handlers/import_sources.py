"""Step 2 of an import (see shared/handlers/import_runs.py): acquire the data into staging, hashed, size-capped
and format-inspected, from the staged file (glance-direct), a filtered download (web-download), an existing
location (copy-image) or another region's image (glance-download)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import structlog

from shared.domain.errors import DomainError
from shared.domain.events import image_updated
from shared.domain.image import Image
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.domain.status import ImageStatus
from shared.fetch import UriFilter, open_url, reader
from shared.formats import FormatCheck
from shared.handlers.heartbeat import HeldJob
from shared.services import Services
from shared.stores.base import Readable
from shared.stores.errors import StoreError
from shared.stores.registry import uri_filter
from shared.stores.streams import ChunkReader, HashingReader

log = structlog.get_logger(__name__)
MiB = 1024 * 1024
# glance-download talks to an endpoint the operator configured: any address may be reached.
TRUSTED = UriFilter(allowed_schemes=("http", "https"), allowed_ports=(), allowed_networks=("0.0.0.0/0", "::/0"))


@dataclass(frozen=True)
class Staged:
    url: str
    size: int
    checksum: str
    hash_algo: str
    hash_value: str
    virtual_size: int | None


class ImportFailed(Exception):
    """The import cannot complete; the message is the task's."""


def acquire(services: Services, job: Job, held: HeldJob) -> Staged:
    """Bring the job's data into staging (or find it there), hashed and inspected. Raises ImportFailed,
    DomainError (refused by the format check or the size cap), StoreError or FetchFailed."""
    method = job.payload["method"]
    with services.db.transaction(write=False) as uow:
        image = uow.images.get(job.image_id)
        direct = method == "glance-direct"
        stage = uow.jobs.last_of(job.image_id, JobKind.STAGE, JobStatus.SUCCEEDED) if direct else None
    if image is None:
        raise ImportFailed("the image is gone")
    if method == "glance-direct":
        return _verify_staged(services, image, stage, held)
    if method == "web-download":
        fetched = open_url(job.payload["uri"], uri_filter(services.settings), timeout=60)
        return _stage(services, job, image, reader(fetched), fetched.length, held)
    if method == "copy-image":
        return _stage_copy(services, job, image, held)
    return _stage_remote(services, job, image, held)


def _verify_staged(services: Services, image: Image, stage: Job | None, held: HeldJob) -> Staged:
    """glance-direct: the data is staged already; read it once to inspect it, and to hash it unless the stage
    recorded its digests (it hashed the same bytes as they arrived)."""
    staging = services.stores.staging
    url = staging.url_for(image.id) or ""
    try:
        data = staging.get(url)
    except StoreError:
        raise ImportFailed("the staged data of this image is gone") from None
    held.bytes_total = data.size
    digests = _stage_digests(services, stage, url, data.size)
    if digests is None:
        hashing = HashingReader(ChunkReader(data.chunks), hash_algo=services.settings.hashing_algorithm,
                                on_read=held.advance)  # fmt: skip
        source: Readable = hashing
    else:
        source = ChunkReader(data.chunks, on_read=held.advance)
    check = _format_check(services, source, image)
    try:
        while check.read(MiB):
            pass
    finally:
        data.close()
    if digests is None:
        digests = hashing.digests
    return Staged(url, data.size, digests["checksum"], digests["hash_algo"], digests["hash_value"], check.verdict())


def _stage_digests(services: Services, stage: Job | None, url: str, size: int) -> dict[str, str] | None:
    """The digests the image's last stage computed, if they are of this staged object in the configured
    algorithm (a stage from before digests were recorded has none)."""
    if stage is None:
        return None
    recorded = stage.payload
    expected = (url, size, services.settings.hashing_algorithm)
    if (recorded.get("staging_url"), recorded.get("size"), recorded.get("hash_algo")) != expected:
        return None
    return {name: recorded[name] for name in ("checksum", "hash_algo", "hash_value")}


def _stage(services: Services, job: Job, image: Image, source: Readable, length: int | None, held: HeldJob) -> Staged:
    """Stream ``source`` into staging under the job's id, hashed, capped and inspected."""
    cap = services.settings.image_size_cap
    if length is not None and length > cap:
        raise DomainError(f"Image exceeds the size cap: {length} bytes is over {cap}.")
    held.bytes_total = length
    hashing = HashingReader(source, hash_algo=services.settings.hashing_algorithm, cap=cap, on_read=held.advance)
    check = _format_check(services, hashing, image)
    stored = services.stores.staging.add(job.id, check)
    try:
        virtual_size = check.verdict()
    except DomainError:
        services.stores.staging.delete(stored.url)
        raise
    return Staged(stored.url, stored.size, hashing.checksum, hashing.hash_algo, hashing.hash_value, virtual_size)


def _stage_copy(services: Services, job: Job, image: Image, held: HeldJob) -> Staged:
    """copy-image: read one existing copy once, into staging, checking it against the image's checksums."""
    for location in image.active_locations:
        try:
            store = services.stores.for_url(location.url, hint=location.store)
            data = store.get(location.url)
        except StoreError as exc:
            log.warning("copy_source_unreadable", store=location.store, error=str(exc))
            continue
        held.bytes_total = data.size
        hashing = HashingReader(ChunkReader(data.chunks), hash_algo=image.os_hash_algo or "sha512",
                                on_read=held.advance)  # fmt: skip
        try:
            with held.working_on(location.store):
                stored = services.stores.staging.add(job.id, hashing)
        finally:
            data.close()
        if image.checksum and hashing.checksum != image.checksum:
            services.stores.staging.delete(stored.url)
            raise ImportFailed(f"the copy read from store {location.store} does not match the image's checksum")
        return Staged(stored.url, stored.size, hashing.checksum, hashing.hash_algo, hashing.hash_value,
                      image.virtual_size)  # fmt: skip
    raise ImportFailed("no location of the image could be read")


def _stage_remote(services: Services, job: Job, image: Image, held: HeldJob) -> Staged:
    """glance-download: copy metadata and data of an active image of another region."""
    payload = job.payload
    options = services.settings.glance_download
    endpoint = options.endpoints.get(payload["remote_region"])
    if not endpoint:
        raise ImportFailed(f"no image endpoint is configured for region {payload['remote_region']}")
    headers = _remote_identity(services, job)
    base = f"{endpoint.rstrip('/')}/v2/images/{payload['remote_image_id']}"
    metadata = json.loads(b"".join(open_url(base, TRUSTED, timeout=options.timeout, headers=headers).chunks))
    if metadata.get("status") != "active":
        raise ImportFailed(f"the image in region {payload['remote_region']} is not active")
    with services.db.transaction(request_id=job.request_id) as uow:
        local = uow.images.get(image.id, for_update=True)
        if local is None:
            raise ImportFailed("the image is gone")
        local.disk_format = metadata.get("disk_format")
        local.container_format = metadata.get("container_format")
        if local.status is ImageStatus.QUEUED:
            local.set_status(ImageStatus.IMPORTING, services.clock())
        for name, value in metadata.items():
            if (
                isinstance(value, str)
                and name.startswith(tuple(options.extra_properties))
                and not name.startswith("os_glance")
            ):
                local.properties[name] = value
        now = services.clock()
        local.updated_at = now
        local.record(image_updated(local, now))
        uow.images.save(local)
    fetched = open_url(f"{base}/file", TRUSTED, timeout=options.timeout, headers=headers)
    return _stage(services, job, local, reader(fetched), fetched.length, held)


def _remote_identity(services: Services, job: Job) -> dict[str, str]:
    """Act as the task's owner in the other region: a token in token mode, identity headers otherwise."""
    with services.db.transaction(write=False) as uow:
        task = uow.tasks.get(job.payload["task_id"], services.clock())
    user, project, roles = (
        (task.user_id if task else None) or "",
        (task.owner if task else None) or "",
        job.payload.get("roles", []),
    )
    if services.settings.auth.mode == "token":
        from shared.auth.tokens import TokenSigner, load_or_create_secret

        secret = load_or_create_secret(services.settings.auth.token_secret, services.settings.token_secret_file)
        return {"X-Auth-Token": TokenSigner(secret).issue(user, project, roles, ttl=3600)}
    return {"X-Identity-Status": "Confirmed", "X-User-Id": user, "X-Project-Id": project, "X-Roles": ",".join(roles)}


def _format_check(services: Services, source: Readable, image: Image) -> FormatCheck:
    options = services.settings.image_format
    return FormatCheck(source, image.disk_format, image.container_format,
                       require_match=options.require_image_format_match,
                       gpt_nonfatal=options.gpt_safety_checks_nonfatal)  # fmt: skip
