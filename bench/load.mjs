// bench/load.mjs: a bounded load test of the service under `wrangler dev`, and a check of what it
// left behind. Not part of the test suite. Usually run through bench/load.sh.
//
// Usage:
//   node bench/load.mjs           200 clients for 60 s; writes docs/bench/load-results.md and
//                                 docs/bench/load-results.json
//   node bench/load.mjs --quick   20 clients for 10 s; writes bench/out/load-quick/ (a check of
//                                 the script, not figures to quote)
//
// Options (they override the above, so `--quick --clients 50` works):
//   --clients C          concurrent clients (default 200)
//   --seconds S          how long clients start new actions (default 60); an upload under way
//                        at the end is finished
//   --max-requests N     clients stop starting new actions after N requests (default 1,000,000)
//   --projects P         projects, each with its own API key; the first is the development
//                        project `dev` with its key (default 1)
//   --timeout S          per-request time limit; a request that takes longer is an error,
//                        reported with what it was (default 120)
//   --max-uploads U      uploads under way at once, at most (default 32): bounds the memory
//                        of this process; a client finding none free does something else
//   --proxy-retries R    times a request dropped by wrangler's dev proxy (a 503 without the
//                        service's X-Request-Id, or a reset connection) is sent again
//                        (default 5; 0 counts every one as an error)
//   --seed N             seed of the clients' choices (file contents are random regardless)
//   --out DIR            where load-results.{md,json} go
//   --build / --no-build build the release Worker first / use build/ as it is (default: build
//                        when build/ is missing or older than the Rust sources)
//   --keep               keep the temporary directory (state and the server's log)
//   --max-minutes M      hard limit: the run kills its server and stops after M minutes
//                        (default: the load time plus 15 minutes)
//
// What it does: serves a copy of build/ with `wrangler dev --ip 127.0.0.1` on a free port, with
// a fresh --persist-to directory under the system's temporary directory (never .wrangler/), the
// development key (dev.vars.example) passed as --var, and the rate limits raised far above
// what the machine reaches (bench/lib/config.py). Each client loops over a weighted mix:
// create a token (ttl 0 or 1 to 24 hours), get one of its own, list a page (both sort keys,
// both orders, pageSize 25 or 100, sometimes every page in turn), delete one of its own, and
// upload a file through `POST /upload?token=` (whole, `part n/N`, `part n/*` then `part n/n`,
// or `bytes a-b/total`; non-last chunks of 5 MiB and a bit, the service's minimum, and a last
// chunk of 100 KiB to 1.2 MiB), keeping the SHA-256 of every file it sends. Every request is
// counted by kind and status; an error is a 5xx, a network failure, a request over --timeout,
// an unexpected status or a page out of order. Afterwards: every project's listing, walked
// page by page in two orders, must be exactly the tokens created and not deleted (as sets, and
// itemsTotal), and every finished upload's source (GET /videos/{id}, then its source.uri) must
// have the SHA-256 that was sent. The exit status is 0 only when there was no error and no
// mismatch. Only 127.0.0.1 is ever addressed; the server is stopped at the end, on an error,
// on Ctrl-C and at --max-minutes.
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { basic } from "../scripts/lib/http.mjs";

const bench = dirname(fileURLToPath(import.meta.url));
const root = dirname(bench);
const MiB = 1024 * 1024;
const MIN_CHUNK = 5 * MiB; // the service's smallest chunk other than the last

// --- options -------------------------------------------------------------------------------------
const opts = {
  clients: 200, seconds: 60, maxRequests: 1_000_000, projects: 1, timeout: 120, maxUploads: 32,
  proxyRetries: 5, seed: 1, out: join(root, "docs/bench"), build: "auto", keep: false, maxMinutes: null,
};
const argv = process.argv.slice(2);
if (argv.includes("--quick")) Object.assign(opts, { clients: 20, seconds: 10, out: join(root, "bench/out/load-quick") });
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const num = () => {
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v < 0 || (v === 0 && a !== "--max-uploads" && a !== "--proxy-retries")) usage(`${a} needs a positive number`);
    return v;
  };
  switch (a) {
    case "--quick": break;
    case "--clients": opts.clients = Math.floor(num()); break;
    case "--seconds": opts.seconds = num(); break;
    case "--max-requests": opts.maxRequests = Math.floor(num()); break;
    case "--projects": opts.projects = Math.floor(num()); break;
    case "--timeout": opts.timeout = num(); break;
    case "--max-uploads": opts.maxUploads = Math.floor(num()); break;
    case "--proxy-retries": opts.proxyRetries = Math.floor(num()); break;
    case "--seed": opts.seed = Math.floor(num()); break;
    case "--out": opts.out = argv[++i]; break;
    case "--build": opts.build = "yes"; break;
    case "--no-build": opts.build = "no"; break;
    case "--keep": opts.keep = true; break;
    case "--max-minutes": opts.maxMinutes = num(); break;
    case "-h": case "--help": {
      const text = readFileSync(fileURLToPath(import.meta.url), "utf8").split("\nimport ")[0];
      console.log(text.replace(/^\/\/ ?/gm, ""));
      process.exit(0);
    }
    default: usage(`unknown option ${a}`);
  }
}
opts.maxMinutes ??= opts.seconds / 60 + 15;
function usage(msg) {
  console.error(`load: ${msg} (see --help)`);
  process.exit(2);
}

const t0 = Date.now();
const say = (msg) => console.error(`[load ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

// --- the server, and stopping it whatever happens ------------------------------------------------
let server = null; // { child, pgid, base, log }
let work = null;

function killServer(signal = "SIGKILL") {
  if (server && server.child.exitCode === null && server.child.signalCode === null) {
    try { process.kill(-server.pgid, signal); } catch {}
  }
}
async function stopServer() {
  if (!server) return;
  const { child } = server;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    killServer("SIGINT");
    const timer = setTimeout(() => killServer("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
  // Whatever of its group is left (workerd is a child of wrangler's).
  try { process.kill(-server.pgid, "SIGKILL"); } catch {}
}
function cleanupWork() {
  if (work && !opts.keep) rmSync(work, { recursive: true, force: true });
}
process.on("exit", () => { killServer("SIGKILL"); });
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    say(`${sig}: stopping the server`);
    killServer("SIGKILL");
    cleanupWork();
    process.exit(130);
  });
}
const watchdog = setTimeout(() => {
  say(`hard limit of ${opts.maxMinutes} minutes reached: killing the server and stopping`);
  if (server) say(`server log tail:\n${tailOf(server.log, 40)}`);
  killServer("SIGKILL");
  cleanupWork();
  process.exit(3);
}, opts.maxMinutes * 60_000);
watchdog.unref();

function tailOf(file, lines) {
  try { return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n"); } catch { return "(no log)"; }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, e)));
  return newest;
}

function ensureBuild() {
  const wasm = join(root, "build/index_bg.wasm");
  const sources = ["src", "core/src", "Cargo.toml", "Cargo.lock", "core/Cargo.toml", "package-lock.json"];
  const stale = !existsSync(join(root, "build/index.js")) ||
    Math.max(...sources.map((s) => newestMtime(join(root, s)))) > newestMtime(wasm);
  if (opts.build === "yes" || (opts.build === "auto" && stale)) {
    say("building the release Worker (scripts/build.sh)");
    execFileSync(join(root, "scripts/build.sh"), { cwd: root, stdio: ["ignore", 2, 2] });
  } else if (!existsSync(join(root, "build/index.js"))) {
    throw new Error("build/index.js is missing: drop --no-build");
  } else {
    say(`using build/ as it is${stale ? " (older than the sources)" : ""}`);
  }
}

/** The development key and signing key of dev.vars.example. */
function devVars() {
  const text = readFileSync(join(root, "dev.vars.example"), "utf8");
  const value = (name) => {
    const m = new RegExp(`^${name}="?([^"\\n]*)"?`, "m").exec(text);
    if (!m) throw new Error(`dev.vars.example has no ${name}`);
    return m[1];
  };
  const [project, key] = value("API_KEYS").split(",")[0].split(/:(.*)/s);
  return { project, key, signing: value("AUTH_SIGNING_KEY") };
}

async function startServer(projects, signing) {
  work = mkdtempSync(join(tmpdir(), "uts-load-"));
  cpSync(join(root, "build"), join(work, "service"), { recursive: true });
  const config = join(work, "service.json");
  execFileSync("python3", [join(bench, "lib/config.py"), "service", config, root, join(work, "service/index.js"), "1000000"]);
  const state = join(work, "state");
  mkdirSync(state);
  const [port, inspector] = [await freePort(), await freePort()];
  const log = join(work, "server.log");
  const apiKeys = projects.map((p) => `${p.id}:${p.key}`).join(",");
  const args = [
    "dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
    "--persist-to", state, "--local-protocol", "http", "--show-interactive-dev-session=false",
    "--log-level", process.env.LOAD_SERVER_LOG_LEVEL ?? "warn", "--var", `API_KEYS:${apiKeys}`, "--var", `AUTH_SIGNING_KEY:${signing}`,
  ];
  const fd = openSync(log, "a");
  // CLOUDFLARE_CF_FETCH_ENABLED=false: the runtime does not fetch its `Request.cf` object from
  // the internet (a placeholder is used), which fails where there is no DNS.
  const child = spawn(join(root, "node_modules/.bin/wrangler"), args, {
    cwd: work,
    env: { ...process.env, SKIP_WORKER_BUILD: "1", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    stdio: ["ignore", fd, fd],
    detached: true, // a process group of its own, which is what is stopped
  });
  server = { child, pgid: child.pid, base: `http://127.0.0.1:${port}`, log, state };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`wrangler dev exited:\n${tailOf(log, 40)}`);
    try {
      const res = await fetch(`${server.base}/upload-tokens?pageSize=1`, {
        headers: { Authorization: basic(projects[0].key) }, signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`wrangler dev did not answer in 120 s:\n${tailOf(log, 40)}`);
    await sleep(250);
  }
  return server;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds used so far by the processes of group `pgid` (wrangler and its workerd). */
function groupCpuSeconds(pgid) {
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid) continue; // field 5: pgrp
      total += (Number(fields[11]) + Number(fields[12])) / tick; // utime, stime
    } catch {}
  }
  return total;
}

// --- counting ------------------------------------------------------------------------------------
const stats = new Map(); // kind -> { n, statuses: Map, ms: [] }
const errors = []; // { kind, what, status?, detail, ms }
let requests = 0;

function record(kind, status, ms) {
  let s = stats.get(kind);
  if (!s) stats.set(kind, (s = { n: 0, statuses: new Map(), ms: [] }));
  s.n++;
  s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
  s.ms.push(ms);
}
function fail(kind, what, detail, extra = {}) {
  errors.push({ kind, what, detail, at: +((Date.now() - t0) / 1000).toFixed(1), ...extra });
  if (errors.length <= 20) say(`ERROR ${kind} ${what}: ${detail}`);
}

/**
 * One request, timed and counted under `kind`. Answers { status, json, bytes } or null when it
 * failed (network, timeout, 5xx or a status other than `expect`), which is recorded as an error
 * naming `what`.
 *
 * wrangler's dev proxy, in front of the runtime, sometimes loses its connection to the runtime
 * (an idle keep-alive connection closed by one side as the other writes a request on it) and
 * answers 503 "Your worker restarted mid-request" itself, or resets the client's connection.
 * Such an answer never comes from the Worker: every answer of the service carries an
 * X-Request-Id. Those are sent again (the proxy asks for it), up to `opts.proxyRetries` times,
 * and counted apart. Should a dropped request have reached the Worker after all, the checks
 * see it: a create twice is a token in the listing that no client created, a delete twice
 * answers 404 (`retried404`, then counted and accepted as done).
 */
async function call(kind, what, method, path, { auth, body, headers = {}, expect = 200, raw = false, retried404 } = {}) {
  const h = { ...headers };
  if (auth) h.Authorization = auth;
  let dropped = 0;
  for (;;) {
    requests++;
    const started = performance.now();
    let res, bytes;
    try {
      res = await fetch(server.base + path, { method, headers: h, body, signal: AbortSignal.timeout(opts.timeout * 1000) });
      bytes = Buffer.from(await res.arrayBuffer());
    } catch (e) {
      const ms = performance.now() - started;
      const timedOut = e?.name === "TimeoutError";
      const code = e?.cause?.code ?? e?.message ?? String(e);
      if (!timedOut && /ECONNRESET|other side closed|socket hang up/i.test(String(code)) && dropped < opts.proxyRetries) {
        dropped++;
        proxyDrops.set(kind, (proxyDrops.get(kind) ?? 0) + 1);
        record(kind, "reset by the dev proxy, sent again", ms);
        continue;
      }
      record(kind, timedOut ? "timeout" : "network", ms);
      fail(kind, what, timedOut ? `no answer in ${opts.timeout} s` : `network error: ${code}`, { ms: Math.round(ms), timeout: timedOut });
      return null;
    }
    const ms = performance.now() - started;
    const fromProxy = res.status === 503 && !res.headers.has("x-request-id") &&
      bytes.toString("utf8").startsWith("Your worker restarted mid-request");
    if (fromProxy && dropped < opts.proxyRetries) {
      dropped++;
      proxyDrops.set(kind, (proxyDrops.get(kind) ?? 0) + 1);
      record(kind, "503 by the dev proxy, sent again", ms);
      continue;
    }
    record(kind, res.status, ms);
    if (dropped > 0 && res.status === 404 && retried404) {
      retried404();
      return { status: res.status, json: undefined };
    }
    if (res.status !== expect) {
      fail(kind, what, `status ${res.status} (expected ${expect}): ${bytes.toString("utf8").slice(0, 300)}`, { status: res.status, ms: Math.round(ms), proxy: fromProxy });
      return null;
    }
    if (raw) return { status: res.status, bytes };
    let json;
    try { json = bytes.length ? JSON.parse(bytes.toString("utf8")) : undefined; } catch {
      fail(kind, what, `answer is not JSON: ${bytes.toString("utf8").slice(0, 200)}`);
      return null;
    }
    return { status: res.status, json };
  }
}
/** Requests the dev proxy dropped and that were sent again, by kind. */
const proxyDrops = new Map();
/** Deletes whose first attempt the proxy answered 503, but which reached the Worker. */
let deletesDoneBeforeDrop = 0;

// --- the model of what should exist --------------------------------------------------------------
/** Per project: tokens created and not deleted; uncertain ones (a failed create or delete). */
function newModel(p) {
  return { ...p, auth: basic(p.key), live: new Map(), deleted: 0, uncertain: new Set() };
}
const videos = []; // { project, videoId, sha256, size, mode, chunks }

// A small seeded generator for the clients' choices (mulberry32).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- what a client does --------------------------------------------------------------------------
const ACTIONS = [
  ["create", 30], ["get", 10], ["list", 27], ["walk", 2], ["delete", 18], ["upload", 13],
];
const WEIGHT = ACTIONS.reduce((s, [, w]) => s + w, 0);
let uploadsUnderWay = 0;
let stopAt = 0;
const activity = { started: 0 }; // actions started

const SORTS = [["createdAt", "asc"], ["createdAt", "desc"], ["ttl", "asc"], ["ttl", "desc"]];

/** The tuple a listing sorts by, for checking a page's order. */
function sortKey(t, by) {
  const expires = t.expiresAt ?? "\uffff"; // never-expiring tokens sort as the longest-lived
  return by === "ttl" ? [expires, t.createdAt, t.token] : [t.createdAt, t.token];
}
function cmp(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}
function checkPage(kind, what, page, by, order, pageSize) {
  if (!Array.isArray(page?.data) || !page.pagination) {
    fail(kind, what, "the answer has no data or pagination");
    return false;
  }
  if (page.data.length > pageSize) fail(kind, what, `${page.data.length} items on a page of ${pageSize}`);
  for (let i = 1; i < page.data.length; i++) {
    const c = cmp(sortKey(page.data[i - 1], by), sortKey(page.data[i], by));
    if ((order === "asc" && c >= 0) || (order === "desc" && c <= 0)) {
      fail(kind, what, `items ${i - 1} and ${i} out of ${by} ${order} order`);
      return false;
    }
  }
  return true;
}

async function createToken(c, p) {
  const withTtl = c.rand() < 0.6;
  const ttl = withTtl ? 3600 + Math.floor(c.rand() * 82800) : 0;
  const body = withTtl ? JSON.stringify({ ttl }) : c.rand() < 0.5 ? "{}" : undefined;
  const headers = body === undefined ? {} : { "Content-Type": "application/json" };
  const r = await call("create", `POST /upload-tokens ${body ?? "(no body)"}`, "POST", "/upload-tokens", { auth: p.auth, body, headers });
  if (!r) {
    p.uncertain.add(`create ${c.id}`);
    return null;
  }
  const t = r.json?.token;
  if (typeof t !== "string" || r.json.ttl !== ttl) {
    fail("create", "POST /upload-tokens", `unexpected answer ${JSON.stringify(r.json).slice(0, 200)}`);
    return null;
  }
  p.live.set(t, { ttl, owner: c.id });
  c.tokens.push({ token: t, project: p });
  return t;
}

async function getToken(c) {
  const own = c.tokens[Math.floor(c.rand() * c.tokens.length)];
  if (!own) return createToken(c, c.pick());
  const r = await call("get", "GET /upload-tokens/{token}", "GET", `/upload-tokens/${own.token}`, { auth: own.project.auth });
  if (r && r.json?.token !== own.token) fail("get", "GET /upload-tokens/{token}", "another token in the answer");
}

async function listPage(c, walk) {
  const p = c.pick();
  const [by, order] = SORTS[Math.floor(c.rand() * SORTS.length)];
  const pageSize = c.rand() < 0.5 ? 25 : 100;
  const q = (page) => `/upload-tokens?sortBy=${by}&sortOrder=${order}&currentPage=${page}&pageSize=${pageSize}`;
  if (!walk) {
    const pages = Math.max(1, Math.ceil(p.live.size / pageSize));
    const page = 1 + Math.floor(c.rand() * pages);
    const r = await call("list", `GET ${q(page)}`, "GET", q(page), { auth: p.auth });
    if (r) checkPage("list", `GET ${q(page)}`, r.json, by, order, pageSize);
    return;
  }
  for (let page = 1; page <= 10_000; page++) {
    const r = await call("list", `GET ${q(page)} (walk)`, "GET", q(page), { auth: p.auth });
    if (!r || !checkPage("list", `GET ${q(page)} (walk)`, r.json, by, order, pageSize)) return;
    if (page >= r.json.pagination.pagesTotal) return;
  }
}

async function deleteToken(c) {
  if (c.tokens.length === 0) return createToken(c, c.pick());
  const i = Math.floor(c.rand() * c.tokens.length);
  const [{ token, project: p }] = c.tokens.splice(i, 1);
  const r = await call("delete", "DELETE /upload-tokens/{token}", "DELETE", `/upload-tokens/${token}`, {
    auth: p.auth, expect: 204, retried404: () => deletesDoneBeforeDrop++,
  });
  if (r) {
    p.live.delete(token);
    p.deleted++;
  } else {
    p.uncertain.add(token);
  }
}

async function upload(c) {
  if (uploadsUnderWay >= opts.maxUploads) return listPage(c, false);
  uploadsUnderWay++;
  try {
    let own = c.tokens[Math.floor(c.rand() * c.tokens.length)];
    if (!own) {
      const p = c.pick();
      const t = await createToken(c, p);
      if (!t) return;
      own = { token: t, project: p };
    }
    const roll = c.rand();
    const mode = roll < 0.2 ? "whole" : roll < 0.3 ? "part-1/1" : roll < 0.6 ? "part" : roll < 0.75 ? "progressive" : "bytes";
    const tail = 100 * 1024 + Math.floor(c.rand() * 1.1 * MiB);
    const count = mode === "whole" || mode === "part-1/1" ? 1 : c.rand() < 0.8 ? 2 : 3;
    const nonLast = Array.from({ length: count - 1 }, () => MIN_CHUNK + Math.floor(c.rand() * 64) * 4096);
    const size = nonLast.reduce((s, n) => s + n, 0) + tail;
    const data = randomBytes(size);
    const sha256 = createHash("sha256").update(data).digest("hex");
    const filename = `load-${c.id}-${c.uploads++}-${randomBytes(3).toString("hex")}.mp4`;
    const withIds = c.rand() < 0.5; // later chunks with videoId, or without (like the Node client)
    let videoId;
    let from = 0;
    for (let k = 1; k <= count; k++) {
      const len = k < count ? nonLast[k - 1] : tail;
      const chunk = data.subarray(from, from + len);
      const headers = {};
      if (mode === "part" || mode === "part-1/1") headers["Content-Range"] = `part ${k}/${count}`;
      if (mode === "progressive") headers["Content-Range"] = k < count ? `part ${k}/*` : `part ${k}/${k}`;
      if (mode === "bytes") headers["Content-Range"] = `bytes ${from}-${from + len - 1}/${size}`;
      from += len;
      const form = new FormData();
      if (videoId && (withIds || mode === "progressive" || mode === "bytes")) form.append("videoId", videoId);
      form.append("file", new Blob([chunk], { type: "video/mp4" }), filename);
      const kind = mode === "whole" || mode === "part-1/1" ? "upload-whole" : k < count ? "upload-chunk" : "upload-last";
      const what = `POST /upload (${mode}, ${headers["Content-Range"] ?? "no Content-Range"}, ${len} B of ${size}, ${filename})`;
      const r = await call(kind, what, "POST", `/upload?token=${own.token}`, { body: form, headers, expect: 201 });
      if (!r) return;
      if (typeof r.json?.videoId !== "string" || (videoId && r.json.videoId !== videoId)) {
        fail(kind, what, `unexpected videoId ${r.json?.videoId} (upload's ${videoId})`);
        return;
      }
      videoId = r.json.videoId;
    }
    videos.push({ project: own.project, videoId, sha256, size, mode, chunks: count, filename });
  } finally {
    uploadsUnderWay--;
  }
}

async function client(id, projects) {
  const c = {
    id, tokens: [], uploads: 0, rand: rng(opts.seed * 1_000_003 + id),
    pick: () => projects[Math.floor(c.rand() * projects.length)],
  };
  // Start spread over the first second, as real clients would.
  await sleep(c.rand() * 1000);
  while (Date.now() < stopAt && requests < opts.maxRequests) {
    activity.started++;
    let x = c.rand() * WEIGHT;
    let action = ACTIONS[ACTIONS.length - 1][0];
    for (const [name, w] of ACTIONS) {
      if ((x -= w) < 0) { action = name; break; }
    }
    switch (action) {
      case "create": await createToken(c, c.pick()); break;
      case "get": await getToken(c); break;
      case "list": await listPage(c, false); break;
      case "walk": await listPage(c, true); break;
      case "delete": await deleteToken(c); break;
      case "upload": await upload(c); break;
    }
  }
}

// --- checks afterwards ---------------------------------------------------------------------------
async function walkAll(p, by, order) {
  const seen = [];
  let itemsTotal = null;
  for (let page = 1; page <= 100_000; page++) {
    const path = `/upload-tokens?sortBy=${by}&sortOrder=${order}&currentPage=${page}&pageSize=100`;
    const r = await call("check-list", `GET ${path}`, "GET", path, { auth: p.auth });
    if (!r || !checkPage("check-list", `GET ${path}`, r.json, by, order, 100)) return null;
    itemsTotal ??= r.json.pagination.itemsTotal;
    if (r.json.pagination.itemsTotal !== itemsTotal) fail("check-list", path, "itemsTotal changed during the walk");
    seen.push(...r.json.data.map((t) => t.token));
    if (page >= r.json.pagination.pagesTotal) break;
  }
  return { seen, itemsTotal };
}

async function checkListing(p) {
  const out = { project: p.id, expected: p.live.size, deleted: p.deleted, uncertain: p.uncertain.size, walks: [] };
  for (const [by, order] of [["createdAt", "asc"], ["ttl", "desc"]]) {
    const w = await walkAll(p, by, order);
    if (!w) { out.walks.push({ by, order, ok: false }); continue; }
    const set = new Set(w.seen);
    const missing = [...p.live.keys()].filter((t) => !set.has(t));
    const extra = [...set].filter((t) => !p.live.has(t));
    const dupes = w.seen.length - set.size;
    const ok = missing.length === 0 && extra.length === 0 && dupes === 0 && w.itemsTotal === p.live.size;
    out.walks.push({ by, order, listed: w.seen.length, itemsTotal: w.itemsTotal, missing: missing.length, extra: extra.length, duplicates: dupes, ok });
    if (!ok) {
      fail("check-list", `project ${p.id}, ${by} ${order}`,
        `listed ${w.seen.length} (itemsTotal ${w.itemsTotal}), expected ${p.live.size}: ${missing.length} missing ` +
        `${missing.slice(0, 3).join(" ")}, ${extra.length} extra ${extra.slice(0, 3).join(" ")}, ${dupes} listed twice`);
    }
  }
  out.ok = out.walks.every((w) => w.ok);
  return out;
}

async function checkVideo(v) {
  const meta = await call("check-video", `GET /videos/${v.videoId}`, "GET", `/videos/${v.videoId}`, { auth: v.project.auth });
  if (!meta) return false;
  const j = meta.json;
  if (j?.ingest?.status !== "uploaded" || j?.ingest?.filesize !== v.size) {
    fail("check-video", `GET /videos/${v.videoId} (${v.mode}, ${v.filename})`, `ingest ${JSON.stringify(j?.ingest)}, sent ${v.size} B`);
    return false;
  }
  const uri = j?.source?.uri;
  if (typeof uri !== "string" || !uri.startsWith("/")) {
    fail("check-video", `GET /videos/${v.videoId}`, `source.uri ${uri}`);
    return false;
  }
  const src = await call("check-source", `GET ${uri}`, "GET", uri, { auth: v.project.auth, raw: true });
  if (!src) return false;
  const got = createHash("sha256").update(src.bytes).digest("hex");
  if (got !== v.sha256 || src.bytes.length !== v.size) {
    fail("check-source", `GET ${uri} (${v.mode}, ${v.chunks} chunks, ${v.filename})`,
      `${src.bytes.length} B with SHA-256 ${got}; sent ${v.size} B with ${v.sha256}`);
    return false;
  }
  return true;
}

async function pool(items, n, fn) {
  const results = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  }));
  return results;
}

// --- report --------------------------------------------------------------------------------------
function pct(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
function kindRows(kinds) {
  return kinds.filter((k) => stats.has(k)).map((k) => {
    const s = stats.get(k);
    const ms = [...s.ms].sort((a, b) => a - b);
    const statuses = Object.fromEntries([...s.statuses].sort());
    return { kind: k, requests: s.n, statuses, p50: pct(ms, 0.5), p95: pct(ms, 0.95), p99: pct(ms, 0.99), max: ms.at(-1) };
  });
}
const fmtMs = (v) => (v == null ? "" : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const fmtN = (n) => n.toLocaleString("en-US");
function table(rows) {
  const head = "| kind | requests | statuses | p50 ms | p95 ms | p99 ms | max ms |\n|---|---:|---|---:|---:|---:|---:|\n";
  return head + rows.map((r) =>
    `| ${r.kind} | ${fmtN(r.requests)} | ${Object.entries(r.statuses).map(([s, n]) => `${s}: ${fmtN(n)}`).join(", ")} | ` +
    `${fmtMs(r.p50)} | ${fmtMs(r.p95)} | ${fmtMs(r.p99)} | ${fmtMs(r.max)} |`).join("\n") + "\n";
}

function versions() {
  const v = {};
  try { v.rustc = execFileSync("rustc", ["--version"], { encoding: "utf8" }).trim(); } catch {}
  try { v.wrangler = JSON.parse(readFileSync(join(root, "node_modules/wrangler/package.json"), "utf8")).version; } catch {}
  try { v.commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim(); } catch {}
  try {
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "core", "Cargo.toml", "Cargo.lock", "wrangler.toml"], { cwd: root, encoding: "utf8" }).trim();
    v.sourcesChanged = dirty ? dirty.split("\n").length : 0;
  } catch {}
  v.node = process.version;
  return v;
}

// --- main ----------------------------------------------------------------------------------------
async function main() {
  const dev = devVars();
  const projects = [{ id: dev.project, key: dev.key }];
  for (let i = 2; i <= opts.projects; i++) projects.push({ id: `load-${i}`, key: `load-key-${i}-${randomBytes(12).toString("hex")}` });
  ensureBuild();
  say("starting wrangler dev (fresh state in a temporary directory)");
  await startServer(projects, dev.signing);
  say(`serving on ${server.base}; ${opts.clients} clients for ${opts.seconds} s, ${projects.length} project(s)`);
  const models = projects.map(newModel);

  const loads = [];
  const sampler = setInterval(() => loads.push(loadavg()[0]), 5000);
  const cpuStart = { server: groupCpuSeconds(server.pgid), self: process.cpuUsage() };
  const load0 = loadavg();
  const started = performance.now();
  stopAt = Date.now() + opts.seconds * 1000;
  const progress = setInterval(() => {
    const errs = errors.length;
    say(`${fmtN(requests)} requests, ${uploadsUnderWay} uploads under way, ${videos.length} videos, ${errs} errors, load ${loadavg()[0].toFixed(2)}`);
  }, 10_000);
  await Promise.all(Array.from({ length: opts.clients }, (_, i) => client(i + 1, models)));
  const loadMs = performance.now() - started;
  clearInterval(progress);
  clearInterval(sampler);
  const load1 = loadavg();
  const cpuEnd = { server: groupCpuSeconds(server.pgid), self: process.cpuUsage(cpuStart.self) };
  const loadRequests = requests;
  say(`load done: ${fmtN(loadRequests)} requests in ${(loadMs / 1000).toFixed(1)} s, ${errors.length} errors; checking`);

  const checksStarted = performance.now();
  const listings = [];
  for (const p of models) listings.push(await checkListing(p));
  const videoOk = await pool(videos, 8, checkVideo);
  const checksMs = performance.now() - checksStarted;
  const videosOk = videoOk.filter(Boolean).length;
  say(`checks done in ${(checksMs / 1000).toFixed(1)} s`);
  await stopServer();

  const loadKinds = ["create", "get", "list", "delete", "upload-whole", "upload-chunk", "upload-last"];
  const checkKinds = ["check-list", "check-video", "check-source"];
  const rows = kindRows(loadKinds);
  const checkRows = kindRows(checkKinds);
  const timeouts = errors.filter((e) => e.timeout);
  const proxyErrors = errors.filter((e) => e.proxy);
  const uploadedBytes = videos.reduce((s, v) => s + v.size, 0);
  const byMode = {};
  for (const v of videos) byMode[v.mode] = (byMode[v.mode] ?? 0) + 1;
  const ok = errors.length === 0 && listings.every((l) => l.ok) && videosOk === videos.length;
  const result = {
    date: new Date(t0).toISOString(),
    command: `bench/load.sh ${argv.join(" ")}`.trim(),
    options: { ...opts, out: relative(root, opts.out) || "." },
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: +(totalmem() / 2 ** 30).toFixed(1) },
    versions: versions(),
    load: {
      seconds: +(loadMs / 1000).toFixed(1), requests: loadRequests, perSecond: +(loadRequests / (loadMs / 1000)).toFixed(1),
      rows, videos: videos.length, videosByMode: byMode, uploadedMiB: +(uploadedBytes / MiB).toFixed(1),
      loadAverage: { before: load0.map((x) => +x.toFixed(2)), after: load1.map((x) => +x.toFixed(2)), max1min: +Math.max(load0[0], ...loads, load1[0]).toFixed(2) },
      cpuSeconds: {
        server: +(cpuEnd.server - cpuStart.server).toFixed(1),
        loadClient: +((cpuEnd.self.user + cpuEnd.self.system) / 1e6).toFixed(1),
      },
    },
    checks: { seconds: +(checksMs / 1000).toFixed(1), rows: checkRows, listings, videos: videos.length, videosOk },
    errors: errors.length, timeouts: timeouts.length, proxyErrors: proxyErrors.length, errorList: errors.slice(0, 200), ok,
    proxyDrops: { total: [...proxyDrops.values()].reduce((a, b) => a + b, 0), byKind: Object.fromEntries(proxyDrops), deletesDoneBeforeDrop },
  };
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, "load-results.json"), JSON.stringify(result, null, 2) + "\n");
  const md = report(result);
  writeFileSync(join(opts.out, "load-results.md"), md);
  if (!ok && server) {
    // The server's log, for reading what went wrong (bench/out/ is not tracked).
    try {
      mkdirSync(join(root, "bench/out"), { recursive: true });
      cpSync(server.log, join(root, "bench/out/load-server.log"));
      say("the server's log is in bench/out/load-server.log");
    } catch {}
  }
  console.log(md);
  say(ok ? "OK" : `FAILED: ${errors.length} errors (${timeouts.length} timeouts, ${proxyErrors.length} answered 503 by wrangler's proxy)`);
  cleanupWork();
  return ok;
}

function report(r) {
  const l = r.load;
  const lines = [];
  lines.push(`# Load test: ${r.ok ? "passed" : "FAILED"}`, "");
  lines.push(`Run of ${r.date.replace("T", " ").slice(0, 16)} UTC, \`${r.command}\`: ${r.options.clients} clients for ${r.options.seconds} s ` +
    `against \`wrangler dev\` on 127.0.0.1 (fresh local state), ${r.options.projects} project(s), ` +
    `per-request limit ${r.options.timeout} s, at most ${r.options.maxUploads} uploads under way.`);
  lines.push(`Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memGiB} GiB; ${r.versions.rustc ?? ""}, wrangler ${r.versions.wrangler}, ` +
    `Node ${r.versions.node}, commit ${r.versions.commit}${r.versions.sourcesChanged ? ` (${r.versions.sourcesChanged} source files changed)` : ""}.`, "");
  lines.push(`**Load:** ${fmtN(l.requests)} requests in ${l.seconds} s (${l.perSecond} per second), **${r.errors} errors** ` +
    `(${r.timeouts} timeouts, ${r.proxyErrors} answered 503 by wrangler's proxy); ${l.videos} uploads finished (${Object.entries(l.videosByMode).map(([m, n]) => `${m} ${n}`).join(", ")}), ${l.uploadedMiB} MiB. ` +
    `Load average (1 min) ${l.loadAverage.before[0]} before, ${l.loadAverage.max1min} at most, ${l.loadAverage.after[0]} after; ` +
    `CPU time: server ${l.cpuSeconds.server} s, load client ${l.cpuSeconds.loadClient} s.`, "");
  const d = r.proxyDrops;
  lines.push(`**Dropped by wrangler's dev proxy and sent again:** ${fmtN(d.total)} ` +
    `(${Object.entries(d.byKind).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}): answers 503 "Your worker restarted mid-request" ` +
    `without the service's X-Request-Id, or connections reset, while the runtime never restarted (the proxy's idle connections to ` +
    `the runtime close as it writes a request on them). Deletes whose dropped attempt had reached the Worker (the resend answered 404): ${d.deletesDoneBeforeDrop}.`, "");
  lines.push(table(l.rows));
  lines.push(`**Checks afterwards** (${r.checks.seconds} s):`, "");
  for (const p of r.checks.listings) {
    lines.push(`- project \`${p.project}\`: ${fmtN(p.expected)} tokens created and not deleted (${fmtN(p.deleted)} deleted); ` +
      p.walks.map((w) => w.listed === undefined ? `${w.by} ${w.order}: walk failed` :
        `${w.by} ${w.order}: ${fmtN(w.listed)} listed, itemsTotal ${fmtN(w.itemsTotal)}, ${w.missing} missing, ${w.extra} extra, ${w.duplicates} twice`).join("; ") +
      ` (${p.ok ? "equal" : "MISMATCH"})`);
  }
  lines.push(`- videos: ${r.checks.videosOk} of ${r.checks.videos} finished uploads read back with the SHA-256 sent`, "");
  lines.push(table(r.checks.rows));
  if (r.errorList.length) {
    lines.push("**Errors** (first 20):", "");
    for (const e of r.errorList.slice(0, 20)) lines.push(`- ${e.at} s, ${e.kind}, ${e.what}: ${e.detail}`);
    lines.push("");
  }
  return lines.join("\n");
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  async (e) => {
    say(`stopped by an error: ${e?.stack ?? e}`);
    await stopServer().catch(() => {});
    cleanupWork();
    process.exit(1);
  },
);
