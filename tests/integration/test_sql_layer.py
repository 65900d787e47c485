"""The SQL layer on SQLite and PostgreSQL: compare-and-set, lists, jobs, outbox, schema checks."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, insert

from shared.domain.clock import utcnow
from shared.domain.errors import ConcurrentUpdate, Duplicate
from shared.domain.events import image_updated
from shared.domain.image import Image, Location, LocationStatus
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.domain.queries import AttributeFilter, ImageQuery
from shared.domain.status import ImageStatus
from shared.persistence.database import Database
from shared.persistence.schema import SchemaOutdated, ensure_current
from shared.persistence.tables import image_members


def new_image(db: Database, owner: str = "p1", **attrs) -> Image:
    now = utcnow()
    image = Image(id=str(uuid.uuid4()), owner=owner, created_at=now, updated_at=now, **attrs)
    with db.transaction() as uow:
        uow.images.add(image)
    return image


@contextmanager
def statements_run(db: Database) -> Iterator[list[str]]:
    """The SQL statements ``db`` sends while the block runs, in order (an executemany counts once)."""
    statements: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engines = {db.engine, db.read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", capture)


def winners_of_a_race(attempt: Callable[[str], bool], contenders: list[str]) -> list[str]:
    """Run ``attempt`` for every contender in its own thread, all released at once; who succeeded."""
    winners: list[str] = []
    barrier = threading.Barrier(len(contenders))

    def run(contender: str) -> None:
        barrier.wait()
        if attempt(contender):
            winners.append(contender)

    threads = [threading.Thread(target=run, args=(contender,)) for contender in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return winners


def test_round_trip_with_children(any_db: Database) -> None:
    image = new_image(any_db, name="n", tags=["b", "a"], properties={"k": "v", "e": ""})
    with any_db.transaction() as uow:
        loaded = uow.images.get(image.id, for_update=True)
        loaded.properties["k"] = "w"
        del loaded.properties["e"]
        loaded.tags = ["a", "c"]
        loaded.locations.append(Location(url="file:///x/1", store="fast", metadata={"store": "fast"}))
        uow.images.save(loaded)
    with any_db.transaction(write=False) as uow:
        again = uow.images.get(image.id)
    assert (again.properties, again.tags, again.version) == ({"k": "w"}, ["a", "c"], 1)
    assert [(loc.url, loc.store, loc.metadata) for loc in again.locations] == [
        ("file:///x/1", "fast", {"store": "fast"})
    ]
    with pytest.raises(Duplicate), any_db.transaction() as uow:
        uow.images.add(Image(id=image.id, owner="p1", created_at=utcnow(), updated_at=utcnow()))


def test_an_image_loads_in_one_statement_with_its_children(any_db: Database) -> None:
    """One round trip per image read, whatever children it has (none, or some of each), a load that locks the
    row included (when no other transaction changed the row meanwhile: see the test below)."""
    bare = new_image(any_db, name="bare")
    full = new_image(any_db, name="full", tags=["t2", "t1"], properties={"k": "v", "empty": None})
    with any_db.transaction() as uow:
        loaded = uow.images.get(full.id, for_update=True)
        loaded.locations += [Location(url="file:///x/1", store="fast"), Location(url="file:///x/2", store="cheap")]
        uow.images.save(loaded)
        loaded.locations[0].status = LocationStatus.DELETED  # no longer loaded
        uow.images.save(loaded)
    for write in (False, True):
        with any_db.transaction(write=write) as uow, statements_run(any_db) as statements:
            empty, some = uow.images.get(bare.id, for_update=write), uow.images.get(full.id, for_update=write)
            missing = uow.images.get(str(uuid.uuid4()), for_update=write)
            assert len(statements) == 3, statements
        assert (empty.name, empty.properties, empty.tags, empty.locations) == ("bare", {}, [], [])
        assert (some.name, some.properties, some.tags) == ("full", {"k": "v", "empty": None}, ["t1", "t2"])
        assert [(loc.url, loc.store) for loc in some.locations] == [("file:///x/2", "cheap")]
        assert missing is None


def test_an_image_loaded_for_update_is_locked_until_the_transaction_ends(postgres_db: Database) -> None:
    image = new_image(postgres_db, tags=["t"], properties={"k": "v"})
    finished = threading.Event()

    def second_writer() -> None:
        with postgres_db.transaction() as uow:
            uow.images.get(image.id, for_update=True)
            finished.set()

    with postgres_db.transaction() as uow:
        uow.images.get(image.id, for_update=True)
        other = threading.Thread(target=second_writer)
        other.start()
        assert not finished.wait(0.5), "a second load for update went ahead while the row was locked"
    assert finished.wait(10), "the second load did not go ahead once the lock was released"
    other.join()


def test_a_load_that_waited_for_the_lock_sees_what_the_holder_committed(postgres_db: Database) -> None:
    """Properties, tags and locations included: read in the same statement as the locked row, they came as
    they were when the statement started, before the transaction that held the lock changed them."""
    image = new_image(postgres_db, tags=["old"], properties={"stores": "fast,cheap"})
    seen: list[Image] = []

    def second_writer() -> None:
        with postgres_db.transaction() as uow:
            seen.append(uow.images.get(image.id, for_update=True))

    with postgres_db.transaction() as uow:
        holder = uow.images.get(image.id, for_update=True)
        holder.properties["stores"] = "cheap"
        holder.tags = ["new"]
        holder.locations.append(Location(url="file:///x/1", store="fast"))
        uow.images.save(holder)
        other = threading.Thread(target=second_writer)
        other.start()
        other.join(0.5)  # waiting for the row lock
    other.join(10)
    [after] = seen
    assert (after.properties, after.tags, [loc.url for loc in after.locations]) == (
        {"stores": "cheap"},
        ["new"],
        ["file:///x/1"],
    )


def test_a_read_only_unit_of_work_refuses_to_save(any_db: Database) -> None:
    image = new_image(any_db, name="before", properties={"k": "v"})
    with pytest.raises(RuntimeError, match="read-only"), any_db.transaction(write=False) as uow:
        loaded = uow.images.get(image.id)
        assert loaded is not None and loaded.properties == {"k": "v"} and loaded.status is ImageStatus.QUEUED
        loaded.name = "after"
        uow.images.save(loaded)
    with any_db.transaction(write=False) as uow:
        assert uow.images.get(image.id).name == "before"


def test_compare_and_set_loses_to_a_concurrent_writer(any_db: Database) -> None:
    image = new_image(any_db)
    with any_db.transaction(write=False) as uow:
        stale = uow.images.get(image.id)
    with any_db.transaction() as uow:
        fresh = uow.images.get(image.id)
        fresh.name = "first"
        uow.images.save(fresh)
    with pytest.raises(ConcurrentUpdate), any_db.transaction() as uow:
        uow.images.get(image.id)  # this unit of work knows the row; the copy saved below is the stale one
        stale.name = "second"
        uow.images.save(stale)
    with any_db.transaction(write=False) as uow:
        assert uow.images.get(image.id).name == "first"


def test_rollback_writes_no_events(any_db: Database) -> None:
    image = new_image(any_db)
    with pytest.raises(RuntimeError), any_db.transaction() as uow:
        loaded = uow.images.get(image.id)
        loaded.name = "never"
        loaded.record(image_updated(loaded, utcnow()))
        uow.images.save(loaded)
        raise RuntimeError("abort")
    with any_db.transaction(write=False) as uow:
        assert uow.outbox.unpublished(10) == []
        assert uow.images.get(image.id).name is None


def test_visibility_scope_and_filters(any_db: Database) -> None:
    own = new_image(any_db, "p1", visibility="private", size=10)
    shared_accepted = new_image(any_db, "p2", visibility="shared", size=20)
    shared_pending = new_image(any_db, "p2", visibility="shared", size=30)
    public = new_image(any_db, "p3", visibility="public", tags=["t1", "t2"], size=40)
    community = new_image(any_db, "p3", visibility="community")
    hidden = new_image(any_db, "p1", os_hidden=True)
    gone = new_image(any_db, "p1", status=ImageStatus.DELETED, deleted=True)
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now}
    with any_db.transaction() as uow:
        uow.conn.execute(
            insert(image_members),
            [
                {"image_id": shared_accepted.id, "member": "p1", "status": "accepted", **stamps},
                {"image_id": shared_pending.id, "member": "p1", "status": "pending", **stamps},
            ],
        )

    def ids(project="p1", admin=False, **query):
        with any_db.transaction(write=False) as uow:
            rows = uow.images.list(ImageQuery(project_id=project, is_admin=admin, limit=100, **query))
        return {image.id for image in rows}

    assert ids() == {own.id, shared_accepted.id, public.id}
    assert ids(member_status="pending") == {own.id, shared_pending.id, public.id}
    assert ids(member_status="all", visibility="shared") == {shared_accepted.id, shared_pending.id}
    assert ids(visibility="community") == {community.id}
    assert ids(visibility="all") == {own.id, shared_accepted.id, public.id, community.id}
    assert ids(os_hidden=True) == {hidden.id}
    assert ids(admin=True, project="px") == {own.id, shared_accepted.id, shared_pending.id, public.id}
    assert gone.id not in ids(admin=True, visibility="all")
    assert ids(tags=("t1", "t2")) == {public.id}
    assert ids(tags=("t1", "t3")) == set()
    assert ids(filters=(AttributeFilter("size", "gte", 20), AttributeFilter("size", "lte", 30))) == {shared_accepted.id}
    assert ids(filters=(AttributeFilter("id", "in", (own.id, public.id)),)) == {own.id, public.id}
    beyond = 2**80  # more than any SQL integer holds: past every stored value, never an overflow
    sized = {own.id, shared_accepted.id, public.id}
    assert ids(filters=(AttributeFilter("size", "lte", beyond),)) == sized
    assert ids(filters=(AttributeFilter("size", "gte", beyond),)) == set()
    assert ids(filters=(AttributeFilter("size", "neq", -beyond),)) == sized
    assert ids(filters=(AttributeFilter("min_ram", "gt", -beyond),)) == {own.id, shared_accepted.id, public.id}
    assert ids(filters=(AttributeFilter("min_ram", "lte", -(2**31) - 1),)) == set()


def test_one_statement_shape_serves_every_caller_and_value(any_db: Database) -> None:
    """List statements are built once per shape and reused: the values of one call (project, filter values,
    tags, limit) must never stick to the next call of the same shape."""
    a = new_image(any_db, "p1", properties={"os_distro": "debian"}, tags=["gold"])
    b = new_image(any_db, "p2", properties={"os_distro": "ubuntu"}, tags=["gold", "lts"])
    c = new_image(any_db, "p2", properties={"os_distro": "debian"})

    def ids(project, limit=100, **query):
        with any_db.transaction(write=False) as uow:
            return {i.id for i in uow.images.list(ImageQuery(project_id=project, is_admin=False, limit=limit, **query))}

    distro = AttributeFilter("os_distro", "eq", "debian")
    assert ids("p1", filters=(distro,)) == {a.id}
    assert ids("p2", filters=(distro,)) == {c.id}
    assert ids("p2", filters=(AttributeFilter("os_distro", "eq", "ubuntu"),)) == {b.id}
    assert ids("p2", filters=(AttributeFilter("os_distro", "in", ("ubuntu", "debian")),)) == {b.id, c.id}
    assert ids("p2", filters=(AttributeFilter("os_distro", "in", ("debian",)),)) == {c.id}
    assert ids("p1", tags=("gold",)) == {a.id}
    assert ids("p2", tags=("gold",)) == {b.id}
    assert ids("p2", tags=("lts",)) == {b.id}
    assert len(ids("p2", limit=1)) == 1 and len(ids("p2", limit=2)) == 2


def test_keyset_paging_over_many_rows(any_db: Database) -> None:
    base = utcnow()
    with any_db.transaction() as uow:
        for n in range(120):  # many share a timestamp: the id tie-breaker must keep pages disjoint
            at = base + timedelta(seconds=n // 10)
            uow.images.add(Image(id=str(uuid.uuid4()), owner="p1", created_at=at, updated_at=at,
                                 size=None if n % 7 == 0 else n % 5))  # fmt: skip
    for sort in [(("created_at", "desc"), ("id", "desc")), (("size", "asc"), ("created_at", "asc"), ("id", "desc")),
                 (("size", "desc"), ("created_at", "desc"), ("id", "desc"))]:  # fmt: skip
        seen, marker = [], None
        while True:
            with any_db.transaction(write=False) as uow:
                marker_image = uow.images.get(marker) if marker else None
                page = uow.images.list(ImageQuery(project_id="p1", is_admin=False, limit=17, sort=sort), marker_image)
            seen += page
            if len(page) < 17:
                break
            marker = page[-1].id
        assert len(seen) == 120 and len({image.id for image in seen}) == 120, sort


def test_job_claim_is_exclusive(any_db: Database) -> None:
    job = Job(kind=JobKind.UPLOAD, image_id="i", status=JobStatus.QUEUED, created_at=utcnow())
    with any_db.transaction() as uow:
        uow.jobs.add(job)

    def claim(owner: str) -> bool:
        with any_db.transaction() as uow:
            return uow.jobs.claim(job.id, owner, utcnow())

    winners = winners_of_a_race(claim, [f"w{n}" for n in range(8)])
    assert len(winners) == 1
    with any_db.transaction() as uow:
        assert uow.jobs.heartbeat([job.id], winners[0], utcnow()) == 1
        assert uow.jobs.heartbeat([job.id], "someone-else", utcnow()) == 0
        assert [j.id for j in uow.jobs.stale(JobStatus.RUNNING, utcnow() + timedelta(seconds=1))] == [job.id]


def test_concurrent_writers_never_fail(any_db: Database) -> None:
    """Eight threads creating and updating at once: no 'database is locked', no lost update."""
    errors: list[BaseException] = []
    image = new_image(any_db)

    def work() -> None:
        try:
            for _ in range(25):
                new_image(any_db)
                for _attempt in range(50):
                    try:
                        with any_db.transaction() as uow:
                            loaded = uow.images.get(image.id, for_update=True)
                            loaded.min_ram += 1
                            uow.images.save(loaded)
                        break
                    except ConcurrentUpdate:
                        continue
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with any_db.transaction(write=False) as uow:
        assert uow.images.get(image.id).min_ram == 200
        assert len(uow.images.list(ImageQuery(project_id="p1", is_admin=False, limit=1000))) == 201


def test_services_refuse_an_outdated_schema(tmp_path) -> None:
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutdated, match="glint db upgrade"):
        ensure_current(empty.engine)


def test_outbox_keeps_commit_order(any_db: Database) -> None:
    image = new_image(any_db)
    for n in range(5):
        with any_db.transaction(request_id=f"req-{n}") as uow:
            loaded = uow.images.get(image.id, for_update=True)
            loaded.name = str(n)
            loaded.record(image_updated(loaded, utcnow()))
            uow.images.save(loaded)
    with any_db.transaction(write=False) as uow:
        rows = uow.outbox.unpublished(100)
    assert [row.payload["name"] for row in rows] == ["0", "1", "2", "3", "4"]
    assert [row.request_id for row in rows] == [f"req-{n}" for n in range(5)]
    with any_db.transaction() as uow:
        uow.outbox.mark_published([rows[0].id], utcnow())
        assert uow.outbox.prune(utcnow() + timedelta(seconds=1)) == 1
        assert len(uow.outbox.unpublished(100)) == 4


@pytest.mark.parametrize("events", [1, 3])
def test_events_are_written_in_one_statement_that_reads_nothing_back(any_db: Database, events: int) -> None:
    """No RETURNING of the new rows' ids and no sequence fetched first: nothing reads them."""
    image = new_image(any_db)
    with any_db.transaction() as uow:
        loaded = uow.images.get(image.id, for_update=True)
        for _ in range(events):
            loaded.record(image_updated(loaded, utcnow()))
        uow.images.save(loaded)
        with statements_run(any_db) as statements:
            uow.flush_events()
    assert len(statements) == 1 and "outbox" in statements[0], statements
    assert "RETURNING" not in statements[0].upper()
    with any_db.transaction(write=False) as uow:
        assert len(uow.outbox.unpublished(100)) == events


def test_a_lease_has_one_holder_until_it_runs_out_or_is_released(any_db: Database) -> None:
    now = utcnow()

    def hold(holder: str, at=now) -> bool:
        with any_db.transaction() as uow:
            return uow.leases.hold("notifier", holder, at, ttl=10)

    assert hold("a") and not hold("b")
    assert hold("a", now + timedelta(seconds=9))  # renewed: now good until 19 s
    assert not hold("b", now + timedelta(seconds=15))
    assert hold("b", now + timedelta(seconds=20)) and not hold("a", now + timedelta(seconds=21))
    with any_db.transaction() as uow:
        uow.leases.release("notifier", "a", now)  # not the holder: changes nothing
        assert not uow.leases.hold("notifier", "c", now + timedelta(seconds=21), ttl=10)
        uow.leases.release("notifier", "b", now + timedelta(seconds=22))
    assert hold("c", now + timedelta(seconds=22))


def test_racing_processes_never_both_take_a_lease(any_db: Database) -> None:
    later = utcnow() + timedelta(days=1)  # past any lease an earlier test left

    def take(holder: str) -> bool:
        with any_db.transaction() as uow:
            return uow.leases.hold("notifier", holder, later, ttl=60)

    assert len(winners_of_a_race(take, [f"h{n}" for n in range(6)])) == 1


def _kill_pooled_backend(db: Database) -> None:
    """End, from another session, the server process behind the one connection in ``db``'s pool."""
    with db.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with Database(db.url).engine.connect() as other:
        assert other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar()
        other.commit()


def test_a_pooled_connection_idle_for_a_while_is_checked_and_replaced(postgres_db, monkeypatch) -> None:
    from shared.persistence import database

    _kill_pooled_backend(postgres_db)
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.0)  # every pooled connection counts as idle
    image = new_image(postgres_db)  # the dead connection is found before the transaction, and replaced
    with postgres_db.transaction(write=False) as uow:
        assert uow.images.get(image.id).id == image.id


def test_a_connection_in_steady_use_is_not_checked_first(postgres_db, monkeypatch) -> None:
    from shared.domain.errors import Unavailable
    from shared.persistence import database

    pings: list[object] = []
    monkeypatch.setattr(postgres_db.engine.dialect, "do_ping", lambda conn: pings.append(conn) or True)
    new_image(postgres_db)
    new_image(postgres_db)
    assert pings == []  # no round trip of its own before a transaction on a connection just used
    _kill_pooled_backend(postgres_db)
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 3600.0)
    with pytest.raises(Unavailable):  # lost unseen: that transaction fails as unavailable (503), never 500
        new_image(postgres_db)
    new_image(postgres_db)  # and the pool has replaced the connection for the next one


def test_reads_run_without_a_transaction_around_them_and_writes_within_one(postgres_db: Database) -> None:
    """A read-only unit of work on PostgreSQL sends no BEGIN or COMMIT: each statement is its own transaction
    (what READ COMMITTED gives the statements of one transaction anyway). Writes stay atomic."""

    def transaction_ids(write: bool) -> list[int]:
        with postgres_db.transaction(write=write) as uow:
            return [uow.conn.exec_driver_sql("SELECT txid_current()").scalar() for _ in range(2)]

    first, second = transaction_ids(write=False)
    assert first != second
    first, second = transaction_ids(write=True)
    assert first == second
