// Reads a multipart/form-data upload as it arrives, without ever holding a whole file in
// memory: small fields are kept as text, and each file part is written to R2 in slices of
// SLICE bytes (one `put` if it is smaller, else a multipart upload) under a fresh staging key.
// The Rust side decides what the upload is and copies the staged file where it belongs.

/** R2 multipart parts must be at least 5 MiB, all of one size but the last. */
const SLICE = 5 * 1024 * 1024;
/** Limits on everything that is not file data. */
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_FIELD_BYTES = 16 * 1024;
const MAX_PARTS = 16;

const CR = 13;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

class Refusal extends Error {
  constructor(kind) {
    super(kind);
    this.kind = kind;
  }
}

/** The boundary parameter of a multipart Content-Type, or null. */
function boundaryOf(contentType) {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType || "");
  return m ? m[1] || m[2] : null;
}

/** A parameter of a Content-Disposition header (`name`, `filename`), or null. */
function dispositionParam(value, param) {
  const re = new RegExp(`;\\s*${param}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, "i");
  const m = re.exec(value);
  if (!m) return null;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2].trim();
}

/** Index of `needle` in `hay` at or after `from`, or -1; `needle` starts with CR. */
function indexOf(hay, needle, from) {
  for (let i = hay.indexOf(CR, from); i !== -1 && i + needle.length <= hay.length; i = hay.indexOf(CR, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function concat(a, b) {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Writes one file part to R2 as its bytes come, SLICE at a time. */
class StagedFile {
  constructor(bucket, key, maxBytes) {
    this.bucket = bucket;
    this.key = key;
    this.maxBytes = maxBytes;
    this.size = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.upload = null;
    this.parts = [];
  }

  async write(bytes) {
    if (bytes.length === 0) return;
    this.size += bytes.length;
    if (this.size > this.maxBytes) throw new Refusal("too-large");
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    while (this.pendingBytes >= SLICE) await this.flush(SLICE);
  }

  /** Sends the first `n` pending bytes as the next part. */
  async flush(n) {
    const slice = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.pending[0];
      const take = Math.min(head.length, n - filled);
      slice.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(take);
    }
    this.pendingBytes -= n;
    if (!this.upload) this.upload = await this.bucket.createMultipartUpload(this.key);
    this.parts.push(await this.upload.uploadPart(this.parts.length + 1, slice));
  }

  async close() {
    if (!this.upload) {
      const whole = new Uint8Array(this.pendingBytes);
      let at = 0;
      for (const p of this.pending) {
        whole.set(p, at);
        at += p.length;
      }
      await this.bucket.put(this.key, whole);
      return;
    }
    if (this.pendingBytes > 0) await this.flush(this.pendingBytes);
    await this.upload.complete(this.parts);
  }

  async abandon() {
    try {
      if (this.upload) await this.upload.abort();
    } catch {}
  }
}

/** Reads a body to its end, dropping what comes. */
async function drain(reader, ended) {
  if (ended) return;
  while (!(await reader.read()).done) {}
}

/**
 * Reads `request`'s multipart body. Returns `{ fields, files, error }`: `fields` maps each text
 * field's name to its value (the last one wins), `files` lists `{ key, field, filename, type,
 * size }` of every file part staged under `stagingPrefix`, and `error` is null or one of
 * "not-multipart", "malformed" or "too-large" (then nothing stays staged).
 */
export async function stageMultipart(request, bucket, stagingPrefix, maxFileBytes) {
  const fields = {};
  const files = [];
  let current = null;
  const boundary = boundaryOf(request.headers.get("content-type"));
  if (!boundary || !/^multipart\/form-data/i.test(request.headers.get("content-type") || "") || !request.body) {
    return { fields, files, error: "not-multipart" };
  }
  const opening = encoder.encode(`--${boundary}`);
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  const reader = request.body.getReader();
  let buf = new Uint8Array(0);
  let ended = false;
  const more = async () => {
    const { value, done } = await reader.read();
    if (done) ended = true;
    else buf = concat(buf, value);
    return !done;
  };

  try {
    // The preamble, up to the first boundary line.
    let start;
    for (;;) {
      start = indexOf(concat(new Uint8Array([CR, 10]), buf), delimiter, 0);
      if (start !== -1) break;
      if (buf.length > MAX_HEADER_BYTES || !(await more())) throw new Refusal("malformed");
    }
    buf = buf.subarray(start + opening.length);
    let parts = 0;
    for (;;) {
      // After a boundary: "--" ends the body, CRLF starts a part.
      while (buf.length < 2) if (!(await more())) throw new Refusal("malformed");
      if (buf[0] === 45 && buf[1] === 45) break;
      if (buf[0] !== CR || buf[1] !== 10) throw new Refusal("malformed");
      buf = buf.subarray(2);
      if (++parts > MAX_PARTS) throw new Refusal("malformed");

      let end;
      while ((end = indexOf(buf, encoder.encode("\r\n\r\n"), 0)) === -1) {
        if (buf.length > MAX_HEADER_BYTES || !(await more())) throw new Refusal("malformed");
      }
      const head = decoder.decode(buf.subarray(0, end));
      buf = buf.subarray(end + 4);
      let disposition = "";
      let type = "";
      for (const line of head.split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon === -1) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        if (name === "content-disposition") disposition = line.slice(colon + 1).trim();
        if (name === "content-type") type = line.slice(colon + 1).trim();
      }
      const field = dispositionParam(disposition, "name") ?? "";
      const filename = dispositionParam(disposition, "filename");

      // The part's content runs to the next delimiter.
      let text = filename === null ? new Uint8Array(0) : null;
      if (filename !== null) {
        current = new StagedFile(bucket, `${stagingPrefix}${crypto.randomUUID()}`, maxFileBytes);
      }
      for (;;) {
        const at = indexOf(buf, delimiter, 0);
        const usable = at !== -1 ? at : Math.max(0, buf.length - delimiter.length + 1);
        const data = buf.subarray(0, usable);
        if (current) await current.write(data);
        else {
          text = concat(text, data);
          if (text.length > MAX_FIELD_BYTES) throw new Refusal("malformed");
        }
        buf = buf.subarray(usable);
        if (at !== -1) break;
        if (!(await more())) throw new Refusal("malformed");
      }
      buf = buf.subarray(delimiter.length);
      if (current) {
        await current.close();
        files.push({ key: current.key, field, filename, type, size: current.size });
        current = null;
      } else {
        fields[field] = decoder.decode(text);
      }
    }
    // Whatever follows the closing boundary is ignored, but read so the answer is not cut off.
    await drain(reader, ended);
    return { fields, files, error: null };
  } catch (e) {
    if (current) await current.abandon();
    const keys = files.map((f) => f.key);
    if (keys.length) await bucket.delete(keys).catch(() => {});
    if (e instanceof Refusal) {
      // Read the rest without keeping it, so the client gets the answer, not a reset.
      await drain(reader, ended).catch(() => {});
      return { fields: {}, files: [], error: e.kind };
    }
    throw e;
  }
}
