#!/usr/bin/env bash
# bench/upload-memory.sh: what a large upload in one chunk costs the local runtime in memory,
# for one or more builds of the Worker side by side. Not part of the test suite.
#
# Usage:
#   bench/upload-memory.sh [--mib M] [--rounds R] [NAME=BUILD_DIR ...]
#       NAME=BUILD_DIR   a build (index.js and index_bg.wasm, as scripts/build.sh leaves in
#                        build/); default: current=build. To compare with an earlier commit,
#                        build it and copy its build/ aside first.
#       --mib M          size of each upload (default 100)
#       --rounds R       fresh starts of each build (default 2); the builds take turns
#
# Each round serves a build with `wrangler dev` (SERVER_TIMING=1, fresh local state), mints an
# upload token, then sends two M MiB files with `curl -F` as whole-file uploads, one after the
# other. It reads the RSS of the runtime's workerd processes (from /proc, like `ps`) before,
# every 50 ms during and 2 s after each upload, and the wasm memory the service reports in its
# Server-Timing header. Prints one JSON line per round and a table of medians.
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$bench")
cd "$root"

mib=100 rounds=2 builds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mib) mib=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *=*) builds+=("$1") ;;
    *) echo "upload-memory: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#builds[@]} -gt 0 ] || builds=("current=build")

say() { printf '\033[1mupload-memory:\033[0m %s\n' "$*" >&2; }
work=$(mktemp -d /tmp/uts-upload-memory.XXXXXX)
pgid=""
cleanup() {
  if [ -n "$pgid" ]; then kill -INT -- "-$pgid" 2>/dev/null || true; sleep 1; kill -KILL -- "-$pgid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Serve copies, each with a configuration of its own: the project's wrangler.toml with `main`
# pointing at the copy, no build step and the assets directory made absolute.
for b in "${builds[@]}"; do
  name=${b%%=*} dir=${b#*=}
  [ -f "$dir/index.js" ] || { say "$dir has no index.js"; exit 1; }
  cp -r "$dir" "$work/build-$name"
  python3 "$bench/lib/config.py" service "$work/$name.json" "$root" "$work/build-$name/index.js" 1000000
  python3 - "$work/$name.json" "$root" <<'EOF'
import json, os, sys
path, root = sys.argv[1], sys.argv[2]
config = json.load(open(path))
if "assets" in config:
    config["assets"]["directory"] = os.path.join(root, config["assets"]["directory"])
json.dump(config, open(path, "w"), indent=2)
EOF
done

head -c $((mib * 1024 * 1024)) /dev/urandom >"$work/upload.bin"
key="key-memory-0123456789abcdef"
auth="Basic $(printf '%s:' "$key" | base64 -w0)"

cat >"$work/measure.mjs" <<'EOF'
// node measure.mjs BASE AUTH PGID FILE: mints a token, uploads FILE twice, prints one JSON line.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
const [base, auth, pgid, file] = process.argv.slice(2);
const MiB = 1024 * 1024;
// RSS of the workerd processes of the server's process group, by role.
function rss() {
  const out = {};
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2] !== pgid) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (!cmd[0].endsWith("workerd")) continue;
      const role = cmd.some((a) => a.startsWith("--inspector-addr")) ? "worker" : "proxy";
      out[role] = (out[role] ?? 0) + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
    } catch {}
  }
  return out;
}
const mib = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round((v / MiB) * 10) / 10]));
const created = await fetch(`${base}/upload-tokens`, { method: "POST", headers: { authorization: auth, "content-type": "application/json" }, body: '{"ttl":3600}' });
if (created.status !== 200) throw new Error(`minting a token: ${created.status} ${await created.text()}`);
const { token } = await created.json();
const upload = () => new Promise((resolve) => {
  const t0 = performance.now();
  const curl = spawn("curl", ["-sS", "-o", "/dev/null", "-D", "-", "-w", "\\n%{http_code}", "-F", `file=@${file}`, `${base}/upload?token=${token}`], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  curl.stdout.on("data", (d) => (out += d));
  curl.on("close", () => {
    const status = Number(out.trim().split(/\r?\n/).at(-1));
    const wasm = /wasm-memory;desc="(\d+)"/.exec(out);
    resolve({ status, s: Math.round((performance.now() - t0) / 100) / 10, wasmMiB: wasm ? Math.round((Number(wasm[1]) / MiB) * 100) / 100 : null });
  });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await sleep(1000);
const result = { before: mib(rss()), uploads: [] };
for (let i = 0; i < 2; i++) {
  const peak = {};
  const sampler = setInterval(() => {
    for (const [role, v] of Object.entries(rss())) peak[role] = Math.max(peak[role] ?? 0, v);
  }, 50);
  const r = await upload();
  clearInterval(sampler);
  await sleep(2000);
  result.uploads.push({ ...r, peak: mib(peak), after: mib(rss()) });
}
console.log(JSON.stringify(result));
EOF

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
results="$work/results.jsonl"
for round in $(seq "$rounds"); do
  for b in "${builds[@]}"; do
    name=${b%%=*}
    port=$(free_port) inspector=$(free_port)
    rm -rf "$work/state"
    setsid env SKIP_WORKER_BUILD=1 WRANGLER_SEND_METRICS=false NO_COLOR=1 CI=1 \
      "$root/node_modules/.bin/wrangler" dev -c "$work/$name.json" --ip 127.0.0.1 --port "$port" \
      --inspector-port "$inspector" --persist-to "$work/state" --local-protocol http \
      --show-interactive-dev-session=false --log-level warn \
      --var "API_KEYS:memory:$key" --var "AUTH_SIGNING_KEY:memory-signing-key-0123456789abcdef-0123" \
      --var SERVER_TIMING:1 >"$work/server.log" 2>&1 </dev/null &
    pgid=$!
    base="http://127.0.0.1:$port"
    for _ in $(seq 1200); do
      curl -s -o /dev/null --max-time 5 "$base/" && break
      kill -0 "$pgid" 2>/dev/null || { tail -30 "$work/server.log" >&2; say "wrangler dev exited"; exit 1; }
      sleep 0.1
    done
    say "round $round: $name"
    line=$(node "$work/measure.mjs" "$base" "$auth" "$pgid" "$work/upload.bin")
    printf '{"build":"%s","round":%s,%s\n' "$name" "$round" "${line#\{}" | tee -a "$results"
    kill -INT -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
    pgid=""
  done
done

python3 - "$results" "$mib" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mib = sys.argv[2]
print(f"\n{mib} MiB in one chunk, medians over rounds (MiB; worker = the workerd process that runs the Worker and the simulators)")
print("| build | status | wasm memory | worker RSS before | growth, 1st upload | growth, 2nd upload | peak during | proxy RSS growth | seconds |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for build in dict.fromkeys(r["build"] for r in rows):
    rs = [r for r in rows if r["build"] == build]
    med = lambda f: round(statistics.median(f(r) for r in rs), 1)
    w = lambda d: d.get("worker", 0)
    print(f"| {build} | {','.join(sorted({str(u['status']) for r in rs for u in r['uploads']}))} "
          f"| {max((u['wasmMiB'] or 0) for r in rs for u in r['uploads'])} "
          f"| {med(lambda r: w(r['before']))} "
          f"| {med(lambda r: w(r['uploads'][0]['after']) - w(r['before']))} "
          f"| {med(lambda r: w(r['uploads'][1]['after']) - w(r['uploads'][0]['after']))} "
          f"| {med(lambda r: max(w(u['peak']) for u in r['uploads']) - w(r['before']))} "
          f"| {med(lambda r: r['uploads'][1]['after'].get('proxy', 0) - r['before'].get('proxy', 0))} "
          f"| {med(lambda r: statistics.mean(u['s'] for u in r['uploads']))} |")
EOF
