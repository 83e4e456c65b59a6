#!/usr/bin/env node
// A short check of a running deployment, through its public API only:
//
//   npm run smoke -- URL [API_KEY]        (or the key in SMOKE_API_KEY)
//
// It creates an upload token (ttl 60), gets it, finds it in the listing, uploads a small file
// with it, reads the video back (metadata, then the file, compared byte for byte), deletes the
// token and sees an upload with it refused. Each step prints its time; the first failure ends
// the check with exit status 1, after deleting the token if one was made. The uploaded video
// stays: the API has no way to delete a video. It is a few dozen bytes named smoke-check.txt.
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { basic, readAnswer } from "./lib/http.mjs";

export const SMOKE_FILE_NAME = "smoke-check.txt";

const USAGE = `usage: npm run smoke -- URL [API_KEY] [--wait SECONDS] [--settle SECONDS]

  URL        the deployment, e.g. https://upload-token-service.example.workers.dev
  API_KEY    an API key of the deployment (or set SMOKE_API_KEY instead)
  --wait     keep trying to reach the service for this long first (default 0)
  --settle   how long to allow KV to show a new or deleted token (default 60)`;

class StepFailure extends Error {}

/** A readable account of a problem answer: status, title and detail. */
function describe(res, body) {
  let text = `HTTP ${res.status}`;
  if (body && typeof body === "object" && (body.title || body.detail)) {
    if (body.title) text += ` ${body.title}`;
    if (body.detail) text += `: ${body.detail}`;
  } else if (typeof body === "string" && body.trim()) {
    text += `: ${body.trim().slice(0, 200)}`;
  }
  return text;
}

function networkMessage(err) {
  if (err.name === "TimeoutError") return "no answer within 30 s";
  const cause = err.cause;
  return `cannot reach the service: ${cause?.code ?? cause?.message ?? err.message}`;
}

/** Shortens an upload token for output: it is a credential while it lives. */
const shortToken = (t) => (typeof t === "string" ? `${t.slice(0, 6)}…` : String(t));

/**
 * Runs the check against `url` with `apiKey`. Writes its report through `print` (one line per
 * call) and resolves to { ok, failedStep, videoId }.
 */
export async function runSmoke({ url, apiKey, waitMs = 0, settleMs = 60000, print = console.log }) {
  const base = String(url).replace(/\/+$/, "");
  const auth = { Authorization: basic(apiKey) };
  const started = Date.now();

  async function call(method, path, { headers = {}, body } = {}) {
    let res;
    try {
      res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(30000) });
    } catch (err) {
      throw new StepFailure(networkMessage(err));
    }
    const { bytes, text, json } = await readAnswer(res);
    return { res, bytes, body: json ?? text };
  }

  /** Retries `attempt` (which returns a note, or null to try again) until `ms` have passed. */
  async function until(ms, attempt, lastProblem) {
    const deadline = Date.now() + ms;
    let tries = 0;
    for (;;) {
      tries += 1;
      const note = await attempt();
      if (note !== null) return tries > 1 ? `${note} (attempt ${tries})` : note;
      if (Date.now() >= deadline) {
        throw new StepFailure(tries > 1 ? `${lastProblem()} (${tries} attempts over ${ms / 1000} s)` : lastProblem());
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  const width = 30;
  async function step(name, fn) {
    const t0 = Date.now();
    try {
      const note = await fn();
      const ms = Date.now() - t0;
      print(`  ${name.padEnd(width)} ${String(ms).padStart(6)} ms  OK${note ? `    ${note}` : ""}`);
    } catch (err) {
      const ms = Date.now() - t0;
      const message = err instanceof StepFailure ? err.message : `unexpected error: ${err.stack ?? err}`;
      print(`  ${name.padEnd(width)} ${String(ms).padStart(6)} ms  FAIL  ${message}`);
      err.step = name;
      throw err;
    }
  }

  let token = null;
  let tokenDeleted = false;
  let videoId = null;
  const content = Buffer.from(
    `upload-token-service smoke check\n${new Date().toISOString()}\n${randomBytes(8).toString("hex")}\n`,
  );

  print(`Smoke check of ${base}`);
  try {
    await step("reach the service", async () => {
      let last = "";
      return until(
        waitMs,
        async () => {
          try {
            const { res, body } = await call("GET", "/openapi.json");
            if (res.status === 200 && body && typeof body === "object" && body.openapi) return "GET /openapi.json";
            last = `GET /openapi.json: ${describe(res, body)}`;
          } catch (err) {
            if (!(err instanceof StepFailure)) throw err;
            last = err.message;
          }
          return null;
        },
        () => last,
      );
    });

    await step("create token (ttl 60)", async () => {
      const { res, body } = await call("POST", "/upload-tokens", {
        headers: { ...auth, "Content-Type": "application/json" },
        body: JSON.stringify({ ttl: 60 }),
      });
      if (res.status !== 200) throw new StepFailure(describe(res, body));
      if (!/^to[0-9A-Za-z]{22}$/.test(body?.token ?? "") || body.ttl !== 60) {
        throw new StepFailure(`unexpected answer: ${JSON.stringify(body).slice(0, 200)}`);
      }
      token = body.token;
      return `${shortToken(token)} expires ${body.expiresAt}`;
    });

    await step("get token", async () => {
      let last = "";
      return until(
        settleMs,
        async () => {
          const { res, body } = await call("GET", `/upload-tokens/${token}`, { headers: auth });
          if (res.status === 200 && body?.token === token) return "";
          if (res.status !== 404) throw new StepFailure(describe(res, body));
          last = describe(res, body);
          return null;
        },
        () => last,
      );
    });

    await step("find token in listing", async () => {
      let last = "";
      return until(
        settleMs,
        async () => {
          // Newest first: the token made a moment ago is on the first page unless the project
          // made more than a page of tokens in the same second.
          for (let page = 1, pages = 1; page <= Math.min(pages, 20); page += 1) {
            const q = `sortBy=createdAt&sortOrder=desc&pageSize=100&currentPage=${page}`;
            const { res, body } = await call("GET", `/upload-tokens?${q}`, { headers: auth });
            if (res.status !== 200) throw new StepFailure(describe(res, body));
            if (!Array.isArray(body?.data)) throw new StepFailure(`unexpected answer: ${JSON.stringify(body).slice(0, 200)}`);
            if (body.data.some((t) => t.token === token)) {
              return `page ${page} of ${body.pagination.pagesTotal}, ${body.pagination.itemsTotal} active token(s)`;
            }
            pages = body.pagination?.pagesTotal ?? 1;
          }
          last = "the new token is not in the listing";
          return null;
        },
        () => last,
      );
    });

    await step(`upload ${SMOKE_FILE_NAME}`, async () => {
      const form = new FormData();
      form.append("file", new Blob([content], { type: "text/plain" }), SMOKE_FILE_NAME);
      const { res, body } = await call("POST", `/upload?token=${encodeURIComponent(token)}`, { body: form });
      if (res.status !== 201) throw new StepFailure(describe(res, body));
      if (!/^vi[0-9A-Za-z]{22}$/.test(body?.videoId ?? "")) {
        throw new StepFailure(`unexpected answer: ${JSON.stringify(body).slice(0, 200)}`);
      }
      videoId = body.videoId;
      return `${videoId}, ${content.length} bytes`;
    });

    await step("get video", async () => {
      const { res, body } = await call("GET", `/videos/${videoId}`, { headers: auth });
      if (res.status !== 200) throw new StepFailure(describe(res, body));
      if (body?.videoId !== videoId || body.title !== SMOKE_FILE_NAME) {
        throw new StepFailure(`unexpected answer: ${JSON.stringify(body).slice(0, 200)}`);
      }
      if (body.ingest?.status !== "uploaded") {
        throw new StepFailure(`the upload is not complete: ingest ${JSON.stringify(body.ingest)}`);
      }
      return `ingest uploaded, ${body.ingest.filesize} bytes`;
    });

    await step("download source", async () => {
      const { res, bytes } = await call("GET", `/videos/${videoId}/source`, { headers: auth });
      if (res.status !== 200) throw new StepFailure(describe(res, bytes.toString("utf8")));
      if (!bytes.equals(content)) {
        throw new StepFailure(`the file came back different: ${bytes.length} bytes, ${content.length} sent`);
      }
      return `${bytes.length} bytes, identical`;
    });

    await step("delete token", async () => {
      const { res, body } = await call("DELETE", `/upload-tokens/${token}`, { headers: auth });
      if (res.status !== 204) throw new StepFailure(describe(res, body));
      tokenDeleted = true;
      return "";
    });

    await step("upload refused after delete", async () => {
      // An empty file: a token that still worked would get a 400 for it and store nothing, so
      // this may be tried again while the deletion reaches the upload path's KV reads.
      let last = "";
      return until(
        settleMs,
        async () => {
          const form = new FormData();
          form.append("file", new Blob([]), SMOKE_FILE_NAME);
          const { res, body } = await call("POST", `/upload?token=${encodeURIComponent(token)}`, { body: form });
          if (res.status === 401) return `401 ${body?.title ?? ""}`.trim();
          if (res.status !== 400) throw new StepFailure(`expected 401, got ${describe(res, body)}`);
          last = `the deleted token is still accepted: ${describe(res, body)}`;
          return null;
        },
        () => last,
      );
    });
  } catch (err) {
    if (token && !tokenDeleted) {
      try {
        const { res, body } = await call("DELETE", `/upload-tokens/${token}`, { headers: auth });
        print(
          res.status === 204 || res.status === 404
            ? `  clean-up: token ${shortToken(token)} deleted`
            : `  clean-up: could not delete token ${shortToken(token)} (${describe(res, body)}); it expires within 60 s`,
        );
      } catch (e) {
        print(`  clean-up: could not delete token ${shortToken(token)} (${e.message}); it expires within 60 s`);
      }
    }
    leftBehind(print, videoId, content.length);
    print(`Smoke check FAILED at "${err.step ?? "?"}" after ${Date.now() - started} ms.`);
    return { ok: false, failedStep: err.step, videoId };
  }
  leftBehind(print, videoId, content.length);
  print(`Smoke check passed: 9 steps in ${Date.now() - started} ms.`);
  return { ok: true, videoId };
}

function leftBehind(print, videoId, size) {
  if (videoId) {
    print(
      `  left behind: video ${videoId} ("${SMOKE_FILE_NAME}", ${size} bytes) in the key's project;` +
        " the API has no way to delete a video.",
    );
  }
}

function parseArgs(argv) {
  const positional = [];
  const opts = { wait: 0, settle: 60 };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === "-h" || a === "--help") return { help: true };
    if (a === "--wait" || a === "--settle") {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a number of seconds`);
      opts[a.slice(2)] = v;
    } else if (a.startsWith("--")) {
      throw new Error(`unknown option ${a}`);
    } else {
      positional.push(a);
    }
  }
  if (positional.length < 1 || positional.length > 2) throw new Error("give the deployment's URL and an API key");
  const [url, key = process.env.SMOKE_API_KEY] = positional;
  if (!/^https?:\/\/[^/\s]+/.test(url)) throw new Error(`not an http(s) URL: ${url}`);
  if (!key) throw new Error("no API key: give it after the URL or set SMOKE_API_KEY");
  return { url, key, ...opts };
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`smoke: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const { ok } = await runSmoke({
    url: args.url,
    apiKey: args.key,
    waitMs: args.wait * 1000,
    settleMs: args.settle * 1000,
  });
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
