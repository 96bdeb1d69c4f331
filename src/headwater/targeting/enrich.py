"""Enrichment: put our segments into `user.data[]`, touching nothing else; find the user's ids.

The request is never mutated: the result shares every untouched sub-object with the input and
copies only the path to `user.data` (request -> user -> data list). Key order is kept; a `user`
created for the purpose goes last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

IAB_AUDIENCE_1_1 = 4  # segtax of IAB Audience Taxonomy 1.1
_ZERO_IFA = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    segtax: int | None = None  # None: a proprietary id, sent without ext.segtax


@dataclass(frozen=True, slots=True)
class IdentityKey:
    kind: str  # "user.id", "user.buyeruid", "device.ifa" or "eid"
    value: str
    source: str | None = None  # the eid source domain


def identity_candidates(request: dict[str, Any]) -> list[IdentityKey]:
    """The ids to look the user up by, in priority order, without duplicates or blanks."""
    user = request.get("user")
    user = user if isinstance(user, dict) else {}
    device = request.get("device")
    device = device if isinstance(device, dict) else {}
    keys: list[IdentityKey] = []
    for kind, value in (
        ("user.id", user.get("id")),
        ("user.buyeruid", user.get("buyeruid")),
        ("device.ifa", device.get("ifa")),
    ):
        if isinstance(value, str) and value and value != _ZERO_IFA:
            keys.append(IdentityKey(kind, value))
    ext = user.get("ext")
    for eids in (user.get("eids"), ext.get("eids") if isinstance(ext, dict) else None):
        for eid in eids if isinstance(eids, list) else ():
            if not isinstance(eid, dict) or not isinstance(eid.get("uids"), list):
                continue
            source = eid.get("source") if isinstance(eid.get("source"), str) else None
            for uid in eid["uids"]:
                value = uid.get("id") if isinstance(uid, dict) else None
                if isinstance(value, str) and value:
                    keys.append(IdentityKey("eid", value, source))
    seen: set[tuple[str, str, str | None]] = set()
    unique = []
    for key in keys:
        marker = (key.kind, key.value, key.source)
        if marker not in seen:
            seen.add(marker)
            unique.append(key)
    return unique


def data_entries(segments: Sequence[Segment], provider: str) -> list[dict[str, Any]]:
    """One `user.data` entry per taxonomy, in first-seen order, segment ids deduplicated."""
    groups: dict[int | None, list[str]] = {}
    for segment in segments:
        ids = groups.setdefault(segment.segtax, [])
        if segment.id not in ids:
            ids.append(segment.id)
    entries: list[dict[str, Any]] = []
    for segtax, ids in groups.items():
        entry: dict[str, Any] = {"name": provider, "segment": [{"id": str(i)} for i in ids]}
        if segtax is not None:
            entry["ext"] = {"segtax": segtax}
        entries.append(entry)
    return entries


def is_ours(entry: object, provider: str) -> bool:
    return isinstance(entry, dict) and entry.get("name") == provider


def enrich(request: dict[str, Any], segments: Sequence[Segment], provider: str) -> dict[str, Any]:
    """The request with our `user.data` entries (replacing our earlier ones); unchanged if no segments."""
    if not segments:
        return request
    ours = data_entries(segments, provider)
    user = request.get("user")
    new_user = dict(user) if isinstance(user, dict) else {}
    data = new_user.get("data")
    old = data if isinstance(data, list) else []
    kept = [entry for entry in old if not is_ours(entry, provider)]
    at = next((i for i, entry in enumerate(old) if is_ours(entry, provider)), len(old))
    new_user["data"] = kept[:at] + ours + kept[at:]
    result = dict(request)
    result["user"] = new_user
    return result
