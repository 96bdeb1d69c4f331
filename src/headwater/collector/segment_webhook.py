"""What Segment's webhook destinations send, and how they sign it (docs/segment.md).

- The classic Webhooks destination posts one message per request with ``X-Signature``: the hex
  HMAC-SHA1 of the body under the shared secret.
- Webhooks (Actions) posts one object, or with batching a JSON array of up to 4,000, and signs
  ``JSON.stringify`` of the payload's data; for a batch, of its *first element* only
  (action-destinations, destinations/webhook). ``JSON.stringify`` of an array puts its elements
  side by side with no spaces, so the first element's exact text is a slice of the body: it is cut
  out with the standard library's JSON decoder (``raw_decode`` reports where a value ends) and
  never serialized again, so no difference between JavaScript's and Python's number or string
  formatting can make a good signature fail.
"""

from __future__ import annotations

import hashlib
import hmac
import json

#: the most messages one batched request may carry (Segment's Actions batch size limit)
MAX_BATCH = 4000
_WHITESPACE = " \t\r\n"


def sign(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha1).hexdigest()


def first_element(body: bytes) -> bytes | None:
    """The exact bytes of a JSON array body's first element; None when the body is no such array."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    start = len(text) - len(text.lstrip(_WHITESPACE))
    if text[start : start + 1] != "[":
        return None
    start += 1
    while start < len(text) and text[start] in _WHITESPACE:
        start += 1
    try:
        _, end = json.JSONDecoder().raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    return text[start:end].encode("utf-8")


def signature_ok(body: bytes, secret: str, given: str | None) -> bool:
    """Whether ``given`` (the X-Signature header) signs this body the way Segment does: the whole
    body (classic destination, or one object from Actions) or a batch's first element (Actions)."""
    if not given:
        return False
    given = given.strip().lower()
    if hmac.compare_digest(sign(secret, body), given):
        return True
    first = first_element(body)
    return first is not None and hmac.compare_digest(sign(secret, first), given)
