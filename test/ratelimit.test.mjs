// Rate limits: per project on the token endpoints, per client address on the auth endpoints.
// Miniflare counts in fixed windows aligned to multiples of the period since the epoch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startWorker, KEYS } from "./support/miniflare.mjs";
import {
  TOO_MANY,
  assertJson,
  assertLimitHeader,
  assertProblem,
  create,
  kvSnapshot,
  sleep,
  sleepUntil,
} from "./support/mf-helpers.mjs";

/** Waits, if needed, until the current window of `period` seconds has `roomMs` left; its index. */
async function windowWithRoom(period, roomMs) {
  const ms = period * 1000;
  const left = ms - (Date.now() % ms);
  if (left < roomMs) await sleep(left + 20);
  return Math.floor(Date.now() / ms);
}

function assertLimited(res, limit, period, what) {
  assertProblem(res, 429, {}, what);
  assert.deepEqual(res.json, TOO_MANY, what);
  assertLimitHeader(res, limit, what);
  assert.equal(res.headers.get("x-ratelimit-retry-after"), String(period), `${what}: X-RateLimit-Retry-After`);
  assert.equal(res.headers.get("retry-after"), String(period), `${what}: Retry-After`);
}

function assertAllowed(res, status, limit, what) {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  if (res.text) assertJson(res, what);
  assertLimitHeader(res, limit, what);
  assert.equal(res.headers.get("retry-after"), null, `${what}: no Retry-After`);
}

test("per project: the sixth call in a window is 429, stores nothing, spares other projects, and the next window is open", async () => {
  const w = await startWorker({ limits: { api: { limit: 5, period: 10 } } });
  try {
    const login = await w.call("POST", "/auth/api-key", { auth: null, body: { apiKey: KEYS.alpha } });
    assertAllowed(login, 200, 100000, "login (auth limiter)");
    const alphaBearer = `Bearer ${login.json.access_token}`;

    // Most of a window for the seventeen calls below, on a loaded machine too.
    const window = await windowWithRoom(10, 8000);
    const a = await w.call("POST", "/upload-tokens", { body: { ttl: 3600 } });
    assertAllowed(a, 200, 5, "1 create");
    const A = a.json.token;
    assertAllowed(await w.call("GET", `/upload-tokens/${A}`), 200, 5, "2 get");
    assertAllowed(await w.call("GET", "/upload-tokens"), 200, 5, "3 list");
    const b = await w.call("POST", "/upload-tokens", { auth: "alpha2", body: { ttl: 60 } });
    assertAllowed(b, 200, 5, "4 create with the second key");
    assertAllowed(await w.call("DELETE", `/upload-tokens/${b.json.token}`, { auth: alphaBearer }), 204, 5, "5 delete");

    const snap = await kvSnapshot(w.kv);
    const refused = await w.call("POST", "/upload-tokens", { body: { ttl: 3600 } });
    assertLimited(refused, 5, 10, "6 create");
    assert.deepEqual(await kvSnapshot(w.kv), snap, "a refused create stores nothing");
    assertLimited(await w.call("GET", `/upload-tokens/${A}`), 5, 10, "get over the limit");
    assertLimited(await w.call("GET", "/upload-tokens"), 5, 10, "list over the limit");
    assertLimited(await w.call("DELETE", `/upload-tokens/${A}`), 5, 10, "delete over the limit");
    assertLimited(await w.call("GET", `/upload-tokens/${A}`, { auth: "alpha2" }), 5, 10, "same project, other key");
    assertLimited(await w.call("GET", "/upload-tokens", { auth: alphaBearer }), 5, 10, "same project, bearer");
    assert.deepEqual(await kvSnapshot(w.kv), snap, "a refused delete removes nothing");

    // Another project is not affected.
    const c = await w.call("POST", "/upload-tokens", { auth: "beta", body: { ttl: 60 } });
    assertAllowed(c, 200, 5, "beta create");
    assertAllowed(await w.call("GET", `/upload-tokens/${c.json.token}`, { auth: "beta" }), 200, 5, "beta get");
    assertAllowed(await w.call("GET", "/upload-tokens", { auth: "beta" }), 200, 5, "beta list");
    // Nor are the auth endpoints, which have their own limit.
    assertAllowed(
      await w.call("POST", "/auth/api-key", { auth: null, body: { apiKey: KEYS.alpha } }),
      200,
      100000,
      "login while the project is limited",
    );
    assert.equal(Math.floor(Date.now() / 10000), window, "all of the above ran within one window");

    await sleepUntil((window + 1) * 10000 + 50);
    const get = await w.call("GET", `/upload-tokens/${A}`);
    assertAllowed(get, 200, 5, "get in the next window");
    assert.equal(get.json.token, A);
    assertAllowed(await w.call("POST", "/upload-tokens", { body: { ttl: 60 } }), 200, 5, "create in the next window");
  } finally {
    await w.dispose();
  }
});

test("per client address on /auth/api-key and /auth/refresh; other addresses and the token endpoints unaffected", async () => {
  const w = await startWorker({ limits: { auth: { limit: 3, period: 60 } } });
  try {
    const from = (ip) => ({ "CF-Connecting-IP": ip });
    const A = "198.51.100.7";
    const B = "198.51.100.8";
    const apiKey = (ip, key = KEYS.alpha) => w.call("POST", "/auth/api-key", { auth: null, body: { apiKey: key }, headers: from(ip) });
    const refresh = (ip, token) => w.call("POST", "/auth/refresh", { auth: null, body: { refreshToken: token }, headers: from(ip) });

    const window = await windowWithRoom(60, 20000);
    const first = await apiKey(A);
    assertAllowed(first, 200, 3, "1 api-key");
    assertAllowed(await apiKey(A, "alpha-test-key-000000000099"), 400, 3, "2 api-key, wrong key");
    const third = await refresh(A, first.json.refresh_token);
    assertAllowed(third, 200, 3, "3 refresh");

    assertLimited(await apiKey(A), 3, 60, "4 api-key");
    assertLimited(await refresh(A, first.json.refresh_token), 3, 60, "5 refresh");
    assertLimited(await apiKey(A, KEYS.beta), 3, 60, "api-key for another project, same address");

    const other = await apiKey(B);
    assertAllowed(other, 200, 3, "other address api-key");
    // Refresh tokens are single-use: the one the third call answered is the session's next.
    assertAllowed(await refresh(B, third.json.refresh_token), 200, 3, "other address refresh");
    assertAllowed(
      await w.call("POST", "/auth/api-key", { auth: null, body: { apiKey: KEYS.beta } }),
      200,
      3,
      "default address api-key",
    );

    // The token endpoints count per project, not per address.
    const t = await create(w, 60);
    const bearer = `Bearer ${first.json.access_token}`;
    assertAllowed(await w.call("GET", `/upload-tokens/${t.token}`, { auth: bearer, headers: from(A) }), 200, 100000, "bearer from A");
    assertAllowed(await w.call("GET", "/upload-tokens", { headers: from(A) }), 200, 100000, "Basic from A");
    assert.equal(Math.floor(Date.now() / 60000), window, "all of the above ran within one window");
  } finally {
    await w.dispose();
  }
});
