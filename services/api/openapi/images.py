"""The image paths: images, their data, tags, actions and members."""

from __future__ import annotations

from typing import Any

from services.api.openapi.parts import (
    IMAGE_ID,
    V20,
    V21,
    errors,
    json_body,
    json_content,
    no_content,
    path_param,
    query,
    ref,
)

# The query parameters of GET /v2/images.
LIST_PARAMETERS = [
    query("limit", "Page size (default 25, at most 1000)", {"type": "integer", "minimum": 0}),
    query("marker", "Id of the last image of the previous page"),
    query(
        "sort_key",
        "Sort key (repeatable): name, status, container_format, disk_format, size, id, created_at, updated_at",
    ),  # fmt: skip
    query("sort_dir", "asc or desc (repeatable)", {"type": "string", "enum": ["asc", "desc"]}),
    query("sort", "New syntax: key[:dir],key[:dir]; cannot be combined with sort_key/sort_dir"),
    query("name", "Exact name, or in:a,b"),
    query("id", "Exact id, or in:a,b"),
    query("status", "Exact status, or in:a,b"),
    query("disk_format", "Exact format, or in:a,b"),
    query("container_format", "Exact format, or in:a,b"),
    query(
        "visibility",
        "Visibility, or all",
        {"type": "string", "enum": ["public", "private", "shared", "community", "all"]},
    ),  # fmt: skip
    query(
        "member_status",
        "Membership status of shared images listed",
        {"type": "string", "enum": ["pending", "accepted", "rejected", "all"]},
    ),  # fmt: skip
    query("owner", "Owner project"),
    query("size_min", "Smallest size, in bytes", {"type": "integer"}),
    query("size_max", "Largest size, in bytes", {"type": "integer"}),
    {
        **query("tag", "Tag (repeatable; all must match)", {"type": "array", "items": {"type": "string"}}),
        "style": "form",
        "explode": True,
    },  # fmt: skip
    query("protected", "true or false", {"type": "string", "enum": ["true", "false"]}),
    query("os_hidden", "true (only hidden images) or false", {"type": "string", "enum": ["true", "false"]}),
    query("created_at", "op:ISO8601 time, op one of gt gte eq neq lt lte"),
    query("updated_at", "op:ISO8601 time, op one of gt gte eq neq lt lte"),
]


def image_paths() -> dict[str, Any]:
    """/v2/images, and each image with its data, tags, actions and members."""
    patch_v21 = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["op", "path"],
            "properties": {
                "op": {"type": "string", "enum": ["add", "remove", "replace"]},
                "path": {"type": "string", "pattern": "^/"},
                "value": {},
            },
        },
    }
    patch_v20 = {
        "type": "array",
        "items": {
            "type": "object",
            "minProperties": 1,
            "properties": {
                "add": {"type": "string"},
                "replace": {"type": "string"},
                "remove": {"type": "string"},
                "value": {},
            },
        },
    }
    return {
        "/v2/images": {
            "get": {
                "operationId": "listImages",
                "parameters": LIST_PARAMETERS,
                "responses": {"200": json_content(ref("Images"), "One page of images"), **errors(400, 401, 403)},
            },
            "post": {
                "operationId": "createImage",
                "requestBody": json_body(ref("Image")),
                "responses": {"201": json_content(ref("Image"), "The new image"), **errors(400, 401, 403, 409, 413)},
            },
        },
        "/v2/images/{image_id}": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "showImage",
                "responses": {"200": json_content(ref("Image"), "The image"), **errors(401, 404)},
            },  # fmt: skip
            "patch": {
                "operationId": "updateImage",
                "requestBody": {
                    "required": True,
                    "content": {V21: {"schema": patch_v21}, V20: {"schema": patch_v20}},
                },
                "responses": {
                    "200": json_content(ref("Image"), "The updated image"),
                    **errors(400, 401, 403, 404, 409, 413, 415),
                },  # fmt: skip
            },
            "delete": {
                "operationId": "deleteImage",
                "responses": {**no_content("Deleted"), **errors(400, 401, 403, 404, 409)},
            },  # fmt: skip
        },
        "/v2/images/{image_id}/file": {
            "parameters": [IMAGE_ID],
            "put": {
                "operationId": "uploadImageData",
                "parameters": [
                    {
                        "name": "x-openstack-image-size",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "integer"},
                    },
                    {"name": "X-Image-Meta-Store", "in": "header", "required": False, "schema": {"type": "string"}},
                ],  # fmt: skip
                "requestBody": {
                    "required": True,
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                },  # fmt: skip
                "responses": {
                    **no_content("Stored; the image is active"),
                    **errors(400, 401, 403, 404, 409, 410, 413, 415, 503),
                },  # fmt: skip
            },
            "get": {
                "operationId": "downloadImageData",
                "parameters": [{"name": "Range", "in": "header", "required": False, "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "The data",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                    },  # fmt: skip
                    "206": {
                        "description": "One range of the data",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                    },  # fmt: skip
                    **no_content("The image has no data"),
                    **errors(400, 401, 403, 404, 416, 503),
                },
            },
        },
        "/v2/images/{image_id}/tags/{tag}": {
            "parameters": [IMAGE_ID, path_param("tag", "The tag")],
            "put": {
                "operationId": "addTag",
                "responses": {**no_content("Tagged"), **errors(400, 401, 403, 404, 413)},
            },  # fmt: skip
            "delete": {
                "operationId": "removeTag",
                "responses": {**no_content("Untagged"), **errors(401, 403, 404)},
            },  # fmt: skip
        },
        "/v2/images/{image_id}/actions/deactivate": {
            "parameters": [IMAGE_ID],
            "post": {
                "operationId": "deactivateImage",
                "responses": {**no_content("Deactivated"), **errors(401, 403, 404)},
            },  # fmt: skip
        },
        "/v2/images/{image_id}/actions/reactivate": {
            "parameters": [IMAGE_ID],
            "post": {
                "operationId": "reactivateImage",
                "responses": {**no_content("Reactivated"), **errors(401, 403, 404)},
            },  # fmt: skip
        },
        "/v2/images/{image_id}/members": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "listMembers",
                "responses": {"200": json_content(ref("Members"), "The members"), **errors(401, 403, 404)},
            },  # fmt: skip
            "post": {
                "operationId": "addMember",
                "requestBody": json_body(
                    {"type": "object", "required": ["member"], "properties": {"member": {"type": "string"}}}
                ),
                "responses": {
                    "200": json_content(ref("Member"), "The new member"),
                    **errors(400, 401, 403, 404, 409, 413),
                },  # fmt: skip
            },
        },
        "/v2/images/{image_id}/members/{member_id}": {
            "parameters": [IMAGE_ID, path_param("member_id", "The member project")],
            "get": {
                "operationId": "showMember",
                "responses": {"200": json_content(ref("Member"), "The member"), **errors(401, 404)},
            },  # fmt: skip
            "put": {
                "operationId": "updateMember",
                "requestBody": json_body(
                    {
                        "type": "object",
                        "required": ["status"],
                        "properties": {"status": {"type": "string", "enum": ["pending", "accepted", "rejected"]}},
                    }
                ),  # fmt: skip
                "responses": {"200": json_content(ref("Member"), "The member"), **errors(400, 401, 403, 404)},
            },
            "delete": {
                "operationId": "removeMember",
                "responses": {**no_content("Removed"), **errors(401, 403, 404)},
            },  # fmt: skip
        },
    }
