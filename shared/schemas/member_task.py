"""The member(s) and task(s) schema documents, as Glance serves them."""

from __future__ import annotations

from typing import Any

from shared.schemas.image import UUID_PATTERN


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "image_id": {"type": "string", "description": "An identifier for the image", "pattern": UUID_PATTERN},
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
            "status": {
                "type": "string",
                "description": "The status of this image member",
                "enum": ["pending", "accepted", "rejected"],
            },
            "schema": {"readOnly": True, "type": "string"},
        },
    }


def task_schema(*, stub: bool = False) -> dict[str, Any]:
    """The task document; the list view (``stub``) leaves out input, result and message."""
    detail = {
        "input": {"description": "The parameters required by task, JSON blob", "type": ["null", "object"]},
        "result": {"description": "The result of current task, JSON blob", "type": ["null", "object"]},
    }
    message = {
        "message": {
            "description": "Human-readable informative message only included when appropriate (usually on failure)",
            "type": "string",
        }
    }
    properties: dict[str, Any] = {
        "id": {"description": "An identifier for the task", "pattern": UUID_PATTERN, "type": "string"},
        "type": {
            "description": "The type of task represented by this content",
            "enum": ["import", "api_image_import", "location_import"],
            "type": "string",
        },
        "status": {
            "description": "The current status of this task",
            "enum": ["pending", "processing", "success", "failure"],
            "type": "string",
        },
        **({} if stub else detail),
        "owner": {"description": "An identifier for the owner of this task", "type": "string"},
        **({} if stub else message),
        "image_id": {"description": "Image associated with the task", "type": "string"},
        "request_id": {"description": "Human-readable informative request-id", "type": "string"},
        "user_id": {"description": "User associated with the task", "type": "string"},
        "expires_at": {
            "description": "Datetime when this resource would be subject to removal",
            "type": ["null", "string"],
        },
        "created_at": {"description": "Datetime when this resource was created", "type": "string"},
        "updated_at": {"description": "Datetime when this resource was updated", "type": "string"},
        "self": {"readOnly": True, "type": "string"},
        "schema": {"readOnly": True, "type": "string"},
    }
    return {"name": "task", "properties": properties}


def collection_schema(name: str, item: dict[str, Any]) -> dict[str, Any]:
    """``members`` or ``tasks``: a list of ``item`` with its schema link."""
    return {
        "name": name,
        "properties": {name: {"type": "array", "items": item}, "schema": {"type": "string"}},
        "links": [{"rel": "describedby", "href": "{schema}"}],
    }
