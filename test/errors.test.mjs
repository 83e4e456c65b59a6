// Bad requests: invalid ttl and bodies, size and media type, unknown paths and wrong methods.
import { test } from "node:test";
import assert from "node:assert/strict";
import { authOf, workerForTests } from "./support/miniflare.mjs";
import {
  REF,
  assertLimitHeader,
  assertProblem,
  assertTokenShape,
  create,
  kvSnapshot,
  raw,
} from "./support/mf-helpers.mjs";

const w = workerForTests({}, (worker) => create(worker, 3600));

/** POST /upload-tokens as alpha with exactly this body and these headers. */
function post(body, headers = { "Content-Type": "application/json" }) {
  return raw(w.mf, "POST", "/upload-tokens", { headers: { Authorization: authOf("alpha"), ...headers }, body });
}

test("an invalid ttl is 400 invalid-attribute naming ttl, and nothing is stored", async () => {
  const bodies = [
    '{"ttl":"3600"}',
    '{"ttl":"0"}',
    '{"ttl":1.5}',
    '{"ttl":3600.0}',
    '{"ttl":0.0}',
    '{"ttl":1e3}',
    '{"ttl":true}',
    '{"ttl":false}',
    '{"ttl":-1}',
    '{"ttl":-0.5}',
    '{"ttl":2147483648}',
    '{"ttl":4294967296}',
    '{"ttl":99999999999999999999999}',
    '{"ttl":[60]}',
    '{"ttl":{"value":60}}',
  ];
  const snap = await kvSnapshot(w.kv);
  for (const body of bodies) {
    const res = await post(body);
    assertProblem(res, 400, { type: `${REF}invalid-attribute`, name: "ttl" }, body);
    assertLimitHeader(res, 100000, body);
  }
  assert.deepEqual(await kvSnapshot(w.kv), snap);
});

test("a body that is not a JSON object is 400 'The payload is invalid.', and nothing is stored", async () => {
  const bodies = ["{", '{"ttl":', "ttl=60", "[]", "[{\"ttl\":60}]", "60", "null", '"x"', "true", '{"ttl":1}x', "{'ttl':1}", "\u0000"];
  const snap = await kvSnapshot(w.kv);
  for (const body of bodies) {
    const res = await post(body);
    assertProblem(res, 400, { title: "The payload is invalid." }, JSON.stringify(body));
    assert.equal(res.json.name, undefined, `${JSON.stringify(body)}: names no attribute`);
    assertLimitHeader(res, 100000, body);
  }
  assert.deepEqual(await kvSnapshot(w.kv), snap);
});

test("bodies over 16 KiB are 413 before parsing, whether or not the length is declared", async () => {
  const snap = await kvSnapshot(w.kv);
  const limit = 16 * 1024;
  const cases = {
    "valid JSON, one byte over": '{"ttl":60}'.padEnd(limit + 1, " "),
    "invalid JSON, one byte over": "{".repeat(limit + 1),
    "wrong ttl, far over": `{"ttl":"x","pad":"${"a".repeat(40000)}"}`,
  };
  for (const [what, body] of Object.entries(cases)) {
    const res = await post(body);
    assertProblem(res, 413, {}, what);
    assertLimitHeader(res, 100000, what);
  }
  // Streamed without Content-Length.
  const chunks = ['{"ttl":60,"pad":"', "b".repeat(10000), "b".repeat(10000), '"}'];
  const stream = new ReadableStream({
    start(c) {
      for (const s of chunks) c.enqueue(new TextEncoder().encode(s));
      c.close();
    },
  });
  const streamed = await post(stream);
  assertProblem(streamed, 413, {}, "streamed");
  // Even with a non-JSON type, the size is checked first.
  assertProblem(await post("x".repeat(limit + 1), { "Content-Type": "text/plain" }), 413, {}, "text/plain, over");
  assert.deepEqual(await kvSnapshot(w.kv), snap);

  // Exactly 16 KiB is accepted.
  const exact = '{"ttl":60}'.padEnd(limit, " ");
  assert.equal(Buffer.byteLength(exact), limit);
  const ok = await post(exact);
  assert.equal(ok.status, 200, ok.text);
  assertTokenShape(ok.json, 60);
});

test("a large body (1 MB, length declared) is answered 413, not a reset connection", async () => {
  const snap = await kvSnapshot(w.kv);
  const body = `{"ttl":60,"pad":"${"a".repeat(1000000)}"}`;
  const outcomes = [];
  for (let i = 0; i < 20; i++) {
    try {
      const res = await post(body);
      outcomes.push(res.status === 413 ? "413" : `${res.status} ${res.text}`);
    } catch (e) {
      outcomes.push(`fetch failed: ${e.cause?.code ?? e.cause?.message ?? e.message}`);
    }
  }
  assert.deepEqual(outcomes.filter((o) => o !== "413"), [], "every attempt answered 413");
  assert.deepEqual(await kvSnapshot(w.kv), snap);
});

test("a non-empty body with a non-JSON Content-Type is 415, and nothing is stored", async () => {
  const snap = await kvSnapshot(w.kv);
  const cases = [
    ["text/plain", '{"ttl":60}'],
    ["text/plain;charset=UTF-8", '{"ttl":60}'],
    ["application/x-www-form-urlencoded", "ttl=60"],
    ["multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="ttl"\r\n\r\n60\r\n--x--\r\n'],
    ["application/xml", "<ttl>60</ttl>"],
    ["application/jsonp", '{"ttl":60}'],
  ];
  for (const [type, body] of cases) {
    const res = await post(body, { "Content-Type": type });
    assertProblem(res, 415, {}, type);
    assertLimitHeader(res, 100000, type);
  }
  assert.deepEqual(await kvSnapshot(w.kv), snap);
});

test("unknown paths are 404 unrecognized-request-url", async () => {
  const requests = [
    "GET /",
    "GET /nope",
    "GET /upload-token",
    "GET /upload-tokens/to1234567890123456789012/extra",
    "POST /auth",
    "POST /auth/other",
    "GET /v1/upload-tokens",
  ];
  for (const [method, path] of requests.map((r) => r.split(" "))) {
    for (const auth of [authOf("alpha"), undefined]) {
      const res = await raw(w.mf, method, path, { headers: auth ? { Authorization: auth } : {} });
      assertProblem(res, 404, { type: `${REF}unrecognized-request-url` }, `${method} ${path}`);
    }
  }
});

test("a known path with a wrong method is 405 with Allow", async () => {
  const id = "to1234567890123456789012";
  const cases = [
    ["PUT", "/upload-tokens", "GET, POST"],
    ["PATCH", "/upload-tokens", "GET, POST"],
    ["DELETE", "/upload-tokens", "GET, POST"],
    ["POST", `/upload-tokens/${id}`, "GET, DELETE"],
    ["PUT", `/upload-tokens/${id}`, "GET, DELETE"],
    ["PATCH", `/upload-tokens/${id}`, "GET, DELETE"],
    ["GET", "/auth/api-key", "POST"],
    ["PUT", "/auth/api-key", "POST"],
    ["DELETE", "/auth/api-key", "POST"],
    ["GET", "/auth/refresh", "POST"],
  ];
  const snap = await kvSnapshot(w.kv);
  for (const [method, path, allow] of cases) {
    const res = await raw(w.mf, method, path, {
      headers: { Authorization: authOf("alpha"), "Content-Type": "application/json" },
      body: method === "GET" ? undefined : '{"ttl":60}',
    });
    assertProblem(res, 405, {}, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow, `${method} ${path}: Allow`);
  }
  assert.deepEqual(await kvSnapshot(w.kv), snap);
});
