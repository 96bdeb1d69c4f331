#!/usr/bin/env bash
# Test-only: the BigQuery emulator (PyPI bqemulator) in its own virtual environment, for tests/warehouse.
# It pins its own DuckDB (older than the project's), so it cannot live in the project's venv, and it
# refuses to start without DuckDB's spatial extension, which it would download: this installs the
# extension from its wheel instead (no network), where DuckDB looks for it ($HOME/.duckdb).
# Installed from requirements-bqemulator.lock (pinned, with hashes; `make lock` re-resolves it).
# Idempotent: does nothing when the venv matches the lock. Prints the emulator's command on success.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BQEMULATOR_VENV:-.venv-bqemulator}
LOCK=requirements-bqemulator.lock
STAMP="$VENV/.installed-$(sha256sum "$LOCK" | cut -c1-16)"
LOADS='import duckdb; duckdb.connect().execute("LOAD spatial")'
if [ -f "$STAMP" ] && [ -x "$VENV/bin/bqemulator" ] && "$VENV/bin/python" -c "$LOADS" >/dev/null 2>&1; then
  echo "$VENV/bin/bqemulator"
  exit 0
fi
command -v python3 >/dev/null || { echo "the BigQuery emulator needs python3 (3.11+): apt-get install python3 python3-venv" >&2; exit 1; }
rm -rf "$VENV"
python3 -m venv "$VENV" >&2
echo '*' > "$VENV/.gitignore"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$LOCK" 2>&1 \
  | grep -v "^WARNING: Location" >&2 || true
"$VENV/bin/python" - >&2 <<'PY'
import os, duckdb, duckdb_extension_spatial as s
ext = os.path.join(os.path.dirname(s.__file__), "extensions", "v" + duckdb.__version__, "spatial.duckdb_extension")
con = duckdb.connect()
con.execute(f"INSTALL '{ext}'")
con.execute("LOAD spatial")
PY
touch "$STAMP"
echo "$VENV/bin/bqemulator"
