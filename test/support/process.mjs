// Running commands from the tests: the deploy and smoke scripts, and the Python scenarios of
// test/python/ with the test virtualenv's Python.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The Python of the test virtualenv (scripts/setup.sh --python). */
export const python = join(root, ".venv/bin/python");

/** The commands started by runCommand that have not ended yet. */
const running = new Set();

/** Kills `child` and whatever it started (it leads a process group of its own). */
function kill(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * Runs `command` with `args` (in `cwd`, by default the checkout, with `env` and no input) to its
 * end, or until it is killed after `timeoutMs`. Resolves with its exit `code` (or the `signal`
 * that ended it), its `stdout` and `stderr`, the `ms` it took and whether it `timedOut`.
 */
export function runCommand(command, args, { cwd = root, env = process.env, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    running.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill(child);
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      running.delete(child);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

/** Kills what runCommand started and is still running (for a test file's `after`). */
export function killRunning() {
  for (const child of running) kill(child);
}

/** Runs test/python/<script>.py with `args` (unbuffered, writing no bytecode); see runCommand. */
export function runPython(script, args, { timeoutMs } = {}) {
  return runCommand(python, ["-u", join(root, "test/python", script), ...args], {
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    timeoutMs,
  });
}

/** How a run ended, with its whole output: for assertion messages. */
export function report(run, name) {
  return `${name} exited with ${run.code ?? run.signal} after ${run.ms} ms\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}

/** Asserts that the test virtualenv is there. */
export function requirePython() {
  assert.ok(existsSync(python), "the test virtualenv is missing: run scripts/setup.sh --python");
}
