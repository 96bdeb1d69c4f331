#!/usr/bin/env bash
# Every benchmark under bench/, each printing its figures (and the machine's load).
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BENCH=1 bash scripts/system-deps.sh
mkdir -p bench/results
for b in bench/bench_*.py; do
  echo "== $b"
  .venv/bin/python "$b"
done
