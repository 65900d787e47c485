"""Image metadata use cases: create, show, list, update, delete, tags, deactivate and reactivate."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from shared.domain import attributes
from shared.domain.context import RequestContext
from shared.domain.errors import Forbidden, Invalid, InvalidTransition, NotFound, TooLarge
from shared.domain.events import image_created, image_deleted, image_updated
from shared.domain.image import Image, LocationStatus
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.domain.queries import ImageQuery
from shared.domain.status import ImageStatus
from shared.handlers.access import authorize, load_visible, target
from shared.handlers.dispatching import dispatch_after_commit
from shared.services import Services


# -- create -----------------------------------------------------------------------------
def create_image(services: Services, context: RequestContext, body: Any) -> Image:
    """Register a new image (status ``queued``) from a create request body.

    Checks in Glance's order: the body against the image schema (Invalid),
    read-only and reserved attributes (Forbidden), custom key lengths and
    negative sizes (Invalid), the owner and the policies (Forbidden), the
    property and tag quotas (TooLarge); then Duplicate when the id is taken.
    ``os_hash_algo`` and ``os_hash_value`` are ignored, as Glance ignores them.
    """
    if not isinstance(body, dict):
        raise Invalid("Unexpected body type. Expected list/dict.")
    services.schemas.image_validator.validate(body)
    for name in body:
        if name in attributes.READ_ONLY_ON_CREATE:
            raise Forbidden(f"Attribute '{name}' is read-only.")
        if attributes.is_reserved(name, creating=True):
            raise Forbidden(detail=f"Attribute '{name}' is reserved.")
    properties = {
        name: value for name, value in body.items() if name not in attributes.BASE and name not in IGNORED_ON_CREATE
    }
    check_property_names(properties)
    for name in ("min_disk", "min_ram"):
        check_int32_range(name, body.get(name, 0))

    owner = body.get("owner") or context.project_id
    if owner != context.project_id and not context.is_admin:
        raise Forbidden(detail=f"You are not permitted to create images owned by '{owner}'")
    visibility = body.get("visibility", "shared")
    create_target = {"project_id": owner, "owner": owner, "visibility": visibility, "member_id": None}
    services.policy.enforce("add_image", context, create_target)
    check_visibility_policy(services, context, visibility, create_target)
    tags = unique_tags(body.get("tags", []))
    check_quota(len(properties), services.settings.image_property_quota, "properties")
    check_quota(len(tags), services.settings.image_tag_quota, "tags")

    now = services.clock()
    image = Image(
        id=body.get("id") or str(uuid.uuid4()),
        owner=owner,
        created_at=now,
        updated_at=now,
        name=body.get("name"),
        visibility=visibility,
        protected=body.get("protected", False),
        os_hidden=body.get("os_hidden", False),
        min_disk=body.get("min_disk", 0),
        min_ram=body.get("min_ram", 0),
        container_format=body.get("container_format"),
        disk_format=body.get("disk_format"),
        tags=tags,
        properties=properties,
    )
    with services.db.transaction(request_id=context.request_id) as uow:
        uow.images.add(image)
        image.record(image_created(image, now))
    return image


# -- read ----------------------------------------------------------------------------------
def get_image(services: Services, context: RequestContext, image_id: str) -> Image:
    """The image if the caller may see it; NotFound otherwise."""
    with services.db.transaction(write=False) as uow:
        return load_visible(uow, context, services.policy, image_id)


@dataclass(frozen=True)
class ImagePage:
    images: list[Image]
    full: bool  # as many rows as the limit: there may be a next page


def list_images(services: Services, context: RequestContext, query: ImageQuery) -> ImagePage:
    """One page of the images the caller may see. Raises Forbidden (policy), Invalid (bad marker)."""
    services.policy.enforce("get_images", context, {"project_id": context.project_id})
    with services.db.transaction(write=False) as uow:
        marker = None
        if query.marker is not None:
            try:
                marker = load_visible(uow, context, services.policy, query.marker)
            except NotFound as exc:
                found = uow.images.get(query.marker)
                if found is not None and not found.is_gone:
                    raise Forbidden(f"Forbidding request, image {query.marker} not visible") from None
                raise Invalid(exc.message) from None
        rows = uow.images.list(query, marker)
    visible = [image for image in rows if services.policy.allows("get_image", context, target(context, image))]
    return ImagePage(images=visible, full=len(rows) == query.limit)


# -- delete ---------------------------------------------------------------------------------
def delete_image(services: Services, context: RequestContext, image_id: str) -> None:
    """Delete an image: ``pending_delete`` while it has data (purged by a ``deletes`` job), else ``deleted``.

    With ``delayed_delete`` off the purge job is queued at once; with it
    on, the scrubber queues it after ``scrub_time``. Raises NotFound,
    Forbidden (policy, protected) and Invalid (a status that cannot be deleted).
    """
    with services.db.transaction(request_id=context.request_id) as uow:
        image = load_visible(
            uow, context, services.policy, image_id, for_update=True,
            not_found=f"Failed to find image {image_id} to delete",
        )  # fmt: skip
        authorize(services.policy, "delete_image", context, image)
        if image.protected:
            raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
        now = services.clock()
        has_data = bool(image.active_locations)
        try:
            image.set_status(ImageStatus.PENDING_DELETE if has_data else ImageStatus.DELETED, now)
        except InvalidTransition as exc:
            raise Invalid(exc.message) from None
        for location in image.active_locations:
            location.status = LocationStatus.PENDING_DELETE
        image.deleted = True
        image.deleted_at = now
        image.record(image_deleted(image, now))
        uow.images.save(image)
        if has_data and not services.settings.delayed_delete:
            job = Job(kind=JobKind.DELETE, image_id=image.id, status=JobStatus.QUEUED, created_at=now,
                      request_id=context.request_id)  # fmt: skip
            dispatch_after_commit(services, uow, job, now)
            uow.jobs.add(job)


# -- actions ---------------------------------------------------------------------------------
def deactivate_image(services: Services, context: RequestContext, image_id: str) -> None:
    """active -> deactivated; already deactivated is a no-op. Other statuses: Forbidden."""
    _toggle(services, context, image_id, "deactivate", ImageStatus.ACTIVE, ImageStatus.DEACTIVATED)


def reactivate_image(services: Services, context: RequestContext, image_id: str) -> None:
    """deactivated -> active; already active is a no-op. Other statuses: Forbidden."""
    _toggle(services, context, image_id, "reactivate", ImageStatus.DEACTIVATED, ImageStatus.ACTIVE)


def _toggle(
    services: Services, context: RequestContext, image_id: str, rule: str, source: ImageStatus, goal: ImageStatus
) -> None:
    with services.db.transaction(request_id=context.request_id) as uow:
        image = load_visible(uow, context, services.policy, image_id, for_update=True)
        authorize(services.policy, rule, context, image)
        if image.status is goal:
            return
        if image.status is not source:
            raise Forbidden(f"Not allowed to {rule} image in status '{image.status.value}'")
        now = services.clock()
        image.set_status(goal, now)
        image.record(image_updated(image, now))
        uow.images.save(image)


# -- tags ---------------------------------------------------------------------------------------
def add_tag(services: Services, context: RequestContext, image_id: str, tag: str) -> None:
    """Add one tag (a set: adding an existing tag changes nothing but is saved, as in Glance)."""
    services.schemas.image_validator.validate({"tags": [tag]})
    with services.db.transaction(request_id=context.request_id) as uow:
        image = load_visible(uow, context, services.policy, image_id, for_update=True, not_found=_not_found(image_id))
        authorize(services.policy, "modify_image", context, image)
        if tag not in image.tags:
            quota = services.settings.image_tag_quota
            if 0 <= quota < len(image.tags) + 1:
                message = quota_message("tags", len(image.tags) + 1, quota)
                raise TooLarge(f"Image tag limit exceeded for image {image_id}: {message}:")
            image.tags = sorted([*image.tags, tag])
        _save_with_update(services, uow, image)


def remove_tag(services: Services, context: RequestContext, image_id: str, tag: str) -> None:
    """Remove one tag; NotFound when the image does not have it."""
    with services.db.transaction(request_id=context.request_id) as uow:
        image = load_visible(uow, context, services.policy, image_id, for_update=True, not_found=_not_found(image_id))
        authorize(services.policy, "modify_image", context, image)
        if tag not in image.tags:
            raise NotFound()
        image.tags = [existing for existing in image.tags if existing != tag]
        _save_with_update(services, uow, image)


# -- helpers shared with image_updates -------------------------------------------------------
IGNORED_ON_CREATE = frozenset({"id", "os_hash_algo", "os_hash_value"})


def _not_found(image_id: str) -> str:
    return f"Image {image_id} not found."


def _save_with_update(services: Services, uow: Any, image: Image) -> None:
    now = services.clock()
    image.updated_at = now
    image.record(image_updated(image, now))
    uow.images.save(image)


def check_visibility_policy(
    services: Services, context: RequestContext, visibility: str, rule_target: dict[str, Any]
) -> None:
    if visibility == "public":
        services.policy.enforce("publicize_image", context, rule_target)
    elif visibility == "community":
        services.policy.enforce("communitize_image", context, rule_target)


def quota_message(what: str, attempted: int, maximum: int) -> str:
    return (
        f"The limit has been exceeded on the number of allowed image {what}. Attempted: {attempted}, Maximum: {maximum}"
    )


def check_quota(count: int, quota: int, what: str) -> None:
    """Raise TooLarge when ``count`` properties or tags exceed ``quota`` (negative: no limit)."""
    if 0 <= quota < count:
        raise TooLarge(quota_message(what, count, quota))


INT32_MAX = 2**31 - 1  # min_disk and min_ram are 32-bit columns, in Glance's database as in glint's


def check_int32_range(name: str, value: int) -> None:
    """Glance's 400s for a ``min_disk``/``min_ram`` that is negative or beyond a 32-bit integer."""
    if value < 0:
        raise Invalid(f"Invalid value '{value}' for parameter '{name}': Cannot be a negative value")
    if value > INT32_MAX:
        raise Invalid(f"'{name}' value out of range, must not exceed {INT32_MAX}.")


def check_property_names(properties: dict[str, Any]) -> None:
    if any(len(name) > 255 for name in properties):
        raise Invalid("Custom property should not be greater than 255 characters.")


def unique_tags(values: list[str]) -> list[str]:
    """Tags are a set; glint keeps them sorted."""
    return sorted(set(values))
