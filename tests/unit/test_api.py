"""The API over the Flask test client, on the same fakes: codes, headers and Glance's bodies."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from services.api.app import create_app
from shared.handlers import uploads
from shared.handlers.heartbeat import Heartbeat

DATA = os.urandom(100_000)
MEMBER = {"X-Identity-Status": "Confirmed", "X-User-Id": "u1", "X-Project-Id": "p1", "X-Roles": "member,reader"}
READER = {**MEMBER, "X-User-Id": "u2", "X-Roles": "reader"}
OTHER = {**MEMBER, "X-Project-Id": "p2"}
ADMIN = {**MEMBER, "X-Project-Id": "p0", "X-Roles": "admin"}
JSON = {"Accept": "application/json"}
V21 = "application/openstack-images-v2.1-json-patch"


@pytest.fixture
def client(services):
    return create_app(services.settings, services).test_client()


def create(client, headers=MEMBER, **body):
    response = client.post("/v2/images", json={"disk_format": "raw", "container_format": "bare", **body},
                           headers=headers)  # fmt: skip
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def upload_and_store(client, services, image_id, data=DATA):
    response = client.put(f"/v2/images/{image_id}/file", data=data,
                          headers={**MEMBER, "Content-Type": "application/octet-stream"})  # fmt: skip
    assert response.status_code == 204, response.get_data(as_text=True)
    [job_id] = services.dispatcher.drain("uploads")
    assert uploads.run_upload(services, job_id, Heartbeat(services.db, "worker:t", 60)) == "succeeded"


def test_versions_need_no_identity(client) -> None:
    root = client.get("/")
    assert root.status_code == 300
    versions = client.get("/versions")
    assert versions.status_code == 200
    ids = [v["id"] for v in versions.get_json()["versions"]]
    assert "v2.0" in ids and [v["id"] for v in versions.get_json()["versions"] if v["status"] == "CURRENT"] == ["v2.17"]
    assert versions.get_json()["versions"][0]["links"][0]["href"] == "http://localhost/v2/"
    assert root.headers["x-openstack-request-id"].startswith("req-")


def test_identity_required(client) -> None:
    response = client.get("/v2/images", headers=JSON)
    assert response.status_code == 401
    assert response.get_json()["title"] == "Unauthorized"
    assert response.headers["x-openstack-request-id"].startswith("req-")
    assert client.get("/v2/images", headers={**MEMBER, "X-Identity-Status": "Invalid"}).status_code == 401


def test_error_body_formats(client) -> None:
    missing = "/v2/images/00000000-0000-0000-0000-000000000000"
    as_json = client.get(missing, headers={**MEMBER, **JSON})
    assert as_json.status_code == 404
    assert as_json.get_json() == {
        "message": "No image found with ID 00000000-0000-0000-0000-000000000000<br /><br />\n\n\n",
        "code": "404 Not Found",
        "title": "Not Found",
    }
    as_html = client.get(missing, headers=MEMBER)
    assert as_html.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert "<h1>404 Not Found</h1>" in as_html.get_data(as_text=True)
    as_text = client.get(missing, headers={**MEMBER, "Accept": "text/plain"})
    assert as_text.get_data(as_text=True).startswith("404 Not Found\n\nNo image found")


def test_create_show_and_headers(client) -> None:
    response = client.post("/v2/images", json={"name": "a", "foo": "bar"}, headers=MEMBER)
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"http://localhost/v2/images/{body['id']}"
    assert response.headers["OpenStack-image-store-ids"] == "fast,cheap"
    assert list(body)[:2] == ["foo", "name"]
    assert body["self"] == f"/v2/images/{body['id']}" and body["schema"] == "/v2/schemas/image"
    assert body["status"] == "queued" and body["visibility"] == "shared" and "stores" not in body
    shown = client.get(f"/v2/images/{body['id']}", headers=MEMBER).get_json()
    assert shown == body


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{nope", 400, "Malformed JSON in request body."),
        (b'{"status": "active"}', 403, "Attribute 'status' is read-only."),
        (b'{"os_glance_x": "a"}', 403, "Access was denied to this resource."),
        (b'{"min_ram": "x"}', 400, "Provided object does not match schema 'image'"),
        (b'{"min_ram": -1}', 400, "Invalid value '-1' for parameter 'min_ram': Cannot be a negative value"),
        (b'{"min_disk": 2147483648}', 400, "'min_disk' value out of range, must not exceed 2147483647."),
    ],
)
def test_create_errors(client, body, status, message) -> None:
    response = client.post("/v2/images", data=body, headers={**MEMBER, **JSON, "Content-Type": "application/json"})
    assert response.status_code == status
    assert response.get_json()["message"].startswith(message)


def test_method_not_allowed_lists_allowed_methods(client) -> None:
    response = client.put("/v2/images", headers={**MEMBER, **JSON})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


def test_patch_media_types(client) -> None:
    image = create(client)
    url = f"/v2/images/{image['id']}"
    wrong = client.patch(url, data="[]", headers={**MEMBER, **JSON, "Content-Type": "application/json"})
    assert wrong.status_code == 415
    assert wrong.headers["Accept-Patch"] == (
        "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch"
    )
    v21 = client.patch(url, data=json.dumps([{"op": "add", "path": "/name", "value": "n1"},
                                             {"op": "add", "path": "/a~1b", "value": "slash"}]),
                       headers={**MEMBER, "Content-Type": V21})  # fmt: skip
    assert v21.status_code == 200 and v21.get_json()["name"] == "n1" and v21.get_json()["a/b"] == "slash"
    v20 = client.patch(url, data=json.dumps([{"replace": "/name", "value": "n2"}]),
                       headers={**MEMBER, "Content-Type": "application/openstack-images-v2.0-json-patch"})  # fmt: skip
    assert v20.status_code == 200 and v20.get_json()["name"] == "n2"
    for bad in ('{"op": "add"}', '[{"op": "move", "path": "/x"}]', '[{"op": "add", "path": "x", "value": 1}]',
                '[{"op": "add", "path": "/a/b", "value": "1"}]', '[{"op": "replace", "path": "/name"}]'):  # fmt: skip
        response = client.patch(url, data=bad, headers={**MEMBER, **JSON, "Content-Type": V21})
        assert response.status_code == 400, bad
    read_only = client.patch(url, data='[{"op": "replace", "path": "/status", "value": "active"}]',
                             headers={**MEMBER, "Content-Type": V21})  # fmt: skip
    assert read_only.status_code == 403


def test_list_paging_links(client) -> None:
    made = [create(client, name=f"i{n}")["id"] for n in range(3)]
    first = client.get("/v2/images?limit=2", headers=MEMBER).get_json()
    assert [i["id"] for i in first["images"]] == made[::-1][:2]
    assert first["first"] == "/v2/images?limit=2"
    assert first["next"] == f"/v2/images?limit=2&marker={made[1]}"
    assert first["schema"] == "/v2/schemas/images"
    second = client.get(first["next"], headers=MEMBER).get_json()
    assert [i["id"] for i in second["images"]] == [made[0]] and "next" not in second
    assert client.get("/v2/images?limit=x", headers=MEMBER).status_code == 400
    assert client.get("/v2/images?marker=nope", headers=MEMBER).status_code == 400
    assert client.get("/v2/images?sort=name:up", headers=MEMBER).status_code == 400
    assert client.get("/v2/images?sort=name&sort_key=id", headers=MEMBER).status_code == 400
    assert client.get("/v2/images?visibility=secret", headers=MEMBER).status_code == 400
    assert client.get("/v2/images?changes-since=2020-01-01", headers=MEMBER).status_code == 400
    ordered = client.get("/v2/images?sort=name:asc", headers=MEMBER).get_json()
    assert [i["name"] for i in ordered["images"]] == ["i0", "i1", "i2"]
    assert client.get("/v2/images?sort_key=name&sort_dir=asc", headers=MEMBER).get_json() == {
        **ordered,
        "first": "/v2/images?sort_key=name&sort_dir=asc",
    }


def test_nul_characters_are_refused_before_the_database(client) -> None:
    image_id = create(client)["id"]
    patch_type = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
    for method, url, body, headers in [
        ("POST", "/v2/images", '{"name": "a\\u0000b"}', {"Content-Type": "application/json"}),
        ("POST", "/v2/images", '{"k\\u0000": "v"}', {"Content-Type": "text/plain"}),
        ("PATCH", f"/v2/images/{image_id}", '[{"op": "add", "path": "/k", "value": ["\\u0000"]}]', patch_type),
        ("GET", "/v2/images?name=a%00b", None, {}),
        ("GET", "/v2/images?marker=%00", None, {}),
        ("GET", "/v2/images/a%00b", None, {}),
        ("PUT", f"/v2/images/{image_id}/tags/a%00", None, {}),
    ]:
        response = client.open(url, method=method, data=body, headers={**MEMBER, **JSON, **headers})
        assert response.status_code == 400, (method, url)
        assert response.get_json()["message"].startswith("NUL characters are not allowed"), (method, url)
    json_type = {"Content-Type": "application/json"}
    quoted = client.post("/v2/images", data='{"name": "a\\\\u0000b"}', headers={**MEMBER, **JSON, **json_type})
    assert quoted.status_code == 201 and quoted.get_json()["name"] == "a\\u0000b"  # an escaped backslash, no NUL


def test_range_filters_past_64_bits_and_on_other_names(client, services) -> None:
    small = create(client, min_ram=5, foo_max="7")["id"]
    big = create(client, min_ram=2**31 - 1)["id"]

    def listed(query: str) -> set[str]:
        response = client.get(f"/v2/images?{query}", headers=MEMBER)
        assert response.status_code == 200, response.get_json()
        return {image["id"] for image in response.get_json()["images"]}

    assert listed(f"min_ram_max={2**70}") == {small, big}  # Glance answers 500 to these two
    assert listed(f"min_ram_min={2**70}") == set()
    assert listed(f"min_ram_min={-(2**70)}&min_ram_max=5") == {small}
    assert listed("foo_max=7") == {small}  # not a range: a custom property named foo_max (Glance: 500)
    message = client.get("/v2/images?size_max=1.5", headers={**MEMBER, **JSON}).get_json()["message"]
    assert message.startswith("Unable to filter on a range with a non-numeric value.")
    patch = [{"op": "replace", "path": "/min_disk", "value": 2**31}]
    patch_type = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
    response = client.patch(f"/v2/images/{small}", json=patch, headers={**MEMBER, **JSON, **patch_type})
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("'min_disk' value out of range, must not exceed 2147483647.")


def test_upload_download_and_ranges(client, services) -> None:
    image = create(client)
    url = f"/v2/images/{image['id']}/file"
    assert client.get(url, headers=MEMBER).status_code == 204  # no data yet
    bad_type = client.put(url, data=DATA, headers={**MEMBER, **JSON, "Content-Type": "text/plain"})
    assert bad_type.status_code == 415
    upload_and_store(client, services, image["id"])
    shown = client.get(f"/v2/images/{image['id']}", headers=MEMBER).get_json()
    assert (shown["status"], shown["size"], shown["stores"]) == ("active", len(DATA), "fast")
    full = client.get(url, headers=MEMBER)
    assert full.status_code == 200 and full.data == DATA
    assert full.headers["Content-MD5"] == hashlib.md5(DATA).hexdigest()
    assert full.headers["Content-Length"] == str(len(DATA))
    part = client.get(url, headers={**MEMBER, "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.data == DATA[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(DATA)}"
    assert client.get(url, headers={**MEMBER, "Range": "bytes=-5"}).data == DATA[-5:]
    assert client.get(url, headers={**MEMBER, "Range": f"bytes={len(DATA) - 3}-"}).data == DATA[-3:]
    assert client.get(url, headers={**MEMBER, "Range": f"bytes={len(DATA)}-"}).status_code == 416
    assert client.get(url, headers={**MEMBER, "Range": "bytes=0-1,5-6"}).status_code == 400
    assert client.get(url, headers={**MEMBER, "Range": "pages=1"}).status_code == 416
    assert client.get(url, headers={**MEMBER, "Content-Range": "bytes 1-2/*"}).data == DATA[1:3]
    assert client.get(url, headers=READER).status_code == 403  # readers cannot download
    assert client.get(url, headers=OTHER).status_code == 404
    again = client.put(url, data=DATA, headers={**MEMBER, "Content-Type": "application/octet-stream"})
    assert again.status_code == 409


def test_every_download_ends_with_image_send(client, services) -> None:
    image_id = create(client)["id"]
    upload_and_store(client, services, image_id)
    url = f"/v2/images/{image_id}/file"

    def sends() -> list[tuple[str, dict]]:
        with services.db.transaction(write=False) as uow:
            rows = uow.outbox.unpublished(10_000)
        return [(row.priority, row.payload) for row in rows if row.event_type == "image.send"]

    assert client.get(url, headers=MEMBER).data == DATA
    assert client.get(url, headers={**MEMBER, "Range": "bytes=10-19"}).data == DATA[10:20]
    cut = client.get(url, headers=MEMBER, buffered=False)
    next(cut.response)  # the client reads one chunk and goes away
    cut.close()
    expected = {"image_id": image_id, "owner_id": "p1", "receiver_tenant_id": "p1", "receiver_user_id": "u1"}
    assert sends()[:2] == [("INFO", {**expected, "bytes_sent": len(DATA)}), ("INFO", {**expected, "bytes_sent": 10})]
    priority, payload = sends()[2]
    assert priority == "ERROR" and payload["bytes_sent"] < len(DATA)
    assert len(sends()) == 3


def test_upload_size_header(client) -> None:
    image = create(client)
    url = f"/v2/images/{image['id']}/file"
    headers = {**MEMBER, **JSON, "Content-Type": "application/octet-stream"}
    mismatch = client.put(url, data=DATA, headers={**headers, "x-openstack-image-size": "99"})
    assert mismatch.status_code == 400
    assert mismatch.get_json()["message"].startswith(f"Size mismatch: expected 99 bytes, got {len(DATA)} bytes")
    assert client.get(f"/v2/images/{image['id']}", headers=MEMBER).get_json()["status"] == "queued"
    assert client.put(url, data=DATA, headers={**headers, "x-openstack-image-size": "x"}).status_code == 400


def test_deactivated_image(client, services) -> None:
    image = create(client)
    upload_and_store(client, services, image["id"])
    actions = f"/v2/images/{image['id']}/actions"
    assert client.post(f"{actions}/deactivate", headers=MEMBER).status_code == 204
    assert client.post(f"{actions}/deactivate", headers=MEMBER).status_code == 204  # no-op
    refused = client.get(f"/v2/images/{image['id']}/file", headers={**MEMBER, **JSON})
    assert refused.status_code == 403
    assert refused.get_json()["message"].startswith("The requested image has been deactivated.")
    assert client.get(f"/v2/images/{image['id']}/file", headers=ADMIN).data == DATA
    assert client.post(f"{actions}/reactivate", headers=MEMBER).status_code == 204
    assert client.get(f"/v2/images/{image['id']}/file", headers=MEMBER).status_code == 200


def test_tags_and_delete(client, services) -> None:
    image = create(client)
    base = f"/v2/images/{image['id']}"
    assert client.put(f"{base}/tags/blue", headers=MEMBER).status_code == 204
    assert client.get(base, headers=MEMBER).get_json()["tags"] == ["blue"]
    assert client.delete(f"{base}/tags/red", headers=MEMBER).status_code == 404
    assert client.delete(f"{base}/tags/blue", headers=MEMBER).status_code == 204
    assert client.delete(base, headers=OTHER).status_code == 404
    assert client.delete(base, headers=READER).status_code == 403
    assert client.delete(base, headers=MEMBER).status_code == 204
    assert client.get(base, headers=MEMBER).status_code == 404


def test_schemas(client, services) -> None:
    image = client.get("/v2/schemas/image", headers=MEMBER).get_json()
    assert image["name"] == "image" and image["additionalProperties"] == {"type": "string"}
    assert image["properties"]["disk_format"]["enum"][0] is None
    images = client.get("/v2/schemas/images", headers=MEMBER).get_json()
    assert images["properties"]["images"]["items"] == image
    assert client.get("/v2/schemas/nope", headers=MEMBER).status_code == 404


def test_head_options_and_trailing_slashes(client) -> None:
    image = create(client)
    head = client.head(f"/v2/images/{image['id']}", headers=MEMBER)
    assert head.status_code == 405 and head.headers["Allow"] == "GET, PATCH, DELETE"
    options = client.options("/v2/images", headers=MEMBER)
    assert options.status_code == 200 and "Allow" not in options.headers
    assert client.get("/v2/images/", headers=MEMBER).status_code == 404
    assert client.get(f"/v2/images/{image['id']}/", headers=MEMBER).status_code == 404


def test_single_sort_key_breaks_ties_in_its_direction(client) -> None:
    made = [create(client, name="same")["id"] for _ in range(3)]
    ascending = client.get("/v2/images?sort=name:asc", headers=MEMBER).get_json()["images"]
    assert [i["id"] for i in ascending] == made
    descending = client.get("/v2/images?sort_key=name&sort_dir=desc", headers=MEMBER).get_json()["images"]
    assert [i["id"] for i in descending] == made[::-1]


def test_members_over_http(client, services) -> None:
    from tests.helpers import event_types

    image = create(client)
    base = f"/v2/images/{image['id']}/members"
    added = client.post(base, json={"member": "p2"}, headers=MEMBER)
    assert added.status_code == 200
    assert added.get_json() == {**added.get_json(), "member_id": "p2", "status": "pending",
                                "schema": "/v2/schemas/member"}  # fmt: skip
    assert client.post(base, json={"member": "p2"}, headers=MEMBER).status_code == 409
    assert client.post(base, json={}, headers=MEMBER).status_code == 400
    assert client.get(f"/v2/images/{image['id']}", headers=OTHER).status_code == 200  # p2 sees it, pending
    assert client.get("/v2/images", headers=OTHER).get_json()["images"] == []  # but does not list it yet
    assert client.put(f"{base}/p2", json={"status": "accepted"}, headers=MEMBER).status_code == 403  # not the owner
    accepted = client.put(f"{base}/p2", json={"status": "accepted"}, headers=OTHER)
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    assert [i["id"] for i in client.get("/v2/images", headers=OTHER).get_json()["images"]] == [image["id"]]
    assert client.get(f"{base}/p3", headers=MEMBER).status_code == 404
    assert client.delete(f"{base}/p2", headers=OTHER).status_code == 403
    deleted = client.delete(f"{base}/p2", headers=MEMBER)
    assert deleted.status_code == 204 and "Content-Type" not in deleted.headers
    assert client.get(f"/v2/images/{image['id']}", headers=OTHER).status_code == 404
    assert event_types(services, image["id"])[-3:] == ["image.member.create", "image.member.update",
                                                       "image.member.delete"]  # fmt: skip
    private = create(client, visibility="private")
    refused = client.post(f"/v2/images/{private['id']}/members", json={"member": "p2"}, headers={**MEMBER, **JSON})
    assert refused.status_code == 403 and "Not allowed to create members" in refused.get_json()["message"]
