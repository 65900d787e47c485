"""The OpenAPI 3.1 document of glint's HTTP API, built from the same schemas that validate requests.

Served at ``/openapi.json`` and kept in the repository as ``docs/openapi.json``
(``glint openapi > docs/openapi.json``; a test checks the copy is current).

The paths come from one module per resource (images, imports, tasks), the components from
``components``, and the pieces they share (responses, parameters, references) from ``parts``.
"""

from __future__ import annotations

from typing import Any

from services.api.openapi.components import components
from services.api.openapi.images import image_paths
from services.api.openapi.imports import import_paths
from services.api.openapi.parts import errors, json_content, ref
from services.api.openapi.tasks import task_paths
from shared.schemas import Schemas


def openapi_document(schemas: Schemas) -> dict[str, Any]:
    """The whole HTTP API as an OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "glint Image API",
            "version": "2.17",
            "description": "OpenStack Image API v2 (Glance's API) as glint serves it.",
        },
        "security": [{"glintToken": []}, {"keystoneHeaders": []}],
        "paths": {
            "/": {
                "get": {
                    "operationId": "versionsRoot",
                    "security": [],
                    "responses": {"300": json_content(ref("Versions"), "The API versions")},
                }
            },  # fmt: skip
            "/versions": {
                "get": {
                    "operationId": "versions",
                    "security": [],
                    "responses": {"200": json_content(ref("Versions"), "The API versions")},
                }
            },  # fmt: skip
            **image_paths(),
            **import_paths(),
            **task_paths(),
            "/v2/schemas/{name}": {
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["image", "images", "member", "members", "task", "tasks"]},
                    }
                ],  # fmt: skip
                "get": {
                    "operationId": "showSchema",
                    "responses": {
                        "200": json_content({"type": "object"}, "A JSON schema document"),
                        **errors(401, 404),
                    },
                },  # fmt: skip
            },
        },
        "components": components(schemas),
    }
