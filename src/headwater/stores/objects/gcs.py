"""Google Cloud Storage through Google's official client (``google-cloud-storage``, the ``gcs`` extra).

``gs://BUCKET/PREFIX[?project=P&endpoint=URL]``. Credentials are found the way Google's libraries
find them (application default credentials, GOOGLE_APPLICATION_CREDENTIALS); with an emulator
(``STORAGE_EMULATOR_HOST``, the client's own convention, or ``endpoint=``) anonymous credentials are
used. Every upload carries the file's MD5, which GCS checks against the bytes it received; the
object's reported MD5 and size are compared again after. Every call has a deadline, so an
unreachable store is an error in seconds, not a hang.
"""

from __future__ import annotations

import base64
import contextlib
import os
from pathlib import Path
from typing import Any

from headwater.stores.objects.ports import (
    ChecksumMismatchError,
    ObjectInfo,
    ObjectMissingError,
    ObjectStoreError,
    ObjectStoreUnreachableError,
    Progress,
    check_key,
    file_md5,
)
from headwater.stores.objects.reading import CountingReader
from headwater.stores.objects.urls import ObjectUrl

#: seconds one API call may take, its retries included; uploads get UPLOAD_TIMEOUT per request
CALL_TIMEOUT = 20.0
UPLOAD_TIMEOUT = 300.0
#: resumable uploads above 8 MB go in chunks of this size (a multiple of 256 KB): one progress step each
CHUNK_SIZE = 16 << 20


def open_url(url: ObjectUrl) -> GcsStore:
    return GcsStore(url)


def _hex(b64: str | None) -> str | None:
    return base64.b64decode(b64).hex() if b64 else None


class GcsStore:
    def __init__(self, url: ObjectUrl) -> None:
        from google.api_core import exceptions as gexc  # ImportError: open_object_store names the extra
        from google.api_core.client_options import ClientOptions
        from google.api_core.retry import Retry
        from google.cloud.storage import Client

        self.url = url
        self.display = url.display
        self._gexc = gexc
        endpoint = url.params.get("endpoint")
        emulated = bool(endpoint or os.environ.get("STORAGE_EMULATOR_HOST"))
        kwargs: dict[str, Any] = {"project": url.params.get("project") or None}
        if endpoint:
            kwargs["client_options"] = ClientOptions(api_endpoint=endpoint)
        if emulated:
            from google.auth.credentials import AnonymousCredentials

            kwargs["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
            kwargs["project"] = kwargs["project"] or "headwater"
        try:
            self.client = Client(**kwargs)
        except Exception as exc:  # google.auth.exceptions.DefaultCredentialsError and kin
            raise ObjectStoreError(f"cannot open {self.display}: {exc}") from exc
        self.bucket = self.client.bucket(url.bucket)
        self._retry = Retry(initial=0.5, maximum=4.0, timeout=CALL_TIMEOUT)

    # -- errors ---------------------------------------------------------------------------------
    def _error(self, exc: Exception, what: str) -> ObjectStoreError:
        gexc = self._gexc
        text = f"{what} on {self.display}: {exc}"
        if isinstance(exc, ObjectStoreError):
            return exc
        if isinstance(exc, gexc.NotFound):
            return ObjectStoreError(f"{what}: bucket {self.url.bucket!r} not found ({self.display})")
        if isinstance(exc, gexc.BadRequest | gexc.Conflict) and _mentions_checksum(str(exc)):
            return ChecksumMismatchError(text)
        if isinstance(exc, gexc.ServerError | gexc.RetryError | gexc.TooManyRequests):
            return ObjectStoreUnreachableError(text)
        if isinstance(exc, gexc.GoogleAPICallError):
            return ObjectStoreError(text)
        if type(exc).__name__ == "DataCorruption":  # google.resumable_media: the client's own check
            return ChecksumMismatchError(text)
        return ObjectStoreUnreachableError(text)  # connection refused, DNS, timeouts

    def _info(self, blob: Any) -> ObjectInfo:
        return ObjectInfo(
            key=self.url.relative(blob.name),
            size=int(blob.size or 0),
            md5=_hex(blob.md5_hash),
            version=str(blob.generation) if blob.generation is not None else None,
        )

    # -- the port -------------------------------------------------------------------------------
    def put_file(self, key: str, path: Path, md5: str, progress: Progress | None = None) -> ObjectInfo:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            return self._put(key, CountingReader(fh, progress), size, md5)

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        import hashlib
        import io

        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return self._put(key, io.BytesIO(data), len(data), md5)

    def _put(self, key: str, fh: Any, size: int, md5: str) -> ObjectInfo:
        blob = self.bucket.blob(self.url.full_key(check_key(key)), chunk_size=CHUNK_SIZE)
        blob.md5_hash = base64.b64encode(bytes.fromhex(md5)).decode()  # GCS refuses other bytes
        try:
            blob.upload_from_file(
                fh,
                size=size,
                content_type="application/octet-stream",
                checksum="md5",
                timeout=UPLOAD_TIMEOUT,
                retry=self._retry,
            )
            blob.reload(timeout=CALL_TIMEOUT, retry=self._retry)
        except Exception as exc:
            raise self._error(exc, f"upload of {key}") from exc
        info = self._info(blob)
        if info.md5 != md5 or info.size != size:
            raise ChecksumMismatchError(
                f"{key} on {self.display}: the store reports {info.size} bytes, MD5 {info.md5};"
                f" sent {size} bytes, MD5 {md5}"
            )
        return info

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            blob = self.bucket.get_blob(
                self.url.full_key(check_key(key)), timeout=CALL_TIMEOUT, retry=self._retry
            )
        except Exception as exc:
            raise self._error(exc, f"stat of {key}") from exc
        return None if blob is None else self._info(blob)

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        full = self.url.full_key(prefix) if prefix else (f"{self.url.prefix}/" if self.url.prefix else "")
        try:
            blobs = list(
                self.client.list_blobs(self.bucket, prefix=full, timeout=CALL_TIMEOUT, retry=self._retry)
            )
        except Exception as exc:
            raise self._error(exc, f"listing {prefix or '/'}") from exc
        return sorted((self._info(b) for b in blobs), key=lambda i: i.key)

    def get_file(self, key: str, dest: Path) -> ObjectInfo:
        info = self.stat(key)
        if info is None:
            raise ObjectMissingError(f"no object {key} on {self.display}")
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        blob = self.bucket.blob(self.url.full_key(key))
        try:
            blob.download_to_filename(
                str(tmp),
                checksum="md5",
                timeout=UPLOAD_TIMEOUT,
                retry=self._retry,
                if_generation_match=int(info.version) if info.version else None,
            )
            got = file_md5(tmp)
            if info.md5 is not None and got != info.md5:
                raise ChecksumMismatchError(
                    f"{key} on {self.display}: downloaded MD5 {got}, store says {info.md5}"
                )
            os.replace(tmp, dest)
        except Exception as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise self._error(exc, f"download of {key}") from exc
        return info

    def get_bytes(self, key: str) -> bytes:
        blob = self.bucket.blob(self.url.full_key(check_key(key)))
        try:
            data: bytes = blob.download_as_bytes(timeout=CALL_TIMEOUT, retry=self._retry)
        except self._gexc.NotFound:
            raise ObjectMissingError(f"no object {key} on {self.display}") from None
        except Exception as exc:
            raise self._error(exc, f"download of {key}") from exc
        return data

    def delete(self, key: str) -> bool:
        blob = self.bucket.blob(self.url.full_key(check_key(key)))
        try:
            blob.delete(timeout=CALL_TIMEOUT, retry=self._retry)
        except self._gexc.NotFound:
            return False
        except Exception as exc:
            raise self._error(exc, f"delete of {key}") from exc
        return True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()


def _mentions_checksum(text: str) -> bool:
    low = text.lower()
    return any(word in low for word in ("md5", "crc32c", "checksum", "hash"))
