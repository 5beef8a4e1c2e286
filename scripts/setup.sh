#!/usr/bin/env bash
# Installs what pgferry needs, idempotently (a second run takes seconds):
#   - npm packages (npm ci, only when package-lock.json changed)
#   - the Temporal CLI v1.5.1 (dev server + Web UI), unless `temporal` is on PATH or
#     $TEMPORAL_CLI names one: built once per machine with Go, cached in .tools/bin and in
#     ~/.cache/pgferry so a fresh clone on the same machine does not rebuild it
#   - haproxy, from Debian: test/temporal-tls.test.ts puts it in front of the Temporal dev
#     server as the TLS / mTLS / API-key terminator (only the tests need it)
#   - chromium, from Debian: test/console.test.ts reads the Web UI's rendered pages with it
#   - with --bench: pgcopydb (a peer in the benchmark), from Debian
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_VERSION=v1.5.1
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/pgferry"
CACHED_CLI="$CACHE_DIR/temporal-$TEMPORAL_VERSION"

say() { printf 'setup: %s\n' "$*"; }

# npm packages
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  # npm 11 here writes lock files without other platforms' optional packages (swc, rollup) and
  # then refuses them in `npm ci`; `npm install` honours the same lock file.
  if ! npm ci --no-audit --no-fund 2>/tmp/pgferry-npm-ci.log; then
    say "npm ci refused the lock file ($(grep -m1 -o 'Missing: [^ ]*' /tmp/pgferry-npm-ci.log || echo 'see /tmp/pgferry-npm-ci.log')); using npm install"
    npm install --no-audit --no-fund
  fi
else
  say "npm packages are up to date"
fi

# Temporal CLI
if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then
  say "using TEMPORAL_CLI=$TEMPORAL_CLI"
elif command -v temporal >/dev/null 2>&1; then
  say "using temporal on PATH: $(command -v temporal)"
elif [ -x .tools/bin/temporal ]; then
  say "using .tools/bin/temporal"
elif [ -x "$CACHED_CLI" ]; then
  mkdir -p .tools/bin
  cp "$CACHED_CLI" .tools/bin/temporal
  say "using the cached Temporal CLI ($CACHED_CLI)"
else
  if ! command -v go >/dev/null 2>&1; then
    say "ERROR: no Temporal CLI and no Go toolchain to build it; install Go or set TEMPORAL_CLI" >&2
    exit 1
  fi
  say "building the Temporal CLI $TEMPORAL_VERSION with Go (once per machine; may take ~10 minutes)"
  mkdir -p .tools/bin
  if ! GOBIN="$PWD/.tools/bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_VERSION"; then
    say "ERROR: go install github.com/temporalio/cli/cmd/temporal@$TEMPORAL_VERSION failed (see above)" >&2
    exit 1
  fi
  mkdir -p "$CACHE_DIR"
  cp .tools/bin/temporal "$CACHED_CLI"
  say "built .tools/bin/temporal (cached in $CACHED_CLI)"
fi

# PostgreSQL server binaries (tests and the quickstart start their own clusters)
PG_BIN="${PGFERRY_PG_BIN:-/usr/lib/postgresql/15/bin}"
if [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_dump" ]; then
  say "ERROR: PostgreSQL server binaries not found in $PG_BIN (install postgresql-15, or set PGFERRY_PG_BIN)" >&2
  exit 1
fi
say "PostgreSQL binaries: $PG_BIN"

# A Debian package only some tests need: installed when missing, a warning when apt-get cannot.
install_test_tool() { # <command> <package> <why> <without it>
  local found
  found="$(command -v "$1" || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true)"
  if [ -n "$found" ]; then say "$1: $found"; return; fi
  say "installing $2 ($3)"
  if { apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }; }; then
    say "$1: $(command -v "$1" || echo "/usr/sbin/$1")"
  else
    say "WARNING: could not install $2 with apt-get; $4" >&2
  fi
}

# haproxy: stunnel cannot offer HTTP/2 by ALPN, which the worker's gRPC client requires
install_test_tool haproxy haproxy "the Temporal TLS test's proxy" "test/temporal-tls.test.ts needs it (everything else works without)"
install_test_tool chromium chromium "the Web UI console test's headless browser" "test/console.test.ts then checks the Web UI through the API only"

if [ "${1:-}" = "--bench" ]; then
  if ! command -v pgcopydb >/dev/null 2>&1; then
    say "installing pgcopydb (benchmark peer)"
    apt-get install -y pgcopydb >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y pgcopydb; }
  fi
  say "pgcopydb: $(command -v pgcopydb)"
fi
