#!/usr/bin/env bash
# bench/index.sh: what the project index (a SQLite-backed Durable Object per project) costs and
# gives: the token endpoints that use it next to minimal baselines of the same I/O, listings up
# to a million tokens, the design it replaced (the KV index) beside it, the storage round trips
# per request as the service counts them, a latency model for the real edge, and how many
# creates one project's object sustains. Not part of the test suite.
#
# Usage:
#   bench/index.sh            the full run (about 31 minutes on 2 cores, at most 50):
#                             N = 1,000, 10,000, 100,000 and 1,000,000 tokens, the old design at
#                             N up to 100,000, 3 repetitions of the listings, 8 rounds of get,
#                             create and delete, 2 of the ceiling; writes docs/bench/index-results.md,
#                             docs/bench/index-results.json and docs/bench/index-chart.svg
#   bench/index.sh --quick    a short check (a few minutes once the builds are there):
#                             N = 1,000 and 10,000, one repetition, 1 s runs; bench/out/index-quick/
#                             (figures for checking the script, not for quoting)
#
# Options (they override the above, so `--quick --reps 2` works):
#   --sizes 1000,10000       the values of N of the service
#   --old-sizes 1000,10000   the values of N of the old design (each at most 1,000,000)
#   --reps R                 repetitions of the listings (medians are quoted)
#   --misc-rounds R          rounds of get, create and delete, each run next to its baseline's
#                            (more and shorter than the listings': their targets are ratios)
#   --duration SECONDS       length of the runs of get, create and delete
#   --ceiling-conns 1,2,4    wrk connections of the creates-per-second runs
#   --out DIR                where index-results.{json,md} and index-chart.svg go
#   --old-commit REV         the build of the old design (default 8deccd3, the last commit
#                            with the index in KV); built once into target/bench-old/REV
#   --no-build               use the builds already there (build/, bench/baselines/*/build)
#   --keep                   keep the temporary directory (state, logs, raw results)
#   --max-minutes M          time limit: once it is near, the timed runs still to come are
#                            skipped (the report lists them) and the run finishes with what it
#                            has; M + 5 minutes is a hard stop
#
# What it does. Builds the release service (scripts/build.sh), baselines (b) bench/baselines/
# kv-get and (f), (g), (h) bench/baselines/do-index, the seeding tool, and the old design with
# its own seeding tool from REV (git archive, nothing else of the repository is touched).
# Writes the data with the projects' own code: token records with the core's
# TokenStore::save into the local KV state (bench/lib/load-kv.*), and each project's index by
# the core's SqlIndex::open and ::insert straight into the SQLite file of the project's object
# in the `wrangler dev --persist-to` state (the object is first created by one request, the
# runtime stopped, then the file written; the legacy import is marked done as the object marks
# it); the old design's KV entries with the old TokenStore::save. Then serves every target with
# `wrangler dev --ip 127.0.0.1` and loads one at a time with wrk (1 thread, 127.0.0.1 only,
# every run bounded in time), each service run right next to a run of what it is compared
# with, the order alternating between repetitions:
#   1. get, create, delete (2 connections) next to (b) one KV get, (f) one KV put + one object
#      call inserting a row, (g) one object call deleting a row + one KV delete; and get next
#      to the same build served with the console's static assets in front (every other figure
#      is without them, as the baselines have none);
#   2. listings at every N: page 1, a middle page and the last page, sortBy createdAt and ttl,
#      ascending and descending, pageSize 25 and 100 (1 connection: one object serves one
#      request at a time, so a second connection only queues behind the first), each next to
#      (h) one object call running the same COUNT(*) and LIMIT/OFFSET query;
#   2b. at N = 100,000, the listings once more through wrangler's dev proxy and straight to the
#      socket of the runtime that runs the Worker (the edge has no such proxy), next to each other;
#   3. the old design at its N, three listings each, next to the same listings of the service;
#   4. creates per second on one project's object (several connections), against the same
#      load spread over 8 projects and against (f);
#   5. storage round trips per request from the Server-Timing header (var SERVER_TIMING=1),
#      of the service and of the old design, from separate starts, outside the timed runs.
# Each timed run also records the CPU time its server used (all its processes, and the workerd
# process that runs the Worker, its objects and the local KV apart), which a machine shared
# with other work disturbs much less than requests per second. A server that stops answering
# is started again on its state, and the results say so.
# bench/lib/index-report.mjs writes the results, the edge latency model and the chart.
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$bench")
cd "$root"
# shellcheck source=bench/lib/common.sh
. "$bench/lib/common.sh"

sizes="1000,10000,100000,1000000" old_sizes="1000,10000,100000" reps=3 duration=2 misc_rounds=8
ceiling_conns="1,2,4,8,16" ceiling_duration=3 ceiling_rounds=2 warmup=1 quick=false
out="$root/docs/bench" build=true keep=false max_minutes=45 old_commit=8deccd3
command_line="bench/index.sh $*"
if given --quick "$@"; then
  quick=true sizes="1000,10000" old_sizes="1000,10000" reps=1 duration=1 misc_rounds=2
  ceiling_conns="1,4" ceiling_duration=1 ceiling_rounds=1 max_minutes=20 out="$root/bench/out/index-quick"
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ;;
    --sizes) sizes=$2; shift ;;
    --old-sizes) old_sizes=$2; shift ;;
    --reps) reps=$2; shift ;;
    --duration) duration=$2; shift ;;
    --misc-rounds) misc_rounds=$2; shift ;;
    --ceiling-conns) ceiling_conns=$2; shift ;;
    --old-commit) old_commit=$2; shift ;;
    *) common_option "$1" "${2:-}"; shift $((taken - 1)) ;;
  esac
  shift
done
IFS=, read -r -a sizes_list <<<"$sizes"
IFS=, read -r -a old_sizes_list <<<"$old_sizes"
IFS=, read -r -a ceiling_list <<<"$ceiling_conns"
for n in "${old_sizes_list[@]}"; do
  # Each listing of the old design is paired with the same listing of the service.
  [[ ",$sizes," == *",$n,"* ]] || { echo "bench: every --old-sizes value must be in --sizes ($n is not)" >&2; exit 2; }
done
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Length of a listing run at N: a few hundred answers per run from N = 100,000 on (the p99 is
# taken over the answers of all the repetitions together).
list_seconds() { # N
  if $quick; then echo 1; return; fi
  if [ "$1" -le 10000 ]; then echo 1; else echo 3; fi
}
# The old design's listing costs about 13 µs per token here: give its slow cases some requests.
old_seconds() { # N
  if $quick; then echo 2; return; fi
  if [ "$1" -le 1000 ]; then echo 2; elif [ "$1" -le 10000 ]; then echo 3; else echo 10; fi
}

# --- the temporary directory, on tmpfs when there is room ----------------------------------------
make_work uts-index 6 logs data data-old state
declare -A pgid_of_port=() pids_of_group=() runtime_pids=()
start_watchdog $((max_minutes + 5))
# The timed runs stop early enough for the round trips, the old design's probes and the report.
budget_end=$((started_at + max_minutes * 60 - 180))
# within_budget WHAT: whether there is time left for WHAT; if not, WHAT is recorded as skipped.
within_budget() {
  [ "$(date +%s)" -lt "$budget_end" ] && return 0
  say "time limit near: skipping $1"
  printf '{"event":"skipped","what":"%s","t":%s}\n' "$1" $(($(date +%s) - started_at)) >>"$work/events.jsonl"
  return 1
}

# --- tools and builds ----------------------------------------------------------------------------
need_tools curl python3 node git tar
baselines=(kv-get do-index)

if $build; then
  build_service
  for b in "${baselines[@]}"; do build_baseline "$b"; done
fi
say "building the seeding tool"
build_seed "$bench/baselines" "$bench_target" >&2

# The old design: the tree of $old_commit, exported once (git archive) and built once; both
# builds are kept in target/bench-old/ and reused by later runs.
old_rev=$(git rev-parse --short "$old_commit^{commit}")
old_src="$root/target/bench-old/$old_rev"
if [ ! -f "$old_src/.built" ]; then
  say "building the old design ($old_rev) into $old_src"
  rm -rf "$old_src"
  mkdir -p "$old_src"
  git archive "$old_rev" | tar -x -C "$old_src"
  build_worker old "$old_src" "$old_src" "$root/target/bench-old/target"
  build_seed "$old_src/bench/baselines" "$root/target/bench-old/target-host" >&2
  touch "$old_src/.built"
fi
seed="$bench_target/release/bench-seed"
old_seed="$root/target/bench-old/target-host/release/bench-seed"

# Serve copies, so that a build started meanwhile cannot change a target mid-run.
cp -r build "$work/service"
cp -r "$old_src/build" "$work/old"
git status --porcelain -- src core Cargo.toml Cargo.lock wrangler.toml bench >"$work/service-tree.txt" 2>/dev/null || true
copy_baselines "${baselines[@]}"

# --- configurations ------------------------------------------------------------------------------
rate_limit=1000000
python3 "$bench/lib/config.py" service "$work/service.json" "$root" "$work/service/index.js" "$rate_limit"
python3 "$bench/lib/config.py" service "$work/service-assets.json" "$root" "$work/service/index.js" "$rate_limit" assets
python3 "$bench/lib/config.py" service "$work/old.json" "$old_src" "$work/old/index.js" "$rate_limit"
python3 "$bench/lib/config.py" baseline "$work/kv-get.json" "$root" "baseline-kv-get" "$work/kv-get/index.js"
python3 "$bench/lib/config.py" baseline-do "$work/do-index.json" "$root" "baseline-do-index" "$work/do-index/index.js" IndexBaseline
namespace_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kv_namespaces"][0]["id"])' "$work/kv-get.json")
service_name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$work/service.json")

spread=8
spread_projects=()
for ((i = 1; i <= spread; i++)); do spread_projects+=("bench-spread-$i"); done
list_projects=()
for n in "${sizes_list[@]}"; do list_projects+=("bench-$n"); done
api_keys=""
for p in "${list_projects[@]}" bench-read bench-del bench-create "${spread_projects[@]}"; do
  api_keys+="${api_keys:+,}$p:$(key_of "$p")"
done
old_keys=""
for n in "${old_sizes_list[@]}"; do old_keys+="${old_keys:+,}bench-$n:$(key_of "bench-$n")"; done
old_keys+=",bench-create:$(key_of bench-create)"
signing=(--var "AUTH_SIGNING_KEY:bench-signing-key-0123456789abcdef-0123456789")
service_vars=(--var "API_KEYS:$api_keys" "${signing[@]}")
old_vars=(--var "API_KEYS:$old_keys" "${signing[@]}")

# --- serving -------------------------------------------------------------------------------------
# Each server's processes, whose CPU time the timed runs read: all of them (wrangler's Node
# process and proxy runtime, which only relay requests locally) and the runtime that runs the
# Worker, its objects and the KV simulator (the workerd process with an inspector).
on_server_started() { # PGID PORT
  local p
  pgid_of_port[$2]=$1
  pids_of_group[$1]="" runtime_pids[$1]=""
  for p in $(pgrep -g "$1"); do
    pids_of_group[$1]+="$p "
    if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- '--inspector-addr'; then runtime_pids[$1]+="$p "; fi
  done
}
# Servers by name, remembered so that one that stops answering (on a machine shared with other
# work, a process may be ended from outside) is started again on the same state.
declare -A srv_var=() srv_cfg=() srv_state=() srv_args=() srv_pgid=()
restarts=0
# serve NAME VAR CONFIG STATE [wrangler args...]: start_server, and VAR set to its base URL.
serve() {
  local name=$1 var=$2 cfg=$3 state=$4
  shift 4
  start_server "$name" "$cfg" "$state" "$@"
  srv_var[$name]=$var srv_cfg[$name]=$cfg srv_state[$name]=$state srv_pgid[$name]=$started_pgid
  srv_args[$name]=$(printf '%q ' "$@")
  printf -v "$var" '%s' "$started_base"
}
unserve() { # NAME
  stop_server "${srv_pgid[$1]}"
  unset "srv_pgid[$1]"
}
# ensure NAME...: each server answers, or is started again (and the event recorded).
ensure() {
  local name var
  for name in "$@"; do
    var=${srv_var[$name]}
    curl -s -o /dev/null --max-time 15 "${!var}/" && continue
    say "$name stopped answering: starting it again"
    restarts=$((restarts + 1))
    printf '{"event":"restart","server":"%s","t":%s,"phase":"%s","rep":%s}\n' "$name" \
      $(($(date +%s) - started_at)) "${phase_now:-}" "${rep:-0}" >>"$work/events.jsonl"
    stop_server "${srv_pgid[$name]}"
    eval "start_server \"\$name\" \"\${srv_cfg[\$name]}\" \"\${srv_state[\$name]}\" ${srv_args[$name]}"
    srv_pgid[$name]=$started_pgid
    printf -v "$var" '%s' "$started_base"
  done
}
# expect_status CODE CURL_ARGS...: one request that must answer CODE
expect_status() {
  local want=$1 got
  shift
  got=$(curl -s -o "$work/logs/last-body" -w '%{http_code}' --max-time 60 "$@")
  if [ "$got" != "$want" ]; then
    say "expected $want, got $got from: $*"
    head -c 500 "$work/logs/last-body" >&2
    exit 1
  fi
}

# --- data ----------------------------------------------------------------------------------------
# Deletes use each token once: a pool file holds one slice per timed run, then one per warm-up,
# then a few tokens for the Server-Timing probes.
pool=$((600 * duration))
warm_pool=$((600 * warmup))
probe_start=$((misc_rounds * pool + warm_pool))
del_count=$((probe_start + 20))
now=$(date +%s)
say "writing token records with the core's TokenStore::save (bench-read 1000, bench-del and bench-del-base $del_count)"
"$seed" --out "$work/data" --now "$now" --project bench-read=1000 --project "bench-del=$del_count" \
  --project "bench-del-base=$del_count"
load_kv "$work/state/new" "$work/data/kv-bench-read.json" "$work/data/kv-bench-del.json"
load_kv "$work/state/kvget" "$work/data/kv-bench-read.json"
load_kv "$work/state/assets" "$work/data/kv-bench-read.json"
load_kv "$work/state/do" "$work/data/kv-bench-del-base.json"

# Each object is created by one request (which also runs its legacy import: nothing to import,
# so it is marked done), then the runtime is stopped and the object's file is written.
say "creating the project objects (one request each)"
start_server prime-service "$work/service.json" "$work/state/new" "${service_vars[@]}"
for p in "${list_projects[@]}" bench-del bench-create "${spread_projects[@]}"; do
  expect_status 200 "$started_base/upload-tokens?pageSize=1" -H "Authorization: $(auth_of "$p")"
done
stop_server "$started_pgid"
start_server prime-do-index "$work/do-index.json" "$work/state/do"
for p in "${list_projects[@]}" bench-del-base bench-create-base; do
  expect_status 200 "$started_base/?project=$p&sortBy=createdAt&sortOrder=desc&offset=0&limit=1"
done
stop_server "$started_pgid"
python3 "$bench/lib/do-files.py" "$work/state/new" "$service_name" ProjectIndex >"$work/do-files-service.tsv"
python3 "$bench/lib/do-files.py" "$work/state/do" baseline-do-index IndexBaseline >"$work/do-files-do.tsv"
file_of() { # TSV NAME
  awk -F'\t' -v n="$2" '$1 == n {print $2}' "$1"
}
seed_args=(--out "$work/data" --now "$now")
total=0
for n in "${sizes_list[@]}"; do
  f=$(file_of "$work/do-files-service.tsv" "bench-$n")
  [ -n "$f" ] || { say "no object file for bench-$n"; exit 1; }
  seed_args+=(--project "bench-$n=$n" --no-records "bench-$n" --db "bench-$n=$f")
  total=$((total + n))
done
f=$(file_of "$work/do-files-service.tsv" bench-del)
seed_args+=(--project "bench-del=$del_count" --no-records bench-del --db "bench-del=$f")
f=$(file_of "$work/do-files-do.tsv" bench-del-base)
seed_args+=(--project "bench-del-base=$del_count" --no-records bench-del-base --db "bench-del-base=$f")
say "writing $total index rows (and 2 x $del_count for the deletes) with the core's SqlIndex into the objects' files"
t0=$(date +%s)
"$seed" "${seed_args[@]}"
say "index rows written in $(($(date +%s) - t0)) s"
# Baseline (h) reads the very same rows: each project's file, copied over its object's.
for n in "${sizes_list[@]}"; do
  src=$(file_of "$work/do-files-service.tsv" "bench-$n") dst=$(file_of "$work/do-files-do.tsv" "bench-$n")
  [ -n "$dst" ] || { say "no baseline object file for bench-$n"; exit 1; }
  rm -f "$dst-wal" "$dst-shm"
  cp "$src" "$dst"
done
python3 - "$work/do-files-service.tsv" "$work/do-files-do.tsv" "${sizes_list[@]}" >&2 <<'EOF'
import sqlite3, sys
svc = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[1]))
base = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[2]))
for n in sys.argv[3:]:
    for what, files in (("service", svc), ("baseline (h)", base)):
        db = sqlite3.connect(files[f"bench-{n}"])
        rows = db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0]
        done = db.execute("SELECT value FROM meta WHERE key = 'legacyKvImport'").fetchone()
        db.close()
        ok = rows == int(n) and done == ("done",)
        print(f"{'ok' if ok else 'MISMATCH'}: bench-{n} of the {what}: {rows} rows, legacy import {done}")
        if not ok:
            sys.exit(1)
EOF

say "writing the old design's KV entries with the old TokenStore::save ($old_rev)"
old_args=(--out "$work/data-old" --now "$now")
for n in "${old_sizes_list[@]}"; do old_args+=(--project "bench-$n=$n"); done
"$old_seed" "${old_args[@]}"
# One state per N, as bench/run.sh does (the simulator's last list page of a prefix scans to the
# end of the namespace's table, so projects sharing a state would slow each other down).
for n in "${old_sizes_list[@]}"; do load_kv "$work/state/old-$n" "$work/data-old/kv-bench-$n.json"; done

# --- cases ---------------------------------------------------------------------------------------
runs="$work/runs.jsonl" probes="$work/probes.jsonl"
: >"$runs"
: >"$probes"
: >"$work/events.jsonl"
export LUA_PATH="$bench/lua/?.lua;;"
rep=0
# cpu_ticks PGID: sets `ticks` and `ticks_runtime` to the user + system clock ticks used so far
# by all of a server's processes, and by the runtime that runs the Worker. On a machine shared
# with other work, CPU time per request moves much less than requests per second. Builtins
# only: no process is started, so a loaded machine does not stretch the pauses between runs.
cpu_ticks() {
  local p line fields t
  ticks=0 ticks_runtime=0
  for p in ${pids_of_group[$1]:-}; do
    line=""
    { read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
    read -r -a fields <<<"${line##*) }"
    t=$((fields[11] + fields[12]))
    ticks=$((ticks + t))
    if [[ " ${runtime_pids[$1]:-} " == *" $p "* ]]; then ticks_runtime=$((ticks_runtime + t)); fi
  done
  return 0
}
ticks_per_second=$(getconf CLK_TCK)
# load PHASE CASE TARGET N CONNS SECONDS SCRIPT URL ARGS...: one timed wrk run, recorded with
# the CPU time its server used meanwhile.
load() {
  local phase=$1 id=$2 target=$3 n=$4 conns=$5 seconds=$6 script=$7 url=$8
  shift 8
  local raw="$work/logs/wrk-$phase-$target-$id-$n-$conns-$rep.txt" port pgid t0 t1 r0 r1 cpu_ms=null cpu_runtime_ms=null
  port=${url#http://127.0.0.1:}
  port=${port%%/*}
  port=${port%%\?*}
  pgid=${pgid_of_port[$port]:-}
  if [ -n "$pgid" ]; then
    cpu_ticks "$pgid"
    t0=$ticks r0=$ticks_runtime
  fi
  wrk_timed "$raw" "$conns" "$seconds" "$script" "$url" "$@"
  if [ -n "$pgid" ]; then
    cpu_ticks "$pgid"
    t1=$ticks r1=$ticks_runtime
    cpu_ms=$(((t1 - t0) * 1000 / ticks_per_second))
    cpu_runtime_ms=$(((r1 - r0) * 1000 / ticks_per_second))
  fi
  printf '{"phase":"%s","case":"%s","target":"%s","n":%s,"conns":%s,"seconds":%s,"rep":%s,"cpu_ms":%s,"cpu_runtime_ms":%s,"wrk":%s}\n' \
    "$phase" "$id" "$target" "$n" "$conns" "$seconds" "$rep" "$cpu_ms" "$cpu_runtime_ms" "$wrk_json" >>"$runs"
  printf '  %-8s %-32s %-12s N=%-8s c=%-2s rep %s: %s\n' "$phase" "$id" "$target" "$n" "$conns" "$rep" \
    "$(rps_of "$raw")" >&2
}
warm() { # SECONDS CONNS SCRIPT URL ARGS...: untimed load
  wrk_warm /dev/null "$@"
}
ordered() { # the two halves of a pair, in this repetition's order
  if [ $((rep % 2)) -eq 1 ]; then echo "$1 $2"; else echo "$2 $1"; fi
}
# list_cases N: "ID PAGE SIZE SORT_BY SORT_ORDER" lines, the 24 listings at N.
list_cases() {
  local n=$1 size by order kind pages page
  for size in 25 100; do
    pages=$(((n + size - 1) / size))
    for by in createdAt ttl; do
      for order in asc desc; do
        for kind in first middle last; do
          case $kind in first) page=1 ;; middle) page=$(((pages + 1) / 2)) ;; last) page=$pages ;; esac
          echo "list-$by-$order-$size-$kind $page $size $by $order"
        done
      done
    done
  done
}
# The old design does the same work for every page (it reads the whole index): three listings.
old_case_ids="list-createdAt-desc-25-first list-ttl-asc-100-middle list-createdAt-asc-100-last"
svc_list_url() { # BASE N PAGE SIZE BY ORDER
  printf '%s/upload-tokens?sortBy=%s&sortOrder=%s&currentPage=%s&pageSize=%s' "$1" "$5" "$6" "$3" "$4"
}
base_list_url() { # BASE N PAGE SIZE BY ORDER
  printf '%s/?project=bench-%s&sortBy=%s&sortOrder=%s&offset=%s&limit=%s' "$1" "$2" "$5" "$6" $((($3 - 1) * $4)) "$4"
}
spec() { # CASE TARGET N PHASE METHOD URL AUTH BODY [WALK_FILE START COUNT SUFFIX]: a probe spec line
  if [ $# -gt 8 ]; then
    printf '{"case":"%s","target":"%s","n":%s,"phase":"%s","method":"%s","url":"%s","auth":"%s","body":"%s","walk":{"file":"%s","start":%s,"count":%s,"idx":false,"suffix":"%s"}}\n' "$@"
  else
    printf '{"case":"%s","target":"%s","n":%s,"phase":"%s","method":"%s","url":"%s","auth":"%s","body":"%s"}\n' "$@"
  fi
}
probe() { # SPEC REPEAT
  node "$bench/lib/probe.mjs" cases "$1" "$probes" "$2"
}
load_samples="$work/load.jsonl"
: >"$load_samples"
mark() { printf '{"at":"%s","loadavg":"%s","t":%s}\n' "$1" "$(loadavg)" $(($(date +%s) - started_at)) >>"$load_samples"; }

read_tokens="$work/data/tokens-bench-read.txt"
del_tokens="$work/data/tokens-bench-del.txt"
del_base_tokens="$work/data/tokens-bench-del-base.txt"

# --- 1. get, create, delete ----------------------------------------------------------------------
phase_now=misc
say "serving the service, baseline (b) and baselines (f), (g), (h)"
serve service svc "$work/service.json" "$work/state/new" "${service_vars[@]}"
serve kv-get kvg "$work/kv-get.json" "$work/state/kvget"
serve do-index dob "$work/do-index.json" "$work/state/do"
# The same build with the console's static assets in front (as wrangler.toml has it), for what
# that layer costs a get locally; every other service figure is without it, like the baselines.
serve service-assets sva "$work/service-assets.json" "$work/state/assets" "${service_vars[@]}"

misc_run() { # PART CASE: one timed run of the service's case or of its baseline
  local part=$1 id=$2 start=$(((rep - 1) * pool))
  case $part:$id in
    service:*) ensure service ;;
    baseline:get) ensure kv-get ;;
    baseline:*) ensure do-index ;;
    assets:*) ensure service-assets ;;
  esac
  case $part:$id in
    service:get) load misc get service 0 2 "$duration" walk.lua "$svc" GET /upload-tokens/ "$read_tokens" 0 1000 "$(auth_of bench-read)" cycle ;;
    service:get-plain) load assets get service 0 2 "$duration" walk.lua "$svc" GET /upload-tokens/ "$read_tokens" 0 1000 "$(auth_of bench-read)" cycle ;;
    assets:get-plain) load assets get service-assets 0 2 "$duration" walk.lua "$sva" GET /upload-tokens/ "$read_tokens" 0 1000 "$(auth_of bench-read)" cycle ;;
    baseline:get) load misc get baseline-b 0 2 "$duration" walk.lua "$kvg" GET / "$read_tokens" 0 1000 - cycle ;;
    service:create) load misc create service 0 2 "$duration" static.lua "$svc/upload-tokens" POST "$(auth_of bench-create)" '{"ttl":3600}' ;;
    baseline:create) load misc create baseline-f 0 2 "$duration" static.lua "$dob/" POST - '{"ttl":3600}' ;;
    service:delete) load misc delete service 0 2 "$duration" walk.lua "$svc" DELETE /upload-tokens/ "$del_tokens" "$start" "$pool" "$(auth_of bench-del)" once ;;
    baseline:delete) load misc delete baseline-g 0 2 "$duration" walk.lua "$dob" DELETE / "$del_base_tokens" "$start" "$pool" - once "?project=bench-del-base" ;;
  esac
}
say "warming get, create, delete"
warm "$warmup" 2 walk.lua "$svc" GET /upload-tokens/ "$read_tokens" 0 1000 "$(auth_of bench-read)" cycle
warm "$warmup" 2 walk.lua "$kvg" GET / "$read_tokens" 0 1000 - cycle
warm "$warmup" 2 walk.lua "$sva" GET /upload-tokens/ "$read_tokens" 0 1000 "$(auth_of bench-read)" cycle
warm "$warmup" 2 static.lua "$svc/upload-tokens" POST "$(auth_of bench-create)" '{"ttl":3600}'
warm "$warmup" 2 static.lua "$dob/" POST - '{"ttl":3600}'
warm "$warmup" 2 walk.lua "$svc" DELETE /upload-tokens/ "$del_tokens" $((misc_rounds * pool)) "$warm_pool" "$(auth_of bench-del)" once
warm "$warmup" 2 walk.lua "$dob" DELETE / "$del_base_tokens" $((misc_rounds * pool)) "$warm_pool" - once "?project=bench-del-base"
for ((rep = 1; rep <= misc_rounds; rep++)); do
  within_budget "get, create, delete: rounds $rep to $misc_rounds" || break
  mark "misc round $rep"
  say "get, create, delete: round $rep of $misc_rounds"
  for id in get create delete; do
    for part in $(ordered service baseline); do misc_run "$part" "$id"; done
  done
  for part in $(ordered service assets); do misc_run "$part" get-plain; done
done
unserve kv-get
unserve service-assets

# --- 2. listings, service and baseline (h) -------------------------------------------------------
phase_now=list
say "warming the listings (each case once on both)"
: >"$work/spec-warm.jsonl"
for n in "${sizes_list[@]}"; do
  while read -r id page size by order; do
    spec "$id" service "$n" warmup GET "$(svc_list_url "$svc" "$n" "$page" "$size" "$by" "$order")" "$(auth_of "bench-$n")" - >>"$work/spec-warm.jsonl"
    spec "$id" baseline-h "$n" warmup GET "$(base_list_url "$dob" "$n" "$page" "$size" "$by" "$order")" - - >>"$work/spec-warm.jsonl"
  done < <(list_cases "$n")
done
probe "$work/spec-warm.jsonl" 1
for ((rep = 1; rep <= reps; rep++)); do
  for n in "${sizes_list[@]}"; do
    within_budget "listings at N=$n, repetition $rep" || continue
    mark "list N=$n rep $rep"
    say "listings at N=$n, service and baseline (h): repetition $rep of $reps"
    seconds=$(list_seconds "$n")
    while read -r id page size by order; do
      for part in $(ordered service baseline); do
        if [ "$part" = service ]; then
          ensure service
          load list "$id" service "$n" 1 "$seconds" static.lua "$(svc_list_url "$svc" "$n" "$page" "$size" "$by" "$order")" GET "$(auth_of "bench-$n")" -
        else
          ensure do-index
          load list "$id" baseline-h "$n" 1 "$seconds" static.lua "$(base_list_url "$dob" "$n" "$page" "$size" "$by" "$order")" GET - -
        fi
      done
    done < <(list_cases "$n")
  done
done

# --- 2b. the same listings without wrangler's dev proxy -------------------------------------------
# `wrangler dev` answers on its port through a proxy (a second runtime that forwards each request
# to the one running the Worker); at the edge there is no such hop. At N = 100,000, each listing
# once more through the proxy and once straight to the runtime's own socket, next to each other.
# entry_of NAME AUTH: sets `entry` to the base URL of the socket of server NAME's Worker runtime
# that answers the API (its other sockets are the inspector's and the loopback's), or "".
entry_of() {
  local pgid=${srv_pgid[$1]} auth=$2 var=${srv_var[$1]} p port
  local public=${!var##*:}
  entry=""
  for p in ${runtime_pids[$pgid]:-}; do
    for port in $(ss -ltnpH 2>/dev/null | awk -v pid="pid=$p," 'index($0, pid) {n = split($4, a, ":"); print a[n]}'); do
      [ "$port" = "$public" ] && continue
      if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: $auth" "http://127.0.0.1:$port/upload-tokens?pageSize=1")" = 200 ]; then
        entry="http://127.0.0.1:$port" pgid_of_port[$port]=$pgid
        return
      fi
    done
  done
}
direct_n=100000
if [[ ",$sizes," == *",$direct_n,"* ]] && command -v ss >/dev/null && within_budget "listings at N=$direct_n without the dev proxy"; then
  phase_now=direct rep=1
  mark "direct N=$direct_n"
  say "listings at N=$direct_n through wrangler's dev proxy and straight to the runtime"
  seconds=$(list_seconds "$direct_n")
  while read -r id page size by order; do
    ensure service
    entry_of service "$(auth_of "bench-$direct_n")"
    if [ -z "$entry" ]; then
      say "no socket of the Worker's runtime answers: skipping the listings without the proxy"
      break
    fi
    load direct "$id" service "$direct_n" 1 "$seconds" static.lua "$(svc_list_url "$svc" "$direct_n" "$page" "$size" "$by" "$order")" GET "$(auth_of "bench-$direct_n")" -
    load direct "$id" service-runtime "$direct_n" 1 "$seconds" static.lua "$(svc_list_url "$entry" "$direct_n" "$page" "$size" "$by" "$order")" GET "$(auth_of "bench-$direct_n")" -
  done < <(list_cases "$direct_n")
fi

# --- 3. the old design beside the service --------------------------------------------------------
phase_now=old
for n in "${old_sizes_list[@]}"; do
  say "old design ($old_rev) at N=$n"
  serve "old-$n" old "$work/old.json" "$work/state/old-$n" "${old_vars[@]}"
  : >"$work/spec-old.jsonl"
  while read -r id page size by order; do
    [[ " $old_case_ids " == *" $id "* ]] || continue
    spec "$id" old "$n" warmup GET "$(svc_list_url "$old" "$n" "$page" "$size" "$by" "$order")" "$(auth_of "bench-$n")" - >>"$work/spec-old.jsonl"
  done < <(list_cases "$n")
  probe "$work/spec-old.jsonl" 2
  for ((rep = 1; rep <= reps; rep++)); do
    within_budget "old design at N=$n, repetition $rep" || continue
    mark "old N=$n rep $rep"
    while read -r id page size by order; do
      [[ " $old_case_ids " == *" $id "* ]] || continue
      for part in $(ordered service old); do
        if [ "$part" = service ]; then
          ensure service
          load old "$id" service "$n" 1 "$(list_seconds "$n")" static.lua "$(svc_list_url "$svc" "$n" "$page" "$size" "$by" "$order")" GET "$(auth_of "bench-$n")" -
        else
          ensure "old-$n"
          load old "$id" old "$n" 1 "$(old_seconds "$n")" static.lua "$(svc_list_url "$old" "$n" "$page" "$size" "$by" "$order")" GET "$(auth_of "bench-$n")" -
        fi
      done
    done < <(list_cases "$n")
  done
  unserve "old-$n"
done

# --- 4. creates per second on one project's object -----------------------------------------------
phase_now=ceiling
say "creates per second: one project, $spread projects, baseline (f)"
spread_auths=()
for p in "${spread_projects[@]}"; do spread_auths+=("$(auth_of "$p")"); done
warm "$warmup" 4 rotate.lua "$svc/upload-tokens" POST '{"ttl":3600}' "${spread_auths[@]}"
for ((rep = 1; rep <= ceiling_rounds; rep++)); do
  within_budget "creates per second, round $rep" || continue
  mark "ceiling round $rep"
  for c in "${ceiling_list[@]}"; do
    case $(((rep + c) % 3)) in 0) order="one spread base" ;; 1) order="spread base one" ;; *) order="base one spread" ;; esac
    for t in $order; do
      if [ "$t" = base ]; then ensure do-index; else ensure service; fi
      case $t in
        one) load ceiling create-one-project service 0 "$c" "$ceiling_duration" static.lua "$svc/upload-tokens" POST "$(auth_of bench-create)" '{"ttl":3600}' ;;
        spread) load ceiling "create-$spread-projects" service 0 "$c" "$ceiling_duration" rotate.lua "$svc/upload-tokens" POST '{"ttl":3600}' "${spread_auths[@]}" ;;
        base) load ceiling create-one-project baseline-f 0 "$c" "$ceiling_duration" static.lua "$dob/" POST - '{"ttl":3600}' ;;
      esac
    done
  done
done
unserve service
unserve do-index

# --- 5. storage round trips per request (Server-Timing) ------------------------------------------
say "round trips per request: the service with SERVER_TIMING=1"
start_server service-timing "$work/service.json" "$work/state/new" "${service_vars[@]}" --var SERVER_TIMING:1
svc=$started_base svc_pgid=$started_pgid
: >"$work/spec-timing.jsonl"
spec get service 0 timing GET "$svc/upload-tokens/" "$(auth_of bench-read)" - "$read_tokens" 0 1000 "" >>"$work/spec-timing.jsonl"
spec create service 0 timing POST "$svc/upload-tokens" "$(auth_of bench-create)" '{\"ttl\":3600}' >>"$work/spec-timing.jsonl"
spec delete service 0 timing DELETE "$svc/upload-tokens/" "$(auth_of bench-del)" - "$del_tokens" "$probe_start" 10 "" >>"$work/spec-timing.jsonl"
for n in "${sizes_list[@]}"; do
  while read -r id page size by order; do
    spec "$id" service "$n" timing GET "$(svc_list_url "$svc" "$n" "$page" "$size" "$by" "$order")" "$(auth_of "bench-$n")" - >>"$work/spec-timing.jsonl"
  done < <(list_cases "$n")
done
probe "$work/spec-timing.jsonl" 3
stop_server "$svc_pgid"
for n in "${old_sizes_list[@]}"; do
  say "round trips per request: the old design with SERVER_TIMING=1, N=$n"
  start_server "old-timing-$n" "$work/old.json" "$work/state/old-$n" "${old_vars[@]}" --var SERVER_TIMING:1
  old=$started_base old_pgid=$started_pgid
  : >"$work/spec-old-timing.jsonl"
  while read -r id page size by order; do
    [[ " $old_case_ids " == *" $id "* ]] || continue
    spec "$id" old "$n" timing GET "$(svc_list_url "$old" "$n" "$page" "$size" "$by" "$order")" "$(auth_of "bench-$n")" - >>"$work/spec-old-timing.jsonl"
  done < <(list_cases "$n")
  if [ "$n" = "${old_sizes_list[0]}" ]; then
    # The old design's get, create and delete, on this project's tokens (the delete last).
    spec get old 0 timing GET "$old/upload-tokens/" "$(auth_of "bench-$n")" - "$work/data-old/tokens-bench-$n.txt" 0 100 "" >>"$work/spec-old-timing.jsonl"
    spec create old 0 timing POST "$old/upload-tokens" "$(auth_of bench-create)" '{\"ttl\":3600}' >>"$work/spec-old-timing.jsonl"
    spec delete old 0 timing DELETE "$old/upload-tokens/" "$(auth_of "bench-$n")" - "$work/data-old/tokens-bench-$n.txt" 100 10 "" >>"$work/spec-old-timing.jsonl"
  fi
  probe "$work/spec-old-timing.jsonl" 3
  stop_server "$old_pgid"
done

# --- versions, report ----------------------------------------------------------------------------
write_meta "$work/meta.json" "$(cat <<EOF
"old_commit": "$old_rev",
    "command": "$command_line",
    "settings": {"quick": $($quick && echo True || echo False), "sizes": [$sizes], "old_sizes": [$old_sizes], "reps": $reps,
                 "misc_rounds": $misc_rounds, "ceiling_rounds": $ceiling_rounds,
                 "duration_s": $duration, "list_seconds": {n: int(s) for n, s in [$(for n in "${sizes_list[@]}"; do printf '(%s, "%s"),' "$n" "$(list_seconds "$n")"; done)]},
                 "old_seconds": {n: int(s) for n, s in [$(for n in "${old_sizes_list[@]}"; do printf '(%s, "%s"),' "$n" "$(old_seconds "$n")"; done)]},
                 "ceiling_conns": [$ceiling_conns], "ceiling_duration_s": $ceiling_duration, "spread_projects": $spread,
                 "warmup_s": $warmup, "wrk_threads": 1, "rate_limit": $rate_limit, "delete_pool_per_run": $pool,
                 "state_storage": "$storage_kind"},
    "sizes": {"service_wasm_gzip": $(gz "$work/service/index_bg.wasm"), "old_wasm_gzip": $(gz "$work/old/index_bg.wasm")},
    "restarts": $restarts,
EOF
)"
node "$bench/lib/index-report.mjs" "$work" "$out"
say "done in $(( ($(date +%s) - started_at) / 60 )) min $(( ($(date +%s) - started_at) % 60 )) s: $out/index-results.md"
