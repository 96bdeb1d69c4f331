"""Suppression at collection (issue 17): a suppressed person's messages are answered like any other,
counted, and stored nowhere: not in the log, not in the quarantine when they are invalid, not as an
alias from one of their ids, not when Segment's webhook source delivers them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from headwater.ops import metrics
from tests.helpers import iter_lines, read_log
from tests.http.asgi import Running, run
from tests.http.test_segment_webhook import message, setup_source
from tests.privacy.test_suppression_paths import suppress
from tests.segment_signer import segment_sign


def suppressed_total(source: str) -> float:
    value: float = metrics.EVENTS_SUPPRESSED.labels(source)._value.get()
    return value


def anywhere(hw: Running, text: str) -> list[bytes]:
    """Every line of the log and of the quarantine that holds ``text``."""
    data = hw.settings.data_dir
    return [
        line for kind in ("events", "quarantine") for line in iter_lines(data, kind) if text.encode() in line
    ]


async def batch(hw: Running, events: list[dict[str, Any]]) -> dict[str, Any]:
    r = await hw.client.post("/v1/batch", json={"batch": events}, headers={"X-Write-Key": hw.write_key})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def test_invalid_events_of_a_suppressed_person_are_answered_as_anyones_and_not_quarantined(
    tmp_path: Path,
) -> None:
    """The same batch from a suppressed person and from another gets the same answer (an invalid
    event rejected, naming its field: the answer does not tell who is suppressed); only the other
    person's invalid events reach the quarantine."""

    def sent(who: str) -> list[dict[str, Any]]:
        return [
            {"type": "track", "userId": who},  # no event name
            {"type": "track", "event": "Opened", "userId": who, "properties": "not an object"},
            {"type": "nonsense", "anonymousId": "x", "userId": who},
            {"type": "track", "event": "Opened", "userId": 42, "anonymousId": who, "timestamp": 7},
            {"type": "track", "event": "Opened", "userId": who},
        ]

    async def scenario(hw: Running) -> None:
        await suppress(hw, "hidden-Q")
        before = suppressed_total("in-process")
        theirs = await batch(hw, sent("hidden-Q"))
        anyone = await batch(hw, sent("shown-Q"))
        assert theirs == anyone, (theirs, anyone)
        rejected = len(anyone.get("rejected", []))
        assert rejected >= 3 and all(r["error"] for r in anyone["rejected"]), anyone
        assert suppressed_total("in-process") - before == len(sent("x")) - rejected
        assert anywhere(hw, "hidden-Q") == []
        quarantined = read_log(hw.settings.data_dir, "quarantine")
        assert len(quarantined) == rejected and "shown-Q" in json.dumps(quarantined), quarantined
        assert {e.get("userId") for e in read_log(hw.settings.data_dir)} <= {"shown-Q", "42"}

    run(tmp_path, scenario)


def test_an_alias_from_a_suppressed_id_is_not_stored(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        await suppress(hw, "hidden-A")
        before = suppressed_total("in-process")
        aliases = [
            {"type": "alias", "previousId": "hidden-A", "userId": "new-A", "messageId": str(uuid.uuid4())},
            {"type": "alias", "previousId": "hidden-A"},  # invalid (no userId): rejected, not quarantined
            {"type": "alias", "previousId": "old-B", "userId": "new-B", "messageId": str(uuid.uuid4())},
        ]
        answer = await batch(hw, aliases)
        assert answer["accepted"] == 2, answer
        assert [(r["index"], r["code"]) for r in answer["rejected"]] == [(1, "missing_id")], answer
        assert suppressed_total("in-process") - before == 1
        assert read_log(hw.settings.data_dir, "quarantine") == []
        assert anywhere(hw, "hidden-A") == [] and anywhere(hw, "new-A") == []
        assert [(e["previousId"], e["userId"]) for e in read_log(hw.settings.data_dir)] == [
            ("old-B", "new-B")
        ]

    run(tmp_path, scenario)


def test_the_segment_webhook_answers_a_suppressed_persons_messages_and_stores_none(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        setup_source(hw)
        await suppress(hw, "hidden-W")
        before = suppressed_total("web")
        theirs, other = message("hidden-W"), message("shown-W")
        invalid = {**message("hidden-W"), "event": ""}  # rejected, as anyone's: not quarantined
        alias = {**message("new-W"), "type": "alias", "previousId": "hidden-W"}
        body, signature = segment_sign("batch", json.dumps([theirs, other, invalid, alias]))
        r = await hw.client.post("/v1/webhooks/segment/web", content=body, headers={"X-Signature": signature})
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 3, r.text
        assert [(x["index"], x["code"]) for x in r.json()["rejected"]] == [(2, "missing_event")], r.text
        assert suppressed_total("web") - before == 2
        assert [e["messageId"] for e in read_log(hw.settings.data_dir)] == [other["messageId"]]
        assert anywhere(hw, "hidden-W") == [] and anywhere(hw, "new-W") == []

    run(tmp_path, scenario)
