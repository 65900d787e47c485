"""Image metadata handlers on real SQLite with fakes for stores and the bus."""

from __future__ import annotations

import uuid

import pytest

from shared.domain.errors import Conflict, Duplicate, Forbidden, Invalid, NotFound, TooLarge
from shared.domain.queries import ImageQuery
from shared.domain.status import ImageStatus
from shared.handlers import images
from shared.handlers.image_updates import Change, update_image
from tests.conftest import admin, member, reader
from tests.helpers import event_types, outbox_events


def create(services, caller=None, **body):
    return images.create_image(services, caller or member(), {"disk_format": "raw", "container_format": "bare", **body})


def test_create_defaults_and_event(services) -> None:
    image = images.create_image(services, member("p1"), {"name": "cirros", "foo": "bar", "tags": ["a", "a", "b"]})
    assert image.status is ImageStatus.QUEUED
    assert (image.visibility, image.protected, image.os_hidden, image.min_disk, image.min_ram) == (
        "shared", False, False, 0, 0,
    )  # fmt: skip
    assert image.owner == "p1"
    assert image.tags == ["a", "b"]
    assert image.properties == {"foo": "bar"}
    stored = images.get_image(services, member("p1"), image.id)
    assert (stored.name, stored.properties, sorted(stored.tags)) == ("cirros", {"foo": "bar"}, ["a", "b"])
    assert outbox_events(services, image.id) == [("image.create", "INFO", "queued")]


def test_create_with_client_id_and_duplicate(services) -> None:
    image_id = str(uuid.uuid4())
    create(services, id=image_id)
    with pytest.raises(Duplicate, match="already exists"):
        create(services, id=image_id)


@pytest.mark.parametrize(
    ("name", "value"),
    [("status", "active"), ("checksum", "x"), ("size", 5), ("virtual_size", 5), ("self", "x"), ("file", "x"),
     ("schema", "x"), ("created_at", "x"), ("updated_at", "x"), ("direct_url", "x"), ("stores", "x")],
)  # fmt: skip
def test_create_read_only_attributes(services, name, value) -> None:
    with pytest.raises(Forbidden, match=f"Attribute '{name}' is read-only"):
        images.create_image(services, member(), {name: value})


def test_create_checks_the_schema_before_read_only(services) -> None:
    with pytest.raises(Invalid, match="is not one of"):
        images.create_image(services, member(), {"status": "x"})


def test_create_ignores_hashes_as_glance_does(services) -> None:
    image = images.create_image(services, member(), {"os_hash_algo": "md5", "os_hash_value": "abc"})
    assert (image.os_hash_algo, image.os_hash_value, image.properties) == (None, None, {})


def test_create_keeps_null_typed_properties(services) -> None:
    image = images.create_image(services, member(), {"kernel_id": None})
    assert images.get_image(services, member(), image.id).properties == {"kernel_id": None}


@pytest.mark.parametrize("name", ["location", "locations", "deleted", "deleted_at", "os_glance_anything"])
def test_create_reserved_attributes(services, name) -> None:
    with pytest.raises(Forbidden) as caught:
        images.create_image(services, member(), {name: [] if name == "locations" else "x"})
    assert caught.value.detail == f"Attribute '{name}' is reserved."


@pytest.mark.parametrize(
    "body",
    [{"min_ram": "x"}, {"name": "x" * 256}, {"disk_format": "nope"}, {"custom": 5}, {"visibility": "secret"},
     {"protected": "yes"}, {"id": "not-a-uuid"}, {"tags": ["x" * 256]}, {"kernel_id": "abc"}],
)  # fmt: skip
def test_create_schema_violations(services, body) -> None:
    with pytest.raises(Invalid, match="Provided object does not match schema 'image'"):
        images.create_image(services, member(), body)


def test_create_policies(services) -> None:
    with pytest.raises(Forbidden, match="add_image"):
        images.create_image(services, reader(), {})
    with pytest.raises(Forbidden, match="publicize_image"):
        images.create_image(services, member(), {"visibility": "public"})
    with pytest.raises(Forbidden, match="You are not permitted to create images owned by 'p2'"):
        images.create_image(services, member("p1"), {"owner": "p2"})
    assert images.create_image(services, admin(), {"visibility": "public", "owner": "p9"}).owner == "p9"
    assert images.create_image(services, member(), {"visibility": "community"}).visibility == "community"


def test_create_quotas(make_settings, services) -> None:
    services.settings = make_settings(image_property_quota=2, image_tag_quota=1)
    with pytest.raises(TooLarge):
        images.create_image(services, member(), {"a": "1", "b": "2", "c": "3"})
    with pytest.raises(TooLarge):
        images.create_image(services, member(), {"tags": ["x", "y"]})


def test_visibility_of_single_images(services) -> None:
    private = create(services, member("p1"), visibility="private")
    shared = create(services, member("p1"))
    public = create(services, admin(), visibility="public")
    community = create(services, member("p1"), visibility="community")
    other = member("p2")
    with pytest.raises(NotFound):
        images.get_image(services, other, private.id)
    with pytest.raises(NotFound):
        images.get_image(services, other, shared.id)  # shared, but p2 is not a member
    assert images.get_image(services, other, public.id).id == public.id
    assert images.get_image(services, other, community.id).id == community.id
    assert images.get_image(services, admin(), private.id).id == private.id
    with pytest.raises(NotFound):
        images.get_image(services, member(), str(uuid.uuid4()))


def test_list_scope_paging_and_order(services) -> None:
    mine = [create(services, member("p1"), name=f"mine-{i}") for i in range(5)]
    create(services, member("p2"), visibility="private")
    community = create(services, member("p2"), visibility="community")
    public = create(services, admin(), visibility="public")
    caller = member("p1")

    def ids(**query):
        page = images.list_images(services, caller, ImageQuery(project_id="p1", is_admin=False, limit=100, **query))
        return [image.id for image in page.images]

    everything = ids()
    assert everything == [public.id] + [image.id for image in reversed(mine)]  # created_at desc
    assert community.id not in everything
    assert community.id in ids(visibility="community")
    assert community.id in ids(visibility="all")

    first = images.list_images(services, caller, ImageQuery(project_id="p1", is_admin=False, limit=2))
    assert first.full and len(first.images) == 2
    rest = images.list_images(
        services, caller, ImageQuery(project_id="p1", is_admin=False, limit=100, marker=first.images[-1].id)
    )
    assert [i.id for i in first.images + rest.images] == everything
    with pytest.raises(Invalid, match="No image found with ID"):
        images.list_images(services, caller, ImageQuery(project_id="p1", is_admin=False, limit=2, marker="nope"))


def test_list_sorted_by_nullable_key_pages_without_gaps(services) -> None:
    caller = member("p1")
    created = [create(services, caller, name=name) for name in ["b", None, "a", None, "c", "a"]]
    sort = (("name", "asc"), ("created_at", "asc"), ("id", "asc"))
    seen, marker = [], None
    while True:
        page = images.list_images(
            services, caller, ImageQuery(project_id="p1", is_admin=False, limit=2, sort=sort, marker=marker)
        )
        seen += page.images
        if not page.full:
            break
        marker = page.images[-1].id
    assert len(seen) == len(created) and len({i.id for i in seen}) == len(created)
    assert [i.name for i in seen] == [None, None, "a", "a", "b", "c"]


def test_update_both_add_semantics(services) -> None:
    image = create(services, foo="1")
    updated = update_image(
        services, member(), image.id,
        [Change("replace", ("name",), "new"), Change("add", ("foo",), "2"), Change("add", ("bar",), "3"),
         Change("replace", ("tags",), ["x", "x", "y"])],
    )  # fmt: skip
    assert (updated.name, updated.properties, updated.tags) == ("new", {"foo": "2", "bar": "3"}, ["x", "y"])
    with pytest.raises(Conflict, match="already present"):
        update_image(services, member(), image.id, [Change("add", ("foo",), "9", add_replaces=False)])
    with pytest.raises(Conflict, match="does not exist"):
        update_image(services, member(), image.id, [Change("replace", ("missing",), "9")])
    with pytest.raises(Conflict, match="does not exist"):
        update_image(services, member(), image.id, [Change("remove", ("missing",))])
    with pytest.raises(Forbidden, match="may not be removed"):
        update_image(services, member(), image.id, [Change("remove", ("name",))])
    assert images.get_image(services, member(), image.id).properties == {"foo": "2", "bar": "3"}
    assert event_types(services, image.id) == ["image.create", "image.update"]


def test_update_rules(services) -> None:
    image = create(services)
    for change, error in [
        (Change("replace", ("status",), "active"), Forbidden),
        (Change("replace", ("os_glance_import_task",), "x"), Forbidden),
        (Change("replace", ("owner",), "p2"), Forbidden),
        (Change("replace", ("visibility",), "public"), Forbidden),
        (Change("replace", ("min_ram",), "many"), Invalid),
        (Change("add", ("custom",), 3), Invalid),
    ]:
        with pytest.raises(error):
            update_image(services, member(), image.id, [change])
    with pytest.raises(Forbidden, match="modify_image"):
        update_image(services, reader(), image.id, [Change("replace", ("name",), "x")])
    with pytest.raises(NotFound):
        update_image(services, member("p2"), image.id, [Change("replace", ("name",), "x")])


def test_empty_patch_saves_nothing(services) -> None:
    image = create(services)
    update_image(services, member(), image.id, [])
    assert event_types(services, image.id) == ["image.create"]


def test_tags(services) -> None:
    image = create(services)
    images.add_tag(services, member(), image.id, "t1")
    images.add_tag(services, member(), image.id, "t1")
    assert images.get_image(services, member(), image.id).tags == ["t1"]
    images.remove_tag(services, member(), image.id, "t1")
    with pytest.raises(NotFound):
        images.remove_tag(services, member(), image.id, "t1")
    with pytest.raises(Invalid):
        images.add_tag(services, member(), image.id, "x" * 256)


def test_deactivate_reactivate_rules(services) -> None:
    image = create(services)
    with pytest.raises(Forbidden, match="Not allowed to deactivate image in status 'queued'"):
        images.deactivate_image(services, member(), image.id)
    with pytest.raises(Forbidden, match="Not allowed to reactivate image in status 'queued'"):
        images.reactivate_image(services, member(), image.id)


def test_delete_without_data_goes_straight_to_deleted(services, dispatcher) -> None:
    image = create(services)
    images.delete_image(services, member(), image.id)
    with pytest.raises(NotFound):
        images.get_image(services, admin(), image.id)
    with services.db.transaction(write=False) as uow:
        assert uow.images.get(image.id).status is ImageStatus.DELETED
    assert outbox_events(services, image.id)[-1] == ("image.delete", "INFO", "deleted")
    assert dispatcher.sent == []


def test_delete_protected_and_policy(services) -> None:
    image = create(services, protected=True)
    with pytest.raises(Forbidden, match="is protected"):
        images.delete_image(services, member(), image.id)
    with pytest.raises(NotFound, match="Failed to find image"):
        images.delete_image(services, member("p2"), image.id)
    with pytest.raises(Forbidden, match="delete_image"):
        images.delete_image(services, reader(), image.id)
