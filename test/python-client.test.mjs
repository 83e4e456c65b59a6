// Drives the Worker, under a real `wrangler dev`, with api.video's official Python client
// (api.video on PyPI: bearer tokens from /auth/api-key, refreshed through /auth/refresh). The
// scenarios are the self-checking scripts in test/python/, run with the test virtualenv's
// Python; this file starts the worker, runs them, and checks their outcome and the worker's log.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { killRunning, python, report, requirePython, runCommand, runPython } from "./support/process.mjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWrangler } from "./support/wrangler.mjs";

const KEYS = {
  alpha: "alpha-python-key-0123456789",
  beta: "beta-python-key-0123456789ab",
  gamma: "gamma-python-key-0123456789a",
  delta: "delta-python-key-0123456789a",
};
// The Python client refreshes at expires_in - 10 s, so this makes it refresh about every
// 4 s, and an access token outlives its lifetime after 14 s (the scenarios run meanwhile).
const ACCESS_TOKEN_TTL = 14;

// The scenarios take longer than runPython allows by default.
const PYTHON_TIMEOUT_MS = 90_000;

// Two workers: the token life-cycle scenario gets one of its own with a 14 s access token
// lifetime; the others a worker with the default lifetime, so that their clients do not
// refresh every 4 s. Each worker counts its own clients against the per-address limit of the
// /auth/* endpoints (30 a minute), which all of them share locally (every request comes from
// 127.0.0.1), and a slow run would otherwise refresh its way past it.
let worker;
let refreshWorker;

/** Asserts a clean run and returns the summary from its last `OK {...}` line. */
function succeeded(run, name) {
  const why = report(run, name);
  assert.equal(run.code, 0, why);
  const last = run.stdout.trim().split("\n").at(-1);
  assert.match(last, /^OK \{/, why);
  return JSON.parse(last.slice(3));
}

const countIn = (w, re) => (w.output().match(re) || []).length;
const count = (re) => countIn(worker, re);

describe("api.video Python client against the worker", () => {
  let refreshRun;

  before(async () => {
    requirePython();
    const vars = {
      API_KEYS: Object.entries(KEYS).map(([p, k]) => `${p}:${k}`).join(","),
      AUTH_SIGNING_KEY: "python-client-test-signing-key-0123456789abcdef",
    };
    [worker, refreshWorker] = await Promise.all([
      startWrangler({ vars }),
      startWrangler({ vars: { ...vars, ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL) } }),
    ]);
    // The token life-cycle scenario mostly waits for lifetimes to pass: it runs alongside the
    // others, in its own project, on its own worker.
    refreshRun = runPython("refresh.py", [refreshWorker.base, KEYS.gamma, String(ACCESS_TOKEN_TTL)], { timeoutMs: PYTHON_TIMEOUT_MS });
  });

  after(async () => {
    killRunning();
    await refreshRun?.catch(() => {});
    await Promise.all([worker?.stop(), refreshWorker?.stop()]);
  });

  test("client version is the pinned one", async () => {
    const run = await runCommand(python, ["-c", "import apivideo; print(apivideo.__version__)"]);
    assert.deepEqual({ code: run.code, out: run.stdout.trim() }, { code: 0, out: "1.4.7" }, run.stderr);
  });

  test("create, get, delete, bad ttl, wrong key and paginated listing in every order", async () => {
    const run = await runPython("scenario.py", [worker.base, KEYS.alpha, KEYS.beta, "wrong-python-key-0123456789"], {
      timeoutMs: PYTHON_TIMEOUT_MS,
    });
    const summary = succeeded(run, "scenario.py");
    assert.ok(summary.list_calls >= 4 * (31 + 11 + 4 + 2 + 1), `every page was fetched: ${JSON.stringify(summary)}`);
    // The client went through the bearer endpoints, never Basic auth.
    assert.ok(count(/POST \/auth\/api-key 200/g) >= 2, "the clients connected through /auth/api-key");
    assert.ok(count(/POST \/auth\/api-key 400/g) >= 1, "the wrong key was refused by /auth/api-key");
  });

  test("a token with policies reads as any token (unknown fields dropped), uploads, and its second video is a 403", async () => {
    const workdir = mkdtempSync(join(tmpdir(), "uts-python-policies-"));
    try {
      const run = await runPython("policies.py", [worker.base, KEYS.delta, workdir]);
      const summary = succeeded(run, "policies.py");
      assert.match(summary.video, /^vi[0-9A-Za-z]{22}$/);
    } finally {
      rmSync(workdir, { recursive: true, force: true });
    }
  });

  test("refresh through /auth/refresh, then expired and tampered tokens are refused", async () => {
    const run = await refreshRun;
    const summary = succeeded(run, "refresh.py");
    assert.ok(summary.refreshes_seen >= 1, JSON.stringify(summary));
    // Seen from the worker: at least the refreshes the client saw plus its explicit one, and the
    // two refused refresh attempts.
    const refreshed = countIn(refreshWorker, /POST \/auth\/refresh 200/g);
    assert.ok(refreshed >= summary.refreshes_seen + 1, `worker log: ${refreshed} successful refreshes, client saw ${summary.refreshes_seen}`);
    assert.ok(countIn(refreshWorker, /POST \/auth\/refresh 400/g) >= 2, "the worker refused the two bad refresh tokens");
    // Under the per-address limit of the /auth/* endpoints (30 a minute): no 429 anywhere.
    assert.equal(countIn(refreshWorker, / 429 /g) + count(/ 429 /g), 0, "no request was rate limited");
  });
});
