"""Sharing: the members of ``shared`` images, with Glance's rules and messages.

The image owner (or an admin) adds and removes members; only the member
project (or an admin) changes a membership's status. A non-owner sees only
its own membership. Every change sends ``image.member.create``, ``update``
or ``delete``.
"""

from __future__ import annotations

from typing import Any

from shared.domain.context import RequestContext
from shared.domain.errors import Conflict, Forbidden, NotFound, TooLarge
from shared.domain.events import ImageMemberCreated, ImageMemberDeleted, ImageMemberUpdated, member_event
from shared.domain.image import Image
from shared.domain.members import Member, MemberStatus
from shared.domain.policy import image_target
from shared.handlers.access import load_visible
from shared.persistence.uow import UnitOfWork
from shared.services import Services


def list_members(services: Services, context: RequestContext, image_id: str) -> list[Member]:
    """The image's members: all of them for the owner and admins, the caller's own row for a member.

    Raises NotFound (image not visible) and Forbidden (not ``shared``, policy).
    """
    with services.db.transaction(write=False) as uow:
        image = _image(uow, services, context, image_id)
        if image.visibility != "shared":
            raise Forbidden(f"Not allowed to list members for image {image_id}: Only shared images have members.")
        services.policy.enforce("get_members", context, image_target(context, image.owner, image.visibility))
        if context.is_admin or image.owner == context.project_id:
            return uow.members.list(image_id)
        return uow.members.list(image_id, context.project_id)


def get_member(services: Services, context: RequestContext, image_id: str, member_id: str) -> Member:
    """One membership. Any denial is a NotFound, so that memberships do not leak."""
    try:
        members = list_members(services, context, image_id)
    except Forbidden:
        raise NotFound(_not_a_member(member_id, image_id)) from None
    found = [member for member in members if member.member_id == member_id]
    if not found:
        raise NotFound(_not_a_member(member_id, image_id))
    return found[0]


def add_member(services: Services, context: RequestContext, image_id: str, member_id: str) -> Member:
    """Share the image with ``member_id`` (status ``pending``).

    Raises NotFound, Forbidden (policy; image not ``shared``), Conflict
    (already a member) and TooLarge (``image_member_quota``).
    """
    with services.db.transaction(request_id=context.request_id) as uow:
        image = _image(uow, services, context, image_id, for_update=True)
        services.policy.enforce("add_member", context, image_target(context, image.owner, image.visibility))
        if image.visibility != "shared":
            raise Forbidden(f"Not allowed to create members for image {image_id}.")
        if uow.members.get(image_id, member_id) is not None:
            raise Conflict(f"Member {member_id} is duplicated for image {image_id}")
        quota = services.settings.image_member_quota
        count = uow.members.count(image_id) + 1
        if 0 <= quota < count:
            raise TooLarge(
                f"Image member limit exceeded for image {image_id}: The limit has been exceeded on the number of "
                f"allowed image members for this image. Attempted: {count}, Maximum: {quota}:"
            )
        now = services.clock()
        member = Member(image_id, member_id, MemberStatus.PENDING, now, now)
        uow.members.add(member)
        uow.record(member_event(ImageMemberCreated, member, now))
    return member


def update_member(
    services: Services, context: RequestContext, image_id: str, member_id: str, status: MemberStatus
) -> Member:
    """Accept, reject or reset a membership: only the member project (or an admin) may."""
    with services.db.transaction(request_id=context.request_id) as uow:
        image = _image(uow, services, context, image_id, for_update=True)
        member = uow.members.get(image_id, member_id)
        if member is None:
            raise NotFound(_not_a_member(member_id, image_id))
        services.policy.enforce("modify_member", context, _member_target(image, member_id))
        now = services.clock()
        member.status = status
        member.updated_at = now
        uow.members.save(member)
        uow.record(member_event(ImageMemberUpdated, member, now))
    return member


def remove_member(services: Services, context: RequestContext, image_id: str, member_id: str) -> None:
    """Stop sharing the image with ``member_id``: only the owner (or an admin) may."""
    with services.db.transaction(request_id=context.request_id) as uow:
        image = _image(uow, services, context, image_id, for_update=True)
        services.policy.enforce("delete_member", context, image_target(context, image.owner, image.visibility))
        if image.visibility != "shared":
            raise Forbidden(f"Not allowed to delete members for image {image_id}.")
        member = uow.members.get(image_id, member_id)
        if member is None:
            raise NotFound(_not_a_member(member_id, image_id))
        uow.members.remove(member)
        uow.record(member_event(ImageMemberDeleted, member, services.clock()))


def _image(
    uow: UnitOfWork, services: Services, context: RequestContext, image_id: str, *, for_update: bool = False
) -> Image:
    return load_visible(
        uow, context, services.policy, image_id, for_update=for_update, not_found=f"Image {image_id} not found."
    )


def _member_target(image: Image, member_id: str) -> dict[str, Any]:
    return {"project_id": image.owner, "owner": image.owner, "visibility": image.visibility, "member_id": member_id}


def _not_a_member(member_id: str, image_id: str) -> str:
    return f"{member_id} not found in the member list of the image {image_id}."
