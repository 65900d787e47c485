"""The tasks API (/v2/tasks, admin-only by default as in Glance) and an image's tasks."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from shared.domain.context import RequestContext
from shared.domain.errors import Invalid, NotFound
from shared.domain.events import TaskCreated, TaskFailed, task_event
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.domain.tasks import Task
from shared.fetch import FetchRefused
from shared.handlers.access import load_visible
from shared.handlers.dispatching import dispatch_after_commit
from shared.handlers.images import create_image
from shared.handlers.imports import IMPORT_TASK
from shared.persistence.tasks import TaskQuery
from shared.services import Services
from shared.stores.registry import uri_filter


def _access(services: Services, context: RequestContext) -> None:
    services.policy.enforce("tasks_api_access", context, {"project_id": context.project_id})


def list_tasks(services: Services, context: RequestContext, query: TaskQuery) -> tuple[list[Task], bool]:
    """One page of tasks (every owner's for admins) and whether the page is full. Raises Forbidden, Invalid."""
    _access(services, context)
    now = services.clock()
    with services.db.transaction(write=False) as uow:
        marker = None
        if query.marker is not None:
            if not _is_uuid(query.marker):
                raise Invalid("Invalid marker format")
            marker = uow.tasks.get(query.marker, now)
            if marker is None:
                raise Invalid("Invalid marker")
        rows = uow.tasks.list(query, now, marker)
    return rows, len(rows) == query.limit


def get_task(services: Services, context: RequestContext, task_id: str) -> Task:
    """One task. Raises Forbidden (tasks_api_access) and NotFound."""
    _access(services, context)
    with services.db.transaction(write=False) as uow:
        task = uow.tasks.get(task_id, services.clock())
    if task is None or (not context.is_admin and task.owner != context.project_id):
        raise NotFound(f"Could not find task {task_id}")
    return task


def image_tasks(services: Services, context: RequestContext, image_id: str) -> list[Task]:
    """GET /v2/images/{id}/tasks: the live tasks of a visible image."""
    with services.db.transaction(write=False) as uow:
        load_visible(uow, context, services.policy, image_id)
        return uow.tasks.for_image(image_id, services.clock())


def create_task(services: Services, context: RequestContext, body: Any) -> Task:
    """POST /v2/tasks. A legacy ``import`` task creates its image and downloads into it (web-download).

    Other types are recorded and failed at once: they are created by the
    import API itself (Glance leaves them pending forever).
    """
    _access(services, context)
    if not isinstance(body, dict) or "type" not in body:
        raise Invalid("Task 'type' is required")
    if "input" not in body:
        raise Invalid("Task 'input' is required")
    services.schemas.task_validator.validate(body)
    task_type, task_input = body["type"], body["input"]
    if not isinstance(task_input, dict):
        raise Invalid("Task 'input' must be an object")
    now = services.clock()
    task = Task(type=task_type, owner=context.project_id, created_at=now, updated_at=now, input=task_input,
                request_id=context.request_id, user_id=context.user_id)  # fmt: skip
    if task_type != "import":
        with services.db.transaction(request_id=context.request_id) as uow:
            uow.tasks.add(task)
            uow.record(task_event(TaskCreated, task, now))
            task.fail(f"Tasks of type {task_type} are created by the image import API, not by POST /v2/tasks",
                      now, timedelta(hours=services.settings.task.task_time_to_live))  # fmt: skip
            uow.tasks.save(task)
            uow.record(task_event(TaskFailed, task, now))
        return task
    uri = task_input.get("import_from")
    properties = task_input.get("image_properties") or {}
    if not isinstance(uri, str) or not isinstance(properties, dict):
        raise Invalid("An import task needs 'import_from' (a URL) and 'image_properties' (an object)")
    try:
        uri_filter(services.settings).check_uri(uri)
    except FetchRefused:
        raise Invalid(f"URI for web-download does not pass filtering: {uri}") from None
    image = create_image(services, context, properties)
    task.image_id = image.id
    with services.db.transaction(request_id=context.request_id) as uow:
        uow.tasks.add(task)
        uow.record(task_event(TaskCreated, task, now))
        locked = uow.images.get(image.id, for_update=True)
        assert locked is not None
        locked.properties[IMPORT_TASK] = task.id
        uow.images.save(locked)
        job = Job(kind=JobKind.IMPORT, image_id=image.id, status=JobStatus.QUEUED, created_at=now,
                  request_id=context.request_id,
                  payload={"task_id": task.id, "method": "web-download", "uri": uri,
                           "stores": [services.stores.default_name], "all_stores_must_succeed": True,
                           "roles": sorted(context.roles)})  # fmt: skip
        dispatch_after_commit(services, uow, job, now)
        uow.jobs.add(job)
    return task


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
