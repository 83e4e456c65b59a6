// Listing: pagination, both sort keys in both orders, links, and query validation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { basic } from "./support/http.mjs";
import { startWorker, workerForTests } from "./support/miniflare.mjs";
import {
  assertJson,
  assertLimitHeader,
  assertProblem,
  assertTokenShape,
  create,
  kvSnapshot,
  list,
  secs,
  sleepUntil,
} from "./support/mf-helpers.mjs";

const GAMMA_KEY = "gamma-test-key-000000000001";
const FIXED_KEY = "fixed-test-key-000000000001";
const FIXED2_KEY = "fixed2-test-key-00000000001";
const w = workerForTests({
  vars: {
    API_KEYS:
      `alpha:alpha-test-key-000000000001,beta:beta-test-key-0000000000001,gamma:${GAMMA_KEY},` +
      `fixed:${FIXED_KEY},fixed2:${FIXED2_KEY}`,
  },
});

const TOTAL = 150;
/** token id -> the object the create call answered. */
const created = new Map();

/** The sort key of an item as a client reads it from the JSON. */
function sortKey(item, sortBy) {
  const c = secs(item.createdAt);
  if (sortBy === "createdAt") return [c, item.token];
  return [item.expiresAt === null ? Infinity : secs(item.expiresAt), c, item.token];
}

function compare(a, b) {
  for (let i = 0; i < a.length; i++) {
    if (a[i] < b[i]) return -1;
    if (a[i] > b[i]) return 1;
  }
  return 0;
}

/** The links a page must carry, as `[rel, uri]`. */
function expectedLinks(prefix, currentPage, pageSize, pagesTotal) {
  const uri = (p) => `/upload-tokens?${prefix}currentPage=${p}&pageSize=${pageSize}`;
  const links = [
    ["self", uri(currentPage)],
    ["first", uri(1)],
  ];
  if (currentPage > 1) links.push(["previous", uri(currentPage - 1)]);
  if (currentPage < pagesTotal) links.push(["next", uri(currentPage + 1)]);
  links.push(["last", uri(pagesTotal)]);
  return links;
}

/**
 * Walks every page of a listing by following the `next` link, checking each page, and returns
 * the items in the order received.
 */
async function walk({ query, prefix, pageSize, sortBy, sortOrder, auth = GAMMA_KEY }) {
  const pagesTotal = Math.ceil(TOTAL / pageSize);
  const items = [];
  let path = `/upload-tokens?${query}`;
  for (let page = 1; page <= pagesTotal; page++) {
    const res = await w.call("GET", path, { auth: basic(auth) });
    const what = `${path}`;
    assert.equal(res.status, 200, `${what}: ${res.text}`);
    assertJson(res, what);
    assertLimitHeader(res, 100000, what);
    const { data, pagination } = res.json;
    assert.deepEqual(Object.keys(res.json).sort(), ["data", "pagination"]);
    const want = Math.min(pageSize, TOTAL - (page - 1) * pageSize);
    assert.equal(data.length, want, `${what}: items on page`);
    assert.deepEqual(
      { ...pagination, links: undefined },
      {
        currentPage: page,
        currentPageItems: want,
        pageSize,
        pagesTotal,
        itemsTotal: TOTAL,
        links: undefined,
      },
      `${what}: pagination`,
    );
    assert.deepEqual(
      pagination.links.map((l) => [l.rel, l.uri]),
      expectedLinks(prefix, page, pageSize, pagesTotal),
      `${what}: links`,
    );
    for (const item of data) {
      assertTokenShape(item);
      assert.deepEqual(item, created.get(item.token), `${what}: listed as created`);
    }
    items.push(...data);
    const next = pagination.links.find((l) => l.rel === "next");
    if (page < pagesTotal) path = next.uri;
  }
  // Consecutive items, within and across pages, are strictly ordered.
  for (let i = 1; i < items.length; i++) {
    const c = compare(sortKey(items[i - 1], sortBy), sortKey(items[i], sortBy));
    assert.equal(
      c,
      sortOrder === "asc" ? -1 : 1,
      `${query}: items ${i - 1} and ${i} out of ${sortBy} ${sortOrder} order: ` +
        `${JSON.stringify(items[i - 1])} then ${JSON.stringify(items[i])}`,
    );
  }
  const ids = items.map((t) => t.token);
  assert.equal(new Set(ids).size, TOTAL, `${query}: no duplicate`);
  for (const id of created.keys()) assert.ok(ids.includes(id), `${query}: ${id} missing`);
  return ids;
}

test("an empty project lists nothing on one page", async () => {
  const res = await list(w, "", GAMMA_KEY);
  assert.equal(res.status, 200, res.text);
  assertJson(res);
  assert.deepEqual(res.json, {
    data: [],
    pagination: {
      currentPage: 1,
      currentPageItems: 0,
      pageSize: 25,
      pagesTotal: 1,
      itemsTotal: 0,
      links: [
        { rel: "self", uri: "/upload-tokens?currentPage=1&pageSize=25" },
        { rel: "first", uri: "/upload-tokens?currentPage=1&pageSize=25" },
        { rel: "last", uri: "/upload-tokens?currentPage=1&pageSize=25" },
      ],
    },
  });
});

test("150 tokens: every page in both orders for both sort keys, pageSize 25 and 40", async () => {
  const ttls = [0, 3600, 120, 86400];
  const add = async (ttl) => {
    const t = await create(w, ttl, GAMMA_KEY);
    created.set(t.token, t);
    return t;
  };
  for (let i = 0; i < 75; i++) await add(ttls[i % 4]);
  // A second batch in a later second; some of its ttls are chosen so that a token expires at
  // the same second as an earlier ttl-120 token, to exercise the createdAt tie-break.
  const target = Math.max(
    ...[...created.values()].filter((t) => t.ttl === 120).map((t) => secs(t.expiresAt)),
  );
  await sleepUntil(Math.floor(Date.now() / 1000) * 1000 + 1005);
  for (let i = 0; created.size < TOTAL; i++) {
    if (i % 5 === 4) await add(target - Math.floor(Date.now() / 1000));
    else await add(ttls[i % 4]);
  }
  const all = [...created.values()];
  assert.ok(new Set(all.map((t) => t.createdAt)).size >= 2, "tokens span several seconds");
  assert.ok(
    all.some((a) => all.some((b) => a.expiresAt === b.expiresAt && a.createdAt !== b.createdAt)),
    "some tokens share an expiresAt but not a createdAt",
  );
  assert.ok(all.filter((t) => t.ttl === 0).length > 1, "several never-expiring tokens");

  const orders = {};
  for (const sortBy of ["createdAt", "ttl"]) {
    for (const sortOrder of ["asc", "desc"]) {
      let first;
      for (const pageSize of [25, 40]) {
        const query = `sortBy=${sortBy}&sortOrder=${sortOrder}&currentPage=1&pageSize=${pageSize}`;
        const ids = await walk({ query, prefix: `sortBy=${sortBy}&sortOrder=${sortOrder}&`, pageSize, sortBy, sortOrder });
        if (first) assert.deepEqual(ids, first, `${sortBy} ${sortOrder}: same order with pageSize ${pageSize}`);
        first = ids;
      }
      orders[`${sortBy} ${sortOrder}`] = first;
    }
    assert.deepEqual(
      orders[`${sortBy} desc`],
      [...orders[`${sortBy} asc`]].reverse(),
      `${sortBy}: desc is the reverse of asc`,
    );
  }
  // Never-expiring tokens come last when sorted by ttl ascending.
  const byTtlAsc = orders["ttl asc"].map((id) => created.get(id));
  const firstNever = byTtlAsc.findIndex((t) => t.ttl === 0);
  assert.ok(firstNever > 0 && byTtlAsc.slice(firstNever).every((t) => t.ttl === 0), "ttl 0 last in asc");

  // Defaults: createdAt desc, 25 a page, links without sort parameters.
  const byDefault = await walk({ query: "", prefix: "", pageSize: 25, sortBy: "createdAt", sortOrder: "desc" });
  assert.deepEqual(byDefault, orders["createdAt desc"]);
  // Only one sort parameter given: only that one is carried by the links.
  const onlyOrder = await walk({ query: "sortOrder=asc&pageSize=40", prefix: "sortOrder=asc&", pageSize: 40, sortBy: "createdAt", sortOrder: "asc" });
  assert.deepEqual(onlyOrder, orders["createdAt asc"]);
  const onlyBy = await walk({ query: "sortBy=ttl&pageSize=40", prefix: "sortBy=ttl&", pageSize: 40, sortBy: "ttl", sortOrder: "desc" });
  assert.deepEqual(onlyBy, orders["ttl desc"]);
});

test("a page past the end is 200 with no data; pageSize 1 and 100 are accepted", async () => {
  assert.equal(created.size, TOTAL, "runs after the 150 tokens exist");
  const res = await list(w, "currentPage=9&pageSize=25", GAMMA_KEY);
  assert.equal(res.status, 200, res.text);
  assertJson(res);
  assert.deepEqual(res.json.data, []);
  const p = res.json.pagination;
  assert.deepEqual(
    { ...p, links: undefined },
    { currentPage: 9, currentPageItems: 0, pageSize: 25, pagesTotal: 6, itemsTotal: TOTAL, links: undefined },
  );
  assert.deepEqual(
    p.links.map((l) => [l.rel, l.uri]),
    expectedLinks("", 9, 25, 6),
  );

  const one = await list(w, "pageSize=1&currentPage=150", GAMMA_KEY);
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.data.length, 1);
  assert.equal(one.json.pagination.pagesTotal, 150);
  assert.deepEqual(
    one.json.pagination.links.map((l) => l.rel),
    ["self", "first", "previous", "last"],
  );
  const hundred = await list(w, "pageSize=100&currentPage=2", GAMMA_KEY);
  assert.equal(hundred.status, 200, hundred.text);
  assert.equal(hundred.json.data.length, 50);
  assert.equal(hundred.json.pagination.pagesTotal, 2);
});

test("bad list parameters are 400 request-invalid-query-parameter naming the parameter; nothing changes", async () => {
  const cases = [
    ["currentPage=0", "currentPage"],
    ["currentPage=-1", "currentPage"],
    ["currentPage=abc", "currentPage"],
    ["currentPage=1.5", "currentPage"],
    ["currentPage=", "currentPage"],
    ["currentPage=1&currentPage=1", "currentPage"],
    ["pageSize=0", "pageSize"],
    ["pageSize=-1", "pageSize"],
    ["pageSize=101", "pageSize"],
    ["pageSize=abc", "pageSize"],
    ["pageSize=1.5", "pageSize"],
    ["pageSize=", "pageSize"],
    ["pageSize=10&pageSize=10", "pageSize"],
    ["sortBy=expiresAt", "sortBy"],
    ["sortBy=CreatedAt", "sortBy"],
    ["sortBy=", "sortBy"],
    ["sortBy=ttl&sortBy=ttl", "sortBy"],
    ["sortOrder=ASC", "sortOrder"],
    ["sortOrder=DESC", "sortOrder"],
    ["sortOrder=up", "sortOrder"],
    ["sortOrder=", "sortOrder"],
    ["sortOrder=asc&sortOrder=asc", "sortOrder"],
    ["sortBy=ttl&sortOrder=asc&currentPage=1&pageSize=101", "pageSize"],
  ];
  const snap = await kvSnapshot(w.kv);
  for (const [query, name] of cases) {
    for (const auth of ["alpha", GAMMA_KEY]) {
      const res = await list(w, query, auth);
      assertProblem(res, 400, { type: "https://docs.api.video/reference/request-invalid-query-parameter", name }, query);
      assertLimitHeader(res, 100000, query);
    }
  }
  assert.deepEqual(await kvSnapshot(w.kv), snap);
});

test("1,150 tokens: each is listed once, every page one round trip to the project index and no KV operation", { timeout: 180_000 }, async () => {
  const big = await startWorker({
    vars: { API_KEYS: "delta:delta-test-key-000000000001", SERVER_TIMING: "1" },
  });
  try {
    const auth = basic("delta-test-key-000000000001");
    const N = 1150;
    const made = new Map();
    for (let i = 0; i < N; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, N - i) }, (_, j) =>
          big.call("POST", "/upload-tokens", { auth, body: { ttl: (i + j) % 3 ? 3600 : 0 } }),
        ),
      );
      for (const res of batch) {
        assert.equal(res.status, 200, res.text);
        made.set(res.json.token, res.json);
      }
    }
    assert.equal(made.size, N);
    const seen = [];
    for (let page = 1; ; page++) {
      const res = await big.call("GET", `/upload-tokens?sortBy=createdAt&sortOrder=asc&pageSize=100&currentPage=${page}`, { auth });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.pagination.itemsTotal, N, `page ${page}: itemsTotal`);
      assert.match(
        res.headers.get("Server-Timing") ?? "",
        /kv;desc="reads=0 writes=0 deletes=0 lists=0", index;desc="calls=1"/,
        `page ${page}: one index call and no KV operation`,
      );
      for (const item of res.json.data) assert.deepEqual(item, made.get(item.token), "listed as created");
      seen.push(...res.json.data.map((t) => t.token));
      if (page === res.json.pagination.pagesTotal) break;
    }
    assert.equal(seen.length, N, "every token on some page");
    assert.equal(new Set(seen).size, N, "no token twice");
  } finally {
    await big.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// A fixed table: tokens with literal ids, creation seconds and lifetimes, written the way an
// earlier version kept them (KV index entries `idx:{project}:{createdAt:010}:{token}` with
// metadata `createdAt,ttl`), imported by the project's index on its first use. Every expected
// answer below is written down by hand from README's contract, not computed.

const C0 = 1_600_000_000; // 2020-09-13T12:26:40+00:00
const [A, B, C, D, E, F, G, H] = "ABCDEFGH".split("").map((c) => `to${"0".repeat(21)}${c}`);
const X2 = `to${"0".repeat(20)}X2`;
/** [token, createdAt, ttl] */
const TABLE = [
  [F, C0, 15], // expired in 2020: never listed
  [C, C0 + 10, 900_000_010], // expires 2049-03-22T04:27:00
  [H, C0 + 20, 900_000_000], // expires 2049-03-22T04:27:00, as C and B
  [G, C0 + 20, 0],
  [B, C0 + 20, 900_000_000],
  [A, C0 + 20, 0],
  [E, C0 + 40, 0],
  [D, C0 + 40, 800_000_000], // expires 2046-01-19T18:40:40
];

async function seedLegacy(project, rows) {
  for (const [token, createdAt, ttl] of rows) {
    await w.kv.put(`idx:${project}:${String(createdAt).padStart(10, "0")}:${token}`, "", { metadata: `${createdAt},${ttl}` });
  }
}

let seeded;
function seedFixed() {
  // `fixed2` shares `fixed`'s prefix; its entry must never show up in `fixed`'s listing.
  seeded ??= seedLegacy("fixed", TABLE).then(() => seedLegacy("fixed2", [[X2, C0 + 30, 0]]));
  return seeded;
}

const idsOf = (res) => res.json.data.map((t) => t.token);

test("fixed table: each order lists the tokens as written down", async () => {
  await seedFixed();
  const cases = [
    ["sortBy=createdAt&sortOrder=asc", [C, A, B, G, H, D, E]],
    ["sortBy=createdAt&sortOrder=desc", [E, D, H, G, B, A, C]],
    ["sortBy=ttl&sortOrder=asc", [D, C, B, H, A, G, E]],
    ["sortBy=ttl&sortOrder=desc", [E, G, A, H, B, C, D]],
    ["", [E, D, H, G, B, A, C]],
    ["sortBy=ttl", [E, G, A, H, B, C, D]],
    ["sortOrder=asc", [C, A, B, G, H, D, E]],
    ["sortBy=ttl&sortOrder=asc&pageSize=3&currentPage=1", [D, C, B]],
    ["sortBy=ttl&sortOrder=asc&pageSize=3&currentPage=2", [H, A, G]],
    ["sortBy=ttl&sortOrder=asc&pageSize=3&currentPage=3", [E]],
    ["sortBy=ttl&sortOrder=asc&pageSize=3&currentPage=4", []],
    ["sortBy=createdAt&sortOrder=desc&pageSize=3&currentPage=2", [G, B, A]],
  ];
  for (const [query, want] of cases) {
    const res = await list(w, query, FIXED_KEY);
    assert.equal(res.status, 200, `${query}: ${res.text}`);
    assert.deepEqual(idsOf(res), want, query);
    assert.equal(res.json.pagination.itemsTotal, 7, query);
  }
  const other = await list(w, "", FIXED2_KEY);
  assert.deepEqual(idsOf(other), [X2], "fixed2 lists its own entry only");
  assert.equal(other.json.pagination.itemsTotal, 1);
});

test("fixed table: links are the written-down URIs", async () => {
  await seedFixed();
  const u = (q) => `/upload-tokens?${q}`;
  const cases = [
    ["", [["self", u("currentPage=1&pageSize=25")], ["first", u("currentPage=1&pageSize=25")], ["last", u("currentPage=1&pageSize=25")]]],
    [
      "sortBy=ttl&pageSize=3&currentPage=2",
      [
        ["self", u("sortBy=ttl&currentPage=2&pageSize=3")],
        ["first", u("sortBy=ttl&currentPage=1&pageSize=3")],
        ["previous", u("sortBy=ttl&currentPage=1&pageSize=3")],
        ["next", u("sortBy=ttl&currentPage=3&pageSize=3")],
        ["last", u("sortBy=ttl&currentPage=3&pageSize=3")],
      ],
    ],
    [
      "sortOrder=asc&pageSize=3&currentPage=3",
      [
        ["self", u("sortOrder=asc&currentPage=3&pageSize=3")],
        ["first", u("sortOrder=asc&currentPage=1&pageSize=3")],
        ["previous", u("sortOrder=asc&currentPage=2&pageSize=3")],
        ["last", u("sortOrder=asc&currentPage=3&pageSize=3")],
      ],
    ],
    [
      "sortOrder=desc&sortBy=createdAt&pageSize=3",
      [
        ["self", u("sortBy=createdAt&sortOrder=desc&currentPage=1&pageSize=3")],
        ["first", u("sortBy=createdAt&sortOrder=desc&currentPage=1&pageSize=3")],
        ["next", u("sortBy=createdAt&sortOrder=desc&currentPage=2&pageSize=3")],
        ["last", u("sortBy=createdAt&sortOrder=desc&currentPage=3&pageSize=3")],
      ],
    ],
    [
      "pageSize=3&currentPage=9",
      [
        ["self", u("currentPage=9&pageSize=3")],
        ["first", u("currentPage=1&pageSize=3")],
        ["previous", u("currentPage=8&pageSize=3")],
        ["last", u("currentPage=3&pageSize=3")],
      ],
    ],
    ["pageSize=7", [["self", u("currentPage=1&pageSize=7")], ["first", u("currentPage=1&pageSize=7")], ["last", u("currentPage=1&pageSize=7")]]],
  ];
  for (const [query, want] of cases) {
    const res = await list(w, query, FIXED_KEY);
    assert.equal(res.status, 200, `${query}: ${res.text}`);
    assert.deepEqual(res.json.pagination.links.map((l) => [l.rel, l.uri]), want, query);
  }
});

test("fixed table: one page is the written-down body, byte for byte", async () => {
  await seedFixed();
  const res = await list(w, "sortBy=ttl&sortOrder=asc&pageSize=2&currentPage=2", FIXED_KEY);
  assert.equal(res.status, 200, res.text);
  assertJson(res);
  assert.equal(
    res.text,
    '{"data":[' +
      `{"token":"${B}","ttl":900000000,"createdAt":"2020-09-13T12:27:00+00:00","expiresAt":"2049-03-22T04:27:00+00:00"},` +
      `{"token":"${H}","ttl":900000000,"createdAt":"2020-09-13T12:27:00+00:00","expiresAt":"2049-03-22T04:27:00+00:00"}],` +
      '"pagination":{"currentPage":2,"currentPageItems":2,"pageSize":2,"pagesTotal":4,"itemsTotal":7,"links":[' +
      '{"rel":"self","uri":"/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=2&pageSize=2"},' +
      '{"rel":"first","uri":"/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=1&pageSize=2"},' +
      '{"rel":"previous","uri":"/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=1&pageSize=2"},' +
      '{"rel":"next","uri":"/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=3&pageSize=2"},' +
      '{"rel":"last","uri":"/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=4&pageSize=2"}]}}',
  );
  const never = await list(w, "sortBy=ttl&sortOrder=desc&pageSize=1", FIXED_KEY);
  assert.equal(
    JSON.stringify(never.json.data),
    `[{"token":"${E}","ttl":0,"createdAt":"2020-09-13T12:27:20+00:00","expiresAt":null}]`,
  );
});
