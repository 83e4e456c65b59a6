// Unit tests of src/js/multipart.js on Node alone: request bodies cut into pieces of every size,
// and an in-memory bucket that keeps R2's rules for multipart uploads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import "./support/digest-stream.mjs";
import { stageMultipart } from "../src/js/multipart.js";

const MiB = 1024 * 1024;
const SLICE = 5 * MiB;
const MAX = 200 * MiB;
const BOUNDARY = "----form-boundary-7MA4YWxkTrZu0gW";
const TIMEOUT = { timeout: 120_000 };

/** An in-memory R2 bucket: put, multipart uploads (refusing what R2 refuses) and delete. */
function fakeBucket() {
  const objects = new Map();
  const open = new Set();
  const calls = [];
  return {
    objects,
    open,
    calls,
    async put(key, bytes) {
      assert.ok(bytes instanceof Uint8Array);
      calls.push(["put", key, bytes.length]);
      objects.set(key, Buffer.from(bytes));
    },
    async createMultipartUpload(key) {
      calls.push(["create", key]);
      const parts = new Map();
      const upload = {
        async uploadPart(n, bytes) {
          assert.ok(open.has(upload), "a part sent to a finished upload");
          calls.push(["part", key, n, bytes.length]);
          parts.set(n, Buffer.from(bytes));
          return { partNumber: n, etag: `etag-${n}` };
        },
        async complete(list) {
          assert.ok(open.has(upload), "an upload completed twice or after its abort");
          calls.push(["complete", key, list.length]);
          const numbers = list.map((p) => p.partNumber);
          assert.deepEqual(numbers, [...parts.keys()].sort((a, b) => a - b));
          assert.deepEqual(list.map((p) => p.etag), numbers.map((n) => `etag-${n}`));
          const sizes = numbers.map((n) => parts.get(n).length);
          // R2: every part but the last at least 5 MiB and all of one size, the last no larger.
          for (const s of sizes.slice(0, -1)) {
            assert.ok(s >= SLICE, `a part of ${s} bytes is not the last`);
            assert.equal(s, sizes[0], `parts of unequal sizes: ${sizes}`);
          }
          assert.ok(sizes.at(-1) <= sizes[0], `the last part is larger: ${sizes}`);
          open.delete(upload);
          objects.set(key, Buffer.concat(numbers.map((n) => parts.get(n))));
        },
        async abort() {
          calls.push(["abort", key]);
          open.delete(upload);
        },
      };
      open.add(upload);
      return upload;
    },
    async delete(keys) {
      for (const k of [].concat(keys)) {
        calls.push(["delete", k]);
        objects.delete(k);
      }
    },
  };
}

/** A multipart body: parts are [name, "text"] or [name, { data, filename, type }]. */
function form(parts, { boundary = BOUNDARY, epilogue = "\r\n", close = true } = {}) {
  const out = [];
  for (const [name, v] of parts) {
    if (typeof v === "string") {
      out.push(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${v}\r\n`);
    } else {
      out.push(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${v.filename}"\r\n`);
      out.push(`Content-Type: ${v.type ?? "application/octet-stream"}\r\n\r\n`, v.data, "\r\n");
    }
  }
  if (close) out.push(`--${boundary}--${epilogue}`);
  return Buffer.concat(out.map((p) => (typeof p === "string" ? Buffer.from(p) : p)));
}

/** A request whose body is read in pieces: `pieces` is a size, or a function of the offset. */
function request(bytes, pieces = 65536, contentType = `multipart/form-data; boundary=${BOUNDARY}`) {
  const size = typeof pieces === "number" ? () => pieces : pieces;
  let at = 0;
  const stream = new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      const n = Math.max(1, size(at));
      c.enqueue(new Uint8Array(bytes.subarray(at, at + n)));
      at += n;
    },
  });
  const req = new Request("http://localhost/upload", { method: "POST", body: stream, duplex: "half", headers: { "content-type": contentType } });
  req.pulled = () => Math.min(at, bytes.length);
  return req;
}

/** Stages `bytes` and checks that the result is well formed and nothing is left half done. */
async function stage(bytes, pieces, max = MAX, contentType) {
  const bucket = fakeBucket();
  const r = await stageMultipart(request(bytes, pieces, contentType), bucket, "staging/", max);
  assert.equal(bucket.open.size, 0, "an upload was left open");
  if (r.error !== null) {
    assert.deepEqual([r.fields, r.files], [{}, []]);
    assert.equal(bucket.objects.size, 0, "a refused body left staged objects");
  } else {
    assert.deepEqual([...bucket.objects.keys()].sort(), r.files.map((f) => f.key).sort());
    for (const f of r.files) {
      assert.match(f.key, /^staging\/[0-9a-f-]{36}$/);
      // Every staged file comes with the SHA-256 of exactly the bytes R2 holds.
      assert.equal(f.sha256, sha256(bucket.objects.get(f.key)), `the digest of ${f.key}`);
    }
  }
  return { r, bucket, staged: (i) => bucket.objects.get(r.files[i].key) };
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

const sizesOf = (bucket, kind) => bucket.calls.filter((c) => c[0] === kind).map((c) => c.at(-1));

test("one small file is one put, with its field name, file name and type", TIMEOUT, async () => {
  const data = randomBytes(4321);
  const { r, bucket, staged } = await stage(form([["file", { data, filename: "clip.mp4", type: "video/mp4" }]]));
  assert.equal(r.error, null);
  assert.deepEqual(r.fields, {});
  assert.deepEqual(r.files.map(({ field, filename, type, size }) => [field, filename, type, size]), [["file", "clip.mp4", "video/mp4", 4321]]);
  assert.deepEqual(staged(0), data);
  assert.deepEqual(bucket.calls.map((c) => c[0]), ["put"]);
});

test("a file over 5 MiB goes up as a multipart upload in equal 5 MiB parts", TIMEOUT, async () => {
  for (const size of [SLICE, SLICE + 1, 2 * SLICE, 12 * MiB + 77]) {
    const data = randomBytes(size);
    const { r, bucket, staged } = await stage(form([["file", { data, filename: "big.mp4" }]]), 65536);
    assert.equal(r.error, null);
    assert.equal(r.files[0].size, size);
    assert.deepEqual(staged(0), data);
    const parts = sizesOf(bucket, "part");
    const whole = Math.floor(size / SLICE);
    assert.deepEqual(parts, [...Array(whole).fill(SLICE), ...(size % SLICE ? [size % SLICE] : [])]);
    assert.equal(sizesOf(bucket, "put").length, 0);
  }
});

test("a body read one byte at a time", TIMEOUT, async () => {
  const data = Buffer.concat([Buffer.from(`\r\n--${BOUNDARY.slice(0, 9)}\r\r\n-`), randomBytes(3000), Buffer.from(`\r\n--${BOUNDARY}`.slice(0, 20))]);
  for (const epilogue of ["", "\r\n", "\r\nan epilogue, ignored\r\n"]) {
    const body = form([["videoId", "vi4kZ1"], ["file", { data, filename: "one.bin" }], ["note", "x"]], { epilogue });
    const { r, staged } = await stage(body, 1);
    assert.equal(r.error, null, JSON.stringify(epilogue));
    assert.deepEqual(r.fields, { videoId: "vi4kZ1", note: "x" });
    assert.deepEqual(staged(0), data);
  }
});

test("a body read in one piece, and in pieces of 1 MiB", TIMEOUT, async () => {
  const data = randomBytes(7 * MiB + 5);
  const body = form([["file", { data, filename: "v.mp4" }], ["videoId", "vi1"]]);
  for (const pieces of [body.length, MiB]) {
    const { r, bucket, staged } = await stage(body, pieces);
    assert.equal(r.error, null);
    assert.deepEqual(r.fields, { videoId: "vi1" });
    assert.deepEqual(staged(0), data);
    assert.deepEqual(sizesOf(bucket, "part"), [SLICE, 2 * MiB + 5]);
  }
});

test("pieces that end anywhere, tiny ones around the delimiters", TIMEOUT, async () => {
  const data = randomBytes(SLICE + 1000);
  const body = form([["videoId", "vi2"], ["file", { data, filename: "f.mp4" }]]);
  const closing = body.lastIndexOf(`\r\n--${BOUNDARY}--`);
  // Every cut in the last bytes, as one piece ending there and 1-byte pieces after it.
  for (let cut = closing - 3; cut <= body.length; cut++) {
    const { r, staged } = await stage(body, (at) => (at < cut ? cut - at : 1));
    assert.equal(r.error, null, `cut at ${cut - closing} from the closing delimiter`);
    assert.deepEqual(staged(0), data);
  }
  // Random piece sizes, small and large.
  for (let round = 0; round < 30; round++) {
    const small = [1, 2, 3, 17, 100][round % 5];
    const { r, staged } = await stage(body, () => (Math.random() < 0.5 ? 1 + Math.floor(Math.random() * small) : 1 + Math.floor(Math.random() * 300000)));
    assert.equal(r.error, null);
    assert.deepEqual(r.fields, { videoId: "vi2" });
    assert.deepEqual(staged(0), data);
  }
});

test("a closing delimiter read between its two dashes still closes the body", TIMEOUT, async () => {
  for (const parts of [[["file", { data: Buffer.from("abc"), filename: "a" }]], []]) {
    const body = form(parts, { epilogue: "" });
    const { r } = await stage(body, (at) => (at < body.length - 1 ? body.length - 1 - at : 1));
    assert.equal(r.error, null);
    assert.equal(r.files.length, parts.length);
  }
});

test("videoId before or after the file, the last value of a field wins", TIMEOUT, async () => {
  const data = randomBytes(100);
  const file = ["file", { data, filename: "x.mp4", type: "video/mp4" }];
  for (const parts of [[["videoId", "vi1"], file], [file, ["videoId", "vi1"]], [["videoId", "old"], file, ["videoId", "vi1"]]]) {
    const { r, staged } = await stage(form(parts), 7);
    assert.equal(r.error, null);
    assert.deepEqual(r.fields, { videoId: "vi1" });
    assert.deepEqual(staged(0), data);
  }
});

test("two files are both staged and listed in order; an empty file is staged empty", TIMEOUT, async () => {
  const a = randomBytes(6 * MiB);
  const b = Buffer.alloc(0);
  const { r, staged } = await stage(form([["a", { data: a, filename: "a.mp4" }], ["b", { data: b, filename: "b.mp4" }]]), 100000);
  assert.equal(r.error, null);
  assert.deepEqual(r.files.map((f) => [f.field, f.filename, f.size]), [["a", "a.mp4", a.length], ["b", "b.mp4", 0]]);
  assert.deepEqual(staged(0), a);
  assert.deepEqual(staged(1), b);
});

test("a form without a file stages nothing and keeps its fields", TIMEOUT, async () => {
  const { r, bucket } = await stage(form([["videoId", "vi9"], ["title", "héllo wörld"]]), 3);
  assert.equal(r.error, null);
  assert.deepEqual(r.fields, { videoId: "vi9", title: "héllo wörld" });
  assert.deepEqual(r.files, []);
  assert.equal(bucket.calls.length, 0);
});

test("file names come as sent, quoting undone; a part without a file name is a field", TIMEOUT, async () => {
  const names = [
    ['"clip %22final%22; v2.mp4"', 'clip %22final%22; v2.mp4'],
    ['"a \\"quoted\\" name.mp4"', 'a "quoted" name.mp4'],
    ["plain.mp4", "plain.mp4"],
    ['"vidéo 日本.mp4"', "vidéo 日本.mp4"],
    ['""', ""],
  ];
  for (const [sent, want] of names) {
    const body = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename=${sent}\r\n\r\nxyz\r\n--${BOUNDARY}--`);
    const { r } = await stage(body, 5);
    assert.equal(r.error, null, sent);
    assert.equal(r.files[0].filename, want);
    assert.equal(r.files[0].type, "");
  }
  const field = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\nContent-Type: application/octet-stream\r\n\r\nxyz\r\n--${BOUNDARY}--`);
  const { r } = await stage(field);
  assert.deepEqual([r.fields, r.files], [{ file: "xyz" }, []]);
});

test("a quoted boundary, and one with characters a token cannot hold", TIMEOUT, async () => {
  for (const boundary of ["b0undary", "with space=and/slash?"]) {
    const data = randomBytes(50);
    const body = form([["file", { data, filename: "q" }]], { boundary });
    const { r, staged } = await stage(body, 3, MAX, `multipart/form-data; boundary="${boundary}"`);
    assert.equal(r.error, null, boundary);
    assert.deepEqual(staged(0), data);
  }
});

test("a body that is not multipart/form-data", TIMEOUT, async () => {
  for (const contentType of ["application/json", "multipart/form-data", "text/plain; boundary=x", "multipart/mixed; boundary=x"]) {
    const { r } = await stage(Buffer.from("{}"), 1000, MAX, contentType);
    assert.equal(r.error, "not-multipart", contentType);
  }
  const bucket = fakeBucket();
  const bodiless = new Request("http://localhost/upload", { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` } });
  assert.equal((await stageMultipart(bodiless, bucket, "staging/", MAX)).error, "not-multipart");
});

test("a body cut short stages nothing, wherever it stops", TIMEOUT, async () => {
  const data = randomBytes(SLICE + 10);
  const whole = form([["videoId", "v"], ["file", { data, filename: "t" }]], { epilogue: "" });
  const at = (s, from) => whole.indexOf(s, from);
  const ends = [0, 10, at("\r\n\r\n") + 2, at("filename"), at("\r\n\r\n", at("filename")) + 4 + 100, at("\r\n\r\n", at("filename")) + 4 + SLICE + 1, whole.length - 5, whole.length - 1];
  for (const end of ends) {
    const { r, bucket } = await stage(whole.subarray(0, end), 65536);
    assert.equal(r.error, "malformed", `cut at ${end}`);
    // A part already in R2 is aborted if the file was not over, deleted if it was.
    const undo = end === whole.length - 1 ? "delete" : "abort";
    if (end > SLICE) assert.ok(bucket.calls.some((c) => c[0] === undo), `cut at ${end}: ${JSON.stringify(bucket.calls)}`);
  }
  const { r } = await stage(Buffer.from("no boundary anywhere in this body"), 4);
  assert.equal(r.error, "malformed");
});

test("a file over the limit is refused, its staged parts and earlier files removed", TIMEOUT, async () => {
  const first = randomBytes(1000);
  const big = randomBytes(11 * MiB);
  const body = form([["a", { data: first, filename: "a" }], ["b", { data: big, filename: "b" }], ["videoId", "v"]]);
  const req = request(body, 65536);
  const bucket = fakeBucket();
  const r = await stageMultipart(req, bucket, "staging/", 10 * MiB);
  assert.deepEqual(r, { fields: {}, files: [], error: "too-large" });
  assert.equal(bucket.objects.size, 0);
  assert.equal(bucket.open.size, 0);
  const kinds = bucket.calls.map((c) => c[0]);
  assert.deepEqual(kinds.slice(0, 3), ["put", "create", "part"]);
  assert.deepEqual(kinds.slice(-2), ["abort", "delete"]);
  // The rest of the body is read, so the client gets the answer instead of a reset.
  assert.equal(req.pulled(), body.length);
  // Exactly at the limit is fine.
  const { r: ok, staged } = await stage(form([["b", { data: big, filename: "b" }]]), 65536, big.length);
  assert.equal(ok.error, null);
  assert.deepEqual(staged(0), big);
});

test("more than 16 parts is refused", TIMEOUT, async () => {
  const parts = (n) => Array.from({ length: n }, (_, i) => (i === 0 ? ["file", { data: randomBytes(10), filename: "f" }] : [`f${i}`, "x"]));
  const { r: ok } = await stage(form(parts(16)), 50);
  assert.equal(ok.error, null);
  assert.equal(Object.keys(ok.fields).length, 15);
  const { r } = await stage(form(parts(17)), 50);
  assert.equal(r.error, "malformed");
});

test("a part header over 16 KiB and a text field over 16 KiB are refused", TIMEOUT, async () => {
  const header = (extra) => Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\nX-Padding: ${"p".repeat(extra)}\r\n\r\n`),
    randomBytes(100),
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
  assert.equal((await stage(header(15 * 1024), 1000)).r.error, null);
  for (const pieces of [1000, 100000]) assert.equal((await stage(header(17 * 1024), pieces)).r.error, "malformed");
  assert.equal((await stage(form([["videoId", "v".repeat(16 * 1024)]]))).r.error, null);
  assert.equal((await stage(form([["videoId", "v".repeat(16 * 1024 + 1)]]))).r.error, "malformed");
});

test("a malformed part header is refused", TIMEOUT, async () => {
  const part = (disposition) => Buffer.from(`--${BOUNDARY}\r\n${disposition}\r\n\r\nxyz\r\n--${BOUNDARY}--`);
  for (const disposition of [
    'Content-Disposition form-data; name="file"; filename="f"',
    'Content-Disposition: form-data; filename="no field name"',
    "Content-Disposition: form-data; name=\"file\"; filename=\"f\"; filename*=UTF-8''%E0%A4%A",
    'Content-Disposition: form-data; name="file"; filename="f"\x01',
  ]) {
    assert.equal((await stage(part(disposition))).r.error, "malformed", disposition);
  }
  // filename* is not read: the file name is the plain parameter's.
  const { r } = await stage(part("Content-Disposition: form-data; name=\"file\"; filename=\"plain.mp4\"; filename*=UTF-8''%C3%A9.mp4"));
  assert.equal(r.files[0].filename, "plain.mp4");
});

test("the body is read no further ahead than one slice and one piece of what is in R2", TIMEOUT, async () => {
  const data = randomBytes(23 * MiB);
  const body = form([["file", { data, filename: "big" }]]);
  const piece = 256 * 1024;
  const req = request(body, piece);
  const bucket = fakeBucket();
  let sent = 0;
  let ahead = 0;
  const create = bucket.createMultipartUpload;
  bucket.createMultipartUpload = async (key) => {
    const upload = await create(key);
    const uploadPart = upload.uploadPart;
    upload.uploadPart = async (n, bytes) => {
      ahead = Math.max(ahead, req.pulled() - sent);
      await new Promise((resolve) => setTimeout(resolve, 20));
      sent += bytes.length;
      return uploadPart(n, bytes);
    };
    return upload;
  };
  const r = await stageMultipart(req, bucket, "staging/", MAX);
  assert.equal(r.error, null);
  assert.deepEqual(bucket.objects.get(r.files[0].key), data);
  assert.ok(ahead <= SLICE + 3 * piece, `read ${ahead} bytes past what R2 had`);
});

test("each file's SHA-256 is taken while it is staged: known values, and one byte changed", TIMEOUT, async () => {
  // FIPS 180-2's examples, the empty file among them.
  const known = [
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ];
  for (const [text, digest] of known) {
    const { r } = await stage(form([["file", { data: Buffer.from(text), filename: "k.txt" }]]), 1);
    assert.equal(r.files[0].sha256, digest, JSON.stringify(text));
  }
  // Sizes around the slice, read in pieces of every kind: the digest is of the whole file.
  for (const size of [SLICE - 1, SLICE, SLICE + 1, 3 * SLICE, 2 * SLICE + 12345]) {
    const data = randomBytes(size);
    const other = Buffer.from(data);
    other[size - 1] ^= 1;
    for (const pieces of [4093, MiB, (at) => (at % 3 === 0 ? 1 : 70000)]) {
      const a = await stage(form([["file", { data, filename: "a.mp4" }]]), pieces);
      const b = await stage(form([["file", { data: other, filename: "a.mp4" }]]), pieces);
      assert.equal(a.r.files[0].sha256, sha256(data), `${size}`);
      assert.equal(b.r.files[0].sha256, sha256(other), `${size}`);
      assert.notEqual(a.r.files[0].sha256, b.r.files[0].sha256, `${size}: one byte differs`);
    }
  }
  // Two files in one body each have their own.
  const [x, y] = [randomBytes(6 * MiB), randomBytes(10)];
  const { r } = await stage(form([["x", { data: x, filename: "x" }], ["y", { data: y, filename: "y" }]]), 65536);
  assert.deepEqual(r.files.map((f) => f.sha256), [sha256(x), sha256(y)]);
});

test("each slice is hashed before it is filled again, however slowly the digest takes it", TIMEOUT, async () => {
  // A digest that reads what it is given only when its write settles, a moment later: were a
  // slice refilled before that, the digest would be of the wrong bytes.
  const Runtime = crypto.DigestStream;
  const writes = [];
  class LateDigestStream extends Runtime {
    constructor(algorithm) {
      super(algorithm);
      const writer = super.getWriter();
      const late = new WritableStream({
        async write(chunk) {
          writes.push(chunk.length);
          await new Promise((resolve) => setTimeout(resolve, 2));
          await writer.write(new Uint8Array(chunk));
        },
        close: () => writer.close(),
        abort: (reason) => writer.abort(reason),
      });
      this.getWriter = () => late.getWriter();
    }
  }
  crypto.DigestStream = LateDigestStream;
  try {
    const data = randomBytes(3 * SLICE + 999);
    const { r } = await stage(form([["file", { data, filename: "slow.mp4" }]]), 100000);
    assert.equal(r.files[0].sha256, sha256(data));
    // Fed slice by slice: never more than one slice at a time.
    assert.deepEqual(writes, [SLICE, SLICE, SLICE, 999]);
  } finally {
    crypto.DigestStream = Runtime;
  }
});
