"""The import paths: staging, import, locations, store discovery and single-store deletes."""

from __future__ import annotations

from typing import Any

from services.api.openapi.parts import IMAGE_ID, errors, json_body, json_content, no_content, path_param
from shared.schemas.location import location_schema


def import_paths() -> dict[str, Any]:
    """Staging, import, locations, store discovery and single-store deletes."""
    binary = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    import_body = {
        "type": "object",
        "required": ["method"],
        "properties": {
            "method": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string",
                             "enum": ["glance-direct", "web-download", "copy-image", "glance-download"]},
                    "uri": {"type": "string", "description": "web-download: the URL of the data"},
                    "glance_region": {"type": "string"},
                    "glance_image_id": {"type": "string"},
                    "glance_service_interface": {"type": "string"},
                },
            },
            "stores": {"type": "array", "items": {"type": "string"}},
            "all_stores": {"type": "boolean"},
            "all_stores_must_succeed": {"type": "boolean"},
        },
    }  # fmt: skip
    store_header = {"name": "X-Image-Meta-Store", "in": "header", "required": False, "schema": {"type": "string"}}
    info = {"type": "object"}
    return {
        "/v2/images/{image_id}/stage": {
            "parameters": [IMAGE_ID],
            "put": {
                "operationId": "stageImageData",
                "requestBody": {"required": True, "content": binary},
                "responses": {
                    **no_content("Staged; import it with POST .../import"),
                    **errors(400, 401, 403, 404, 409, 413, 415, 503),
                },
            },  # fmt: skip
        },
        "/v2/images/{image_id}/import": {
            "parameters": [IMAGE_ID],
            "post": {
                "operationId": "importImage",
                "parameters": [store_header],
                "requestBody": json_body(import_body),
                "responses": {
                    "202": {"description": "Accepted; follow GET /v2/images/{image_id}/tasks"},
                    **errors(400, 401, 403, 404, 409, 413),
                },
            },  # fmt: skip
        },
        "/v2/images/{image_id}/locations": {
            "parameters": [IMAGE_ID],
            "post": {
                "operationId": "addLocation",
                "requestBody": json_body(location_schema()["properties"]["add_location"]),
                "responses": {
                    "202": {"description": "Accepted; follow the location_import task"},
                    **errors(400, 401, 403, 404, 409),
                },
            },
            "get": {
                "operationId": "listLocations",
                "responses": {
                    "200": json_content(
                        {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"url": {"type": "string"}, "metadata": {"type": "object"}},
                            },
                        },
                        "The image's locations",
                    ),
                    **errors(401, 403, 404),
                },
            },
        },  # fmt: skip
        "/v2/images/{image_id}/tasks": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "listImageTasks",
                "responses": {
                    "200": json_content(
                        {"type": "object", "properties": {"tasks": {"type": "array"}}}, "The image's tasks"
                    ),
                    **errors(401, 403, 404),
                },
            },  # fmt: skip
        },
        "/v2/info/import": {
            "get": {"operationId": "importInfo", "responses": {"200": json_content(info, "Import methods")}}
        },
        "/v2/info/stores": {
            "get": {"operationId": "storesInfo", "responses": {"200": json_content(info, "The stores")}}
        },
        "/v2/info/stores/detail": {
            "get": {
                "operationId": "storesDetail",
                "responses": {"200": json_content(info, "The stores, with type and properties"), **errors(401, 403)},
            },
        },  # fmt: skip
        "/v2/info/usage": {
            "get": {"operationId": "usageInfo", "responses": {"200": json_content(info, "Quota usage")}}
        },
        "/v2/stores/{store}/{image_id}": {
            "parameters": [path_param("store", "A store id"), IMAGE_ID],
            "delete": {
                "operationId": "deleteFromStore",
                "responses": {**no_content("The copy is removed"), **errors(401, 403, 404, 409)},
            },  # fmt: skip
        },
    }
