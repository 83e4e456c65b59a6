// Authentication: Basic API keys, bearer tokens from /auth/api-key and /auth/refresh, 401s,
// and a service without API keys.
import { test } from "node:test";
import assert from "node:assert/strict";
import { basic, bearer } from "./support/http.mjs";
import { startWorker, workerForTests, KEYS } from "./support/miniflare.mjs";
import {
  ABSENT_ID,
  BAD_CREDENTIALS,
  assertJson,
  assertLimitHeader,
  assertProblem,
  assertTokenShape,
  create,
  freshSecond,
  kvSnapshot,
  raw,
  sleepUntil,
} from "./support/mf-helpers.mjs";

const w = workerForTests();

async function apiKeyLogin(worker, apiKey, headers = {}) {
  return worker.call("POST", "/auth/api-key", { auth: null, body: { apiKey }, headers });
}

function assertTokenPair(res, expiresIn) {
  assert.equal(res.status, 200, res.text);
  assertJson(res);
  assert.deepEqual(Object.keys(res.json).sort(), ["access_token", "expires_in", "refresh_token", "token_type"]);
  assert.equal(res.json.token_type, "Bearer");
  assert.equal(res.json.expires_in, expiresIn);
  assert.equal(typeof res.json.access_token, "string");
  assert.equal(typeof res.json.refresh_token, "string");
  assert.ok(res.json.access_token.length > 0 && res.json.refresh_token.length > 0);
  assert.notEqual(res.json.access_token, res.json.refresh_token);
}

/** Create, get, list and delete with `auth`; all must succeed, in project alpha. */
async function exerciseAllEndpoints(worker, auth, what) {
  const c = await worker.call("POST", "/upload-tokens", { auth, body: { ttl: 600 } });
  assert.equal(c.status, 200, `${what} create: ${c.text}`);
  assertTokenShape(c.json, 600);
  const t = c.json;
  assert.equal(JSON.parse(await worker.kv.get(`tok:${t.token}`)).project, "alpha", `${what}: stored for alpha`);
  const g = await worker.call("GET", `/upload-tokens/${t.token}`, { auth });
  assert.equal(g.status, 200, `${what} get: ${g.text}`);
  assert.deepEqual(g.json, t);
  // Visible with a Basic key of the same project.
  assert.equal((await worker.call("GET", `/upload-tokens/${t.token}`, { auth: "alpha" })).status, 200);
  const l = await worker.call("GET", "/upload-tokens?pageSize=100", { auth });
  assert.equal(l.status, 200, `${what} list: ${l.text}`);
  assert.ok(l.json.data.some((x) => x.token === t.token), `${what}: listed`);
  const d = await worker.call("DELETE", `/upload-tokens/${t.token}`, { auth });
  assert.equal(d.status, 204, `${what} delete: ${d.text}`);
  assert.equal(d.text, "");
  for (const r of [c, g, l, d]) assertLimitHeader(r, 100000, what);
}

/** The four endpoints, each with a request that would succeed with good credentials. */
function endpoints(id) {
  return [
    ["GET", "/upload-tokens", undefined],
    ["POST", "/upload-tokens", { ttl: 60 }],
    ["GET", `/upload-tokens/${id}`, undefined],
    ["DELETE", `/upload-tokens/${id}`, undefined],
  ];
}

async function assertUnauthorized(worker, auth, id, what) {
  for (const [method, path, body] of endpoints(id)) {
    const res = await worker.call(method, path, { auth, body });
    const label = `${what}: ${method} ${path}`;
    assertProblem(res, 401, {}, label);
    const challenge = res.headers.get("www-authenticate");
    assert.ok(challenge && challenge.length > 0, `${label}: WWW-Authenticate`);
    assertLimitHeader(res, 100000, label);
  }
}

test("Basic auth with any key of a project works on all four endpoints", async () => {
  await exerciseAllEndpoints(w, "alpha", "Basic alpha");
  await exerciseAllEndpoints(w, "alpha2", "Basic second alpha key");
  const t = await create(w, 60, "alpha2");
  const g = await w.call("GET", `/upload-tokens/${t.token}`, { auth: "alpha" });
  assert.deepEqual(g.json, t, "a token created with one key is read with the other");
});

test("POST /auth/api-key answers a bearer pair (expires_in 3600 by default) usable on all four endpoints", async () => {
  const res = await apiKeyLogin(w, KEYS.alpha);
  assertTokenPair(res, 3600);
  assertLimitHeader(res, 100000);
  await exerciseAllEndpoints(w, bearer(res.json.access_token), "Bearer");
  const second = await apiKeyLogin(w, KEYS.alpha2);
  assertTokenPair(second, 3600);
  await exerciseAllEndpoints(w, bearer(second.json.access_token), "Bearer of second alpha key");
});

test("POST /auth/refresh answers a new pair whose tokens work in turn", async () => {
  const login = await apiKeyLogin(w, KEYS.alpha);
  assertTokenPair(login, 3600);
  const res = await w.call("POST", "/auth/refresh", { auth: null, body: { refreshToken: login.json.refresh_token } });
  assertTokenPair(res, 3600);
  assertLimitHeader(res, 100000);
  await exerciseAllEndpoints(w, bearer(res.json.access_token), "refreshed Bearer");
  const again = await w.call("POST", "/auth/refresh", { auth: null, body: { refreshToken: res.json.refresh_token } });
  assertTokenPair(again, 3600);
  await exerciseAllEndpoints(w, bearer(again.json.access_token), "twice refreshed Bearer");
});

test("wrong API keys and bad refresh tokens are 400 invalid user credentials", async () => {
  const login = await apiKeyLogin(w, KEYS.alpha);
  const cases = [
    ["/auth/api-key", { apiKey: "alpha-test-key-000000000009" }],
    ["/auth/api-key", { apiKey: "" }],
    ["/auth/api-key", { apiKey: KEYS.alpha.slice(0, -1) }],
    ["/auth/api-key", { apiKey: login.json.access_token }],
    ["/auth/refresh", { refreshToken: "" }],
    ["/auth/refresh", { refreshToken: "not-a-token" }],
    ["/auth/refresh", { refreshToken: login.json.access_token }],
    ["/auth/refresh", { refreshToken: KEYS.alpha }],
    ["/auth/refresh", { refreshToken: login.json.refresh_token.slice(0, -2) }],
  ];
  for (const [path, body] of cases) {
    const res = await w.call("POST", path, { auth: null, body });
    const what = `${path} ${JSON.stringify(body)}`;
    assertProblem(res, 400, {}, what);
    assert.deepEqual(res.json, BAD_CREDENTIALS, what);
    assertLimitHeader(res, 100000, what);
  }
});

test("a missing or non-string apiKey / refreshToken is 400 invalid-attribute naming it", async () => {
  const login = await apiKeyLogin(w, KEYS.alpha);
  const bodies = (field) => [
    undefined,
    {},
    { [field]: null },
    { [field]: 123 },
    { [field]: true },
    { [field]: [KEYS.alpha] },
    { [field]: { value: KEYS.alpha } },
  ];
  for (const [path, field, other] of [
    ["/auth/api-key", "apiKey", { refreshToken: login.json.refresh_token }],
    ["/auth/refresh", "refreshToken", { apiKey: KEYS.alpha }],
  ]) {
    for (const body of [...bodies(field), other]) {
      const res = await w.call("POST", path, {
        auth: null,
        body,
        headers: body === undefined ? { "Content-Type": "application/json" } : {},
      });
      const what = `${path} ${JSON.stringify(body)}`;
      assertProblem(res, 400, { type: "https://docs.api.video/reference/invalid-attribute", name: field }, what);
    }
  }
});

test("a refresh token is not an access token, and an access token does not refresh", async () => {
  const login = await apiKeyLogin(w, KEYS.alpha);
  const t = await create(w, 600);
  await assertUnauthorized(w, bearer(login.json.refresh_token), t.token, "refresh token as bearer");
  const res = await w.call("POST", "/auth/refresh", { auth: null, body: { refreshToken: login.json.access_token } });
  assert.deepEqual(res.json, BAD_CREDENTIALS);
  // The pair itself is fine.
  assert.equal((await w.call("GET", `/upload-tokens/${t.token}`, { auth: bearer(login.json.access_token) })).status, 200);
});

test("tampered bearer tokens are 401", async () => {
  const login = await apiKeyLogin(w, KEYS.alpha);
  const access = login.json.access_token;
  const parts = access.split(".");
  assert.equal(parts.length, 3, "header.payload.signature");
  const flip = (s, i) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  const [header, payload, sig] = parts;
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
  assert.equal(typeof claims, "object");
  const forgedClaims = { ...claims };
  for (const [k, v] of Object.entries(claims)) if (v === "alpha") forgedClaims[k] = "beta";
  assert.notDeepEqual(forgedClaims, claims, "the payload names the project");
  const forged = Buffer.from(JSON.stringify(forgedClaims)).toString("base64url");
  const laterClaims = { ...claims };
  for (const k of ["exp"]) if (typeof claims[k] === "number") laterClaims[k] = claims[k] + 86400;
  const later = Buffer.from(JSON.stringify(laterClaims)).toString("base64url");
  const t = await create(w, 600);
  const tampered = {
    "signature char flipped": [header, payload, flip(sig, Math.floor(sig.length / 2))].join("."),
    "first signature char flipped": [header, payload, flip(sig, 0)].join("."),
    "payload char flipped": [header, flip(payload, Math.floor(payload.length / 2)), sig].join("."),
    "payload naming another project": [header, forged, sig].join("."),
    "payload with a later expiry": [header, later, sig].join("."),
    "signature removed": [header, payload, ""].join("."),
    "two parts": [header, payload].join("."),
    "extra part": [header, payload, sig, sig].join("."),
    "header changed": [Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url"), payload, sig].join("."),
    "signature of the refresh token": [header, payload, login.json.refresh_token.split(".")[2]].join("."),
  };
  for (const [what, token] of Object.entries(tampered)) {
    assert.notEqual(token, access);
    await assertUnauthorized(w, bearer(token), t.token, what);
  }
  // The untouched token still works.
  assert.equal((await w.call("GET", `/upload-tokens/${t.token}`, { auth: bearer(access) })).status, 200);
});

test("missing, malformed or wrong credentials are 401 with WWW-Authenticate on all four endpoints; nothing stored", async () => {
  const t = await create(w, 600);
  const snap = await kvSnapshot(w.kv);
  const b64 = (s) => Buffer.from(s).toString("base64");
  const cases = {
    "no header": null,
    "Basic alone": "Basic",
    "Basic, not base64": "Basic !!!not-base64!!!",
    "Basic, unknown key": basic("alpha-test-key-000000000099"),
    "Basic, empty key": basic(""),
    "Basic, only a colon": "Basic " + b64(":"),
    "Basic, key as password": "Basic " + b64(`:${KEYS.alpha}`),
    "Basic, key with a prefix": basic(`x${KEYS.alpha}`),
    "Bearer alone": "Bearer",
    "Bearer, garbage": "Bearer garbage",
    "Bearer, an API key": bearer(KEYS.alpha),
    "unknown scheme": `Token ${KEYS.alpha}`,
    "bare key": KEYS.alpha,
    "bare base64": b64(`${KEYS.alpha}:`),
  };
  for (const [what, auth] of Object.entries(cases)) {
    if (auth === null) {
      for (const [method, path, body] of endpoints(t.token)) {
        const res = await w.call(method, path, { auth: null, body });
        assertProblem(res, 401, {}, `${what}: ${method} ${path}`);
        assert.ok(res.headers.get("www-authenticate"), `${what}: WWW-Authenticate`);
        assertLimitHeader(res, 100000, what);
      }
    } else {
      await assertUnauthorized(w, auth, t.token, what);
    }
  }
  assert.deepEqual(await kvSnapshot(w.kv), snap, "nothing created or deleted");
  assert.equal((await w.call("GET", `/upload-tokens/${t.token}`)).status, 200);
});

// The exact second of expiry is the host tests' business (core/tests, injected clock); here a
// short lifetime with seconds of room for the calls made while the access token is valid.
test("with ACCESS_TOKEN_TTL 5 an access token expires on its second; refreshing gives a working one", async () => {
  const short = await startWorker({ vars: { ACCESS_TOKEN_TTL: "5" } });
  try {
    const t = await create(short, 600);
    await freshSecond();
    const login = await apiKeyLogin(short, KEYS.alpha);
    const issuedBy = Date.now();
    assertTokenPair(login, 5);
    const auth = bearer(login.json.access_token);
    const ok = await short.call("GET", `/upload-tokens/${t.token}`, { auth });
    assert.equal(ok.status, 200, `fresh access token works: ${ok.text}`);

    // Issued within second floor(issuedBy), so expired from five seconds later on.
    await sleepUntil((Math.floor(issuedBy / 1000) + 5) * 1000 + 20);
    for (const [method, path, body] of endpoints(t.token)) {
      const res = await short.call(method, path, { auth, body });
      assertProblem(res, 401, {}, `expired access token: ${method} ${path}`);
      assert.ok(res.headers.get("www-authenticate"));
    }
    assert.equal((await short.call("GET", `/upload-tokens/${t.token}`)).status, 200, "token itself kept");

    const refreshed = await short.call("POST", "/auth/refresh", {
      auth: null,
      body: { refreshToken: login.json.refresh_token },
    });
    assertTokenPair(refreshed, 5);
    const again = await short.call("GET", `/upload-tokens/${t.token}`, { auth: bearer(refreshed.json.access_token) });
    assert.equal(again.status, 200, `refreshed access token works: ${again.text}`);
    assert.deepEqual(again.json, t);
  } finally {
    await short.dispose();
  }
});

for (const [what, value] of [
  ["missing", undefined],
  ["empty", ""],
]) {
  test(`with API_KEYS ${what} every call is 500 service-misconfigured, except GET /openapi.json`, async () => {
    const bad = await startWorker({ vars: { API_KEYS: value } });
    try {
      const calls = [
        ...endpoints(ABSENT_ID),
        ["POST", "/auth/api-key", { apiKey: KEYS.alpha }],
        ["POST", "/auth/refresh", { refreshToken: "x" }],
      ];
      for (const [method, path, body] of calls) {
        for (const auth of ["alpha", null]) {
          const res = await bad.call(method, path, { auth, body });
          assertProblem(res, 500, { type: "...service-misconfigured" }, `${method} ${path} auth ${auth}`);
        }
      }
      assert.deepEqual(await kvSnapshot(bad.kv), [], "nothing stored");
      const spec = await raw(bad.mf, "GET", "/openapi.json");
      assert.equal(spec.status, 200, spec.text);
      assertJson(spec, "openapi.json");
    } finally {
      await bad.dispose();
    }
  });
}

// README: ACCESS_TOKEN_TTL 1..=86400; REFRESH_TOKEN_TTL 60..=31536000 (a minute to a year).
for (const [name, value] of [
  ["ACCESS_TOKEN_TTL", "0"],
  ["ACCESS_TOKEN_TTL", "86401"],
  ["REFRESH_TOKEN_TTL", "59"],
  ["REFRESH_TOKEN_TTL", "31536001"],
]) {
  test(`with ${name} ${value} every call is 500 service-misconfigured`, async () => {
    const bad = await startWorker({ vars: { [name]: value } });
    try {
      for (const [method, path, body, auth] of [
        ["GET", "/upload-tokens", undefined, "alpha"],
        ["POST", "/auth/api-key", { apiKey: KEYS.alpha }, null],
      ]) {
        const res = await bad.call(method, path, { auth, body });
        assertProblem(res, 500, { type: "...service-misconfigured" }, `${name}=${value}: ${method} ${path}`);
      }
    } finally {
      await bad.dispose();
    }
  });
}

test("ACCESS_TOKEN_TTL 86400 and REFRESH_TOKEN_TTL 60 and 31536000 are accepted", async () => {
  for (const vars of [
    { ACCESS_TOKEN_TTL: "86400", REFRESH_TOKEN_TTL: "31536000" },
    { ACCESS_TOKEN_TTL: "1", REFRESH_TOKEN_TTL: "60" },
  ]) {
    const edge = await startWorker({ vars });
    try {
      const login = await apiKeyLogin(edge, KEYS.alpha);
      assertTokenPair(login, Number(vars.ACCESS_TOKEN_TTL));
      const refreshed = await edge.call("POST", "/auth/refresh", { auth: null, body: { refreshToken: login.json.refresh_token } });
      assertTokenPair(refreshed, Number(vars.ACCESS_TOKEN_TTL));
    } finally {
      await edge.dispose();
    }
  }
});

test("the 404 of a missing token is the same with Basic and Bearer credentials", async () => {
  const login = await apiKeyLogin(w, KEYS.alpha);
  const a = await w.call("GET", `/upload-tokens/${ABSENT_ID}`);
  const b = await w.call("GET", `/upload-tokens/${ABSENT_ID}`, { auth: bearer(login.json.access_token) });
  assert.equal(
    a.text,
    '{"type":"https://docs.api.video/reference/resource-not-found","title":"The requested resource was not found.","status":404,"name":"uploadToken"}',
  );
  assert.equal(b.status, 404);
  assert.equal(b.text, a.text);
});
