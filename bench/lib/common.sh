# bench/lib/common.sh: what bench/run.sh and bench/index.sh share, sourced by both after they
# have set `bench` (this folder's parent) and `root` (the repository). Not runnable on its own.
#
# It provides: given, common_option; say; make_work (the temporary directory), stop_server, the EXIT trap and
# start_watchdog; need_tools (wrk, the project's toolchain and its paths); profile_env,
# build_service, build_baseline, build_seed and copy_baselines; key_of and auth_of; load_kv;
# free_port and start_server; wrk_timed, wrk_warm and rps_of; loadavg; write_meta.
# Variables it reads: bench, root, keep, started_at (set by say's first use below), work.

# given OPTION ARGS...: whether OPTION is one of ARGS.
given() {
  local want=$1 a
  shift
  for a in "$@"; do [ "$a" = "$want" ] && return 0; done
  return 1
}
# common_option OPTION VALUE: the options both scripts take (--out DIR, --no-build, --keep,
# --max-minutes M, --help); sets `taken` to the number of words it used. Any other option ends
# the run.
common_option() {
  taken=1
  case "$1" in
    --out) out=$2 taken=2 ;;
    --no-build) build=false ;;
    --keep) keep=true ;;
    --max-minutes) max_minutes=$2 taken=2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
}

started_at=$(date +%s)
say() {
  local t=$(($(date +%s) - started_at))
  printf '\033[1mbench %d:%02d:\033[0m %s\n' $((t / 60)) $((t % 60)) "$*" >&2
}

# make_work PREFIX MIN_GIB SUBDIRS...: sets `work` to a new temporary directory holding SUBDIRS,
# on tmpfs when it has MIN_GIB free (so that other people's disk traffic does not end up in the
# figures), and `storage_kind` to the device it is on.
make_work() {
  local prefix=$1 min_gib=$2 tmp_base=${TMPDIR:-/tmp} d
  shift 2
  if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt $((min_gib * 1024 * 1024)) ]; then
    tmp_base=/dev/shm
  fi
  work=$(mktemp -d "$tmp_base/$prefix.XXXXXX")
  for d in "$@"; do mkdir -p "$work/$d"; done
  storage_kind=$(df -P "$work" | awk 'NR==2 {print $1}')
}

own_pgid=$(ps -o pgid= -p $$ | tr -d ' ')
servers=()
watchdog=""
# stop_server PGID: SIGINT to the server's process group, SIGKILL if still there after 10 s.
stop_server() {
  local pgid=$1 rest=() p
  [ -n "$pgid" ] && [ "$pgid" != "$own_pgid" ] || return 0
  kill -INT -- "-$pgid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 -- "-$pgid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pgid" 2>/dev/null || true
  for p in "${servers[@]}"; do [ "$p" = "$pgid" ] || rest+=("$p"); done
  servers=("${rest[@]}")
}
cleanup() {
  local code=$? p
  trap - EXIT INT TERM
  for p in "${servers[@]}"; do stop_server "$p"; done
  if [ -n "$watchdog" ]; then
    pkill -P "$watchdog" 2>/dev/null || true
    kill "$watchdog" 2>/dev/null || true
  fi
  if [ -n "${work:-}" ]; then
    if $keep; then say "kept $work"; else rm -rf "$work"; fi
  fi
  exit "$code"
}
# start_watchdog MINUTES: the hard limit; whatever happens, the run ends itself after MINUTES.
start_watchdog() {
  trap cleanup EXIT
  trap 'say "interrupted"; exit 130' INT TERM
  (sleep $(($1 * 60)) && echo "bench: over $1 minutes, stopping" >&2 && kill -TERM $$) 2>/dev/null &
  watchdog=$!
}

# need_tools TOOLS...: wrk (installed with apt if missing), TOOLS (which must be there), the
# project's toolchain (scripts/setup.sh) and the paths the Worker builds use.
need_tools() {
  local tool sudo_cmd=""
  if ! command -v wrk >/dev/null; then
    say "installing wrk"
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk >/dev/null
  fi
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { say "$tool is needed"; exit 1; }
  done
  scripts/setup.sh >&2
  export PATH="$root/.tools/bin:$PATH"
  export WASM_BINDGEN_BIN="$root/.tools/bin/wasm-bindgen"
  export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
  export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
  bench_target="$root/target/bench"
}

# profile_env ROOT: export lines for the release profile in ROOT/Cargo.toml, which the baselines
# follow (bench/baselines/Cargo.toml holds the same values as defaults).
profile_env() {
  python3 - "$1/Cargo.toml" <<'EOF'
import sys, tomllib
profile = tomllib.load(open(sys.argv[1], "rb")).get("profile", {}).get("release", {})
for key in ("opt-level", "lto", "codegen-units"):
    if key in profile:
        value = str(profile[key]).lower() if isinstance(profile[key], bool) else str(profile[key])
        print(f"export CARGO_PROFILE_RELEASE_{key.upper().replace('-', '_')}={value}")
EOF
}
# build_service [NOTE]: the release service (scripts/build.sh), its log in $work/logs.
build_service() {
  say "building the release service (scripts/build.sh${1:+; $1})"
  env -u SKIP_WORKER_BUILD scripts/build.sh >"$work/logs/build-service.log" 2>&1 ||
    { tail -30 "$work/logs/build-service.log" >&2; exit 1; }
}
# build_worker NAME DIR SOURCE_ROOT TARGET_DIR: a release Worker build of DIR with the profile
# of SOURCE_ROOT, its log in $work/logs/build-NAME.log.
build_worker() {
  (eval "$(profile_env "$3")" && cd "$2" && CARGO_TARGET_DIR="$4" worker-build --release) \
    >"$work/logs/build-$1.log" 2>&1 || { tail -30 "$work/logs/build-$1.log" >&2; exit 1; }
}
# build_baseline NAME: bench/baselines/NAME, with the service's release profile.
build_baseline() {
  say "building baseline $1"
  build_worker "$1" "$bench/baselines/$1" "$root" "$bench_target"
}
# build_seed DIR TARGET_DIR: the seeding tool of the workspace in DIR, on the host.
build_seed() {
  (cd "$1" && env -u CARGO_PROFILE_RELEASE_OPT_LEVEL -u CARGO_PROFILE_RELEASE_LTO \
    -u CARGO_PROFILE_RELEASE_CODEGEN_UNITS CARGO_TARGET_DIR="$2" cargo build -q --release -p bench-seed)
}
# copy_baselines NAMES...: each built baseline copied into $work/NAME, so that a build started
# meanwhile by someone else cannot change a target mid-run.
copy_baselines() {
  local b
  for b in "$@"; do
    [ -f "$bench/baselines/$b/build/index.js" ] || { say "baseline $b is not built (drop --no-build)"; exit 1; }
    cp -r "$bench/baselines/$b/build" "$work/$b"
  done
}

# The API key of a project, and the Authorization header that carries it.
key_of() { printf 'key-%s-0123456789abcdef' "$1"; }
auth_of() { printf 'Basic %s' "$(printf '%s:' "$(key_of "$1")" | base64 -w0)"; }

# load_kv STATE FILES...: KV entries into a local state (namespace $namespace_id), checked
# through the simulator.
load_kv() {
  local dir=$1
  shift
  node "$bench/lib/load-kv.mjs" init "$dir" "$namespace_id"
  python3 "$bench/lib/load-kv.py" "$dir" "$namespace_id" "$@" >&2
  node "$bench/lib/load-kv.mjs" verify "$dir" "$namespace_id" "$@" >&2
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_server NAME CONFIG STATE_DIR [wrangler args...]: serves until its first answer; sets
# started_base, started_port, started_pgid and startup_ms, then calls on_server_started PGID
# PORT if the script defines it. `--log-level warn` for every target: at the default level
# wrangler's Node process prints a line per request, which costs about 1 ms of CPU each on the
# same 2 cores and makes every figure lower and noisier without telling anything about the Worker.
start_server() {
  local name=$1 config=$2 dir=$3
  shift 3
  local port inspector log t0 pid
  port=$(free_port) inspector=$(free_port)
  log="$work/logs/server-$name-$(date +%s%N).log"
  t0=$(date +%s%N)
  setsid env SKIP_WORKER_BUILD=1 WRANGLER_SEND_METRICS=false NO_COLOR=1 CI=1 \
    "$root/node_modules/.bin/wrangler" dev -c "$config" --ip 127.0.0.1 --port "$port" \
    --inspector-port "$inspector" --persist-to "$dir" --local-protocol http \
    --show-interactive-dev-session=false --log-level warn "$@" >"$log" 2>&1 </dev/null &
  pid=$!
  # setsid makes wrangler the leader of a process group of its own, which is what is stopped.
  for _ in $(seq 500); do
    [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ] && break
    sleep 0.01
  done
  if [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" != "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    say "$name: no process group of its own"
    exit 1
  fi
  servers+=("$pid")
  started_pgid=$pid
  started_port=$port
  started_base="http://127.0.0.1:$port"
  until curl -s -o /dev/null --max-time 5 "$started_base/"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -30 "$log" >&2
      say "$name: wrangler dev exited"
      exit 1
    fi
    if [ $(($(date +%s%N) - t0)) -gt 180000000000 ]; then
      tail -30 "$log" >&2
      say "$name: no answer within 180 s"
      exit 1
    fi
    sleep 0.05
  done
  startup_ms=$((($(date +%s%N) - t0) / 1000000))
  if declare -F on_server_started >/dev/null; then on_server_started "$pid" "$port"; fi
}

# wrk_timed RAW CONNS SECONDS SCRIPT URL ARGS...: one timed wrk run (one thread, bounded in
# time), its output in RAW; sets wrk_json to the run's BENCH_JSON line, or {"failed":true}.
wrk_timed() {
  local raw=$1 conns=$2 seconds=$3 script=$4 url=$5
  shift 5
  BENCH_CONNS=$conns timeout $((seconds + 60)) wrk -t1 -c"$conns" -d"${seconds}s" --timeout 30s --latency \
    -s "$bench/lua/$script" "$url" -- "$@" >"$raw" 2>&1 || true
  wrk_json=$(grep '^BENCH_JSON ' "$raw" | tail -1 | cut -d' ' -f2- || true)
  [ -n "$wrk_json" ] || wrk_json='{"failed":true}'
}
# wrk_warm OUT SECONDS CONNS SCRIPT URL ARGS...: untimed load, its output in OUT.
wrk_warm() {
  local out=$1 seconds=$2 conns=$3 script=$4 url=$5
  shift 5
  timeout $((seconds + 60)) wrk -t1 -c"$conns" -d"${seconds}s" --timeout 30s \
    -s "$bench/lua/$script" "$url" -- "$@" >"$out" 2>&1 || true
}
# rps_of RAW: the requests-per-second line of a wrk output.
rps_of() { grep -E '^Requests/sec' "$1" | tr -s ' ' || echo 'no result'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# write_meta FILE ENTRIES: meta.json with the date, the commit and what differed from it
# ($work/service-tree.txt), the machine and the tools' versions, then ENTRIES (Python dict
# entries, `"key": value,`).
write_meta() {
  local worker_version
  worker_version=$(awk '/^name = "worker"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
  python3 - "$1" <<EOF
import json, sys
meta = {
    "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
    "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
    "uncommitted": [l[3:] for l in open("$work/service-tree.txt").read().splitlines() if l.strip()],
    "machine": {"nproc": $(nproc), "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')",
                "memory_gib": round($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1048576, 1)},
    "versions": {"rustc": "$(rustc --version | cut -d' ' -f2)", "worker": "$worker_version",
                 "wrangler": "$(node -p 'require("./node_modules/wrangler/package.json").version')",
                 "workerd": "$("$root/node_modules/.bin/workerd" --version 2>/dev/null | tr -d '\n' || echo unknown)",
                 "wrk": "$(wrk -v 2>&1 | head -1 | cut -d' ' -f2)", "node": "$(node --version)"},
    $2
    "wall_time_s": $(($(date +%s) - started_at)),
}
json.dump(meta, open(sys.argv[1], "w"), indent=2)
EOF
}
gz() { gzip -9c "$1" | wc -c; }
