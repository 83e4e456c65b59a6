// Creating, reading and deleting upload tokens, and what each leaves in KV.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, authOf, KEYS } from "./support/miniflare.mjs";
import {
  NOT_FOUND,
  ABSENT_ID,
  assertJson,
  assertLimitHeader,
  assertProblem,
  assertTokenShape,
  create,
  freshSecond,
  kvKeysOf,
  kvSnapshot,
  list,
  raw,
  secs,
  sleepUntil,
} from "./support/mf-helpers.mjs";

// KV keeps a record this long past its token's expiry (UPLOAD_STALE_AFTER, default a day), so
// that an upload the token opened can still find its project.
const STALE_AFTER = 86400;

// A project of its own for tests that count a whole listing.
const DELTA_KEY = "delta-test-key-000000000001";
// A project whose index is first used by the test that writes the earlier KV layout by hand.
const EPSILON_KEY = "epsilon-test-key-00000000001";
/** api.video's 404 for an upload token, byte for byte (README: byte-identical whether the
 * token is missing, expired or another project's). */
const NOT_FOUND_BODY =
  '{"type":"https://docs.api.video/reference/resource-not-found","title":"The requested resource was not found.","status":404,"name":"uploadToken"}';

let w;
before(async () => {
  w = await startWorker({
    vars: { API_KEYS: `alpha:${KEYS.alpha},alpha:${KEYS.alpha2},beta:${KEYS.beta},delta:${DELTA_KEY},epsilon:${EPSILON_KEY}` },
  });
});
after(() => w?.dispose());

/** Every token of a project's listing (all pages of 100). */
async function listedTokens(auth = "alpha") {
  const seen = [];
  for (let page = 1; ; page++) {
    const res = await list(w, `currentPage=${page}&pageSize=100`, auth);
    assert.equal(res.status, 200, res.text);
    seen.push(...res.json.data.map((t) => t.token));
    if (page >= res.json.pagination.pagesTotal) return seen;
  }
}

test("POST /upload-tokens answers 200 with the token, its dates and stores its record (no KV index entry)", async () => {
  const before = Math.floor(Date.now() / 1000);
  const res = await w.call("POST", "/upload-tokens", { body: { ttl: 3600 } });
  const afterSec = Math.ceil(Date.now() / 1000);
  assert.equal(res.status, 200, res.text);
  assertJson(res);
  assertLimitHeader(res, 100000);
  const t = res.json;
  assertTokenShape(t, 3600);
  const created = secs(t.createdAt);
  assert.ok(created >= before && created <= afterSec, `createdAt ${t.createdAt} is now`);
  assert.equal(secs(t.expiresAt), created + 3600);

  const keys = kvKeysOf("alpha", t);
  const record = await w.kv.getWithMetadata(keys.record);
  assert.deepEqual(JSON.parse(record.value), { project: "alpha", ttl: 3600, createdAt: created });
  const snap = await kvSnapshot(w.kv);
  assert.deepEqual(snap.filter((e) => e.name.startsWith("idx:")), [], "the index lives in the project's object, not KV");
  assert.ok((await listedTokens()).includes(t.token), "listed at once");
  for (const name of [keys.record]) {
    const entry = snap.find((e) => e.name === name);
    assert.ok(entry, `${name} stored`);
    assert.ok(
      entry.expiration >= created + 3600 + STALE_AFTER && entry.expiration <= afterSec + 3600 + STALE_AFTER,
      `${name} expires the uploads' stale time after the token: ${entry.expiration} vs ${created + 3600 + STALE_AFTER}`,
    );
  }
});

test("tokens are distinct and follow the to + 22 base62 form", async () => {
  const ids = new Set();
  for (let i = 0; i < 20; i++) ids.add((await create(w, 60)).token);
  assert.equal(ids.size, 20);
});

test("an empty body, {}, a null ttl or unknown fields mean ttl 0: never expires, no KV expiration", async () => {
  const variants = [
    { what: "no body, no Content-Type", headers: {} },
    { what: "no body, JSON Content-Type", headers: { "Content-Type": "application/json" } },
    { what: "empty body, JSON Content-Type", headers: { "Content-Type": "application/json" }, body: "" },
    { what: "whitespace body", headers: { "Content-Type": "application/json" }, body: " \n " },
    { what: "empty body, non-JSON Content-Type", headers: { "Content-Type": "text/plain" }, body: "" },
    { what: "{}", headers: { "Content-Type": "application/json" }, body: "{}" },
    { what: "ttl null", headers: { "Content-Type": "application/json" }, body: '{"ttl":null}' },
    { what: "unknown fields only", headers: { "Content-Type": "application/json" }, body: '{"name":"x","ttl2":5}' },
  ];
  for (const v of variants) {
    const res = await raw(w.mf, "POST", "/upload-tokens", {
      headers: { Authorization: authOf("alpha"), ...v.headers },
      body: v.body,
    });
    assert.equal(res.status, 200, `${v.what}: ${res.text}`);
    assertJson(res, v.what);
    assertTokenShape(res.json, 0);
    assert.equal(res.json.expiresAt, null);
    const keys = kvKeysOf("alpha", res.json);
    const snap = await kvSnapshot(w.kv);
    const entry = snap.find((e) => e.name === keys.record);
    assert.ok(entry, `${v.what}: ${keys.record} stored`);
    assert.equal(entry.expiration, undefined, `${v.what}: ${keys.record} has no expiration`);
    assert.deepEqual(JSON.parse(await w.kv.get(keys.record)), { project: "alpha", ttl: 0, createdAt: secs(res.json.createdAt) });
  }
});

test("unknown fields beside ttl are ignored; a JSON Content-Type with parameters is accepted", async () => {
  const res = await raw(w.mf, "POST", "/upload-tokens", {
    headers: { Authorization: authOf("alpha"), "Content-Type": "application/json; charset=utf-8" },
    body: '{"ttl": 120, "extra": {"nested": [1, 2]}, "other": "x"}',
  });
  assert.equal(res.status, 200, res.text);
  assertJson(res);
  assertTokenShape(res.json, 120);
});

test("ttl bounds: 0 and 2147483647 are accepted; ttl under 60 is stored with a 60 s KV expiration, plus the stale time", async () => {
  const max = await create(w, 2147483647);
  assert.equal(secs(max.expiresAt), secs(max.createdAt) + 2147483647);
  const zero = await create(w, 0);
  assert.equal(zero.expiresAt, null);
  for (const ttl of [1, 59, 60, 61]) {
    const t = await create(w, ttl);
    const created = secs(t.createdAt);
    const snap = await kvSnapshot(w.kv);
    const keys = kvKeysOf("alpha", t);
    for (const name of [keys.record]) {
      const entry = snap.find((e) => e.name === name);
      const want = created + Math.min(Math.max(ttl, 60) + STALE_AFTER, 2147483647);
      assert.ok(
        entry && entry.expiration >= want && entry.expiration <= want + 2,
        `ttl ${ttl}: ${name} expiration ${entry?.expiration}, want about ${want}`,
      );
    }
  }
});

test("GET /upload-tokens/{id} answers the token as created", async () => {
  const t = await create(w, 86400);
  const res = await w.call("GET", `/upload-tokens/${t.token}`);
  assert.equal(res.status, 200, res.text);
  assertJson(res);
  assertLimitHeader(res, 100000);
  assert.deepEqual(res.json, t);
  const never = await create(w);
  const res2 = await w.call("GET", `/upload-tokens/${never.token}`);
  assert.equal(res2.status, 200);
  assert.deepEqual(res2.json, never);
});

test("GET of a nonexistent or malformed id is the uploadToken 404", async () => {
  const res = await w.call("GET", `/upload-tokens/${ABSENT_ID}`);
  assertProblem(res, 404, NOT_FOUND, "nonexistent");
  assert.equal(res.text, NOT_FOUND_BODY);
  assertLimitHeader(res, 100000);
  const real = await create(w, 3600);
  const malformed = [
    "to123",
    "xx" + real.token.slice(2),
    real.token.slice(0, -1),
    real.token + "a",
    real.token.slice(0, -1) + "-",
    real.token.slice(0, -1) + "_",
    real.token.slice(0, -1) + "%21",
    "TO" + real.token.slice(2),
    "tok:" + real.token,
  ];
  for (const id of malformed) {
    for (const method of ["GET", "DELETE"]) {
      const r = await w.call(method, `/upload-tokens/${id}`);
      assert.equal(r.status, 404, `${method} ${id}: ${r.text}`);
      assertJson(r, id);
      assert.equal(r.text, res.text, `${method} ${id} answers the same 404`);
    }
  }
  // The real token survived all of it.
  assert.equal((await w.call("GET", `/upload-tokens/${real.token}`)).status, 200);
});

test("DELETE answers 204 without a body; then get, list and delete all say it is gone, and so does KV", async () => {
  const keep = await create(w, 3600);
  const t = await create(w, 3600);
  const keys = kvKeysOf("alpha", t);
  assert.notEqual(await w.kv.get(keys.record), null);
  assert.ok((await listedTokens()).includes(t.token));

  const del = await w.call("DELETE", `/upload-tokens/${t.token}`);
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, "");
  assert.equal(del.headers.get("content-type"), null, "a 204 has no Content-Type");
  assertLimitHeader(del, 100000);

  const get = await w.call("GET", `/upload-tokens/${t.token}`);
  assertProblem(get, 404, NOT_FOUND, "get after delete");
  assert.equal(get.text, NOT_FOUND_BODY);
  const listed = await listedTokens();
  assert.ok(!listed.includes(t.token), "deleted token not listed");
  assert.ok(listed.includes(keep.token), "other token still listed");
  const again = await w.call("DELETE", `/upload-tokens/${t.token}`);
  assertProblem(again, 404, NOT_FOUND, "delete again");
  assert.equal(again.text, NOT_FOUND_BODY);

  const names = (await kvSnapshot(w.kv)).map((e) => e.name);
  assert.ok(!names.includes(keys.record), "record removed");
  assert.ok(names.includes(`tok:${keep.token}`), "other token's record kept");
});

test("a record the project index does not know (an interrupted create) is gettable and deletable, never listed, and cannot upload", async () => {
  const auth = DELTA_KEY;
  const other = await create(w, 3600, auth);
  // What a create leaves when it stops after its first step: the record, written as the
  // service writes it, and nothing in the project's index.
  const token = "to" + "Half0".repeat(4) + "Cr";
  const created = Math.floor(Date.now() / 1000);
  const t = { token, ttl: 3600, createdAt: new Date(created * 1000).toISOString().replace(".000Z", "+00:00"), expiresAt: new Date((created + 3600) * 1000).toISOString().replace(".000Z", "+00:00") };
  await w.kv.put(`tok:${token}`, JSON.stringify({ project: "delta", ttl: 3600, createdAt: created }), { expirationTtl: 3600 });

  const get = await w.call("GET", `/upload-tokens/${token}`, { auth: authOf(auth) });
  assert.equal(get.status, 200, get.text);
  assert.deepEqual(get.json, t);
  assert.deepEqual(await listedTokens(auth), [other.token], "not listed");
  assert.equal((await list(w, "", auth)).json.pagination.itemsTotal, 1);
  const form = new FormData();
  form.append("file", new Blob(["x"]), "x.mp4");
  const upload = await w.mf.dispatchFetch(`http://localhost/upload?token=${token}`, { method: "POST", body: form });
  assert.equal(upload.status, 401, "what is not listed cannot upload");
  await upload.arrayBuffer();

  const del = await w.call("DELETE", `/upload-tokens/${token}`, { auth: authOf(auth) });
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, "");
  assert.equal(await w.kv.get(`tok:${token}`), null, "record removed");
  assertProblem(await w.call("GET", `/upload-tokens/${token}`, { auth: authOf(auth) }), 404, NOT_FOUND, "get after delete");
  assertProblem(await w.call("DELETE", `/upload-tokens/${token}`, { auth: authOf(auth) }), 404, NOT_FOUND, "delete again");
  assert.deepEqual(await listedTokens(auth), [other.token]);
  assert.equal((await w.call("GET", `/upload-tokens/${other.token}`, { auth: authOf(auth) })).status, 200);
});

// The exact second of expiry is the host tests' business (core/tests, injected clock); here a
// ttl under KV's 60 s minimum, with seconds of room for the checks made while it is active.
test("a ttl 5 token is active at first, then 404 on get and delete and gone from listings", async () => {
  const short = await create(w, 59);
  await freshSecond();
  const t = await create(w, 5);
  const get = await w.call("GET", `/upload-tokens/${t.token}`);
  assert.equal(get.status, 200, `ttl 5 token active right after creation: ${get.text}`);
  assert.ok((await listedTokens()).includes(t.token), "listed while active");

  // Its expiresAt is the first second at which it is no longer active.
  await sleepUntil(secs(t.expiresAt) * 1000 + 20);
  const gone = await w.call("GET", `/upload-tokens/${t.token}`);
  assertProblem(gone, 404, NOT_FOUND, "get after expiry");
  assert.equal(gone.text, NOT_FOUND_BODY);
  const listed = await listedTokens();
  assert.ok(!listed.includes(t.token), "expired token not listed");
  assert.ok(listed.includes(short.token), "ttl 59 token still listed");
  const del = await w.call("DELETE", `/upload-tokens/${t.token}`);
  assertProblem(del, 404, NOT_FOUND, "delete after expiry");
  assert.equal((await w.call("GET", `/upload-tokens/${short.token}`)).status, 200);
});

test("records and KV index entries of the earlier layout past their expiry (KV not yet expired) are neither gettable, deletable nor listed", async () => {
  // Written by hand as earlier versions wrote them, before the project's index is first used,
  // but created 100 s ago with a ttl of 10.
  const auth = { auth: authOf(EPSILON_KEY) };
  const token = "to" + "Past0".repeat(4) + "Ab";
  const created = Math.floor(Date.now() / 1000) - 100;
  const indexKey = `idx:epsilon:${String(created).padStart(10, "0")}:${token}`;
  await w.kv.put(`tok:${token}`, JSON.stringify({ project: "epsilon", ttl: 10, createdAt: created }), {
    expirationTtl: 60,
  });
  await w.kv.put(indexKey, "", { expirationTtl: 60, metadata: `${created},10` });
  // Control: the same, still active (ttl 1000).
  const live = "to" + "Live0".repeat(4) + "Ab";
  const liveIndex = `idx:epsilon:${String(created).padStart(10, "0")}:${live}`;
  await w.kv.put(`tok:${live}`, JSON.stringify({ project: "epsilon", ttl: 1000, createdAt: created }), {
    expirationTtl: 1000,
  });
  await w.kv.put(liveIndex, "", { expirationTtl: 1000, metadata: `${created},1000` });

  const liveGet = await w.call("GET", `/upload-tokens/${live}`, auth);
  assert.equal(liveGet.status, 200, liveGet.text);
  assert.equal(liveGet.json.ttl, 1000);
  assert.equal(secs(liveGet.json.createdAt), created);
  assert.deepEqual(await listedTokens(EPSILON_KEY), [live], "imported on first use, the expired one not listed");

  for (const method of ["GET", "DELETE"]) {
    const res = await w.call(method, `/upload-tokens/${token}`, auth);
    assertProblem(res, 404, NOT_FOUND, `${method} expired`);
    assert.equal(res.text, NOT_FOUND_BODY, `${method} expired`);
  }
  assert.equal((await w.call("DELETE", `/upload-tokens/${live}`, auth)).status, 204);
  assert.deepEqual(await listedTokens(EPSILON_KEY), []);
  assert.equal(await w.kv.get(`tok:${live}`), null);
});

test("GET and DELETE sent with a JSON Content-Type and no body are answered as usual", async () => {
  const t = await create(w, 3600);
  const headers = { Authorization: authOf("alpha"), "Content-Type": "application/json" };
  const get = await raw(w.mf, "GET", `/upload-tokens/${t.token}`, { headers });
  assert.equal(get.status, 200, get.text);
  assert.deepEqual(get.json, t);
  const listed = await raw(w.mf, "GET", "/upload-tokens?pageSize=100", { headers });
  assert.equal(listed.status, 200, listed.text);
  assert.ok(listed.json.data.some((x) => x.token === t.token));
  const del = await raw(w.mf, "DELETE", `/upload-tokens/${t.token}`, { headers });
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, "");
});
