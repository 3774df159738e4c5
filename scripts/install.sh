#!/usr/bin/env bash
# Installs everything the demo and the tests need, on a fresh machine.
# - Debian's chromium (and chromium-headless-shell, chromium-l10n, zip) when missing and we may
#   install them (root with apt-get);
#   elsewhere Playwright's own Chromium is used (run `.venv/bin/playwright install chromium`).
# - Debian's postgresql (the server binaries the PostgreSQL tests start in a temporary directory;
#   no cluster is created and no service started) when root with apt-get.
# - the project with its test and postgres extras in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 && [ -z "${RECORE_CONNECTOR_CHROMIUM:-}" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "== installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "!! chromium not found: set RECORE_CONNECTOR_CHROMIUM or run '.venv/bin/playwright install chromium'" >&2
  fi
fi
# Debian's chromium speaks only English without chromium-l10n; the extension is Japanese first.
if [ -d /usr/lib/chromium ] && [ ! -f /usr/lib/chromium/locales/ja.pak ] \
   && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "== installing chromium-l10n (Japanese UI)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-l10n >/dev/null
fi
# The store's pages run headless without the extension: Debian's headless shell is the lighter
# browser for that (what Playwright itself runs headless); the full chromium is the fallback.
if [ -d /usr/lib/chromium ] && ! command -v chromium-headless-shell >/dev/null 2>&1 \
   && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "== installing chromium-headless-shell (store pages)"
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell >/dev/null || true
fi
# libfaketime moves the companion's clock in tests/sync/test_clock.py (skipped without it)
if ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 \
   && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "== installing libfaketime (clock-step tests)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfaketime >/dev/null || true
fi
if ! command -v zip >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  # Info-ZIP is the baseline of benchmarks/zip_bench.py
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zip >/dev/null || true
fi

# The tests run every database test against PostgreSQL too; they start their own server (as an
# unprivileged user, on a socket in a temporary directory), so the package's own cluster and
# service are not wanted: createcluster.conf says so before the package is installed.
pg_initdb() { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
if ! pg_initdb && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "== installing Debian's postgresql (for the PostgreSQL tests)"
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confold \
    postgresql >/dev/null
fi
if ! pg_initdb; then
  echo "!! PostgreSQL not found: the PostgreSQL variants of the tests will be skipped" >&2
fi

PY=${PY:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
echo "== installing recore-connector into .venv"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,postgres]'
echo "== ready: .venv/bin/recore-connector"
