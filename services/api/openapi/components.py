"""The components of the OpenAPI document: its security schemes and the schemas the paths refer to."""

from __future__ import annotations

from typing import Any

from services.api.openapi.parts import ref, schema_body
from shared.schemas import Schemas
from shared.schemas.member_task import task_schema


def components(schemas: Schemas) -> dict[str, Any]:
    """The security schemes, and the schemas of images, members, tasks, errors and versions."""
    return {
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
            "Image": schema_body(schemas.image),
            "Images": {
                "type": "object",
                "properties": {
                    "images": {"type": "array", "items": ref("Image")},
                    "first": {"type": "string"},
                    "next": {"type": "string"},
                    "schema": {"type": "string"},
                },  # fmt: skip
            },
            "Member": schema_body(schemas.documents["member"]),
            "Members": {
                "type": "object",
                "properties": {"members": {"type": "array", "items": ref("Member")}, "schema": {"type": "string"}},
            },
            "Task": schema_body(schemas.documents["task"]),
            "Tasks": {
                "type": "object",
                "properties": {
                    "tasks": {"type": "array", "items": schema_body(task_schema(stub=True))},
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
    }
