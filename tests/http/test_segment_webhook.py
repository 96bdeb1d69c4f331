"""Segment's cloud as a source (issue 16 part 1): POST /v1/webhooks/segment/{source}, signed as
Segment's destinations sign, run in Node with Segment's code path (crypto.createHmac('sha1'),
JSON.stringify of the parsed messages: the classic destination signs the body; Webhooks (Actions)
signs JSON.stringify(payload.data), for a batch that of its first element only)."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from headwater.collector.segment_webhook import first_element, signature_ok
from headwater.stores.sql.keys import SqlWriteKeys
from headwater.stores.sql.webhooks import SqlWebhookSources
from tests.helpers import HEADWATER, read_log
from tests.http.asgi import ADMIN, Running, run
from tests.segment_signer import SECRET, segment_sign


def message(user: str = "u1", days_ago: float = 3, **extra: Any) -> dict[str, Any]:
    """A message as Segment delivers it: its own (clock-corrected) timestamp, received hours before
    the delivery, a projectId, a version."""
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user,
        "messageId": str(uuid.uuid4()),
        "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "originalTimestamp": (at - timedelta(seconds=40))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "sentAt": (at + timedelta(seconds=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "receivedAt": (at + timedelta(seconds=3)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "projectId": "segment-project",
        "version": 2,
        "context": {"library": {"name": "analytics.js"}, "ip": "203.0.113.7"},
        "integrations": {},
        **extra,
    }


def setup_source(
    hw: Running, secret: str | None = SECRET, token: bool = False, name: str = "web"
) -> str | None:
    db = hw.runtime.database
    key = SqlWriteKeys(db).create_key(name).key
    _, made = SqlWebhookSources(db).configure(name, key, secret, token)
    return made


def logged(hw: Running, mid: str) -> list[dict[str, Any]]:
    return [e for e in read_log(hw.settings.data_dir) if e.get("messageId") == mid]


def test_the_first_element_is_cut_from_the_body_never_serialized_again() -> None:
    body = b' [ {"a": 1e-7, "b": "\\u00e9"} ,{"c":2}]'
    assert first_element(body) == b'{"a": 1e-7, "b": "\\u00e9"}'
    for bad in (b"{}", b"[", b"[}", b"\xff[1]", b"", b"[" * 100_000):
        assert first_element(bad) is None, bad
    assert not signature_ok(b"[1]", SECRET, None) and not signature_ok(b"[1]", SECRET, "")


def test_signed_deliveries_of_both_destinations_keep_segments_time(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        setup_source(hw)
        c = hw.client
        url = "/v1/webhooks/segment/web"
        # the classic destination: one message, the body signed
        classic = message()
        body, signature = segment_sign("classic", json.dumps([classic]))
        ok = await c.post(
            url, content=body, headers={"X-Signature": signature, "User-Agent": "Segment.io/1.0"}
        )
        assert ok.status_code == 200 and ok.json()["accepted"] == 1, ok.text
        (ev,) = logged(hw, classic["messageId"])
        assert ev["timestamp"] == classic["timestamp"]  # as Segment sent it, three days back
        assert ev["originalTimestamp"] == classic["originalTimestamp"] and ev["sentAt"] == classic["sentAt"]
        assert (
            ev["_hw"]["upstream_received_at"] == classic["receivedAt"]
            and ev["receivedAt"] != classic["receivedAt"]
        )
        assert ev["projectId"] == "segment-project" and ev["_hw"]["source"] == "web"
        assert "userAgent" not in ev["context"]  # Segment's servers are not the user's browser
        # Actions with batching: numbers and strings JavaScript writes its own way
        batch = [
            message("u2", properties={"small": 1e-7, "big": 1e21, "whole": 2.0, "text": "é✓ 😀 \u2028"}),
            message("u3", days_ago=0.01),
            message("u4", days_ago=400),
        ]
        body, signature = segment_sign("batch", json.dumps(batch))
        assert b"1e-7" in body and b'"whole":2' in body  # not what Python's json would write
        ok = await c.post(
            url, content=body, headers={"X-Signature": signature, "Content-Type": "application/json"}
        )
        assert ok.status_code == 200 and ok.json()["accepted"] == 3, ok.text
        assert [logged(hw, m["messageId"])[0]["timestamp"] for m in batch] == [m["timestamp"] for m in batch]
        # one message from Actions without batching
        single = message("u5")
        body, signature = segment_sign("single", json.dumps([single]))
        assert (await c.post(url, content=body, headers={"X-Signature": signature})).status_code == 200

    run(tmp_path, scenario)


def test_bad_signatures_bodies_and_sources_store_nothing(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        setup_source(hw)
        c = hw.client
        url = "/v1/webhooks/segment/web"
        before = len(read_log(hw.settings.data_dir))
        msgs = [message("x1"), message("x2")]
        body, signature = segment_sign("batch", json.dumps(msgs))
        _, other = segment_sign("batch", json.dumps(msgs), secret="another-secret-entirely")
        respaced = json.dumps(msgs[0]).encode()  # the same message, serialized with spaces
        cases: list[tuple[bytes, dict[str, str]]] = [
            (body, {}),  # missing
            (body, {"X-Signature": "nothex"}),
            (body, {"X-Signature": other}),  # another secret
            (body, {"X-Signature": signature[:-1] + ("0" if signature[-1] != "0" else "1")}),
            (json.dumps(msgs).encode(), {"X-Signature": signature}),  # a different serialization
            (respaced, {"X-Signature": signature}),
            (body.replace(b"x2", b"x9"), {"X-Signature": "00" + signature[2:]}),
        ]
        for content, headers in cases:
            refused = await c.post(url, content=content, headers=headers)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "bad_signature", headers
        # a batch keeps its first element and changes the rest: Segment signs only the first (docs)
        assert len(read_log(hw.settings.data_dir)) == before
        unknown = await c.post(
            "/v1/webhooks/segment/nobody", content=body, headers={"X-Signature": signature}
        )
        assert (
            unknown.status_code == 404
            and "headwater keys webhook nobody" in unknown.json()["error"]["message"]
        )
        many = [message(f"m{i}") for i in range(4001)]
        body, signature = segment_sign("batch", json.dumps(many))
        too_many = await c.post(url, content=body, headers={"X-Signature": signature})
        assert too_many.status_code == 413 and "4001" in too_many.json()["error"]["message"]
        huge = b"[" + b" " * (7 << 20) + b"]"
        assert (await c.post(url, content=huge, headers={"X-Signature": signature})).status_code == 413
        no_ids = [{"type": "track", "event": "E", "timestamp": "2026-12-01T00:00:00Z"}]
        body, signature = segment_sign("batch", json.dumps(no_ids))
        missing = await c.post(url, content=body, headers={"X-Signature": signature})
        assert missing.status_code == 400 and missing.json()["rejected"][0]["code"] == "missing_id"
        quarantined = read_log(hw.settings.data_dir, "quarantine")
        assert any("missing_id" in json.dumps(q) for q in quarantined)
        SqlWriteKeys(hw.runtime.database).revoke_key("web")
        await hw.runtime.keys.refresh()
        body, signature = segment_sign("classic", json.dumps([message()]))
        revoked = await c.post(url, content=body, headers={"X-Signature": signature})
        assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "revoked_write_key"
        assert len(read_log(hw.settings.data_dir)) == before

    run(tmp_path, scenario)


def test_a_token_covers_the_whole_batch_and_deletions_become_regulations(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        token = setup_source(hw, secret=None, token=True, name="app")
        assert token is not None and token.startswith("hwwh_")
        c = hw.client
        url = "/v1/webhooks/segment/app"
        msgs = [message("t1", days_ago=0), message("t2", days_ago=0)]
        assert (await c.post(url, json=msgs)).status_code == 401
        assert (await c.post(url, json=msgs, headers={"X-Webhook-Token": token + "x"})).status_code == 401
        ok = await c.post(url, json=msgs, headers={"X-Webhook-Token": token})
        assert ok.status_code == 200 and ok.json()["accepted"] == 2
        # a retried delivery: stored twice in the log, counted once downstream (by messageId)
        again = await c.post(url, json=msgs, headers={"X-Webhook-Token": token})
        assert again.status_code == 200

        async def counted() -> bool:
            today = await c.get("/api/v1/live/today", headers=ADMIN)
            return bool(today.json()["events"] == 2)

        await hw.until(counted)
        # Segment forwards user deletions: a regulation, suppressed at once, then run
        delete = {"type": "delete", "userId": "t1", "context": {}}
        filed = await c.post(url, json=delete, headers={"X-Webhook-Token": token})
        assert filed.status_code == 200 and filed.json()["accepted"] == 0
        (rid,) = filed.json()["regulations"]
        again = await c.post(url, json=[delete], headers={"X-Webhook-Token": token})
        assert again.json()["regulations"] == [rid]  # Segment's retry files nothing new
        listed = (await c.get("/api/v1/regulations", headers=ADMIN)).json()["regulations"]
        assert [(r["id"], r["type"], r["origin"]) for r in listed] == [
            (rid, "SUPPRESS_WITH_DELETE", "segment:app")
        ]
        assert listed[0]["progress"]["suppression"] == {"status": "FINISHED", "ids": 1}

        async def finished() -> Any:
            shown = (await c.get(f"/api/v1/regulations/{rid}", headers=ADMIN)).json()
            return shown if shown["status"] == "FINISHED" else None

        shown = await hw.until(finished, timeout=60)
        assert shown["progress"]["log"]["lines_erased"] == 2, shown  # t1's delivery and its retry
        assert shown["subject"]["userId"].startswith("hmac:")
        bad_delete = await c.post(url, json={"type": "delete"}, headers={"X-Webhook-Token": token})
        assert bad_delete.status_code == 400

    run(tmp_path, scenario)


def test_the_admin_api_sets_secrets_and_tokens_shown_once_then_masked(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        SqlWriteKeys(hw.runtime.database).create_key("shop")
        path = "/api/v1/sources/shop/webhook"
        assert (await c.put(path, json={"secret": "short"}, headers=ADMIN)).status_code == 400
        assert (
            await c.put("/api/v1/sources/none/webhook", json={"secret": SECRET}, headers=ADMIN)
        ).status_code == 404
        made = await c.put(path, json={"secret": SECRET, "token": True}, headers=ADMIN)
        assert made.status_code == 200 and made.json()["token_value"].startswith("hwwh_")
        shown = (await c.get(path, headers=ADMIN)).json()
        assert (
            SECRET not in json.dumps(shown) and shown["secret"].endswith("(33 characters)") and shown["token"]
        )
        body, signature = segment_sign("classic", json.dumps([message()]))
        token = made.json()["token_value"]
        both = await c.post(
            "/v1/webhooks/segment/shop",
            content=body,
            headers={"X-Signature": signature, "X-Webhook-Token": token},
        )
        assert both.status_code == 200
        only_signed = await c.post(
            "/v1/webhooks/segment/shop", content=body, headers={"X-Signature": signature}
        )
        assert only_signed.status_code == 401  # with both set, both are needed
        assert (await c.delete(path, headers=ADMIN)).status_code == 204
        entries = (await c.get("/api/v1/audit", headers=ADMIN)).json()["entries"]
        assert {e["action"] for e in entries} >= {"PUT /api/v1/sources/{source}/webhook"}

    run(tmp_path, scenario)


def test_the_cli_reads_the_secret_from_a_file_or_stdin_never_an_argument(tmp_path: Path) -> None:
    data = tmp_path / "data"
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")

    def hw(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*HEADWATER, *args, "--data-dir", str(data)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    made = hw("keys", "create", "web", "--webhook-secret-file", str(secret_file))
    assert made.returncode == 0, made.stderr
    assert "/v1/webhooks/segment/web" in made.stderr and SECRET not in made.stderr + made.stdout
    token = hw("keys", "webhook", "web", "--secret-file", "-", "--token", stdin=SECRET + "-rotated\n")
    assert token.returncode == 0 and token.stdout.strip().startswith("hwwh_"), token.stderr
    listed = hw("keys", "list", "--json")
    (key,) = json.loads(listed.stdout)["keys"]
    assert key["webhook"]["token"] and SECRET not in listed.stdout
    assert key["webhook"]["secret"].endswith("(41 characters)")
    short = hw("keys", "webhook", "web", "--secret-file", "-", stdin="tiny")
    assert short.returncode == 2 and "at least 16" in short.stderr
    nothing = hw("keys", "webhook", "web")
    assert nothing.returncode == 2 and "--secret-file" in nothing.stderr
    audit = hw("audit", "--json")
    actions = [e["action"] for e in json.loads(audit.stdout)["entries"]]
    assert actions.count("webhook.configure") == 2 and "write_key.create" in actions
