// Puts seeded entries into the local KV state that `wrangler dev --persist-to DIR` uses, and
// checks them through Miniflare (the simulator wrangler runs), so the service reads exactly
// what it would have written itself.
//
//   node bench/lib/load-kv.mjs init   PERSIST_DIR NAMESPACE_ID
//       creates the namespace's storage through Miniflare (one marker key)
//   node bench/lib/load-kv.mjs put    PERSIST_DIR NAMESPACE_ID FILE.json...
//       writes every entry through Miniflare's KV binding (slow: a few hundred per second)
//   node bench/lib/load-kv.mjs verify PERSIST_DIR NAMESPACE_ID FILE.json...
//       reads back, for each file, the count of its index prefix (list with cursor) and a
//       sample of its entries (value, metadata), and fails on any difference
//
// `wrangler kv bulk put` is not used: it refuses string metadata, which the service writes.
// bench/lib/load-kv.py does the bulk of the writing (much faster) after `init`.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Miniflare } from "miniflare";

const [mode, persist, namespaceId, ...files] = process.argv.slice(2);
if (!["init", "put", "verify"].includes(mode) || !persist || !namespaceId) {
  console.error("usage: node bench/lib/load-kv.mjs init|put|verify PERSIST_DIR NAMESPACE_ID [FILE.json...]");
  process.exit(2);
}

// Writes one batch of entries per request, or answers a check, from inside the runtime.
const script = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/put") {
      const entries = await request.json();
      await Promise.all(entries.map((e) => {
        const options = {};
        if (e.metadata !== undefined) options.metadata = e.metadata;
        if (e.expiration_ttl !== undefined) options.expirationTtl = e.expiration_ttl;
        return env.KV.put(e.key, e.value, options);
      }));
      return new Response(String(entries.length));
    }
    if (url.pathname === "/count") {
      const prefix = url.searchParams.get("prefix");
      let count = 0, calls = 0, cursor, badMetadata = 0;
      for (;;) {
        const page = await env.KV.list({ prefix, cursor });
        calls++;
        count += page.keys.length;
        if (!prefix.startsWith("tok:")) badMetadata += page.keys.filter((k) => typeof k.metadata !== "string").length;
        if (page.list_complete) break;
        cursor = page.cursor;
      }
      return Response.json({ count, calls, badMetadata });
    }
    if (url.pathname === "/get") {
      const keys = await request.json();
      const out = [];
      for (const key of keys) {
        const { value, metadata } = await env.KV.getWithMetadata(key);
        out.push({ key, value, metadata });
      }
      return Response.json(out);
    }
    return new Response("not found", { status: 404 });
  },
};`;

const mf = new Miniflare({
  modules: true,
  script,
  compatibilityDate: "2026-04-01",
  defaultPersistRoot: join(resolve(persist), "v3"),
  kvNamespaces: { KV: namespaceId },
});

async function call(path, body) {
  const res = await mf.dispatchFetch(`http://loader${path}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text}`);
  return text;
}

let failed = false;
try {
  if (mode === "init") {
    await call("/put", [{ key: "bench:seeded", value: String(Date.now()) }]);
  }
  for (const file of files) {
    const entries = JSON.parse(readFileSync(file, "utf8"));
    if (mode === "put") {
      const started = Date.now();
      for (let i = 0; i < entries.length; i += 500) await call("/put", entries.slice(i, i + 500));
      console.log(`put ${entries.length} entries of ${file} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      continue;
    }
    // verify (a file of records only, as the service writes them now, has no index prefix:
    // all its entries are counted under `tok:` then, along with any other records loaded)
    const index = entries.filter((e) => e.key.startsWith("idx:"));
    const prefix = index.length ? index[0].key.split(":").slice(0, 2).join(":") + ":" : "tok:";
    const { count, calls, badMetadata } = JSON.parse(await call(`/count?prefix=${encodeURIComponent(prefix)}`));
    const want = index.length || entries.length;
    const sample = [];
    for (let i = 0; i < 20 && entries.length; i++) sample.push(entries[Math.floor((i * entries.length) / 20)]);
    const got = JSON.parse(await call("/get", sample.map((e) => e.key)));
    const mismatches = got.filter((g, i) => g.value !== sample[i].value || (g.metadata ?? undefined) !== sample[i].metadata);
    // Records of several files may share the `tok:` prefix: then at least this file's.
    const ok = (index.length ? count === want : count >= want) && badMetadata === 0 && mismatches.length === 0;
    console.log(`${ok ? "ok" : "MISMATCH"}: ${prefix} lists ${count} keys (want ${want}) in ${calls} calls; ${badMetadata} without string metadata; ${mismatches.length}/${sample.length} sampled entries differ`);
    if (!ok) failed = true;
  }
} finally {
  await mf.dispose();
}
process.exit(failed ? 1 : 0);
