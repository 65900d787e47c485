"""python-glanceclient (library and CLI), the openstack CLI and openstacksdk, unchanged, in token mode."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import glanceclient
import openstack
import pytest
from glanceclient.v2.client import Client as ImageClient

from tests.e2e.deployment import Deployment
from tests.helpers import image_bytes

BIN = Path(sys.executable).parent


@pytest.fixture
def token_deployment(deploy) -> Deployment:
    return deploy("embedded", auth={"mode": "token"})


def token_for(deployment: Deployment, project: str, roles: str = "member,reader", user: str = "alice") -> str:
    result = deployment.run("token", "create", "--user", user, "--project", project, "--roles", roles)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "GLINT_"))}
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, env=env)


def test_glanceclient_library(token_deployment, tmp_path) -> None:
    url = token_deployment.url
    owner = ImageClient(endpoint=url, token=token_for(token_deployment, "demo"))
    friend = ImageClient(endpoint=url, token=token_for(token_deployment, "friend", user="bob"))
    data = image_bytes(1_500_000)

    image = owner.images.create(name="lib", disk_format="raw", container_format="bare", foo="bar", tags=["a"])
    owner.images.upload(image.id, io.BytesIO(data))
    shown = owner.images.get(image.id)
    assert (shown.status, shown.size, shown.checksum) == ("active", len(data), hashlib.md5(data).hexdigest())
    assert b"".join(owner.images.data(image.id)) == data

    owner.images.update(image.id, name="renamed", description="d", remove_props=["foo"])
    owner.image_tags.update(image.id, "b")
    owner.image_tags.delete(image.id, "a")
    shown = owner.images.get(image.id)
    assert (shown.name, shown.description, shown.tags, "foo" in shown) == ("renamed", "d", ["b"], False)
    assert [i.id for i in owner.images.list(filters={"name": "renamed", "tag": ["b"]})] == [image.id]
    assert [i.id for i in owner.images.list(filters={"name": "other"})] == []

    owner.image_members.create(image.id, "friend")
    assert [m.member_id for m in owner.image_members.list(image.id)] == ["friend"]
    assert [i.id for i in friend.images.list()] == []
    friend.image_members.update(image.id, "friend", "accepted")
    assert [i.id for i in friend.images.list()] == [image.id]
    assert b"".join(friend.images.data(image.id)) == data

    owner.images.deactivate(image.id)
    assert owner.images.get(image.id).status == "deactivated"
    owner.images.reactivate(image.id)
    owner.images.delete(image.id)
    with pytest.raises(glanceclient.exc.HTTPNotFound):
        owner.images.get(image.id)


def test_glance_cli(token_deployment, tmp_path) -> None:
    token = token_for(token_deployment, "demo")
    glance = [str(BIN / "glance"), "--os-image-url", token_deployment.url, "--os-auth-token", token]
    source = tmp_path / "disk.raw"
    source.write_bytes(image_bytes(800_000))

    created = cli(*glance, "image-create", "--name", "from-cli", "--disk-format", "raw", "--container-format",
                  "bare", "--file", str(source), "--property", "os_distro=cirros")  # fmt: skip
    assert created.returncode == 0, created.stderr
    image_id = next(line.split("|")[2].strip() for line in created.stdout.splitlines() if "| id " in line)
    assert "| active " in created.stdout

    listed = cli(*glance, "image-list")
    assert listed.returncode == 0 and image_id in listed.stdout and "from-cli" in listed.stdout
    shown = cli(*glance, "image-show", image_id)
    assert "cirros" in shown.stdout and hashlib.md5(source.read_bytes()).hexdigest() in shown.stdout
    target = tmp_path / "back.raw"
    assert cli(*glance, "image-download", "--file", str(target), image_id).returncode == 0
    assert target.read_bytes() == source.read_bytes()
    updated = cli(*glance, "image-update", "--property", "color=blue", "--name", "renamed", image_id)
    assert updated.returncode == 0 and "blue" in updated.stdout and "renamed" in updated.stdout
    member = cli(*glance, "member-create", image_id, "friend")
    assert member.returncode == 0 and "pending" in member.stdout
    assert cli(*glance, "image-delete", image_id).returncode == 0
    gone = cli(*glance, "image-show", image_id)
    assert gone.returncode != 0 and f"404 Not Found: No image found with ID {image_id}" in gone.stderr


def test_openstack_cli(token_deployment, tmp_path) -> None:
    token = token_for(token_deployment, "demo")
    osc = [str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", f"{token_deployment.url}/v2",
           "--os-token", token]  # fmt: skip
    source = tmp_path / "disk.raw"
    source.write_bytes(image_bytes(600_000))

    created = cli(*osc, "image", "create", "--disk-format", "raw", "--container-format", "bare", "--file",
                  str(source), "--tag", "t1", "osc-image", "-f", "json")  # fmt: skip
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)
    assert body["status"] == "active" and body["name"] == "osc-image"

    listed = json.loads(cli(*osc, "image", "list", "-f", "json").stdout)
    assert [(i["Name"], i["Status"]) for i in listed] == [("osc-image", "active")]
    target = tmp_path / "saved.raw"
    assert cli(*osc, "image", "save", "--file", str(target), "osc-image").returncode == 0
    assert target.read_bytes() == source.read_bytes()
    assert cli(*osc, "image", "set", "--property", "foo=bar", "--tag", "t2", "--shared", "osc-image").returncode == 0
    shown = json.loads(cli(*osc, "image", "show", "osc-image", "-f", "json").stdout)
    assert shown["properties"]["foo"] == "bar" and sorted(shown["tags"]) == ["t1", "t2"]
    # `openstack image add project` looks the project up in Keystone, which a token-mode deployment
    # does not have; sharing is covered through glanceclient and openstacksdk above and below.
    assert cli(*osc, "image", "delete", "osc-image").returncode == 0
    assert json.loads(cli(*osc, "image", "list", "-f", "json").stdout) == []


def test_openstacksdk_with_a_token(token_deployment, tmp_path) -> None:
    conn = openstack.connect(auth_type="admin_token", auth={"endpoint": f"{token_deployment.url}/v2",
                             "token": token_for(token_deployment, "demo")})  # fmt: skip
    made = [conn.image.create_image(name=f"page-{n}", disk_format="raw", container_format="bare",
                                    data=image_bytes(1000 + n), tags=["paged"]) for n in range(5)]  # fmt: skip
    for image in made:
        conn.image.wait_for_status(image, status="active", wait=60)
    everything = list(conn.image.images(tag="paged", limit=2))  # the SDK follows the next links
    assert sorted(i.id for i in everything) == sorted(i.id for i in made)
    assert [i.name for i in conn.image.images(name="page-3")] == ["page-3"]
    image = made[0]
    conn.image.add_tag(image, "extra")
    conn.image.remove_tag(image, "paged")
    assert conn.image.get_image(image.id).tags == ["extra"]
    member = conn.image.add_member(image, member_id="friend")
    assert member.status == "pending"
    assert [m.member_id for m in conn.image.members(image)] == ["friend"]
    for found in made:
        conn.image.delete_image(found)
    assert list(conn.image.images(tag="paged")) == []
