"""POST /v2/images/{id}/import: the API half of interoperable image import.

Checks the request as Glance does, in Glance's order (body, status,
policy, import lock, stores, URI filter), then in one transaction creates
the ``api_image_import`` task, takes the image's import lock
(``os_glance_import_task``) and queues an ``import`` job. A worker does
the rest (``import_runs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.domain.context import RequestContext
from shared.domain.errors import Conflict, Invalid
from shared.domain.events import IMPORTING_TO_STORES, TaskCreated, TaskFailed, task_event
from shared.domain.image import Image
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.domain.policy import image_target
from shared.domain.status import ImageStatus
from shared.domain.tasks import Task, TaskStatus
from shared.fetch import FetchFailed, FetchRefused
from shared.handlers.access import load_visible
from shared.handlers.dispatching import dispatch_after_commit
from shared.persistence.uow import UnitOfWork
from shared.services import Services
from shared.stores.registry import uri_filter

IMPORT_TASK = "os_glance_import_task"
METHODS = ("glance-direct", "web-download", "copy-image", "glance-download")
# A lock whose task shows no sign of life for this long is taken over (Glance's rule).
STALE_LIVE_TASK = timedelta(minutes=60)
STALE_PENDING_TASK = timedelta(minutes=120)


@dataclass(frozen=True)
class ImportRequest:
    """A validated import body."""

    method: str
    stores: list[str]
    all_stores: bool
    all_stores_must_succeed: bool
    uri: str | None = None
    remote_image_id: str | None = None
    remote_region: str | None = None
    remote_interface: str = "public"
    body: dict[str, Any] | None = None


def parse_import(services: Services, body: Any, store_header: str | None) -> ImportRequest:
    """Glance's body checks (400s); the stores are resolved later."""
    if not isinstance(body, dict) or "method" not in body:
        raise Invalid("Import request requires a 'method' field.")
    method = body["method"]
    if not isinstance(method, dict) or "name" not in method:
        raise Invalid("Import request requires a 'name' field.")
    name = method["name"]
    if name not in services.settings.enabled_import_methods:
        raise Invalid(f"Unknown import method name '{name}'.")
    for flag in ("all_stores", "all_stores_must_succeed"):
        if flag in body and not isinstance(body[flag], bool):
            raise Invalid(f"'{flag}' must be boolean value only")
    all_stores = body.get("all_stores", False)
    stores = body.get("stores")
    if all_stores and (stores or store_header):
        raise Invalid("All_stores parameter can't be used with x-image-meta-store header or stores parameter")
    if stores is not None and (not isinstance(stores, list) or not all(isinstance(s, str) for s in stores)):
        raise Invalid("'stores' must be a list of store identifiers")
    if name == "glance-download":
        remote_id = method.get("glance_image_id")
        if not method.get("glance_region") or not remote_id:
            raise Invalid("'glance_region' and 'glance_image_id' are required for the glance-download method")
        if not _is_uuid(remote_id):
            raise Invalid(f"Invalid glance_image_id '{remote_id}'")
    return ImportRequest(
        method=name,
        stores=list(stores) if stores else ([store_header] if store_header else []),
        all_stores=all_stores,
        all_stores_must_succeed=body.get("all_stores_must_succeed", True),
        uri=method.get("uri"),
        remote_image_id=method.get("glance_image_id"),
        remote_region=method.get("glance_region"),
        remote_interface=method.get("glance_service_interface", "public"),
        body=body,
    )


def start_import(services: Services, context: RequestContext, image_id: str, request: ImportRequest) -> Task | None:
    """Take the import lock, create the task and queue the job. None when there is nothing to do.

    Raises NotFound, Conflict (status, lock held, unknown store), Forbidden
    (policy: copy_image for copy-image, else modify_image), Invalid (store
    already holding a copy, URI refused by the filter).
    """
    settings = services.settings
    with services.db.transaction(request_id=context.request_id) as uow:
        image = load_visible(uow, context, services.policy, image_id, for_update=True)
        _check_status(image, request.method)
        rule = "copy_image" if request.method == "copy-image" else "modify_image"
        services.policy.enforce(rule, context, image_target(context, image.owner, image.visibility))
        check_import_lock(services, uow, image)
        stores = _target_stores(services, image, request)
        if not stores:
            return None  # copy-image to all stores, and every store has it already: Glance answers 202 too
        if request.method == "web-download":
            check_fetch_uri(settings, request.uri)
        task_input = {"image_id": image_id, "import_req": request.body, "backend": stores}
        payload = {
            "method": request.method,
            "stores": stores,
            "all_stores_must_succeed": request.all_stores_must_succeed,
            "uri": request.uri,
            "remote_image_id": request.remote_image_id,
            "remote_region": request.remote_region,
            "remote_interface": request.remote_interface,
            "roles": sorted(context.roles),  # glance-download acts as the caller in the other region
        }
        return lock_and_queue(services, uow, context, image, "api_image_import", task_input, payload)


def lock_and_queue(
    services: Services, uow: UnitOfWork, context: RequestContext, image: Image, task_type: str,
    task_input: dict[str, Any], payload: dict[str, Any],
) -> Task:  # fmt: skip
    """In the caller's transaction: create the task (``task.create``), take the image's import lock with
    it, and queue an ``import`` job carrying ``payload`` and the task's id. Returns the task."""
    now = services.clock()
    task = Task(
        type=task_type,
        owner=context.project_id,
        created_at=now,
        updated_at=now,
        image_id=image.id,
        request_id=context.request_id,
        user_id=context.user_id,
        input=task_input,
    )
    uow.tasks.add(task)
    uow.record(task_event(TaskCreated, task, now))
    image.properties[IMPORT_TASK] = task.id  # the lock: Glance sets it atomically, without a notification
    uow.images.save(image)
    job = Job(kind=JobKind.IMPORT, image_id=image.id, status=JobStatus.QUEUED, created_at=now,
              request_id=context.request_id, payload={"task_id": task.id, **payload})  # fmt: skip
    dispatch_after_commit(services, uow, job, now)
    uow.jobs.add(job)
    return task


def check_fetch_uri(settings: Any, uri: str | None, purpose: str = "web-download") -> None:
    """Glance's URI filter, and (beyond Glance) the addresses the host resolves to; the worker checks again."""
    refused = Invalid(f"URI for {purpose} does not pass filtering: {uri}")
    checker = uri_filter(settings)
    try:
        _, host, port = checker.check_uri(uri or "")
        checker.resolve(host, port)
    except FetchRefused:
        raise refused from None
    except FetchFailed:
        pass  # not resolvable now: the worker tries, and fails the task if it still cannot


def _check_status(image: Image, method: str) -> None:
    status = image.status
    if method == "copy-image":
        if status is not ImageStatus.ACTIVE:
            raise Conflict("Only images with status active can be targeted for copying")
    elif status is ImageStatus.ACTIVE:
        raise Conflict(f"Image with status {status.value} cannot be target for import")
    elif method == "glance-direct" and status is not ImageStatus.UPLOADING:
        raise Conflict("Image needs to be staged before 'glance-direct' method can be used")
    elif method in ("web-download", "glance-download") and status is not ImageStatus.QUEUED:
        raise Conflict(f"Image needs to be in 'queued' state to use '{method}' method")
    if method not in ("copy-image", "glance-download"):
        for name in ("container_format", "disk_format"):
            if not getattr(image, name):
                raise Conflict(f"'{name}' needs to be set before import")


def check_import_lock(services: Services, uow: UnitOfWork, image: Image) -> None:
    """409 while another import holds the image; take over a lock whose task is gone or stale."""
    holder = image.properties.get(IMPORT_TASK)
    if not holder:
        return
    now = services.clock()
    task = uow.tasks.get(holder, now, for_update=True)
    if task is not None:
        limit = STALE_PENDING_TASK if task.status is TaskStatus.PENDING else STALE_LIVE_TASK
        if now - task.updated_at < limit:
            raise Conflict("Image has active task")
        if not task.is_terminal:
            task.fail("Expired lock preempted", now, timedelta(hours=services.settings.task.task_time_to_live))
            uow.tasks.save(task)
            uow.record(task_event(TaskFailed, task, now))
        abandoned = set((task.input or {}).get("backend") or [])
        image.properties[IMPORTING_TO_STORES] = ",".join(
            store for store in image.store_list_property(IMPORTING_TO_STORES) if store not in abandoned
        )
    del image.properties[IMPORT_TASK]


def _target_stores(services: Services, image: Image, request: ImportRequest) -> list[str]:
    registry = services.stores
    if request.all_stores:
        stores = registry.writable()
    else:
        stores = request.stores or [registry.default_name]
    for name in stores:
        if name not in registry:
            raise Conflict(f"Store for identifier {name} not found")
    if request.method == "copy-image":
        holding = set(image.stores)
        if request.all_stores:
            return [name for name in stores if name not in holding]
        for name in stores:
            if name in holding:
                raise Invalid(f"Image is already present at store '{name}'")
    return list(dict.fromkeys(stores))


def _is_uuid(value: object) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
