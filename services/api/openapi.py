"""The OpenAPI 3.1 document of glint's HTTP API, built from the same schemas that validate requests.

Served at ``/openapi.json`` and kept in the repository as ``docs/openapi.json``
(``glint openapi > docs/openapi.json``; a test checks the copy is current).
"""

from __future__ import annotations

from typing import Any

from shared.schemas import Schemas
from shared.schemas.location import location_schema
from shared.schemas.member_task import task_schema

V21 = "application/openstack-images-v2.1-json-patch"
V20 = "application/openstack-images-v2.0-json-patch"
ERRORS = {
    400: "Malformed request or invalid value",
    401: "No valid identity",
    403: "Forbidden by policy or by a rule of the image",
    404: "No such image, or not visible to the caller",
    405: "Method not allowed on this resource (see Allow)",
    409: "The image is not in a state that allows this, or another import holds it",
    410: "The image was deleted while its data was uploaded",
    413: "A size cap or quota is exceeded",
    415: "Unsupported media type, or image content that does not match disk_format",
    416: "Range not satisfiable",
    503: "A store or the database is unavailable",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    error = {"schema": _ref("Error")}
    return {
        str(code): {
            "description": ERRORS[code],
            "content": {
                "application/json": error,
                "text/html": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }  # fmt: skip
        for code in codes
    }


def _no_content(description: str) -> dict[str, Any]:
    return {"204": {"description": description}}


def _schema_body(document: dict[str, Any]) -> dict[str, Any]:
    """A served schema document as an OpenAPI schema (without its hypermedia keys)."""
    return {key: value for key, value in document.items() if key not in ("name", "links")}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}  # fmt: skip


IMAGE_ID = _path_param("image_id", "The image's id (a UUID)")
LIST_PARAMETERS = [
    _query("limit", "Page size (default 25, at most 1000)", {"type": "integer", "minimum": 0}),
    _query("marker", "Id of the last image of the previous page"),
    _query(
        "sort_key",
        "Sort key (repeatable): name, status, container_format, disk_format, size, id, created_at, updated_at",
    ),  # fmt: skip
    _query("sort_dir", "asc or desc (repeatable)", {"type": "string", "enum": ["asc", "desc"]}),
    _query("sort", "New syntax: key[:dir],key[:dir]; cannot be combined with sort_key/sort_dir"),
    _query("name", "Exact name, or in:a,b"),
    _query("id", "Exact id, or in:a,b"),
    _query("status", "Exact status, or in:a,b"),
    _query("disk_format", "Exact format, or in:a,b"),
    _query("container_format", "Exact format, or in:a,b"),
    _query(
        "visibility",
        "Visibility, or all",
        {"type": "string", "enum": ["public", "private", "shared", "community", "all"]},
    ),  # fmt: skip
    _query(
        "member_status",
        "Membership status of shared images listed",
        {"type": "string", "enum": ["pending", "accepted", "rejected", "all"]},
    ),  # fmt: skip
    _query("owner", "Owner project"),
    _query("size_min", "Smallest size, in bytes", {"type": "integer"}),
    _query("size_max", "Largest size, in bytes", {"type": "integer"}),
    {
        **_query("tag", "Tag (repeatable; all must match)", {"type": "array", "items": {"type": "string"}}),
        "style": "form",
        "explode": True,
    },  # fmt: skip
    _query("protected", "true or false", {"type": "string", "enum": ["true", "false"]}),
    _query("os_hidden", "true (only hidden images) or false", {"type": "string", "enum": ["true", "false"]}),
    _query("created_at", "op:ISO8601 time, op one of gt gte eq neq lt lte"),
    _query("updated_at", "op:ISO8601 time, op one of gt gte eq neq lt lte"),
]


def openapi_document(schemas: Schemas) -> dict[str, Any]:
    """The whole HTTP API as an OpenAPI 3.1 document."""
    image = _schema_body(schemas.image)
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
                    "responses": {"300": _json(_ref("Versions"), "The API versions")},
                }
            },  # fmt: skip
            "/versions": {
                "get": {
                    "operationId": "versions",
                    "security": [],
                    "responses": {"200": _json(_ref("Versions"), "The API versions")},
                }
            },  # fmt: skip
            "/v2/images": {
                "get": {
                    "operationId": "listImages",
                    "parameters": LIST_PARAMETERS,
                    "responses": {"200": _json(_ref("Images"), "One page of images"), **_errors(400, 401, 403)},
                },
                "post": {
                    "operationId": "createImage",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Image")}}},
                    "responses": {"201": _json(_ref("Image"), "The new image"), **_errors(400, 401, 403, 409, 413)},
                },
            },
            "/v2/images/{image_id}": {
                "parameters": [IMAGE_ID],
                "get": {
                    "operationId": "showImage",
                    "responses": {"200": _json(_ref("Image"), "The image"), **_errors(401, 404)},
                },  # fmt: skip
                "patch": {
                    "operationId": "updateImage",
                    "requestBody": {
                        "required": True,
                        "content": {V21: {"schema": patch_v21}, V20: {"schema": patch_v20}},
                    },
                    "responses": {
                        "200": _json(_ref("Image"), "The updated image"),
                        **_errors(400, 401, 403, 404, 409, 413, 415),
                    },  # fmt: skip
                },
                "delete": {
                    "operationId": "deleteImage",
                    "responses": {**_no_content("Deleted"), **_errors(400, 401, 403, 404, 409)},
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
                        **_no_content("Stored; the image is active"),
                        **_errors(400, 401, 403, 404, 409, 410, 413, 415, 503),
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
                        **_no_content("The image has no data"),
                        **_errors(400, 401, 403, 404, 416, 503),
                    },
                },
            },
            "/v2/images/{image_id}/tags/{tag}": {
                "parameters": [IMAGE_ID, _path_param("tag", "The tag")],
                "put": {
                    "operationId": "addTag",
                    "responses": {**_no_content("Tagged"), **_errors(400, 401, 403, 404, 413)},
                },  # fmt: skip
                "delete": {
                    "operationId": "removeTag",
                    "responses": {**_no_content("Untagged"), **_errors(401, 403, 404)},
                },  # fmt: skip
            },
            "/v2/images/{image_id}/actions/deactivate": {
                "parameters": [IMAGE_ID],
                "post": {
                    "operationId": "deactivateImage",
                    "responses": {**_no_content("Deactivated"), **_errors(401, 403, 404)},
                },  # fmt: skip
            },
            "/v2/images/{image_id}/actions/reactivate": {
                "parameters": [IMAGE_ID],
                "post": {
                    "operationId": "reactivateImage",
                    "responses": {**_no_content("Reactivated"), **_errors(401, 403, 404)},
                },  # fmt: skip
            },
            "/v2/images/{image_id}/members": {
                "parameters": [IMAGE_ID],
                "get": {
                    "operationId": "listMembers",
                    "responses": {"200": _json(_ref("Members"), "The members"), **_errors(401, 403, 404)},
                },  # fmt: skip
                "post": {
                    "operationId": "addMember",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["member"],
                                    "properties": {"member": {"type": "string"}},
                                }
                            }
                        },
                    },  # fmt: skip
                    "responses": {
                        "200": _json(_ref("Member"), "The new member"),
                        **_errors(400, 401, 403, 404, 409, 413),
                    },  # fmt: skip
                },
            },
            "/v2/images/{image_id}/members/{member_id}": {
                "parameters": [IMAGE_ID, _path_param("member_id", "The member project")],
                "get": {
                    "operationId": "showMember",
                    "responses": {"200": _json(_ref("Member"), "The member"), **_errors(401, 404)},
                },  # fmt: skip
                "put": {
                    "operationId": "updateMember",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "properties": {
                                        "status": {"type": "string", "enum": ["pending", "accepted", "rejected"]}
                                    },
                                }
                            }
                        },
                    },  # fmt: skip
                    "responses": {"200": _json(_ref("Member"), "The member"), **_errors(400, 401, 403, 404)},
                },
                "delete": {
                    "operationId": "removeMember",
                    "responses": {**_no_content("Removed"), **_errors(401, 403, 404)},
                },  # fmt: skip
            },
            **_import_paths(),
            **_task_paths(),
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
                    "responses": {"200": _json({"type": "object"}, "A JSON schema document"), **_errors(401, 404)},
                },  # fmt: skip
            },
        },
        "components": {
            "securitySchemes": {
                "glintToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Auth-Token",
                    "description": "[auth] mode = token: a token from `glint token create`",
                },
                "keystoneHeaders": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Identity-Status",
                    "description": "[auth] mode = headers: 'Confirmed', with X-User-Id, "
                    "X-Project-Id and X-Roles as Keystone's auth_token middleware sets them",
                },
            },  # fmt: skip
            "schemas": {
                "Image": image,
                "Images": {
                    "type": "object",
                    "properties": {
                        "images": {"type": "array", "items": _ref("Image")},
                        "first": {"type": "string"},
                        "next": {"type": "string"},
                        "schema": {"type": "string"},
                    },  # fmt: skip
                },
                "Member": _schema_body(schemas.documents["member"]),
                "Members": {
                    "type": "object",
                    "properties": {"members": {"type": "array", "items": _ref("Member")}, "schema": {"type": "string"}},
                },
                "Task": _schema_body(schemas.documents["task"]),
                "Tasks": {
                    "type": "object",
                    "properties": {
                        "tasks": {"type": "array", "items": _schema_body(task_schema(stub=True))},
                        "first": {"type": "string"},
                        "next": {"type": "string"},
                        "schema": {"type": "string"},
                    },  # fmt: skip
                },
                "Error": {
                    "type": "object",
                    "properties": {
                        "message": {"type": "string"},
                        "code": {"type": "string"},
                        "title": {"type": "string"},
                    },  # fmt: skip
                },
                "Versions": {
                    "type": "object",
                    "properties": {
                        "versions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "status": {"type": "string"},
                                    "links": {"type": "array"},
                                },
                            },
                        }
                    },
                },  # fmt: skip
            },
        },
    }


def _import_paths() -> dict[str, Any]:
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
                    **_no_content("Staged; import it with POST .../import"),
                    **_errors(400, 401, 403, 404, 409, 413, 415, 503),
                },
            },  # fmt: skip
        },
        "/v2/images/{image_id}/import": {
            "parameters": [IMAGE_ID],
            "post": {
                "operationId": "importImage",
                "parameters": [store_header],
                "requestBody": {"required": True, "content": {"application/json": {"schema": import_body}}},
                "responses": {
                    "202": {"description": "Accepted; follow GET /v2/images/{image_id}/tasks"},
                    **_errors(400, 401, 403, 404, 409, 413),
                },
            },  # fmt: skip
        },
        "/v2/images/{image_id}/locations": {
            "parameters": [IMAGE_ID],
            "post": {
                "operationId": "addLocation",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": location_schema()["properties"]["add_location"]}},
                },
                "responses": {
                    "202": {"description": "Accepted; follow the location_import task"},
                    **_errors(400, 401, 403, 404, 409),
                },
            },
            "get": {
                "operationId": "listLocations",
                "responses": {
                    "200": _json(
                        {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"url": {"type": "string"}, "metadata": {"type": "object"}},
                            },
                        },
                        "The image's locations",
                    ),
                    **_errors(401, 403, 404),
                },
            },
        },  # fmt: skip
        "/v2/images/{image_id}/tasks": {
            "parameters": [IMAGE_ID],
            "get": {
                "operationId": "listImageTasks",
                "responses": {
                    "200": _json({"type": "object", "properties": {"tasks": {"type": "array"}}}, "The image's tasks"),
                    **_errors(401, 403, 404),
                },
            },  # fmt: skip
        },
        "/v2/info/import": {"get": {"operationId": "importInfo", "responses": {"200": _json(info, "Import methods")}}},
        "/v2/info/stores": {"get": {"operationId": "storesInfo", "responses": {"200": _json(info, "The stores")}}},
        "/v2/info/stores/detail": {
            "get": {
                "operationId": "storesDetail",
                "responses": {"200": _json(info, "The stores, with type and properties"), **_errors(401, 403)},
            },
        },  # fmt: skip
        "/v2/info/usage": {"get": {"operationId": "usageInfo", "responses": {"200": _json(info, "Quota usage")}}},
        "/v2/stores/{store}/{image_id}": {
            "parameters": [_path_param("store", "A store id"), IMAGE_ID],
            "delete": {
                "operationId": "deleteFromStore",
                "responses": {**_no_content("The copy is removed"), **_errors(401, 403, 404, 409)},
            },  # fmt: skip
        },
    }


def _task_paths() -> dict[str, Any]:
    """The tasks API (admin-only by default)."""
    parameters = [
        _query("limit", "Page size", {"type": "integer", "minimum": 0}),
        _query("marker", "Id of the last task of the previous page"),
        _query("sort_key", "Sort key", {"type": "string", "enum": ["id", "type", "status", "created_at",
                                                                   "updated_at"]}),
        _query("sort_dir", "asc or desc", {"type": "string", "enum": ["asc", "desc"]}),
        _query("status", "Task status", {"type": "string", "enum": ["pending", "processing", "success", "failure"]}),
        _query("type", "Task type", {"type": "string", "enum": ["import"]}),
    ]  # fmt: skip
    create = {"type": "object", "required": ["type", "input"],
              "properties": {"type": {"type": "string"}, "input": {"type": "object"}}}  # fmt: skip
    return {
        "/v2/tasks": {
            "get": {
                "operationId": "listTasks",
                "parameters": parameters,
                "responses": {"200": _json(_ref("Tasks"), "One page of tasks"), **_errors(400, 401, 403)},
            },
            "post": {
                "operationId": "createTask",
                "requestBody": {"required": True, "content": {"application/json": {"schema": create}}},
                "responses": {"201": _json(_ref("Task"), "The new task"), **_errors(400, 401, 403)},
            },
        },
        "/v2/tasks/{task_id}": {
            "parameters": [_path_param("task_id", "The task's id")],
            "get": {
                "operationId": "showTask",
                "responses": {"200": _json(_ref("Task"), "The task"), **_errors(401, 403, 404)},
            },  # fmt: skip
        },
    }
