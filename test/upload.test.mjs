// Delegated upload (`POST /upload?token=`) into R2, on the real Worker in Miniflare: whole files,
// numbered, progressive and byte-range chunks, correlation of chunks sent without videoId,
// assembly, the upload status, parts sent again (with the same bytes or not), every refusal,
// tokens, projects, CORS, the rate limit and the cleanup of abandoned uploads.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { basic, multipart } from "./support/http.mjs";
import { startWorker, KEYS } from "./support/miniflare.mjs";
import { ABSENT_ID, TOO_MANY, create, sleep, sleepUntil, freshSecond, secs } from "./support/mf-helpers.mjs";
import {
  MiB,
  MIN_PART,
  assertUploadProblem,
  assertVideoAnswer,
  assertVideoShape,
  VIDEO_FIELDS,
  getSource,
  getVideo,
  r2Keys,
  r2Snapshot,
  random,
  rawUpload,
  sendChunk,
  sha256,
} from "./support/upload-helpers.mjs";

/** The Worker of the current group of tests. */
let w;
let mf;

/** Runs the tests of `fn` on a Worker of their own, so that R2 holds only what they store. */
function group(name, fn) {
  describe(name, () => {
    before(async () => {
      w = await startWorker();
      mf = w.mf;
    });
    after(() => w?.dispose());
    fn();
  });
}

/** A fresh token of `project` (ttl 0 unless given). */
const newToken = async (ttl = 0, project = "alpha") => (await create(w, ttl, project)).token;

/** Splits `data` at the given sizes. */
function split(data, sizes) {
  const out = [];
  let at = 0;
  for (const n of sizes) {
    out.push(data.subarray(at, at + n));
    at += n;
  }
  assert.equal(at, data.length, "the sizes cover the data");
  return out;
}

/** `GET /videos/{id}` answers 200 with the Video and returns its `ingest`. */
async function ingestOf(id, what = "") {
  const res = await getVideo(mf, id);
  assert.equal(res.status, 200, `${what} GET /videos/${id}: ${res.text}`);
  assert.equal(res.headers.get("content-type"), "application/json", what);
  assert.deepEqual(Object.keys(res.json).sort(), [...VIDEO_FIELDS, "ingest"].sort(), what);
  assertVideoShape(res.json, what);
  assert.equal(res.json.videoId, id, what);
  return res.json.ingest;
}

/** The source of `id` is exactly `data`, typed `type`. */
async function assertSource(id, data, type, what = "") {
  const res = await getSource(mf, id);
  assert.equal(res.status, 200, `${what} source: ${res.text}`);
  assert.equal(res.bytes.length, data.length, `${what} source size`);
  assert.equal(sha256(res.bytes), sha256(data), `${what} source SHA-256`);
  if (type) assert.equal(res.headers.get("content-type"), type, `${what} source Content-Type`);
  assert.equal(res.headers.get("content-length"), String(data.length), `${what} source Content-Length`);
}

/** The `ingest` of an upload of `data` completed in numbered parts 1 to `n`. */
const uploadedInParts = (data, n) => ({
  status: "uploaded",
  mode: "part",
  receivedBytesTotal: data.length,
  filesize: data.length,
  receivedParts: { parts: Array.from({ length: n }, (_, i) => i + 1), total: n },
});

/** Assembled: `id` serves exactly `data` typed `type`, and R2 keeps nothing else of its upload. */
async function assertAssembled(id, token, data, type, what) {
  await assertSource(id, data, type, what);
  await assertOnlyRecordAndSource(id, token, what);
}

/** Once assembled, a video keeps only its record and its source in R2. */
async function assertOnlyRecordAndSource(id, token, what = "") {
  assert.deepEqual(await r2Keys(mf, { videoId: id }), [`videos/${id}/meta.json`, `videos/${id}/source`], what);
  assert.deepEqual(await r2Keys(mf, { prefix: `pending/${id}` }), [], `${what}: no pending marker`);
  if (token) assert.deepEqual(await r2Keys(mf, { prefix: `open/${token}/` }), [], `${what}: no open upload of the token`);
}

/** Runs `fn` (a refused request) and checks that R2 is the same afterwards. */
async function storesNothing(fn) {
  const before = await r2Snapshot(mf);
  const res = await fn();
  assert.deepEqual(await r2Snapshot(mf), before, `nothing stored by a refused request (${res.status} ${res.text})`);
  return res;
}

group("preflight and accepted uploads", () => {
  // ---------------------------------------------------------------------------------------------
  // CORS preflight

  test("OPTIONS /upload answers the preflight with 204 and CORS headers, with or without a token", async () => {
    for (const query of ["", "?token=nonsense"]) {
      const res = await rawUpload(mf, query, {
        method: "OPTIONS",
        headers: {
          Origin: "http://localhost:8801",
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "av-origin-client,content-range",
        },
      });
      const what = `OPTIONS /upload${query}`;
      assert.equal(res.status, 204, `${what}: ${res.text}`);
      assert.equal(res.text, "", what);
      assert.equal(res.headers.get("access-control-allow-origin"), "*", what);
      const methods = (res.headers.get("access-control-allow-methods") ?? "").split(",").map((s) => s.trim().toUpperCase());
      assert.ok(methods.includes("POST"), `${what}: methods ${methods}`);
      const allowed = (res.headers.get("access-control-allow-headers") ?? "").split(",").map((s) => s.trim().toLowerCase());
      for (const h of ["content-range", "av-origin-client", "content-type"]) assert.ok(allowed.includes(h), `${what}: ${h} in ${allowed}`);
      assert.match(res.headers.get("access-control-max-age") ?? "", /^[1-9]\d*$/, `${what}: Max-Age`);
    }
  });

  // ---------------------------------------------------------------------------------------------
  // Accepted uploads

  test("a whole file without Content-Range: 201 Video titled with the file name, one object in R2, streamed back unchanged", async () => {
    const token = await newToken();
    const data = random(300 * 1024 + 7);
    const res = await sendChunk(mf, token, { data, filename: "holiday.mp4" });
    const id = assertVideoAnswer(res, { title: "holiday.mp4" }, "whole file");
    const v = res.json;
    assert.equal(v.createdAt, v.publishedAt);
    assert.deepEqual(v.tags, []);
    assert.deepEqual(v.metadata, []);
    await assertOnlyRecordAndSource(id, token, "whole file");

    const ingest = await ingestOf(id, "whole file");
    assert.deepEqual(ingest, { status: "uploaded", mode: "whole", receivedBytesTotal: data.length, filesize: data.length });
    const again = await getVideo(mf, id);
    assert.equal(again.json.title, "holiday.mp4");
    assert.equal(again.json.createdAt, v.createdAt);
    await assertSource(id, data, "video/mp4", "whole file");
  });

  test("the file part is taken whatever its field name (Node sends the base name), and its type is kept", async () => {
    const token = await newToken();
    const data = random(64 * 1024);
    const res = await sendChunk(mf, token, { data, filename: "clip.mp4", field: "clip.mp4" });
    const id = assertVideoAnswer(res, { title: "clip.mp4" }, "field clip.mp4");
    await assertSource(id, data, "video/mp4", "field clip.mp4");

    const webm = random(1000);
    const res2 = await sendChunk(mf, token, { data: webm, filename: "take 2.bin", field: "video", type: "video/webm" });
    const id2 = assertVideoAnswer(res2, { title: "take 2.bin" }, "field video");
    assert.notEqual(id2, id);
    await assertSource(id2, webm, "video/webm", "declared type");
  });

  test("part n/N without videoId on later chunks (Node, Python, Go): 5 + 5 + 1 MiB join the first chunk's video and are assembled", async () => {
    const token = await newToken();
    const data = random(11 * MiB);
    const [c1, c2, c3] = split(data, [MIN_PART, MIN_PART, MiB]);
    const first = await sendChunk(mf, token, { data: c1, filename: "sample.mp4", field: "sample.mp4", range: "part 1/3" });
    const id = assertVideoAnswer(first, { title: "sample.mp4" }, "part 1/3");
    assert.deepEqual(await ingestOf(id, "after part 1"), {
      status: "uploading",
      mode: "part",
      receivedBytesTotal: MIN_PART,
      receivedParts: { parts: [1], total: 3 },
    });
    assert.ok((await r2Keys(mf, { prefix: `pending/${id}` })).length === 1, "an unfinished upload is marked pending");
    assert.equal((await r2Keys(mf, { prefix: `videos/${id}/chunks/` })).length, 1, "one chunk stored");

    const second = await sendChunk(mf, token, { data: c2, filename: "sample.mp4", field: "sample.mp4", range: "part 2/3" });
    assertVideoAnswer(second, { title: "sample.mp4", videoId: id }, "part 2/3 without videoId");
    assert.deepEqual((await ingestOf(id, "after part 2")).receivedParts, { parts: [1, 2], total: 3 });

    const last = await sendChunk(mf, token, { data: c3, filename: "sample.mp4", field: "sample.mp4", range: "part 3/3" });
    assertVideoAnswer(last, { title: "sample.mp4", videoId: id }, "part 3/3 without videoId");
    assert.equal(last.json.createdAt, first.json.createdAt);
    assert.deepEqual(await ingestOf(id, "after part 3"), uploadedInParts(data, 3));
    await assertAssembled(id, token, data, "video/mp4", "part n/N");
  });

  test("parts out of order, videoId before or after the file; an identical part sent again is accepted and not stored twice", async () => {
    const token = await newToken();
    const data = random(11 * MiB);
    const [c1, c2, c3] = split(data, [MIN_PART, MIN_PART, MiB]);
    const r3 = await sendChunk(mf, token, { data: c3, filename: "out-of-order.mov", range: "part 3/3" });
    const id = assertVideoAnswer(r3, { title: "out-of-order.mov" }, "part 3/3 first");
    assert.deepEqual((await ingestOf(id, "after part 3")).receivedParts, { parts: [3], total: 3 });

    const r1 = await sendChunk(mf, token, { data: c1, filename: "out-of-order.mov", videoId: id, range: "part 1/3" });
    assertVideoAnswer(r1, { videoId: id }, "part 1/3 with videoId first");

    const snapshot = await r2Snapshot(mf);
    const again = await sendChunk(mf, token, { data: c1, filename: "out-of-order.mov", videoId: id, videoIdAfter: true, range: "part 1/3" });
    assertVideoAnswer(again, { videoId: id }, "part 1/3 sent again");
    assert.deepEqual(await r2Snapshot(mf), snapshot, "the repeated part is not stored again");
    const mid = await ingestOf(id, "after the repeat");
    assert.deepEqual(mid, { status: "uploading", mode: "part", receivedBytesTotal: MIN_PART + MiB, receivedParts: { parts: [1, 3], total: 3 } });

    const r2 = await sendChunk(mf, token, { data: c2, filename: "out-of-order.mov", videoId: id, videoIdAfter: true, range: "part 2/3" });
    assertVideoAnswer(r2, { videoId: id, title: "out-of-order.mov" }, "part 2/3 with videoId after");
    assert.equal((await ingestOf(id, "done")).status, "uploaded");
    await assertAssembled(id, token, data, "video/quicktime", "out of order");
  });

  test("progressive part n/* ending with part n/n, with unequal parts of 6, 7 and 1 MiB", async () => {
    const token = await newToken();
    const data = random(14 * MiB);
    const [c1, c2, c3] = split(data, [6 * MiB, 7 * MiB, MiB]);
    const r1 = await sendChunk(mf, token, { data: c1, filename: "live.webm", range: "part 1/*" });
    const id = assertVideoAnswer(r1, { title: "live.webm" }, "part 1/*");
    const early = await ingestOf(id, "after part 1/*");
    // The number of parts is not known yet: no total, the field left out.
    assert.deepEqual(early, { status: "uploading", mode: "part", receivedBytesTotal: 6 * MiB, receivedParts: { parts: [1] } });
    assert.equal("total" in early.receivedParts, false, JSON.stringify(early));
    const r2 = await sendChunk(mf, token, { data: c2, filename: "live.webm", range: "part 2/*" });
    assertVideoAnswer(r2, { videoId: id }, "part 2/* without videoId");
    const r3 = await sendChunk(mf, token, { data: c3, filename: "live.webm", videoId: id, range: "part 3/3" });
    assertVideoAnswer(r3, { videoId: id }, "part 3/3");
    assert.deepEqual(await ingestOf(id, "done"), uploadedInParts(data, 3));
    await assertAssembled(id, token, data, "video/webm", "progressive");
  });

  test("bytes a-b/total ranges in any order, the later ones without or with videoId, are assembled", async () => {
    const token = await newToken();
    const total = 11 * MiB;
    const data = random(total);
    const [c1, c2, c3] = split(data, [MIN_PART, MIN_PART, MiB]);
    const range = (from, chunk) => `bytes ${from}-${from + chunk.length - 1}/${total}`;
    const r2 = await sendChunk(mf, token, { data: c2, filename: "ranges.mp4", range: range(MIN_PART, c2) });
    const id = assertVideoAnswer(r2, { title: "ranges.mp4" }, "middle range first");
    const r3 = await sendChunk(mf, token, { data: c3, filename: "ranges.mp4", range: range(2 * MIN_PART, c3) });
    assertVideoAnswer(r3, { videoId: id }, "last range without videoId");
    assert.deepEqual(await ingestOf(id, "two ranges"), {
      status: "uploading",
      mode: "bytes",
      receivedBytesTotal: MIN_PART + MiB,
      receivedBytes: [
        { from: MIN_PART, to: 2 * MIN_PART - 1, total },
        { from: 2 * MIN_PART, to: total - 1, total },
      ],
    });
    const r1 = await sendChunk(mf, token, { data: c1, filename: "ranges.mp4", videoId: id, range: range(0, c1) });
    assertVideoAnswer(r1, { videoId: id }, "first range with videoId");
    assert.deepEqual(await ingestOf(id, "done"), {
      status: "uploaded",
      mode: "bytes",
      receivedBytesTotal: total,
      filesize: total,
      receivedBytes: [{ from: 0, to: total - 1, total }],
    });
    await assertAssembled(id, token, data, "video/mp4", "bytes");
  });

  test("parts sent at the same time are all assembled, whichever request stores the last one", async () => {
    // The last part first, then the three others at once: whichever finishes last completes
    // the set. Repeated, since which one that is varies from run to run.
    const token = await newToken();
    for (let trial = 1; trial <= 5; trial++) {
      const name = `concurrent-${trial}.mp4`;
      const data = random(3 * MIN_PART + 1000);
      const parts = split(data, [MIN_PART, MIN_PART, MIN_PART, 1000]);
      const id = assertVideoAnswer(await sendChunk(mf, token, { data: parts[3], filename: name, range: "part 4/4" }), {}, `trial ${trial} part 4`);
      const answers = await Promise.all(
        [1, 2, 3].map((n) => sendChunk(mf, token, { data: parts[n - 1], filename: name, videoId: id, range: `part ${n}/4` })),
      );
      answers.forEach((res, i) => assertVideoAnswer(res, { videoId: id }, `trial ${trial} part ${i + 1}`));
      // Whichever request stores the last part assembles the video before it answers.
      const ingest = await ingestOf(id, `trial ${trial}`);
      assert.equal(
        ingest.status,
        "uploaded",
        `trial ${trial}: every part was answered 201 but the video stays ${JSON.stringify(ingest)}`,
      );
      await assertSource(id, data, "video/mp4", `trial ${trial}`);
    }
  });

  test("a token is not consumed: it uploads several videos, and interleaved chunked uploads of different files stay apart", async () => {
    const token = await newToken(3600);
    const w1 = random(2000);
    const w2 = random(3000);
    const id1 = assertVideoAnswer(await sendChunk(mf, token, { data: w1, filename: "same.mp4" }), {}, "first whole upload");
    const id2 = assertVideoAnswer(await sendChunk(mf, token, { data: w2, filename: "same.mp4" }), {}, "second whole upload");
    assert.notEqual(id1, id2);
    await assertSource(id1, w1, null, "first");
    await assertSource(id2, w2, null, "second");

    const a = random(MIN_PART + 100);
    const b = random(MIN_PART + 200);
    const [a1, a2] = split(a, [MIN_PART, 100]);
    const [b1, b2] = split(b, [MIN_PART, 200]);
    const ra1 = await sendChunk(mf, token, { data: a1, filename: "a.mp4", range: "part 1/2" });
    const ida = assertVideoAnswer(ra1, { title: "a.mp4" }, "a part 1");
    const rb1 = await sendChunk(mf, token, { data: b1, filename: "b.mp4", range: "part 1/2" });
    const idb = assertVideoAnswer(rb1, { title: "b.mp4" }, "b part 1");
    assert.notEqual(ida, idb, "another file name opens another video");
    assertVideoAnswer(await sendChunk(mf, token, { data: b2, filename: "b.mp4", range: "part 2/2" }), { videoId: idb }, "b part 2");
    assertVideoAnswer(await sendChunk(mf, token, { data: a2, filename: "a.mp4", range: "part 2/2" }), { videoId: ida }, "a part 2");
    await assertSource(ida, a, null, "a");
    await assertSource(idb, b, null, "b");
    await assertOnlyRecordAndSource(ida, null, "a");
    await assertOnlyRecordAndSource(idb, token, "a and b");

    // Once a.mp4 is finished, the same name and total start a new video.
    const again = await sendChunk(mf, token, { data: random(100), filename: "a.mp4", range: "part 2/2" });
    const ida2 = assertVideoAnswer(again, { title: "a.mp4" }, "a.mp4 again");
    assert.notEqual(ida2, ida);
  });
});

group("refusals, tokens and projects", () => {
  // ---------------------------------------------------------------------------------------------
  // Refusals

  test("Content-Range refusals that need only the header and the chunk: 400, each with its type, nothing stored", async () => {
    const token = await newToken();
    const small = random(1024);
    const cases = [
      ["part", "video-content-range-malformed"],
      ["part a/2", "video-content-range-malformed"],
      ["part -1/2", "video-content-range-malformed"],
      ["parts 1/2", "video-content-range-malformed"],
      ["bytes 0-1023", "video-content-range-malformed"],
      ["bytes */1024", "video-content-range-malformed"],
      ["part 0/2", "video-content-range-by-part-part-zero"],
      ["part 0/*", "video-content-range-by-part-part-zero"],
      ["part 1/0", "video-content-range-by-part-total-parts-zero"],
      ["part 3/2", "video-content-range-by-part-part-too-high-total"],
      ["part 1/10001", "video-content-range-by-part-total-parts-too-high"],
      ["part 10001/*", "video-content-range-by-part-part-too-high-allowed"],
      ["part 1/2", "video-content-range-by-part-uploaded-file-too-small"],
      ["part 1/*", "video-content-range-by-part-uploaded-file-too-small"],
      ["part 9999/10000", "video-content-range-by-part-uploaded-file-too-small"],
      ["bytes 0-2047/4096", "video-content-range-by-bytes-range-mismatch"],
      ["bytes 0-511/1024", "video-content-range-by-bytes-range-mismatch"],
      ["bytes 0-1023/4096", "video-content-range-by-bytes-range-too-small"],
      ["bytes 0-1023/1000", "video-content-range-by-bytes-to-byte-too-high-total"],
      ["bytes 1024-1023/4096", "video-content-range-by-bytes-from-byte-too-high"],
      ["bytes 0-0/0", "video-content-range-by-bytes-total-bytes-zero"],
    ];
    for (const [range, slug] of cases) {
      const res = await storesNothing(() => sendChunk(mf, token, { data: small, range }));
      assertUploadProblem(res, 400, slug, `Content-Range: ${range}`);
    }
    // A non-last part one byte short of 5 MiB is refused; the same rule for byte ranges.
    const short = random(MIN_PART - 1);
    assertUploadProblem(
      await storesNothing(() => sendChunk(mf, token, { data: short, range: "part 1/2" })),
      400,
      "video-content-range-by-part-uploaded-file-too-small",
      "part 1/2 of 5 MiB - 1",
    );
    assertUploadProblem(
      await storesNothing(() => sendChunk(mf, token, { data: short, range: `bytes 0-${MIN_PART - 2}/${2 * MIN_PART}` })),
      400,
      "video-content-range-by-bytes-range-too-small",
      "range of 5 MiB - 1",
    );
    assert.deepEqual(await r2Keys(mf, { prefix: `open/${token}/` }), []);
  });

  test("body refusals: empty file, two files, no file, not multipart", async () => {
    const token = await newToken();
    const url = `?token=${token}`;
    const file = (name) => ({ data: random(100), filename: name });
    const forms = [
      [[["file", { data: Buffer.alloc(0), filename: "empty.mp4" }]], {}, "uploaded-file-empty"],
      [[["file", { data: Buffer.alloc(0), filename: "empty.mp4" }]], { range: "part 1/1" }, "uploaded-file-empty"],
      [[["file", file("a.mp4")], ["file", file("b.mp4")]], {}, "uploaded-file-multiple-files"],
      [[["a", file("a.mp4")], ["videoId", "vi0000000000000000000000"], ["b", file("b.mp4")]], {}, "uploaded-file-multiple-files"],
      [[["videoId", "vi0000000000000000000000"]], {}, "uploaded-file-no-file"],
      [[["file", "not a file"]], {}, "uploaded-file-no-file"],
      [[["title", "nothing else"]], { range: "part 1/1" }, "uploaded-file-no-file"],
    ];
    for (const [fields, opts, slug] of forms) {
      const res = await storesNothing(() => sendChunk(mf, token, { fields, ...opts }));
      assertUploadProblem(res, 400, slug, `form ${JSON.stringify(fields.map(([n]) => n))}`);
    }
    const { body: valid } = await multipart([["file", file("x.mp4")]]);
    const bodies = [
      [{ "Content-Type": "application/json" }, JSON.stringify({ file: "x" })],
      [{ "Content-Type": "application/octet-stream" }, random(100)],
      [{ "Content-Type": "text/plain" }, "hello"],
      [{}, undefined],
      [{ "Content-Type": "multipart/form-data; boundary=nothing-like-this" }, valid],
      [{ "Content-Type": "multipart/form-data" }, valid],
    ];
    for (const [headers, body] of bodies) {
      const res = await storesNothing(() => rawUpload(mf, url, { headers, body }));
      assertUploadProblem(res, 400, "uploaded-file-invalid-file", `body typed ${headers["Content-Type"]}`);
    }
  });

  // ---------------------------------------------------------------------------------------------
  // Tokens

  const INVALID_TOKEN = "authentication-invalid-upload-token";

  test("a missing, empty, unknown or malformed token is refused with 401 before anything else, and nothing is stored", async () => {
    const data = random(2048);
    for (const token of [null, "", ABSENT_ID, "abc", "to123", `${ABSENT_ID}x`, "vi" + ABSENT_ID.slice(2)]) {
      const res = await storesNothing(() => sendChunk(mf, token, { data }));
      assertUploadProblem(res, 401, INVALID_TOKEN, `token ${JSON.stringify(token)}`);
    }
    // The token is checked before the Content-Range and the body.
    for (const token of [null, ABSENT_ID, "abc"]) {
      for (const range of ["part 1/2", "garbage"]) {
        const res = await storesNothing(() => sendChunk(mf, token, { data, range }));
        assertUploadProblem(res, 401, INVALID_TOKEN, `token ${JSON.stringify(token)}, range ${range}`);
      }
      const notForm = await storesNothing(() =>
        rawUpload(mf, token === null ? "" : `?token=${token}`, { headers: { "Content-Type": "text/plain" }, body: "x" }),
      );
      assertUploadProblem(notForm, 401, INVALID_TOKEN, `token ${JSON.stringify(token)}, not multipart`);
    }
    // A refused token is a 401 whatever videoId comes with it.
    for (const videoId of ["vi" + "0".repeat(22), "not-a-video-id", ""]) {
      for (const token of [null, ABSENT_ID]) {
        const res = await storesNothing(() => sendChunk(mf, token, { data, videoId, range: "part 2/2" }));
        assertUploadProblem(res, 401, INVALID_TOKEN, `token ${JSON.stringify(token)}, videoId ${JSON.stringify(videoId)}`);
      }
    }
    // The token goes in the query: an API key does not stand in for it.
    const withKey = await storesNothing(() => sendChunk(mf, null, { data, headers: { Authorization: basic(KEYS.alpha) } }));
    assertUploadProblem(withKey, 401, INVALID_TOKEN, "API key instead of a token");
  });

  test("refusals that depend on the chunks already sent: different total, same part with another size, mixed modes, already initiated", async () => {
    const token = await newToken();
    const part1 = random(MIN_PART);
    const id = assertVideoAnswer(await sendChunk(mf, token, { data: part1, filename: "p.mp4", range: "part 1/3" }), {}, "part 1/3");
    const five = random(MIN_PART);
    const cases = [
      [{ data: five, range: "part 2/4" }, "video-content-range-by-part-different-total-parts"],
      [{ data: five, range: "part 2/2" }, "video-content-range-by-part-different-total-parts"],
      [{ data: random(MIN_PART + 1), range: "part 1/3" }, "video-content-range-by-part-part-already-sent"],
      [{ data: random(MIN_PART + 2), range: "part 1/*" }, "video-content-range-by-part-part-already-sent"],
      [{ data: five, range: `bytes ${MIN_PART}-${2 * MIN_PART - 1}/${3 * MIN_PART}` }, "video-content-range-started-with-part"],
      [{ data: five }, "video-content-range-already-initiated"],
    ];
    for (const [opts, slug] of cases) {
      const res = await storesNothing(() => sendChunk(mf, token, { filename: "p.mp4", videoId: id, ...opts }));
      assertUploadProblem(res, 400, slug, `part upload + ${opts.range ?? "no Content-Range"}`);
    }
    assert.deepEqual((await ingestOf(id, "part upload after refusals")).receivedParts, { parts: [1], total: 3 });

    const total = 3 * MIN_PART;
    const bytes1 = random(MIN_PART);
    const bid = assertVideoAnswer(
      await sendChunk(mf, token, { data: bytes1, filename: "b.mp4", range: `bytes 0-${MIN_PART - 1}/${total}` }),
      {},
      "first range",
    );
    const bcases = [
      [{ data: five, range: "part 2/3" }, "video-content-range-started-with-bytes"],
      [{ data: five, range: `bytes ${MIN_PART}-${2 * MIN_PART - 1}/${total + 1}` }, "video-content-range-by-bytes-different-total-bytes"],
      [{ data: five, range: `bytes ${MIN_PART - 1}-${2 * MIN_PART - 2}/${total}` }, "video-content-range-by-bytes-range-overlap"],
      [{ data: random(2 * MIN_PART), range: `bytes 0-${2 * MIN_PART - 1}/${total}` }, "video-content-range-by-bytes-range-overlap"],
      [{ data: five }, "video-content-range-already-initiated"],
    ];
    for (const [opts, slug] of bcases) {
      const res = await storesNothing(() => sendChunk(mf, token, { filename: "b.mp4", videoId: bid, ...opts }));
      assertUploadProblem(res, 400, slug, `bytes upload + ${opts.range ?? "no Content-Range"}`);
    }
    assert.deepEqual((await ingestOf(bid, "bytes upload after refusals")).receivedBytes, [{ from: 0, to: MIN_PART - 1, total }]);
  });

  test("a part sent again is accepted only with the same bytes, judged by the SHA-256 taken while staging; other bytes: 400, nothing stored", async () => {
    const token = await newToken();
    const data = random(MIN_PART + 1000);
    const [p1, p2] = split(data, [MIN_PART, 1000]);
    const id = assertVideoAnswer(await sendChunk(mf, token, { data: p1, filename: "d.mp4", range: "part 1/2" }), {}, "part 1/2");
    const bucket = await mf.getR2Bucket("VIDEOS");
    // The chunk is stored with the digest the runtime took while the body was read.
    const chunk = await bucket.head(`videos/${id}/chunks/${"1".padStart(20, "0")}`);
    assert.equal(chunk?.customMetadata?.sha256, sha256(p1), "the chunk's digest");

    const sizeRefusal = await storesNothing(() => sendChunk(mf, token, { data: Buffer.concat([p1, Buffer.from("x")]), filename: "d.mp4", videoId: id, range: "part 1/2" }));
    assertUploadProblem(sizeRefusal, 400, "video-content-range-by-part-part-already-sent", "part 1, another size");
    for (const at of [0, MIN_PART - 1]) {
      const other = Buffer.from(p1);
      other[at] ^= 1;
      const res = await storesNothing(() => sendChunk(mf, token, { data: other, filename: "d.mp4", videoId: id, range: "part 1/2" }));
      assertUploadProblem(res, 400, "video-content-range-by-part-part-already-sent", `part 1, byte ${at} changed`);
      assert.equal(res.text, sizeRefusal.text, "the same problem as for another size");
    }
    const again = await storesNothing(() => sendChunk(mf, token, { data: p1, filename: "d.mp4", videoId: id, range: "part 1/2" }));
    assertVideoAnswer(again, { videoId: id }, "part 1 again, the same bytes");

    assertVideoAnswer(await sendChunk(mf, token, { data: p2, filename: "d.mp4", videoId: id, range: "part 2/2" }), { videoId: id }, "part 2/2");
    assert.equal((await ingestOf(id, "finished")).status, "uploaded");
    const source = await bucket.head(`videos/${id}/source`);
    assert.equal(source?.customMetadata?.["last-sha256"], sha256(p2), "the source keeps its last part's digest");
    // The last part of the finished video again (a lost answer): only with its bytes.
    const otherLast = Buffer.from(p2);
    otherLast[500] ^= 1;
    const refused = await storesNothing(() => sendChunk(mf, token, { data: otherLast, filename: "d.mp4", videoId: id, range: "part 2/2" }));
    assertUploadProblem(refused, 400, "video-content-range-by-part-part-already-sent", "finished, last part with other bytes");
    assert.equal(refused.text, sizeRefusal.text);
    const lastAgain = await storesNothing(() => sendChunk(mf, token, { data: p2, filename: "d.mp4", videoId: id, range: "part 2/2" }));
    assertVideoAnswer(lastAgain, { videoId: id }, "finished, last part again");
    await assertSource(id, data, "video/mp4", "the bytes first sent");
  });

  test("a chunk onto a finished video is refused with video-source-already-uploaded", async () => {
    const token = await newToken();
    const whole = assertVideoAnswer(await sendChunk(mf, token, { data: random(500), filename: "w.mp4" }), {}, "whole");
    const parted = assertVideoAnswer(await sendChunk(mf, token, { data: random(500), filename: "p.mp4", range: "part 1/1" }), {}, "part 1/1");
    const ranged = assertVideoAnswer(await sendChunk(mf, token, { data: random(500), filename: "r.mp4", range: "bytes 0-499/500" }), {}, "bytes");
    for (const id of [whole, parted, ranged]) assert.equal((await ingestOf(id, id)).status, "uploaded");
    const cases = [
      [whole, { data: random(10) }],
      [whole, { data: random(10), range: "part 1/1" }],
      [whole, { data: random(10), range: "bytes 0-9/10" }],
      [parted, { data: random(10), range: "part 2/2" }],
      [parted, { data: random(10) }],
      [ranged, { data: random(10) }],
    ];
    for (const [id, opts] of cases) {
      const res = await storesNothing(() => sendChunk(mf, token, { videoId: id, ...opts }));
      assertUploadProblem(res, 400, "video-source-already-uploaded", `${id} + ${opts.range ?? "no Content-Range"}`);
    }
  });

  test("a deleted token is refused, also for the upload it started; an expired one is refused for new uploads but finishes its own", async () => {
    // Deleted, with and without an expiry.
    for (const ttl of [0, 3600]) {
      const token = await newToken(ttl);
      const data = random(MIN_PART + 10);
      const [c1, c2] = split(data, [MIN_PART, 10]);
      const id = assertVideoAnswer(await sendChunk(mf, token, { data: c1, filename: "d.mp4", range: "part 1/2" }), {}, `ttl ${ttl} part 1`);
      const del = await w.call("DELETE", `/upload-tokens/${token}`);
      assert.equal(del.status, 204, del.text);
      for (const opts of [{ videoId: id }, {}, { videoId: id, videoIdAfter: true }]) {
        const res = await storesNothing(() => sendChunk(mf, token, { data: c2, filename: "d.mp4", range: "part 2/2", ...opts }));
        assertUploadProblem(res, 401, INVALID_TOKEN, `deleted ttl ${ttl} token, part 2 ${JSON.stringify(opts)}`);
      }
      const fresh = await storesNothing(() => sendChunk(mf, token, { data: random(10), filename: "new.mp4" }));
      assertUploadProblem(fresh, 401, INVALID_TOKEN, `deleted ttl ${ttl} token, new upload`);
      assert.equal((await ingestOf(id, "deleted token's video")).status, "uploading");
    }

    // Expired: one upload resumed with videoId, one without (Node, Python, Go).
    // Several seconds of room: three 5 MiB chunks must go in before it expires, on a loaded
    // machine too.
    const token = await newToken(8);
    const other = await newToken();
    const t = (await w.call("GET", `/upload-tokens/${token}`)).json;
    const a = random(MIN_PART + 300);
    const b = random(MIN_PART + 400);
    const [a1, a2] = split(a, [MIN_PART, 300]);
    const [b1, b2] = split(b, [MIN_PART, 400]);
    const ida = assertVideoAnswer(await sendChunk(mf, token, { data: a1, filename: "a.mp4", range: "part 1/2" }), {}, "a part 1");
    const idb = assertVideoAnswer(await sendChunk(mf, token, { data: b1, filename: "b.mp4", range: "part 1/2" }), {}, "b part 1");
    const ido = assertVideoAnswer(await sendChunk(mf, other, { data: a1, filename: "o.mp4", range: "part 1/2" }), {}, "other token's part 1");
    assert.ok(Date.now() < secs(t.expiresAt) * 1000, "the first chunks went in before the token expired");
    await sleepUntil(secs(t.expiresAt) * 1000 + 300);

    const fresh = await storesNothing(() => sendChunk(mf, token, { data: random(10), filename: "new.mp4" }));
    assertUploadProblem(fresh, 401, INVALID_TOKEN, "expired token, new whole upload");
    const freshPart = await storesNothing(() => sendChunk(mf, token, { data: random(MIN_PART), filename: "c.mp4", range: "part 1/2" }));
    assertUploadProblem(freshPart, 401, INVALID_TOKEN, "expired token, new chunked upload");
    const foreign = await storesNothing(() => sendChunk(mf, token, { data: a2, filename: "o.mp4", videoId: ido, range: "part 2/2" }));
    assertUploadProblem(foreign, 401, INVALID_TOKEN, "expired token, a video another token opened");

    assertVideoAnswer(await sendChunk(mf, token, { data: a2, filename: "a.mp4", videoId: ida, range: "part 2/2" }), { videoId: ida }, "expired token, a part 2 with videoId");
    assertVideoAnswer(await sendChunk(mf, token, { data: b2, filename: "b.mp4", range: "part 2/2" }), { videoId: idb }, "expired token, b part 2 without videoId");
    await assertSource(ida, a, null, "a finished after expiry");
    await assertSource(idb, b, null, "b finished after expiry");
    assert.equal((await ingestOf(ido, "other token's video")).status, "uploading");
  });

  // ---------------------------------------------------------------------------------------------
  // Projects

  test("a videoId of another project is 404 for an upload; its video and source are 404 to other projects and 401 without a key", async () => {
    const betaToken = await newToken(0, "beta");
    const alphaToken = await newToken();
    const data = random(MIN_PART);
    const finished = assertVideoAnswer(await sendChunk(mf, betaToken, { data: random(700), filename: "beta.mp4" }), {}, "beta whole");
    const open = assertVideoAnswer(await sendChunk(mf, betaToken, { data, filename: "beta-open.mp4", range: "part 1/2" }), {}, "beta part 1");

    for (const [id, opts] of [
      [finished, { data: random(10) }],
      [finished, { data: random(10), range: "part 1/1" }],
      [open, { data: random(10), range: "part 2/2" }],
      [open, { data: random(10), range: "part 2/2", videoIdAfter: true }],
      ["vi" + "0".repeat(22), { data: random(10) }],
    ]) {
      const res = await storesNothing(() => sendChunk(mf, alphaToken, { videoId: id, ...opts }));
      assertUploadProblem(res, 404, "resource-not-found", `alpha token, videoId ${id}`);
      assert.equal(res.json.name, "videoId");
    }
    // Without videoId the same name and total do not reach beta's open upload either.
    const own = assertVideoAnswer(await sendChunk(mf, alphaToken, { data: random(10), filename: "beta-open.mp4", range: "part 2/2" }), {}, "alpha, same name");
    assert.notEqual(own, open);

    for (const id of [finished, open]) {
      for (const path of [`/videos/${id}`, `/videos/${id}/source`]) {
        const other = await w.call("GET", path, { auth: "alpha" });
        assert.equal(other.status, 404, `alpha GET ${path}: ${other.text}`);
        assert.equal(other.json?.type, "https://docs.api.video/reference/resource-not-found");
        assert.equal(other.json?.name, "videoId");
        for (const auth of [null, basic("not-a-key"), "Bearer nonsense"]) {
          const res = await w.call("GET", path, { auth });
          assert.equal(res.status, 401, `${auth} GET ${path}: ${res.text}`);
        }
      }
      assert.equal((await getVideo(mf, id, "beta")).status, 200);
    }
    assert.equal((await getSource(mf, finished, "beta")).status, 200);
    const unfinished = await getSource(mf, open, "beta");
    assert.equal(unfinished.status, 404, "no source until the upload is finished");
  });
});

// ---------------------------------------------------------------------------------------------
// Rate limit (own Worker)

/** Waits, if needed, until the current window of `period` seconds has `roomMs` left. */
async function windowWithRoom(period, roomMs) {
  const ms = period * 1000;
  const left = ms - (Date.now() % ms);
  if (left < roomMs) await sleep(left + 20);
  return Math.floor(Date.now() / ms);
}

test("uploads count against the token's project limit; over it, 429 with CORS and X-RateLimit headers, nothing stored", async () => {
  const limited = await startWorker({ limits: { api: { limit: 4, period: 10 } } });
  try {
    const lmf = limited.mf;
    const beta = await limited.call("POST", "/upload-tokens", { auth: "beta", body: { ttl: 0 } });
    assert.equal(beta.status, 200, beta.text);
    const window = await windowWithRoom(10, 6000);
    const made = await limited.call("POST", "/upload-tokens", { body: { ttl: 0 } }); // 1
    assert.equal(made.status, 200, made.text);
    const token = made.json.token;
    const ok1 = await sendChunk(lmf, token, { data: random(100), filename: "1.mp4" }); // 2
    assertVideoAnswer(ok1, {}, "upload 2/4");
    assert.equal(ok1.headers.get("x-ratelimit-limit"), "4");
    const ok2 = await sendChunk(lmf, token, { data: random(100), filename: "2.mp4", range: "part 1/1" }); // 3
    assertVideoAnswer(ok2, {}, "upload 3/4");
    const listed = await limited.call("GET", "/upload-tokens"); // 4
    assert.equal(listed.status, 200, listed.text);

    const before = await r2Snapshot(lmf);
    for (const opts of [{ data: random(100), filename: "3.mp4" }, { data: random(100), videoId: ok1.json.videoId }]) {
      const res = await sendChunk(lmf, token, opts);
      assertUploadProblem(res, 429, "too-many-requests", "upload over the limit");
      assert.deepEqual(res.json, TOO_MANY);
      assert.equal(res.headers.get("x-ratelimit-limit"), "4");
      assert.equal(res.headers.get("x-ratelimit-retry-after"), "10");
      assert.equal(res.headers.get("retry-after"), "10");
    }
    assert.deepEqual(await r2Snapshot(lmf), before, "nothing stored over the limit");
    assert.equal((await limited.call("GET", "/upload-tokens")).status, 429, "the token endpoints share the project's count");
    // Another project's token is not affected.
    assertVideoAnswer(await sendChunk(lmf, beta.json.token, { data: random(100), filename: "b.mp4" }), {}, "beta upload");
    assert.equal(Math.floor(Date.now() / 10000), window, "all of the above ran within one window");
  } finally {
    await limited.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// Cleanup of abandoned uploads (own Worker)

test("the scheduled cleanup removes unfinished uploads idle for UPLOAD_STALE_AFTER seconds, and nothing else", async () => {
  // Seconds, with room for a loaded machine between the first run and the stale time.
  const STALE = 20;
  const cw = await startWorker({ vars: { UPLOAD_STALE_AFTER: String(STALE) } });
  try {
    const cmf = cw.mf;
    const token = async () => {
      const res = await cw.call("POST", "/upload-tokens", { body: { ttl: 0 } });
      assert.equal(res.status, 200, res.text);
      return res.json.token;
    };
    const run = async () => {
      const worker = await cmf.getWorker();
      const result = await worker.scheduled({ cron: "*/30 * * * *" });
      assert.equal(result.outcome, "ok", JSON.stringify(result));
    };
    const [tStale, tActive, tDone] = [await token(), await token(), await token()];
    const finishedData = random(900);
    const finished = assertVideoAnswer(await sendChunk(cmf, tDone, { data: finishedData, filename: "f.mp4" }), {}, "finished whole");
    const assembledData = random(1200);
    const assembled = assertVideoAnswer(
      await sendChunk(cmf, tDone, { data: assembledData, filename: "g.mp4", range: "part 1/1" }),
      {},
      "finished part 1/1",
    );
    // Idle times are whole seconds from the objects' upload times: the stale uploads get their
    // last chunk more than STALE + 1 s before the second run, the active one less than STALE - 1 s.
    const staleStart = Date.now();
    const stalePart = assertVideoAnswer(await sendChunk(cmf, tStale, { data: random(MIN_PART), filename: "s.mp4", range: "part 1/2" }), {}, "stale part");
    const staleBytes = assertVideoAnswer(
      await sendChunk(cmf, tStale, { data: random(MIN_PART), filename: "s.mp4", range: `bytes 0-${MIN_PART - 1}/${MIN_PART + 1}` }),
      {},
      "stale bytes",
    );
    const staleDone = Date.now();
    const activeData = random(2 * MIN_PART + 5);
    const [d1, d2, d3] = split(activeData, [MIN_PART, MIN_PART, 5]);
    const active = assertVideoAnswer(await sendChunk(cmf, tActive, { data: d1, filename: "a.mp4", range: "part 1/3" }), {}, "active part 1");

    // Nothing is idle long enough yet.
    const snapshot = await r2Snapshot(cmf);
    assert.ok(Date.now() - staleStart < (STALE - 1) * 1000, "the first cleanup runs before anything can be stale");
    await run();
    assert.deepEqual(await r2Snapshot(cmf), snapshot, "a cleanup before anything is stale removes nothing");
    for (const id of [stalePart, staleBytes, active]) assert.equal((await r2Keys(cmf, { prefix: `pending/${id}` })).length, 1);
    assert.equal((await r2Keys(cmf, { prefix: `open/${tStale}/` })).length, 2);

    // The active upload receives a chunk; the stale ones do not.
    await sleepUntil(staleDone + 3000);
    const activeStart = Date.now();
    assertVideoAnswer(await sendChunk(cmf, tActive, { data: d2, filename: "a.mp4", range: "part 2/3" }), { videoId: active }, "active part 2");
    await sleepUntil(staleDone + (STALE + 0.3) * 1000);
    assert.ok(Date.now() - activeStart < (STALE - 1) * 1000, "the active upload's last chunk is recent enough");
    await run();

    for (const id of [stalePart, staleBytes]) {
      assert.deepEqual(await r2Keys(cmf, { videoId: id }), [], `every object of the stale upload ${id} is gone`);
      const res = await getVideo(cmf, id);
      assert.equal(res.status, 404, `GET a removed upload: ${res.text}`);
    }
    assert.deepEqual(await r2Keys(cmf, { prefix: `open/${tStale}/` }), [], "the stale uploads' correlation entries are gone");
    const gone = await sendChunk(cmf, tStale, { data: random(10), filename: "s.mp4", videoId: stalePart, range: "part 2/2" });
    assertUploadProblem(gone, 404, "resource-not-found", "a chunk for a removed upload");

    assert.deepEqual(await r2Keys(cmf, { videoId: finished }), [`videos/${finished}/meta.json`, `videos/${finished}/source`]);
    assert.deepEqual(await r2Keys(cmf, { videoId: assembled }), [`videos/${assembled}/meta.json`, `videos/${assembled}/source`]);
    const f = await getSource(cmf, finished);
    assert.equal(sha256(f.bytes), sha256(finishedData), "a finished video survives the cleanup");
    const g = await getSource(cmf, assembled);
    assert.equal(sha256(g.bytes), sha256(assembledData), "an assembled video survives the cleanup");

    const kept = await r2Keys(cmf, { videoId: active });
    assert.ok(kept.includes(`pending/${active}`) && kept.includes(`videos/${active}/meta.json`), `the active upload is kept: ${kept}`);
    assert.equal(kept.filter((k) => k.includes("/chunks/")).length, 2);
    assert.equal((await r2Keys(cmf, { prefix: `open/${tActive}/` })).length, 1);
    assertVideoAnswer(await sendChunk(cmf, tActive, { data: d3, filename: "a.mp4", range: "part 3/3" }), { videoId: active }, "active part 3");
    const a = await getSource(cmf, active);
    assert.equal(sha256(a.bytes), sha256(activeData), "the upload kept by the cleanup finishes intact");

    // With everything finished, a later cleanup leaves R2 as it is.
    const end = await r2Snapshot(cmf);
    await run();
    assert.deepEqual(await r2Snapshot(cmf), end);
  } finally {
    await cw.dispose();
  }
});
