"""Request sequences run against both Glance and glint by ``glance_diff``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

V21 = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
V20 = {"Content-Type": "application/openstack-images-v2.0-json-patch"}
OCTET = {"Content-Type": "application/octet-stream"}
ADMIN = "admin,member,reader"
SCENARIOS: list[tuple[str, Callable[[Any], None]]] = []


def scenario(function: Callable[[Any], None]) -> Callable[[Any], None]:
    SCENARIOS.append((function.__name__, function))
    return function


def create(side, label: str, body: dict[str, Any] | None = None, **kwargs: Any) -> str | None:
    response = side.call(label, "POST", "/v2/images", json_body=body if body is not None else {}, **kwargs)
    return response.json().get("id") if response.status_code == 201 else None


def raw_image(side, label: str = "create", project: str = "p1", roles: str = "member,reader", **body: Any) -> str:
    image_id = create(side, label, {"disk_format": "raw", "container_format": "bare", **body}, project=project,
                      roles=roles)  # fmt: skip
    assert image_id
    return image_id


def active_image(side, data: bytes = b"0123456789" * 100, project: str = "p1", **body: Any) -> str:
    image_id = raw_image(side, project=project, **body)
    side.call("upload", "PUT", f"/v2/images/{image_id}/file", data=data, headers=OCTET, project=project)
    return image_id


def patch(side, label: str, image_id: str, ops: Any, headers: dict[str, str] = V21, **kwargs: Any):
    return side.call(label, "PATCH", f"/v2/images/{image_id}", data=json.dumps(ops), headers=headers, **kwargs)


# -- create ------------------------------------------------------------------------------------
@scenario
def create_defaults_and_attributes(side) -> None:
    create(side, "empty body", {})
    create(side, "all base", {"name": "n", "visibility": "private", "protected": True, "os_hidden": True,
                              "min_disk": 3, "min_ram": 5, "disk_format": "qcow2", "container_format": "bare",
                              "tags": ["b", "a", "b"]})  # fmt: skip
    create(side, "custom properties", {"foo": "bar", "kernel_id": None, "os_distro": "cirros", "description": "d"})
    create(side, "client id", {"id": "11111111-2222-3333-4444-{run}000000"[:36]})
    create(side, "null name and formats", {"name": None, "disk_format": None, "container_format": None})
    create(side, "owner is own project", {"owner": side.project("p1")})
    create(side, "community", {"visibility": "community"})
    create(side, "shared", {"visibility": "shared"})


@scenario
def create_errors(side) -> None:
    for name in ["status", "checksum", "size", "virtual_size", "created_at", "updated_at", "self", "file", "schema",
                 "direct_url", "stores", "os_hash_algo", "os_hash_value", "locations", "location", "deleted",
                 "deleted_at", "os_glance_x", "os_glance_import_task", "id"]:  # fmt: skip
        create(side, f"attribute {name}", {name: "x"})
    for label, body in [
        ("bad min_ram", {"min_ram": "x"}), ("negative min_ram", {"min_ram": -1}), ("negative min_disk", {"min_disk": -5}),
        ("bad disk_format", {"disk_format": "floppy"}), ("bad container_format", {"container_format": "zip"}),
        ("bad visibility", {"visibility": "secret"}), ("protected string", {"protected": "yes"}),
        ("os_hidden int", {"os_hidden": 1}), ("name too long", {"name": "n" * 256}),
        ("custom int", {"foo": 5}), ("custom null", {"foo": None}), ("custom list", {"foo": ["a"]}),
        ("key too long", {"k" * 256: "v"}), ("key 255", {"k" * 255: "v"}), ("bad kernel_id", {"kernel_id": "x"}),
        ("description int", {"description": 5}), ("tags not list", {"tags": "a"}), ("tag too long", {"tags": ["t" * 256]}),
        ("tag int", {"tags": [1]}), ("bad cinder policy", {"cinder_encryption_key_deletion_policy": "never"}),
        ("owner other project", {"owner": "someone-else"}), ("public as member", {"visibility": "public"}),
        ("bad id", {"id": "abc"}),
    ]:  # fmt: skip
        create(side, label, body)
    side.call("list body", "POST", "/v2/images", json_body=[])
    side.call("string body", "POST", "/v2/images", json_body="x")
    side.call("malformed", "POST", "/v2/images", data="{nope", headers={"Content-Type": "application/json"})
    side.call("no body", "POST", "/v2/images", data=b"", headers={"Content-Type": "application/json"})
    create(side, "reader creates", {}, roles="reader")
    create(side, "admin public", {"visibility": "public"}, roles=ADMIN)
    create(side, "admin other owner", {"owner": "someone-else"}, roles=ADMIN)


@scenario
def create_duplicate_id(side) -> None:
    image_id = raw_image(side)
    create(side, "duplicate", {"id": image_id})
    side.call("delete", "DELETE", f"/v2/images/{image_id}")
    create(side, "duplicate of deleted", {"id": image_id})


# -- show / 404 / 405 -------------------------------------------------------------------------------
@scenario
def show_and_methods(side) -> None:
    image_id = raw_image(side, foo="bar")
    side.call("show", "GET", f"/v2/images/{image_id}")
    side.call("show other project", "GET", f"/v2/images/{image_id}", project="p2")
    side.call("show reader", "GET", f"/v2/images/{image_id}", roles="reader")
    side.call("show missing", "GET", "/v2/images/00000000-0000-0000-0000-000000000000")
    side.call("show bad id", "GET", "/v2/images/nope")
    side.call("PUT images", "PUT", "/v2/images")
    side.call("POST image", "POST", f"/v2/images/{image_id}")
    side.call("PUT image", "PUT", f"/v2/images/{image_id}")
    side.call("POST file", "POST", f"/v2/images/{image_id}/file")
    side.call("GET tag", "GET", f"/v2/images/{image_id}/tags/x")
    side.call("GET actions", "GET", f"/v2/images/{image_id}/actions/deactivate")
    side.call("unknown path", "GET", "/v2/nothing")
    side.call("no identity", "GET", "/v2/images", headers={"X-Identity-Status": "Invalid"})


# -- patch -----------------------------------------------------------------------------------------
@scenario
def patch_v21(side) -> None:
    image_id = raw_image(side, foo="1")
    patch(side, "replace name", image_id, [{"op": "replace", "path": "/name", "value": "x"}])
    patch(side, "add existing custom", image_id, [{"op": "add", "path": "/foo", "value": "2"}])
    patch(side, "add new custom", image_id, [{"op": "add", "path": "/bar", "value": "3"}])
    patch(side, "replace missing custom", image_id, [{"op": "replace", "path": "/nope", "value": "3"}])
    patch(side, "remove custom", image_id, [{"op": "remove", "path": "/bar"}])
    patch(side, "remove missing custom", image_id, [{"op": "remove", "path": "/bar"}])
    patch(side, "remove base", image_id, [{"op": "remove", "path": "/name"}])
    patch(side, "remove min_ram", image_id, [{"op": "remove", "path": "/min_ram"}])
    patch(side, "replace tags", image_id, [{"op": "replace", "path": "/tags", "value": ["a", "b", "a"]}])
    patch(side, "add tags", image_id, [{"op": "add", "path": "/tags", "value": ["c"]}])
    patch(side, "tags dash", image_id, [{"op": "add", "path": "/tags/-", "value": "d"}])
    patch(side, "escaped pointer", image_id, [{"op": "add", "path": "/a~1b~0c", "value": "e"}])
    patch(side, "depth 2", image_id, [{"op": "add", "path": "/a/b", "value": "e"}])
    patch(side, "no slash", image_id, [{"op": "add", "path": "name", "value": "e"}])
    patch(side, "bad escape", image_id, [{"op": "add", "path": "/a~2", "value": "e"}])
    patch(side, "adjacent slashes", image_id, [{"op": "add", "path": "//", "value": "e"}])
    patch(side, "empty path", image_id, [{"op": "add", "path": "", "value": "e"}])
    patch(side, "move", image_id, [{"op": "move", "from": "/name", "path": "/x"}])
    patch(side, "test", image_id, [{"op": "test", "path": "/name", "value": "x"}])
    patch(side, "no op", image_id, [{"path": "/name", "value": "x"}])
    patch(side, "no path", image_id, [{"op": "add", "value": "x"}])
    patch(side, "no value", image_id, [{"op": "replace", "path": "/name"}])
    patch(side, "not a list", image_id, {"op": "replace", "path": "/name", "value": "x"})
    patch(side, "item not object", image_id, ["x"])
    patch(side, "malformed", image_id, "[nope")
    patch(side, "empty", image_id, [])
    patch(side, "null name", image_id, [{"op": "replace", "path": "/name", "value": None}])
    patch(side, "custom int", image_id, [{"op": "add", "path": "/foo", "value": 5}])
    patch(side, "custom null", image_id, [{"op": "add", "path": "/foo", "value": None}])
    patch(side, "key too long", image_id, [{"op": "add", "path": "/" + "k" * 256, "value": "v"}])
    patch(side, "min_ram negative", image_id, [{"op": "replace", "path": "/min_ram", "value": -1}])
    patch(side, "min_ram string", image_id, [{"op": "replace", "path": "/min_ram", "value": "1"}])
    patch(side, "visibility public", image_id, [{"op": "replace", "path": "/visibility", "value": "public"}])
    patch(side, "visibility community", image_id, [{"op": "replace", "path": "/visibility", "value": "community"}])
    patch(side, "visibility bad", image_id, [{"op": "replace", "path": "/visibility", "value": "nope"}])
    patch(side, "owner", image_id, [{"op": "replace", "path": "/owner", "value": "x"}])
    patch(side, "owner same", image_id, [{"op": "replace", "path": "/owner", "value": side.project("p1")}])
    patch(side, "protected", image_id, [{"op": "replace", "path": "/protected", "value": True}])
    patch(side, "disk_format queued", image_id, [{"op": "replace", "path": "/disk_format", "value": "qcow2"}])
    patch(side, "many ops", image_id, [{"op": "add", "path": "/p1", "value": "1"},
                                       {"op": "replace", "path": "/nope", "value": "1"}])  # fmt: skip
    patch(side, "after failed batch", image_id, [])
    for name in ["status", "id", "checksum", "size", "os_hash_algo", "self", "file", "schema", "created_at",
                 "direct_url", "locations", "location", "deleted", "os_glance_x", "stores", "virtual_size"]:  # fmt: skip
        patch(side, f"replace {name}", image_id, [{"op": "replace", "path": f"/{name}", "value": "x"}])
    patch(side, "json content type", image_id, [], headers={"Content-Type": "application/json"})
    patch(side, "no content type", image_id, [], headers={"Content-Type": ""})
    patch(side, "reader", image_id, [{"op": "replace", "path": "/name", "value": "r"}], roles="reader")
    patch(side, "other project", image_id, [{"op": "replace", "path": "/name", "value": "r"}], project="p2")
    patch(side, "admin owner", image_id, [{"op": "replace", "path": "/owner", "value": "new-owner"}], roles=ADMIN)


@scenario
def patch_v20(side) -> None:
    image_id = raw_image(side, foo="1")
    patch(side, "replace", image_id, [{"replace": "/name", "value": "x"}], V20)
    patch(side, "add existing", image_id, [{"add": "/foo", "value": "2"}], V20)
    patch(side, "add new", image_id, [{"add": "/bar", "value": "2"}], V20)
    patch(side, "add base", image_id, [{"add": "/name", "value": "y"}], V20)
    patch(side, "remove", image_id, [{"remove": "/bar"}], V20)
    patch(side, "two ops", image_id, [{"add": "/a", "replace": "/b", "value": "1"}], V20)
    patch(side, "v21 syntax", image_id, [{"op": "add", "path": "/c", "value": "1"}], V20)


@scenario
def patch_active_image(side) -> None:
    image_id = active_image(side)
    patch(side, "disk_format active", image_id, [{"op": "replace", "path": "/disk_format", "value": "qcow2"}])
    patch(side, "same disk_format", image_id, [{"op": "replace", "path": "/disk_format", "value": "raw"}])
    patch(side, "container_format", image_id, [{"op": "replace", "path": "/container_format", "value": "ovf"}])
    patch(side, "name", image_id, [{"op": "replace", "path": "/name", "value": "ok"}])


@scenario
def property_and_tag_quota(side) -> None:
    image_id = raw_image(side)
    ops = [{"op": "add", "path": f"/p{n}", "value": "v"} for n in range(129)]
    patch(side, "129 properties", image_id, ops)
    create(side, "129 properties on create", {f"p{n}": "v" for n in range(129)})
    create(side, "129 tags on create", {"tags": [f"t{n}" for n in range(129)]})
    patch(side, "129 tags", image_id, [{"op": "replace", "path": "/tags", "value": [f"t{n}" for n in range(129)]}])
    patch(side, "128 tags", image_id, [{"op": "replace", "path": "/tags", "value": [f"t{n}" for n in range(128)]}])
    side.call("tag 129", "PUT", f"/v2/images/{image_id}/tags/extra")


# -- tags, actions, delete -----------------------------------------------------------------------
@scenario
def tags(side) -> None:
    image_id = raw_image(side)
    side.call("add", "PUT", f"/v2/images/{image_id}/tags/blue")
    side.call("add again", "PUT", f"/v2/images/{image_id}/tags/blue")
    side.call("long", "PUT", f"/v2/images/{image_id}/tags/{'t' * 256}")
    side.call("255", "PUT", f"/v2/images/{image_id}/tags/{'t' * 255}")
    side.call("show", "GET", f"/v2/images/{image_id}")
    side.call("delete missing", "DELETE", f"/v2/images/{image_id}/tags/red")
    side.call("delete", "DELETE", f"/v2/images/{image_id}/tags/blue")
    side.call("reader add", "PUT", f"/v2/images/{image_id}/tags/r", roles="reader")
    side.call("other add", "PUT", f"/v2/images/{image_id}/tags/o", project="p2")
    side.call("missing image", "PUT", "/v2/images/00000000-0000-0000-0000-000000000000/tags/x")


@scenario
def actions(side) -> None:
    queued = raw_image(side)
    side.call("deactivate queued", "POST", f"/v2/images/{queued}/actions/deactivate")
    side.call("reactivate queued", "POST", f"/v2/images/{queued}/actions/reactivate")
    image_id = active_image(side)
    side.call("reactivate active", "POST", f"/v2/images/{image_id}/actions/reactivate")
    side.call("reader deactivate", "POST", f"/v2/images/{image_id}/actions/deactivate", roles="reader")
    side.call("other deactivate", "POST", f"/v2/images/{image_id}/actions/deactivate", project="p2")
    side.call("deactivate", "POST", f"/v2/images/{image_id}/actions/deactivate")
    side.call("deactivate again", "POST", f"/v2/images/{image_id}/actions/deactivate")
    side.call("show", "GET", f"/v2/images/{image_id}")
    side.call("download member", "GET", f"/v2/images/{image_id}/file")
    side.call("download admin", "GET", f"/v2/images/{image_id}/file", roles=ADMIN)
    side.call("reactivate", "POST", f"/v2/images/{image_id}/actions/reactivate")
    side.call("unknown action", "POST", f"/v2/images/{image_id}/actions/explode")


@scenario
def delete_rules(side) -> None:
    protected = raw_image(side, protected=True)
    side.call("protected", "DELETE", f"/v2/images/{protected}")
    image_id = raw_image(side)
    side.call("reader", "DELETE", f"/v2/images/{image_id}", roles="reader")
    side.call("other", "DELETE", f"/v2/images/{image_id}", project="p2")
    side.call("missing", "DELETE", "/v2/images/00000000-0000-0000-0000-000000000000")
    side.call("delete", "DELETE", f"/v2/images/{image_id}")
    side.call("again", "DELETE", f"/v2/images/{image_id}")
    side.call("show", "GET", f"/v2/images/{image_id}")
    side.call("patch deleted", "PATCH", f"/v2/images/{image_id}", data="[]", headers=V21)
    active = active_image(side)
    side.call("delete active", "DELETE", f"/v2/images/{active}")
    side.call("show pending", "GET", f"/v2/images/{active}", roles=ADMIN)
    side.call("file pending", "GET", f"/v2/images/{active}/file")


# -- data --------------------------------------------------------------------------------------------
@scenario
def upload_rules(side) -> None:
    no_formats = create(side, "no formats", {})
    side.call("upload no formats", "PUT", f"/v2/images/{no_formats}/file", data=b"x", headers=OCTET)
    side.call("after", "GET", f"/v2/images/{no_formats}")
    image_id = raw_image(side)
    side.call("no content type", "PUT", f"/v2/images/{image_id}/file", data=b"x", headers={"Content-Type": ""})
    side.call("json content type", "PUT", f"/v2/images/{image_id}/file", data=b"x",
              headers={"Content-Type": "application/json"})  # fmt: skip
    side.call("bad size header", "PUT", f"/v2/images/{image_id}/file", data=b"x",
              headers={**OCTET, "x-openstack-image-size": "big"})  # fmt: skip
    side.call("unknown store", "PUT", f"/v2/images/{image_id}/file", data=b"x",
              headers={**OCTET, "X-Image-Meta-Store": "nope"})  # fmt: skip
    side.call("reader upload", "PUT", f"/v2/images/{image_id}/file", data=b"x", headers=OCTET, roles="reader")
    side.call("other upload", "PUT", f"/v2/images/{image_id}/file", data=b"x", headers=OCTET, project="p2")
    side.call("size mismatch", "PUT", f"/v2/images/{image_id}/file", data=b"abc",
              headers={**OCTET, "x-openstack-image-size": "10"})  # fmt: skip
    side.call("after mismatch", "GET", f"/v2/images/{image_id}")
    side.call("to cheap", "PUT", f"/v2/images/{image_id}/file", data=b"a" * 1000,
              headers={**OCTET, "X-Image-Meta-Store": "cheap"})  # fmt: skip
    side.call("after upload", "GET", f"/v2/images/{image_id}")
    side.call("again", "PUT", f"/v2/images/{image_id}/file", data=b"x", headers=OCTET)
    side.call("empty image", "PUT", f"/v2/images/{raw_image(side)}/file", data=b"", headers=OCTET)


@scenario
def download_rules(side) -> None:
    data = bytes(range(256)) * 4
    queued = raw_image(side)
    side.call("queued", "GET", f"/v2/images/{queued}/file")
    image_id = active_image(side, data)
    for header in ["bytes=0-9", "bytes=-5", "bytes=1000-", "bytes=1024-", "bytes=0-99999", "bytes=5-2",
                   "bytes=0-1,4-5", "bytes=x", "items=0-1", "bytes=-0", "bytes=-2000"]:  # fmt: skip
        side.call(f"range {header}", "GET", f"/v2/images/{image_id}/file", headers={"Range": header})
    side.call("content-range", "GET", f"/v2/images/{image_id}/file", headers={"Content-Range": "bytes 1-3/*"})
    side.call("full", "GET", f"/v2/images/{image_id}/file")
    side.call("reader", "GET", f"/v2/images/{image_id}/file", roles="reader")
    side.call("other", "GET", f"/v2/images/{image_id}/file", project="p2")


# -- list -----------------------------------------------------------------------------------------------
def _owned(side, query: str, project: str) -> str:
    """The query restricted to ``project``'s images, so both servers' histories do not matter."""
    owner = f"owner={side.project(project)}"
    return f"?{owner}" if not query else f"?{owner}&{query[1:]}"


def _list(side, label: str, query: str = "", **kwargs: Any) -> None:
    side.call(label, "GET", f"/v2/images{query}", **kwargs)


@scenario
def list_paging_and_sorting(side) -> None:
    for n, name in enumerate(["c", "a", "b", None]):
        raw_image(side, f"create {n}", name=name, project="lister")
    base = "lister"
    for query in ["", "?limit=2", "?limit=0", "?limit=-1", "?limit=x", "?limit=2000", "?marker=nope",
                  "?sort_key=name&sort_dir=asc", "?sort_key=name", "?sort=name:asc", "?sort=name",
                  "?sort=name:asc,created_at", "?sort_key=name&sort_key=size&sort_dir=asc&sort_dir=desc",
                  "?sort_key=name&sort_key=size&sort_dir=asc", "?sort_key=nope", "?sort_dir=up", "?sort=nope:asc",
                  "?sort=name:up", "?sort=name&sort_key=name", "?sort_key=owner", "?sort_key=name&sort_dir=asc&limit=1",
                  "?sort_dir=asc", "?sort_key=name&sort_dir=asc&sort_dir=desc&sort_dir=asc"]:  # fmt: skip
        _list(side, f"list {query}", _owned(side, query, base), project=base)
    first = side.call("page 1", "GET", "/v2/images" + _owned(side, "?limit=2&sort_key=name&sort_dir=asc", base), project=base,
                      record=False).json()  # fmt: skip
    _list(side, "page 2", first["next"][len("/v2/images") :], project=base)
    _list(side, "marker of other project", "?marker=" + (create(side, "other", {}, project="p9") or ""),
          project=base)  # fmt: skip


@scenario
def list_filters(side) -> None:
    p = "filters"
    raw_image(side, "a", name="alpha", project=p, tags=["x", "y"], foo="bar", min_ram=5)
    raw_image(side, "b", name="beta", project=p, tags=["x"], protected=True, disk_format="qcow2")
    raw_image(side, "c", name="a,b", project=p, os_hidden=True)
    for query in ["?name=alpha", "?name=in:alpha,beta", '?name=in:"a,b",alpha', "?name=eq:alpha", "?name=gt:a",
                  "?name=x:y", "?status=queued", "?status=in:queued,active", "?status=bogus",
                  "?disk_format=qcow2", "?container_format=bare", "?visibility=shared", "?visibility=private",
                  "?visibility=all", "?visibility=community", "?visibility=bogus", "?member_status=pending",
                  "?member_status=bogus", "?size_min=0", "?size_min=x", "?size_max=10", "?tag=x", "?tag=x&tag=y",
                  "?tag=z", "?protected=true", "?protected=false", "?protected=maybe", "?os_hidden=true",
                  "?os_hidden=false", "?os_hidden=x", "?foo=bar", "?foo=baz", "?min_ram=5", "?min_ram=x",
                  "?owner=nobody", "?created_at=gte:2000-01-01T00:00:00Z", "?created_at=lt:2000-01-01T00:00:00Z",
                  "?created_at=2000-01-01T00:00:00Z", "?created_at=gte:notatime", "?created_at=foo:2000-01-01T00:00:00Z",
                  "?updated_at=gt:2000-01-01T00:00:00Z", "?changes-since=2000-01-01T00:00:00Z",
                  "?id=in:00000000-0000-0000-0000-000000000000", "?checksum=abc", "?virtual_size_min=1"]:  # fmt: skip
        _list(side, f"filter {query}", _owned(side, query, p), project=p)


@scenario
def list_visibility_scope(side) -> None:
    owner = "scope-owner"
    raw_image(side, "private", name="private", visibility="private", project=owner)
    raw_image(side, "shared", name="shared", project=owner)
    raw_image(side, "community", name="community", visibility="community", project=owner)
    raw_image(side, "public", name="public", visibility="public", project=owner, roles=ADMIN)
    for who, roles in [(owner, "member,reader"), ("scope-other", "member,reader"), ("scope-admin", ADMIN),
                       ("scope-reader", "reader")]:  # fmt: skip
        for query in ["", "?visibility=all", "?visibility=community", "?visibility=shared", "?visibility=private",
                      "?member_status=all"]:  # fmt: skip
            path = f"/v2/images?owner={side.project(owner)}" + (f"&{query[1:]}" if query else "")
            side.call(f"{who} {query}", "GET", path, project=who, roles=roles)
    side.call("no roles", "GET", "/v2/images", roles="")


# -- members ------------------------------------------------------------------------------------------------
@scenario
def members(side) -> None:
    image_id = raw_image(side)
    base = f"/v2/images/{image_id}/members"
    member = side.project("friend")
    side.call("list empty", "GET", base)
    side.call("add", "POST", base, json_body={"member": member})
    side.call("add again", "POST", base, json_body={"member": member})
    side.call("add missing key", "POST", base, json_body={})
    side.call("add empty", "POST", base, json_body={"member": ""})
    side.call("add int", "POST", base, json_body={"member": 5})
    side.call("add malformed", "POST", base, data="{x", headers={"Content-Type": "application/json"})
    side.call("list", "GET", base)
    side.call("get", "GET", f"{base}/{member}")
    side.call("get missing", "GET", f"{base}/stranger")
    side.call("friend sees image", "GET", f"/v2/images/{image_id}", project="friend")
    owned = f"owner={side.project('p1')}"
    side.call("friend lists default", "GET", f"/v2/images?{owned}", project="friend")
    side.call("friend lists pending", "GET", f"/v2/images?{owned}&member_status=pending", project="friend")
    side.call("friend lists members", "GET", base, project="friend")
    side.call("friend gets itself", "GET", f"{base}/{member}", project="friend")
    side.call("owner accepts", "PUT", f"{base}/{member}", json_body={"status": "accepted"})
    side.call("friend bad status", "PUT", f"{base}/{member}", json_body={"status": "maybe"}, project="friend")
    side.call("friend no status", "PUT", f"{base}/{member}", json_body={}, project="friend")
    side.call("friend accepts", "PUT", f"{base}/{member}", json_body={"status": "accepted"}, project="friend")
    side.call("friend lists default after", "GET", f"/v2/images?{owned}", project="friend")
    side.call("friend rejects", "PUT", f"{base}/{member}", json_body={"status": "rejected"}, project="friend")
    side.call("friend lists after reject", "GET", f"/v2/images?{owned}", project="friend")
    side.call("friend shows after reject", "GET", f"/v2/images/{image_id}", project="friend")
    side.call("friend adds member", "POST", base, json_body={"member": "x"}, project="friend")
    side.call("friend deletes member", "DELETE", f"{base}/{member}", project="friend")
    side.call("stranger lists", "GET", base, project="stranger")
    side.call("stranger gets", "GET", f"{base}/{member}", project="stranger")
    side.call("reader adds", "POST", base, json_body={"member": "r"}, roles="reader")
    side.call("reader lists", "GET", base, roles="reader")
    side.call("admin updates status", "PUT", f"{base}/{member}", json_body={"status": "pending"}, project="boss",
              roles=ADMIN)  # fmt: skip
    side.call("delete", "DELETE", f"{base}/{member}")
    side.call("delete again", "DELETE", f"{base}/{member}")
    side.call("friend after delete", "GET", f"/v2/images/{image_id}", project="friend")
    side.call("members 405", "PUT", base)
    side.call("member 405", "POST", f"{base}/{member}")


@scenario
def members_and_visibility(side) -> None:
    private = raw_image(side, visibility="private")
    side.call("add to private", "POST", f"/v2/images/{private}/members", json_body={"member": "m"})
    side.call("list private", "GET", f"/v2/images/{private}/members")
    community = raw_image(side, visibility="community")
    side.call("add to community", "POST", f"/v2/images/{community}/members", json_body={"member": "m"})
    side.call("community by other", "GET", f"/v2/images/{community}", project="p2")
    side.call("community listed by other", "GET", f"/v2/images?owner={side.project('p1')}", project="p2")
    shared = raw_image(side)
    friend = side.project("friend")
    side.call("add", "POST", f"/v2/images/{shared}/members", json_body={"member": friend})
    patch(side, "make private", shared, [{"op": "replace", "path": "/visibility", "value": "private"}])
    side.call("friend after private", "GET", f"/v2/images/{shared}", project="friend")
    side.call("members of private", "GET", f"/v2/images/{shared}/members")
    patch(side, "make shared", shared, [{"op": "replace", "path": "/visibility", "value": "shared"}])
    side.call("friend after shared", "GET", f"/v2/images/{shared}", project="friend")
    side.call("friend downloads queued", "GET", f"/v2/images/{shared}/file", project="friend")
    side.call("friend patches", "PATCH", f"/v2/images/{shared}", data="[]", headers=V21, project="friend")
    side.call("friend deletes", "DELETE", f"/v2/images/{shared}", project="friend")


@scenario
def member_quota(side) -> None:
    image_id = raw_image(side)
    for n in range(128):
        side.call(f"add {n}", "POST", f"/v2/images/{image_id}/members", json_body={"member": f"m{n}"}, record=False)
    side.call("add 129th", "POST", f"/v2/images/{image_id}/members", json_body={"member": "last"})


# -- schemas and versions ----------------------------------------------------------------------------------
@scenario
def schemas_and_versions(side) -> None:
    for name in ["image", "images", "member", "members", "task", "tasks", "nope"]:
        side.call(f"schema {name}", "GET", f"/v2/schemas/{name}")
    side.call("root", "GET", "/")
    side.call("versions", "GET", "/versions")
    side.call("v2 root", "GET", "/v2/")
    side.call("schemas without identity", "GET", "/v2/schemas/image", headers={"X-Identity-Status": "x"})


@scenario
def methods_and_paths(side) -> None:
    image_id = active_image(side)
    side.call("HEAD image", "HEAD", f"/v2/images/{image_id}")
    side.call("HEAD file", "HEAD", f"/v2/images/{image_id}/file")
    side.call("OPTIONS images", "OPTIONS", "/v2/images")
    side.call("trailing slash list", "GET", "/v2/images/?limit=1&owner=nobody")
    side.call("trailing slash show", "GET", f"/v2/images/{image_id}/")
    side.call("v2", "GET", "/v2")
    side.call("uppercase id", "GET", f"/v2/images/{image_id.upper()}")
    side.call("file of missing", "GET", "/v2/images/00000000-0000-0000-0000-000000000000/file")
    side.call("upload to missing", "PUT", "/v2/images/00000000-0000-0000-0000-000000000000/file", data=b"x",
              headers=OCTET)  # fmt: skip
    side.call("deactivate missing", "POST", "/v2/images/00000000-0000-0000-0000-000000000000/actions/deactivate")
    side.call("members of missing", "GET", "/v2/images/00000000-0000-0000-0000-000000000000/members")


@scenario
def downloads_across_visibility(side) -> None:
    data = b"abcdef" * 100
    public = active_image(side, data, visibility="public", roles=ADMIN) if False else None
    community = active_image(side, data, visibility="community")
    side.call("community by other member", "GET", f"/v2/images/{community}/file", project="p2")
    side.call("community by other reader", "GET", f"/v2/images/{community}/file", project="p2", roles="reader")
    shared = active_image(side, data)
    side.call("add member", "POST", f"/v2/images/{shared}/members", json_body={"member": side.project("friend")})
    side.call("pending member downloads", "GET", f"/v2/images/{shared}/file", project="friend")
    side.call("stranger downloads", "GET", f"/v2/images/{shared}/file", project="stranger")
    side.call("admin downloads", "GET", f"/v2/images/{shared}/file", project="boss", roles=ADMIN)
    assert public is None


@scenario
def deactivated_image_rules(side) -> None:
    image_id = active_image(side)
    side.call("deactivate", "POST", f"/v2/images/{image_id}/actions/deactivate")
    patch(side, "patch name", image_id, [{"op": "replace", "path": "/name", "value": "d"}])
    side.call("tag", "PUT", f"/v2/images/{image_id}/tags/t")
    side.call("upload", "PUT", f"/v2/images/{image_id}/file", data=b"x", headers=OCTET)
    side.call("list", "GET", f"/v2/images?owner={side.project('p1')}&status=deactivated")
    side.call("admin show", "GET", f"/v2/images/{image_id}", project="boss", roles=ADMIN)
    side.call("delete by owner", "DELETE", f"/v2/images/{image_id}")
    side.call("show after", "GET", f"/v2/images/{image_id}")


@scenario
def sorting_with_nulls_through_pages(side) -> None:
    project = "sorter"
    for n, body in enumerate([{"name": "b"}, {}, {"name": "a"}, {}, {"name": "c", "min_ram": 3}]):
        raw_image(side, f"create {n}", project=project, **body)
    for query in [
        "sort=name:asc",
        "sort=name:desc",
        "sort_key=min_ram&sort_dir=asc",
        "sort=size:asc,name:desc",
        "sort=disk_format",
        "sort=status:asc",
    ]:
        url: str | None = f"/v2/images?owner={side.project(project)}&limit=2&{query}"
        for page in range(4):  # a fixed number of observations, so that both sides stay aligned
            if url is None:
                side.log.append((f"{query} page {page}", {"status": None, "headers": {}, "body": "no next link"}))
                continue
            body = side.call(f"{query} page {page}", "GET", url, project=project).json()
            url = body.get("next")


@scenario
def filters_on_uploaded_images(side) -> None:
    project = "sizes"
    small = active_image(side, b"s" * 100, project=project)
    big = active_image(side, b"b" * 5000, project=project)
    owner = f"owner={side.project(project)}"
    for query in [
        "size_min=101",
        "size_max=100",
        "size_min=100&size_max=5000",
        "status=active",
        f"id={small}",
        f"id=in:{small},{big}",
        "virtual_size_min=200",
        "checksum=nope",
        "disk_format=in:raw,qcow2",
        "sort_key=size&sort_dir=asc",
        "sort=size",
    ]:
        side.call(query, "GET", f"/v2/images?{owner}&{query}", project=project)


@scenario
def visibility_changes(side) -> None:
    image_id = raw_image(side)
    patch(side, "to community", image_id, [{"op": "replace", "path": "/visibility", "value": "community"}])
    side.call("other sees community", "GET", f"/v2/images/{image_id}", project="p2")
    patch(side, "to public by member", image_id, [{"op": "replace", "path": "/visibility", "value": "public"}])
    patch(side, "to public by admin", image_id, [{"op": "replace", "path": "/visibility", "value": "public"}],
          project="boss", roles=ADMIN)  # fmt: skip
    side.call("other sees public", "GET", f"/v2/images/{image_id}", project="p2")
    patch(side, "owner back to private", image_id, [{"op": "replace", "path": "/visibility", "value": "private"}])
    side.call("other after private", "GET", f"/v2/images/{image_id}", project="p2")
    side.call("admin lists community of others", "GET", f"/v2/images?owner={side.project('p1')}", project="boss",
              roles=ADMIN)  # fmt: skip


@scenario
def hidden_and_protected(side) -> None:
    owner = f"owner={side.project('p1')}"
    hidden = raw_image(side, os_hidden=True, name="hidden")
    raw_image(side, name="shown")
    for query in ["", "&os_hidden=true", "&os_hidden=false", "&visibility=all", "&visibility=shared&os_hidden=true"]:
        side.call(f"list{query}", "GET", f"/v2/images?{owner}{query}")
    side.call("show hidden", "GET", f"/v2/images/{hidden}")
    protected = raw_image(side, protected=True)
    side.call("delete protected", "DELETE", f"/v2/images/{protected}")
    side.call("admin deletes protected", "DELETE", f"/v2/images/{protected}", project="boss", roles=ADMIN)
    patch(side, "unprotect", protected, [{"op": "replace", "path": "/protected", "value": False}])
    side.call("delete unprotected", "DELETE", f"/v2/images/{protected}")


@scenario
def unicode_and_property_filters(side) -> None:
    owner = f"owner={side.project('p1')}"
    raw_image(side, name="Ünïcødé ☃", motto="naïve café")
    raw_image(side, name="plain", motto="x")
    for query in ["name=Ünïcødé ☃", "motto=naïve café", "motto=in:x,y", "motto=x", "name=in:plain,Ünïcødé ☃"]:
        side.call(f"filter {query}", "GET", f"/v2/images?{owner}&{query}")


@scenario
def deleted_markers_and_patches(side) -> None:
    owner = f"owner={side.project('p1')}"
    keep = raw_image(side)
    gone = raw_image(side)
    side.call("delete", "DELETE", f"/v2/images/{gone}")
    side.call("marker deleted", "GET", f"/v2/images?{owner}&marker={gone}")
    side.call("marker kept", "GET", f"/v2/images?{owner}&marker={keep}")
    pending = active_image(side)
    side.call("delete active", "DELETE", f"/v2/images/{pending}")
    patch(side, "patch pending_delete", pending, [{"op": "replace", "path": "/name", "value": "x"}])
    side.call("tag pending_delete", "PUT", f"/v2/images/{pending}/tags/t")
    side.call("members of pending_delete", "GET", f"/v2/images/{pending}/members")
    side.call("reactivate pending_delete", "POST", f"/v2/images/{pending}/actions/reactivate")


# -- import, stores, tasks ------------------------------------------------------------------------------
WEB = "http://127.0.0.1:8765/img.raw"  # a static file server both sides can reach (see the harness README)


def wait_until_settled(side, image_id: str, project: str = "p1", roles: str = "member,reader") -> None:
    """Poll (unrecorded) until the image's import task has ended."""
    import time

    for _ in range(100):
        body = side.call("poll", "GET", f"/v2/images/{image_id}/tasks", project=project, roles=roles,
                         record=False).json()  # fmt: skip
        tasks = body.get("tasks", [])
        if tasks and all(task["status"] in ("success", "failure") for task in tasks):
            return
        time.sleep(0.1)


@scenario
def discovery(side) -> None:
    side.call("import methods", "GET", "/v2/info/import")
    side.call("stores", "GET", "/v2/info/stores")
    side.call("stores detail as member", "GET", "/v2/info/stores/detail")
    side.call("usage", "GET", "/v2/info/usage")
    create(side, "create headers", {})


@scenario
def import_request_errors(side) -> None:
    queued = raw_image(side)
    for body in [
        {},
        {"method": {}},
        {"method": {"name": "bogus"}},
        {"method": {"name": "glance-download"}},
        {"method": {"name": "web-download"}, "all_stores": "yes"},
        {"method": {"name": "web-download", "uri": WEB}, "all_stores": True, "stores": ["fast"]},
        {"method": {"name": "web-download", "uri": WEB}, "all_stores_must_succeed": "no"},
        {"method": {"name": "glance-direct"}},
        {"method": {"name": "copy-image"}},
        {"method": {"name": "web-download"}},
        {"method": {"name": "web-download", "uri": "ftp://127.0.0.1/x"}},
        {"method": {"name": "web-download", "uri": "http://localhost/x"}},
        {"method": {"name": "web-download", "uri": WEB}, "stores": ["nope"]},
    ]:
        side.call(f"import {json.dumps(body)}", "POST", f"/v2/images/{queued}/import", json_body=body)
    side.call("import malformed", "POST", f"/v2/images/{queued}/import", data="nope",
              headers={"Content-Type": "application/json"})  # fmt: skip
    no_formats = create(side, "no formats", {})
    side.call("web-download without formats", "POST", f"/v2/images/{no_formats}/import",
              json_body={"method": {"name": "web-download", "uri": WEB}})  # fmt: skip
    side.call("reader imports", "POST", f"/v2/images/{queued}/import", roles="reader",
              json_body={"method": {"name": "web-download", "uri": WEB}})  # fmt: skip
    side.call("other imports", "POST", f"/v2/images/{queued}/import", project="p2",
              json_body={"method": {"name": "web-download", "uri": WEB}})  # fmt: skip
    side.call("import missing image", "POST", "/v2/images/00000000-0000-0000-0000-000000000000/import",
              json_body={"method": {"name": "web-download", "uri": WEB}})  # fmt: skip


@scenario
def stage_rules(side) -> None:
    image_id = raw_image(side)
    side.call(
        "bad content type", "PUT", f"/v2/images/{image_id}/stage", data=b"x", headers={"Content-Type": "text/plain"}
    )
    side.call("reader stages", "PUT", f"/v2/images/{image_id}/stage", data=b"x", headers=OCTET, roles="reader")
    side.call("other stages", "PUT", f"/v2/images/{image_id}/stage", data=b"x", headers=OCTET, project="p2")
    side.call("stage", "PUT", f"/v2/images/{image_id}/stage", data=b"staged data", headers=OCTET)
    side.call("show staged", "GET", f"/v2/images/{image_id}")
    side.call("stage again", "PUT", f"/v2/images/{image_id}/stage", data=b"x", headers=OCTET)
    side.call("upload to staged", "PUT", f"/v2/images/{image_id}/file", data=b"x", headers=OCTET)
    side.call("download staged", "GET", f"/v2/images/{image_id}/file")
    side.call("web-download to staged", "POST", f"/v2/images/{image_id}/import",
              json_body={"method": {"name": "web-download", "uri": WEB}})  # fmt: skip


@scenario
def glance_direct_import(side) -> None:
    image_id = raw_image(side)
    side.call("stage", "PUT", f"/v2/images/{image_id}/stage", data=b"0123456789" * 50, headers=OCTET)
    side.call("import", "POST", f"/v2/images/{image_id}/import",
              json_body={"method": {"name": "glance-direct"}, "stores": ["fast", "cheap"]})  # fmt: skip
    side.call("import again at once", "POST", f"/v2/images/{image_id}/import",
              json_body={"method": {"name": "glance-direct"}})  # fmt: skip
    wait_until_settled(side, image_id)
    side.call("show", "GET", f"/v2/images/{image_id}")
    side.call("image tasks", "GET", f"/v2/images/{image_id}/tasks")
    side.call("download", "GET", f"/v2/images/{image_id}/file")


@scenario
def web_download_import(side) -> None:
    image_id = raw_image(side)
    side.call("import", "POST", f"/v2/images/{image_id}/import",
              json_body={"method": {"name": "web-download", "uri": WEB}, "all_stores": True})  # fmt: skip
    wait_until_settled(side, image_id)
    side.call("show", "GET", f"/v2/images/{image_id}")
    broken = raw_image(side)
    side.call("import missing file", "POST", f"/v2/images/{broken}/import",
              json_body={"method": {"name": "web-download", "uri": "http://127.0.0.1:8765/missing"}})  # fmt: skip
    wait_until_settled(side, broken)
    side.call("show failed", "GET", f"/v2/images/{broken}")


@scenario
def copy_image_and_store_delete(side) -> None:
    image_id = active_image(side)
    admin = {"project": "boss", "roles": ADMIN}
    side.call("copy to fast", "POST", f"/v2/images/{image_id}/import", **admin,
              json_body={"method": {"name": "copy-image"}, "stores": ["fast"]})  # fmt: skip
    side.call("copy to cheap", "POST", f"/v2/images/{image_id}/import", **admin,
              json_body={"method": {"name": "copy-image"}, "stores": ["cheap"]})  # fmt: skip
    wait_until_settled(side, image_id, **admin)
    side.call("show copied", "GET", f"/v2/images/{image_id}")
    side.call("copy all stores again", "POST", f"/v2/images/{image_id}/import", **admin,
              json_body={"method": {"name": "copy-image"}, "all_stores": True})  # fmt: skip
    side.call("store delete by member", "DELETE", f"/v2/stores/cheap/{image_id}")
    side.call("store delete unknown store", "DELETE", f"/v2/stores/nope/{image_id}", **admin)
    side.call("store delete", "DELETE", f"/v2/stores/cheap/{image_id}", **admin)
    side.call("store delete again", "DELETE", f"/v2/stores/cheap/{image_id}", **admin)
    side.call("store delete last", "DELETE", f"/v2/stores/fast/{image_id}", **admin)
    side.call("show after", "GET", f"/v2/images/{image_id}")
    queued = raw_image(side)
    side.call("store delete queued", "DELETE", f"/v2/stores/fast/{queued}", **admin)


@scenario
def tasks_api(side) -> None:
    admin = {"project": "boss", "roles": ADMIN}
    side.call("list as member", "GET", "/v2/tasks")
    side.call("show as member", "GET", "/v2/tasks/00000000-0000-0000-0000-000000000000")
    for query in [
        "marker=nope",
        "status=bogus",
        "type=api_image_import",
        "sort_key=bogus",
        "sort_dir=up",
        "limit=x",
        "type=import&status=success&limit=0",
    ]:
        side.call(f"list {query}", "GET", f"/v2/tasks?{query}", **admin)
    side.call("show missing", "GET", "/v2/tasks/00000000-0000-0000-0000-000000000000", **admin)
    side.call("post without input", "POST", "/v2/tasks", json_body={"type": "import"}, **admin)
    side.call("post without type", "POST", "/v2/tasks", json_body={"input": {}}, **admin)
    side.call("post bad type", "POST", "/v2/tasks", json_body={"type": "nope", "input": {}}, **admin)
    side.call("delete", "DELETE", "/v2/tasks/00000000-0000-0000-0000-000000000000", **admin)


@scenario
def location_api(side) -> None:
    image_id = raw_image(side)
    url = {"url": WEB}
    service = {"roles": "service,member,reader"}
    side.call("member adds", "POST", f"/v2/images/{image_id}/locations", json_body=url)
    side.call("admin adds", "POST", f"/v2/images/{image_id}/locations", json_body=url, roles=ADMIN)
    side.call("reader adds", "POST", f"/v2/images/{image_id}/locations", json_body=url, roles="reader")
    side.call("other adds", "POST", f"/v2/images/{image_id}/locations", json_body=url, project="p2", **service)
    for body in [
        {},
        {"url": 5},
        {"url": WEB, "validation_data": {"os_hash_algo": "sha512"}},
        {"url": WEB, "validation_data": {"checksum": "abc"}},
        {"url": WEB, "validation_data": {"os_hash_algo": "sha3", "os_hash_value": "ab"}},
        {"url": WEB, "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "zz"}},
        {"url": WEB, "validation_data": {"os_hash_algo": "sha256", "os_hash_value": "abcd"}},
        {"url": "http://169.254.169.254/latest/meta-data"},
    ]:
        side.call(f"service adds {json.dumps(body)}", "POST", f"/v2/images/{image_id}/locations", json_body=body,
                  **service)  # fmt: skip
    side.call("malformed", "POST", f"/v2/images/{image_id}/locations", data="{",
              headers={"Content-Type": "application/json"}, **service)  # fmt: skip
    side.call("missing image", "POST", "/v2/images/00000000-0000-0000-0000-000000000000/locations",
              json_body=url, **service)  # fmt: skip
    side.call("member lists", "GET", f"/v2/images/{image_id}/locations")
    side.call("admin lists", "GET", f"/v2/images/{image_id}/locations", roles=ADMIN)
    side.call("put locations", "PUT", f"/v2/images/{image_id}/locations", json_body=url, **service)
    active = active_image(side)
    side.call("service adds to active", "POST", f"/v2/images/{active}/locations", json_body=url, **service)
    side.call("show", "GET", f"/v2/images/{image_id}")
    side.call("service adds a URL no store holds", "POST", f"/v2/images/{image_id}/locations", json_body=url,
              **service)  # fmt: skip
