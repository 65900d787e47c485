"""The task paths: /v2/tasks and /v2/tasks/{task_id}."""

from __future__ import annotations

from typing import Any

from services.api.openapi.parts import errors, json_body, json_content, path_param, query, ref


def task_paths() -> dict[str, Any]:
    """The tasks API (admin-only by default)."""
    parameters = [
        query("limit", "Page size", {"type": "integer", "minimum": 0}),
        query("marker", "Id of the last task of the previous page"),
        query("sort_key", "Sort key", {"type": "string", "enum": ["id", "type", "status", "created_at",
                                                                   "updated_at"]}),
        query("sort_dir", "asc or desc", {"type": "string", "enum": ["asc", "desc"]}),
        query("status", "Task status", {"type": "string", "enum": ["pending", "processing", "success", "failure"]}),
        query("type", "Task type", {"type": "string", "enum": ["import"]}),
    ]  # fmt: skip
    create = {"type": "object", "required": ["type", "input"],
              "properties": {"type": {"type": "string"}, "input": {"type": "object"}}}  # fmt: skip
    return {
        "/v2/tasks": {
            "get": {
                "operationId": "listTasks",
                "parameters": parameters,
                "responses": {"200": json_content(ref("Tasks"), "One page of tasks"), **errors(400, 401, 403)},
            },
            "post": {
                "operationId": "createTask",
                "requestBody": json_body(create),
                "responses": {"201": json_content(ref("Task"), "The new task"), **errors(400, 401, 403)},
            },
        },
        "/v2/tasks/{task_id}": {
            "parameters": [path_param("task_id", "The task's id")],
            "get": {
                "operationId": "showTask",
                "responses": {"200": json_content(ref("Task"), "The task"), **errors(401, 403, 404)},
            },  # fmt: skip
        },
    }
