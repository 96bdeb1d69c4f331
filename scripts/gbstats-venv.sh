#!/usr/bin/env bash
# Test-only reference: GrowthBook's stats engine (gbstats 0.8.0) in its own virtual environment.
# gbstats pins pandas < 2 and numpy < 2 and installs only on Python <= 3.11, so it cannot live in the
# project's venv. tests/experiments run this venv's python as a subprocess to get reference figures.
# Installed from requirements-gbstats.lock (pinned, with hashes; `make lock` re-resolves it).
# Idempotent: does nothing when the venv matches the lock. Prints the venv's python on success.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${GBSTATS_VENV:-.venv-gbstats}
LOCK=requirements-gbstats.lock
STAMP="$VENV/.installed-$(sha256sum "$LOCK" | cut -c1-16)"
if [ -f "$STAMP" ] && "$VENV/bin/python" -c "import gbstats" >/dev/null 2>&1; then
  echo "$VENV/bin/python"
  exit 0
fi
PY=""
for cand in python3.11 python3.10 python3.9 python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(not ((3, 8) <= sys.version_info[:2] <= (3, 11)))'; then
    PY=$cand
    break
  fi
done
if [ -z "$PY" ]; then
  echo "gbstats needs Python 3.8-3.11 (none found): apt-get install python3.11 python3.11-venv" >&2
  exit 1
fi
rm -rf "$VENV"
"$PY" -m venv "$VENV" >&2
# Keep the venv out of git whatever the repository's ignore file says.
echo '*' > "$VENV/.gitignore"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$LOCK" >&2
"$VENV/bin/python" -c "import gbstats" >&2
touch "$STAMP"
echo "$VENV/bin/python"
