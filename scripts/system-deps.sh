#!/usr/bin/env bash
# System packages the tests and benchmarks need. Installed with apt when running as root;
# otherwise a message says exactly what to install.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# the dashboard tests drive Debian's Chromium (Playwright uses it; it never downloads one)
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || need+=(chromium)
# the Segment webhook tests sign requests with Segment's own code path (Node's crypto, JSON.stringify)
command -v node >/dev/null || need+=(nodejs)
# the multi-host test moves a process's clock a day on (libfaketime) and builds network namespaces
{ ls /usr/lib/*/faketime/libfaketime.so.1 || ls /usr/lib/faketime/libfaketime.so.1; } >/dev/null 2>&1 || need+=(faketime)
command -v ip >/dev/null || need+=(iproute2)
command -v fc-list >/dev/null && fc-list | grep -q . || need+=(fonts-dejavu-core)
if [ "${WITH_BENCH:-0}" = 1 ]; then command -v wrk >/dev/null || need+=(wrk); fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing system packages: ${need[*]}. Install them: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
