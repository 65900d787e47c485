"""Who may see an image, and Glance's rule that a denial on an invisible image is a 404."""

from __future__ import annotations

from shared.domain.context import RequestContext
from shared.domain.errors import NotFound
from shared.domain.image import Image
from shared.domain.policy import Policy, image_target
from shared.persistence.uow import UnitOfWork


def can_see(uow: UnitOfWork, context: RequestContext, image: Image) -> bool:
    """Glance's ``is_image_visible``: owner, public, community, shared with the caller, or admin."""
    if image.is_gone:
        return False
    if context.is_admin or image.owner == context.project_id:
        return True
    if image.visibility in ("public", "community"):
        return True
    if image.visibility == "shared":
        return uow.images.member_status(image.id, context.project_id) is not None
    return False


def load_visible(
    uow: UnitOfWork,
    context: RequestContext,
    policy: Policy,
    image_id: str,
    *,
    for_update: bool = False,
    not_found: str | None = None,
) -> Image:
    """The image, if the caller may see it (visibility and ``get_image``); NotFound otherwise."""
    image = uow.images.get(image_id, for_update=for_update)
    if (
        image is None
        or not can_see(uow, context, image)
        or not policy.allows("get_image", context, target(context, image))
    ):
        raise NotFound(not_found or f"No image found with ID {image_id}")
    return image


def authorize(policy: Policy, rule: str, context: RequestContext, image: Image) -> None:
    """Raise Forbidden unless ``rule`` passes for this (visible) image."""
    policy.enforce(rule, context, target(context, image))


def target(context: RequestContext, image: Image) -> dict[str, object]:
    return image_target(context, image.owner, image.visibility)
