#!/usr/bin/env bash
# bench/compare.sh: two builds of the service and the matching baseline, served side by side and
# loaded in turn, so that a change can be measured against what it replaces on the same machine
# at the same moment. Not part of the test suite; reports figures, asserts nothing.
#
# Usage: bench/compare.sh OLD_BUILD NEW_BUILD CASE [options]
#   OLD_BUILD, NEW_BUILD   directories holding a release build (index.js + index_bg.wasm), e.g.
#                          `cp -r build /tmp/old` before a change and `build` after it
#   CASE                   create (baseline (c)), get (baseline (b)) or list (baseline (d))
# Options:
#   --n N                  tokens in the project (get and list; default 100), written through
#                          the new build's own POST /upload-tokens
#   --query Q              the listing's query string (default pageSize=100)
#   --reps R               rounds (default 6); each round runs the three targets in a rotating
#                          order
#   --duration SECONDS     length of each wrk run (default 5)
#
# Each round prints requests/s of old, new and baseline and the two ratios to the baseline; the
# last lines are the medians over the rounds. Baselines are built (bench/baselines) if missing.
# wrk, one thread, 2 connections, 127.0.0.1 only; every run is bounded in time.
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$bench")
[ $# -ge 3 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd) case_name=$3
shift 3
n=100 query="pageSize=100" reps=6 duration=5
while [ $# -gt 0 ]; do
  case "$1" in
    --n) n=$2; shift ;;
    --query) query=$2; shift ;;
    --reps) reps=$2; shift ;;
    --duration) duration=$2; shift ;;
    *) echo "compare: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
case $case_name in
  create) baseline=kv-put2 ;;
  get) baseline=kv-get ;;
  list) baseline=kv-list ;;
  *) echo "compare: CASE is create, get or list" >&2; exit 2 ;;
esac
for b in "$old" "$new"; do
  [ -f "$b/index.js" ] && [ -f "$b/index_bg.wasm" ] || { echo "compare: $b holds no build" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "compare: wrk is needed (apt-get install wrk)" >&2; exit 1; }
if [ ! -f "$bench/baselines/$baseline/build/index.js" ]; then
  export PATH="$root/.tools/bin:$PATH" WASM_BINDGEN_BIN="$root/.tools/bin/wasm-bindgen"
  export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt" ESBUILD_BIN="$root/node_modules/.bin/esbuild"
  (cd "$bench/baselines/$baseline" && CARGO_TARGET_DIR="$root/target/bench" worker-build --release) >&2
fi

# State on tmpfs when there is room, as in run.sh, so that disk traffic stays out of the figures.
tmp_base=${TMPDIR:-/tmp}
if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt $((2 * 1024 * 1024)) ]; then
  tmp_base=/dev/shm
fi
work=$(mktemp -d "$tmp_base/uts-compare.XXXXXX")
rate_limit=1000000
python3 "$bench/lib/config.py" service "$work/old.json" "$root" "$old/index.js" "$rate_limit"
python3 "$bench/lib/config.py" service "$work/new.json" "$root" "$new/index.js" "$rate_limit"
python3 "$bench/lib/config.py" baseline "$work/base.json" "$root" "baseline-$baseline" \
  "$bench/baselines/$baseline/build/index.js"
api_key=key-compare-0123456789abcdef
auth="Basic $(printf '%s:' "$api_key" | base64 -w0)"
vars=(--var "API_KEYS:compare:$api_key" --var "AUTH_SIGNING_KEY:compare-signing-key-0123456789abcdef-0123456789")

pgids=()
stop_all() {
  local p
  for p in "${pgids[@]}"; do kill -INT -- "-$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=false
    for p in "${pgids[@]}"; do kill -0 -- "-$p" 2>/dev/null && alive=true; done
    $alive || break
    sleep 0.1
  done
  for p in "${pgids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  pgids=()
}
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# serve CONFIG STATE [args...]: prints the base URL once it answers
serve() {
  local config=$1 state=$2 port
  shift 2
  port=$(free_port)
  setsid env SKIP_WORKER_BUILD=1 WRANGLER_SEND_METRICS=false NO_COLOR=1 CI=1 \
    "$root/node_modules/.bin/wrangler" dev -c "$config" --ip 127.0.0.1 --port "$port" \
    --inspector-port "$(free_port)" --persist-to "$state" --local-protocol http \
    --show-interactive-dev-session=false --log-level warn "$@" >"$work/server-$port.log" 2>&1 </dev/null &
  pgids+=($!)
  for _ in $(seq 1800); do
    curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port/" && { served="http://127.0.0.1:$port"; return; }
    sleep 0.1
  done
  tail -20 "$work/server-$port.log" >&2
  echo "compare: a server did not answer within 3 minutes" >&2
  exit 1
}

token=""
if [ "$case_name" != create ]; then
  echo "writing $n tokens through the new build's API" >&2
  serve "$work/new.json" "$work/seed" "${vars[@]}"
  token=$(node - "$served" "$auth" "$n" <<'EOF'
const [base, auth, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
let first;
for (let i = 0; i < n; i += 20) {
  const batch = Array.from({ length: Math.min(20, n - i) }, (_, j) =>
    fetch(`${base}/upload-tokens`, {
      method: "POST",
      headers: { authorization: auth, "content-type": "application/json" },
      body: JSON.stringify({ ttl: (i + j) % 3 ? 3600 : 0 }),
    }).then(async (r) => {
      if (r.status !== 200) throw new Error(`create answered ${r.status}`);
      return (await r.json()).token;
    }),
  );
  const tokens = await Promise.all(batch);
  first ??= tokens[0];
}
console.log(first);
EOF
)
  stop_all
  for s in old new base; do cp -r "$work/seed" "$work/state-$s"; done
fi
serve "$work/old.json" "$work/state-old" "${vars[@]}"
old_url=$served
serve "$work/new.json" "$work/state-new" "${vars[@]}"
new_url=$served
serve "$work/base.json" "$work/state-base"
base_url=$served

export LUA_PATH="$bench/lua/?.lua;;"
# load TARGET SECONDS: requests/s of one wrk run against old, new or base
load() {
  local target=$1 seconds=$2 url args
  case $case_name:$target in
    create:base) url="$base_url/" args=(POST - '{"ttl":3600}') ;;
    create:*) url="$([ "$target" = old ] && echo "$old_url" || echo "$new_url")/upload-tokens" args=(POST "$auth" '{"ttl":3600}') ;;
    get:base) url="$base_url/$token" args=(GET - -) ;;
    get:*) url="$([ "$target" = old ] && echo "$old_url" || echo "$new_url")/upload-tokens/$token" args=(GET "$auth" -) ;;
    list:base) url="$base_url/?prefix=idx:compare:" args=(GET - -) ;;
    list:*) url="$([ "$target" = old ] && echo "$old_url" || echo "$new_url")/upload-tokens?$query" args=(GET "$auth" -) ;;
  esac
  timeout $((seconds + 60)) wrk -t1 -c2 -d"${seconds}s" --timeout 10s -s "$bench/lua/static.lua" "$url" -- "${args[@]}" 2>&1 |
    awk '/^Requests\/sec/ {print $2} /^  Non-2xx/ {print "non-2xx answers" > "/dev/stderr"}'
}
for t in old new base; do load "$t" 2 >/dev/null; done
label=$case_name
[ "$case_name" = create ] || label+=", N=$n"
[ "$case_name" = list ] && label+=", ?$query"
echo "case $label; $reps rounds of $duration s each, wrk 1 thread 2 connections; requests/s"
results="$work/results.txt"
: >"$results"
for ((i = 1; i <= reps; i++)); do
  case $((i % 3)) in 1) order="old new base" ;; 2) order="new base old" ;; 0) order="base old new" ;; esac
  declare -A r=()
  for t in $order; do r[$t]=$(load "$t" "$duration"); done
  line="${r[old]} ${r[new]} ${r[base]}"
  echo "$line" >>"$results"
  awk -v i="$i" '{printf "round %d: old %.1f new %.1f baseline %.1f  old/baseline %.3f new/baseline %.3f\n", i, $1, $2, $3, $1/$3, $2/$3}' <<<"$line"
done
python3 - "$results" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
med = lambda xs: statistics.median(xs)
old, new, base = (med([r[k] for r in rows]) for k in range(3))
print(f"medians: old {old:.1f}  new {new:.1f}  baseline {base:.1f}  new/old {new / old:.3f}")
print(f"median ratios: old/baseline {med([r[0] / r[2] for r in rows]):.3f}  "
      f"new/baseline {med([r[1] / r[2] for r in rows]):.3f}")
EOF
