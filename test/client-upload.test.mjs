// Delegated uploads (`POST /upload?token=`) with api.video's official clients, against the
// Worker under a real `wrangler dev` and its local R2: the Node client's
// `videos.uploadWithUploadToken` and progressive sessions, and the Python client's
// `upload_with_upload_token` and progressive sessions (test/python/upload_scenario.py), all
// with 5 MiB chunks and no API key on the upload. Each upload is checked from the Video the
// client returns to the SHA-256 of the assembled source. A relay in front of the Worker keeps
// a copy of the upload requests, so the tests also state what each client put on the wire
// (Content-Range, the file field, videoId) and that every chunk was answered 201 with a Video.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { ApiVideoClient, apiError, model } from "./support/api-video.mjs";
import { basic, parseJson, readAnswer } from "./support/http.mjs";
import { killRunning, report, requirePython, runPython } from "./support/process.mjs";
import { startWrangler } from "./support/wrangler.mjs";

const Video = model("Video");

const KEYS = {
  alpha: "alpha-upload-key-0123456789",
  beta: "beta-upload-key-0123456789ab",
};
const SIGNING_KEY = "client-upload-test-signing-key-0123456789abcdef";
const MiB = 1024 * 1024;
const CHUNK = 5 * MiB;
const VIDEO_RE = /^vi[0-9A-Za-z]{22}$/;
const INVALID_TOKEN = "https://docs.api.video/reference/authentication-invalid-upload-token";

let worker;
let relay;
let dir;

// ---------------------------------------------------------------------------------------------
// Files, the Worker's view of a video, and the relay that records the upload requests.

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

/** `n` deterministic pseudo-random bytes (AES-256-CTR keystream keyed by `seed`). */
function bytes(seed, n) {
  const cipher = createCipheriv("aes-256-ctr", createHash("sha256").update(seed).digest(), Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(n)), cipher.final()]);
}

/** Writes `n` bytes derived from `name` to the temporary directory. */
function file(name, n) {
  const data = bytes(name, n);
  const path = join(dir, name);
  writeFileSync(path, data);
  return { name, path, size: n, sha: sha256(data), data };
}

/** `GET /videos/{id}` with the project's key: the Video with its `ingest` status. */
async function status(id, key = KEYS.alpha) {
  const res = await readAnswer(await fetch(`${worker.base}/videos/${id}`, { headers: { authorization: basic(key) } }));
  assert.equal(res.status, 200, `GET /videos/${id}: ${res.text}`);
  return JSON.parse(res.text);
}

/** `GET /videos/{id}/source` with the project's key: the assembled file. */
async function source(id, key = KEYS.alpha) {
  const res = await readAnswer(await fetch(`${worker.base}/videos/${id}/source`, { headers: { authorization: basic(key) } }));
  assert.equal(res.status, 200, `GET /videos/${id}/source: ${res.bytes.subarray(0, 300)}`);
  return { body: res.bytes, headers: res.headers };
}

/** The upload is complete: status, size, parts and the source's bytes match the file. */
async function checkStored(id, { sha, size, parts, title }) {
  const got = await status(id);
  assert.equal(got.videoId, id);
  assert.equal(got.title, title, "GET /videos/{id}: title");
  const src = await source(id);
  assert.equal(src.body.length, size, `size of the source of ${id}`);
  assert.equal(sha256(src.body), sha, `SHA-256 of the source of ${id}`);
  assert.equal(got.ingest?.status, "uploaded", `ingest.status of ${id}: ${JSON.stringify(got.ingest)}`);
  assert.equal(got.ingest.filesize, size, "ingest.filesize");
  assert.equal(got.ingest.receivedBytesTotal, size, "ingest.receivedBytesTotal");
  // Parts as the client numbered them (Content-Range `part k/N`), checked in a test of their
  // own; a request without Content-Range is no part at all, so nothing is said about parts then.
  if (parts !== undefined) partsSeen.push({ id, title, expected: expectedParts(parts), got: got.ingest.receivedParts });
}

/** `ingest.receivedParts` of a complete upload of `n` parts. */
const expectedParts = (n) => ({ parts: Array.from({ length: n }, (_, i) => i + 1), total: n });

/** File names beyond plain ASCII letters, each uploaded whole by both clients. */
const NAMES = ["Ma vidéo (1).mp4", "日本語 クリップ.mov", "semi;colon, comma.mp4", 'clip "final".mp4'];

/**
 * `seen` is [file name, title the client got, title of GET /videos/{id}] per upload; `sent`
 * the filename parameters as they went over the wire, in the same order. The multipart
 * encoding both clients use (WHATWG HTML) writes `"` as %22, CR as %0D and LF as %0A; a
 * parser following it reads them back (as Node's own FormData does).
 */
function checkTitles(seen, sent) {
  assert.equal(seen.length, NAMES.length, "every name was uploaded");
  const wrong = seen
    .filter(([name, title, stored]) => title !== name || stored !== name)
    .map(([name, title, stored]) => `${JSON.stringify(name)} sent as filename="${sent[seen.findIndex((s) => s[0] === name)]}": title ${JSON.stringify(title)}, GET /videos/{id} title ${JSON.stringify(stored)}`);
  assert.equal(wrong.length, 0, `titles that differ from the file name:\n${wrong.join("\n")}`);
}

/** The completed part uploads and the `receivedParts` the Worker reported for them. */
const partsSeen = [];

function checkPartsSeen(seen) {
  assert.ok(seen.length > 0, "uploads were made");
  const wrong = seen
    .filter((s) => !isDeepStrictEqual(s.got, s.expected))
    .map((s) => `${s.title} (${s.id}): expected ${JSON.stringify(s.expected)}, got ${JSON.stringify(s.got)}`);
  assert.equal(wrong.length, 0, `ingest.receivedParts of a complete upload:\n${wrong.join("\n")}`);
}

/** The checks every Video the Node client returns must pass. */
function checkVideo(v, { title, id, near }) {
  assert.ok(v instanceof Video, `the client deserialises a Video model, got ${v?.constructor?.name}`);
  assert.match(v.videoId, VIDEO_RE, "videoId form");
  if (id !== undefined) assert.equal(v.videoId, id, "the same video throughout the upload");
  assert.equal(v.title, title, "title is the uploaded file's name");
  for (const k of ["createdAt", "publishedAt", "updatedAt"]) {
    assert.ok(v[k] instanceof Date && !Number.isNaN(v[k].getTime()), `${k} is a valid Date: ${v[k]}`);
  }
  assert.ok(v.updatedAt >= v.createdAt, "updatedAt is not before createdAt");
  if (near !== undefined) assert.ok(Math.abs(v.createdAt.getTime() - near) < 120_000, "createdAt is near now");
  assert.equal(v.source?.uri, `/videos/${v.videoId}/source`, "source.uri");
  for (const k of ["_public", "panoramic", "mp4Support"]) assert.equal(typeof v[k], "boolean", k);
  assert.deepEqual(v.tags, []);
  assert.deepEqual(v.metadata, []);
}

function decode(buf, encoding) {
  switch (encoding) {
    case "gzip": return gunzipSync(buf);
    case "br": return brotliDecompressSync(buf);
    case "deflate": return inflateSync(buf);
    default: return buf;
  }
}

/**
 * An HTTP relay to the Worker that passes requests and answers through as they come (headers
 * and bodies untouched) and keeps a copy of each exchange.
 */
function startRelay(target) {
  const { hostname, port } = new URL(target);
  const exchanges = [];
  const server = createServer((req, res) => {
    const ex = { method: req.method, url: req.url, headers: req.headers, body: [], response: [] };
    exchanges.push(ex);
    const upstream = request({ hostname, port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.rawHeaders);
      ex.status = answer.statusCode;
      ex.responseHeaders = answer.headers;
      answer.on("data", (d) => {
        ex.response.push(d);
        res.write(d);
      });
      answer.on("end", () => {
        ex.response = decode(Buffer.concat(ex.response), answer.headers["content-encoding"]);
        res.end();
      });
    });
    upstream.on("error", (e) => {
      ex.error = e;
      res.destroy(e);
    });
    req.on("data", (d) => ex.body.push(d));
    req.on("end", () => (ex.body = Buffer.concat(ex.body)));
    req.pipe(upstream);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        base: `http://127.0.0.1:${server.address().port}`,
        exchanges,
        stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
      });
    });
  });
}

/**
 * The upload requests made with `token`, in order, as the Worker received and answered them:
 * Content-Range, the client's origin header, the form's fields (files by name, filename and
 * size), the status, the answer's Content-Type and JSON body.
 */
async function wire(token) {
  const mine = relay.exchanges.filter((e) => {
    const url = new URL(e.url, "http://relay.invalid");
    return url.pathname === "/upload" && url.searchParams.get("token") === token;
  });
  return Promise.all(
    mine.map(async (e) => {
      const form = await new Response(e.body, { headers: { "content-type": e.headers["content-type"] } }).formData();
      const fields = [...form.entries()].map(([name, v]) =>
        typeof v === "string" ? { name, value: v } : { name, filename: v.name, size: v.size },
      );
      // The file part's filename parameter as written, before any decoding.
      const head = e.body.subarray(0, 8192).toString("utf8");
      return {
        rawFilename: /; filename="([^"\r\n]*)"/.exec(head)?.[1],
        range: e.headers["content-range"],
        client: e.headers["av-origin-client"],
        fields,
        status: e.status,
        contentType: e.responseHeaders?.["content-type"],
        json: parseJson(e.response.toString("utf8")),
      };
    }),
  );
}

/** Every chunk answered 201 with a JSON Video of the one video `id` and its title. */
function everyChunkAnswered(requests, { id, title }) {
  requests.forEach((r, i) => {
    const where = `chunk ${i + 1} (${r.range ?? "no Content-Range"})`;
    assert.equal(r.status, 201, `${where}: status, body ${JSON.stringify(r.json)}`);
    assert.equal(r.contentType, "application/json", `${where}: Content-Type`);
    assert.equal(r.json?.videoId, id, `${where}: videoId`);
    assert.equal(r.json?.title, title, `${where}: title`);
    assert.equal(r.json?.source?.uri, `/videos/${id}/source`, `${where}: source.uri`);
  });
}

/** A client for uploads only: no API key, 5 MiB chunks, through the relay unless `direct`. */
const uploader = ({ direct = false } = {}) =>
  new ApiVideoClient({ baseUri: direct ? worker.base : relay.base, chunkSize: CHUNK });
const tokens = (key = KEYS.alpha) => new ApiVideoClient({ apiKey: key, baseUri: worker.base }).uploadTokens;

before(async () => {
  worker = await startWrangler({
    vars: {
      API_KEYS: Object.entries(KEYS).map(([p, k]) => `${p}:${k}`).join(","),
      AUTH_SIGNING_KEY: SIGNING_KEY,
    },
  });
  relay = await startRelay(worker.base);
  dir = mkdtempSync(join(tmpdir(), "uts-client-upload-"));
});

after(async () => {
  killRunning();
  await relay?.stop();
  await worker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe("@api.video/nodejs-client uploads with an upload token", () => {
  test("a 3 KiB file goes in one request without Content-Range", async () => {
    const f = file("node-whole.mp4", 3 * 1024);
    const { token } = await tokens().createToken({ ttl: 3600 });
    const started = Date.now();
    const { headers, body: v } = await uploader().videos.uploadWithUploadTokenWithResponseHeaders(token, f.path);
    checkVideo(v, { title: f.name, near: started });
    assert.equal(headers["content-type"], "application/json");

    const sent = await wire(token);
    assert.equal(sent.length, 1, "one request");
    assert.equal(sent[0].range, undefined, "no Content-Range for a file below the chunk size");
    assert.equal(sent[0].client, "nodejs:2.6.8");
    assert.deepEqual(sent[0].fields, [{ name: f.name, filename: f.name, size: f.size }], "one file, named after it");
    everyChunkAnswered(sent, { id: v.videoId, title: f.name });

    await checkStored(v.videoId, { ...f, title: f.name });
    const src = await source(v.videoId);
    assert.equal(src.headers.get("content-type"), "video/mp4", "the source keeps the media type the client declared");
  });

  test("a file of exactly one chunk (5 MiB) goes as part 1/1", async () => {
    const f = file("node-one-chunk.mp4", CHUNK);
    const { token } = await tokens().createToken({ ttl: 0 });
    const v = await uploader().videos.uploadWithUploadToken(token, f.path);
    checkVideo(v, { title: f.name });
    const sent = await wire(token);
    assert.deepEqual(sent.map((r) => r.range), ["part 1/1"]);
    everyChunkAnswered(sent, { id: v.videoId, title: f.name });
    await checkStored(v.videoId, { ...f, parts: 1, title: f.name });
  });

  test("11 MiB in 5 MiB chunks: part 1/3 to 3/3, no videoId on later chunks", async () => {
    const f = file("node-chunked.mp4", 11 * MiB);
    const { token } = await tokens().createToken({ ttl: 0 });
    const progress = [];
    const started = Date.now();
    const v = await uploader().videos.uploadWithUploadToken(token, f.path, (e) => progress.push(e));
    checkVideo(v, { title: f.name, near: started });
    assert.ok(progress.length > 0 && progress.every((e) => e.chunksCount === 3), "the client planned three chunks");

    const sent = await wire(token);
    assert.deepEqual(sent.map((r) => r.range), ["part 1/3", "part 2/3", "part 3/3"]);
    assert.deepEqual(
      sent.map((r) => r.fields),
      [CHUNK, CHUNK, MiB].map((size) => [{ name: f.name, filename: f.name, size }]),
      "each chunk is one file field named after the file, and no videoId",
    );
    everyChunkAnswered(sent, { id: v.videoId, title: f.name });
    await checkStored(v.videoId, { ...f, parts: 3, title: f.name });
  });

  test("progressive session, 6 + 7 + 1 MiB: part 1/*, 2/*, then 3/3, videoId from the second on", async () => {
    const parts = [file("node-prog.mp4.part.a", 6 * MiB), file("node-prog.mp4.part.b", 7 * MiB), file("node-prog.mp4.part.c", MiB)];
    const { token } = await tokens().createToken({ ttl: 0 });
    const session = uploader().videos.createUploadWithUploadTokenProgressiveSession(token);
    const title = parts[0].name;
    const started = Date.now();
    const first = await session.uploadPart(parts[0].path);
    checkVideo(first, { title, near: started });
    const id = first.videoId;
    let got = await status(id);
    assert.equal(got.ingest?.status, "uploading", "after part 1");
    assert.deepEqual(got.ingest.receivedParts, { parts: [1] }, "after part 1: total unknown, so left out");
    assert.equal(got.ingest.receivedBytesTotal, parts[0].size);

    checkVideo(await session.uploadPart(parts[1].path), { title, id });
    got = await status(id);
    assert.equal(got.ingest?.status, "uploading", "after part 2");
    assert.deepEqual(got.ingest.receivedParts, { parts: [1, 2] }, "after part 2");
    assert.equal(got.ingest.receivedBytesTotal, parts[0].size + parts[1].size);

    const last = await session.uploadLastPart(parts[2].path);
    checkVideo(last, { title, id });

    const sent = await wire(token);
    assert.deepEqual(sent.map((r) => r.range), ["part 1/*", "part 2/*", "part 3/3"]);
    assert.deepEqual(
      sent.map((r) => r.fields),
      parts.map((p, i) => [
        { name: p.name, filename: p.name, size: p.size },
        ...(i > 0 ? [{ name: "videoId", value: id }] : []),
      ]),
      "the file named after each part, then videoId from the second request on",
    );
    everyChunkAnswered(sent, { id, title });
    const all = Buffer.concat(parts.map((p) => p.data));
    await checkStored(id, { sha: sha256(all), size: all.length, parts: 3, title });
  });

  test("a progressive session of a single part sends part 1/1", async () => {
    const f = file("node-prog-single.mp4", 3 * 1024);
    const { token } = await tokens().createToken({ ttl: 0 });
    const v = await uploader().videos.createUploadWithUploadTokenProgressiveSession(token).uploadLastPart(f.path);
    checkVideo(v, { title: f.name });
    const sent = await wire(token);
    assert.deepEqual(sent.map((r) => [r.range, r.fields]), [["part 1/1", [{ name: f.name, filename: f.name, size: f.size }]]]);
    everyChunkAnswered(sent, { id: v.videoId, title: f.name });
    await checkStored(v.videoId, { ...f, parts: 1, title: f.name });
  });

  test("the title is the file's name, with spaces, accents, other scripts and quotes", async () => {
    const { token } = await tokens().createToken({ ttl: 0 });
    const api = uploader().videos;
    const seen = [];
    for (const name of NAMES) {
      const f = file(name, 1024);
      const v = await api.uploadWithUploadToken(token, f.path);
      assert.equal(sha256((await source(v.videoId)).body), f.sha, `source of ${name}`);
      seen.push([name, v.title, (await status(v.videoId)).title]);
    }
    // form-data escapes `"` in a filename as %22 (HTML's multipart encoding); the name is
    // still the file's own.
    const sent = (await wire(token)).map((r) => r.rawFilename);
    checkTitles(seen, sent);
  });

  test("one token serves several uploads, one after the other and at the same time", async () => {
    const { token } = await tokens().createToken({ ttl: 3600 });
    const api = uploader({ direct: true }).videos;
    const a = file("node-again-a.mp4", 2 * 1024);
    const b = file("node-again-b.mp4", 11 * MiB);
    const c = file("node-again-c.mp4", 11 * MiB - 7);
    const va = await api.uploadWithUploadToken(token, a.path);
    checkVideo(va, { title: a.name });
    // Two chunked uploads at once with the token: their chunks interleave, none carries videoId.
    const [vb, vc] = await Promise.all([api.uploadWithUploadToken(token, b.path), api.uploadWithUploadToken(token, c.path)]);
    checkVideo(vb, { title: b.name });
    checkVideo(vc, { title: c.name });
    assert.equal(new Set([va.videoId, vb.videoId, vc.videoId]).size, 3, "three videos");
    await checkStored(va.videoId, { ...a, title: a.name });
    await checkStored(vb.videoId, { ...b, parts: 3, title: b.name });
    await checkStored(vc.videoId, { ...c, parts: 3, title: c.name });
    // And the token is still there.
    assert.equal((await tokens().getToken(token)).token, token);
  });

  test("a deleted or unknown token is the client's 401, whole, chunked and progressive", async () => {
    const api = uploader({ direct: true }).videos;
    const small = file("node-refused.mp4", 1024);
    const big = file("node-refused-big.mp4", 6 * MiB);
    const { token } = await tokens().createToken({ ttl: 0 });
    await tokens().deleteToken(token);
    for (const [what, bad] of [["deleted", token], ["unknown", "to" + "Z".repeat(22)]]) {
      for (const [how, call] of [
        ["whole", () => api.uploadWithUploadToken(bad, small.path)],
        ["chunked", () => api.uploadWithUploadToken(bad, big.path)],
        ["progressive", () => api.createUploadWithUploadTokenProgressiveSession(bad).uploadPart(big.path)],
      ]) {
        const err = await apiError(call, 401);
        assert.equal(err.problemDetails.type, INVALID_TOKEN, `${what} token, ${how}: problem.type`);
      }
    }
  });

  test("deleting the token stops an unfinished progressive upload; expiry does not", async () => {
    const api = uploader({ direct: true }).videos;
    const a = file("node-cut.mp4.part.a", CHUNK);
    const b = file("node-cut.mp4.part.b", 1024);

    const deleted = (await tokens().createToken({ ttl: 0 })).token;
    const cut = api.createUploadWithUploadTokenProgressiveSession(deleted);
    const started = await cut.uploadPart(a.path);
    await tokens().deleteToken(deleted);
    const err = await apiError(() => cut.uploadLastPart(b.path), 401);
    assert.equal(err.problemDetails.type, INVALID_TOKEN);
    assert.equal((await status(started.videoId)).ingest?.status, "uploading", "the upload stays unfinished");

    // A short-lived token: the upload it started may finish after it expired, a new one not.
    // Seconds of room for its first part to go in while it is active, on a loaded machine too.
    const short = await tokens().createToken({ ttl: 8 });
    const late = api.createUploadWithUploadTokenProgressiveSession(short.token);
    const first = await late.uploadPart(a.path);
    await new Promise((r) => setTimeout(r, Math.max(0, short.expiresAt.getTime() - Date.now() + 1200)));
    await apiError(() => api.uploadWithUploadToken(short.token, b.path), 401);
    const done = await late.uploadLastPart(b.path);
    checkVideo(done, { title: a.name, id: first.videoId });
    const all = Buffer.concat([a.data, b.data]);
    await checkStored(first.videoId, { sha: sha256(all), size: all.length, parts: 2, title: a.name });
  });

  test("videos belong to the token's project", async () => {
    const f = file("node-owned.mp4", 1024);
    const { token } = await tokens(KEYS.beta).createToken({ ttl: 0 });
    const v = await uploader({ direct: true }).videos.uploadWithUploadToken(token, f.path);
    assert.equal((await status(v.videoId, KEYS.beta)).videoId, v.videoId);
    for (const path of [`/videos/${v.videoId}`, `/videos/${v.videoId}/source`]) {
      const res = await fetch(`${worker.base}${path}`, { headers: { authorization: basic(KEYS.alpha) } });
      await res.arrayBuffer();
      assert.equal(res.status, 404, `${path} from another project`);
    }
    assert.equal(sha256((await source(v.videoId, KEYS.beta)).body), f.sha);
  });

  // `ingest.receivedParts` as the client's own model describes it (VideoStatusIngestReceivedParts:
  // "The parts that have been uploaded, ordered"; total: "the number of expected parts").
  test("once complete, GET /videos/{id} lists every part the client sent", () => {
    checkPartsSeen(partsSeen.splice(0));
  });
});

// ---------------------------------------------------------------------------------------------

describe("api.video Python client uploads with an upload token", () => {
  let summary;

  before(async () => {
    requirePython();
    const work = mkdtempSync(join(dir, "python-"));
    const run = await runPython("upload_scenario.py", [relay.base, worker.base, KEYS.alpha, work, ...NAMES]);
    const last = run.stdout.trim().split("\n").at(-1) ?? "";
    summary = run.code === 0 && last.startsWith("OK {") ? JSON.parse(last.slice(3)) : { failure: report(run, "upload_scenario.py") };
  });

  test("whole, chunked, progressive, a reused token and refused tokens, checked end to end", () => {
    assert.equal(summary.failure, undefined, summary.failure);
  });

  test("a 3 KiB file goes as part 1/1, in a field named file", async (t) => {
    if (!summary.whole) return t.skip("the scenario did not get this far");
    const sent = await wire(summary.whole.token);
    // The reused token's second upload went through the relay too.
    assert.deepEqual(sent.map((r) => r.range), ["part 1/1", "part 1/1"]);
    assert.equal(sent[0].client, "python:1.4.7");
    assert.deepEqual(sent[0].fields, [{ name: "file", filename: "py-whole.mp4", size: 3 * 1024 }]);
    everyChunkAnswered(sent.slice(0, 1), { id: summary.whole.video, title: "py-whole.mp4" });
    everyChunkAnswered(sent.slice(1), { id: summary.again.video, title: "py-again.mp4" });
  });

  test("11 MiB in 5 MiB chunks: part 1/3 to 3/3, no videoId on later chunks", async (t) => {
    if (!summary.chunked) return t.skip("the scenario did not get this far");
    const sent = await wire(summary.chunked.token);
    assert.deepEqual(sent.map((r) => r.range), ["part 1/3", "part 2/3", "part 3/3"]);
    assert.deepEqual(
      sent.map((r) => r.fields),
      [CHUNK, CHUNK, MiB].map((size) => [{ name: "file", filename: "py-chunked.mp4", size }]),
    );
    everyChunkAnswered(sent, { id: summary.chunked.video, title: "py-chunked.mp4" });
  });

  test("progressive session: part 1/*, 2/*, then 3/3, videoId from the second on", async (t) => {
    if (!summary.progressive) return t.skip("the scenario did not get this far");
    const { token, video } = summary.progressive;
    const sent = await wire(token);
    assert.deepEqual(sent.map((r) => r.range), ["part 1/*", "part 2/*", "part 3/3"]);
    const sizes = [6 * MiB, 7 * MiB, MiB];
    sent.forEach((r, i) => {
      const file = r.fields.filter((f) => f.name === "file");
      assert.deepEqual(file, [{ name: "file", filename: `py-prog-${i + 1}.mp4`, size: sizes[i] }], `part ${i + 1}: file`);
      const ids = r.fields.filter((f) => f.name === "videoId").map((f) => f.value);
      assert.deepEqual(ids, i === 0 ? [] : [video], `part ${i + 1}: videoId`);
      assert.equal(r.fields.length, 1 + ids.length, `part ${i + 1}: no other field`);
    });
    everyChunkAnswered(sent, { id: video, title: "py-prog-1.mp4" });
  });

  test("the title is the file's name, with spaces, accents, other scripts and quotes", async (t) => {
    if (!summary.names) return t.skip("the scenario did not get this far");
    // urllib3 escapes `"` as %22 too (fields.format_multipart_header_param).
    const sent = (await wire(summary.names.token)).map((r) => r.rawFilename);
    checkTitles(summary.names.seen, sent);
  });

  test("once complete, GET /videos/{id} lists every part the client sent", (t) => {
    if (!summary.parts) return t.skip("the scenario did not get this far");
    checkPartsSeen(summary.parts.map(([id, title, n, got]) => ({ id, title, expected: expectedParts(n), got })));
  });
});
