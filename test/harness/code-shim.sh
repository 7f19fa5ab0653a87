#!/usr/bin/env bash
# Stands in for the VS Code executable so @vscode/test-electron's
#   runTests({ vscodeExecutablePath: '<abs>/test/harness/code-shim.sh', extensionDevelopmentPath, extensionTestsPath })
# drives code-server instead of a desktop VS Code (which cannot be downloaded on these machines).
# It picks what it understands out of the desktop command line:
#   --extensionDevelopmentPath=  --extensionTestsPath=  --user-data-dir=  --extensions-dir=  and a folder (first
#   plain argument); every other flag (--no-sandbox, --disable-updates, ...) is desktop-only and ignored.
# Environment for the extension host: desktop VS Code hands its own environment to the extension host, so
# runTests' extensionTestsEnv just works there; here every ELEVATE_* variable (except the harness's own
# ELEVATE_EXTHOST_*) is forwarded as the payload's extensionEnvironment.
# Then test/harness/exthost.mjs starts code-server with the smoke-test driver, opens the workbench with the
# test payload in headless Chromium and exits with the extension host's exit code.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEV= TESTS= UD= EXTDIR= FOLDER=
while [ $# -gt 0 ]; do
  a="$1"; shift
  case "$a" in
    --extensionDevelopmentPath=*) DEV="${a#*=}" ;;
    --extensionTestsPath=*) TESTS="${a#*=}" ;;
    --user-data-dir=*) UD="${a#*=}" ;;
    --extensions-dir=*) EXTDIR="${a#*=}" ;;
    --extensionDevelopmentPath|--extensionTestsPath|--user-data-dir|--extensions-dir)
      v="${1:-}"; shift || true
      case "$a" in
        --extensionDevelopmentPath) DEV="$v" ;; --extensionTestsPath) TESTS="$v" ;;
        --user-data-dir) UD="$v" ;; --extensions-dir) EXTDIR="$v" ;;
      esac ;;
    --*) ;;
    *) [ -z "$FOLDER" ] && FOLDER="$a" ;;
  esac
done
[ -n "$DEV" ] && [ -n "$TESTS" ] || { echo "code-shim: need --extensionDevelopmentPath= and --extensionTestsPath=" >&2; exit 2; }

# ELEVATE_* variables -> JSON object for the extension host (node is the machine's Node, not Node 24).
ENV_JSON="$(node -e '
  const e = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith("ELEVATE_") && !k.startsWith("ELEVATE_EXTHOST_")) e[k] = v;
  process.stdout.write(JSON.stringify(e));')"

args=(--dev "$DEV" --tests "$TESTS" --env "$ENV_JSON")
[ -n "$FOLDER" ] && args+=(--folder "$FOLDER")
[ -n "$UD" ] && args+=(--user-data-dir "$UD")
[ -n "$EXTDIR" ] && args+=(--extensions-dir "$EXTDIR")
[ -n "${ELEVATE_EXTHOST_LOG:-}" ] && args+=(--log "$ELEVATE_EXTHOST_LOG")
# exec: test-electron's SIGINT reaches exthost.mjs, which stops code-server and Chromium.
exec node "$HERE/exthost.mjs" "${args[@]}"
