"""Image metadata routes: create, list, show, update, delete, tags and actions."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

from services.api.errors import ApiError
from services.api.listing import page_links, parse_list_query
from services.api.patch import parse_patch
from services.api.runtime import caller, json_response, no_content, services
from services.api.views import image_view
from shared.handlers import image_updates
from shared.handlers import images as handlers

bp = Blueprint("images", __name__)


@bp.post("/v2/images")
def create() -> Response:
    """POST /v2/images: 201 with the image and its Location."""
    raw = request.get_data()
    if not raw:
        raise ApiError(400, "Body expected in request.")
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "Malformed JSON in request body.") from None
    svc = services()
    image = handlers.create_image(svc, caller(), body)
    return json_response(
        image_view(image, svc.settings, is_admin=caller().is_admin),
        status=201,
        headers={
            "Location": f"{request.host_url}v2/images/{image.id}",
            "OpenStack-image-store-ids": ",".join(svc.settings.enabled_backends),
            **(
                {"OpenStack-image-import-methods": ",".join(svc.settings.enabled_import_methods)}
                if svc.settings.enabled_import_methods
                else {}
            ),
        },
    )


@bp.get("/v2/images")
def index() -> Response:
    """GET /v2/images: one page, with ``first`` and (when there may be more) ``next`` links."""
    svc, context = services(), caller()
    query = parse_list_query(request.args, context, svc.settings)
    page = handlers.list_images(svc, context, query)
    last_id = page.images[-1].id if page.full and page.images else None
    body = {
        "images": [image_view(image, svc.settings, is_admin=context.is_admin) for image in page.images],
        **page_links("/v2/images", request.args, last_id),
        "schema": "/v2/schemas/images",
    }
    return json_response(body)


@bp.get("/v2/images/<image_id>")
def show(image_id: str) -> Response:
    """GET /v2/images/{id}."""
    svc = services()
    return json_response(
        image_view(handlers.get_image(svc, caller(), image_id), svc.settings, is_admin=caller().is_admin)
    )


@bp.patch("/v2/images/<image_id>")
def update(image_id: str) -> Response:
    """PATCH /v2/images/{id} with either JSON-patch media type."""
    changes = parse_patch(request.mimetype, request.content_type or "", request.get_data())
    svc = services()
    return json_response(
        image_view(
            image_updates.update_image(svc, caller(), image_id, changes), svc.settings, is_admin=caller().is_admin
        )
    )


@bp.delete("/v2/images/<image_id>")
def delete(image_id: str) -> Response:
    """DELETE /v2/images/{id}: 204; the data is purged asynchronously."""
    handlers.delete_image(services(), caller(), image_id)
    return no_content()


@bp.put("/v2/images/<image_id>/tags/<tag>")
def add_tag(image_id: str, tag: str) -> Response:
    """PUT /v2/images/{id}/tags/{tag}: 204."""
    handlers.add_tag(services(), caller(), image_id, tag)
    return no_content()


@bp.delete("/v2/images/<image_id>/tags/<tag>")
def remove_tag(image_id: str, tag: str) -> Response:
    """DELETE /v2/images/{id}/tags/{tag}: 204, 404 when the tag is absent."""
    handlers.remove_tag(services(), caller(), image_id, tag)
    return no_content()


@bp.post("/v2/images/<image_id>/actions/deactivate")
def deactivate(image_id: str) -> Response:
    """POST .../actions/deactivate: 204."""
    handlers.deactivate_image(services(), caller(), image_id)
    return no_content()


@bp.post("/v2/images/<image_id>/actions/reactivate")
def reactivate(image_id: str) -> Response:
    """POST .../actions/reactivate: 204."""
    handlers.reactivate_image(services(), caller(), image_id)
    return no_content()
