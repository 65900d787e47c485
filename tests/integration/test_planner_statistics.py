"""Query plans for image lists: planner statistics kept current as images are written, shares found by member."""

from __future__ import annotations

import uuid
from contextlib import contextmanager, nullcontext
from typing import Any

import structlog

from shared.domain.clock import utcnow
from shared.domain.image import Image
from shared.domain.queries import ImageQuery
from shared.persistence.database import Database
from shared.persistence.planner_statistics import FIRST, SQLITE_EVERY, PlannerStatistics
from tests.integration.plans import plan


def add_images(db: Database, count: int, owner: str = "p1") -> None:
    for _ in range(count):  # a write transaction each, as the API makes them
        now = utcnow()
        with db.transaction() as uow:
            uow.images.add(Image(id=str(uuid.uuid4()), owner=owner, created_at=now, updated_at=now))


def test_statistics_follow_the_writes_and_a_members_page_walks_the_newest_first_index(sqlite_db: Database) -> None:
    add_images(sqlite_db, SQLITE_EVERY)
    with sqlite_db.engine.connect() as conn:
        analyzed = {row[0] for row in conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1")}
    assert "images" in analyzed
    # a project that owns the images: read newest first and stop at the page, not gather every match and sort
    shown = plan(sqlite_db, ImageQuery(project_id="p1", is_admin=False, limit=25))
    assert "ix_images_created_at_id" in shown and "TEMP B-TREE" not in shown, shown
    with sqlite_db.transaction(write=False) as uow:
        assert len(uow.images.list(ImageQuery(project_id="p1", is_admin=False, limit=25), None)) == 25


def test_postgresql_statistics_are_refreshed_while_the_database_is_young(postgres_db: Database) -> None:
    def analyzed() -> bool:
        with postgres_db.engine.connect() as conn:
            found = conn.exec_driver_sql("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'images'")
            return found.scalar() is not None  # a manual ANALYZE; autovacuum's are last_autoanalyze

    add_images(postgres_db, FIRST - 1)
    assert not analyzed()
    add_images(postgres_db, 1)
    assert analyzed()


def test_images_shared_with_a_member_are_found_from_its_memberships(sqlite_db: Database) -> None:
    shown = plan(sqlite_db, ImageQuery(project_id="p2", is_admin=False, limit=25))
    assert "ix_image_members_member_status" in shown, shown  # not one membership lookup per shared image


def test_a_failed_refresh_is_logged_and_the_writes_go_on(sqlite_db: Database) -> None:
    @contextmanager
    def broken_gate() -> Any:
        raise OSError("read-only file system")
        yield  # pragma: no cover

    statistics = PlannerStatistics(sqlite_db.engine, broken_gate, every=2)
    with structlog.testing.capture_logs() as logs:
        statistics.written()
        statistics.written()  # the second write: its turn to refresh, which fails
    assert [entry["event"] for entry in logs] == ["analyze_failed"]
    assert "read-only" in logs[0]["error"]


def test_refreshes_come_early_while_the_data_is_young_then_at_a_steady_pace(sqlite_db: Database) -> None:
    writes, refreshed = [0], []

    class Counted(PlannerStatistics):
        def refresh(self) -> None:
            refreshed.append(writes[0])

    for every, expected in ((500, [64, 128, 256, 500, 512, 1000, 1024]), (None, [64, 128, 256, 512, 1024])):
        writes[0], refreshed[:] = 0, []
        statistics = Counted(sqlite_db.engine, nullcontext, every=every)
        while writes[0] < 1100:
            writes[0] += 1
            statistics.written()
        assert refreshed == expected, every
