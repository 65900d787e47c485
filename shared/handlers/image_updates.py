"""PATCH /v2/images/{id}: JSON-patch changes applied with Glance's rules, saved once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared.domain import attributes
from shared.domain.context import RequestContext
from shared.domain.errors import Conflict, Forbidden
from shared.domain.events import image_updated
from shared.domain.image import Image
from shared.handlers.access import authorize, load_visible, target
from shared.handlers.images import (
    check_int32_range,
    check_quota,
    check_visibility_policy,
    unique_tags,
)
from shared.services import Services


@dataclass(frozen=True)
class Change:
    """One PATCH operation on a top-level attribute (``path`` is the decoded pointer)."""

    op: Literal["add", "remove", "replace"]
    path: tuple[str, ...]
    value: Any = None
    add_replaces: bool = True  # v2.1 semantics; under v2.0 "add" of something present is a conflict

    @property
    def name(self) -> str:
        return self.path[0]


def update_image(services: Services, context: RequestContext, image_id: str, changes: list[Change]) -> Image:
    """Apply PATCH changes in order and save once; an empty list saves nothing and sends no event.

    Each change is checked as Glance checks it: read-only or reserved
    (Forbidden), the value against the image schema (Invalid), then applied
    (Conflict for a missing or, under v2.0, present property; Forbidden for
    removing a base attribute, changing the owner or a locked format).
    Quotas (TooLarge) are checked on the result. Nothing is saved when any
    change fails.
    """
    for change in changes:
        _check_change(services, change)
    with services.db.transaction(request_id=context.request_id) as uow:
        image = load_visible(uow, context, services.policy, image_id, for_update=True)
        if not changes:  # Glance checks modify_image per change: an empty patch is a read
            return image
        authorize(services.policy, "modify_image", context, image)
        for change in changes:
            _apply(services, context, image, change)
        check_quota(len(image.properties), services.settings.image_property_quota, "properties")
        check_quota(len(image.tags), services.settings.image_tag_quota, "tags")
        now = services.clock()
        image.updated_at = now
        image.record(image_updated(image, now))
        uow.images.save(image)
    return image


def _check_change(services: Services, change: Change) -> None:
    name = change.name
    if name in attributes.READ_ONLY_ON_PATCH:
        raise Forbidden(f"Attribute '{name}' is read-only.")
    if attributes.is_reserved(name):
        raise Forbidden(f"Attribute '{name}' is reserved.")
    if change.op != "remove":
        services.schemas.image_validator.validate({name: change.value})
        if name in ("min_disk", "min_ram"):
            check_int32_range(name, change.value)
    if name == "locations":
        raise Forbidden("It's not allowed to add locations if locations are invisible.")


def _apply(services: Services, context: RequestContext, image: Image, change: Change) -> None:
    name = change.name
    is_base = name in attributes.WRITABLE_BASE
    present = is_base or name in image.properties
    if change.op == "remove":
        if is_base:
            raise Forbidden(detail=f"Property {name} may not be removed.")
        if not present:
            raise Conflict(detail=f"Property {name} does not exist.")
        del image.properties[name]
        return
    if change.op == "replace" and not present:
        raise Conflict(detail=f"Property {name} does not exist.")
    if change.op == "add" and present and not change.add_replaces:
        raise Conflict(detail=f"Property {name} already present.")
    if is_base:
        _set_base(services, context, image, name, change.value)
    else:
        image.properties[name] = change.value


def _set_base(services: Services, context: RequestContext, image: Image, name: str, value: Any) -> None:
    if name == "tags":
        image.tags = unique_tags(value)
    elif name == "visibility":
        check_visibility_policy(services, context, value, target(context, image))
        image.visibility = value
    elif name == "owner":
        if not context.is_admin:
            raise Forbidden(detail="Owner can't be updated by non admin.")
        image.owner = value
    elif name in ("disk_format", "container_format"):
        if image.status.value not in attributes.FORMAT_CHANGE_STATUSES:
            raise Forbidden(f"Attribute {name} can be only replaced for a queued image.")
        setattr(image, name, value)
    else:
        setattr(image, name, value)
