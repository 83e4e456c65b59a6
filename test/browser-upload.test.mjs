// api.video's browser uploader (@api.video/video-uploader) in headless Debian Chromium, driven
// by Playwright, uploading to the Worker under `wrangler dev --local-protocol https` from a page
// on another origin (http://localhost:{port}): CORS preflights, chunked and progressive uploads,
// a refused token seen by the page as a 401 rather than a network error, and tokens bound to
// origins: accepted from the page's own origin, refused at once (403) when bound to another.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./support/browser.mjs";
import { basic, httpsRequest } from "./support/http.mjs";
import { startWrangler, freePort } from "./support/wrangler.mjs";
import { servePage } from "./support/upload-browser.mjs";
import { pseudoRandomBytes } from "./browser/prng.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const KEY = "browser-upload-test-key-0123456789";
const MiB = 1024 * 1024;
const REF = "https://docs.api.video/reference/";

let worker;
let site;
let browser;
let context;
let page;
/** Every request the browser made to the Worker's /upload, and its answer. */
const seen = [];

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const authorization = { Authorization: basic(KEY) };

before(async () => {
  worker = await startWrangler({
    protocol: "https",
    vars: { API_KEYS: `browser:${KEY}`, AUTH_SIGNING_KEY: "browser-upload-test-signing-key-0123456789" },
  });
  site = await servePage(await freePort());
  browser = await launchChromium({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 500 } });
  context = browser.context;
  // Recorded as the requests start, so their order is the order they were sent in.
  context.on("request", (req) => {
    if (!req.url().includes("/upload?")) return;
    const entry = { url: req.url(), method: req.method(), headers: req.headers() };
    seen.push(entry);
    entry.done = req
      .response()
      .then(async (res) => {
        // Every header the browser sent, `Origin` included (headers() leaves such ones out).
        entry.headers = await req.allHeaders();
        entry.status = res?.status();
        entry.responseHeaders = res ? await res.allHeaders() : {};
      })
      .catch((e) => {
        entry.failed = String(e);
      });
  });
  context.on("requestfailed", (req) => {
    const entry = seen.find((e) => e.url === req.url() && e.status === undefined);
    if (entry) entry.failed = req.failure()?.errorText ?? "failed";
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => {
    if (m.type() === "error") console.log(`page: ${m.text()}`);
  });
  await page.goto(site.url);
  await page.waitForFunction(() => window.pageReady === true && typeof window.VideoUploader === "function");
});

after(async () => {
  await browser?.close();
  await site?.close();
  await worker?.stop();
});

/** A new upload token minted with the API key (TLS not verified: wrangler's own certificate). */
async function mintToken(ttl = 3600, policies = {}) {
  const res = await httpsRequest(`${worker.base}/upload-tokens`, {
    method: "POST",
    headers: { ...authorization, "Content-Type": "application/json" },
    body: JSON.stringify({ ttl, ...policies }),
  });
  assert.equal(res.status, 200, `minting a token: ${res.text}`);
  return res.json.token;
}

const apiHost = () => `localhost:${worker.port}`;

/** The POSTs the page made with `token`, in order, once their answers are in. */
async function postsOf(token) {
  const posts = seen.filter((r) => r.method === "POST" && r.url.includes(`token=${token}`));
  await Promise.all(posts.map((p) => p.done));
  return posts;
}

/** The Worker serves exactly `expected` bytes as the source of `id`, and reports it uploaded. */
async function assertStored(id, expected, what) {
  const source = await httpsRequest(`${worker.base}/videos/${id}/source`, { headers: authorization });
  assert.equal(source.status, 200, `${what}: source ${source.text}`);
  assert.equal(source.bytes.length, expected.length, `${what}: source size`);
  assert.equal(sha256(source.bytes), sha256(expected), `${what}: source SHA-256`);
  const video = await httpsRequest(`${worker.base}/videos/${id}`, { headers: authorization });
  assert.equal(video.status, 200, `${what}: video ${video.text}`);
  assert.equal(video.json.ingest?.status, "uploaded", `${what}: ${video.text}`);
  assert.equal(video.json.ingest?.filesize, expected.length, `${what}: ${video.text}`);
  return video.json;
}

test("VideoUploader sends an 11 MiB file in 5 MiB chunks as part 1/3..3/3; the Worker assembles the page's exact bytes", async () => {
  const token = await mintToken();
  const args = { token, apiHost: apiHost(), name: "browser-11mib.mp4", size: 11 * MiB, seed: 11, chunkSize: 5 * MiB };
  const result = await page.evaluate((a) => window.uploadFile(a), args);
  assert.ok(result.ok, `the upload failed in the page: ${JSON.stringify(result.error)}`);
  const expected = pseudoRandomBytes(args.seed, args.size);
  assert.equal(result.hash, sha256(expected), "the page built the expected file");
  assert.equal(result.video.title, args.name);
  assert.equal(result.chunks, 3);

  const posts = await postsOf(token);
  assert.deepEqual(posts.map((p) => p.headers["content-range"]), ["part 1/3", "part 2/3", "part 3/3"]);
  for (const p of posts) {
    assert.equal(p.status, 201, JSON.stringify(p));
    assert.match(p.headers["av-origin-client"] ?? "", /^typescript-uploader:/);
    assert.equal(p.responseHeaders["access-control-allow-origin"], "*");
    assert.equal(p.responseHeaders["content-type"], "application/json");
  }
  const video = await assertStored(result.video.videoId, expected, "VideoUploader");
  assert.equal(video.title, args.name);
});

test("ProgressiveUploader sends unequal parts of 6, 7 then 1 MiB as part 1/*, 2/*, 3/3; the Worker assembles them in order", async () => {
  const token = await mintToken();
  const args = { token, apiHost: apiHost(), name: "browser-progressive.webm", sizes: [6 * MiB, 7 * MiB, MiB], seed: 67 };
  const result = await page.evaluate((a) => window.uploadProgressive(a), args);
  assert.ok(result.ok, `the upload failed in the page: ${JSON.stringify(result.error)}`);
  const expected = pseudoRandomBytes(args.seed, 14 * MiB);
  assert.equal(result.hash, sha256(expected), "the page built the expected parts");
  const id = result.video.videoId;
  assert.deepEqual(result.answers, [id, id, id], "every part answered with the same video");
  assert.equal(result.video.title, args.name);

  const posts = await postsOf(token);
  assert.deepEqual(posts.map((p) => p.headers["content-range"]), ["part 1/*", "part 2/*", "part 3/3"]);
  for (const p of posts) assert.equal(p.status, 201, JSON.stringify(p));
  await assertStored(id, expected, "ProgressiveUploader");
});

test("a refused token reaches the page as a 401 with its problem at once, not as a network error retried for minutes", async () => {
  const token = "to" + "B".repeat(22);
  const args = { token, apiHost: apiHost(), name: "refused.mp4", size: 2 * MiB, seed: 401, chunkSize: 5 * MiB };
  const result = await page.evaluate((a) => window.uploadFile(a), args);
  assert.equal(result.ok, false, "the upload must fail");
  assert.equal(result.error.status, 401, JSON.stringify(result.error));
  assert.equal(result.error.type, `${REF}authentication-invalid-upload-token`, JSON.stringify(result.error));
  assert.ok(result.ms < 4000, `the failure took ${result.ms} ms (a retried network error takes at least 4.4 s)`);
  const posts = await postsOf(token);
  assert.equal(posts.length, 1, `one request, no retry: ${JSON.stringify(posts)}`);
  assert.equal(posts[0].status, 401);
  assert.equal(posts[0].responseHeaders["access-control-allow-origin"], "*");
});

test("a token whose allowedOrigins is the page's origin uploads in chunks; every answer names that origin", async () => {
  const pageOrigin = new URL(site.url).origin;
  const token = await mintToken(3600, { allowedOrigins: [pageOrigin], maxUploads: 1, maxFileSize: 8 * MiB });
  const args = { token, apiHost: apiHost(), name: "browser-origin.mp4", size: 7 * MiB, seed: 7, chunkSize: 5 * MiB };
  const result = await page.evaluate((a) => window.uploadFile(a), args);
  assert.ok(result.ok, `the upload failed in the page: ${JSON.stringify(result.error)}`);
  const posts = await postsOf(token);
  assert.deepEqual(posts.map((p) => p.headers["content-range"]), ["part 1/2", "part 2/2"]);
  for (const p of posts) {
    assert.equal(p.headers.origin, pageOrigin, "the browser sends the page's origin");
    assert.equal(p.status, 201, JSON.stringify(p));
    assert.equal(p.responseHeaders["access-control-allow-origin"], pageOrigin);
    assert.equal(p.responseHeaders.vary, "Origin");
  }
  await assertStored(result.video.videoId, pseudoRandomBytes(args.seed, args.size), "bound to the page's origin");
});

test("a token bound to another origin reaches the page as a 403 at once, not retried", async () => {
  const token = await mintToken(3600, { allowedOrigins: ["https://elsewhere.example"] });
  const args = { token, apiHost: apiHost(), name: "wrong-origin.mp4", size: 2 * MiB, seed: 403, chunkSize: 5 * MiB };
  const result = await page.evaluate((a) => window.uploadFile(a), args);
  assert.equal(result.ok, false, "the upload must fail");
  assert.equal(result.error.status, 403, JSON.stringify(result.error));
  assert.equal(result.error.type, `${REF}upload-token-origin-not-allowed`, JSON.stringify(result.error));
  assert.ok(result.ms < 4000, `the failure took ${result.ms} ms (a retried network error takes at least 4.4 s)`);
  const posts = await postsOf(token);
  assert.equal(posts.length, 1, `one request, no retry: ${JSON.stringify(posts)}`);
  assert.equal(posts[0].status, 403);
  assert.equal(posts[0].responseHeaders["access-control-allow-origin"], new URL(site.url).origin);
});

test("the finished page shows every run (screenshot in test-results/)", async () => {
  const rows = await page.$$eval("#runs tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.deepEqual(
    rows.map((r) => [r[0], r[1]]),
    [
      ["VideoUploader browser-11mib.mp4", "uploaded"],
      ["ProgressiveUploader browser-progressive.webm", "uploaded"],
      ["VideoUploader refused.mp4", "failed"],
      ["VideoUploader browser-origin.mp4", "uploaded"],
      ["VideoUploader wrong-origin.mp4", "failed"],
    ],
  );
  mkdirSync(join(root, "test-results"), { recursive: true });
  await page.screenshot({ path: join(root, "test-results", "browser-upload.png"), fullPage: true });
  assert.ok(seen.every((r) => !r.failed), `no request to /upload failed at the network level: ${JSON.stringify(seen.filter((r) => r.failed))}`);
});
