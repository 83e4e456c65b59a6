// Samples the CPU of a Worker served by `wrangler dev --inspector-port PORT` for SECONDS (start
// the load yourself, e.g. with wrk, right after), writes the V8 profile to OUT (open it in any
// .cpuprofile viewer) and prints where the samples fell: busy time and the heaviest functions.
//
// Usage: node bench/lib/cpu-profile.mjs PORT SECONDS OUT [TOP]
// (`ws` comes with wrangler; Node 20's own WebSocket is refused by wrangler's inspector proxy.)
import { writeFileSync } from "node:fs";
import WebSocket from "ws";

const [port, seconds, out, top = "30"] = process.argv.slice(2);
if (!port || !seconds || !out) {
  console.error("usage: node bench/lib/cpu-profile.mjs PORT SECONDS OUT [TOP]");
  process.exit(2);
}
const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
if (!targets.length) throw new Error("the inspector lists no Worker");
const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  ws.onopen = resolve;
  ws.onerror = reject;
});
let next = 0;
const waiting = new Map();
ws.onmessage = (m) => {
  const d = JSON.parse(String(m.data));
  if (d.id && waiting.has(d.id)) {
    waiting.get(d.id)(d);
    waiting.delete(d.id);
  }
};
const send = (method, params = {}) =>
  new Promise((resolve) => {
    const id = ++next;
    waiting.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });

await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 100 }); // microseconds
await send("Profiler.start");
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
const { result } = await send("Profiler.stop");
ws.close();
const profile = result.profile;
writeFileSync(out, JSON.stringify(profile));

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
let busy = 0;
let idle = 0;
profile.samples.forEach((id, i) => {
  const frame = nodes.get(id).callFrame;
  const us = profile.timeDeltas[i] ?? 0;
  if (frame.functionName === "(idle)") {
    idle += us;
    return;
  }
  busy += us;
  const name = frame.functionName || `(anonymous ${frame.url.split("/").pop()}:${frame.lineNumber + 1})`;
  self.set(name, (self.get(name) ?? 0) + us);
});
console.log(`busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms; self time of the busiest functions:`);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(`${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name.slice(0, 140)}`);
}
