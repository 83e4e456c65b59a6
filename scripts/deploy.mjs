#!/usr/bin/env node
// Deploys the service to the Cloudflare account wrangler is logged in to, in one command:
//
//   npm run deploy -- [--project ID] [--account ID] [--no-smoke]
//
// 1. `wrangler whoami --json`: stops with a clear message unless logged in.
// 2. `wrangler secret list`: which secrets the Worker has (none if it does not exist yet).
// 3. `wrangler secret put` of AUTH_SIGNING_KEY and of a first API_KEYS entry, each only if it is
//    missing, with strong random values from the OS passed on stdin. A new API key is printed
//    once, as soon as it exists, and written nowhere else. Existing secrets are left alone.
// 4. `wrangler deploy`: builds, creates the KV namespace and R2 bucket on the first deploy,
//    applies the Durable Object migrations of wrangler.toml that the deployed Worker lacks,
//    deploys. Its URL is read from wrangler's structured output (WRANGLER_OUTPUT_FILE_PATH).
// 5. The smoke check (scripts/smoke.mjs) against that URL, when this run knows an API key: the
//    one it just made, or SMOKE_API_KEY.
// Running it again is safe: with both secrets present it only deploys again and checks.
//
// wrangler is found on PATH, then in this checkout's node_modules/.bin (`npm run` puts that
// first on PATH, so there it is the pinned one).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseJson } from "./lib/http.mjs";
import { runSmoke } from "./smoke.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));

export const DEFAULT_PROJECT = "default";
const PROJECT_ID = /^[A-Za-z0-9_-]{1,64}$/; // as core/src/project.rs accepts

const USAGE = `usage: npm run deploy -- [--project ID] [--account ID] [--no-smoke]

  --project ID   project of the first API key, when API_KEYS is created (default "${DEFAULT_PROJECT}";
                 1-64 of A-Z a-z 0-9 _ -)
  --account ID   the Cloudflare account to deploy to, when the login has several
  --no-smoke     do not run the smoke check after deploying

Before the first run: npx wrangler login`;

class Stop extends Error {
  constructor(message, code = 1) {
    super(message);
    this.code = code;
  }
}

function parseArgs(argv) {
  const opts = { project: DEFAULT_PROJECT, projectGiven: false, account: undefined, smoke: true };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new Stop(`${a} needs a value\n\n${USAGE}`, 2);
      return v;
    };
    if (a === "-h" || a === "--help") {
      opts.help = true;
    } else if (a === "--project" || a.startsWith("--project=")) {
      opts.project = a === "--project" ? value() : a.slice(10);
      opts.projectGiven = true;
    } else if (a === "--account") opts.account = value();
    else if (a.startsWith("--account=")) opts.account = a.slice(10);
    else if (a === "--no-smoke") opts.smoke = false;
    else throw new Stop(`unknown argument ${a}\n\n${USAGE}`, 2);
  }
  if (!PROJECT_ID.test(opts.project)) {
    throw new Stop(`invalid project id "${opts.project}": 1 to 64 of A-Z a-z 0-9 _ -`, 2);
  }
  return opts;
}

const env = { ...process.env, PATH: [process.env.PATH, join(root, "node_modules", ".bin")].filter(Boolean).join(delimiter) };

/**
 * Runs wrangler with `args`. `input`: text for its stdin (else it gets none). `show`: its output
 * goes straight to the terminal instead of being captured. wrangler never gets the terminal's
 * input, so it never stops to ask: it takes its non-interactive answers, and in particular does
 * not write the ids of the resources it creates into wrangler.toml.
 */
function wrangler(args, { input, show = false, extraEnv = {} } = {}) {
  return new Promise((resolve, reject) => {
    const stdin = input === undefined ? "ignore" : "pipe";
    const stdio = show ? [stdin, "inherit", "inherit"] : [stdin, "pipe", "pipe"];
    const child = spawn("wrangler", args, { cwd: root, env: { ...env, ...extraEnv }, stdio });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => (stdout += d));
    child.stderr?.on("data", (d) => (stderr += d));
    child.on("error", (err) =>
      reject(
        err.code === "ENOENT"
          ? new Stop("wrangler is not installed here: run `npm ci` (or `npm start` once) first.")
          : err,
      ),
    );
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) {
      child.stdin.on("error", () => {}); // it may exit before reading; its exit status says why
      child.stdin.end(input);
    }
  });
}

/** The last lines of a failed wrangler call, for the user. */
function tail({ stdout, stderr }) {
  const lines = `${stderr}\n${stdout}`.split("\n").filter((l) => l.trim());
  return lines.slice(-12).map((l) => `    ${l}`).join("\n");
}

/** The JSON value that starts at the first `opening` of `text`, or undefined. */
function jsonFrom(text, opening) {
  const at = text.indexOf(opening);
  return at < 0 ? undefined : parseJson(text.slice(at));
}

async function checkLogin(opts) {
  const res = await wrangler(["whoami", "--json"]);
  const who = jsonFrom(res.stdout, "{");
  if (who?.loggedIn === false) {
    throw new Stop(
      "wrangler is not logged in to Cloudflare. Run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then `npm run deploy` again.",
    );
  }
  if (res.code !== 0 || who?.loggedIn !== true) {
    throw new Stop(`could not check the Cloudflare login (\`wrangler whoami --json\` failed):\n${tail(res)}`);
  }
  const accounts = Array.isArray(who.accounts) ? who.accounts : [];
  const account = opts.account ?? process.env.CLOUDFLARE_ACCOUNT_ID;
  if (account && accounts.length > 0 && !accounts.some((a) => a.id === account)) {
    throw new Stop(`account ${account} is not one of this login's:\n${accounts.map((a) => `    ${a.id}  ${a.name}`).join("\n")}`);
  }
  const configured = /^\s*account_id\s*=/m.test(readFileSync(join(root, "wrangler.toml"), "utf8"));
  if (!account && !configured && accounts.length > 1) {
    throw new Stop(
      `this login has ${accounts.length} accounts; say which one to deploy to with --account ID:\n` +
        accounts.map((a) => `    ${a.id}  ${a.name}`).join("\n"),
    );
  }
  const chosen = accounts.find((a) => a.id === account) ?? (accounts.length === 1 ? accounts[0] : undefined);
  const whom = who.email ?? who.authType ?? "an API token";
  console.log(`Logged in as ${whom}${chosen ? `, account ${chosen.name} (${chosen.id})` : ""}.`);
}

async function secretNames() {
  const res = await wrangler(["secret", "list", "--format", "json"]);
  if (res.code !== 0) {
    // A Worker that was never deployed has no secrets; wrangler says it does not exist.
    if (/Worker "[^"]*".*not found/.test(res.stderr + res.stdout)) return { names: [], exists: false };
    throw new Stop(`could not list the Worker's secrets (\`wrangler secret list\` failed):\n${tail(res)}`);
  }
  const list = jsonFrom(res.stdout, "[");
  if (!Array.isArray(list)) throw new Stop(`unexpected output of \`wrangler secret list\`:\n${tail(res)}`);
  return { names: list.map((s) => s.name), exists: true };
}

async function putSecret(name, value) {
  process.stdout.write(`Creating secret ${name}… `);
  const res = await wrangler(["secret", "put", name], { input: value });
  if (res.code !== 0) {
    console.log("failed");
    throw new Stop(`\`wrangler secret put ${name}\` failed:\n${tail(res)}`);
  }
  console.log("done");
}

/** Runs `wrangler deploy`, its output shown, and returns the URL it deployed to, if any. */
async function deploy() {
  const out = mkdtempSync(join(tmpdir(), "uts-deploy-"));
  const record = join(out, "wrangler-output.jsonl");
  try {
    const res = await wrangler(["deploy"], { show: true, extraEnv: { WRANGLER_OUTPUT_FILE_PATH: record } });
    if (res.code !== 0) throw new Stop(`\`wrangler deploy\` failed (exit status ${res.code}); its output is above.`);
    const entries = existsSync(record)
      ? readFileSync(record, "utf8").split("\n").filter(Boolean).map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            return {};
          }
        })
      : [];
    const targets = entries.filter((e) => e.type === "deploy").flatMap((e) => e.targets ?? []);
    return { url: targets.find((t) => /^https?:\/\//.test(t)), targets };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function main(opts) {
  let newKey = null;
  try {
    if (opts.account) env.CLOUDFLARE_ACCOUNT_ID = opts.account;
    await checkLogin(opts);
    const { names, exists } = await secretNames();
    console.log(
      exists
        ? `The Worker has ${names.length ? `the secrets ${names.join(", ")}` : "no secrets"}.`
        : "The Worker does not exist yet: this is its first deploy.",
    );
    if (!names.includes("AUTH_SIGNING_KEY")) {
      await putSecret("AUTH_SIGNING_KEY", randomBytes(48).toString("base64url"));
    } else {
      console.log("AUTH_SIGNING_KEY exists: left as it is.");
    }
    if (!names.includes("API_KEYS")) {
      const key = randomBytes(32).toString("base64url");
      await putSecret("API_KEYS", `${opts.project}:${key}`);
      newKey = { project: opts.project, key };
      // Shown at once, so that nothing that happens later (a failed deploy, an interrupt) loses
      // a key that now exists; it is kept nowhere else.
      console.log(
        `\nNew API key of project "${opts.project}", shown this once and stored nowhere else ` +
          "(the Worker holds only the API_KEYS secret). Keep it now:\n\n" +
          `    ${key}\n\n` +
          "Send it as the user name of HTTP Basic auth (`curl -u KEY: …`), or trade it for a bearer token at POST /auth/api-key.",
      );
    } else {
      console.log(
        `API_KEYS exists: left as it is${opts.projectGiven ? ` (so --project ${opts.project} is not used)` : ""}.`,
      );
    }

    const migrations = /^\s*\[\[migrations\]\]/m.test(readFileSync(join(root, "wrangler.toml"), "utf8"));
    console.log(
      `\nDeploying with wrangler (it creates the KV namespace and R2 bucket if they are missing${
        migrations ? ", and applies the Durable Object migrations the deployed Worker lacks" : ""
      }):\n`,
    );
    const { url, targets } = await deploy();
    if (!url) {
      console.log(
        `\nDeployed, but wrangler reported no URL (targets: ${targets.join(", ") || "none"}).` +
          "\nCheck a route of yours with: npm run smoke -- https://YOUR-HOST API_KEY",
      );
      return 0;
    }
    console.log(`\nDeployed: ${url}`);

    if (!opts.smoke) {
      console.log(`Smoke check skipped (--no-smoke). Run it with: npm run smoke -- ${url} API_KEY`);
      return 0;
    }
    const apiKey = newKey?.key ?? process.env.SMOKE_API_KEY;
    if (!apiKey) {
      console.log(
        `Smoke check skipped: API_KEYS existed before this run, so it knows no key. Run it with:\n    npm run smoke -- ${url} YOUR_API_KEY`,
      );
      return 0;
    }
    console.log("");
    // A new workers.dev name can take a little while to answer.
    const { ok } = await runSmoke({ url, apiKey, waitMs: 120000 });
    return ok ? 0 : 1;
  } finally {
    if (newKey) {
      console.log(`\nThe new API key of project "${newKey.project}" is printed above, after "Creating secret API_KEYS".`);
    }
  }
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
  } else {
    process.exitCode = await main(opts);
  }
} catch (err) {
  if (!(err instanceof Stop)) throw err;
  console.error(`deploy: ${err.message}`);
  process.exitCode = err.code;
}
