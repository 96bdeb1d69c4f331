"""Filing a privacy request (Segment's Regulations API vocabulary) from the API, the Segment
webhook source or the CLI: one function, so each path suppresses, files and records alike.

What is kept of the person: a suppression or its lifting keeps only keyed hashes (``hmac:...``);
a deletion keeps the subject and every id linked to it (``linked``) only until it has run, then
the same hashes (privacy/deletion.py).
"""

from __future__ import annotations

from typing import Any

from headwater.stores.sql.database import SqlDatabase
from headwater.stores.sql.privacy import SqlPrivacy
from headwater.stores.sql.webhooks import DELETIONS, SqlRegulations

TYPES = ("SUPPRESS_WITH_DELETE", "SUPPRESS_ONLY", "DELETE_ONLY", "UNSUPPRESS", "ACCESS")
SUBJECT_FIELDS = ("userId", "anonymousId")


class RequestError(ValueError):
    """A request that cannot be filed; the message names the field."""


def check_subject(subject: dict[str, Any]) -> dict[str, str]:
    """The subject's one id ({"userId": ...} or {"anonymousId": ...}), or RequestError."""
    given = {k: v for k, v in subject.items() if v not in (None, "")}
    unknown = sorted(set(given) - set(SUBJECT_FIELDS))
    if unknown:
        raise RequestError(f"'subject' has unknown field {unknown[0]!r}: use 'userId' or 'anonymousId'")
    if len(given) != 1:
        raise RequestError("'subject' names exactly one of 'userId' or 'anonymousId'")
    ((name, value),) = given.items()
    if not isinstance(value, str):
        raise RequestError(f"'subject.{name}' must be a string")
    return {name: value}


def hashed_subject(privacy: SqlPrivacy, subject: dict[str, str]) -> dict[str, str]:
    return {k: "hmac:" + privacy.hashed(v) for k, v in subject.items()}


def file_request(db: SqlDatabase, kind: str, subject: dict[str, Any], origin: str) -> dict[str, Any]:
    """File a regulation and do at once what can be done at once: a suppression and its lifting
    (FINISHED), the suppression of a SUPPRESS_WITH_DELETE. A deletion is then INITIALIZED, and the
    deletion runner (privacy/runner.py) takes it. The answer: id, type, status."""
    if kind not in TYPES:
        raise RequestError(f"'type' must be one of {', '.join(TYPES)}")
    subject = check_subject(subject)
    privacy, regulations = SqlPrivacy(db), SqlRegulations(db)
    ids = privacy.resolve(subject)
    deletes = kind in DELETIONS
    keeps = deletes or kind == "ACCESS"  # an access request keeps its subject: its export needs it
    stored = subject | {"linked": sorted(ids)} if keeps else hashed_subject(privacy, subject)
    entry = regulations.file(kind, stored, origin)
    if deletes and entry["progress"]:  # the same deletion already filed and waiting: that one
        return {"id": entry["id"], "type": kind, "status": entry["status"]}
    progress: dict[str, Any] = {}
    if kind in ("SUPPRESS_ONLY", "SUPPRESS_WITH_DELETE"):
        progress["suppression"] = {"status": "FINISHED", "ids": privacy.suppress(ids, entry["id"])}
    if kind == "UNSUPPRESS":
        progress["unsuppressed_ids"] = privacy.unsuppress(ids)
    if kind == "ACCESS":
        progress["export"] = f"/api/v1/regulations/{entry['id']}/export"
    status = "INITIALIZED" if deletes else "FINISHED"
    if deletes:
        progress["deletion"] = {"status": "INITIALIZED"}
    regulations.update(entry["id"], status, progress)
    return {"id": entry["id"], "type": kind, "status": status}
