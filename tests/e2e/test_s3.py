"""An S3 store (Ceph's RADOS Gateway here) beside a file store, and staging in a bucket."""

from __future__ import annotations

import uuid

import boto3

from shared.config.stores import S3StoreSettings
from shared.stores.s3 import S3Store
from tests.e2e.conftest import api
from tests.e2e.deployment import eventually
from tests.helpers import image_bytes
from tests.servers import empty_bucket, s3_store_options

ADMIN = {"project": "boss", "roles": "admin,member,reader"}


def bucket_keys(options: dict) -> list[str]:
    client = boto3.client("s3", endpoint_url=options["s3_store_host"], aws_access_key_id=options["s3_store_access_key"],
                          aws_secret_access_key=options["s3_store_secret_key"])  # fmt: skip
    try:
        return [item["Key"] for item in client.list_objects_v2(Bucket=options["s3_store_bucket"]).get("Contents", [])]
    except client.exceptions.NoSuchBucket:
        return []


def test_s3_store_beside_a_file_store(deploy, servers) -> None:
    options = s3_store_options(servers.need("s3"), f"glint-e2e-{uuid.uuid4().hex[:10]}",
                               s3_store_large_object_chunk_size=5)  # fmt: skip
    deployment = deploy("embedded", enabled_backends={"fast": {"type": "file"}, "s3": options})
    client, boss = api(deployment), api(deployment, **ADMIN)
    try:
        detail = boss.http.get(f"{boss.url}/v2/info/stores/detail").json()["stores"]
        assert [(s["id"], s["type"]) for s in detail] == [("fast", "file"), ("s3", "s3")]

        data = image_bytes(12 * 1024 * 1024 + 7)  # several multipart parts
        in_s3 = client.create(name="to-s3")["id"]
        assert client.upload(in_s3, data, **{"X-Image-Meta-Store": "s3"}).status_code == 204
        assert client.show(in_s3).json()["stores"] == "s3"
        assert client.download(in_s3).content == data
        assert client.download(in_s3, Range="bytes=6291456-6291465").content == data[6291456:6291466]

        copied = client.create(name="copied")["id"]
        assert client.upload(copied, data).status_code == 204
        response = boss.http.post(f"{boss.url}/v2/images/{copied}/import",
                                  json={"method": {"name": "copy-image"}, "stores": ["s3"]})  # fmt: skip
        assert response.status_code == 202
        eventually(lambda: client.show(copied).json()["stores"] == "fast,s3", 60, "the copy to s3")
        assert boss.http.delete(f"{boss.url}/v2/stores/fast/{copied}").status_code == 204
        eventually(lambda: deployment.store_files("fast") == [], 30, "the fast copy to be purged")
        assert client.show(copied).json()["stores"] == "s3"
        assert client.download(copied).content == data  # served from s3 now
        assert len(bucket_keys(options)) == 2

        assert client.delete(in_s3).status_code == 204 and client.delete(copied).status_code == 204
        eventually(lambda: bucket_keys(options) == [], 30, "the bucket to be emptied")
    finally:
        empty_bucket(S3Store("s3", S3StoreSettings(**options)))


def test_staging_in_a_bucket(deploy, servers) -> None:
    url = servers.need("s3")
    staging = s3_store_options(url, f"glint-staging-{uuid.uuid4().hex[:10]}")
    store = s3_store_options(url, f"glint-store-{uuid.uuid4().hex[:10]}")
    deployment = deploy("embedded", os_glance_staging_store=staging,
                        enabled_backends={"fast": {"type": "file"}, "s3": store})  # fmt: skip
    client = api(deployment)
    try:
        data = image_bytes(3 * 1024 * 1024)
        for target in ("fast", "s3"):  # a stream copy into a file store, a server-side copy within the gateway
            image_id = client.create(name=f"staged-in-bucket-{target}")["id"]
            assert client.upload(image_id, data, **{"X-Image-Meta-Store": target}).status_code == 204
            assert client.show(image_id).json()["stores"] == target
            assert client.download(image_id).content == data
        assert bucket_keys(staging) == []
        direct = client.create(name="direct")["id"]
        assert client.http.put(f"{client.url}/v2/images/{direct}/stage", data=data,
                               headers={"Content-Type": "application/octet-stream"}).status_code == 204  # fmt: skip
        body = {"method": {"name": "glance-direct"}, "stores": ["s3"]}
        assert client.http.post(f"{client.url}/v2/images/{direct}/import", json=body).status_code == 202
        eventually(lambda: client.show(direct).json()["status"] == "active", 60, "the glance-direct import")
        assert client.download(direct).content == data and bucket_keys(staging) == []
    finally:
        for options in (staging, store):
            empty_bucket(S3Store("x", S3StoreSettings(**options)))
