"""The audit log records every change made from the command line (issue 18, accounts): write keys,
enrich keys and settings, experiments, audiences, accounts and tokens, each with its actor."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from tests.helpers import cli

AUDIENCE = {"id": "readers", "name": "Readers", "rule": {"event": "Article Read"}, "taxonomy_id": "1"}


def test_every_cli_change_is_in_the_audit_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    experiment = tmp_path / "exp.json"
    experiment.write_text(json.dumps({"key": "hero", "variations": ["a", "b"]}))
    steps = [
        ("keys", "create", "web"),
        ("keys", "revoke", "web"),
        ("audiences", "keys", "create", "exchange"),
        ("audiences", "keys", "revoke", "exchange"),
        ("audiences", "settings", "lookup_timeout_ms", "20"),
        ("audiences", "create", json.dumps(AUDIENCE)),
        ("audiences", "delete", "readers"),
        ("experiments", "create", str(experiment)),
        ("experiments", "start", "hero"),
        ("experiments", "stop", "hero"),
        ("users", "invite", "ann@example.com", "--role", "analyst"),
        ("tokens", "create", "--user", "ann@example.com", "--name", "grafana", "--scope", "read"),
        ("tokens", "revoke", "grafana"),
        ("users", "role", "ann@example.com", "viewer"),
        ("users", "disable", "ann@example.com"),
    ]
    for step in steps:
        cli(data, *step)
    entries = json.loads(cli(data, "audit", "--limit", "100", "--json").stdout)["entries"]
    actions = [(e["action"], e["target"]) for e in reversed(entries)]
    assert actions == [
        ("write_key.create", "web"),
        ("write_key.revoke", "web"),
        ("enrich_key.create", "exchange"),
        ("enrich_key.revoke", "exchange"),
        ("enrich_setting.set", "lookup_timeout_ms"),
        ("audience.create", "readers"),
        ("audience.delete", "readers"),
        ("experiment.create", "hero"),
        ("experiment.start", "hero"),
        ("experiment.stop", "hero"),
        ("user.invite", "ann@example.com"),
        ("token.create", "grafana"),
        ("token.revoke", "grafana"),
        ("user.role", "ann@example.com"),
        ("user.disable", "ann@example.com"),
    ]
    assert {e["actor"] for e in entries} == {f"cli:{getpass.getuser()}"}
    table = cli(data, "audit", env={"COLUMNS": "200"}).stdout
    assert "user.disable" in table and "write_key.create" in table
    request = json.loads(cli(data, "privacy", "suppress", "visitor-7", "--json").stdout)["id"]
    actions.append(("regulation", request))  # a privacy request's id, 24 characters
    narrow = cli(data, "audit", env={"COLUMNS": "80"}).stdout  # a terminal's default width
    assert max(len(line) for line in narrow.splitlines()) <= 80
    for action, target in actions:  # the target on one line (to copy it), the action folded
        assert target in narrow and action[:10] in narrow, (action, target, narrow)
    assert "…" not in narrow  # nothing cut
