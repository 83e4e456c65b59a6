// bench/proxy-drops.mjs: whether `wrangler dev` itself drops requests under the load shape of
// bench/load.mjs, with a Worker that is not the service. Serves a plain JavaScript Worker that
// reads its body, waits 20 ms and answers "ok", and sends it, for a bounded time, small POSTs
// from many clients while a few clients send 5 MiB POSTs; prints how many answers were 503s
// written by wrangler's dev proxy ("Your worker restarted mid-request"). Only 127.0.0.1, a
// fresh state directory, and the server stopped at the end.
//
// Usage: node bench/proxy-drops.mjs [--seconds 20] [--clients 200] [--large 8]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const opts = { seconds: 20, clients: 200, large: 8 };
for (let i = 2; i < process.argv.length; i += 2) {
  const name = process.argv[i].replace(/^--/, "");
  const value = Number(process.argv[i + 1]);
  if (!(name in opts) || !Number.isFinite(value) || value < 0) {
    console.error(`proxy-drops: bad option ${process.argv[i]} ${process.argv[i + 1] ?? ""}`);
    process.exit(2);
  }
  opts[name] = value;
}

const dir = mkdtempSync(join(tmpdir(), "uts-proxy-drops-"));
writeFileSync(join(dir, "worker.js"), `export default {
  async fetch(req) {
    await req.arrayBuffer();
    await new Promise((r) => setTimeout(r, 20));
    return new Response("ok", { headers: { "X-Request-Id": crypto.randomUUID() } });
  },
};
`);
writeFileSync(join(dir, "wrangler.toml"), 'name = "plain"\nmain = "worker.js"\ncompatibility_date = "2025-01-01"\n');

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const base = `http://127.0.0.1:${port}`;
const server = spawn(join(root, "node_modules/.bin/wrangler"),
  ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", join(dir, "state"), "--log-level", "warn"],
  { cwd: dir, detached: true, stdio: "ignore", env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false" } });
const stop = () => {
  try { process.kill(-server.pid, "SIGKILL"); } catch {}
  rmSync(dir, { recursive: true, force: true });
};
const hardStop = setTimeout(() => { stop(); process.exit(1); }, (opts.seconds + 180) * 1000);

try {
  for (let t = Date.now(); ; await new Promise((r) => setTimeout(r, 500))) {
    try { if ((await fetch(base)).ok) break; } catch {}
    if (Date.now() - t > 120_000) throw new Error("wrangler dev did not answer in 120 s");
  }
  const counts = { small: 0, large: 0, proxy503: 0, other: 0, network: 0 };
  const until = Date.now() + opts.seconds * 1000;
  const send = async (kind, body) => {
    try {
      const res = await fetch(`${base}/${kind}`, { method: "POST", body });
      const text = await res.text();
      if (res.ok) counts[kind]++;
      else if (res.status === 503 && !res.headers.has("x-request-id") && text.startsWith("Your worker restarted mid-request")) counts.proxy503++;
      else counts.other++;
    } catch {
      counts.network++;
    }
  };
  const small = "x".repeat(1000);
  const large = Buffer.alloc(5 * 1024 * 1024 + 1000, 7);
  const smallClient = async () => {
    while (Date.now() < until) {
      await send("small", small);
      await new Promise((r) => setTimeout(r, Math.random() * 200));
    }
  };
  const largeClient = async () => {
    while (Date.now() < until) await send("large", large);
  };
  await Promise.all([
    ...Array.from({ length: opts.clients }, smallClient),
    ...Array.from({ length: opts.large }, largeClient),
  ]);
  console.log(`${opts.clients} clients of 1 KB POSTs and ${opts.large} of 5 MiB POSTs for ${opts.seconds} s against a plain Worker under wrangler dev:`);
  console.log(JSON.stringify(counts));
} finally {
  clearTimeout(hardStop);
  stop();
}
