#!/usr/bin/env bash
# Builds the release Worker into build/ (index.js + index_bg.wasm) with the locally installed
# wasm-bindgen, wasm-opt and esbuild (see scripts/setup.sh). `--dev` skips wasm-opt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.tools/bin:$PATH"
export WASM_BINDGEN_BIN="$root/.tools/bin/wasm-bindgen"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
# The console's copy of api.video's browser uploader (public/console/vendor/, git-ignored),
# refreshed only when it differs so that `wrangler dev` does not see a change on every build.
uploader=node_modules/@api.video/video-uploader
[ -f "$uploader/dist/index.js" ] || { echo "build: $uploader is missing: run npm ci" >&2; exit 1; }
mkdir -p public/console/vendor
cmp -s "$uploader/dist/index.js" public/console/vendor/video-uploader.js ||
  cp "$uploader/dist/index.js" public/console/vendor/video-uploader.js
cmp -s "$uploader/LICENSE" public/console/vendor/video-uploader.LICENSE.txt ||
  cp "$uploader/LICENSE" public/console/vendor/video-uploader.LICENSE.txt
# Test runs build once up front and start several runtimes; they set SKIP_WORKER_BUILD=1 so
# that wrangler's own build step does not rebuild (and race) under them.
if [ "${SKIP_WORKER_BUILD:-}" = 1 ] && [ -f build/index.js ]; then
  exit 0
fi
if [ "${1:-}" = "--dev" ]; then
  exec worker-build --release --no-opt
fi
exec worker-build --release
