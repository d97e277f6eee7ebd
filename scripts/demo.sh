#!/usr/bin/env bash
# The README's first command: sets up what is missing (scripts/setup.sh: redis-server, Node 24, npm ci), then runs
# `alertbridge demo` with the given options (`--rate N`, `--count N`, `--out FILE`; see `alertbridge demo --help`).
# On a terminal: one line per record and a live footer, the full records in a file it names; piped or redirected:
# records to stdout as NDJSON, set-up messages and logs to stderr. Ctrl-C stops it.
set -euo pipefail
. "$(dirname "$0")/setup.sh"
exec node bin/alertbridge.js demo "$@"
