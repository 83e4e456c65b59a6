#!/usr/bin/env bash
# bench/load.sh: a bounded load test of the service under `wrangler dev` (200 clients mixing
# creates, gets, listings, deletes and chunked uploads for 60 s), then a check that the listing
# is exactly the tokens created and not deleted and that every finished upload reads back with
# the SHA-256 sent. Not part of the test suite. Options: see `bench/load.sh --help`
# (bench/load.mjs). Installs the project's toolchain first if it is missing (scripts/setup.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
case " $* " in *" -h "* | *" --help "*) exec node bench/load.mjs --help ;; esac
scripts/setup.sh >&2
exec node bench/load.mjs "$@"
