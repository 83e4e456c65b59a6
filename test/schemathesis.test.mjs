// Schemathesis against the real Worker under `wrangler dev`: every operation of openapi.json,
// every phase (examples, coverage, fuzzing, stateful through the document's links) and every
// check schemathesis has. The run is deterministic (fixed generation, one worker) and bounded
// by a number of examples per operation; it must make at least 200 test cases, answer none
// with 429 (which would mean the limiter, not the handlers, was tested) and find no failure.
// Before the run, the test makes an upload token and videos for test/schemathesis/hooks.py to
// hand to the upload and video operations, whose random tokens and ids never exist.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { basic, readAnswer } from "./support/http.mjs";
import { runCommand } from "./support/process.mjs";
import { startWrangler } from "./support/wrangler.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const schemathesisBin = join(root, ".venv/bin/schemathesis");
const API_KEY = "schemathesis-test-key-00000001";
// A second project: every phase but the stateful one is sent as this project (see hooks.py),
// so that neither project's rate limit is reached.
const OTHER_KEY = "schemathesis-test-key-00000002";
// A third project, which owns the token and the videos hooks.py hands out.
const FIXTURE_KEY = "schemathesis-test-key-00000003";
const MAX_EXAMPLES = 25;
const MIN_TEST_CASES = 200;
const RUN_TIMEOUT_MS = 150_000;

const doc = JSON.parse(readFileSync(join(root, "openapi.json"), "utf8"));
const documentedOperations = Object.values(doc.paths).reduce(
  (n, item) => n + ["get", "put", "post", "delete", "options", "head", "patch", "trace"].filter((m) => item[m]).length,
  0,
);

let server;
let work;
let fixtures; // { uploadToken, videoIds }

/** Creates an upload token of the project of `key`. */
async function createToken(key) {
  const res = await readAnswer(
    await fetch(`${server.base}/upload-tokens`, {
      method: "POST",
      headers: { Authorization: basic(key), "Content-Type": "application/json" },
      body: "{}",
    }),
  );
  assert.equal(res.status, 200, `creating a token: ${res.status} ${res.text}`);
  return JSON.parse(res.text).token;
}

/** Uploads `data` as `filename` with `token` (and `Content-Range: range`); the videoId. */
async function upload(token, data, filename, range) {
  const form = new FormData();
  form.append("file", new Blob([data], { type: "video/mp4" }), filename);
  const res = await readAnswer(
    await fetch(`${server.base}/upload?token=${token}`, {
      method: "POST",
      headers: range ? { "Content-Range": range } : {},
      body: form,
    }),
  );
  assert.equal(res.status, 201, `uploading ${filename}: ${res.status} ${res.text}`);
  return JSON.parse(res.text).videoId;
}

before(async () => {
  assert.ok(existsSync(schemathesisBin), `${schemathesisBin} is missing: run scripts/setup.sh --python`);
  work = mkdtempSync(join(tmpdir(), "uts-schemathesis-"));
  server = await startWrangler({
    vars: {
      API_KEYS: `schemathesis:${API_KEY},other:${OTHER_KEY},fixtures:${FIXTURE_KEY}`,
      AUTH_SIGNING_KEY: "schemathesis-signing-key-0123456789abcdef",
    },
  });
  // A token, and two videos it uploaded: a whole file, and a numbered upload with one part of
  // two in.
  const token = await createToken(FIXTURE_KEY);
  const whole = await upload(token, Buffer.from("a small video file"), "whole.mp4");
  const unfinished = await upload(token, Buffer.alloc(5 * 1024 * 1024, 7), "parts.mp4", "part 1/2");
  fixtures = { uploadToken: token, videoIds: [whole, unfinished] };
});

after(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Every request/response pair schemathesis recorded, from its NDJSON event stream. */
function interactions(ndjsonPath) {
  const out = [];
  for (const line of readFileSync(ndjsonPath, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const event = JSON.parse(line);
    const recorder = event.ScenarioFinished?.recorder;
    for (const i of Object.values(recorder?.interactions ?? {})) {
      const url = new URL(i.request.uri);
      out.push({ method: i.request.method, path: url.pathname, status: i.response?.status_code ?? null });
    }
  }
  return out;
}

test("schemathesis finds no failure in at least 200 test cases", { timeout: RUN_TIMEOUT_MS + 30_000 }, async (t) => {
  const reports = join(work, "reports");
  const args = [
    "--config-file", join(root, "test/schemathesis/schemathesis.toml"),
    "run", join(root, "openapi.json"),
    "--url", server.base,
    "--auth", `${API_KEY}:`,
    "--checks", "all",
    "--phases", "examples,coverage,fuzzing,stateful",
    "--max-examples", String(MAX_EXAMPLES),
    "--generation-deterministic",
    "--workers", "1",
    "--request-timeout", "10",
    "--report", "json,ndjson",
    "--report-dir", reports,
    "--no-color",
  ];
  const started = Date.now();
  const result = await runCommand(schemathesisBin, args, {
    cwd: work, // keeps schemathesis' and Hypothesis' caches out of the checkout
    env: {
      ...process.env,
      NO_COLOR: "1",
      PYTHONDONTWRITEBYTECODE: "1", // keeps __pycache__ out of test/schemathesis
      SCHEMATHESIS_HOOKS: join(root, "test/schemathesis/hooks.py"),
      UTS_API_KEY: API_KEY,
      UTS_OTHER_KEY: OTHER_KEY,
      UTS_FIXTURE_KEY: FIXTURE_KEY,
      UTS_UPLOAD_TOKEN: fixtures.uploadToken,
      UTS_VIDEO_IDS: fixtures.videoIds.join(","),
    },
    timeoutMs: RUN_TIMEOUT_MS,
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const output = `${result.stdout}\n${result.stderr}`;
  assert.ok(!result.timedOut, `schemathesis did not finish in ${RUN_TIMEOUT_MS / 1000} s:\n${output}`);

  const files = existsSync(reports) ? readdirSync(reports) : [];
  const jsonFile = files.find((f) => f.endsWith(".json"));
  const ndjsonFile = files.find((f) => f.endsWith(".ndjson"));
  assert.ok(jsonFile && ndjsonFile, `schemathesis wrote no report (exit ${result.code}):\n${output}`);
  const report = JSON.parse(readFileSync(join(reports, jsonFile), "utf8"));
  const calls = interactions(join(reports, ndjsonFile));

  const byStatus = {};
  for (const c of calls) byStatus[c.status] = (byStatus[c.status] ?? 0) + 1;
  const summary =
    `schemathesis: ${report.test_cases.generated} test cases, ${calls.length} requests, ` +
    `${report.operations.tested}/${report.operations.total} operations, ` +
    `${report.failures.reduce((n, f) => n + f.count, 0)} failures, ${report.errors.length} errors, ` +
    `statuses ${JSON.stringify(byStatus)}, ${seconds} s`;
  console.log(summary);
  t.diagnostic(summary);
  // Statuses per operation, the path's ids folded.
  const byOperation = {};
  for (const c of calls) {
    const key = `${c.method} ${c.path.replace(/\/(to|vi)[0-9A-Za-z]{22}(?=\/|$)/, "/{$1}")}`;
    const counts = (byOperation[key] ??= {});
    counts[c.status] = (counts[c.status] ?? 0) + 1;
  }
  const perOperation = Object.entries(byOperation)
    .filter(([, counts]) => Object.values(counts).reduce((a, b) => a + b, 0) >= 5)
    .map(([key, counts]) => `${key} ${JSON.stringify(counts)}`)
    .sort();
  t.diagnostic(`by operation (5 requests or more): ${perOperation.join("; ")}`);

  const failures = report.failures.map((f) => `${f.code} ${f.title}: ${f.operations.join(", ")}`);
  const failureOutput = output.slice(Math.max(0, output.indexOf("FAILURES")));
  assert.deepEqual(failures, [], `schemathesis found failures:\n${failureOutput}`);
  assert.deepEqual(report.errors, [], `schemathesis errors:\n${output}`);
  assert.equal(report.exit_code, 0, output);
  assert.equal(result.code, 0, output);
  assert.equal(report.complete, true);
  assert.equal(report.operations.tested, documentedOperations, "every documented operation is tested");
  for (const phase of ["examples", "coverage", "fuzzing", "stateful"]) {
    assert.equal(report.phases[phase]?.status, "success", `phase ${phase}: ${JSON.stringify(report.phases[phase])}`);
  }
  assert.ok(
    report.test_cases.generated >= MIN_TEST_CASES,
    `only ${report.test_cases.generated} test cases, at least ${MIN_TEST_CASES} wanted`,
  );
  const limited = calls.filter((c) => c.status === 429);
  assert.equal(
    limited.length,
    0,
    `${limited.length} requests were refused by the rate limiter, e.g. ${JSON.stringify(limited.slice(0, 3))}`,
  );
  // The run reached the handlers' successful paths, not only their refusals.
  for (const [method, pattern, status] of [
    ["GET", /^\/upload-tokens$/, 200],
    ["POST", /^\/upload-tokens$/, 200],
    ["GET", /^\/upload-tokens\/to[0-9A-Za-z]{22}$/, 200],
    ["DELETE", /^\/upload-tokens\/to[0-9A-Za-z]{22}$/, 204],
    ["GET", /^\/openapi\.json$/, 200],
    ["POST", /^\/upload$/, 201],
    ["OPTIONS", /^\/upload$/, 204],
    ["GET", /^\/videos\/vi[0-9A-Za-z]{22}$/, 200],
    ["GET", /^\/videos\/vi[0-9A-Za-z]{22}\/source$/, 200],
  ]) {
    assert.ok(
      calls.some((c) => c.method === method && pattern.test(c.path) && c.status === status),
      `no ${method} ${pattern} answered ${status}`,
    );
  }
});
