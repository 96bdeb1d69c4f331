"""Amazon S3 (and S3-compatible stores) through AWS's official client (``boto3``, the ``s3`` extra).

``s3://BUCKET/PREFIX[?region=R&endpoint=URL]``. Credentials and the endpoint are found the way
boto3 finds them (environment, shared config, instance role; AWS_ENDPOINT_URL). Every upload
carries the file's MD5 (``Content-MD5``), which S3 checks against the bytes it received; the
object's ETag (its MD5 for a single-part upload) and size are compared again after. Single-part
uploads take objects up to 5 GB: one writer's day of log stays far below that at the brief's scale.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
from pathlib import Path
from typing import Any

from headwater.stores.objects.ports import (
    CHUNK,
    ChecksumMismatchError,
    ObjectInfo,
    ObjectMissingError,
    ObjectStoreError,
    ObjectStoreUnreachableError,
    Progress,
    check_key,
)
from headwater.stores.objects.reading import CountingReader
from headwater.stores.objects.urls import ObjectUrl

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 120.0
_MISMATCH = {"BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch"}


def open_url(url: ObjectUrl) -> S3Store:
    return S3Store(url)


def _etag_md5(etag: str | None) -> str | None:
    """The MD5 an ETag is (a multipart or encrypted object's ETag is not one: None)."""
    text = (etag or "").strip('"')
    return text if len(text) == 32 and all(c in "0123456789abcdef" for c in text) else None


class S3Store:
    def __init__(self, url: ObjectUrl) -> None:
        import boto3  # ImportError: open_object_store names the extra
        from botocore.config import Config

        self.url = url
        self.display = url.display
        config = Config(
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            retries={"max_attempts": 3, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        try:
            self.client: Any = boto3.client(
                "s3",
                endpoint_url=url.params.get("endpoint") or None,
                region_name=url.params.get("region") or None,
                config=config,
            )
        except Exception as exc:
            raise ObjectStoreError(f"cannot open {self.display}: {exc}") from exc

    def _error(self, exc: Exception, what: str) -> ObjectStoreError:
        from botocore.exceptions import ClientError

        text = f"{what} on {self.display}: {exc}"
        if isinstance(exc, ObjectStoreError):
            return exc
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in _MISMATCH:
                return ChecksumMismatchError(text)
            if code == "NoSuchBucket":
                return ObjectStoreError(f"{what}: bucket {self.url.bucket!r} not found ({self.display})")
            if status >= 500 or code in ("SlowDown", "RequestTimeout"):
                return ObjectStoreUnreachableError(text)
            return ObjectStoreError(text)
        return ObjectStoreUnreachableError(text)  # connection refused, DNS, timeouts, no credentials

    def _key(self, key: str) -> str:
        return self.url.full_key(check_key(key))

    def put_file(self, key: str, path: Path, md5: str, progress: Progress | None = None) -> ObjectInfo:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            return self._put(key, CountingReader(fh, progress), size, md5)

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return self._put(key, io.BytesIO(data), len(data), md5)

    def _put(self, key: str, body: Any, size: int, md5: str) -> ObjectInfo:
        try:
            self.client.put_object(
                Bucket=self.url.bucket,
                Key=self._key(key),
                Body=body,
                ContentLength=size,
                ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode(),
                ContentType="application/octet-stream",
            )
        except Exception as exc:
            raise self._error(exc, f"upload of {key}") from exc
        info = self.stat(key)
        if info is None or info.md5 != md5 or info.size != size:
            raise ChecksumMismatchError(
                f"{key} on {self.display}: the store reports {info and info.size} bytes,"
                f" MD5 {info and info.md5}; sent {size} bytes, MD5 {md5}"
            )
        return info

    def stat(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.url.bucket, Key=self._key(key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(exc, f"stat of {key}") from exc
        except Exception as exc:
            raise self._error(exc, f"stat of {key}") from exc
        etag = head.get("ETag")
        return ObjectInfo(key, int(head.get("ContentLength", 0)), _etag_md5(etag), (etag or "").strip('"'))

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        full = self.url.full_key(prefix) if prefix else (f"{self.url.prefix}/" if self.url.prefix else "")
        out = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.url.bucket, Prefix=full)
            for page in pages:
                for item in page.get("Contents", []):
                    etag = item.get("ETag")
                    out.append(
                        ObjectInfo(
                            self.url.relative(item["Key"]),
                            int(item.get("Size", 0)),
                            _etag_md5(etag),
                            (etag or "").strip('"'),
                        )
                    )
        except Exception as exc:
            raise self._error(exc, f"listing {prefix or '/'}") from exc
        return sorted(out, key=lambda i: i.key)

    def _get(self, key: str) -> Any:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.url.bucket, Key=self._key(key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey"):
                raise ObjectMissingError(f"no object {key} on {self.display}") from None
            raise self._error(exc, f"download of {key}") from exc
        except Exception as exc:
            raise self._error(exc, f"download of {key}") from exc

    def get_file(self, key: str, dest: Path) -> ObjectInfo:
        got = self._get(key)
        etag = got.get("ETag")
        info = ObjectInfo(key, int(got.get("ContentLength", 0)), _etag_md5(etag), (etag or "").strip('"'))
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with tmp.open("wb") as out:
                body = got["Body"]
                while chunk := body.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if info.md5 is not None and digest.hexdigest() != info.md5:
                raise ChecksumMismatchError(
                    f"{key} on {self.display}: downloaded MD5 {digest.hexdigest()}, store says {info.md5}"
                )
            os.replace(tmp, dest)
        except Exception as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise self._error(exc, f"download of {key}") from exc
        return info

    def get_bytes(self, key: str) -> bytes:
        got = self._get(key)
        try:
            data: bytes = got["Body"].read()
        except Exception as exc:
            raise self._error(exc, f"download of {key}") from exc
        return data

    def delete(self, key: str) -> bool:
        if self.stat(key) is None:
            return False
        try:
            self.client.delete_object(Bucket=self.url.bucket, Key=self._key(key))
        except Exception as exc:
            raise self._error(exc, f"delete of {key}") from exc
        return True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
