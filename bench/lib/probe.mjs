// Sends a few single requests per case (never during a timed run) and records what each answer
// says: status, time, the service's Server-Timing figures (KV operations, project-index calls,
// wasm memory) when it is run with SERVER_TIMING=1, and the counts a listing or baseline (d)
// reports.
//
//   node bench/lib/probe.mjs cases  SPEC.jsonl OUT.jsonl REPEAT
//       SPEC has one case per line (written by bench/run.sh, bench/index.sh): {case, target, n,
//       method, url, auth, body, walk: {file, start, count, idx, suffix}}; a walk case takes its
//       tokens from the slice, and appends `?idx=INDEX_KEY` (idx) or the suffix to each one
//   node bench/lib/probe.mjs upload BASE AUTH PGID MIB OUT.json
//       mints a token, uploads a small file, then a MIB MiB file in one chunk, and records the
//       wasm memory (Server-Timing) and the workerd processes' RSS before, during and after
import { spawn } from "node:child_process";
import { appendFileSync, closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [mode, ...args] = process.argv.slice(2);

function serverTiming(headers) {
  const out = {};
  const raw = headers.get("server-timing");
  if (!raw) return out;
  const kv = /kv;desc="([^"]*)"/.exec(raw);
  if (kv) for (const [, k, v] of kv[1].matchAll(/(\w+)=(\d+)/g)) out[k] = Number(v);
  const index = /index;desc="calls=(\d+)"/.exec(raw);
  if (index) out.indexCalls = Number(index[1]);
  const mem = /wasm-memory;desc="(\d+)"/.exec(raw);
  if (mem) out.wasmMemory = Number(mem[1]);
  return out;
}

async function send({ method, url, auth, body, contentType }) {
  const headers = {};
  if (auth && auth !== "-") headers.Authorization = auth;
  if (body && body !== "-") headers["Content-Type"] = contentType || "application/json";
  const started = performance.now();
  const res = await fetch(url, { method, headers, body: body && body !== "-" ? body : undefined });
  const text = await res.text();
  const ms = performance.now() - started;
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, ms, timing: serverTiming(res.headers), json };
}

if (mode === "cases") {
  const [specFile, outFile, repeat] = args;
  const specs = readFileSync(specFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  for (const spec of specs) {
    let tokens = [];
    if (spec.walk) {
      tokens = readFileSync(spec.walk.file, "utf8").split("\n").filter(Boolean)
        .slice(spec.walk.start, spec.walk.start + spec.walk.count).map((l) => l.split(" "));
    }
    for (let i = 0; i < Number(repeat); i++) {
      let url = spec.url;
      if (spec.walk) {
        const [token, index] = tokens[i % tokens.length];
        url += token + (spec.walk.idx ? `?idx=${encodeURIComponent(index)}` : spec.walk.suffix ?? "");
      }
      let r;
      try {
        r = await send({ ...spec, url });
      } catch (e) {
        r = { status: 0, ms: 0, timing: {}, error: String(e) };
      }
      const record = {
        case: spec.case, target: spec.target, n: spec.n, phase: spec.phase, i,
        status: r.status, ms: Math.round(r.ms * 10) / 10, ...r.timing,
      };
      if (r.json?.pagination) {
        record.itemsTotal = r.json.pagination.itemsTotal;
        record.pageItems = r.json.pagination.currentPageItems;
      }
      if (spec.target === "baseline-d" && r.json) {
        record.keys = r.json.keys;
        record.listCalls = r.json.lists;
      }
      if (r.error) record.error = r.error;
      appendFileSync(outFile, JSON.stringify(record) + "\n");
    }
  }
} else if (mode === "upload") {
  const [base, auth, pgid, mib, outFile] = args;
  // The workerd processes of the server's process group, told apart by their role.
  const workerds = () => {
    const out = [];
    for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (fields[2] !== String(pgid)) continue; // field 5 of stat: process group
        const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        if (!cmd[0].endsWith("workerd")) continue;
        const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
        out.push({ pid: Number(pid), role: cmd.some((a) => a.startsWith("--inspector-addr")) ? "worker" : "proxy", rss });
      } catch {}
    }
    return out;
  };
  const rss = () => Object.fromEntries(workerds().map((w) => [w.role, w.rss]));
  const created = await send({ method: "POST", url: `${base}/upload-tokens`, auth, body: '{"ttl":3600}' });
  if (created.status !== 200) throw new Error(`minting an upload token failed: ${created.status}`);
  const token = created.json.token;
  const file = join(tmpdir(), `uts-bench-upload-${process.pid}.bin`);
  const small = join(tmpdir(), `uts-bench-upload-small-${process.pid}.bin`);
  writeFileSync(small, randomBytes(64 * 1024));
  const fd = openSync(file, "w");
  for (let i = 0; i < Number(mib); i++) writeSync(fd, randomBytes(1024 * 1024));
  closeSync(fd);
  const upload = (path) => new Promise((resolve) => {
    const started = performance.now();
    const curl = spawn("curl", ["-sS", "-o", "/dev/null", "-D", "-", "-w", "\\n%{http_code}",
      "-F", `file=@${path}`, `${base}/upload?token=${token}`], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    curl.stdout.on("data", (d) => (out += d));
    curl.on("close", () => {
      const lines = out.trim().split(/\r?\n/);
      const status = Number(lines.at(-1));
      const headers = new Headers();
      for (const l of lines) { const m = /^([^:]+):\s*(.*)$/.exec(l); if (m) headers.append(m[1], m[2]); }
      resolve({ status, ms: performance.now() - started, timing: serverTiming(headers) });
    });
  });
  try {
    const warm = await upload(small);
    await new Promise((r) => setTimeout(r, 1000));
    const before = rss();
    const peak = {};
    const sampler = setInterval(() => {
      for (const [role, v] of Object.entries(rss())) peak[role] = Math.max(peak[role] ?? 0, v);
    }, 50);
    const big = await upload(file);
    clearInterval(sampler);
    await new Promise((r) => setTimeout(r, 2000));
    const after = rss();
    const result = {
      mib: Number(mib),
      warmup: { status: warm.status, ms: Math.round(warm.ms), wasmMemory: warm.timing.wasmMemory ?? null },
      upload: { status: big.status, ms: Math.round(big.ms), wasmMemory: big.timing.wasmMemory ?? null },
      rss: { before, peakDuring: peak, after },
    };
    writeFileSync(outFile, JSON.stringify(result, null, 2));
    console.log(JSON.stringify(result));
  } finally {
    unlinkSync(file);
    unlinkSync(small);
  }
} else {
  console.error("usage: probe.mjs cases SPEC OUT REPEAT | upload BASE AUTH PGID MIB OUT");
  process.exit(2);
}
