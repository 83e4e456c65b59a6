// Keeps openapi.json and the Worker from drifting apart. For every operation and every status
// code the document gives it, real requests against the built Worker (Miniflare) must produce
// that status with the documented media type, body schema and headers; every route the Worker
// answers must be in the document; and GET /openapi.json must serve the file byte for byte.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { KEYS, basic, startWorker } from "./support/miniflare.mjs";
import { deref, resolveRef, validate } from "./support/oas-validate.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const DOC_TEXT = readFileSync(`${root}openapi.json`, "utf8");
const doc = JSON.parse(DOC_TEXT);
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Every operation of the document: `{key: "GET /path", method, path, op}`. */
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((m) => ({ key: `${m.toUpperCase()} ${path}`, method: m, path, op: item[m] })),
);

// Routes the Worker answers that are described elsewhere later. Each must still be routed and
// must not be in the document yet: documenting one means moving it out of this list and
// giving its status codes recipes below.
const NOT_YET_DOCUMENTED = new Set([
  "POST /upload",
  "OPTIONS /upload",
  "GET /videos/{}",
  "GET /videos/{}/source",
]);

const SAMPLE_TOKEN = "to1tcmSFHeYY5KzyhOqVKMKb";
const BIG_BODY = JSON.stringify({ ttl: 60, padding: "x".repeat(17 * 1024) });

let w; // { main, limited, broken }

async function createToken(worker = w.main, auth = "alpha", ttl = 3600) {
  const r = await worker.call("POST", "/upload-tokens", { auth, body: { ttl } });
  assert.equal(r.status, 200, `creating a token: ${r.status} ${r.text}`);
  return r.json.token;
}

async function tokenPair(worker = w.main) {
  const r = await worker.call("POST", "/auth/api-key", { auth: null, body: { apiKey: KEYS.alpha } });
  assert.equal(r.status, 200, `getting a bearer token: ${r.status} ${r.text}`);
  return r.json;
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
    },
    400: {
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
    },
    400: {
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
  "GET /upload-tokens/{uploadToken}": {
    200: {
      "a token of the project": async () => w.main.call("GET", `/upload-tokens/${await createToken()}`),
      "one that never expires, by another key of the project": async () =>
        w.main.call("GET", `/upload-tokens/${await createToken(w.main, "alpha", 0)}`, { auth: "alpha2" }),
    },
    401: { "no credentials": () => w.main.call("GET", `/upload-tokens/${SAMPLE_TOKEN}`, { auth: null }) },
    404: {
      "unknown token": () => w.main.call("GET", `/upload-tokens/${SAMPLE_TOKEN}`),
      "malformed token": () => w.main.call("GET", "/upload-tokens/not-a-token"),
      "another project's token": async () => w.main.call("GET", `/upload-tokens/${await createToken(w.main, "beta")}`),
      "a deleted token": async () => {
        const t = await createToken();
        assert.equal((await w.main.call("DELETE", `/upload-tokens/${t}`)).status, 204);
        return w.main.call("GET", `/upload-tokens/${t}`);
      },
    },
    429: { "over the project's limit": () => until429("GET", `/upload-tokens/${SAMPLE_TOKEN}`) },
    500: { "no API_KEYS configured": () => w.broken.call("GET", `/upload-tokens/${SAMPLE_TOKEN}`) },
  },
  "DELETE /upload-tokens/{uploadToken}": {
    204: { "a token of the project": async () => w.main.call("DELETE", `/upload-tokens/${await createToken()}`) },
    401: { "no credentials": () => w.main.call("DELETE", `/upload-tokens/${SAMPLE_TOKEN}`, { auth: null }) },
    404: {
      "unknown token": () => w.main.call("DELETE", `/upload-tokens/${SAMPLE_TOKEN}`),
      "another project's token": async () =>
        w.main.call("DELETE", `/upload-tokens/${await createToken(w.main, "beta")}`),
      "deleted twice": async () => {
        const t = await createToken();
        assert.equal((await w.main.call("DELETE", `/upload-tokens/${t}`)).status, 204);
        return w.main.call("DELETE", `/upload-tokens/${t}`);
      },
    },
    429: { "over the project's limit": () => until429("DELETE", `/upload-tokens/${SAMPLE_TOKEN}`) },
    500: { "no API_KEYS configured": () => w.broken.call("DELETE", `/upload-tokens/${SAMPLE_TOKEN}`) },
  },
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
  "GET /openapi.json": {
    200: {
      "without credentials": () => w.main.call("GET", "/openapi.json", { auth: null }),
      "even when the service is not configured": () => w.broken.call("GET", "/openapi.json", { auth: null }),
    },
  },
};

// Headers whose presence the document must account for on every answer that carries them.
const ACCOUNTED_HEADERS = /^(x-ratelimit-.*|retry-after|www-authenticate|allow)$/i;

function describeResponse(r) {
  return `${r.status} ${JSON.stringify(Object.fromEntries(r.headers))} ${r.text.slice(0, 500)}`;
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
        for (const [name, run] of Object.entries(cases)) {
          const r = await run();
          assert.equal(r.status, Number(status), `${name}: ${describeResponse(r)}`);
          checkAgainstDocument(responseObj, r);
          t.diagnostic(`${name}: ${r.status}`);
        }
      });
    }
  }
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
    if (key.startsWith("GET /openapi") || key.startsWith("POST /auth/")) {
      assert.deepEqual(alternatives, [], `${key} must not need credentials`);
      assert.ok(!("401" in op.responses), `${key} never answers 401`);
    } else {
      assert.deepEqual(alternatives, ["basicAuth", "bearerAuth"], key);
      assert.ok("401" in op.responses, `${key} must document 401`);
    }
  }
});

/** The (method, path) rows of `resolve()` in core/src/api.rs, path parameters as `{}`. */
function routedOperations() {
  const source = readFileSync(`${root}core/src/api.rs`, "utf8");
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
