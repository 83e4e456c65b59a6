// Projects never see each other's tokens: alpha and beta, with Basic keys and bearer tokens.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bearer } from "./support/http.mjs";
import { workerForTests, KEYS } from "./support/miniflare.mjs";
import {
  ABSENT_ID,
  assertJson,
  create,
  kvKeysOf,
  kvSnapshot,
  list,
} from "./support/mf-helpers.mjs";

/** api.video's 404 for an upload token, byte for byte. */
const NOT_FOUND_BODY =
  '{"type":"https://docs.api.video/reference/resource-not-found","title":"The requested resource was not found.","status":404,"name":"uploadToken"}';

const tokens = { alpha: [], beta: [] };
const auths = {};

const w = workerForTests({}, async (worker) => {
  for (const [name, key] of [
    ["alpha", KEYS.alpha],
    ["beta", KEYS.beta],
  ]) {
    const res = await worker.call("POST", "/auth/api-key", { auth: null, body: { apiKey: key } });
    assert.equal(res.status, 200, res.text);
    auths[name] = { basic: name, bearer: bearer(res.json.access_token) };
  }
  for (const ttl of [0, 60, 3600, 86400, 120]) tokens.alpha.push(await create(worker, ttl, "alpha"));
  for (const ttl of [0, 3600]) tokens.beta.push(await create(worker, ttl, "beta"));
});

/** All tokens `auth` can list, with itemsTotal. */
async function listAll(auth) {
  const res = await list(w, "pageSize=100", auth);
  assert.equal(res.status, 200, res.text);
  assertJson(res);
  assert.equal(res.json.pagination.pagesTotal, 1);
  return { ids: res.json.data.map((t) => t.token), total: res.json.pagination.itemsTotal };
}

test("each project's tokens are stored with their project, and indexed only in its own object", async () => {
  for (const project of ["alpha", "beta"]) {
    for (const t of tokens[project]) {
      const keys = kvKeysOf(project, t);
      assert.equal(JSON.parse(await w.kv.get(keys.record)).project, project);
    }
  }
  assert.deepEqual((await w.kv.list({ prefix: "idx:" })).keys, [], "no KV index entries");
});

test("listings hold only the caller's tokens, and itemsTotal counts only them", async () => {
  const own = {
    alpha: tokens.alpha.map((t) => t.token).sort(),
    beta: tokens.beta.map((t) => t.token).sort(),
  };
  for (const project of ["alpha", "beta"]) {
    for (const scheme of ["basic", "bearer"]) {
      const { ids, total } = await listAll(auths[project][scheme]);
      assert.deepEqual([...ids].sort(), own[project], `${project} ${scheme} listing`);
      assert.equal(total, own[project].length, `${project} ${scheme} itemsTotal`);
    }
  }
  // The second alpha key is the same project.
  const second = await listAll("alpha2");
  assert.deepEqual([...second.ids].sort(), own.alpha);
  // Both sort keys, both orders.
  for (const q of ["sortBy=ttl&sortOrder=asc", "sortBy=ttl&sortOrder=desc", "sortBy=createdAt&sortOrder=asc"]) {
    const res = await list(w, q, "beta");
    assert.deepEqual(res.json.data.map((t) => t.token).sort(), own.beta, q);
    assert.equal(res.json.pagination.itemsTotal, own.beta.length, q);
  }
});

test("a foreign token answers exactly the 404 of a nonexistent one, to get and delete", async () => {
  for (const [caller, owner] of [
    ["beta", "alpha"],
    ["alpha", "beta"],
  ]) {
    for (const scheme of ["basic", "bearer"]) {
      const auth = auths[caller][scheme];
      const missingGet = await w.call("GET", `/upload-tokens/${ABSENT_ID}`, { auth });
      const missingDel = await w.call("DELETE", `/upload-tokens/${ABSENT_ID}`, { auth });
      assert.equal(missingGet.text, NOT_FOUND_BODY);
      assert.equal(missingDel.text, missingGet.text);
      for (const t of tokens[owner]) {
        for (const [method, missing] of [
          ["GET", missingGet],
          ["DELETE", missingDel],
        ]) {
          const res = await w.call(method, `/upload-tokens/${t.token}`, { auth });
          const what = `${caller} ${scheme} ${method} ${owner}'s ${t.token}`;
          assert.equal(res.status, 404, `${what}: ${res.text}`);
          assert.equal(res.text, missing.text, `${what}: same body`);
          // Every header the same but the date and the request's own id (a fresh UUID each).
          const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
          assert.match(res.headers.get("x-request-id"), uuid, `${what}: a request id`);
          assert.notEqual(res.headers.get("x-request-id"), missing.headers.get("x-request-id"));
          const own = new Set(["date", "x-request-id"]);
          assert.deepEqual(
            [...res.headers].filter(([k]) => !own.has(k)),
            [...missing.headers].filter(([k]) => !own.has(k)),
            `${what}: same headers`,
          );
        }
      }
    }
  }
});

test("foreign deletes leave the owner's tokens and KV entries intact", async () => {
  const before = await kvSnapshot(w.kv);
  for (const t of tokens.alpha) {
    assert.equal((await w.call("DELETE", `/upload-tokens/${t.token}`, { auth: "beta" })).status, 404);
    assert.equal((await w.call("DELETE", `/upload-tokens/${t.token}`, { auth: auths.beta.bearer })).status, 404);
  }
  assert.deepEqual(await kvSnapshot(w.kv), before, "KV unchanged");
  for (const t of tokens.alpha) {
    const res = await w.call("GET", `/upload-tokens/${t.token}`, { auth: "alpha" });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, t);
  }
  assert.equal((await listAll("alpha")).total, tokens.alpha.length);
});

test("the owner can delete; the other project's listing never changes", async () => {
  const betaBefore = await listAll("beta");
  const [victim] = tokens.alpha.splice(0, 1);
  const del = await w.call("DELETE", `/upload-tokens/${victim.token}`, { auth: "alpha2" });
  assert.equal(del.status, 204, del.text);
  assert.deepEqual(await listAll("beta"), betaBefore);
  const alpha = await listAll("alpha");
  assert.equal(alpha.total, tokens.alpha.length);
  assert.ok(!alpha.ids.includes(victim.token));
  // Gone for everyone, in the same words.
  const a = await w.call("GET", `/upload-tokens/${victim.token}`, { auth: "alpha" });
  const b = await w.call("GET", `/upload-tokens/${victim.token}`, { auth: "beta" });
  assert.equal(a.text, NOT_FOUND_BODY);
  assert.equal(b.text, a.text);
});

test("a token beta creates is visible to beta only, with either scheme", async () => {
  const t = await create(w, 3600, "beta");
  tokens.beta.push(t);
  assert.equal((await w.call("GET", `/upload-tokens/${t.token}`, { auth: "alpha" })).status, 404);
  assert.equal((await w.call("GET", `/upload-tokens/${t.token}`, { auth: auths.alpha.bearer })).status, 404);
  assert.equal((await w.call("GET", `/upload-tokens/${t.token}`, { auth: "beta" })).status, 200);
  assert.equal((await listAll("beta")).total, tokens.beta.length);
  assert.equal((await listAll("alpha")).total, tokens.alpha.length);
});
