// Turns the raw results of bench/run.sh (a work directory) into results.json, results.md and
// chart.svg in OUT_DIR. Node's standard library only.
//
// Usage: node bench/lib/report.mjs WORK_DIR OUT_DIR
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [work, outDir] = process.argv.slice(2);
if (!work || !outDir) {
  console.error("usage: node bench/lib/report.mjs WORK_DIR OUT_DIR");
  process.exit(2);
}
const jsonl = (f) => (existsSync(join(work, f)) ? readFileSync(join(work, f), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)) : []);
const json = (f, d) => (existsSync(join(work, f)) ? JSON.parse(readFileSync(join(work, f), "utf8")) : d);

const meta = json("meta.json", {});
const runs = jsonl("runs.jsonl");
const probes = jsonl("probes.jsonl");
const cold = jsonl("cold.jsonl");
const load = jsonl("load.jsonl");
const upload = json("upload.json", {});

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 1) => (x === null || x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);

// What each case is compared with, and the status every answer should have.
const BASELINES = {
  get: ["baseline-b", "kv-get", false],
  create: ["baseline-c", "kv-put2", false],
  delete: ["baseline-e", "kv-get-delete2", false],
  unauthorized: ["baseline-a", "constant", false],
};
const baselineOf = (c) => (c.case.startsWith("list-") ? ["baseline-d", "kv-list", true] : BASELINES[c.case]);
const EXPECTED = { create: 200, get: 200, delete: 204, unauthorized: 401, constant: 200, "kv-get": 200, "kv-put2": 200, "kv-list": 200, "kv-get-delete2": 204 };
const expectedStatus = (c) => EXPECTED[c] ?? 200;
const LABELS = {
  create: "create (POST, ttl 3600)",
  get: "get (GET one token)",
  delete: "delete (DELETE one token)",
  unauthorized: "401 (bad API key)",
  constant: "(a) constant JSON",
  "kv-get": "(b) one KV get",
  "kv-put2": "(c) two KV puts",
  "kv-list": "(d) list the prefix",
  "kv-get-delete2": "(e) one get, two deletes",
};
const label = (c) => {
  if (LABELS[c]) return LABELS[c];
  const m = /^list-(createdAt|ttl)-(asc|desc)-(\d+)$/.exec(c);
  if (m) return `list page 1, pageSize ${m[3]}, ${m[1]} ${m[2]}`;
  if (c === "list-last-page-100") return "list last page, pageSize 100";
  return c;
};

// --- timed runs, by case ---------------------------------------------------------------------
const key = (target, c, n) => `${target}|${c}|${n}`;
const groups = new Map();
for (const r of runs) {
  const k = key(r.target, r.case, r.n);
  if (!groups.has(k)) groups.set(k, { target: r.target, case: r.case, n: r.n, reps: [] });
  const w = r.wrk;
  if (w.failed) {
    groups.get(k).reps.push({ rep: r.rep, pair: r.pair, failed: true });
    continue;
  }
  const seconds = w.duration_us / 1e6;
  const expected = expectedStatus(r.case);
  const unexpected = Object.entries(w.statuses || {}).filter(([s]) => Number(s) !== expected).reduce((a, [, v]) => a + v, 0);
  const socketErrors = w.errors.connect + w.errors.read + w.errors.write + w.errors.timeout;
  const lat = (x) => (w.requests > 0 ? x / 1000 : null); // no latency without an answer
  groups.get(k).reps.push({
    rep: r.rep,
    pair: r.pair, // the service case this baseline run was made next to, if it has one of its own
    requests: w.requests,
    seconds: round(seconds, 2),
    rps: w.requests / seconds,
    p50_ms: lat(w.latency_us.p50),
    p90_ms: lat(w.latency_us.p90),
    p99_ms: lat(w.latency_us.p99),
    max_ms: lat(w.latency_us.max),
    statuses: w.statuses,
    unexpected,
    socketErrors,
    exhausted: w.exhausted,
  });
}
const summarise = (g) => {
  const ok = g.reps.filter((r) => !r.failed);
  return {
    target: g.target,
    case: g.case,
    n: g.n,
    reps: ok.length,
    failedReps: g.reps.length - ok.length,
    requests: ok.reduce((a, r) => a + r.requests, 0),
    rps: round(median(ok.map((r) => r.rps))),
    rpsMin: round(Math.min(...ok.map((r) => r.rps))),
    rpsMax: round(Math.max(...ok.map((r) => r.rps))),
    p50_ms: round(median(ok.map((r) => r.p50_ms)), 2),
    p99_ms: round(median(ok.map((r) => r.p99_ms)), 2),
    max_ms: round(median(ok.map((r) => r.max_ms)) === null ? null : Math.max(...ok.map((r) => r.max_ms ?? 0)), 2),
    seconds: round(median(ok.map((r) => r.seconds)), 1),
    unexpectedStatuses: ok.reduce((a, r) => a + r.unexpected, 0),
    socketErrors: ok.reduce((a, r) => a + r.socketErrors, 0),
    exhausted: ok.some((r) => r.exhausted),
    runs: g.reps,
  };
};
const summaries = new Map([...groups].map(([k, g]) => [k, summarise(g)]));

// --- probes: KV operations (Server-Timing), itemsTotal, baseline (d)'s list calls --------------
const timing = probes.filter((p) => p.phase === "timing");
const kvOf = (c, n) => {
  const ps = timing.filter((p) => p.case === c && p.n === n && p.reads !== undefined);
  if (!ps.length) return null;
  const last = ps[ps.length - 1];
  const same = ps.every((p) => p.reads === last.reads && p.writes === last.writes && p.deletes === last.deletes && p.lists === last.lists);
  return {
    reads: last.reads, writes: last.writes, deletes: last.deletes, lists: last.lists,
    total: last.reads + last.writes + last.deletes + last.lists,
    consistent: same,
    statuses: [...new Set(ps.map((p) => p.status))],
    itemsTotal: last.itemsTotal ?? null,
    wasmMemory: Math.max(...ps.map((p) => p.wasmMemory ?? 0)) || null,
    probeMs: round(median(ps.map((p) => p.ms)), 1),
  };
};
const baselineD = (n) => {
  const ps = probes.filter((p) => p.target === "baseline-d" && p.n === n && p.listCalls !== undefined);
  return ps.length ? { keys: ps[ps.length - 1].keys, lists: ps[ps.length - 1].listCalls } : null;
};
const badProbes = probes.filter((p) => p.status !== expectedStatus(p.case));

// --- rows ------------------------------------------------------------------------------------
const serviceRows = [...summaries.values()].filter((s) => s.target === "service")
  .sort((a, b) => (a.n - b.n) || order(a.case) - order(b.case));
function order(c) {
  const fixed = ["create", "get", "delete", "unauthorized"];
  if (fixed.includes(c)) return fixed.indexOf(c);
  return 10 + ["list-createdAt-asc-25", "list-createdAt-desc-25", "list-ttl-asc-25", "list-ttl-desc-25",
    "list-createdAt-asc-100", "list-createdAt-desc-100", "list-ttl-asc-100", "list-ttl-desc-100",
    "list-last-page-100"].indexOf(c);
}
// The service's throughput over its baseline's, one ratio per repetition, each against the
// baseline run made right next to it.
function pairedRatios(s, b) {
  return s.runs.map((r) => {
    const same = b.runs.filter((x) => x.rep === r.rep);
    const p = same.find((x) => x.pair === s.case) ?? same.find((x) => !x.pair);
    return r.failed || !p || p.failed || !p.rps ? null : r.rps / p.rps;
  }).filter((x) => x !== null);
}
// How much baseline (d) differs from itself between consecutive runs of a repetition (the
// machine's own noise, against which a ratio can be read): each run over the one before it.
function baselineNoise(n) {
  const g = summaries.get(key("baseline-d", "kv-list", n));
  if (!g) return [];
  const out = [];
  for (let i = 1; i < g.runs.length; i++) {
    const [a, b] = [g.runs[i - 1], g.runs[i]];
    if (a.rep === b.rep && a.pair && b.pair && !a.failed && !b.failed && a.rps) out.push(b.rps / a.rps);
  }
  return out;
}
const rows = serviceRows.map((s) => {
  const [bt, bc, perN] = baselineOf(s) || [];
  const b = bt ? summaries.get(key(bt, bc, perN ? s.n : 0)) : null;
  const kv = kvOf(s.case, s.n);
  const listed = s.case.startsWith("list-");
  return {
    ...s,
    label: label(s.case),
    baseline: b ? { target: bt, case: bc, n: b.n, rps: b.rps, p50_ms: b.p50_ms, p99_ms: b.p99_ms, unexpectedStatuses: b.unexpectedStatuses, exhausted: b.exhausted } : null,
    // Each repetition runs the case right next to its baseline: the ratio is the median of
    // those paired ratios, which a change of the machine's load between repetitions spares.
    ratio: b ? round(median(pairedRatios(s, b)), 2) : null,
    pairedRatios: b ? pairedRatios(s, b).map((x) => round(x, 3)) : [],
    ratioOfMedians: b && b.rps ? round(s.rps / b.rps, 2) : null,
    kv,
    predictedLists: listed ? Math.ceil(s.n / 1000) : null,
    baselineLists: listed ? baselineD(s.n) : null,
  };
});
const baselineRows = [...summaries.values()].filter((s) => s.target !== "service")
  .sort((a, b) => a.target.localeCompare(b.target) || a.n - b.n);

// --- targets ---------------------------------------------------------------------------------
const checks = [];
const check = (name, ok, detail) => checks.push({ target: name, met: ok, detail });
for (const c of ["get", "create", "delete"]) {
  const r = rows.find((x) => x.case === c);
  if (r) check(`${c} >= 0.8 x baseline throughput`, r.ratio !== null && r.ratio >= 0.8, `${r.rps} vs ${r.baseline?.rps} req/s (medians); paired ratio ${r.ratio}`);
}
const sizes = [...new Set(rows.filter((r) => r.case.startsWith("list-")).map((r) => r.n))].sort((a, b) => a - b);
function listSpread(n, ls) {
  const all = ls.flatMap((r) => r.pairedRatios);
  const noise = baselineNoise(n);
  let text = all.length ? `; all ${all.length} paired runs: median ${round(median(all), 2)}, ${all.filter((x) => x < 0.8).length} below 0.8` : "";
  if (noise.length) {
    text += `; baseline (d) against itself, consecutive runs: ${round(Math.min(...noise), 2)}–${round(Math.max(...noise), 2)}, ${noise.filter((x) => x < 0.8).length} of ${noise.length} below 0.8`;
  }
  return text;
}
for (const n of sizes.filter((n) => n <= 10000)) {
  const ls = rows.filter((r) => r.n === n && r.case.startsWith("list-"));
  const worst = ls.reduce((a, r) => (a === null || (r.ratio ?? 0) < (a.ratio ?? 0) ? r : a), null);
  check(`list at N=${n} >= 0.8 x baseline (d)`, ls.every((r) => r.ratio !== null && r.ratio >= 0.8),
    `lowest ${worst?.ratio} (${worst?.label}); ${ls.map((r) => r.ratio).join(", ")}` + listSpread(n, ls));
  const kvOk = ls.every((r) => r.kv && r.kv.reads === 0 && r.kv.lists === Math.ceil(n / 1000));
  check(`list at N=${n}: 0 reads and ceil(N/1000) = ${Math.ceil(n / 1000)} list calls`, kvOk,
    [...new Set(ls.map((r) => (r.kv ? `reads=${r.kv.reads} lists=${r.kv.lists}` : "no Server-Timing")))].join("; "));
}
for (const n of sizes.filter((n) => n > 10000)) {
  const ls = rows.filter((r) => r.n === n && r.case.startsWith("list-"));
  const ok = ls.every((r) => r.kv && r.kv.total <= 1000 && r.kv.statuses.every((s) => s === 200) && r.unexpectedStatuses === 0 && r.requests > 0);
  check(`list at N=${n} answers within 1,000 KV operations`, ok,
    [...new Set(ls.map((r) => (r.kv ? `${r.kv.total} operations (lists=${r.kv.lists}), status ${r.kv.statuses.join("/")}` : "no Server-Timing")))].join("; ") +
      `; ${ls.reduce((a, r) => a + r.requests, 0)} timed requests answered, ${ls.reduce((a, r) => a + r.unexpectedStatuses, 0)} with another status`);
}
const sz = meta.sizes || {};
if (sz.service && sz["baseline-a"]) {
  check("release wasm <= 300 KB gzipped (300 x 1024 bytes)", sz.service.wasm_gzip <= 300 * 1024, `${sz.service.wasm_gzip} bytes gzipped (${round(sz.service.wasm_gzip / 1024, 1)} KiB)`);
  const ratio = sz.service.wasm_gzip / sz["baseline-a"].wasm_gzip;
  check("release wasm <= 1.6 x baseline (a), gzipped", ratio <= 1.6,
    `${round(ratio, 2)} gzipped (${sz.service.wasm_gzip} / ${sz["baseline-a"].wasm_gzip}); raw ${round(sz.service.wasm / sz["baseline-a"].wasm, 2)} (${sz.service.wasm} / ${sz["baseline-a"].wasm})`);
}
{
  const small = rows.filter((r) => r.n <= 10000);
  const worst = small.reduce((a, r) => (a === null || r.p99_ms > a.p99_ms ? r : a), null);
  check("p99 < 1 s at N <= 10,000", small.every((r) => r.p99_ms !== null && r.p99_ms < 1000), worst ? `highest p99 ${worst.p99_ms} ms (${worst.label}${worst.n ? `, N=${worst.n}` : ""})` : "no runs");
}
const problems = [];
for (const s of summaries.values()) {
  if (s.unexpectedStatuses) problems.push(`${s.target} ${s.case}${s.n ? ` N=${s.n}` : ""}: ${s.unexpectedStatuses} answers with another status than ${expectedStatus(s.case)}`);
  if (s.socketErrors) problems.push(`${s.target} ${s.case}${s.n ? ` N=${s.n}` : ""}: ${s.socketErrors} socket errors or timeouts`);
  if (s.exhausted) problems.push(`${s.target} ${s.case}: the token pool ran out (the run stopped early; its rate is over the shorter time)`);
  if (s.failedReps) problems.push(`${s.target} ${s.case}${s.n ? ` N=${s.n}` : ""}: ${s.failedReps} runs gave no result`);
}
for (const p of badProbes) problems.push(`probe ${p.phase} ${p.target} ${p.case}${p.n ? ` N=${p.n}` : ""}: status ${p.status}${p.error ? ` (${p.error})` : ""}`);
for (const r of rows.filter((r) => r.case.startsWith("list-") && r.kv && r.kv.itemsTotal !== r.n)) {
  problems.push(`service ${r.case} N=${r.n}: itemsTotal ${r.kv.itemsTotal}, expected ${r.n}`);
}
for (const n of sizes) {
  const d = baselineD(n);
  if (d && d.keys !== n) problems.push(`baseline (d) N=${n}: listed ${d.keys} keys`);
}

const coldOf = (t) => cold.filter((c) => c.target === t).map((c) => c.ms);
const results = {
  meta,
  loadavg: load,
  cases: rows,
  baselines: baselineRows,
  coldStart: { service: coldOf("service"), "baseline-a": coldOf("const-json"), serviceMedian: median(coldOf("service")), baselineMedian: median(coldOf("const-json")) },
  upload,
  targets: checks,
  problems,
};
writeFileSync(join(outDir, "results.json"), JSON.stringify(results, null, 2) + "\n");

// --- Markdown ----------------------------------------------------------------------------------
const fmt = (x, d = 1) => (x === null || x === undefined ? "–" : Number(x).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: 0 }));
const bytes = (b) => (b === null || b === undefined ? "–" : `${fmt(b, 0)} B (${fmt(b / 1024, 1)} KiB)`);
const mib = (b) => (b === null || b === undefined ? "–" : `${fmt(b / 1048576, 1)} MiB`);
const st = meta.settings || {};
const v = meta.versions || {};
const md = [];
md.push("# Benchmark results", "");
md.push("Generated by `bench/run.sh`; numbers are from a shared 2-core machine, so compare rows of the same run rather than runs of different days.", "");
md.push("| | |", "|---|---|");
md.push(`| date | ${meta.date ?? "–"} (commit ${meta.commit ?? "–"}${meta.uncommitted?.length ? `, built with uncommitted changes to ${meta.uncommitted.join(", ")}` : ""}) |`);
md.push(`| machine | ${meta.machine?.nproc ?? "–"} cores (nproc), ${meta.machine?.cpu ?? "–"}, ${meta.machine?.memory_gib ?? "–"} GiB |`);
md.push(`| versions | rustc ${v.rustc ?? "–"}, worker crate ${v.worker ?? "–"}, wrangler ${v.wrangler ?? "–"}, workerd ${v.workerd ?? "–"}, wrk ${v.wrk ?? "–"}, node ${v.node ?? "–"} |`);
md.push(`| build | release, ${st.release_profile ?? "–"} (the root Cargo.toml's, for the service and the baselines alike), wasm-opt -Oz |`);
md.push(`| load | wrk, 1 thread, ${st.connections} connections, ${st.duration_s} s per run, ${st.reps} repetition(s); medians of the repetitions |`);
md.push(`| serving | \`wrangler dev --ip 127.0.0.1 --log-level warn\`, local KV state on ${st.state_storage ?? "–"}, rate limits raised to ${fmt(st.rate_limit, 0)} per 60 s |`);
md.push(`| load average (1/5/15 min) | ${load.map((l) => `rep ${l.rep} ${l.at}: ${l.loadavg}`).join("; ") || "–"} |`);
md.push(`| wall time | ${meta.wall_time_s ? `${Math.floor(meta.wall_time_s / 60)} min ${meta.wall_time_s % 60} s` : "–"} |`);
md.push("");
md.push("## Targets", "");
md.push("| target | met | measured |", "|---|---|---|");
for (const c of checks) md.push(`| ${c.target} | ${c.met ? "yes" : "**no**"} | ${c.detail} |`);
md.push("");
if (problems.length) {
  md.push("Irregularities seen during the run:", "");
  for (const p of problems) md.push(`- ${p}`);
  md.push("");
}
md.push("## Requests", "");
md.push("Throughput and latencies of the service, medians over the repetitions; requests are summed over them. The ratio is the median over the repetitions of the case's throughput over its baseline's, measured next to each other. The baseline is the Worker that does only the KV I/O of the same request (see bench/baselines). KV operations are per request, from `Server-Timing` (reads / writes / deletes / lists).", "");
md.push("| case | N | req/s | p50 ms | p99 ms | requests (s per run) | baseline | baseline req/s | baseline p99 ms | ratio | KV r/w/d/l | list calls: service / predicted ceil(N/1000) / baseline (d) |");
md.push("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|");
for (const r of rows) {
  const kv = r.kv ? `${r.kv.reads}/${r.kv.writes}/${r.kv.deletes}/${r.kv.lists}${r.kv.consistent ? "" : " (varies)"}` : "–";
  const lists = r.predictedLists !== null ? `${r.kv?.lists ?? "–"} / ${r.predictedLists} / ${r.baselineLists?.lists ?? "–"}` : "";
  const b = r.baseline;
  md.push(`| ${r.label} | ${r.n ? fmt(r.n, 0) : ""} | ${fmt(r.rps)} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ${fmt(r.requests, 0)} (${fmt(r.seconds, 0)}) | ${b ? b.target.replace("baseline-", "(") + ")" : "–"} | ${fmt(b?.rps)} | ${fmt(b?.p99_ms, 2)} | ${fmt(r.ratio, 2)} | ${kv} | ${lists} |`);
}
md.push("");
md.push("Baselines:", "");
md.push("| baseline | N | req/s (min–max) | p50 ms | p99 ms | requests (s per run) |", "|---|---:|---:|---:|---:|---:|");
for (const b of baselineRows) md.push(`| ${label(b.case)} | ${b.n ? fmt(b.n, 0) : ""} | ${fmt(b.rps)} (${fmt(b.rpsMin)}–${fmt(b.rpsMax)}) | ${fmt(b.p50_ms, 2)} | ${fmt(b.p99_ms, 2)} | ${fmt(b.requests, 0)} (${fmt(b.seconds, 0)}) |`);
md.push("");
md.push("## Listing against N", "", "![list throughput and p99 against N](chart.svg)", "");
md.push("Service: the median over the 9 list cases at each N, the band spanning the slowest and fastest of them. Baseline (d): listing the whole prefix and nothing else.", "");
md.push("## Size and cold start", "");
md.push("| | wasm | wasm gzip -9 | JS glue | JS glue gzip -9 |", "|---|---:|---:|---:|---:|");
for (const [name, s] of [["service (build/)", sz.service], ["baseline (a)", sz["baseline-a"]]]) {
  if (s) md.push(`| ${name} | ${bytes(s.wasm)} | ${bytes(s.wasm_gzip)} | ${bytes(s.js)} | ${bytes(s.js_gzip)} |`);
}
if (sz.service && sz["baseline-a"]) md.push(`| ratio | ${fmt(sz.service.wasm / sz["baseline-a"].wasm, 2)} | ${fmt(sz.service.wasm_gzip / sz["baseline-a"].wasm_gzip, 2)} | ${fmt(sz.service.js / sz["baseline-a"].js, 2)} | ${fmt(sz.service.js_gzip / sz["baseline-a"].js_gzip, 2)} |`);
md.push("");
md.push(`Cold start, from starting \`wrangler dev\` (empty state) to the first answer: service ${coldOf("service").map((x) => `${fmt(x, 0)} ms`).join(", ") || "–"} (median ${fmt(results.coldStart.serviceMedian, 0)} ms); baseline (a) ${coldOf("const-json").map((x) => `${fmt(x, 0)} ms`).join(", ") || "–"} (median ${fmt(results.coldStart.baselineMedian, 0)} ms).`, "");
md.push("## Memory of a single-chunk upload", "");
if (upload.upload) {
  const rss = upload.rss || {};
  md.push(`A ${upload.mib} MiB file in one chunk (\`POST /upload?token=\`, multipart field \`file\`), after a 64 KiB warm-up upload: status ${upload.upload.status} in ${fmt(upload.upload.ms, 0)} ms (warm-up: ${upload.warmup.status}).`, "");
  md.push("| | before (after the warm-up) | during (peak, sampled every 50 ms) | after |", "|---|---:|---:|---:|");
  md.push(`| wasm linear memory (Server-Timing) | ${mib(upload.warmup.wasmMemory)} | | ${mib(upload.upload.wasmMemory)} |`);
  for (const role of ["worker", "proxy"]) {
    md.push(`| RSS of workerd (${role === "worker" ? "the Worker's runtime" : "wrangler's proxy runtime"}) | ${mib(rss.before?.[role])} | ${mib(rss.peakDuring?.[role])} | ${mib(rss.after?.[role])} |`);
  }
  const grew = upload.upload.wasmMemory !== null && upload.warmup.wasmMemory !== null ? upload.upload.wasmMemory - upload.warmup.wasmMemory : null;
  md.push("", `The wasm memory ${grew === null ? "was not reported" : grew === 0 ? "did not grow" : `grew by ${mib(grew)}`} while the ${upload.mib} MiB chunk went through.`, "");
} else {
  md.push("Not measured in this run.", "");
}
md.push("## How it is measured", "");
md.push([
  "- Every target is built in release (opt-level \"s\", LTO, one codegen unit, wasm-opt -Oz) and served by `wrangler dev --ip 127.0.0.1 --port P --persist-to DIR --log-level warn` (at the default level wrangler prints a line per request from its Node process, about 1 ms of CPU each on the same 2 cores), the service on one copy of the seeded local state and the baselines on another. Each repetition starts every target afresh, the service with its baseline beside it; every service case is run right next to a run of its baseline (which goes first alternates; each listing up to N = 10,000 has a baseline (d) run of its own, and the larger listings share one per repetition), one wrk at a time, after a short untimed load and a single request per case. A case whose single request is slow runs longer (up to " + st.min_requests + " times that latency, at most " + st.max_duration_s + " s) so that it still completes some requests.",
  "- The simulator answers a KV `list` with a scan in key order that, on the last page of a prefix, goes on to the end of the namespace's table; so each N has a state of its own with its project alone (index entries and records), and the other cases share another. In one namespace holding all projects every listing would cost a scan of all of them.",
  "- Tokens are written by the core's own `TokenStore::save` (bench/baselines/seed): one project per N, createdAt spread over a week, ttl 0 for a quarter and 30–400 days for the rest, so all are active.",
  "- `create` writes into a project of its own, `get` cycles over 1,000 tokens, `delete` and baseline (e) each remove distinct tokens of their own pools. The 401 case sends a wrong API key to `GET /upload-tokens`.",
  "- KV operations come from a separate start of the service with `SERVER_TIMING=1` (three single requests per case, never during a timed run); the timed runs have it off.",
  "- Local KV is Miniflare's simulator (SQLite and files), not Cloudflare's network store: absolute latencies say little about production, the ratios to the baselines say how much the service adds.",
].join("\n"), "");
writeFileSync(join(outDir, "results.md"), md.join("\n"));

// --- chart -------------------------------------------------------------------------------------
function chart() {
  const listRows = rows.filter((r) => r.case.startsWith("list-"));
  const ns = sizes;
  if (!ns.length) return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>';
  const series = (metric) => ({
    service: ns.map((n) => {
      const vs = listRows.filter((r) => r.n === n).map((r) => r[metric]).filter((x) => x !== null && x > 0);
      return { n, mid: median(vs), lo: vs.length ? Math.min(...vs) : null, hi: vs.length ? Math.max(...vs) : null };
    }),
    baseline: ns.map((n) => ({ n, mid: summaries.get(key("baseline-d", "kv-list", n))?.[metric] ?? null })),
  });
  const W = 1000, H = 430, panelW = 400, panelH = 280, top = 60, lefts = [75, 570];
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">GET /upload-tokens against the number of tokens N (${esc(meta.date?.slice(0, 10) ?? "")})</text>`];
  const panels = [
    ["throughput (req/s, log scale)", "rps"],
    ["p99 latency (ms, log scale)", "p99_ms"],
  ];
  panels.forEach(([title, metric], i) => {
    const s = series(metric);
    const values = [...s.service.flatMap((p) => [p.lo, p.hi, p.mid]), ...s.baseline.map((p) => p.mid)].filter((x) => x !== null && x > 0);
    if (!values.length) return;
    const ylo = Math.floor(Math.log10(Math.min(...values))), yhi = Math.ceil(Math.log10(Math.max(...values)) + 1e-9);
    const yspan = Math.max(1, yhi - ylo);
    const xlo = Math.log10(ns[0]), xhi = Math.log10(ns[ns.length - 1]);
    const xspan = Math.max(1e-9, xhi - xlo);
    const left = lefts[i];
    const X = (n) => left + (ns.length === 1 ? panelW / 2 : ((Math.log10(n) - xlo) / xspan) * panelW);
    const Y = (v) => top + panelH - ((Math.log10(v) - ylo) / yspan) * panelH;
    parts.push(`<text x="${left + panelW / 2}" y="${top - 12}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
    parts.push(`<rect x="${left}" y="${top}" width="${panelW}" height="${panelH}" fill="none" stroke="#999"/>`);
    for (let e = ylo; e <= yhi; e++) {
      const y = Y(10 ** e);
      parts.push(`<line x1="${left}" x2="${left + panelW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
      parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${fmt(10 ** e, 3)}</text>`);
    }
    for (const n of ns) {
      parts.push(`<line x1="${X(n)}" x2="${X(n)}" y1="${top}" y2="${top + panelH}" stroke="#f0f0f0"/>`);
      parts.push(`<text x="${X(n)}" y="${top + panelH + 16}" text-anchor="middle">${fmt(n, 0)}</text>`);
    }
    parts.push(`<text x="${left + panelW / 2}" y="${top + panelH + 34}" text-anchor="middle">N (tokens in the project, log scale)</text>`);
    const band = s.service.filter((p) => p.lo !== null);
    if (band.length) {
      const pts = [...band.map((p) => `${X(p.n)},${Y(p.hi)}`), ...band.slice().reverse().map((p) => `${X(p.n)},${Y(p.lo)}`)];
      parts.push(`<polygon points="${pts.join(" ")}" fill="#1f77b4" fill-opacity="0.15" stroke="none"/>`);
    }
    const line = (pts, color, dash) => {
      const ok = pts.filter((p) => p.mid !== null && p.mid > 0);
      if (!ok.length) return;
      parts.push(`<polyline points="${ok.map((p) => `${X(p.n)},${Y(p.mid)}`).join(" ")}" fill="none" stroke="${color}" stroke-width="2"${dash ? ' stroke-dasharray="6 4"' : ""}/>`);
      for (const p of ok) parts.push(`<circle cx="${X(p.n)}" cy="${Y(p.mid)}" r="3.5" fill="${color}"><title>${fmt(p.n, 0)}: ${fmt(p.mid, 2)}</title></circle>`);
    };
    line(s.service, "#1f77b4", false);
    line(s.baseline, "#d62728", true);
  });
  const ly = H - 16;
  parts.push(`<line x1="110" x2="140" y1="${ly}" y2="${ly}" stroke="#1f77b4" stroke-width="2"/><text x="146" y="${ly + 4}">service: median of the 9 list cases (band: slowest to fastest)</text>`);
  parts.push(`<line x1="640" x2="670" y1="${ly}" y2="${ly}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/><text x="676" y="${ly + 4}">baseline (d): list the prefix</text>`);
  parts.push("</svg>");
  return parts.join("\n");
}
writeFileSync(join(outDir, "chart.svg"), chart() + "\n");
console.log(`wrote ${join(outDir, "results.json")}, results.md, chart.svg`);
