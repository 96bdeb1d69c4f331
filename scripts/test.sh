#!/usr/bin/env bash
# The test suite, as developers and CI run it: lint, types, then every test against real services.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
bash scripts/system-deps.sh
$BIN/ruff check src tests bench scripts
$BIN/mypy
mkdir -p test-artifacts
bash scripts/gbstats-venv.sh >/dev/null  # test-only gbstats reference venv for tests/experiments
bash scripts/bqemulator-venv.sh >/dev/null  # test-only BigQuery emulator for tests/warehouse
$BIN/pytest -p no:cacheprovider --durations=15 "$@"
