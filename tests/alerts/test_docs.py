"""docs/dashboard.md, "Saved insights, dashboards, alerts": its shell examples run as printed, one
after the other in one folder (a shell runs each line, so `echo ... > file` works as written), over
the generated lake; its curl bodies are taken by the API; its webhook JSON is what a check sends."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from tests.alerts.test_firing import Setup
from tests.helpers import ROOT
from tests.http.asgi import ADMIN, Running, run

DOC = ROOT / "docs" / "dashboard.md"


def section() -> str:
    text = DOC.read_text()
    return text[text.index("\n## Saved insights, dashboards, alerts\n") : text.index("\n## Grafana\n")]


def blocks(kind: str) -> list[str]:
    """The fenced blocks of the section whose info string is ``kind`` (a bare fence: "")."""
    found: list[str] = []
    current: list[str] | None = None
    info = ""
    for line in section().splitlines():
        if line.startswith("```") and current is None:
            current, info = [], line[3:].strip()
        elif line.startswith("```"):
            if info == kind:
                found.append("\n".join(current or []) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return found


def test_the_shell_examples_run_as_printed(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(lake[0], data)
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "HEADWATER_DATA_DIR": str(data),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    (example,) = blocks("sh")
    lines = [line for line in example.splitlines() if line.strip()]
    assert len(lines) >= 12
    outputs: dict[str, str] = {}
    for line in lines:
        done = subprocess.run(
            ["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, (line, done.stderr)
        if shlex.split(line)[0] == "headwater":
            assert done.stdout.strip(), line
        outputs[line] = done.stdout
    said = "\n".join(outputs.values())
    assert "saved insight" in said and "created dashboard" in said and "created alert" in said
    run_json = next(v for k, v in outputs.items() if "--json" in k and "saved run" in k)
    assert json.loads(run_json)["metric"] == "funnel"
    checked = next(v for k, v in outputs.items() if "alerts check" in k)
    assert checked.startswith("ok: 'Daily tool users' (series A) was ") and "on 2026-04-01" in checked


def test_the_curl_bodies_are_taken(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    shutil.copytree(lake[0], tmp_path / "data")
    requests = []
    for block in blocks(""):
        for command in block.replace("\\\n", " ").splitlines():
            if command.startswith("curl"):
                args = shlex.split(command)
                url = next(a for a in args if a.startswith("http"))
                body = json.loads(args[args.index("-d") + 1]) if "-d" in args else None
                requests.append(
                    (args[args.index("-X") + 1] if "-X" in args else "GET", url.split("8000", 1)[1], body)
                )
    assert len(requests) == 5

    async def scenario(hw: Running) -> None:
        made: dict[str, str] = {}  # the first insight and alert made: the examples' ID
        for method, path, body in requests:
            kind = "alerts" if path.startswith("/api/v1/alerts") else "insights"
            path = path.replace("/ID/", f"/{made.get(kind)}/")
            if body is not None and body.get("insight") == "ID":
                body = {**body, "insight": made["insights"]}
            answer = await hw.client.request(method, path, json=body, headers=ADMIN)
            assert answer.status_code in (200, 201), (method, path, answer.text)
            if answer.status_code == 201:
                made.setdefault(kind, answer.json()["id"])
        assert set(made) == {"insights", "alerts"}

    run(tmp_path, scenario)


def test_the_webhook_json_is_what_a_check_sends(tmp_path: Path) -> None:
    (shown,) = (json.loads(b) for b in blocks("json"))
    s = Setup(tmp_path, "https://hooks.example.com/x")
    sent: list[dict[str, Any]] = []
    try:
        s.check(date(2026, 5, 2))
        s.check(date(2026, 5, 3), send=lambda url, body: sent.append(body))
    finally:
        s.close()
    (real,) = sent
    assert real["text"] == shown["text"]
    assert set(real) == set(shown) and set(real["headwater"]) == set(shown["headwater"])
    for key in (
        "notification",
        "state",
        "value",
        "previous_value",
        "change",
        "series",
        "period",
        "condition",
    ):
        assert real["headwater"][key] == shown["headwater"][key], key
    assert real["blocks"][0]["text"]["text"].startswith(
        shown["blocks"][0]["text"]["text"].removesuffix("...")
    )
