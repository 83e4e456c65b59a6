#!/usr/bin/env bash
# The whole test suite: set-up, formatting and lints, host tests of the core, the release
# build, then every Node test file under test/ (Miniflare, real `wrangler dev` with the
# official clients, schemathesis, the browser uploader).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"

started=$(date +%s)
step() { printf '\n\033[1m== %s\033[0m (at %ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "set-up"
scripts/setup.sh --python --browser

step "format and lints"
cargo fmt --all -- --check
cargo clippy -q -p upload-tokens-core --all-targets -- -D warnings
cargo clippy -q -p upload-token-service --target wasm32-unknown-unknown -- -D warnings

step "core tests (host)"
cargo test -q -p upload-tokens-core

step "release build"
scripts/build.sh

step "worker tests (Node)"
export SKIP_WORKER_BUILD=1
# A test that hangs fails after ten minutes instead of holding CI until its own limit.
node --test --test-concurrency=1 --test-timeout=600000 test/*.test.mjs
step "all tests passed"
