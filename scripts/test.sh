#!/usr/bin/env bash
# Run the whole test suite, on SQLite and on PostgreSQL + Redis: the same command for
# developers and CI. Arguments go to pytest (for example tests/api -k invites).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_venv.sh

# Debian packages the suite needs, one a line.
DEBIAN_PACKAGES=(
  postgresql   # the production database stack (and pg_dump/psql for the backup tests)
  redis-server # shared rate limits on the production stack
  chromium     # browser tests (Playwright drives Debian's Chromium)
  sox          # known tones for the audio tests
  gcc          # builds the native fan-out loop (at set-up, below)
  python3-dev
  espeak-ng    # real speech for the audio tests
  fonts-noto-core # Arabic, Korean and Cyrillic glyphs in browser screenshots
  fonts-noto-cjk
  janus        # the media plane at scale: audio tests run against it too
  iproute2     # Janus tests put each instance on a network namespace of its own
  nginx        # tests/e2e/test_deployment.py runs deploy/'s nginx site and coturn file,
  coturn       #   as children of the test on free ports (never the Debian services),
  openssl      #   with a certificate it makes
)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME PORT: up to 30 s for a freshly started service to accept connections.
wait_for() {
  local tries
  for tries in $(seq 60); do
    port_open "$2" && return 0
    sleep 0.5
  done
  echo "$1 did not start on port $2" >&2
  return 1
}

apt_need "${DEBIAN_PACKAGES[@]}"

# Local services, unless the suite was pointed elsewhere (TOWNHALL_TEST_POSTGRES / _REDIS).
if [ -z "${TOWNHALL_TEST_POSTGRES:-}" ] && ! port_open 5432; then
  echo "Starting PostgreSQL..."
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  wait_for PostgreSQL 5432
fi
if [ -z "${TOWNHALL_TEST_REDIS:-}" ] && ! port_open 6379; then
  echo "Starting Redis..."
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for Redis 6379
fi

ensure_venv dev
ensure_native
# A full run (no arguments) also lints and type-checks, as CI does.
if [ $# -eq 0 ]; then
  "$VENV/bin/ruff" check src tests
  "$VENV/bin/ruff" format --check --quiet src tests
  "$VENV/bin/mypy"
  # Every worker has its own databases, SMTP server and Redis key prefix. A file's tests stay
  # on one worker: the browser modules share one server and one story across their tests.
  set -- -n 2 --dist loadfile --durations=25
fi
exec "$VENV/bin/python" -m pytest "$@"
