from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.experiments.stats_cases import edge_cases, random_cases

ROOT = Path(__file__).resolve().parents[2]
RANDOM_CASES = random_cases(200)
EDGE_CASES = edge_cases()


@pytest.fixture(scope="session")
def gbstats_python() -> Path:
    """The python of the test-only gbstats venv, created on first use by scripts/gbstats-venv.sh."""
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts/gbstats-venv.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"could not set up the gbstats reference venv:\n{proc.stderr[-3000:]}")
    return ROOT / proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def gbstats_reference(gbstats_python: Path) -> dict[str, Any]:
    """gbstats 0.8.0's figures for every case, computed in one subprocess per test session.

    gbstats takes ~20 s for all cases, so its answers are cached in the gbstats venv, keyed by a hash
    of the cases and of the runner script: any change to either recomputes them. Our side never is."""
    cases = RANDOM_CASES + EDGE_CASES
    script = Path(__file__).parent / "gbstats_reference.py"
    payload = json.dumps(cases, sort_keys=True)
    digest = hashlib.sha256(payload.encode() + script.read_bytes()).hexdigest()[:24]
    cache = gbstats_python.parent.parent / "reference-cache" / f"{digest}.json"
    if cache.exists():
        cached: dict[str, Any] = json.loads(cache.read_text())
        return cached
    proc = subprocess.run(
        [str(gbstats_python), str(script)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"gbstats reference run failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    assert set(result) == {c["id"] for c in cases}
    cache.parent.mkdir(exist_ok=True)
    cache.write_text(proc.stdout)
    return result
