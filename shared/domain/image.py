"""The image aggregate: its attributes, its locations, and the one way its status changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.errors import InvalidTransition, MissingFormats
from shared.domain.events import Event
from shared.domain.status import (
    FORMATS_REQUIRED_FROM,
    FORMATS_REQUIRED_TO,
    GONE,
    ImageStatus,
    can_transition,
)


class LocationStatus(StrEnum):
    ACTIVE = "active"
    PENDING_DELETE = "pending_delete"
    DELETED = "deleted"


@dataclass(eq=False)
class Location:
    """Where one copy of the image's data lives."""

    url: str
    store: str
    metadata: dict[str, Any] = field(default_factory=dict)
    status: LocationStatus = LocationStatus.ACTIVE
    id: int | None = None


@dataclass(eq=False)
class Image:
    """An image record. Handlers change it and record events; the repository saves it."""

    id: str
    owner: str | None
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    status: ImageStatus = ImageStatus.QUEUED
    visibility: str = "shared"
    protected: bool = False
    os_hidden: bool = False
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    size: int | None = None
    virtual_size: int | None = None
    min_disk: int = 0
    min_ram: int = 0
    container_format: str | None = None
    disk_format: str | None = None
    deleted: bool = False
    deleted_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    properties: dict[str, str | None] = field(default_factory=dict)
    locations: list[Location] = field(default_factory=list)
    version: int = 0
    events: list[Event] = field(default_factory=list, repr=False)

    def set_status(self, target: ImageStatus, now: datetime) -> None:
        """Move to ``target`` if the state table allows it.

        Raises InvalidTransition for a move the table forbids and
        MissingFormats when data would be saved without both formats.
        Entering ``queued`` forgets ``size`` and ``virtual_size``.
        """
        if not can_transition(self.status, target):
            raise InvalidTransition(self.status.value, target.value)
        if (
            self.status in FORMATS_REQUIRED_FROM
            and target in FORMATS_REQUIRED_TO
            and not (self.disk_format and self.container_format)
        ):
            raise MissingFormats()
        if target is ImageStatus.QUEUED:
            self.size = None
            self.virtual_size = None
        self.status = target
        self.updated_at = now

    def record(self, event: Event) -> None:
        """Keep an event to be written to the outbox with this change."""
        self.events.append(event)

    @property
    def is_gone(self) -> bool:
        """Deleted, or on its way to deletion: the API no longer shows it."""
        return self.deleted or self.status in GONE

    @property
    def active_locations(self) -> list[Location]:
        return [loc for loc in self.locations if loc.status is LocationStatus.ACTIVE]

    @property
    def stores(self) -> list[str]:
        return [loc.store for loc in self.active_locations]

    def store_list_property(self, name: str) -> list[str]:
        """A comma-separated reserved property (``os_glance_importing_to_stores``...) as a list."""
        value = self.properties.get(name) or ""
        return [item for item in value.split(",") if item]
