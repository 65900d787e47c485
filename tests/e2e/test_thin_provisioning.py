"""Thin provisioning through the running services: an image with long runs of zeros, uploaded through the API
and moved into a store with ``filesystem_thin_provisioning`` by a worker, lies in it as a sparse file."""

from __future__ import annotations

import hashlib
import os

from tests.e2e.conftest import api
from tests.helpers import image_bytes

MiB = 1024 * 1024


def test_an_image_of_mostly_zeros_is_stored_sparse_and_reads_back_whole(deploy, tap_for) -> None:
    deployment = deploy("embedded", enabled_backends={"fast": {"type": "file", "filesystem_thin_provisioning": True},
                                                      "cheap": {"type": "file"}})  # fmt: skip
    tap = tap_for(deployment)
    client = api(deployment)
    data = image_bytes(MiB) + bytes(7 * MiB) + image_bytes(MiB) + bytes(7 * MiB)  # four 4 MiB chunks; ends in zeros
    image = client.create(name="mostly-zeros")
    assert client.upload(image["id"], data).status_code == 204
    shown = client.wait_for(image["id"], "active", "killed")
    assert (shown["status"], shown["size"], shown["stores"]) == ("active", len(data), "fast")
    assert shown["checksum"] == hashlib.md5(data).hexdigest()

    [stored] = deployment.store_files("fast")
    assert stored.stat().st_size == len(data)
    assert os.stat(stored).st_blocks * 512 <= 8 * MiB + 256 * 1024  # the two chunks with data; two of zeros are holes
    downloaded = client.download(image["id"])
    assert downloaded.status_code == 200 and downloaded.content == data
    tap.wait_until(lambda: "image.upload" in [e["event_type"] for e in tap.events_for(image["id"])])
