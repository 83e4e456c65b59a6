// Measures how long a backend takes to revoke every token of one user: tokens labelled with
// `metadata: [{key: "user", value: …}]`, found with `GET /upload-tokens?metadata[user]=…` and
// deleted one by one (the service has no bulk delete), `--concurrency` deletes at a time,
// listing page 1 again until it is empty.
//
//   node bench/revoke.mjs [--tokens N] [--others M] [--concurrency C] [--url BASE --key KEY]
//
// Without --url it serves the built Worker (build/, `scripts/build.sh`) in Miniflare, with rate
// limits high enough not to interfere, and creates the tokens itself; with --url it runs
// against that service (wrangler dev, a deployment) with the API key KEY, whose project's rate
// limit then counts every request (600 a minute by default).
import { performance } from "node:perf_hooks";
import { startWorker, KEYS, basic } from "../test/support/miniflare.mjs";

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}

const N = Number(option("tokens", 500));
const OTHERS = Number(option("others", 500));
const CONCURRENCY = Number(option("concurrency", 8));
const url = option("url");
const key = option("key");

let worker;
let send;
if (url) {
  const auth = basic(key);
  send = async (method, path, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: auth, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
} else {
  worker = await startWorker({ limits: { api: { limit: 1_000_000, period: 60 } } });
  send = (method, path, body) => worker.call(method, path, { auth: basic(KEYS.alpha), body });
}

/** Runs `fn` over `items`, `limit` at a time. */
async function pool(items, limit, fn) {
  let next = 0;
  const run = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

const user = `leaver-${Date.now()}`;
const labels = (value) => ({ ttl: 86400, metadata: [{ key: "user", value }] });
const kinds = [...Array(N).fill(user), ...Array.from({ length: OTHERS }, (_, i) => `stayer-${i % 50}`)];
await pool(kinds, CONCURRENCY, async (value) => {
  const r = await send("POST", "/upload-tokens", labels(value));
  if (r.status !== 200) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
});

const filter = `/upload-tokens?metadata[user]=${encodeURIComponent(user)}&pageSize=100`;
let lists = 0;
let deletes = 0;
const started = performance.now();
for (;;) {
  const page = await send("GET", filter);
  lists++;
  if (page.status !== 200) throw new Error(`list: ${page.status} ${JSON.stringify(page.json)}`);
  if (page.json.data.length === 0) break;
  await pool(page.json.data, CONCURRENCY, async (t) => {
    const r = await send("DELETE", `/upload-tokens/${t.token}`);
    deletes++;
    if (r.status !== 204) throw new Error(`delete: ${r.status} ${JSON.stringify(r.json)}`);
  });
}
const ms = performance.now() - started;
const left = await send("GET", `/upload-tokens?metadata[user]=${encodeURIComponent(user)}`);
console.log(
  JSON.stringify({
    target: url ?? "Miniflare (build/)",
    tokens: N,
    otherTokens: OTHERS,
    concurrency: CONCURRENCY,
    ms: Math.round(ms),
    msPerToken: Number((ms / N).toFixed(2)),
    listRequests: lists,
    deleteRequests: deletes,
    leftAfter: left.json.pagination.itemsTotal,
  }),
);
await worker?.dispose();
