"""POST and GET /v2/images/{id}/locations: registering an image's data by URL (Glance's service API).

A ``location_import`` task records the registration, the image's import
lock (``os_glance_import_task``) guards it, and an ``import`` job with
method ``location`` lets a worker check the URL, size and (optionally)
hash the data, and activate the image (``location_runs``).

Beyond Glance: a URL that no configured store holds, or that another
image's location holds in a store glint writes to (whose purge would
destroy that image's data), is refused with 400 at once instead of
failing the task later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from shared.domain.context import RequestContext
from shared.domain.errors import Conflict, Forbidden, Invalid
from shared.domain.policy import image_target
from shared.domain.status import ImageStatus
from shared.domain.tasks import Task
from shared.handlers.access import authorize, load_visible
from shared.handlers.imports import check_fetch_uri, check_import_lock, lock_and_queue
from shared.services import Services

LOCATION_METHOD = "location"  # the import job's method for a registered URL


@dataclass(frozen=True)
class LocationRequest:
    """A validated ``POST /locations`` body."""

    url: str
    validation_data: dict[str, str]


def parse_location(services: Services, body: Any) -> LocationRequest:
    """Glance's schema check of the body (400), before the image is looked at."""
    services.schemas.location_validator.validate({"add_location": body})
    return LocationRequest(url=body["url"], validation_data=dict(body.get("validation_data") or {}))


def add_location(services: Services, context: RequestContext, image_id: str, request: LocationRequest) -> Task:
    """Take the image's import lock, create the ``location_import`` task and queue its job.

    Raises NotFound (image not visible), Conflict (image not ``queued``,
    lock held), Forbidden (policy ``add_image_location``; a non-service
    caller may only register http(s) URLs, and only with an http store
    configured), Invalid (hash data, URI filter, no store holds the URL,
    URL in use by another image).
    """
    with services.db.transaction(request_id=context.request_id) as uow:
        image = load_visible(uow, context, services.policy, image_id, for_update=True)
        if image.status is not ImageStatus.QUEUED:
            raise Conflict(f"It's not allowed to add locations if image status is {image.status.value}.")
        authorize(services.policy, "add_image_location", context, image)
        if "service" not in context.roles and not _http_store_configured(services, request.url):
            raise Forbidden("http store must be enabled to use location API by normal user.")
        _check_hash(request.validation_data, services.settings.hashing_algorithm)
        if urlparse(request.url).scheme in ("http", "https"):
            check_fetch_uri(services.settings, request.url, "add location")
        store = _owning_store(services, request.url)
        if not getattr(services.stores.get(store), "read_only", False):
            holder = uow.images.holder_of_location(request.url)
            if holder is not None:
                raise Invalid(f"Invalid location: {request.url} already holds the data of image {holder}")
        check_import_lock(services, uow, image)
        task_input = {"image_id": image_id, "loc_url": request.url, "validation_data": request.validation_data}
        payload = {
            "method": LOCATION_METHOD,
            "url": request.url,
            "store": store,
            "stores": [],  # nothing is written: the data stays where it is
            "all_stores_must_succeed": True,
            "validation_data": request.validation_data,
        }
        return lock_and_queue(services, uow, context, image, "location_import", task_input, payload)


def list_locations(services: Services, context: RequestContext, image_id: str) -> list[dict[str, Any]]:
    """GET /v2/images/{id}/locations: the image's active locations (policy ``fetch_image_location``)."""
    with services.db.transaction(write=False) as uow:
        image = load_visible(uow, context, services.policy, image_id)
    services.policy.enforce("fetch_image_location", context, image_target(context, image.owner, image.visibility))
    return [{"url": loc.url, "metadata": {**loc.metadata, "store": loc.store}} for loc in image.active_locations]


def _http_store_configured(services: Services, url: str) -> bool:
    backends = services.settings.enabled_backends.values()
    return url.startswith("http") and any(options.type == "http" for options in backends)


def _check_hash(validation_data: dict[str, str], default_algo: str) -> None:
    """Glance's checks: the hash is hexadecimal and as long as its algorithm's digest."""
    value = validation_data.get("os_hash_value")
    if value is None:
        return
    try:
        digest = bytes.fromhex(value)
    except ValueError:
        raise Invalid(f"os_hash_value ({value}) is not a valid hexadecimal value") from None
    algo = validation_data.get("os_hash_algo", default_algo)
    want = hashlib.new(algo).digest_size
    if len(digest) != want:
        raise Invalid(f"os_hash_value: ({value}) is not the correct size for ({algo}) (should be ({want}) bytes)")


def _owning_store(services: Services, url: str) -> str:
    store = services.stores.owner_of(url)
    if store is None:
        raise Invalid(f"Invalid location: no configured store holds {url}")
    return store
