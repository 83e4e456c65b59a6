// The project index (one Durable Object per project) behind the real Worker in Miniflare:
// revocation that holds at once for uploads in progress, before and after the token's
// expiry; the import of the earlier KV layout; and exact listings under concurrent writes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, authOf, KEYS } from "./support/miniflare.mjs";
import { create, list, secs, sleepUntil } from "./support/mf-helpers.mjs";
import { MIN_PART, assertUploadProblem, assertVideoAnswer, r2Keys, random, sendChunk, getVideo } from "./support/upload-helpers.mjs";

const MIGRATED_KEY = "migrated-test-key-0000000001";
let w;
before(async () => {
  w = await startWorker({
    vars: { API_KEYS: `alpha:${KEYS.alpha},beta:${KEYS.beta},migrated:${MIGRATED_KEY}` },
  });
});
after(() => w?.dispose());

/** Every page of a listing in one order, as sent. */
async function allPages(auth, sortBy, sortOrder, pageSize = 100) {
  const pages = [];
  for (let page = 1; ; page++) {
    const res = await list(w, `sortBy=${sortBy}&sortOrder=${sortOrder}&currentPage=${page}&pageSize=${pageSize}`, auth);
    assert.equal(res.status, 200, res.text);
    pages.push(res.json);
    if (page >= res.json.pagination.pagesTotal) return pages;
  }
}

/** Opens a two-part upload with `token`: the first 5 MiB part, answered 201. */
async function openUpload(token) {
  const res = await sendChunk(w.mf, token, { data: random(MIN_PART), filename: "two.mp4", range: "part 1/2" });
  return assertVideoAnswer(res, { title: "two.mp4" }, "part 1");
}

async function deleteToken(token) {
  const del = await w.call("DELETE", `/upload-tokens/${token}`);
  assert.equal(del.status, 204, del.text);
}

test("after a 204 delete the token uploads nothing, not even the rest of an upload it opened", async () => {
  const t = await create(w, 3600);
  const videoId = await openUpload(t.token);
  const stored = await r2Keys(w.mf, { videoId });
  await deleteToken(t.token);
  for (const videoIdField of [videoId, undefined]) {
    const res = await sendChunk(w.mf, t.token, { data: random(10), filename: "two.mp4", range: "part 2/2", videoId: videoIdField });
    assertUploadProblem(res, 401, "authentication-invalid-upload-token", `part 2, videoId ${videoIdField}`);
  }
  const fresh = await sendChunk(w.mf, t.token, { data: random(10), filename: "new.mp4" });
  assertUploadProblem(fresh, 401, "authentication-invalid-upload-token", "a new upload");
  assert.deepEqual(await r2Keys(w.mf, { videoId }), stored, "nothing of the refused chunks was kept");
  assert.equal((await getVideo(w.mf, videoId)).json.ingest.status, "uploading");
});

test("a token deleted before its expiry is still refused after it: only an expired, undeleted token finishes its upload", async () => {
  // Several seconds of room: both first parts must go in before expiry on a loaded machine too.
  const deleted = await create(w, 12);
  const kept = await create(w, 12);
  const deletedVideo = await openUpload(deleted.token);
  const keptVideo = await openUpload(kept.token);
  await deleteToken(deleted.token);
  // Both past their expiresAt (with room), so both look alike to KV.
  await sleepUntil(Math.max(secs(deleted.expiresAt), secs(kept.expiresAt)) * 1000 + 300);
  for (const videoId of [deletedVideo, undefined]) {
    const res = await sendChunk(w.mf, deleted.token, { data: random(10), filename: "two.mp4", range: "part 2/2", videoId });
    assertUploadProblem(res, 401, "authentication-invalid-upload-token", `deleted, videoId ${videoId}`);
  }
  const done = await sendChunk(w.mf, kept.token, { data: random(10), filename: "two.mp4", range: "part 2/2", videoId: keptVideo });
  assertVideoAnswer(done, { videoId: keptVideo }, "expired, not deleted");
  assert.equal((await getVideo(w.mf, keptVideo)).json.ingest.status, "uploaded");
  assert.equal((await getVideo(w.mf, deletedVideo)).json.ingest.status, "uploading");
});

test("the earlier KV layout is imported on the project's first use: 1,150 tokens, every page in both orders, no gap or duplicate", async () => {
  // Written as versions before the project index wrote them: a record and an index entry each.
  const now = Math.floor(Date.now() / 1000);
  const made = [];
  for (let i = 0; i < 1150; i++) {
    const token = "to" + String(i).padStart(8, "0") + "Legacy" + "x".repeat(8);
    const createdAt = now - 5000 + Math.floor(i / 3); // three per second: ties on createdAt
    const ttl = i % 4 === 0 ? 0 : 86400 + (i % 7);
    made.push(token);
    const expiration = ttl ? { expirationTtl: ttl } : {};
    await w.kv.put(`tok:${token}`, JSON.stringify({ project: "migrated", ttl, createdAt }), expiration);
    await w.kv.put(`idx:migrated:${String(createdAt).padStart(10, "0")}:${token}`, "", { ...expiration, metadata: `${createdAt},${ttl}` });
  }
  const auth = MIGRATED_KEY;
  for (const sortBy of ["createdAt", "ttl"]) {
    const asc = (await allPages(auth, sortBy, "asc")).flatMap((p) => p.data.map((t) => t.token));
    const desc = (await allPages(auth, sortBy, "desc")).flatMap((p) => p.data.map((t) => t.token));
    assert.equal(asc.length, 1150, `${sortBy} asc`);
    assert.equal(new Set(asc).size, 1150, `${sortBy}: no duplicate`);
    assert.deepEqual([...asc].sort(), [...made].sort(), `${sortBy}: every token, no other`);
    assert.deepEqual(desc, [...asc].reverse(), `${sortBy}: desc is the exact reverse of asc`);
  }
  // createdAt ascending: the i-th token written is the i-th listed (ids rise with i within a second).
  const byCreation = (await allPages(auth, "createdAt", "asc")).flatMap((p) => p.data.map((t) => t.token));
  assert.deepEqual(byCreation, made);
  const first = (await allPages(auth, "createdAt", "asc", 25))[0];
  assert.equal(first.pagination.itemsTotal, 1150);
  assert.equal(first.pagination.pagesTotal, 46);
  // Imported tokens are the index's from now on: deleting one revokes it.
  await w.call("DELETE", `/upload-tokens/${made[0]}`, { auth: authOf(auth) });
  const res = await sendChunk(w.mf, made[0], { data: random(10) });
  assertUploadProblem(res, 401, "authentication-invalid-upload-token", "deleted after import");
  assert.equal((await list(w, "pageSize=1", auth)).json.pagination.itemsTotal, 1149);
  const live = await sendChunk(w.mf, made[1], { data: random(10), filename: "one.mp4" });
  assertVideoAnswer(live, { title: "one.mp4" }, "an imported token uploads");
});

test("concurrent creates and deletes leave the listing exact", async () => {
  const first = await Promise.all(Array.from({ length: 40 }, (_, i) => create(w, i % 2 ? 0 : 3600, "beta")));
  const gone = first.filter((_, i) => i % 3 === 0).map((t) => t.token);
  const [more] = await Promise.all([
    Promise.all(Array.from({ length: 40 }, () => create(w, 600, "beta"))),
    Promise.all(gone.map((token) => w.call("DELETE", `/upload-tokens/${token}`, { auth: "beta" }).then((r) => assert.equal(r.status, 204)))),
  ]);
  const expected = [...first.map((t) => t.token).filter((t) => !gone.includes(t)), ...more.map((t) => t.token)].sort();
  const pages = await allPages("beta", "createdAt", "desc", 7);
  const listed = pages.flatMap((p) => p.data.map((t) => t.token));
  assert.deepEqual([...listed].sort(), expected);
  assert.equal(listed.length, new Set(listed).size);
  assert.equal(pages[0].pagination.itemsTotal, expected.length);
  assert.equal(pages[0].pagination.pagesTotal, Math.ceil(expected.length / 7));
});
