// Assertions and small utilities shared by the Miniflare test files.
import assert from "node:assert/strict";
import { readAnswer } from "./http.mjs";
import { authOf } from "./miniflare.mjs";

export const REF = "https://docs.api.video/reference/";
export const TOKEN_RE = /^to[0-9A-Za-z]{22}$/;
export const DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/;

export const NOT_FOUND = {
  type: `${REF}resource-not-found`,
  title: "The requested resource was not found.",
  status: 404,
  name: "uploadToken",
};

export const BAD_CREDENTIALS = {
  type: `${REF}authentication-invalid-user-credentials`,
  title: "The user credentials were incorrect.",
  status: 400,
  name: "",
};

export const TOO_MANY = {
  type: `${REF}too-many-requests`,
  title: "Too many requests.",
  status: 429,
};

/** A well-formed token id that no test ever creates. */
export const ABSENT_ID = "to" + "Zz9".repeat(7) + "Q";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until the wall clock reaches `ms` (epoch milliseconds). */
export async function sleepUntil(ms) {
  const left = ms - Date.now();
  if (left > 0) await sleep(left);
}

/** Waits (at most ~0.6 s) until the current second has at least 600 ms left. */
export async function freshSecond() {
  if (Date.now() % 1000 > 400) await sleepUntil(Math.ceil(Date.now() / 1000) * 1000 + 5);
}

/** Seconds since the epoch of an RFC 3339 date. */
export const secs = (date) => Date.parse(date) / 1000;

/** The answer is JSON typed exactly `application/json`. */
export function assertJson(res, what = "") {
  assert.equal(res.headers.get("content-type"), "application/json", `Content-Type ${what}`);
  assert.notEqual(res.json, undefined, `JSON body ${what}: ${res.text}`);
}

/** The answer states the rate limit, and never a remaining count. */
export function assertLimitHeader(res, limit, what = "") {
  assert.equal(res.headers.get("x-ratelimit-limit"), String(limit), `X-RateLimit-Limit ${what}`);
  assert.equal(res.headers.get("x-ratelimit-remaining"), null, `X-RateLimit-Remaining ${what}`);
}

/**
 * A problem JSON answer with `status`; `fields` are compared one by one (`type` may be a
 * suffix given as `...suffix`).
 */
export function assertProblem(res, status, fields = {}, what = "") {
  const label = `${what} -> ${res.status} ${res.text}`;
  assert.equal(res.status, status, label);
  assertJson(res, label);
  const p = res.json;
  assert.equal(typeof p, "object", label);
  assert.equal(p.status, status, label);
  assert.equal(typeof p.type, "string", label);
  assert.ok(p.type.startsWith(REF), label);
  assert.equal(typeof p.title, "string", label);
  assert.ok(p.title.length > 0, label);
  for (const [k, v] of Object.entries(fields)) {
    if (k === "type" && v.startsWith("...")) assert.ok(p.type.endsWith(v.slice(3)), label);
    else assert.deepEqual(p[k], v, `${k} of ${label}`);
  }
}

/** An UploadToken object as the API shows it, with `ttl` if given. */
export function assertTokenShape(t, ttl) {
  assert.deepEqual(Object.keys(t).sort(), ["createdAt", "expiresAt", "token", "ttl"], JSON.stringify(t));
  assert.match(t.token, TOKEN_RE);
  assert.ok(Number.isInteger(t.ttl), JSON.stringify(t));
  if (ttl !== undefined) assert.equal(t.ttl, ttl);
  assert.match(t.createdAt, DATE_RE);
  if (t.ttl === 0) assert.equal(t.expiresAt, null, JSON.stringify(t));
  else {
    assert.match(t.expiresAt, DATE_RE);
    assert.equal(secs(t.expiresAt) - secs(t.createdAt), t.ttl, JSON.stringify(t));
  }
}

/** Every key of the namespace with its metadata and expiration, in name order. */
export async function kvSnapshot(kv) {
  const all = [];
  let cursor;
  do {
    const page = await kv.list(cursor ? { cursor } : {});
    all.push(...page.keys);
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return all.map(({ name, metadata, expiration }) => ({ name, metadata, expiration }));
}

/** The KV record key of `token`. */
export function kvKeysOf(project, t) {
  return { record: `tok:${t.token}` };
}

/**
 * The KV index entry earlier versions wrote for `token` of `project` (created at `createdAt`),
 * for tests of the import into the project index: key and metadata.
 */
export function legacyIndexEntry(project, t) {
  const created = secs(t.createdAt);
  return { key: `idx:${project}:${String(created).padStart(10, "0")}:${t.token}`, metadata: `${created},${t.ttl}` };
}

/**
 * A request with nothing added: `body` is sent as given (string, bytes or stream) and only the
 * given headers are set (besides what fetch itself adds).
 */
export async function raw(mf, method, path, { headers = {}, body } = {}) {
  const init = { method, headers, body };
  if (body instanceof ReadableStream) init.duplex = "half";
  return readAnswer(await mf.dispatchFetch(`http://localhost${path}`, init));
}

/** Creates a token through the API and checks the answer; returns the token object. */
export async function create(w, ttl, auth = "alpha") {
  const res = await w.call("POST", "/upload-tokens", { auth: authOf(auth), body: ttl === undefined ? {} : { ttl } });
  assert.equal(res.status, 200, `create ttl ${ttl}: ${res.text}`);
  assertJson(res, "create");
  assertTokenShape(res.json, ttl ?? 0);
  return res.json;
}

/** Lists with the given query string (without `?`). */
export async function list(w, query = "", auth = "alpha") {
  const res = await w.call("GET", `/upload-tokens${query ? `?${query}` : ""}`, { auth: authOf(auth) });
  return res;
}
