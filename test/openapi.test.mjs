// Keeps openapi.json and the Worker from drifting apart. For every operation and every status
// code the document gives it, real requests against the built Worker (Miniflare) must produce
// that status with the documented media type, body schema and headers; every route the Worker
// answers must be in the document; and GET /openapi.json must serve the file byte for byte.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { basic } from "./support/http.mjs";
import { KEYS, startWorker } from "./support/miniflare.mjs";
import { deref, resolveRef, validate } from "./support/oas-validate.mjs";
import { MIN_CHUNK, bytes, expectSlug, get, send, upload, videoIdOf } from "./support/oas-upload.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const DOC_TEXT = readFileSync(`${root}openapi.json`, "utf8");
const doc = JSON.parse(DOC_TEXT);
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Every operation of the document: `{key: "GET /path", method, path, op}`. */
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((m) => ({ key: `${m.toUpperCase()} ${path}`, method: m, path, op: item[m] })),
);

// Routes the Worker answers that are not in the document yet. Each must still be routed and
// must not be in the document: documenting one means taking it out of this list and giving
// its status codes recipes below. Every route is documented now.
const NOT_YET_DOCUMENTED = new Set([]);

const SAMPLE_TOKEN = "to1tcmSFHeYY5KzyhOqVKMKb";
const SAMPLE_VIDEO = "vi4blUQJFrYWbaG44NChkH27";
const BIG_BODY = JSON.stringify({ ttl: 60, padding: "x".repeat(17 * 1024) });

let w; // { main, limited, broken }

async function createToken(worker = w.main, auth = "alpha", ttl = 3600, policies = {}) {
  const r = await worker.call("POST", "/upload-tokens", { auth, body: { ttl, ...policies } });
  assert.equal(r.status, 200, `creating a token: ${r.status} ${r.text}`);
  return r.json.token;
}

/** A token of the main Worker with the given policies. */
const policyToken = (policies) => createToken(w.main, "alpha", 3600, policies);

const EVERY_POLICY = {
  maxUploads: 3,
  maxFileSize: 1048576,
  allowedOrigins: ["https://app.example.com", "http://localhost:8080"],
  metadata: [{ key: "user", value: "u-42" }, { key: "course", value: "" }],
};
const PAGE_ORIGIN = "https://app.example.com";

async function tokenPair(worker = w.main) {
  const r = await worker.call("POST", "/auth/api-key", { auth: null, body: { apiKey: KEYS.alpha } });
  assert.equal(r.status, 200, `getting a bearer token: ${r.status} ${r.text}`);
  return r.json;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A token of the main Worker that has expired (ttl 1 s, waited out); made once. */
let expired;
async function expiredToken() {
  if (!expired) {
    const r = await w.main.call("POST", "/upload-tokens", { body: { ttl: 1 } });
    assert.equal(r.status, 200, r.text);
    await sleep(Date.parse(r.json.expiresAt) - Date.now() + 50);
    expired = r.json.token;
  }
  return expired;
}

/** Uploads a whole file of `size` bytes with a new token of `auth`'s project; its videoId. */
async function wholeVideo({ auth = "alpha", size = 5, ...opts } = {}) {
  return videoIdOf(await upload(w.main, await createToken(w.main, auth), { data: bytes(size), ...opts }));
}

/** The first `MIN_CHUNK` bytes of an upload in `range` (e.g. `part 1/2`); its videoId and token. */
async function firstChunk(range, { ttl = 3600, filename = "big.mp4" } = {}) {
  const token = await createToken(w.main, "alpha", ttl);
  const id = videoIdOf(await upload(w.main, token, { data: bytes(MIN_CHUNK, 2), filename, range }));
  return { id, token };
}

/** A source answer that must be exactly `data` typed `type`. */
async function expectSource(id, data, type, auth = "alpha") {
  const r = await get(w.main, `/videos/${id}/source`, auth);
  r.expected = { type, data };
  return r;
}

/** Repeats an upload on the Worker with a limit of 1 until it is refused. */
async function uploadUntil429() {
  const token = await createToken(w.limited, "beta");
  let r;
  for (let i = 0; i < 4; i++) {
    r = await upload(w.limited, token);
    if (r.status === 429) return r;
  }
  return r;
}

/** Repeats a request on the Worker with a limit of 1 until it is refused. */
async function until429(method, path, opts) {
  let r;
  for (let i = 0; i < 4; i++) {
    r = await w.limited.call(method, path, opts);
    if (r.status === 429) return r;
  }
  return r;
}

/**
 * The recipes of `method /upload-tokens/{uploadToken}`: those of `own` (by status), and the
 * refusals GET and DELETE share: no credentials; an unknown, another project's or a deleted
 * token (that case named `own.deleted`); the rate limit; no API keys configured.
 */
function tokenRecipes(method, { deleted, ...own }) {
  const call = (token, opts) => w.main.call(method, `/upload-tokens/${token}`, opts);
  return {
    ...own,
    401: { "no credentials": () => call(SAMPLE_TOKEN, { auth: null }) },
    404: {
      "unknown token": () => call(SAMPLE_TOKEN),
      ...own[404],
      "another project's token": async () => call(await createToken(w.main, "beta")),
      [deleted]: async () => {
        const t = await createToken();
        assert.equal((await w.main.call("DELETE", `/upload-tokens/${t}`)).status, 204);
        return call(t);
      },
    },
    429: { "over the project's limit": () => until429(method, `/upload-tokens/${SAMPLE_TOKEN}`) },
    500: { "no API_KEYS configured": () => w.broken.call(method, `/upload-tokens/${SAMPLE_TOKEN}`) },
  };
}

// How to make the Worker give each documented status, several ways where there are several
// reasons. A recipe for a status the document does not give fails the test too.
const RECIPES = {
  "GET /upload-tokens": {
    200: {
      "API key, defaults": () => w.main.call("GET", "/upload-tokens"),
      "API key, every parameter, several pages": async () => {
        for (const ttl of [0, 60, 3600]) await createToken(w.main, "beta", ttl);
        return w.main.call("GET", "/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=2&pageSize=1", { auth: "beta" });
      },
      "a page past the end": () => w.main.call("GET", "/upload-tokens?currentPage=2147483647&pageSize=100"),
      "bearer token": async () =>
        w.main.call("GET", "/upload-tokens", { auth: `Bearer ${(await tokenPair()).access_token}` }),
      "filtered by metadata, tokens with every policy": async () => {
        await policyToken(EVERY_POLICY);
        return w.main.call("GET", "/upload-tokens?metadata[user]=u-42&metadata%5Bcourse%5D=&pageSize=2");
      },
    },
    400: {
      "a metadata filter without a key": () => w.main.call("GET", "/upload-tokens?metadata[]=u-42"),
      "a bare metadata parameter": () => w.main.call("GET", "/upload-tokens?metadata=u-42"),
      "pageSize out of range": () => w.main.call("GET", "/upload-tokens?pageSize=0"),
      "unknown sortBy": () => w.main.call("GET", "/upload-tokens?sortBy=expiresAt"),
      "currentPage given twice": () => w.main.call("GET", "/upload-tokens?currentPage=1&currentPage=2"),
      "sortOrder empty": () => w.main.call("GET", "/upload-tokens?sortOrder="),
    },
    401: {
      "no credentials": () => w.main.call("GET", "/upload-tokens", { auth: null }),
      "unknown API key": () => w.main.call("GET", "/upload-tokens", { auth: basic("not-a-configured-key-000") }),
      "forged bearer token": () => w.main.call("GET", "/upload-tokens", { auth: "Bearer a.b.c" }),
    },
    429: { "over the project's limit": () => until429("GET", "/upload-tokens") },
    500: { "no API_KEYS configured": () => w.broken.call("GET", "/upload-tokens") },
  },
  "POST /upload-tokens": {
    200: {
      "with a ttl": () => w.main.call("POST", "/upload-tokens", { body: { ttl: 3600 } }),
      "empty object": () => w.main.call("POST", "/upload-tokens", { body: {} }),
      "no body at all": () => w.main.call("POST", "/upload-tokens"),
      "ttl null and an unknown attribute": () => w.main.call("POST", "/upload-tokens", { body: { ttl: null, other: [1] } }),
      "largest ttl": () => w.main.call("POST", "/upload-tokens", { body: { ttl: 2147483647 } }),
      "every policy": () => w.main.call("POST", "/upload-tokens", { body: { ttl: 60, ...EVERY_POLICY } }),
      "policies at their bounds, and nulls": () =>
        w.main.call("POST", "/upload-tokens", {
          body: { maxUploads: 1000000, maxFileSize: 5368709120, allowedOrigins: ["capacitor://localhost"], metadata: null },
        }),
    },
    400: {
      "maxUploads 0": () => w.main.call("POST", "/upload-tokens", { body: { maxUploads: 0 } }),
      "maxFileSize as a string": () => w.main.call("POST", "/upload-tokens", { body: { maxFileSize: "100" } }),
      "an origin with a path": () =>
        w.main.call("POST", "/upload-tokens", { body: { allowedOrigins: ["https://app.example.com/"] } }),
      "a wildcard origin": () => w.main.call("POST", "/upload-tokens", { body: { allowedOrigins: ["*"] } }),
      "two metadata entries with one key": () =>
        w.main.call("POST", "/upload-tokens", {
          body: { metadata: [{ key: "a", value: "1" }, { key: "a", value: "2" }] },
        }),
      "negative ttl": () => w.main.call("POST", "/upload-tokens", { body: { ttl: -1 } }),
      "ttl as a string": () => w.main.call("POST", "/upload-tokens", { body: { ttl: "3600" } }),
      "not JSON": () => w.main.call("POST", "/upload-tokens", { body: "{ttl", headers: { "Content-Type": "application/json" } }),
      "a JSON array": () => w.main.call("POST", "/upload-tokens", { body: [] }),
    },
    401: { "no credentials": () => w.main.call("POST", "/upload-tokens", { auth: null, body: {} }) },
    413: {
      "17 KiB body": () =>
        w.main.call("POST", "/upload-tokens", { body: BIG_BODY, headers: { "Content-Type": "application/json" } }),
    },
    415: {
      "text/plain body": () =>
        w.main.call("POST", "/upload-tokens", { body: '{"ttl":1}', headers: { "Content-Type": "text/plain" } }),
    },
    429: { "over the project's limit": () => until429("POST", "/upload-tokens", { body: {} }) },
    500: { "no API_KEYS configured": () => w.broken.call("POST", "/upload-tokens", { body: {} }) },
  },
  "GET /upload-tokens/{uploadToken}": tokenRecipes("GET", {
    200: {
      "a token of the project": async () => w.main.call("GET", `/upload-tokens/${await createToken()}`),
      "one that never expires, by another key of the project": async () =>
        w.main.call("GET", `/upload-tokens/${await createToken(w.main, "alpha", 0)}`, { auth: "alpha2" }),
      "one with every policy, having made a video": async () => {
        const t = await policyToken(EVERY_POLICY);
        videoIdOf(await upload(w.main, t, { headers: { Origin: PAGE_ORIGIN } }));
        return w.main.call("GET", `/upload-tokens/${t}`);
      },
    },
    404: { "malformed token": () => w.main.call("GET", "/upload-tokens/not-a-token") },
    deleted: "a deleted token",
  }),
  "DELETE /upload-tokens/{uploadToken}": tokenRecipes("DELETE", {
    204: { "a token of the project": async () => w.main.call("DELETE", `/upload-tokens/${await createToken()}`) },
    deleted: "deleted twice",
  }),
  "POST /auth/api-key": {
    200: { "a configured key": () => w.main.call("POST", "/auth/api-key", { auth: null, body: { apiKey: KEYS.beta } }) },
    400: {
      "unknown key": () => w.main.call("POST", "/auth/api-key", { auth: null, body: { apiKey: "wrong-key-00000000000" } }),
      "no apiKey": () => w.main.call("POST", "/auth/api-key", { auth: null, body: {} }),
      "apiKey not a string": () => w.main.call("POST", "/auth/api-key", { auth: null, body: { apiKey: 1 } }),
      "not an object": () =>
        w.main.call("POST", "/auth/api-key", { auth: null, body: "null", headers: { "Content-Type": "application/json" } }),
    },
    413: {
      "17 KiB body": () =>
        w.main.call("POST", "/auth/api-key", { auth: null, body: BIG_BODY, headers: { "Content-Type": "application/json" } }),
    },
    415: {
      "form body": () =>
        w.main.call("POST", "/auth/api-key", {
          auth: null,
          body: "apiKey=x",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
        }),
    },
    429: { "over the address's limit": () => until429("POST", "/auth/api-key", { auth: null, body: { apiKey: "x" } }) },
    500: {
      "no API_KEYS configured": () => w.broken.call("POST", "/auth/api-key", { auth: null, body: { apiKey: KEYS.alpha } }),
    },
  },
  "POST /auth/refresh": {
    200: {
      "a refresh token": async () =>
        w.main.call("POST", "/auth/refresh", { auth: null, body: { refreshToken: (await tokenPair()).refresh_token } }),
    },
    400: {
      "forged refresh token": () => w.main.call("POST", "/auth/refresh", { auth: null, body: { refreshToken: "a.b.c" } }),
      "an access token instead": async () =>
        w.main.call("POST", "/auth/refresh", { auth: null, body: { refreshToken: (await tokenPair()).access_token } }),
      "no refreshToken": () => w.main.call("POST", "/auth/refresh", { auth: null, body: { apiKey: KEYS.alpha } }),
    },
    413: {
      "17 KiB body": () =>
        w.main.call("POST", "/auth/refresh", { auth: null, body: BIG_BODY, headers: { "Content-Type": "application/json" } }),
    },
    415: {
      "text/plain body": () =>
        w.main.call("POST", "/auth/refresh", { auth: null, body: "{}", headers: { "Content-Type": "text/plain" } }),
    },
    429: { "over the address's limit": () => until429("POST", "/auth/refresh", { auth: null, body: { refreshToken: "x" } }) },
    500: { "no API_KEYS configured": () => w.broken.call("POST", "/auth/refresh", { auth: null, body: { refreshToken: "x" } }) },
  },
  "POST /upload": {
    201: {
      "a whole file": async () => upload(w.main, await createToken(), { type: "video/mp4" }),
      "an API key's Authorization header is ignored": async () =>
        upload(w.main, await createToken(), { headers: { Authorization: "Basic bm9wZTo=" } }),
      "the first of two numbered parts": async () =>
        upload(w.main, await createToken(), { data: bytes(MIN_CHUNK), range: "part 1/2" }),
      "the last part, by videoId, completing the upload": async () => {
        const { id, token } = await firstChunk("part 1/2");
        return upload(w.main, token, { filename: "big.mp4", videoId: id, range: "part 2/2" });
      },
      "a part sent again unchanged": async () => {
        const { id, token } = await firstChunk("part 1/*");
        return upload(w.main, token, { data: bytes(MIN_CHUNK, 2), filename: "big.mp4", videoId: id, range: "part 1/*" });
      },
      "a byte range without videoId joins the token's unfinished upload": async () => {
        const { token } = await firstChunk(`bytes 0-${MIN_CHUNK - 1}/${MIN_CHUNK + 5}`);
        return upload(w.main, token, { filename: "big.mp4", range: `bytes ${MIN_CHUNK}-${MIN_CHUNK + 4}/${MIN_CHUNK + 5}` });
      },
      "from an allowed origin, with metadata": async () =>
        upload(w.main, await policyToken(EVERY_POLICY), { headers: { Origin: PAGE_ORIGIN } }),
      "exactly maxFileSize bytes": async () => upload(w.main, await policyToken({ maxFileSize: 5 }), { data: bytes(5) }),
      "an expired token finishing the upload it began": async () => {
        // Seconds of room for the first part while the token is active.
        const { id, token } = await firstChunk("part 1/2", { ttl: 8 });
        const t = await w.main.call("GET", `/upload-tokens/${token}`);
        assert.equal(t.status, 200, "the token was still active for its first part");
        await sleep(Date.parse(t.json.expiresAt) - Date.now() + 50);
        return upload(w.main, token, { filename: "big.mp4", videoId: id, range: "part 2/2" });
      },
    },
    400: {
      "a body that is not multipart": async () =>
        expectSlug(
          await send(w.main, "POST", `/upload?token=${await createToken()}`, {
            headers: { "Content-Type": "application/octet-stream" },
            body: "hello",
          }),
          "uploaded-file-invalid-file",
        ),
      "no file part": async () =>
        expectSlug(await upload(w.main, await createToken(), { parts: [["videoId", SAMPLE_VIDEO]] }), "uploaded-file-no-file"),
      "two file parts": async () => {
        const file = { data: bytes(3), filename: "a.mp4" };
        return expectSlug(await upload(w.main, await createToken(), { parts: [["file", file], ["other", file]] }), "uploaded-file-multiple-files");
      },
      "an empty file": async () => expectSlug(await upload(w.main, await createToken(), { data: Buffer.alloc(0) }), "uploaded-file-empty"),
      "a malformed Content-Range": async () =>
        expectSlug(await upload(w.main, await createToken(), { range: "parts 1/2" }), "video-content-range-malformed"),
      "part 0": async () => expectSlug(await upload(w.main, await createToken(), { range: "part 0/2" }), "video-content-range-by-part-part-zero"),
      "a part past the total": async () =>
        expectSlug(await upload(w.main, await createToken(), { range: "part 3/2" }), "video-content-range-by-part-part-too-high-total"),
      "a first part under 5 MiB": async () =>
        expectSlug(await upload(w.main, await createToken(), { range: "part 1/2" }), "video-content-range-by-part-uploaded-file-too-small"),
      "a range that does not match the file": async () =>
        expectSlug(await upload(w.main, await createToken(), { range: "bytes 0-9/10" }), "video-content-range-by-bytes-range-mismatch"),
      "a byte range joining a numbered upload": async () => {
        const { id, token } = await firstChunk("part 1/2");
        return expectSlug(await upload(w.main, token, { videoId: id, range: "bytes 0-4/5" }), "video-content-range-started-with-part");
      },
      "a second whole file for a complete video": async () => {
        const token = await createToken();
        const id = videoIdOf(await upload(w.main, token));
        return expectSlug(await upload(w.main, token, { videoId: id }), "video-source-already-uploaded");
      },
    },
    401: {
      "no token": () => upload(w.main, null),
      "an empty token": () => upload(w.main, ""),
      "a malformed token": () => upload(w.main, "not-a-token"),
      "an unknown token": () => upload(w.main, SAMPLE_TOKEN),
      "a deleted token": async () => {
        const t = await createToken();
        assert.equal((await w.main.call("DELETE", `/upload-tokens/${t}`)).status, 204);
        return upload(w.main, t);
      },
      "an expired token starting a new upload": async () => upload(w.main, await expiredToken()),
      "an unknown token and a body that is not multipart": () =>
        send(w.main, "POST", `/upload?token=${SAMPLE_TOKEN}`, { headers: { "Content-Type": "text/plain" }, body: "hello" }),
      "an unknown token naming another project's video": async () =>
        upload(w.main, SAMPLE_TOKEN, { videoId: await wholeVideo({ auth: "beta" }) }),
      "an unknown token naming an unknown video": () => upload(w.main, SAMPLE_TOKEN, { videoId: SAMPLE_VIDEO }),
      "an unknown token with a malformed videoId": () => upload(w.main, SAMPLE_TOKEN, { videoId: "not-a-video" }),
    },
    403: {
      "a token with allowedOrigins, no Origin": async () => upload(w.main, await policyToken({ allowedOrigins: [PAGE_ORIGIN] })),
      "a token with allowedOrigins, another Origin": async () =>
        upload(w.main, await policyToken({ allowedOrigins: [PAGE_ORIGIN] }), { headers: { Origin: "https://elsewhere.example" } }),
      "maxUploads reached": async () => {
        const t = await policyToken({ maxUploads: 1 });
        videoIdOf(await upload(w.main, t));
        return expectSlug(await upload(w.main, t, { filename: "second.mp4" }), "upload-token-max-uploads-reached");
      },
    },
    413: {
      "a whole file over maxFileSize": async () => upload(w.main, await policyToken({ maxFileSize: 4 }), { data: bytes(5) }),
      "a byte range declaring a total over maxFileSize": async () =>
        upload(w.main, await policyToken({ maxFileSize: MIN_CHUNK }), { data: bytes(MIN_CHUNK), range: `bytes 0-${MIN_CHUNK - 1}/${MIN_CHUNK + 1}` }),
      "from an allowed origin": async () =>
        upload(w.main, await policyToken({ maxFileSize: 4, allowedOrigins: [PAGE_ORIGIN] }), {
          data: bytes(5),
          headers: { Origin: PAGE_ORIGIN },
        }),
    },
    404: {
      "another project's video": async () => upload(w.main, await createToken(), { videoId: await wholeVideo({ auth: "beta" }) }),
      "an unknown video": async () => upload(w.main, await createToken(), { videoId: SAMPLE_VIDEO }),
      "a malformed videoId": async () => upload(w.main, await createToken(), { videoId: "not-a-video" }),
    },
    429: { "over the token's project's limit": () => uploadUntil429() },
    500: { "no API_KEYS configured": () => upload(w.broken, SAMPLE_TOKEN) },
  },
  "OPTIONS /upload": {
    204: {
      "a browser's preflight": () =>
        send(w.main, "OPTIONS", "/upload", {
          headers: {
            Origin: "https://example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-range, av-origin-client",
          },
        }),
      "with a token and no other header": () => send(w.main, "OPTIONS", `/upload?token=${SAMPLE_TOKEN}`),
      "even when the service is not configured": () => send(w.broken, "OPTIONS", "/upload"),
    },
  },
  "GET /videos/{videoId}": {
    200: {
      "a whole file": async () => get(w.main, `/videos/${await wholeVideo()}`),
      "by another key of the project": async () => get(w.main, `/videos/${await wholeVideo()}`, "alpha2"),
      "by a bearer token": async () =>
        get(w.main, `/videos/${await wholeVideo()}`, `Bearer ${(await tokenPair()).access_token}`),
      "numbered parts, unfinished": async () => get(w.main, `/videos/${(await firstChunk("part 1/2")).id}`),
      "numbered parts, complete": async () => {
        const { id, token } = await firstChunk("part 1/2");
        videoIdOf(await upload(w.main, token, { filename: "big.mp4", videoId: id, range: "part 2/2" }));
        return get(w.main, `/videos/${id}`);
      },
      "progressive parts, the total not said yet": async () => get(w.main, `/videos/${(await firstChunk("part 1/*")).id}`),
      "byte ranges, unfinished": async () =>
        get(w.main, `/videos/${(await firstChunk(`bytes 0-${MIN_CHUNK - 1}/${MIN_CHUNK + 5}`)).id}`),
      "byte ranges, complete": async () => {
        const { id, token } = await firstChunk(`bytes 0-${MIN_CHUNK - 1}/${MIN_CHUNK + 5}`);
        videoIdOf(await upload(w.main, token, { videoId: id, range: `bytes ${MIN_CHUNK}-${MIN_CHUNK + 4}/${MIN_CHUNK + 5}` }));
        return get(w.main, `/videos/${id}`);
      },
    },
    401: {
      "no credentials": () => get(w.main, `/videos/${SAMPLE_VIDEO}`, null),
      "an upload token instead": async () => get(w.main, `/videos/${SAMPLE_VIDEO}`, `Bearer ${await createToken()}`),
    },
    404: {
      "an unknown video": () => get(w.main, `/videos/${SAMPLE_VIDEO}`),
      "a malformed id": () => get(w.main, "/videos/not-a-video"),
      "another project's video": async () => get(w.main, `/videos/${await wholeVideo({ auth: "beta" })}`),
    },
    429: { "over the project's limit": () => until429("GET", `/videos/${SAMPLE_VIDEO}`) },
    500: { "no API_KEYS configured": () => w.broken.call("GET", `/videos/${SAMPLE_VIDEO}`) },
  },
  "GET /videos/{videoId}/source": {
    200: {
      "typed as declared": async () => expectSource(await wholeVideo({ size: 7, type: "video/mp4", filename: "x" }), bytes(7), "video/mp4"),
      "typed by the file name": async () =>
        expectSource(await wholeVideo({ size: 9, filename: "clip.MOV" }), bytes(9), "video/quicktime"),
      "neither declared nor known": async () =>
        expectSource(await wholeVideo({ size: 4, filename: "clip.bin" }), bytes(4), "application/octet-stream"),
      "assembled from two parts": async () => {
        const { id, token } = await firstChunk("part 1/2");
        videoIdOf(await upload(w.main, token, { filename: "big.mp4", videoId: id, range: "part 2/2", data: bytes(3, 5) }));
        return expectSource(id, Buffer.concat([bytes(MIN_CHUNK, 2), bytes(3, 5)]), "video/mp4");
      },
    },
    401: { "no credentials": () => get(w.main, `/videos/${SAMPLE_VIDEO}/source`, null) },
    404: {
      "an unknown video": () => get(w.main, `/videos/${SAMPLE_VIDEO}/source`),
      "another project's video": async () => get(w.main, `/videos/${await wholeVideo({ auth: "beta" })}/source`),
      "an upload not complete yet": async () => get(w.main, `/videos/${(await firstChunk("part 1/2")).id}/source`),
    },
    429: { "over the project's limit": () => until429("GET", `/videos/${SAMPLE_VIDEO}/source`) },
    500: { "no API_KEYS configured": () => w.broken.call("GET", `/videos/${SAMPLE_VIDEO}/source`) },
  },
  "GET /openapi.json": {
    200: {
      "without credentials": () => w.main.call("GET", "/openapi.json", { auth: null }),
      "even when the service is not configured": () => w.broken.call("GET", "/openapi.json", { auth: null }),
    },
  },
};

// Headers whose presence the document must account for on every answer that carries them.
const ACCOUNTED_HEADERS = /^(x-ratelimit-.*|retry-after|www-authenticate|allow|access-control-.*)$/i;

function describeResponse(r) {
  const request = r.request ? `${r.request} -> ` : "";
  return `${request}${r.status} ${JSON.stringify(Object.fromEntries(r.headers))} ${r.text.slice(0, 500)}`;
}

/** Checks one answer against the documented response object for its status. */
function checkAgainstDocument(responseObj, r) {
  const documented = responseObj.headers ?? {};
  for (const [name, ref] of Object.entries(documented)) {
    const header = deref(doc, ref);
    const value = r.headers.get(name);
    if (value === null) {
      assert.ok(!header.required, `required header ${name} is missing: ${describeResponse(r)}`);
      continue;
    }
    const schema = deref(doc, header.schema);
    let parsed = value;
    if (schema.type === "integer") {
      assert.match(value, /^-?\d+$/, `header ${name}: ${value} is not an integer`);
      parsed = Number(value);
    }
    const errors = validate(doc, schema, parsed, `header ${name}`);
    assert.deepEqual(errors, [], errors.join("\n"));
  }
  const names = Object.keys(documented).map((n) => n.toLowerCase());
  for (const [name] of r.headers) {
    if (ACCOUNTED_HEADERS.test(name)) {
      assert.ok(names.includes(name.toLowerCase()), `undocumented header ${name}: ${describeResponse(r)}`);
    }
  }

  const content = responseObj.content;
  if (!content) {
    assert.equal(r.text, "", `no body is documented: ${describeResponse(r)}`);
    return;
  }
  const types = Object.keys(content);
  if (types.includes("*/*")) {
    // A file: any media type, a body of bytes. The recipe says which type and bytes it wants.
    assert.deepEqual(types, ["*/*"], "a file answer documents only */*");
    assert.deepEqual(deref(doc, content["*/*"].schema), { type: "string", format: "binary" });
    assert.ok(r.expected, "a recipe for a file answer says what file it expects");
    assert.equal(r.headers.get("content-type"), r.expected.type, `Content-Type: ${describeResponse(r)}`);
    assert.equal(r.headers.get("content-length"), String(r.expected.data.length), `Content-Length: ${describeResponse(r)}`);
    assert.equal(r.bytes.length, r.expected.data.length, `size of the body: ${describeResponse(r)}`);
    assert.ok(r.bytes.equals(r.expected.data), `the body is not the file uploaded: ${describeResponse(r)}`);
    return;
  }
  assert.deepEqual(types, ["application/json"], "only application/json answers are expected");
  assert.equal(r.headers.get("content-type"), "application/json", `Content-Type: ${describeResponse(r)}`);
  assert.notEqual(r.json, undefined, `the body is not JSON: ${describeResponse(r)}`);
  const errors = validate(doc, content["application/json"].schema, r.json);
  assert.deepEqual(errors, [], `${errors.join("\n")}\n${describeResponse(r)}`);
}

before(async () => {
  const [main, limited, broken] = await Promise.all([
    startWorker(),
    startWorker({ limits: { api: { limit: 1, period: 60 }, auth: { limit: 1, period: 60 } } }),
    startWorker({ vars: { API_KEYS: undefined } }),
  ]);
  w = { main, limited, broken };
});

after(async () => {
  await Promise.all(Object.values(w ?? {}).map((x) => x.dispose()));
});

describe("every documented status is what the Worker answers", () => {
  for (const { key, op } of operations) {
    for (const status of Object.keys(op.responses)) {
      test(`${key} ${status}`, async (t) => {
        const cases = RECIPES[key]?.[status];
        assert.ok(cases && Object.keys(cases).length > 0, `no recipe for ${key} ${status}: add one to RECIPES`);
        const responseObj = deref(doc, op.responses[status]);
        // Every case runs, so that one failing does not hide what the others would show.
        const failed = [];
        for (const [name, run] of Object.entries(cases)) {
          try {
            const r = await run();
            assert.equal(r.status, Number(status), `status: ${describeResponse(r)}`);
            checkAgainstDocument(responseObj, r);
            t.diagnostic(`${name}: ${r.status}`);
          } catch (e) {
            failed.push(`${name}: ${e.message}`);
          }
        }
        assert.equal(failed.length, 0, `${failed.length} of ${Object.keys(cases).length} cases failed:\n${failed.join("\n")}`);
      });
    }
  }
});

test("an upload answers the Video without ingest, GET /videos/{videoId} with it, as documented", async () => {
  assert.ok(!doc.components.schemas.Video.required.includes("ingest"));
  assert.match(doc.paths["/upload"].post.responses["201"].description, /without `ingest`/);
  const uploaded = await upload(w.main, await createToken());
  assert.equal(uploaded.status, 201, uploaded.text);
  assert.ok(!("ingest" in uploaded.json), uploaded.text);
  const shown = await get(w.main, `/videos/${uploaded.json.videoId}`);
  assert.equal(shown.status, 200, shown.text);
  assert.deepEqual(shown.json.ingest, { status: "uploaded", mode: "whole", receivedBytesTotal: 5, filesize: 5 });
  const { ingest, ...rest } = shown.json;
  assert.deepEqual({ ...rest, updatedAt: undefined }, { ...uploaded.json, updatedAt: undefined });
});

test("every recipe is for a documented operation and status", () => {
  for (const [key, statuses] of Object.entries(RECIPES)) {
    const found = operations.find((o) => o.key === key);
    assert.ok(found, `${key} has recipes but is not in the document`);
    for (const status of Object.keys(statuses)) {
      assert.ok(status in found.op.responses, `the Worker answers ${key} with ${status}, which the document does not give`);
    }
  }
});

test("secured operations document 401, the others need no credentials", () => {
  const schemes = Object.keys(doc.components.securitySchemes).sort();
  assert.deepEqual(schemes, ["basicAuth", "bearerAuth"]);
  assert.equal(doc.components.securitySchemes.basicAuth.scheme, "basic");
  assert.equal(doc.components.securitySchemes.bearerAuth.scheme, "bearer");
  for (const { key, op } of operations) {
    const security = op.security ?? doc.security;
    const alternatives = security.map((s) => Object.keys(s).join("+")).sort();
    if (key === "POST /upload") {
      // The upload token in the query is the credential: a 401 names it.
      assert.deepEqual(alternatives, [], `${key} takes no API key or bearer token`);
      const token = (op.parameters ?? []).map((p) => deref(doc, p)).find((p) => p.name === "token");
      assert.ok(token?.in === "query" && token.required === true, `${key} requires the token in the query`);
      assert.ok("401" in op.responses, `${key} must document 401`);
    } else if (key.startsWith("GET /openapi") || key.startsWith("POST /auth/") || key === "OPTIONS /upload") {
      assert.deepEqual(alternatives, [], `${key} must not need credentials`);
      assert.ok(!("401" in op.responses), `${key} never answers 401`);
    } else {
      assert.deepEqual(alternatives, ["basicAuth", "bearerAuth"], key);
      assert.ok("401" in op.responses, `${key} must document 401`);
    }
  }
});

/** The (method, path) rows of `resolve()` in core/src/http/request.rs, path parameters as `{}`. */
function routedOperations() {
  const source = readFileSync(`${root}core/src/http/request.rs`, "utf8");
  const body = source.slice(source.indexOf("pub fn resolve("));
  const fnEnd = body.indexOf("\n}\n");
  const rows = [...body.slice(0, fnEnd).matchAll(/\(\s*"([A-Z]+)"\s*,\s*\[([^\]]*)\]\s*\)/g)];
  const routes = rows.map(([, method, segs]) => {
    const path = segs
      .split(",")
      .map((s) => s.trim())
      .map((s) => (/^"[^"]*"$/.test(s) ? s.slice(1, -1) : "{}"))
      .join("/");
    return `${method} /${path}`;
  });
  assert.ok(routes.length >= 7, `could not read resolve(): found ${routes.join(", ")}`);
  return routes;
}

const normalise = (key) => key.replace(/\{[^}]*\}/g, "{}");

test("every route the Worker answers is documented, and only those", async () => {
  const routed = routedOperations();
  const documented = operations.map((o) => normalise(o.key));
  for (const route of routed) {
    if (NOT_YET_DOCUMENTED.has(route)) {
      assert.ok(!documented.includes(route), `${route} is documented now: take it out of NOT_YET_DOCUMENTED`);
    } else {
      assert.ok(documented.includes(route), `${route} is routed by resolve() but not in openapi.json`);
    }
  }
  for (const entry of NOT_YET_DOCUMENTED) assert.ok(routed.includes(entry), `${entry} is no longer routed`);
  for (const key of documented) assert.ok(routed.includes(key), `${key} is documented but resolve() has no such row`);
  // The rows read from the source really are routes: none is answered as an unknown URL or a
  // method the path does not take.
  for (const route of routed) {
    const [method, path] = route.split(" ");
    const r = await w.main.call(method, path.replaceAll("{}", SAMPLE_TOKEN), { auth: null });
    assert.notEqual(r.status, 405, `${route}: ${describeResponse(r)}`);
    assert.ok(!String(r.json?.type).endsWith("/unrecognized-request-url"), `${route}: ${describeResponse(r)}`);
  }
});

test("a documented path answers other methods with 405 and an Allow header listing the documented ones", async () => {
  const wrong = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    const methods = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
    const pending = [...NOT_YET_DOCUMENTED].filter((k) => normalise(k).endsWith(` ${normalise(path)}`));
    const expected = [...methods, ...pending.map((k) => k.split(" ")[0])].sort();
    // QUERY is a method the runtime lets through to the Worker like any other.
    for (const probe of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY"].filter((m) => !expected.includes(m))) {
      const r = await w.main.call(probe, path.replace(/\{[^}]*\}/g, SAMPLE_TOKEN));
      const allow = (r.headers.get("allow") ?? "").split(",").map((s) => s.trim()).filter(Boolean).sort();
      const problems = [
        r.status !== 405 && "status is not 405",
        JSON.stringify(allow) !== JSON.stringify(expected) && `Allow is not ${expected.join(", ")}`,
        r.headers.get("content-type") !== "application/json" && "Content-Type is not application/json",
        ...validate(doc, { $ref: "#/components/schemas/Problem" }, r.json),
      ].filter(Boolean);
      if (problems.length) wrong.push(`${probe} ${path}: ${problems.join("; ")}\n    got ${describeResponse(r)}`);
    }
  }
  assert.equal(wrong.length, 0, `methods the document does not give are not refused:\n${wrong.join("\n")}`);
});

test("a path the Worker does not serve is a 404 problem, as the document says", async () => {
  for (const path of ["/", "/upload-token", "/upload-tokens/x/y", "/auth", "/openapi.yaml"]) {
    const r = await w.main.call("GET", path);
    assert.equal(r.status, 404, `${path}: ${describeResponse(r)}`);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal(r.json.type, "https://docs.api.video/reference/unrecognized-request-url");
    assert.deepEqual(validate(doc, { $ref: "#/components/schemas/Problem" }, r.json), []);
  }
  assert.match(doc.info.description, /unrecognized-request-url/);
});

test("GET /openapi.json serves exactly openapi.json", async () => {
  const r = await w.main.call("GET", "/openapi.json", { auth: null });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.ok(r.text === DOC_TEXT, "the served document differs from openapi.json: rebuild the Worker (scripts/build.sh)");
});

test("the document is consistent: references, links, examples", () => {
  assert.match(doc.openapi, /^3\.0\.\d+$/);
  // Every $ref resolves.
  (function walk(node, where) {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${where}/${i}`));
    else if (node && typeof node === "object") {
      if (typeof node.$ref === "string") assert.doesNotThrow(() => resolveRef(doc, node.$ref), `${where}: ${node.$ref}`);
      for (const [k, v] of Object.entries(node)) walk(v, `${where}/${k}`);
    }
  })(doc, "#");
  const ids = operations.map((o) => o.op.operationId);
  assert.equal(new Set(ids).size, ids.length, "operationIds are unique");
  assert.ok(ids.every(Boolean), "every operation has an operationId");
  for (const { key, op } of operations) {
    for (const [status, ref] of Object.entries(op.responses)) {
      const res = deref(doc, ref);
      assert.ok(res.description, `${key} ${status} has a description`);
      for (const [name, link] of Object.entries(res.links ?? {})) {
        const target = operations.find((o) => o.op.operationId === link.operationId);
        assert.ok(target, `${key} ${status} link ${name}: no operation ${link.operationId}`);
        const params = [...(doc.paths[target.path].parameters ?? []), ...(target.op.parameters ?? [])].map((p) => deref(doc, p).name);
        for (const p of Object.keys(link.parameters ?? {})) assert.ok(params.includes(p), `link ${name}: no parameter ${p}`);
        if (link.requestBody) assert.ok(target.op.requestBody, `link ${name}: ${link.operationId} takes no body`);
      }
      // Examples given for response bodies conform to their schemas.
      const media = res.content?.["application/json"];
      if (media?.example !== undefined) assert.deepEqual(validate(doc, media.schema, media.example), []);
    }
    const body = op.requestBody && deref(doc, op.requestBody).content["application/json"];
    if (body?.example !== undefined) assert.deepEqual(validate(doc, body.schema, body.example), [], `${key} request example`);
  }
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    if (schema.example !== undefined) {
      assert.deepEqual(validate(doc, schema, schema.example), [], `example of ${name}`);
    }
  }
});
