"""openstacksdk, unchanged, against glint: create with data, wait for active, download, delete."""

from __future__ import annotations

import hashlib

import openstack
import pytest
from keystoneauth1 import noauth, session

from tests.e2e.conftest import BACKENDS
from tests.helpers import image_bytes


def connect(url: str, project: str = "p1") -> openstack.connection.Connection:
    """No Keystone here: keystoneauth's ``none`` plugin, with the identity headers Keystone would add."""
    headers = {"X-Identity-Status": "Confirmed", "X-User-Id": "u1", "X-Project-Id": project,
               "X-Roles": "member,reader"}  # fmt: skip
    sess = session.Session(auth=noauth.NoAuth(), additional_headers=headers)
    return openstack.connection.Connection(session=sess, image_endpoint_override=url, image_api_version="2")


@pytest.mark.parametrize("backend", BACKENDS)
def test_openstacksdk_image_round_trip(deploy, tmp_path, backend) -> None:
    deployment = deploy(backend)
    conn = connect(deployment.url)
    data = image_bytes(5 * 1024 * 1024 + 3)
    source = tmp_path / "disk.raw"
    source.write_bytes(data)

    image = conn.image.create_image(name="sdk-image", filename=str(source), disk_format="raw",
                                    container_format="bare", tags=["sdk"], wait=True, timeout=60)  # fmt: skip
    image = conn.image.wait_for_status(image, status="active", wait=60)
    assert image.size == len(data)
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert image.hash_algo == "sha512" and image.hash_value == hashlib.sha512(data).hexdigest()
    assert image.tags == ["sdk"]

    downloaded = conn.image.download_image(image)
    assert downloaded.content == data
    target = tmp_path / "copy.raw"
    conn.image.download_image(image, output=str(target))
    assert target.read_bytes() == data

    conn.image.update_image(image, name="renamed", os_distro="cirros")
    again = conn.image.get_image(image.id)
    assert (again.name, again.os_distro) == ("renamed", "cirros")
    assert [found.id for found in conn.image.images(name="renamed")] == [image.id]
    assert image.id not in [found.id for found in connect(deployment.url, "p2").image.images()]

    conn.image.delete_image(image)
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.image.find_image(image.id, ignore_missing=False)
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.image.get_image(image.id)
