// The browser console at /console (static assets of `wrangler dev`), driven in headless Debian
// Chromium: its security headers, sign-in with a wrong and a right key, creating, sorting,
// paging, copying and deleting tokens, an expired access token renewed, an 11 MiB upload with
// a token over http (as `npm start` serves it) and over https, and signing out.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./support/browser.mjs";
import { basic, httpsRequest, readAnswer } from "./support/http.mjs";
import { startWrangler } from "./support/wrangler.mjs";
import { pseudoRandomBytes } from "./browser/prng.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const results = join(root, "test-results");
const KEY = "console-test-key-0123456789abcdef";
const VARS = { API_KEYS: `console:${KEY}`, AUTH_SIGNING_KEY: "console-test-signing-key-0123456789abcdef" };
const MiB = 1024 * 1024;
const REF = "https://docs.api.video/reference/";
const DESKTOP = { width: 1280, height: 900 };
const WAIT = 20_000;

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const withKey = { Authorization: basic(KEY) };

/**
 * A request to the Worker from Node (TLS not verified for wrangler's own certificate); the
 * answer's headers as a plain object with lower-case names, whichever the protocol.
 */
async function request(worker, path, { method = "GET", headers = {}, body } = {}) {
  const url = `${worker.base}${path}`;
  if (url.startsWith("https:")) return httpsRequest(url, { method, headers, body });
  const res = await fetch(url, { method, headers, body, redirect: "manual" });
  return { ...(await readAnswer(res)), headers: Object.fromEntries(res.headers) };
}

/** Chromium for the console, recording every Content-Security-Policy violation of the page. */
async function launch(https) {
  const browser = await launchChromium({ ignoreHTTPSErrors: https, acceptDownloads: true, viewport: DESKTOP });
  // Recorded before the page's own scripts run.
  await browser.context.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return browser;
}

/** One browser and one `wrangler dev` for a group of tests, with what the page did. */
function harness(protocol) {
  const h = { requests: [], errors: [] };
  before(async () => {
    assert.ok(
      existsSync(join(root, "public/console/vendor/video-uploader.js")),
      "public/console/vendor/video-uploader.js is missing: run scripts/build.sh",
    );
    h.worker = await startWrangler({ protocol, vars: VARS });
    h.browser = await launch(protocol === "https");
    h.context = h.browser.context;
    await h.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: h.worker.base });
    h.context.on("request", (req) => {
      const url = new URL(req.url());
      if (url.origin !== h.worker.base || url.pathname.startsWith("/console")) return;
      h.requests.push({ method: req.method(), url: req.url(), path: url.pathname + url.search, headers: req.headers() });
    });
    h.page = h.context.pages()[0] ?? (await h.context.newPage());
    h.page.on("pageerror", (e) => h.errors.push(`pageerror: ${e.message}`));
    h.page.on("console", (m) => {
      // Chromium logs every 4xx answer; those the tests ask for are checked where they happen.
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) h.errors.push(`console: ${m.text()}`);
    });
  }, { timeout: 180_000 });
  after(async () => {
    await h.browser?.close();
    await h.worker?.stop();
  }, { timeout: 30_000 });
  return h;
}

async function openConsole(h) {
  const res = await h.page.goto(`${h.worker.base}/console`);
  assert.equal(res.status(), 200);
  assert.equal(new URL(h.page.url()).pathname, "/console/");
  await h.page.waitForFunction(() => window.consoleReady === true, null, { timeout: WAIT });
  return res;
}

async function signIn(page, key) {
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/** The tokens of the listing, in the order shown. */
const shown = (page) => page.$$eval("#token-rows tr", (rows) => rows.map((r) => r.dataset.token));

/** Waits until the listing shows exactly `tokens`, in this order. */
async function waitForRows(page, tokens) {
  try {
    await page.waitForFunction(
      (want) => {
        const rows = [...document.querySelectorAll("#token-rows tr")].map((r) => r.dataset.token);
        return JSON.stringify(rows) === JSON.stringify(want);
      },
      tokens,
      { timeout: WAIT },
    );
  } catch (e) {
    assert.fail(`the listing shows ${JSON.stringify(await shown(page))}, expected ${JSON.stringify(tokens)}: ${e.message}`);
  }
}

async function waitForText(locator, pattern) {
  try {
    await locator.page().waitForFunction(
      ([el, source, flags]) => new RegExp(source, flags).test(el.textContent),
      [await locator.elementHandle({ timeout: WAIT }), pattern.source, pattern.flags],
      { timeout: WAIT },
    );
  } catch (e) {
    assert.fail(`expected ${pattern} in ${JSON.stringify(await locator.textContent())}: ${e.message}`);
  }
}

/** Creates a token through the console's form; resolves with it once it is listed. */
async function createToken(page, ttl) {
  await page.getByLabel("TTL (seconds)").fill(String(ttl));
  const status = page.locator("#tokens-status");
  const before = await status.textContent();
  await page.getByRole("button", { name: "Create token", exact: true }).click();
  await page.waitForFunction(
    (previous) => {
      const text = document.getElementById("tokens-status").textContent;
      return text !== previous && /^Created to[0-9A-Za-z]{22}/.test(text);
    },
    before,
    { timeout: WAIT },
  );
  const token = (await status.textContent()).match(/to[0-9A-Za-z]{22}/)[0];
  await page.waitForSelector(`#token-rows tr[data-token="${token}"]`, { timeout: WAIT });
  return token;
}

/** Sets the listing's controls as a user does (each change reloads the first page). */
async function setListing(page, { sortBy, sortOrder, pageSize }) {
  if (sortBy) await page.getByRole("combobox", { name: "Sort by" }).selectOption(sortBy);
  if (sortOrder) await page.getByRole("combobox", { name: "Sort order" }).selectOption(sortOrder);
  if (pageSize) {
    const size = page.getByRole("spinbutton", { name: "Page size" });
    await size.fill(String(pageSize));
    await size.press("Tab");
  }
}

const pagerButton = (page, name) => page.getByRole("button", { name, exact: true });

async function assertPager(page, { previous, next, info }) {
  await waitForText(page.locator("#page-info"), new RegExp(`^${info}$`));
  assert.equal(await pagerButton(page, "Previous page").isDisabled(), !previous, "Previous page");
  assert.equal(await pagerButton(page, "Next page").isDisabled(), !next, "Next page");
}

/**
 * Uploads `bytes` as `name` with the token in the form, 5 MiB chunks, and waits for the Video.
 * Resolves with the status lines the page showed on the way and the Video id it shows.
 */
async function upload(h, name, bytes) {
  const { page } = h;
  await page.getByLabel("Video file").setInputFiles({ name, mimeType: "video/mp4", buffer: Buffer.from(bytes) });
  await page.getByLabel("Chunk size").selectOption({ label: "5 MiB" });
  await page.evaluate(() => {
    window.progressSeen = [];
    const status = document.getElementById("upload-status");
    new MutationObserver(() => window.progressSeen.push(status.textContent)).observe(status, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  const videoId = page.locator("#video-id");
  try {
    await page.waitForFunction(() => /^vi[0-9A-Za-z]{22}$/.test(document.getElementById("video-id").textContent), null, {
      timeout: 90_000,
    });
  } catch (e) {
    const problem = await page.locator("#upload-problem").textContent();
    const status = await page.locator("#upload-status").textContent();
    assert.fail(`no Video shown (status ${JSON.stringify(status)}, problem ${JSON.stringify(problem)}): ${e.message}`);
  }
  return { id: await videoId.textContent(), seen: await page.evaluate(() => window.progressSeen) };
}

/** The progress went chunk by chunk to 100 %, and the page shows the Video the service stored. */
async function assertUploaded(h, { id, seen }, bytes, name) {
  const { page, worker } = h;
  const total = bytes.length.toLocaleString("en");
  const percents = seen.map((s) => Number(s.match(/\((\d+) %\)/)?.[1])).filter((n) => !Number.isNaN(n));
  assert.ok(percents.length >= 3, `progress updates: ${JSON.stringify(seen)}`);
  assert.deepEqual(percents, [...percents].sort((a, b) => a - b), `progress never goes back: ${JSON.stringify(seen)}`);
  for (const n of [1, 2, 3]) {
    assert.ok(seen.some((s) => s.includes(`chunk ${n} of 3`)), `chunk ${n} of 3 shown: ${JSON.stringify(seen)}`);
  }
  assert.equal(await page.locator("#upload-status").textContent(), `${total} of ${total} bytes (100 %), chunk 3 of 3: uploaded`);
  assert.deepEqual(
    await page.$eval("#upload-progress", (p) => [p.value, p.max]),
    [bytes.length, bytes.length],
    "the progress bar is full",
  );
  assert.equal(await page.locator("#upload-chunks li").count(), 3);

  const video = await request(worker, `/videos/${id}`, { headers: withKey });
  assert.equal(video.status, 200, video.text);
  assert.equal(video.json.title, name);
  assert.equal(video.json.ingest.status, "uploaded");
  assert.equal(video.json.ingest.filesize, bytes.length);
  const source = await request(worker, `/videos/${id}/source`, { headers: withKey });
  assert.equal(sha256(source.bytes), sha256(bytes), "the service stored the file's exact bytes");
  assert.deepEqual(JSON.parse(await page.locator("#video-json").textContent()), video.json, "the page shows the Video");
  assert.equal(await page.locator("#video-size").textContent(), `${total} bytes`);
  assert.equal(await page.getByRole("link", { name: `/videos/${id}/source` }).getAttribute("href"), `/videos/${id}/source`);

  const posts = h.requests.filter((r) => r.method === "POST" && r.path.startsWith("/upload?"));
  assert.deepEqual(
    posts.slice(-3).map((r) => [r.url.split("?")[0], r.headers["content-range"]]),
    [1, 2, 3].map((n) => [`${worker.base}/upload`, `part ${n}/3`]),
    "three chunks sent to the page's own origin",
  );
}

async function assertClean(h) {
  assert.deepEqual(await h.page.evaluate(() => window.cspViolations), [], "no Content-Security-Policy violation");
  assert.deepEqual(h.errors, [], "no error in the page");
}

describe("console over http (as `npm start` serves it)", { timeout: 600_000 }, () => {
  const h = harness("http");
  const created = {};
  let wrongProblem;

  test("/console is served by the assets with strict security headers; the API paths stay the Worker's", { timeout: 60_000 }, async () => {
    const { worker } = h;
    const redirect = await request(worker, "/console");
    assert.ok([307, 308].includes(redirect.status), `/console: ${redirect.status}`);
    assert.equal(new URL(redirect.headers.location, worker.base).pathname, "/console/");

    const html = await request(worker, "/console/");
    assert.equal(html.status, 200);
    assert.match(html.headers["content-type"], /^text\/html/);
    const csp = html.headers["content-security-policy"] ?? "";
    const directives = Object.fromEntries(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(" ")]));
    assert.equal(directives["default-src"], "'none'", csp);
    assert.equal(directives["script-src"], "'self'", csp);
    assert.equal(directives["style-src"], "'self'", csp);
    assert.equal(directives["connect-src"], "'self'", csp);
    assert.equal(directives["frame-ancestors"], "'none'", csp);
    assert.doesNotMatch(csp, /unsafe|data:|\*/);
    assert.doesNotMatch(html.text, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
    assert.doesNotMatch(html.text, /\son[a-z]+=|style=/, "no inline handler or style");
    for (const path of ["/console/", "/console/console.js", "/console/api.js", "/console/console.css", "/console/vendor/video-uploader.js"]) {
      const res = await request(worker, path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers["x-content-type-options"], "nosniff", path);
      assert.equal(res.headers["referrer-policy"], "no-referrer", path);
      assert.equal(res.headers["content-security-policy"], csp, path);
    }
    assert.match((await request(worker, "/console/console.js")).headers["content-type"], /javascript/);
    assert.equal(
      (await request(worker, "/console/vendor/video-uploader.js")).text,
      readFileSync(join(root, "node_modules/@api.video/video-uploader/dist/index.js"), "utf8"),
      "the uploader is the one from node_modules",
    );

    // The API is untouched: no asset answers for its paths, and none of the console's headers.
    const spec = await request(worker, "/openapi.json");
    assert.equal(spec.status, 200);
    assert.equal(spec.json.openapi.slice(0, 2), "3.");
    const unauthorised = await request(worker, "/upload-tokens");
    assert.equal(unauthorised.status, 401);
    assert.equal(unauthorised.json.type, `${REF}authentication-failed`);
    for (const res of [spec, unauthorised]) {
      assert.equal(res.headers["content-security-policy"], undefined);
      assert.equal(res.headers["referrer-policy"], undefined);
    }
    for (const path of ["/_headers", "/index.html", "/console.js", "/vendor/video-uploader.js"]) {
      const res = await request(worker, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.json?.type, `${REF}unrecognized-request-url`, path);
    }
    const preflight = await request(worker, "/upload", {
      method: "OPTIONS",
      headers: { Origin: "https://elsewhere.example", "Access-Control-Request-Method": "POST" },
    });
    assert.equal(preflight.headers["access-control-allow-origin"], "*");
  });

  test("a wrong key shows the API's problem, and nothing is stored", { timeout: 60_000 }, async () => {
    const { page, worker } = h;
    const wrong = "not-the-key-0123456789abcdef";
    const direct = await request(worker, "/auth/api-key", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ apiKey: wrong }),
    });
    assert.equal(direct.status, 400, direct.text);
    wrongProblem = direct.json;

    await openConsole(h);
    assert.equal(await page.locator("#upload-https-note").isHidden(), true, "uploads work from an http page");
    await signIn(page, wrong);
    const alert = page.locator("#sign-in-problem");
    await alert.waitFor({ state: "visible", timeout: WAIT });
    assert.equal(await alert.getAttribute("role"), "alert");
    assert.equal(await alert.locator(".problem-title").textContent(), wrongProblem.title);
    if (wrongProblem.detail) assert.equal(await alert.locator(".problem-detail").textContent(), wrongProblem.detail);
    assert.match(await alert.textContent(), /status 400/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.getByRole("button", { name: "Sign out" }).isHidden(), true);
  });

  test("signing in keeps only bearer tokens in sessionStorage, never the key", { timeout: 60_000 }, async () => {
    const { page } = h;
    await signIn(page, KEY);
    await page.getByRole("button", { name: "Sign out", exact: true }).waitFor({ state: "visible", timeout: WAIT });
    await page.locator("#tokens").waitFor({ state: "visible", timeout: WAIT });
    assert.equal(await page.locator("#sign-in-problem").isHidden(), true);
    assert.equal(await page.getByLabel("API key").isHidden(), true);
    assert.equal(await page.getByLabel("API key").inputValue(), "", "the key is cleared from the form");
    const stored = await page.evaluate(() => ({
      session: Object.entries(sessionStorage),
      local: Object.entries(localStorage),
      cookies: document.cookie,
    }));
    assert.equal(stored.session.length, 1);
    assert.equal(stored.local.length, 0);
    assert.equal(stored.cookies, "");
    assert.ok(!JSON.stringify(stored).includes(KEY), "the API key is not stored");
    const session = JSON.parse(stored.session[0][1]);
    assert.match(session.accessToken, /^eyJ/);
    assert.match(session.refreshToken, /^eyJ/);
    const exchanges = h.requests.filter((r) => r.path === "/auth/api-key");
    assert.equal(exchanges.length, 2, "one exchange per sign-in (the wrong key, then the right one)");
    const listings = h.requests.filter((r) => r.path.startsWith("/upload-tokens"));
    assert.ok(listings.length >= 1 && listings.every((r) => /^Bearer eyJ/.test(r.headers.authorization)), "the API is called with the bearer token");
    await waitForText(page.locator("#page-info"), /^Page 1 of 1$/);
    assert.equal(await page.locator("#no-tokens").isVisible(), true);
  });

  test("three tokens created, sorted and paged through with the answer's links; live countdown", { timeout: 120_000 }, async () => {
    const { page, worker } = h;
    created.short = await createToken(page, 300);
    created.hour = await createToken(page, 3600);
    created.never = await createToken(page, 0);
    assert.equal(await page.getByLabel("Upload token").inputValue(), created.short, "the first new token is offered for an upload");

    // Remaining lifetime, ascending: 5 min, 1 h, then the one that never expires.
    await setListing(page, { sortBy: "ttl", sortOrder: "asc", pageSize: 2 });
    await waitForRows(page, [created.short, created.hour]);
    await assertPager(page, { previous: false, next: true, info: "Page 1 of 2" });
    await pagerButton(page, "Next page").click();
    await waitForRows(page, [created.never]);
    await assertPager(page, { previous: true, next: false, info: "Page 2 of 2" });
    const next = h.requests.filter((r) => r.path.startsWith("/upload-tokens?")).at(-1);
    assert.equal(next.path, "/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=2&pageSize=2", "the next link of the answer");
    await pagerButton(page, "Previous page").click();
    await waitForRows(page, [created.short, created.hour]);
    await assertPager(page, { previous: false, next: true, info: "Page 1 of 2" });

    await setListing(page, { sortOrder: "desc" });
    await waitForRows(page, [created.never, created.hour]);
    await pagerButton(page, "Last page").click();
    await waitForRows(page, [created.short]);

    // Creation order, as the API itself sorts it (tokens of one second tie-break on their id).
    await setListing(page, { sortBy: "createdAt", sortOrder: "asc", pageSize: 3 });
    const api = await request(worker, "/upload-tokens?sortBy=createdAt&sortOrder=asc&pageSize=3", { headers: withKey });
    assert.equal(api.status, 200, api.text);
    await waitForRows(page, api.json.data.map((t) => t.token));
    await assertPager(page, { previous: false, next: false, info: "Page 1 of 1" });

    // Each row: token, ttl, created, expires and a countdown that moves.
    const row = page.locator(`#token-rows tr[data-token="${created.short}"]`);
    const cells = await row.locator("td").allTextContents();
    assert.equal(cells[0], created.short);
    assert.equal(cells[1], "300 s");
    const created300 = api.json.data.find((t) => t.token === created.short);
    assert.equal(await row.locator("td").nth(2).locator("time").getAttribute("datetime"), created300.createdAt);
    assert.equal(await row.locator("td").nth(3).locator("time").getAttribute("datetime"), created300.expiresAt);
    const countdown = row.locator("td.countdown");
    const first = await countdown.textContent();
    assert.match(first, /^[45] min \d{1,2} s$|^5 min 0 s$/);
    await page.waitForFunction(
      ([el, was]) => el.textContent !== was && /^\d min \d{1,2} s$/.test(el.textContent),
      [await countdown.elementHandle(), first],
      { timeout: 5000 },
    );
    const never = page.locator(`#token-rows tr[data-token="${created.never}"] td`);
    assert.equal(await never.nth(1).textContent(), "0 (never)");
    assert.equal(await never.nth(3).textContent(), "never");
    assert.equal(await never.nth(4).textContent(), "never");
    assert.match(await page.locator(`#token-rows tr[data-token="${created.hour}"] td.countdown`).textContent(), /^(59 min \d{1,2} s|1 h 0 min)$/);
  });

  test("copy puts the token on the clipboard", { timeout: 60_000 }, async () => {
    const { page } = h;
    await page.locator(`#token-rows tr[data-token="${created.hour}"]`).getByRole("button", { name: "Copy", exact: true }).click();
    await waitForText(page.locator("#tokens-status"), new RegExp(`^Copied ${created.hour}\\.$`));
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), created.hour);
  });

  test("a refused access token is renewed through /auth/refresh and the call made again", { timeout: 60_000 }, async () => {
    const { page } = h;
    const before = h.requests.filter((r) => r.path === "/auth/refresh").length;
    await page.evaluate(() => {
      const key = sessionStorage.key(0);
      const session = JSON.parse(sessionStorage.getItem(key));
      sessionStorage.setItem(key, JSON.stringify({ ...session, accessToken: "eyJ.not-a-token.at-all" }));
    });
    await page.getByRole("button", { name: "Reload", exact: true }).click();
    await page.waitForFunction(() => !JSON.parse(sessionStorage.getItem(sessionStorage.key(0))).accessToken.includes("not-a-token"), null, {
      timeout: WAIT,
    });
    assert.equal(h.requests.filter((r) => r.path === "/auth/refresh").length, before + 1);
    await page.waitForSelector(`#token-rows tr[data-token="${created.hour}"]`, { timeout: WAIT });
    assert.equal(await page.locator("#tokens-problem").isHidden(), true);
  });

  test("the signed-in listing fits a desktop and a 360 px wide screen (screenshots in test-results/)", { timeout: 60_000 }, async () => {
    const { page } = h;
    mkdirSync(results, { recursive: true });
    await page.screenshot({ path: join(results, "console-tokens.png"), fullPage: true });
    await page.setViewportSize({ width: 360, height: 780 });
    try {
      const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      assert.ok(widths[0] <= widths[1], `no sideways scrolling at 360 px: ${widths}`);
      for (const name of ["Create token", "Sign out", "Upload", "Next page", "Previous page"]) {
        const box = await page.getByRole("button", { name, exact: true }).boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= 360, `${name} is within the screen: ${JSON.stringify(box)}`);
      }
      await page.screenshot({ path: join(results, "console-tokens-360.png"), fullPage: true });
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  });

  test("delete asks first; once confirmed the token is gone from the listing and the API", { timeout: 60_000 }, async () => {
    const { page, worker } = h;
    const row = page.locator(`#token-rows tr[data-token="${created.hour}"]`);
    const dialog = page.getByRole("dialog", { name: "Delete this token?" });

    await row.getByRole("button", { name: "Delete", exact: true }).click();
    await dialog.waitFor({ state: "visible", timeout: WAIT });
    assert.equal(await dialog.locator("#delete-token").textContent(), created.hour);
    await dialog.getByRole("button", { name: "Cancel", exact: true }).click();
    await dialog.waitFor({ state: "hidden", timeout: WAIT });
    assert.equal((await request(worker, `/upload-tokens/${created.hour}`, { headers: withKey })).status, 200, "cancel keeps it");
    assert.equal(h.requests.filter((r) => r.method === "DELETE").length, 0);

    await row.getByRole("button", { name: "Delete", exact: true }).click();
    await dialog.waitFor({ state: "visible", timeout: WAIT });
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await row.waitFor({ state: "detached", timeout: WAIT });
    await waitForText(page.locator("#tokens-status"), new RegExp(`^Deleted ${created.hour}\\.$`));
    assert.deepEqual((await shown(page)).sort(), [created.short, created.never].sort());
    const gone = await request(worker, `/upload-tokens/${created.hour}`, { headers: withKey });
    assert.equal(gone.status, 404, gone.text);
    const listed = await request(worker, "/upload-tokens", { headers: withKey });
    assert.deepEqual(listed.json.data.map((t) => t.token).sort(), [created.short, created.never].sort());
  });

  test("an 11 MiB upload with a chosen token: progress chunk by chunk to 100 %, the Video and its source (screenshot in test-results/)", { timeout: 150_000 }, async () => {
    const { page } = h;
    await page.locator(`#token-rows tr[data-token="${created.never}"]`).getByRole("button", { name: "Use", exact: true }).click();
    assert.equal(await page.getByLabel("Upload token").inputValue(), created.never);
    const bytes = pseudoRandomBytes(1101, 11 * MiB);
    const result = await upload(h, "console-11mib.mp4", bytes);
    await assertUploaded(h, result, bytes, "console-11mib.mp4");
    const posts = h.requests.filter((r) => r.method === "POST" && r.path.startsWith("/upload?"));
    assert.ok(posts.every((r) => r.path === `/upload?token=${created.never}`));

    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: WAIT }),
      page.getByRole("link", { name: `/videos/${result.id}/source` }).click(),
    ]);
    assert.equal(download.suggestedFilename(), "console-11mib.mp4");
    const saved = readFileSync(await download.path());
    assert.equal(sha256(saved), sha256(bytes), "the source link gives back the file");
    await waitForText(page.locator("#video-source-status"), /^Downloaded 11,534,336 bytes\.$/);
    mkdirSync(results, { recursive: true });
    await page.screenshot({ path: join(results, "console-upload.png"), fullPage: true });
  });

  test("an unknown token's upload shows the API's problem", { timeout: 60_000 }, async () => {
    const { page } = h;
    await page.getByLabel("Upload token").fill("to" + "Q".repeat(22));
    await page.getByLabel("Video file").setInputFiles({ name: "refused.mp4", mimeType: "video/mp4", buffer: Buffer.alloc(1024) });
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    const problem = page.locator("#upload-problem");
    await problem.waitFor({ state: "visible", timeout: WAIT });
    assert.match(await problem.textContent(), /status 401/);
    assert.ok((await problem.locator(".problem-title").textContent()).length > 0);
    await waitForText(page.locator("#upload-status"), /: failed$/);
  });

  test("a token with policies from the create form shows them; the metadata filter lists only it", { timeout: 60_000 }, async () => {
    const { page, worker } = h;
    await page.getByLabel("Max uploads").fill("2");
    await page.getByLabel("Metadata", { exact: true }).fill("user=console-u1, plan=pro");
    const token = await createToken(page, 600);
    const made = await request(worker, `/upload-tokens/${token}`, { headers: withKey });
    assert.deepEqual(
      [made.json.maxUploads, made.json.uploadsUsed, made.json.metadata],
      [2, 0, [{ key: "user", value: "console-u1" }, { key: "plan", value: "pro" }]],
    );
    const policies = page.locator(`#token-rows tr[data-token="${token}"] td[data-label="Policies"]`);
    assert.equal(await policies.textContent(), "0 of 2 uploads; user=console-u1, plan=pro");
    await page.getByLabel("Metadata key").fill("user");
    await page.getByLabel("Metadata value").fill("console-u1");
    await page.getByLabel("Metadata value").press("Tab");
    await waitForRows(page, [token]);
    const filtered = h.requests.filter((r) => r.path.startsWith("/upload-tokens?")).at(-1);
    assert.match(filtered.path, /[?&]metadata%5Buser%5D=console-u1(&|$)/);
    for (const label of ["Metadata key", "Metadata value", "Max uploads"]) await page.getByLabel(label).fill("");
    await page.getByLabel("Metadata", { exact: true }).fill("");
  });

  test("sign out forgets the session: the listing is refused", { timeout: 60_000 }, async () => {
    const { page } = h;
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByLabel("API key").waitFor({ state: "visible", timeout: WAIT });
    assert.equal(await page.locator("#tokens").isHidden(), true);
    assert.equal(await page.locator("#upload").isHidden(), true);
    assert.equal(await page.locator("#token-rows tr").count(), 0, "no token stays on the page");
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    const refused = await page.evaluate(async () => {
      const res = await fetch("/upload-tokens", { credentials: "omit" });
      return { status: res.status, body: await res.json() };
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.type, `${REF}authentication-failed`);
    await page.reload();
    await page.waitForFunction(() => window.consoleReady === true, null, { timeout: WAIT });
    assert.equal(await page.getByLabel("API key").isVisible(), true, "still signed out after a reload");
    assert.equal(await page.locator("#tokens").isHidden(), true);
    await assertClean(h);
  });
});

describe("console over https (`npm start -- --local-protocol https`)", { timeout: 400_000 }, () => {
  const h = harness("https");

  test("sign in, create a token and upload 11 MiB through the uploader's own https address", { timeout: 180_000 }, async () => {
    const { page } = h;
    await openConsole(h);
    assert.equal(await page.locator("#upload-https-note").isHidden(), true);
    await signIn(page, KEY);
    await page.locator("#tokens").waitFor({ state: "visible", timeout: WAIT });
    const token = await createToken(page, 3600);
    assert.equal(await page.getByLabel("Upload token").inputValue(), token);
    const bytes = pseudoRandomBytes(2202, 11 * MiB);
    const result = await upload(h, "console-https.mp4", bytes);
    await assertUploaded(h, result, bytes, "console-https.mp4");
    assert.ok(h.requests.filter((r) => r.path.startsWith("/upload?")).every((r) => r.url.startsWith("https://")));
    await assertClean(h);
  });
});
