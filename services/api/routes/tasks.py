"""Task routes: /v2/tasks (admin-only by default) and /v2/images/{id}/tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from services.api.bodies import json_body
from services.api.errors import ApiError
from services.api.runtime import caller, json_response, services
from shared.domain.clock import isotime
from shared.domain.tasks import Task, TaskStatus
from shared.handlers import tasks as handlers
from shared.persistence.tasks import TASK_SORT_KEYS, TaskQuery

bp = Blueprint("tasks", __name__)


def task_view(task: Task, *, full: bool = True) -> dict[str, Any]:
    """Glance's task JSON; the list (stub) view leaves out input, result and message.

    While an import runs, glint adds ``progress`` (bytes done and expected, the stores being read or
    written); finished tasks look exactly as in Glance.
    """
    view: dict[str, Any] = {"id": task.id}
    if full:
        view["input"] = task.input
    view.update(type=task.type, status=task.status.value, owner=task.owner)
    if full:
        view.update(message=task.message or "", result=task.result)
    view.update(created_at=isotime(task.created_at), updated_at=isotime(task.updated_at), self=f"/v2/tasks/{task.id}",
                schema="/v2/schemas/task")  # fmt: skip
    for name in ("image_id", "request_id", "user_id"):
        if getattr(task, name):
            view[name] = getattr(task, name)
    if task.expires_at:
        view["expires_at"] = isotime(task.expires_at)
    if task.status is TaskStatus.PROCESSING:
        view["progress"] = progress(task)
    return view


def progress(task: Task) -> dict[str, Any]:
    """glint's addition while a task runs: bytes done and expected, and the stores being read or written."""
    return {"bytes_done": task.bytes_done, "bytes_total": task.bytes_total, "current_store": task.current_store}


def task_row(task: Task) -> dict[str, Any]:
    """GET /v2/images/{id}/tasks returns database rows: times without the Z, deleted flags included.

    As in ``task_view``, a running task also shows its ``progress``.
    """

    def stamp(value: datetime | None) -> str | None:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None

    row = {
        "id": task.id, "type": task.type, "status": task.status.value, "owner": task.owner,
        "expires_at": stamp(task.expires_at), "created_at": stamp(task.created_at),
        "updated_at": stamp(task.updated_at), "deleted_at": stamp(task.deleted_at), "deleted": task.deleted,
        "image_id": task.image_id, "request_id": task.request_id, "user_id": task.user_id, "input": task.input,
        "result": task.result, "message": task.message,
    }  # fmt: skip
    if task.status is TaskStatus.PROCESSING:
        row["progress"] = progress(task)
    return row


@bp.get("/v2/tasks")
def index() -> Response:
    """GET /v2/tasks: one page of tasks."""
    args = request.args
    try:
        limit = min(int(args.get("limit", services().settings.limit_param_default)), services().settings.api_limit_max)
    except ValueError:
        raise ApiError(400, "limit param must be an integer") from None
    if limit < 0:
        raise ApiError(400, "limit param must be positive")
    sort_key, sort_dir = args.get("sort_key", "created_at"), args.get("sort_dir", "desc")
    if sort_key not in TASK_SORT_KEYS:
        raise ApiError(400, "Sort key supplied was not valid.")
    if sort_dir not in ("asc", "desc"):
        raise ApiError(400, f"Invalid sort direction: {sort_dir}")
    status, task_type = args.get("status"), args.get("type")
    if status is not None and status not in {s.value for s in TaskStatus}:
        raise ApiError(400, f"Invalid status value: {status}")
    if task_type is not None and task_type != "import":
        raise ApiError(400, f"Invalid type value: {task_type}")
    context = caller()
    query = TaskQuery(owner=None if context.is_admin else context.project_id, limit=limit, marker=args.get("marker"),
                      sort_key=sort_key, sort_dir=sort_dir, status=status, type=task_type)  # fmt: skip
    rows, full = handlers.list_tasks(services(), context, query)
    items = [(k, v) for k, v in args.items(multi=True) if k != "marker"]
    body: dict[str, Any] = {"tasks": [task_view(task, full=False) for task in rows]}
    body["first"] = f"/v2/tasks?{urlencode(items)}" if items else "/v2/tasks"
    body["schema"] = "/v2/schemas/tasks"
    if full and rows:
        body["next"] = f"/v2/tasks?{urlencode([*items, ('marker', rows[-1].id)])}"
    return json_response(body)


@bp.post("/v2/tasks")
def create() -> Response:
    """POST /v2/tasks: 201 with the task and its Location."""
    body = json_body()
    task = handlers.create_task(services(), caller(), body)
    return json_response(task_view(task), status=201, headers={"Location": f"{request.host_url}v2/tasks/{task.id}"})


@bp.get("/v2/tasks/<task_id>")
def show(task_id: str) -> Response:
    """GET /v2/tasks/{id}."""
    return json_response(task_view(handlers.get_task(services(), caller(), task_id)))


@bp.delete("/v2/tasks/<task_id>")
def delete(task_id: str) -> Response:
    """Tasks cannot be deleted: 405, as in Glance."""
    raise ApiError(
        405,
        "This operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time "
        "based on their expires_at property.",
        headers={"Allow": "GET"},
        verbatim=True,
    )


@bp.get("/v2/images/<image_id>/tasks")
def image_tasks(image_id: str) -> Response:
    """The tasks of one image, as database rows."""
    return json_response({"tasks": [task_row(task) for task in handlers.image_tasks(services(), caller(), image_id)]})
