// Requests to `/upload` and `/videos/...` for test/openapi.test.mjs: multipart bodies built by
// Node's own FormData (dispatchFetch does not encode a FormData body itself), and answers read
// as bytes so that a binary source can be checked as well as a JSON one.
import assert from "node:assert/strict";
import { KEYS, basic } from "./miniflare.mjs";

export const MiB = 1024 * 1024;
/** The smallest chunk other than the last one. */
export const MIN_CHUNK = 5 * MiB;

/** `size` bytes of a repeating pattern (distinct per `seed`), as a Buffer. */
export function bytes(size, seed = 1) {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/**
 * A multipart/form-data body. `parts` is a list of `[name, string]` (a text field) or
 * `[name, {data, filename, type}]` (a file part), in order.
 */
export async function multipart(parts) {
  const fd = new FormData();
  for (const [name, value] of parts) {
    if (typeof value === "string") fd.append(name, value);
    else fd.append(name, new Blob([value.data], value.type ? { type: value.type } : {}), value.filename);
  }
  const encoded = new Response(fd);
  return { body: Buffer.from(await encoded.arrayBuffer()), contentType: encoded.headers.get("content-type") };
}

/** Sends a request as given; the answer with its raw bytes, its text and its JSON if any. */
export async function send(worker, method, path, { headers = {}, body } = {}) {
  const res = await worker.mf.dispatchFetch(`http://localhost${path}`, { method, headers, body });
  const raw = Buffer.from(await res.arrayBuffer());
  const text = raw.toString("utf8");
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes: raw, text, json, request: `${method} ${path}` };
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

/** The Authorization header of a KEYS name, or a whole header value. */
const authorization = (auth) => (KEYS[auth] ? basic(KEYS[auth]) : auth);

/** `GET path` with the credentials of `auth` (a KEYS name, a header value, or null). */
export function get(worker, path, auth = "alpha") {
  return send(worker, "GET", path, { headers: auth ? { Authorization: authorization(auth) } : {} });
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
