"""GET /v2/schemas/{name}: the JSON schemas that also validate requests."""

from __future__ import annotations

from flask import Blueprint, Response

from services.api.runtime import json_response, services
from shared.domain.errors import NotFound

bp = Blueprint("schemas", __name__)


@bp.get("/v2/schemas/<name>")
def schema(name: str) -> Response:
    """One schema document; 404 for a name glint does not serve."""
    document = services().schemas.document(name)
    if document is None:
        raise NotFound()
    return json_response(document)
