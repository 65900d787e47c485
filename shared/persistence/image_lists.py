"""The statement behind a page of images, built once per shape of query and then reused.

A list statement built afresh on every call costs more CPU than the query it runs (SQLAlchemy's operator
coercions, the expanding ``NOT IN``, its cache key): a page of 25 spent a fifth of its time here. What
varies between calls of one shape (the caller's project, the limit, filter values, tags, the marker's
values) goes in as bound parameters; what changes the SQL (admin or not, the visibility asked, the sort,
which filters and which marker values are NULL) is the shape, the key of the cache.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    false,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql import ColumnElement

from shared.domain.image import Image
from shared.domain.queries import AttributeFilter, ImageQuery
from shared.domain.status import UNLISTED, ImageStatus
from shared.persistence.tables import image_members, image_properties, image_tags, images

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Fixed for every list: the statuses nobody lists, inlined, so no bind list is expanded on each call.
_LISTED = images.c.status.not_in([literal_column(f"'{status.value}'") for status in sorted(UNLISTED)])


_OPERATORS = {"eq": operator.eq, "neq": operator.ne, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt,
              "lte": operator.le}  # fmt: skip


class _Scope(NamedTuple):
    is_admin: bool
    visibility: str | None
    any_member_status: bool
    no_project: bool


class _Filter(NamedTuple):
    attribute: str
    test: str  # an operator whose value is the parameter, or one of "is_null", "not_null", "never"


class _Shape(NamedTuple):
    scope: _Scope
    os_hidden: bool
    filters: tuple[_Filter, ...]
    tags: int
    sort: tuple[tuple[str, str], ...]
    marker_nulls: tuple[bool, ...] | None  # per sort key, whether the marker's value is NULL; None: no marker


def list_statement(query: ImageQuery, marker: Image | None = None) -> tuple[Select[Any], dict[str, Any]]:
    """The statement for one page of ``query`` (after ``marker`` when given) and the parameters to run it with."""
    params: dict[str, Any] = {"limit": query.limit, "project": query.project_id, "member_status": query.member_status}
    scope = _Scope(query.is_admin, query.visibility, query.member_status == "all", query.project_id is None)
    filters = tuple(_filter_shape(index, item, params) for index, item in enumerate(query.filters))
    for index, tag in enumerate(query.tags):
        params[f"tag_{index}"] = tag
    marker_nulls = None
    if marker is not None:
        nulls = []
        for index, (key, _) in enumerate(query.sort):
            value = getattr(marker, key)
            params[f"marker_{index}"] = value.value if isinstance(value, ImageStatus) else value
            nulls.append(value is None)
        marker_nulls = tuple(nulls)
    shape = _Shape(scope, query.os_hidden, filters, len(query.tags), tuple(query.sort), marker_nulls)
    return _built(shape), params


@lru_cache(maxsize=256)
def _built(shape: _Shape) -> Select[Any]:
    conditions = [images.c.deleted == false(), _LISTED, images.c.os_hidden == (true() if shape.os_hidden else false())]
    conditions.extend(_visibility_scope(shape.scope))
    for index, item in enumerate(shape.filters):
        conditions.append(_attribute_condition(index, item))
    for index in range(shape.tags):
        conditions.append(
            exists().where(image_tags.c.image_id == images.c.id, image_tags.c.value == bindparam(f"tag_{index}"))
        )
    if shape.marker_nulls is not None:
        conditions.append(_after_marker(shape.sort, shape.marker_nulls))
    stmt = select(images).where(*conditions)
    for key, direction in shape.sort:
        stmt = stmt.order_by(_ordered(images.c[key], direction))
    return stmt.limit(bindparam("limit", type_=Integer))


def _visibility_scope(scope: _Scope) -> Iterable[ColumnElement[bool]]:
    """Glance's ``_select_images_query``: which rows a caller may list."""
    project = bindparam("project", type_=images.c.owner.type)
    member = image_members.c.member.is_(None) if scope.no_project else image_members.c.member == project
    # The images shared with the caller, as a list of ids the database finds from the caller's side (the
    # (member, status) index): a test per image (EXISTS) ran for every shared image in the table, which is
    # every image created with Glance's default visibility (a member's page of 25 among 10,000 images of
    # 200 projects: 3.4 ms on SQLite, either way SQLite read the table).
    shared_with_caller = select(image_members.c.image_id).where(member)
    if not scope.any_member_status:
        shared_with_caller = shared_with_caller.where(image_members.c.status == bindparam("member_status"))
    shared_as_member = and_(images.c.visibility == "shared", images.c.id.in_(shared_with_caller))
    owned = images.c.owner.is_(None) if scope.no_project else images.c.owner == project

    if scope.visibility not in (None, "all"):
        yield images.c.visibility == scope.visibility
    if scope.is_admin:
        if scope.visibility is None:
            yield or_(images.c.visibility != "community", owned)
        return
    if scope.visibility is None:
        yield or_(owned, images.c.visibility == "public", shared_as_member)
    else:
        yield or_(owned, images.c.visibility.in_(("public", "community")), shared_as_member)


def _filter_shape(index: int, item: AttributeFilter, params: dict[str, Any]) -> _Filter:
    """The shape of one filter; its value, when the SQL takes one, goes into ``params``."""
    column = images.c[item.attribute] if item.attribute in images.c else image_properties.c.value
    value = item.value
    if isinstance(value, int) and not isinstance(value, bool) and isinstance(column.type, Integer):
        low, high = (INT64_MIN, INT64_MAX) if isinstance(column.type, BigInteger) else (INT32_MIN, INT32_MAX)
        if not low <= value <= high:  # past what the column can bind, so past every value it holds
            above = value > high
            holds = item.op in ("neq", "lt", "lte") if above else item.op in ("neq", "gt", "gte")
            return _Filter(item.attribute, "not_null" if holds else "never")
    if item.op == "eq" and value is None:
        return _Filter(item.attribute, "is_null")
    params[f"filter_{index}"] = list(value) if item.op == "in" else value
    return _Filter(item.attribute, item.op)


def _attribute_condition(index: int, item: _Filter) -> ColumnElement[bool]:
    if item.attribute in images.c:
        return _compare(images.c[item.attribute], item.test, f"filter_{index}")
    return exists().where(  # a custom property
        image_properties.c.image_id == images.c.id,
        image_properties.c.name == item.attribute,
        _compare(image_properties.c.value, item.test, f"filter_{index}"),
    )


def _compare(column: Any, test: str, name: str) -> ColumnElement[bool]:
    if test == "is_null":
        return column.is_(None)
    if test == "not_null":
        return column.is_not(None)
    if test == "never":
        return false()
    if test == "in":
        return column.in_(bindparam(name, expanding=True))
    return _OPERATORS[test](column, bindparam(name))


def _ordered(column: Column[Any], direction: str) -> ColumnElement[Any]:
    """``column`` in ``direction`` with NULLs as the smallest value. A column without NULLs gets a plain
    ASC/DESC: the same order, and one an index can give (PostgreSQL reads ``(created_at, id)`` backwards for
    DESC, DESC, but not for DESC NULLS LAST, and would sort the whole table for every first page)."""
    if not column.nullable:
        return column.asc() if direction == "asc" else column.desc()
    return column.asc().nulls_first() if direction == "asc" else column.desc().nulls_last()


def _after_marker(sort: Sequence[tuple[str, str]], nulls: Sequence[bool]) -> ColumnElement[bool]:
    """Rows strictly after the marker in ``sort`` order, with NULLs ordered as the smallest value; the
    marker's value of the i-th sort key is the parameter ``marker_i`` (``nulls[i]``: it is NULL)."""
    clauses = []
    equal_so_far: list[ColumnElement[bool]] = []
    for index, ((key, direction), null) in enumerate(zip(sort, nulls, strict=True)):
        column = images.c[key]
        value = bindparam(f"marker_{index}", type_=column.type)
        if direction == "asc":
            after = column.is_not(None) if null else column > value
        else:
            after = false() if null else or_(column < value, column.is_(None))
        equal = column.is_(None) if null else column == value
        clauses.append(and_(*equal_so_far, after))
        equal_so_far.append(equal)
    return or_(*clauses) if clauses else not_(false())
