#!/usr/bin/env bash
# Installs what building, running and testing the service needs, into this checkout where it
# can (.tools/, node_modules/, .venv/). Safe to run again: each step is skipped once done.
#   scripts/setup.sh            Rust target, worker-build, wasm-bindgen, npm packages
#   scripts/setup.sh --python   also the Python virtualenv of the test suite
#   scripts/setup.sh --browser  also Debian's Chromium (apt) for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=0.2.130

want_python=false want_browser=false
for arg in "$@"; do
  case "$arg" in
    --python) want_python=true ;;
    --browser) want_browser=true ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

pids=()
if ! "$root/.tools/bin/worker-build" --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  say "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install -q worker-build --version "$WORKER_BUILD_VERSION" --locked --root "$root/.tools" &
  pids+=($!)
fi
if ! "$root/.tools/bin/wasm-bindgen" --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # Not --locked: its lock file pins a crate version the registry no longer serves.
  cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$root/.tools" &
  pids+=($!)
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

if $want_python; then
  if [ ! -x .venv/bin/python ] || [ test/requirements.txt -nt .venv/.installed ]; then
    say "creating the Python virtualenv of the test suite"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r test/requirements.txt
    touch .venv/.installed
  fi
fi

if $want_browser && [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

for pid in "${pids[@]}"; do wait "$pid"; done
say "ready"
