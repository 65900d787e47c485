"""The image status table: every allowed move, in one place.

This is Glance's table (``glance/domain/__init__.py``) with two additions that
come from glint deleting data asynchronously: a ``deactivated`` or
``importing`` image that holds data goes to ``pending_delete`` like an
``active`` one, so that a worker can purge its data. Glance answers 400 to
those deletes (or, for a deactivated image, 204 to some callers and 400 to
others); glint deletes them.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class ImageStatus(StrEnum):
    QUEUED = "queued"
    SAVING = "saving"
    UPLOADING = "uploading"
    IMPORTING = "importing"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    KILLED = "killed"
    PENDING_DELETE = "pending_delete"
    DELETED = "deleted"


S = ImageStatus

IMAGE_TRANSITIONS: MappingProxyType[ImageStatus, frozenset[ImageStatus]] = MappingProxyType(
    {
        S.QUEUED: frozenset({S.SAVING, S.UPLOADING, S.IMPORTING, S.ACTIVE, S.DELETED}),
        S.SAVING: frozenset({S.ACTIVE, S.KILLED, S.DELETED, S.QUEUED}),
        S.UPLOADING: frozenset({S.IMPORTING, S.QUEUED, S.DELETED}),
        S.IMPORTING: frozenset({S.ACTIVE, S.DELETED, S.QUEUED, S.PENDING_DELETE}),
        S.ACTIVE: frozenset({S.PENDING_DELETE, S.DELETED, S.DEACTIVATED}),
        S.DEACTIVATED: frozenset({S.ACTIVE, S.DELETED, S.PENDING_DELETE}),
        S.KILLED: frozenset({S.DELETED}),
        S.PENDING_DELETE: frozenset({S.DELETED, S.ACTIVE}),
        S.DELETED: frozenset(),
    }
)

# Moves out of these statuses need disk_format and container_format set.
FORMATS_REQUIRED_FROM = frozenset({S.QUEUED, S.UPLOADING})
FORMATS_REQUIRED_TO = frozenset({S.SAVING, S.ACTIVE, S.IMPORTING})

# Statuses in which an image no longer exists for the API (GET answers 404).
GONE = frozenset({S.PENDING_DELETE, S.DELETED})
# Statuses never listed.
UNLISTED = frozenset({S.PENDING_DELETE, S.DELETED, S.KILLED})


def can_transition(current: ImageStatus, target: ImageStatus) -> bool:
    """True when the table allows ``current -> target``."""
    return target in IMAGE_TRANSITIONS[current]
