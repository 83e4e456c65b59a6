// Reads a multipart/form-data upload as it arrives, without ever holding a whole file in
// memory: small fields are kept as text, and each file part is written to R2 in slices of
// SLICE bytes (one `put` if it is smaller, else a multipart upload) under a fresh staging key.
// The Rust side decides what the upload is and copies the staged file where it belongs.
//
// Each file's SHA-256 is taken on the way, slice by slice as the slices go to R2, with the
// runtime's `crypto.DigestStream` (native, incremental: the bytes are hashed, never gathered).
//
// The parsing is multipasta's: a push parser that is handed each piece of the body as it is
// read and calls back, before it returns, with the bytes of the file part they hold. So the body
// is read one piece at a time, and the next piece is only read once the slices filled so far are
// in R2: what is held is at most a slice per file and one piece of the body.
import * as Multipasta from "multipasta";

/** R2 multipart parts must be at least 5 MiB, all of one size but the last. */
const SLICE = 5 * 1024 * 1024;
/** A file's first buffer; it grows to SLICE as the file does, so a small file costs little. */
const FIRST_BUFFER = 64 * 1024;
/** Limits on everything that is not file data. A part's header block is limited to 16 KiB (and
 * 100 lines) by the parser itself. */
const MAX_FIELD_BYTES = 16 * 1024;
const MAX_PARTS = 16;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

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

/** The last value of a part's header (a repeated header comes as an array), or "". */
function header(info, name) {
  const v = info.headers[name];
  return (Array.isArray(v) ? v[v.length - 1] : v ?? "").trim();
}

/** What a part's headers say: its field name, and its file name (null for a text field). */
function describe(info) {
  const disposition = header(info, "content-disposition");
  return {
    field: dispositionParam(disposition, "name") ?? "",
    filename: dispositionParam(disposition, "filename"),
    type: header(info, "content-type"),
  };
}

/** The lowercase hex of an ArrayBuffer. */
function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One file part: its bytes are copied into slices as the parser hands them over (`take`, which
 * does not wait), and `send` hashes the full slices and puts them into R2 before the next piece
 * is read. Once the part is closed, `sha256` holds the hex digest of all its bytes. */
class StagedFile {
  constructor(bucket, key, part) {
    this.bucket = bucket;
    this.key = key;
    this.part = part;
    this.size = 0;
    this.digestStream = new crypto.DigestStream("SHA-256");
    this.hasher = this.digestStream.getWriter();
    this.sha256 = null;
    this.buffer = null;
    this.filled = 0;
    this.full = [];
    // A slice R2 has taken, filled again rather than a new one allocated for every 5 MiB.
    this.spare = null;
    this.upload = null;
    this.parts = [];
    this.ended = false;
    this.closed = false;
  }

  take(bytes) {
    this.size += bytes.length;
    for (let at = 0; at < bytes.length; ) {
      if (!this.buffer) {
        this.buffer = this.spare ?? new Uint8Array(this.full.length || this.parts.length ? SLICE : FIRST_BUFFER);
        this.spare = null;
      } else if (this.filled === this.buffer.length) {
        const grown = new Uint8Array(Math.min(SLICE, this.buffer.length * 2));
        grown.set(this.buffer);
        this.buffer = grown;
      }
      const n = Math.min(bytes.length - at, this.buffer.length - this.filled);
      this.buffer.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === SLICE) {
        this.full.push(this.buffer);
        this.buffer = null;
        this.filled = 0;
      }
    }
  }

  /** Sends the full slices, then, once the part has ended, the rest. Each slice is hashed
   * before it is sent (the hash is done with it before the slice is filled again). */
  async send() {
    while (this.full.length) {
      if (!this.upload) this.upload = await this.bucket.createMultipartUpload(this.key);
      const slice = this.full.shift();
      await this.hasher.write(slice);
      this.parts.push(await this.upload.uploadPart(this.parts.length + 1, slice));
      this.spare = slice;
    }
    if (!this.ended || this.closed) return;
    const rest = this.buffer ? this.buffer.subarray(0, this.filled) : EMPTY;
    this.buffer = this.spare = null;
    if (rest.length > 0) await this.hasher.write(rest);
    await this.hasher.close();
    this.sha256 = hex(await this.digestStream.digest);
    if (!this.upload) {
      await this.bucket.put(this.key, rest);
    } else {
      if (rest.length > 0) this.parts.push(await this.upload.uploadPart(this.parts.length + 1, rest));
      await this.upload.complete(this.parts);
    }
    this.closed = true;
  }

  async abandon() {
    try {
      if (this.upload && !this.closed) await this.upload.abort();
    } catch {}
    if (this.sha256 === null) {
      this.digestStream.digest.catch(() => {});
      this.hasher.abort().catch(() => {});
    }
  }
}

/** Reads a body to its end, dropping what comes. */
async function drain(reader) {
  while (!(await reader.read()).done) {}
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Reads `request`'s multipart body. Returns `{ fields, files, error }`: `fields` maps each text
 * field's name to its value (the last one wins), `files` lists `{ key, field, filename, type,
 * size, sha256 }` of every file part staged under `stagingPrefix` (`sha256`: the hex SHA-256 of
 * its bytes), and `error` is null or one of
 * "not-multipart", "malformed" or "too-large" (then nothing stays staged).
 */
export async function stageMultipart(request, bucket, stagingPrefix, maxFileBytes) {
  const contentType = request.headers.get("content-type") || "";
  const boundary = boundaryOf(contentType);
  if (!boundary || !/^multipart\/form-data/i.test(contentType) || !request.body) {
    return { fields: {}, files: [], error: "not-multipart" };
  }

  const fields = {};
  const started = [];
  let refusal = null;
  let done = false;
  const refuse = (kind) => {
    refusal ??= kind;
  };
  const parser = Multipasta.make({
    // The boundary as found above, quoted, so that the parser splits on exactly that.
    headers: { "content-type": `multipart/form-data; boundary="${boundary.replace(/["\\]/g, "\\$&")}"` },
    maxParts: MAX_PARTS,
    maxFieldSize: MAX_FIELD_BYTES,
    isFile: (info) => describe(info).filename !== null,
    onFile(info) {
      if (refusal || done) return () => {};
      const file = new StagedFile(bucket, `${stagingPrefix}${crypto.randomUUID()}`, describe(info));
      started.push(file);
      return (bytes) => {
        if (refusal || done) return;
        if (bytes === null) file.ended = true;
        else if (file.size + bytes.length > maxFileBytes) refuse("too-large");
        else file.take(bytes);
      };
    },
    onField(info, value) {
      if (!refusal && !done) fields[describe(info).field] = decoder.decode(value);
    },
    onError(error) {
      if (!done) refuse(error._tag === "InvalidBoundary" ? "not-multipart" : "malformed");
    },
    onDone() {
      done = true;
    },
  });

  // The parser throws on what it cannot read at all (a `filename*` that is not percent-encoded
  // UTF-8, which it decodes though only `filename` is used here): the body is malformed.
  const parse = (step) => {
    try {
      step();
    } catch {
      refuse("malformed");
    }
  };

  // The parser takes a piece that stops between the two dashes of the closing delimiter for the
  // start of another part, so such a dash is kept back and handed over with the next piece. The
  // parser itself starts on a CRLF, so that an opening boundary is seen as a delimiter too.
  const closing = encoder.encode(`\r\n--${boundary}-`);
  let recent = encoder.encode("\r\n");
  let held = null;
  const feed = (piece) => {
    // The last bytes of the body so far, as many as `closing` has.
    const keep = Math.max(0, closing.length - piece.length);
    recent = concat(
      recent.subarray(Math.max(0, recent.length - keep)),
      piece.subarray(Math.max(0, piece.length - closing.length)),
    );
    let bytes = held ? concat(held, piece) : piece;
    held = null;
    if (recent.length === closing.length && recent.every((b, i) => b === closing[i])) {
      held = bytes.subarray(bytes.length - 1);
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    if (bytes.length > 0) parse(() => parser.write(bytes));
  };
  // Puts what the parser handed over into R2, file by file.
  const send = async () => {
    for (const file of started) if (!file.closed) await file.send();
  };

  const reader = request.body.getReader();
  let ended = false;
  try {
    while (!done && !refusal) {
      const { value, done: last } = await reader.read();
      if (last) {
        ended = true;
        parse(() => {
          if (held) parser.write(held);
          parser.end();
        });
      } else if (value.length > 0) {
        feed(value);
      }
      if (refusal) break;
      await send();
      if (ended) break;
    }
    if (refusal) throw new Refusal(refusal);
    // Cut short: the closing delimiter never came.
    if (!done) throw new Refusal("malformed");
    // Whatever follows the closing delimiter is ignored, but read so the answer is not cut off.
    if (!ended) await drain(reader);
    return {
      fields,
      files: started.map((f) => ({ key: f.key, ...f.part, size: f.size, sha256: f.sha256 })),
      error: null,
    };
  } catch (e) {
    for (const file of started) await file.abandon();
    const keys = started.filter((f) => f.closed).map((f) => f.key);
    if (keys.length) await bucket.delete(keys).catch(() => {});
    if (e instanceof Refusal) {
      // Read the rest without keeping it, so the client gets the answer, not a reset.
      if (!ended) await drain(reader).catch(() => {});
      return { fields: {}, files: [], error: e.kind };
    }
    throw e;
  }
}
