// Requests to `/upload` and `/videos/...` for test/openapi.test.mjs, with answers that keep their
// bytes so that a binary source can be checked as well as a JSON one.
import assert from "node:assert/strict";
import { multipart, readAnswer } from "./http.mjs";
import { authOf } from "./miniflare.mjs";

export const MiB = 1024 * 1024;
/** The smallest chunk other than the last one. */
export const MIN_CHUNK = 5 * MiB;

/** `size` bytes of a repeating pattern (distinct per `seed`), as a Buffer. */
export function bytes(size, seed = 1) {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/** Sends a request as given; the answer with its raw bytes, its text and its JSON if any. */
export async function send(worker, method, path, { headers = {}, body } = {}) {
  const res = await worker.mf.dispatchFetch(`http://localhost${path}`, { method, headers, body });
  return { ...(await readAnswer(res)), request: `${method} ${path}` };
}

/**
 * `POST /upload`. `token` goes in the query (none when null); the body is one file part
 * `file` holding `data` (named `filename`, typed `type` if given) after an optional `videoId`
 * field, unless `parts` gives the whole form. `range` is the Content-Range header.
 */
export async function upload(worker, token, opts = {}) {
  const { data = bytes(5), filename = "clip.mp4", type, videoId, range, parts, headers = {} } = opts;
  const form = parts ?? [...(videoId === undefined ? [] : [["videoId", videoId]]), ["file", { data, filename, type }]];
  const { body, contentType } = await multipart(form);
  const h = { "Content-Type": contentType, ...headers };
  if (range !== undefined) h["Content-Range"] = range;
  const query = token === null ? "" : `?token=${encodeURIComponent(token)}`;
  const r = await send(worker, "POST", `/upload${query}`, { headers: h, body });
  r.request = `POST /upload${query} (Content-Range: ${range ?? "none"}, form: ${describeForm(form)})`;
  return r;
}

function describeForm(form) {
  return form
    .map(([name, v]) => (typeof v === "string" ? `${name}=${JSON.stringify(v)}` : `${name}=<${v.data.length} bytes ${JSON.stringify(v.filename)} ${v.type ?? "untyped"}>`))
    .join(", ");
}

/** `GET path` with the credentials of `auth` (a KEYS name, a header value, or null). */
export function get(worker, path, auth = "alpha") {
  return send(worker, "GET", path, { headers: auth ? { Authorization: authOf(auth) } : {} });
}

/** Asserts the answer is the problem `slug` (and 201/200 otherwise unchecked); returns it. */
export function expectSlug(r, slug) {
  assert.equal(r.json?.type, `https://docs.api.video/reference/${slug}`, `${r.request} -> ${r.status} ${r.text.slice(0, 300)}`);
  return r;
}

/** Asserts a 201 upload answer; returns the videoId. */
export function videoIdOf(r) {
  assert.equal(r.status, 201, `${r.request} -> ${r.status} ${r.text.slice(0, 300)}`);
  return r.json.videoId;
}
