// Runs scripts/deploy.mjs against the wrangler stand-in (test/support/wrangler-standin.mjs) put
// first on PATH, in a sandbox of its own (HOME and TMPDIR in a temporary directory), and hands
// back what it printed and every wrangler call it made, in order.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "./process.mjs";

export const root = fileURLToPath(new URL("../..", import.meta.url));
const standinScript = fileURLToPath(new URL("./wrangler-standin.mjs", import.meta.url));

/**
 * A sandbox with a `wrangler` stand-in and an account `state` (see wrangler-standin.mjs).
 * `run(args)` runs the deploy script once; `calls()` lists every wrangler call so far.
 */
export function makeSandbox(state) {
  const dir = mkdtempSync(join(tmpdir(), "uts-deploy-test-"));
  const bin = join(dir, "bin");
  const home = join(dir, "home");
  const tmp = join(dir, "tmp");
  for (const d of [bin, home, tmp]) mkdirSync(d);
  writeFileSync(join(bin, "wrangler"), `#!/bin/sh\nexec "${process.execPath}" "${standinScript}" "$@"\n`);
  chmodSync(join(bin, "wrangler"), 0o755);
  const statePath = join(dir, "state.json");
  const logPath = join(dir, "calls.jsonl");
  writeFileSync(
    statePath,
    JSON.stringify({
      loggedIn: true,
      accounts: [{ id: "0123456789abcdef0123456789abcdef", name: "Example" }],
      workerExists: false,
      secrets: [],
      deployUrl: "https://upload-token-service.example.workers.dev",
      fail: [],
      ...state,
    }),
  );
  writeFileSync(logPath, "");

  async function run(args = [], { env = {}, timeoutMs = 60000 } = {}) {
    const started = Date.now();
    const logStart = readFileSync(logPath, "utf8").length;
    const { code, stdout, stderr } = await runCommand(process.execPath, [join(root, "scripts/deploy.mjs"), ...args], {
      // Only what the script needs: no Cloudflare credentials or SMOKE_API_KEY from outside.
      env: {
        PATH: [bin, dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
        HOME: home,
        TMPDIR: tmp,
        NO_COLOR: "1",
        STANDIN_STATE: statePath,
        STANDIN_LOG: logPath,
        ...env,
      },
      timeoutMs,
    });
    const runCalls = parseLog(readFileSync(logPath, "utf8").slice(logStart));
    return { code, stdout, stderr, calls: runCalls, started, ms: Date.now() - started };
  }

  const state_ = () => JSON.parse(readFileSync(statePath, "utf8"));
  const calls = () => parseLog(readFileSync(logPath, "utf8"));
  const setState = (patch) => writeFileSync(statePath, JSON.stringify({ ...state_(), ...patch }));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  return { dir, home, tmp, run, calls, state: state_, setState, cleanup };
}

function parseLog(text) {
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** Files under `dir` (skipping `skip` directories) modified at or after `since` (ms). */
export function filesWrittenSince(dir, since, skip = []) {
  const found = [];
  const walk = (d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (skip.includes(p)) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).mtimeMs >= since - 1000) found.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return found;
}
