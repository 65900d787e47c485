"""Image member routes: /v2/images/{id}/members[/{member}]."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from services.api.bodies import json_body
from services.api.errors import ApiError
from services.api.runtime import caller, json_response, no_content, services
from shared.domain.clock import isotime
from shared.domain.members import Member, MemberStatus
from shared.handlers import members as handlers

bp = Blueprint("members", __name__)


def member_view(member: Member) -> dict[str, Any]:
    return {
        "member_id": member.member_id,
        "image_id": member.image_id,
        "status": member.status.value,
        "created_at": isotime(member.created_at),
        "updated_at": isotime(member.updated_at),
        "schema": "/v2/schemas/member",
    }


@bp.get("/v2/images/<image_id>/members")
def index(image_id: str) -> Response:
    """The members of a shared image (a member sees only itself)."""
    found = handlers.list_members(services(), caller(), image_id)
    return json_response({"members": [member_view(m) for m in found], "schema": "/v2/schemas/members"})


@bp.post("/v2/images/<image_id>/members")
def create(image_id: str) -> Response:
    """Share the image with a project: 200 (not 201), as in Glance."""
    body = json_body()
    if not isinstance(body, dict) or "member" not in body:
        raise ApiError(400, "Member to be added not specified")
    member_id = body["member"]
    if member_id in ("", None):
        raise ApiError(400, "Member can't be empty")
    if not isinstance(member_id, str | int) or isinstance(member_id, bool):
        raise ApiError(400, "Member to be added not specified")
    member = handlers.add_member(services(), caller(), image_id, str(member_id))
    return json_response(member_view(member))


@bp.get("/v2/images/<image_id>/members/<member_id>")
def show(image_id: str, member_id: str) -> Response:
    """One membership; 404 for anything the caller may not see."""
    return json_response(member_view(handlers.get_member(services(), caller(), image_id, member_id)))


@bp.put("/v2/images/<image_id>/members/<member_id>")
def update(image_id: str, member_id: str) -> Response:
    """The member project accepts, rejects or resets the share."""
    body = json_body()
    if not isinstance(body, dict) or "status" not in body:
        raise ApiError(400, "Status not specified")
    try:
        status = MemberStatus(body["status"])
    except ValueError:
        raise ApiError(400, 'Incorrect request: Status must be "pending", "accepted" or "rejected".') from None
    return json_response(member_view(handlers.update_member(services(), caller(), image_id, member_id, status)))


@bp.delete("/v2/images/<image_id>/members/<member_id>")
def delete(image_id: str, member_id: str) -> Response:
    """Stop sharing with a project: 204."""
    handlers.remove_member(services(), caller(), image_id, member_id)
    return no_content(content_type=False)
