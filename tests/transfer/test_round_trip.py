"""Export, then import into a fresh data directory: every metric answers the same, and exporting the
copy gives the same messages back (shared by the import and the export, docs/transfer.md)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headwater.metrics.registry import METRICS
from tests.helpers import cli

ENV = {"HEADWATER_TIMEZONE": "UTC"}
TODAY = datetime.now(UTC).date()
START, END = (TODAY - timedelta(days=21)).isoformat(), TODAY.isoformat()
OPTIONS: dict[str, list[str]] = {
    "preferences": ["--trait", "plan"],
    "retention": ["--period", "week"],
    "funnel": ["--steps", "Signed Up,Project Created"],
    "lifecycle": ["--period", "week"],
}


def _metric(data: Path, name: str) -> object:
    out = cli(
        data, "metrics", name, "--start", START, "--end", END, "--json", *OPTIONS.get(name, []), env=ENV
    )
    return json.loads(out.stdout)


def test_an_export_imports_back_unchanged(tmp_path: Path) -> None:
    source, copy = tmp_path / "source", tmp_path / "copy"
    cli(source, "demo", "--users", "50", "--days", "20", "--seed", "11", env=ENV)
    archive = tmp_path / "history.ndjson.gz"
    cli(source, "export", "events", "--start", START, "--end", END, "-o", str(archive), env=ENV)
    done = cli(copy, "import", str(archive), env=ENV)
    assert " 0 rejected" in done.stdout + done.stderr
    for name in METRICS:
        assert _metric(copy, name) == _metric(source, name), name
    again = cli(copy, "export", "events", "--start", START, "--end", END, env=ENV).stdout.splitlines()
    with gzip.open(archive, "rt") as fh:
        first = fh.read().splitlines()
    assert sorted(again) == sorted(first) and len(first) > 1000  # the same messages, byte for byte
