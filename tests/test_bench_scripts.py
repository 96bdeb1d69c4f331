"""Every benchmark under bench/ still starts: its imports (some reach into tests/ for helpers that
move when tests are reorganised) and its --help. Running them is `make bench`'s job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHES = sorted((ROOT / "bench").glob("bench_*.py"))


def test_there_are_benchmarks() -> None:
    assert len(BENCHES) >= 8


@pytest.mark.parametrize("script", BENCHES, ids=[p.stem for p in BENCHES])
def test_a_benchmark_starts_and_explains_itself(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
