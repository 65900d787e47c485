"""Indexes behind image lists: every sort key and filter has one, the migrations build what the tables
declare, and a sorted or filtered page is read from its index instead of sorting or reading the table."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, inspect
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import nulls_first_op

from services.api.listing import IN_FILTERS, RANGED
from shared.domain.clock import utcnow
from shared.domain.queries import SORT_KEYS, AttributeFilter, ImageQuery, with_tiebreakers
from shared.persistence.database import Database
from shared.persistence.schema import _config, head_revision, upgrade
from shared.persistence.tables import images, metadata
from tests.integration.plans import plan

# Two-valued, or nearly (min_disk, min_ram are 0 on most images): no plan would read an index on them.
UNINDEXED_FILTERS = {"protected", "min_disk", "min_ram"}
IMAGES = 3000


def _column_of(expression: Any) -> tuple[Any, bool]:
    """The column an index expression orders by, and whether it puts NULLs first (NULLS FIRST around ASC
    around the column)."""
    nulls = False
    while isinstance(expression, UnaryExpression):
        nulls, expression = nulls or expression.modifier is nulls_first_op, expression.element
    return expression, nulls


def leading_columns() -> set[str]:
    firsts = {images.primary_key.columns.values()[0].name}
    for index in images.indexes:
        firsts.add(_column_of(index.expressions[0])[0].name)
    return firsts


def declared_indexes(dialect: str) -> dict[str, tuple[list[str], set[str]]]:
    """For each table's index as tables.py declares it for ``dialect``: its columns, those with NULLs first."""
    declared: dict[str, tuple[list[str], set[str]]] = {}
    for table in metadata.tables.values():
        for index in table.indexes:
            if index._ddl_if is not None and index._ddl_if.dialect != dialect:
                continue
            columns, nulls_first = [], set()
            for expression in index.expressions:
                column, nulls = _column_of(expression)
                columns.append(column.name)
                if nulls:
                    nulls_first.add(column.name)
            declared[index.name] = (columns, nulls_first)
    return declared


def migrated_indexes(db: Database) -> dict[str, tuple[list[str], set[str]]]:
    found: dict[str, tuple[list[str], set[str]]] = {}
    inspector = inspect(db.engine)
    for table in metadata.tables:
        for index in inspector.get_indexes(table):
            if index.get("duplicates_constraint"):
                continue  # a unique constraint's own index
            sorting = index.get("column_sorting", {})
            nulls_first = {column for column, how in sorting.items() if "nulls_first" in how}
            found[index["name"]] = (list(index["column_names"]), nulls_first)
    return found


def test_every_sort_key_and_filter_leads_an_index() -> None:
    filters = {*IN_FILTERS, *RANGED, "created_at", "updated_at", "owner", "visibility", "checksum", "os_hash_value"}
    missing = {*SORT_KEYS, *filters} - UNINDEXED_FILTERS - leading_columns()
    assert not missing, f"no index starts with {sorted(missing)}"


def test_the_migrations_build_the_indexes_the_tables_declare(any_db: Database) -> None:
    dialect = any_db.engine.dialect.name
    assert migrated_indexes(any_db) == declared_indexes(dialect)
    if dialect == "postgresql":  # lists order NULLs first: an index that does not cannot give their order
        assert migrated_indexes(any_db)["ix_images_name_created_at_id"][1] == {"name"}


def test_the_indexes_come_and_go_with_their_migration(any_db: Database) -> None:
    before = migrated_indexes(any_db)
    config = _config()
    with any_db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    downgraded = migrated_indexes(any_db)
    assert "ix_images_status" in downgraded and "ix_images_name_created_at_id" not in downgraded
    assert upgrade(any_db.engine) == ("0004", head_revision())
    assert migrated_indexes(any_db) == before


def fill(db: Database, count: int) -> list[dict[str, Any]]:
    """``count`` images of 20 projects with varied names, sizes and formats, written at once, then analyzed."""
    now = utcnow()
    rows = []
    for number in range(count):
        when = now - timedelta(seconds=count - number)
        rows.append({
            "id": str(uuid.uuid4()), "name": f"image-{(number * 7919) % count:05d}", "status": "active",
            "visibility": ("shared", "private", "public")[number % 3], "protected": False, "os_hidden": False,
            "checksum": uuid.uuid4().hex, "os_hash_algo": "sha512", "os_hash_value": uuid.uuid4().hex * 4,
            "owner": f"p{number % 20}", "size": (number * 104729) % 10**9, "virtual_size": number,
            "min_disk": 0, "min_ram": 0, "container_format": "bare", "disk_format": ("qcow2", "raw", "iso")[number % 3],
            "created_at": when, "updated_at": when, "deleted": False, "version": 1,
        })  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(insert(images), rows)
        conn.exec_driver_sql("ANALYZE")
    return rows


def sorted_by(key: str, direction: str) -> dict[str, Any]:
    return {"sort": with_tiebreakers([(key, direction)], direction)}  # type: ignore[list-item]


@pytest.mark.parametrize("project", ["p1", None], ids=["member", "admin"])
def test_sorted_and_filtered_pages_are_read_from_an_index(any_db: Database, project: str | None) -> None:
    rows = fill(any_db, IMAGES)
    cases = {  # what is asked -> the index that answers it
        # created_at DESC, id DESC: a backward scan (ordered DESC NULLS LAST it was a sort of every visible image)
        "default": ({}, "ix_images_created_at_id"),
        "sort=name:asc": (sorted_by("name", "asc"), "ix_images_name_created_at_id"),
        "sort=name:desc": (sorted_by("name", "desc"), "ix_images_name_created_at_id"),
        "sort=size:asc": (sorted_by("size", "asc"), "ix_images_size_created_at_id"),
        "sort=status:desc": (sorted_by("status", "desc"), "ix_images_status_created_at_id"),
        "sort=disk_format:asc": (sorted_by("disk_format", "asc"), "ix_images_disk_format_created_at_id"),
        "sort=container_format:desc": (
            sorted_by("container_format", "desc"), "ix_images_container_format_created_at_id"
        ),
        "sort=updated_at:desc": (sorted_by("updated_at", "desc"), "ix_images_updated_at_created_at_id"),
        "name=": ({"filters": (AttributeFilter("name", "eq", rows[77]["name"]),)}, "ix_images_name_created_at_id"),
        "checksum=": ({"filters": (AttributeFilter("checksum", "eq", rows[5]["checksum"]),)}, "ix_images_checksum"),
        "os_hash_value=": ({"filters": (AttributeFilter("os_hash_value", "eq", rows[9]["os_hash_value"]),)},
                           "ix_images_os_hash_value"),
    }  # fmt: skip
    unread = {}
    for label, (asked, index) in cases.items():
        shown = plan(any_db, ImageQuery(project_id=project, is_admin=project is None, limit=25, **asked))
        sorted_apart = "TEMP B-TREE" in shown if any_db.engine.dialect.name == "sqlite" else "Sort" in shown
        ordered_by_the_index = not label.endswith("=")  # a filter's few rows may be sorted apart
        if index not in shown or (ordered_by_the_index and sorted_apart):
            unread[label] = shown
    assert not unread, unread


def test_a_page_by_name_comes_in_order_with_nulls_first(any_db: Database) -> None:
    rows = fill(any_db, 200)
    with any_db.engine.begin() as conn:
        conn.execute(images.update().where(images.c.id.in_([rows[3]["id"], rows[4]["id"]])).values(name=None))
    with any_db.transaction(write=False) as uow:
        ascending = uow.images.list(ImageQuery(None, True, limit=5, **sorted_by("name", "asc")), None)
        descending = uow.images.list(ImageQuery(None, True, limit=300, **sorted_by("name", "desc")), None)
    assert [image.name for image in ascending[:2]] == [None, None]
    assert [image.id for image in ascending[:2]] == [rows[3]["id"], rows[4]["id"]]  # then created_at ascending
    named = sorted(row["name"] for row in rows if row["id"] not in (rows[3]["id"], rows[4]["id"]))
    assert [image.name for image in descending] == [*reversed(named), None, None]
