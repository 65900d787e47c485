"""GET / (300) and GET /versions (200): the API versions glint speaks."""

from __future__ import annotations

from flask import Blueprint, Response, request

from services.api.runtime import json_response

bp = Blueprint("versions", __name__)

# Glance's list with multi-store on and the cache off, in Glance's order.
VERSIONS = [
    ("v2.15", "SUPPORTED"), ("v2.13", "SUPPORTED"), ("v2.12", "SUPPORTED"), ("v2.11", "SUPPORTED"),
    ("v2.10", "SUPPORTED"), ("v2.9", "SUPPORTED"), ("v2.8", "SUPPORTED"), ("v2.17", "CURRENT"),
    ("v2.7", "SUPPORTED"), ("v2.6", "SUPPORTED"), ("v2.5", "SUPPORTED"), ("v2.4", "SUPPORTED"),
    ("v2.3", "SUPPORTED"), ("v2.2", "SUPPORTED"), ("v2.1", "SUPPORTED"), ("v2.0", "SUPPORTED"),
]  # fmt: skip


def versions_document() -> dict:
    href = f"{request.host_url}v2/"
    return {
        "versions": [
            {"id": version, "status": status, "links": [{"rel": "self", "href": href}]} for version, status in VERSIONS
        ]
    }


@bp.get("/")
def root() -> Response:
    """The version document, as a 300 Multiple Choices."""
    return json_response(versions_document(), status=300)


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    from services.api.openapi import openapi_document
    from services.api.runtime import services

    return json_response(openapi_document(services().schemas))


@bp.get("/versions")
def versions() -> Response:
    """The version document."""
    return json_response(versions_document())
