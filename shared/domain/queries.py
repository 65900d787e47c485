"""What an image list asks for, independent of HTTP and SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at")
DEFAULT_SORT: tuple[tuple[str, Direction], ...] = (("created_at", "desc"), ("id", "desc"))
Direction = Literal["asc", "desc"]
Operator = Literal["eq", "in", "gt", "gte", "lt", "lte", "neq"]


@dataclass(frozen=True)
class AttributeFilter:
    """``attribute <op> value`` on an image column, or on a custom property when it is not a column."""

    attribute: str
    op: Operator
    value: Any


@dataclass(frozen=True)
class ImageQuery:
    """One page of images as a caller may see them.

    ``visibility`` None means the default scope (community images only when
    owned by the caller); ``"all"`` means no visibility filter.
    """

    project_id: str | None
    is_admin: bool
    limit: int
    marker: str | None = None
    sort: tuple[tuple[str, Direction], ...] = DEFAULT_SORT
    visibility: str | None = None
    member_status: str = "accepted"
    filters: tuple[AttributeFilter, ...] = ()
    tags: tuple[str, ...] = ()
    os_hidden: bool = False


def with_tiebreakers(
    keys: list[tuple[str, Direction]], default_dir: Direction = "desc"
) -> tuple[tuple[str, Direction], ...]:
    """Append Glance's tie-breakers ``created_at`` and ``id`` (in ``default_dir``) when absent."""
    result = list(keys)
    names = {key for key, _ in keys}
    for extra in ("created_at", "id"):
        if extra not in names:
            result.append((extra, default_dir))
    return tuple(result)
