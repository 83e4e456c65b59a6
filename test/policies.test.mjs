// Token policies on the real Worker in Miniflare: every row of the contract. Creating tokens
// with maxUploads, maxFileSize, allowedOrigins and metadata (and every way of getting one
// wrong), how create, get and list show them, what each does to uploads (refusals with their
// own problem types and CORS, nothing stored), metadata on videos, listing by metadata, and
// revoking every token of one user.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./support/miniflare.mjs";
import { REF, assertProblem, assertTokenShape, kvSnapshot } from "./support/mf-helpers.mjs";
import { MiB, MIN_PART, getVideo, r2Keys, r2Snapshot, random, sendChunk } from "./support/upload-helpers.mjs";

let w;
before(async () => {
  w = await startWorker();
});
after(() => w?.dispose());

const APP = "https://app.example.com";
const POLICY_FIELDS = ["maxUploads", "uploadsUsed", "maxFileSize", "allowedOrigins", "metadata"];

/** Creates a token with `body` for `auth`'s project; the token object. */
async function create(body, auth = "alpha") {
  const res = await w.call("POST", "/upload-tokens", { auth, body });
  assert.equal(res.status, 200, `create ${JSON.stringify(body)}: ${res.text}`);
  assert.equal(res.headers.get("content-type"), "application/json");
  return res.json;
}

/** The four fields of api.video's UploadToken, checked, and the rest of `t`. */
function policiesOf(t) {
  const { token, ttl, createdAt, expiresAt, ...rest } = t;
  assertTokenShape({ token, ttl, createdAt, expiresAt });
  return rest;
}

/** A whole-file upload of `size` bytes, with `Origin: origin` when given. */
function whole(token, { size = 10, origin, filename = "clip.mp4" } = {}) {
  return sendChunk(w.mf, token, { data: random(size), filename, headers: origin ? { Origin: origin } : {} });
}

/** A refusal from /upload: status, type, problem JSON, readable by a page of `cors`. */
function assertRefused(res, status, slug, cors, what = "") {
  assertProblem(res, status, { type: `${REF}${slug}` }, what);
  assert.equal(res.headers.get("access-control-allow-origin"), cors, `CORS of ${what}`);
}

async function get(token) {
  const res = await w.call("GET", `/upload-tokens/${token}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

describe("creating tokens with policies", () => {
  test("each field is answered by create, get and list only when set, uploadsUsed beside maxUploads", async () => {
    const plain = await create({ ttl: 60 });
    assert.deepEqual(policiesOf(plain), {}, "a token without policies has api.video's four fields");
    assert.deepEqual(policiesOf(await get(plain.token)), {});
    const cases = [
      [{ maxUploads: 3 }, { maxUploads: 3, uploadsUsed: 0 }],
      [{ maxFileSize: 5368709120 }, { maxFileSize: 5368709120 }],
      [{ allowedOrigins: ["HTTPS://App.Example.com:443", "http://localhost:8080", APP] }, { allowedOrigins: [APP, "http://localhost:8080"] }],
      [{ metadata: [{ key: "user", value: "u-1" }, { key: "course", value: "" }] }, { metadata: [{ key: "user", value: "u-1" }, { key: "course", value: "" }] }],
      [{ metadata: [], maxUploads: null }, {}],
    ];
    const made = [];
    for (const [body, shown] of cases) {
      const t = await create({ ttl: 3600, ...body });
      assert.deepEqual(policiesOf(t), shown, JSON.stringify(body));
      assert.deepEqual(await get(t.token), t, `get of ${JSON.stringify(body)}`);
      made.push(t);
    }
    const listed = await w.call("GET", "/upload-tokens?pageSize=100");
    for (const t of [plain, ...made]) {
      assert.deepEqual(listed.json.data.find((x) => x.token === t.token), t, `listed ${t.token}`);
    }
    for (const t of listed.json.data) {
      for (const k of POLICY_FIELDS) if (k in t) assert.notEqual(t[k], null, `${k} of ${JSON.stringify(t)}`);
    }
  });

  test("every wrong value is a 400 naming its field, and nothing is stored", async () => {
    const before = await kvSnapshot(w.kv);
    const cases = [
      ["maxUploads", [0, -1, 1000001, 1.5, "3", true, [1], {}]],
      ["maxFileSize", [0, -1, 5368709121, 0.5, "100", false]],
      ["allowedOrigins", [[], "https://a.example", [1], ["*"], ["https://*.a.example"], ["https://a.example/"], ["https://a.example/path"], ["a.example"], ["null"], ["https://a.example:0"], ["https://a.example:99999"], Array.from({ length: 11 }, (_, i) => `https://h${i}.example`)]],
      ["metadata", [{}, "user=u1", [1], [{ key: "a" }], [{ key: "a", value: 1 }], [{ key: "", value: "x" }], [{ key: "k".repeat(65), value: "x" }], [{ key: "a", value: "v".repeat(257) }], [{ key: "a", value: "1" }, { key: "a", value: "2" }], [{ key: "a", value: "1", other: 2 }], Array.from({ length: 21 }, (_, i) => ({ key: `k${i}`, value: "v" }))]],
    ];
    for (const [field, values] of cases) {
      for (const value of values) {
        const res = await w.call("POST", "/upload-tokens", { body: { ttl: 60, [field]: value } });
        assertProblem(res, 400, { type: `${REF}invalid-attribute`, name: field }, `${field}: ${JSON.stringify(value)}`);
      }
    }
    assert.deepEqual(await kvSnapshot(w.kv), before, "no record was written");
  });

  test("a token without policies is refused and accepted exactly as before, with CORS *", async () => {
    const t = await create({});
    const res = await whole(t.token, { origin: "https://anywhere.example" });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("vary"), null);
    assert.deepEqual(res.json.metadata, []);
  });
});

describe("maxUploads", () => {
  test("counts new videos only: later chunks pass after it is reached, a new video gets a 403 and stores nothing", async () => {
    const t = await create({ maxUploads: 2 });
    const data = random(MIN_PART + 100);
    const first = await sendChunk(w.mf, t.token, { data: data.subarray(0, MIN_PART), filename: "one.mp4", range: "part 1/2" });
    assert.equal(first.status, 201, first.text);
    assert.equal((await get(t.token)).uploadsUsed, 1);
    assert.equal((await whole(t.token, { filename: "two.mp4" })).status, 201);
    assert.equal((await get(t.token)).uploadsUsed, 2);
    const before = await r2Snapshot(w.mf);
    const refused = await whole(t.token, { filename: "three.mp4" });
    assertRefused(refused, 403, "upload-token-max-uploads-reached", "*", "a third video");
    assert.equal(refused.json.name, "token");
    assert.deepEqual(await r2Snapshot(w.mf), before, "nothing stored");
    const last = await sendChunk(w.mf, t.token, { data: data.subarray(MIN_PART), filename: "one.mp4", range: "part 2/2" });
    assert.equal(last.status, 201, last.text);
    assert.equal(last.json.videoId, first.json.videoId);
    const video = await getVideo(w.mf, first.json.videoId);
    assert.equal(video.json.ingest.status, "uploaded");
    const listed = await w.call("GET", "/upload-tokens?pageSize=100");
    assert.equal(listed.json.data.find((x) => x.token === t.token).uploadsUsed, 2);
  });

  test("ten uploads started at once with maxUploads 3 make exactly three videos", async () => {
    const t = await create({ maxUploads: 3 });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => whole(t.token, { filename: `race-${i}.mp4` })));
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 201, 201, 403, 403, 403, 403, 403, 403, 403], answers.map((r) => r.text).join("\n"));
    const ids = answers.filter((r) => r.status === 201).map((r) => r.json.videoId);
    assert.equal(new Set(ids).size, 3);
    const records = (await r2Keys(w.mf, { prefix: "videos/" })).filter((k) => k.endsWith("/meta.json"));
    const mine = [];
    for (const key of records) {
      const id = key.split("/")[1];
      const v = await getVideo(w.mf, id);
      if (v.json.title.startsWith("race-")) mine.push(id);
    }
    assert.deepEqual(mine.sort(), [...ids].sort(), "exactly the three answered videos exist");
    assert.equal((await get(t.token)).uploadsUsed, 3);
  });
});

describe("maxFileSize", () => {
  test("a whole file, a declared byte total, or a part that would exceed it is refused with 413 and nothing is kept", async () => {
    const limit = MIN_PART + 10;
    const t = await create({ maxFileSize: limit });
    const before = await r2Snapshot(w.mf);
    assertRefused(await whole(t.token, { size: limit + 1 }), 413, "upload-token-max-file-size-exceeded", "*", "whole file");
    const ranged = await sendChunk(w.mf, t.token, { data: random(MIN_PART), range: `bytes 0-${MIN_PART - 1}/${limit + 1}` });
    assertRefused(ranged, 413, "upload-token-max-file-size-exceeded", "*", "byte range");
    assert.equal(ranged.json.name, "file");
    assert.deepEqual(await r2Snapshot(w.mf), before, "nothing stored, nothing staged");
    const first = await sendChunk(w.mf, t.token, { data: random(MIN_PART), filename: "p.mp4", range: "part 1/2" });
    assert.equal(first.status, 201, first.text);
    const id = first.json.videoId;
    const over = await sendChunk(w.mf, t.token, { data: random(11), filename: "p.mp4", videoId: id, range: "part 2/2" });
    assertRefused(over, 413, "upload-token-max-file-size-exceeded", "*", "second part");
    const chunks = await r2Keys(w.mf, { prefix: `videos/${id}/chunks/` });
    assert.equal(chunks.length, 1, `only the first part is kept: ${chunks}`);
    assert.deepEqual(await r2Keys(w.mf, { prefix: "incoming/" }), []);
    const fits = await sendChunk(w.mf, t.token, { data: random(10), filename: "p.mp4", videoId: id, range: "part 2/2" });
    assert.equal(fits.status, 201, fits.text);
    assert.equal((await getVideo(w.mf, id)).json.ingest.filesize, limit);
  });

  test("two parts sent at once that together exceed it are never both kept", async () => {
    const t = await create({ maxFileSize: 2 * MIN_PART + 10 });
    const first = await sendChunk(w.mf, t.token, { data: random(MIN_PART), filename: "q.mp4", range: "part 1/3" });
    const id = first.json.videoId;
    const [a, b] = await Promise.all([
      sendChunk(w.mf, t.token, { data: random(MIN_PART), filename: "q.mp4", videoId: id, range: "part 2/3" }),
      sendChunk(w.mf, t.token, { data: random(MIN_PART), filename: "q.mp4", videoId: id, range: "part 3/3" }),
    ]);
    assert.ok(!(a.status === 201 && b.status === 201), `${a.status} ${a.text} / ${b.status} ${b.text}`);
    for (const r of [a, b]) if (r.status !== 201) assertRefused(r, 413, "upload-token-max-file-size-exceeded", "*");
    const video = await getVideo(w.mf, id);
    assert.ok(video.json.ingest.receivedBytesTotal <= 2 * MIN_PART + 10, JSON.stringify(video.json.ingest));
    assert.equal(video.json.ingest.status, "uploading");
  });
});

describe("allowedOrigins", () => {
  test("an upload without Origin or from another origin gets a 403; from an allowed one, 201; CORS names the origin", async () => {
    const t = await create({ allowedOrigins: [APP, "http://localhost:8080"] });
    const before = await r2Snapshot(w.mf);
    const none = await whole(t.token);
    assertRefused(none, 403, "upload-token-origin-not-allowed", null, "no Origin");
    assert.equal(none.json.name, "Origin");
    assert.equal(none.headers.get("vary"), "Origin");
    for (const origin of ["https://evil.example", "http://app.example.com", "https://app.example.com:8443"]) {
      const res = await whole(t.token, { origin });
      assertRefused(res, 403, "upload-token-origin-not-allowed", origin, origin);
      assert.equal(res.headers.get("vary"), "Origin");
    }
    assert.deepEqual(await r2Snapshot(w.mf), before, "nothing stored");
    for (const origin of [APP, "http://localhost:8080"]) {
      const ok = await whole(t.token, { origin });
      assert.equal(ok.status, 201, ok.text);
      assert.equal(ok.headers.get("access-control-allow-origin"), origin);
      assert.equal(ok.headers.get("vary"), "Origin");
    }
    const bad = await sendChunk(w.mf, t.token, { data: random(3), range: "part 0/1", headers: { Origin: APP } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get("access-control-allow-origin"), APP, "every answer for the token names the origin");
    const preflight = await w.mf.dispatchFetch(`http://localhost/upload?token=${t.token}`, {
      method: "OPTIONS",
      headers: { Origin: APP, "Access-Control-Request-Method": "POST" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*", "a preflight carries no token");
  });
});

describe("metadata", () => {
  test("is copied onto every video the token creates", async () => {
    const metadata = [{ key: "user", value: "u-7" }, { key: "lesson", value: "intro à Rust" }];
    const t = await create({ metadata });
    const res = await whole(t.token);
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json.metadata, metadata);
    assert.deepEqual((await getVideo(w.mf, res.json.videoId)).json.metadata, metadata);
  });

  test("GET /upload-tokens?metadata[key]=value lists only tokens carrying every pair, in order, with exact totals and links that keep the filter", async () => {
    const made = { u1: [], u2: [] };
    for (let i = 0; i < 7; i++) {
      const user = i % 2 ? "u2" : "u1";
      const plan = i < 3 ? "pro" : "free";
      made[user].push(await create({ metadata: [{ key: "owner", value: user }, { key: "plan", value: plan }] }));
    }
    // The listing's order: creation, then token id (several are made in the same second).
    const ascending = (list) =>
      [...list].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || (a.token < b.token ? -1 : 1)).map((t) => t.token);
    const u1 = ascending(made.u1);
    const u1Pro = ascending(made.u1.filter((t) => t.metadata[1].value === "pro"));
    await create({ metadata: [{ key: "owner", value: "u1" }] }, "beta");
    const page1 = await w.call("GET", "/upload-tokens?metadata[owner]=u1&sortOrder=asc&pageSize=3");
    assert.equal(page1.status, 200, page1.text);
    assert.deepEqual(page1.json.data.map((t) => t.token), u1.slice(0, 3));
    assert.equal(page1.json.pagination.itemsTotal, 4);
    assert.equal(page1.json.pagination.pagesTotal, 2);
    const next = page1.json.pagination.links.find((l) => l.rel === "next").uri;
    assert.equal(next, "/upload-tokens?sortOrder=asc&metadata%5Bowner%5D=u1&currentPage=2&pageSize=3");
    const page2 = await w.call("GET", next);
    assert.deepEqual(page2.json.data.map((t) => t.token), u1.slice(3));
    const both = await w.call("GET", "/upload-tokens?metadata[owner]=u1&metadata[plan]=pro");
    assert.deepEqual(both.json.data.map((t) => t.token), u1Pro.reverse());
    assert.equal(u1Pro.length, 2);
    const none = await w.call("GET", "/upload-tokens?metadata[owner]=nobody");
    assert.deepEqual([none.json.data, none.json.pagination.itemsTotal], [[], 0]);
    for (const query of ["metadata=u1", "metadata[]=u1", "metadata[owner=u1", "metadata[owner]=a&metadata[owner]=b"]) {
      const res = await w.call("GET", `/upload-tokens?${query}`);
      assertProblem(res, 400, { type: `${REF}request-invalid-query-parameter`, name: "metadata" }, query);
    }
  });

  test("revoking every token of one user: list by metadata, delete each; their uploads are refused at once", async () => {
    const N = 40;
    const theirs = [];
    for (let i = 0; i < N; i++) theirs.push((await create({ metadata: [{ key: "user", value: "leaver" }] })).token);
    const others = (await create({ metadata: [{ key: "user", value: "stayer" }] })).token;
    const started = performance.now();
    let requests = 0;
    for (;;) {
      const page = await w.call("GET", "/upload-tokens?metadata[user]=leaver&pageSize=100");
      requests++;
      if (page.json.data.length === 0) break;
      const deleted = await Promise.all(page.json.data.map((t) => w.call("DELETE", `/upload-tokens/${t.token}`)));
      requests += deleted.length;
      assert.ok(deleted.every((r) => r.status === 204));
    }
    const ms = performance.now() - started;
    console.log(`revoked ${N} tokens of one user in ${ms.toFixed(0)} ms with ${requests} requests (Miniflare)`);
    for (const t of theirs.slice(0, 5)) assert.equal((await whole(t)).status, 401);
    assert.equal((await whole(others)).status, 201);
  });
});
