// Drives the Worker, under a real `wrangler dev`, with api.video's official Node client
// (@api.video/nodejs-client, Basic auth on every call) exactly as an application would use it,
// and checks what the client hands back: its model objects, Date fields, pagination and errors.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ApiVideoClient, CLIENT_VERSION, apiError, model } from "./support/api-video.mjs";
import { startWrangler } from "./support/wrangler.mjs";

const UploadToken = model("UploadToken");
const TokenListResponse = model("TokenListResponse");

const KEYS = {
  alpha: "alpha-node-key-0123456789",
  beta: "beta-node-key-0123456789ab",
  gamma: "gamma-node-key-0123456789a",
  delta: "delta-node-key-0123456789a",
};
const SIGNING_KEY = "node-client-test-signing-key-0123456789abcdef";
const TOKEN_RE = /^to[0-9A-Za-z]{22}$/;
const MAX_TTL = 2147483647;
const PROBLEM = "https://docs.api.video/reference/";

let worker;
const client = (key) => new ApiVideoClient({ apiKey: key, baseUri: worker.base });

before(async () => {
  worker = await startWrangler({
    vars: {
      API_KEYS: Object.entries(KEYS).map(([p, k]) => `${p}:${k}`).join(","),
      AUTH_SIGNING_KEY: SIGNING_KEY,
      ACCESS_TOKEN_TTL: "3600",
    },
  });
});

after(async () => {
  await worker?.stop();
});

/** The checks every UploadToken the client returns must pass. */
function checkToken(t, { ttl, near } = {}) {
  assert.ok(t instanceof UploadToken, "the client deserialises an UploadToken model");
  assert.match(t.token, TOKEN_RE, "token id form");
  assert.equal(typeof t.ttl, "number");
  assert.ok(Number.isInteger(t.ttl) && t.ttl >= 0 && t.ttl <= MAX_TTL, `ttl ${t.ttl}`);
  if (ttl !== undefined) assert.equal(t.ttl, ttl, "ttl as created");
  assert.ok(t.createdAt instanceof Date, "createdAt is a Date");
  assert.ok(!Number.isNaN(t.createdAt.getTime()), "createdAt parses to a valid Date");
  assert.equal(t.createdAt.getTime() % 1000, 0, "createdAt has whole seconds");
  if (near !== undefined) {
    const skew = Math.abs(t.createdAt.getTime() - near);
    assert.ok(skew < 120_000, `createdAt ${t.createdAt.toISOString()} is within 2 min of now`);
  }
  if (t.ttl === 0) {
    assert.equal(t.expiresAt, null, "expiresAt is null when ttl is 0");
  } else {
    assert.ok(t.expiresAt instanceof Date, "expiresAt is a Date");
    assert.ok(!Number.isNaN(t.expiresAt.getTime()), "expiresAt parses to a valid Date");
    assert.equal(t.expiresAt.getTime() - t.createdAt.getTime(), t.ttl * 1000, "expiresAt = createdAt + ttl");
  }
}

function sameToken(a, b) {
  assert.equal(a.token, b.token);
  assert.equal(a.ttl, b.ttl);
  assert.equal(a.createdAt.getTime(), b.createdAt.getTime(), "createdAt");
  assert.equal(a.expiresAt === null ? null : a.expiresAt.getTime(), b.expiresAt === null ? null : b.expiresAt.getTime(), "expiresAt");
}

describe("@api.video/nodejs-client against the worker", () => {
  test("client version is the pinned one", () => {
    assert.equal(CLIENT_VERSION, "2.6.8");
  });

  test("create with ttl 0, 3600 and 30, then get each", async () => {
    const api = client(KEYS.alpha).uploadTokens;
    const created = [];
    for (const ttl of [0, 3600, 30]) {
      const before = Date.now();
      const t = await api.createToken({ ttl });
      checkToken(t, { ttl, near: before });
      created.push(t);
    }
    assert.equal(new Set(created.map((t) => t.token)).size, 3, "three distinct token ids");
    for (const t of created) {
      const got = await api.getToken(t.token);
      checkToken(got, { ttl: t.ttl });
      sameToken(got, t);
    }
    // No argument at all: the client sends `{}`, and the ttl defaults to 0.
    const plain = await api.createToken();
    checkToken(plain, { ttl: 0, near: Date.now() });
    // The largest ttl: its expiry is far in the future but still a valid Date.
    const longest = await api.createToken({ ttl: MAX_TTL });
    checkToken(longest, { ttl: MAX_TTL });
    sameToken(await api.getToken(longest.token), longest);
  });

  test("the raw response carries what the client expects (content type, rate-limit headers)", async () => {
    const api = client(KEYS.alpha).uploadTokens;
    const { headers, body } = await api.createTokenWithResponseHeaders({ ttl: 60 });
    checkToken(body, { ttl: 60 });
    // ObjectSerializer.parse only accepts exactly `application/json` (or the vendor type).
    assert.equal(headers["content-type"], "application/json");
    // The client's ApiResponseHeaders type names three rate-limit headers; the service sends
    // only the one it can state truthfully. The rate-limit binding knows neither how many
    // requests remain nor when its window started, so no Remaining or Retry-After figure is
    // invented on a successful answer (a 429 carries Retry-After; see ratelimit tests). The
    // client hands the headers through as they are and does not fail on the missing ones.
    assert.match(headers["x-ratelimit-limit"], /^\d+$/);
    assert.equal(headers["x-ratelimit-remaining"], undefined);
    assert.equal(headers["x-ratelimit-retry-after"], undefined);
    assert.equal(headers["x-ratelimit-limit"], "600");
  });

  test("delete, then get and delete again are the client's 404", async () => {
    const api = client(KEYS.alpha).uploadTokens;
    const t = await api.createToken({ ttl: 3600 });
    const res = await api.deleteTokenWithResponseHeaders(t.token);
    // A 204 has no body and no Content-Type: the client then passes the JSON-stringified empty
    // body through (ObjectSerializer.parse with an undefined media type), without throwing.
    assert.equal(res.headers["content-type"], undefined, "no Content-Type on 204");
    assert.equal(res.body, '""');
    for (const call of [() => api.getToken(t.token), () => api.deleteToken(t.token)]) {
      const err = await apiError(call, 404);
      assert.equal(err.problemDetails.type, `${PROBLEM}resource-not-found`);
      assert.equal(err.problemDetails.name, "uploadToken");
    }
    // A well-formed id that never existed, and a malformed one.
    await apiError(() => api.getToken("to" + "A".repeat(22)), 404);
    await apiError(() => api.getToken("not-a-token"), 404);
  });

  test("ttl -1 and 2147483648 are the client's 400 on the ttl attribute", async () => {
    const api = client(KEYS.alpha).uploadTokens;
    for (const ttl of [-1, MAX_TTL + 1]) {
      const err = await apiError(() => api.createToken({ ttl }), 400);
      assert.equal(err.problemDetails.type, `${PROBLEM}invalid-attribute`, `type for ttl ${ttl}`);
      assert.equal(err.problemDetails.name, "ttl", `name for ttl ${ttl}`);
    }
  });

  test("list parameters out of range are the client's 400 on the query parameter", async () => {
    const api = client(KEYS.alpha).uploadTokens;
    for (const args of [{ pageSize: 0 }, { pageSize: 101 }, { currentPage: 0 }]) {
      const err = await apiError(() => api.list(args), 400);
      assert.equal(err.problemDetails.type, `${PROBLEM}request-invalid-query-parameter`, JSON.stringify(args));
      assert.equal(err.problemDetails.name, Object.keys(args)[0]);
    }
  });

  test("a wrong API key is the client's 401 on every call", async () => {
    const api = client("wrong-node-key-0123456789").uploadTokens;
    const calls = [
      () => api.createToken({ ttl: 60 }),
      () => api.list(),
      () => api.getToken("to" + "B".repeat(22)),
      () => api.deleteToken("to" + "B".repeat(22)),
    ];
    for (const call of calls) {
      const err = await apiError(call, 401);
      assert.match(err.problemDetails.type, /^https:\/\/docs\.api\.video\/reference\//);
    }
  });

  test("projects are isolated from each other", async () => {
    const alpha = client(KEYS.alpha).uploadTokens;
    const gamma = client(KEYS.gamma).uploadTokens;
    const t = await alpha.createToken({ ttl: 0 });
    await apiError(() => gamma.getToken(t.token), 404);
    await apiError(() => gamma.deleteToken(t.token), 404);
    const listed = await gamma.list({ pageSize: 100 });
    assert.ok(!listed.data.some((x) => x.token === t.token), "gamma does not list alpha's token");
    sameToken(await alpha.getToken(t.token), t);
  });

  test("the client's getAccessToken() through /auth/api-key", async () => {
    const token = await client(KEYS.alpha).getAccessToken();
    assert.equal(token.tokenType, "Bearer");
    assert.equal(token.expiresIn, 3600);
    assert.equal(typeof token.accessToken, "string");
    assert.equal(typeof token.refreshToken, "string");
    assert.ok(token.accessToken.length > 0 && token.refreshToken.length > 0);
    // The bearer token it hands out works on the API.
    const res = await fetch(`${worker.base}/upload-tokens`, {
      headers: { authorization: `Bearer ${token.accessToken}` },
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    // A wrong key: getAccessToken does not wrap errors, the raw axios error carries the answer.
    await assert.rejects(client("wrong-node-key-0123456789").getAccessToken(), (e) => {
      assert.equal(e.response?.status, 400);
      assert.equal(e.response.data.type, `${PROBLEM}authentication-invalid-user-credentials`);
      return true;
    });
  });

  test("an expired token leaves the listing and is a 404", async () => {
    const api = client(KEYS.gamma).uploadTokens;
    // Seconds of room for the checks made while it is active, on a loaded machine too.
    const t = await api.createToken({ ttl: 6 });
    const lasting = await api.createToken({ ttl: 0 });
    const listed = (await api.list({ pageSize: 100 })).data.map((x) => x.token);
    assert.ok(listed.includes(t.token), "listed while active");
    const wait = t.expiresAt.getTime() - Date.now() + 1200;
    await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    const after = await api.list({ pageSize: 100 });
    assert.ok(!after.data.some((x) => x.token === t.token), "not listed once expired");
    assert.ok(after.data.some((x) => x.token === lasting.token), "the lasting token is still listed");
    assert.equal(after.pagination.itemsTotal, after.data.length);
    await apiError(() => api.getToken(t.token), 404);
  });
});

// ---------------------------------------------------------------------------------------------
// Listing: a fixed set of tokens in its own project, walked page by page in every order.

/** Remaining lifetime key for sortBy=ttl: ttl 0 never expires, so it is the longest. */
const expiryKey = (t) => (t.expiresAt === null ? Infinity : t.expiresAt.getTime());
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
/** The documented order: by the sort key, ties by createdAt, then by token id. */
function documentedOrder(sortBy) {
  return (a, b) =>
    (sortBy === "ttl" ? cmp(expiryKey(a), expiryKey(b)) : 0) ||
    cmp(a.createdAt.getTime(), b.createdAt.getTime()) ||
    cmp(a.token, b.token);
}

/**
 * Walks every page of a listing the way the client exposes it: `list()` returns one page plus
 * `pagination.links`; the next page is the `next` link, whose query is fed back to `list()`.
 */
async function walk(api, args) {
  const pages = [];
  let query = args;
  for (let guard = 0; guard < 500; guard++) {
    const page = await api.list(query);
    assert.ok(page instanceof TokenListResponse, "the client deserialises a TokenListResponse");
    pages.push(page);
    const next = page.pagination.links.find((l) => l.rel === "next");
    if (!next) return pages;
    const url = new URL(next.uri, "http://relative.invalid");
    assert.equal(url.pathname, "/upload-tokens", "next link path");
    const q = url.searchParams;
    query = {
      ...(q.has("sortBy") ? { sortBy: q.get("sortBy") } : {}),
      ...(q.has("sortOrder") ? { sortOrder: q.get("sortOrder") } : {}),
      currentPage: Number(q.get("currentPage")),
      pageSize: Number(q.get("pageSize")),
    };
  }
  throw new Error("the next links never end");
}

function checkPage(page, index, { total, size, args }) {
  const p = page.pagination;
  const pagesTotal = Math.max(1, Math.ceil(total / size));
  const n = index + 1;
  const expectedItems = Math.max(0, Math.min(size, total - index * size));
  const where = `${JSON.stringify(args)} page ${n}`;
  assert.equal(p.currentPage, n, `${where}: currentPage`);
  assert.equal(p.pageSize, size, `${where}: pageSize`);
  assert.equal(p.itemsTotal, total, `${where}: itemsTotal`);
  assert.equal(p.pagesTotal, pagesTotal, `${where}: pagesTotal`);
  assert.equal(p.currentPageItems, expectedItems, `${where}: currentPageItems`);
  assert.equal(page.data.length, expectedItems, `${where}: data length`);
  const rels = p.links.map((l) => l.rel);
  const wantRels = ["self", "first", ...(n > 1 ? ["previous"] : []), ...(n < pagesTotal ? ["next"] : []), "last"];
  assert.deepEqual(rels, wantRels, `${where}: link rels`);
  for (const link of p.links) {
    assert.equal(typeof link.uri, "string");
    const url = new URL(link.uri, "http://relative.invalid");
    assert.ok(link.uri.startsWith("/upload-tokens?"), `${where}: ${link.rel} is a relative URI`);
    const target = { self: n, first: 1, previous: n - 1, next: n + 1, last: pagesTotal }[link.rel];
    assert.equal(url.searchParams.get("currentPage"), String(target), `${where}: ${link.rel} currentPage`);
    assert.equal(url.searchParams.get("pageSize"), String(size), `${where}: ${link.rel} pageSize`);
    for (const k of ["sortBy", "sortOrder"]) {
      if (args[k] !== undefined) assert.equal(url.searchParams.get(k), args[k], `${where}: ${link.rel} keeps ${k}`);
    }
  }
  for (const t of page.data) checkToken(t);
}

describe("listing with the Node client's pagination", () => {
  // Tokens with lifetimes that do not follow creation order, several of them created within
  // the same second (so the tie-breaks on createdAt and the token id are exercised). No short
  // lifetimes: the set must not change while it is being walked.
  const TTLS = [3600, 0, 600, 86400, 1200, 0, 7200, 600, MAX_TTL, 3600, 900];
  const COUNT = 37;
  const created = [];
  let api;

  before(async () => {
    api = client(KEYS.beta).uploadTokens;
    for (let i = 0; i < COUNT; i++) created.push(await api.createToken({ ttl: TTLS[i % TTLS.length] }));
  });

  for (const sortBy of ["createdAt", "ttl"]) {
    for (const sortOrder of ["asc", "desc"]) {
      test(`sortBy=${sortBy} sortOrder=${sortOrder}, page sizes 1, 2, 7, 25, 100`, async () => {
        const asc = [...created].sort(documentedOrder(sortBy));
        const expected = sortOrder === "asc" ? asc : [...asc].reverse();
        for (const pageSize of [1, 2, 7, 25, 100]) {
          const args = { sortBy, sortOrder, pageSize };
          const pages = await walk(api, args);
          assert.equal(pages.length, Math.ceil(COUNT / pageSize), `${JSON.stringify(args)}: pages walked`);
          pages.forEach((page, i) => checkPage(page, i, { total: COUNT, size: pageSize, args }));
          const seen = pages.flatMap((p) => p.data);
          const ids = seen.map((t) => t.token);
          assert.equal(new Set(ids).size, ids.length, `${JSON.stringify(args)}: no token repeated`);
          const missing = created.filter((t) => !ids.includes(t.token)).map((t) => t.token);
          assert.deepEqual(missing, [], `${JSON.stringify(args)}: no token missing`);
          assert.deepEqual(ids, expected.map((t) => t.token), `${JSON.stringify(args)}: order`);
          seen.forEach((t, i) => sameToken(t, expected[i]));
        }
      });
    }
  }

  test("desc is the exact reverse of asc, and ttl order differs from creation order", async () => {
    const ids = async (sortBy, sortOrder) =>
      (await api.list({ sortBy, sortOrder, pageSize: 100 })).data.map((t) => t.token);
    for (const sortBy of ["createdAt", "ttl"]) {
      assert.deepEqual(await ids(sortBy, "desc"), (await ids(sortBy, "asc")).reverse(), sortBy);
    }
    assert.notDeepEqual(await ids("ttl", "asc"), await ids("createdAt", "asc"), "the data set tells the two orders apart");
  });

  test("defaults: page 1 of size 25, every token exactly once across the pages", async () => {
    const first = await api.list();
    assert.equal(first.pagination.pageSize, 25);
    assert.equal(first.pagination.currentPage, 1);
    const pages = await walk(api, {});
    pages.forEach((page, i) => checkPage(page, i, { total: COUNT, size: 25, args: {} }));
    const ids = pages.flatMap((p) => p.data.map((t) => t.token));
    assert.deepEqual([...ids].sort(), created.map((t) => t.token).sort());
  });

  test("a page past the end is empty", async () => {
    const page = await api.list({ currentPage: 99, pageSize: 10 });
    assert.deepEqual(page.data, []);
    assert.equal(page.pagination.currentPageItems, 0);
    assert.equal(page.pagination.itemsTotal, COUNT);
  });

  test("deleting removes a token from every page walk", async () => {
    const victim = created[5];
    await api.deleteToken(victim.token);
    const pages = await walk(api, { sortBy: "ttl", sortOrder: "desc", pageSize: 10 });
    const ids = pages.flatMap((p) => p.data.map((t) => t.token));
    assert.equal(ids.length, COUNT - 1);
    assert.ok(!ids.includes(victim.token));
    assert.equal(pages[0].pagination.itemsTotal, COUNT - 1);
  });
});

// ---------------------------------------------------------------------------------------------
// A fixed table: six tokens, each created in a second of its own, with lifetimes far apart, so
// that every order and link below can be written down by hand from README's contract.

describe("listing a fixed table with the Node client", () => {
  // t1..t6 in creation order; expiries: t3 (+1 h) < t1 (+2 h) < t6 (+3 h) < t4 (+1 day) < never.
  const TTLS = [7200, 0, 3600, 86400, 0, 10800];
  const t = [];
  let api;
  const ids = (page) => page.data.map((x) => x.token);
  const label = (page) => page.data.map((x) => `t${t.findIndex((y) => y.token === x.token) + 1}`);

  before(async () => {
    api = client(KEYS.delta).uploadTokens;
    for (const ttl of TTLS) {
      const made = await api.createToken({ ttl });
      if (t.length) assert.ok(made.createdAt > t[t.length - 1].createdAt, "each token in a later second");
      t.push(made);
      // The next one in a second of its own (same clock as the server's).
      const next = made.createdAt.getTime() + 1000;
      while (Date.now() < next + 5) await new Promise((r) => setTimeout(r, next + 5 - Date.now()));
    }
  });

  test("each order is the written-down one", async () => {
    const cases = [
      [{ sortBy: "createdAt", sortOrder: "asc" }, ["t1", "t2", "t3", "t4", "t5", "t6"]],
      [{ sortBy: "createdAt", sortOrder: "desc" }, ["t6", "t5", "t4", "t3", "t2", "t1"]],
      [{ sortBy: "ttl", sortOrder: "asc" }, ["t3", "t1", "t6", "t4", "t2", "t5"]],
      [{ sortBy: "ttl", sortOrder: "desc" }, ["t5", "t2", "t4", "t6", "t1", "t3"]],
      [{}, ["t6", "t5", "t4", "t3", "t2", "t1"]],
      [{ sortBy: "ttl" }, ["t5", "t2", "t4", "t6", "t1", "t3"]],
      [{ sortOrder: "asc" }, ["t1", "t2", "t3", "t4", "t5", "t6"]],
      [{ sortBy: "ttl", sortOrder: "asc", pageSize: 4, currentPage: 2 }, ["t2", "t5"]],
      [{ sortBy: "ttl", sortOrder: "asc", pageSize: 4, currentPage: 3 }, []],
    ];
    for (const [args, want] of cases) {
      const page = await api.list(args);
      assert.deepEqual(label(page), want, JSON.stringify(args));
      assert.equal(page.pagination.itemsTotal, 6, JSON.stringify(args));
    }
  });

  test("links are the written-down URIs", async () => {
    const u = (q) => `/upload-tokens?${q}`;
    const cases = [
      [{}, [["self", u("currentPage=1&pageSize=25")], ["first", u("currentPage=1&pageSize=25")], ["last", u("currentPage=1&pageSize=25")]]],
      [
        { sortBy: "ttl", pageSize: 4 },
        [
          ["self", u("sortBy=ttl&currentPage=1&pageSize=4")],
          ["first", u("sortBy=ttl&currentPage=1&pageSize=4")],
          ["next", u("sortBy=ttl&currentPage=2&pageSize=4")],
          ["last", u("sortBy=ttl&currentPage=2&pageSize=4")],
        ],
      ],
      [
        { sortOrder: "asc", pageSize: 4, currentPage: 2 },
        [
          ["self", u("sortOrder=asc&currentPage=2&pageSize=4")],
          ["first", u("sortOrder=asc&currentPage=1&pageSize=4")],
          ["previous", u("sortOrder=asc&currentPage=1&pageSize=4")],
          ["last", u("sortOrder=asc&currentPage=2&pageSize=4")],
        ],
      ],
      [
        { sortBy: "createdAt", sortOrder: "desc", pageSize: 2, currentPage: 2 },
        [
          ["self", u("sortBy=createdAt&sortOrder=desc&currentPage=2&pageSize=2")],
          ["first", u("sortBy=createdAt&sortOrder=desc&currentPage=1&pageSize=2")],
          ["previous", u("sortBy=createdAt&sortOrder=desc&currentPage=1&pageSize=2")],
          ["next", u("sortBy=createdAt&sortOrder=desc&currentPage=3&pageSize=2")],
          ["last", u("sortBy=createdAt&sortOrder=desc&currentPage=3&pageSize=2")],
        ],
      ],
      [
        { pageSize: 4, currentPage: 7 },
        [
          ["self", u("currentPage=7&pageSize=4")],
          ["first", u("currentPage=1&pageSize=4")],
          ["previous", u("currentPage=6&pageSize=4")],
          ["last", u("currentPage=2&pageSize=4")],
        ],
      ],
    ];
    for (const [args, want] of cases) {
      const page = await api.list(args);
      assert.deepEqual(page.pagination.links.map((l) => [l.rel, l.uri]), want, JSON.stringify(args));
    }
  });

  test("a page's fields are the created tokens' own", async () => {
    const page = await api.list({ sortBy: "ttl", sortOrder: "asc", pageSize: 2 });
    assert.deepEqual(ids(page), [t[2].token, t[0].token]);
    sameToken(page.data[0], t[2]);
    sameToken(page.data[1], t[0]);
    assert.equal(page.data[0].expiresAt.getTime() - page.data[0].createdAt.getTime(), 3600_000);
  });
});

// ---------------------------------------------------------------------------------------------
// The Worker's own log lines, as the runtime prints them: a failure whose message carries an
// upload token or a bearer token is logged with the token masked, and no API key is ever logged.

/** Writes `value` under `key` in the running `wrangler dev`'s local KV (its state directory). */
function kvPut(key, value) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const args = ["kv", "key", "put", key, value, "--binding", "UPLOAD_TOKENS", "--local", "--persist-to", worker.state];
  return new Promise((resolve, reject) => {
    execFile(`${root}node_modules/.bin/wrangler`, args, { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" }, timeout: 120_000 }, (e, stdout, stderr) =>
      e ? reject(new Error(`wrangler kv key put: ${e.message}\n${stdout}\n${stderr}`)) : resolve(),
    );
  });
}

describe("the Worker's log lines", () => {
  const HIDDEN = `to${"Hidden0".repeat(3)}X`; // a well-formed token id, 22 characters after "to"
  const JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbHBoYSJ9.c2lnbmF0dXJlLXNlY3JldA";
  const OTHER = `to${"Other00".repeat(3)}Y`;

  /** The Worker's lines about `needle` (the runtime's own request lines are left out). */
  const workerLines = (needle) => worker.output().split("\n").filter((l) => l.includes(needle));

  /** Waits (at most 30 s) for the Worker's line about `needle` to reach the output. */
  async function lineAbout(needle) {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const lines = workerLines(needle);
      if (lines.length) return lines;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`no log line about ${needle} in:\n${worker.output()}`);
  }

  test("a token in a failure's message is logged as to…, a bearer token as [bearer token]", async () => {
    // Records an earlier version could not have written: the failure to read them quotes them.
    await kvPut(`tok:${HIDDEN}`, JSON.stringify({ project: "alpha", ttl: HIDDEN, createdAt: 1 }));
    await kvPut(`tok:${OTHER}`, JSON.stringify({ project: "alpha", ttl: JWT, createdAt: 1 }));
    const api = client(KEYS.alpha).uploadTokens;
    for (const id of [HIDDEN, OTHER]) {
      const err = await apiError(() => api.getToken(id), 500);
      assert.deepEqual(err.problemDetails, {
        type: `${PROBLEM}internal-error`,
        title: "An internal error occurred.",
        status: 500,
      });
    }
    const hidden = await lineAbout(`invalid type: string "to…"`);
    for (const line of hidden) {
      assert.match(line, /^.*request [0-9a-f-]{36}: reading a token: record of a token is unreadable: invalid type: string "to…", expected u32/);
      assert.ok(!line.includes(HIDDEN), line);
    }
    const bearer = await lineAbout(`invalid type: string "[bearer token]"`);
    for (const line of bearer) assert.ok(!line.includes(JWT) && !line.includes("eyJ"), line);
    // Nowhere in the Worker's output is either secret quoted.
    for (const line of workerLines("record of a token is unreadable")) {
      assert.ok(!line.includes(HIDDEN) && !line.includes(JWT), line);
    }
  });

  test("no API key reaches the output, right or wrong, Basic or traded for bearer tokens", async () => {
    const wrong = "wrong-node-key-0123456789";
    await apiError(() => client(wrong).uploadTokens.list(), 401);
    await assert.rejects(client(wrong).getAccessToken());
    await client(KEYS.beta).getAccessToken();
    await client(KEYS.beta).uploadTokens.list();
    const out = worker.output();
    for (const key of [...Object.values(KEYS), wrong]) assert.ok(!out.includes(key), `${key} in the output`);
  });
});
