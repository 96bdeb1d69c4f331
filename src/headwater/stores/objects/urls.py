"""``gs://BUCKET/PREFIX`` and ``s3://BUCKET/PREFIX`` (HEADWATER_OBJECT_STORE_URL), parsed and checked
without any driver, so a bad URL is refused when the settings are read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from headwater.stores.registry import UnknownBackendError, backend_for

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_PREFIX_PART = re.compile(r"^[A-Za-z0-9._=+-]+$")
#: query parameters each scheme takes
PARAMS = {"gs": {"project", "endpoint"}, "s3": {"region", "endpoint"}}
SETTING = "HEADWATER_OBJECT_STORE_URL"


@dataclass(frozen=True, slots=True)
class ObjectUrl:
    scheme: str
    bucket: str
    prefix: str  # "" or "a/b" (no slashes at either end)
    params: dict[str, str]

    @property
    def display(self) -> str:
        return f"{self.scheme}://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key


def parse_object_url(url: str) -> ObjectUrl:
    """The parts of an object store URL; ValueError naming HEADWATER_OBJECT_STORE_URL and what is wrong."""
    try:
        backend = backend_for(url, "objects")
        parts = urlsplit(url)
    except UnknownBackendError as exc:
        raise ValueError(str(exc)) from None
    except ValueError:
        raise ValueError(f"{SETTING} is not a URL: use gs://BUCKET/PREFIX or s3://BUCKET/PREFIX") from None
    scheme = backend.scheme
    if parts.username or parts.password or parts.port:
        raise ValueError(
            f"{SETTING}: no user, password or port in a {scheme}:// URL"
            " (credentials come from the environment)"
        )
    bucket = parts.netloc
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ValueError(
            f"{SETTING} needs a bucket name of 3-222 lower-case letters, digits, '.', '_' or '-':"
            f" {scheme}://BUCKET/PREFIX (got {bucket!r})"
        )
    prefix = parts.path.strip("/")
    if prefix and not all(_PREFIX_PART.match(p) and p not in (".", "..") for p in prefix.split("/")):
        raise ValueError(f"{SETTING}: the prefix {prefix!r} must be path parts of letters, digits and ._=+-")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - PARAMS[scheme])
    if unknown:
        allowed = ", ".join(f"{p}=" for p in sorted(PARAMS[scheme]))
        raise ValueError(f"{SETTING}: unknown {scheme}:// parameter {unknown[0]!r} (use {allowed})")
    if parts.fragment:
        raise ValueError(f"{SETTING}: no '#' part in an object store URL")
    return ObjectUrl(scheme, bucket, prefix, {k: v[-1] for k, v in query.items()})
