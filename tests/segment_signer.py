"""Segment's webhook signing, run in Node with Segment's own code path (crypto.createHmac('sha1'),
JSON.stringify of the parsed messages): the classic destination signs the body; Webhooks (Actions)
signs JSON.stringify(payload.data), for a batch that of its first element only
(action-destinations, packages/destination-actions/src/destinations/webhook)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

SECRET = "shared-secret-pasted-into-segment"
# Segment's signing, as in action-destinations (destinations/webhook) and the classic destination
SIGNER = r"""
const { createHmac } = require('crypto');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const messages = JSON.parse(input.messages);  // Segment holds parsed objects
const sign = (text) => createHmac('sha1', input.secret).update(text, 'utf8').digest('hex');
let body, signature;
if (input.mode === 'classic' || input.mode === 'single') {
  body = JSON.stringify(messages[0]);
  signature = sign(JSON.stringify(messages[0]));
} else {  // Actions with batching: the body is the array, the signature that of payload[0].data
  body = JSON.stringify(messages);
  signature = sign(JSON.stringify(messages[0]));
}
process.stdout.write(JSON.stringify({ body, signature }));
"""


def segment_sign(mode: str, messages_json: str, secret: str = SECRET) -> tuple[bytes, str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js runs Segment's signer in these tests: apt-get install nodejs")
    out = subprocess.run(
        [node, "-e", SIGNER],
        input=json.dumps({"mode": mode, "messages": messages_json, "secret": secret}),
        capture_output=True,
        text=True,
        check=True,
    )
    signed = json.loads(out.stdout)
    return signed["body"].encode(), signed["signature"]
