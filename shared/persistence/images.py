"""Images in SQL: load, add, save (compare-and-set on ``version``) and list."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Text,
    bindparam,
    delete,
    insert,
    literal_column,
    null,
    select,
    true,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from shared.domain.errors import ConcurrentUpdate, Duplicate
from shared.domain.image import Image, Location, LocationStatus
from shared.domain.queries import ImageQuery
from shared.domain.status import ImageStatus
from shared.persistence.image_lists import list_statement
from shared.persistence.tables import image_locations, image_members, image_properties, image_tags, images

_COLUMNS = (
    "name", "status", "visibility", "protected", "os_hidden", "checksum", "os_hash_algo", "os_hash_value",
    "owner", "size", "virtual_size", "min_disk", "min_ram", "container_format", "disk_format",
    "created_at", "updated_at", "deleted_at", "deleted",
)  # fmt: skip


# The statements of every read and write of an image, built once (a statement built per call, with its
# values inlined, costs more than the query): values go in as parameters, the ids as one expanding bind.
_INSERT_IMAGE = insert(images)
_UPDATE_IMAGE = update(images).where(images.c.id == bindparam("_id"), images.c.version == bindparam("_version"))
# The columns in the order select(images) returns them, as plain interned strings: keyword arguments named
# by SQLAlchemy's str subclass (quoted_name) cost Image() four times as much to match.
_IMAGE_FIELDS = tuple(sys.intern(str(column.name)) for column in images.columns)
_STATUSES = {status.value: status for status in ImageStatus}
_PROPERTY, _TAG, _LOCATION = 0, 1, 2


def _children_of(*, many: bool) -> Any:
    """Properties, tags and live locations of the image whose id is the ``id`` parameter (``many``: of the
    images whose ids are the expanding ``ids``) in one query: rows of (kind, image_id, key, value, id, store,
    meta, status). One id compares with ``=``, which saves expanding the IN list on every call."""

    def of(column: Any) -> ColumnElement[bool]:
        return column.in_(bindparam("ids", expanding=True)) if many else column == bindparam("id")

    nothing = null()
    locations = select(
        literal_column(str(_LOCATION)).label("kind"), image_locations.c.image_id, image_locations.c.url.label("key"),
        type_coerce(nothing, Text).label("value"), image_locations.c.id, image_locations.c.store,
        image_locations.c.meta, image_locations.c.status,
    ).where(of(image_locations.c.image_id), image_locations.c.status != LocationStatus.DELETED.value)  # fmt: skip
    properties = select(
        literal_column(str(_PROPERTY)), image_properties.c.image_id, image_properties.c.name,
        image_properties.c.value, nothing, nothing, nothing, nothing,
    ).where(of(image_properties.c.image_id))  # fmt: skip
    tags = select(
        literal_column(str(_TAG)), image_tags.c.image_id, image_tags.c.value, nothing, nothing, nothing, nothing,
        nothing,
    ).where(of(image_tags.c.image_id))  # fmt: skip
    return union_all(locations, properties, tags)


_CHILDREN_OF_ONE = _children_of(many=False)
_CHILDREN_OF_MANY = _children_of(many=True)
_CHILD_WIDTH = len(_CHILDREN_OF_ONE.selected_columns)


def _image_with_children() -> Any:
    """The image whose id is the ``id`` parameter and its children in one query: a row per child (one with
    NULL child columns when it has none), each the image's columns then a row of :func:`_children_of`.
    Reading an image is one round trip to the database, not two, and sees the image and its children as of
    one moment."""
    children = _CHILDREN_OF_ONE.subquery("children")
    return select(images, *children.c).outerjoin(children, true()).where(images.c.id == bindparam("id"))


def _locked_image_with_children() -> Any:
    """:func:`_image_with_children` locking the image's row, and last the row's ``version`` as of the moment
    the statement began. A statement that waits for the lock goes on with the snapshot it started with:
    PostgreSQL re-reads the locked row once the holder commits, not the children joined to it, which come as
    they were before the holder changed them. Every change to the children saves the row (a new ``version``),
    so the two versions differ exactly when the children may be stale; then they are read again."""
    children = _CHILDREN_OF_ONE.subquery("children")
    as_begun = images.alias("as_begun")
    version_as_begun = select(as_begun.c.version).where(as_begun.c.id == bindparam("id")).scalar_subquery()
    return (
        select(images, *children.c, version_as_begun)
        .outerjoin(children, true())
        .where(images.c.id == bindparam("id"))
        .with_for_update(of=images)
    )


_IMAGE_WITH_CHILDREN = _image_with_children()
_IMAGE_WITH_CHILDREN_LOCKED = _locked_image_with_children()


@dataclass
class _Snapshot:
    properties: dict[str, str | None]
    tags: set[str]
    locations: dict[int, tuple[str, str]]  # id -> (status, url)


class ImageRepository:
    """Image rows and their properties, tags and locations, inside one transaction."""

    def __init__(self, conn: Connection, *, lock_rows: bool, read_only: bool = False) -> None:
        self.conn = conn
        self.lock_rows = lock_rows
        self.read_only = read_only  # images read are not tracked for a save (lists of 1,000 skip 1,000 copies)
        self._snapshots: dict[str, _Snapshot] = {}
        self.seen: list[Image] = []

    # -- reading --------------------------------------------------------------
    def get(self, image_id: str, *, for_update: bool = False) -> Image | None:
        """The image with this id, deleted or not; None when there is none.

        ``for_update`` locks the row until the transaction ends (PostgreSQL,
        MySQL); SQLite's write transactions already hold the database lock.
        """
        locking = for_update and self.lock_rows
        rows = self.conn.execute(
            _IMAGE_WITH_CHILDREN_LOCKED if locking else _IMAGE_WITH_CHILDREN, {"id": image_id}
        ).all()
        if not rows:
            return None
        if locking and rows[0][-1] != rows[0].version:  # changed since the statement began: reread
            return self._hydrate(rows[:1])[0]
        width, end = len(_IMAGE_FIELDS), len(_IMAGE_FIELDS) + _CHILD_WIDTH
        children = [row[width:end] for row in rows if row[width] is not None]  # kind is NULL only with no child
        return self._build(rows[:1], children)[0]

    def member_status(self, image_id: str, project_id: str | None) -> str | None:
        """The membership status of ``project_id`` on the image, or None when it is not a member."""
        if project_id is None:
            return None
        stmt = select(image_members.c.status).where(
            image_members.c.image_id == image_id, image_members.c.member == project_id
        )
        return self.conn.execute(stmt).scalar()

    def holder_of_location(self, url: str) -> str | None:
        """The id of an image that is not deleted and keeps a location at ``url``; None when none does."""
        stmt = (
            select(image_locations.c.image_id)
            .join(images, images.c.id == image_locations.c.image_id)
            .where(
                image_locations.c.url == url,
                image_locations.c.status != LocationStatus.DELETED.value,
                images.c.status != ImageStatus.DELETED.value,
            )
            .limit(1)
        )
        return self.conn.execute(stmt).scalar()

    def ids_in_status(self, statuses: list[ImageStatus]) -> set[str]:
        """Ids of the images in any of ``statuses`` (staged data of uploading images is kept by this)."""
        stmt = select(images.c.id).where(images.c.status.in_([status.value for status in statuses]))
        return set(self.conn.execute(stmt).scalars())

    def ids_pending_delete(self, deleted_before: datetime, limit: int) -> list[str]:
        """Ids of ``pending_delete`` images deleted before ``deleted_before``, oldest first."""
        stmt = (
            select(images.c.id)
            .where(images.c.status == ImageStatus.PENDING_DELETE.value, images.c.deleted_at <= deleted_before)
            .order_by(images.c.deleted_at)
            .limit(limit)
        )
        return list(self.conn.execute(stmt).scalars())

    def list(self, query: ImageQuery, marker: Image | None = None) -> list[Image]:
        """One page of images in ``query.sort`` order, after ``marker`` when given."""
        stmt, params = list_statement(query, marker)
        return self._hydrate(self.conn.execute(stmt, params).all())

    # -- writing --------------------------------------------------------------
    def add(self, image: Image) -> None:
        """Insert a new image. Raises Duplicate when the id is taken (even by a deleted image): the insert's
        key conflict, so no query is spent on looking first."""
        values = {name: getattr(image, name) for name in _COLUMNS}
        try:
            self.conn.execute(_INSERT_IMAGE, {"id": image.id, "version": image.version, **values})
        except IntegrityError:
            raise Duplicate(f"Image ID {image.id} already exists!") from None
        self._snapshots[image.id] = _Snapshot({}, set(), {})
        self._sync_children(image)
        self.seen.append(image)

    def save(self, image: Image) -> None:
        """Write the image back if nobody changed it since it was read; raises ConcurrentUpdate otherwise."""
        if self.read_only:
            raise RuntimeError(f"image {image.id} cannot be saved in a read-only unit of work")
        values = {name: getattr(image, name) for name in _COLUMNS}
        result = self.conn.execute(
            _UPDATE_IMAGE, {"_id": image.id, "_version": image.version, "version": image.version + 1, **values}
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"image {image.id} changed concurrently")
        image.version += 1
        self._sync_children(image)
        if image not in self.seen:
            self.seen.append(image)

    # -- internals -------------------------------------------------------------
    def _sync_children(self, image: Image) -> None:
        before = self._snapshots.get(image.id)
        if before is None:
            raise RuntimeError(f"image {image.id} must be loaded in this unit of work before it is saved")
        removed = [name for name in before.properties if name not in image.properties]
        if removed:
            self.conn.execute(
                delete(image_properties).where(
                    image_properties.c.image_id == image.id, image_properties.c.name.in_(removed)
                )
            )
        changed = [
            {"image_id": image.id, "name": name, "value": value}
            for name, value in image.properties.items()
            if name not in before.properties or before.properties[name] != value
        ]
        replaced = [item["name"] for item in changed if item["name"] in before.properties]
        if replaced:  # a new property (every one of a new image) has no row to remove first
            self.conn.execute(
                delete(image_properties).where(
                    image_properties.c.image_id == image.id, image_properties.c.name.in_(replaced)
                )
            )
        if changed:
            self.conn.execute(insert(image_properties), changed)

        tags = set(image.tags)
        if tags - before.tags:
            self.conn.execute(insert(image_tags), [{"image_id": image.id, "value": tag} for tag in tags - before.tags])
        if before.tags - tags:
            self.conn.execute(
                delete(image_tags).where(image_tags.c.image_id == image.id, image_tags.c.value.in_(before.tags - tags))
            )

        for location in image.locations:
            if location.id is None:
                result = self.conn.execute(
                    insert(image_locations).values(
                        image_id=image.id,
                        url=location.url,
                        store=location.store,
                        meta=location.metadata,
                        status=location.status.value,
                        created_at=image.updated_at,
                        updated_at=image.updated_at,
                    )
                )
                location.id = result.inserted_primary_key[0]
            elif before.locations.get(location.id) != (location.status.value, location.url):
                self.conn.execute(
                    update(image_locations)
                    .where(image_locations.c.id == location.id)
                    .values(status=location.status.value, url=location.url, updated_at=image.updated_at)
                )
        self._snapshots[image.id] = _snapshot(image)

    def _hydrate(self, rows: Sequence[Row[Any]]) -> list[Image]:
        """Images from rows of ``select(images)``, with their properties, tags and locations (one query)."""
        if not rows:
            return []
        if len(rows) == 1:
            children = self.conn.execute(_CHILDREN_OF_ONE, {"id": rows[0].id})
        else:
            children = self.conn.execute(_CHILDREN_OF_MANY, {"ids": [row.id for row in rows]})
        return self._build(rows, children)

    def _build(self, rows: Sequence[Sequence[Any]], children: Iterable[Sequence[Any]]) -> list[Image]:
        """Images from their rows (each starting with the columns of ``select(images)``) and the rows of
        :func:`_children_of` for them."""
        props: dict[str, dict[str, str | None]] = defaultdict(dict)
        tags: dict[str, list[str]] = defaultdict(list)
        locations: dict[str, list[Location]] = defaultdict(list)
        for kind, image_id, key, value, location_id, store, meta, status in children:
            if kind == _PROPERTY:
                props[image_id][key] = value
            elif kind == _TAG:
                tags[image_id].append(key)
            else:
                location = Location(url=key, store=store, metadata=dict(meta or {}), status=LocationStatus(status),
                                    id=location_id)  # fmt: skip
                locations[image_id].append(location)
        for values in tags.values():
            values.sort()
        for kept in locations.values():
            kept.sort(key=lambda location: location.id)
        result = []
        for row in rows:
            # each column is a field of Image; a row of a joined load goes on with its child's columns
            values: dict[str, Any] = dict(zip(_IMAGE_FIELDS, row, strict=False))
            image_id = values["id"]
            values["status"] = _STATUSES[values["status"]]
            image = Image(tags=tags[image_id], properties=props[image_id], locations=locations[image_id], **values)
            if not self.read_only:
                self._snapshots[image.id] = _snapshot(image)
            result.append(image)
        return result


def _snapshot(image: Image) -> _Snapshot:
    return _Snapshot(
        properties=dict(image.properties),
        tags=set(image.tags),
        locations={loc.id: (loc.status.value, loc.url) for loc in image.locations if loc.id is not None},
    )
