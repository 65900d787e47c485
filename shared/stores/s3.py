"""The ``s3`` store: objects in a bucket of any S3-compatible server (AWS, Ceph's RADOS Gateway...).

Objects up to one part (``s3_store_large_object_chunk_size``, or
``s3_store_large_object_size`` when smaller) are one PUT; larger ones a multipart upload whose parts are
sent by a bounded pool of threads, so memory stays near
``chunk size x (threads + 1)`` whatever the image size. An object is
visible only once the upload is complete (atomic); an abandoned multipart
upload is aborted (here on error, by ``remove_stale_parts`` otherwise).
URLs are ``s3://<host>/<bucket>/<key>`` and never carry credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from shared.config.stores import S3StoreSettings
from shared.stores.base import ImageData, Progress, Readable, Store, StoredObject
from shared.stores.errors import (
    DataNotFound,
    StorageFull,
    StorageWriteDenied,
    StoreError,
    TransientStoreError,
    UnknownLocation,
)

MiB = 1024 * 1024
READ_CHUNK = MiB
COPY_LIMIT = 5 * 1024 * MiB  # a single server-side copy can take up to 5 GiB


class S3Store(Store):
    """A bucket as a store."""

    def __init__(self, name: str, options: S3StoreSettings) -> None:
        super().__init__(name)
        self.options = options
        host = options.s3_store_host
        endpoint = urlparse(host if "://" in host else f"http://{host}")
        self.host = endpoint.netloc
        self.bucket = options.s3_store_bucket
        self.part_size = options.s3_store_large_object_chunk_size * MiB
        # Objects up to this size are one PUT; buffering more than a part to decide would cost memory.
        self.single_put_limit = min(options.s3_store_large_object_size * MiB, self.part_size)
        self.threads = options.s3_store_thread_pools
        addressing = {"auto": "auto", "path": "path", "virtual": "virtual"}[options.s3_store_bucket_url_format]
        self._client_args: dict[str, Any] = {
            "endpoint_url": endpoint.geturl(),
            "aws_access_key_id": options.s3_store_access_key,
            "aws_secret_access_key": options.s3_store_secret_key,
            "region_name": options.s3_store_region_name or None,
            "config": Config(
                s3={"addressing_style": addressing},
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=max(10, self.threads + 2),
                connect_timeout=10,
                read_timeout=60,
            ),
        }
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._bucket_checked = False

    @property
    def client(self) -> Any:
        """One boto3 client, made on first use and shared by every thread (clients are thread-safe; making
        one is not, and each costs megabytes, so the part uploaders must not make their own)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = boto3.session.Session().client("s3", **self._client_args)
        return self._client

    # -- addressing -----------------------------------------------------------------------------
    def url_for(self, key: str) -> str:
        if not key or "/" in key or key.startswith("."):
            raise StoreError(f"invalid object key {key!r}")
        return f"s3://{self.host}/{self.bucket}/{key}"

    def handles(self, url: str) -> bool:
        prefix = f"s3://{self.host}/{self.bucket}/"
        return url.startswith(prefix) and "/" not in url[len(prefix) :]

    def _key(self, url: str) -> str:
        if not self.handles(url):
            raise UnknownLocation(f"{url} is not in store {self.name}")
        return url.rsplit("/", 1)[1]

    # -- the interface ----------------------------------------------------------------------------
    def add(
        self, key: str, source: Readable, *, progress: Progress | None = None, read_back: bool = False
    ) -> StoredObject:
        url = self.url_for(key)
        self._ensure_bucket()
        first = _read_exactly(source, self.single_put_limit)
        if len(first) < self.single_put_limit:  # the whole object fitted: one PUT
            with _s3_errors(self.name):
                self.client.put_object(Bucket=self.bucket, Key=key, Body=first)
            if progress:
                progress(len(first))
            return StoredObject(url=url, size=len(first), metadata={"store": self.name})
        size = self._multipart(key, first, source, progress)
        return StoredObject(url=url, size=size, metadata={"store": self.name})

    def _multipart(self, key: str, first: bytes, source: Readable, progress: Progress | None) -> int:
        with _s3_errors(self.name):
            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        parts: dict[int, str] = {}
        size = 0
        try:
            with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=f"s3-{self.name}") as pool:
                pending: set[Future[tuple[int, str]]] = set()
                number, chunk = 1, first
                while chunk:
                    if len(pending) >= self.threads:  # bound the memory: wait for a slot
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        parts.update(future.result() for future in done)
                    pending.add(pool.submit(self._upload_part, key, upload_id, number, chunk, progress))
                    size += len(chunk)
                    number += 1
                    chunk = _read_exactly(source, self.part_size)
                for future in pending:
                    number_done, etag = future.result()
                    parts[number_done] = etag
            with _s3_errors(self.name):
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]},
                )
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception:  # remove_stale_parts aborts it later
                pass
            raise
        return size

    def _upload_part(
        self, key: str, upload_id: str, number: int, data: bytes, progress: Progress | None
    ) -> tuple[int, str]:
        with _s3_errors(self.name):
            response = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
            )
        if progress:
            progress(len(data))
        return number, response["ETag"]

    def adopt(self, key: str, source: Store, source_url: str, *, keep_source: bool = False) -> StoredObject | None:
        """A server-side copy when the source is a bucket of the same server and the object is under 5 GiB."""
        if not isinstance(source, S3Store) or source.host != self.host:
            return None
        size = source.get_size(source_url)
        if size > COPY_LIMIT:
            return None
        self._ensure_bucket()
        with _s3_errors(self.name):
            self.client.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": source.bucket, "Key": source._key(source_url)}
            )
        if not keep_source:
            source.delete(source_url)
        return StoredObject(url=self.url_for(key), size=size, metadata={"store": self.name})

    def get(self, url: str, offset: int = 0, length: int | None = None) -> ImageData:
        key = self._key(url)
        size = self.get_size(url)
        offset = min(offset, size)
        length = size - offset if length is None else max(0, min(length, size - offset))
        if length == 0:
            return ImageData(chunks=iter(()), size=size, offset=offset, length=0)
        with _s3_errors(self.name):
            response = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
            )
        body = response["Body"]
        return ImageData(chunks=_stream(body, self.name), size=size, offset=offset, length=length, close=body.close)

    def get_size(self, url: str) -> int:
        with _s3_errors(self.name):
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(url))["ContentLength"])

    def delete(self, url: str) -> None:
        with _s3_errors(self.name):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(url))  # gone already: S3 says 204 too

    def list_keys(self) -> Iterator[tuple[str, float]]:
        paginator = self.client.get_paginator("list_objects_v2")
        with _s3_errors(self.name):
            for page in paginator.paginate(Bucket=self.bucket):
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"].timestamp()

    def remove_stale_parts(self, older_than: float) -> int:
        """Abort multipart uploads started before ``older_than`` (a writer died mid-upload)."""
        cutoff = datetime.fromtimestamp(older_than, UTC)
        aborted = 0
        with _s3_errors(self.name):
            uploads = self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
            for upload in uploads:
                if upload["Initiated"] < cutoff:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted += 1
        return aborted

    def _ensure_bucket(self) -> None:
        if self._bucket_checked:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchBucket") or not self.options.s3_store_create_bucket_on_put:
                raise StoreError(f"bucket {self.bucket} of store {self.name} is not usable: {exc}") from exc
            with _s3_errors(self.name):
                self.client.create_bucket(Bucket=self.bucket)
        except (BotoCoreError, ConnectionError) as exc:
            raise TransientStoreError(f"store {self.name} is unreachable: {exc}") from exc
        self._bucket_checked = True


def _read_exactly(source: Readable, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at the end of the stream."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = source.read(min(remaining, READ_CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _stream(body: Any, store: str) -> Iterator[bytes]:
    try:
        with _s3_errors(store):
            yield from body.iter_chunks(READ_CHUNK)
    finally:
        body.close()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class _s3_errors:
    """Translate boto errors into the store error hierarchy."""

    def __init__(self, store: str) -> None:
        self.store = store

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:  # type: ignore[no-untyped-def]
        if exc is None:
            return False
        if isinstance(exc, ClientError):
            code = _code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in ("NoSuchKey", "404", "NotFound"):
                raise DataNotFound(f"no such object in store {self.store}") from exc
            if code in ("AccessDenied", "403"):
                raise StorageWriteDenied(f"Insufficient permissions on image storage media: {exc}") from exc
            if code in ("QuotaExceeded", "EntityTooLarge"):
                raise StorageFull(f"Image storage media is full: {exc}") from exc
            if status >= 500 or code in ("SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"):
                raise TransientStoreError(f"store {self.store} failed, may pass: {exc}") from exc
            raise StoreError(f"store {self.store} failed: {exc}") from exc
        if isinstance(exc, ConnectionError | ReadTimeoutError | BotoCoreError):
            raise TransientStoreError(f"store {self.store} is unreachable: {exc}") from exc
        return False
