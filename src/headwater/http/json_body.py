"""The JSON body of an API request (assignment, admin routes): decoded with a depth limit.

Deep nesting is refused with 400 ``too_deep`` naming the limit, as the collector does: a decoder
stopped by Python's recursion limit would otherwise escape as a 500, and whatever reads a body
decoded just below that limit would recurse as deep again.
"""

from __future__ import annotations

import json
from typing import Any

from headwater.events.normalize import MAX_BODY_DEPTH, json_too_deep
from headwater.http.errors import HttpError


def too_deep(levels: int = MAX_BODY_DEPTH) -> HttpError:
    return HttpError(400, "too_deep", f"the JSON body nests objects and arrays deeper than {levels} levels")


def loads(raw: bytes | str, levels: int = MAX_BODY_DEPTH) -> Any:
    """``json.loads(raw)``, or HttpError(400, "too_deep") beyond ``levels`` of nesting (ValueError,
    as from json.loads, for what is not JSON)."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise too_deep(levels) from None
    if json_too_deep(raw, value, levels):
        raise too_deep(levels)
    return value
