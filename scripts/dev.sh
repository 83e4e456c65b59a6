#!/usr/bin/env bash
# Runs the service locally: installs what it needs, writes .dev.vars with the documented
# development key if there is none, and starts `wrangler dev` on http://127.0.0.1:8787 with
# local KV, R2 and rate limiting (state under .wrangler/state).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f .dev.vars ] || cp dev.vars.example .dev.vars
export WRANGLER_SEND_METRICS=false
exec node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" "$@"
