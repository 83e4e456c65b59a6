// Building and sending `POST /upload?token=` requests to the Worker in Miniflare, and reading
// back what it stored in R2.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { DATE_RE, REF } from "./mf-helpers.mjs";
import { multipart, readAnswer } from "./http.mjs";
import { authOf } from "./miniflare.mjs";

export const MiB = 1024 * 1024;
export const MIN_PART = 5 * MiB;

export const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");
export const random = (n) => randomBytes(n);

/**
 * Sends one chunk. `data` is the file's bytes, `filename` its name (default `clip.mp4`), `field`
 * the file part's field name (default `file`), `videoId` an optional field placed before the
 * file (`videoIdAfter: true` puts it after), `range` the Content-Range header (none if absent).
 * `token` may be null to leave the query out; `fields` replaces the whole form when given.
 */
export async function sendChunk(mf, token, opts = {}) {
  const {
    data,
    filename = "clip.mp4",
    field = "file",
    type,
    videoId,
    videoIdAfter = false,
    range,
    headers = {},
    fields,
  } = opts;
  let form = fields;
  if (!form) {
    const file = [field, { data, filename, type }];
    form = videoId === undefined ? [file] : videoIdAfter ? [file, ["videoId", videoId]] : [["videoId", videoId], file];
  }
  const { body, contentType } = await multipart(form);
  const h = { "Content-Type": contentType, ...headers };
  if (range !== undefined) h["Content-Range"] = range;
  const query = token === null ? "" : `?token=${encodeURIComponent(token)}`;
  return readAnswer(await mf.dispatchFetch(`http://localhost/upload${query}`, { method: "POST", headers: h, body }));
}

/** A request to `/upload` with an arbitrary body and headers. */
export async function rawUpload(mf, query, { method = "POST", headers = {}, body } = {}) {
  return readAnswer(await mf.dispatchFetch(`http://localhost/upload${query}`, { method, headers, body }));
}

/** `GET path` with the Basic key of `auth` (a KEYS name), or no auth when null. */
async function get(mf, path, auth) {
  const headers = auth ? { Authorization: authOf(auth) } : {};
  return readAnswer(await mf.dispatchFetch(`http://localhost${path}`, { headers }));
}

/** `GET /videos/{id}` (JSON) with the Basic key of `auth` (a KEYS name), or no auth when null. */
export const getVideo = (mf, id, auth = "alpha") => get(mf, `/videos/${id}`, auth);

/** `GET /videos/{id}/source`: status, headers and the raw bytes. */
export const getSource = (mf, id, auth = "alpha") => get(mf, `/videos/${id}/source`, auth);

/**
 * Every object of the R2 bucket as `key etag` (the etag is a hash of the content), in key
 * order. Each property read crosses into the runtime, so only these two are read.
 */
export async function r2Snapshot(mf) {
  const bucket = await mf.getR2Bucket("VIDEOS");
  const all = [];
  let cursor;
  do {
    const page = await bucket.list(cursor ? { cursor } : {});
    for (const o of page.objects) all.push(`${o.key} ${o.etag}`);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return all.sort();
}

/** The keys of the R2 bucket that mention `videoId`, or that start with `prefix`. */
export async function r2Keys(mf, { videoId, prefix } = {}) {
  const keys = (await r2Snapshot(mf)).map((line) => line.split(" ")[0]);
  return keys.filter((k) => (videoId === undefined || k.includes(videoId)) && (prefix === undefined || k.startsWith(prefix)));
}

function assertNoNull(value, path = "") {
  if (value === null) assert.fail(`null at ${path || "top level"}`);
  if (typeof value === "object") for (const [k, v] of Object.entries(value)) assertNoNull(v, `${path}.${k}`);
}

export const VIDEO_FIELDS = [
  "createdAt",
  "description",
  "discarded",
  "metadata",
  "mp4Support",
  "panoramic",
  "public",
  "publishedAt",
  "source",
  "tags",
  "title",
  "updatedAt",
  "videoId",
];

/**
 * A 201 answer to an upload chunk: exactly `application/json`, a Video with no null anywhere,
 * the given title, and (if given) the given videoId. Returns the videoId.
 */
export function assertVideoAnswer(res, { title, videoId } = {}, what = "") {
  const label = `${what} -> ${res.status} ${res.text}`;
  assert.equal(res.status, 201, label);
  assert.equal(res.headers.get("content-type"), "application/json", `Content-Type of ${label}`);
  assert.equal(res.headers.get("access-control-allow-origin"), "*", `CORS of ${label}`);
  const v = res.json;
  assert.equal(typeof v, "object", label);
  assert.deepEqual(Object.keys(v).sort(), VIDEO_FIELDS, label);
  assertVideoShape(v, label);
  if (title !== undefined) assert.equal(v.title, title, label);
  if (videoId !== undefined) assert.equal(v.videoId, videoId, label);
  return v.videoId;
}

/** The fields every Video carries, whether from an upload or from `GET /videos/{id}`. */
export function assertVideoShape(v, label = "") {
  assertNoNull({ ...v, ingest: undefined }, label);
  assert.match(v.videoId, /^vi[0-9A-Za-z]+$/, label);
  assert.equal(typeof v.title, "string", label);
  assert.equal(typeof v.description, "string", label);
  for (const k of ["public", "panoramic", "mp4Support", "discarded"]) assert.equal(typeof v[k], "boolean", `${k} ${label}`);
  assert.ok(Array.isArray(v.tags), label);
  assert.ok(Array.isArray(v.metadata), label);
  for (const k of ["createdAt", "updatedAt", "publishedAt"]) assert.match(v[k], DATE_RE, `${k} ${label}`);
  assert.equal(v.source?.uri, `/videos/${v.videoId}/source`, label);
  assert.equal(typeof v.source?.type, "string", label);
}

/**
 * A 4xx problem from `/upload`: the status, the slug of its type, the CORS header, exactly
 * `application/json`.
 */
export function assertUploadProblem(res, status, slug, what = "") {
  const label = `${what} -> ${res.status} ${res.text}`;
  assert.equal(res.status, status, label);
  assert.equal(res.headers.get("content-type"), "application/json", `Content-Type of ${label}`);
  assert.equal(res.headers.get("access-control-allow-origin"), "*", `CORS of ${label}`);
  assert.equal(res.json?.type, `${REF}${slug}`, label);
  assert.equal(res.json?.status, status, label);
  assert.equal(typeof res.json?.title, "string", label);
}
