"""Image list statements: one per shape of query, the values of each call as parameters."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.domain.image import Image
from shared.domain.queries import AttributeFilter, ImageQuery
from shared.domain.status import ImageStatus
from shared.persistence.image_lists import list_statement

SORT = (("name", "asc"), ("status", "asc"), ("id", "desc"))


def marker(name: str | None) -> Image:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Image(id="m-1", owner="p1", name=name, status=ImageStatus.ACTIVE, created_at=at, updated_at=at)


def test_calls_of_one_shape_share_a_statement_and_differ_in_parameters() -> None:
    first, first_params = list_statement(
        ImageQuery("p1", False, 25, filters=(AttributeFilter("size", "gt", 5),), tags=("a",))
    )
    second, second_params = list_statement(
        ImageQuery("p2", False, 1000, filters=(AttributeFilter("size", "gt", 9),), tags=("b",))
    )
    assert first is second
    assert (first_params["project"], first_params["limit"], first_params["filter_0"], first_params["tag_0"]) == (
        "p1", 25, 5, "a",
    )  # fmt: skip
    assert (second_params["project"], second_params["limit"], second_params["filter_0"], second_params["tag_0"]) == (
        "p2", 1000, 9, "b",
    )  # fmt: skip


def test_what_changes_the_sql_is_part_of_the_shape() -> None:
    plain = list_statement(ImageQuery("p1", False, 25))[0]
    assert list_statement(ImageQuery("p1", True, 25))[0] is not plain
    assert list_statement(ImageQuery("p1", False, 25, visibility="shared"))[0] is not plain
    assert list_statement(ImageQuery("p1", False, 25, os_hidden=True))[0] is not plain
    assert list_statement(ImageQuery("p1", False, 25, member_status="all"))[0] is not plain
    assert list_statement(ImageQuery(None, False, 25))[0] is not plain
    by_name = ImageQuery("p1", False, 25, sort=SORT)
    named, params = list_statement(by_name, marker("x"))
    unnamed, _ = list_statement(by_name, marker(None))
    assert named is not unnamed  # a NULL marker value is compared with IS NULL, not with a parameter
    assert (params["marker_0"], params["marker_1"], params["marker_2"]) == ("x", "active", "m-1")
    assert "IS NULL" in str(unnamed.compile()) and "IS NULL" in str(named.compile())  # NULLs sort first


def test_values_past_the_column_and_nulls_are_shapes_not_parameters() -> None:
    huge, params = list_statement(ImageQuery("p1", False, 25, filters=(AttributeFilter("size", "lte", 2**80),)))
    assert "filter_0" not in params and "IS NOT NULL" in str(huge.compile())
    none, params = list_statement(ImageQuery("p1", False, 25, filters=(AttributeFilter("name", "eq", None),)))
    assert "filter_0" not in params and "name IS NULL" in str(none.compile())
