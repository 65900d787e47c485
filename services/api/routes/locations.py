"""Location routes: registering an image's data by URL, listing its locations, removing one store's copy."""

from __future__ import annotations

from flask import Blueprint, Response

from services.api.bodies import json_body
from services.api.runtime import caller, json_response, no_content, services
from shared.handlers import location_imports, locations

bp = Blueprint("locations", __name__)


@bp.post("/v2/images/<image_id>/locations")
def add_location(image_id: str) -> Response:
    """POST /v2/images/{id}/locations: register data at a URL; 202, follow the ``location_import`` task."""
    body = json_body()
    svc = services()
    parsed = location_imports.parse_location(svc, body)
    location_imports.add_location(svc, caller(), image_id, parsed)
    response = no_content()
    response.status_code = 202
    return response


@bp.get("/v2/images/<image_id>/locations")
def list_locations(image_id: str) -> Response:
    """GET /v2/images/{id}/locations: ``[{url, metadata}]`` (policy ``fetch_image_location``: service or admin)."""
    return json_response(location_imports.list_locations(services(), caller(), image_id))


@bp.delete("/v2/stores/<store>/<image_id>")
def delete_from_store(store: str, image_id: str) -> Response:
    """Remove one store's copy of an active image; 204 (the data is purged asynchronously)."""
    locations.delete_from_store(services(), caller(), store, image_id)
    return no_content()
