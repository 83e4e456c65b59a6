// The smoke check (scripts/smoke.mjs, `npm run smoke -- URL API_KEY`) against a real
// `wrangler dev`: it passes and prints every step with its time; it fails clearly, with a
// non-zero exit, for a wrong key, an unreachable URL and a failure half-way (after which it
// still deletes its token); and it leaves no token behind.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { basic, readAnswer } from "./support/http.mjs";
import { runCommand } from "./support/process.mjs";
import { startProxy } from "./support/proxy.mjs";
import { startWrangler, freePort } from "./support/wrangler.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const KEY = "smoke-test-key-0123456789abcdef";
const OTHER_KEY = "smoke-other-key-0123456789abcd";
const STEPS = [
  "reach the service",
  "create token (ttl 60)",
  "get token",
  "find token in listing",
  "upload smoke-check.txt",
  "get video",
  "download source",
  "delete token",
  "upload refused after delete",
];
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

let worker;

before(async () => {
  worker = await startWrangler({
    vars: {
      API_KEYS: `smoke:${KEY},other:${OTHER_KEY}`,
      AUTH_SIGNING_KEY: "smoke-test-signing-key-0123456789abcdef",
    },
  });
});

after(async () => {
  await worker?.stop();
});

/** Runs the smoke command; resolves to its exit code and output. */
function smoke(args, { env = {}, timeoutMs = 60000 } = {}) {
  return runCommand(process.execPath, [`${root}scripts/smoke.mjs`, ...args], {
    env: { PATH: process.env.PATH, NO_COLOR: "1", ...env },
    timeoutMs,
  });
}

async function activeTokens(key) {
  const res = await readAnswer(await fetch(`${worker.base}/upload-tokens?pageSize=100`, { headers: { Authorization: basic(key) } }));
  assert.equal(res.status, 200);
  return res.json.data;
}

describe("smoke check", { timeout: 180000 }, () => {
  test("passes against wrangler dev, prints each step with its time, leaves no token", { timeout: 60000 }, async () => {
    const r = await smoke([worker.base, KEY]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.split("\n");
    let at = 0;
    for (const step of STEPS) {
      const i = lines.findIndex((l, n) => n >= at && new RegExp(`^  ${escape(step)} +\\d+ ms  OK`).test(l));
      assert.ok(i >= 0, `step "${step}" printed OK, in order:\n${r.stdout}`);
      at = i + 1;
    }
    assert.match(r.stdout, /download source +\d+ ms {2}OK {4}\d+ bytes, identical/);
    assert.match(r.stdout, /upload refused after delete +\d+ ms {2}OK {4}401 /);
    assert.match(r.stdout, /Smoke check passed: 9 steps in \d+ ms\./);
    const video = r.stdout.match(/left behind: video (vi[0-9A-Za-z]{22}) \("smoke-check\.txt", \d+ bytes\)/);
    assert.ok(video, "says which video stays");
    assert.match(r.stdout, /the API has no way to delete a video/);
    assert.equal(r.stderr, "");

    assert.deepEqual(await activeTokens(KEY), [], "the token is gone");
    const res = await fetch(`${worker.base}/videos/${video[1]}`, { headers: { Authorization: basic(KEY) } });
    assert.equal(res.status, 200, "the video stays, as the output says");
  });

  test("takes the key from SMOKE_API_KEY too", { timeout: 60000 }, async () => {
    const r = await smoke([worker.base + "/"], { env: { SMOKE_API_KEY: OTHER_KEY } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await activeTokens(OTHER_KEY), []);
  });

  test("a wrong API key fails at creating the token, with the problem's title", { timeout: 30000 }, async () => {
    const r = await smoke([worker.base, "not-a-key-of-this-deployment"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /reach the service +\d+ ms {2}OK/);
    assert.match(r.stdout, /create token \(ttl 60\) +\d+ ms {2}FAIL {2}HTTP 401 \S.*/);
    assert.match(r.stdout, /Smoke check FAILED at "create token \(ttl 60\)"/);
    assert.doesNotMatch(r.stdout, /get token/, "stops at the first failure");
    assert.doesNotMatch(r.stdout, /clean-up|left behind/, "nothing was made");
  });

  test("an unreachable URL fails at the first step", { timeout: 30000 }, async () => {
    const r = await smoke([`http://127.0.0.1:${await freePort()}`, KEY]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /reach the service +\d+ ms {2}FAIL {2}cannot reach the service: ECONNREFUSED/);
  });

  test("a failure half-way still deletes the token it made", { timeout: 60000 }, async () => {
    const proxy = await startProxy(worker.base, {
      answer: (req) =>
        req.method === "GET" && /^\/videos\/[^/]+$/.test(req.url)
          ? { status: 503, body: { type: "https://docs.api.video/reference/x", title: "Stand-in outage", status: 503, detail: "as the test asked" } }
          : undefined,
    });
    try {
      const r = await smoke([proxy.base, KEY]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /upload smoke-check\.txt +\d+ ms {2}OK/);
      assert.match(r.stdout, /get video +\d+ ms {2}FAIL {2}HTTP 503 Stand-in outage: as the test asked/);
      assert.match(r.stdout, /clean-up: token to\S+ deleted/);
      assert.match(r.stdout, /left behind: video vi/);
      assert.match(r.stdout, /Smoke check FAILED at "get video"/);
      assert.equal(proxy.seen.answered, 1);
      assert.deepEqual(await activeTokens(KEY), []);
    } finally {
      await proxy.close();
    }
  });

  test("usage errors exit 2 without calling anything", { timeout: 10000 }, async () => {
    const r = await smoke([worker.base]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no API key/);
  });
});
