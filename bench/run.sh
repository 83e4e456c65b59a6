#!/usr/bin/env bash
# bench/run.sh: what a request to the upload-token service costs, and how that grows with the
# number of tokens in a project, next to baseline Workers that do only the KV I/O a request
# cannot avoid. Not part of the test suite.
#
# Usage:
#   bench/run.sh            the full run (about 50 minutes on 2 cores): N = 100, 1,000, 10,000
#                           and 100,000 tokens, 5 s per run, 5 repetitions; writes
#                           docs/bench/results.json, docs/bench/results.md, docs/bench/chart.svg
#   bench/run.sh --quick    a short check (a few minutes): N up to 10,000, 2 s per run, one
#                           repetition, one cold start, a 10 MiB upload; writes bench/out/quick/
#
# Options (they override the above, so `--quick --reps 2` works):
#   --sizes 100,1000       the values of N
#   --duration SECONDS     length of each timed run
#   --min-requests K       a case whose single request is slow runs longer, up to
#   --max-duration SECONDS   K x its warm-up latency, at most this long (default 10, 15)
#   --warmup SECONDS       load on each target after it starts, before anything is timed
#   --reps R               repetitions of every timed run (medians are quoted)
#   --connections C        wrk connections (one wrk thread)
#   --cold K               cold starts measured per target
#   --upload-mib M         size of the single-chunk upload of the memory measurement (0: skip)
#   --out DIR              where results.{json,md} and chart.svg go
#   --no-build             use the builds already there (build/, bench/baselines/*/build)
#   --keep                 keep the temporary directory (state, logs, raw results)
#   --max-minutes M        hard limit: the run stops itself after M minutes (default 90)
#
# What it does: installs wrk (apt) and the project's toolchain (scripts/setup.sh) if missing;
# builds the release service (scripts/build.sh), the baselines (bench/baselines, same profile
# and wasm-opt -Oz) and the seeding tool; writes the tokens with the core's own
# TokenStore::save into temporary --persist-to directories (a state per N and one for the other
# cases, each twice: for the service and for the baselines); then serves every target the same
# way, `wrangler dev --ip 127.0.0.1`, the service with its baseline beside it, and loads one at
# a time with wrk (one thread, 127.0.0.1 only, each run bounded in time), each service case
# right next to a run of its baseline.
# KV operations per request are read from the service's Server-Timing header (var
# SERVER_TIMING=1) with a few single requests per case, outside the timed runs, from a separate
# start of the service. A watchdog ends the whole run after --max-minutes.
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$bench")
cd "$root"
# shellcheck source=bench/lib/common.sh
. "$bench/lib/common.sh"

sizes="100,1000,10000,100000" duration=5 reps=5 connections=2 cold=3 upload_mib=100
min_requests=10 max_duration=15 warmup=2
out="$root/docs/bench" build=true keep=false max_minutes=90
if given --quick "$@"; then
  sizes="100,1000,10000" duration=2 reps=1 cold=1 upload_mib=10 warmup=1 max_duration=4 out="$root/bench/out/quick"
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ;;
    --sizes) sizes=$2; shift ;;
    --duration) duration=$2; shift ;;
    --min-requests) min_requests=$2; shift ;;
    --max-duration) max_duration=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --reps) reps=$2; shift ;;
    --connections) connections=$2; shift ;;
    --cold) cold=$2; shift ;;
    --upload-mib) upload_mib=$2; shift ;;
    *) common_option "$1" "${2:-}"; shift $((taken - 1)) ;;
  esac
  shift
done
IFS=, read -r -a sizes_list <<<"$sizes"
mkdir -p "$out"
out=$(cd "$out" && pwd)

# --- the temporary directory: state on tmpfs when there is room, so that other people's disk
# traffic does not end up in the figures -------------------------------------------------------
make_work uts-bench 8 logs data state
start_watchdog "$max_minutes"

# --- tools ---------------------------------------------------------------------------------------
need_tools curl python3 node gzip
baselines=(const-json kv-get kv-put2 kv-list kv-get-delete2)

# The baselines follow the service's release profile as it stands in the root Cargo.toml.
eval "$(profile_env "$root")"
release_profile="opt-level=${CARGO_PROFILE_RELEASE_OPT_LEVEL:-?} lto=${CARGO_PROFILE_RELEASE_LTO:-?} codegen-units=${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-?}"
if $build; then
  build_service "$release_profile"
  for b in "${baselines[@]}"; do build_baseline "$b"; done
fi
say "building the seeding tool"
build_seed "$bench/baselines" "$bench_target" >&2
# Serve copies, so that a build started meanwhile by someone else cannot change a target mid-run;
# note what of the service's sources differed from the commit when it was copied.
cp -r build "$work/service"
git status --porcelain -- src core Cargo.toml Cargo.lock wrangler.toml >"$work/service-tree.txt" 2>/dev/null || true
copy_baselines "${baselines[@]}"
# --- configurations ------------------------------------------------------------------------------
rate_limit=1000000 # the largest RATE_LIMIT the service accepts; far above what 2 cores reach
python3 "$bench/lib/config.py" service "$work/service.json" "$root" "$work/service/index.js" "$rate_limit"
for b in "${baselines[@]}"; do
  python3 "$bench/lib/config.py" baseline "$work/$b.json" "$root" "baseline-$b" "$work/$b/index.js"
done
namespace_id=$(python3 -c 'import json,sys; ns = json.load(open(sys.argv[1]))["kv_namespaces"][0]; print(ns.get("id", ns["binding"]))' "$work/const-json.json")

# --- data ----------------------------------------------------------------------------------------
# One project per N for the listings; others for reads, deletes (service and baseline (e),
# one slice per repetition plus a few per warm-up), creates and the upload.
# A delete pool file holds, in order: one slice per timed run, small slices for the single
# requests of the probes, and one slice per warm-up.
pool=$((500 * duration))
spare=5
probe_slices=$((reps + 2))
warm_pool=$((500 * warmup))
warm_start=$((reps * pool + probe_slices * spare))
del_count=$((warm_start + reps * warm_pool))
projects=()
for n in "${sizes_list[@]}"; do projects+=("bench-$n=$n"); done
projects+=("bench-read=1000" "bench-del=$del_count" "bench-del-base=$del_count")
say "writing $(($(IFS=+; echo "${sizes_list[*]}") + 1000 + 2 * del_count)) tokens with the core's TokenStore::save"
seed_args=()
for p in "${projects[@]}"; do seed_args+=(--project "$p"); done
"$bench_target/release/bench-seed" --out "$work/data" --now "$(date +%s)" "${seed_args[@]}"
# Local state: the simulator keeps a namespace as one SQLite table and answers `list` with a
# scan in key order that, for the last page of a prefix, runs on to the end of the table. In a
# namespace shared by all projects every listing would cost a scan of all of them (some
# 260,000 rows), whatever its N. So each N has a state of its own holding its project alone,
# and the other cases share a "misc" state; each exists twice, one copy for the service and
# one for the baselines (a runtime owns its state directory, and the two run side by side).
load_state() { # NAME FILES...: both copies of state NAME, loaded and checked
  local name=$1 dir
  shift
  for dir in "$work/state/$name-service" "$work/state/$name-baselines"; do load_kv "$dir" "$@"; done
}
load_state misc "$work/data/kv-bench-read.json" "$work/data/kv-bench-del.json" "$work/data/kv-bench-del-base.json"
for n in "${sizes_list[@]}"; do load_state "list-$n" "$work/data/kv-bench-$n.json"; done

api_keys=""
for p in "${sizes_list[@]/#/bench-}" bench-read bench-del bench-create bench-upload; do
  api_keys+="${api_keys:+,}$p:$(key_of "$p")"
done
bad_auth=$(auth_of nobody)
service_vars=(--var "API_KEYS:$api_keys" --var "AUTH_SIGNING_KEY:bench-signing-key-0123456789abcdef-0123456789")

# --- cases ---------------------------------------------------------------------------------------
runs="$work/runs.jsonl" probes="$work/probes.jsonl"
: >"$runs"
: >"$probes"
export LUA_PATH="$bench/lua/?.lua;;"
mode=timed probe_phase="" probe_slice=0 pair_with=""
# Up to this N every listing has a baseline (d) run of its own; above it (where one run takes
# seconds and there is no throughput target) the listings share one baseline run per repetition.
paired_up_to=10000
# case_run CASE TARGET N SCRIPT URL ARGS...: a timed wrk run (mode=timed), an untimed one
# (mode=warmup), or a line of the probe spec (mode=probe).
case_run() {
  local id=$1 target=$2 n=$3 script=$4 url=$5
  shift 5
  if [ "$mode" = probe ]; then
    if [ "$script" = walk.lua ]; then
      # ARGS: METHOD PREFIX FILE START COUNT AUTH MODE; deletes take a slice of their own.
      local idx=false start=$4 count=$5
      [ "${7%+idx}" != "$7" ] && idx=true
      if [ "${7%%+*}" = once ]; then start=$((reps * pool + probe_slice * spare)) count=$spare; fi
      spec_line "$id" "$target" "$n" "$1" "$url$2" "$6" "-" "$3" "$start" "$count" "$idx"
    else
      spec_line "$id" "$target" "$n" "$1" "$url" "$2" "${3:--}"
    fi
    return
  fi
  if [ "$mode" = warmup ]; then
    # Warms each code path: every case, but of the listings only one order per sort key.
    case $id in
      list-*) [ "$id" = list-createdAt-desc-100 ] || [ "$id" = list-ttl-asc-100 ] || return 0 ;;
    esac
    local args=("$@")
    if [ "$script" = walk.lua ] && [ "${7%%+*}" = once ]; then args[3]=$((warm_start + (rep - 1) * warm_pool)) args[4]=$warm_pool; fi
    wrk_warm "$work/logs/warmup-$target-$id-$n-$rep.txt" "$warmup" "$connections" "$script" "$url" "${args[@]}"
    return
  fi
  # A case whose single request takes long runs longer, so that it still completes some.
  local ms seconds=$duration
  ms=$(awk -F'\t' -v t="$target" -v c="$id" -v n="$n" '$1 == t && $2 == c && $3 == n {m = $4} END {print int(m)}' "$work/latency.tsv")
  seconds=$(((ms * min_requests + 999) / 1000))
  [ "$seconds" -lt "$duration" ] && seconds=$duration
  [ "$seconds" -gt "$max_duration" ] && seconds=$max_duration
  [ "$seconds" -lt "$duration" ] && seconds=$duration
  local raw="$work/logs/wrk-$target-$id-$n-$rep.txt"
  wrk_timed "$raw" "$connections" "$seconds" "$script" "$url" "$@"
  printf '{"case":"%s","target":"%s","n":%s,"rep":%s,%s"wrk":%s}\n' "$id" "$target" "$n" "$rep" \
    "${pair_with:+\"pair\":\"$pair_with\",}" "$wrk_json" >>"$runs"
  printf '  %-26s %-10s N=%-7s rep %s: %s\n' "$id" "$target" "$n" "$rep" "$(rps_of "$raw")" >&2
}
spec_line() {
  python3 - "$probe_phase" "$@" >>"$work/spec.jsonl" <<'EOF'
import json, sys
phase, a = sys.argv[1], sys.argv[2:]
spec = {"case": a[0], "target": a[1], "n": int(a[2]), "phase": phase, "method": a[3], "url": a[4], "auth": a[5], "body": a[6]}
if len(a) > 7:
    spec["walk"] = {"file": a[7], "start": int(a[8]), "count": int(a[9]), "idx": a[10] == "true"}
print(json.dumps(spec))
EOF
}

list_queries() { # N: "ID QUERY" lines
  local n=$1 size by order
  for size in 25 100; do
    for by in createdAt ttl; do
      for order in asc desc; do
        echo "list-$by-$order-$size sortBy=$by&sortOrder=$order&currentPage=1&pageSize=$size"
      done
    done
  done
  echo "list-last-page-100 currentPage=$(((n + 99) / 100))&pageSize=100"
}

# The service's cases, each with the baseline it is compared with:
#   401 -> (a) const-json, get -> (b) kv-get, create -> (c) kv-put2,
#   delete -> (e) kv-get-delete2, list at N -> (d) kv-list at N.
# cases BASELINE PART [N]: the cases of PART (service or baseline) that go with BASELINE.
cases() {
  local which=$1 part=$2 n=${3:-0} id query
  if [ "$part" = service ]; then
    case $which in
      const-json) case_run unauthorized service 0 static.lua "$svc/upload-tokens" GET "$bad_auth" - ;;
      kv-get) case_run get service 0 walk.lua "$svc" GET /upload-tokens/ "$work/data/tokens-bench-read.txt" 0 1000 "$(auth_of bench-read)" cycle ;;
      kv-put2) case_run create service 0 static.lua "$svc/upload-tokens" POST "$(auth_of bench-create)" '{"ttl":3600}' ;;
      kv-get-delete2) case_run delete service 0 walk.lua "$svc" DELETE /upload-tokens/ "$work/data/tokens-bench-del.txt" $(((rep - 1) * pool)) "$pool" "$(auth_of bench-del)" once ;;
      kv-list)
        while read -r id query; do
          case_run "$id" service "$n" static.lua "$svc/upload-tokens?$query" GET "$(auth_of "bench-$n")" -
        done < <(list_queries "$n")
        ;;
    esac
  else
    case $which in
      const-json) case_run constant baseline-a 0 static.lua "$bl/" GET - - ;;
      kv-get) case_run kv-get baseline-b 0 walk.lua "$bl" GET / "$work/data/tokens-bench-read.txt" 0 1000 - cycle ;;
      kv-put2) case_run kv-put2 baseline-c 0 static.lua "$bl/" POST - '{"ttl":3600}' ;;
      kv-get-delete2) case_run kv-get-delete2 baseline-e 0 walk.lua "$bl" DELETE / "$work/data/tokens-bench-del-base.txt" $(((rep - 1) * pool)) "$pool" - once+idx ;;
      kv-list) case_run kv-list baseline-d "$n" static.lua "$bl/?prefix=idx:bench-$n:" GET - - ;;
    esac
  fi
}
misc_baselines=(const-json kv-get kv-put2 kv-get-delete2)
# misc_cases PART [BASELINE]: the service's cases other than listings, or one baseline's.
misc_cases() {
  local part=$1 b
  for b in "${misc_baselines[@]}"; do
    [ -z "${2:-}" ] || [ "$2" = "$b" ] || continue
    cases "$b" "$part"
  done
}
# list_cases N [PART]: the listings at N of the service and of baseline (d), or of one of them.
list_cases() {
  local n=$1 part
  for part in service baseline; do
    [ -z "${2:-}" ] || [ "$2" = "$part" ] || continue
    cases kv-list "$part" "$n"
  done
}
# probe PHASE REPEAT FUNCTION ARGS...: single requests of the cases FUNCTION names.
probe() {
  local phase=$1 repeat=$2
  shift 2
  : >"$work/spec.jsonl"
  mode=probe probe_phase=$phase
  "$@"
  mode=timed
  node "$bench/lib/probe.mjs" cases "$work/spec.jsonl" "$probes" "$repeat"
  # The latest single-request latency of each case, for the length of its timed runs.
  node -e 'const fs = require("fs"); const m = new Map();
    for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) {
      const p = JSON.parse(l); m.set(`${p.target}\t${p.case}\t${p.n}`, p.ms); }
    fs.writeFileSync(process.argv[2], [...m].map(([k, v]) => `${k}\t${v}\n`).join(""));' "$probes" "$work/latency.tsv"
}
# warm FUNCTION ARGS...: untimed load on each code path of the cases FUNCTION names.
warm() {
  mode=warmup
  "$@"
  mode=timed
}
declare -A target_letter=([const-json]=a [kv-get]=b [kv-put2]=c [kv-list]=d [kv-get-delete2]=e)

# --- cold starts ---------------------------------------------------------------------------------
cold_json="$work/cold.jsonl"
: >"$cold_json"
for ((k = 1; k <= cold; k++)); do
  for t in service const-json; do
    dir="$work/cold-state-$k-$t"
    mkdir -p "$dir"
    if [ $t = service ]; then
      start_server "cold-$t" "$work/service.json" "$dir" "${service_vars[@]}"
    else
      start_server "cold-$t" "$work/$t.json" "$dir"
    fi
    stop_server "$started_pgid"
    rm -rf "$dir"
    say "cold start $k of $t: $startup_ms ms to the first answer"
    printf '{"target":"%s","ms":%s}\n' "$t" "$startup_ms" >>"$cold_json"
  done
done

# --- timed runs ----------------------------------------------------------------------------------
# Each repetition starts every target afresh: the service on the misc state with each of the
# baselines (a), (b), (c), (e) in turn beside it, then, for each N, the service and baseline (d)
# side by side on that N's state. Every service case runs right next to a run of its baseline
# (which goes first alternates between repetitions; each listing up to N = $paired_up_to has a
# baseline run of its own), so that a change in the machine's load hits both alike; only the
# one being loaded is busy.
load_samples="$work/load.jsonl"
: >"$load_samples"
ordered() { # the two parts, in this repetition's order
  if [ $((rep % 2)) -eq 1 ]; then echo service baseline; else echo baseline service; fi
}
for ((rep = 1; rep <= reps; rep++)); do
  printf '{"rep":%s,"at":"start","loadavg":"%s"}\n' "$rep" "$(loadavg)" >>"$load_samples"
  probe_slice=$((rep - 1))
  say "repetition $rep of $reps: service on the misc state"
  start_server service "$work/service.json" "$work/state/misc-service" "${service_vars[@]}"
  svc=$started_base svc_pgid=$started_pgid
  warm misc_cases service
  probe "warmup-$rep" 1 misc_cases service
  for b in "${misc_baselines[@]}"; do
    say "repetition $rep of $reps: baseline (${target_letter[$b]}) $b beside it"
    start_server "$b" "$work/$b.json" "$work/state/misc-baselines"
    bl=$started_base bl_pgid=$started_pgid
    warm misc_cases baseline "$b"
    probe "warmup-$rep" 1 misc_cases baseline "$b"
    for part in $(ordered); do cases "$b" "$part"; done
    stop_server "$bl_pgid"
  done
  stop_server "$svc_pgid"
  for n in "${sizes_list[@]}"; do
    say "repetition $rep of $reps: listing N=$n, service and baseline (d) side by side"
    start_server "service-list-$n" "$work/service.json" "$work/state/list-$n-service" "${service_vars[@]}"
    svc=$started_base svc_pgid=$started_pgid
    start_server "kv-list-$n" "$work/kv-list.json" "$work/state/list-$n-baselines"
    bl=$started_base bl_pgid=$started_pgid
    warm list_cases "$n"
    probe "warmup-$rep" 1 list_cases "$n"
    if [ "$n" -le "$paired_up_to" ]; then
      # Each listing right next to a run of baseline (d) of its own, so that the two halves of
      # every ratio see the same moment of the machine.
      while read -r id query; do
        for part in $(ordered); do
          if [ "$part" = service ]; then
            case_run "$id" service "$n" static.lua "$svc/upload-tokens?$query" GET "$(auth_of "bench-$n")" -
          else
            pair_with=$id
            case_run kv-list baseline-d "$n" static.lua "$bl/?prefix=idx:bench-$n:" GET - -
            pair_with=""
          fi
        done
      done < <(list_queries "$n")
    else
      for part in $(ordered); do cases kv-list "$part" "$n"; done
    fi
    stop_server "$bl_pgid"
    stop_server "$svc_pgid"
  done
  printf '{"rep":%s,"at":"end","loadavg":"%s"}\n' "$rep" "$(loadavg)" >>"$load_samples"
done

# --- KV operations per request (Server-Timing) and the upload's memory ---------------------------
say "KV operations per request (service with SERVER_TIMING=1)"
rep=1 probe_slice=$reps
start_server service-timing "$work/service.json" "$work/state/misc-service" "${service_vars[@]}" --var SERVER_TIMING:1
svc=$started_base svc_pgid=$started_pgid
probe timing 3 misc_cases service
upload_json="$work/upload.json"
echo '{}' >"$upload_json"
if [ "$upload_mib" -gt 0 ]; then
  say "uploading $upload_mib MiB in one chunk"
  node "$bench/lib/probe.mjs" upload "$svc" "$(auth_of bench-upload)" "$svc_pgid" "$upload_mib" "$upload_json" >&2 ||
    say "the upload measurement failed"
fi
stop_server "$svc_pgid"
for n in "${sizes_list[@]}"; do
  start_server "service-timing-$n" "$work/service.json" "$work/state/list-$n-service" "${service_vars[@]}" --var SERVER_TIMING:1
  svc=$started_base svc_pgid=$started_pgid
  probe timing 3 list_cases "$n" service
  stop_server "$svc_pgid"
done

# --- sizes, versions, report ---------------------------------------------------------------------
write_meta "$work/meta.json" "$(cat <<EOF
"settings": {"release_profile": "$release_profile", "sizes": [$sizes], "duration_s": $duration, "min_requests": $min_requests, "max_duration_s": $max_duration,
                 "warmup_s": $warmup, "reps": $reps, "connections": $connections,
                 "wrk_threads": 1, "cold_starts": $cold, "rate_limit": $rate_limit, "delete_pool_per_run": $pool,
                 "state_storage": "$storage_kind"},
    "sizes": {
        "service": {"wasm": $(wc -c <"$work/service/index_bg.wasm"), "wasm_gzip": $(gz "$work/service/index_bg.wasm"),
                    "js": $(wc -c <"$work/service/index.js"), "js_gzip": $(gz "$work/service/index.js")},
        "baseline-a": {"wasm": $(wc -c <"$work/const-json/index_bg.wasm"), "wasm_gzip": $(gz "$work/const-json/index_bg.wasm"),
                       "js": $(wc -c <"$work/const-json/index.js"), "js_gzip": $(gz "$work/const-json/index.js")},
    },
EOF
)"
node "$bench/lib/report.mjs" "$work" "$out"
say "done in $(( ($(date +%s) - started_at) / 60 )) min $(( ($(date +%s) - started_at) % 60 )) s: $out/results.md"
