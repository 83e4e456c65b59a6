// Runs the built Worker under a real `wrangler dev` (local KV, R2 and rate limiting) on a free
// loopback port, for tests that drive it with real HTTP clients.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `wrangler dev` with `vars` passed as `--var NAME:VALUE` (test-only keys), state in a
 * fresh temporary directory, and extra arguments. Resolves once it answers; `stop()` ends it
 * and removes the state (`stop({ keepState: true })` leaves it, under `state`, to be read).
 */
export async function startWrangler({ vars = {}, args = [], protocol = "http", timeoutMs = 120000 } = {}) {
  const port = await freePort();
  const inspector = await freePort();
  const state = mkdtempSync(join(tmpdir(), "uts-wrangler-"));
  const argv = [
    "wrangler", "dev", "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-port", String(inspector), "--persist-to", state,
    "--local-protocol", protocol, "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ...args,
  ];
  const child = spawn(join(root, "node_modules/.bin/wrangler"), argv.slice(1), {
    cwd: root,
    env: { ...process.env, SKIP_WORKER_BUILD: "1", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const base = `${protocol}://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    if (/Ready on/.test(output)) break;
    if (Date.now() > deadline) {
      process.kill(-child.pid, "SIGKILL");
      throw new Error(`wrangler dev did not start in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  async function stop({ keepState = false } = {}) {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      try { process.kill(-child.pid, "SIGINT"); } catch {}
      const timer = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch {} }, 5000);
      await exited;
      clearTimeout(timer);
    }
    if (!keepState) rmSync(state, { recursive: true, force: true });
  }
  return { base, port, state, stop, output: () => output };
}
