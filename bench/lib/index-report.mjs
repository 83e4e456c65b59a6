// Writes the results of bench/index.sh: index-results.json (every figure, raw runs included),
// index-results.md (tables, targets, the edge latency model) and index-chart.svg (the model
// against N, old design and new), from the run's directory. No dependencies, no network.
//
//   node bench/lib/index-report.mjs WORK_DIR OUT_DIR
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [work, out] = process.argv.slice(2);
if (!work || !out) {
  console.error("usage: node bench/lib/index-report.mjs WORK_DIR OUT_DIR");
  process.exit(2);
}
const lines = (f) => readFileSync(join(work, f), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const runs = lines("runs.jsonl");
const probes = lines("probes.jsonl");
const marks = lines("load.jsonl");
let events = [];
try {
  events = lines("events.jsonl");
} catch {}
const meta = JSON.parse(readFileSync(join(work, "meta.json"), "utf8"));

// The edge's assumed round-trip times (the model's only inputs besides the measurements).
const KV_MS = 25;
const OBJECT_MS = 40;
// What the targets ask.
const RATIO_TARGET = 0.8;
const P99_TARGETS = { 100000: 100, 1000000: 250 };

const median = (xs) => {
  const v = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const round = (x, d = 1) => (x === null || x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);
const fmt = (x, d = 1) => (x === null || x === undefined ? "–" : round(x, d).toLocaleString("en-US"));
const int = (x) => (x === null || x === undefined ? "–" : Math.round(x).toLocaleString("en-US"));
const nfmt = (n) => Number(n).toLocaleString("en-US");

// --- timed runs ----------------------------------------------------------------------------------
const expected = (c, target) => (c === "delete" ? 204 : 200);
function summarise(r) {
  const w = r.wrk;
  if (w.failed) return { rep: r.rep, failed: true };
  const seconds = w.duration_us / 1e6;
  const want = expected(r.case, r.target);
  const other = Object.entries(w.statuses || {}).filter(([s]) => Number(s) !== want).reduce((a, [, v]) => a + v, 0);
  const errors = w.errors.connect + w.errors.read + w.errors.write + w.errors.timeout;
  const answered = w.requests > 0;
  return {
    rep: r.rep,
    requests: w.requests,
    seconds,
    rps: w.requests / seconds,
    // CPU per request: of the runtime that runs the Worker (with its objects and the KV
    // simulator), and of all the server's processes (wrangler's relaying ones too).
    cpu: answered && typeof r.cpu_runtime_ms === "number" ? r.cpu_runtime_ms / w.requests : null,
    cpuAll: answered && typeof r.cpu_ms === "number" ? r.cpu_ms / w.requests : null,
    // Latencies as measured, one sample per answer (bench/lua/summary.lua undoes wrk's
    // coordinated-omission correction); p99c is wrk's corrected p99, kept beside it.
    p50: answered ? w.latency_raw_us.p50 / 1000 : null,
    p99: answered ? w.latency_raw_us.p99 / 1000 : null,
    p99c: answered ? w.latency_us.p99 / 1000 : null,
    max: answered ? w.latency_us.max / 1000 : null,
    hist: answered ? w.hist_raw : [],
    // Every answer is one sample of the measured distribution (wrk records one per answer).
    samplesMatch: w.latency_raw_us.count === w.requests,
    unexpected: other,
    errors,
    exhausted: w.exhausted === true,
  };
}
// The P-th percentile of the runs' measured latencies pooled, in ms: the upper edge of the
// 0.1 ms bucket that holds the ceil(P% of all)-th fastest answer.
function pooledPercentile(reps, p) {
  const counts = new Map();
  let total = 0;
  for (const r of reps) {
    for (const [b, c] of r.hist) {
      counts.set(b, (counts.get(b) ?? 0) + c);
      total += c;
    }
  }
  if (!total) return null;
  const want = Math.ceil((total * p) / 100);
  let seen = 0;
  for (const b of [...counts.keys()].sort((x, y) => x - y)) {
    seen += counts.get(b);
    if (seen >= want) return (b + 1) / 10;
  }
  return null;
}
const groups = new Map();
const gkey = (phase, c, target, n, conns) => `${phase}|${c}|${target}|${n}|${conns}`;
for (const r of runs) {
  const k = gkey(r.phase, r.case, r.target, r.n, r.conns);
  if (!groups.has(k)) groups.set(k, { phase: r.phase, case: r.case, target: r.target, n: r.n, conns: r.conns, reps: [] });
  groups.get(k).reps.push(summarise(r));
}
for (const g of groups.values()) {
  const ok = g.reps.filter((x) => !x.failed);
  g.rps = median(ok.map((x) => x.rps));
  // p50 and p99 over every request of the repetitions together (their 0.1 ms buckets pooled),
  // which is steadier than a median of per-run p99s when a run has only a few hundred answers.
  g.p50 = pooledPercentile(ok, 50);
  g.p99 = pooledPercentile(ok, 99);
  g.cpu = median(ok.map((x) => x.cpu));
  g.cpuAll = median(ok.map((x) => x.cpuAll));
  g.p99Worst = ok.length ? Math.max(...ok.map((x) => x.p99 ?? 0)) : null;
  g.p99c = median(ok.map((x) => x.p99c));
  g.p99cWorst = ok.length ? Math.max(...ok.map((x) => x.p99c ?? 0)) : null;
  g.samplesMatch = ok.every((x) => x.samplesMatch);
  g.requests = ok.reduce((a, x) => a + x.requests, 0);
  g.unexpected = ok.reduce((a, x) => a + x.unexpected + x.errors, 0) + (g.reps.length - ok.length);
  g.exhausted = ok.some((x) => x.exhausted);
}
const get = (phase, c, target, n, conns) => groups.get(gkey(phase, c, target, n, conns));
// The median over repetitions of a/b, each repetition's two runs made next to each other.
function pairedRatios(a, b, invert = false) {
  if (!a || !b) return [];
  const xs = [];
  for (const x of a.reps) {
    const y = b.reps.find((r) => r.rep === x.rep);
    if (!y || x.failed || y.failed || !x.rps || !y.rps) continue;
    xs.push(invert ? y.rps / x.rps : x.rps / y.rps);
  }
  return xs;
}
const pairedRatio = (a, b, invert = false) => median(pairedRatios(a, b, invert));
// The same from CPU time per request: b's over a's, i.e. what a's throughput over b's would be
// if both were limited by CPU alone.
function cpuRatio(a, b, key = "cpu") {
  if (!a || !b) return null;
  const xs = [];
  for (const x of a.reps) {
    const y = b.reps.find((r) => r.rep === x.rep);
    if (!y || x.failed || y.failed || !x[key] || !y[key]) continue;
    xs.push(y[key] / x[key]);
  }
  return median(xs);
}

// --- probes: round trips per request -------------------------------------------------------------
function trips(target, c, n) {
  const ps = probes.filter((p) => p.phase === "timing" && p.target === target && p.case === c && p.n === n);
  if (!ps.length) return null;
  const pick = (k) => {
    const vs = [...new Set(ps.map((p) => p[k] ?? 0))];
    return vs.length === 1 ? vs[0] : vs.join("/");
  };
  const t = {
    reads: pick("reads"), writes: pick("writes"), deletes: pick("deletes"), lists: pick("lists"),
    objectCalls: pick("indexCalls"), statuses: [...new Set(ps.map((p) => p.status))], samples: ps.length,
  };
  t.kv = ["reads", "writes", "deletes", "lists"].reduce((a, k) => a + (typeof t[k] === "number" ? t[k] : NaN), 0);
  return t;
}
const tripText = (t) => {
  if (!t) return "–";
  const parts = [];
  if (t.reads) parts.push(`${t.reads} KV read${t.reads > 1 ? "s" : ""}`);
  if (t.writes) parts.push(`${t.writes} KV write${t.writes > 1 ? "s" : ""}`);
  if (t.deletes) parts.push(`${t.deletes} KV delete${t.deletes > 1 ? "s" : ""}`);
  if (t.lists) parts.push(`${t.lists} KV list${t.lists > 1 ? "s" : ""}`);
  if (t.objectCalls) parts.push(`${t.objectCalls} object call${t.objectCalls > 1 ? "s" : ""}`);
  return parts.join(" + ") || "none";
};

const sizes = meta.settings.sizes;
const oldSizes = meta.settings.old_sizes;
const listCases = [...new Set(runs.filter((r) => r.phase === "list").map((r) => r.case))];
const caseLabel = (id) => {
  const m = /^list-(\w+)-(asc|desc)-(\d+)-(first|middle|last)$/.exec(id);
  if (!m) return id;
  const page = { first: "page 1", middle: "middle page", last: "last page" }[m[4]];
  return `${page}, ${m[1]} ${m[2]}, pageSize ${m[3]}`;
};
const DEFAULT_CASE = "list-createdAt-desc-25-first";

// --- targets -------------------------------------------------------------------------------------
const targets = [];
const misc = {};
for (const [c, base, letter, what] of [
  ["get", "baseline-b", "b", "one KV get"],
  ["create", "baseline-f", "f", "one KV put + one object call inserting a row"],
  ["delete", "baseline-g", "g", "one object call deleting a row + one KV delete"],
]) {
  const s = get("misc", c, "service", 0, 2);
  const b = get("misc", c, base, 0, 2);
  const ratio = pairedRatio(s, b);
  const ratios = pairedRatios(s, b);
  const cpu = cpuRatio(s, b);
  const cpuAll = cpuRatio(s, b, "cpuAll");
  misc[c] = { service: s, baseline: b, letter, what, ratio, ratios, cpuRatio: cpu, cpuAllRatio: cpuAll, trips: trips("service", c, 0), oldTrips: trips("old", c, 0) };
  targets.push({
    target: `${c} >= ${RATIO_TARGET} x baseline (${letter}) throughput`,
    met: ratio !== null && ratio >= RATIO_TARGET,
    measured: `paired ratio ${fmt(ratio, 2)} (median of ${ratios.length} rounds; ${ratios.filter((r) => r >= RATIO_TARGET).length} of them at ${RATIO_TARGET} or more); ${fmt(s?.rps)} vs ${fmt(b?.rps)} req/s (medians); from CPU time per request ${fmt(cpu, 2)} (the Worker's runtime), ${fmt(cpuAll, 2)} (all local processes)`,
  });
}
const listing = {};
for (const n of sizes) {
  listing[n] = listCases.map((c) => {
    const s = get("list", c, "service", n, 1);
    const b = get("list", c, "baseline-h", n, 1);
    return { case: c, service: s, baseline: b, ratio: pairedRatio(s, b), cpuRatio: cpuRatio(s, b), trips: trips("service", c, n) };
  });
}
for (const [n, limit] of Object.entries(P99_TARGETS)) {
  if (!listing[n]) continue;
  const rows = listing[n].filter((r) => r.service && r.service.p99 !== null);
  if (!rows.length) {
    targets.push({ target: `every listing at N = ${nfmt(n)}: p99 < ${limit} ms`, met: false, measured: "not measured in this run" });
    continue;
  }
  const worst = rows.reduce((a, r) => (a && a.service.p99 >= r.service.p99 ? a : r), null);
  const worstRep = Math.max(...rows.map((r) => r.service.p99Worst ?? 0));
  const worstC = rows.reduce((a, r) => (a && a.service.p99c >= r.service.p99c ? a : r), null);
  const over = rows.filter((r) => r.service.p99 >= limit).length;
  targets.push({
    target: `every listing at N = ${nfmt(n)}: p99 < ${limit} ms`,
    met: rows.length === listCases.length && rows.every((r) => r.service.p99 !== null && r.service.p99 < limit && r.service.samplesMatch),
    measured: `highest p99 ${fmt(worst?.service.p99)} ms (${caseLabel(worst?.case)}; the ${nfmt(worst?.service.requests)} answers of its ${worst?.service.reps.length} repetitions together, as measured); ${over} of ${rows.length} cases at ${limit} ms or more; highest p99 of any single run ${fmt(worstRep)} ms; wrk's corrected p99 (median of the repetitions), highest ${fmt(worstC?.service.p99c)} ms (${caseLabel(worstC?.case)})`,
  });
}
const failures = [...groups.values()].filter((g) => g.unexpected > 0);
targets.push({
  target: "every timed request answered as expected (200, 204 for deletes)",
  met: failures.length === 0,
  measured: failures.length ? failures.map((g) => `${g.phase} ${g.case} ${g.target} N=${g.n}: ${g.unexpected}`).join("; ") : "all",
});

// --- old design ----------------------------------------------------------------------------------
const oldRows = [];
for (const n of oldSizes) {
  for (const c of [...new Set(runs.filter((r) => r.phase === "old" && r.n === n).map((r) => r.case))]) {
    const s = get("old", c, "service", n, 1);
    const o = get("old", c, "old", n, 1);
    oldRows.push({ n, case: c, service: s, old: o, speedup: pairedRatio(s, o), oldTrips: trips("old", c, n), trips: trips("service", c, n) });
  }
}

// --- the model -----------------------------------------------------------------------------------
const modelSizes = [...new Set([...sizes, ...oldSizes, 1000, 10000, 100000, 1000000])].sort((a, b) => a - b);
const model = modelSizes.map((n) => {
  const row = { n };
  const rows = listing[n];
  if (rows) {
    const def = rows.find((r) => r.case === DEFAULT_CASE);
    const slowest = rows.filter((r) => r.service).reduce((a, r) => (a && a.service.p50 >= r.service.p50 ? a : r), null);
    const t = def?.trips;
    const kv = t && Number.isFinite(t.kv) ? t.kv : null;
    const obj = t && typeof t.objectCalls === "number" ? t.objectCalls : null;
    row.new = {
      local: def?.service?.p50 ?? null,
      slowestLocal: slowest?.service?.p50 ?? null,
      slowestCase: slowest?.case,
      kv, objectCalls: obj,
    };
    if (row.new.local !== null && kv !== null && obj !== null) {
      row.new.modelled = row.new.local + KV_MS * kv + OBJECT_MS * obj;
      row.new.slowestModelled = row.new.slowestLocal + KV_MS * kv + OBJECT_MS * obj;
    }
  }
  const olds = oldRows.filter((r) => r.n === n && r.old);
  if (olds.length) {
    const lists = olds.map((r) => r.oldTrips?.lists).find((x) => typeof x === "number");
    row.old = { local: median(olds.map((r) => r.old.p50)), kv: lists ?? Math.ceil(n / 1000), counted: typeof lists === "number", measured: true };
  } else {
    // Not measured: local time extrapolated in proportion to N from the largest N measured.
    const measured = oldRows.filter((r) => r.old && r.n < n);
    if (measured.length) {
      const top = Math.max(...measured.map((r) => r.n));
      const topLocal = median(measured.filter((r) => r.n === top).map((r) => r.old.p50));
      row.old = { local: topLocal * (n / top), kv: Math.ceil(n / 1000), counted: false, measured: false, from: top };
    }
  }
  if (row.old && row.old.local !== null) row.old.modelled = row.old.local + KV_MS * row.old.kv;
  return row;
});

// --- ceiling -------------------------------------------------------------------------------------
const ceilingConns = [...new Set(runs.filter((r) => r.phase === "ceiling").map((r) => r.conns))].sort((a, b) => a - b);
const spreadCase = [...new Set(runs.filter((r) => r.phase === "ceiling" && r.case.startsWith("create-") && r.case !== "create-one-project").map((r) => r.case))][0];
const ceiling = ceilingConns.map((c) => ({
  conns: c,
  one: get("ceiling", "create-one-project", "service", 0, c),
  spread: spreadCase ? get("ceiling", spreadCase, "service", 0, c) : null,
  base: get("ceiling", "create-one-project", "baseline-f", 0, c),
}));
const best = (k) => ceiling.reduce((a, r) => (r[k] && (!a || r[k].rps > a[k].rps) ? r : a), null);
const bestOne = best("one");
const bestSpread = best("spread");
const bestBase = best("base");

// --- chart ---------------------------------------------------------------------------------------
function chart() {
  const W = 820, H = 440, L = 70, R = 250, T = 40, B = 56;
  const pw = W - L - R, ph = H - T - B;
  const pts = (f) => model.map((m) => [m.n, f(m)]).filter(([, y]) => y !== null && y !== undefined && y > 0);
  const series = [
    { name: "old design, modelled", color: "#c0392b", width: 2.5, points: pts((m) => (m.old?.measured ? m.old.modelled : null)) },
    { name: "old, extrapolated", color: "#c0392b", width: 2.5, dash: "7 5", points: pts((m) => m.old?.modelled ?? null), onlyTail: true },
    { name: "new, modelled (page 1)", color: "#1f6fb2", width: 2.5, points: pts((m) => m.new?.modelled ?? null) },
    { name: "new, modelled (slowest page)", color: "#1f6fb2", width: 1.5, dash: "3 3", points: pts((m) => m.new?.slowestModelled ?? null) },
    { name: "old, local only", color: "#e69a8f", width: 1.5, points: pts((m) => (m.old?.measured ? m.old.local : null)) },
    { name: "new, local only (page 1)", color: "#8fb8de", width: 1.5, points: pts((m) => m.new?.local ?? null) },
  ];
  // The dashed old line starts at the last measured point.
  const tail = series[1];
  const lastMeasured = series[0].points.at(-1);
  tail.points = lastMeasured ? [lastMeasured, ...tail.points.filter(([n]) => n > lastMeasured[0])] : [];
  if (tail.points.length < 2) tail.points = [];
  const all = series.flatMap((s) => s.points.map(([, y]) => y));
  const xMin = 1000, xMax = 1000000;
  const yMin = 10 ** Math.floor(Math.log10(Math.max(0.1, Math.min(...all)))), yMax = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const x = (n) => L + ((Math.log10(n) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * pw;
  const y = (v) => T + ph - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">\n`;
  svg += `<rect width="${W}" height="${H}" fill="#fff"/>\n`;
  svg += `<text x="${L}" y="22" font-size="14" font-weight="bold">Listing latency at the edge, modelled: local p50 + ${KV_MS} ms per KV call + ${OBJECT_MS} ms per object call</text>\n`;
  for (let e = Math.log10(yMin); e <= Math.log10(yMax); e++) {
    const v = 10 ** e;
    svg += `<line x1="${L}" x2="${L + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`;
    svg += `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>\n`;
  }
  for (const n of [1000, 10000, 100000, 1000000]) {
    svg += `<line x1="${x(n)}" x2="${x(n)}" y1="${T}" y2="${T + ph}" stroke="#ddd"/>`;
    svg += `<text x="${x(n)}" y="${T + ph + 18}" text-anchor="middle">${nfmt(n)}</text>\n`;
  }
  svg += `<text x="${L + pw / 2}" y="${H - 14}" text-anchor="middle">tokens in the project (N), log scale</text>\n`;
  svg += `<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>\n`;
  let ly = T + 8;
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([n, v], i) => `${i ? "L" : "M"}${x(n).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    svg += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>\n`;
    if (!s.onlyTail) for (const [n, v] of s.points) svg += `<circle cx="${x(n).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"/>`;
    svg += `\n<line x1="${L + pw + 12}" x2="${L + pw + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`;
    svg += `<text x="${L + pw + 46}" y="${ly + 4}">${esc(s.name)}</text>\n`;
    ly += 20;
  }
  svg += `<text x="${L + pw + 12}" y="${ly + 14}" font-size="11" fill="#555">Old: ⌈N/1000⌉ KV lists,</text>`;
  svg += `<text x="${L + pw + 12}" y="${ly + 28}" font-size="11" fill="#555">one after another.</text>`;
  svg += `<text x="${L + pw + 12}" y="${ly + 42}" font-size="11" fill="#555">New: one object call.</text>\n`;
  svg += `</svg>\n`;
  return svg;
}

// --- markdown ------------------------------------------------------------------------------------
const s = meta.settings;
let md = `# The project index: benchmark results\n\n`;
md += `Generated by \`${meta.command.trim()}\`; figures from a shared 2-core machine, so compare rows of the same run (each service run was made right next to the run it is compared with, the order alternating between repetitions), not runs of different days.\n\n`;
md += `| | |\n|---|---|\n`;
md += `| date | ${meta.date} (commit ${meta.commit}${meta.uncommitted.length ? `, with uncommitted changes to ${meta.uncommitted.join(", ")}` : ""}) |\n`;
md += `| old design | commit ${meta.old_commit} (the index as KV entries \`idx:{project}:…\`, a listing reads all of them) |\n`;
md += `| machine | ${meta.machine.nproc} cores (nproc), ${meta.machine.cpu}, ${meta.machine.memory_gib} GiB |\n`;
md += `| versions | rustc ${meta.versions.rustc}, worker crate ${meta.versions.worker}, wrangler ${meta.versions.wrangler}, ${meta.versions.workerd}, wrk ${meta.versions.wrk}, node ${meta.versions.node} |\n`;
md += `| serving | \`wrangler dev --ip 127.0.0.1 --log-level warn\`, local KV and object state on ${s.state_storage}, rate limits raised to ${nfmt(s.rate_limit)} per 60 s |\n`;
md += `| load | wrk, 1 thread; get, create, delete: 2 connections, ${s.duration_s} s per run, ${s.misc_rounds} rounds; listings: 1 connection, ${Object.entries(s.list_seconds).map(([n, t]) => `${t} s at N = ${nfmt(n)}`).join(", ")}; old design: ${Object.entries(s.old_seconds).map(([n, t]) => `${t} s at N = ${nfmt(n)}`).join(", ")}; listings and old design ${s.reps} repetition(s); creates per second ${s.ceiling_rounds} round(s) of ${s.ceiling_duration_s} s; medians quoted |\n`;
md += `| latency | as measured, one sample per answer: p50 and p99 of every answer of a case's runs together (wrk's histogram, with the coordinated-omission correction wrk applies before its script sees it undone: bench/lua/summary.lua); wrk's own corrected p99, which counts a stall as all the answers a client sending at the run's mean rate would have had queued behind it, is given beside the listings |\n`;
md += `| data | the service's index rows written by the core's \`SqlIndex\` into each object's SQLite file, token records by the core's \`TokenStore::save\`; the old design's KV entries by its own \`TokenStore::save\`; the same tokens for both (same generator and seed) |\n`;
md += `| load average (1/5/15 min) | ${marks.map((m) => `${m.at}: ${m.loadavg}`).join("; ")} |\n`;
md += `| wall time | ${Math.floor(meta.wall_time_s / 60)} min ${meta.wall_time_s % 60} s |\n`;
const restarts = events.filter((e) => e.event === "restart");
const skipped = events.filter((e) => e.event === "skipped");
md += `| servers started again | ${restarts.length ? restarts.map((e) => `${e.server} at ${Math.floor(e.t / 60)} min ${e.t % 60} s (${e.phase}, repetition ${e.rep}): it had stopped answering`).join("; ") : "none"} |\n`;
md += `| skipped for the time limit | ${skipped.length ? skipped.map((e) => e.what).join("; ") : "nothing"} |\n\n`;

md += `## Targets\n\n| target | met | measured |\n|---|---|---|\n`;
for (const t of targets) md += `| ${t.target} | ${t.met ? "yes" : "**no**"} | ${t.measured} |\n`;

md += `\n## Storage round trips per request\n\nCounted by the service itself (\`Server-Timing\`, var \`SERVER_TIMING=1\`) on single requests outside the timed runs; every one of them is made after the previous one has answered (the code awaits each in turn), so they add up on the critical path. The old design's are counted the same way on its own build.\n\n`;
md += `| request | new design | old design (${meta.old_commit}) |\n|---|---|---|\n`;
for (const c of ["get", "create", "delete"]) md += `| ${c} | ${tripText(misc[c].trips)} | ${tripText(misc[c].oldTrips)} |\n`;
for (const n of modelSizes) {
  const t = listing[n]?.find((r) => r.case === DEFAULT_CASE)?.trips;
  const o = oldRows.find((r) => r.n === n && r.oldTrips)?.oldTrips;
  if (!t && !o) continue;
  md += `| list, N = ${nfmt(n)} | ${tripText(t)} | ${o ? tripText(o) : `not run (⌈N/1000⌉ = ${nfmt(Math.ceil(n / 1000))} KV lists)`} |\n`;
}
const tripsAll = sizes.flatMap((n) => listing[n].map((r) => r.trips)).filter(Boolean);
const sameTrips = [...new Set(tripsAll.map(tripText))];
md += `\nEvery listing of the new design, at every N, page and order: ${sameTrips.join("; ")} (${tripsAll.length} cases probed).\n`;

md += `\n## get, create, delete next to their baselines\n\n2 connections. The ratio is the median over ${s.misc_rounds} rounds of the service's throughput over its baseline's, the two runs of a round made next to each other. CPU ms/req is the CPU time a target used during a run over the requests it answered: "runtime" is the workerd process that runs the Worker, its objects and the local KV (what the edge would run), "all" adds wrangler's Node process and proxy runtime, which only relay requests locally but do more work for some requests than for others. "Ratio from it" is the median of the baseline's over the service's, round by round: the throughput ratio that a machine with nothing else to do would approach if CPU were the only limit, a figure that moves much less than requests per second when other work shares the cores.\n\n`;
md += `| case | req/s | p50 ms | p99 ms | baseline | baseline req/s | baseline p50 ms | baseline p99 ms | ratio | rounds' ratios | CPU ms/req, runtime: service / baseline | ratio from it | CPU ms/req, all: service / baseline | ratio from it |\n|---|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|\n`;
for (const c of ["get", "create", "delete"]) {
  const m = misc[c];
  md += `| ${c} | ${fmt(m.service?.rps)} | ${fmt(m.service?.p50, 2)} | ${fmt(m.service?.p99, 2)} | (${m.letter}) ${m.what} | ${fmt(m.baseline?.rps)} | ${fmt(m.baseline?.p50, 2)} | ${fmt(m.baseline?.p99, 2)} | ${fmt(m.ratio, 2)} | ${m.ratios.length ? `${fmt(Math.min(...m.ratios), 2)}–${fmt(Math.max(...m.ratios), 2)}` : "–"} | ${fmt(m.service?.cpu, 2)} / ${fmt(m.baseline?.cpu, 2)} | ${fmt(m.cpuRatio, 2)} | ${fmt(m.service?.cpuAll, 2)} / ${fmt(m.baseline?.cpuAll, 2)} | ${fmt(m.cpuAllRatio, 2)} |\n`;
}
const plain = get("assets", "get", "service", 0, 2);
const withAssets = get("assets", "get", "service-assets", 0, 2);
const assetsRatio = pairedRatio(withAssets, plain);
if (plain && withAssets) {
  md += `\nThe service above is served without the console's static assets (as the baselines). With them, as \`wrangler.toml\` has it, the local runtime puts its asset router in front of every request: get ${fmt(withAssets.rps)} req/s (p50 ${fmt(withAssets.p50, 2)} ms) against ${fmt(plain.rps)} (p50 ${fmt(plain.p50, 2)} ms) without, a paired ratio of ${fmt(assetsRatio, 2)}; CPU time per request ${fmt(withAssets.cpu, 2)} ms against ${fmt(plain.cpu, 2)} (ratio from CPU ${fmt(cpuRatio(withAssets, plain), 2)}). At the edge that routing is the platform's, before the Worker runs.\n`;
}
if (misc.delete.service?.exhausted || misc.delete.baseline?.exhausted) md += `\nA delete run used up its slice of tokens before its time was over (its throughput is then that of a shorter run).\n`;

md += `\n## Listings\n\n1 connection (one object serves one request at a time: a second connection on the same project only waits behind the first, doubling the latency at the same throughput). Baseline (h) is one object call that runs the same \`COUNT(*)\` and \`LIMIT/OFFSET\` query over the same rows and answers them as JSON; the ratio is the service's throughput over (h)'s, paired. p50, p99: of every answer of the repetitions together, as measured (in brackets the highest single run's p99); wrk p99: wrk's corrected p99, the median of the repetitions'. CPU ms/req: of the runtime that runs the Worker and its objects.\n\n`;
for (const n of sizes) {
  md += `### N = ${nfmt(n)}\n\n| case | req/s | p50 ms | p99 ms | wrk p99 ms | CPU ms/req | (h) req/s | (h) p50 ms | (h) p99 ms | (h) wrk p99 ms | (h) CPU ms/req | ratio | ratio from CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
  for (const r of listing[n]) {
    md += `| ${caseLabel(r.case)} | ${fmt(r.service?.rps)} | ${fmt(r.service?.p50, 2)} | ${fmt(r.service?.p99, 2)} (${fmt(r.service?.p99Worst, 1)}) | ${fmt(r.service?.p99c, 1)} | ${fmt(r.service?.cpu, 2)} | ${fmt(r.baseline?.rps)} | ${fmt(r.baseline?.p50, 2)} | ${fmt(r.baseline?.p99, 2)} | ${fmt(r.baseline?.p99c, 1)} | ${fmt(r.baseline?.cpu, 2)} | ${fmt(r.ratio, 2)} | ${fmt(r.cpuRatio, 2)} |\n`;
  }
  const ok = listing[n].filter((r) => r.service && r.service.p50 !== null);
  if (!ok.length) {
    md += `\nNo run at this N.\n\n`;
    continue;
  }
  md += `\nRange: p50 ${fmt(Math.min(...ok.map((r) => r.service.p50)), 2)}–${fmt(Math.max(...ok.map((r) => r.service.p50)), 2)} ms, p99 ${fmt(Math.min(...ok.map((r) => r.service.p99)), 2)}–${fmt(Math.max(...ok.map((r) => r.service.p99)), 2)} ms, ${fmt(Math.min(...ok.map((r) => r.service.rps)))}–${fmt(Math.max(...ok.map((r) => r.service.rps)))} req/s; ratio to (h) ${fmt(Math.min(...ok.map((r) => r.ratio ?? Infinity)), 2)}–${fmt(Math.max(...ok.map((r) => r.ratio ?? 0)), 2)}, median ${fmt(median(ok.map((r) => r.ratio)), 2)}; from CPU time, median ${fmt(median(ok.map((r) => r.cpuRatio)), 2)}.\n\n`;
}

const directRows = listCases
  .map((c) => ({ case: c, proxy: get("direct", c, "service", 100000, 1), runtime: get("direct", c, "service-runtime", 100000, 1) }))
  .filter((r) => r.proxy && r.runtime && r.proxy.p50 !== null && r.runtime.p50 !== null);
if (directRows.length) {
  const span = (rows, f, d = 1) => `${fmt(Math.min(...rows.map(f)), d)}–${fmt(Math.max(...rows.map(f)), d)}`;
  md += `### N = 100,000 without wrangler's dev proxy\n\n\`wrangler dev\` answers on its port through a proxy: a second local runtime that forwards each request to the one that runs the Worker, which the edge does not have. Each listing once more through it and once straight to the socket of the Worker's runtime, the two runs next to each other (1 connection, ${s.list_seconds["100000"] ?? "–"} s each; latencies as measured). CPU ms/req: of the Worker's runtime.\n\n| case | through the proxy: req/s | p50 ms | p99 ms | CPU ms/req | runtime's socket: req/s | p50 ms | p99 ms | CPU ms/req |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
  for (const r of directRows) {
    md += `| ${caseLabel(r.case)} | ${fmt(r.proxy.rps)} | ${fmt(r.proxy.p50, 2)} | ${fmt(r.proxy.p99, 1)} | ${fmt(r.proxy.cpu, 2)} | ${fmt(r.runtime.rps)} | ${fmt(r.runtime.p50, 2)} | ${fmt(r.runtime.p99, 1)} | ${fmt(r.runtime.cpu, 2)} |\n`;
  }
  md += `\nThrough the proxy: p50 ${span(directRows, (r) => r.proxy.p50, 2)} ms, p99 ${span(directRows, (r) => r.proxy.p99)} ms; straight to the runtime: p50 ${span(directRows, (r) => r.runtime.p50, 2)} ms, p99 ${span(directRows, (r) => r.runtime.p99)} ms.\n\n`;
}

md += `## The old design beside it\n\nThe build of ${meta.old_commit} on the old KV layout (records and index entries written by its own seeding tool, the same tokens), 1 connection, each run next to the same listing of the new design. "Speed-up" is the median over repetitions of new req/s over old req/s.\n\n`;
md += `| N | case | old req/s | old p50 ms | old p99 ms | old CPU ms/req | old KV lists | new req/s | new p50 ms | new p99 ms | new CPU ms/req | speed-up |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
for (const r of oldRows) {
  md += `| ${nfmt(r.n)} | ${caseLabel(r.case)} | ${fmt(r.old?.rps, 2)} | ${fmt(r.old?.p50)} | ${fmt(r.old?.p99)} | ${fmt(r.old?.cpu, 1)} | ${r.oldTrips?.lists ?? "–"} | ${fmt(r.service?.rps)} | ${fmt(r.service?.p50, 2)} | ${fmt(r.service?.p99, 2)} | ${fmt(r.service?.cpu, 2)} | ${fmt(r.speedup, r.speedup !== null && r.speedup < 10 ? 1 : 0)}x |\n`;
}

md += `\n## Latency at the edge, modelled\n\nLocally every storage call is a call into the same process; at the edge each is a network round trip. Modelled time = measured local p50 + ${KV_MS} ms per KV call + ${OBJECT_MS} ms per object call, with the calls counted above (all sequential). Old: ⌈N/1000⌉ KV \`list\` calls, one after another (each needs the previous one's cursor); new: one object call. The old design is not run at N above ${nfmt(Math.max(...oldSizes))}: its local time there is extrapolated in proportion to N (marked *), and its list calls are ⌈N/1000⌉ by construction. At 1,000,000 tokens the old design needs 1,000 KV calls in one request, the platform's limit per invocation: one more token and it fails.\n\n`;
md += `| N | old: local p50 ms | old: KV lists | old: modelled ms | new: local p50 ms (page 1) | new: calls | new: modelled ms (page 1) | new: modelled ms (slowest page) | old / new |\n|---:|---:|---:|---:|---:|---|---:|---:|---:|\n`;
for (const m of model) {
  const star = m.old && !m.old.measured ? "*" : "";
  const ratio = m.old?.modelled && m.new?.modelled ? m.old.modelled / m.new.modelled : null;
  md += `| ${nfmt(m.n)} | ${m.old ? `${int(m.old.local)}${star}` : "–"} | ${m.old ? nfmt(m.old.kv) : "–"} | ${m.old ? `${int(m.old.modelled)}${star}` : "–"} | ${fmt(m.new?.local, 1)} | ${m.new ? `${m.new.kv} KV + ${m.new.objectCalls} object` : "–"} | ${fmt(m.new?.modelled, 0)} | ${fmt(m.new?.slowestModelled, 0)} | ${ratio ? `${fmt(ratio, ratio < 10 ? 1 : 0)}x` : "–"} |\n`;
}
md += `\nThe other requests, network part only (same model): get ${KV_MS * (misc.get.trips?.kv ?? 0) + OBJECT_MS * (misc.get.trips?.objectCalls ?? 0)} ms new, ${KV_MS * (misc.get.oldTrips?.kv ?? 0)} ms old; create ${KV_MS * (misc.create.trips?.kv ?? 0) + OBJECT_MS * (misc.create.trips?.objectCalls ?? 0)} ms new, ${KV_MS * (misc.create.oldTrips?.kv ?? 0)} ms old; delete ${KV_MS * (misc.delete.trips?.kv ?? 0) + OBJECT_MS * (misc.delete.trips?.objectCalls ?? 0)} ms new, ${KV_MS * (misc.delete.oldTrips?.kv ?? 0)} ms old. The rate limiter's call (made alongside) is not counted.\n\n`;
md += `![modelled listing latency against N, old design and new](index-chart.svg)\n`;

md += `\n## Creates per second on one project's object\n\nLoad of creates only, ${s.ceiling_rounds} round(s) of ${s.ceiling_duration_s} s per run (medians), at several connections: on one project (every create goes to the same object), spread over ${s.spread_projects} projects in turn (${s.spread_projects} objects), and baseline (f) (one KV put + one insert, one object). All of it runs in one local runtime on 2 cores, so this is the local ceiling of the whole path; the real edge runs each object on its own machine.\n\n`;
md += `| connections | one project req/s | p50 ms | p99 ms | CPU ms/req | ${s.spread_projects} projects req/s | p50 ms | p99 ms | CPU ms/req | baseline (f) req/s | p50 ms | p99 ms | CPU ms/req |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
for (const r of ceiling) {
  md += `| ${r.conns} | ${fmt(r.one?.rps)} | ${fmt(r.one?.p50, 1)} | ${fmt(r.one?.p99, 1)} | ${fmt(r.one?.cpu, 2)} | ${fmt(r.spread?.rps)} | ${fmt(r.spread?.p50, 1)} | ${fmt(r.spread?.p99, 1)} | ${fmt(r.spread?.cpu, 2)} | ${fmt(r.base?.rps)} | ${fmt(r.base?.p50, 1)} | ${fmt(r.base?.p99, 1)} | ${fmt(r.base?.cpu, 2)} |\n`;
}
if (ceiling.length) md += `\nHighest: one project ${fmt(bestOne?.one?.rps)} creates/s (${bestOne?.conns} connections), ${s.spread_projects} projects ${fmt(bestSpread?.spread?.rps)} (${bestSpread?.conns}), baseline (f) ${fmt(bestBase?.base?.rps)} (${bestBase?.conns}).\n`;

writeFileSync(join(out, "index-results.md"), md);
writeFileSync(join(out, "index-chart.svg"), chart());
const strip = (g) => g && { rps: round(g.rps, 2), cpuMsPerRequest: round(g.cpu, 3), cpuMsPerRequestAll: round(g.cpuAll, 3), p50: round(g.p50, 3), p99: round(g.p99, 3), p99Worst: round(g.p99Worst, 3), p99Corrected: round(g.p99c, 3), p99CorrectedWorst: round(g.p99cWorst, 3), requests: g.requests, unexpected: g.unexpected, reps: g.reps.map(({ hist, ...r }) => r) };
writeFileSync(join(out, "index-results.json"), JSON.stringify({
  meta,
  model: { kvMs: KV_MS, objectMs: OBJECT_MS, rows: model },
  targets,
  misc: Object.fromEntries(Object.entries(misc).map(([c, m]) => [c, { service: strip(m.service), baseline: strip(m.baseline), baselineLetter: m.letter, ratio: round(m.ratio, 3), ratios: m.ratios.map((r) => round(r, 3)), cpuRatio: round(m.cpuRatio, 3), cpuAllRatio: round(m.cpuAllRatio, 3), trips: m.trips, oldTrips: m.oldTrips }])),
  listing: Object.fromEntries(Object.entries(listing).map(([n, rows]) => [n, rows.map((r) => ({ case: r.case, service: strip(r.service), baselineH: strip(r.baseline), ratio: round(r.ratio, 3), cpuRatio: round(r.cpuRatio, 3), trips: r.trips }))])),
  old: oldRows.map((r) => ({ n: r.n, case: r.case, old: strip(r.old), service: strip(r.service), speedup: round(r.speedup, 2), oldTrips: r.oldTrips })),
  ceiling: ceiling.map((r) => ({ conns: r.conns, oneProject: strip(r.one), spread: strip(r.spread), baselineF: strip(r.base) })),
  withoutDevProxy: directRows.map((r) => ({ n: 100000, case: r.case, throughProxy: strip(r.proxy), runtimeSocket: strip(r.runtime) })),
  assets: { get: strip(plain), getWithAssets: strip(withAssets), ratio: round(assetsRatio, 3), cpuRatio: round(cpuRatio(withAssets, plain), 3) },
  loadavg: marks,
  events,
}, null, 1));
console.log(`wrote ${join(out, "index-results.md")}, index-results.json, index-chart.svg`);
for (const t of targets) console.log(`${t.met ? "met    " : "NOT MET"} ${t.target}: ${t.measured}`);
