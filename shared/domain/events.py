"""Events, one class per Glance notification type, with Glance's type strings.

An event carries its payload as it was when the change happened, so the
notifier relays exactly what a Glance consumer would have received.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from shared.domain.clock import isotime

if TYPE_CHECKING:
    from shared.domain.image import Image
    from shared.domain.members import Member
    from shared.domain.tasks import Task

_SEQUENCE = itertools.count()

IMPORTING_TO_STORES = "os_glance_importing_to_stores"
FAILED_IMPORT = "os_glance_failed_import"


@dataclass(frozen=True, kw_only=True)
class Event:
    """One notification, waiting in the outbox to be relayed."""

    event_type: ClassVar[str]
    priority: ClassVar[str] = "INFO"

    image_id: str | None
    payload: dict[str, Any] | str
    occurred_at: datetime
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    sequence: int = field(default_factory=lambda: next(_SEQUENCE), compare=False)  # recording order


class ImageCreated(Event):
    event_type = "image.create"


class ImageUpdated(Event):
    event_type = "image.update"


class ImageDeleted(Event):
    event_type = "image.delete"


class ImagePrepared(Event):
    event_type = "image.prepare"


class ImageUploaded(Event):
    event_type = "image.upload"


class ImageUploadFailed(Event):
    event_type = "image.upload"
    priority = "ERROR"


class ImageActivated(Event):
    event_type = "image.activate"


class ImageSent(Event):
    event_type = "image.send"


class ImageSendIncomplete(Event):
    event_type = "image.send"
    priority = "ERROR"


def image_sent(image_id: str, owner: str | None, receiver: tuple[str | None, str | None], bytes_sent: int,
               expected: int, now: datetime) -> Event:  # fmt: skip
    """Glance's ``image.send`` when a download ends: INFO when every expected byte went out, else ERROR."""
    tenant, user = receiver
    payload = {
        "bytes_sent": bytes_sent,
        "image_id": image_id,
        "owner_id": owner,
        "receiver_tenant_id": tenant,
        "receiver_user_id": user,
    }
    kind = ImageSent if bytes_sent == expected else ImageSendIncomplete
    return kind(image_id=image_id, payload=payload, occurred_at=now)


class ImageMemberCreated(Event):
    event_type = "image.member.create"


class ImageMemberUpdated(Event):
    event_type = "image.member.update"


class ImageMemberDeleted(Event):
    event_type = "image.member.delete"


def member_event(kind: type[Event], member: Member, now: datetime) -> Event:
    """A membership event with Glance's ``format_image_member_notification`` payload."""
    deleted = kind is ImageMemberDeleted
    payload = {
        "image_id": member.image_id,
        "member_id": member.member_id,
        "status": member.status.value,
        "created_at": isotime(member.created_at),
        "updated_at": isotime(member.updated_at),
        "deleted": deleted,
        "deleted_at": isotime(now) if deleted else None,
    }
    return kind(image_id=member.image_id, payload=payload, occurred_at=now)


class TaskCreated(Event):
    event_type = "task.create"


class TaskProcessing(Event):
    event_type = "task.processing"


class TaskSucceeded(Event):
    event_type = "task.success"


class TaskFailed(Event):
    event_type = "task.failure"


class TaskRan(Event):
    event_type = "task.run"


def task_event(kind: type[Event], task: Task, now: datetime, *, status: str | None = None) -> Event:
    """Glance's ``format_task_notification``: result and message always null; a null expires_at shows now.

    ``status`` overrides the status shown (``task.run`` carries the stale ``pending`` status, as in Glance).
    """
    payload = {
        "id": task.id,
        "type": task.type,
        "status": status or task.status.value,
        "result": None,
        "owner": task.owner,
        "message": None,
        "expires_at": isotime(task.expires_at or now),
        "created_at": isotime(task.created_at),
        "updated_at": isotime(task.updated_at),
        "deleted": False,
        "deleted_at": None,
    }
    return kind(image_id=task.image_id, payload=payload, occurred_at=now)


def image_payload(image: Image) -> dict[str, Any]:
    """Glance's ``format_image_notification``: the image without locations or hashes."""
    return {
        "id": image.id,
        "name": image.name,
        "status": image.status.value,
        "created_at": isotime(image.created_at),
        "updated_at": isotime(image.updated_at),
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "protected": image.protected,
        "checksum": image.checksum,
        "owner": image.owner,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "is_public": image.visibility == "public",
        "visibility": image.visibility,
        "properties": dict(image.properties),
        "tags": list(image.tags),
        "deleted": image.deleted,
        "deleted_at": isotime(image.deleted_at),
    }


def _with_store_lists(image: Image) -> dict[str, Any]:
    payload = image_payload(image)
    payload[IMPORTING_TO_STORES] = image.store_list_property(IMPORTING_TO_STORES)
    payload[FAILED_IMPORT] = image.store_list_property(FAILED_IMPORT)
    return payload


def image_created(image: Image, now: datetime) -> ImageCreated:
    return ImageCreated(image_id=image.id, payload=image_payload(image), occurred_at=now)


def image_updated(image: Image, now: datetime) -> ImageUpdated:
    return ImageUpdated(image_id=image.id, payload=image_payload(image), occurred_at=now)


def image_deleted(image: Image, now: datetime) -> ImageDeleted:
    return ImageDeleted(image_id=image.id, payload=image_payload(image), occurred_at=now)


def image_prepared(image: Image, now: datetime, backend: str) -> ImagePrepared:
    payload = _with_store_lists(image)
    payload["backend"] = backend
    return ImagePrepared(image_id=image.id, payload=payload, occurred_at=now)


def image_uploaded(image: Image, now: datetime) -> ImageUploaded:
    return ImageUploaded(image_id=image.id, payload=_with_store_lists(image), occurred_at=now)


def image_activated(image: Image, now: datetime) -> ImageActivated:
    return ImageActivated(image_id=image.id, payload=image_payload(image), occurred_at=now)


def image_upload_failed(image_id: str, now: datetime, reason: str) -> ImageUploadFailed:
    """The ERROR ``image.upload``: its payload is a plain string, as in Glance."""
    text = f"Failed to upload image data for image {image_id} due to internal error: {reason}"
    return ImageUploadFailed(image_id=image_id, payload=text, occurred_at=now)
