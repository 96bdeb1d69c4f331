"""`headwater ship` and `headwater ship status` (the module's register(app), as cli/__init__ does)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from headwater.cli import shipping as shipping_cli
from tests.batch.logdata import ev, write_log
from tests.object_stores import StoreServer


def _run(data: Path, url: str, *args: str) -> tuple[int, str]:
    app = typer.Typer()
    shipping_cli.register(app)
    result = CliRunner().invoke(
        app, ["ship", *args, "--data-dir", str(data)], env={"HEADWATER_OBJECT_STORE_URL": url}
    )
    return result.exit_code, result.output


def test_ship_then_status(gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = gcs.new_bucket(monkeypatch)
    write_log(tmp_path, [ev("2026-01-02T10:00:00Z", user="a")])
    (tmp_path / "log" / f"events-{date.today():%Y%m%d}.t.jsonl").write_text("{}\n")
    code, out = _run(tmp_path, url, "--dry-run", "--json")
    assert code == 0 and json.loads(out)["skipped"]["events-20260102.t.jsonl"].startswith("would upload")
    code, out = _run(tmp_path, url)
    assert code == 0 and "1 files uploaded and verified and 1 hourly" in " ".join(out.split()), out
    code, out = _run(tmp_path, url, "--json")
    assert code == 0 and json.loads(out)["uploaded"] == []
    code, out = _run(tmp_path, url, "status", "--json")
    status = json.loads(out)
    assert code == 0 and (status["shipped"], status["waiting"], status["open"]) == (1, 0, 1)
    code, out = _run(tmp_path, url, "status")
    assert code == 0 and "lag       0 s" in out


def test_no_or_a_bad_store_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    code, out = _run(tmp_path, "")
    assert code == 2 and "HEADWATER_OBJECT_STORE_URL" in out
    code, out = _run(tmp_path, "ftp://bucket/x", "status")
    assert code == 2 and "HEADWATER_OBJECT_STORE_URL" in out and "Traceback" not in out


def test_help_says_what_it_does() -> None:
    app = typer.Typer()
    shipping_cli.register(app)
    out = CliRunner().invoke(app, ["ship", "--help"]).output
    assert "--dry-run" in out and "status" in out and "closed" in out
