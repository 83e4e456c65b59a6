// The streaming multipart reader of uploads (src/js/multipart.js), driven directly with
// request bodies cut into awkward pieces and a bucket that records what it is given.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import "./support/digest-stream.mjs";
import { stageMultipart } from "../src/js/multipart.js";

/** An in-memory stand-in for an R2 bucket: put, multipart uploads and delete. */
function memoryBucket() {
  const objects = new Map();
  const calls = [];
  return {
    objects,
    calls,
    async put(key, bytes) {
      calls.push(["put", key, bytes.length]);
      objects.set(key, Buffer.from(bytes));
    },
    async createMultipartUpload(key) {
      calls.push(["create", key]);
      const parts = [];
      return {
        async uploadPart(n, bytes) {
          calls.push(["part", key, n, bytes.length]);
          parts.push({ n, bytes: Buffer.from(bytes) });
          return { partNumber: n, etag: `e${n}` };
        },
        async complete(list) {
          calls.push(["complete", key, list.length]);
          const sizes = parts.map((p) => p.bytes.length);
          // R2's rule: every part but the last of one size, the last no larger.
          assert.ok(sizes.slice(0, -1).every((s) => s === sizes[0]) && sizes.at(-1) <= sizes[0], `${sizes}`);
          objects.set(key, Buffer.concat(parts.sort((a, b) => a.n - b.n).map((p) => p.bytes)));
        },
        async abort() {
          calls.push(["abort", key]);
        },
      };
    },
    async delete(keys) {
      for (const k of [].concat(keys)) objects.delete(k);
    },
  };
}

/** A multipart body of `parts` ([name, value] or [name, {data, filename, type}]). */
function body(parts, boundary = "XyZ-boundary-123") {
  const chunks = [];
  for (const [name, v] of parts) {
    if (typeof v === "string") {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${v}\r\n`));
    } else {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${v.filename}"\r\nContent-Type: ${v.type ?? "application/octet-stream"}\r\n\r\n`));
      chunks.push(v.data, Buffer.from("\r\n"));
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { bytes: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A Request whose body arrives in pieces of `piece` bytes. */
function request({ bytes, contentType }, piece = 1000) {
  let at = 0;
  const stream = new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(new Uint8Array(bytes.subarray(at, at + piece)));
      at += piece;
    },
  });
  return new Request("http://localhost/upload", { method: "POST", body: stream, duplex: "half", headers: { "content-type": contentType } });
}

const sha = (b) => createHash("sha256").update(b).digest("hex");
const MAX = 200 * 1024 * 1024;

test("a small file is one put; fields before and after it are kept, whatever their order", async () => {
  for (const order of ["before", "after"]) {
    const data = randomBytes(3000);
    const file = ["clip.mp4", { data, filename: "clip.mp4", type: "video/mp4" }];
    const parts = order === "before" ? [["videoId", "vi123"], file] : [file, ["videoId", "vi123"]];
    for (const piece of [1, 7, 64, 100000]) {
      const bucket = memoryBucket();
      const r = await stageMultipart(request(body(parts), piece), bucket, "incoming/", MAX);
      assert.equal(r.error, null);
      assert.deepEqual(r.fields, { videoId: "vi123" });
      assert.equal(r.files.length, 1);
      const [f] = r.files;
      assert.deepEqual([f.field, f.filename, f.type, f.size], ["clip.mp4", "clip.mp4", "video/mp4", 3000]);
      assert.ok(f.key.startsWith("incoming/"));
      assert.equal(sha(bucket.objects.get(f.key)), sha(data));
      assert.equal(f.sha256, sha(data), "the digest taken while staging");
      assert.deepEqual(bucket.calls.map((c) => c[0]), ["put"]);
    }
  }
});

test("a large file goes up in equal 5 MiB slices, never held whole", async () => {
  const data = randomBytes(11 * 1024 * 1024 + 123);
  const bucket = memoryBucket();
  const r = await stageMultipart(request(body([["file", { data, filename: "big.mp4" }]]), 65536), bucket, "incoming/", MAX);
  assert.equal(r.error, null);
  assert.equal(r.files[0].size, data.length);
  assert.equal(sha(bucket.objects.get(r.files[0].key)), sha(data));
  assert.equal(r.files[0].sha256, sha(data), "the digest taken while staging");
  const parts = bucket.calls.filter((c) => c[0] === "part").map((c) => c[3]);
  assert.deepEqual(parts, [5242880, 5242880, 1048576 + 123]);
});

test("file bytes that look like the boundary's start, CRs and an exact 5 MiB size are kept intact", async () => {
  const boundary = "XyZ-boundary-123";
  const tricky = Buffer.concat([Buffer.from(`\r\n--${boundary.slice(0, 5)}\r\r\n-`), randomBytes(5 * 1024 * 1024 - 30), Buffer.from("\r\n--XyZ")]);
  const bucket = memoryBucket();
  const r = await stageMultipart(request(body([["file", { data: tricky, filename: "t.bin" }]], boundary), 4093), bucket, "s/", MAX);
  assert.equal(r.error, null);
  assert.equal(sha(bucket.objects.get(r.files[0].key)), sha(tricky));
});

test("two files are both staged and reported; an empty file is staged with size 0", async () => {
  const bucket = memoryBucket();
  const r = await stageMultipart(
    request(body([["a", { data: Buffer.from("aaa"), filename: "a.mp4" }], ["b", { data: Buffer.alloc(0), filename: "b.mp4" }]])),
    bucket,
    "s/",
    MAX,
  );
  assert.equal(r.error, null);
  assert.deepEqual(r.files.map((f) => f.size), [3, 0]);
  assert.equal(bucket.objects.size, 2);
});

test("quoted and escaped file names come back as sent", async () => {
  const boundary = "b0undary";
  const raw = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip %22final%22; v2.mp4"\r\n\r\n`),
    Buffer.from("xyz"),
    Buffer.from(`\r\n--${boundary}--`),
  ]);
  const bucket = memoryBucket();
  const r = await stageMultipart(request({ bytes: raw, contentType: `multipart/form-data; boundary="${boundary}"` }, 5), bucket, "s/", MAX);
  assert.equal(r.error, null);
  assert.equal(r.files[0].filename, "clip %22final%22; v2.mp4");
});

test("bodies that are not multipart, are cut short, or hold a file over the limit stage nothing", async () => {
  const cases = [
    [{ bytes: Buffer.from("{}"), contentType: "application/json" }, "not-multipart"],
    [{ bytes: Buffer.from("no boundary here"), contentType: "multipart/form-data; boundary=zz" }, "malformed"],
    [{ bytes: body([["file", { data: randomBytes(100), filename: "x" }]]).bytes.subarray(0, 150), contentType: "multipart/form-data; boundary=XyZ-boundary-123" }, "malformed"],
  ];
  for (const [b, kind] of cases) {
    const bucket = memoryBucket();
    const r = await stageMultipart(request(b, 17), bucket, "s/", MAX);
    assert.equal(r.error, kind);
    assert.equal(bucket.objects.size, 0);
  }
  const bucket = memoryBucket();
  // One 5 MiB slice goes up before the file passes the limit: its upload is aborted.
  const big = await stageMultipart(request(body([["f", { data: randomBytes(6 * 1024 * 1024), filename: "f" }]]), 65536), bucket, "s/", 5.5 * 1024 * 1024);
  assert.equal(big.error, "too-large");
  assert.equal(bucket.objects.size, 0);
  assert.ok(bucket.calls.some((c) => c[0] === "abort"));
});
