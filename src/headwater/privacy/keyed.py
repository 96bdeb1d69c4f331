"""The keyed hash that stands for a person's id wherever Headwater must remember them without
keeping the id (the suppression list, a finished regulation, docs/privacy.md): HMAC-SHA256 under the
installation's own key."""

from __future__ import annotations

import hashlib
import hmac


def id_hash(key: bytes, value: str) -> str:
    """An id's keyed hash (hex)."""
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
